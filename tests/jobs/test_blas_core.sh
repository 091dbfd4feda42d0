# OpenBLAS core handling: proact reports the core it runs on, and replaces a generic core
# (forced here with OPENBLAS_CORETYPE=Prescott, as some VMs pick it) by the CPU's best one.
source "$(dirname "$0")/lib.sh"
"$PROACT" init --config "$SRC/configs/tiny.ini" -o "$WORK/m" >/dev/null

unset PROACT_QUIET_BLAS
"$PROACT" forward --model "$WORK/m" --ids 1,2,3 >/dev/null 2>"$WORK/err"
check "reports the OpenBLAS core" grep -q "OpenBLAS core" "$WORK/err"

# libgomp's idle threads must not spin on the cores OpenBLAS computes on: proact re-executes itself
# with OMP_WAIT_POLICY=PASSIVE (libgomp shows it as a spin count of 0), unless the user chose one
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$PROACT" forward --model "$WORK/m" --ids 1,2,3 \
  >/dev/null 2>"$WORK/err"
check "OpenMP threads wait passively" bash -c "grep GOMP_SPINCOUNT '$WORK/err' | tail -1 | grep -q \"'0'\""
OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose "$PROACT" forward --model "$WORK/m" --ids 1,2,3 >/dev/null 2>"$WORK/err"
check "a wait policy the user set is kept" bash -c "[ \$(grep -c GOMP_SPINCOUNT '$WORK/err') = 1 ] && grep -q \"OMP_WAIT_POLICY = 'ACTIVE'\" '$WORK/err'"

if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  OPENBLAS_CORETYPE=Prescott "$PROACT" forward --model "$WORK/m" --ids 1,2,3 >"$WORK/out" 2>"$WORK/err"
  check "says it switched away from Prescott" grep -q "generic core 'Prescott'" "$WORK/err"
  check "runs on an AVX2 core after the switch" grep -Eq "OpenBLAS core (Haswell|SkylakeX)" "$WORK/err"
  check "still computes the same argmax" diff <("$PROACT" forward --model "$WORK/m" --ids 1,2,3 2>/dev/null) "$WORK/out"
  PROACT_BLAS_CORE=keep OPENBLAS_CORETYPE=Prescott "$PROACT" forward --model "$WORK/m" --ids 1,2,3 >/dev/null 2>"$WORK/err"
  check "PROACT_BLAS_CORE=keep keeps Prescott and warns" grep -q "warning: OpenBLAS runs the generic core 'Prescott'" "$WORK/err"
else
  echo "skip: this CPU has no AVX2, nothing to switch to"
fi
finish
