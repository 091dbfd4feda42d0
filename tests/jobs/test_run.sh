# proact run: source words from stdin, one JSON line per target word as soon as it is decided.
# Uses the tiny trained model of make_stream_model.sh (PROACT_STREAM_MODEL).
source "$(dirname "$0")/lib.sh"
MODEL="${PROACT_STREAM_MODEL:?PROACT_STREAM_MODEL must name the streaming test model}"
# (head first: under pipefail, cut could die of SIGPIPE when head stops reading)
head -5 tests/data/fixture/john.en-es.test.tsv | cut -f1 >"$WORK/src.txt"

run() { # run HEAD [extra args] < input > output
  local head="$1"; shift
  "$PROACT" run --model "$MODEL" --head "$head" "$@" 2>>"$WORK/stderr"
}

run waitk:2 <"$WORK/src.txt" >"$WORK/waitk2.jsonl"
check "waitk:2: delays follow min(2 + j - 1, n), summaries match the word lines" "$PYTHON" - "$WORK/waitk2.jsonl" "$WORK/src.txt" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sources = [l.split() for l in open(sys.argv[2])]
words, sentence = [], 0
for obj in lines:
    if "word" in obj:
        words.append(obj)
        continue
    assert obj["sentence"] == sentence, obj
    n = len(sources[sentence])
    assert obj["source_length"] == n and obj["source"] == " ".join(sources[sentence])
    assert obj["prediction"] == " ".join(w["word"] for w in words), (obj["prediction"], words)
    assert obj["delays"] == [w["delay"] for w in words]
    assert obj["prediction_length"] == len(words) > 0
    for j, w in enumerate(words, 1):
        assert w["delay"] == min(2 + j - 1, n), (j, w, n)
        assert w["word"] and not any(c.isspace() for c in w["word"]), w
    el = [w["elapsed_ms"] for w in words]
    assert el == sorted(el) and el[0] >= 0
    words, sentence = [], sentence + 1
assert sentence == len(sources), sentence
PY

run offline <"$WORK/src.txt" >"$WORK/offline.jsonl"
check "offline delays are all n" "$PYTHON" - "$WORK/offline.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if "sentence" in o:
        assert o["delays"] == [o["source_length"]] * o["prediction_length"], o
PY
# entropy:0 never writes before the end of the source, so it must say exactly what offline says
run entropy:0 <"$WORK/src.txt" | grep '"sentence"' >"$WORK/entropy0.sum"
grep '"sentence"' "$WORK/offline.jsonl" | sed 's/"elapsed_ms":[0-9.e+-]*//; s/"elapsed":\[[^]]*\]//' >"$WORK/a"
sed 's/"elapsed_ms":[0-9.e+-]*//; s/"elapsed":\[[^]]*\]//' "$WORK/entropy0.sum" >"$WORK/b"
check "entropy:0 equals offline" cmp "$WORK/a" "$WORK/b"

# --trace: every decision with its cues; one WRITE per word (+ the end of the output)
head -2 "$WORK/src.txt" | run entropy:2.5 --trace >"$WORK/trace.jsonl"
check "trace: cues are sane and WRITEs match the words" "$PYTHON" - "$WORK/trace.jsonl" <<'PY'
import json, sys, math
dec = writes = words = reads = 0
for l in open(sys.argv[1]):
    o = json.loads(l)
    if "decision" in o:
        dec += 1
        assert 0 <= o["entropy"] <= math.log(1024) + 1e-4 and 0 < o["maxprob"] <= 1 and 0 <= o["attn_front"] <= 1 + 1e-6, o
        if o["decision"] == "WRITE":
            writes += o["reason"] != "end of output"
            # entropy:2.5 writes on its own only when H <= 2.5
            if o["reason"] == "head":
                assert o["entropy"] <= 2.5, o
        else:
            reads += 1
            if o["reason"] == "head":
                assert o["entropy"] > 2.5, o
    elif "word" in o:
        words += 1
assert writes == words and reads > 0 and dec > words, (writes, words, reads, dec)
PY

