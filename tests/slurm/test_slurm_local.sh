# scripts/slurm-local.sh itself: a cluster starts even when its first ports are taken (it chooses
# others), refuses a directory munged cannot reach, and stop leaves no daemon behind.
source "$(dirname "$0")/../jobs/lib.sh"
source "$(dirname "$0")/slurm_lib.sh" # starts one cluster; this test starts a second beside it
L="$SRC/scripts/slurm-local.sh"
SECOND=$(mktemp -d /tmp/proact-slurm2.XXXXXX)
chmod 755 "$SECOND"
trap '"$L" stop "$SECOND/c" >/dev/null 2>&1 || true; rm -rf "$SECOND"; cleanup' EXIT

# a listener on the port asked for: the daemons cannot bind it
port=$(( 20000 + RANDOM % 10000 ))
"$PYTHON" -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port + 1)); s.listen(); time.sleep(120)" &
blocker=$!
sleep 0.5
check "a second cluster starts although its first ports are taken" bash -c \
  "SLURM_LOCAL_PORT=$port '$L' start '$SECOND/c' >'$WORK/second.env' 2>'$WORK/second.err'"
kill "$blocker" 2>/dev/null || true
check "it said so and chose other ports" bash -c "grep -q 'was taken meanwhile' '$WORK/second.err' &&
  ! grep -q 'SlurmdPort=$((port + 1))\$' '$SECOND/c/slurm.conf'"
check "both clusters run jobs side by side" bash -c "srun -n 1 true && (source '$WORK/second.env' && srun -n 2 true)"
check "the two clusters are distinct" bash -c "[ \"\$(scontrol show config | grep -i '^SlurmctldPort')\" != \
  \"\$(source '$WORK/second.env' && scontrol show config | grep -i '^SlurmctldPort')\" ]"
pids=$(cat "$SECOND/c/slurmctld.pid" "$SECOND/c/slurmd.pid" "$SECOND/c/munge/munged.pid" | tr "\n" " ")
check "stop ends its three daemons" bash -c "'$L' stop '$SECOND/c' && for p in $pids; do
  ! kill -0 \$p 2>/dev/null || exit 1; done"
check "stop again is harmless" "$L" stop "$SECOND/c"
check "the first cluster still runs" srun -n 1 true

hidden=$(mktemp -d) # mode 700: munged, as user munge, cannot reach inside
check "a directory munged cannot reach is refused, naming it" bash -c \
  "! '$L' start '$hidden/c' 2>'$WORK/hidden.err' && grep -q '$hidden is not searchable' '$WORK/hidden.err'"
rm -rf "$hidden"
finish
