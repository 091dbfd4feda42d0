# proact export --format gguf against llama.cpp itself (npm node-llama-cpp 3.21.1: its prebuilt
# Linux x64 CPU binary, run by tests/node/llama_greedy.mjs, offline, never built from source).
# Three models: the tiny Qwen2 (tied, q/k/v biases, GQA) and a Llama variant (untied, head_dim x
# heads != d, RoPE theta 500000, GQA), both trained 150 steps on the fixture so that every tensor
# matters, and a random Llama (init_std 0.2, whose greedy output is not one repeated token) exported
# from a model directory (--model). Each as GGUF f32, bf16 and q8_0. The token ids are given to
# llama.cpp directly (its tokenizer is checked on its own, below). Compared with proact:
#   f32:  greedy decoding (16 tokens) equal token for token to `proact forward --generate 16`; at
#         every position of prompt + continuation the same argmax and the same next-token
#         distribution (max |p - p'| <= 1e-5; llama.cpp sums in another order, with an F32 KV cache).
#   bf16: against proact on the same bf16-rounded weights (the bf16 Hugging Face export). llama.cpp
#         also rounds the activations to bf16 inside each matrix product (ggml's vec_dot_bf16), which
#         proact does not, so the distributions differ more: max |p - p'| <= 0.01 and the argmax
#         agrees at >= 90% of positions (llama.cpp's greedy continuation, teacher-forced); measured
#         3e-3 and 97% on the random model, 1.5e-4 and 100% on the trained ones.
#   q8_0: against proact in f32 (proact cannot compute with Q8_0 weights; llama.cpp also quantizes
#         the activations to Q8_0): max |p - p'| <= 0.03, argmax agreement >= 85%; measured 1.2e-2
#         and 92% (3 of 39 positions, near-ties) on the random model, 5e-4 and 100% on the trained ones.
# A disagreement is allowed only at a near-tie: with max |p - p'| <= e, llama.cpp's token is within
# 2e of proact's top probability. Measured f32: max |p - p'| ~ 1e-7. Without the q/k row permutation
# the random llama's greedy output differs from its first token on (checked by hand).
# Then llama.cpp's tokenizer on the exported GGUF against `proact tokenize` on fixture sentences.
source "$(dirname "$0")/lib.sh"
need_node_package node-llama-cpp
LLAMA="$SRC/tests/node/llama_greedy.mjs"
FIX="$SRC/tests/data/fixture"
V=1024
export_test_models

# compare NAME LLAMA_JSON PROACT_NPY PROACT_GREEDY MODE: the measures above (MODE f32 | bf16 | q8_0)
compare() {
  "$PYTHON" - "$@" <<'PY'
import json, sys
import numpy as np
name, js, npy, greedy, mode = sys.argv[1:]
r = json.load(open(js))
z = np.load(npy).astype(np.float64)
p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
q = np.array(r["probs"], dtype=np.float64)
ours, theirs = p.argmax(1), np.array(r["argmax"])
if q.shape != p.shape:
    print(f"{name}: llama.cpp gave {q.shape} probabilities, proact {p.shape}"); sys.exit(1)
dp = np.abs(p - q).max()
agree = (ours == theirs).mean()
ok = True
if mode == "f32":
    g = [int(x) for x in greedy.split()]
    ok = g == r["greedy"] and (ours == theirs).all() and dp <= 1e-5
    print(f"{name}: greedy proact {g}\n{name}: greedy llama  {r['greedy']}")
else:
    ok = dp <= {"bf16": 0.01, "q8_0": 0.03}[mode] and agree >= {"bf16": 0.9, "q8_0": 0.85}[mode]
print(f"{name}: {len(ours)} positions, argmax agreement {agree:.3f}, max |p - p'| {dp:.2e}, "
      f"max p {p.max():.3f}")
sys.exit(0 if ok else 1)
PY
}