# Streaming for real: words arrive one by one; the first target word comes out before the input ends,
# and the output equals the all-at-once run.
check "words arriving one at a time are answered before the sentence ends" "$PYTHON" - "$PROACT" "$MODEL" "$WORK/src.txt" "$WORK/waitk2.jsonl" <<'PY'
import json, select, subprocess, sys
proact, model, src, ref = sys.argv[1:5]
p = subprocess.Popen([proact, "run", "--model", model, "--head", "waitk:2"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
words = open(src).readline().split()
first_seen, out = None, []
for i, w in enumerate(words):  # one word at a time; after each, wait briefly for an answer
    p.stdin.write(w + " ")
    p.stdin.flush()
    if first_seen is None and select.select([p.stdout], [], [], 0.5)[0]:
        first_seen = i + 1
        out.append(json.loads(p.stdout.readline()))
p.stdin.write("\n")
p.stdin.close()
out += [json.loads(l) for l in p.stdout]
p.wait(timeout=60)
# wait-2 writes its first word right after the second source word, long before the sentence ends
assert first_seen == 2 < len(words), (first_seen, len(words))
ref_lines = [json.loads(l) for l in open(ref)]
ref_summary = next(o for o in ref_lines if "sentence" in o)
summary = next(o for o in out if "sentence" in o)
assert summary["prediction"] == ref_summary["prediction"] and summary["delays"] == ref_summary["delays"]
PY

# A probe from proact.json: a hand-made probe that always says READ equals offline; one that always
# says WRITE writes its first word after the first source word.
cp -r "$MODEL" "$WORK/probe_model"
"$PYTHON" - "$WORK/probe_model/proact.json" "$MODEL/config.json" <<'PY'
import json, sys
pj, cfg = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
dim = cfg["hidden_size"] + 5
pj["probe"] = {"features": "hidden,entropy,maxprob,attn_front,words_read,lag", "attn_window": 4, "bias": -30.0,
               "weights": [0.0] * dim, "mean": [0.0] * dim, "scale": [1.0] * dim}
json.dump(pj, open(sys.argv[1], "w"))
PY
"$PROACT" run --model "$WORK/probe_model" --head probe:0.5 <"$WORK/src.txt" 2>>"$WORK/stderr" | grep '"sentence"' \
  | sed 's/"elapsed_ms":[0-9.e+-]*//; s/"elapsed":\[[^]]*\]//' >"$WORK/c"
check "probe:0.5 with a never-write probe equals offline" cmp "$WORK/a" "$WORK/c"
sed -i 's/"bias": -30.0/"bias": 30.0/' "$WORK/probe_model/proact.json"
check "probe:0.5 with an always-write probe writes after one source word" sh -c \
  "head -1 '$WORK/src.txt' | '$PROACT' run --model '$WORK/probe_model' --head probe:0.5 2>/dev/null | head -1 | grep -q '\"delay\":1,'"

# Bad input: one clear error line, non-zero exit
expect_fail "unknown head" "unknown decision head 'bogus:1'" "$PROACT" run --model "$MODEL" --head bogus:1 </dev/null
expect_fail "bad head argument" "waitk:K (K >= 1)" "$PROACT" run --model "$MODEL" --head waitk:0 </dev/null
expect_fail "probe head without a probe" "needs a probe" "$PROACT" run --model "$MODEL" --head probe:0.5 </dev/null
expect_fail "missing model directory" "$WORK/nope" "$PROACT" run --model "$WORK/nope" --head waitk:1 </dev/null
mkdir -p "$WORK/noproact" && cp "$MODEL"/{config.json,model.safetensors,tokenizer.json} "$WORK/noproact/"
expect_fail "model without proact.json" "proact.json" "$PROACT" run --model "$WORK/noproact" </dev/null
cp -r "$MODEL" "$WORK/badproact" && echo '{"template_tokens": {"prompt": [1], "src_end": [2], "tgt_begin": [3], "tgt_end": [99999]}}' >"$WORK/badproact/proact.json"
expect_fail "template token outside the vocabulary" "template_tokens.tgt_end[0]" "$PROACT" run --model "$WORK/badproact" </dev/null
expect_fail "bad attention layer" "attention cue layer 7" "$PROACT" run --model "$MODEL" --head entropy:1 --attn-layers 7 </dev/null
# invalid UTF-8 on stdin is read as U+FFFD, not a crash, and the JSON stays valid
printf 'In the \xff\xfe beginning\n' | run waitk:1 >"$WORK/utf8.jsonl"
check "invalid UTF-8 input gives valid JSON" "$PYTHON" -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$WORK/utf8.jsonl"

# --weights bf16|int8 and --kv-cache bf16 (docs/serving.md): on this trained model the greedy
# output must be identical to fp32's, word for word with the same delays, for every one of the
# five sentences and two heads. (The tiny model's output is repetitive, so its next tokens lead by
# wide margins; per-step agreement on models with small margins is in tests/stream/test_decode.c.)
for head in waitk:2 offline; do
  run "$head" <"$WORK/src.txt" | grep '"sentence"' | sed 's/"elapsed_ms":[0-9.e+-]*//; s/"elapsed":\[[^]]*\]//' >"$WORK/p_fp32"
  for opts in "--weights bf16" "--weights int8" "--weights bf16 --kv-cache bf16" "--weights int8 --kv-cache bf16"; do
    # shellcheck disable=SC2086
    run "$head" $opts <"$WORK/src.txt" | grep '"sentence"' | sed 's/"elapsed_ms":[0-9.e+-]*//; s/"elapsed":\[[^]]*\]//' >"$WORK/p_q"
    check "$head $opts: the same words and delays as fp32" cmp "$WORK/p_fp32" "$WORK/p_q"
  done
done
check "the summaries compared are the five sentences" test "$(wc -l <"$WORK/p_fp32")" -eq 5
expect_fail "bad --weights" "expected fp32, bf16 or int8" "$PROACT" run --model "$MODEL" --weights fp16 </dev/null
finish
