#!/usr/bin/env bash
# Submits the whole proact job chain to Slurm and prints the job ids:
#   prepare -> train -> export -> probe -> eval (array, one head per task) -> merge
# each step starting only after the previous one succeeded (--dependency=afterok; a failed step
# cancels the rest, --kill-on-invalid-dep). Run it where sbatch works (a login node).
# A fine-tune is a second pipeline: --init-from the first one's RUN/model, --after its export job.
#
#   slurm/pipeline.sh --config FILE --run DIR [options]
#
#   --config FILE        training config (model, data, schedule; see docs/configuration.md)
#   --set section.key=V  config override, repeatable (e.g. train.steps=2000)
#   --run DIR            everything goes here: data/ (token shards), train/ (checkpoints, metrics),
#                        model/ (the exported model + probe), eval/ (results), logs/, jobs.txt
#   --test FILE          evaluation pairs (.tsv or .h5; default: the config's data.valid)
#   --heads LIST         decision heads to evaluate, one array task each
#                        (default: waitk:1,waitk:3,waitk:5,entropy:3.5,entropy:4.5,maxprob:0.3,probe:0.75,offline)
#   --limit N            evaluate the first N test sentences (default: all)
#   --probe-samples N    decision points for the probe fit (default 4000)
#   --probe-label L      what the probe is fitted to: agree (default) | p-teacher | kl (proact probe --label)
#   --nodes N            nodes for training (default 1)
#   --ntasks-per-node N  MPI ranks per node for training (default 2)
#   --cpus-per-task N    BLAS threads per rank, for training, probe and eval (default 1)
#   --eval-tasks N       MPI ranks of each eval array task and of the probe (default 1 and 2)
#   --time T             time limit of the training job (sbatch --time; default: the partition's)
#   --signal-before S    seconds before the time limit at which training checkpoints and requeues (default 300)
#   --sbatch "OPTS"      more options for every sbatch (e.g. "--partition=cpu --account=proj")
#   --init-from DIR      fine-tune an exported model (weights, tokenizer.json): train gets
#                        --set model.init=DIR (absolute); the .tsv data is tokenized with
#                        DIR/tokenizer.json, and data.tokenizer must be the same tokenizer (the same
#                        `proact tokenize --fingerprint`) or the pipeline stops naming both
#   --after JOBID        the first job waits until job JOBID succeeded (afterok), e.g. the export job
#                        of the pipeline that writes the --init-from model: DIR need not exist yet,
#                        and its tokenizer is then looked up and compared when the prepare job runs
#   --no-probe           no probe job (e.g. an offline model): the eval array follows the export;
#                        the default --heads then leave out probe:0.75
#   --export-dtype D     weights of the exported model: f32 (default) or bf16 (proact export --dtype)
#
# Environment: PROACT (the proact binary; default: build/proact of this checkout, else proact on
# PATH), PROACT_SRUN_MPI (srun --mpi type, default pmix). Every job inherits the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "pipeline: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

config='' run='' test='' limit='' heads='' sets=() sbatch_opts=()
init_from='' after='' probe=1 export_dtype=f32
probe_samples=4000 probe_label=agree nodes=1 ntasks_per_node=2 cpus=1 eval_tasks=1 probe_tasks=2 time='' signal_before=300
while [ $# -gt 0 ]; do
  if [ "$1" = --no-probe ]; then probe=0; shift; continue; fi
  [ $# -ge 2 ] || { [ "$1" = -h ] || [ "$1" = --help ] || echo "pipeline: $1 needs a value" >&2; usage; }
  case "$1" in
    --config) config=$2 ;;
    --set) sets+=(--set "$2") ;;
    --run) run=$2 ;;
    --test) test=$2 ;;
    --heads) heads=$2 ;;
    --limit) limit=$2 ;;
    --probe-samples) probe_samples=$2 ;;
    --probe-label) probe_label=$2 ;;
    --nodes) nodes=$2 ;;
    --ntasks-per-node) ntasks_per_node=$2 ;;
    --cpus-per-task) cpus=$2 ;;
    --eval-tasks) eval_tasks=$2 probe_tasks=$2 ;;
    --time) time=$2 ;;
    --signal-before) signal_before=$2 ;;
    --sbatch) read -r -a more <<<"$2"; sbatch_opts+=("${more[@]}") ;;
    --init-from) init_from=$2 ;;
    --after) after=$2 ;;
    --export-dtype) export_dtype=$2 ;;
    *) echo "pipeline: unknown option $1" >&2; usage ;;
  esac
  shift 2
