# A checkpoint write that fails on one rank, at every step of the write (docs/reliability.md):
# PROACT_FAULT (io/fault.h) fails one operation as a full or broken disk would. Every case must end
# promptly on both ranks with one message (rank, file, errno), exit 74, the previous checkpoint kept
# as `latest` and no temporary file left; the run then resumes bit for bit. Also: on_error =
# continue, the watchdog ending a rank stuck in the file system (exit 70), and a real full tmpfs
# filled while the checkpoint is being written (the original hang).
source "$(dirname "$0")/lib.sh"
mpi_train_setup
R=(--config "$SRC/configs/tiny.ini" --set data.train="$WORK/train.h5" --set data.valid= --set train.global_batch=8
   --set train.log_every=1 --set train.eval_every=0 --set optim.decay_steps=15 --set checkpoint.every=5
   --set train.steps=15)

# run NAME FAULT [--set ...]: 2 ranks into $WORK/NAME with PROACT_FAULT=FAULT; the status in $WORK/NAME.rc
run() {
  local name=$1 fault=$2; shift 2
  local rc=0
  PROACT_FAULT="$fault" timeout 120 mpirun -np 2 "$PROACT" train "${R[@]}" --set run.dir="$WORK/$name" "$@" \
    >"$WORK/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$WORK/$name.rc"
}

# abandoned NAME STATUS NEEDLE...: the run ended with STATUS and one error line holding every NEEDLE;
# step 5's checkpoint is `latest`, step 10's was never published and no temporary file is left
abandoned() {
  local name=$1 want=$2; shift 2
  local rc; rc=$(cat "$WORK/$name.rc")
  [ "$rc" -eq "$want" ] || { echo "exit $rc, expected $want"; cat "$WORK/$name.log"; return 1; }
  [ "$(grep -c 'proact: error' "$WORK/$name.log")" -eq 1 ] || { echo "not one error line"; cat "$WORK/$name.log"; return 1; }
  local line; line=$(grep 'proact: error' "$WORK/$name.log")
  for needle in "$@"; do
    grep -qF -- "$needle" <<<"$line" || { echo "the error lacks '$needle': $line"; return 1; }
  done
  grep -qx "step-00000005.h5" "$WORK/$name/checkpoints/latest" || { echo "latest moved"; return 1; }
  local files; files=$(ls "$WORK/$name/checkpoints" | tr '\n' ' ')
  [ "$files" = "latest step-00000005.h5 " ] || { echo "checkpoints: $files"; return 1; }
  echo "  $line"
}

# same A B: the two runs' step-15 checkpoints are equal, every dataset bit for bit
same() {
  "$PYTHON" - "$WORK/$1/checkpoints/step-00000015.h5" "$WORK/$2/checkpoints/step-00000015.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
assert len(names) > 10 and all(np.array_equal(a[n][()], b[n][()]) for n in names)
PY
}

run straight ""
check "the uninterrupted run" test "$(cat "$WORK/straight.rc")" -eq 0

# --- one fault per step of the write, on the checkpoint of step 10
run write "ckpt_write:ENOSPC@rank1:dataset3:step10"
check "a data write fails on rank 1: exit 74, one message naming rank, file and errno" abandoned write 74 \
  "rank 1: " "step-00000010.h5.tmp: cannot write dataset 'optim/exp_avg_sq/" "No space left on device (ENOSPC)" \
  "the checkpoint of step 10 is abandoned" "step-00000005.h5 stays the latest"
check "resume after the failed write" timeout 120 mpirun -np 2 "$PROACT" train --resume "$WORK/write"
check "failed write + resume = uninterrupted, bit for bit" same straight write
run write0 "ckpt_write:EIO@rank0:dataset40:step10"
check "a data write fails on rank 0 (EIO)" abandoned write0 74 "rank 0: " "Input/output error (EIO)"
run flush "ckpt_flush:EDQUOT@rank1:step10"
check "the metadata flush fails on rank 1 (EDQUOT)" abandoned flush 74 "rank 1: " "cannot write its metadata" \
  "Disk quota exceeded (EDQUOT)"
run reserve "ckpt_reserve:ENOSPC:step10"
check "reserving the file's space fails (rank 0)" abandoned reserve 74 "rank 0: " "cannot reserve its space" "(ENOSPC)"
run close "ckpt_close:EIO@rank1:step10"
check "closing the file fails on rank 1" abandoned close 74 "rank 1: " "cannot close: Input/output error"
run rename "ckpt_rename:ENOSPC:step10"
check "publishing (rename) fails" abandoned rename 74 "rank 0: " "cannot rename" "No space left on device"
run zero "ckpt_write:ENOSPC@rank1:dataset5:step10" --set mpi.zero=1
check "ZeRO-1 (sharded moments): a write fails on rank 1" abandoned zero 74 "rank 1: " "cannot write dataset"

# --- checkpoint.on_error = continue: a warning, and training goes on
run continue "ckpt_write:ENOSPC@rank1:dataset3:step10" --set checkpoint.on_error=continue
check "on_error = continue: the run finishes (exit 0)" test "$(cat "$WORK/continue.rc")" -eq 0
check "on_error = continue: one warning, naming the fault, and no error" bash -c "
  [ \$(grep -c 'warning: rank 1: .*No space left on device (ENOSPC).*training goes on' '$WORK/continue.log') -eq 1 ] &&
  ! grep -q 'proact: error' '$WORK/continue.log' && ! grep -q 'checkpoint: step 10 ' '$WORK/continue.log'"
