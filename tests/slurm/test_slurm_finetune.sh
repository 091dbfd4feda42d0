# Pretraining and fine-tuning as two pipelines submitted together through a real one-node Slurm
# (slurm/pipeline.sh on configs/tiny.ini with the fixture): A trains an offline model (--no-probe);
# B, submitted at once, fine-tunes A's model (--init-from A/model --after A's export job) before that
# model exists. B's prepare waits for A's export and tokenizes with A's tokenizer; B starts from A's
# weights (its validation loss before its first step is A's last, to the bit), fits its probe and
# exports bf16 weights. A tokenizer other than the base's is refused: at submit time, or (with
# --after) by the prepare job; an --init-from that does not exist submits nothing.
source "$(dirname "$0")/../jobs/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
A="$WORK/pretrain"
B="$WORK/finetune"
"$PROACT" tokenizer train --vocab-size 300 -o "$WORK/other.json" "$SRC/tests/data/fixture/libreoffice.en-de.train.tsv" \
  >/dev/null 2>&1

# refused_at_submit NAME "message part" pipeline options...: fails with one line naming the problem,
# and nothing is submitted (no job in the queue, no run directory)
refused_at_submit() {
  local name=$1 needle=$2 rc=0; shift 2
  slurm/pipeline.sh --config configs/tiny.ini --run "$WORK/$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  check "$name: refused at submit time: $(cat "$WORK/$name.err")" \
    test "$rc,$(grep -c '^pipeline: ' "$WORK/$name.err"),$(grep -cF -- "$needle" "$WORK/$name.err"),$(wc -c <"$WORK/$name.out")" = 1,1,1,0
  check "$name: nothing submitted" test -z "$(squeue -h -o %i)" -a ! -e "$WORK/$name"
}
refused_at_submit no-model "--init-from /nonexistent: no exported model there" --init-from /nonexistent

# A: the base, offline; its model is exported in f32 (the default)
check "A (--no-probe --heads offline) is submitted" bash -c "slurm/pipeline.sh --config configs/tiny.ini --run '$A' \
  --no-probe --heads offline --limit 4 --set train.steps=20 --set train.eval_every=20 >'$WORK/a.out' 2>'$WORK/a.err'"
