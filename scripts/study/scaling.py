#!/usr/bin/env python3
"""Which model size a pretraining run of a given wall-clock length serves best (scripts/ship-model.sh).

    scripts/study/scaling.py SCALING_DIR --sizes "5m 12m 25m" --target-minutes 120 -o scaling.json
                             [--table scaling.md]        -> prints the chosen size

SCALING_DIR/<size>/run is one trial per size: the same data, the same wall-clock budget, a constant
learning rate after warmup (optim.decay_steps far beyond the run), a validation loss at about ten
points. From each trial's config.ini and metrics.jsonl:

  compute   C = 6 x N_matmul x tokens: N_matmul counts the weights every token multiplies (the
            decoder's matrices and the output projection; not the embedding lookup, norms or the
            attention scores), tokens = steps x the mean tokens per step of the logged steps
  speed     compute per second of training, from the run's own clock (elapsed_s of its last step)
  fit       L(C) = E + A * C^-alpha over the validation points after the first quarter of the
            run (least squares; E >= 0 and below the lowest loss)
  target    the compute the size reaches in --target-minutes at its measured speed, and the
            fitted loss there; the chosen size has the lowest.

With a constant learning rate every validation point is a fair sample of one loss-compute curve,
so the curves of different sizes can be compared and extrapolated; the real run then decays the
learning rate (cosine), which lowers every size's loss by a similar amount. An extrapolation
beyond the trials is a forecast: the JSON keeps every point so that it can be checked.
"""
import argparse
import configparser
import json
import math
import os
import sys

import numpy as np
from scipy.optimize import curve_fit


def die(msg):
    sys.exit(f"scaling: {msg}")


def model_shape(config_path):
    """The [model] keys of a run's resolved config.ini as numbers."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=("#", ";"))
    try:
        with open(config_path) as f:
            cp.read_file(f)
        m = cp["model"]
        shape = {k: int(m[k]) for k in ("vocab_size", "hidden_size", "n_layers", "n_heads", "n_kv_heads",
                                         "head_dim", "intermediate_size")}
        shape["tie_embeddings"] = m["tie_embeddings"].strip().lower() in ("true", "yes", "on", "1")
        shape["steps"] = int(cp["train"]["steps"])
    except (OSError, KeyError, ValueError, configparser.Error) as e:
        die(f"{config_path}: cannot read the model shape ({e})")
    return shape


def parameter_counts(s):
    """(all parameters, matmul weights per token) of a Llama-style decoder of shape s."""
    d, L, V, f = s["hidden_size"], s["n_layers"], s["vocab_size"], s["intermediate_size"]
    hd = s["head_dim"] or d // s["n_heads"]
    kv = s["n_kv_heads"] or s["n_heads"]
    attention = d * s["n_heads"] * hd * 2 + d * kv * hd * 2  # q and o, k and v
    layer = attention + 3 * d * f                           # + SwiGLU gate, up, down
    matmul = L * layer + V * d                              # + the output projection
    total = matmul + 2 * L * d + d + (0 if s["tie_embeddings"] else V * d)
    return total, matmul


def read_metrics(run_dir):
    """A run's metrics.jsonl: its logged training steps (records) and [(step, student validation loss)]."""
    steps, val = [], []
    path = os.path.join(run_dir, "metrics.jsonl")
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    die(f"{path}:{n}: not JSON ({e.msg})")
                if "val_loss_student" in r:
                    val.append((r["step"], r["val_loss_student"]))
                elif "loss" in r:
                    steps.append(r)
    except OSError as e:
        die(f"{path}: {e.strerror}")
    return steps, val


def read_trial(run_dir):
    """steps, seconds, mean tokens per step and [(step, validation loss)] of one trial run."""
    steps, val = read_metrics(run_dir)
    path = os.path.join(run_dir, "metrics.jsonl")
    if not steps or not val:
        die(f"{path}: no training steps or no validation losses (is the trial finished?)")
    last = max(steps, key=lambda r: r["step"])
    tokens = float(np.mean([r["tokens"] for r in steps]))
    return last["step"], last["elapsed_s"], tokens, sorted(dict(val).items())


def power_law(c, e, a, alpha):
    return e + a * np.power(c, -alpha)


