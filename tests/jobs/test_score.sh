# proact score: BLEU and chrF2 of --hyp/--ref against sacreBLEU 2.6.0's values, and the latency of an
# instances.log against SimulEval's (tests/data/metrics: expected.json per set, latency.json).
source "$(dirname "$0")/lib.sh"
M=tests/data/metrics

# compare.py JSON EXPECTED KEY: BLEU (with its counts and signature) and chrF2 equal sacreBLEU's to 1e-6
cat >"$WORK/compare.py" <<'PY'
import json, sys
got, exp, key = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
b = exp[key]
assert abs(got["BLEU"] - b["score"]) <= 1e-6, (got["BLEU"], b["score"])
assert abs(got["bp"] - b["bp"]) <= 1e-6, (got["bp"], b["bp"])
assert got["counts"] == b["counts"] and got["totals"] == b["totals"], (got["counts"], b["counts"])
assert (got["sys_len"], got["ref_len"]) == (b["sys_len"], b["ref_len"])
assert got["signature"] == b["signature"], (got["signature"], b["signature"])
assert abs(got["chrF"] - exp["chrF2"]["score"]) <= 1e-6, (got["chrF"], exp["chrF2"]["score"])
assert got["chrF_signature"] == exp["chrF2"]["signature"]
n = sum(1 for _ in open(sys.argv[4], encoding="utf-8", newline="\n"))
assert got["n"] == n, (got["n"], n)
PY

for set in bible-es-apertium-3000 bible-es-apertium-first200 edge-empty-hyps edge-identical edge-unicode-punct; do
  D=$M/bleu/$set
  "$PROACT" score --hyp $D/hyp.txt --ref $D/ref.txt --json >"$WORK/$set.json"
  check "$set: one JSON object; BLEU, chrF2 and signature equal sacreBLEU's" \
    "$PYTHON" "$WORK/compare.py" "$WORK/$set.json" $D/expected.json "bleu tok=13a lowercase=0" $D/hyp.txt
done
D=$M/bleu/bible-es-apertium-first200
"$PROACT" score --hyp $D/hyp.txt --ref $D/ref.txt --tokenize intl --lowercase --json >"$WORK/intl.json"
check "--tokenize intl --lowercase equals sacreBLEU's" \
  "$PYTHON" "$WORK/compare.py" "$WORK/intl.json" $D/expected.json "bleu tok=intl lowercase=1" $D/hyp.txt

"$PROACT" score --hyp $D/hyp.txt --ref $D/ref.txt >"$WORK/table.txt"
check "the table names BLEU, chrF2 and the signature" bash -c "
  grep -q '^BLEU  *15\.03  (47\.3/21\.0/10\.3/5\.3, BP 0\.986, ratio 0\.986, hyp 5059 ref 5131)$' '$WORK/table.txt' &&
  grep -q '^chrF2  *41\.22$' '$WORK/table.txt' &&
  grep -qF 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0' '$WORK/table.txt'"

# CRLF line ends give the same scores
sed 's/$/\r/' $D/hyp.txt >"$WORK/hyp_crlf.txt"
"$PROACT" score --hyp "$WORK/hyp_crlf.txt" --ref $D/ref.txt --json >"$WORK/crlf.json"
check "CRLF line ends are tolerated" \
  "$PYTHON" "$WORK/compare.py" "$WORK/crlf.json" $D/expected.json "bleu tok=13a lowercase=0" $D/hyp.txt

# --- sacreBLEU's own output, byte for byte: each "cli" case of sacrebleu/expected.json holds sacreBLEU
# 2.6.0's stdout for its arguments (generate.py ran it) and proact's equivalent arguments
"$PYTHON" - "$M/sacrebleu/expected.json" >"$WORK/cli_cases.txt" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["cli"]:
    print("\t".join([c["stdout"], c["hyp"], " ".join(c["refs"]), " ".join(c["proact_args"]),
                     " ".join(c["sacrebleu_args"]) or "(defaults)"]))
PY
check "12 sacreBLEU command lines to reproduce" test "$(wc -l <"$WORK/cli_cases.txt")" -eq 12
while IFS=$'\t' read -r out hyp refs args sargs; do
  # shellcheck disable=SC2086 # refs and args are word lists
  (cd $M && "$PROACT" score --hyp "$hyp" --ref $refs $args) >"$WORK/cli.out"
  check "sacrebleu -i $hyp $sargs: proact score $args prints the same bytes" cmp "$WORK/cli.out" "$M/$out"
