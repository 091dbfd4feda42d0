# proact serve: the HTTP server for the streaming runner. Starts two servers on free ports (one with
# head waitk:2 and default limits, one with tight limits) and drives them with real HTTP requests
# (serve_client.py): SimulEval's remote protocol (wait-2 delays, same output as proact run),
# sessions (create, input, output, reset, delete, per-session heads, 404, 429, idle expiry),
# bad input (400/404/405/409/413 with a JSON error, server keeps serving), /healthz, /metrics, and
# 8 concurrent sessions whose outputs must equal the same sentences run alone. Also: clear errors
# before listening, and a clean exit 0 on SIGTERM and SIGINT.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

# --- errors before listening -------------------------------------------------------------------
expect_fail "missing model directory" "config.json" "$PROACT" serve --model "$WORK/nowhere" --port 0
expect_fail "bad head spec" "waitk:x" "$PROACT" serve --model "$MODEL" --head waitk:x --port 0
expect_fail "probe head without a probe" "probe" "$PROACT" serve --model "$MODEL" --head probe:0.5 --port 0
expect_fail "bad port" "--port" "$PROACT" serve --model "$MODEL" --port 70000
expect_fail "bad max-sessions" "--max-sessions" "$PROACT" serve --model "$MODEL" --max-sessions 0
expect_fail "an address not on this machine" "192.0.2.1" "$PROACT" serve --model "$MODEL" --host 192.0.2.1 --port 0

# --- servers -----------------------------------------------------------------------------------
start_server main --head waitk:2
start_server limited --max-sessions 2 --max-body 4096 --idle-timeout 3
check "the listening line names the head and the model" \
  grep -qF "(head waitk:2, model $MODEL)" "$WORK/main.out"
expect_fail "port already in use" "Address already in use" "$PROACT" serve --model "$MODEL" --port "$PORT_main"
check "proact serve --help" bash -c "'$PROACT' serve --help | grep -q 'SimulEval'"

t0=$(date +%s)
if "$PYTHON" "$SRC/tests/jobs/serve_client.py" --url "http://127.0.0.1:$PORT_main" \
    --limited-url "http://127.0.0.1:$PORT_limited" --proact "$PROACT" --model "$MODEL" \
    --fixture "$FIXTURE" --idle-timeout 3 --budget 120 >"$WORK/client.log" 2>&1; then
  client_ok=1
else
  client_ok=0
fi
cat "$WORK/client.log"
n_ok=$(grep -c '^ok:' "$WORK/client.log" || true)
check "serve_client.py: every HTTP check passed ($n_ok checks, $(( $(date +%s) - t0 )) s)" test "$client_ok" -eq 1

# --- clean shutdown ----------------------------------------------------------------------------
stop_server() { # stop_server NAME SIGNAL
  local pid_var="PID_$1" rc=0
  kill -s "$2" "${!pid_var}"
  wait "${!pid_var}" || rc=$?
  check "SIGNAL $2 stops server $1 with exit 0 (got $rc)" test "$rc" -eq 0
  check "server $1 wrote no error" bash -c "! grep -q 'error\\|AddressSanitizer\\|runtime error' '$WORK/$1.err'"
}
stop_server main TERM
stop_server limited INT
finish
