# scripts/ship-model.sh end to end at toy scale: two tiny "sizes" measured and one chosen, a short
# pretraining run, both fine-tunes from it, the probe, the study-layout evaluation, the report and the
# shipped directories; every choice (size, checkpoints, default heads) recomputed here from the files
# the recipe wrote; a second run does nothing; the shipped model replays its reference stream.
source "$(dirname "$0")/lib.sh"
FIX=$SRC/tests/data/fixture
DATA=$WORK/data OUT=$WORK/out MODELS=$WORK/models CONF=$WORK/configs
mkdir -p "$DATA"/{en-de-pretrain,libreoffice-en-de,ding-en-de} "$CONF"
cp "$FIX/libreoffice.en-de.train.tsv" "$DATA/en-de-pretrain/train.tsv"
head -20 "$FIX/libreoffice.en-de.test.tsv" >"$DATA/en-de-pretrain/valid.tsv"
head -200 "$FIX/libreoffice.en-de.train.tsv" >"$DATA/libreoffice-en-de/train.tsv"
head -30 "$FIX/libreoffice.en-de.test.tsv" >"$DATA/libreoffice-en-de/valid.tsv"
sed -n 31,70p "$FIX/libreoffice.en-de.test.tsv" >"$DATA/libreoffice-en-de/test.tsv"
head -200 "$FIX/john.en-es.train.tsv" >"$DATA/ding-en-de/train.tsv"
head -30 "$FIX/john.en-es.test.tsv" >"$DATA/ding-en-de/valid.tsv"
sed -n 31,60p "$FIX/john.en-es.test.tsv" >"$DATA/ding-en-de/test.tsv"
# the shipped config family with toy shapes ("5m" and "12m" become d = 32 and 48) and a toy schedule
# (a short warmup, a high learning rate) so that 40-step runs learn something to fit a probe on
toy='s/^warmup_steps = .*/warmup_steps = 4/; s/^lr = .*/lr = 5e-3/'
tiny() { sed -e "$toy" -e "s/^hidden_size = .*/hidden_size = $2/" -e "s/^n_layers = .*/n_layers = $3/" -e 's/^n_heads = .*/n_heads = 4/' \
  -e 's/^n_kv_heads = .*/n_kv_heads = 2/' -e "s/^intermediate_size = .*/intermediate_size = $4/" \
  "$SRC/configs/en-de/pretrain-$1.ini" >"$CONF/pretrain-$1.ini"; }
tiny 5m 32 1 64
tiny 12m 48 2 96
for f in "$SRC/configs/en-de"/finetune-*.ini; do sed -e "$toy" "$f" >"$CONF/$(basename "$f")"; done
recipe() {
  PROACT=$PROACT bash "$SRC/scripts/ship-model.sh" --out "$OUT" --data "$DATA" --models "$MODELS" --configs "$CONF" \
    --sizes "5m 12m" --trial-minutes 0.03 --pretrain-minutes 0.05 --finetune-epochs 3 --vocab 400 --valid-limit 8 \
    --test-limit 10 --probe-samples 300 --bootstrap 50 "$@"
}
rc=0
recipe >"$WORK/recipe.log" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then tail -30 "$WORK/recipe.log"; fi
check "the recipe runs every stage (exit 0)" test $rc -eq 0

check "the size chosen has the lowest forecast loss; the pretraining plan takes its measured speed" "$PYTHON" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/scaling/scaling.json"))
assert [r["size"] for r in s["sizes"]] == ["5m", "12m"], s["sizes"]
best = min(s["sizes"], key=lambda r: r["target_val_loss"])
assert s["chosen"] == best["size"], (s["chosen"], best["size"])
plan = json.load(open(f"{out}/base/plan.json"))
assert plan["size"] == s["chosen"] and plan["steps"] == max(40, round(0.05 * 60 / best["s_per_step"])), plan
for r in s["sizes"]:
    assert r["steps"] >= 40 and r["fit"]["points_used"] >= 3, r
PY

check "each export is the kept checkpoint with the lowest validation loss" "$PYTHON" - "$OUT" <<'PY'
import glob, json, os, re, sys
out = sys.argv[1]
for name in ("base", "proactive", "waitk"):
    run = f"{out}/{name}/run"
    val = {r["step"]: r["val_loss_student"] for r in map(json.loads, open(f"{run}/metrics.jsonl")) if "val_loss_student" in r}
    kept = [int(re.search(r"(\d+)\.h5$", p).group(1)) for p in glob.glob(f"{run}/checkpoints/step-*.h5")]
    best = min((val[k], k) for k in kept if k in val)[1]
    log = open(f"{out}/{name}/export.log").read()
    assert f"step-{best:08d}.h5" in log, (name, best, log[:300])
