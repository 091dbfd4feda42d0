#!/usr/bin/env python3
"""The scaling model of docs/scaling.md, from the measurements in bench/results.json:
  comm           bench_comm on 2 ranks: ping-pong one-way times and MPI_Allreduce times by size
  step_by_model  bench_step at 1 BLAS thread (one rank's compute) for small, base and qwen2-0.5b
  ddp            the measured share of the gradient allreduce hidden behind backward
Fits the message costs, then projects data-parallel training to 8..1024 ranks (one rank per core,
a fixed batch per rank) and prints markdown tables; with --update it also stores the fitted
parameters and projections in bench/results.json under "scaling".

Model (ring allreduce of G bytes over P ranks; Thakur, Rabenseifner and Gropp 2005):
  T_ar(P) = 2 (P-1) alpha B + 2 (P-1)/P G beta + (P-1)/P G gamma     (B buckets of 4 MiB)
  alpha: per-message latency, beta: seconds per byte on the wire (from the ping-pong),
  gamma: seconds per byte of reduction arithmetic (from the 2-rank allreduce, beta known).
  step(P) = compute + exposed, exposed = T_ar(P) minus the part hidden behind backward
  (backward is about 2/3 of the compute)."""
import argparse
import json
import math
import sys

RANKS = [1, 2, 8, 32, 128, 512, 1024]
STRONG = [8, 32, 128, 256]
GLOBAL_SEQS = 256


