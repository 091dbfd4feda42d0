#!/usr/bin/env bash
# The reproduction study of docs/results.md: does ProactiveLLM training let adaptive decision heads
# beat wait-k? Run locally (every unit in turn) or as a Slurm job array (slurm/study.sh).
#
# Per corpus (LibreOffice help en->de with its test module held out, Ding en->de):
#   a byte-level BPE tokenizer learned on the training pairs; token shards of train/valid/test.
# Per unit = (corpus, variant, seed), the `small` model trained on 2 MPI ranks, same data and steps:
#   a  ProactiveLLM     random monotone schedules + synchronized self-distillation (lambda 1)
#   b  masking only     random schedules, lambda 0 (the teacher copy still trained, alpha 1)
#   c  wait-k baseline  wait-3 schedules, student loss only (no teacher copy: as baseline systems train)
#   d  offline          the full source, student loss only
#   e  ProactiveLLM     the band schedule (lag 1..3, 10% full rows) + self-distillation
# then: export; the probe head fitted on-policy (a, b, c, e; band 1..3: the states of the min-lag=1 heads); `proact diagnose` on validation pairs
# (student-teacher gap per lag, the cues' AUC and quantiles); threshold grids of the adaptive heads
# from those validation quantiles (scripts/study/heads.py); evaluation of every head on the first
# VALID_LIMIT validation pairs (to choose policies) and on ALL test pairs.
# Finally scripts/reproduce_report.py: frontiers, BLEU at fixed LAAL, LAAL at equal BLEU with
# bootstrap CIs over sentences and seeds -> OUT/summary.json and OUT/report.md.
#
# Usage: scripts/reproduce.sh [--out DIR] [--corpora "libreoffice-en-de ding-en-de"]
#          [--variants "a b c d e"] [--seeds "1 2 3"] [--epochs E|"CORPUS=E|budget ..."]
#          [--budget-epochs N] [--ranks N] [--valid-limit N]
#          [--config FILE] [--data-root DIR] [--vocab N] [--probe-samples N] [--probe-label L]
#          [--train-precision fp32|bf16] [--eval-weights fp32|bf16|int8] [--bootstrap N] [--store DIR]
#          [--unit I | --list-units | --prepare | --report]
#   defaults: runs/reproduce, both corpora, all variants, seeds 1 2 3, batch 16, 2 ranks,
#   epochs "libreoffice-en-de=2 ding-en-de=budget" (other corpora 2; a bare E sets every corpus),
#   300 validation pairs, configs/small.ini, data/ (scripts/fetch-data.sh), vocabulary 4000,
#   4000 probe points, probe label agree, training in fp32 (the same arithmetic on every CPU, so a
#   study whose units run on different machines mixes nothing; bf16 falls back to it anyway where
#   the CPU lacks AVX-512 BF16), decoding with bf16 weights (1.9x faster than fp32 with AVX-512
#   BF16, 4.3x on AVX2; BLEU within 0.1 on 150 test pairs: docs/results.md), 1000 bootstrap replicates
#   --unit I      run only the I-th unit (0-based, in --list-units order: seed, corpus, variant)
#   --epochs CORPUS=budget  the corpus's budget is chosen on its validation loss, once, before its
#                 units: model a (seed 1) trains --budget-epochs (default 10) epochs with a validation
#                 loss at every epoch's end; the budget is the smallest whole epoch within 0.01 nats
#                 of the run's lowest (scripts/study/budget.py) -> OUT/CORPUS/budget/budget.json
#   --prepare     only the tokenizers, shards and budgets;  --report  only the report of what is there
#   --store DIR   keep each finished unit's results in DIR/CORPUS/VARIANT-seedS.tar.xz (what the
#                 report reads: evaluations, diagnosis, heads, probe, training metrics and logs; no
#                 checkpoint or weights; instances.log without its wall-clock "elapsed":
#                 scripts/study/store.py) and a budget in DIR/CORPUS/budget.json; take what is found
#                 there instead of running it. A study spread over machines that keep only a git
#                 checkout continues from the committed store (docs/results/units/). A unit taken
#                 from the store is marked OUT/CORPUS/VARIANT/seedS/stored.txt and never runs again there.
# Every finished stage leaves its output and is skipped on the next run: an interrupted study
# continues where it stopped (training itself resumes from its last checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/reproduce CORPORA="libreoffice-en-de ding-en-de" VARIANTS="a b c d e" SEEDS="1 2 3"
DEFAULT_EPOCHS=2 BUDGET_EPOCHS=10 RANKS=2 VALID_LIMIT=300 VOCAB=4000 MAX_TOKENS=64 PROBE_SAMPLES=4000 BATCH=16 PROBE_LABEL=agree
CONFIG=configs/small.ini DATA=data BOOTSTRAP=1000 EVAL_WEIGHTS=bf16 UNIT='' MODE=all STORE='' TRAIN_PRECISION=fp32
declare -A EPOCHS_OF=([libreoffice-en-de]=2 [ding-en-de]=budget)
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2 ;;
    --corpora) CORPORA=$2 ;;
    --variants) VARIANTS=$2 ;;
    --seeds) SEEDS=$2 ;;
    --epochs)
      if [[ $2 == *=* ]]; then
        for pair in ${2//,/ }; do EPOCHS_OF[${pair%%=*}]=${pair#*=}; done
      else DEFAULT_EPOCHS=$2 EPOCHS_OF=(); fi ;;
    --budget-epochs) BUDGET_EPOCHS=$2 ;;
    --ranks) RANKS=$2 ;;
    --valid-limit) VALID_LIMIT=$2 ;;
    --config) CONFIG=$2 ;;
    --data-root) DATA=$2 ;;
    --vocab) VOCAB=$2 ;;
    --probe-samples) PROBE_SAMPLES=$2 ;;
    --probe-label) PROBE_LABEL=$2 ;;
    --bootstrap) BOOTSTRAP=$2 ;;
    --eval-weights) EVAL_WEIGHTS=$2 ;;
    --train-precision) TRAIN_PRECISION=$2 ;;
    --store) STORE=$2 ;;
    --unit) UNIT=$2 MODE=unit ;;
    --list-units) MODE=list; shift; continue ;;
    --prepare) MODE=prepare; shift; continue ;;
    --report) MODE=report; shift; continue ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift 2
