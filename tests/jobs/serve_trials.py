"""Reliability trials of `proact serve` (issue 17; tests/jobs/test_serve_trials.sh). Stdlib only;
the HTTP helpers are serve_client.py's.

    serve_trials.py --idle-url URL --idle-timeout S --tiny-url URL --slow-url URL --client-timeout S
                    --proact BIN --model DIR --fixture TSV

- idle: a server with `--idle-timeout S` and 16 sessions. 8 stream sentences the whole time (a
  request every 0.15 s or so) while 8 sit idle; the idle ones must expire (404 "no session ...",
  counted by proact_sessions_expired_total) and the busy ones never, their words and delays equal
  to `proact run`'s on the same sentences and heads; then the freed slots take 16 sessions again.
  And a server with `--idle-timeout 0.001`: sessions created while other requests sweep must
  come back whole and all expire.
- slow: a server with `--client-timeout S`. Clients send the headers of a 200-byte body, then
  one byte every 0.5 s (a slowloris on the body); first one, then 8 at once. Meanwhile a normal
  client must stream a whole sentence (the same words as alone) before any slow one is dropped;
  every slow connection must be closed between S and S + 10 s after its headers, having queued
  nothing, and counted by proact_client_timeouts_total.
No wall-clock performance is asserted; the margins are several times the pacing.
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_client as sc  # noqa: E402
from serve_client import Server, check, create, run_session  # noqa: E402

HEADS = ["waitk:2", "entropy:1.5", "maxprob:0.3", "chunk:2"]


def run_references(proact, model, sources, heads):
    """{(head, sentence): [(word, delay)]} from `proact run`, one process per head."""
    ref = {}
    for head in heads:
        p = subprocess.run([proact, "run", "--model", model, "--head", head], input="\n".join(sources) + "\n",
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError(f"proact run --head {head}: {p.stderr[-300:]}")
        summaries = [json.loads(line) for line in p.stdout.splitlines() if line.startswith('{"sentence"')]
        if len(summaries) != len(sources):
            raise AssertionError(f"proact run --head {head}: {len(summaries)} summaries for {len(sources)} sentences")
        for src, s in zip(sources, summaries):
            ref[(head, src)] = list(zip(s["prediction"].split(), s["delays"]))
    return ref


def metric(srv, name):
    values, _, _ = sc.scrape(srv)
    return values.get(name, 0.0)


# --- trial 1: idle expiry under load -------------------------------------------------------------

def trial_idle(srv, sources, ref, timeout):
    expired0 = metric(srv, "proact_sessions_expired_total")
    n_active = n_idle = 8
    short = [s for s in sources if len(s.split()) <= 20]  # the busy sessions stop soon after being told
    t0 = time.time()
    active = [create(srv, HEADS[t % len(HEADS)]) for t in range(n_active)]
    idle = [create(srv, HEADS[t % len(HEADS)]) for t in range(n_idle)]
    for s in idle:  # some state to free: half a sentence queued and read
        srv.json("POST", f"/v1/sessions/{s['id']}/input", {"words": sources[0].split()[:3]})
        srv.json("GET", f"/v1/sessions/{s['id']}/output")
    t_idle = time.time()  # the idle sessions' last use
    stop = threading.Event()
    results, errors = {}, []

    def worker(t):
        sid, head = active[t]["id"], active[t]["head"]
        outs, i = [], 0
        try:
            while not stop.is_set():
                src = short[(t + i) % len(short)]
                srv.json("POST", f"/v1/sessions/{sid}/reset")
                outs.append((src, run_session(srv, sid, src, pause=0.15)))
                i += 1
            # at once: waiting for the other threads would leave it idle long enough to expire
            srv.json("DELETE", f"/v1/sessions/{sid}")
            results[t] = (head, outs)
        except Exception as e:  # noqa: BLE001
            errors.append(f"active session {t}: {e!r}")

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n_active)]
    for th in threads:
        th.start()
    # before the timeout: nothing has expired (/healthz and /metrics touch no session)
    time.sleep(max(0.0, t_idle + timeout / 2 - time.time()))
    h = srv.json("GET", "/healthz")
    check(h["sessions"] == n_active + n_idle and metric(srv, "proact_sessions_expired_total") == expired0,
          f"after {timeout / 2:.1f} s (half the idle timeout) all 16 sessions are there", str(h))
    # well after it: the idle ones are gone, the busy ones are not
    time.sleep(max(0.0, t_idle + timeout + 2.5 - time.time()))
    h = srv.json("GET", "/healthz")
    expired = metric(srv, "proact_sessions_expired_total") - expired0
    check(h["sessions"] == n_active and expired == n_idle,
          f"{timeout + 2.5:.1f} s after their last use the {n_idle} idle sessions expired, the {n_active} busy ones "
          f"not (proact_sessions_expired_total +{expired:.0f})", f"{h} expired +{expired}")
    gone = 0
    for s in idle:
        st, hd, data = srv.request("POST", f"/v1/sessions/{s['id']}/input", {"words": ["again"]})
        err = json.loads(data).get("error", "") if hd.get("content-type") == "application/json" else ""
        gone += st == 404 and err.startswith(f"no session '{s['id']}'") and "expired" in err
    check(gone == n_idle, f"the next request on each idle session gets 404 'no session ... expired' ({gone}/{n_idle})")
    busy_for = time.time() - t0
    stop.set()
    for th in threads:
        th.join(timeout=60)
    check(not errors and len(results) == n_active and not any(th.is_alive() for th in threads),
          f"the {n_active} busy sessions streamed for {busy_for:.1f} s without an error (timeout {timeout:g} s)",
          "; ".join(errors[:3]))
    n_sent = sum(len(outs) for _, outs in results.values())
    wrong = [(t, src[:30]) for t, (head, outs) in results.items() for src, out in outs if out != ref[(head, src)]]
    check(n_sent >= n_active and not wrong,
          f"all {n_sent} sentences of the busy sessions equal proact run's words and delays", str(wrong[:4]))
    # the server goes on: every slot is free again, and a new session streams correctly
    again = [srv.request("POST", "/v1/sessions") for _ in range(16)]
    ids = [json.loads(d)["id"] for st, _, d in again if st == 201]
    check(len(ids) == 16, f"afterwards 16 new sessions fit again ({len(ids)} created)",
          str([st for st, _, _ in again]))
    if ids:
        head = srv.json("GET", f"/v1/sessions/{ids[0]}")["head"]
        out = run_session(srv, ids[0], sources[1])
        check(out == ref.get((head, sources[1])), "a new session streams the same words as proact run")
    for sid in ids:
        srv.json("DELETE", f"/v1/sessions/{sid}")


def trial_tiny_timeout(srv, seconds=3.0):
    """Sessions that expire (almost) as soon as they are made, while clients create them and other
    requests sweep: once freed a session's id must not be read again (handle_create did, a
    use-after-free that ASan reports)."""
    created0 = metric(srv, "proact_sessions_created_total")
    expired0 = metric(srv, "proact_sessions_expired_total")
    stop = time.time() + seconds
    bad, errors, counts = [], [], [0]

    def creator():
        try:
            while time.time() < stop:
                st, _, data = srv.request("POST", "/v1/sessions")
                j = json.loads(data)
                if st != 201 or len(j.get("id", "")) != 32 or j.get("head") != "waitk:2":
                    bad.append((st, data[:100]))
                counts[0] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def sweeper():
        try:
            while time.time() < stop:
                srv.json("GET", "/healthz")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=f, daemon=True) for f in [creator] * 3 + [sweeper] * 3]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=seconds + 60)
    check(not errors and not bad and counts[0] > 0,
          f"{counts[0]} sessions created under --idle-timeout 0.001 beside sweeping requests: every answer whole",
          f"{errors[:2]} {bad[:2]}")
    time.sleep(1.5)  # the server's own sweep, once a second
    created = metric(srv, "proact_sessions_created_total") - created0
    expired = metric(srv, "proact_sessions_expired_total") - expired0
    check(created == counts[0] and expired == created and srv.json("GET", "/healthz")["sessions"] == 0,
          f"all {created:.0f} of them expired, and the server still answers", f"created +{created} expired +{expired}")


# --- trial 2: clients that send their bodies slowly -----------------------------------------------

class SlowBody(threading.Thread):
    """Sends the headers of a `length`-byte body, then one byte every `interval` s, until the
    server closes the connection (or the body is complete, which must not happen)."""

    def __init__(self, host, port, path, length=200, interval=0.5):
        super().__init__(daemon=True)
        self.addr, self.path, self.length, self.interval = (host, port), path, length, interval
        self.sent, self.reply, self.dropped, self.error = 0, b"", None, None
        self.t_headers = None
        self.started_sending = threading.Event()

    def run(self):
        body = json.dumps({"words": ["slow"] * 30}).encode().ljust(self.length)
        try:
            sock = socket.create_connection(self.addr, timeout=10)
            sock.sendall(f"POST {self.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode())
            self.t_headers = time.time()
            while self.sent < len(body):
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:  # the server answered or closed
                    try:
                        more = sock.recv(65536)
                    except OSError:
                        more = b""
                    self.reply += more
                    if not more:
                        break
                    continue
                try:
                    sock.send(body[self.sent:self.sent + 1])
                except OSError:
                    break
                self.sent += 1
                self.started_sending.set()
                time.sleep(self.interval)
            self.dropped = time.time() - self.t_headers
            sock.close()
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)
        self.started_sending.set()


def trial_slow(srv, sources, ref, client_timeout, n_slow):
    what = "1 slow-body client" if n_slow == 1 else f"{n_slow} slow-body clients"
    dropped0 = metric(srv, "proact_client_timeouts_total")
    target = create(srv)["id"]
    slow = [SlowBody(srv.host, srv.port, f"/v1/sessions/{target}/input") for _ in range(n_slow)]
    for c in slow:
        c.start()
    for c in slow:
        c.started_sending.wait(timeout=10)
    time.sleep(1.0)  # all of them well into their bodies
    # a normal client streams a whole sentence meanwhile
    head = "waitk:2"
    sid = create(srv, head)["id"]
    t0 = time.time()
    out = run_session(srv, sid, sources[2])
    took = time.time() - t0
    still = sum(c.dropped is None and c.error is None for c in slow)
    check(still == n_slow, f"{what}: a normal client streamed a whole sentence ({took:.2f} s) while every slow one "
          f"was still sending ({still}/{n_slow})", str([(c.sent, c.dropped, c.error) for c in slow]))
    check(out == ref[(head, sources[2])], f"{what}: the normal client's words and delays equal proact run's")
    for c in slow:
        c.join(timeout=client_timeout + 20)
    times = [c.dropped for c in slow]
    ok = all(c.error is None and c.dropped is not None and client_timeout - 0.2 <= c.dropped <= client_timeout + 10
             and c.sent < c.length for c in slow)
    check(ok, f"{what}: each connection closed by the server {min(t for t in times if t) if any(times) else 0:.1f}"
          f"..{max(t for t in times if t) if any(times) else 0:.1f} s after its headers (--client-timeout "
          f"{client_timeout}), its body unfinished", str([(c.sent, c.dropped, c.error, c.reply[:60]) for c in slow]))
    check(all(not c.reply or c.reply.startswith(b"HTTP/1.1 4") for c in slow),
          f"{what}: no success answer to a dropped body", str([c.reply[:60] for c in slow]))
    dropped = metric(srv, "proact_client_timeouts_total") - dropped0
    check(dropped == n_slow, f"{what}: proact_client_timeouts_total +{dropped:.0f}")
    info = srv.json("GET", f"/v1/sessions/{target}")
    check(info["words_pushed"] == 0, f"{what}: the dropped bodies queued nothing", str(info))
    # the server goes on
    srv.json("POST", f"/v1/sessions/{sid}/reset")
    check(run_session(srv, sid, sources[3]) == ref[(head, sources[3])] and
          srv.json("GET", "/healthz")["status"] == "ok", f"{what}: afterwards the server streams correctly")
    srv.json("DELETE", f"/v1/sessions/{sid}")
    srv.json("DELETE", f"/v1/sessions/{target}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-url", required=True)
    ap.add_argument("--idle-timeout", type=float, required=True)
    ap.add_argument("--tiny-url", required=True)
    ap.add_argument("--slow-url", required=True)
    ap.add_argument("--client-timeout", type=float, required=True)
    ap.add_argument("--proact", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--fixture", required=True)
    a = ap.parse_args()
    with open(a.fixture, encoding="utf-8") as f:
        sources = [line.split("\t")[0].strip() for line in f if line.strip()][:6]
    idle_srv, tiny_srv, slow_srv = Server(a.idle_url), Server(a.tiny_url), Server(a.slow_url)
    ref = run_references(a.proact, a.model, sources, HEADS)
    sections = [("idle expiry under load", lambda: trial_idle(idle_srv, sources, ref, a.idle_timeout)),
                ("a tiny idle timeout under load", lambda: trial_tiny_timeout(tiny_srv)),
                ("a slow-body client", lambda: trial_slow(slow_srv, sources, ref, a.client_timeout, 1)),
                ("8 slow-body clients", lambda: trial_slow(slow_srv, sources, ref, a.client_timeout, 8))]
    return sc.run_sections("serve_trials", sections)


if __name__ == "__main__":
    sys.exit(main())