PY

check "the fine-tunes start from the base" "$PYTHON" - "$OUT" <<'PY'
import sys
out = sys.argv[1]
for name in ("proactive", "waitk"):
    ini = open(f"{out}/{name}/run/config.ini").read()
    assert f"init = {out}/base/export\n" in ini, name
PY

check "the default heads follow the rule on the pooled validation evaluations" "$PYTHON" - "$OUT" <<'PY'
import csv, sys
out = sys.argv[1]
for name, v in (("en-de-streaming", "a"), ("en-de-waitk", "c")):
    rows = [{r["head"]: r for r in csv.DictReader(open(f"{out}/study/{c}/{v}/seed1/eval-valid/curve.csv"))}
            for c in ("libreoffice-en-de", "ding-en-de")]
    mean = {h: [sum(float(r[h][k]) for r in rows) / 2 for k in ("BLEU", "LAAL")] for h in rows[0]}
    off = mean.pop("offline")[0]
    good = [h for h in mean if mean[h][0] >= 0.9 * off]
    want = min(good, key=lambda h: (mean[h][1], h)) if good else max(mean, key=lambda h: (mean[h][0], h))
    got = open(f"{out}/default_head-{name}.txt").read().strip()
    assert got == want, (name, got, want)
PY

check "the shipped models: bf16 weights, the default head and the probe in proact.json, a card" "$PYTHON" - "$OUT" "$MODELS" <<'PY'
import json, struct, sys
out, models = sys.argv[1], sys.argv[2]
for name in ("en-de-streaming", "en-de-waitk"):
    m = f"{models}/{name}"
    raw = open(f"{m}/model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtypes = {t["dtype"] for k, t in header.items() if k != "__metadata__"}
    assert dtypes == {"BF16"}, dtypes
    pj = json.load(open(f"{m}/proact.json"))
    assert pj["default_head"] == open(f"{out}/default_head-{name}.txt").read().strip(), pj["default_head"]
    assert ("probe" in pj) == (name == "en-de-streaming"), name
    card = open(f"{m}/README.md").read()
    assert card.startswith(f"# {name}:") and pj["default_head"] in card and "## Limits" in card, name
PY

check "shipped.json: the study's comparison fields, offline BLEU of all three models, the cost" "$PYTHON" - "$OUT" <<'PY'
import json, sys
s = json.load(open(f"{sys.argv[1]}/shipped.json"))
for c in ("libreoffice-en-de", "ding-en-de"):
    cs = s["corpora"][c]
    assert cs["n_test"] == 10 and cs["seeds"] == [1], (cs["n_test"], cs["seeds"])  # --test-limit 10, one seed
    assert set(cs["offline"]) == {"base", "proactive", "waitk"}
    for cmp in cs["comparisons"]:
        assert {"policy", "model", "baseline_policy", "baseline_model", "bleu", "bleu_ci", "baseline_bleu", "laal",
                "laal_ci", "baseline_laal", "laal_reduction", "laal_reduction_ci"} <= set(cmp), cmp
    assert set(cs["student_teacher_gap"]) == {"a", "c", "d"}
assert s["cost"]["core_hours"] > 0 and {"pretrain", "finetune", "scaling", "eval"} <= set(s["cost"]["by_stage"])
PY

check "a training run's core-hours count every process, a killed one too (elapsed_s restarts on a resume)" \
  "$PYTHON" - "$SRC/scripts" "$WORK/killed" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[1])
from study import shipped
os.makedirs(sys.argv[2], exist_ok=True)
rows = [{"step": 0, "val_loss_student": 9.0}, {"step": 1, "loss": 9, "elapsed_s": 1.0, "ranks": 2},
        {"step": 100, "loss": 7, "elapsed_s": 900.0, "ranks": 2},  # killed after this line
        {"step": 200, "loss": 6, "elapsed_s": 450.0, "ranks": 2}, {"step": 300, "loss": 5, "elapsed_s": 1800.0, "ranks": 2}]
