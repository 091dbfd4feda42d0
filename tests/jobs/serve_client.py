"""Test client for `proact serve` (tests/jobs/test_serve.sh): real HTTP requests, Python stdlib only.

    serve_client.py --url URL --limited-url URL --proact BIN --model DIR --fixture TSV [--idle-timeout S]

URL is a server started with `--head waitk:2` and default limits; the limited one with
`--max-sessions 2 --max-body 4096 --idle-timeout S`. Prints one line per check ("ok: ..." or
"FAIL: ...") and a summary line; exits 1 if any check failed.
"""
import argparse
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

PASSED = 0
FAILED = 0
LOCK = threading.Lock()


def run_sections(program, sections):
    """Runs each (name, function) section, timed; an exception fails its section, not the rest.
    -> the exit status (1 if any check failed)."""
    for name, fn in sections:
        t0 = time.time()
        print(f"--- {name}")
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            check(False, f"{name}: unexpected exception", repr(e))
        print(f"    ({time.time() - t0:.1f} s)")
    print(f"{program}: {PASSED} checks passed, {FAILED} failed")
    return 1 if FAILED else 0


def check(cond, what, detail=""):
    global PASSED, FAILED
    with LOCK:
        if cond:
            PASSED += 1
            print(f"ok: {what}")
        else:
            FAILED += 1
            print(f"FAIL: {what}" + (f": {detail}" if detail else ""))
    sys.stdout.flush()
    return cond


class Server:
    """One HTTP server; a new connection per request (as SimulEval's `requests` calls do)."""

    def __init__(self, url, timeout=60):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout

    def request(self, method, path, body=None, headers=None, chunked=False):
        """-> (status, headers dict with lower-case names, body bytes)"""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode("utf-8")
            h = dict(headers or {})
            if body is not None and not chunked:
                h.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=h, encode_chunked=chunked)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, expect=200, **kw):
        status, headers, data = self.request(method, path, body, **kw)
        if status != expect:
            raise AssertionError(f"{method} {path}: status {status}, expected {expect}: {data[:300]!r}")
        return json.loads(data)


# --- SimulEval's remote loop, replayed ------------------------------------------------------------
# The evaluator (simuleval/evaluator/remote.py with a text-to-text instance) does, per sentence:
# POST /reset; then until the instance is finished: PUT /input with the next source segment
# (one word, finished on the last; an empty finished segment once the words are used up), then
# GET /output, parsed as a Segment. Every word of a non-empty output gets delay = source words sent.

def segment_json(index, content, finished, is_empty, data_type):
    return json.dumps({"index": index, "content": content, "finished": finished, "is_empty": is_empty,
                       "data_type": data_type, "tgt_lang": None})


SEGMENT_FIELDS = {"index", "content", "finished", "is_empty", "data_type", "tgt_lang"}


def simuleval_sentence(srv, source):
    words = source.split()
    srv.request("POST", "/reset")
    step, finished, prediction, delays, rounds = 0, False, [], [], 0
    while not finished:
        rounds += 1
        if rounds > len(words) + 20:
            raise AssertionError(f"no finished=true after {rounds} rounds")
        if step >= len(words):
            seg = segment_json(0, [], True, True, None)
        else:
            seg = segment_json(step, words[step], step == len(words) - 1, False, "text")
            step += 1
        status, _, _ = srv.request("PUT", "/input", seg)
        if status != 200:
            raise AssertionError(f"PUT /input: status {status}")
        status, _, data = srv.request("GET", "/output")
        if status != 200:
            raise AssertionError(f"GET /output: status {status}")
        out = json.loads(data)
        extra = set(out) - SEGMENT_FIELDS
        if extra:  # SimulEval builds a Segment dataclass from these keys: others would crash it
            raise AssertionError(f"GET /output has keys SimulEval's Segment lacks: {extra}")
        if out["is_empty"]:
            finished = out["finished"]
            continue
        finished = out["finished"]
        got = out["content"].strip().split()
        prediction += got
        delays += [step] * len(got)
    return prediction, delays


def waitk_delays(k, n_src, n_tgt):
    return [min(k + j - 1, n_src) for j in range(1, n_tgt + 1)]


