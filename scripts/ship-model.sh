#!/usr/bin/env bash
# Builds the shipped en->de streaming model (models/en-de-streaming, and models/en-de-waitk beside it
# when both fit in 60 MB) from scratch on this machine, in stages that resume where they stopped
# (docs/en-de-model.md). Every stage leaves its output under OUT and is skipped once done; a training
# run that was interrupted resumes from its last checkpoint, bit-exactly.
#
#   data       scripts/fetch-data.sh --pretrain: the pretraining corpus and the study corpora
#   tokenizer  a byte-level BPE of --vocab tokens learned on the pretraining pairs; token shards of
#              the pretraining pairs, of the fine-tuning pairs (LibreOffice help + Ding training
#              splits) and of every validation and test split of the two corpora (all their pairs)
#   scaling    each size of configs/en-de/pretrain-SIZE.ini trained for --trial-minutes at a constant
#              learning rate (steps from a 40-step speed measurement), then scripts/study/scaling.py
#              fits loss against compute and chooses the size that --pretrain-minutes serves best
#   pretrain   the chosen size (or --size) for --pretrain-minutes of steps at its measured speed,
#              cosine schedule, a checkpoint and a validation loss every ~5 minutes; the checkpoint
#              with the lowest validation loss is exported: OUT/base/export
#   finetune   two fine-tunes from the base on the same pairs (configs/en-de/finetune-*.ini):
#              proactive (random schedules + self-distillation: the policy study's best) and waitk
#              (wait-3, student only), --finetune-epochs each with validation every half epoch; the
#              checkpoint with the lowest validation loss (the student's) is exported
#   probe      the probe head of the proactive model, fitted on-policy (band 1..3, as the study)
#   eval       per corpus, the study's layout OUT/study/CORPUS/{a,c,d}/seed1 (a = proactive, c = waitk,
#              d = base): proact diagnose on validation pairs; the heads of the study's best families
#              (scripts/study/heads.py --kinds) evaluated on the first --valid-limit validation pairs
#              and on every test pair
#   report     scripts/reproduce_report.py on OUT/study (frontiers, LAAL at equal BLEU, bootstrap CIs
#              over sentences) and scripts/study/shipped.py: the default head (chosen on validation),
#              OUT/shipped.json (summary.json's "shipped" key) and OUT/shipped.md
#   ship       MODELS/en-de-streaming: bf16 export with the probe and the default head, a model card
#              (README.md) and a reference stream the smoke test replays (reference/); en-de-waitk too
#
# Usage: scripts/ship-model.sh [--stage NAME] [--out DIR] [--data DIR] [--models DIR] [--sizes "5m 12m 25m"]
#          [--size S] [--trial-minutes M] [--pretrain-minutes M] [--finetune-epochs E] [--ranks N]
#          [--vocab N] [--valid-limit N] [--test-limit N] [--probe-samples N] [--bootstrap N] [--configs DIR]
#   defaults: every stage in order, runs/en-de, data/, models/, sizes 5m 12m 25m chosen by measurement,
#   12-minute trials, a 120-minute pretraining run, 2 fine-tuning epochs, batches of 32 pairs, 2 ranks,
#   vocabulary 8192, 300 validation pairs per corpus, all test pairs, 4000 probe points, 1000 bootstrap replicates,
#   the configs configs/en-de/{pretrain-SIZE,finetune-proactive,finetune-waitk}.ini.
#   --stage NAME  run only that stage (the ones before it must be done)
# The trials and the pretraining run measure wall-clock time: run them on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES="data tokenizer scaling pretrain finetune probe eval report ship"
STAGE=all OUT=runs/en-de DATA=data MODELS=models SIZES="5m 12m 25m" SIZE='' TRIAL_MIN=12 PRETRAIN_MIN=120
FT_EPOCHS=2 RANKS=2 BATCH=32 VOCAB=8192 VALID_LIMIT=300 TEST_LIMIT='' PROBE_SAMPLES=4000 BOOTSTRAP=1000
CORPORA="libreoffice-en-de ding-en-de" CONFIGS=configs/en-de TRAIN_TOKENS=96 EVAL_TOKENS=256 EVAL_WEIGHTS=bf16
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
  case "$1" in
    --stage) STAGE=$2 ;;
    --out) OUT=$2 ;;
    --data) DATA=$2 ;;
    --models) MODELS=$2 ;;
    --sizes) SIZES=$2 ;;
    --size) SIZE=$2 ;;
    --trial-minutes) TRIAL_MIN=$2 ;;
    --pretrain-minutes) PRETRAIN_MIN=$2 ;;
    --finetune-epochs) FT_EPOCHS=$2 ;;
    --ranks) RANKS=$2 ;;
    --vocab) VOCAB=$2 ;;
    --valid-limit) VALID_LIMIT=$2 ;;
    --test-limit) TEST_LIMIT=$2 ;;
    --probe-samples) PROBE_SAMPLES=$2 ;;
    --bootstrap) BOOTSTRAP=$2 ;;
    --configs) CONFIGS=$2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift 2
