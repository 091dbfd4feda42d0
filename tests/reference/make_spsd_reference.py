#!/usr/bin/python3
"""make_spsd_reference.py --ref REF_DIR --out OUT — the reference of one whole SPSD step.

Synchronized privileged self-distillation (docs/design.md §2.4): one training sequence per example
holds the source once and the target twice, a student copy that sees a growing source prefix
and a teacher copy that sees the whole source. This script builds that packed batch in
Python, INDEPENDENTLY of the C code, from the rules stated in src/train/schedule.h's header comment,
runs the PyTorch twin over it in float64 and writes the whole step for the C test
(tests/reference/test_spsd_reference.c) to compare against.

For each case (qwen2, llama) it reads the twin model REF_DIR/<case>/model (written by
make_reference.py; part F32, part BF16 weights) and writes OUT/<case>/spsd.safetensors:
  I32  the raw examples, for the C side to rebuild its PairSet and TemplatePieces:
         src_tokens, src_off [4], src_word_ends, src_word_off [4],
         tgt_tokens, tgt_off [4], tgt_word_ends, tgt_word_off [4]  (word ends: exclusive
         end token index inside the example, as pairs.h), prompt, src_end, tgt_begin,
         tgt_end, g (the read schedules, concatenated), g_off [4]
  I32  the packed batch as src/train/schedule.h specifies it: tokens, targets (-1 = not predicted), pos,
         vis_prefix, blk_start (relative to the sequence start), seq_start [4],
         student_first [3], teacher_first [3], n_copy_rows [3]
  F32  the expected results: logits [N, V]; loss_student, loss_teacher, kl (each the sum
         over predicted rows divided by count); loss (the total); grad.<hf name> for every
         parameter (gradient of the total)
  __metadata__: phi, alpha, lambda, tau, count, case, arch

The loss (count = predicted rows per copy, summed over the examples):
  L = sum_rows [ CE(z_S) + alpha CE(z_T) + lambda tau^2 KL(softmax(z_T/tau).detach() || softmax(z_S/tau)) ] / count

Self-checks (the script fails if any does not hold):
  * layout semantics: every row's logits in the packed batch equal the last row of a plain
    causal forward over exactly what the row should see (the source prefix of g words, or
    the whole source, then its own copy up to itself; with the row's positions), so the
    vis_prefix / blk_start encoding says what the method means;
  * stopgrad: with alpha = 0 the gradient of L w.r.t. the teacher rows' logits is exactly
    zero (and, as a control, not zero when the detach is removed);
  * the float32 twin is reported against the float64 reference as a yardstick for the C
    side's float32 error.
"""

import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402


def f32(x):
    """x rounded to float32 (the C side receives the hyperparameters as float)."""
    return float(np.float32(x))


# --------------------------------------------------------------------------------------
# The cases: hand-chosen examples. Words are lists of token ids; g[j-1] = g(j) is the number
# of source words visible when target word j is written (n+1 = everything, incl. src_end).
# --------------------------------------------------------------------------------------

CASES = {
    # qwen2 (V = 97): prompt 2, src_end 1, tgt_begin 2, tgt_end 1; phi = 3; alpha 0.7,
    # lambda 1.3, tau 2.
    "qwen2": {
        "pieces": {"prompt": [90, 91], "src_end": [92], "tgt_begin": [93, 94], "tgt_end": [95]},
        "phi": 3, "alpha": f32(0.7), "lambda": f32(1.3), "tau": f32(2.0),
        "examples": [
            {   # g(1) = 1; the last word sees everything (n+1 = 4)
                "src": [[10], [11, 12], [13, 14, 15]],
                "tgt": [[50, 51], [52], [53, 54]],
                "g": [1, 2, 4],
            },
            {   # g = n (all words, but not src_end) and never n+1
                "src": [[16, 17, 18], [19], [20, 21], [22]],
                "tgt": [[55], [56, 57, 58]],
                "g": [3, 4],
            },
            {   # flat steps, then n+1 = 3
                "src": [[23], [24]],
                "tgt": [[59], [60, 61], [62], [63]],
                "g": [1, 1, 2, 3],
            },
        ],
    },
    # llama (V = 89): prompt 3, src_end 2, tgt_begin 1, tgt_end 2; phi = 0; alpha = lambda =
    # tau = 1 (the defaults).
    "llama": {
        "pieces": {"prompt": [80, 81, 82], "src_end": [83, 84], "tgt_begin": [85], "tgt_end": [86, 87]},
        "phi": 0, "alpha": 1.0, "lambda": 1.0, "tau": 1.0,
        "examples": [
            {
                "src": [[30, 31], [32]],
                "tgt": [[64], [65, 66, 67], [68]],
                "g": [1, 3, 3],
            },
            {
                "src": [[33], [34, 35], [36], [37, 38, 39], [40]],
                "tgt": [[69, 70], [71], [72], [73, 74]],
                "g": [2, 2, 4, 6],
            },
            {   # one source word: g(1) = 1 = n (src_end hidden), then n+1
                "src": [[41, 42, 43]],
                "tgt": [[75], [76, 30]],
                "g": [1, 2],
            },
        ],
    },
}


