# proact eval: the test set streamed through several heads on 1 and on 3 ranks, scored and plotted.
# Uses the tiny trained model of make_stream_model.sh (PROACT_STREAM_MODEL).
source "$(dirname "$0")/lib.sh"
# Under the sanitizer build: Open MPI's own allocations at MPI_Init are not ours (make_stream_model.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MODEL="${PROACT_STREAM_MODEL:?PROACT_STREAM_MODEL must name the streaming test model}"
DATA=tests/data/fixture/john.en-es.test.tsv
HEADS=waitk:2,entropy:3.5,maxprob:0.3/min-lag=2,offline
N=14
eval_np() { # eval_np NP OUT [extra args]
  local np="$1" out="$2"; shift 2
  timeout 600 mpirun -np "$np" --oversubscribe "$PROACT" eval --model "$MODEL" --data "$DATA" --limit $N \
    --heads "$HEADS" -o "$out" "$@" >"$out.stdout" 2>"$out.stderr" || { cat "$out.stderr"; return 1; }
}

check "eval on 1 rank" eval_np 1 "$WORK/np1"
check "eval on 3 ranks" eval_np 3 "$WORK/np3"

# --- the files: SimulEval's instances.log, scores.tsv and config.yaml per head, the curve across heads
SIMULEVAL_DATA=tests/data/metrics/simuleval
check "files per head and across heads" "$PYTHON" - "$WORK/np1" $N $SIMULEVAL_DATA <<'PY'
import csv, json, os, sys
import xml.etree.ElementTree as ET
out, n, sim = sys.argv[1], int(sys.argv[2]), sys.argv[3]
dirs = ["waitk_2", "entropy_3.5", "maxprob_0.3_min-lag=2", "offline"]
keys = ["index", "prediction", "delays", "elapsed", "prediction_length", "reference", "source", "source_length",
        "end_reason"]
for d in dirs:
    lines = [json.loads(l) for l in open(f"{out}/{d}/instances.log")]
    assert len(lines) == n, (d, len(lines))
    for i, o in enumerate(lines):
        assert list(o) == keys, list(o)
        assert o["index"] == i and o["source_length"] == len(o["source"].split())
        assert o["prediction_length"] == len(o["prediction"].split()) == len(o["delays"]) == len(o["elapsed"])
        assert all(isinstance(x, int) and 1 <= x <= o["source_length"] for x in o["delays"]), o["delays"]
        assert o["delays"] == sorted(o["delays"])
        # SimulEval's computation-aware clock in source words: the delay plus the computing time so far
        assert all(e >= x for e, x in zip(o["elapsed"], o["delays"])), o
        assert [e - x for e, x in zip(o["elapsed"], o["delays"])] == sorted(e - x for e, x in zip(o["elapsed"], o["delays"]))
        assert o["end_reason"] in ("finished", "length_limit"), o
    # SimulEval's own scores.tsv header with --computation-aware, and its config.yaml
    assert open(f"{out}/{d}/scores.tsv").readline() == open(f"{sim}/eval-word/scores-ca.simuleval.tsv").readline()
    assert open(f"{out}/{d}/config.yaml").read() == open(f"{sim}/eval-word/config.yaml").read()
rows = list(csv.DictReader(open(f"{out}/curve.csv")))
assert [r["dir"] for r in rows] == dirs, rows
assert [r["head"] for r in rows] == ["waitk:2", "entropy:3.5", "maxprob:0.3/min-lag=2", "offline"]
svg = ET.parse(f"{out}/curve.svg").getroot()
text = " ".join(t.text or "" for t in svg.iter() if t.tag.endswith("text"))
for word in ["BLEU", "LAAL", "waitk", "entropy", "maxprob", "offline"]:
    assert word in text, (word, text)
table = open(f"{out}/summary.txt").read()
assert all(h in table for h in ["waitk:2", "offline", "LAAL"]), table
PY

# --- 1 rank and 3 ranks give the same words, delays and scores (elapsed times are wall-clock)
check "1 and 3 ranks: identical instances and scores" "$PYTHON" - "$WORK/np1" "$WORK/np3" <<'PY'
import csv, json, sys
a, b = sys.argv[1], sys.argv[2]
ra, rb = list(csv.DictReader(open(f"{a}/curve.csv"))), list(csv.DictReader(open(f"{b}/curve.csv")))
assert len(ra) == len(rb) == 4
for x, y in zip(ra, rb):
    for k in ["head", "BLEU", "chrF", "AL", "LAAL", "AP", "DAL", "ATD", "n", "n_no_output", "latency_unit"]:
        assert x[k] == y[k], (k, x[k], y[k])
    la = [json.loads(l) for l in open(f"{a}/{x['dir']}/instances.log")]
    lb = [json.loads(l) for l in open(f"{b}/{x['dir']}/instances.log")]
    for p, q in zip(la, lb):
        p.pop("elapsed"), q.pop("elapsed")
        assert p == q, (p, q)
    assert len(la) == len(lb)