prompt='<src>In the beginning was the Word, and the Word was with God</src><tgt>'
for model in qwen2 llama random; do
  if [ "$model" = random ]; then src=(--model "$WORK/random/model"); dir="$WORK/random/model"; exp=("$PROACT")
  else src=(--checkpoint "$WORK/$model"); dir="$WORK/$model/model"; exp=(proact_mpi); fi
  ids=$(printf '%s\n' "$prompt" | "$PROACT" tokenize --tokenizer "$FIX/tokenizer.json" | tr ' ' ',')
  greedy=$("$PROACT" forward --model "$dir" --ids "$ids" --generate 16 2>/dev/null)
  "${exp[@]}" export "${src[@]}" -o "$WORK/$model-bf16-hf" --dtype bf16 >/dev/null
  for t in f32 bf16 q8_0; do
    g="$WORK/$model-$t.gguf"
    check "$model: export GGUF $t" "${exp[@]}" export "${src[@]}" --format gguf --gguf-type "$t" -o "$g"
    node "$LLAMA" "$g" --ids "$ids" --generate 16 --vocab $V >"$WORK/$model-$t.json" 2>"$WORK/$model-$t.err" ||
      cat "$WORK/$model-$t.err"
    seq=$("$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); print(','.join(map(str, [int(x) for x in sys.argv[2].split(',')] + r['greedy'])))" \
      "$WORK/$model-$t.json" "$ids")
    ref="$dir"; [ "$t" = bf16 ] && ref="$WORK/$model-bf16-hf"
    "$PROACT" forward --model "$ref" --ids "$seq" -o "$WORK/$model-$t.npy" 2>/dev/null
    check "$model $t: llama.cpp against proact" compare "$model $t" "$WORK/$model-$t.json" "$WORK/$model-$t.npy" \
      "$greedy" "$t"
  done
done

# llama.cpp's tokenizer (pre-tokenizer qwen2) on the GGUF against proact tokenize, line for line
{
  head -n 200 "$FIX/john.en-es.test.tsv" | cut -f1
  head -n 200 "$FIX/john.en-es.test.tsv" | cut -f2
  head -n 200 "$FIX/libreoffice.en-de.test.tsv" | cut -f1
  head -n 200 "$FIX/libreoffice.en-de.test.tsv" | cut -f2
  printf '%s\n' "I'LL say: don't, won't, it's 12345 and 3.14!" "  two  spaces,   three and a tab	here" \
    "¿Qué? ¡Sí! Straße, naïve café — “quotes” … 😀" "<src>tags</src><tgt>as text</tgt>"
} >"$WORK/lines.txt"
"$PROACT" tokenize --tokenizer "$FIX/tokenizer.json" <"$WORK/lines.txt" >"$WORK/lines.proact"
node "$LLAMA" "$WORK/qwen2-f32.gguf" --tokenize "$WORK/lines.txt" >"$WORK/lines.llama"
check "llama.cpp tokenizes $(wc -l <"$WORK/lines.txt") fixture lines as proact does" \
  diff "$WORK/lines.proact" "$WORK/lines.llama"

# --model with the Hugging Face format: the directory rewritten (f32 in, f32 out: the same tensors)
check "export --model DIR as a Hugging Face directory" "$PROACT" export --model "$WORK/qwen2/model" -o "$WORK/again"
check "it holds the same weights" cmp "$WORK/qwen2/model/model.safetensors" "$WORK/again/model.safetensors"
check "and the tokenizer" cmp "$WORK/qwen2/model/tokenizer.json" "$WORK/again/tokenizer.json"
expect_fail "--model onto itself" "names the --model directory itself" \
  "$PROACT" export --model "$WORK/qwen2/model" -o "$WORK/qwen2/model/"

# what does not travel or is refused
check "proact.json travels as the KV proact.json" grep -q '"template_tokens"' "$WORK/qwen2-f32.gguf"
expect_fail "--gguf-type without --format gguf" "--gguf-type needs --format gguf" \
  proact_mpi export --checkpoint "$WORK/qwen2" -o "$WORK/x" --gguf-type q8_0
expect_fail "--dtype with --format gguf" "--dtype is for --format hf" \
  proact_mpi export --checkpoint "$WORK/qwen2" -o "$WORK/x.gguf" --format gguf --dtype bf16
expect_fail "neither --checkpoint nor --model" "give one of --checkpoint and --model" \
  "$PROACT" export -o "$WORK/x.gguf" --format gguf
"$PYTHON" -c "import json; t = json.load(open('$FIX/tokenizer.json')); t['pre_tokenizer']['pretokenizers'][0]['pattern']['Regex'] = r'\s+|\S+'; json.dump(t, open('$WORK/random/model/tokenizer.json', 'w'))"
expect_fail "a pre-tokenizer llama.cpp does not know" "is not a regex llama.cpp knows" \
  "$PROACT" export --model "$WORK/random/model" --format gguf -o "$WORK/odd.gguf"
check "nothing written for it" test ! -e "$WORK/odd.gguf"
finish
