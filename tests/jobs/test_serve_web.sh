# The page of proact serve in a real browser, and its event stream without one (docs/serving.md,
# "Watching it decide"). One server on the stream test model; the fixture's first sentence.
#  - GET / gives the page to a client that accepts HTML, the JSON description to others (SimulEval's).
#  - POST /v1/sessions/ID/stream read with curl: the events come in order (start, source/decision/word,
#    end); every decision equals the one `proact run --trace` prints for the same head and input
#    (decision, reason, word index, units read, cues), the words and delays equal proact run's, the
#    cue and threshold are the head's, AL/LAAL are SimulEval's formulas on those delays; a session
#    that is playing answers 409; bad requests get 400 with the reason.
#  - In Debian's chromium (headless, driven by tests/node/serve_page.mjs through npm puppeteer-core),
#    with the keyboard only: two heads side by side; each panel's translation equals proact run's
#    prediction, its timeline holds one mark per decision of proact run --trace, in the same order
#    (READ/WRITE), and its cue plot one point per decision with the threshold line; an empty text,
#    10,000 words and an invalid head each give their message on the page, and the server plays the
#    sentence again afterwards. The screenshot is kept in the build directory (artifacts/serve_web.png).
#  - SIGTERM while a stream plays: the stream gets an error event, the server exits 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

NODE_DIR="${PROACT_NODE_DIR:-$SRC/.deps/node}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if ! command -v node >/dev/null 2>&1 || [ ! -d "$NODE_DIR/node_modules/puppeteer-core" ] || [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: node, puppeteer-core ($NODE_DIR) or chromium ($CHROMIUM) is missing; run scripts/install-deps.sh"
  exit 1
fi
ARTIFACTS="$(cd "$(dirname "$PROACT")" && pwd)/artifacts"
mkdir -p "$ARTIFACTS"

TEXT=$(head -1 "$FIXTURE" | cut -f1)
HEAD_A=waitk:2
HEAD_B=entropy:2.5
start_server web --head "$HEAD_A"
URL="http://127.0.0.1:$PORT_web"

# what the runner does with each head: words, summary and every decision
for h in "$HEAD_A" "$HEAD_B"; do
  printf '%s\n' "$TEXT" | "$PROACT" run --model "$MODEL" --head "$h" --trace >"$WORK/run.$h.jsonl" 2>"$WORK/run.err"
done

# --- GET /: HTML for browsers, JSON for the others --------------------------------------------
check "GET / without Accept is the JSON description" \
  bash -c "curl -sf '$URL/' | '$PYTHON' -c 'import json,sys; j=json.load(sys.stdin); assert j[\"head\"]==\"$HEAD_A\" and j[\"max_source_words\"]>0'"
check "GET / with Accept: text/html is the page" \
  bash -c "curl -sfi -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8' '$URL/' | grep -qi '^content-type: text/html' && curl -sf -H 'Accept: text/html' '$URL/' | grep -q '<title>proact: watch it decide</title>'"
check "GET / with Accept: text/html;q=0 is the JSON description" \
  bash -c "curl -sf -H 'Accept: text/html;q=0, application/json' '$URL/' | grep -q '\"info\"'"
check "GET /web/app.js and /web/style.css" \
  bash -c "curl -sfi '$URL/web/app.js' | grep -qi '^content-type: text/javascript' && curl -sfi '$URL/web/style.css' | grep -qi '^content-type: text/css'"
check "GET /web/missing is a 404 with a JSON error" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$URL/web/missing')\" = 404 ]"

