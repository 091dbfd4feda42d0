#!/usr/bin/env bash
# The reference stream of a shipped model (models/NAME/reference/): what `proact run --trace` writes for
# the sentences of reference/input.txt with the model's default head — every word with its delay and
# every READ/WRITE decision with its cues — without the clock fields (elapsed*), which vary.
#
#   scripts/reference-stream.sh --record PROACT MODEL_DIR   writes MODEL_DIR/reference/run.jsonl
#   scripts/reference-stream.sh --check PROACT MODEL_DIR    streams again and compares, byte for byte
#
# scripts/ship-model.sh records it when it ships a model; the test model_<NAME> checks it (the model
# loads, streams and gives exactly the recorded words and decisions).
set -euo pipefail
[ $# -eq 3 ] && { [ "$1" = --record ] || [ "$1" = --check ]; } ||
  { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
mode=$1 P=$2 M=$3 PY=${PROACT_PYTHON:-/usr/bin/python3}
for f in proact.json model.safetensors tokenizer.json reference/input.txt; do
  [ -f "$M/$f" ] || { echo "reference-stream: $M/$f is missing" >&2; exit 1; }
done
stream() {
  "$P" run --model "$M" --trace <"$M/reference/input.txt" 2>/dev/null | "$PY" -c "import json, sys
for line in sys.stdin:
    r = json.loads(line)
    for k in ('elapsed_ms', 'elapsed'):
        r.pop(k, None)
    print(json.dumps(r, ensure_ascii=False))"
}
if [ "$mode" = --record ]; then
  stream >"$M/reference/run.jsonl.tmp"
  mv "$M/reference/run.jsonl.tmp" "$M/reference/run.jsonl"
  exit 0
fi
[ -f "$M/reference/run.jsonl" ] || { echo "reference-stream: $M/reference/run.jsonl is missing" >&2; exit 1; }
got=$(mktemp)
trap 'rm -f "$got"' EXIT
stream >"$got"
lines=$(wc -l <"$M/reference/input.txt") sentences=$(grep -c '"sentence"' "$got" || true)
[ "$sentences" = "$lines" ] || { echo "FAIL: $M: $sentences sentence records for $lines input lines" >&2; exit 1; }
if ! cmp -s "$M/reference/run.jsonl" "$got"; then
  echo "FAIL: $M streams differently from its reference/run.jsonl:" >&2
  diff "$M/reference/run.jsonl" "$got" | head -10 >&2
  exit 1
fi
echo "ok: $M replays its reference: $sentences sentences, $(grep -c '"word"' "$got") words, $(grep -c '"decision"' "$got") decisions"
