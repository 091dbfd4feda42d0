# proact probe: features and self-labels on all ranks, ridge + logistic fits with ScaLAPACK, the
# probe written into proact.json so that probe:P works. 1 and 2 ranks fit the same probe, under the
# training schedule (teacher forcing) and on-policy (the runner's own states, a graded label).
# (This tiny model's own words always agree with its teacher's: on-policy with the agree label it
# has nothing to fit, which is an error naming the label.)
# (The ScaLAPACK solves themselves are checked against LAPACK in tests/mpi/test_dist_fit.c.)
# Uses the tiny trained model of make_stream_model.sh (PROACT_STREAM_MODEL).
source "$(dirname "$0")/lib.sh"
# Under the sanitizer build: Open MPI's own allocations at MPI_Init are not ours (make_stream_model.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MODEL="${PROACT_STREAM_MODEL:?PROACT_STREAM_MODEL must name the streaming test model}"
DATA=tests/data/fixture/john.en-es.train.tsv
probe_np() { # probe_np NP OUT [extra args]
  local np="$1" out="$2"; shift 2
  timeout 600 mpirun -np "$np" --oversubscribe "$PROACT" probe --model "$MODEL" --data "$DATA" --samples 600 \
    -o "$out" "$@" >"$out.stdout" 2>"$out.stderr" || { cat "$out.stderr"; return 1; }
}
check "probe on 1 rank" probe_np 1 "$WORK/p1" --states schedule
check "probe on 2 ranks" probe_np 2 "$WORK/p2" --states schedule
check "on-policy probe on 1 rank" probe_np 1 "$WORK/q1" --label p-teacher
check "on-policy probe on 2 ranks" probe_np 2 "$WORK/q2" --label p-teacher --policy band:1:3

check "the probe in proact.json: shapes, fit report, same on 1 and 2 ranks" "$PYTHON" - "$WORK/p1" "$WORK/p2" "$MODEL" <<'PY'
import json, sys
a, b, model = (json.load(open(f"{d}/proact.json")) for d in sys.argv[1:4])
assert "probe" not in model, "the source model must stay without a probe (-o writes a copy)"
hidden = json.load(open(f"{sys.argv[3]}/config.json"))["hidden_size"]
pa, pb = a["probe"], b["probe"]
for k in ["weights", "mean", "scale"]:
    assert len(pa[k]) == len(pb[k]) == hidden + 5, k
    worst = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(pa[k], pb[k]))
    assert worst < 1e-5, (k, worst)
assert abs(pa["bias"] - pb["bias"]) < 1e-5
assert all(s > 0 for s in pa["scale"])
f = pa["fit"]
assert f["samples"] + f["holdout"] == 600, f
assert 0 < f["positive_rate"] < 1, f
assert 1 <= f["iterations"] <= 100, f
for k in ["train_accuracy", "holdout_accuracy", "ridge_train_accuracy", "ridge_holdout_accuracy"]:
    assert 0 <= f[k] <= 1, (k, f)
# a fitted logistic probe does at least about as well as always answering the majority label
majority = max(f["positive_rate"], 1 - f["positive_rate"])
assert f["train_accuracy"] >= majority - 0.02, f
assert pb["fit"]["ranks"] == 2 and f["ranks"] == 1
assert f["lambda"] in (0.1, 1, 10, 100, 1000), f  # --lambda auto chose one of its grid
for k in ["samples", "holdout", "positive_rate", "train_accuracy", "holdout_accuracy", "holdout_auc"]:
    assert abs(f[k] - pb["fit"][k]) < 1e-9, (k, f[k], pb["fit"][k])
assert f["states"].startswith("schedule random") and f["label"] == "agree", f
assert 0 <= f["holdout_auc"] <= 1, f
PY
check "on-policy: the same points and probe on 1 and 2 ranks, band 1..3 recorded, graded label" \
  "$PYTHON" - "$WORK/q1" "$WORK/q2" <<'PY'
import json, sys
a, b = (json.load(open(f"{d}/proact.json"))["probe"] for d in sys.argv[1:3])
fa, fb = a["fit"], b["fit"]
assert fa["states"] == fb["states"] == "on-policy band:1:3", (fa, fb)
assert fa["label"] == "p-teacher", fa
assert fa["samples"] == fb["samples"] and fa["holdout"] == fb["holdout"], (fa, fb)
for k in ["weights", "mean", "scale"]:
    worst = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a[k], b[k]))
    assert worst < 1e-5, (k, worst)