done
declare -A VARIANT=(
  [a]="--set stream.schedule=random --set spsd.lambda=1"
  [b]="--set stream.schedule=random --set spsd.lambda=0"
  [c]="--set stream.schedule=waitk --set stream.k=3 --set spsd.lambda=0 --set spsd.teacher=off"
  [d]="--set stream.schedule=full --set spsd.lambda=0 --set spsd.teacher=off"
  [e]="--set stream.schedule=band --set stream.min_lag=1 --set stream.max_lag=3 --set stream.p_full=0.1 --set spsd.lambda=1"
)
UNITS=()
for s in $SEEDS; do for c in $CORPORA; do for v in $VARIANTS; do UNITS+=("$c $v $s"); done; done; done
if [ "$MODE" = list ]; then
  for i in "${!UNITS[@]}"; do echo "$i ${UNITS[$i]}"; done
  exit 0
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ -n "${SLURM_JOB_ID:-}" ]; then MPIRUN=(srun --mpi="${PROACT_SRUN_MPI:-pmix}" -n "$RANKS")
else MPIRUN=(mpirun -np "$RANKS" --oversubscribe); fi
P=${PROACT:-$PWD/build/proact}
PY=/usr/bin/python3
log() { echo "[$(date +%H:%M:%S)] $*"; }
mpi_job() { "${MPIRUN[@]}" "$P" "${@:2}"; }
# shellcheck source=scripts/study/runs.sh
source scripts/study/runs.sh
if [ -z "${PROACT:-}" ] && [ -z "${SLURM_JOB_ID:-}" ]; then
  ./scripts/install-deps.sh >/dev/null
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target proact_bin >/dev/null
fi
mkdir -p "$OUT"

# prepare CORPUS: tokenizer and shards, once (a lock keeps parallel array tasks from racing)
prepare() {
  local corpus=$1 C=$OUT/$1
  mkdir -p "$C"
  [ -f "$DATA/$corpus/train.tsv" ] || [ "$DATA" != data ] || ./scripts/fetch-data.sh
  exec 9>"$C/.prepare.lock"
  flock 9
  if [ ! -f "$C/test.h5" ]; then
    log "$corpus: tokenizer ($VOCAB) and shards (pairs of at most $MAX_TOKENS tokens a side)"
    "$P" tokenizer train --vocab-size "$VOCAB" -o "$C/tokenizer.json" "$DATA/$corpus/train.tsv" >"$C/tokenizer.log" 2>&1
    for split in valid train test; do
      "$P" prepare --input "$DATA/$corpus/$split.tsv" --tokenizer "$C/tokenizer.json" --max-tokens "$MAX_TOKENS" \
        -o "$C/$split.h5.tmp" >"$C/prepare-$split.log" 2>&1
      mv "$C/$split.h5.tmp" "$C/$split.h5"
    done
  fi
  flock -u 9
}

# vocab_of CORPUS / pairs_of CORPUS: the model's vocabulary size, the training pairs
vocab_of() { "$PY" scripts/study/vocab_size.py "$OUT/$1/tokenizer.json"; }
pairs_of() { wc -l <"$DATA/$1/train.tsv"; }

