# proact serve: reliability trials of issue 17 (tests/jobs/serve_trials.py drives them):
#   - idle expiry under load: with --idle-timeout 3, 8 of 16 sessions stream the whole time and 8
#     sit idle; the idle ones expire (404, proact_sessions_expired_total), the busy ones never, and
#     their outputs equal `proact run`'s; and with --idle-timeout 0.001 sessions created beside
#     sweeping requests come back whole (under ASan: no use-after-free) and all expire;
#   - slow bodies (slowloris): with --client-timeout 5, one and then 8 clients dribble a body one
#     byte every 0.5 s; a normal client streams a sentence meanwhile, and the server closes every
#     slow connection after the timeout (proact_client_timeouts_total).
# Each server must then stop cleanly on SIGTERM and print no error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
IDLE=3
CLIENT=5

expect_fail "bad --client-timeout" "--client-timeout" "$PROACT" serve --model "$MODEL" --client-timeout -1
check "proact serve --help documents --client-timeout" bash -c "'$PROACT' serve --help | grep -q -- '--client-timeout SEC'"

start_server idle --head waitk:2 --max-sessions 16 --idle-timeout "$IDLE"
start_server tiny --head waitk:2 --idle-timeout 0.001
start_server slow --head waitk:2 --client-timeout "$CLIENT"

t0=$(date +%s)
if "$PYTHON" "$SRC/tests/jobs/serve_trials.py" --idle-url "http://127.0.0.1:$PORT_idle" --idle-timeout "$IDLE" \
    --tiny-url "http://127.0.0.1:$PORT_tiny" --slow-url "http://127.0.0.1:$PORT_slow" --client-timeout "$CLIENT" --proact "$PROACT" --model "$MODEL" \
    --fixture "$FIXTURE" >"$WORK/trials.log" 2>&1; then
  trials_ok=1
else
  trials_ok=0
fi
cat "$WORK/trials.log"
n_ok=$(grep -c '^ok:' "$WORK/trials.log" || true)
check "serve_trials.py: every check passed ($n_ok checks, $(( $(date +%s) - t0 )) s)" test "$trials_ok" -eq 1

for name in idle tiny slow; do
  pid_var="PID_$name"
  rc=0
  kill -s TERM "${!pid_var}" 2>/dev/null || true # (a server that crashed is already gone)
  wait "${!pid_var}" || rc=$?
  check "SIGTERM stops server $name with exit 0 (got $rc)" test "$rc" -eq 0
  check "server $name wrote no error" bash -c "! grep -q 'error\\|AddressSanitizer\\|runtime error' '$WORK/$name.err'"
  if grep -q 'error\|AddressSanitizer\|runtime error' "$WORK/$name.err"; then head -40 "$WORK/$name.err"; fi
done
finish
