# shellcheck shell=bash
# slurm_lib.sh — a real one-node Slurm cluster for the tests (scripts/slurm-local.sh), stopped on
# every exit, and helpers to wait for jobs. Source after tests/jobs/lib.sh.
if ! "$SRC/scripts/slurm-local.sh" check; then
  echo "SKIP: Slurm cannot run here (scripts/install-deps.sh installs slurm-wlm and munge)"
  exit 77
fi
# munged, as user munge, must reach the cluster directory: its parents must be searchable
CLUSTER=$(mktemp -d /tmp/proact-slurm.XXXXXX)
chmod 755 "$CLUSTER"
cleanup() {
  "$SRC/scripts/slurm-local.sh" stop "$CLUSTER/c" || true
  rm -rf "$WORK" "$CLUSTER"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! cluster_env=$("$SRC/scripts/slurm-local.sh" start "$CLUSTER/c"); then
  tail -n 15 "$CLUSTER"/c/log/*.log # what the daemons said, before cleanup removes them
  exit 1
fi
eval "$cluster_env"
export PROACT OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# job_states ID: "ID STATE" for the job, or for every task of an array job
job_states() { scontrol show job -o "$1" | sed -E 's/^JobId=[0-9]+ .*ArrayJobId=([0-9]+) ArrayTaskId=([0-9]+) .*JobState=([A-Z_]+).*/\1_\2 \3/; s/^JobId=([0-9]+) .*JobState=([A-Z_]+).*/\1 \2/'; }
export -f job_states # the checks run it in bash -c

# wait_jobs SECONDS ID...: waits until none of the jobs is pending, running or completing
wait_jobs() {
  local limit=$1 ids t=0; shift
  [ $# -gt 0 ] || { echo "FAIL: no job ids to wait for"; return 1; }
  ids=$(IFS=,; echo "$*")
  while [ -n "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ]; do
    t=$((t + 1))
    if [ $t -gt $((limit * 2)) ]; then
      echo "FAIL: jobs $ids still queued after $limit s:"; squeue -j "$ids"; return 1
    fi
    sleep 0.5
  done
}

# all_completed ID...: every job (every array task) ended COMPLETED; otherwise shows which did not
all_completed() {
  local id bad=0
  [ $# -gt 0 ] || { echo "  no job ids"; return 1; }
  for id in "$@"; do
    while read -r job state; do
      [ "$state" = COMPLETED ] || { echo "  job $job: $state"; bad=1; }
    done < <(job_states "$id")
  done
  return $bad
}
