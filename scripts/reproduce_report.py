#!/usr/bin/env python3
"""The report of the reproduction study (scripts/reproduce.sh).

Reads OUT/<corpus>/<variant>/seed<S>/{eval/, eval-valid/, diagnose.json} for whatever units exist
(scripts/study/layout.py), rescores every head from its instances.log, and writes
  OUT/summary.json          (--summary) every number: per corpus the points, frontiers, BLEU at
                            fixed LAAL, LAAL at the reference BLEU, comparisons at matched BLEU and
                            the headline, with two-level paired bootstrap intervals
                            (scripts/study/analysis.py: SCHEME), the student-teacher gap, what is missing
  OUT/report.md             (--report) tables and headline sentences, from summary.json alone
  OUT/<corpus>-bleu-laal.svg the pooled points and each family's frontier
  OUT/results.csv           every per-seed point (our BLEU and LAAL beside curve.csv's row)
--from-summary rewrites report.md and the plots from an existing summary.json."""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from study import analysis, frontier, layout, render  # noqa: E402


def log(msg):
    print(f"reproduce_report: {msg}", file=sys.stderr, flush=True)


def words(s):
    return [x for x in s.replace(",", " ").split() if x]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the study directory OUT")
    ap.add_argument("--corpora", default=" ".join(layout.CORPORA), help="corpora, space- or comma-separated")
    ap.add_argument("--variants", default=",".join(layout.VARIANTS), help="models (default a,b,c,d,e)")
    ap.add_argument("--seeds", help="the seeds the study should have (default: every seed<S> directory found); "
                    "the others are reported missing")
    ap.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap replicates (default 1000)")
    ap.add_argument("--bootstrap-seed", type=int, default=12345, help="the bootstrap's random seed")
    ap.add_argument("--laal-levels", default="2,3,4", help="LAAL levels of the BLEU-at-LAAL table (default 2,3,4)")
    ap.add_argument("--reference", default="c:waitk:3", metavar="MODEL:HEAD",
                    help="the head whose BLEU is the matched BLEU (default c:waitk:3)")
    ap.add_argument("--baseline", default="c:waitk", metavar="MODEL:FAMILY",
                    help="the baseline frontier of the comparisons (default c:waitk)")
    ap.add_argument("--compared", default="a,b,c,e",
                    help="models whose families are compared with the baseline (default a,b,c,e: c's own adaptive heads too)")
    ap.add_argument("--headline-model", default="a", help="the model of the headline (default a)")
    ap.add_argument("--min-reference-bleu", type=float, default=5.0, metavar="B",
                    help="below this reference BLEU the goal is not assessable: the systems do not translate "
                    "(default 5)")
    ap.add_argument("--summary", help="summary.json (default OUT/summary.json)")
    ap.add_argument("--report", help="report.md (default OUT/report.md)")
    ap.add_argument("--jobs", type=int, default=1, help="processes reading instances.log files (default 1)")
    ap.add_argument("--proact", help="the proact binary, for --verify")
    ap.add_argument("--verify", action="store_true",
                    help="check every head's BLEU and LAAL against `proact score --instances` to 1e-9")
    ap.add_argument("--from-summary", action="store_true", help="only render report.md and plots from --summary")
    ap.add_argument("--steps", help="training steps, for the title")
    ap.add_argument("--limit", help="test pairs, for the title")
    a = ap.parse_args(argv)
    a.summary = a.summary or os.path.join(a.out, "summary.json")
    a.report = a.report or os.path.join(a.out, "report.md")
    if a.verify and not a.proact:
        ap.error("--verify needs --proact")
    if a.bootstrap < 0:
        ap.error("--bootstrap must be >= 0")
    ref = a.reference.split(":", 1)
    base = a.baseline.split(":", 1)
    if len(ref) != 2 or len(base) != 2:
        ap.error("--reference and --baseline are MODEL:HEAD and MODEL:FAMILY")
    a.settings = analysis.Settings(
        replicates=a.bootstrap, seed=a.bootstrap_seed, laal_levels=[float(x) for x in words(a.laal_levels)],
        reference=tuple(ref), baseline=tuple(base), compared=words(a.compared), headline_model=a.headline_model,
        min_reference_bleu=a.min_reference_bleu)
    return a


