#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, then
#   1. tokenize the bundled fixture (Gospel of John, English -> Spanish) into HDF5 token shards,
#   2. train the small model on it with ProactiveLLM (random read schedules + synchronized
#      self-distillation) on 2 MPI ranks, with the validation loss before training and every 100 steps,
#   3. export the newest checkpoint as a Hugging Face model directory (+ tokenizer, proact.json),
#   4. ask the exported model for the first Spanish token after an English verse,
#   5. fit the probe decision head on the model's own signals (proact probe, ScaLAPACK on 2 ranks),
#   6. stream one held-out verse word by word (proact run),
#   7. evaluate decision heads on held-out verses on 2 MPI ranks (proact eval) and print the
#      latency-quality table (BLEU, chrF, AL, LAAL, AP, DAL); the plot goes to RUN/eval/curve.svg.
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

echo "== 5. fit the probe head on the model's own signals (2 MPI ranks, ScaLAPACK)"
mpirun -np 2 --oversubscribe $P probe --model "$RUN/export" --data "$RUN/john.train.h5" --samples "${DEMO_PROBE_SAMPLES:-3000}" \
  2>"$RUN/probe.log" | sed 's/^/   /' || { cat "$RUN/probe.log"; exit 1; }

echo "== 6. one held-out verse streamed word by word (proact run, head entropy:3.5)"
verse=$(head -1 $FIX/john.en-es.test.tsv | cut -f1)
echo "   source: $verse"
echo "$verse" | $P run --model "$RUN/export" --head entropy:3.5 2>/dev/null | grep '"word"' |
  awk -F'"' '{ printf "%s(%s) ", $4, substr($7, 2, index($7, ",") - 2) } END { print "" }' | fold -s -w 100 | sed 's/^/   /'
echo "   (each target word with the number of source words read when it was written)"

echo "== 7. latency-quality of the decision heads on ${DEMO_SENTENCES:-40} held-out verses (proact eval, 2 MPI ranks)"
mpirun -np 2 --oversubscribe $P eval --model "$RUN/export" --data "$RUN/john.test.h5" --limit "${DEMO_SENTENCES:-40}" \
  --heads waitk:1,waitk:3,waitk:5,waitk:9,entropy:3.5,entropy:4.5,maxprob:0.3,attn:4:0.3,probe:0.75,probe:0.9,offline \
  --no-progress -o "$RUN/eval" 2>"$RUN/eval.log" | sed 's/^/   /' || { cat "$RUN/eval.log"; exit 1; }
echo "   BLEU as sacreBLEU; AL/LAAL/AP/DAL in source words as SimulEval (lower = earlier); *_CA in ms with"
echo "   the source spoken at 400 ms/word, computing time included. Plot: $RUN/eval/curve.svg"
echo "   (a ${DEMO_STEPS:-300}-step model on 586 verses translates poorly: the table shows the trade-off, not quality)"