def test_simuleval(srv, sources, proact, model):
    results = []
    for i, src in enumerate(sources):
        try:
            pred, delays = simuleval_sentence(srv, src)
        except Exception as e:  # noqa: BLE001
            check(False, f"SimulEval sentence {i}: replay", repr(e))
            continue
        n = len(src.split())
        check(len(pred) > 0, f"SimulEval sentence {i}: {len(pred)} target words")
        check(delays == waitk_delays(2, n, len(pred)),
              f"SimulEval sentence {i}: delays follow wait-2, min(2 + j - 1, {n})", f"{delays[:12]}...")
        results.append((src, pred, delays))
    # the same sentences through `proact run` (if it exists)
    if subprocess.run([proact, "run", "--help"], capture_output=True).returncode != 0:
        print("skip: proact run is not available; no comparison with it")
        return
    p = subprocess.run([proact, "run", "--model", model, "--head", "waitk:2"], input="\n".join(sources) + "\n",
                       capture_output=True, text=True, timeout=300)
    if not check(p.returncode == 0, "proact run on the same sentences", p.stderr[-500:]):
        return
    summaries = [json.loads(line) for line in p.stdout.splitlines() if line.startswith('{"sentence"')]
    check(len(summaries) == len(sources), f"proact run wrote {len(summaries)} sentence summaries")
    for (src, pred, delays), summ in zip(results, summaries):
        same = summ.get("prediction", "").split() == pred and summ.get("delays") == delays
        check(same, f"SimulEval over HTTP == proact run: '{src[:40]}...'",
              f"http {' '.join(pred)[:80]!r} {delays[:8]} vs run {summ.get('prediction', '')[:80]!r} "
              f"{summ.get('delays', [])[:8]}")


def test_simuleval_edges(srv):
    # the end of the source as an empty segment (content a list, data_type null), extra keys ignored
    srv.request("POST", "/reset")
    for w in ["In", "the", "beginning"]:
        st, _, _ = srv.request("PUT", "/input", {"index": 0, "content": w, "finished": False, "is_empty": False,
                                                 "data_type": "text", "tgt_lang": None, "extra": [1, 2]})
    out = srv.json("GET", "/output")
    check(out["finished"] is False, "SimulEval: not finished before the end of the source")
    srv.request("PUT", "/input", segment_json(0, [], True, True, None))
    out = srv.json("GET", "/output")
    check(out["finished"] is True and out["is_empty"] is False and out["data_type"] == "text",
          "SimulEval: an empty finished segment ends the source; the rest comes at once", str(out)[:200])
    st, _, _ = srv.request("PUT", "/input", segment_json(0, [], True, True, None))
    out = srv.json("GET", "/output")
    check(st == 200 and out["finished"] is True and out["is_empty"] is True and out["content"] == "",
          "SimulEval: more segments after the end are answered with an empty finished segment")
    info = srv.json("GET", "/")
    check(isinstance(info.get("info"), str) and "waitk:2" in info["info"], "GET / gives {'info': ...}")


# --- sessions -------------------------------------------------------------------------------------

def run_session(srv, sid, source, chunk=1, pause=0.0):
    """Streams one sentence: input `chunk` words at a time, output after each, `pause` seconds
    after every request. -> [(word, delay)]
    A runner limit (e.g. 100 target words more than source words read) may finish it early."""
    words = source.split()
    out, t_prev = [], -1.0
    for i in range(0, len(words), chunk):
        last = i + chunk >= len(words)
        r = srv.json("POST", f"/v1/sessions/{sid}/input", {"words": words[i:i + chunk], "finished": last})
        assert r["queued"] == len(words[i:i + chunk]), r
        time.sleep(pause)
        o = srv.json("GET", f"/v1/sessions/{sid}/output")
        time.sleep(pause)
        for w in o["words"]:
            assert w["elapsed_ms"] >= t_prev, "elapsed_ms decreased"
            t_prev = w["elapsed_ms"]
            out.append((w["word"], w["delay"]))
        if o["finished"]:
            assert last or o.get("limit"), "finished before the end of the source without a limit"
            break
    o = srv.json("GET", f"/v1/sessions/{sid}/output")
    assert o["finished"] is True and o["words"] == [], o
    return out


def create(srv, head=None, expect=201):
    return srv.json("POST", "/v1/sessions", {"head": head} if head else None, expect=expect)


