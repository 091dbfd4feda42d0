#!/usr/bin/env bash
# The reproduction study of docs/results.md, within a budget that fits one 2-core machine.
# For each corpus (LibreOffice help en->de with its test module held out, then Ding en->de):
#   1. a byte-level BPE tokenizer learned on the training pairs, token shards of train/valid/test;
#   2. the `small` model trained four ways on 2 MPI ranks, same data, steps and seed:
#        a  ProactiveLLM        random monotone schedules + synchronized self-distillation (lambda 1)
#        b  masking only        random schedules, lambda 0
#        c  wait-k baseline     trained on wait-3 schedules, lambda 0
#        d  offline             the full source (schedule full), lambda 0
#   3. each exported, its probe head fitted (proact probe), and every decision head of a sweep
#      evaluated on the first LIMIT test pairs (proact eval: BLEU, chrF, AL, LAAL, ...);
#   4. scripts/reproduce_report.py: the tables, the plots, the headline and paired bootstrap
#      intervals of the key BLEU differences -> OUT/report.md.
# Usage: scripts/reproduce.sh [--steps N] [--limit N] [--corpora "libreoffice-en-de ding-en-de"]
#                             [--out DIR] [--ranks N]
# Each finished step is kept: a second run continues where the first stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=1200 LIMIT=200 RANKS=2 VOCAB=4000 MAX_TOKENS=64 PROBE_SAMPLES=3000
CORPORA="libreoffice-en-de ding-en-de" OUT=runs/reproduce
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2 ;;
    --limit) LIMIT=$2 ;;
    --corpora) CORPORA=$2 ;;
    --out) OUT=$2 ;;
    --ranks) RANKS=$2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift 2
done
# The heads of the sweep, earliest to latest within each kind (entropy and attn write sooner with a
# larger threshold, probe and maxprob with a smaller one).
HEADS=waitk:1,waitk:2,waitk:3,waitk:5,waitk:7,waitk:9
HEADS+=,entropy:1,entropy:2,entropy:3,entropy:4,entropy:5
HEADS+=,attn:4:0.1,attn:4:0.2,attn:4:0.3,attn:4:0.5
HEADS+=,probe:0.5,probe:0.7,probe:0.8,probe:0.9,probe:0.95
HEADS+=,offline
declare -A VARIANT=(
  [a]="--set stream.schedule=random --set spsd.lambda=1"
  [b]="--set stream.schedule=random --set spsd.lambda=0"
  [c]="--set stream.schedule=waitk --set stream.k=3 --set spsd.lambda=0"
  [d]="--set stream.schedule=full --set spsd.lambda=0"
)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun -np "$RANKS" --oversubscribe)

./scripts/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target proact_bin >/dev/null
P=$PWD/build/proact
for corpus in $CORPORA; do
  [ -f "data/$corpus/train.tsv" ] || ./scripts/fetch-data.sh
done
mkdir -p "$OUT"
log() { echo "[$(date +%H:%M:%S)] $*"; }
t_start=$(date +%s)

for corpus in $CORPORA; do
  C=$OUT/$corpus
  mkdir -p "$C"
  if [ ! -f "$C/test.h5" ]; then
    log "$corpus: tokenizer ($VOCAB) and shards (pairs of at most $MAX_TOKENS tokens a side)"
    "$P" tokenizer train --vocab-size "$VOCAB" -o "$C/tokenizer.json" "data/$corpus/train.tsv" >"$C/tokenizer.log" 2>&1
    for split in train valid test; do
      "$P" prepare --input "data/$corpus/$split.tsv" --tokenizer "$C/tokenizer.json" --max-tokens "$MAX_TOKENS" \
        -o "$C/$split.h5" >"$C/prepare-$split.log" 2>&1
    done
  fi
  vocab=$(/usr/bin/python3 -c "import json, sys; t = json.load(open(sys.argv[1]))
print(1 + max(list(t['model']['vocab'].values()) + [a['id'] for a in t.get('added_tokens', [])]))" "$C/tokenizer.json")
  for v in a b c d; do
    R=$C/$v
    if [ ! -f "$R/model/model.safetensors" ]; then
      log "$corpus/$v: train $STEPS steps on $RANKS ranks (${VARIANT[$v]})"
      rm -rf "$R"
      # shellcheck disable=SC2086 # the variant's --set options are words
      "${MPIRUN[@]}" "$P" train --config configs/small.ini --set model.vocab_size="$vocab" \
        --set data.train="$C/train.h5" --set data.valid="$C/valid.h5" --set train.steps="$STEPS" \
        --set train.log_every=100 --set train.eval_every=400 --set run.dir="$R" ${VARIANT[$v]} >"$C/train-$v.log" 2>&1
    fi
    if [ ! -f "$R/export/proact.json" ] || ! grep -q '"probe"' "$R/export/proact.json"; then
      log "$corpus/$v: export and probe ($PROBE_SAMPLES points)"
      "$P" export --checkpoint "$R" -o "$R/export" >"$C/export-$v.log" 2>&1
      "${MPIRUN[@]}" "$P" probe --model "$R/export" --data "$C/train.h5" --samples "$PROBE_SAMPLES" >"$C/probe-$v.log" 2>&1
    fi
    if [ ! -f "$R/eval/curve.csv" ]; then
      log "$corpus/$v: eval of $(tr ',' '\n' <<<"$HEADS" | wc -l) heads on $LIMIT test pairs"
      "${MPIRUN[@]}" "$P" eval --model "$R/export" --data "$C/test.h5" --limit "$LIMIT" --heads "$HEADS" \
        --no-progress -o "$R/eval" >"$C/eval-$v.log" 2>&1
    fi
  done
done
log "done in $(( ($(date +%s) - t_start) / 60 )) min; report:"
/usr/bin/python3 scripts/reproduce_report.py --out "$OUT" --corpora "$CORPORA" --steps "$STEPS" --limit "$LIMIT" \
  --proact "$P" --bootstrap 200
