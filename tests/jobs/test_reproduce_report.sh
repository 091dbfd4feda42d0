# scripts/reproduce_report.py on hand-made curves with known answers: the frontier drops dominated
# points, LAAL at equal BLEU is interpolated on it, the best adaptive head kind is the one that
# reaches the most BLEU levels (then the most saving), and the offline gap is read off model d.
source "$(dirname "$0")/lib.sh"
OUT="$WORK/study"
HDR="head,kind,dir,BLEU,chrF,AL,LAAL,AP,DAL,AL_CA,LAAL_CA,AP_CA,DAL_CA,ms_per_word,n,n_no_output,signature"
row() { echo "$1,$2,x,$3,40,$4,$4,0.8,$4,-,-,-,-,1,50,0,sig"; } # head kind BLEU LAAL
mkdir -p "$OUT/toy"/{a,b,c,d}/eval
{ echo "$HDR"
  row entropy:1 entropy 8 2; row entropy:2 entropy 10 3; row entropy:3 entropy 9 5 # 9@5 is dominated
  row probe:0.5 probe 4 1; row probe:0.9 probe 6 2
  row waitk:1 waitk 5 3; row offline offline 12 20; } >"$OUT/toy/a/eval/curve.csv"
{ echo "$HDR"; row waitk:1 waitk 3 2; row waitk:3 waitk 6 4; row waitk:5 waitk 10 8; } >"$OUT/toy/c/eval/curve.csv"
{ echo "$HDR"; row entropy:2 entropy 7 3; } >"$OUT/toy/b/eval/curve.csv"
{ echo "$HDR"; row offline offline 14 20; row waitk:3 waitk 9 6; } >"$OUT/toy/d/eval/curve.csv"

check "the report runs" "$PYTHON" "$SRC/scripts/reproduce_report.py" --out "$OUT" --corpora toy --steps 7 --limit 50 >"$WORK/report.out"
check "it writes report.md, results.csv, headline.json and two plots" bash -c "cd '$OUT' && test -s report.md && test -s results.csv &&
  test -s headline.json && grep -q '<svg' toy-bleu-laal.svg && grep -q '<svg' toy-chrf-al.svg"
check "results.csv holds every point (13)" bash -c "[ \$(tail -n +2 '$OUT/results.csv' | wc -l) -eq 13 ]"
# wait-k frontier (c): (2,3) (4,6) (8,10); levels 5, 7.5, 9, 10. entropy (a): (2,8) (3,10)
# -> entropy reaches all four levels: LAAL 2, 2, 2.5, 3 vs wait-k 3.333.., 5.5, 7, 8
check "headline: entropy is the best kind, LAAL interpolated on both frontiers" "$PYTHON" -c "
import json
h = json.load(open('$OUT/headline.json'))['toy']
assert h['best_kind'] == 'entropy', h['best_kind']
got = [(round(b, 3), round(la, 3), round(lw, 3)) for b, la, lw in h['cmp']]
assert got == [(5.0, 2.0, 3.333), (7.5, 2.0, 5.5), (9.0, 2.5, 7.0), (10.0, 3.0, 8.0)], got
assert abs(h['mean_laal_saving'] - (1.333333 + 3.5 + 4.5 + 5) / 4) < 1e-4, h['mean_laal_saving']
w = h['within_model']['a']  # a's own wait-k: (3, 5) -> levels 2.5, 3.75, 4.5, 5; probe (1, 4) (2, 6) saves most
assert w['best_kind'] == 'probe' and abs(w['mean_laal_saving'] - 1.8125) < 1e-9, w
assert h['within_model']['c']['best_kind'] is None and h['within_model']['b'] is None, h['within_model']
assert h['offline_bleu'] == 14 and h['a_offline_bleu'] == 12 and h['a_best_streaming']['head'] == 'entropy:2', h"
# paired bootstrap on instances: a and b identical, d garbles half its sentences, c equals a
"$PYTHON" - "$OUT/toy" <<'PY'
import json, os, random, sys
rng = random.Random(3)
words = "der die das Haus ist gross und klein heute Abend wir gehen nach".split()
refs = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(30)]
def write(v, head, preds):
    d = os.path.join(sys.argv[1], v, "eval", head.replace(":", "_"))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "instances.log"), "w") as f:
        for i, (p, r) in enumerate(zip(preds, refs)):
            f.write(json.dumps({"index": i, "prediction": p, "reference": r}) + "\n")
write("a", "offline", refs)
write("b", "offline", refs)
write("c", "waitk:5", refs)
write("d", "offline", [r if i % 2 else "nichts" for i, r in enumerate(refs)])
PY
check "the report with a paired bootstrap" "$PYTHON" "$SRC/scripts/reproduce_report.py" --out "$OUT" --corpora toy \
  --proact "$PROACT" --bootstrap 50 >"$WORK/report2.out"
check "bootstrap: identical systems differ by 0, a garbled one loses with an interval above 0" "$PYTHON" -c "
import json
b = {x['what'].split(':')[0]: x for x in json.load(open('$OUT/headline.json'))['toy']['bootstrap']}
s, d = b['SPSD'], b['a vs the offline model, offline heads']
assert s['diff'] == 0 and s['low'] == 0 and s['high'] == 0, s
assert d['diff'] > 10 and d['low'] > 0 and d['x_wins'] == 1, d"
check "the table names the dominated point's kind row and the saving" bash -c "grep -q '| a: ProactiveLLM (masking + SPSD) | entropy | 3 | 10.00 (entropy:2, 3.00)' '$OUT/report.md' &&
  grep -q '| 7.50 | 2.00 | 5.50 | 3.50 (64%) |' '$OUT/report.md'"
finish