PY

# sampling: each sentence is seeded by its number, so the ranks that run it do not matter
for np in 1 3; do
  timeout 300 mpirun -np $np --oversubscribe "$PROACT" eval --model "$MODEL" --data "$DATA" --limit 6 --heads waitk:2 \
    --temperature 1.5 --seed 9 -o "$WORK/sample$np" >/dev/null 2>&1
done
check "sampled output: the same on 1 and 3 ranks" "$PYTHON" - "$WORK/sample1" "$WORK/sample3" "$WORK/np1" <<'PY'
import json, sys
a, b, greedy = ([json.loads(l) for l in open(f"{d}/waitk_2/instances.log")] for d in sys.argv[1:4])
assert len(a) == len(b) == 6
for p, q in zip(a, b):
    p.pop("elapsed"), q.pop("elapsed")
    assert p == q, (p, q)
assert [p["prediction"] for p in a] != [g["prediction"] for g in greedy[:6]], "sampling changed nothing"
PY

# --- the scores are what an independent implementation of SimulEval's formulas and proact score say
check "LAAL/AL/AP/DAL recomputed from instances.log; proact score --instances agrees" "$PYTHON" - "$WORK/np1" "$PROACT" <<'PY'
import json, subprocess, sys
out, proact = sys.argv[1], sys.argv[2]
def al(d, X, Y, laal):
    if d[0] > X: return d[0]
    if laal: Y = max(Y, len(d))
    s, tau = 0.0, 0
    for i, x in enumerate(d):
        s += x - i * X / Y; tau = i + 1
        if x >= X: break
    return s / tau
def dal(d, X):
    Y = len(d); g = []
    for i, x in enumerate(d):
        g.append(x if i == 0 else max(x, g[-1] + X / Y))
    return sum(gi - i * X / Y for i, gi in enumerate(g)) / Y
for d in ["waitk_2", "entropy_3.5", "offline"]:
    ins = [json.loads(l) for l in open(f"{out}/{d}/instances.log")]
    ins = [o for o in ins if o["delays"]]
    mean = lambda f: sum(f(o) for o in ins) / len(ins)
    ref = lambda o: len(o["reference"].split(" "))  # SimulEval's count of reference words
    mine = {"AL": mean(lambda o: al(o["delays"], o["source_length"], ref(o), False)),
            "LAAL": mean(lambda o: al(o["delays"], o["source_length"], ref(o), True)),
            "AP": mean(lambda o: sum(o["delays"]) / (o["source_length"] * ref(o))),
            "DAL": mean(lambda o: dal(o["delays"], o["source_length"]))}
    head, vals = [l.rstrip("\n").split("\t") for l in open(f"{out}/{d}/scores.tsv")]
    tsv = dict(zip(head, map(float, vals)))
    for k, v in mine.items():
        assert tsv[k] == round(v, 3), (d, k, tsv[k], v)
    js = json.loads(subprocess.run([proact, "score", "--instances", f"{out}/{d}/instances.log", "--json"],
                                   check=True, capture_output=True, text=True).stdout)
    for k in ["BLEU", "AL", "LAAL", "AP", "DAL"]:
        assert round(js[k], 3) == tsv[k], (d, k, js[k], tsv[k])
PY

check "waitk:2 follows min(2 + j - 1, n); offline reads everything first" "$PYTHON" - "$WORK/np1" <<'PY'
import json, sys
for l in open(f"{sys.argv[1]}/waitk_2/instances.log"):
    o = json.loads(l)
    assert o["delays"] == [min(2 + j, o["source_length"]) for j in range(len(o["delays"]))], o
for l in open(f"{sys.argv[1]}/offline/instances.log"):
    o = json.loads(l)
    assert o["delays"] == [o["source_length"]] * len(o["delays"]), o
for l in open(f"{sys.argv[1]}/maxprob_0.3_min-lag=2/instances.log"):
    o = json.loads(l)
    assert all(d >= min(2 + j, o["source_length"]) for j, d in enumerate(o["delays"])), o