def fit_curve(compute, loss):
    """(E, A, alpha) of L = E + A C^-alpha, fitted in units of the first point's compute."""
    c0 = compute[0]
    x = np.asarray(compute) / c0
    y = np.asarray(loss)
    if len(x) < 3:
        die("fewer than 3 validation points after the first quarter: give the trials more evaluations")
    try:
        (e, a, alpha), _ = curve_fit(power_law, x, y, p0=(0.5 * y.min(), y[0] - 0.5 * y.min(), 0.5),
                                     bounds=([0, 0, 1e-3], [y.min(), np.inf, 5]), maxfev=20000)
    except (RuntimeError, ValueError) as e:
        die(f"the power-law fit failed ({e})")
    return e, a * c0 ** alpha, alpha  # back to absolute compute


def analyse(scaling_dir, sizes, target_minutes):
    rows = []
    for size in sizes:
        run = os.path.join(scaling_dir, size, "run")
        shape = model_shape(os.path.join(run, "config.ini"))
        total, matmul = parameter_counts(shape)
        last_step, seconds, tokens_per_step, val = read_trial(run)
        if last_step != shape["steps"]:
            die(f"{run}: the trial stopped at step {last_step} of {shape['steps']}")
        flops_per_step = 6.0 * matmul * tokens_per_step
        points = [{"step": s, "compute": s * flops_per_step, "val_loss": v} for s, v in val]
        used = [p for p in points if p["step"] >= last_step / 4]
        e, a, alpha = fit_curve([p["compute"] for p in used], [p["val_loss"] for p in used])
        speed = last_step * flops_per_step / seconds
        target_c = speed * target_minutes * 60
        rows.append({
            "size": size, "params": total, "matmul_params": matmul, "steps": last_step, "seconds": seconds,
            "s_per_step": seconds / last_step, "tokens_per_step": tokens_per_step,
            "tokens_per_s": tokens_per_step * last_step / seconds, "flops_per_s": speed,
            "compute": last_step * flops_per_step, "val_loss": val[-1][1],
            "fit": {"E": e, "A": a, "alpha": alpha, "points_used": len(used)},
            "fit_residual_max": max(abs(power_law(p["compute"], e, a, alpha) - p["val_loss"]) for p in used),
            "target_compute": target_c, "target_steps": int(round(target_minutes * 60 * last_step / seconds)),
            "target_val_loss": power_law(target_c, e, a, alpha), "points": points})
    chosen = min(rows, key=lambda r: r["target_val_loss"])
    return {"target_minutes": target_minutes, "sizes": rows, "chosen": chosen["size"]}


def table(result):
    t = result["target_minutes"]
    lines = [f"| size | parameters | s/step | tokens/s | trial steps | trial compute (PFLOP) | val loss at trial end "
             f"| fit E + A·C^-α: E, α (max residual) | forecast at {t:g} min: steps, PFLOP, val loss |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["sizes"]:
        mark = " **(chosen)**" if r["size"] == result["chosen"] else ""
        lines.append(f"| {r['size']}{mark} | {r['params'] / 1e6:.1f}M | {r['s_per_step']:.3f} | {r['tokens_per_s']:.0f} "
                     f"| {r['steps']} | {r['compute'] / 1e15:.3f} | {r['val_loss']:.3f} "
                     f"| {r['fit']['E']:.3f}, {r['fit']['alpha']:.3f} ({r['fit_residual_max']:.3f}) "
                     f"| {r['target_steps']}, {r['target_compute'] / 1e15:.2f}, {r['target_val_loss']:.3f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scaling_dir")
    ap.add_argument("--sizes", required=True, help="the trial sizes (directories), space- or comma-separated")
    ap.add_argument("--target-minutes", type=float, required=True, help="the wall-clock length of the real run")
    ap.add_argument("-o", "--output", required=True, help="the JSON to write")
    ap.add_argument("--table", help="also write the table as Markdown")
    a = ap.parse_args()
    sizes = a.sizes.replace(",", " ").split()
    if not sizes or not math.isfinite(a.target_minutes) or a.target_minutes <= 0:
        die("--sizes must name a trial and --target-minutes be positive")
    result = analyse(a.scaling_dir, sizes, a.target_minutes)
    with open(a.output, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    if a.table:
        with open(a.table, "w") as f:
            f.write(table(result))
    print(result["chosen"])


if __name__ == "__main__":
    main()
