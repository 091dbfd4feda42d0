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
# Then, once a trained model ships in models/en-de-streaming (docs/en-de-model.md):
#   8. stream English help sentences into German with it (proact run, no --model: the shipped default),
#   9. serve it (proact serve, no --model) and play one sentence through the event stream with curl.
#
# scripts/demo.sh --slurm runs the same job chain as Slurm batch jobs instead (slurm/pipeline.sh:
# prepare -> train -> export -> probe -> eval array -> merge) on a one-node Slurm cluster that it
# starts in a temporary directory (scripts/slurm-local.sh) and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
slurm=0
case "${1:-}" in
  --slurm) slurm=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--slurm]" >&2; exit 2 ;;
esac
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target proact_bin
P=./build/proact

if [ $slurm -eq 1 ]; then
  RUN=${RUN_DIR:-runs/demo-slurm}
  rm -rf "$RUN"
  CLUSTER=$(mktemp -d /tmp/proact-slurm.XXXXXX)
  chmod 755 "$CLUSTER" # munged, as user munge, must reach it
  trap './scripts/slurm-local.sh stop "$CLUSTER/c"; rm -rf "$CLUSTER"' EXIT
  echo "== 1. a one-node Slurm cluster (munge, slurmctld, slurmd) in $CLUSTER"
  eval "$(./scripts/slurm-local.sh start "$CLUSTER/c")"
  sinfo | sed 's/^/   /'
  echo "== 2. submit the chain (slurm/pipeline.sh): each job starts when the previous one succeeded"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PROACT=$PWD/build/proact
  slurm/pipeline.sh --config configs/small.ini --set train.steps="${DEMO_STEPS:-300}" --run "$RUN" \
    --heads waitk:1,waitk:3,waitk:5,waitk:9,entropy:4.5/min-lag=1,maxprob:0.3/min-lag=1,maxprob:0.1/min-lag=1,attn:4:0.3/min-lag=1,probe:0.75/min-lag=1,probe:0.9/min-lag=1/max-lag=4,offline \
    --limit "${DEMO_SENTENCES:-40}" --probe-samples "${DEMO_PROBE_SAMPLES:-3000}" | sed 's/^/   job /'
  mapfile -t job_ids < <(cut -d' ' -f2 "$RUN/jobs.txt")
  echo "== 3. the queue while it runs (squeue every 10 s)"
  t0=$(date +%s)
  while q=$(squeue -h -j "$(IFS=,; echo "${job_ids[*]}")" -o "%T %i %j" 2>/dev/null) && [ -n "$q" ]; do
    awk -v t=$(( $(date +%s) - t0 )) '$1 == "RUNNING" { run = run " " $3 "(" $2 ")" } $1 == "PENDING" { pend++ }
      END { printf "   %4ds running:%s; %d pending\n", t, run ? run : " -", pend }' <<<"$q"
    sleep 10
  done
  failed=$(for id in "${job_ids[@]}"; do scontrol show job -o "$id" | grep -o 'JobId=[0-9]* .*JobState=[A-Z_]*' |
    awk '{ print $1, $NF }' | grep -v COMPLETED; done || true)
  if [ -n "$failed" ]; then
    echo "demo: jobs did not complete:"; echo "$failed"; tail -n 20 "$RUN"/logs/*.out; exit 1
  fi
  echo "== 4. done in $(( $(date +%s) - t0 )) s; the latency-quality table ($RUN/eval/summary.txt)"
  sed 's/^/   /' "$RUN/eval/summary.txt"
  echo "   plot: $RUN/eval/curve.svg; model: $RUN/model; job logs: $RUN/logs"
  exit 0
fi
RUN=${RUN_DIR:-runs/demo}
FIX=tests/data/fixture
mkdir -p "$RUN"

# words_with_delays: proact run's JSON lines -> "word(source words read) ..." lines of 100 columns
words_with_delays() {
  grep '"word"' | awk -F'"' '{ printf "%s(%s) ", $4, substr($7, 2, index($7, ",") - 2) } END { print "" }' | fold -s -w 100
}

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
echo "$verse" | $P run --model "$RUN/export" --head entropy:3.5 2>/dev/null | words_with_delays | sed 's/^/   /'
echo "   (each target word with the number of source words read when it was written)"

echo "== 7. latency-quality of the decision heads on ${DEMO_SENTENCES:-40} held-out verses (proact eval, 2 MPI ranks)"
mpirun -np 2 --oversubscribe $P eval --model "$RUN/export" --data "$RUN/john.test.h5" --limit "${DEMO_SENTENCES:-40}" \
  --heads waitk:1,waitk:3,waitk:5,waitk:9,entropy:4.5/min-lag=1,maxprob:0.3/min-lag=1,maxprob:0.1/min-lag=1,attn:4:0.3/min-lag=1,probe:0.75/min-lag=1,probe:0.9/min-lag=1/max-lag=4,offline \
  --no-progress -o "$RUN/eval" 2>"$RUN/eval.log" | sed 's/^/   /' || { cat "$RUN/eval.log"; exit 1; }
echo "   BLEU as sacreBLEU; AL/LAAL/AP/DAL/ATD in source words as SimulEval (lower = earlier); *_CA too,"
echo "   with computing time added at 400 ms per source word (SimulEval's convention). Plot: $RUN/eval/curve.svg"
echo "   (a ${DEMO_STEPS:-300}-step model on 586 verses translates poorly: the table shows the trade-off, not quality)"

# The shipped model (docs/en-de-model.md), once it is in models/: proact run and proact serve take it
# when no --model is given.
SHIPPED=models/en-de-streaming
[ -f "$SHIPPED/proact.json" ] || exit 0
head_of() { sed -n 's/.*"default_head": *"\([^"]*\)".*/\1/p' "$SHIPPED/proact.json"; }
echo "== 8. the shipped model ($SHIPPED, $(du -sh "$SHIPPED" | cut -f1)): English help sentences streamed into German"
echo "   (proact run without --model; its default head $(head_of))"
while IFS= read -r sentence; do
  echo "   source: $sentence"
  echo "$sentence" | $P run 2>/dev/null | words_with_delays | sed 's/^/     /'
done <"$SHIPPED/reference/input.txt"
echo "   (each German word with the number of English words read when it was written)"

echo "== 9. served over HTTP (proact serve without --model): one sentence through the event stream"
$P serve --port 0 >"$RUN/serve.out" 2>"$RUN/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
url=''
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$RUN/serve.out" 2>/dev/null || true)
  [ -z "$url" ] || break
  kill -0 $serve_pid 2>/dev/null || { cat "$RUN/serve.log"; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "demo: proact serve did not start"; cat "$RUN/serve.log"; exit 1; }
sentence="Choose Format - Paragraph and click the Indents & Spacing tab."
id=$(curl -sf -X POST -d '{}' "$url/v1/sessions" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
echo "   POST $url/v1/sessions/$id/stream  {\"text\": \"$sentence\"}"
curl -sfN -d "{\"text\": \"$sentence\", \"ms_per_word\": 0}" "$url/v1/sessions/$id/stream" |
  sed -n '/^event: end/{n;s/^data: //p}' |
  "${PYTHON:-/usr/bin/python3}" -c 'import json, sys
e = json.loads(sys.stdin.read())
print("   -> " + e["prediction"])
print("   LAAL %.2f source words, %.0f ms of computing" % (e["LAAL"], e["compute_ms"]))'
echo "   open $url in a browser to watch it decide (the page of proact serve); stopped now"
