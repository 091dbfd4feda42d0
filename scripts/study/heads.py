#!/usr/bin/env python3
"""The decision heads a study unit evaluates, with threshold grids chosen from validation data.

    scripts/study/heads.py --variant a|b|c|d|e [--kinds K,..] DIAGNOSE_JSON   -> one comma-separated head list

DIAGNOSE_JSON is `proact diagnose --json` on validation pairs: its "cues" object holds each cue's
quantiles at the decision points of lags 1..4 (the states a runner floored at min-lag=1 visits).
An adaptive head with threshold t writes at about a share q of those points, so the grid is the
cue's quantile at the write shares QUANTILES: entropy writes when H <= t, so t = Q_H(q); maxprob
and probe write when their value >= t, so t = Q(1 - q). A share near 0 behaves like offline, and
the share 1 is a threshold that always writes (the floor alone: wait-1 but for a predicted end):
the sweep spans the whole latency range with len(QUANTILES) points, fixed here before any test
score was seen. (The runner's states are not the teacher-forced points the quantiles come from,
so the shares are approximate: on the first model a share of 0.98 still waited 5 words.)

Families (a family = head kind + floor/ceiling; its points form one latency-quality curve):
  every variant       waitk:1..7,9 and offline
  a                   entropy, maxprob and probe with /min-lag=1 (10 points each), and
                      probe/min-lag=1/max-lag=4 (4 points: the ceiling bounds the latency)
  e                   maxprob and probe with /min-lag=1, and probe/min-lag=1/max-lag=4
  b                   maxprob and probe with /min-lag=1 (the ablation: is SPSD what helps?)
  c                   probe/min-lag=1 (does the wait-k-trained model's own signal help it?)
  d                   nothing adaptive (the offline model: its reference points only)
--kinds keeps only the heads of those kinds (waitk, entropy, maxprob, probe, offline; a ceiling head
is a probe head): scripts/ship-model.sh evaluates the shipped models on the study's best families.
Entropy is swept on model a only and attention not at all: on validation points both predict the
label worse than maxprob (diagnose.json's AUCs, reported in docs/results.md); evaluation time is
what limits the study on one machine.
"""
import argparse
import json
import sys

QUANTILES = [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, 0.99, 1.0]
ALWAYS = {"entropy": 1e9, "maxprob": 0.0, "probe": 0.0}  # the thresholds that always write
CEILING_QUANTILES = [0.25, 0.5, 0.75, 0.95]
WAITK = [1, 2, 3, 4, 5, 6, 7, 9]
ADAPTIVE = {"a": ["entropy", "maxprob", "probe"], "b": ["maxprob", "probe"], "e": ["maxprob", "probe"],
            "c": ["probe"], "d": []}
CEILING = {"a": 4, "e": 4}


def quantile(cues, name, q):
    """The cue's quantile at level q, linear between the levels diagnose measured."""
    levels, values = cues["quantile_levels"], cues["quantiles"][name]
    if values is None or any(v is None for v in values):
        raise SystemExit(f"heads.py: diagnose has no quantiles of {name}")
    if q <= levels[0]:
        return values[0]
    for (l0, v0), (l1, v1) in zip(zip(levels, values), zip(levels[1:], values[1:])):
        if q <= l1:
            return v0 + (v1 - v0) * (q - l0) / (l1 - l0)
    return values[-1]


def threshold(cues, kind, share):
    """The threshold at which `kind` writes at about `share` of the validation decision points."""
    if share >= 1:
        return ALWAYS[kind]
    return quantile(cues, kind, share) if kind == "entropy" else quantile(cues, kind, 1 - share)


def fmt(t):
    return f"{t:.4g}"


def heads_for(variant, diag):
    heads = [f"waitk:{k}" for k in WAITK]
    cues = diag["cues"]
    for kind in ADAPTIVE[variant]:
        if kind == "probe" and not cues.get("has_probe"):
            raise SystemExit("heads.py: the model has no probe (run proact probe before proact diagnose)")
        seen = set()
        for q in QUANTILES:
            spec = f"{kind}:{fmt(threshold(cues, kind, q))}/min-lag=1"
            if spec not in seen:  # a cue with few distinct values gives repeated thresholds
                seen.add(spec)
                heads.append(spec)
    if variant in CEILING:
        for q in CEILING_QUANTILES:
            spec = f"probe:{fmt(threshold(cues, 'probe', q))}/min-lag=1/max-lag={CEILING[variant]}"
            if spec not in heads:
                heads.append(spec)
    heads.append("offline")
    return heads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", required=True, choices=sorted(ADAPTIVE))
    ap.add_argument("--kinds", help="keep only the heads of these kinds (comma-separated)")
    ap.add_argument("diagnose_json")
    a = ap.parse_args()
    with open(a.diagnose_json) as f:
        diag = json.load(f)
    heads = heads_for(a.variant, diag)
    if a.kinds is not None:
        kinds = set(a.kinds.split(","))
        unknown = kinds - {"waitk", "entropy", "maxprob", "probe", "offline"}
        if unknown:
            raise SystemExit(f"heads.py: --kinds: unknown kind {', '.join(sorted(unknown))}")
        heads = [h for h in heads if h.split(":")[0].split("/")[0] in kinds]
    print(",".join(heads))


if __name__ == "__main__":
    sys.exit(main())
