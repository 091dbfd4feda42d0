# scripts/reproduce_report.py on a hand-made study tree with known answers. Every sentence has a
# 10-word reference; a system writes it exactly or writes 10 words that share nothing with it, so a
# head's corpus BLEU is 100 x (exact sentences) / N. Every sentence's delays are L, L+10, ... over
# a 100-word source, so its LAAL is L. Two seeds; some units, heads and files are missing.
source "$(dirname "$0")/lib.sh"
OUT="$WORK/study"
"$PYTHON" - "$OUT" <<'PY'
import json, os, random, sys
out, N = sys.argv[1], 40
rng = random.Random(7)
refs = [" ".join(f"r{i}w{j}" for j in range(10)) for i in range(N)]
HDR = "head,kind,dir,BLEU,chrF,AL,LAAL,AP,DAL,AL_CA,LAAL_CA,AP_CA,DAL_CA,ms_per_word,n,n_no_output,signature"

def unit(v, s, heads, sub="eval"):
    """heads: {spec: (exact sentences, L)}"""
    ev = os.path.join(out, "toy", v, f"seed{s}", sub)
    os.makedirs(ev, exist_ok=True)
    rows = []
    for spec, (k, lag) in heads.items():
        d = spec.replace(":", "_").replace("/", "_")
        rows.append(f"{spec},{spec.split(':')[0]},{d},{100 * k / N:.6f},0,0,{lag:.6f},0,0,-,-,-,-,1,{N},0,sig")
        if sub != "eval":
            continue
        exact = set(rng.sample(range(N), k))
        os.makedirs(os.path.join(ev, d))
        with open(os.path.join(ev, d, "instances.log"), "w") as f:
            for i in range(N):
                pred = refs[i] if i in exact else " ".join(f"x{i}w{j}" for j in range(10))
                f.write(json.dumps({"index": i, "prediction": pred, "delays": [lag + 10 * t for t in range(10)],
                                    "elapsed": [], "prediction_length": 10, "reference": refs[i],
                                    "source": "s", "source_length": 100}) + "\n")
    with open(os.path.join(ev, "curve.csv"), "w") as f:
        f.write(HDR + "\n" + "\n".join(rows) + "\n")

def diagnose(v, s, data):
    with open(os.path.join(out, "toy", v, f"seed{s}", "diagnose.json"), "w") as f:
        f.write(data if isinstance(data, str) else json.dumps(data))

# c, the baseline: waitk frontier (2, 20) (4, 40) (6, 50); waitk:3 is 35 and 45 on the seeds: reference BLEU 40
for s, k3 in ((1, 14), (2, 18)):
    unit("c", s, {"waitk:1": (8, 2), "waitk:3": (k3, 4), "waitk:5": (20, 6), "offline": (24, 9)})
# a: probe frontier (1, 30) (3, 50), probe:0.7 dominated; entropy/min-lag=1 one point (50, 5) from 45 and 55
for s, ke in ((1, 18), (2, 22)):
    unit("a", s, {"waitk:2": (10, 3), "probe:0.9": (12, 1), "probe:0.7": (10, 2), "probe:0.5": (20, 3),
                  "entropy:2/min-lag=1": (ke, 5), "offline": (22, 9)})
unit("b", 1, {"probe:0.9": (17, 3)})                                 # b/seed2 missing, d missing altogether
unit("e", 1, {"probe:0.9": (17, 2), "probe:0.5": (20, 4)})
unit("e", 2, {"probe:0.9": (17, 2)})                                 # e/seed2 lacks probe:0.5
diagnose("a", 1, {"lags": [{"lag": 0, "kl": 2.0, "agreement": 0.5, "student_loss": 3.0, "rows": 100},
                           {"lag": -1, "kl": 0.0, "agreement": 1.0, "student_loss": 2.0, "rows": 100}]})
diagnose("a", 2, {"lags": [{"lag": 0, "kl": 4.0, "agreement": 0.7, "student_loss": 3.5, "rows": 100},
                           {"lag": "full", "kl": 0.0, "agreement": 1.0, "student_loss": 2.5, "rows": 100}]})
diagnose("c", 1, {"model": "x", "lags": {"0": {"kl": 1.0}, "full": {"kl": 0.5}}})  # keyed by lag
diagnose("e", 1, "{not json")
PY
R=(scripts/reproduce_report.py --out "$OUT" --corpora toy --bootstrap 300 --jobs 2)
check "the report runs on the partial study" "$PYTHON" "${R[@]}" >"$WORK/report.out"
check "it writes summary.json, report.md, results.csv and the plots (overview, per model)" bash -c "cd '$OUT' && test -s summary.json &&
  test -s report.md && [ \$(tail -n +2 results.csv | wc -l) -eq 24 ] && grep -q '<svg' toy-bleu-laal.svg &&
  grep -q 'c: waitk (baseline)' toy-a-bleu-laal.svg && ! test -e toy-d-bleu-laal.svg"
