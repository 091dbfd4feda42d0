"""The study tree, read as it is (a study in progress has units missing):

  OUT/<corpus>/<variant>/seed<S>/eval/          proact eval on all test pairs: curve.csv and per
                                                head <dir>/instances.log (docs/evaluation.md)
  OUT/<corpus>/<variant>/seed<S>/eval-valid/    the same on validation pairs (optional)
  OUT/<corpus>/<variant>/seed<S>/diagnose.json  student-teacher statistics per lag (optional)

A head's directory is named in curve.csv's `dir` column (the spec with ':' and '/' replaced by '_').
Everything that is absent or unreadable is recorded in CorpusData.missing, never fatal."""
import csv
import json
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from . import metrics

VARIANTS = {
    "a": "ProactiveLLM (random schedule + SPSD)",
    "b": "masking only (random schedule, lambda 0)",
    "c": "wait-k trained (wait-3, student only)",
    "d": "offline",
    "e": "ProactiveLLM (band schedule + SPSD)",
}
CORPORA = ["libreoffice-en-de", "ding-en-de"]
CURVE_COLUMNS = ["head", "kind", "dir", "BLEU", "LAAL"]  # the ones the report needs


def seed_sort_key(label):
    return (0, int(label), label) if label.isdigit() else (1, 0, label)


def unit_dir(out, corpus, variant, seed):
    return os.path.join(out, corpus, variant, f"seed{seed}")


def discover_seeds(out, corpus, variants):
    """The seed labels S of every OUT/<corpus>/<variant>/seed<S> directory, sorted."""
    seeds = set()
    for v in variants:
        d = os.path.join(out, corpus, v)
        if os.path.isdir(d):
            seeds.update(m.group(1) for m in map(re.compile(r"seed(.+)$").match, os.listdir(d)) if m)
    return sorted(seeds, key=seed_sort_key)


def read_curve(path):
    """curve.csv rows as dicts, numbers as floats (None for '-' or empty)."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CURVE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)}")
        for row in reader:
            out = {}
            for k, v in row.items():
                if k in ("head", "kind", "dir", "signature"):
                    out[k] = v
                else:
                    try:
                        out[k] = float(v)
                    except (TypeError, ValueError):
                        out[k] = None
            rows.append(out)
    return rows


class HeadData:
    """One head of one unit: per sentence (in index order) the BLEU statistics and LAAL."""
    __slots__ = ("spec", "kind", "stats", "laal", "curve")

    def __init__(self, spec, kind, stats, laal, curve):
        self.spec, self.kind, self.curve = spec, kind, curve
        self.stats = stats  # int64 [n, metrics.STATS]
        self.laal = laal    # float64 [n], NaN for a sentence without output


class UnitData:
    """The test evaluation of one (variant, seed)."""

    def __init__(self, variant, seed, indices, references, heads):
        self.variant, self.seed = variant, seed
        self.indices = indices        # sentence indices, ascending
        self.references = references  # their reference texts
        self.heads = heads            # spec -> HeadData, in curve.csv order


def read_instances(path):
    """(index, prediction, delays, reference, source_length) per sentence, sorted by index."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                x = json.loads(line)
                rows.append((int(x["index"]), x["prediction"], x["delays"], x["reference"], int(x["source_length"])))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: {e}") from None
    if not rows:
        raise ValueError(f"{path}: no instances")
    rows.sort(key=lambda r: r[0])
    if len({r[0] for r in rows}) != len(rows):
        raise ValueError(f"{path}: an index comes twice")
    return rows