done
[ -n "$config" ] && [ -n "$run" ] || { echo "pipeline: --config and --run are required" >&2; usage; }
[ -f "$config" ] || die "$config: no such config file"
case "$export_dtype" in f32 | bf16) ;; *) die "--export-dtype must be f32 or bf16 (got '$export_dtype')" ;; esac
[ -z "$after" ] || [[ "$after" =~ ^[0-9]+(_[0-9]+)?$ ]] || die "--after takes a job id (got '$after')"
if [ -z "$heads" ]; then
  heads=waitk:1,waitk:3,waitk:5,entropy:3.5,entropy:4.5,maxprob:0.3,probe:0.75,offline
  [ "$probe" -eq 1 ] || heads=${heads/probe:0.75,/}
elif [ "$probe" -eq 0 ] && [[ ",$heads" == *,probe:* ]]; then
  die "--heads $heads: a probe head needs the probe job: drop it, or leave out --no-probe"
fi
if [ -n "$init_from" ]; then # absolute, though it may not exist yet (--after)
  init_from=$(realpath -ms -- "$init_from")
  [ -n "$after" ] || [ -f "$init_from/config.json" ] ||
    die "--init-from $init_from: no exported model there (no config.json); if a job will write it, give that job with --after JOBID"
fi
command -v sbatch >/dev/null || die "sbatch not found: run this where Slurm's commands work (or scripts/slurm-local.sh)"

if [ -z "${PROACT:-}" ]; then
  if [ -x "$here/../build/proact" ]; then PROACT=$(cd "$here/../build" && pwd)/proact
  else PROACT=$(command -v proact) || die "no proact binary: build it (cmake) or set PROACT"; fi
fi
export PROACT

# The data the config names, resolved with the overrides, as absolute paths for the jobs.
resolved=$("$PROACT" train --config "$config" "${sets[@]}" --print-config) || die "$config: the config does not resolve"
key() { awk -v s="[$1]" -v k="$2" '/^\[/ { in_s = ($0 == s) } in_s && $1 == k && $2 == "=" { sub(/^[^=]*= ?/, ""); print; exit }' <<<"$resolved"; }
abs() { [ -z "$1" ] || echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[ "$(key data source)" = pairs ] || die "$config: the pipeline trains on pairs (data.source = pairs)"
train_data=$(key data train) valid_data=$(key data valid) tokenizer=$(key data tokenizer)
[ -n "$test" ] || test=$valid_data
[ -n "$test" ] || die "no test data: give --test or set data.valid"
for f in "$train_data" "$test" ${valid_data:+"$valid_data"}; do [ -f "$f" ] || die "$f: no such data file"; done
train_data=$(abs "$train_data") valid_data=$(abs "$valid_data") test=$(abs "$test") config=$(abs "$config")
to_prepare=() # every .tsv, once: the training run reads .h5 directly
for f in "$train_data" "$valid_data" "$test"; do
  case "$f" in "" | *.h5) ;; *) [[ " ${to_prepare[*]-} " == *" $f "* ]] || to_prepare+=("$f") ;; esac
