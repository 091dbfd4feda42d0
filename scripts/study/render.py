"""report.md and the plots, written from summary.json alone (render_report(summary, out_dir))."""
import html
import os

from . import layout

COLORS = {"a": "#d62728", "b": "#ff7f0e", "c": "#1f77b4", "d": "#2ca02c", "e": "#9467bd"}
DASH = {"waitk": "", "entropy": "6,3", "maxprob": "4,2,1,2", "attn": "2,3", "probe": "10,3,2,3", "chunk": "1,2",
        "offline": ""}


def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def pct(v):
    return "–" if v is None else f"{100 * v:.0f}%"


def with_ci(e, digits=2, as_pct=False):
    """'12.34 [11.90, 12.80]' of an {"value", "ci"} estimate (or of value and ci)."""
    if e is None or e.get("value") is None:
        return "–"
    f = pct if as_pct else (lambda x: fmt(x, digits))
    lo, hi = e["ci"]
    return f"{f(e['value'])} [{f(lo)}, {f(hi)}]" if lo is not None else f(e["value"])


def model_name(v):
    return f"{v}: {layout.VARIANTS.get(v, v)}"


# ---- plot: a small SVG writer (no plotting library on the machine) --------------------------------

def nice_range(lo, hi):
    if hi <= lo:
        hi = lo + 1
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def finite(x):
    return x is not None and x == x and abs(x) != float("inf")


def series_of(cs, v, fam, color=None, label=None):
    """A plot series: a family's pooled points and frontier."""
    f = cs["families"][v][fam]
    kind = fam.split("/")[0].split(":")[0]
    return {"label": label or f"{v}: {fam}", "color": color or COLORS.get(v, "#444"), "dash": DASH.get(kind, ""),
            "offline": fam == "offline",
            "pts": [(p["LAAL"], p["BLEU"]) for p in f["pooled"]["points"] if finite(p["LAAL"]) and finite(p["BLEU"])],
            "front": [(p["LAAL"], p["BLEU"]) for p in f["pooled"]["frontier"]]}