# --------------------------------------------------------------------------------------
# The layout, written from src/train/schedule.h's header comment
# --------------------------------------------------------------------------------------

def flatten_words(words):
    """[[ids of word 1], [ids of word 2], ...] -> (tokens, word_ends), where word_ends[k] is
    the exclusive end token index of word k+1 (pairs.h's convention)."""
    tokens, ends = [], []
    for w in words:
        assert 1 <= len(w) <= 3
        tokens.extend(w)
        ends.append(len(tokens))
    return tokens, ends


def check_schedule(g, n, m):
    assert len(g) == m, "one read count per target word"
    assert all(1 <= x <= n + 1 for x in g), "1 <= g(j) <= n+1"
    assert all(a <= b for a, b in zip(g, g[1:])), "g is monotone"


def build_sequence(pieces, ex, phi):
    """The rows of one example's synchronized sequence:
        [ prompt x_1..x_n src_end ]  [ tgt_begin y_1..y_m tgt_end ]_student  [ same ]_teacher
    Returns (rows, student_first, teacher_first, n_copy_rows) with rows a list of dicts
    (token, target, pos, vis_prefix, blk_start), indices relative to the sequence start."""
    prompt, src_end = pieces["prompt"], pieces["src_end"]
    tgt_begin, tgt_end = pieces["tgt_begin"], pieces["tgt_end"]
    src_tokens, src_ends = flatten_words(ex["src"])
    tgt_tokens, _ = flatten_words(ex["tgt"])
    n, m, g = len(ex["src"]), len(ex["tgt"]), ex["g"]
    check_schedule(g, n, m)

    source = prompt + src_tokens + src_end
    S = len(source)
    copy_tokens = tgt_begin + tgt_tokens + tgt_end
    T = len(copy_tokens)

    # The unit each copy token is written in: tgt_begin with target word 1, target word j's
    # tokens with word j, tgt_end when everything has been read (unit m+1, which sees n+1).
    unit = [1] * len(tgt_begin)
    for j, word in enumerate(ex["tgt"], start=1):
        unit += [j] * len(word)
    unit += [m + 1] * len(tgt_end)
    assert len(unit) == T

    def source_visible_when_writing(u):
        """Source tokens a student row sees while it writes a token of unit u: the prompt
        plus the first g(u) source words; g = n+1 means the whole source incl. src_end."""
        words_read = g[u - 1] if u <= m else n + 1
        if words_read == n + 1:
            return S
        return len(prompt) + src_ends[words_read - 1]

    rows = []
    # Source rows: causal over the source only (nothing visible before the block, block = 0).
    for t in range(S):
        rows.append(dict(token=source[t], target=-1, pos=t, vis_prefix=0, blk_start=0))

    # The two copies: T-1 input rows each (the last token of tgt_end is not an input row).
    firsts = []
    for kind in ("student", "teacher"):
        first = len(rows)
        firsts.append(first)
        for i in range(T - 1):
            nxt = i + 1   # shift by one: the row is governed by the token it predicts
            if kind == "student":
                vis = source_visible_when_writing(unit[nxt])
            else:
                vis = S
            # Predicted: target tokens and tgt_end, never the forced tgt_begin.
            target = copy_tokens[nxt] if nxt >= len(tgt_begin) else -1
            rows.append(dict(token=copy_tokens[i], target=target, pos=phi + i, vis_prefix=vis,
                             blk_start=first))
    return rows, firsts[0], firsts[1], T - 1


