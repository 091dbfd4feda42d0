# `proact export` writes a model directory that transformers.js (npm @huggingface/transformers)
# loads with AutoTokenizer.from_pretrained(dir): three tiny runs (2 steps each) with three templates
# and tokenizers are exported, and for each
#   - config.json, generation_config.json and tokenizer_config.json hold the expected values
#     (special tokens and ids, model_max_length, add_bos/eos, tokenizer class, greedy decoding),
#     and transformers.js reads the same class, tokens and ids from them;
#   - transformers.js encodes every sentence of tests/tokenizer/hf_sentences.json to exactly the
#     ids of `proact tokenize`, with merges as pairs and as "a b" strings (--merges);
#   - the chat template renders, for each sentence as the user's message, the prompt proact's
#     runner builds (template pieces of proact.json, the words joined by single spaces, src_end,
#     tgt_begin), the same text and the same ids; with the assistant's message the training sequence.
#   plain   configs/tiny.ini (Qwen2) with the fixture tokenizer (proact's own)
#   chatml  Qwen2 with tests/data/hf/qwen2-strings (a tokenizer as transformers writes Qwen2's)
#   llama3  Llama with tests/data/hf/llama3-pairs (as transformers writes Llama 3's)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hf_lib.sh"
# training runs under MPI: LeakSanitizer would report Open MPI's own allocations (make_stream_model.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

HF_DATA="$SRC/tests/data/hf"
# run NAME [--set ...]: 2 steps of configs/tiny.ini into $WORK/NAME
run() {
  local name=$1
  shift
  "$PROACT" train --config configs/tiny.ini --set run.dir="$WORK/$name" --set train.steps=2 --set train.eval_every=2 \
    --set train.log_every=1 "$@" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; exit 1; }
}
run plain
run chatml --set data.template=chatml --set data.tokenizer="$HF_DATA/qwen2-strings/tokenizer.json"
run llama3 --set model.arch=llama --set data.template=llama3 --set data.tokenizer="$HF_DATA/llama3-pairs/tokenizer.json"

"$PROACT" export -c "$WORK/plain" -o "$WORK/plain-keep" >"$WORK/out" && cat "$WORK/out"
"$PROACT" export -c "$WORK/plain" -o "$WORK/plain-strings" --merges strings >/dev/null
"$PROACT" export -c "$WORK/plain" -o "$WORK/plain-pairs" --merges pairs >/dev/null
"$PROACT" export -c "$WORK/chatml" -o "$WORK/chatml-keep" >/dev/null
"$PROACT" export -c "$WORK/chatml" -o "$WORK/chatml-pairs" --merges pairs >/dev/null
"$PROACT" export -c "$WORK/llama3" -o "$WORK/llama3-strings" --merges strings >/dev/null
# a model directory exported again (--model) keeps everything
"$PROACT" export -m "$WORK/llama3-strings" -o "$WORK/llama3-again" >/dev/null

check "the summary names the files" grep -qF "tokenizer.json + tokenizer_config.json (Qwen2Tokenizer, chat template), proact.json, generation_config.json (bos 5, eos 4, pad 0)" "$WORK/out"
check "without --merges, tokenizer.json is copied byte for byte" cmp -s "$WORK/plain/tokenizer.json" "$WORK/plain-keep/tokenizer.json"
check "the model directory exported again is the same" bash -c "cd '$WORK' && for f in config.json generation_config.json tokenizer_config.json tokenizer.json proact.json; do cmp -s llama3-strings/\$f llama3-again/\$f || exit 1; done"