# train_run CORPUS VARIANT SEED STEPS EVAL_EVERY DIR LOG: train (or resume) until DIR/model exists
train_run() {
  local corpus=$1 v=$2 seed=$3 steps=$4 eval_every=$5 dir=$6 logfile=$7 C=$OUT/$1
  # shellcheck disable=SC2086 # the variant's --set options are words
  train_or_resume "$corpus/$v/seed$seed: train ($(pairs_of "$corpus") pairs, batch $BATCH)" "$dir" "$steps" "$logfile" \
    --config "$CONFIG" --set model.vocab_size="$(vocab_of "$corpus")" \
    --set data.train="$C/train.h5" --set data.valid="$C/valid.h5" \
    --set train.global_batch="$BATCH" --set train.seed="$seed" --set train.log_every=100 \
    --set train.eval_every="$eval_every" --set train.precision="$TRAIN_PRECISION" --set checkpoint.every=1000 ${VARIANT[$v]}
}

# budget CORPUS: OUT/CORPUS/budget/budget.json, the epochs chosen on validation loss (once; locked)
budget() {
  local corpus=$1 C=$OUT/$1 B=$OUT/$1/budget
  [ ! -f "$B/budget.json" ] || return 0
  ! stored_budget "$corpus" || return 0
  prepare "$corpus"
  mkdir -p "$B"
  exec 8>"$C/.budget.lock"
  flock 8
  if [ ! -f "$B/budget.json" ]; then
    local spe
    spe=$(( ($(pairs_of "$corpus") + BATCH - 1) / BATCH ))
    log "$corpus: budget run, model a seed 1, $BUDGET_EPOCHS epochs with a validation loss at each epoch's end"
    train_run "$corpus" a 1 $((spe * BUDGET_EPOCHS)) "$spe" "$B/run" "$B/train.log"
    "$PY" scripts/study/budget.py "$B/run/metrics.jsonl" --steps-per-epoch "$spe" --max-epochs "$BUDGET_EPOCHS" \
      -o "$B/budget.json.tmp" >/dev/null
    mv "$B/budget.json.tmp" "$B/budget.json"
    [ -z "$STORE" ] || { mkdir -p "$STORE/$corpus" && cp "$B/budget.json" "$STORE/$corpus/budget.json"; }
    log "$corpus: budget $(epochs_of "$corpus") of $BUDGET_EPOCHS epochs (validation loss per epoch: $B/budget.json)"
  fi
  flock -u 8
}

# epochs_of CORPUS: its training epochs (a "budget" corpus: after budget CORPUS)
epochs_of() {
  local e=${EPOCHS_OF[$1]:-$DEFAULT_EPOCHS}
  if [ "$e" = budget ]; then
    "$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['epochs'])" "$OUT/$1/budget/budget.json"
  else echo "$e"; fi
}
# budget_if_asked CORPUS: run the corpus's budget if its epochs are "budget"
budget_if_asked() { [ "${EPOCHS_OF[$1]:-$DEFAULT_EPOCHS}" != budget ] || budget "$1"; }

# STORED_FILES: what a stored unit keeps (relative to the unit; the ones a unit has)
STORED_FILES=(eval eval-valid diagnose.json diagnose.txt heads.txt export/proact.json run/metrics.jsonl run/config.ini
  train.log export.log probe.log diagnose.log eval-valid.log eval-test.log)

# store_unit UNIT_DIR ARCHIVE / restore_unit UNIT_DIR ARCHIVE: scripts/study/store.py; a restored unit
# is marked stored.txt
store_unit() { "$PY" scripts/study/store.py pack "$1" "$2" "${STORED_FILES[@]}" >/dev/null; }
restore_unit() {
  rm -rf "$1" "$1.tmp"
  "$PY" scripts/study/store.py unpack "$2" "$1"
}

# stored_budget CORPUS: true if OUT has the corpus's budget.json from the store (copied now if it had none)
stored_budget() {
  local B=$OUT/$1/budget
  [ -n "$STORE" ] && [ -f "$STORE/$1/budget.json" ] || return 1
  [ -f "$B/budget.json" ] && return 0
  log "$1: the budget from the store, $STORE/$1/budget.json"
  mkdir -p "$B"
  cp "$STORE/$1/budget.json" "$B/budget.json"
}

# archive_of CORPUS VARIANT SEED: the unit's archive in the store ("" without --store)
archive_of() { echo "${STORE:+$STORE/$1/$2-seed$3.tar.xz}"; }