with open(f"{sys.argv[2]}/metrics.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
assert abs(shipped.training_core_hours(sys.argv[2]) - 2 * (900 + 1800) / 3600) < 1e-12
PY
check "the shipped model replays its reference stream" bash "$SRC/scripts/reference-stream.sh" --check "$PROACT" "$MODELS/en-de-streaming"
# the check: cues to 1e-4 (another build differs in their last bits), tokens and decisions exactly
perturbed() {  # perturbed FIELD DELTA: a copy of the model whose first decision's FIELD is moved by DELTA
  rm -rf "$WORK/perturbed" && cp -r "$MODELS/en-de-streaming" "$WORK/perturbed"
  "$PYTHON" - "$WORK/perturbed/reference/run.jsonl" "$1" "$2" <<'PY'
import json, sys
path, field, delta = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [json.loads(line) for line in open(path, encoding="utf-8")]
first = next(r for r in rows if "decision" in r)
first[field] = first[field] + (int(delta) if isinstance(first[field], int) else delta)
open(path, "w", encoding="utf-8").writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
PY
  bash "$SRC/scripts/reference-stream.sh" --check "$PROACT" "$WORK/perturbed" >/dev/null 2>&1
}
check "a recorded cue 5e-5 off still replays" perturbed entropy 5e-5
not_perturbed() { ! perturbed "$@"; }
check "a recorded cue 1e-3 off does not" not_perturbed entropy 1e-3
check "a recorded token off by one does not" not_perturbed next_token 1
sums=$(cd "$MODELS" && find . -type f | sort | xargs md5sum)
recipe --stage finetune >"$WORK/again.log" 2>&1
check "a second run of a finished stage trains nothing" test "$(grep -c 'steps on\|resume' "$WORK/again.log")" -eq 0
recipe --stage ship >"$WORK/ship2.log" 2>&1
check "re-shipping gives byte-identical model directories" test "$sums" = "$(cd "$MODELS" && find . -type f | sort | xargs md5sum)"
expect_fail_recipe() { recipe "$@" >"$WORK/bad.log" 2>&1 && return 1; grep -q "ship-model:" "$WORK/bad.log"; }
check "an unknown stage is refused" expect_fail_recipe --stage nonsense

# an evaluation cut off after two of its heads: the next run evaluates only the heads left and merges
# them with the two kept into the curve one evaluation gives (its scores; not its clock columns)
E=$OUT/study/libreoffice-en-de/a/seed1/eval
cp "$E/curve.csv" "$WORK/curve-whole.csv"
n_heads=$(($(wc -l <"$E/curve.csv") - 1))
finished_parts() { find "$E.parts" -mindepth 1 -maxdepth 1 -type d ! -name '*.tmp' | wc -l; }
rm -rf "$E"
cat >"$WORK/proact-cut" <<EOF
#!/usr/bin/env bash
# every head evaluation fails once two heads of $E are finished
if [ "\$1" = eval ] && [[ " \$* " != *" --merge "* ]] &&
  [ "\$(find "$E.parts" -mindepth 1 -maxdepth 1 -type d ! -name '*.tmp' | wc -l)" -ge 2 ]; then exit 3; fi
exec "$PROACT" "\$@"
EOF
chmod +x "$WORK/proact-cut"
rc=0
PROACT=$WORK/proact-cut recipe --stage eval >"$WORK/cut.log" 2>&1 || rc=$?
check "an evaluation cut off fails the stage and keeps its finished heads" \
  test $rc -ne 0 -a ! -e "$E" -a "$(finished_parts)" -eq 2
mv "$OUT/study/libreoffice-en-de/a/seed1/eval-test.log" "$WORK/cut-eval.log"
recipe --stage eval >"$WORK/resume.log" 2>&1
check "the next run evaluates only the $((n_heads - 2)) heads left" \
  test "$(grep -c 'proact eval: .* sentences, 1 head' "$OUT/study/libreoffice-en-de/a/seed1/eval-test.log")" -eq $((n_heads - 2))
check "and merges them into the curve one evaluation gives" "$PYTHON" - "$WORK/curve-whole.csv" "$E/curve.csv" <<'PY'
import csv, sys
scores = ("head", "BLEU", "chrF", "AL", "LAAL", "AP", "DAL", "ATD", "n", "n_no_output")
whole, merged = ([[r[k] for k in scores] for r in csv.DictReader(open(p))] for p in sys.argv[1:])
assert whole == merged, (whole, merged)
PY
check "the parts are removed once merged" test ! -e "$E.parts"

# the shipped numbers go into the study's summary.json as its "shipped" key, the study's keys kept
printf '{"meta": {"variants": ["a"]}, "shipped": {"old": 1}}\n' >"$WORK/summary.json"
"$PYTHON" "$SRC/scripts/study/shipped.py" --out "$OUT" --into "$WORK/summary.json" >/dev/null
check "shipped.py --into: \"shipped\" is shipped.json, the other keys kept" "$PYTHON" - "$OUT" "$WORK/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[2]))
assert s == {"meta": {"variants": ["a"]}, "shipped": json.load(open(f"{sys.argv[1]}/shipped.json"))}, sorted(s)
PY
finish
