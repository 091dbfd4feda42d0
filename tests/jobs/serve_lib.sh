# serve_lib.sh — for the tests that run `proact serve` (after lib.sh): the streaming test model
# (PROACT_STREAM_MODEL, or one built here), the fixture's sentences, and servers started in the
# background on a free port and stopped when the test ends.
MODEL="${PROACT_STREAM_MODEL:-}"
if [ -z "$MODEL" ] || [ ! -f "$MODEL/proact.json" ]; then
  echo "building the stream model (PROACT_STREAM_MODEL not set)"
  bash "$SRC/tests/jobs/make_stream_model.sh" "$PROACT" "$WORK/sm" >/dev/null
  MODEL="$WORK/sm/model"
fi
FIXTURE="$SRC/tests/data/fixture/john.en-es.test.tsv"
export PROACT_QUIET_BLAS=1
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME args...: starts proact serve --model $MODEL in the background, sets PORT_<NAME> and PID_<NAME>
start_server() {
  local name="$1"; shift
  start_server_args "$name" --model "$MODEL" "$@"
}

# start_server_args NAME args...: the same with only the given arguments (and --port 0)
start_server_args() {
  local name="$1"; shift
  "$PROACT" serve --port 0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  local port=""
  for _ in $(seq 1 600); do # up to 60 s (ASan builds load slowly)
    # (the server's shell may not have opened its .out yet)
    port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$WORK/$name.out" 2>/dev/null || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "FAIL: server $name did not start"; cat "$WORK/$name.out" "$WORK/$name.err"; exit 1
  fi
  printf -v "PORT_$name" '%s' "$port"
  printf -v "PID_$name" '%s' "$pid"
}