done <"$WORK/cli_cases.txt"

# several references: --ref a b and --ref a --ref b are the same; the table names every metric
R=$M/sacrebleu/multi-ref
"$PROACT" score --hyp $R/hyp.txt --ref $R/ref1.txt $R/ref2.txt $R/ref3.txt --metrics bleu,chrf,ter --json >"$WORK/mr1.json"
"$PROACT" score --hyp $R/hyp.txt --ref $R/ref1.txt --ref $R/ref2.txt --ref $R/ref3.txt --metrics ter --metrics bleu,chrf \
  --json >"$WORK/mr2.json"
check "--ref a b c equals --ref a --ref b --ref c; --metrics repeats" cmp "$WORK/mr1.json" "$WORK/mr2.json"
check "proact's JSON: BLEU, chrF and TER with 3 references equal sacreBLEU's" "$PYTHON" - "$WORK/mr1.json" \
  "$M/sacrebleu/expected.json" <<'PY'
import json, sys
got, exp = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["sets"]["multi-ref"]
b = next(x for x in exp["bleu"] if x["tok"] == "13a" and not x["lowercase"])
c = next(x for x in exp["chrf"] if x["word_order"] == 0 and not x["lowercase"])
t = next(x for x in exp["ter"] if not x["case_sensitive"])
assert abs(got["BLEU"] - b["score"]) <= 1e-9 and got["counts"] == b["counts"] and got["signature"] == b["signature"]
assert abs(got["chrF"] - c["score"]) <= 1e-9 and got["chrF_signature"] == c["signature"] and got["chrF_name"] == "chrF2"
assert abs(got["TER"] - t["score"]) <= 1e-9 and got["TER_edits"] == t["num_edits"], (got["TER"], t)
assert abs(got["TER_ref_length"] - t["ref_length"]) <= 1e-9 and got["TER_signature"] == t["signature"]
assert got["nrefs"] == 3 and got["n"] == 10
PY
"$PROACT" score --hyp $R/hyp.txt --ref $R/ref1.txt $R/ref2.txt $R/ref3.txt --metrics bleu,chrf,ter --chrf-word-order 2 \
  >"$WORK/mr_table.txt"
check "the table: BLEU, chrF2++, TER and their signatures" bash -c "
  grep -q '^BLEU  *61\.0[0-9]  (' '$WORK/mr_table.txt' && grep -q '^chrF2++  *[0-9.]*$' '$WORK/mr_table.txt' &&
  grep -q '^TER  *25\.56  (19 edits, reference length 74\.3)$' '$WORK/mr_table.txt' &&
  grep -q '^segments 10, 3 references each$' '$WORK/mr_table.txt' &&
  grep -qF 'chrF2++ signature nrefs:3|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0' '$WORK/mr_table.txt' &&
  grep -qF 'TER signature nrefs:3|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0' '$WORK/mr_table.txt'"

# --- instances.log: every latency.json case as one sentence (texts with the right word counts), plus
# two sentences without output; SimulEval's own style for some lines (source as a list, no elapsed).
"$PYTHON" - $M/latency.json "$WORK/instances.log" "$WORK/expected_latency.json" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))
words = lambda n, w: " ".join(f"{w}{i}" for i in range(n))
with open(sys.argv[2], "w") as f:
    for i, c in enumerate(cases):
        n, src = len(c["delays"]), c["source_length"]
        o = {"index": i, "prediction": words(n, "t"), "delays": c["delays"],
             "elapsed": [d * 250.0 for d in c["delays"]],
             "prediction_length": n, "reference": words(c["reference_length"], "r"),
             "source": words(src, "s"), "source_length": src}
        if i % 3 == 1:  # as SimulEval writes some: the source as a list of words, extra keys
            o["source"] = o["source"].split()
            o["metric"] = {"AL": 0}
        f.write(json.dumps(o, ensure_ascii=i % 2 == 0) + "\n")
    for i in range(2):  # nothing written: skipped in the latency, counted
        f.write(json.dumps({"index": len(cases) + i, "prediction": "", "delays": [], "elapsed": [],
                            "prediction_length": 0, "reference": "a b c", "source": "x y", "source_length": 2}) + "\n")
