# Preemption through a real one-node Slurm: slurm/train.sbatch on 2 ranks is (1) sent the warning
# signal by hand mid-run (what --signal=B:USR1@T does before the time limit) and (2) requeued by
# `scontrol requeue` mid-run (SIGTERM). Each time the ranks checkpoint, the job comes back, resumes,
# and ends with exactly the planned steps, every parameter and optimizer moment bit for bit equal
# to an uninterrupted run, and the same loss at every step. (3) A finished run resubmitted with more
# steps resumes.
source "$(dirname "$0")/../jobs/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
STEPS=400
ARGS=(--config configs/tiny.ini --set train.steps=$STEPS --set train.log_every=1 --set train.eval_every=0
      --set data.valid=)
train_job() { sbatch --parsable --ntasks=2 --output="$WORK/$1.out" slurm/train.sbatch "$WORK/$1" "${ARGS[@]}"; }

# until_step RUN N: waits (60 s at most) until the run's log shows step N or later
until_step() {
  local t=0
  until grep -Eq "^step +([0-9]+)/" "$WORK/$1.out" 2>/dev/null &&
        [ "$(grep -Eo '^step +[0-9]+' "$WORK/$1.out" | awk '{ s = $2 } END { print s }')" -ge "$2" ]; do
    t=$((t + 1)); [ $t -lt 300 ] || return 1; sleep 0.2
  done
}

# same_run A B: the final checkpoints agree bit for bit on every dataset, and so do the losses
same_run() {
  "$PYTHON" - "$WORK/$1" "$WORK/$2" "$STEPS" <<'PY'
import sys, json, h5py, numpy as np
a_dir, b_dir, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
ck = f"/checkpoints/step-{steps:08d}.h5"
a, b = h5py.File(a_dir + ck, "r"), h5py.File(b_dir + ck, "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
assert len(names) > 10 and sorted(names) == sorted(
    [n for n in names if n in b]), "datasets differ"
for n in names:
    x, y = a[n][()], b[n][()]
    assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), n
def losses(d):  # the last record of each step (a resumed run logs the steps after the checkpoint again)
    return {r["step"]: r["loss"] for r in map(json.loads, open(d + "/metrics.jsonl")) if "loss" in r}
la, lb = losses(a_dir), losses(b_dir)
assert sorted(la) == sorted(lb) and max(la) == steps and all(la[s] == lb[s] for s in la), "losses differ"
print(f"{len(names)} datasets and {len(la)} logged losses identical")
PY
}

ref=$(train_job straight)
check "the uninterrupted run ends within 120 s" wait_jobs 120 "$ref"
check "it COMPLETED without a restart" bash -c "job_states $ref | grep -q COMPLETED &&
  scontrol show job $ref | grep -q 'Restarts=0'"

# 1. the warning signal: the batch script forwards it, the ranks checkpoint, the job requeues itself
sig=$(train_job signalled)
check "the signalled run reaches step 50" until_step signalled 50
check "scancel --signal=USR1 --batch (the --signal warning, now)" scancel --signal=USR1 --batch "$sig"
check "it checkpoints, requeues, resumes and ends within 120 s" wait_jobs 120 "$sig"
check "it COMPLETED after exactly one restart" bash -c "job_states $sig | grep -q COMPLETED &&
  scontrol show job $sig | grep -q 'Restarts=1'"
stop_step=$(grep -o 'checkpoint at step [0-9]*' "$WORK/signalled.out" | awk '{ print $4 }')
check "stopped mid-run (step ${stop_step:-none} of $STEPS), after the signal" \
  bash -c "[ -n '$stop_step' ] && [ '$stop_step' -ge 50 ] && [ '$stop_step' -lt $STEPS ] &&
  grep -q 'USR1 received' '$WORK/signalled.out' && grep -q 'requeueing job $sig' '$WORK/signalled.out'"
check "the second start resumed from that checkpoint" \
  grep -q "resume: $WORK/signalled/checkpoints/step-$(printf %08d "${stop_step:-0}").h5 at step ${stop_step:-0}" \
  "$WORK/signalled.out"
check "ends at step $STEPS, bit for bit the uninterrupted run" same_run straight signalled

# 2. scontrol requeue from outside: Slurm sends SIGTERM, the ranks checkpoint within KillWait
req=$(train_job requeued)
check "the requeued run reaches step 50" until_step requeued 50
check "scontrol requeue" scontrol requeue "$req"
check "it comes back, resumes and ends within 120 s" wait_jobs 120 "$req"
check "it COMPLETED after exactly one restart" bash -c "job_states $req | grep -q COMPLETED &&
  scontrol show job $req | grep -q 'Restarts=1'"
check "the SIGTERM checkpoint was taken and resumed from" bash -c \
  "grep -q 'TERM received' '$WORK/requeued.out' && grep -q 'resume: .*requeued/checkpoints/step-' '$WORK/requeued.out'"
check "ends at step $STEPS, bit for bit the uninterrupted run" same_run straight requeued
# 3. a finished run extended: the same script resumes it with the --set options on top
ext=$(sbatch --parsable --ntasks=2 --output="$WORK/straight.out" slurm/train.sbatch "$WORK/straight" \
  --config configs/no-such.ini --set train.steps=$((STEPS + 10)))
check "resubmitting a finished run with train.steps=$((STEPS + 10)) resumes it" wait_jobs 120 "$ext"
check "from step $STEPS to $((STEPS + 10)), the --config of the first start ignored" bash -c "job_states $ext | grep -q COMPLETED &&
  grep -q 'resume: .*straight/checkpoints/step-$(printf %08d $STEPS).h5 at step $STEPS' '$WORK/straight.out' &&
  tail -1 '$WORK/straight/metrics.jsonl' | grep -q '\"step\": $((STEPS + 10)),'"
if [ "$FAILED" -gt 0 ]; then for f in "$WORK"/*.out; do echo "== $f"; grep -v '^step\|skipped' "$f" | tail -30; done; fi
finish
