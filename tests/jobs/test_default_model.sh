# The default model and the default head. `proact run` and `proact serve` without --model stream
# $PROACT_MODEL's directory, else the shipped model: PREFIX/share/proact/models/en-de-streaming
# beside an installed PREFIX/bin/proact, else models/en-de-streaming of the source tree (whichever
# branch this checkout is in, exactly). `proact export --default-head SPEC` sets proact.json's
# default_head after checking SPEC as `proact run` checks --head, and writes nothing when it is
# refused; a re-export keeps the fitted probe and the default head.
# Uses the tiny trained model of make_stream_model.sh (PROACT_STREAM_MODEL).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
# Under the sanitizer build: Open MPI's own allocations at MPI_Init are not ours (make_stream_model.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
unset PROACT_MODEL
head -3 "$FIXTURE" | cut -f1 >"$WORK/src.txt"
SHIPPED="$SRC/models/en-de-streaming"
REAL_WORK=$(realpath "$WORK") # /proc/self/exe names the executable by its real path

# same_output A B: the same JSON lines, the timings (elapsed, elapsed_ms) left out
same_output() {
  "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
def load(path):
    rows = [json.loads(l) for l in open(path)]
    for r in rows:
        r.pop("elapsed", None)
        r.pop("elapsed_ms", None)
    return rows
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b and len(a) > 1, (len(a), len(b))
PY
}

# exact_error "description" "the whole of stderr" cmd...: exit status 1 (no crash), nothing on stdout
exact_error() {
  local what="$1" want="$2"; shift 2
  local rc=0
  "$@" <"$WORK/src.txt" >"$WORK/out" 2>"$WORK/err" || rc=$?
  if [ "$rc" -eq 1 ] && [ "$(cat "$WORK/err")" = "$want" ] && [ ! -s "$WORK/out" ]; then
    echo "ok: $what -> $want"; PASSED=$((PASSED+1))
  else
    echo "FAIL: $what: exit $rc, expected 1 and stderr '$want', got:"; cat "$WORK/err" "$WORK/out"; FAILED=$((FAILED+1))
  fi
}

has_line() { grep -qxF -- "$2" "$1"; } # has_line FILE LINE: FILE holds exactly this line

# info URL: GET / (SimulEval's info, JSON) -> its "model" and "head"
info() {
  "$PYTHON" -c 'import json, sys, urllib.request
j = json.load(urllib.request.urlopen(sys.argv[1] + "/", timeout=60))
print(j["model"], j["head"])' "$1"
}

# the shipped model a binary PREFIX/bin/proact takes (PROACT_MODEL unset or empty), or "" for none
shipped_for() {
  local installed="$1/share/proact/models/en-de-streaming"
  if [ -f "$installed/proact.json" ]; then echo "$installed"; elif [ -f "$SHIPPED/proact.json" ]; then echo "$SHIPPED"; fi
}

# --- proact run with PROACT_MODEL ----------------------------------------------------------------
"$PROACT" run --model "$MODEL" --head waitk:2 <"$WORK/src.txt" >"$WORK/given.jsonl" 2>"$WORK/given.err"
PROACT_MODEL="$MODEL" "$PROACT" run --head waitk:2 <"$WORK/src.txt" >"$WORK/env.jsonl" 2>"$WORK/env.err"
check "run: PROACT_MODEL=MODEL prints what --model MODEL prints" same_output "$WORK/given.jsonl" "$WORK/env.jsonl"
check "run: stderr says the model came from PROACT_MODEL" \
  has_line "$WORK/env.err" "proact run: model $MODEL (from PROACT_MODEL)"
check "run: its header names the model" grep -q "^proact run: head waitk:2, model $MODEL, " "$WORK/env.err"
check "run: no such line when --model is given" bash -c "! grep -q '^proact run: model ' '$WORK/given.err'"
PROACT_MODEL=/nonexistent "$PROACT" run --model "$MODEL" --head waitk:2 <"$WORK/src.txt" >"$WORK/both.jsonl" 2>/dev/null
check "run: --model wins over PROACT_MODEL" same_output "$WORK/given.jsonl" "$WORK/both.jsonl"
for cmd in run serve; do
  exact_error "$cmd: PROACT_MODEL names nothing" \
    "proact $cmd: error: PROACT_MODEL=/nonexistent names no model directory (no /nonexistent/proact.json)" \
    env PROACT_MODEL=/nonexistent "$PROACT" "$cmd" --head waitk:2
  exact_error "$cmd: PROACT_MODEL names a directory without proact.json" \
    "proact $cmd: error: PROACT_MODEL=$WORK names no model directory (no $WORK/proact.json)" \
    env PROACT_MODEL="$WORK" "$PROACT" "$cmd" --head waitk:2
done

