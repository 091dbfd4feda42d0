# proact export --format onnx against onnxruntime itself (npm onnxruntime-node 1.30.0: its prebuilt
# Linux x64 CPU binary, run by tests/node/onnx_decoder.mjs, offline).
# Three models, as test_gguf.sh: the tiny Qwen2 (tied, q/k/v biases, GQA) and a Llama variant
# (untied, head_dim x heads != d, RoPE theta 500000, GQA), both trained 150 steps on the fixture so
# that every tensor matters, and a random Llama (init_std 0.2) exported from a model directory
# (--model), also with its weights in onnx/model.onnx_data (--onnx-data external, ONNX external
# data). For each, on a fixture prompt:
#   - the graph's inputs and outputs are Optimum's, in its order: input_ids, attention_mask,
#     position_ids, past_key_values.{i}.key/value; logits, present.{i}.key/value;
#   - onnxruntime runs the ids through the key/value cache (the first 8 ids with an empty past,
#     the next 5 at once with that past, then one per call) and its logits at every position equal
#     `proact forward`'s: max |z - z'| <= 1e-4 * max |z| (measured about 3e-7);
#   - a batch of 2 without past, row 1 left-padded by 3 (attention_mask 0), gives each row's real
#     positions the same logits (same bound): the mask hides padding;
#   - greedy decoding through the cache (16 tokens, one call each) equals `proact forward
#     --generate 16`, the logits of those calls equal proact's over prompt + continuation, and the
#     last present.0.key is [1, n_kv_heads, prompt + 15, head_dim].
source "$(dirname "$0")/lib.sh"
need_node_package onnxruntime-node
ORT="$SRC/tests/node/onnx_decoder.mjs"
FIX="$SRC/tests/data/fixture"
export_test_models
check "the trained qwen2's proact.json for the random llama" cp "$WORK/qwen2/proact.json" "$WORK/random/model/"

# compare NAME ORT_JSON PROACT_NPY PROACT_GREEDY N_LAYERS N_KV HEAD_DIM: the checks above
compare() {
  "$PYTHON" - "$@" <<'PY'
import json, sys
import numpy as np
name, js, npy, greedy, L, nkv, hd = sys.argv[1:]
L, nkv, hd = int(L), int(nkv), int(hd)
r = json.load(open(js))
z = np.load(npy).astype(np.float64)[:-1]  # prompt + greedy, but the last: no call feeds it
ok = True
def fail(msg):
    global ok
    print(f"{name}: FAIL: {msg}")
    ok = False
want_in = ["input_ids", "attention_mask", "position_ids"] + \
    [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
want_out = ["logits"] + [f"present.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
if r["inputs"] != want_in: fail(f"inputs {r['inputs']}, expected {want_in}")
if r["outputs"] != want_out: fail(f"outputs {r['outputs']}, expected {want_out}")
scale = np.abs(z).max()
def rel(a, b):
    a = np.array(a, dtype=np.float64)
    if a.shape != b.shape:
        fail(f"shape {a.shape}, expected {b.shape}")
        return float("inf")
    return np.abs(a - b).max() / scale
e_cache = rel(r["logits"], z)
pad = len(r["batch_row0"]) - len(r["batch_row1"])  # row 1: the first 8 - pad ids after pad pads
e_b0 = rel(r["batch_row0"], z[:len(r["batch_row0"])])
e_b1 = rel(r["batch_row1"], z[:len(r["batch_row1"])])
for what, e in (("cached run", e_cache), ("batch row 0", e_b0), (f"batch row 1 (left pad {pad})", e_b1)):
    if not e <= 1e-4: fail(f"{what}: logits relative error {e:.2e} > 1e-4")
g = [int(x) for x in greedy.split()]
if r["greedy"] != g: fail(f"greedy onnxruntime {r['greedy']}, proact {g}")
want_dims = [1, nkv, z.shape[0], hd]
if r["present_dims"] != want_dims: fail(f"present.0.key dims {r['present_dims']}, expected {want_dims}")
print(f"{name}: {z.shape[0]} positions in calls {r['calls'][:3]}..., logits relative error: cached {e_cache:.1e}, "
      f"batch {e_b0:.1e} / {e_b1:.1e} (max |z| {scale:.3g}); present.0.key {r['present_dims']}; greedy {g}")
sys.exit(0 if ok else 1)
PY
}

prompt='<src>In the beginning was the Word, and the Word was with God</src><tgt>'
ids=$(printf '%s\n' "$prompt" | "$PROACT" tokenize --tokenizer "$FIX/tokenizer.json" | tr ' ' ',')
for model in qwen2 llama random external; do
  case $model in
    random) src=(--model "$WORK/random/model"); exp=("$PROACT") ;;
    external) src=(--model "$WORK/random/model" --onnx-data external); exp=("$PROACT") ;;
    *) src=(--checkpoint "$WORK/$model"); exp=(proact_mpi) ;;
  esac
  out="$WORK/$model-onnx"
  check "$model: export --format onnx" "${exp[@]}" export "${src[@]}" --format onnx -o "$out"
  check "$model: onnx/model.onnx next to config.json" test -s "$out/onnx/model.onnx" -a -s "$out/config.json"
  if [ "$model" = external ]; then
    check "external: the weights in onnx/model.onnx_data, model.onnx without them" "$PYTHON" -c "import os, sys
