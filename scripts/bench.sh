#!/usr/bin/env bash
# Benchmarks, each side by side with its peer in the same run; writes bench/results.json
# and prints a table for docs/performance.md. Not a test: numbers depend on the machine.
# Usage: scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=4; [ "${1:-}" = "--quick" ] && STEPS=2
PY=${PROACT_PYTHON:-/usr/bin/python3}
./scripts/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_step bench_sgemm >/dev/null
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT

# base.ini shapes, for the PyTorch twin
SHAPE=$(awk -F' *= *' '/^vocab_size/{v=$2}/^hidden_size/{d=$2}/^n_layers/{l=$2}/^n_heads/{h=$2}
  /^n_kv_heads/{k=$2}/^intermediate_size/{f=$2}/^seq_len/{s=$2}/^global_batch/{b=$2}
  END{printf "--vocab %s --d %s --layers %s --heads %s --kv-heads %s --ff %s --seq %s --batch %s --tied 0", v,d,l,h,k,f,s,b}' configs/base.ini)

for t in 1 2; do
  echo "== threads $t" >&2
  ./build/bench_sgemm --threads $t --seconds 1 > "$OUT/sgemm$t.json"
  ./build/bench_step --config configs/base.ini --steps $STEPS --threads $t > "$OUT/proact$t.json"
  $PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads $t > "$OUT/torch$t.json"
done
# PyTorch's other 2-core setting: BLAS on 2 threads, its own ops on 1 (no oversubscription)
$PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads 2 --omp-threads 1 > "$OUT/torch2b.json"

$PY - "$OUT" <<'PY'
import json, os, platform, subprocess, sys, datetime
d = sys.argv[1]
r = lambda n: json.load(open(os.path.join(d, n)))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
res = {"date": datetime.date.today().isoformat(), "machine": f"{cpu}, {os.cpu_count()} cores",
       "openblas_core": r("sgemm1.json")["core"], "config": "configs/base.ini"}
rows = []
for t in (1, 2):
    s, p = r(f"sgemm{t}.json"), r(f"proact{t}.json")
    torch_runs = [r(f"torch{t}.json")] + ([r("torch2b.json")] if t == 2 else [])
    best = max(torch_runs, key=lambda x: x["tokens_per_s"])
    res[f"threads{t}"] = {"sgemm_peak_gflops": s["peak_gflops"], "proact": p, "pytorch_best": best,
                          "pytorch_runs": torch_runs}
    rows.append((t, p["tokens_per_s"], best["tokens_per_s"], p["tokens_per_s"] / best["tokens_per_s"],
                 p["gflops"], s["peak_gflops"], p["gflops"] / s["peak_gflops"]))
res["train_step_vs_pytorch"] = rows[0][3]
res["mfu_vs_sgemm_peak"] = rows[0][6]
res["train_step_vs_pytorch_2threads"] = rows[1][3]
res["mfu_vs_sgemm_peak_2threads"] = rows[1][6]
json.dump(res, open("bench/results.json", "w"), indent=2)
print(f"machine: {res['machine']}; OpenBLAS core {res['openblas_core']}; {res['date']}")
print("| threads | proact tok/s | PyTorch tok/s (best) | ratio | proact GFLOP/s | sgemm peak GFLOP/s | of peak |")
print("|---|---|---|---|---|---|---|")
for t, a, b, ratio, g, peak, frac in rows:
    print(f"| {t} | {a:.0f} | {b:.0f} | {ratio:.2f}x | {g:.1f} | {peak:.1f} | {100*frac:.0f}% |")
PY