# --- proact run without either: the shipped model, from the build tree and installed -------------
# run_default BINARY PREFIX: PROACT_MODEL unset, then empty (the same): the shipped model or the error
run_default() {
  local bin="$1" prefix="$2" found
  found=$(shipped_for "$prefix")
  for how in unset empty; do
    local envset=(env -u PROACT_MODEL)
    [ "$how" = empty ] && envset=(env PROACT_MODEL=)
    if [ -z "$found" ]; then
      exact_error "run ($bin), PROACT_MODEL $how, no shipped model: the error lists both places" \
        "proact run: error: no --model given and no shipped model (looked in $prefix/share/proact/models/en-de-streaming, $SHIPPED); give --model DIR or set PROACT_MODEL" \
        "${envset[@]}" "$bin" run --head waitk:2
      continue
    fi
    head -1 "$WORK/src.txt" | "${envset[@]}" "$bin" run --head waitk:2 >"$WORK/shipped.jsonl" 2>"$WORK/shipped.err"
    head -1 "$WORK/src.txt" | "$bin" run --model "$found" --head waitk:2 >"$WORK/shipped_given.jsonl" 2>/dev/null
    check "run ($bin), PROACT_MODEL $how: the shipped model $found, said on stderr" \
      has_line "$WORK/shipped.err" "proact run: model $found (the shipped default)"
    check "run ($bin), PROACT_MODEL $how: its header names it" \
      grep -q "^proact run: head waitk:2, model $found, " "$WORK/shipped.err"
    check "run ($bin), PROACT_MODEL $how: what --model $found prints" \
      same_output "$WORK/shipped_given.jsonl" "$WORK/shipped.jsonl"
  done
}
run_default "$PROACT" "$(dirname "$(dirname "$(realpath "$PROACT")")")"
# installed: cmake --install puts the binary in PREFIX/bin; first without a model beside it, then with
# the test model as PREFIX/share/proact/models/en-de-streaming (which comes before the source tree's)
PREFIX="$REAL_WORK/prefix"
cmake --install "$(dirname "$PROACT")" --prefix "$PREFIX" --component proact >"$WORK/install.log" ||
  { cat "$WORK/install.log"; exit 1; }
check "cmake --install: PREFIX/bin/proact" test -x "$PREFIX/bin/proact"
run_default "$PREFIX/bin/proact" "$PREFIX"
mkdir -p "$PREFIX/share/proact/models"
cp -r "$MODEL" "$PREFIX/share/proact/models/en-de-streaming"
check "the installed model is the one PREFIX/bin/proact takes" \
  test "$(shipped_for "$PREFIX")" = "$PREFIX/share/proact/models/en-de-streaming"
run_default "$PREFIX/bin/proact" "$PREFIX"

# --- proact serve --------------------------------------------------------------------------------
export PROACT_MODEL="$MODEL"
start_server_args srv_env --head waitk:2
unset PROACT_MODEL
check "serve: PROACT_MODEL's model, said on stderr" \
  has_line "$WORK/srv_env.err" "proact serve: model $MODEL (from PROACT_MODEL)"
check "serve: the listening line names it" grep -qF "(head waitk:2, model $MODEL)" "$WORK/srv_env.out"
check "serve: GET / reports it" test "$(info "http://127.0.0.1:$PORT_srv_env")" = "$MODEL waitk:2"
found=$(shipped_for "$(dirname "$(dirname "$(realpath "$PROACT")")")")
if [ -z "$found" ]; then
  exact_error "serve, no PROACT_MODEL, no shipped model: the error lists both places" \
    "proact serve: error: no --model given and no shipped model (looked in $(dirname "$(dirname "$(realpath "$PROACT")")")/share/proact/models/en-de-streaming, $SHIPPED); give --model DIR or set PROACT_MODEL" \
    "$PROACT" serve --head waitk:2 --port 0
else
  start_server_args srv_shipped --head waitk:2
  check "serve: the shipped model $found, said on stderr" \
    has_line "$WORK/srv_shipped.err" "proact serve: model $found (the shipped default)"
  check "serve: GET / reports it" test "$(info "http://127.0.0.1:$PORT_srv_shipped")" = "$found waitk:2"
fi

# --- proact export --default-head ----------------------------------------------------------------
# same_json A B [KEY=VALUE]: the two proact.json files hold the same fields, B's KEY set to VALUE
same_json() {
  "$PYTHON" - "$@" <<'PY'
import json, sys
a, b = (json.load(open(f"{d}/proact.json")) for d in sys.argv[1:3])
for kv in sys.argv[3:]:
    k, v = kv.split("=", 1)
    assert b[k] == v, (k, b[k], v)
    a[k] = v
assert a == b, (a, b)
PY
}
# no_export "description" "the error line" OUT args...: refused (stderr's first line, the only error), OUT not there
no_export() {
  local what="$1" want="$2" out="$3"; shift 3
  local rc=0
  "$PROACT" export -o "$out" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(head -1 "$WORK/err")" = "$want" ] &&
    [ "$(grep -c 'error:' "$WORK/err")" -eq 1 ] && [ ! -e "$out" ]; then
    echo "ok: $what (exit $rc) -> $want"; PASSED=$((PASSED+1))
  else
    echo "FAIL: $what: exit $rc, expected stderr '$want' and no $out, got:"; cat "$WORK/err"; ls -la "$out" 2>&1 || true
    FAILED=$((FAILED+1))
  fi
}
HEAD_SPEC="entropy:2.5/min-lag=1"
"$PROACT" export --model "$MODEL" -o "$WORK/dh" --default-head "$HEAD_SPEC" >"$WORK/export.out"
check "export --default-head: proact.json's default_head is the spec, every other field kept" \
  same_json "$MODEL" "$WORK/dh" "default_head=$HEAD_SPEC"
