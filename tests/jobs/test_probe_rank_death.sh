# proact probe on 2 ranks when one rank dies during the distributed fit (issue 17's trial): the
# whole mpirun must return promptly (well within 60 s), non-zero, with one clear notice, and leave
# no half-written output. The fit takes a fraction of a second on the test model, so the moment
# comes from the test-only hook PROACT_FAULT (src/base/fault.h, site dist_fit): the rank dies inside
# the first Newton step of the first logistic fit, between two collectives, while the other rank
# goes on into ScaLAPACK and waits for it. Open MPI 4.1 has no fault tolerance: mpirun notices the
# death and kills the other rank, so the message is mpirun's own notice ("mpirun noticed that
# process rank 1 ... exited on signal 9"); proact cannot print one from the surviving rank.
source "$(dirname "$0")/lib.sh"
# Under the sanitizer build: Open MPI's own allocations at MPI_Init are not ours (make_stream_model.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MODEL="${PROACT_STREAM_MODEL:?PROACT_STREAM_MODEL must name the streaming test model}"
DATA=tests/data/fixture/john.en-es.train.tsv
LIMIT=60 # seconds the whole mpirun may take

# probe_fault FAULT NAME [probe args]: runs probe on 2 ranks with PROACT_FAULT=FAULT in the
# background; sets PID (timeout's) and leaves stdout/stderr in $WORK/NAME.{out,err}
probe_fault() {
  local fault="$1" name="$2"; shift 2
  PROACT_FAULT="$fault" timeout "$LIMIT" mpirun -np 2 --oversubscribe "$PROACT" probe --model "$MODEL" --data "$DATA" \
    --samples 600 --label p-teacher "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  T0=$(date +%s.%N)
}
# finished NAME: waits for the run, sets RC and SECS
finished() {
  RC=0
  wait "$PID" || RC=$?
  SECS=$("$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$T0" "$(date +%s.%N)")
  echo "    $1: exit $RC after $SECS s"
}
# returned NAME: non-zero, not timeout's 124 (the 60 s limit), and the mpirun notice once
returned() {
  check "$1: mpirun returned within $LIMIT s ($SECS s), non-zero ($RC)" test "$RC" -ne 0 -a "$RC" -ne 124
  local n
  n=$(grep -c "^mpirun noticed that process rank\|^mpirun detected that one or more processes exited" "$WORK/$1.err" ||
    true)
  check "$1: one notice from mpirun names the dead rank ($n)" test "$n" -eq 1
  check "$1: no rank reported success" bash -c "! grep -q 'wrote the probe' '$WORK/$1.out'"
}
# no_temporaries DIR: atomic publishing leaves no PATH.tmp.<pid> behind (nothing was being written)
no_temporaries() { test -z "$(find "$1" -name '*.tmp.*' 2>/dev/null)"; }

# --- the hook is inert when it names another site, and refuses a malformed value --------------
probe_fault "ckpt_write:kill@rank1" inert -o "$WORK/inert"
finished inert
check "PROACT_FAULT naming another site: probe succeeds" test "$RC" -eq 0 -a -f "$WORK/inert/proact.json"
probe_fault "dist_fit:explode" bad -o "$WORK/bad"
finished bad
check "PROACT_FAULT with an unknown action: refused at start, nothing written" \
  bash -c "test $RC -ne 0 && grep -q \"PROACT_FAULT='dist_fit:explode': unknown WHAT 'explode'\" '$WORK/bad.err' &&
    test ! -e '$WORK/bad'"

# --- rank 1 is killed (SIGKILL) inside the fit, -o DIR ------------------------------------------
probe_fault "dist_fit:kill@rank1" kill1 -o "$WORK/kill1"
finished kill1
returned kill1
check "kill1: the rank died where the hook says" grep -q "PROACT_FAULT: rank 1 (pid [0-9]*) kills itself at dist_fit" \
  "$WORK/kill1.err"
check "kill1: mpirun's notice says signal 9" grep -q "exited on signal 9" "$WORK/kill1.err"
check "kill1: -o DIR has no proact.json (nothing was published)" test ! -e "$WORK/kill1/proact.json"
check "kill1: no temporary files" no_temporaries "$WORK/kill1"

# --- rank 0, the one that writes, is killed inside the fit -------------------------------------
probe_fault "dist_fit:kill@rank0" kill0 -o "$WORK/kill0"
finished kill0
returned kill0
check "kill0: -o DIR has no proact.json" test ! -e "$WORK/kill0/proact.json"

# --- rank 1 exits (status 3, no MPI_Finalize) inside the fit ------------------------------------
probe_fault "dist_fit:exit@rank1" exit1 -o "$WORK/exit1"
finished exit1
returned exit1
check "exit1: mpirun's notice gives the exit code 3" grep -q "Exit code: *3" "$WORK/exit1.err"

# --- kill -9 from outside: rank 1 stops inside the fit (rank 0 waits in ScaLAPACK for it), the
# test kills it; in place (no -o), so the model's own proact.json must stay as it was ------------
cp -r "$MODEL" "$WORK/inplace"
cp "$WORK/inplace/proact.json" "$WORK/proact.json.before"
MODEL="$WORK/inplace" probe_fault "dist_fit:stop@rank1" stop1
victim=""
for _ in $(seq 1 600); do # up to 60 s (ASan builds load slowly)
  victim=$(sed -n 's/.*PROACT_FAULT: rank 1 (pid \([0-9]*\)) stops at dist_fit.*/\1/p' "$WORK/stop1.err")
  [ -n "$victim" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$victim" ]; then
  sleep 1 # rank 0 is now inside the fit, waiting for rank 1
  T0=$(date +%s.%N)
  kill -9 "$victim"
  finished stop1
  returned stop1
  check "stop1: mpirun's notice says signal 9" grep -q "exited on signal 9" "$WORK/stop1.err"
  check "stop1: the model's proact.json is unchanged" cmp "$WORK/proact.json.before" "$WORK/inplace/proact.json"
  check "stop1: no temporary files" no_temporaries "$WORK/inplace"
else
  finished stop1
  check "stop1: rank 1 reached the fault point" false
  cat "$WORK/stop1.err"
fi
finish