def fit_line(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def fit_comm(comm):
    pp = comm["ping_pong"]
    alpha = min(p["one_way_s"] for p in pp if p["bytes"] <= 64)  # the smallest messages: latency only
    big = [p for p in pp if p["bytes"] >= 65536]
    a0, beta = fit_line([p["bytes"] for p in big], [p["one_way_s"] for p in big])
    ar = comm["allreduce"]
    ranks = comm["ranks"]
    big_ar = [p for p in ar if p["floats"] * 4 >= 65536]
    c0, slope = fit_line([p["floats"] * 4 for p in big_ar], [p["seconds"] for p in big_ar])
    # slope = 2(P-1)/P beta + (P-1)/P gamma  ->  gamma
    f = (ranks - 1) / ranks
    gamma = max(0.0, (slope - 2 * f * beta) / f)
    small_ar = min(p["seconds"] for p in ar if p["floats"] <= 16)
    return {"alpha_s": alpha, "beta_s_per_byte": beta, "bandwidth_gb_s": 1 / beta / 1e9,
            "gamma_s_per_byte": gamma, "allreduce_small_s": small_ar, "ranks_measured": ranks,
            "allreduce_slope_s_per_byte": slope}


BUCKET_BYTES = 4 << 20  # mpi.bucket_mb's default: the gradient is reduced in buckets of 4 MiB


def allreduce_time(p, g_bytes, c):
    """A ring allreduce per bucket: each bucket pays the 2(P-1) message latencies."""
    if p == 1:
        return 0.0
    f = (p - 1) / p
    buckets = math.ceil(g_bytes / BUCKET_BYTES)
    return (2 * (p - 1) * c["alpha_s"] * buckets + 2 * f * g_bytes * c["beta_s_per_byte"]
            + f * g_bytes * c["gamma_s_per_byte"])


def project(model, c, hidden_fraction, network=None):
    """Per P: allreduce time, exposed time (no overlap, as measured, ideal), and the efficiency."""
    cc = dict(c)
    if network:
        cc.update(network)
    g = 4 * model["params"]  # fp32 gradients
    compute = model["step_s"]
    backward = compute * 2 / 3
    rows = []
    for p in RANKS:
        t = allreduce_time(p, g, cc)
        exposed = {"none": t, "measured": t * (1 - hidden_fraction), "ideal": max(0.0, t - backward)}
        rows.append({"ranks": p, "allreduce_s": t, "tokens_per_step": model["tokens"] * p,
                     **{f"efficiency_{k}": compute / (compute + v) for k, v in exposed.items()}})
    return rows


def zero1_memory(params, p):
    """Bytes per rank: fp32 parameters and gradients (4 + 4), AdamW m and v (8), sharded by ZeRO-1."""
    return {"plain": 16 * params, "zero1": 8 * params + 8 * params / p}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="bench/results.json")
    ap.add_argument("--update", action="store_true", help="store the fit and projections in the results")
    args = ap.parse_args()
    res = json.load(open(args.results))
    if "comm" not in res or "step_by_model" not in res:
        sys.exit("scaling.py: bench/results.json has no comm/step_by_model sections: run scripts/bench.sh --only scaling")
    c = fit_comm(res["comm"])
    hidden = res.get("allreduce_hidden_fraction", 0.0)
    print(f"fit (this machine, {c['ranks_measured']} ranks, shared memory): alpha {c['alpha_s'] * 1e6:.2f} us, "
          f"bandwidth {c['bandwidth_gb_s']:.2f} GB/s, reduction {c['gamma_s_per_byte'] * 1e12:.1f} ps/byte "
          f"({1 / c['gamma_s_per_byte'] / 1e9 if c['gamma_s_per_byte'] else float('inf'):.2f} GB/s)")
    # a network between nodes, for contrast (an assumption, not a measurement): 100 Gb/s InfiniBand
    ib = {"alpha_s": 2e-6, "beta_s_per_byte": 1 / 12.5e9}
    out = {"fit": c, "hidden_fraction_measured": hidden, "models": {}}
    print("\n| model | params | tokens per rank | compute per step (1 core) | gradient MB |")
    print("|---|---|---|---|---|")
    for name, m in res["step_by_model"].items():
        print(f"| {name} | {m['params'] / 1e6:.1f}M | {m['tokens']} | {m['step_s']:.3f} s | {4 * m['params'] / 1e6:.0f} |")
    for label, net in (("this machine's fit", None), ("assumed 100 Gb/s InfiniBand between nodes", ib)):
        print(f"\n**Weak scaling, {label}** (efficiency = compute / (compute + exposed allreduce); "
              "exposed: none hidden / the measured share hidden / all of backward hiding it)\n")
        print("| model | " + " | ".join(f"P={p}" for p in RANKS[2:]) + " |")
        print("|---|" + "---|" * len(RANKS[2:]))
        for name, m in res["step_by_model"].items():
            rows = project(m, c, hidden, net)
            key = "this" if net is None else "infiniband"
            out["models"].setdefault(name, {})[key] = rows
            cells = [f"{r['allreduce_s'] * 1e3:.0f} ms: {r['efficiency_none'] * 100:.0f} / {r['efficiency_measured'] * 100:.0f}"
                     f" / {r['efficiency_ideal'] * 100:.0f}%" for r in rows[2:]]
            print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n**Strong scaling, this machine's fit**: a fixed global batch of {GLOBAL_SEQS} sequences split over P ranks "
          "(P cannot exceed the sequence count); efficiency with the measured share hidden\n")
    print("| model | sequence | " + " | ".join(f"P={p}" for p in STRONG) + " |")
    print("|---|---|" + "---|" * len(STRONG))
    for name, m in res["step_by_model"].items():
        per_token = m["step_s"] / m["tokens"]
        cells, rows = [], []
        for p in STRONG:
            compute = per_token * m["seq_len"] * GLOBAL_SEQS / p
            exposed = allreduce_time(p, 4 * m["params"], c) * (1 - hidden)
            rows.append({"ranks": p, "compute_s": compute, "exposed_s": exposed, "efficiency": compute / (compute + exposed)})
            cells.append(f"{compute:.2f} s + {exposed * 1e3:.0f} ms: {rows[-1]['efficiency'] * 100:.0f}%")
        out["models"][name]["strong"] = rows
        print(f"| {name} | {m['seq_len']} | " + " | ".join(cells) + " |")
    print("\n**Memory per rank for model states** (fp32 parameters + gradients + AdamW m, v; ZeRO-1 shards m, v)\n")
    print("| model | plain | " + " | ".join(f"ZeRO-1, P={p}" for p in (2, 8, 64, 1024)) + " |")
    print("|---|---|" + "---|" * 4)
    for name, m in res["step_by_model"].items():
        mem = [zero1_memory(m["params"], p) for p in (2, 8, 64, 1024)]
        out["models"][name]["memory_bytes"] = {"plain": mem[0]["plain"], "zero1": {p: x["zero1"] for p, x in zip((2, 8, 64, 1024), mem)}}
        print(f"| {name} | {mem[0]['plain'] / 2**30:.2f} GiB | " + " | ".join(f"{x['zero1'] / 2**30:.2f} GiB" for x in mem) + " |")
    if args.update:
        res["scaling"] = out
        json.dump(res, open(args.results, "w"), indent=2)


if __name__ == "__main__":
    main()