PY
# the default policy follows the schedule the model was trained with (proact.json)
for sched in "band:min_lag=2,max_lag=4,p_full=0.1=band:2:4" "waitk:k=3=band:3:3" "random:k_min=1=band:1:3"; do
  spec=${sched%=*} want=${sched##*=}
  rm -rf "$WORK/sched" && cp -r "$MODEL" "$WORK/sched"
  "$PYTHON" -c "import json, sys; p = sys.argv[1]; j = json.load(open(p)); j['schedule'] = sys.argv[2]; json.dump(j, open(p, 'w'))" \
    "$WORK/sched/proact.json" "$spec"
  "$PROACT" probe --model "$WORK/sched" --data "$DATA" --samples 100 --label p-teacher >/dev/null 2>&1
  check "trained with $spec: the default policy is $want" "$PYTHON" -c "
import json, sys
f = json.load(open('$WORK/sched/proact.json'))['probe']['fit']
assert f['states'] == 'on-policy $want', f['states']"
done
"$PROACT" probe --model "$WORK/sched" --data "$DATA" --samples 100 --states schedule --schedule waitk:k=2 -o "$WORK/sw" \
  >/dev/null 2>&1
check "--states schedule --schedule: the given schedule is recorded" "$PYTHON" -c "
import json
f = json.load(open('$WORK/sw/proact.json'))['probe']['fit']
assert f['states'] == 'schedule waitk:k=2 (teacher forcing)', f['states']"
expect_fail "on-policy with a label that never varies" "nothing to fit" \
  "$PROACT" probe --model "$MODEL" --data "$DATA" --samples 300 -o "$WORK/x"
expect_fail "a graded label needs on-policy points" "--states policy" \
  "$PROACT" probe --model "$MODEL" --data "$DATA" --states schedule --label kl -o "$WORK/x"
expect_fail "a bad band" "band:A:B" "$PROACT" probe --model "$MODEL" --data "$DATA" --policy band:3:1 -o "$WORK/x"

check "the report names the fits and the accuracies" grep -q "logistic (IRLS)" "$WORK/p1.stdout"

# the probed model streams with probe:P; P = 0 always writes, as maxprob:0 does (both adaptive heads)
head -4 tests/data/fixture/john.en-es.test.tsv | cut -f1 >"$WORK/src.txt"
# the per-sentence summaries; run_cmp drops the wall-clock fields for byte comparisons
run() { "$PROACT" run --model "$WORK/p1" --head "$1" <"$WORK/src.txt" 2>/dev/null | grep '"sentence"'; }
run_cmp() { run "$1" | sed 's/"elapsed_ms":[0-9.e+-]*//; s/"elapsed":\[[^]]*\]//'; }
run probe:0.5 >"$WORK/probe05"
check "probe:0.5 runs on the probed model" test -s "$WORK/probe05"
run_cmp probe:0 >"$WORK/probe0"
run_cmp maxprob:0 >"$WORK/maxprob0"
check "probe:0 (always sure) equals maxprob:0" cmp "$WORK/probe0" "$WORK/maxprob0"
run offline >"$WORK/offline"
check "probe:0.5 reads less than offline" "$PYTHON" - "$WORK/probe05" "$WORK/offline" <<'PY'
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])]
o = [json.loads(l) for l in open(sys.argv[2])]
mp = sum(sum(x["delays"]) / len(x["delays"]) for x in p if x["delays"])
mo = sum(sum(x["delays"]) / len(x["delays"]) for x in o if x["delays"])
assert mp < mo, (mp, mo)
PY
"$PROACT" eval --model "$WORK/p1" --data tests/data/fixture/john.en-es.test.tsv --limit 4 --heads probe:0.5,waitk:2 \
  -o "$WORK/ev" >/dev/null 2>&1
check "proact eval with the probe head" test -s "$WORK/ev/probe_0.5/instances.log"

# in place (no -o): the model directory itself gets the probe
cp -r "$MODEL" "$WORK/inplace"
"$PROACT" probe --model "$WORK/inplace" --data "$DATA" --samples 100 --states schedule >/dev/null 2>&1
check "without -o the probe goes into the model's own proact.json" grep -q '"probe"' "$WORK/inplace/proact.json"

expect_fail "probe:0.5 on a model without a probe" "needs a probe" "$PROACT" run --model "$MODEL" --head probe:0.5
expect_fail "missing data" "nope.tsv" "$PROACT" probe --model "$MODEL" --data "$WORK/nope.tsv" -o "$WORK/x"
expect_fail "too few samples asked" "--samples" "$PROACT" probe --model "$MODEL" --data "$DATA" --samples 3 -o "$WORK/x"
expect_fail "auto lambda without held-out points" "--holdout" "$PROACT" probe --model "$MODEL" --data "$DATA" --holdout 0 -o "$WORK/x"
expect_fail "bad lambda" "--lambda" "$PROACT" probe --model "$MODEL" --data "$DATA" --lambda -1 -o "$WORK/x"
expect_fail "2 ranks, missing model: one error" "config.json" \
  timeout 120 mpirun -np 2 --oversubscribe "$PROACT" probe --model "$WORK/none" --data "$DATA" -o "$WORK/x"
finish