# stored_unit CORPUS VARIANT SEED: true if the unit is one taken from the store (restored now if the
# store has it and OUT has not its evaluation)
stored_unit() {
  local U=$OUT/$1/$2/seed$3 A
  A=$(archive_of "$@")
  [ ! -f "$U/stored.txt" ] || return 0
  [ -n "$A" ] && [ -f "$A" ] || return 1
  [ ! -f "$U/eval/curve.csv" ] || return 1 # run here: its own files
  log "$1/$2/seed$3: from the store, $A"
  restore_unit "$U" "$A"
  stored_budget "$1" || true # the epochs it was trained for
}

# unit CORPUS VARIANT SEED: every stage not done yet
unit() {
  local corpus=$1 v=$2 seed=$3 C=$OUT/$1
  local U=$C/$v/seed$seed A
  A=$(archive_of "$@")
  ! stored_unit "$@" || return 0
  mkdir -p "$U"
  prepare "$corpus"
  budget_if_asked "$corpus"
  local epochs steps
  epochs=$(epochs_of "$corpus")
  steps=$("$PY" -c "import math, sys; print(math.ceil(float(sys.argv[1]) * int(sys.argv[2]) / int(sys.argv[3])))" \
    "$epochs" "$(pairs_of "$corpus")" "$BATCH")
  train_run "$corpus" "$v" "$seed" "$steps" 500 "$U/run" "$U/train.log"
  if [ ! -f "$U/export/proact.json" ]; then
    log "$corpus/$v/seed$seed: export"
    "$P" export --checkpoint "$U/run" -o "$U/export.tmp" >"$U/export.log" 2>&1
    rm -rf "$U/export"
    mv "$U/export.tmp" "$U/export"
  fi
  if [ "$v" != d ] && ! grep -q '"probe"' "$U/export/proact.json"; then
    log "$corpus/$v/seed$seed: probe ($PROBE_SAMPLES on-policy points)"
    "${MPIRUN[@]}" "$P" probe --model "$U/export" --data "$C/train.h5" --samples "$PROBE_SAMPLES" --seed "$seed" \
      --label "$PROBE_LABEL" --policy band:1:3 \
      >"$U/probe.log" 2>&1
  fi
  if [ ! -f "$U/diagnose.json" ]; then
    log "$corpus/$v/seed$seed: diagnose on $VALID_LIMIT validation pairs"
    "$P" diagnose --model "$U/export" --data "$C/valid.h5" --limit "$VALID_LIMIT" --quantiles 100 --json "$U/diagnose.json.tmp" \
      >"$U/diagnose.txt" 2>"$U/diagnose.log"
    mv "$U/diagnose.json.tmp" "$U/diagnose.json"
  fi
  "$PY" scripts/study/heads.py --variant "$v" "$U/diagnose.json" >"$U/heads.txt"
  local heads stamp
  heads=$(cat "$U/heads.txt")
  stamp="$heads --weights $EVAL_WEIGHTS" # an evaluation with other heads or weights is redone
  for split in valid test; do
    local E=$U/eval-$split limit=()
    [ "$split" = test ] && E=$U/eval
    [ "$split" = valid ] && limit=(--limit "$VALID_LIMIT")
    eval_by_head "$corpus/$v/seed$seed: eval $split" "$U/export" "$E" "$U/eval-$split.log" "$stamp" "$heads" \
      --data "$C/$split.h5" "${limit[@]}" --weights "$EVAL_WEIGHTS"
  done
  if [ -n "$A" ] && [ ! -f "$A" ]; then
    log "$corpus/$v/seed$seed: stored in $A"
    store_unit "$U" "$A"
  fi
}

report() {
  local u c
  for c in $CORPORA; do stored_budget "$c" || true; done
  for u in "${UNITS[@]}"; do
    # shellcheck disable=SC2086 # "corpus variant seed"
    stored_unit $u || true
  done
  log "report"
  "$PY" scripts/reproduce_report.py --out "$OUT" --corpora "$CORPORA" --bootstrap "$BOOTSTRAP"
}

main() {
  t_start=$(date +%s)
  case "$MODE" in
    prepare) for c in $CORPORA; do prepare "$c"; budget_if_asked "$c"; done ;;
    report) report ;;
    unit)
      [ "$UNIT" -ge 0 ] && [ "$UNIT" -lt "${#UNITS[@]}" ] || { echo "reproduce: --unit $UNIT is outside 0..$((${#UNITS[@]} - 1))" >&2; exit 2; }
      # shellcheck disable=SC2086 # "corpus variant seed"
      unit ${UNITS[$UNIT]} ;;
    all)
      for u in "${UNITS[@]}"; do
        # shellcheck disable=SC2086
        unit $u
      done
      log "all ${#UNITS[@]} units done in $(( ($(date +%s) - t_start) / 60 )) min"
      report ;;
  esac
}
# one line: a run already reading this file has read its end (an edited script cannot misread)
main; exit $?
