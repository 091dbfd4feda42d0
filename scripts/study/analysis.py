"""The per-corpus analysis of the study and its two-level paired bootstrap (SCHEME below).

Every quantity of the report is a function of the pooled points {model: {head: (BLEU, LAAL)}}
(derive()). The point estimate applies it to the points of all sentences and all seeds; each
bootstrap replicate applies it to the points rescored on resampled seeds and sentences, so that
frontiers, interpolations, the reference BLEU and the comparisons are all recomputed per replicate."""
import math
import zlib

import numpy as np

from . import frontier as F
from . import layout, metrics

SCHEME = (
    "Two-level paired bootstrap with {R} replicates (numpy PCG64, seeded with [{seed}, crc32(corpus)]). "
    "Each replicate (1) draws the corpus's k seeds with replacement, one draw for every model (seed s of "
    "every model then counts m_s times), and (2) draws the n test sentences with replacement (sentence i "
    "counts w_i times), one draw shared by every model, seed and head, so that every comparison is paired. "
    "Every head of every (model, seed) is rescored on the drawn sentences: corpus BLEU from the w-weighted "
    "sums of its sentences' n-gram statistics, LAAL as the w-weighted mean over the sentences with output. "
    "A model's head is pooled over seeds as the m-weighted mean of its per-seed BLEU and LAAL (over the seeds "
    "that evaluated that head). The frontiers, the interpolations, the reference BLEU and the comparisons "
    "are then recomputed from these pooled points. A 95% interval is the 2.5th and 97.5th percentiles of a "
    "quantity over the replicates in which it is defined (their share is `defined`). The point estimates "
    "count every sentence and every seed once.")


class Settings:
    def __init__(self, replicates=1000, seed=12345, laal_levels=(2.0, 3.0, 4.0), reference=("c", "waitk:3"),
                 baseline=("c", "waitk"), compared=("a", "b", "c", "e"), headline_model="a", goal=0.30,
                 min_reference_bleu=5.0):
        self.replicates, self.seed, self.laal_levels = replicates, seed, list(laal_levels)
        self.reference, self.baseline, self.compared = reference, baseline, list(compared)
        self.headline_model, self.goal = headline_model, goal
        # below it the systems do not translate, and equal latency at "equal BLEU" says nothing
        self.min_reference_bleu = min_reference_bleu


def level_key(x):
    """2.0 -> '2', 2.5 -> '2.5' (summary.json keys)."""
    return f"{x:g}"


# ---- families and derived quantities --------------------------------------------------------------

def families(values):
    """{model: {family: [heads]}} of pooled points, heads in the order given."""
    out = {}
    for v, heads in values.items():
        for h in heads:
            out.setdefault(v, {}).setdefault(F.family_of(h), []).append(h)
    return out


def family_order(fams):
    """waitk first, offline last, the others by name."""
    return sorted(fams, key=lambda f: (f != "waitk", f == "offline", f))


def front_of(values, model, heads):
    return F.frontier([(values[model][h][1], values[model][h][0], h) for h in heads if h in values[model]])


def derive(values, fams, st):
    """Every scalar of the report (a dict keyed by tuples; None = undefined) and the frontiers."""
    q, fronts = {}, {}
    rm, rh = st.reference
    ref = values.get(rm, {}).get(rh)
    ref_bleu = ref[0] if ref and not math.isnan(ref[0]) else None
    q[("ref_bleu",)] = ref_bleu
    q[("ref_laal",)] = ref[1] if ref and not math.isnan(ref[1]) else None
    for v, fs in fams.items():
        for fam, heads in fs.items():
            front = fronts[(v, fam)] = front_of(values, v, heads)
            if not F.is_streaming(fam):
                off = values[v].get("offline")
                q[("offline", v)] = off[0] if off and not math.isnan(off[0]) else None
                continue
            for lv in st.laal_levels:
                q[("bleu_at_laal", v, fam, lv)] = F.bleu_at_laal(front, lv)
            hit = F.laal_at_bleu(front, ref_bleu)
            q[("laal_at_ref", v, fam)] = hit[0] if hit else None
            q[("bleu_at_ref", v, fam)] = hit[1] if hit else None
    bm, bf = st.baseline
    base = q.get(("laal_at_ref", bm, bf))
    q[("base_laal",)] = base
    for v in st.compared:
        for fam in fams.get(v, {}):
            if F.is_streaming(fam):
                la = q[("laal_at_ref", v, fam)]
                q[("reduction", v, fam)] = 1.0 - la / base if la is not None and base and base > 0 else None
    return q, fronts


