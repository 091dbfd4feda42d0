#!/usr/bin/env python3
"""The report of scripts/reproduce.sh: reads OUT/<corpus>/<variant>/eval/curve.csv and writes
OUT/report.md (tables and the headline), OUT/results.csv (every point), and per corpus
OUT/<corpus>-bleu-laal.svg and OUT/<corpus>-chrf-al.svg.

Headline, per corpus: the latency-quality frontier of each (model, head kind) is the set of its
points that no other point beats on both BLEU and LAAL. At a BLEU level b, a frontier's LAAL is
the lowest LAAL at which it reaches b, interpolated linearly between frontier points. ProactiveLLM
with its best adaptive head is compared with the wait-k trained model under wait-k heads at the
BLEU levels both reach."""
import argparse
import csv
import html
import json
import os
import random
import subprocess
import sys
import tempfile

VARIANTS = {
    "a": "ProactiveLLM (masking + SPSD)",
    "b": "masking only (lambda 0)",
    "c": "wait-k trained (k 3)",
    "d": "offline",
}
KINDS = ["waitk", "entropy", "attn", "probe", "offline"]
ADAPTIVE = ["entropy", "attn", "probe"]


def read_points(out, corpus):
    points = []
    for v in VARIANTS:
        path = os.path.join(out, corpus, v, "eval", "curve.csv")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for row in csv.DictReader(f):
                points.append({"corpus": corpus, "variant": v, "head": row["head"], "kind": row["kind"],
                               "BLEU": float(row["BLEU"]), "chrF": float(row["chrF"]), "AL": float(row["AL"]),
                               "LAAL": float(row["LAAL"]), "AP": float(row["AP"]), "DAL": float(row["DAL"]),
                               "n": int(row["n"])})
    return points


def frontier(points, x="LAAL", y="BLEU"):
    """The points no other point beats: sorted by x, each with a higher y than all before it."""
    best, out = float("-inf"), []
    for p in sorted(points, key=lambda p: (p[x], -p[y])):
        if p[y] > best:
            out.append(p)
            best = p[y]
    return out


def laal_at(front, b):
    """The lowest LAAL at which the frontier reaches BLEU b (linear between its points), or None."""
    if not front or front[-1]["BLEU"] < b:
        return None
    if front[0]["BLEU"] >= b:
        return front[0]["LAAL"]
    for p, q in zip(front, front[1:]):
        if p["BLEU"] < b <= q["BLEU"]:
            t = (b - p["BLEU"]) / (q["BLEU"] - p["BLEU"])
            return p["LAAL"] + t * (q["LAAL"] - p["LAAL"])
    return None


def select(points, variant, kinds):
    return [p for p in points if p["variant"] == variant and p["kind"] in kinds]


def compare(points, variant, base_variant):
    """The best adaptive head kind of `variant` against wait-k heads on `base_variant`: LAAL at the
    BLEU levels 50, 75, 90 and 100% of the wait-k frontier's best BLEU, where both reach them."""
    base = frontier(select(points, base_variant, ["waitk"]))
    if not base:
        return None
    top = base[-1]["BLEU"]
    levels = [round(top * f, 3) for f in (0.5, 0.75, 0.9, 1.0)]
    candidates = []  # (levels compared, mean saving, kind, comparisons): most levels, then most saved
    for kind in ADAPTIVE:
        front = frontier(select(points, variant, [kind]))
        cmp = [(b, laal_at(front, b), laal_at(base, b)) for b in levels]
        cmp = [(b, la, lw) for b, la, lw in cmp if la is not None and lw is not None]
        if cmp:
            candidates.append((len(cmp), sum(lw - la for _, la, lw in cmp) / len(cmp), kind, cmp))
    n, mean, kind, cmp = max(candidates) if candidates else (0, None, None, [])
    return {"waitk_best_bleu": top, "best_kind": kind, "mean_laal_saving": mean, "cmp": cmp}