done
[ "$STAGE" = all ] || [[ " $STAGES " == *" $STAGE "* ]] || { echo "ship-model: --stage $STAGE: one of $STAGES" >&2; exit 2; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun -np "$RANKS" --oversubscribe)
P=${PROACT:-$PWD/build/proact}
PY=/usr/bin/python3
D=$OUT/data
log() { echo "[$(date +%H:%M:%S)] $*"; }
die() { echo "ship-model: $*" >&2; exit 1; }
if [ -z "${PROACT:-}" ]; then
  ./scripts/install-deps.sh >/dev/null
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target proact_bin >/dev/null
fi
mkdir -p "$OUT" "$D"

# timed LABEL CMD...: runs CMD, adding its wall-clock seconds and cores (ranks under mpirun, else 1)
# to OUT/cost.tsv: the recipe's cost in core-hours
timed() {
  local label=$1 t0 rc=0 cores=1
  shift
  [ "$1" != mpirun ] || cores=$RANKS
  t0=$(date +%s%N)
  "$@" || rc=$?
  printf '%s\t%s\t%s\n' "$label" "$cores" "$(( ($(date +%s%N) - t0) / 1000000 ))e-3" >>"$OUT/cost.tsv"
  return $rc
}
mpi_job() { timed "$1" "${MPIRUN[@]}" "$P" "${@:2}"; }
# shellcheck source=scripts/study/runs.sh
source scripts/study/runs.sh
json_get() { "$PY" -c "import json, sys; v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)" "$@"; }
vocab_of() { "$PY" scripts/study/vocab_size.py "$OUT/tokenizer.json"; }
# pairs_in NAME: the pairs D/NAME.h5 kept (from its prepare log)
pairs_in() { sed -n 's/.*: kept \([0-9]*\) of .*/\1/p' "$D/prepare-$1.log"; }

# shard NAME MAX_TOKENS TSV...: D/NAME.h5 from the concatenated TSVs, with the shipped tokenizer
shard() {
  local name=$1 max=$2
  shift 2
  [ ! -f "$D/$name.h5" ] || return 0
  cat "$@" >"$D/$name.tsv"
  "$P" prepare --input "$D/$name.tsv" --tokenizer "$OUT/tokenizer.json" --max-tokens "$max" --src-lang en \
    --tgt-lang de -o "$D/$name.h5.tmp" >"$D/prepare-$name.log" 2>&1 || { cat "$D/prepare-$name.log" >&2; exit 1; }
  mv "$D/$name.h5.tmp" "$D/$name.h5"
}

stage_data() {
  [ -f "$DATA/en-de-pretrain/train.tsv" ] || [ "$DATA" != data ] || ./scripts/fetch-data.sh --pretrain
  for f in en-de-pretrain/train.tsv en-de-pretrain/valid.tsv $(for c in $CORPORA; do echo "$c/train.tsv $c/valid.tsv $c/test.tsv"; done); do
    [ -f "$DATA/$f" ] || die "$DATA/$f: missing (scripts/fetch-data.sh --pretrain makes it)"
  done
}