# --- the event stream, read with curl ---------------------------------------------------------
new_session() { curl -sf -X POST -d "{\"head\": \"$1\"}" "$URL/v1/sessions" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
for h in "$HEAD_A" "$HEAD_B"; do
  id=$(new_session "$h")
  body=$("$PYTHON" -c 'import json,sys; print(json.dumps({"text": sys.argv[1], "ms_per_word": 20}))' "$TEXT")
  curl -sfN -H 'Content-Type: application/json' -d "$body" "$URL/v1/sessions/$id/stream" >"$WORK/sse.$h" \
    -D "$WORK/sse.$h.headers"
  check "the stream of $h: text/event-stream" grep -qi '^content-type: text/event-stream' "$WORK/sse.$h.headers"
  check "the stream of $h equals proact run --trace, event by event" \
    "$PYTHON" - "$WORK/sse.$h" "$WORK/run.$h.jsonl" "$h" "$TEXT" <<'EOF'
import json, math, sys
sse, run, head, text = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
events = []
for block in open(sse, encoding="utf-8").read().split("\n\n"):
    if not block.strip():
        continue
    lines = block.split("\n")
    assert lines[0].startswith("event: ") and lines[1].startswith("data: ") and len(lines) == 2, block
    events.append((lines[0][7:], json.loads(lines[1][6:])))
names = [n for n, _ in events]
assert names[0] == "start" and names[-1] == "end", names[:3] + names[-3:]
assert set(names[1:-1]) <= {"source", "decision", "word"}, set(names)
start, end = events[0][1], events[-1][1]
words = text.split()
assert start["head"] == head and start["source"] == words, start
kind, arg = head.split(":")
want = {"waitk": ("lag", ">=", float(arg)), "entropy": ("entropy", "<=", float(arg))}[kind]
assert (start["cue"], start["write_when"], start["threshold"]) == want, start
src = [e for n, e in events if n == "source"]
assert [e["index"] for e in src] == list(range(1, len(words) + 1)) and [e["word"] for e in src] == words
trace, out, summary = [], [], None
for line in open(run, encoding="utf-8"):
    j = json.loads(line)
    if "decision" in j: trace.append(j)
    elif "word" in j: out.append(j)
    elif "sentence" in j: summary = j
dec = [e for n, e in events if n == "decision"]
assert len(dec) == len(trace) and len(trace) > 0, (len(dec), len(trace))
close = lambda a, b: math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
for i, (d, t) in enumerate(zip(dec, trace)):
    assert d["n"] == i + 1
    for k in ("decision", "reason", "word_index", "units_read"):
        assert d[k] == t[k], (i, k, d[k], t[k])
    for k in ("entropy", "maxprob", "attn_front"):
        assert close(d[k], t[k]), (i, k, d[k], t[k])
    lag = t["units_read"] - (t["word_index"] - 1)
    assert d["lag"] == lag and d["cue"] == want[0] and d["threshold"] == want[2], d
    assert close(d["value"], lag if kind == "waitk" else t["entropy"]), d
wr = [e for n, e in events if n == "word"]
assert [(w["word"], w["delay"], w["index"]) for w in wr] == [(w["word"], w["delay"], i + 1) for i, w in enumerate(out)]
# a word comes right after the WRITE decision that made it
seq = [n for n, _ in events if n in ("decision", "word")]
for i, n in enumerate(seq):
    if n == "word": assert seq[i - 1] == "decision" and dec[seq[:i].count("decision") - 1]["decision"] == "WRITE"
assert end["prediction"] == summary["prediction"] and end["delays"] == summary["delays"], (end, summary)
assert end["source_length"] == len(words) and end["prediction_length"] == len(out) and end["decisions"] == len(trace)
assert end["limit"] == summary.get("limit"), (end["limit"], summary.get("limit"))
# SimulEval's AL and LAAL with |Y| = the prediction's length (no reference)
d, X, Y = end["delays"], len(words), len(end["delays"])
def al(d, X, Y):
    if d[0] > X: return float(d[0])
    s, tau = 0.0, 0
    for i, di in enumerate(d):
        s += di - i * X / Y; tau = i + 1
        if di >= X: break
    return s / tau
assert close(end["AL"], al(d, X, Y)) and close(end["LAAL"], al(d, X, max(Y, len(d)))), end
assert end["compute_ms"] >= 0 and end["elapsed_ms"] >= end["compute_ms"]
el = [e["elapsed_ms"] for n, e in events if n != "start" and n != "end"]
assert el == sorted(el), "elapsed_ms goes back"
print(f"{len(events)} events: {len(src)} source, {len(dec)} decisions, {len(wr)} words; AL {end['AL']}")
EOF
done

id=$(new_session "$HEAD_A")
expect_http() { # expect_http CODE NEEDLE BODY: a stream request on $id answers CODE with NEEDLE in its error
  local code
  code=$(curl -s -o "$WORK/resp" -w '%{http_code}' -d "$3" "$URL/v1/sessions/$id/stream")
  [ "$code" = "$1" ] && grep -qF "$2" "$WORK/resp"
}
check "stream: an empty text is a 400" expect_http 400 "the source text is empty" '{"text": "   "}'
check "stream: 10,000 words are a 400" expect_http 400 "too many source words: 10000" \
  "{\"text\": \"$(printf 'w %.0s' $(seq 1 10000))\"}"
check "stream: ms_per_word out of range is a 400" expect_http 400 "ms_per_word" '{"text": "a b", "ms_per_word": 6000}'
check "stream: an unknown field is a 400" expect_http 400 "unknown field" '{"txt": "a b"}'
check "stream: GET is a 405" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$URL/v1/sessions/$id/stream')\" = 405 ]"
# a slow stream (3 words, 1.5 s apart) keeps the session busy for 3 s: requests on it get 409
curl -sN -d '{"text": "a b c", "ms_per_word": 1500}' "$URL/v1/sessions/$id/stream" >"$WORK/slow.sse" &
slow=$!
for _ in $(seq 1 50); do grep -q '^event: source' "$WORK/slow.sse" 2>/dev/null && break; sleep 0.1; done
check "a session playing a stream answers 409 to input" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -d '{\"text\": \"x\"}' '$URL/v1/sessions/$id/input')\" = 409 ]"
check "... and to a second stream" expect_http 409 "is playing a stream" '{"text": "x"}'
check "... while other sessions play" bash -c "curl -sfN -d '{\"text\": \"a b\"}' '$URL/v1/sessions/$(new_session waitk:1)/stream' | grep -q '^event: end'"
wait "$slow"
check "the slow stream ended with its end event" bash -c "tail -3 '$WORK/slow.sse' | grep -q '^event: end'"