# the files' contents: EXPORT_DIR and the expected values (null: absent from config.json and generation_config.json)
files_hold() {
  "$PYTHON" - "$@" <<'PY'
import json, sys
d, merges, cls, bos, eos, pad, bos_id, eos_id, pad_id, add_bos = sys.argv[1:]
null = lambda s: None if s == "null" else s
num = lambda s: None if s == "null" else int(s)
tok = json.load(open(f"{d}/tokenizer.json", encoding="utf-8"))
cfg = json.load(open(f"{d}/config.json"))
gen = json.load(open(f"{d}/generation_config.json"))
tc = json.load(open(f"{d}/tokenizer_config.json", encoding="utf-8"))
want_ids = {k: v for k, v in (("bos_token_id", num(bos_id)), ("eos_token_id", num(eos_id)), ("pad_token_id", num(pad_id))) if v is not None}
errors = []
ms = tok["model"]["merges"]
kinds = {type(m).__name__ for m in ms}
if kinds != {"list" if merges == "pairs" else "str"}:
    errors.append(f"merges are {kinds}, expected {merges}")
got_ids = {k: cfg[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if k in cfg}
if got_ids != want_ids:
    errors.append(f"config.json ids {got_ids}, expected {want_ids}")
want_gen = dict(want_ids, do_sample=False, num_beams=1, max_length=256)
if gen != want_gen:
    errors.append(f"generation_config.json {gen}, expected {want_gen}")
want_tc = {"tokenizer_class": cls, "bos_token": null(bos), "eos_token": null(eos), "pad_token": null(pad),
           "unk_token": None, "model_max_length": 256, "add_bos_token": add_bos == "true", "add_eos_token": False,
           "clean_up_tokenization_spaces": False, "split_special_tokens": False}
for k, v in want_tc.items():
    if tc.get(k, "(absent)") != v:
        errors.append(f"tokenizer_config.json {k} = {tc.get(k, '(absent)')!r}, expected {v!r}")
added = {str(a["id"]): a["content"] for a in tok["added_tokens"]}
if {k: v["content"] for k, v in tc["added_tokens_decoder"].items()} != added:
    errors.append("tokenizer_config.json added_tokens_decoder is not tokenizer.json's added_tokens")
if "chat_template" not in tc:
    errors.append("no chat_template")
for e in errors:
    print(f"{d}: {e}")
sys.exit(1 if errors else 0)
PY
}
check "plain-keep: the files" files_hold "$WORK/plain-keep" pairs Qwen2Tokenizer "<|endoftext|>" "</tgt>" "<pad>" 5 4 0 false
check "plain-strings: the files, merges as strings" files_hold "$WORK/plain-strings" strings Qwen2Tokenizer "<|endoftext|>" "</tgt>" "<pad>" 5 4 0 false
check "plain-pairs: the files" files_hold "$WORK/plain-pairs" pairs Qwen2Tokenizer "<|endoftext|>" "</tgt>" "<pad>" 5 4 0 false
check "chatml-keep: the files (Qwen2 layout, strings kept)" files_hold "$WORK/chatml-keep" strings Qwen2Tokenizer "<|endoftext|>" "<|im_end|>" null 694 696 null false
check "chatml-pairs: the files" files_hold "$WORK/chatml-pairs" pairs Qwen2Tokenizer "<|endoftext|>" "<|im_end|>" null 694 696 null false
# Llama 3's post-processor puts <|begin_of_text|> before a text: add_bos_token says so
check "llama3-strings: the files (Llama 3 layout)" files_hold "$WORK/llama3-strings" strings PreTrainedTokenizerFast "<|begin_of_text|>" "<|eot_id|>" null 694 703 null true

# what transformers.js reads from them
info_is() {
  node "$HF_JS" --model "$1" --info >"$WORK/info.json"
  "$PYTHON" -c '
import json, sys
got, want = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
print(f"  transformers.js read: {got}")
sys.exit(1 if bad else 0)' "$WORK/info.json" "$2"
}
check "plain: transformers.js reads class, tokens, ids, length, chat template" info_is "$WORK/plain-strings" \
  '{"class": "Qwen2Tokenizer", "bos_token": "<|endoftext|>", "bos_token_id": 5, "eos_token": "</tgt>", "eos_token_id": 4, "pad_token": "<pad>", "pad_token_id": 0, "unk_token": null, "model_max_length": 256, "chat_template": true}'
check "chatml: transformers.js reads them" info_is "$WORK/chatml-pairs" \
  '{"class": "Qwen2Tokenizer", "bos_token": "<|endoftext|>", "bos_token_id": 694, "eos_token": "<|im_end|>", "eos_token_id": 696, "model_max_length": 256, "chat_template": true}'
check "llama3: transformers.js reads them" info_is "$WORK/llama3-strings" \
  '{"class": "PreTrainedTokenizer", "bos_token": "<|begin_of_text|>", "bos_token_id": 694, "eos_token": "<|eot_id|>", "eos_token_id": 703, "model_max_length": 256, "chat_template": true}'

for d in plain-keep plain-strings plain-pairs chatml-keep chatml-pairs llama3-strings; do
  check "$d: transformers.js encodes every sentence to proact's ids" encode_same "$d" "$WORK/$d"
done
# proact's own tokenizers add nothing, as add_bos_token/add_eos_token false say: the default encoding is the same
check "plain-strings: also with transformers.js' default add_special_tokens" encode_same plain-default "$WORK/plain-strings" --default-special

# chat_same NAME EXPORT_DIR: the chat template against proact's prompt (user message,
# add_generation_prompt) and training sequence (user + assistant), as text and as ids.
chat_same() {
  local name=$1 dir=$2
  "$PYTHON" - "$PROACT" "$dir" "$SRC/tests/tokenizer/hf_sentences.json" "$WORK/$name" <<'PY'
import json, re, subprocess, sys
proact, d, sentences, out = sys.argv[1:]
S = json.load(open(sentences, encoding="utf-8"))
pj = json.load(open(f"{d}/proact.json"))
T = pj["template_tokens"]
tok = f"{d}/tokenizer.json"

def run(args, records):
    r = subprocess.run([proact, "tokenize", "--tokenizer", tok, "--null"] + args, check=True,
                       input=b"".join(x.encode("utf-8") + b"\0" for x in records), stdout=subprocess.PIPE)
    return r.stdout.decode("utf-8").split("\0")[:-1]

# the runner's words: split on ASCII whitespace, every word but the first with its leading space
words = lambda s: [w for w in re.split(r"[ \t\n\r\v\f]+", s) if w]
def word_ids(s):
    ws = words(s)
    recs = [w if i == 0 else " " + w for i, w in enumerate(ws)]
    return [int(x) for line in run([], recs) for x in line.split()] if recs else []

cases, ids = [], []
for s in S:  # the prompt for a source sentence
    cases.append({"messages": [{"role": "user", "content": s}], "add_generation_prompt": True})
    ids.append(T["prompt"] + word_ids(s) + T["src_end"] + T["tgt_begin"])
for s, t in zip(S[:8], S[1:9]):  # a training sequence: source and target
    cases.append({"messages": [{"role": "user", "content": s}, {"role": "assistant", "content": t}]})
    ids.append(T["prompt"] + word_ids(s) + T["src_end"] + T["tgt_begin"] + word_ids(t) + T["tgt_end"])
pieces = {k: run(["--decode"], [" ".join(map(str, v))])[0] for k, v in T.items()}
texts = [pieces["prompt"] + " ".join(words(c["messages"][0]["content"])) + pieces["src_end"] + pieces["tgt_begin"] +
         (" ".join(words(c["messages"][1]["content"])) + pieces["tgt_end"] if len(c["messages"]) > 1 else "")
         for c in cases]
json.dump(cases, open(f"{out}.chat.json", "w", encoding="utf-8"), ensure_ascii=False)
open(f"{out}.want-text", "wb").write(b"".join(t.encode("utf-8") + b"\0" for t in texts))
open(f"{out}.want-ids", "wb").write(b"".join(" ".join(map(str, x)).encode() + b"\0" for x in ids))
PY
  node "$HF_JS" --model "$dir" --chat "$WORK/$name.chat.json" --null >"$WORK/$name.text"
  node "$HF_JS" --model "$dir" --encode "$WORK/$name.text" --null >"$WORK/$name.ids"
  same_records "$name: text" "$WORK/$name.text" "$WORK/$name.want-text" &&
    same_records "$name: ids" "$WORK/$name.ids" "$WORK/$name.want-ids"
}
check "plain: the chat template renders proact's prompt and sequence" chat_same plain "$WORK/plain-strings"
check "chatml: the chat template renders proact's prompt and sequence" chat_same chatml "$WORK/chatml-pairs"
check "llama3: the chat template renders proact's prompt and sequence" chat_same llama3 "$WORK/llama3-strings"

# errors
expect_fail "--merges with a wrong form" "expected pairs or strings" \
  "$PROACT" export -c "$WORK/plain" -o "$WORK/bad" --merges lists
expect_fail "--merges with --format gguf" "--merges is for --format hf" \
  "$PROACT" export -c "$WORK/plain" -o "$WORK/bad.gguf" --format gguf --merges strings
"$PYTHON" - "$WORK/chatml-keep/tokenizer.json" "$WORK/spaced/tokenizer.json" <<'PY'
import json, os, sys
t = json.load(open(sys.argv[1], encoding="utf-8"))
v = t["model"]["vocab"]
n = max(max(v.values()), max(a["id"] for a in t["added_tokens"])) + 1
v[" y"], v["x y"] = n, n + 1  # tokens with a space: the merge "x" + " y" has no "a b" form
t["model"]["merges"].append(["x", " y"])
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
json.dump(t, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
PY
cp "$WORK/chatml-keep/config.json" "$WORK/chatml-keep/model.safetensors" "$WORK/spaced/"
expect_fail "--merges strings with a token that holds a space" "cannot be written as an \"a b\" string" \
  "$PROACT" export -m "$WORK/spaced" -o "$WORK/bad" --merges strings
finish