check "on_error = continue: checkpoints 5 and 15, latest 15" bash -c "
  [ \"\$(ls '$WORK/continue/checkpoints' | tr '\n' ' ')\" = 'latest step-00000005.h5 step-00000015.h5 ' ] &&
  grep -qx step-00000015.h5 '$WORK/continue/checkpoints/latest'"
check "on_error = continue: the same training as the uninterrupted run" same straight continue

# --- on_error = continue, and the checkpoint a stop signal asks for fails: not "written", exit 74
rc=0
( PROACT_FAULT="ckpt_write:ENOSPC@rank1:dataset2" timeout 120 mpirun -np 2 "$PROACT" train "${R[@]}" \
    --set run.dir="$WORK/stopfail" --set checkpoint.every=0 --set train.steps=100000 \
    --set checkpoint.on_error=continue >"$WORK/stopfail.log" 2>&1 ) & job=$!
for _ in $(seq 1 600); do grep -q '"step": 5,' "$WORK/stopfail/metrics.jsonl" 2>/dev/null && break; sleep 0.05; done
pkill -USR1 -f -n "proact train.*$WORK/stopfail" || true
wait $job || rc=$?
check "a stop whose checkpoint fails under on_error = continue: exit 74, and it says so" bash -c "[ $rc -eq 74 ] &&
  grep -q 'stop: signal received; the checkpoint of step [0-9]* could not be written' '$WORK/stopfail.log' &&
  ! grep -q 'checkpoint at step [0-9]* written' '$WORK/stopfail.log'"

# --- a rank stuck in the file system: no agreement can help, the watchdog ends the job
start=$SECONDS
run hang "ckpt_write:hang@rank1:dataset3:step10" --set train.watchdog_s=5
check "a rank stuck in a write: the watchdog aborts every rank (exit 70) within a minute" \
  bash -c "[ \$(cat '$WORK/hang.rc') -eq 70 ] && [ $((SECONDS - start)) -lt 60 ]"
check "the watchdog names the phase and its limit" \
  grep -q "rank 1: watchdog: the checkpoint of step 10 has run for .* past its limit of 5.0 s" "$WORK/hang.log"
check "after the watchdog, step 5 is still latest" grep -qx "step-00000005.h5" "$WORK/hang/checkpoints/latest"
check "resume after the watchdog" timeout 120 mpirun -np 2 "$PROACT" train --resume "$WORK/hang"
check "the stuck write's temporary file is gone after the next checkpoint" \
  bash -c "! ls '$WORK/hang/checkpoints' | grep -q tmp"
check "watchdog + resume = uninterrupted, bit for bit" same straight hang

# --- mistakes in the switches themselves: refused at start, once
expect_fail "a malformed PROACT_FAULT: refused at start" "unknown qualifier 'datset3'" \
  env PROACT_FAULT=ckpt_write:ENOSPC@rank1:datset3 timeout 60 mpirun -np 2 "$PROACT" train "${R[@]}" \
  --set run.dir="$WORK/typo"
check "... printed once" test "$(grep -c 'error:' "$WORK/err")" -eq 1
expect_fail "train.watchdog_s must be auto, off or seconds" "watchdog_s" \
  "$PROACT" train "${R[@]}" --set run.dir="$WORK/typo" --set train.watchdog_s=soon

# --- the original defect: a real small disk that fills while step 10's checkpoint is written
# (the free-space check before writing passes). Before the fix every rank hung for ever.
full="$WORK/full"; mkdir -p "$full"
if mount -t tmpfs -o size=5m tmpfs "$full" 2>/dev/null; then
  trap 'umount "$full" 2>/dev/null; rm -rf "$WORK"' EXIT
  "$PYTHON" - "$full" <<'PY' & filler=$!
import os, sys, time
full = sys.argv[1]
while not os.path.exists(f"{full}/run/checkpoints/step-00000010.h5.tmp"):
    time.sleep(0.0002)
try:  # fill the disk to the last byte
    with open(f"{full}/fill", "wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 65536)
except OSError:
    pass
PY
  start=$SECONDS
  rc=0
  timeout 120 mpirun -np 2 "$PROACT" train "${R[@]}" --set run.dir="$full/run" --set train.watchdog_s=30 \
    >"$WORK/tmpfs.log" 2>&1 || rc=$?
  kill $filler 2>/dev/null || true; wait $filler 2>/dev/null || true
  echo "  the full tmpfs run: exit $rc in $((SECONDS - start)) s: $(grep -m1 'error' "$WORK/tmpfs.log" || true)"
  check "a disk filling during a checkpoint: a clean exit 74, no hang" test "$rc" -eq 74
  check "... one error line, naming the disk" bash -c "[ \$(grep -c 'proact: error' '$WORK/tmpfs.log') -eq 1 ] &&
    grep 'proact: error' '$WORK/tmpfs.log' | grep -Eq 'No space left on device|disk full'"
  check "... no temporary file is left" bash -c "! ls '$full/run/checkpoints' | grep -q tmp"
  latest=$(cat "$full/run/checkpoints/latest")
  check "... the checkpoint 'latest' names is whole: it exports ($latest)" \
    "$PROACT" export --checkpoint "$full/run/checkpoints/$latest" -o "$WORK/from-full"
else
  echo "skip: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): the real full disk is not tested"
fi
finish