PY

# the predictions are what proact run writes for the same sentences and head
head -$N "$DATA" | cut -f1 >"$WORK/src.txt"
"$PROACT" run --model "$MODEL" --head entropy:3.5 <"$WORK/src.txt" 2>/dev/null | grep '"sentence"' >"$WORK/run.jsonl"
check "predictions, delays and end reasons equal proact run's" "$PYTHON" - "$WORK/run.jsonl" "$WORK/np1/entropy_3.5/instances.log" <<'PY'
import json, sys
run = [json.loads(l) for l in open(sys.argv[1])]
ev = [json.loads(l) for l in open(sys.argv[2])]
assert len(run) == len(ev)
for r, e in zip(run, ev):
    assert (r["prediction"], r["delays"]) == (e["prediction"], e["delays"]), (r, e)
    assert e["end_reason"] == ("length_limit" if r.get("limit") else "finished"), (r.get("limit"), e["end_reason"])
PY

# --- the real SimulEval scored these files: tests/data/metrics/simuleval holds one head of this eval,
# as proact wrote it and as SimulEval 1.1.4's `simuleval --score-only` scored it (generate.py). The same
# eval again writes the same sentences and, without a clock (--word-ms 0), byte for byte the scores.tsv
# SimulEval wrote; its printed table has the same numbers.
for unit in word char; do
  "$PROACT" eval --model "$MODEL" --data "$DATA" --limit 8 --heads waitk:3 --word-ms 0 --latency-unit $unit \
    -o "$WORK/simuleval_$unit" >/dev/null 2>&1
  check "--latency-unit $unit: SimulEval's scores.tsv and config.yaml, the stored instances" "$PYTHON" - \
    "$WORK/simuleval_$unit/waitk_3" "$SIMULEVAL_DATA/eval-$unit" <<'PY'
import json, sys
new, sim = sys.argv[1], sys.argv[2]
a = [json.loads(l) for l in open(f"{new}/instances.log")]
b = [json.loads(l) for l in open(f"{sim}/instances.log")]
assert len(a) == len(b) == 8
for p, q in zip(a, b):
    assert p.pop("elapsed") == [] and q.pop("elapsed"), (p, q)  # no clock now; SimulEval's run had one
    assert p == q, (p, q)
    assert len(p["delays"]) == (len(p["prediction"].replace(" ", "")) if "char" in sim else len(p["prediction"].split(" ")))
mine = open(f"{new}/scores.tsv").read()
assert mine == open(f"{sim}/scores.simuleval.tsv").read(), mine
assert open(f"{new}/config.yaml").read() == open(f"{sim}/config.yaml").read()
printed = open(f"{sim}/simuleval-score-only.txt").read().split("\n")
header, values = printed[0].split(), printed[1].split()[1:]  # pandas prints the row number first
assert mine.split("\n")[0].split("\t") == header and mine.split("\n")[1].split("\t") == values, (mine, printed)
PY
done

check "the table is printed on stdout once (rank 0)" test "$(grep -c '^waitk:2 ' "$WORK/np3.stdout")" -eq 1

# a progress bar on a terminal (script gives the command one), none in a log
script -qec "$PROACT eval --model $MODEL --data $DATA --limit 3 --heads waitk:1 -o $WORK/tty" /dev/null >"$WORK/tty.out" 2>&1 || true
check "progress bar on a terminal" grep -q 'head 1/1 waitk:1.*\[#*\] 3/3 sentences' "$WORK/tty.out"
check "no progress bar in a log" bash -c "! grep -q '\[#' '$WORK/np1.stderr'"

# --word-ms 0: no clock, no computation-aware columns
"$PROACT" eval --model "$MODEL" --data "$DATA" --limit 3 --heads waitk:1 --word-ms 0 -o "$WORK/w0" >/dev/null 2>&1
check "--word-ms 0: no *_CA scores" bash -c "! grep -q LAAL_CA '$WORK/w0/waitk_1/scores.tsv'"

# --ca-clock realtime: a clock that waits for the speaker (400 ms/word) and runs while computing; in
# source words it is never before the word was spoken, and never goes backwards
"$PROACT" eval --model "$MODEL" --data "$DATA" --limit 3 --heads waitk:1 --ca-clock realtime -o "$WORK/rt" >/dev/null 2>&1
check "--ca-clock realtime: elapsed on a real-time clock" "$PYTHON" - "$WORK/rt/waitk_1/instances.log" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert all(e >= x for e, x in zip(o["elapsed"], o["delays"])) and o["elapsed"] == sorted(o["elapsed"]), o
PY

