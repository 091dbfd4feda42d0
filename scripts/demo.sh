#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, then
#   1. tokenize the bundled fixture (Gospel of John, English -> Spanish) into HDF5 token shards,
#   2. train the small model on it with ProactiveLLM (random read schedules + synchronized
#      self-distillation) on 2 MPI ranks, with the validation loss before training and every 100 steps,
#   3. export the newest checkpoint as a Hugging Face model directory (+ tokenizer, proact.json),
#   4. ask the exported model for the first Spanish token after an English verse.
# The streaming evaluation (decision heads, a latency-quality table) grows here as it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target proact_bin
P=./build/proact
RUN=${RUN_DIR:-runs/demo}
FIX=tests/data/fixture
mkdir -p "$RUN"

echo "== 1. token shards from the fixture"
for split in train test; do
  $P prepare --input $FIX/john.en-es.$split.tsv --tokenizer $FIX/tokenizer.json -o "$RUN/john.$split.h5"
done

echo "== 2. ProactiveLLM training of the small model on 2 MPI ranks"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # Open MPI refuses root otherwise
mpirun -np 2 --oversubscribe $P train --config configs/small.ini --set data.train="$RUN/john.train.h5" \
  --set data.valid="$RUN/john.test.h5" --set train.steps="${DEMO_STEPS:-300}" --set run.dir="$RUN"

echo "== 3. export the newest checkpoint as a Hugging Face model directory"
$P export --checkpoint "$RUN" -o "$RUN/export"

echo "== 4. the exported model's first Spanish token after an English verse"
verse="Jesus answered them, I told you, and you don't believe."
ids=$(printf '<src>%s</src><tgt>\n' "$verse" | $P tokenize --tokenizer $FIX/tokenizer.json | tr ' ' ',')
next=$($P forward --model "$RUN/export" --ids "$ids" 2>/dev/null | tail -1 | cut -d' ' -f2)
echo "   source: $verse"
echo "   first target token: '$(echo "$next" | $P tokenize --tokenizer $FIX/tokenizer.json --decode)' (id $next)"
