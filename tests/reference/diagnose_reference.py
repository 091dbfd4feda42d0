#!/usr/bin/python3
"""diagnose_reference.py --model DIR --data DATA.h5 --json REPORT.json — `proact diagnose` against
the PyTorch twin.

Recomputes, independently of the C code, every number of the command's JSON report for a model
directory (config.json, model.safetensors, proact.json) and token shards (every example of DATA.h5,
as `proact diagnose --limit 0` uses them), and fails if the report differs:

  * the lag schedule g(j) = min(n+1, max(1, L + j - 1)) (full: n+1), and the synchronized sequence
    [source | student copy | teacher copy] built here from the rules of src/train/schedule.h's
    header comment (source causal; the student row predicting a token of target word j sees the
    prompt and g(j) source words, n+1 = the whole source with src_end; tgt_begin belongs to word 1,
    tgt_end to word m+1; the teacher sees the whole source; each copy causal over itself);
  * the twin's forward pass over each sequence in float64;
  * per lag, over the student rows predicting y_1..y_m (not tgt_begin, not tgt_end), paired with
    the teacher rows at the same copy position: mean KL(teacher || student), top-1 agreement,
    mean CE of the student and of the teacher — relative error <= 1e-4 (1e-6 absolute near 0);
    agreement counts exactly, up to argmax near-ties;
  * at the decision points of the cue lags (target word j with g(j) <= n; the row before word j's
    first token): entropy, max probability, attention mass on the newest W visible source keys
    (mean over layers and heads), the probe's score if proact.json has a probe, the label
    (argmax student == argmax teacher); the attention mass of every layer and head on the newest
    W keys and on the newest source word, raw and normalized by W / visible source keys;
  * the AUC of each cue and variant by brute force over all (label 1, label 0) pairs, ties 1/2 —
    equal up to the pairs whose scores are too close to order in float32; the quantiles with
    numpy.quantile (linear) — relative error <= 1e-4.
Prints one summary line per lag. Exit status 1 with a message on the first difference.
"""

import argparse
import json
import math
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

TABLE_LAGS = [0, 1, 2, 3, 4, 5]


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def close(got, want, what, rel=1e-4, abs_tol=1e-6):
    """Fails unless |got - want| <= rel |want| + abs_tol; returns the relative error."""
    if got is None or not math.isfinite(got) or abs(got - want) > rel * abs(want) + abs_tol:
        fail(f"{what}: proact {got!r}, twin {want!r}")
    return abs(got - want) / max(abs(want), abs_tol)


# --------------------------------------------------------------------------------------
# data and layout
# --------------------------------------------------------------------------------------

def load_examples(path):
    """[(src words, tgt words)] with words as lists of token ids (the shard's word ends)."""
    out = []
    with h5py.File(path, "r") as f:
        side = {}
        for s in ("src", "tgt"):
            side[s] = (f[f"{s}_tokens"][...], f[f"{s}_offsets"][...], f[f"{s}_word_ends"][...],
                       f[f"{s}_word_offsets"][...])
        n_ex = len(side["src"][1]) - 1
        for e in range(n_ex):
            ex = []
            for s in ("src", "tgt"):
                tok, off, ends, woff = side[s]
                t = tok[off[e]:off[e + 1]].tolist()
                we = ends[woff[e]:woff[e + 1]].tolist()
                ex.append([t[a:b] for a, b in zip([0] + we[:-1], we)])
            out.append(tuple(ex))
    return out


def lag_schedule(lag, n, m):
    return [n + 1 if lag == "full" else min(n + 1, max(1, lag + j - 1)) for j in range(1, m + 1)]