# --- errors: one clear line, every rank the same, no hang
E=(--model "$MODEL" --data "$DATA" --limit 2 -o "$WORK/err")
expect_fail "unknown head" "nonsense:1" "$PROACT" eval "${E[@]}" --heads waitk:1,nonsense:1
expect_fail "probe head without a probe" "needs a probe" "$PROACT" eval "${E[@]}" --heads probe:0.5
expect_fail "the same head twice" "given twice" "$PROACT" eval "${E[@]}" --heads waitk:1,waitk:1
expect_fail "missing test set" "nope.tsv" "$PROACT" eval --model "$MODEL" --data "$WORK/nope.tsv" --heads waitk:1 -o "$WORK/err"
expect_fail "missing model" "config.json" "$PROACT" eval --model "$WORK/none" --data "$DATA" --heads waitk:1 -o "$WORK/err"
expect_fail "bad --word-ms" "--word-ms" "$PROACT" eval "${E[@]}" --heads waitk:1 --word-ms -3
expect_fail "bad --tokenize" "zz" "$PROACT" eval "${E[@]}" --heads waitk:1 --tokenize zz
expect_fail "bad --latency-unit" "latency unit 'spm': expected word or char" \
  "$PROACT" eval "${E[@]}" --heads waitk:1 --latency-unit spm
expect_fail "bad --ca-clock" "--ca-clock: expected simuleval or realtime" "$PROACT" eval "${E[@]}" --heads waitk:1 --ca-clock wall
expect_fail "3 ranks, bad head: all ranks stop with one error" "nonsense:1" \
  timeout 120 mpirun -np 3 --oversubscribe "$PROACT" eval "${E[@]}" --heads nonsense:1
touch "$WORK/file"
expect_fail "output is a file" "$WORK/file" "$PROACT" eval --model "$MODEL" --data "$DATA" --limit 2 --heads waitk:1 -o "$WORK/file"

# --- --merge: one evaluation per head (as a Slurm array runs them), merged, is one evaluation of both
eval_to() { # eval_to OUT HEADS: 4 sentences, run plainly (no mpirun)
  "$PROACT" eval --model "$MODEL" --data "$DATA" --limit 4 --heads "$2" -o "$1" >/dev/null 2>"$1.stderr" ||
    { cat "$1.stderr"; return 1; }
}
# a merge never starts MPI, so under the sanitizer every leak is ours: look for them
MERGE=(env "ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=1" "$PROACT" eval --merge)
merge_to() { # merge_to OUT [--model DIR] PART...: stdout into OUT.stdout
  local out="$1"; shift
  "${MERGE[@]}" -o "$out" "$@" >"$out.stdout" 2>"$out.stderr" || { cat "$out.stderr"; return 1; }
}
check "eval waitk:2,entropy:3.5 at once" eval_to "$WORK/both" waitk:2,entropy:3.5
check "eval waitk:2, entropy:3.5 and offline one at a time" \
  bash -c "$(declare -f eval_to); PROACT='$PROACT' MODEL='$MODEL' DATA='$DATA'
           eval_to '$WORK/pa' waitk:2 && eval_to '$WORK/pb' entropy:3.5 && eval_to '$WORK/pc' offline"
check "merge the one-head parts (plainly, no mpirun)" merge_to "$WORK/merged" --model "$MODEL" "$WORK/pa" "$WORK/pb"
check "merged: curve.csv, per-head files, summary, plot and table as one evaluation's" \
  "$PYTHON" - "$WORK/both" "$WORK/merged" "$WORK/pa" "$WORK/pb" "$(basename "$MODEL")" <<'PY'
import csv, filecmp, sys
import xml.etree.ElementTree as ET
both, merged, pa, pb, model = sys.argv[1:6]
header = open(f"{merged}/curve.csv").readline().rstrip("\n")
assert header == open(f"{both}/curve.csv").readline().rstrip("\n") and header.endswith(",signature"), header
# ms_per_word and the *_CA latencies are wall-clock: the rest must be equal
cols = ["head", "kind", "dir", "BLEU", "chrF", "AL", "LAAL", "AP", "DAL", "n", "n_no_output", "signature"]
ra, rm = list(csv.DictReader(open(f"{both}/curve.csv"))), list(csv.DictReader(open(f"{merged}/curve.csv")))
assert [[r[k] for k in cols] for r in ra] == [[r[k] for k in cols] for r in rm], (ra, rm)
assert [r["dir"] for r in rm] == ["waitk_2", "entropy_3.5"] and rm[0]["n"] == "4", rm
# and every field, timings included, is the part's as it was read
assert open(f"{merged}/curve.csv").readlines()[1:] == open(f"{pa}/curve.csv").readlines()[1:] + \
    open(f"{pb}/curve.csv").readlines()[1:]