def read_unit(eval_dir, variant, seed):
    """UnitData of eval_dir; raises ValueError naming the file at fault."""
    curve = read_curve(os.path.join(eval_dir, "curve.csv"))
    if not curve:
        raise ValueError(f"{eval_dir}/curve.csv: no heads")
    refs, indices, references, heads = {}, None, None, {}
    hyp_cache = {}  # (index, prediction) -> stats row: heads of one model often write the same words
    for row in curve:
        rows = read_instances(os.path.join(eval_dir, row["dir"], "instances.log"))
        idx = [r[0] for r in rows]
        if indices is None:
            indices, references = idx, [r[3] for r in rows]
        elif idx != indices or any(r[3] != t for r, t in zip(rows, references)):
            raise ValueError(f"{eval_dir}/{row['dir']}/instances.log: other sentences than "
                             f"{curve[0]['dir']}/instances.log")
        stats = np.empty((len(rows), metrics.STATS), dtype=np.int64)
        laal = np.empty(len(rows))
        for i, (index, pred, delays, ref, src_len) in enumerate(rows):
            key = (index, pred)
            s = hyp_cache.get(key)
            if s is None:
                r = refs.get(index)
                if r is None:
                    r = refs[index] = metrics.Reference(ref)
                s = hyp_cache[key] = metrics.sentence_stats(pred, r)
            stats[i] = s
            v = metrics.laal(delays, src_len, ref)
            laal[i] = np.nan if v is None else v
        heads[row["head"]] = HeadData(row["head"], row["kind"], stats, laal, row)
    return UnitData(variant, seed, np.array(indices), references, heads)


def _read_unit_job(args):
    eval_dir, variant, seed = args
    try:
        return read_unit(eval_dir, variant, seed), None
    except (OSError, ValueError) as e:
        return None, str(e).replace(eval_dir, "eval")  # paths relative to the unit


def _lag_label(lag):
    if lag is None or lag == -1 or (isinstance(lag, str) and lag.lower() in ("full", "-1", "offline")):
        return "full"
    if isinstance(lag, float) and lag.is_integer():
        lag = int(lag)
    return str(lag)


def _lag_rows(data):
    """The list of per-lag records in a diagnose.json, wherever it is: a list of objects with a
    'lag' key (at the top, under 'lags' or under any key), or an object keyed by lag."""
    if isinstance(data, list) and data and all(isinstance(x, dict) and "lag" in x for x in data):
        return data
    if isinstance(data, dict):
        lags = data.get("lags")
        if isinstance(lags, dict):
            return [dict(v, lag=k) for k, v in lags.items() if isinstance(v, dict)]
        for v in ([lags] if lags is not None else []) + [v for k, v in data.items() if k != "lags"]:
            found = _lag_rows(v)
            if found:
                return found
    return None