def svg_plot(title, series, ref, path):
    """BLEU against LAAL: per series its points (faded off the frontier) and its frontier as a line; a
    dashed line at the reference BLEU. The x axis spans the streaming heads: offline heads (LAAL = the
    source length) are ticks at the right edge."""
    series = [s for s in series if s["pts"]]
    if not series:
        return False
    W, L, R, T, B = 820, 60, 290, 40, 50
    H = max(480, T + 14 * len(series) + 20)
    stream = [s for s in series if not s["offline"]] or series
    xs = [p[0] for s in stream for p in s["pts"]]
    ys = [p[1] for s in series for p in s["pts"]] + ([ref] if ref is not None else [])
    x0, x1 = nice_range(min(xs), max(xs))
    y0, y1 = nice_range(min(ys), max(ys))
    sx = lambda v: L + (v - x0) / (x1 - x0) * (W - L - R)
    sy = lambda v: H - B - (v - y0) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{(W - R + L) / 2}" y="22" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
           f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">'
           'LAAL (source words; lower is earlier)</text>',
           f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
           'BLEU (mean over seeds)</text>']
    for i in range(6):
        vx, vy = x0 + (x1 - x0) * i / 5, y0 + (y1 - y0) * i / 5
        out.append(f'<text x="{sx(vx):.1f}" y="{H - B + 16}" text-anchor="middle">{vx:.1f}</text>')
        out.append(f'<text x="{L - 6}" y="{sy(vy) + 4:.1f}" text-anchor="end">{vy:.1f}</text>')
        out.append(f'<line x1="{L}" y1="{sy(vy):.1f}" x2="{W - R}" y2="{sy(vy):.1f}" stroke="#eee"/>')
    if ref is not None:
        out.append(f'<line x1="{L}" y1="{sy(ref):.1f}" x2="{W - R}" y2="{sy(ref):.1f}" stroke="#888" '
                   'stroke-dasharray="3,3"/>')
        out.append(f'<text x="{L + 4}" y="{sy(ref) - 4:.1f}" fill="#555">reference BLEU</text>')
    for n, s in enumerate(series):
        c = s["color"]
        dash = f' stroke-dasharray="{s["dash"]}"' if s["dash"] else ""
        if len(s["front"]) > 1:
            line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s["front"])
            out.append(f'<polyline points="{line}" fill="none" stroke="{c}" stroke-width="1.6"{dash}/>')
        on = set(s["front"])
        for x, y in s["pts"]:
            if s["offline"] and stream is not series:
                out.append(f'<line x1="{W - R - 14}" y1="{sy(y):.1f}" x2="{W - R}" y2="{sy(y):.1f}" stroke="{c}" '
                           'stroke-width="3"/>')
            elif s["offline"]:
                out.append(f'<rect x="{sx(x) - 4:.1f}" y="{sy(y) - 4:.1f}" width="8" height="8" fill="{c}"/>')
            else:
                out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{c}"'
                           + ('' if (x, y) in on else ' fill-opacity="0.35"') + '/>')
        ly = T + 14 * n
        width = 3 if s["offline"] else 1.6
        out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{c}" stroke-width="{width}"'
                   f'{dash}/>')
        label = s["label"] + (f" (LAAL {s['pts'][0][0]:.1f}, off the axis)" if s["offline"] and stream is not series
                              else "")
        out.append(f'<text x="{W - R + 46}" y="{ly + 4}">{html.escape(label)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def best_family(cs, v):
    """The model's streaming family other than waitk with the lowest LAAL at the reference BLEU (else
    the highest BLEU): the one the overview plot shows beside waitk."""
    h = cs.get("headline") or {}
    if v == h.get("model") and h.get("policy") not in (None, "waitk"):
        return h["policy"]
    cands = []
    for fam, f in cs["families"][v].items():
        if fam in ("waitk", "offline") or not f["pooled"]["frontier"]:
            continue
        la = f["laal_at_reference_bleu"]["value"]
        cands.append((la is None, la if la is not None else -f["pooled"]["frontier"][-1]["BLEU"], fam))
    return min(cands)[2] if cands else None


def plots(corpus, cs, out_dir):
    """Writes the overview plot (per model its waitk family, its best other family and its offline
    head) and one plot per model (all its families beside the baseline). [(title, file name)]."""
    ref = (cs.get("reference") or {}).get("bleu", {}).get("value")
    base = (cs.get("reference") or {}).get("baseline", {})
    bm, bf = base.get("model"), base.get("policy")
    written = []
    series = []
    for v, fs in cs["families"].items():
        for fam in ("waitk", best_family(cs, v), "offline"):
            if fam in fs:
                series.append(series_of(cs, v, fam))
    name = f"{corpus}-bleu-laal.svg"
    if svg_plot(f"{corpus}: each model's waitk, best other family and offline head", series, ref,
                os.path.join(out_dir, name)):
        written.append(("all models", name))
    for v, fs in cs["families"].items():
        series = [series_of(cs, v, fam, PALETTE[i % len(PALETTE)]) for i, fam in enumerate(fs)]
        if v != bm and bf in cs["families"].get(bm, {}):
            series.append(series_of(cs, bm, bf, "#888", f"{bm}: {bf} (baseline)"))
        name = f"{corpus}-{v}-bleu-laal.svg"
        if svg_plot(f"{corpus}: {model_name(v)}", series, ref, os.path.join(out_dir, name)):
            written.append((f"model {v}", name))
    return written


# ---- report.md ------------------------------------------------------------------------------------

def headline_sentences(corpus, cs):
    h, ref = cs.get("headline"), cs.get("reference") or {}
    if not h:
        return [f"**{corpus}: no headline** (no evaluations)."]
    m, fam = h["model"], h["policy"]
    rb = ref.get("bleu", {})
    ref_txt = f"model {ref.get('model')} under {ref.get('head')}"
    if fam is None:
        return [f"**Headline ({corpus}).** Model {m} has no streaming head to compare ({h['selection']})."]
    c = h.get("comparison")
    lines = [f"**Headline ({corpus}).** The best policy of {model_name(m)} is **{fam}**, {h['selection']}."]
    if rb.get("value") is None:
        lines.append(f"There is no reference BLEU ({ref_txt} was not evaluated), so no LAAL at matched BLEU.")
    elif c is None or c.get("laal") is None:
        lines.append(f"It does not reach the reference BLEU {with_ci(rb)} ({ref_txt}) on the test data: no LAAL "
                     "at matched BLEU.")
    else:
        ub = (" (its frontier starts above the reference BLEU: its LAAL is an upper bound)"
              if c["laal_upper_bound"] else "")
        red = {"value": c["laal_reduction"], "ci": c["laal_reduction_ci"]}
        lines.append(
            f"At the reference BLEU {with_ci(rb)} ({ref_txt}) its LAAL is "
            f"{with_ci({'value': c['laal'], 'ci': c['laal_ci']})}{ub}, against "
            f"{with_ci({'value': c['baseline_laal'], 'ci': c['baseline_laal_ci']})} on the {c['baseline_policy']} "
            f"frontier of model {c['baseline_model']}: a relative LAAL reduction of **{with_ci(red, as_pct=True)}** "
            "(95% interval" + (f"; in {pct(1 - c['defined'])} of the replicates it does not reach the "
                                "reference BLEU and the interval is over the others)." if c["defined"] < 0.975
                                else ")."))
        g = h["goal"]
        verdict = f"**{'met' if g['met'] else 'not met'}**."
        if g.get("informative") is False:
            verdict = (f"**not assessable**: the reference BLEU is below {g['min_reference_bleu']:g}, so these "
                       "systems do not translate and equal latency at equal BLEU says nothing about the method.")
        lines.append(f"Goal: a reduction of at least {pct(g['laal_reduction'])} with the interval above 0 (and a "
                     f"reduction in at least 97.5% of the replicates) — {verdict}")
    return [" ".join(lines)]


def units_section(cs):
    md = [f"Units evaluated ({len(cs['units'])}): {', '.join(cs['units']) or 'none'}."]
    if cs.get("missing"):
        by_unit = {}
        for m in cs["missing"]:
            by_unit.setdefault(f"{m['variant']}/seed{m['seed']}", []).append(m["detail"])
        md += ["", "Missing or incomplete:", ""] + [f"- {u}: {'; '.join(d)}" for u, d in by_unit.items()]
    else:
        md.append("Nothing is missing.")
    bad = (cs.get("checks") or {}).get("curve_mismatches") or []
    if bad:
        md += ["", f"**Check failed**: {len(bad)} heads' BLEU or LAAL recomputed from instances.log differ from "
               "curve.csv:", ""] + [f"- {b}" for b in bad[:20]]
    elif (cs.get("checks") or {}).get("heads_scored"):
        md.append(f"\nEvery head's BLEU and LAAL recomputed from its instances.log equals curve.csv's "
                  f"({cs['checks']['heads_scored']} heads).")
    return md


def family_table(cs, levels):
    ref = (cs.get("reference") or {}).get("bleu", {}).get("value")
    md = ["| model | family | heads | " + " | ".join(f"BLEU @ LAAL {lv:g}" for lv in levels)
          + f" | LAAL @ BLEU {fmt(ref)} | offline BLEU |",
          "|---|---|---|" + "---|" * len(levels) + "---|---|"]
    for v, fs in cs["families"].items():
        for fam, f in fs.items():
            if "bleu_at_laal" not in f:
                off = cs["offline_bleu"].get(v)
                md.append(f"| {v} | offline | 1 | " + " | ".join("" for _ in levels) + f" | | {with_ci(off)} |")
                continue
            lar = f["laal_at_reference_bleu"]
            star = "*" if lar["value"] is not None and ref is not None and lar["bleu_reached"] > ref + 1e-9 else ""
            md.append(f"| {v} | {fam} | {len(f['heads'])} | "
                      + " | ".join(with_ci(f["bleu_at_laal"][f"{lv:g}"]) for lv in levels)
                      + f" | {with_ci(lar)}{star} | |")
    md.append("\nBLEU @ LAAL: on the family's frontier, linear between its points; – when the LAAL is outside "
              "the frontier's range. LAAL @ BLEU: where the frontier first reaches the reference BLEU; * = its "
              "first point is already above it (the LAAL is an upper bound). 95% intervals in brackets.")
    return md


def comparison_table(cs):
    comps = cs.get("comparisons") or []
    if not comps:
        return ["No comparison (no compared model or no reference BLEU)."]
    c0 = comps[0]
    md = [f"All at the reference BLEU, against {c0['baseline_policy']} on model {c0['baseline_model']}.", "",
          "| model | policy | BLEU reached | LAAL | baseline LAAL | LAAL reduction | defined |",
          "|---|---|---|---|---|---|---|"]
    for c in comps:
        e = lambda k: with_ci({"value": c[k], "ci": c[k + "_ci"]})
        red = with_ci({"value": c["laal_reduction"], "ci": c["laal_reduction_ci"]}, as_pct=True)
        md.append(f"| {c['model']} | {c['policy']} | {e('bleu')}{'*' if c['laal_upper_bound'] else ''} | {e('laal')} | "
                  f"{e('baseline_laal')} | {red} | {pct(c['defined'])} |")
    md.append("\nLAAL reduction = 1 − LAAL / baseline LAAL. * = the policy's frontier starts above the reference "
              "BLEU (BLEU reached is higher, its LAAL an upper bound). `defined`: the share of replicates in "
              "which both reach the reference BLEU.")
    return md


def gap_tables(cs):
    gap = cs.get("student_teacher_gap") or {}
    if not gap:
        return ["No diagnose.json yet."]
    md = []
    metrics = list(dict.fromkeys(k for lags in gap.values() for ms in lags.values() for k in ms))
    lags = sorted({lag for lags in gap.values() for lag in lags}, key=layout.lag_sort_key)
    for k in metrics:
        md += [f"**{k}**: the mean over seeds (seed: value)", "",
               "| model | " + " | ".join(f"lag {lag}" for lag in lags) + " |", "|---|" + "---|" * len(lags)]
        for v, per_lag in gap.items():
            cells = []
            for lag in lags:
                e = per_lag.get(lag, {}).get(k)
                cells.append("–" if e is None else f"{e['mean']:.4g} ("
                             + "; ".join(f"{s}: {x:.4g}" for s, x in e["per_seed"].items()) + ")")
            md.append(f"| {v} | " + " | ".join(cells) + " |")
        md.append("")
    return md


def cue_table(cs):
    cues = cs.get("cue_auc") or {}
    if not cues:
        return []
    names = list(dict.fromkeys(k for per in cues.values() for k in per))
    md = ["AUC of each cue for \"the student's next token is already the teacher's\" at the validation "
          "decision points of lags 1–4 (`proact diagnose`; each cue oriented so that higher means write: "
          "−entropy, maxprob, −attn_front, probe, lag; 0.5 = chance, below = backwards). attn_normalized: "
          "the attention mass on the newest tokens over their share of the source read; attn_best_head: "
          "the single layer and head furthest from chance (the best of many: optimistic). Mean over seeds.",
          "", "| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for v, per in cues.items():
        md.append(f"| {v} | " + " | ".join("–" if per.get(k) is None else f"{per[k]['mean']:.3f}" for k in names) + " |")
    return md + [""]


def budget_section(cs):
    b = cs.get("budget")
    if not b:
        return []
    loss = b["val_loss_student"]
    return [f"Training budget **{b['epochs']} epochs**, chosen on validation loss before any unit ran "
            f"(`scripts/study/budget.py`: {b['rule']}, tolerance {b['tolerance']} nats; one run of model a, seed 1, "
            f"{b['max_epochs']} epochs):", "",
            "| epoch | " + " | ".join(loss) + " |", "|---|" + "---|" * len(loss),
            "| validation loss (student) | " + " | ".join(f"{v:.4f}" for v in loss.values()) + " |", ""]


def frontier_table(cs):
    md = ["| model | family | frontier: head (BLEU, LAAL), mean over seeds |", "|---|---|---|"]
    for v, fs in cs["families"].items():
        for fam, f in fs.items():
            pts = ", ".join(f"{p['head']} ({fmt(p['BLEU'])}, {fmt(p['LAAL'])})" for p in f["pooled"]["frontier"])
            md.append(f"| {v} | {fam} | {pts or '–'} |")
    return md


def render_report(summary, out_dir, report_path):
    meta = summary["meta"]
    levels = list(meta["laal_levels"])
    title = "# Reproduction study: report"
    if meta.get("steps") or meta.get("limit"):
        title += f" ({meta.get('steps') or '?'} steps, {meta.get('limit') or 'all'} test pairs)"
    rm, rh = meta["reference"]
    bm, bf = meta["baseline"]
    md = [title, "",
          "Models: " + "; ".join(model_name(v) for v in meta["variants"]) + ".", "",
          "## How the numbers are computed", "",
          "- **Points.** Every head of every (model, seed) is scored from its `instances.log`: corpus BLEU "
          "(sacreBLEU 13a, exp smoothing) from the n-gram statistics summed over sentences, and the mean LAAL "
          "over the sentences with output (SimulEval's). A model's point for a head is the mean of its per-seed "
          "BLEU and LAAL over the seeds that evaluated that head.",
          "- **Families and frontiers.** A family is a head kind with its fixed arguments and latency floor/"
          "ceiling (`probe/min-lag=1/max-lag=3`, `waitk`). Its frontier: the points that no other point of the family "
          "dominates (at least as high a BLEU at no higher LAAL), joined by straight lines.",
          f"- **Reference BLEU**: model {rm} under `{rh}` (mean over seeds). **Baseline**: the `{bf}` frontier of "
          f"model {bm}; its LAAL at the reference BLEU is the baseline LAAL.",
          f"- **Headline**: the best policy of model {meta['headline_model']} (the family with the lowest LAAL at the "
          "reference BLEU, chosen on the validation evaluations when they exist, else on test and flagged). Its "
          f"goal, a LAAL reduction of at least {pct(meta.get('goal_laal_reduction', 0.3))} with the interval above 0, "
          f"is assessable only where the reference BLEU is at least {meta.get('min_reference_bleu', 5.0):g}: below "
          "it the systems do not translate.",
          f"- **Intervals.** {summary['bootstrap']['scheme']}", ""]
    for corpus, cs in summary["corpora"].items():
        md += [f"## {corpus} ({cs['n_test']} test sentences; seeds {', '.join(map(str, cs['seeds'])) or 'none'})", ""]
        if not cs.get("units"):
            md += ["No evaluations yet.", ""] + units_section(cs) + [""]
            continue
        md += headline_sentences(corpus, cs) + [""]
        figs = plots(corpus, cs, out_dir)
        if figs:
            md += [f"![BLEU against LAAL on {corpus}]({figs[0][1]})", "",
                   "Per model, all its families: " + ", ".join(f"[{t}]({n})" for t, n in figs[1:]) + ".", ""]
        md += ["### Units", ""] + budget_section(cs) + units_section(cs) + [""]
        md += ["### BLEU at fixed LAAL, LAAL at the reference BLEU", ""] + family_table(cs, levels) + [""]
        md += ["### Comparisons at matched BLEU", ""] + comparison_table(cs) + [""]
        md += ["### Student–teacher gap per lag (diagnose.json)", ""] + gap_tables(cs) + [""]
        md += ["### The cues at the decision points (diagnose.json)", ""] + cue_table(cs)
        md += ["### Frontiers", ""] + frontier_table(cs) + [""]
    with open(report_path, "w") as f:
        f.write("\n".join(md) + "\n")
    return md