class Sequence:
    """One synchronized sequence [source | student | teacher] for schedule g."""

    def __init__(self, pieces, src, tgt, g, phi):
        prompt, src_end, tb, te = (pieces[k] for k in ("prompt", "src_end", "tgt_begin", "tgt_end"))
        self.n, self.m = len(src), len(tgt)
        self.src_ends = np.cumsum([len(w) for w in src]).tolist()
        self.tgt_ends = np.cumsum([len(w) for w in tgt]).tolist()
        self.n_prompt, self.tb, self.nt = len(prompt), len(tb), sum(len(w) for w in tgt)
        source = prompt + [t for w in src for t in w] + src_end
        copy = tb + [t for w in tgt for t in w] + te
        self.S, self.T, self.copy, self.g = len(source), len(copy), copy, g
        unit = [1] * len(tb) + [j for j, w in enumerate(tgt, 1) for _ in w] + [self.m + 1] * len(te)

        def visible(u):  # source tokens a student row writing a token of unit u sees
            words = g[u - 1] if u <= self.m else self.n + 1
            return self.S if words == self.n + 1 else len(prompt) + self.src_ends[words - 1]

        tokens, pos, vis, blk = list(source), list(range(self.S)), [0] * self.S, [0] * self.S
        for student in (True, False):
            first = len(tokens)
            for i in range(self.T - 1):
                tokens.append(copy[i])
                pos.append(phi + i)
                vis.append(visible(unit[i + 1]) if student else self.S)
                blk.append(first)
        self.tokens = tokens
        self.layout = twin.Layout([0, len(tokens)], pos, vis, blk)

    def student_row(self, i):
        return self.S + i

    def teacher_row(self, i):
        return self.S + self.T - 1 + i


# --------------------------------------------------------------------------------------
# AUC, by brute force over the pairs
# --------------------------------------------------------------------------------------

def auc_with_slack(score, label, rel=1e-4):
    """(AUC, slack): ties count 1/2; slack = the share of pairs whose scores differ by less than
    `rel` (relative), which float32 may order either way."""
    score = np.asarray(score, dtype=np.float64)
    label = np.asarray(label, dtype=bool)
    pos, neg = score[label], score[~label]
    if len(pos) == 0 or len(neg) == 0:
        return None, 0.0
    a, b = pos[:, None], neg[None, :]
    wins = (a > b).sum() + 0.5 * (a == b).sum()
    near = (np.abs(a - b) <= rel * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))) & (a != b)
    total = len(pos) * len(neg)
    return wins / total, near.sum() / total


def check_auc(got, score, label, what):
    want, slack = auc_with_slack(score, label)
    if want is None:
        if got is not None:
            fail(f"{what}: proact AUC {got}, expected null (one class is empty)")
        return
    if got is None or abs(got - want) > slack + 1e-9:
        fail(f"{what}: proact AUC {got!r}, twin {want!r} (slack {slack:.2e})")