assert rm[0]["signature"].startswith("nrefs:1|") and "tok:13a" in rm[0]["signature"], rm[0]
for part, d in [(pa, "waitk_2"), (pb, "entropy_3.5")]:
    for f in ["instances.log", "scores.tsv", "config.yaml"]:
        assert filecmp.cmp(f"{part}/{d}/{f}", f"{merged}/{d}/{f}", shallow=False), (d, f)
svg = ET.parse(f"{merged}/curve.svg").getroot()
text = [t.text or "" for t in svg.iter() if t.tag.endswith("text")]
assert "waitk" in text and "entropy" in text, text
assert f"Latency-quality: {model}, 4 sentences" in text, text
table = open(f"{merged}/summary.txt").read()
out = open(f"{merged}.stdout").read()
assert out.startswith(table) and "\nwaitk:2 " in table and "\nentropy:3.5 " in table, (out, table)
assert f"\n(4 sentences; BLEU {rm[0]['signature']};" in out and f"\nwrote {merged}/" in out, out
PY
check "merge a part of two heads and one of one, without --model" merge_to "$WORK/merged3" "$WORK/both" "$WORK/pc"
check "... three rows in order" \
  test "$(cut -d, -f1 "$WORK/merged3/curve.csv" | tr '\n' ' ')" = "head waitk:2 entropy:3.5 offline "
check "... the plot's title without a model" grep -q '>Latency-quality: 4 sentences<' "$WORK/merged3/curve.svg"
check "merge one part (--word-ms 0: no *_CA) into a copy" merge_to "$WORK/w0m" "$WORK/w0"
check "... with the same curve.csv and summary.txt, byte for byte" \
  bash -c "cmp '$WORK/w0/curve.csv' '$WORK/w0m/curve.csv' && cmp '$WORK/w0/summary.txt' '$WORK/w0m/summary.txt'"
# --- an output that is one of the parts is refused, however it is spelled, and the part stays as it was
cp -r "$WORK/pa" "$WORK/self"
ln -s self "$WORK/selflink"
sums() { (cd "$1" && find . -type f | sort | xargs md5sum); }
sums "$WORK/self" >"$WORK/self.before"
in_work() { (cd "$WORK" && "$@"); } # relative paths, as a user types them
expect_fail "merge: -o A A B refused" "$WORK/self: the output directory is the part $WORK/self" \
  "${MERGE[@]}" -o "$WORK/self" "$WORK/self" "$WORK/pb"
expect_fail "merge: -o ./A/ A B refused" "./self/: the output directory is the part self" \
  in_work "${MERGE[@]}" -o ./self/ self pb
expect_fail "merge: -o B A (B a link to A) refused" "selflink: the output directory is the part self" \
  in_work "${MERGE[@]}" -o selflink pb self
check "... the part is left as it was (checksums)" bash -c "cmp '$WORK/self.before' <(cd '$WORK/self' && find . -type f | sort | xargs md5sum)"

merge_fails() { # merge_fails "what" "error substring" PART...: one error line, and no OUT/curve.csv
  local what="$1" needle="$2"; shift 2
  expect_fail "merge: $what" "$needle" "${MERGE[@]}" -o "$WORK/bad" "$@"
  check "merge: $what: nothing written" test ! -e "$WORK/bad"
}
mkdir "$WORK/nocurve"
for p in header number nolog; do cp -r "$WORK/pb" "$WORK/$p"; done
sed -i '1s/,LAAL,/,LAAX,/' "$WORK/header/curve.csv"
awk -F, -v OFS=, 'NR == 2 { $7 = "1.2.3" } 1' "$WORK/pb/curve.csv" >"$WORK/number/curve.csv" # $7: LAAL
rm "$WORK/nolog/entropy_3.5/instances.log"
merge_fails "a head twice" "$WORK/pa/curve.csv:2: head 'waitk:2' comes twice: also in $WORK/pa/curve.csv:2" \
  "$WORK/pa" "$WORK/pb" "$WORK/pa"
