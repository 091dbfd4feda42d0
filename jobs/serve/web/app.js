// The page of proact serve (docs/serving.md, "Watching it decide"). For each head: make a session
// (POST /v1/sessions), play the source on it (POST /v1/sessions/ID/stream, read as Server-Sent
// Events), draw every event as it comes, and delete the session at the end. No framework.
"use strict";

// A few sentences per source language; English when the model's language has none.
const SAMPLES = {
  en: ["John went to the market to buy some bread and milk for his family .",
       "The weather was so nice that we decided to walk home through the park .",
       "She told me that the meeting had been moved to next Tuesday afternoon ."],
  de: ["Ich habe gestern mit meiner Schwester über die Reise nach Spanien gesprochen .",
       "Der Zug nach Berlin fährt heute wegen des Sturms später ab ."],
  fr: ["Nous avons décidé de partir en vacances au bord de la mer cet été .",
       "Le train pour Lyon part avec une heure de retard à cause de la neige ."],
  es: ["Mañana por la mañana vamos a visitar a mis abuelos en el pueblo .",
       "El tren a Madrid sale con una hora de retraso por la nieve ."],
};

const $ = (id) => document.getElementById(id);
let info = null;

function showMessage(text) {
  const m = $("message");
  m.textContent = text;
  m.hidden = !text;
}

async function errorOf(resp) {
  try {
    const j = await resp.json();
    if (j && j.error) return j.error;
  } catch (e) { /* not JSON */ }
  return `HTTP ${resp.status}`;
}

async function loadInfo() {
  const resp = await fetch("/", { headers: { Accept: "application/json" } });
  info = await resp.json();
  $("model").textContent = `Model ${info.model} (${info.src_lang} → ${info.tgt_lang}), ` +
    `at most ${info.max_source_words} source words a sentence; default head ${info.head}.`;
  $("head-a").value = info.head;
  const samples = SAMPLES[info.src_lang] || SAMPLES.en;
  for (const s of samples) {
    const o = document.createElement("option");
    o.value = s;
    o.textContent = s.length > 60 ? s.slice(0, 57) + "…" : s;
    $("sample").appendChild(o);
  }
  if (!$("source").value) $("source").value = samples[0];
}

// One head's panel: the source columns with their decision marks, the translation, the cue plot.
class Lane {
  constructor(head) {
    this.el = $("lane-template").content.firstElementChild.cloneNode(true);
    this.el.querySelector(".lane-head").textContent = head;
    this.el.querySelector(".translation").lang = info ? info.tgt_lang : "";
    this.timeline = this.el.querySelector(".timeline");
    this.translation = this.el.querySelector(".translation");
    this.status = this.el.querySelector(".status");
    this.plot = this.el.querySelector(".cue-plot");
    this.columns = [];
    this.decisions = [];
    this.words = [];
    $("lanes").appendChild(this.el);
  }

  setStatus(t) { this.status.textContent = t; }

  start(ev) {
    this.start_ev = ev;
    // a column per source word, and one for the end of the source
    ev.source.forEach((w, i) => this.addColumn(w, i + 1, false));
    this.addColumn("⟨end⟩", ev.source.length + 1, true);
    const cue = ev.threshold === null ? `${ev.cue} (no threshold: a schedule)`
      : `${ev.cue}: WRITE when ${ev.cue} ${ev.write_when} ${ev.threshold}`;
    this.el.querySelector(".cue-title").textContent = `Cue against the threshold — ${cue}`;
    this.plot.setAttribute("aria-label", `The ${ev.cue} cue at each decision` +
      (ev.threshold === null ? "" : `, against the threshold ${ev.threshold}`));
    this.setStatus("Playing…");
  }

  addColumn(word, index, end) {
    const col = document.createElement("div");
    col.className = "column";
    col.setAttribute("role", "listitem");
    const src = document.createElement("span");
    src.className = "src pending" + (end ? " end" : "");
    src.textContent = word;
    const marks = document.createElement("div");
    marks.className = "marks";
    col.append(src, marks);
    this.timeline.appendChild(col);
    this.columns[index] = col;
  }

  source(ev) {
    const col = this.columns[ev.index];
    if (col) col.firstElementChild.classList.remove("pending");
  }

  decision(ev) {
    this.decisions.push(ev);
    const col = this.columns[Math.min(ev.units_read, this.columns.length - 1)];
    if (ev.units_read > this.start_ev.source.length) col.firstElementChild.classList.remove("pending");
    const m = document.createElement("span");
    m.className = "mark " + (ev.decision === "WRITE" ? "write" : "read");
    m.dataset.decision = ev.decision;
    m.textContent = ev.decision === "WRITE" ? "W" : "R";
    m.title = `${ev.decision} (${ev.reason}) for target word ${ev.word_index} after ${ev.units_read} source ` +
      `units; ${ev.cue} = ${fmt(ev.value)}` + (ev.threshold === null ? "" : `, threshold ${ev.threshold}`);
    if (col) col.lastElementChild.appendChild(m);
    this.lastMark = m;
    this.drawPlot();
  }

  word(ev) {
    this.words.push(ev.word);
    this.translation.textContent = this.words.join(" ");
    if (this.lastMark && this.lastMark.dataset.decision === "WRITE") this.lastMark.textContent = "W " + ev.word;
  }