# --------------------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--json", required=True)
    args = ap.parse_args()

    rep = json.load(open(args.json))
    pj = json.load(open(os.path.join(args.model, "proact.json")))
    pieces, phi = pj["template_tokens"], pj.get("phi", 0)
    probe = pj.get("probe")
    model = twin.load_hf_dir(args.model, dtype=torch.float64)
    L, H = model.dims.L, model.dims.nh
    examples = load_examples(args.data)
    if rep["examples"] != len(examples):
        fail(f"the report used {rep['examples']} examples, the data has {len(examples)} (run with --limit 0)")

    cues = rep["cues"]
    cue_lags = cues["lags"]
    W = probe["attn_window"] if probe else 4
    if cues["attn_window"] != W:
        fail(f"attn_window {cues['attn_window']}, expected {W}")
    if cues["has_probe"] != (probe is not None):
        fail("has_probe does not say whether proact.json has a probe")
    want_lags = sorted(set(TABLE_LAGS) | set(cue_lags)) + ["full"]
    got_lags = [x["lag"] for x in rep["lags"]]
    if got_lags != want_lags:
        fail(f"lags {got_lags}, expected {want_lags}")

    pts = {k: [] for k in ("lag", "entropy", "maxprob", "attn_front", "probe", "label", "mass", "wkeys", "vkeys")}
    for entry in rep["lags"]:
        lag = entry["lag"]
        sums = np.zeros(4)
        rows = ambiguous = 0
        for src, tgt in examples:
            g = lag_schedule(lag, len(src), len(tgt))
            seq = Sequence(pieces, src, tgt, g, phi)
            internals = {}
            with torch.no_grad():
                logits = model(seq.tokens, seq.layout, internals)
            logp = torch.log_softmax(logits, dim=-1).numpy()
            for i in range(seq.tb - 1, seq.tb - 1 + seq.nt):
                s, t, y = seq.student_row(i), seq.teacher_row(i), seq.copy[i + 1]
                ls, lt = logp[s], logp[t]
                sums += [np.sum(np.exp(lt) * (lt - ls)), np.argmax(ls) == np.argmax(lt), -ls[y], -lt[y]]
                rows += 1
                for z in (ls, lt):
                    top2 = np.sort(z)[-2:]
                    ambiguous += top2[1] - top2[0] < 1e-4
            if lag in cue_lags:
                collect_points(pts, seq, lag, logp, internals, L, H, W, probe)
        if entry["rows"] != rows:
            fail(f"lag {lag}: {entry['rows']} rows, expected {rows}")
        kl, agree, ce_s, ce_t = sums / rows
        errs = [close(entry["kl"], kl, f"lag {lag} kl"),
                close(entry["student_loss"], ce_s, f"lag {lag} student_loss"),
                close(entry["teacher_loss"], ce_t, f"lag {lag} teacher_loss")]
        if abs(entry["agreement"] * rows - agree * rows) > ambiguous + 1e-6:
            fail(f"lag {lag} agreement: proact {entry['agreement']}, twin {agree} ({ambiguous} near-ties)")
        print(f"lag {lag}: {rows} rows, KL {kl:.6f}, agreement {agree:.4f}, CE {ce_s:.5f} / {ce_t:.5f}: ok "
              f"(relative errors KL {errs[0]:.1e}, CE {errs[1]:.1e} / {errs[2]:.1e})")

    check_cues(cues, pts, cue_lags, probe, L, H)


def collect_points(pts, seq, lag, logp, internals, L, H, W, probe):
    """The decision points of one sequence (a cue lag): cues, label, attention masses."""
    hidden = internals["hidden"].numpy()
    probs = [internals["probs"][l][0][1][0].numpy() for l in range(L)]  # [nh, len, len], one sequence
    for j in range(1, seq.m + 1):
        gj = seq.g[j - 1]
        if gj > seq.n:
            continue
        i = seq.tb - 1 + (seq.tgt_ends[j - 2] if j > 1 else 0)
        s, t = seq.student_row(i), seq.teacher_row(i)
        p = np.exp(logp[s])
        vis = int(seq.layout.vis_prefix[s])
        windows = [(max(0, vis - W), vis),
                   (seq.n_prompt + (seq.src_ends[gj - 2] if gj > 1 else 0), seq.n_prompt + seq.src_ends[gj - 1])]
        assert windows[1][1] == vis
        mass = np.array([[[probs[l][h, s, a:b].sum() for a, b in windows] for h in range(H)] for l in range(L)])
        entropy, maxprob, front = -np.sum(p * logp[s]), p.max(), mass[:, :, 0].mean()
        pts["lag"].append(lag)
        pts["entropy"].append(entropy)
        pts["maxprob"].append(maxprob)
        pts["attn_front"].append(front)
        pts["label"].append(np.argmax(logp[s]) == np.argmax(logp[t]))
        pts["mass"].append(mass)
        pts["wkeys"].append([b - a for a, b in windows])
        pts["vkeys"].append(vis)
        if probe:
            # probe_features.h: [h; entropy; maxprob; attn_front; words_read; lag]
            x = np.concatenate([hidden[s], [entropy, maxprob, front, gj, gj - (j - 1)]])
            z = probe["bias"] + np.sum(np.array(probe["weights"]) * (x - np.array(probe["mean"])) /
                                       np.array(probe["scale"]))
            pts["probe"].append(1.0 / (1.0 + math.exp(-z)))