def choose_best(values, st):
    """The streaming family of the headline model with the lowest LAAL at the reference BLEU (ties:
    the higher BLEU reached); when none reaches it, the one whose frontier reaches the highest BLEU.
    Returns (family or None, the rule that chose it)."""
    fams = families(values)
    q, fronts = derive(values, fams, st)
    m = st.headline_model
    reach, rest = [], []
    for fam in fams.get(m, {}):
        if not F.is_streaming(fam) or not fronts[(m, fam)]:
            continue
        la = q[("laal_at_ref", m, fam)]
        if la is not None:
            reach.append((la, -q[("bleu_at_ref", m, fam)], fam))
        else:
            rest.append((-fronts[(m, fam)][-1][1], fam))
    if reach:
        return min(reach)[2], "the lowest LAAL at the reference BLEU"
    if rest:
        why = "no family reaches the reference BLEU" if q[("ref_bleu",)] is not None else "no reference BLEU"
        return min(rest)[1], f"the highest BLEU ({why})"
    return None, "no streaming head of the model"


# ---- scoring heads: point estimate and replicates -------------------------------------------------

COLS = metrics.STATS + 2  # BLEU statistics, LAAL sum over sentences with output, their count


def head_matrix(h):
    has = ~np.isnan(h.laal)
    return np.column_stack([h.stats.astype(np.float64), np.where(has, h.laal, 0.0), has.astype(np.float64)])


def scores_from_sums(sums):
    """(BLEU, LAAL) arrays of summed head columns sums[..., COLS]."""
    bleu = metrics.bleu_from_stats(sums[..., :metrics.STATS])
    with np.errstate(divide="ignore", invalid="ignore"):
        laal = sums[..., metrics.STATS] / sums[..., metrics.STATS + 1]
    return bleu, np.where(sums[..., metrics.STATS + 1] > 0, laal, np.nan)


def draws(n, seeds, st, corpus):
    """The replicates' sentence weights W [R, n] and seed multiplicities M [R, k]."""
    rng = np.random.Generator(np.random.PCG64([st.seed, zlib.crc32(corpus.encode())]))
    R, k = st.replicates, len(seeds)
    M = np.stack([np.bincount(rng.integers(0, k, k), minlength=k) for _ in range(R)]) if R else np.zeros((0, k))
    W = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(R)]) if R else np.zeros((0, n))
    return W.astype(np.float64), M.astype(np.float64)


def score_units(cd, W):
    """{(variant, seed, head): (BLEU, LAAL, BLEU[R], LAAL[R])} of every head of every unit."""
    out = {}
    for (v, s), u in cd.units.items():
        specs = list(u.heads)
        mat = np.hstack([head_matrix(u.heads[h]) for h in specs])
        b0, l0 = scores_from_sums(mat.sum(axis=0).reshape(len(specs), COLS))
        br, lr = scores_from_sums((W @ mat).reshape(W.shape[0], len(specs), COLS))
        for i, h in enumerate(specs):
            out[(v, s, h)] = (float(b0[i]), float(l0[i]), br[:, i], lr[:, i])
    return out


