# The reproduction study as a Slurm job array (slurm/study.sh): on a tiny corpus cut from the
# fixture, the budget run in the prepare job (3 epochs, chosen on validation loss), 2 variants x 2 seeds run as array tasks (train on 2 ranks with srun, export, on-policy
# probe, diagnose, threshold grids, eval on validation and test pairs), then the report; every unit
# complete, summary.json holding both seeds, and one unit's scores equal to the same unit run
# locally with mpirun (scripts/reproduce.sh --unit); a unit kept in a store (--store) is taken from it by
# another study directory without training.
source "$(dirname "$0")/../jobs/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
FIX="$SRC/tests/data/fixture"
mkdir -p "$WORK/data/tiny"
cp "$FIX/libreoffice.en-de.train.tsv" "$WORK/data/tiny/train.tsv"
head -12 "$FIX/libreoffice.en-de.test.tsv" >"$WORK/data/tiny/valid.tsv"
tail -30 "$FIX/libreoffice.en-de.test.tsv" >"$WORK/data/tiny/test.tsv"
OPTS=(--corpora tiny --variants "a c" --seeds "1 2" --epochs tiny=budget --budget-epochs 3 --config configs/tiny.ini --data-root "$WORK/data"
      --vocab 600 --valid-limit 8 --probe-samples 300 --probe-label p-teacher --bootstrap 50)

check "study.sh submits prepare, the unit array and the report" bash -c "slurm/study.sh --out '$WORK/study' \
  ${OPTS[*]@Q} >'$WORK/submit.out' 2>'$WORK/submit.err'"
