# proact diagnose: every number of its JSON report against the PyTorch twin
# (tests/reference/diagnose_reference.py recomputes the lag statistics, the cues at the decision
# points, the AUCs, the quantiles and the attention variants in float64, from the shards and the
# model files alone), with and without a probe; the same report from a .tsv as from its .h5; --limit
# and --seed; the table; bad options.
# Uses the tiny trained model of make_stream_model.sh (PROACT_STREAM_MODEL).
source "$(dirname "$0")/lib.sh"
# Under the sanitizer build: Open MPI's own allocations at MPI_Init (proact probe) are not ours
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MODEL="${PROACT_STREAM_MODEL:?PROACT_STREAM_MODEL must name the streaming test model}"
FIX=tests/data/fixture
head -6 "$FIX/john.en-es.test.tsv" >"$WORK/six.en-es.tsv"
"$PROACT" prepare --input "$WORK/six.en-es.tsv" --tokenizer "$MODEL/tokenizer.json" -o "$WORK/six.h5" >/dev/null
# a copy of the model with a probe (fitted on the training pairs), for the probe cue
"$PROACT" probe --model "$MODEL" --data "$FIX/john.en-es.train.tsv" --samples 300 --label p-teacher -o "$WORK/probed" \
  >"$WORK/probe.log" 2>&1 || { cat "$WORK/probe.log"; exit 1; }

diagnose() { # diagnose MODEL DATA OUT.json [args]: the table into OUT.txt
  local model="$1" data="$2" out="$3"; shift 3
  "$PROACT" diagnose --model "$model" --data "$data" --json "$out" "$@" >"${out%.json}.txt" 2>"${out%.json}.err" ||
    { cat "${out%.json}.err"; return 1; }
}
check "diagnose, model with a probe, cue lags 1:6, deciles" \
  diagnose "$WORK/probed" "$WORK/six.h5" "$WORK/probed.json" --limit 0 --cue-lags 1:6 --quantiles 10
check "every number of the report equals the twin's (model with a probe)" \
  "$PYTHON" tests/reference/diagnose_reference.py --model "$WORK/probed" --data "$WORK/six.h5" --json "$WORK/probed.json"
check "diagnose, model without a probe, defaults" diagnose "$MODEL" "$WORK/six.h5" "$WORK/plain.json"
check "every number of the report equals the twin's (no probe)" \
  "$PYTHON" tests/reference/diagnose_reference.py --model "$MODEL" --data "$WORK/six.h5" --json "$WORK/plain.json"

check "the table: every lag, the cue AUCs, the attention variants, the consistency line" \
  "$PYTHON" - "$WORK/probed.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
for lag in ["0", "1", "2", "3", "4", "5", "6", "full"]:
    assert re.search(rf"^\s+{lag}\s+\d+\s+[\d.]+\s+[\d.]+%", t, re.M), lag
for row in ["-entropy", "maxprob", "-attn_front (W=", "probe ", "lag "]:
    assert re.search(rf"^\s+{re.escape(row)}.*\d\.\d{{3}}", t, re.M), row
assert "single-head variants" in t and "labels differing 0" in t
PY

# the same pairs from the .tsv (tokenized on load) give the same report
check "diagnose on the .tsv" diagnose "$MODEL" "$WORK/six.en-es.tsv" "$WORK/tsv.json"
check "the .tsv and its .h5 give the same numbers" "$PYTHON" - "$WORK/plain.json" "$WORK/tsv.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("data"); b.pop("data")
assert a == b
PY

# --limit: a seeded choice of examples; the same seed the same report, another seed another choice
check "--limit 3 --seed 7" diagnose "$MODEL" "$FIX/john.en-es.test.tsv" "$WORK/l7a.json" --limit 3 --seed 7
check "--limit 3 --seed 7 again" diagnose "$MODEL" "$FIX/john.en-es.test.tsv" "$WORK/l7b.json" --limit 3 --seed 7
check "--limit 3 --seed 8" diagnose "$MODEL" "$FIX/john.en-es.test.tsv" "$WORK/l8.json" --limit 3 --seed 8
check "--limit and --seed choose the examples" "$PYTHON" - "$WORK/l7a.json" "$WORK/l7b.json" "$WORK/l8.json" <<'PY'
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
assert a == b
assert a["examples"] == c["examples"] == 3 and a["limit"] == 3
assert a["lags"] != c["lags"]
PY

check "--help names the lag schedule and the rows" \
  bash -c "'$PROACT' diagnose --help | grep -q 'min(n+1, max(1, L + j - 1))'"
expect_fail "cue lags from 0" "--cue-lags" "$PROACT" diagnose --model "$MODEL" --data "$WORK/six.h5" --cue-lags 0:3
expect_fail "cue lags backwards" "--cue-lags" "$PROACT" diagnose --model "$MODEL" --data "$WORK/six.h5" --cue-lags 4:2
expect_fail "one quantile level" "--quantiles" "$PROACT" diagnose --model "$MODEL" --data "$WORK/six.h5" --quantiles 1
expect_fail "missing model" "config.json" "$PROACT" diagnose --model "$WORK/none" --data "$WORK/six.h5"
expect_fail "missing data" "nope.tsv" "$PROACT" diagnose --model "$MODEL" --data "$WORK/nope.tsv"
expect_fail "unwritable report" "$WORK/no/dir/r.json" \
  "$PROACT" diagnose --model "$MODEL" --data "$WORK/six.h5" --json "$WORK/no/dir/r.json"
finish
