#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, then
#   1. tokenize the bundled fixture (Gospel of John, English -> Spanish) into HDF5 token shards,
#   2. train the small model on it with ProactiveLLM (random read schedules + synchronized
#      self-distillation) on 2 MPI ranks, with the validation loss before training and every 100 steps,
#   3. export the newest checkpoint as a Hugging Face model directory (+ tokenizer, proact.json),
#   4. ask the exported model for the first Spanish token after an English verse,
#   5. stream held-out verses word by word through several decision heads (proact run) and print,
#      per head, how long it waited (source words read per word written) and what it wrote.
# BLEU/LAAL scoring of the heads (a latency-quality curve) joins here with proact eval.
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

echo "== 5. streaming: held-out verses through decision heads (proact run)"
head -"${DEMO_SENTENCES:-12}" $FIX/john.en-es.test.tsv | cut -f1 >"$RUN/stream.src"
printf '   %-22s %9s %13s %12s   %s\n' head sentences "words out" "mean delay" "first verse, as written"
for head in waitk:1 waitk:3 waitk:5 entropy:4.5 maxprob:0.15 attn:4:0.3 offline; do
  $P run --model "$RUN/export" --head "$head" <"$RUN/stream.src" 2>/dev/null >"$RUN/stream.$head.jsonl"
  # the per-sentence summary lines: {"sentence":..,"prediction":..,"delays":[..],"source_length":..}
  grep '"sentence"' "$RUN/stream.$head.jsonl" | awk -v head="$head" '
    { n++; d = $0; sub(/.*"delays":\[/, "", d); sub(/\].*/, "", d); k = split(d, a, ",");
      for (i = 1; i <= k; i++) if (a[i] != "") { sum += a[i]; w++ }
      if (n == 1) { p = $0; sub(/.*"prediction":"/, "", p); sub(/",".*/, "", p); first = substr(p, 1, 60) } }
    END { printf "   %-22s %9d %13d %12.2f   %s\n", head, n, w, w ? sum / w : 0, first }'
done
echo "   (mean delay = source words read when a target word was written; $RUN/stream.*.jsonl has every word)"