check "export --default-head: its report says so" grep -qF "proact.json (default head $HEAD_SPEC)" "$WORK/export.out"
"$PROACT" run --model "$WORK/dh" <"$WORK/src.txt" >"$WORK/dh.jsonl" 2>"$WORK/dh.err"
"$PROACT" run --model "$MODEL" --head "$HEAD_SPEC" <"$WORK/src.txt" >"$WORK/dh_given.jsonl" 2>/dev/null
check "run without --head takes it (header)" grep -q "^proact run: head $HEAD_SPEC, model $WORK/dh, " "$WORK/dh.err"
check "run without --head prints what --head $HEAD_SPEC prints" same_output "$WORK/dh_given.jsonl" "$WORK/dh.jsonl"
no_export "a malformed spec" "proact: error: decision head 'waitk:x': expected waitk:K (K >= 1)" "$WORK/bad1" \
  --model "$MODEL" --default-head waitk:x
no_export "a bad option" \
  "proact: error: decision head 'waitk:2/lag=1': bad option 'lag'=...; expected /min-lag=L or /max-lag=L (L >= 1)" \
  "$WORK/bad2" --model "$MODEL" --default-head waitk:2/lag=1
no_export "a probe head on a model without a probe" \
  "proact: error: decision head 'probe:0.5' needs a probe, and $MODEL has none: run proact probe --model $MODEL first" \
  "$WORK/bad3" --model "$MODEL" --default-head probe:0.5
RUN_DIR="$(dirname "$MODEL")/run"
no_export "a probe head from a checkpoint (its run has no probe)" \
  "proact: error: decision head 'probe:0.5' needs a probe, and $RUN_DIR has none: run proact probe --model $RUN_DIR first" \
  "$WORK/bad4" --checkpoint "$RUN_DIR" --default-head probe:0.5 --format onnx
no_export "--default-head with --format gguf" "proact export: error: --default-head is for --format hf or onnx" \
  "$WORK/bad5.gguf" --model "$MODEL" --format gguf --default-head waitk:2
"$PROACT" export --checkpoint "$RUN_DIR" -o "$WORK/ck" --default-head waitk:4 >/dev/null
check "export --checkpoint --default-head: set in the run's proact.json's copy" \
  same_json "$RUN_DIR" "$WORK/ck" "default_head=waitk:4"

# with a fitted probe: proact probe keeps default_head; a re-export (bf16) keeps the probe and the
# default head byte for byte; --default-head probe:P is accepted and proact run takes it
"$PROACT" probe --model "$MODEL" --data "$SRC/tests/data/fixture/john.en-es.train.tsv" --samples 100 \
  --states schedule -o "$WORK/probed" >"$WORK/probe.log" 2>&1 || { cat "$WORK/probe.log"; exit 1; }
check "proact probe keeps default_head (and has a probe)" "$PYTHON" -c 'import json, sys
a, b = (json.load(open(f"{d}/proact.json")) for d in sys.argv[1:3])
assert b["default_head"] == a["default_head"] == "waitk:3" and "probe" in b and "probe" not in a' "$MODEL" "$WORK/probed"
"$PROACT" export --model "$WORK/probed" -o "$WORK/bf" --dtype bf16 >/dev/null
check "re-export to bf16: proact.json (probe, default head) byte for byte" \
  cmp "$WORK/probed/proact.json" "$WORK/bf/proact.json"
"$PROACT" export --model "$WORK/probed" -o "$WORK/ph" --dtype bf16 --default-head probe:0.6/min-lag=1 >/dev/null
check "re-export with --default-head probe:0.6/min-lag=1: the probe and its fit record kept exactly" \
  same_json "$WORK/probed" "$WORK/ph" "default_head=probe:0.6/min-lag=1"
"$PROACT" export --model "$WORK/ph" -o "$WORK/ph2" >/dev/null
check "and a re-export of that keeps it byte for byte" cmp "$WORK/ph/proact.json" "$WORK/ph2/proact.json"
"$PROACT" run --model "$WORK/ph" <"$WORK/src.txt" >"$WORK/ph.jsonl" 2>"$WORK/ph.err"
"$PROACT" run --model "$WORK/bf" --head probe:0.6/min-lag=1 <"$WORK/src.txt" >"$WORK/ph_given.jsonl" 2>/dev/null
check "run without --head takes the probe head (header)" \
  grep -q "^proact run: head probe:0.6/min-lag=1, model $WORK/ph, " "$WORK/ph.err"
check "run without --head prints what --head probe:0.6/min-lag=1 prints" \
  same_output "$WORK/ph_given.jsonl" "$WORK/ph.jsonl"
finish