def test_sessions(srv, sources):
    s = create(srv)
    sid = s["id"]
    check(s["head"] == "waitk:2" and re.fullmatch(r"[0-9a-f]{32}", sid) is not None,
          "POST /v1/sessions -> 201 with an opaque id and the server's head", str(s))
    h = srv.json("GET", "/healthz")
    check(h["status"] == "ok" and h["sessions"] >= 1, "GET /healthz counts the session", str(h))
    src = sources[0]
    n = len(src.split())
    out = run_session(srv, sid, src)
    check(len(out) > 0 and [d for _, d in out] == waitk_delays(2, n, len(out)),
          "session: words stream out with wait-2 delays", str(out[:6]))
    simul, _ = simuleval_sentence(srv, src)
    check([w for w, _ in out] == simul, "session output == the SimulEval protocol's output")
    info = srv.json("GET", f"/v1/sessions/{sid}")
    check(info["finished"] and info["source_finished"] and info["words_pushed"] == n and info["words_read"] == n,
          "GET /v1/sessions/ID describes the sentence", str(info))
    st, _, data = srv.request("POST", f"/v1/sessions/{sid}/input", {"words": ["more"]})
    check(st == 409 and "reset" in json.loads(data)["error"], "input after the source finished -> 409 naming reset",
          f"{st} {data[:200]!r}")
    srv.json("POST", f"/v1/sessions/{sid}/reset")
    again = run_session(srv, sid, src, chunk=3)
    check(again == out, "after reset the same sentence (3 words per input) gives the same words and delays")
    # text instead of words, all at once
    srv.json("POST", f"/v1/sessions/{sid}/reset")
    r = srv.json("POST", f"/v1/sessions/{sid}/input", {"text": "  " + src.replace(" ", " \t "), "finished": True})
    check(r["queued"] == n, f"{{'text': ...}} is split on whitespace into {n} words", str(r))
    o = srv.json("GET", f"/v1/sessions/{sid}/output")
    check(o["finished"] and [(w["word"], w["delay"]) for w in o["words"]] == out,
          "the whole source at once: same words and delays")
    # per-session head
    for head in ["waitk:4", "offline", "chunk:3"]:
        s2 = create(srv, head)
        check(s2["head"] == head, f"per-session head {head}", str(s2))
        o2 = run_session(srv, s2["id"], src)
        if head == "waitk:4":
            exp = waitk_delays(4, n, len(o2))
        elif head == "offline":
            exp = [n] * len(o2)
        else:
            exp = [min(3 * ((j + 2) // 3), n) for j in range(1, len(o2) + 1)]
        check(len(o2) > 0 and [d for _, d in o2] == exp, f"head {head}: delays follow its schedule",
              str([d for _, d in o2][:10]))
        srv.json("DELETE", f"/v1/sessions/{s2['id']}")
    for head in ["entropy:1.5", "maxprob:0.3", "attn:4:0.5"]:
        s2 = create(srv, head)
        o2 = run_session(srv, s2["id"], src)
        d = [x for _, x in o2]
        check(len(o2) > 0 and all(1 <= x <= n for x in d) and d == sorted(d),
              f"head {head}: delays within 1..{n} and non-decreasing", str(d[:10]))
        srv.json("DELETE", f"/v1/sessions/{s2['id']}")
    st, _, data = srv.request("POST", "/v1/sessions", {"head": "probe:0.5"})
    check(st == 400 and "probe" in json.loads(data)["error"], "head probe:P without a probe -> 400", data[:200])
    # delete
    r = srv.json("DELETE", f"/v1/sessions/{sid}")
    check(r.get("deleted") == sid, "DELETE /v1/sessions/ID -> 200")
    for method, path in [("GET", f"/v1/sessions/{sid}/output"), ("POST", f"/v1/sessions/{sid}/input"),
                         ("DELETE", f"/v1/sessions/{sid}"), ("GET", "/v1/sessions/" + "0" * 32),
                         ("POST", "/v1/sessions/nosuchsession/reset")]:
        st, hd, data = srv.request(method, path, {"words": ["a"]} if method == "POST" else None)
        check(st == 404 and "error" in json.loads(data) and hd.get("content-type") == "application/json",
              f"{method} {path[:30]}... on an unknown session -> 404", f"{st} {data[:200]!r}")


def test_limits(lim, idle_timeout):
    a, b = create(lim), create(lim)
    st, hd, data = lim.request("POST", "/v1/sessions")
    err = json.loads(data).get("error", "")
    check(st == 429 and "2" in err and hd.get("content-type") == "application/json",
          "a third session with --max-sessions 2 -> 429", f"{st} {err}")
    lim.json("DELETE", f"/v1/sessions/{a['id']}")
    c = create(lim)
    check(bool(c.get("id")), "after a DELETE a new session fits again")
    st, _, data = lim.request("POST", f"/v1/sessions/{b['id']}/input", {"words": ["x" * 5000]})
    check(st == 413 and "4096" in json.loads(data)["error"], "a body over --max-body 4096 -> 413",
          f"{st} {data[:200]!r}")

    def chunks():
        for _ in range(10):
            yield b"{" + b" " * 1000
    st, _, data = lim.request("POST", f"/v1/sessions/{b['id']}/input", chunks(), chunked=True)
    check(st == 413 and "error" in json.loads(data), "a chunked body over --max-body -> 413", f"{st} {data[:200]!r}")
    o = lim.json("GET", f"/v1/sessions/{b['id']}/output")
    check(o["words"] == [] and o["finished"] is False, "the refused bodies queued nothing")
    # idle timeout
    lim.json("GET", f"/v1/sessions/{b['id']}")
    time.sleep(idle_timeout + 1.5)
    st, _, _ = lim.request("GET", f"/v1/sessions/{b['id']}")
    h = lim.json("GET", "/healthz")
    check(st == 404 and h["sessions"] == 0, f"sessions idle for more than {idle_timeout} s are dropped",
          f"{st} {h}")


# --- bad input ------------------------------------------------------------------------------------

def test_bad_input(srv, sources):
    sid = create(srv)["id"]
    inp = f"/v1/sessions/{sid}/input"

    def bad(what, method, path, body, code, needle, **kw):
        st, hd, data = srv.request(method, path, body, **kw)
        try:
            err = json.loads(data)["error"]
        except Exception:  # noqa: BLE001
            err = None
        ok = st == code and isinstance(err, str) and needle.lower() in err.lower() and \
            hd.get("content-type") == "application/json"
        check(ok, f"{what} -> {code}: {err}", f"got {st} {hd.get('content-type')} {data[:200]!r}")

    bad("malformed JSON", "POST", inp, '{"words": ["a", ', 400, "line 1, column")
    bad("malformed JSON on the second line", "POST", inp, '{"words":\n ["a" "b"]}', 400, "line 2")
    bad("trailing garbage", "POST", inp, '{"words": []} x', 400, "malformed JSON")
    bad("a JSON array instead of an object", "POST", inp, "[1, 2]", 400, "object")
    bad("an empty body", "POST", inp, "", 400, "empty")
    bad("words not an array", "POST", inp, {"words": "a b"}, 400, '"words"')
    bad("a word that is a number", "POST", inp, {"words": ["a", 7]}, 400, '"words"[1]')
    bad("finished not a boolean", "POST", inp, {"words": ["a"], "finished": "yes"}, 400, '"finished"')
    bad("text not a string", "POST", inp, {"text": ["a"]}, 400, '"text"')
    bad("words and text both", "POST", inp, {"text": "a", "words": ["b"]}, 400, "not both")
    bad("an unknown field", "POST", inp, {"wrods": ["a"]}, 400, "wrods")
    bad("duplicate keys", "POST", inp, '{"words": ["a"], "words": ["b"]}', 400, "duplicate")
    bad("head not a string", "POST", "/v1/sessions", {"head": 3}, 400, '"head"')
    bad("an unknown head", "POST", "/v1/sessions", {"head": "waitk:zero"}, 400, "waitk:zero")
    bad("invalid UTF-8 in a word", "POST", inp, b'{"words": ["caf\xc3", "ok"]}', 400, "UTF-8")
    bad("invalid UTF-8 (a lone continuation byte)", "PUT", "/input", b'{"content": "\x80", "finished": false}', 400,
        "UTF-8")
    bad("a lone surrogate escape", "POST", inp, '{"words": ["\\udc80"]}', 400, "malformed JSON")
    bad("a NUL escape", "POST", inp, '{"words": ["a\\u0000b"]}', 400, "malformed JSON")
    bad("SimulEval content a number", "PUT", "/input", {"content": 5, "finished": False}, 400, '"content"')
    bad("SimulEval finished a string", "PUT", "/input", {"content": "a", "finished": "no"}, 400, '"finished"')
    bad("SimulEval speech segment", "PUT", "/input", {"content": [0.1, 0.2], "data_type": "speech"}, 400, "speech")
    bad("a body over the 1 MiB default", "POST", inp, {"words": ["a" * (1 << 20)]}, 413, "1048576")
    # a client that waits for "100 Continue" gets the 413 before sending its body
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(f"POST {inp} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {2 << 20}\r\nExpect: 100-continue\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            reply += more
    check(reply.startswith(b"HTTP/1.1 413") and b"2097152 bytes" in reply,
          "Expect: 100-continue with an over-limit Content-Length -> 413 before the body", reply[:200])
    bad("an unknown path", "GET", "/v2/nothing", None, 404, "/v2/nothing")
    bad("an unknown session action", "POST", f"/v1/sessions/{sid}/jump", {}, 404, "no such path")
    bad("a wrong method on /output", "POST", "/output", {}, 405, "not allowed")
    bad("a wrong method on a session", "PUT", f"/v1/sessions/{sid}", {}, 405, "GET, DELETE")
    bad("a wrong method on /v1/sessions", "GET", "/v1/sessions", None, 405, "POST")
    bad("a wrong method on /metrics", "DELETE", "/metrics", None, 405, "GET")
    st, hd, _ = srv.request("DELETE", "/healthz")
    check(st == 405 and hd.get("allow") == "GET", "405 carries an Allow header")
    # hostile bytes straight on the socket (a half-closed connection with an unfinished request may
    # be held open until the server's connection timeout: do not wait for it)
    for raw in [b"GARBAGE\r\n\r\n", b"POST /v1/sessions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00\xff\xfe" * 100,
                b"POST /input HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"con"]:
        try:
            with socket.create_connection((srv.host, srv.port), timeout=2) as sock:
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        except OSError:
            pass
    h = srv.json("GET", "/healthz")
    check(h["status"] == "ok", "the server survives raw garbage on the socket")
    # still serving a normal session correctly
    src = sources[1]
    ref = run_session(srv, create(srv)["id"], src)
    out = run_session(srv, sid, src)
    check(out == ref and len(out) > 0, "after all the bad requests a session still streams correctly")


# --- metrics --------------------------------------------------------------------------------------

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(' + LABEL + '(,' + LABEL + r')*)?\})?'
                         r' (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')


def scrape(srv):
    st, hd, data = srv.request("GET", "/metrics")
    assert st == 200, st
    assert hd.get("content-type", "").startswith("text/plain; version=0.0.4"), hd.get("content-type")
    values, types, helps = {}, {}, set()
    for line in data.decode("utf-8").splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line.strip():
            m = METRIC_LINE.match(line)
            assert m, f"not a Prometheus sample line: {line!r}"
            values[m.group(1) + (m.group(2) or "")] = float(m.group(5))
    return values, types, helps


REQUIRED = {"proact_requests_total": "counter", "proact_active_sessions": "gauge",
            "proact_source_words_read_total": "counter", "proact_target_words_written_total": "counter",
            "proact_decode_tokens_total": "counter", "proact_decode_seconds_total": "counter",
            "proact_decode_tokens_per_second": "gauge"}


def test_metrics(srv, sources):
    try:
        v1, types, helps = scrape(srv)
    except AssertionError as e:
        check(False, "GET /metrics parses as Prometheus text", str(e))
        return
    check(all(types.get(k) == t and k in helps for k, t in REQUIRED.items()),
          "GET /metrics: HELP and TYPE for every required metric", str(types))
    sid = create(srv)["id"]
    run_session(srv, sid, sources[2])
    srv.request("GET", "/nothing-here")
    v2, _, _ = scrape(srv)
    for name in ["proact_source_words_read_total", "proact_target_words_written_total", "proact_decode_tokens_total",
                 "proact_decode_seconds_total", 'proact_requests_total{code="200"}',
                 'proact_requests_total{code="201"}']:
        check(v2.get(name, 0) > v1.get(name, 0), f"{name} increased after traffic ({v1.get(name)} -> {v2.get(name)})")
    check(v2.get('proact_requests_total{code="404"}', 0) >= 1, "404s are counted by code")
    n_src = len(sources[2].split())
    check(v2["proact_source_words_read_total"] - v1["proact_source_words_read_total"] == n_src,
          f"source words read grew by exactly the sentence's {n_src} words")
    tps = v2["proact_decode_tokens_per_second"]
    expect = v2["proact_decode_tokens_total"] / v2["proact_decode_seconds_total"]
    check(abs(tps - expect) <= 0.01 * expect + 1, f"tokens per second = tokens / seconds ({tps:.0f})")
    check(v2["proact_active_sessions"] == srv.json("GET", "/healthz")["sessions"], "active sessions gauge == /healthz")
    srv.json("DELETE", f"/v1/sessions/{sid}")


# --- concurrency ----------------------------------------------------------------------------------

def test_concurrent(srv, sources, n_threads=8, per_thread=3, budget=60.0):
    heads = ["waitk:1", "waitk:2", "waitk:3", "chunk:2", "offline", "entropy:1.5", "maxprob:0.3", "waitk:5"]
    jobs = [[(heads[t % len(heads)], sources[(t + i) % len(sources)]) for i in range(per_thread)]
            for t in range(n_threads)]
    # references: each (head, sentence) alone in one session, one after the other
    ref = {}
    for head in sorted({h for job in jobs for h, _ in job}):
        sid = create(srv, head)["id"]
        for src in sorted({s for job in jobs for h, s in job if h == head}):
            srv.json("POST", f"/v1/sessions/{sid}/reset")
            ref[(head, src)] = run_session(srv, sid, src)
        srv.json("DELETE", f"/v1/sessions/{sid}")
    results, errors = {}, []
    barrier = threading.Barrier(n_threads)

    def worker(t):
        try:
            sid = create(srv, jobs[t][0][0])["id"]
            barrier.wait(timeout=30)
            outs = []
            for head, src in jobs[t]:
                srv.json("POST", f"/v1/sessions/{sid}/reset")
                outs.append(run_session(srv, sid, src, chunk=1 + t % 3))
            results[t] = outs
            srv.json("DELETE", f"/v1/sessions/{sid}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {t}: {e!r}")

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=max(0.0, budget - (time.time() - t0)))
    elapsed = time.time() - t0
    alive = sum(th.is_alive() for th in threads)
    check(alive == 0 and not errors, f"{n_threads} threads x {per_thread} sentences finished in {elapsed:.1f} s "
          f"(budget {budget:.0f} s)", f"{alive} still running; {errors[:3]}")
    mismatches = [(t, i) for t in range(n_threads) for i in range(per_thread)
                  if t in results and results[t][i] != ref[jobs[t][i]]]
    total_words = sum(len(o) for outs in results.values() for o in outs)
    check(len(results) == n_threads and not mismatches,
          f"every concurrent session's {total_words} words and delays equal its sentence run alone",
          f"mismatches at {mismatches[:5]}")
    check(srv.json("GET", "/healthz")["sessions"] >= 0, "the server answers after the load test")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--limited-url", required=True)
    ap.add_argument("--proact", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--idle-timeout", type=float, default=3.0)
    ap.add_argument("--budget", type=float, default=60.0)
    a = ap.parse_args()
    with open(a.fixture, encoding="utf-8") as f:
        sources = [line.split("\t")[0].strip() for line in f if line.strip()][:6]
    srv, lim = Server(a.url), Server(a.limited_url)
    sections = [("SimulEval protocol", lambda: test_simuleval(srv, sources[:4], a.proact, a.model)),
                ("SimulEval edge cases", lambda: test_simuleval_edges(srv)),
                ("sessions", lambda: test_sessions(srv, sources)),
                ("limits", lambda: test_limits(lim, a.idle_timeout)),
                ("bad input", lambda: test_bad_input(srv, sources)),
                ("metrics", lambda: test_metrics(srv, sources)),
                ("concurrency", lambda: test_concurrent(srv, sources, budget=a.budget))]
    return run_sections("serve_client", sections)


if __name__ == "__main__":
    sys.exit(main())