stage_tokenizer() {
  if [ ! -f "$OUT/tokenizer.json" ]; then
    log "tokenizer: byte-level BPE of $VOCAB tokens on $DATA/en-de-pretrain/train.tsv"
    "$P" tokenizer train --vocab-size "$VOCAB" -o "$OUT/tokenizer.json.tmp" "$DATA/en-de-pretrain/train.tsv" >"$OUT/tokenizer.log" 2>&1
    mv "$OUT/tokenizer.json.tmp" "$OUT/tokenizer.json"
  fi
  log "shards (training pairs of at most $TRAIN_TOKENS tokens a side; every validation and test pair)"
  shard pretrain.train "$TRAIN_TOKENS" "$DATA/en-de-pretrain/train.tsv"
  shard pretrain.valid "$TRAIN_TOKENS" "$DATA/en-de-pretrain/valid.tsv"
  shard finetune.train "$TRAIN_TOKENS" $(for c in $CORPORA; do echo "$DATA/$c/train.tsv"; done)
  shard finetune.valid "$TRAIN_TOKENS" $(for c in $CORPORA; do echo "$DATA/$c/valid.tsv"; done)
  for c in $CORPORA; do
    shard "$c.valid" "$EVAL_TOKENS" "$DATA/$c/valid.tsv"
    shard "$c.test" "$EVAL_TOKENS" "$DATA/$c/test.tsv"
  done
}

# train_run LABEL DIR STEPS CONFIG [--set ...]: train (or resume) until DIR/model exists
train_run() {
  local label=$1 dir=$2 steps=$3 config=$4
  shift 4
  train_or_resume "$label" "$dir" "$steps" "$dir.log" --config "$config" --set model.vocab_size="$(vocab_of)" \
    --set data.tokenizer="$OUT/tokenizer.json" --set train.global_batch="$BATCH" "$@"
}

# export_best RUN_DIR OUT_DIR: export the run's kept checkpoint with the lowest student validation loss, once
export_best() {
  [ ! -f "$2/proact.json" ] || return 0
  local ck
  ck=$("$PY" scripts/study/shipped.py --out "$OUT" --best-checkpoint "$1")
  log "export $ck -> $2"
  "$P" export --checkpoint "$ck" -o "$2.tmp" >"$2.log" 2>&1 || { cat "$2.log" >&2; exit 1; }
  rm -rf "$2"
  mv "$2.tmp" "$2"
}

stage_scaling() {
  local S=$OUT/scaling
  for s in $SIZES; do
    local T=$S/$s
    mkdir -p "$T"
    if [ ! -f "$T/speed.json" ]; then # seconds per step, measured over steps 10..40
      log "scaling $s: speed over 40 steps"
      rm -rf "$T/speed"
      train_run "speed $s" "$T/speed" 40 "$CONFIGS/pretrain-$s.ini" --set data.train="$D/pretrain.train.h5" \
        --set data.valid= --set train.log_every=10 --set checkpoint.every=0 --set checkpoint.keep=1
      "$PY" - "$T/speed/metrics.jsonl" "$T/speed.json" <<'PY'
import json, sys
t = {r["step"]: r["elapsed_s"] for r in map(json.loads, open(sys.argv[1])) if "elapsed_s" in r}
json.dump({"s_per_step": (t[40] - t[10]) / 30}, open(sys.argv[2], "w"))
PY
      rm -rf "$T/speed"
    fi
    local steps
    steps=$("$PY" -c "import sys; print(max(40, round(float(sys.argv[1]) * 60 / float(sys.argv[2]))))" \
      "$TRIAL_MIN" "$(json_get "$T/speed.json" s_per_step)")
    train_run "scaling $s" "$T/run" "$steps" "$CONFIGS/pretrain-$s.ini" --set data.train="$D/pretrain.train.h5" \
      --set data.valid="$D/pretrain.valid.h5" --set train.eval_every=$(( (steps + 9) / 10 )) \
      --set optim.decay_steps=$((steps * 1000)) --set checkpoint.every=$(( (steps + 3) / 4 )) --set checkpoint.keep=1
  done
  "$PY" scripts/study/scaling.py "$S" --sizes "$SIZES" --target-minutes "$PRETRAIN_MIN" -o "$S/scaling.json.tmp" \
    --table "$S/scaling.md" >/dev/null
  mv "$S/scaling.json.tmp" "$S/scaling.json"
  log "scaling: chosen size $(json_get "$S/scaling.json" chosen) for $PRETRAIN_MIN minutes ($S/scaling.md)"
}