check "the points, frontiers and interpolations are the constructed ones" "$PYTHON" - "$OUT/summary.json" <<'PY'
import json, sys
cs = json.load(open(sys.argv[1]))["corpora"]["toy"]
close = lambda x, y: x is not None and abs(x - y) < 1e-9
assert cs["n_test"] == 40 and cs["seeds"] == [1, 2], cs["seeds"]
assert cs["units"] == ["a/seed1", "a/seed2", "b/seed1", "c/seed1", "c/seed2", "e/seed1", "e/seed2"], cs["units"]
assert cs["checks"]["curve_mismatches"] == [], cs["checks"]
p = cs["families"]["a"]["probe"]
assert [x["head"] for x in p["pooled"]["frontier"]] == ["probe:0.9", "probe:0.5"], p["pooled"]["frontier"]
assert p["per_seed"]["1"]["frontier"] == ["probe:0.9", "probe:0.5"]
assert close(p["bleu_at_laal"]["2"]["value"], 40) and close(p["bleu_at_laal"]["3"]["value"], 50), p["bleu_at_laal"]
assert p["bleu_at_laal"]["4"]["value"] is None  # beyond the frontier's LAAL range
w = cs["families"]["c"]["waitk"]
assert [close(w["bleu_at_laal"][k]["value"], v) for k, v in (("2", 20), ("3", 30), ("4", 40))] == [True] * 3
e = cs["families"]["a"]["entropy/min-lag=1"]["pooled"]["points"][0]
assert e["seeds"] == ["1", "2"] and close(e["BLEU"], 50) and close(e["LAAL"], 5), e  # 45 and 55 pooled
assert close(cs["reference"]["bleu"]["value"], 40) and close(cs["reference"]["baseline"]["laal_at_reference_bleu"]["value"], 4)
assert close(cs["offline_bleu"]["a"]["value"], 55) and [close(x, 55) for x in cs["offline_bleu"]["a"]["per_seed"].values()] == [True] * 2
assert close(cs["bleu_at_laal"]["a"]["probe"]["2"], 40) and close(cs["laal_at_reference_bleu"]["a"]["probe"], 2)
PY
check "comparisons at the reference BLEU: reductions 50% (a probe), -25% (a entropy), 25% (b), none (a waitk)" \
  "$PYTHON" - "$OUT/summary.json" <<'PY'
import json, sys
cs = json.load(open(sys.argv[1]))["corpora"]["toy"]
close = lambda x, y: x is not None and abs(x - y) < 1e-9
c = {(x["model"], x["policy"]): x for x in cs["comparisons"]}
assert sorted(c) == [("a", "entropy/min-lag=1"), ("a", "probe"), ("a", "waitk"), ("b", "probe"), ("e", "probe")], sorted(c)
x = c[("a", "probe")]
assert (x["baseline_model"], x["baseline_policy"]) == ("c", "waitk")
assert close(x["bleu"], 40) and close(x["laal"], 2) and close(x["baseline_laal"], 4) and close(x["laal_reduction"], 0.5), x
assert not x["laal_upper_bound"] and close(x["baseline_bleu"], 40)
y = c[("a", "entropy/min-lag=1")]
assert close(y["laal_reduction"], -0.25) and close(y["bleu"], 50) and y["laal_upper_bound"], y
assert close(c[("b", "probe")]["laal_reduction"], 0.25) and c[("a", "waitk")]["laal_reduction"] is None
e = c[("e", "probe")]  # e's probe: (2, 42.5) from both seeds, (4, 50) from seed 1
assert close(e["laal"], 2) and close(e["bleu"], 42.5) and e["laal_upper_bound"], e
for k in ("bleu", "laal", "baseline_bleu", "baseline_laal", "laal_reduction"):  # the intervals bracket the point
    lo, hi = x[k + "_ci"]
    assert lo <= x[k] + 1e-12 and x[k] <= hi + 1e-12 and (lo < hi or k == "baseline_laal"), (k, lo, x[k], hi)
lo, hi = x["laal_reduction_ci"]
assert lo < 0.5 < hi, x["laal_reduction_ci"]
h = cs["headline"]
assert h["policy"] == "probe" and h["chosen_on"] == "test" and h["selection_flag"], h
assert h["comparison"]["laal_reduction"] == x["laal_reduction"] and h["goal"]["met"] == (lo > 0 and x["defined"] >= 0.975), h
PY
check "missing units, heads and files are reported" "$PYTHON" - "$OUT/summary.json" "$OUT/report.md" <<'PY'
import json, sys
cs = json.load(open(sys.argv[1]))["corpora"]["toy"]
m = {(x["variant"], x["seed"], x["what"]) for x in cs["missing"]}
for want in [("b", "2", "eval"), ("d", "1", "eval"), ("d", "2", "eval"), ("e", "2", "heads"), ("e", "1", "diagnose"),
             ("b", "1", "diagnose")]:
    assert want in m, (want, m)