d = sys.argv[1]; a, b = os.path.getsize(d + '/model.onnx'), os.path.getsize(d + '/model.onnx_data')
print(f'model.onnx {a} bytes, model.onnx_data {b} bytes'); sys.exit(0 if a < 65536 and b > 600000 else 1)" "$out/onnx"
  else
    check "$model: no model.onnx_data (inline)" test ! -e "$out/onnx/model.onnx_data"
  fi
  greedy=$("$PROACT" forward --model "$out" --ids "$ids" --generate 16 2>/dev/null)
  "$PROACT" forward --model "$out" --ids "$ids,$(echo "$greedy" | tr ' ' ',')" -o "$WORK/$model.npy" 2>/dev/null
  node "$ORT" "$out/onnx/model.onnx" --ids "$ids" --prefill 8 --chunk 5 --pad 3 --generate 16 \
    >"$WORK/$model.json" 2>"$WORK/$model.err" || cat "$WORK/$model.err"
  shape=$("$PYTHON" -c "import json,sys; c=json.load(open(sys.argv[1]))
print(c['num_hidden_layers'], c['num_key_value_heads'], c.get('head_dim', c['hidden_size'] // c['num_attention_heads']))" \
    "$out/config.json")
  # shellcheck disable=SC2086 # three numbers
  check "$model: onnxruntime against proact forward" compare "$model" "$WORK/$model.json" "$WORK/$model.npy" \
    "$greedy" $shape
done

# transformers.js (npm @huggingface/transformers 4.3.2, on the same onnxruntime-node) loads each
# exported directory: its tokenizer (AutoTokenizer, tokenizer_config.json) and the ONNX model
# (AutoModelForCausalLM). From the source text, apply_chat_template (the exported chat template)
# must give the runner's input for the sentence, built here as the runner builds it: the template's
# prompt, the source words tokenized one by one (all but the first with their leading space),
# src_end (the source block, positions 0 ..), then tgt_begin (the target block, positions phi ..),
# ids from proact.json. Then generate() must give proact forward's greedy ids, and tokenizer.decode
# proact's text of them.
src='In the beginning was the Word, and the Word was with God'
srcids=$(echo "$src" | tr ' ' '\n' | awk 'NR == 1 { print; next } { print " " $0 }' |
  "$PROACT" tokenize --tokenizer "$FIX/tokenizer.json" | tr '\n' ' ')
# compare_tjs NAME TJS_JSON FORWARD_GREEDY RUN_JSONL DECODED_GROUP TGT_END IDS FORWARD_TEXT: the checks below
compare_tjs() {
  "$PYTHON" - "$@" <<'PY'
import json, sys
name, js, forward, run, decoded, tgt_end, ids, forward_text = sys.argv[1:]
r = json.load(open(js))
ok = True
def fail(msg):
    global ok
    print(f"{name}: FAIL: {msg}")
    ok = False
want = [int(x) for x in ids.split(",")]
if r["ids"] != want: fail(f"the chat template and tokenizer give {r['ids']}, the runner {want}")
want_text = open(forward_text).read().rstrip("\n")
if r["text"] != want_text: fail(f"tokenizer.decode gives {r['text']!r}, proact tokenize --decode {want_text!r}")
f = [int(x) for x in forward.split()]
if r["generate"] != f: fail(f"generate() {r['generate']}, proact forward --generate {f}")
# proact run --head offline: its words against the words of the decoded group-position tokens; unless
# these reached tgt_end, their last word may be cut short and is left out
pred = [json.loads(l) for l in open(run) if '"prediction"' in l][0]["prediction"].split()
ended = int(tgt_end) in r["group"]
words = open(decoded).read().split()
words = words if ended else words[:-1]
if len(words) < 5: fail(f"only {len(words)} whole words to compare")
if (words != pred) if ended else (words != pred[:len(words)]):
    fail(f"group positions: {' '.join(words)!r}; proact run --head offline: {' '.join(pred)!r}")
print(f"{name}: apply_chat_template = the runner's {len(want)} ids; generate() = proact forward --generate: "
      f"{r['generate'][:8]}..., decoded {r['text'][:24]!r}...; with group positions "
      f"{len(words)} words = proact run --head offline's{' (all)' if ended else ''}: {' '.join(words[:6])!r}..."
      f"{'' if r['generate'] != r['group'] else ' (the two position layouts decode alike here)'}")
sys.exit(0 if ok else 1)
PY
}
for model in qwen2 llama random external; do
  out="$WORK/$model-onnx"
  read -r prompt src_end tgt_begin tgt_end phi < <("$PYTHON" -c "import json,sys; p=json.load(open(sys.argv[1]))
t=p['template_tokens']; j=lambda k: ','.join(map(str, t[k]))
print(j('prompt'), j('src_end'), j('tgt_begin'), j('tgt_end'), p['phi'])" "$out/proact.json")
  ids="$prompt,$(echo $srcids | tr ' ' ','),$src_end,$tgt_begin"
  source_len=$(($(echo "$prompt,$srcids,$src_end" | tr ', ' '\n\n' | grep -c .)))
  node "$SRC/tests/node/transformers_generate.mjs" "$out" --text "$src" --generate 24 --source "$source_len" \
    --phi "$phi" >"$WORK/$model-tjs.json" 2>"$WORK/$model-tjs.err" || cat "$WORK/$model-tjs.err"
  forward=$("$PROACT" forward --model "$out" --ids "$ids" --generate 24 2>/dev/null)
  echo "$forward" | "$PROACT" tokenize --tokenizer "$FIX/tokenizer.json" --decode >"$WORK/$model-forward.txt"
  echo "$src" | "$PROACT" run --model "$out" --head offline >"$WORK/$model-run.jsonl" 2>"$WORK/$model-run.err" ||
    cat "$WORK/$model-run.err"
  "$PYTHON" -c "import json,sys; print(' '.join(map(str, json.load(open(sys.argv[1]))['group'])))" "$WORK/$model-tjs.json" |
    "$PROACT" tokenize --tokenizer "$FIX/tokenizer.json" --decode >"$WORK/$model-group.txt"
  check "$model: transformers.js against proact forward and proact run" compare_tjs "$model" "$WORK/$model-tjs.json" \
    "$forward" "$WORK/$model-run.jsonl" "$WORK/$model-group.txt" "${tgt_end%%,*}" "$ids" "$WORK/$model-forward.txt"
done

# what is refused
expect_fail "an unknown --format" "expected hf, gguf or onnx" "$PROACT" export --model "$WORK/random/model" \
  --format tflite -o "$WORK/x"
expect_fail "--gguf-type with --format onnx" "--gguf-type needs --format gguf" \
  "$PROACT" export --model "$WORK/random/model" --format onnx --gguf-type q8_0 -o "$WORK/x"
expect_fail "--dtype bf16 with --format onnx" "--dtype bf16 does not go with --format onnx" \
  "$PROACT" export --model "$WORK/random/model" --format onnx --dtype bf16 -o "$WORK/x"
expect_fail "--onnx-data without --format onnx" "--onnx-data needs --format onnx" \
  "$PROACT" export --model "$WORK/random/model" --onnx-data external -o "$WORK/x"
check "nothing written for them" test ! -e "$WORK/x"
finish
