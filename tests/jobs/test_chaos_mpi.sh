# Chaos (docs/reliability.md): one training run on 2 ranks is interrupted again and again — SIGTERM
# to the ranks (as Slurm sends at preemption), kill -9 of one rank, kill -9 of a rank in the middle
# of a checkpoint write, a write that fails as a full disk does, a corrupt newest checkpoint — and
# resumed after each, with the events and their steps drawn from a fixed seed. At the end its loss
# curve must equal the uninterrupted run's step for step, bit for bit, metrics.jsonl must hold each
# step once and in order, and the final checkpoints must be identical.
source "$(dirname "$0")/lib.sh"
mpi_train_setup
STEPS=240
R=(--config "$SRC/configs/tiny.ini" --set data.train="$WORK/train.h5" --set data.valid= --set train.global_batch=8
   --set train.log_every=1 --set train.eval_every=0 --set optim.decay_steps=$STEPS --set checkpoint.every=10
   --set checkpoint.keep=3 --set train.steps=$STEPS --set train.watchdog_s=60)
RUN="$WORK/chaos"
check "the uninterrupted run" timeout 300 mpirun -np 2 "$PROACT" train "${R[@]}" --set run.dir="$WORK/straight" \
  >"$WORK/straight.log" 2>&1

# segment [FAULT]: starts the run (the first time) or resumes it, in the background, with
# PROACT_FAULT=FAULT; MPIRUN is the pid of the timeout around mpirun, LOG its output
SEGMENT=0
segment() {
  SEGMENT=$((SEGMENT + 1))
  LOG="$WORK/segment-$SEGMENT.log"
  local args=(--resume "$RUN")
  [ -d "$RUN/checkpoints" ] || args=("${R[@]}" --set run.dir="$RUN")
  PROACT_FAULT="${1:-}" timeout -s KILL 120 mpirun -np 2 "$PROACT" train "${args[@]}" >"$LOG" 2>&1 & MPIRUN=$!
}
# signal SIG [-n]: sends SIG to the ranks (with -n, to the newest one only)
signal() { pkill "-$1" ${2:-} -P "$(pgrep -x -P "$MPIRUN" mpirun)"; }
# reached STEP: waits until the run has logged STEP (or ended); 0 if it got there
reached() {
  for _ in $(seq 1 1200); do
    grep -q "\"step\": $1," "$RUN/metrics.jsonl" 2>/dev/null && return 0
    kill -0 "$MPIRUN" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# ended WANT WHAT: the segment ends (within 2 minutes) with status WANT (any non-zero for "fail")
ended() {
  local rc=0 start=$SECONDS
  wait "$MPIRUN" || rc=$?
  [ "$rc" -ne 137 ] || [ "$1" = fail ] || echo "  (exit 137: killed after 2 minutes)"
  local latest; latest=$(cat "$RUN/checkpoints/latest" 2>/dev/null || echo none)
  echo "  segment $SEGMENT: $2: exit $rc after $((SECONDS - start)) s; latest $latest"
  local ok=0
  if [ "$1" = fail ]; then [ "$rc" -ne 0 ] || ok=1; else [ "$rc" -eq "$1" ] || ok=1; fi
  [ $ok -eq 0 ] || { echo "  expected exit $1"; tail -20 "$LOG"; }
  return $ok
}
latest_step() { sed 's/step-0*\([0-9]*\)\.h5/\1/' "$RUN/checkpoints/latest" 2>/dev/null || echo 0; }

RANDOM=20261206 # the events and their steps: a fixed seed, so a failure can be replayed
events=(sigterm kill9 ckpt_kill9 write_fault corrupt sigterm kill9)
for i in $(seq $((${#events[@]} - 1)) -1 1); do # Fisher-Yates, from the seed
  j=$((RANDOM % (i + 1))); t=${events[$i]}; events[$i]=${events[$j]}; events[$j]=$t
done
echo "  events: ${events[*]}"
for ev in "${events[@]}"; do
  L=$(latest_step)
  at=$((L + 8 + RANDOM % 15))         # a step some way after the newest checkpoint
  ck=$(( (L / 10 + 1 + RANDOM % 2) * 10 )) # a checkpoint ahead of it
  case $ev in
    sigterm)
      segment; reached $at && signal TERM
      check "SIGTERM near step $at: every rank checkpoints and exits 75" ended 75 "SIGTERM at step $at" ;;
    kill9)
      segment; reached $at && signal KILL -n
      check "kill -9 of a rank near step $at: the job ends" ended fail "kill -9 at step $at" ;;
    ckpt_kill9)
      segment "ckpt_write:kill@rank1:dataset7:step$ck"
      check "kill -9 of rank 1 in the middle of the checkpoint of step $ck: the job ends" ended fail \
        "kill -9 during the checkpoint of step $ck" ;;
    write_fault)
      segment "ckpt_write:ENOSPC@rank0:dataset4:step$ck"
      check "a full disk while writing the checkpoint of step $ck: exit 74" ended 74 "ENOSPC at step $ck" ;;
    corrupt)
      segment; reached $at && signal KILL -n
      check "kill -9 near step $at" ended fail "kill -9 at step $at, then the newest checkpoint cut in half"
      f="$RUN/checkpoints/$(cat "$RUN/checkpoints/latest")"
      head -c $(( $(stat -c %s "$f") / 2 )) "$f" >"$f.cut" && mv "$f.cut" "$f" ;;
  esac
done
segment
check "the last resume runs to the end" ended 0 "to the end"
check "the corrupt checkpoint was reported and skipped" \
  bash -c "cat '$WORK'/segment-*.log | grep -q 'warning: .*trying the previous checkpoint'"

check "metrics.jsonl: each step once, in order; the loss curve equals the uninterrupted run's, bit for bit" \
  "$PYTHON" - "$WORK/straight/metrics.jsonl" "$RUN/metrics.jsonl" "$STEPS" <<'PY'
import json, sys
def rows(path):
    return [json.loads(l) for l in open(path) if '"loss"' in l]
a, b, steps = rows(sys.argv[1]), rows(sys.argv[2]), int(sys.argv[3])
assert [r["step"] for r in b] == list(range(1, steps + 1)), [r["step"] for r in b]
keys = ["loss", "loss_student", "loss_teacher", "kl", "tokens", "lr", "grad_norm"]
diff = [(x["step"], k) for x, y in zip(a, b) for k in keys if x[k] != y[k]]
assert not diff, diff[:10]
print(f"  {steps} steps, {len(keys)} values each, all equal")
PY
last=$(printf 'step-%08d.h5' $STEPS)
check "the final checkpoints are identical, every dataset bit for bit" "$PYTHON" - \
  "$WORK/straight/checkpoints/$last" "$RUN/checkpoints/$last" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
assert len(names) > 10 and all(np.array_equal(a[n][()], b[n][()]) for n in names)
PY
check "no temporary checkpoint file is left" bash -c "! ls '$RUN/checkpoints' | grep -q tmp"
finish
