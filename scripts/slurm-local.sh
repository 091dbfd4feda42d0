#!/usr/bin/env bash
# A real one-node Slurm cluster (munge + slurmctld + slurmd) in a directory of its own, for the
# tests and `scripts/demo.sh --slurm` (docs/design.md §6). Runs as root; needs Debian's slurm-wlm and munge
# (scripts/install-deps.sh installs them).
#
#   scripts/slurm-local.sh start DIR   starts the daemons with everything in DIR (config, key, state,
#                                      spool, logs), waits until the node is idle, and prints
#                                      `export SLURM_CONF=DIR/slurm.conf` for eval
#   scripts/slurm-local.sh stop DIR    cancels the cluster's jobs, stops the daemons, waits for them
#   scripts/slurm-local.sh check       exits 0 if this machine can run the cluster, else says why
#
# Ports are chosen free at start (and again if one is taken before the daemons bind it), so several
# clusters, or a system Slurm, can coexist. SLURM_LOCAL_PORT=P asks for P and P+1 first.
set -euo pipefail

die() { echo "slurm-local: $*" >&2; exit 1; }

can_run() {
  local tool
  for tool in munged slurmctld slurmd sbatch srun scontrol; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null 2>&1 ||
      { echo "slurm-local: '$tool' is not installed (Debian packages slurm-wlm munge)" >&2; return 1; }
  done
  [ "$(id -u)" -eq 0 ] || { echo "slurm-local: must run as root (the daemons switch to the munge user)" >&2; return 1; }
  id munge >/dev/null 2>&1 || { echo "slurm-local: no 'munge' user (is the munge package installed?)" >&2; return 1; }
}

# A TCP port that no socket uses, with the next one free too (slurmctld, slurmd). Below the
# kernel's ephemeral range, where outgoing connections (MPI's, say) would take ports meanwhile.
free_port_pair() {
  local p tries=0 low
  low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  while [ $tries -lt 200 ]; do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (low - 10002) ))
    if ! ss -Htan "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null | grep -q .; then echo "$p"; return; fi
    tries=$((tries + 1))
  done
  die "no free port pair found"
}

# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds; 1 when SECONDS have passed.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

start() {
  local dir=$1 host cpus mem port
  can_run || exit 1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -e "$dir/slurm.conf" ] || die "$dir already holds a cluster (stop it first: $0 stop $dir)"
  export PATH=$PATH:/usr/sbin
  host=$(hostname -s)
  # the machine's CPUs: nproc alone obeys OMP_NUM_THREADS (the tests set it to 1), and a node of
  # one CPU never starts an `srun -n 2`
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
  chmod 755 "$dir"
  local up=$dir
  while [ "$up" != / ]; do # munged, running as munge, must reach its socket and key
    up=$(dirname "$up")
    [ "$(( 0$(stat -c %a "$up") & 1 ))" -eq 1 ] ||
      die "$up is not searchable by other users (chmod o+x), so munged cannot reach $dir"
  done
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"

  # munge: the socket directory must be searchable by all, the key directory private to munge
  mkdir -m 755 "$dir/munge"
  mkdir -m 700 "$dir/munge/private"
  dd if=/dev/urandom of="$dir/munge/private/munge.key" bs=128 count=1 status=none
  chmod 400 "$dir/munge/private/munge.key"
  chown -R munge:munge "$dir/munge"
  runuser -u munge -- munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/private/munge.key" \
    --log-file="$dir/munge/private/munged.log" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/private/munged.seed" ||
    die "munged did not start (log: $dir/munge/private/munged.log)"

  write_conf() { cat >"$dir/slurm.conf" <<EOF
# one-node test cluster written by scripts/slurm-local.sh
ClusterName=proact
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=pmix
JobRequeue=1
ReturnToService=2
KillWait=30
MinJobAge=3600
SchedulerParameters=sched_interval=2,bf_interval=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE OverSubscribe=NO State=UP
EOF
  }
  export SLURM_CONF=$dir/slurm.conf
  node_idle() { timeout 5 sinfo -h -N -o %t | grep -qx idle; }
  # exited: its pid file names a process that is gone (a daemon writes the file a moment after
  # its parent returns, so a missing file means "still starting", not "dead")
  exited() { [ -s "$1" ] && ! kill -0 "$(cat "$1")" 2>/dev/null; }
  some_exited() { exited "$dir/slurmctld.pid" || exited "$dir/slurmd.pid"; }
  up_and_idle() { ! some_exited && node_idle; }
  node_or_death() { some_exited || node_idle; } # a daemon that exits early ends the wait at once
  local attempt why
  for attempt in 1 2 3; do
    if [ $attempt -eq 1 ] && [ -n "${SLURM_LOCAL_PORT:-}" ]; then port=$SLURM_LOCAL_PORT; else port=$(free_port_pair); fi
    write_conf
    slurmctld -f "$SLURM_CONF" || die "slurmctld did not start (log: $dir/log/slurmctld.log)"
    slurmd -f "$SLURM_CONF" -N "$host" || die "slurmd did not start (log: $dir/log/slurmd.log)"
    wait_for 30 node_or_death || true
    if up_and_idle; then echo "export SLURM_CONF=$SLURM_CONF"; return; fi
    why="the node was not idle within 30 s"
    some_exited && why="a daemon exited"
    kill_pidfile "$dir/slurmd.pid"
    kill_pidfile "$dir/slurmctld.pid"
    rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid" # stale, they would read as exited on the next try
    # a port taken between the choice and the bind: choose again
    grep -qs "Address already in use" "$dir/log/slurmctld.log" "$dir/log/slurmd.log" || break
    echo "slurm-local: port $port or $((port + 1)) was taken meanwhile; trying others" >&2
    mv "$dir/log/slurmctld.log" "$dir/log/slurmctld.$attempt.log"
    mv "$dir/log/slurmd.log" "$dir/log/slurmd.$attempt.log"
  done
  kill_pidfile "$dir/munge/munged.pid"
  die "the cluster did not come up: $why (logs in $dir/log; slurmctld: $(tail -n 1 "$dir/log/slurmctld.log" 2>/dev/null); slurmd: $(tail -n 1 "$dir/log/slurmd.log" 2>/dev/null))"
}

# kill_pidfile FILE: stops the daemon named in FILE and waits up to 10 s for it to go.
kill_pidfile() {
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  export PATH=$PATH:/usr/sbin SLURM_CONF=$dir/slurm.conf
  if [ -f "$SLURM_CONF" ] && [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    # jobs first: slurmstepd outlives slurmd, so running steps would be orphaned
    timeout 10 scancel --quiet --full "--user=$(id -un)" 2>/dev/null || true
    jobs_gone() { q=$(timeout 5 squeue -h -t R,CG,S -o %i 2>/dev/null) && [ -z "$q" ]; }
    wait_for 40 jobs_gone || echo "slurm-local: warning: jobs still running at stop" >&2
  fi
  kill_pidfile "$dir/slurmd.pid"
  kill_pidfile "$dir/slurmctld.pid"
  kill_pidfile "$dir/munge/munged.pid"
}

case "${1:-}" in
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  check) can_run ;;
  *) echo "usage: $0 start DIR | stop DIR | check" >&2; exit 2 ;;
esac