def pool(scored, variants, seeds, M):
    """Pooled points: {variant: {head: (BLEU, LAAL, BLEU[R], LAAL[R], [seeds])}}, the mean over the
    seeds that evaluated the head (point), the M-weighted mean (replicates)."""
    out = {}
    for v in variants:
        heads = list(dict.fromkeys(h for (vv, s, h) in scored if vv == v))
        for h in heads:
            cols = [i for i, s in enumerate(seeds) if (v, s, h) in scored]
            per = [scored[(v, seeds[i], h)] for i in cols]
            m = M[:, cols]
            den = m.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                rb = np.where(den > 0, (m * np.stack([p[2] for p in per], 1)).sum(1) / den, np.nan)
                rl = np.where(den > 0, (m * np.stack([p[3] for p in per], 1)).sum(1) / den, np.nan)
            out.setdefault(v, {})[h] = (float(np.mean([p[0] for p in per])), float(np.mean([p[1] for p in per])),
                                        rb, rl, [seeds[i] for i in cols])
    return out


def interval(samples):
    """(low, high, share defined) of replicate values (None = undefined)."""
    x = np.array([np.nan if s is None else s for s in samples], dtype=np.float64)
    ok = x[~np.isnan(x)]
    if not len(ok):
        return None, None, 0.0
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return float(lo), float(hi), len(ok) / len(x)


def estimate(q0, reps, key):
    """{"value", "ci", "defined"} of one quantity."""
    lo, hi, share = interval([r[key] for r in reps]) if reps else (None, None, 0.0)
    return {"value": q0.get(key), "ci": [lo, hi], "defined": share}


def valid_points(cd):
    """Pooled validation points {variant: {head: (BLEU, LAAL)}} from eval-valid/curve.csv."""
    acc = {}
    for (v, s), rows in cd.valid.items():
        for r in rows:
            if r.get("BLEU") is not None and r.get("LAAL") is not None:
                acc.setdefault(v, {}).setdefault(r["head"], []).append((r["BLEU"], r["LAAL"]))
    return {v: {h: (float(np.mean([p[0] for p in ps])), float(np.mean([p[1] for p in ps]))) for h, ps in hs.items()}
            for v, hs in acc.items()}


def student_teacher_gap(cd):
    """{variant: {lag: {metric: {"mean", "per_seed": {seed: value}}}}} of the diagnose.json files."""
    out = {}
    for v in cd.variants:
        per_lag = {}
        for s in cd.seeds:
            for lag, ms in cd.diagnose.get((v, s), {}).items():
                for k, x in ms.items():
                    per_lag.setdefault(lag, {}).setdefault(k, {})[s] = x
        if per_lag:
            out[v] = {lag: {k: {"mean": float(np.mean(list(ps.values()))), "per_seed": ps}
                            for k, ps in per_lag[lag].items()}
                      for lag in sorted(per_lag, key=layout.lag_sort_key)}
    return out


def cue_auc(cd):
    """{variant: {cue: {"mean", "per_seed": {seed: AUC}}}} of the diagnose.json files."""
    out = {}
    for v in cd.variants:
        per_cue = {}
        for s in cd.seeds:
            for k, x in cd.cue_auc.get((v, s), {}).items():
                per_cue.setdefault(k, {})[s] = x
        if per_cue:
            out[v] = {k: {"mean": float(np.mean(list(ps.values()))), "per_seed": ps} for k, ps in per_cue.items()}
    return out


def check_curves(cd, scored):
    """Heads whose BLEU or LAAL (recomputed from instances.log) differ from curve.csv's 6 decimals."""
    bad = []
    for (v, s, h), (b, la, _, _) in scored.items():
        row = cd.units[(v, s)].heads[h].curve
        for name, ours in (("BLEU", b), ("LAAL", la)):
            theirs = row.get(name)
            if theirs is None or math.isnan(ours):
                if not (theirs is None and math.isnan(ours)):
                    bad.append(f"{v}/seed{s}/{h}: {name} {ours} here, {theirs} in curve.csv")
            elif abs(ours - theirs) > 5.1e-7:
                bad.append(f"{v}/seed{s}/{h}: {name} {ours:.9f} here, {theirs:.6f} in curve.csv")
    return bad