merge_fails "a part of other sentences (--limit 3)" \
  "$WORK/w0/curve.csv:2: head 'waitk:1' scored 3 sentences, but $WORK/pa/curve.csv:2 scored 4" "$WORK/pa" "$WORK/w0"
merge_fails "a part without curve.csv" "$WORK/nocurve/curve.csv" "$WORK/pa" "$WORK/nocurve"
merge_fails "a corrupted header" "$WORK/header/curve.csv:1: not a proact eval curve" "$WORK/pa" "$WORK/header"
merge_fails "a row with a bad number" "$WORK/number/curve.csv:2: column 'LAAL' is not a number: '1.2.3'" \
  "$WORK/pa" "$WORK/number"
merge_fails "a missing per-head file" "$WORK/nolog/entropy_3.5/instances.log" "$WORK/pa" "$WORK/nolog"
merge_fails "an option of the evaluation" "--limit does not apply" --limit 3 "$WORK/pa"

# --- each head's instances.log and scores.tsv are read and scored again: what a killed or edited task leaves
L=entropy_3.5/instances.log S=entropy_3.5/scores.tsv
for p in empty trunc garbage fewer tsvbad curvebad edited othersent; do cp -r "$WORK/pb" "$WORK/$p"; done
: >"$WORK/empty/$L"
head -c -25 "$WORK/pb/$L" >"$WORK/trunc/$L"                  # the last line cut mid-JSON
printf 'PK\003\004\377\376\000\001 not a log\n' >"$WORK/garbage/$L"
head -n 3 "$WORK/pb/$L" >"$WORK/fewer/$L"                     # whole lines, one sentence short
awk -F'\t' -v OFS='\t' 'NR == 2 { $2 += 0.5 } 1' "$WORK/pb/$S" >"$WORK/tsvbad/$S" # $2: LAAL
awk -F, -v OFS=, 'NR == 2 { $4 += 1 } 1' "$WORK/pb/curve.csv" >"$WORK/curvebad/curve.csv" # $4: BLEU
"$PYTHON" - "$WORK/pb/$L" "$WORK/edited/$L" "$WORK/othersent/$L" <<'PY'
import json, sys
src, edited, other = sys.argv[1:4]
lines = [json.loads(l) for l in open(src)]
def write(path, objs):
    with open(path, "w") as f:
        f.writelines(json.dumps(o) + "\n" for o in objs)
# valid JSON, other delays: instances.log no longer gives the scores of scores.tsv and curve.csv
e = [dict(o) for o in lines]
e[0]["delays"] = [e[0]["source_length"]] * len(e[0]["delays"])
e[1]["delays"] = [1] * len(e[1]["delays"])
write(edited, e)
o = [dict(x) for x in lines]
o[1]["reference"] += " extra"
write(other, o)
PY
merge_fails "an empty instances.log" "$WORK/empty/$L: no instances" "$WORK/pa" "$WORK/empty"
merge_fails "an instances.log cut mid-line" "$WORK/trunc/$L:4: not valid JSON" "$WORK/pa" "$WORK/trunc"
merge_fails "an instances.log of garbage bytes" "$WORK/garbage/$L:1: not valid JSON" "$WORK/pa" "$WORK/garbage"
merge_fails "an instances.log with fewer sentences than curve.csv" \
  "$WORK/fewer/$L: 3 sentences, but $WORK/fewer/curve.csv:2 has n = 4" "$WORK/pa" "$WORK/fewer"
merge_fails "a scores.tsv that disagrees with the instances" \
  "$WORK/tsvbad/$S:2: column 'LAAL' is" "$WORK/pa" "$WORK/tsvbad"
merge_fails "a curve.csv row that disagrees with the instances" \
  "$WORK/curvebad/curve.csv:2: column 'BLEU' is" "$WORK/pa" "$WORK/curvebad"
merge_fails "an instances.log edited (valid JSON, other delays)" "$WORK/edited/$S:2: column 'AL' is" \
  "$WORK/pa" "$WORK/edited"
merge_fails "a part with other sentences (a reference differs)" \
  "$WORK/othersent/$L: sentence 2: field 'reference' differs from $WORK/pa/waitk_2/instances.log's" \
  "$WORK/pa" "$WORK/othersent"
merge_fails "... also when the bad part comes first" "$WORK/empty/$L: no instances" "$WORK/empty" "$WORK/pa"
finish