assert ("a", "1", "diagnose") not in m and ("c", "1", "diagnose") not in m
md = open(sys.argv[2]).read()
assert "heads not evaluated: probe:0.5" in md and "- d/seed1: no eval/curve.csv" in md, md
assert "- e/seed1: diagnose.json: Expecting property name" in md, md
assert "| a | probe | 3 | 40.00 [" in md and "chosen on the TEST data" in md
PY
check "the student-teacher gap: per model and lag, the mean over seeds and the values per seed" \
  "$PYTHON" - "$OUT/summary.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["corpora"]["toy"]["student_teacher_gap"]
assert list(g["a"]) == ["0", "full"], g["a"]
assert g["a"]["0"]["kl"] == {"mean": 3.0, "per_seed": {"1": 2.0, "2": 4.0}}, g["a"]["0"]
assert abs(g["a"]["0"]["agreement"]["mean"] - 0.6) < 1e-12 and g["a"]["full"]["student_loss"]["mean"] == 2.25
assert g["c"]["full"]["kl"]["per_seed"] == {"1": 0.5} and "e" not in g
PY
check "--verify: every head's BLEU and LAAL equal proact score's" "$PYTHON" "${R[@]}" --bootstrap 0 \
  --proact "$PROACT" --verify --summary "$WORK/s0.json" --report "$WORK/r0.md"
# a validation evaluation where a's entropy family is best: LAAL 1.5 at BLEU 41 against probe's 2
"$PYTHON" - "$OUT" <<'PY'
import os, sys
HDR = "head,kind,dir,BLEU,chrF,AL,LAAL,AP,DAL,AL_CA,LAAL_CA,AP_CA,DAL_CA,ms_per_word,n,n_no_output,signature"
for v, rows in (("a", ["entropy:2/min-lag=1,entropy,x,41,0,0,1.5", "probe:0.9,probe,x,30,0,0,1", "probe:0.5,probe,x,50,0,0,3"]),
                ("c", ["waitk:3,waitk,x,40,0,0,4"])):
    d = os.path.join(sys.argv[1], "toy", v, "seed1", "eval-valid")
    os.makedirs(d)
    open(os.path.join(d, "curve.csv"), "w").write(HDR + "\n" + "\n".join(r + ",0,0,-,-,-,-,1,5,0,sig" for r in rows) + "\n")
PY
check "with eval-valid the best policy is chosen on validation" "$PYTHON" "${R[@]}" --bootstrap 50 >"$WORK/report2.out"
check "... entropy/min-lag=1, not flagged, its test reduction -25%" "$PYTHON" - "$OUT/summary.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["corpora"]["toy"]["headline"]
assert h["policy"] == "entropy/min-lag=1" and h["chosen_on"] == "validation" and not h["selection_flag"], h
assert abs(h["comparison"]["laal_reduction"] + 0.25) < 1e-9 and not h["goal"]["met"], h
PY
check "below --min-reference-bleu the goal is not assessable, whatever the reduction" bash -c "
  '$PYTHON' ${R[*]} --bootstrap 50 --min-reference-bleu 50 --summary '$WORK/s50.json' \
    --report '$WORK/r50.md' >/dev/null &&
  '$PYTHON' -c 'import json, sys; g = json.load(open(sys.argv[1]))[\"corpora\"][\"toy\"][\"headline\"][\"goal\"]
assert g == {\"laal_reduction\": 0.3, \"min_reference_bleu\": 50.0, \"informative\": False, \"met\": False}, g
g = json.load(open(sys.argv[2]))[\"corpora\"][\"toy\"][\"headline\"][\"goal\"]
assert g[\"informative\"] is True and g[\"min_reference_bleu\"] == 5.0, g' '$WORK/s50.json' '$OUT/summary.json' &&
  grep -qF 'not assessable**: the reference BLEU is below 50' '$WORK/r50.md'"
check "--from-summary rewrites report.md from summary.json alone" bash -c "rm '$OUT/report.md' &&
  '$PYTHON' ${R[*]} --from-summary >/dev/null && grep -q 'chosen on the validation' '$OUT/report.md'"
check "a study without any unit: the report says so" bash -c "mkdir -p '$WORK/empty' &&
  '$PYTHON' scripts/reproduce_report.py --out '$WORK/empty' --corpora toy --seeds 1 >/dev/null &&
  grep -q 'No evaluations yet' '$WORK/empty/report.md' && grep -q 'a/seed1: no eval/curve.csv' '$WORK/empty/report.md'"
finish