def build_batch(spec):
    """Packs the examples of a case back to back. Returns a dict of int32 arrays."""
    rows, seq_start, sf, tf, ncr = [], [0], [], [], []
    for ex in spec["examples"]:
        seq_rows, s_first, t_first, n_copy = build_sequence(spec["pieces"], ex, spec["phi"])
        base = len(rows)
        rows.extend(seq_rows)
        seq_start.append(len(rows))
        sf.append(base + s_first)
        tf.append(base + t_first)
        ncr.append(n_copy)
    i32 = lambda xs: np.asarray(xs, dtype=np.int32)  # noqa: E731
    return {
        "tokens": i32([r["token"] for r in rows]),
        "targets": i32([r["target"] for r in rows]),
        "pos": i32([r["pos"] for r in rows]),
        "vis_prefix": i32([r["vis_prefix"] for r in rows]),
        "blk_start": i32([r["blk_start"] for r in rows]),
        "seq_start": i32(seq_start),
        "student_first": i32(sf),
        "teacher_first": i32(tf),
        "n_copy_rows": i32(ncr),
    }


def raw_examples(spec):
    """The examples as the C PairSet holds them (concatenated, with [count+1] offsets)."""
    out = {k: [] for k in ("src_tokens", "src_word_ends", "tgt_tokens", "tgt_word_ends", "g")}
    offs = {k: [0] for k in ("src_off", "src_word_off", "tgt_off", "tgt_word_off", "g_off")}
    for ex in spec["examples"]:
        st, se = flatten_words(ex["src"])
        tt, te = flatten_words(ex["tgt"])
        for key, vals, off in (("src_tokens", st, "src_off"), ("src_word_ends", se, "src_word_off"),
                               ("tgt_tokens", tt, "tgt_off"), ("tgt_word_ends", te, "tgt_word_off"),
                               ("g", ex["g"], "g_off")):
            out[key].extend(vals)
            offs[off].append(offs[off][-1] + len(vals))
    out.update(offs)
    for k, v in spec["pieces"].items():
        out[k] = v
    return {k: np.asarray(v, dtype=np.int32) for k, v in out.items()}


def layout_of(batch):
    return twin.Layout(batch["seq_start"], batch["pos"], batch["vis_prefix"], batch["blk_start"])


# --------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------

def predicted_pairs(batch):
    """(student rows, teacher rows) of the predicted copy positions, paired."""
    s_rows, t_rows = [], []
    for sf, tf, n in zip(batch["student_first"], batch["teacher_first"], batch["n_copy_rows"]):
        for i in range(int(n)):
            if batch["targets"][sf + i] >= 0:
                assert batch["targets"][tf + i] == batch["targets"][sf + i], "same targets in both copies"
                s_rows.append(int(sf + i))
                t_rows.append(int(tf + i))
    return torch.tensor(s_rows), torch.tensor(t_rows)


def spsd_loss(logits, batch, alpha, lam, tau, stopgrad=True):
    """-> (total, ce_student, ce_teacher, kl, count); every term summed over the predicted
    rows and divided by count."""
    s_rows, t_rows = predicted_pairs(batch)
    count = len(s_rows)
    y = torch.as_tensor(batch["targets"][s_rows.numpy()], dtype=torch.long)
    z_s, z_t = logits[s_rows], logits[t_rows]
    ce_s = F.cross_entropy(z_s, y, reduction="sum") / count
    ce_t = F.cross_entropy(z_t, y, reduction="sum") / count
    p_t = F.softmax(z_t / tau, dim=-1)
    if stopgrad:
        p_t = p_t.detach()
    # KL(p_T || p_S) = sum_v p_T (log p_T - log p_S), with the tau-softened distributions
    kl = (p_t * (torch.log(p_t) - F.log_softmax(z_s / tau, dim=-1))).sum() / count
    total = ce_s + alpha * ce_t + lam * tau * tau * kl
    return total, ce_s, ce_t, kl, count


def step(model, batch, spec):
    model.zero_grad(set_to_none=True)
    logits = model(batch["tokens"], layout_of(batch))
    total, ce_s, ce_t, kl, count = spsd_loss(logits, batch, spec["alpha"], spec["lambda"], spec["tau"])
    total.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    parts = {"loss": float(total), "loss_student": float(ce_s), "loss_teacher": float(ce_t), "kl": float(kl)}
    return logits.detach(), parts, grads, count


