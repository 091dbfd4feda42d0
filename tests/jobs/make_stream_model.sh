#!/usr/bin/env bash
# Trains the tiny test model for the streaming tests (runner, run, serve) and exports it:
#   bash make_stream_model.sh PROACT_BIN OUT_DIR
# 300 SPSD steps of configs/tiny.ini on the fixture (about 6 s); OUT_DIR/model is the exported
# directory. Deterministic: the same seed and data give the same model.
set -euo pipefail
PROACT="$1"
OUT="$2"
cd "${PROACT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# Under the sanitizer build, LeakSanitizer reports Open MPI's own allocations (made inside MPI_Init by
# MCA components that are unloaded before the report, so they cannot be suppressed by name); no
# proact frame is among them. Address and UB checks stay on.
# (The last setting in ASAN_OPTIONS wins; other binaries ignore it.)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
rm -rf "$OUT"
mkdir -p "$OUT"
"$PROACT" train --config configs/tiny.ini --set run.dir="$OUT/run" --set train.steps=300 \
  --set train.eval_every=300 --set train.log_every=100 >"$OUT/train.log" 2>&1 || { cat "$OUT/train.log"; exit 1; }
"$PROACT" export --checkpoint "$OUT/run" -o "$OUT/model" >>"$OUT/train.log" 2>&1 || { cat "$OUT/train.log"; exit 1; }
for f in config.json model.safetensors tokenizer.json proact.json; do
  [ -s "$OUT/model/$f" ] || { echo "missing $OUT/model/$f"; exit 1; }
done
echo "stream model: $OUT/model"