mapfile -t IDS < <(cut -d' ' -f2 "$WORK/study/jobs.txt" 2>/dev/null)
if [ ${#IDS[@]} -ne 3 ]; then cat "$WORK/submit.err"; finish; exit 1; fi
check "the study ends within 600 s" wait_jobs 600 "${IDS[@]}"
check "every job and every array task COMPLETED" all_completed "${IDS[@]}"
check "one array task per unit (2 variants x 2 seeds)" bash -c "[ \$(job_states ${IDS[1]} | wc -l) -eq 4 ]"
if [ "$FAILED" -gt 0 ]; then for f in "$WORK"/study/logs/*; do echo "== $f"; tail -20 "$f"; done; fi
check "the budget: 3 validation losses, the rule's choice, and every unit trained for it" "$PYTHON" - "$WORK/study/tiny" <<'PY'
import json, math, re, sys
root = sys.argv[1]
b = json.load(open(f"{root}/budget/budget.json"))
loss = {int(e): v for e, v in b["val_loss_student"].items()}
assert sorted(loss) == [1, 2, 3], loss
assert b["epochs"] == min(e for e in loss if loss[e] <= min(loss.values()) + b["tolerance"]), b
pairs = sum(1 for _ in open(f"{root}/../../data/tiny/train.tsv"))
want = math.ceil(b["epochs"] * pairs / 16)
for v in "ac":
    for s in (1, 2):
        cfg = open(f"{root}/{v}/seed{s}/run/config.ini").read()
        steps = int(re.search(r"^steps = (\d+)", cfg, re.M).group(1))
        assert steps == want, (v, s, steps, want)
PY
check "every unit: a model with its probe, diagnose.json, and every head of heads.txt on valid and test" \
  "$PYTHON" - "$WORK/study/tiny" <<'PY'
import csv, json, os, sys
root = sys.argv[1]
for v in "ac":
    for s in (1, 2):
        u = f"{root}/{v}/seed{s}"
        assert "probe" in json.load(open(f"{u}/export/proact.json")), u
        assert json.load(open(f"{u}/diagnose.json"))["lags"], u
        heads = open(f"{u}/heads.txt").read().strip().split(",")
        assert "waitk:3" in heads and "offline" in heads and any(h.startswith("probe:") for h in heads), heads
        for e in ("eval", "eval-valid"):
            got = [r["head"] for r in csv.DictReader(open(f"{u}/{e}/curve.csv"))]
            assert got == heads, (u, e, got, heads)
PY
check "summary.json: the corpus with both seeds and the comparisons" "$PYTHON" -c "
import json
s = json.load(open('$WORK/study/summary.json'))
c = s['tiny'] if 'tiny' in s else s['corpora']['tiny']
assert c['seeds'] == [1, 2], c['seeds']
n = sum(1 for _ in open('$WORK/study/tiny/a/seed1/eval/waitk_3/instances.log'))  # the pairs that fit 64 tokens
assert c['n_test'] == n and 10 <= n <= 30, (c['n_test'], n)
assert isinstance(c['comparisons'], list) and c['comparisons'], c.keys()
"
check "report.md written" test -s "$WORK/study/report.md"
# one unit again, locally with mpirun: the same scores
check "unit 0 run locally, kept in a store" bash -c "PROACT='$PROACT' scripts/reproduce.sh --out '$WORK/local' ${OPTS[*]@Q} \
  --store '$WORK/store' --unit 0 >'$WORK/local.out' 2>&1 || { tail -20 '$WORK/local.out'; exit 1; }"
check "the store holds the unit's results and no weights" bash -c "tar -tJf '$WORK/store/tiny/a-seed1.tar.xz' >'$WORK/stored.txt' \
  && grep -qx 'eval/waitk_3/instances.log' '$WORK/stored.txt' && grep -qx 'diagnose.json' '$WORK/stored.txt' \
  && grep -qx 'export/proact.json' '$WORK/stored.txt' && ! grep -q 'safetensors\|checkpoints' '$WORK/stored.txt'"
# another study directory with the same store: unit 0 comes from it (nothing trained); its report
# is the local one's (instances.log lose only their wall-clock "elapsed")
check "a new study takes unit 0 from the store, trains nothing" bash -c "PROACT='$PROACT' scripts/reproduce.sh --out '$WORK/again' \
  ${OPTS[*]@Q} --store '$WORK/store' --unit 0 >'$WORK/again.out' 2>&1 && grep -q 'from the store' '$WORK/again.out' \
  && [ ! -e '$WORK/again/tiny/a/seed1/run/checkpoints' ] && [ -f '$WORK/again/tiny/a/seed1/stored.txt' ] \
  && cmp '$WORK/local/tiny/a/seed1/eval/curve.csv' '$WORK/again/tiny/a/seed1/eval/curve.csv'"
check "the stored unit's report equals the local one's" bash -c "for d in local again; do \
  '$PYTHON' scripts/reproduce_report.py --out '$WORK/'\$d --corpora tiny --variants a --bootstrap 20 \
    --summary '$WORK/'\$d.json --report '$WORK/'\$d.md >/dev/null 2>&1 || exit 1; done; \
  '$PYTHON' -c 'import json, sys; a, b = (json.load(open(p)) for p in sys.argv[1:]); a[\"meta\"].pop(\"out\"); b[\"meta\"].pop(\"out\"); assert a == b' \
    '$WORK/local.json' '$WORK/again.json'"
check "--report on a new study directory takes the stored units first" bash -c "PROACT='$PROACT' scripts/reproduce.sh \
  --out '$WORK/fresh' ${OPTS[*]@Q} --store '$WORK/store' --report >'$WORK/fresh.out' 2>&1 \
  && [ -f '$WORK/fresh/tiny/a/seed1/stored.txt' ] && \
  '$PYTHON' -c 'import json; s = json.load(open(\"$WORK/fresh/summary.json\")); c = s.get(\"tiny\") or s[\"corpora\"][\"tiny\"]; assert c[\"seeds\"] == [1], c[\"seeds\"]'"
check "a stored unit is not run again, with or without the store" bash -c "PROACT='$PROACT' scripts/reproduce.sh \
  --out '$WORK/again' ${OPTS[*]@Q} --unit 0 >'$WORK/again2.out' 2>&1 && [ ! -e '$WORK/again/tiny/a/seed1/run/checkpoints' ] \
  && ! grep -q 'train\|eval' '$WORK/again2.out'"
check "the array's unit 0 equals the local one (heads, BLEU, LAAL, AL)" "$PYTHON" - "$WORK/study/tiny/a/seed1/eval/curve.csv" \
  "$WORK/local/tiny/a/seed1/eval/curve.csv" <<'PY'
import csv, sys
a, b = ([(r["head"], r["BLEU"], r["LAAL"], r["AL"]) for r in csv.DictReader(open(p))] for p in sys.argv[1:3])
assert a == b, (a, b)
PY
finish