def point_dict(p):
    return {"head": p[2], "BLEU": p[1], "LAAL": p[0]}


def analyse(cd, st, log=None):
    """The summary of one corpus (the `corpora.<corpus>` object of summary.json)."""
    seeds = [s for s in cd.seeds if any((v, s) in cd.units for v in cd.variants)]
    res = {"n_test": cd.n_test, "seeds": [int(s) if str(s).isdigit() else s for s in seeds], "units": sorted(f"{v}/seed{s}" for v, s in cd.units),
           "missing": cd.missing, "student_teacher_gap": student_teacher_gap(cd), "cue_auc": cue_auc(cd)}
    if not cd.units:
        res.update(families={}, offline_bleu={}, comparisons=[], headline=None, reference=None,
                   bleu_at_laal={}, laal_at_reference_bleu={}, checks={"curve_mismatches": [], "heads_scored": 0})
        return res
    W, M = draws(cd.n_test, seeds, st, cd.corpus)
    scored = score_units(cd, W)
    res["checks"] = {"curve_mismatches": check_curves(cd, scored), "heads_scored": len(scored)}
    pooled = pool(scored, cd.variants, seeds, M)
    values0 = {v: {h: p[:2] for h, p in hs.items()} for v, hs in pooled.items()}
    fams = families(values0)
    q0, fronts = derive(values0, fams, st)
    reps = []
    for r in range(st.replicates):
        vr = {v: {h: (float(p[2][r]), float(p[3][r])) for h, p in hs.items()} for v, hs in pooled.items()}
        reps.append(derive(vr, fams, st)[0])
    if log:
        log(f"{cd.corpus}: {len(scored)} heads, {st.replicates} replicates")

    # per model and family: the per-seed and pooled points, frontiers, BLEU at fixed LAAL
    res["families"] = {}
    for v in family_order_models(fams):
        res["families"][v] = {}
        for fam in family_order(fams[v]):
            heads = fams[v][fam]
            per_seed = {}
            for s in seeds:
                pts = [(scored[(v, s, h)][1], scored[(v, s, h)][0], h) for h in heads if (v, s, h) in scored]
                if pts:
                    per_seed[s] = {"points": [point_dict(p) for p in pts],
                                   "frontier": [p[2] for p in F.frontier(pts)]}
            entry = {"heads": heads,
                     "pooled": {"points": [{"head": h, "BLEU": pooled[v][h][0], "LAAL": pooled[v][h][1],
                                            "seeds": pooled[v][h][4]} for h in heads],
                                "frontier": [point_dict(p) for p in fronts[(v, fam)]]},
                     "per_seed": per_seed}
            if F.is_streaming(fam):
                entry["bleu_at_laal"] = {level_key(lv): estimate(q0, reps, ("bleu_at_laal", v, fam, lv))
                                         for lv in st.laal_levels}
                entry["laal_at_reference_bleu"] = dict(estimate(q0, reps, ("laal_at_ref", v, fam)),
                                                       bleu_reached=q0[("bleu_at_ref", v, fam)])
            res["families"][v][fam] = entry
    res["offline_bleu"] = {}
    for v in (v for v in fams if "offline" in fams[v]):
        per_seed = {s: scored[(v, s, "offline")][0] for s in seeds if (v, s, "offline") in scored}
        res["offline_bleu"][v] = dict(estimate(q0, reps, ("offline", v)), per_seed=per_seed)
    rm, rh = st.reference
    res["reference"] = {"model": rm, "head": rh, "bleu": estimate(q0, reps, ("ref_bleu",)),
                        "laal": estimate(q0, reps, ("ref_laal",)),
                        "baseline": {"model": st.baseline[0], "policy": st.baseline[1],
                                     "laal_at_reference_bleu": estimate(q0, reps, ("base_laal",))}}
    # the tables of summary.json's brief: BLEU at LAAL levels and LAAL at the reference BLEU
    res["bleu_at_laal"] = {v: {fam: {k: e["value"] for k, e in f["bleu_at_laal"].items()}
                               for fam, f in fs.items() if "bleu_at_laal" in f} for v, fs in res["families"].items()}
    res["laal_at_reference_bleu"] = {v: {fam: f["laal_at_reference_bleu"]["value"] for fam, f in fs.items()
                                         if "laal_at_reference_bleu" in f} for v, fs in res["families"].items()}
    res["comparisons"] = comparisons(q0, reps, fams, st)
    res["headline"] = headline(cd, values0, res["comparisons"], st, res["reference"]["bleu"]["value"])
    return res