# --------------------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------------------

def check_layout_semantics(model, batch, spec, logits):
    """The packed layout must compute what the method means, checked without vis_prefix /
    blk_start (returns the worst relative difference):
      1. source and teacher rows equal a plain causal forward over [source ; teacher copy]
         with positions 0..S-1, phi.. (the teacher sees the whole source, never the student);
      2. a student row whose copy so far was all written with the same source prefix equals a
         plain causal forward over [that prefix ; copy up to the row];
      3. every student row is unchanged when the source tokens it must not see (index >=
         its vis_prefix) or the teacher copy are replaced, and changes when its last visible
         source token is replaced (rows whose prefix grew inside the copy are covered here:
         their earlier copy rows saw less, so no plain causal forward reproduces them)."""
    V, phi = model.dims.V, spec["phi"]
    tokens = batch["tokens"]
    layout = layout_of(batch)
    scale = float(logits.abs().max())
    worst = 0.0

    def forward(toks, lay):
        with torch.no_grad():
            return model(np.asarray(toks, dtype=np.int64), lay)

    def close(a, b, what):
        nonlocal worst
        d = float((a - b).abs().max()) / scale
        worst = max(worst, d)
        if not d <= 1e-12:
            raise SystemExit(f"layout self-check failed ({what}): relative difference {d:.3e}")

    for e in range(len(spec["examples"])):
        base = int(batch["seq_start"][e])
        sf, tf = int(batch["student_first"][e]), int(batch["teacher_first"][e])
        nrows = int(batch["n_copy_rows"][e])
        S = sf - base
        source = [int(t) for t in tokens[base:sf]]
        copy_in = [int(t) for t in tokens[sf:tf]]        # the copy's input tokens (T-1)
        assert copy_in == [int(t) for t in tokens[tf:tf + nrows]], "both copies hold the same tokens"
        # 1. source and teacher rows
        seq = source + copy_in
        pos = list(range(S)) + [phi + i for i in range(nrows)]
        n = len(seq)
        out = forward(seq, twin.Layout([0, n], pos, np.zeros(n), np.zeros(n)))
        close(out[:S], logits[base:sf], f"example {e} source rows")
        close(out[S:], logits[tf:tf + nrows], f"example {e} teacher rows")
        # 2. student rows with a constant prefix so far
        vis = [int(v) for v in batch["vis_prefix"][sf:sf + nrows]]
        for i in range(nrows):
            if any(v != vis[i] for v in vis[:i + 1]):
                continue
            seq = source[:vis[i]] + copy_in[:i + 1]
            pos = list(range(vis[i])) + [phi + k for k in range(i + 1)]
            n = len(seq)
            out = forward(seq, twin.Layout([0, n], pos, np.zeros(n), np.zeros(n)))
            close(out[-1], logits[sf + i], f"example {e} student row {i} vs plain causal")
        # 3. what the student rows may and may not see
        other = lambda t: (t + 1) % V  # noqa: E731
        changed = tokens.copy()
        changed[tf:tf + nrows] = [other(t) for t in tokens[tf:tf + nrows]]
        close(forward(changed, layout)[sf:sf + nrows], logits[sf:sf + nrows], f"example {e} teacher -> student")
        changed = tokens.copy()
        changed[sf:sf + nrows] = [other(t) for t in tokens[sf:sf + nrows]]
        close(forward(changed, layout)[tf:tf + nrows], logits[tf:tf + nrows], f"example {e} student -> teacher")
        for i in range(nrows):
            r = sf + i
            changed = tokens.copy()
            changed[base + vis[i]:sf] = [other(t) for t in tokens[base + vis[i]:sf]]
            close(forward(changed, layout)[r], logits[r], f"example {e} student row {i} sees past its prefix")
            changed = tokens.copy()
            changed[base + vis[i] - 1] = other(tokens[base + vis[i] - 1])
            d = float((forward(changed, layout)[r] - logits[r]).abs().max())
            if d == 0:
                raise SystemExit(f"layout self-check failed: example {e} student row {i} does not see "
                                 f"its last visible source token")
    return worst