def check_cues(cues, pts, cue_lags, probe, L, H):
    n = len(pts["label"])
    if cues["points"] != n:
        fail(f"cues.points {cues['points']}, expected {n}")
    label = np.array(pts["label"], dtype=bool)
    lag = np.array(pts["lag"])
    close(cues["positive_rate"], label.mean(), "cues.positive_rate")
    if cues["decode_vs_forward"]["label_mismatches"] != 0 or cues["decode_vs_forward"]["attn_front_max_diff"] > 1e-5:
        fail(f"the decode path and the forward pass disagree: {cues['decode_vs_forward']}")
    scores = {"entropy": -np.array(pts["entropy"]), "maxprob": np.array(pts["maxprob"]),
              "attn_front": -np.array(pts["attn_front"]), "lag": lag.astype(np.float64)}
    if probe:
        scores["probe"] = np.array(pts["probe"])
    elif cues["auc"]["probe"] is not None:
        fail("an AUC for the probe of a model without one")
    for name, sc in scores.items():
        check_auc(cues["auc"][name], sc, label, f"cues.auc.{name}")
    for k, lg in enumerate(cue_lags):
        sel = lag == lg
        by = cues["by_lag"][k]
        if by["lag"] != lg or by["points"] != int(sel.sum()):
            fail(f"cues.by_lag[{k}]: {by['lag']}/{by['points']}, expected lag {lg} with {int(sel.sum())} points")
        close(by["positive_rate"], label[sel].mean(), f"cues.by_lag[{k}].positive_rate")
        for name, sc in scores.items():
            check_auc(by["auc"][name], sc[sel], label[sel], f"cues.by_lag[{k}].auc.{name}")
    levels = np.array(cues["quantile_levels"])
    for name in ("entropy", "maxprob", "attn_front") + (("probe",) if probe else ()):
        want = np.quantile(np.array(pts[name]), levels)
        got = cues["quantiles"][name]
        for q, (a, b) in enumerate(zip(got, want)):
            close(a, b, f"cues.quantiles.{name}[{q}] (level {levels[q]})", abs_tol=1e-7)
    mass, wkeys, vkeys = np.array(pts["mass"]), np.array(pts["wkeys"], dtype=np.float64), np.array(pts["vkeys"])
    want_variants = []
    for sel in [(-1, -1)] + [(l, h) for l in range(L) for h in [-1] + list(range(H))]:
        for w in (0, 1):
            for norm in (False, True):
                want_variants.append((sel, w, norm))
    if len(cues["attn_variants"]) != len(want_variants):
        fail(f"{len(cues['attn_variants'])} attention variants, expected {len(want_variants)}")
    for v, ((l, h), w, norm) in zip(cues["attn_variants"], want_variants):
        names = (v["layer"], v["head"], v["window"], v["normalized"])
        if names != ("all" if l < 0 else l, "all" if h < 0 else h, ("tokens", "word")[w], norm):
            fail(f"attention variant {names}, expected layer {l} head {h} window {w} normalized {norm}")
        m = mass[:, :, :, w]
        m = m[:, l] if l >= 0 else m
        m = m[:, h] if h >= 0 else m
        score = -m.reshape(n, -1).mean(axis=1)
        if norm:
            score = score * vkeys / wkeys[:, w]
        check_auc(v["auc"], score, label, f"attention variant {names}")
    print(f"cues: {n} points at lags {cue_lags}, {len(want_variants)} attention variants, "
          f"AUC -entropy {cues['auc']['entropy']:.4f}: ok")


if __name__ == "__main__":
    main()
