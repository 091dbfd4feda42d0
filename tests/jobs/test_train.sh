# proact init / train / forward end to end on the tiny config: the loss of the learnable
# 'copy' task falls, the progress line carries the documented fields, and the saved model
# loads back into forward.
source "$(dirname "$0")/lib.sh"
# vocabulary 32: half of each sequence is random (ln 32 = 3.47 nats a token), half is
# copied; a model that learned to copy ends near 3.47/2 = 1.73, one that did not stays near 3.47
"$PROACT" train --config "$SRC/configs/tiny.ini" --set data.source=copy --set model.vocab_size=32 \
  --set train.seq_len=32 --set train.global_batch=8 --set train.steps=300 --set train.log_every=50 \
  --set optim.lr=1e-2 --set run.dir="$WORK/run" >"$WORK/log"
cat "$WORK/log"
first=$(grep -m1 '^step' "$WORK/log" | sed 's/.*loss \([0-9.]*\).*/\1/')
last=$(grep '^step' "$WORK/log" | tail -1 | sed 's/.*loss \([0-9.]*\).*/\1/')
check "the model learns to copy ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN{exit !(a > 3.3 && b < 2.3)}'
check "progress line fields" grep -Eq '^step +300/300 \| loss [0-9.]+ \| lr [0-9.e+-]+ \| grad-norm [0-9.]+ \| [0-9]+ tok/s \| MFU [0-9.]+% \| ETA' "$WORK/log"
check "saved model loads into forward" "$PROACT" forward --model "$WORK/run/model" --ids 1,2,3,4

# fine-tuning: model.init starts from the trained weights, so the first loss is already
# the learned one (a fresh model starts near ln 32 = 3.47)
"$PROACT" train --config "$SRC/configs/tiny.ini" --set model.init="$WORK/run/model" --set data.source=copy \
  --set train.seq_len=32 --set train.global_batch=8 --set train.steps=2 --set train.log_every=1 \
  --set optim.lr=1e-4 --set run.dir="$WORK/run2" >"$WORK/log2"
init_loss=$(grep -m1 '^step' "$WORK/log2" | sed 's/.*loss \([0-9.]*\).*/\1/')
check "model.init continues from the trained weights (first loss $init_loss)" awk -v a="$init_loss" 'BEGIN{exit !(a < 2.5)}'
check "model.init names the source directory" grep -q "from $WORK/run/model" "$WORK/log2"
expect_fail "seq_len beyond the imported model's max_seq_len" "max_seq_len" \
  "$PROACT" train --config "$SRC/configs/tiny.ini" --set model.init="$WORK/run/model" --set data.source=copy --set train.seq_len=4096 \
  --set run.dir="$WORK/run3"

# --init-from: a fine-tune of a trained pairs model starts from its weights (the fine-tune's validation
# loss before its first step is the base's last one, to the bit) with a fresh optimizer (step and Adam
# counter 1, and moments that hold one gradient: v = (1-b2)/(1-b1)^2 m^2)
"$PROACT" train --config "$SRC/configs/tiny.ini" --set train.steps=20 --set train.eval_every=20 \
  --set run.dir="$WORK/base" >"$WORK/base.log" 2>&1
"$PROACT" train --config "$SRC/configs/tiny.ini" --init-from "$WORK/base/model" --set train.steps=1 \
  --set train.eval_every=1 --set run.dir="$WORK/tuned" >"$WORK/tuned.log" 2>&1
check "--init-from: the validation loss at step 0 equals the base's at its last step" "$PYTHON" - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
val = lambda run: [r for r in map(json.loads, open(f"{w}/{run}/metrics.jsonl")) if "val_loss_student" in r]
b, t = val("base")[-1], val("tuned")[0]
assert b["step"] == 20 and t["step"] == 0, (b, t)
for k in ("val_loss_student", "val_loss_teacher", "val_kl"):
    assert b[k] == t[k], (k, b[k], t[k])
PY
check "--init-from: a fresh optimizer (step 1, Adam t 1, the moments of one gradient)" "$PYTHON" - \
  "$WORK/tuned/checkpoints" <<'PY'
import glob, h5py, numpy as np, sys
path = sorted(glob.glob(sys.argv[1] + "/step-*.h5"))[-1]
with h5py.File(path, "r") as f:
    attrs = {k: v for g in ("/", "state") if g in f or g == "/" for k, v in f[g].attrs.items()}
    assert int(attrs["step"]) == 1 and int(attrs["adam_t"]) == 1, attrs
    b1, b2, n = 0.9, 0.95, 0
    for name in f["optim/exp_avg"]:
        m = f["optim/exp_avg"][name][()].astype(np.float64)
        v = f["optim/exp_avg_sq"][name][()].astype(np.float64)
        assert np.allclose(v, (1 - b2) / (1 - b1) ** 2 * m * m, rtol=1e-4, atol=1e-30), name
        n += 1
    assert n > 5, n