mapfile -t A_IDS < <(cut -d' ' -f2 "$A/jobs.txt" 2>/dev/null)
a_export=$(awk '$1 == "export" { print $2 }' "$A/jobs.txt" 2>/dev/null)
if [ ${#A_IDS[@]} -ne 5 ] || [ -z "$a_export" ]; then cat "$WORK/a.err"; finish; exit 1; fi
check "A's jobs.txt: prepare, train, export, eval, merge (no probe), as printed" bash -c "[ \"\$(cut -d' ' -f1 \
  '$A/jobs.txt' | paste -sd,)\" = prepare,train,export,eval,merge ] && cmp -s '$WORK/a.out' '$A/jobs.txt'"
check "A's eval array waits for its export" bash -c "scontrol show job ${A_IDS[3]} | grep -q 'Dependency=afterok:${a_export}[(_]'"

# B: submitted at once, before A's model exists; --init-from relative to the submitting directory
check "A's model does not exist yet" test ! -e "$A/model"
rel_model=$(realpath --relative-to="$SRC" "$A/model")
check "B (--init-from $rel_model --after $a_export --export-dtype bf16) is submitted" bash -c "slurm/pipeline.sh \
  --config configs/tiny.ini --run '$B' --init-from '$rel_model' --after $a_export --export-dtype bf16 \
  --heads waitk:2,probe:0.5 --limit 4 --probe-samples 300 --set train.steps=4 --set train.eval_every=4 \
  >'$WORK/b.out' 2>'$WORK/b.err'"
mapfile -t B_IDS < <(cut -d' ' -f2 "$B/jobs.txt" 2>/dev/null)
if [ ${#B_IDS[@]} -ne 6 ]; then cat "$WORK/b.err"; finish; exit 1; fi
check "B's jobs.txt: the six jobs, as printed" bash -c "[ \"\$(cut -d' ' -f1 '$B/jobs.txt' | paste -sd,)\" = \
  prepare,train,export,probe,eval,merge ] && cmp -s '$WORK/b.out' '$B/jobs.txt'"
check "B's prepare waits for A's export" bash -c "scontrol show job ${B_IDS[0]} | grep -q 'Dependency=afterok:$a_export('"
check "both chains end within 400 s" wait_jobs 400 "${A_IDS[@]}" "${B_IDS[@]}"
check "every job of both COMPLETED" all_completed "${A_IDS[@]}" "${B_IDS[@]}"
if [ "$FAILED" -gt 0 ]; then for f in "$A"/logs/* "$B"/logs/*; do echo "== $f"; tail -20 "$f"; done; fi

epoch() { date -d "$(scontrol show job -o "$1" | grep -o "$2=[^ ]*" | cut -d= -f2)" +%s; }
a_end=$(epoch "$a_export" EndTime)
for i in 0 1; do
  start=$(epoch "${B_IDS[$i]}" StartTime)
  check "B's $(sed -n "$((i + 1))s/ .*//p" "$B/jobs.txt") job started ($start) after A's export ended ($a_end)" \
    test "$start" -ge "$a_end"
done
check "B's prepare tokenized with A's tokenizer" grep -q "(tokenizer $A/model/tokenizer.json)" "$B"/logs/proact-prepare-*.out
check "B's config.ini: model.init = A's model (absolute)" bash -c "awk '/^\[/ { s = \$0 } s == \"[model]\"' \
  '$B/train/config.ini' | grep -qx 'init = $A/model'"
check "B's training log: the model comes from A's" grep -q "from $A/model" "$B"/logs/proact-train-*.out
check "B's validation loss before its first step is A's after its last, to the bit" "$PYTHON" - "$A" "$B" <<'PY'
import json, sys
val = lambda run: [r for r in map(json.loads, open(f"{run}/train/metrics.jsonl")) if "val_loss_student" in r]
a, b = val(sys.argv[1])[-1], val(sys.argv[2])[0]
assert a["step"] == 20 and b["step"] == 0, (a, b)
for k in ("val_loss_student", "val_loss_teacher", "val_kl"):
    assert a[k] == b[k], (k, a[k], b[k])
print(f"val_loss_student {a['val_loss_student']!r}")
PY
check "A's model has no probe, B's has its fitted one" "$PYTHON" -c "
import json
a, b = (json.load(open(f'{d}/model/proact.json')) for d in ('$A', '$B'))
assert 'probe' not in a and b['probe']['fit']['samples'] > 0, (a.keys(), b.get('probe'))"
check "model.safetensors: A's tensors are F32, B's (--export-dtype bf16) BF16" "$PYTHON" - "$A" "$B" <<'PY'
import json, struct, sys
def dtypes(run):
    with open(f"{run}/model/model.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    return {v["dtype"] for k, v in header.items() if k != "__metadata__"}
assert dtypes(sys.argv[1]) == {"F32"} and dtypes(sys.argv[2]) == {"BF16"}, (dtypes(sys.argv[1]), dtypes(sys.argv[2]))
PY
check "B's eval ran both heads" bash -c "[ \$(wc -l <'$B/eval/summary.txt') -eq 3 ]"

# another tokenizer than the base's: refused at submit time; with --after, by the prepare job, and the
# rest of that chain is cancelled
refused_at_submit other-tokenizer "another tokenizer than the base model's $A/model/tokenizer.json" \
  --init-from "$A/model" --set data.tokenizer="$WORK/other.json" --no-probe --heads offline
check "with --after, a chain with another tokenizer is submitted" bash -c "slurm/pipeline.sh --config configs/tiny.ini \
  --run '$WORK/late' --init-from '$A/model' --after $a_export --set data.tokenizer='$WORK/other.json' --no-probe \
  --heads offline >/dev/null 2>&1"
mapfile -t LATE < <(cut -d' ' -f2 "$WORK/late/jobs.txt" 2>/dev/null)
[ ${#LATE[@]} -eq 5 ] || { echo "FAIL: the chain was not submitted"; finish; exit 1; }
check "it ends within 120 s" wait_jobs 120 "${LATE[@]}"
check "its prepare FAILED" bash -c "job_states ${LATE[0]} | grep -q FAILED"
check "its log names both tokenizers" grep -qF "error: $WORK/other.json: another tokenizer than the base model's \
$A/model/tokenizer.json" "$WORK"/late/logs/proact-prepare-*.out
check "the rest was cancelled, never run" bash -c \
  "for id in ${LATE[*]:1}; do job_states \$id | grep -q CANCELLED || exit 1; done; ! ls '$WORK'/late/logs | grep -qv prepare"
finish
