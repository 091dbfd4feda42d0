# hf_lib.sh — helpers for the Hugging Face tests (test_hf_export.sh, test_hf_import.sh), sourced
# after lib.sh: transformers.js (npm @huggingface/transformers in .deps/node) against proact on the
# sentences of tests/tokenizer/hf_sentences.json (non-ASCII, whitespace runs, tabs, newlines,
# empty strings, special tokens in text).

NODE_DIR="${PROACT_NODE_DIR:-$SRC/.deps/node}"
export PROACT_NODE_DIR="$NODE_DIR"
HF_JS="$SRC/tests/tokenizer/hf_transformers.mjs"
if ! command -v node >/dev/null 2>&1 || [ ! -d "$NODE_DIR/node_modules/@huggingface/transformers" ]; then
  echo "FAIL: node or npm @huggingface/transformers is missing ($NODE_DIR); run scripts/install-deps.sh"
  exit 1
fi
echo "transformers.js $(node -p "require('$NODE_DIR/node_modules/@huggingface/transformers/package.json').version")"

# The sentences as NUL-ended records (they hold newlines): $WORK/sentences.bin
"$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
open(sys.argv[2], "wb").write(b"".join(x.encode("utf-8") + b"\0" for x in s))
' "$SRC/tests/tokenizer/hf_sentences.json" "$WORK/sentences.bin"

# same_records NAME A B: the NUL-ended records of files A (transformers.js) and B (proact) are
# identical; else the first that differs, with its sentence.
same_records() {
  "$PYTHON" - "$1" "$2" "$3" "$WORK/sentences.bin" <<'PY'
import sys
name, a, b, s = sys.argv[1:]
A = open(a, "rb").read().split(b"\0")[:-1]
B = open(b, "rb").read().split(b"\0")[:-1]
S = open(s, "rb").read().split(b"\0")[:-1]
if len(A) != len(B):
    print(f"{name}: {len(A)} records from transformers.js, {len(B)} from proact")
    sys.exit(1)
for i, (x, y) in enumerate(zip(A, B)):
    if x != y:
        what = S[i] if len(S) == len(A) else b"?"
        print(f"{name}: record {i + 1} differs ({what[:120]!r}):\n  transformers.js: {x[:300]!r}\n  proact:          {y[:300]!r}")
        sys.exit(1)
print(f"{name}: {len(A)} records identical")
PY
}

# encode_same NAME MODEL_DIR [--default-special]: transformers.js' AutoTokenizer on MODEL_DIR and
# `proact tokenize` on MODEL_DIR/tokenizer.json give the same ids for every sentence.
encode_same() {
  local name=$1 dir=$2
  shift 2
  node "$HF_JS" --model "$dir" --encode "$WORK/sentences.bin" --null "$@" >"$WORK/$name.hf"
  "$PROACT" tokenize --tokenizer "$dir/tokenizer.json" --null <"$WORK/sentences.bin" >"$WORK/$name.proact"
  same_records "$name" "$WORK/$name.hf" "$WORK/$name.proact"
}