PY
check "--init-from: config.ini records model.init (what --resume reads)" \
  grep -q "^init = $WORK/base/model" "$WORK/tuned/config.ini"
"$PROACT" tokenizer train --vocab-size 300 -o "$WORK/other_tok.json" "$SRC/tests/data/fixture/libreoffice.en-de.train.tsv" \
  >/dev/null 2>&1
mkdir -p "$WORK/other" && cp "$WORK/base/model/"* "$WORK/other/" && cp "$WORK/other_tok.json" "$WORK/other/tokenizer.json"
expect_fail "--init-from a model with another tokenizer than the data's" "made with another tokenizer than the base model's" \
  "$PROACT" train --config "$SRC/configs/tiny.ini" --init-from "$WORK/other" --set train.steps=1 --set run.dir="$WORK/tuned2"
expect_fail "--init-from with --resume" "--init-from starts a run" \
  "$PROACT" train --resume "$WORK/tuned" --init-from "$WORK/base/model"

# ablations by config only (docs/design.md §2.4): offline, masking only, and the wait-k baseline
ablate() { # ablate NAME sets...
  local name=$1; shift
  "$PROACT" train --config "$SRC/configs/tiny.ini" --set train.steps=6 --set train.log_every=1 \
    --set train.eval_every=0 --set data.valid= --set run.dir="$WORK/$name" "$@" >"$WORK/$name.log" 2>&1
}
check "offline ablation runs (stream.schedule = full)" ablate full --set stream.schedule=full
check "offline: student and teacher are the same computation (equal losses, kl 0)" "$PYTHON" -c "
import json; rows = [json.loads(l) for l in open('$WORK/full/metrics.jsonl')]
assert all(r['loss_student'] == r['loss_teacher'] and r['kl'] == 0 for r in rows), rows[0]"
check "masking-only ablation runs (spsd.lambda = 0)" ablate masking --set spsd.lambda=0
check "masking only: the loss has no KL term" "$PYTHON" -c "
import json; rows = [json.loads(l) for l in open('$WORK/masking/metrics.jsonl')]
assert all(abs(r['loss'] - r['loss_student'] - r['loss_teacher']) < 1e-5 for r in rows) and any(r['kl'] > 0 for r in rows), rows[0]"
check "wait-k baseline runs (stream.schedule = waitk, spsd.lambda = 0)" ablate waitk --set stream.schedule=waitk --set stream.k=2 --set spsd.lambda=0
check "wait-k: the student (2 words ahead) is worse than the full-view teacher" "$PYTHON" -c "
import json; rows = [json.loads(l) for l in open('$WORK/waitk/metrics.jsonl')]
assert sum(r['loss_student'] for r in rows) > sum(r['loss_teacher'] for r in rows), rows[-1]"
# the wait-k baseline as baseline systems train it: no teacher copy at all (spsd.teacher = off)
check "student-only wait-k baseline runs (spsd.teacher = off)" ablate waitk_solo --set stream.schedule=waitk \
  --set stream.k=2 --set spsd.lambda=0 --set spsd.teacher=off
check "teacher off: the loss is CE(student); step 1's equals the wait-k run's, on fewer rows" "$PYTHON" -c "
import json
solo = [json.loads(l) for l in open('$WORK/waitk_solo/metrics.jsonl')]
both = [json.loads(l) for l in open('$WORK/waitk/metrics.jsonl')]
assert all(r['loss'] == r['loss_student'] and r['loss_teacher'] == 0 and r['kl'] == 0 for r in solo), solo[0]
assert abs(solo[0]['loss_student'] - both[0]['loss_student']) < 1e-4, (solo[0], both[0])
assert solo[0]['tokens'] < both[0]['tokens'], (solo[0], both[0])"
check "the train line says there is no teacher copy" grep -q "schedule waitk:k=2, no teacher copy" "$WORK/waitk_solo.log"
check "proact.json records the whole schedule spec" grep -q '"schedule": "waitk:k=2"' "$WORK/waitk/proact.json"
check "proact.json records random's parameters" grep -q \
  '"schedule": "random:k_min=1,k_max=3,mean_step=1,p_full=0.1,lag_floor=none,drift=0"' "$WORK/masking/proact.json"
expect_fail "teacher off with the default lambda = 1" "spsd.lambda: must be 0 with spsd.teacher = off" \
  "$PROACT" train --config "$SRC/configs/tiny.ini" --set spsd.teacher=off --set run.dir="$WORK/solo_lambda"
finish