mean = lambda k: sum(c[k] for c in cases) / len(cases)
keys = ["AL", "LAAL", "AP", "DAL"]
json.dump({"n": len(cases) + 2, "ref": {k: mean(k) for k in keys}, "hyp": {k: mean(k + "_hyplen") for k in keys}},
          open(sys.argv[3], "w"))
PY
cat >"$WORK/latency_check.py" <<'PY'
import json, sys
got, exp, mode = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
assert got["n"] == exp["n"] and got["n_no_output"] == 2, (got["n"], got["n_no_output"])
for k, v in exp[mode].items():
    assert abs(got[k] - v) <= 1e-9 * (1 + abs(v)), (k, got[k], v)
assert got["use_ref_len"] == (mode == "ref")
assert 0 <= got["BLEU"] <= 100 and 0 <= got["chrF"] <= 100
PY
"$PROACT" score --instances "$WORK/instances.log" --json --scores-tsv "$WORK/scores.tsv" >"$WORK/inst.json"
check "--instances: AL, LAAL, AP, DAL are the means of SimulEval's values" \
  "$PYTHON" "$WORK/latency_check.py" "$WORK/inst.json" "$WORK/expected_latency.json" ref
"$PROACT" score --instances "$WORK/instances.log" --no-use-ref-len --json >"$WORK/inst_hyp.json"
check "--no-use-ref-len: the means of SimulEval's hypothesis-length values" \
  "$PYTHON" "$WORK/latency_check.py" "$WORK/inst_hyp.json" "$WORK/expected_latency.json" hyp
check "scores.tsv: SimulEval's layout (its columns, Python's round(x, 3)), the same values" \
  "$PYTHON" - "$WORK/scores.tsv" "$WORK/inst.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0] == "BLEU\tLAAL\tAL\tAP\tDAL\tATD" and lines[2] == "" and len(lines) == 3, lines
got = json.load(open(sys.argv[2]))
for name, value in zip(lines[0].split("\t"), lines[1].split("\t")):
    if name in got:  # ATD is not in proact score's JSON
        assert value == repr(round(got[name], 3)), (name, value, got[name])
PY

# computation-aware: with elapsed = 250 ms per source word read (no computation time), the *_CA values
# are the latencies in ms: AL_CA = 250 AL, ..., and AP_CA = AP (a ratio)
"$PROACT" score --instances "$WORK/instances.log" --word-ms 250 --json >"$WORK/ca.json"
check "--word-ms: *_CA = 250 x the latency in words when computing takes no time" "$PYTHON" - "$WORK/ca.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
assert g["word_ms"] == 250
for k, scale in [("AL", 250), ("LAAL", 250), ("DAL", 250), ("AP", 1)]:
    assert abs(g[k + "_CA"] - scale * g[k]) <= 1e-9 * scale * (1 + abs(g[k])), (k, g[k], g[k + "_CA"])
PY
"$PROACT" score --instances "$WORK/instances.log" --word-ms 250 >"$WORK/ca_table.txt"
check "the table shows the latency and the *_CA values" bash -c "
  grep -q '^sentences 208 (2 without output' '$WORK/ca_table.txt' && grep -q '^AL  ' '$WORK/ca_table.txt' &&
  grep -q '^DAL_CA ' '$WORK/ca_table.txt' && grep -qF 'signature nrefs:1|case:mixed' '$WORK/ca_table.txt'"
sed '1s/"elapsed": \[[^]]*\]/"elapsed": null/' "$WORK/instances.log" >"$WORK/no_clock.log"
"$PROACT" score --instances "$WORK/no_clock.log" --word-ms 250 --json >"$WORK/no_clock.json" 2>"$WORK/no_clock.err"
check "a sentence without elapsed times: a warning and no *_CA" bash -c "
  grep -q 'warning: .*no elapsed times' '$WORK/no_clock.err' && ! grep -q AL_CA '$WORK/no_clock.json'"

# --- SimulEval's own scores of two proact eval heads (tests/data/metrics/simuleval/eval-{word,char}):
# the plain latency with --latency-unit, and the computation-aware one with --computation-aware
for u in word char; do
  "$PROACT" score --instances "$M/simuleval/eval-$u/instances.log" --latency-unit $u --computation-aware --json \
    >"$WORK/sim_$u.json"