done
[ ${#to_prepare[@]} -eq 0 ] || [ -n "$tokenizer" ] || die "$config: .tsv data needs data.tokenizer"
# A fine-tune's .tsv data is tokenized with the base's tokenizer. The prepare job compares it with
# data.tokenizer when it runs (after --after, the model is there by then); without --after, now too.
base_model=()
[ -z "$init_from" ] || base_model=(--base-model "$init_from")
if [ -n "$init_from" ] && [ -z "$after" ] && [ ${#to_prepare[@]} -gt 0 ]; then
  why=$(bash "$here/prepare.sbatch" --check --tokenizer "$(abs "$tokenizer")" "${base_model[@]}" 2>&1) ||
    { why=${why#prepare.sbatch: }; die "${why#error: }"; }
fi

mkdir -p "$run"/{data,logs}
run=$(cd "$run" && pwd)
common=(--parsable --kill-on-invalid-dep=yes "${sbatch_opts[@]}")
submit() { # submit NAME [sbatch options and script arguments]: prints the job id
  local name=$1; shift
  sbatch "${common[@]}" --job-name="proact-$name" --output="$run/logs/%x-%j.out" "$@" | cut -d';' -f1
}
h5_of() { case "$1" in *.h5) echo "$1" ;; *) echo "$run/data/$(basename "$1" .tsv).h5" ;; esac; }

# 1. token shards for every .tsv; the first job (this, or train) waits for --after
first_dep=()
[ -z "$after" ] || first_dep=(--dependency="afterok:$after")
dep=("${first_dep[@]}")
if [ ${#to_prepare[@]} -gt 0 ]; then
  prepare_id=$(submit prepare "${first_dep[@]}" "$here/prepare.sbatch" --tokenizer "$(abs "$tokenizer")" \
    "${base_model[@]}" --out-dir "$run/data" --template "$(key data template)" --max-tokens "$(key data max_tokens)" \
    "${to_prepare[@]}")
  dep=(--dependency="afterok:$prepare_id")
fi
data_sets=(--set "data.train=$(h5_of "$train_data")")
[ -z "$valid_data" ] || data_sets+=(--set "data.valid=$(h5_of "$valid_data")")
test_h5=$(h5_of "$test")

# 2. training: requeues itself on preemption and resumes from run/train; a fine-tune starts from the base
init_set=()
[ -z "$init_from" ] || init_set=(--set "model.init=$init_from")
train_opts=(--nodes="$nodes" --ntasks-per-node="$ntasks_per_node" --cpus-per-task="$cpus"
            --signal="B:USR1@$signal_before" ${time:+--time="$time"})
train_id=$(submit train "${dep[@]}" "${train_opts[@]}" "$here/train.sbatch" "$run/train" \
  --config "$config" "${sets[@]}" "${data_sets[@]}" "${init_set[@]}")
# 3-4. the model, then its probe head (written into model/proact.json)
export_id=$(submit export --dependency="afterok:$train_id" "$here/export.sbatch" "$run/train" "$run/model" \
  --dtype "$export_dtype")
before_eval=$export_id
if [ "$probe" -eq 1 ]; then
  probe_id=$(submit probe --dependency="afterok:$export_id" --ntasks="$probe_tasks" --cpus-per-task="$cpus" \
    "$here/probe.sbatch" "$run/model" "$(h5_of "$train_data")" --samples "$probe_samples" --label "$probe_label")
  before_eval=$probe_id
fi
# 5. one array task per head, then the merge into the curve
IFS=, read -r -a head_list <<<"$heads"
eval_id=$(sbatch "${common[@]}" --job-name=proact-eval --output="$run/logs/%x-%A_%a.out" \
  --dependency="afterok:$before_eval" --array="0-$((${#head_list[@]} - 1))" --ntasks="$eval_tasks" \
  --cpus-per-task="$cpus" "$here/eval.sbatch" "$run/model" "$test_h5" "$run/eval" "$heads" ${limit:+--limit "$limit"} |
  cut -d';' -f1)
merge_id=$(submit merge --dependency="afterok:$eval_id" "$here/eval.sbatch" --merge "$run/model" "$run/eval")

{
  [ -z "${prepare_id:-}" ] || echo "prepare $prepare_id"
  echo "train $train_id"
  echo "export $export_id"
  [ -z "${probe_id:-}" ] || echo "probe $probe_id"
  echo "eval $eval_id"
  echo "merge $merge_id"
} | tee "$run/jobs.txt"
echo "pipeline: ${#head_list[@]} heads; logs in $run/logs; results in $run/eval (summary.txt, curve.svg)" >&2
echo "pipeline: watch with: squeue -j $(awk '{ print $2 }' "$run/jobs.txt" | paste -sd,)" >&2