# --- the page in chromium ----------------------------------------------------------------------
if node "$SRC/tests/node/serve_page.mjs" "$URL/" --text "$TEXT" --head "$HEAD_A" --head "$HEAD_B" --ms 30 \
    --screenshot "$ARTIFACTS/serve_web.png" --bad >"$WORK/page.json" 2>"$WORK/page.err"; then
  page_ok=1
else
  page_ok=0
  cat "$WORK/page.err"
fi
check "the page played in chromium (tests/node/serve_page.mjs)" test "$page_ok" -eq 1
check "the page: translations and timelines equal proact run's, bad input gets its message" \
  "$PYTHON" - "$WORK/page.json" "$WORK/run.$HEAD_A.jsonl" "$WORK/run.$HEAD_B.jsonl" <<'EOF'
import json, sys
page = json.load(open(sys.argv[1], encoding="utf-8"))
assert page["page_errors"] == [], page["page_errors"]
assert page["message"] == "", page["message"]
def expect(path):
    trace = [json.loads(l) for l in open(path, encoding="utf-8")]
    pred = [j for j in trace if "sentence" in j][0]["prediction"]
    return pred, [j["decision"] for j in trace if "decision" in j]
lanes = page["lanes"]
assert [l["head"] for l in lanes] == ["waitk:2", "entropy:2.5"], [l["head"] for l in lanes]
def check_lane(lane, path):
    pred, marks = expect(path)
    assert lane["done"], lane["head"]
    assert lane["translation"] == pred, (lane["head"], lane["translation"], pred)
    assert lane["marks"] == marks, (lane["head"], len(lane["marks"]), len(marks))
    assert lane["points"] == len(marks) and lane["threshold_line"] == 1, lane
    assert lane["stats"]["Decisions"].startswith(f"{len(marks)} ("), lane["stats"]
    for k in ("AL", "LAAL", "Computing time"):
        float(lane["stats"][k].split()[0])
    print(f"{lane['head']}: {len(pred.split())} words, {len(marks)} marks "
          f"({marks.count('READ')} READ, {marks.count('WRITE')} WRITE), AL {lane['stats']['AL']}")
check_lane(lanes[0], sys.argv[2])
check_lane(lanes[1], sys.argv[3])
bad = page["bad"]
assert "the source text is empty" in bad["empty"], bad
assert "too many source words: 10000" in bad["long"], bad
assert "waitk:x" in bad["head"] and "expected waitk:K" in bad["head"], bad
assert bad["panels_after_bad"] == 0, bad
check_lane(page["after_bad"], sys.argv[2])
print("bad input messages:", json.dumps(bad))
EOF
cat "$WORK/page.json" | head -c 600; echo
check "the screenshot is a PNG in the build directory" \
  bash -c "[ \"\$(head -c 8 '$ARTIFACTS/serve_web.png' | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ]"
check "the server still answers after the page" bash -c "curl -sf '$URL/healthz' | grep -q '\"ok\"'"

# --- SIGTERM while a stream plays ------------------------------------------------------------
id=$(new_session "$HEAD_A")
curl -sN -d '{"text": "a b c d", "ms_per_word": 2000}' "$URL/v1/sessions/$id/stream" >"$WORK/cut.sse" &
cut=$!
for _ in $(seq 1 50); do grep -q '^event: source' "$WORK/cut.sse" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$PID_web"
rc=0
wait "$PID_web" || rc=$?
wait "$cut" || true
check "SIGTERM during a stream: exit 0" test "$rc" -eq 0
check "... and the stream ends with an error event saying why" grep -q 'the server is shutting down' "$WORK/cut.sse"

finish