stage_pretrain() {
  local B=$OUT/base size=$SIZE steps every
  mkdir -p "$B"
  if [ ! -f "$B/plan.json" ]; then
    [ -n "$size" ] || size=$(json_get "$OUT/scaling/scaling.json" chosen)
    "$PY" - "$OUT/scaling/scaling.json" "$size" "$PRETRAIN_MIN" "$B/plan.json" <<'PY'
import json, sys
scaling, size, minutes, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
trial = next((r for r in json.load(open(scaling))["sizes"] if r["size"] == size), None)
if trial is None:
    sys.exit(f"ship-model: no scaling trial of size {size} in {scaling}")
steps = max(40, round(minutes * 60 / trial["s_per_step"]))  # a floor for toy runs
json.dump({"size": size, "minutes": minutes, "s_per_step": trial["s_per_step"], "steps": steps}, open(out, "w"))
PY
  fi
  size=$(json_get "$B/plan.json" size) steps=$(json_get "$B/plan.json" steps)
  every=$(( (steps + 23) / 24 )) # about every 5 minutes of a 2-hour run
  train_run "pretrain $size" "$B/run" "$steps" "$CONFIGS/pretrain-$size.ini" --set data.train="$D/pretrain.train.h5" \
    --set data.valid="$D/pretrain.valid.h5" --set train.eval_every="$every" --set checkpoint.every="$every" --set checkpoint.keep=3
  export_best "$B/run" "$B/export"
}

stage_finetune() {
  local pairs spe steps half
  pairs=$(pairs_in finetune.train)
  spe=$(( (pairs + BATCH - 1) / BATCH ))
  steps=$("$PY" -c "import math, sys; print(math.ceil(float(sys.argv[1]) * int(sys.argv[2])))" "$FT_EPOCHS" "$spe")
  half=$(( (spe + 1) / 2 ))
  for ft in proactive waitk; do
    train_run "finetune $ft" "$OUT/$ft/run" "$steps" "$CONFIGS/finetune-$ft.ini" --set model.init="$OUT/base/export" \
      --set data.train="$D/finetune.train.h5" --set data.valid="$D/finetune.valid.h5" \
      --set train.eval_every="$half" --set checkpoint.every="$half" --set checkpoint.keep=$(( steps / half + 2 ))
    export_best "$OUT/$ft/run" "$OUT/$ft/export"
  done
}

stage_probe() {
  grep -q '"probe"' "$OUT/proactive/export/proact.json" && return 0
  log "probe of the proactive model ($PROBE_SAMPLES on-policy points, band 1..3)"
  timed probe "${MPIRUN[@]}" "$P" probe --model "$OUT/proactive/export" --data "$D/finetune.train.h5" \
    --samples "$PROBE_SAMPLES" --seed 1 --label agree --policy band:1:3 >"$OUT/probe.log" 2>&1 || { cat "$OUT/probe.log" >&2; exit 1; }
}