def headline(points):
    """(a) with its best adaptive head against the wait-k trained model (c) under wait-k heads, the
    same comparison within each model (adaptive vs wait-k heads), and the gaps to offline."""
    res = compare(points, "a", "c")
    if res is None:
        return None
    res["within_model"] = {v: compare(points, v, v) for v in VARIANTS}
    off = [p for p in points if p["variant"] == "d" and p["kind"] == "offline"]
    res["offline_bleu"] = off[0]["BLEU"] if off else None
    a_stream = [p for p in points if p["variant"] == "a" and p["kind"] != "offline"]
    res["a_best_streaming"] = max(a_stream, key=lambda p: p["BLEU"]) if a_stream else None
    a_off = [p for p in points if p["variant"] == "a" and p["kind"] == "offline"]
    res["a_offline_bleu"] = a_off[0]["BLEU"] if a_off else None
    return res


def instances(out, corpus, variant, head):
    d = head.replace(":", "_").replace("/", "_")
    with open(os.path.join(out, corpus, variant, "eval", d, "instances.log")) as f:
        return [json.loads(line) for line in f]


def corpus_bleu(proact, hyps, refs, tmp):
    """BLEU of the segments by `proact score` (identical to sacreBLEU)."""
    h, r = os.path.join(tmp, "hyp"), os.path.join(tmp, "ref")
    with open(h, "w") as f:
        f.write("\n".join(x.replace("\n", " ") for x in hyps) + "\n")
    with open(r, "w") as f:
        f.write("\n".join(x.replace("\n", " ") for x in refs) + "\n")
    out = subprocess.run([proact, "score", "--hyp", h, "--ref", r, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["BLEU"]


def paired_bootstrap(proact, x, y, n, seed=12345):
    """x, y: instances of two systems on the same sentences. The BLEU difference x - y on the whole
    set, and its 95% interval over n resamplings of the sentences (Koehn 2004)."""
    refs = [r["reference"] for r in x]
    rng = random.Random(seed)
    diffs = []
    with tempfile.TemporaryDirectory() as tmp:
        full = corpus_bleu(proact, [r["prediction"] for r in x], refs, tmp) - corpus_bleu(
            proact, [r["prediction"] for r in y], refs, tmp)
        for _ in range(n):
            idx = [rng.randrange(len(x)) for _ in x]
            rr = [refs[i] for i in idx]
            diffs.append(corpus_bleu(proact, [x[i]["prediction"] for i in idx], rr, tmp)
                         - corpus_bleu(proact, [y[i]["prediction"] for i in idx], rr, tmp))
    diffs.sort()
    return {"diff": full, "low": diffs[int(0.025 * n)], "high": diffs[int(0.975 * n) - 1], "n": n,
            "x_wins": sum(d > 0 for d in diffs) / n}


def best_head(points, variant, kinds):
    s = select(points, variant, kinds)
    return max(s, key=lambda p: p["BLEU"])["head"] if s else None


# ---- plots: a small SVG writer (no plotting library on the machine) ----------------------------
COLORS = {"a": "#d62728", "b": "#ff7f0e", "c": "#1f77b4", "d": "#2ca02c"}
# what each model shows in the plots (all points are in the tables and results.csv)
PLOTTED = {"a": ["waitk", "entropy", "attn", "probe"], "b": ["entropy", "probe"], "c": ["waitk", "entropy"],
           "d": ["waitk", "offline"]}
DASH = {"waitk": "", "entropy": "6,3", "attn": "2,3", "probe": "10,3,2,3", "offline": ""}


def nice_range(lo, hi):
    if hi <= lo:
        hi = lo + 1
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def plot(points, x, y, title, path):
    W, H, L, R, T, B = 760, 480, 60, 230, 40, 50
    xs = [p[x] for p in points]
    ys = [p[y] for p in points]
    x0, x1 = nice_range(min(xs), max(xs))
    y0, y1 = nice_range(min(ys), max(ys))
    sx = lambda v: L + (v - x0) / (x1 - x0) * (W - L - R)
    sy = lambda v: H - B - (v - y0) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - R / 2}" y="22" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
           f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{x} (source words; lower is earlier)</text>',
           f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">{y}</text>']
    for i in range(6):
        vx, vy = x0 + (x1 - x0) * i / 5, y0 + (y1 - y0) * i / 5
        out.append(f'<text x="{sx(vx):.1f}" y="{H - B + 16}" text-anchor="middle">{vx:.1f}</text>')
        out.append(f'<text x="{L - 6}" y="{sy(vy) + 4:.1f}" text-anchor="end">{vy:.1f}</text>')
        out.append(f'<line x1="{L}" y1="{sy(vy):.1f}" x2="{W - R}" y2="{sy(vy):.1f}" stroke="#eee"/>')
    legend = 0
    for v in VARIANTS:
        for kind in PLOTTED[v]:
            pts = sorted(select(points, v, [kind]), key=lambda p: p[x])
            if not pts:
                continue
            c, d = COLORS[v], DASH[kind]
            if len(pts) > 1:
                path_d = " ".join(f"{sx(p[x]):.1f},{sy(p[y]):.1f}" for p in pts)
                out.append(f'<polyline points="{path_d}" fill="none" stroke="{c}" stroke-width="1.6"'
                           + (f' stroke-dasharray="{d}"' if d else "") + "/>")
            for p in pts:
                shape = (f'<rect x="{sx(p[x]) - 4:.1f}" y="{sy(p[y]) - 4:.1f}" width="8" height="8" fill="{c}"/>'
                         if kind == "offline" else f'<circle cx="{sx(p[x]):.1f}" cy="{sy(p[y]):.1f}" r="2.5" fill="{c}"/>')
                out.append(shape)
            ly = T + 14 * legend
            out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{c}" stroke-width="1.6"'
                       + (f' stroke-dasharray="{d}"' if d else "") + "/>")
            out.append(f'<text x="{W - R + 46}" y="{ly + 4}">{v}: {kind}</text>')
            legend += 1
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--corpora", required=True)
    ap.add_argument("--steps", default="?")
    ap.add_argument("--limit", default="?")
    ap.add_argument("--proact", help="the proact binary, for --bootstrap")
    ap.add_argument("--bootstrap", type=int, default=0, help="paired bootstrap resamplings of the key comparisons")
    args = ap.parse_args()
    all_points, md = [], [f"# Reproduction study: report ({args.steps} steps, {args.limit} test pairs)\n"]
    summary = {}
    for corpus in args.corpora.split():
        pts = read_points(args.out, corpus)
        if not pts:
            print(f"reproduce_report: no results for {corpus} in {args.out}", file=sys.stderr)
            continue
        all_points += pts
        plot(pts, "LAAL", "BLEU", f"{corpus}: BLEU against LAAL", os.path.join(args.out, f"{corpus}-bleu-laal.svg"))
        plot(pts, "AL", "chrF", f"{corpus}: chrF against AL", os.path.join(args.out, f"{corpus}-chrf-al.svg"))
        md.append(f"## {corpus} ({pts[0]['n']} test pairs)\n")
        md.append("| model | head kind | points | best BLEU (head, LAAL) | best chrF | lowest LAAL (head, BLEU) |")
        md.append("|---|---|---|---|---|---|")
        for v, name in VARIANTS.items():
            for kind in KINDS:
                s = select(pts, v, [kind])
                if not s:
                    continue
                hb = max(s, key=lambda p: p["BLEU"])
                hc = max(s, key=lambda p: p["chrF"])
                hl = min(s, key=lambda p: p["LAAL"])
                md.append(f"| {v}: {name} | {kind} | {len(s)} | {hb['BLEU']:.2f} ({hb['head']}, {hb['LAAL']:.2f}) | "
                          f"{hc['chrF']:.2f} | {hl['LAAL']:.2f} ({hl['head']}, {hl['BLEU']:.2f}) |")
        h = headline(pts)
        summary[corpus] = h
        md.append("")
        if h and h.get("cmp"):
            md.append(f"**Headline.** wait-k trained model under wait-k heads: best BLEU {h['waitk_best_bleu']:.2f}. "
                      f"ProactiveLLM's best adaptive head kind: **{h['best_kind']}**.\n")
            md.append("| BLEU level | LAAL, a + " + h["best_kind"] + " | LAAL, c + wait-k | lower by |")
            md.append("|---|---|---|---|")
            for b, la, lw in h["cmp"]:
                md.append(f"| {b:.2f} | {la:.2f} | {lw:.2f} | {lw - la:.2f} ({(lw - la) / lw * 100:.0f}%) |")
            md.append(f"\nMean LAAL saving at these levels: {h['mean_laal_saving']:.2f} source words.")
        else:
            md.append("**Headline.** ProactiveLLM's adaptive heads do not reach the BLEU levels of the wait-k "
                      "baseline's frontier, so no LAAL at equal BLEU can be compared.")
        if h:
            md.append("\n**Within each model**: its best adaptive head kind against its own wait-k heads, mean LAAL "
                      "saving at equal BLEU (levels as above, from that model's wait-k frontier):\n")
            md.append("| model | wait-k best BLEU | best adaptive kind | levels compared | mean LAAL saving |")
            md.append("|---|---|---|---|---|")
            for v, w in h["within_model"].items():
                if w:
                    md.append(f"| {v}: {VARIANTS[v]} | {w['waitk_best_bleu']:.2f} | {w['best_kind'] or '-'} | "
                              f"{len(w['cmp'])} | {fmt(w['mean_laal_saving'])} |")
            if args.bootstrap and args.proact:
                pairs = [("a", "offline", "b", "offline", "SPSD: a vs b, offline head"),
                         ("a", best_head(pts, "a", KINDS), "c", best_head(pts, "c", KINDS),
                          "training: a vs c, each model's best head"),
                         ("a", "offline", "d", "offline", "a vs the offline model, offline heads")]
                md.append(f"\n**Paired bootstrap** ({args.bootstrap} resamplings of the {pts[0]['n']} sentences): "
                          "BLEU difference and its 95% interval\n")
                md.append("| comparison | heads | BLEU difference | 95% interval | first better in |")
                md.append("|---|---|---|---|---|")
                h["bootstrap"] = []
                for vx, hx, vy, hy, what in pairs:
                    b = paired_bootstrap(args.proact, instances(args.out, corpus, vx, hx),
                                         instances(args.out, corpus, vy, hy), args.bootstrap)
                    h["bootstrap"].append({"what": what, "x": [vx, hx], "y": [vy, hy], **b})
                    md.append(f"| {what} | {hx} / {hy} | {b['diff']:+.2f} | [{b['low']:+.2f}, {b['high']:+.2f}] | "
                              f"{b['x_wins'] * 100:.0f}% |")
            bs = h["a_best_streaming"]
            md.append(f"\nOffline model (d), offline head: BLEU {fmt(h['offline_bleu'])}. ProactiveLLM (a): offline head "
                      f"BLEU {fmt(h['a_offline_bleu'])}; best streaming head {bs['head']} BLEU {bs['BLEU']:.2f} at LAAL "
                      f"{bs['LAAL']:.2f}; gap to the offline model {fmt(h['offline_bleu'] - bs['BLEU'] if h['offline_bleu'] is not None else None)} BLEU.\n")
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(all_points[0].keys()) if all_points else ["corpus"])
        w.writeheader()
        w.writerows(all_points)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(args.out, "headline.json"), "w") as f:
        json.dump(summary, f, indent=2, default=str)
    print("\n".join(md))


if __name__ == "__main__":
    main()