def check_stopgrad(logits, batch, spec):
    """With alpha = 0 the teacher rows get no gradient at all: the KL term's teacher
    distribution is a constant (stopgrad). Control: without the detach they would."""
    s_rows, t_rows = predicted_pairs(batch)
    for stopgrad in (True, False):
        z = logits.detach().clone().requires_grad_(True)
        total = spsd_loss(z, batch, 0.0, spec["lambda"], spec["tau"], stopgrad=stopgrad)[0]
        total.backward()
        g_t = z.grad[t_rows]
        g_s = z.grad[s_rows]
        if stopgrad:
            if not bool((g_t == 0).all()):
                raise SystemExit("stopgrad self-check failed: teacher rows have a gradient with alpha = 0")
            if not bool((g_s != 0).any()):
                raise SystemExit("stopgrad self-check: the student rows got no gradient either")
        elif bool((g_t == 0).all()):
            raise SystemExit("stopgrad self-check: the control (no detach) gives the teacher no gradient; "
                             "the check would be vacuous")


def rel_err(a, ref):
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(a - ref)) / max(np.max(np.abs(ref)), 1e-30))


# --------------------------------------------------------------------------------------

def write_case(ref_dir, out_dir, name, spec):
    model_dir = os.path.join(ref_dir, name, "model")
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        raise SystemExit(f"{model_dir}: missing; run make_reference.py --out {ref_dir} first")
    model = twin.load_hf_dir(model_dir, dtype=torch.float64)   # the stored weights, exactly
    model32 = twin.load_hf_dir(model_dir, dtype=torch.float32)
    V = model.dims.V

    batch = build_batch(spec)
    raw = raw_examples(spec)
    every_id = np.concatenate([raw[k] for k in ("src_tokens", "tgt_tokens", "prompt", "src_end",
                                                "tgt_begin", "tgt_end")])
    assert every_id.max() < V and every_id.min() >= 0, "token ids must be < vocab"

    logits, parts, grads, count = step(model, batch, spec)
    logits32, parts32, grads32, _ = step(model32, batch, spec)
    sem = check_layout_semantics(model, batch, spec, logits)
    check_stopgrad(logits, batch, spec)

    tensors = {k: (v, "I32") for k, v in raw.items()}
    tensors.update({k: (v, "I32") for k, v in batch.items()})
    tensors["logits"] = (logits.numpy().astype(np.float32), "F32")
    for k in ("loss_student", "loss_teacher", "kl", "loss"):
        tensors[k] = (np.array([parts[k]], dtype=np.float32), "F32")
    for n, g in grads.items():
        tensors["grad." + n] = (g.numpy().astype(np.float32), "F32")
    meta = {"case": name, "arch": model.dims.arch, "phi": str(spec["phi"]), "alpha": repr(spec["alpha"]),
            "lambda": repr(spec["lambda"]), "tau": repr(spec["tau"]), "count": str(count)}
    os.makedirs(os.path.join(out_dir, name), exist_ok=True)
    twin.save_safetensors(os.path.join(out_dir, name, "spsd.safetensors"), tensors, meta)

    worst_g = max((rel_err(grads32[n], grads[n]), n) for n in grads)
    print(f"{name}: N={len(batch['tokens'])} rows, 3 examples, count={count}, phi={spec['phi']}, "
          f"alpha={spec['alpha']:.7g} lambda={spec['lambda']:.7g} tau={spec['tau']:.7g}")
    print("  loss %.8f = CE_S + alpha CE_T + lambda tau^2 KL with CE_S %.8f, CE_T %.8f, KL %.8f" %
          (parts["loss"], parts["loss_student"], parts["loss_teacher"], parts["kl"]))
    print(f"  self-checks: layout semantics ok (worst rel. diff {sem:.1e}); stopgrad with alpha = 0 ok")
    print("  float32 twin vs float64 reference: logits %.2e, grad %.2e (%s), loss %.2e, CE_S %.2e, "
          "CE_T %.2e, KL %.2e" %
          (rel_err(logits32, logits), worst_g[0], worst_g[1],
           *(abs(parts32[k] - parts[k]) / abs(parts[k]) for k in ("loss", "loss_student", "loss_teacher", "kl"))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", required=True, help="directory written by make_reference.py")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    torch.manual_seed(0)       # nothing here is random; pin it anyway
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name, spec in CASES.items():
        write_case(args.ref, args.out, name, spec)
    print(f"wrote {len(CASES)} SPSD cases ({', '.join(CASES)}) to {args.out}")


if __name__ == "__main__":
    main()