# the study's model letters: a = the proactive fine-tune, c = the wait-k fine-tune, d = the base
declare -A MODEL_OF=([a]=proactive [c]=waitk [d]=base) KINDS_OF=([a]=waitk,probe,offline [c]=waitk,offline [d]=offline)
stage_eval() {
  local c v U heads split E limit
  for c in $CORPORA; do
    for v in a c d; do
      U=$OUT/study/$c/$v/seed1
      mkdir -p "$U"
      if [ ! -f "$U/diagnose.json" ]; then
        log "$c/$v: diagnose on $VALID_LIMIT validation pairs"
        timed diagnose "$P" diagnose --model "$OUT/${MODEL_OF[$v]}/export" --data "$D/$c.valid.h5" --limit "$VALID_LIMIT" \
          --quantiles 100 --json "$U/diagnose.json.tmp" >"$U/diagnose.txt" 2>"$U/diagnose.log"
        mv "$U/diagnose.json.tmp" "$U/diagnose.json"
      fi
    done
  done
  # one head grid for both corpora (from the proactive model's diagnose on the first corpus), so that
  # the default head is chosen on the pooled validation pairs
  local first=${CORPORA%% *}
  for v in a c d; do
    "$PY" scripts/study/heads.py --variant "$v" --kinds "${KINDS_OF[$v]}" "$OUT/study/$first/a/seed1/diagnose.json" >"$OUT/heads-$v.txt"
  done
  for c in $CORPORA; do
    for v in a c d; do
      U=$OUT/study/$c/$v/seed1 heads=$(cat "$OUT/heads-$v.txt")
      for split in valid test; do
        E=$U/eval-$split limit=()
        [ "$split" = test ] && E=$U/eval
        [ "$split" = valid ] && limit=(--limit "$VALID_LIMIT")
        [ "$split" = test ] && [ -n "$TEST_LIMIT" ] && limit=(--limit "$TEST_LIMIT")
        eval_by_head "eval $split" "$OUT/${MODEL_OF[$v]}/export" "$E" "$U/eval-$split.log" "$heads ${limit[*]}" "$heads" \
          --data "$D/$c.$split.h5" "${limit[@]}" --weights "$EVAL_WEIGHTS"
      done
    done
  done
}

stage_report() {
  log "report: OUT/study/report.md, OUT/shipped.json, OUT/shipped.md"
  "$PY" scripts/reproduce_report.py --out "$OUT/study" --corpora "$CORPORA" --variants a,c,d --seeds 1 --compared a \
    --reference c:waitk:3 --baseline c:waitk --headline-model a --bootstrap "$BOOTSTRAP" >"$OUT/report.log"
  "$PY" scripts/study/shipped.py --out "$OUT" --corpora "$CORPORA" --models "$MODELS" --data "$DATA"
}

stage_ship() {
  [ -f "$OUT/shipped.json" ] || die "$OUT/shipped.json: run the report stage first"
  local name src M bytes total=0
  for name in en-de-streaming en-de-waitk; do
    src=$OUT/proactive/export
    [ "$name" = en-de-waitk ] && src=$OUT/waitk/export
    M=$MODELS/$name
    log "ship $src -> $M (bf16, default head $(cat "$OUT/default_head-$name.txt"))"
    rm -rf "$M.tmp"
    mkdir -p "$MODELS"
    "$P" export --model "$src" --dtype bf16 --default-head "$(cat "$OUT/default_head-$name.txt")" -o "$M.tmp" \
      >"$OUT/ship-$name.log" 2>&1 || { cat "$OUT/ship-$name.log" >&2; exit 1; }
    mkdir -p "$M.tmp/reference"
    for c in $CORPORA; do head -3 "$DATA/$c/test.tsv" | cut -f1; done >"$M.tmp/reference/input.txt"
    scripts/reference-stream.sh --record "$P" "$M.tmp"
    "$PY" scripts/study/shipped.py --out "$OUT" --corpora "$CORPORA" --card "$name" >"$M.tmp/README.md"
    rm -rf "$M"
    mv "$M.tmp" "$M"
    bytes=$(du -sb "$M" | cut -f1) total=$((total + bytes))
    if [ "$name" = en-de-waitk ] && [ "$total" -gt 60000000 ]; then
      log "both models take $((total / 1000000)) MB, over 60 MB: en-de-waitk is not shipped"
      rm -rf "$M"
    fi
  done
}

main() {
  for s in $STAGES; do
    if [ "$STAGE" = all ] || [ "$STAGE" = "$s" ]; then "stage_$s"; fi
  done
  log "done: $STAGE"
}
# one line: a run already reading this file has read its end (an edited script cannot misread)
main; exit $?