done
check "--latency-unit word|char --computation-aware: AL..ATD and *_CA equal SimulEval 1.1.4's" "$PYTHON" - \
  "$M/simuleval" "$WORK" <<'PY'
import json, sys
root, work = sys.argv[1:3]
for u in ("word", "char"):
    got = json.load(open(f"{work}/sim_{u}.json"))
    want = json.load(open(f"{root}/eval-{u}/expected.json"))
    assert got["latency_unit"] == u, got["latency_unit"]
    for k in ("AL", "LAAL", "AP", "DAL", "ATD"):
        assert abs(got[k] - want["plain"][k]) < 1e-9, (u, k, got[k], want["plain"][k])
        assert abs(got[k + "_CA"] - want["computation_aware"][k + "_CA"]) < 1e-9, (u, k, got[k + "_CA"])
PY
expect_fail "--computation-aware with --word-ms" "give one" \
  "$PROACT" score --instances "$M/simuleval/eval-word/instances.log" --computation-aware --word-ms 100
expect_fail "--latency-unit with --hyp" "apply to --instances only" \
  "$PROACT" score --hyp "$D/hyp.txt" --ref "$D/ref.txt" --latency-unit char

# --- errors: one line naming the file, line, field or option
head -10 $D/hyp.txt >"$WORK/hyp10.txt"
head -9 $D/ref.txt >"$WORK/ref9.txt"
: >"$WORK/empty.txt"
printf 'fine\nbad \xff byte\n' >"$WORK/bad_utf8.txt"
head -2 "$WORK/instances.log" >"$WORK/bad.log"
echo '{"index": 99, "prediction": "a", "delays": "1", "reference": "a", "source_length": 1}' >>"$WORK/bad.log"
expect_fail "mismatched line counts" "--hyp has 10 lines but --ref has 9" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/ref9.txt"
expect_fail "empty hypothesis file" "empty.txt: empty file" "$PROACT" score --hyp "$WORK/empty.txt" --ref "$WORK/ref9.txt"
expect_fail "missing file" "nope.txt: cannot open" "$PROACT" score --hyp "$WORK/nope.txt" --ref "$WORK/ref9.txt"
expect_fail "invalid UTF-8" "bad_utf8.txt:2: invalid UTF-8" "$PROACT" score --hyp "$WORK/bad_utf8.txt" --ref "$WORK/bad_utf8.txt"
expect_fail "both modes" "not both" "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/ref9.txt" --instances "$WORK/instances.log"
expect_fail "neither mode" "nothing to score" "$PROACT" score --json
expect_fail "--hyp without --ref" "--hyp needs --ref" "$PROACT" score --hyp "$WORK/hyp10.txt"
expect_fail "bad --tokenize" "--tokenize must be 13a, none, intl, char or zh (got 'ja-mecab')" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" --tokenize ja-mecab
expect_fail "a second reference file of another length" "--hyp has 10 lines but --ref $WORK/ref9.txt has 9" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" "$WORK/ref9.txt"
expect_fail "bad --metrics" "--metrics: expected a list of bleu, chrf, ter; got 'comet'" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" --metrics bleu,comet
expect_fail "bad --format" "--format must be table, json or text" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" --format xml
expect_fail "--chrf-word-order out of range" "--chrf-word-order" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" --chrf-word-order 9
expect_fail "--json and --format" "give it or --format, not both" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" --json --format json
expect_fail "--metrics with --instances" "apply to --hyp/--ref only" \
  "$PROACT" score --instances "$WORK/instances.log" --metrics ter
expect_fail "an argument without --ref" "unexpected argument 'x.txt'" "$PROACT" score --hyp "$WORK/hyp10.txt" x.txt
expect_fail "bad --word-ms" "--word-ms must be a number > 0" "$PROACT" score --instances "$WORK/instances.log" --word-ms 0
expect_fail "--word-ms without --instances" "apply to --instances only" \
  "$PROACT" score --hyp "$WORK/hyp10.txt" --ref "$WORK/hyp10.txt" --word-ms 300
expect_fail "malformed instances.log line" "bad.log:3: field 'delays' is not a list of numbers" \
  "$PROACT" score --instances "$WORK/bad.log"
expect_fail "empty instances.log" "empty.txt: no instances" "$PROACT" score --instances "$WORK/empty.txt"
expect_fail "stray argument" "unexpected argument 'extra'" "$PROACT" score --instances "$WORK/instances.log" extra
finish
