#!/usr/bin/env bash
# Submits the reproduction study (scripts/reproduce.sh) to Slurm as a job array and prints the job ids:
#   prepare (tokenizers, shards, and the budget run of a corpus whose epochs are "budget") -> units (array: one task per corpus x variant x seed, each
#   train -> export -> probe -> diagnose -> eval) -> report (after every unit, even failed ones:
#   it reports what exists and what is missing)
# Run it where sbatch works. Re-submitting continues a study: finished stages are skipped.
#
#   slurm/study.sh [--max-parallel N] [--time T] [--sbatch "OPTS"] [reproduce.sh options]
#
#   --max-parallel N   array tasks running at once (default: no limit)
#   --time T           time limit of each unit task (default: the partition's; a unit that hits
#                      it continues when the study is submitted again)
#   --sbatch "OPTS"    more options for every sbatch (e.g. "--partition=cpu --account=proj")
#   reproduce.sh options (--out, --corpora, --variants, --seeds, --epochs, --ranks, ...) are passed
#   to every job; --ranks N is also the --ntasks of the prepare job and of each unit task (default 2).
# Environment: PROACT (default: build/proact of this checkout), PROACT_SRUN_MPI (default pmix).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
die() { echo "study: $*" >&2; exit 1; }
max_parallel='' time='' sbatch_opts=() pass=() ranks=2 out=runs/reproduce
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
  case "$1" in
    --max-parallel) max_parallel=$2 ;;
    --time) time=$2 ;;
    --sbatch) read -r -a more <<<"$2"; sbatch_opts+=("${more[@]}") ;;
    --ranks) ranks=$2; pass+=("$1" "$2") ;;
    --out) out=$2 ;;
    *) pass+=("$1" "$2") ;;
  esac
  shift 2
done
command -v sbatch >/dev/null || die "sbatch not found: run this where Slurm's commands work (or scripts/slurm-local.sh)"
[ -n "${PROACT:-}" ] || PROACT=$root/build/proact
[ -x "$PROACT" ] || die "$PROACT: no proact binary (build it with cmake, or set PROACT)"
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
pass+=(--out "$out")
n_units=$("$root/scripts/reproduce.sh" "${pass[@]}" --list-units | wc -l)
[ "$n_units" -gt 0 ] || die "no units: check --corpora, --variants and --seeds"
export PROACT PROACT_ROOT=$root
common=(--parsable --kill-on-invalid-dep=yes "${sbatch_opts[@]}")
prepare_id=$(sbatch "${common[@]}" --job-name=proact-study-prepare --ntasks="$ranks" --output="$out/logs/%x-%j.out" \
  "$here/study.sbatch" --prepare "${pass[@]}" | cut -d';' -f1)
units_id=$(sbatch "${common[@]}" --job-name=proact-study-unit --dependency="afterok:$prepare_id" \
  --array="0-$((n_units - 1))${max_parallel:+%$max_parallel}" --ntasks="$ranks" ${time:+--time="$time"} \
  --output="$out/logs/%x-%A_%a.out" "$here/study.sbatch" --unit-from-array "${pass[@]}" | cut -d';' -f1)
report_id=$(sbatch "${common[@]}" --job-name=proact-study-report --ntasks=1 --dependency="afterany:$units_id" \
  --output="$out/logs/%x-%j.out" "$here/study.sbatch" --report "${pass[@]}" | cut -d';' -f1)
{
  echo "prepare $prepare_id"
  echo "units $units_id"
  echo "report $report_id"
} | tee "$out/jobs.txt"
echo "study: $n_units units; logs in $out/logs; report in $out/report.md" >&2