def verify(proact, out, cd):
    """Every head's BLEU and LAAL against `proact score --instances --json`: (heads, mismatches)."""
    bad, n = [], 0
    for (v, s), u in cd.units.items():
        ev = os.path.join(layout.unit_dir(out, cd.corpus, v, s), "eval")
        for h, hd in u.heads.items():
            res = subprocess.run([proact, "score", "--instances", os.path.join(ev, hd.curve["dir"], "instances.log"),
                                  "--json"], capture_output=True, text=True)
            if res.returncode:
                bad.append(f"{v}/seed{s}/{h}: proact score failed: {res.stderr.strip()}")
                continue
            theirs = json.loads(res.stdout)
            b, la = analysis.scores_from_sums(analysis.head_matrix(hd).sum(axis=0))
            for name, ours in (("BLEU", float(b)), ("LAAL", float(la))):
                t = theirs.get(name)
                same = (t is None and ours != ours) or (t is not None and abs(ours - t) <= 1e-9)
                if not same:
                    bad.append(f"{v}/seed{s}/{h}: {name} {ours!r} here, {t!r} from proact score")
            n += 1
    return n, bad


def json_safe(x):
    """x with every NaN or infinite float as None (JSON has neither)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def results_rows(cd):
    for (v, s), u in sorted(cd.units.items()):
        for h, hd in u.heads.items():
            b, la = analysis.scores_from_sums(analysis.head_matrix(hd).sum(axis=0))
            row = {"corpus": cd.corpus, "variant": v, "seed": s, "head": h, "family": frontier.family_of(h),
                   "BLEU": float(b), "LAAL": float(la)}
            for k in ("chrF", "AL", "AP", "DAL", "n", "n_no_output"):
                row[k] = hd.curve.get(k)
            row["curve_BLEU"], row["curve_LAAL"] = hd.curve.get("BLEU"), hd.curve.get("LAAL")
            yield row


def main(argv=None):
    a = parse_args(argv)
    if a.from_summary:
        with open(a.summary) as f:
            summary = json.load(f)
    else:
        st = a.settings
        variants = words(a.variants)
        summary = {
            "meta": {"out": a.out, "variants": variants, "laal_levels": st.laal_levels, "reference": list(st.reference),
                     "baseline": list(st.baseline), "compared": st.compared, "headline_model": st.headline_model,
                     "goal_laal_reduction": st.goal, "min_reference_bleu": st.min_reference_bleu,
                     "steps": a.steps, "limit": a.limit},
            "bootstrap": {"replicates": st.replicates, "seed": st.seed, "interval": [2.5, 97.5],
                          "scheme": analysis.SCHEME.format(R=st.replicates, seed=st.seed)},
            "corpora": {}}
        rows = []
        for corpus in words(a.corpora):
            t0 = time.time()
            cd = layout.read_corpus(a.out, corpus, variants, words(a.seeds) if a.seeds else None, a.jobs, log)
            log(f"{corpus}: {len(cd.units)} units read in {time.time() - t0:.1f} s")
            if a.verify and cd.units:
                n, bad = verify(a.proact, a.out, cd)
                log(f"{corpus}: --verify: {n} heads, {len(bad)} mismatches")
                for b in bad:
                    log("  " + b)
                if bad:
                    return 1
            t0 = time.time()
            summary["corpora"][corpus] = analysis.analyse(cd, st, log)
            budget = layout.read_budget(a.out, corpus)
            if budget:
                summary["corpora"][corpus]["budget"] = budget
            log(f"{corpus}: analysed in {time.time() - t0:.1f} s")
            rows += list(results_rows(cd))
        os.makedirs(os.path.dirname(os.path.abspath(a.summary)), exist_ok=True)
        with open(a.summary, "w") as f:
            json.dump(json_safe(summary), f, indent=1, allow_nan=False)
        with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
            fields = ["corpus", "variant", "seed", "head", "family", "BLEU", "LAAL", "chrF", "AL", "AP", "DAL", "n",
                      "n_no_output", "curve_BLEU", "curve_LAAL"]
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    md = render.render_report(summary, os.path.dirname(os.path.abspath(a.report)), a.report)
    for corpus, cs in summary["corpora"].items():
        if cs.get("units"):
            print("\n".join(render.headline_sentences(corpus, cs)))
        bad = (cs.get("checks") or {}).get("curve_mismatches")
        if bad:
            log(f"{corpus}: {len(bad)} heads differ from curve.csv (see report.md)")
    log(f"wrote {a.report} ({len(md)} lines) and {a.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