def family_order_models(fams):
    return [v for v in layout.VARIANTS if v in fams] + sorted(v for v in fams if v not in layout.VARIANTS)


def comparisons(q0, reps, fams, st):
    """Each streaming family of the compared models against the baseline at the reference BLEU."""
    out = []
    bm, bf = st.baseline
    for v in st.compared:
        for fam in family_order(fams.get(v, {})):
            if not F.is_streaming(fam) or (v, fam) == (bm, bf):  # not the baseline against itself
                continue
            e = {k: estimate(q0, reps, key) for k, key in (
                ("bleu", ("bleu_at_ref", v, fam)), ("baseline_bleu", ("ref_bleu",)), ("laal", ("laal_at_ref", v, fam)),
                ("baseline_laal", ("base_laal",)), ("laal_reduction", ("reduction", v, fam)))}
            c = {"policy": fam, "model": v, "baseline_policy": bf, "baseline_model": bm}
            for k, x in e.items():
                c[k], c[k + "_ci"] = x["value"], x["ci"]
            c["defined"] = e["laal_reduction"]["defined"]
            c["laal_upper_bound"] = (c["bleu"] is not None and c["baseline_bleu"] is not None
                                     and c["bleu"] > c["baseline_bleu"] + 1e-9)
            out.append(c)
    return out


def headline(cd, values0, comps, st, ref_bleu):
    """The headline model's best family (chosen on validation when there is one) against the baseline."""
    m, (rm, _) = st.headline_model, st.reference
    valid = valid_points(cd)
    if m in valid and rm in valid:
        fam, rule = choose_best(valid, st)
        chosen_on = "validation"
        why = f"chosen on the validation evaluations (eval-valid) by {rule}"
    else:
        fam, rule = choose_best(values0, st)
        chosen_on = "test"
        lacking = [x for x in (m, rm) if x not in valid]
        why = (f"chosen on the TEST data by {rule} (no eval-valid of model {' or '.join(lacking)}): the selection "
               "is optimistic")
    goal = {"laal_reduction": st.goal, "min_reference_bleu": st.min_reference_bleu, "met": False,
            "informative": ref_bleu is not None and ref_bleu >= st.min_reference_bleu}
    if fam is None:
        return {"model": m, "policy": None, "chosen_on": chosen_on, "selection_flag": chosen_on != "validation",
                "selection": why, "comparison": None, "goal": goal}
    comp = next((c for c in comps if c["model"] == m and c["policy"] == fam), None)
    if comp is None:
        why += "; it was not evaluated on test"
    red, ci = (comp or {}).get("laal_reduction"), (comp or {}).get("laal_reduction_ci", [None, None])
    goal["met"] = (goal["informative"] and red is not None and red >= st.goal and ci[0] is not None and ci[0] > 0
                   and comp["defined"] >= 0.975)  # the policy reaches the reference BLEU in (nearly) every replicate
    return {"model": m, "policy": fam, "chosen_on": chosen_on, "selection_flag": chosen_on != "validation",
            "selection": why, "comparison": comp, "goal": goal}
