#!/usr/bin/env bash
# The reference stream of a shipped model (models/NAME/reference/): what `proact run --trace` writes for
# the sentences of reference/input.txt with the model's default head — every word with its delay and
# every READ/WRITE decision with its cues — without the clock fields (elapsed*), which vary.
#
#   scripts/reference-stream.sh --record PROACT MODEL_DIR   writes MODEL_DIR/reference/run.jsonl
#   scripts/reference-stream.sh --check PROACT MODEL_DIR    streams again and compares: every word, delay,
#                                                           token and decision exactly; the float cues
#                                                           (entropy, maxprob, ...) to 1e-4, as another
#                                                           build (ASan: -O1, other FMA contractions)
#                                                           differs in their last bits
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
if ! "$PY" - "$M/reference/run.jsonl" "$got" <<'PY'; then
import json, sys
CUE_TOLERANCE = 1e-4
def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= CUE_TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
want, got = ([json.loads(line) for line in open(p, encoding="utf-8")] for p in sys.argv[1:])
for n, (a, b) in enumerate(zip(want, got), 1):
    if not same(a, b):
        sys.exit(f"line {n}:\n  recorded {json.dumps(a, ensure_ascii=False)}\n  streamed {json.dumps(b, ensure_ascii=False)}")
if len(want) != len(got):
    sys.exit(f"{len(got)} lines streamed, {len(want)} recorded")
PY
  echo "FAIL: $M streams differently from its reference/run.jsonl (above)" >&2
  exit 1
fi
echo "ok: $M replays its reference: $sentences sentences, $(grep -c '"word"' "$got") words, $(grep -c '"decision"' "$got") decisions"