def read_diagnose(data):
    """{lag label: {metric: value}} of a diagnose.json's content: every numeric field of a lag's
    record (kl, agreement, student_loss, ... as the file names them). '-1', -1, 'full': 'full'."""
    rows = _lag_rows(data)
    if not rows:
        raise ValueError("no per-lag records (objects with a 'lag' key)")
    out = {}
    for r in rows:
        out[_lag_label(r.get("lag"))] = {k: float(v) for k, v in r.items()
                                         if k != "lag" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def read_cue_auc(data):
    """{cue: AUC} of a diagnose.json's cues at the decision points (higher = "write now" predicts
    agreement; 0.5 = chance), plus the attention variants: the mean over all layers and heads,
    normalized by the source read (attn_normalized), and the single layer/head furthest from chance
    (attn_best_head, optimistic: the best of many)."""
    cues = (data.get("cues") if isinstance(data, dict) else None) or {}
    out = {k: float(v) for k, v in (cues.get("auc") or {}).items() if isinstance(v, (int, float))}
    variants = [x for x in cues.get("attn_variants") or [] if isinstance(x.get("auc"), (int, float))]
    for x in variants:
        if x.get("layer") == "all" and x.get("head") == "all" and x.get("window") == "tokens" and x.get("normalized"):
            out["attn_normalized"] = float(x["auc"])
    single = [x for x in variants if x.get("layer") != "all" and x.get("head") != "all"]
    if single:
        out["attn_best_head"] = float(max(single, key=lambda x: abs(x["auc"] - 0.5))["auc"])
    return out


def lag_sort_key(label):
    return (1, 0) if label == "full" else (0, int(label)) if label.lstrip("-").isdigit() else (2, label)


class CorpusData:
    """What the study tree holds for one corpus."""

    def __init__(self, corpus, variants, seeds):
        self.corpus, self.variants, self.seeds = corpus, variants, seeds
        self.units = {}     # (variant, seed) -> UnitData
        self.diagnose = {}  # (variant, seed) -> {lag: {metric: value}}
        self.cue_auc = {}   # (variant, seed) -> {cue: AUC}
        self.valid = {}     # (variant, seed) -> [curve.csv rows] of eval-valid
        self.missing = []   # {"variant", "seed", "what", "detail"}
        self.n_test = 0

    def note(self, variant, seed, what, detail):
        self.missing.append({"variant": variant, "seed": seed, "what": what, "detail": detail})


def read_budget(out, corpus):
    """OUT/<corpus>/budget/budget.json (scripts/study/budget.py), or None when the corpus had a fixed budget."""
    path = os.path.join(out, corpus, "budget", "budget.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def read_corpus(out, corpus, variants, seeds=None, jobs=1, log=None):
    """CorpusData of OUT/<corpus>: every unit of variants x seeds (seeds: discovered if None)."""
    seeds = seeds or discover_seeds(out, corpus, variants)
    cd = CorpusData(corpus, variants, seeds)
    todo = []
    for v in variants:
        for s in seeds:
            u = unit_dir(out, corpus, v, s)
            ev = os.path.join(u, "eval")
            if os.path.exists(os.path.join(ev, "curve.csv")):
                todo.append((ev, v, s))
            else:
                cd.note(v, s, "eval", "no eval/curve.csv")
            dj = os.path.join(u, "diagnose.json")
            if os.path.exists(dj):
                try:
                    with open(dj) as f:
                        data = json.load(f)
                    cd.diagnose[(v, s)] = read_diagnose(data)
                    cd.cue_auc[(v, s)] = read_cue_auc(data)
                except (OSError, ValueError) as e:
                    cd.note(v, s, "diagnose", f"diagnose.json: {e}")
            else:
                cd.note(v, s, "diagnose", "no diagnose.json")
            vc = os.path.join(u, "eval-valid", "curve.csv")
            if os.path.exists(vc):
                try:
                    cd.valid[(v, s)] = read_curve(vc)
                except (OSError, ValueError) as e:
                    cd.note(v, s, "eval-valid", str(e).replace(u + "/", ""))
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            results = list(ex.map(_read_unit_job, todo))
    else:
        results = []
        for t in todo:
            results.append(_read_unit_job(t))
            if log:
                log(f"{corpus}/{t[1]}/seed{t[2]}: read")
    read = []
    for (ev, v, s), (unit, err) in zip(todo, results):
        if unit is None:
            cd.note(v, s, "eval", err)
        else:
            read.append(unit)
    # every unit must have evaluated the same sentences: keep those of the most common test set
    sets = Counter((tuple(u.indices), tuple(u.references)) for u in read)
    if sets:
        (idx, refs), _ = sets.most_common(1)[0]
        cd.n_test = len(idx)
        for u in read:
            if (tuple(u.indices), tuple(u.references)) == (idx, refs):
                cd.units[(u.variant, u.seed)] = u
            else:
                cd.note(u.variant, u.seed, "eval", f"{len(u.indices)} sentences that are not the {len(idx)} "
                        "test sentences of the other units: left out")
    # heads a variant's other seeds have but this seed lacks
    for v in variants:
        have = [cd.units[(v, s)] for s in seeds if (v, s) in cd.units]
        union = [h for u in have for h in u.heads]
        for u in have:
            lacking = [h for h in dict.fromkeys(union) if h not in u.heads]
            if lacking:
                cd.note(v, u.seed, "heads", "heads not evaluated: " + ", ".join(lacking))
    return cd
