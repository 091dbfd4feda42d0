# The whole job chain through a real one-node Slurm: slurm/pipeline.sh on configs/tiny.ini with the
# fixture (prepare -> train on 2 ranks with srun --mpi=pmix -> export -> probe -> eval array ->
# merge), every artifact checked against the same command run directly; then a chain whose first
# step fails, so the rest must be cancelled, not left pending.
source "$(dirname "$0")/../jobs/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
FIX="$SRC/tests/data/fixture"
RUN="$WORK/run"
HEADS=waitk:2,entropy:3.5,probe:0.5,offline

check "pipeline.sh submits the chain" bash -c "slurm/pipeline.sh --config configs/tiny.ini --run '$RUN' \
  --heads $HEADS --limit 16 --probe-samples 300 --probe-label p-teacher --set train.log_every=10 >'$WORK/submit.out' 2>'$WORK/submit.err'"
check "it prints the six job ids, in order" bash -c "[ \"\$(cut -d' ' -f1 '$WORK/submit.out' | paste -sd,)\" = \
  prepare,train,export,probe,eval,merge ] && cmp -s '$WORK/submit.out' '$RUN/jobs.txt'"
mapfile -t IDS < <(cut -d' ' -f2 "$RUN/jobs.txt" 2>/dev/null)
if [ ${#IDS[@]} -ne 6 ]; then cat "$WORK/submit.err"; finish; exit 1; fi
check "the chain ends within 300 s" wait_jobs 300 "${IDS[@]}"
check "every job and every array task COMPLETED" all_completed "${IDS[@]}"
check "the eval array ran one task per head" bash -c "[ \$(job_states ${IDS[4]} | wc -l) -eq 4 ]"
if [ "$FAILED" -gt 0 ]; then for f in "$RUN"/logs/*; do echo "== $f"; tail -20 "$f"; done; fi

# prepare: the same token shards as proact prepare run by hand
for split in train test; do
  "$PROACT" prepare --input "$FIX/john.en-es.$split.tsv" --tokenizer "$FIX/tokenizer.json" --max-tokens 96 \
    -o "$WORK/$split.h5" >/dev/null 2>&1
  check "prepare: $split shards equal a direct proact prepare" h5diff -q "$RUN/data/john.en-es.$split.h5" "$WORK/$split.h5"
done
# train: one MPI world of 2 ranks (not 2 singletons), the planned steps, on the prepared shards
check "train: 100 steps on one world of 2 ranks" "$PYTHON" -c "
import json
rows = [json.loads(l) for l in open('$RUN/train/metrics.jsonl')]
steps = [r for r in rows if 'loss' in r]
assert steps[-1]['step'] == 100 and all(r['ranks'] == 2 for r in steps), steps[-1]"
check "train: trained on the prepared shards" grep -qx "train = $RUN/data/john.en-es.train.h5" "$RUN/train/config.ini"
check "train: the final checkpoint" test -s "$RUN/train/checkpoints/step-00000100.h5"
check "train: the log names 2 ranks" grep -q "on 2 ranks" "$RUN"/logs/proact-train-*.out
# export: the same model as proact export by hand
"$PROACT" export --checkpoint "$RUN/train" -o "$WORK/model" >/dev/null 2>&1
check "export: model.safetensors equals a direct export" cmp "$RUN/model/model.safetensors" "$WORK/model/model.safetensors"
check "export: config.json and tokenizer.json too" bash -c "cmp '$RUN/model/config.json' '$WORK/model/config.json' &&
  cmp '$RUN/model/tokenizer.json' '$WORK/model/tokenizer.json'"
# probe: fitted on the model's training shards, written into the model
check "probe: proact.json holds a fitted probe" "$PYTHON" -c "
import json
p = json.load(open('$RUN/model/proact.json'))['probe']
fit = p['fit']
assert fit['samples'] + fit['holdout'] >= 50 and fit['states'] == 'on-policy band:1:3' and fit['ranks'] == 2 and fit['data'].endswith('train.h5'), fit"
# eval + merge: the same curve as one proact eval of all heads on 2 ranks
mpirun -np 2 --oversubscribe "$PROACT" eval --model "$RUN/model" --data "$RUN/data/john.en-es.test.h5" --heads $HEADS \
  --limit 16 --no-progress -o "$WORK/eval" >/dev/null 2>&1
quality() { # all but the timing columns (*_CA, ms_per_word), by name
  "$PYTHON" -c "import csv, sys
for r in csv.DictReader(open(sys.argv[1])): print({k: v for k, v in r.items() if not k.endswith('_CA') and k != 'ms_per_word'})" "$1"
}
check "eval: the merged curve.csv equals one eval of all heads (scores, n, signature)" \
  cmp <(quality "$RUN/eval/curve.csv") <(quality "$WORK/eval/curve.csv")
for d in waitk_2 entropy_3.5 probe_0.5 offline; do
  check "eval: $d/instances.log equals the direct eval's predictions and delays" cmp \
    <("$PYTHON" -c "import json,sys; [print(json.dumps([r['prediction'], r['delays']])) for r in map(json.loads, open(sys.argv[1]))]" "$RUN/eval/$d/instances.log") \
    <("$PYTHON" -c "import json,sys; [print(json.dumps([r['prediction'], r['delays']])) for r in map(json.loads, open(sys.argv[1]))]" "$WORK/eval/$d/instances.log")
done
check "eval: summary.txt and curve.svg" bash -c "[ \$(wc -l <'$RUN/eval/summary.txt') -eq 5 ] && grep -q '<svg' '$RUN/eval/curve.svg'"

# a chain whose first step fails: the failure is reported, the rest cancelled (not pending forever)
check "a chain with a broken tokenizer is submitted" bash -c "slurm/pipeline.sh --config configs/tiny.ini \
  --run '$WORK/bad' --set data.tokenizer=configs/tiny.ini --heads waitk:1,offline >'$WORK/bad.out' 2>/dev/null"
mapfile -t BAD < <(cut -d' ' -f2 "$WORK/bad/jobs.txt" 2>/dev/null)
[ ${#BAD[@]} -eq 6 ] || { echo "FAIL: the broken chain was not submitted"; finish; exit 1; }
check "it ends within 120 s" wait_jobs 120 "${BAD[@]}"
check "prepare FAILED, naming the tokenizer" bash -c "job_states ${BAD[0]} | grep -q FAILED &&
  grep -q 'error:.*tiny.ini' '$WORK'/bad/logs/proact-prepare-*.out"
check "train, export, probe, eval and merge were cancelled, never run" bash -c \
  "for id in ${BAD[*]:1}; do job_states \$id | grep -q CANCELLED || exit 1; done; ! ls '$WORK'/bad/logs | grep -qv prepare"
finish