  end(ev) {
    const stats = this.el.querySelector(".stats");
    const rows = [
      ["AL", ev.AL === null ? "—" : fmt(ev.AL) + " words"],
      ["LAAL", ev.LAAL === null ? "—" : fmt(ev.LAAL) + " words"],
      ["Computing time", `${fmt(ev.compute_ms)} ms`],
      ["Whole time", `${fmt(ev.elapsed_ms)} ms`],
      ["Decisions", `${ev.decisions} (${this.count("READ")} READ, ${this.count("WRITE")} WRITE)`],
    ];
    if (ev.limit) rows.push(["Stopped by", ev.limit]);
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      stats.append(dt, dd);
    }
    this.el.dataset.done = "1";
    this.setStatus("Done.");
  }

  fail(msg) {
    this.el.dataset.done = "1";
    this.setStatus("Stopped: " + msg);
  }

  count(d) { return this.decisions.filter((e) => e.decision === d).length; }

  // The cue per decision (x: decision number, y: cue value) and the head's threshold, in plain SVG.
  drawPlot() {
    const W = 600, H = 160, pad = 8, ns = "http://www.w3.org/2000/svg";
    const vals = this.decisions.map((d) => d.value);
    const thr = this.start_ev.threshold;
    let lo = Math.min(...vals, thr ?? Infinity), hi = Math.max(...vals, thr ?? -Infinity);
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    const n = Math.max(this.decisions.length, 2);
    const x = (i) => pad + (i * (W - 2 * pad)) / (n - 1);
    const y = (v) => H - pad - ((v - lo) * (H - 2 * pad)) / (hi - lo);
    this.plot.replaceChildren();
    if (thr !== null) {
      const l = document.createElementNS(ns, "line");
      l.setAttribute("class", "threshold");
      l.setAttribute("x1", 0); l.setAttribute("x2", W);
      l.setAttribute("y1", y(thr)); l.setAttribute("y2", y(thr));
      this.plot.appendChild(l);
    }
    const path = document.createElementNS(ns, "polyline");
    path.setAttribute("class", "line");
    path.setAttribute("points", this.decisions.map((d, i) => `${x(i)},${y(d.value)}`).join(" "));
    this.plot.appendChild(path);
    this.decisions.forEach((d, i) => {
      const c = document.createElementNS(ns, "circle");
      c.setAttribute("class", d.decision === "WRITE" ? "pt-write" : "pt-read");
      c.setAttribute("cx", x(i)); c.setAttribute("cy", y(d.value)); c.setAttribute("r", 3.5);
      const t = document.createElementNS(ns, "title");
      t.textContent = `${d.decision}: ${d.cue} = ${fmt(d.value)}`;
      c.appendChild(t);
      this.plot.appendChild(c);
    });
    if (!this.legend) {
      this.legend = document.createElement("p");
      this.legend.className = "legend";
      this.legend.innerHTML = '<span class="sw" style="background:var(--read)"></span>READ' +
        '<span class="sw" style="background:var(--write)"></span>WRITE' +
        '<span class="sw" style="background:var(--thr);border-radius:0;height:2px"></span>threshold';
      this.plot.after(this.legend);
    }
  }
}

function fmt(v) { return typeof v === "number" ? (Math.round(v * 1000) / 1000).toString() : String(v); }

// Reads a text/event-stream body, calling onEvent(name, data) per event.
async function readEvents(resp, onEvent) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      onEvent(name, JSON.parse(data));
    }
  }
}

// Plays the text with one head; returns an error message or "".
async function playHead(head, text, ms, lane) {
  const made = await fetch("/v1/sessions", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ head }),
  });
  if (!made.ok) return `Head "${head}": ${await errorOf(made)}`;
  const { id } = await made.json();
  try {
    const resp = await fetch(`/v1/sessions/${id}/stream`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, ms_per_word: ms }),
    });
    if (!resp.ok) return await errorOf(resp);
    let failure = "";
    await readEvents(resp, (name, ev) => {
      if (name === "error") failure = ev.error;
      else if (typeof lane[name] === "function") lane[name](ev);
    });
    if (failure) { lane.fail(failure); return `Head "${head}": ${failure}`; }
    return "";
  } finally {
    fetch(`/v1/sessions/${id}`, { method: "DELETE" }).catch(() => {});
  }
}

async function play(e) {
  e.preventDefault();
  showMessage("");
  const text = $("source").value;
  const ms = Number($("speed").value);
  const heads = [$("head-a").value.trim(), $("head-b").value.trim()].filter((h, i) => h || i === 0);
  if (!Number.isInteger(ms) || ms < 0 || ms > 5000) {
    showMessage("The speaking speed must be a whole number of milliseconds between 0 and 5000.");
    $("speed").focus();
    return;
  }
  $("play").disabled = true;
  $("lanes").replaceChildren();
  document.body.dataset.state = "playing";
  try {
    const lanes = heads.map((h) => new Lane(h || (info ? info.head : "")));
    const errors = await Promise.all(heads.map((h, i) => playHead(h || info.head, text, ms, lanes[i])));
    const msgs = errors.filter((m) => m);
    // a head refused before it started leaves an empty panel: drop it, the message says why
    lanes.forEach((l) => { if (!l.start_ev) l.el.remove(); });
    showMessage(msgs.join("\n"));
  } catch (err) {
    showMessage(`The server could not be reached: ${err.message}`);
  } finally {
    $("play").disabled = false;
    document.body.dataset.state = "done";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("controls").addEventListener("submit", play);
  $("sample").addEventListener("change", () => { if ($("sample").value) $("source").value = $("sample").value; });
  loadInfo().catch((err) => showMessage(`Cannot read the model's description: ${err.message}`));
});
