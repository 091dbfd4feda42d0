#!/usr/bin/env bash
# Benchmarks, each side by side with its peer in the same run; writes bench/results.json
# and prints a table for docs/performance.md. Not a test: numbers depend on the machine.
# Usage: scripts/bench.sh [--quick] [--only train|tokenizer]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=4; ONLY=all
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) STEPS=2 ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--only train|tokenizer]" >&2; exit 2 ;;
  esac
  shift
done
PY=${PROACT_PYTHON:-/usr/bin/python3}
./scripts/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_step bench_sgemm proact_bin >/dev/null
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
echo '{}' > "$OUT/empty.json"

# base.ini shapes, for the PyTorch twin
SHAPE=$(awk -F' *= *' '/^vocab_size/{v=$2}/^hidden_size/{d=$2}/^n_layers/{l=$2}/^n_heads/{h=$2}
  /^n_kv_heads/{k=$2}/^intermediate_size/{f=$2}/^seq_len/{s=$2}/^global_batch/{b=$2}
  END{printf "--vocab %s --d %s --layers %s --heads %s --kv-heads %s --ff %s --seq %s --batch %s --tied 0", v,d,l,h,k,f,s,b}' configs/base.ini)

if [ "$ONLY" = all ] || [ "$ONLY" = train ]; then
for t in 1 2; do
  echo "== training step, threads $t" >&2
  ./build/bench_sgemm --threads $t --seconds 1 > "$OUT/sgemm$t.json"
  ./build/bench_step --config configs/base.ini --steps $STEPS --threads $t > "$OUT/proact$t.json"
  $PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads $t > "$OUT/torch$t.json"
done
# PyTorch's other 2-core setting: BLAS on 2 threads, its own ops on 1 (no oversubscription)
$PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads 2 --omp-threads 1 > "$OUT/torch2b.json"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = tokenizer ]; then
  echo "== tokenizer vs @huggingface/tokenizers" >&2
  bash bench/bench_tokenizer.sh build/proact > "$OUT/tokenizer.json"
  # prepare: the real LibreOffice corpus when fetched, else the fixture repeated to a similar size
  tsv=data/libreoffice-en-de/train.tsv
  if [ ! -f "$tsv" ]; then
    tsv="$OUT/pairs.tsv"; : > "$tsv"
    while [ "$(stat -c %s "$tsv")" -lt 4000000 ]; do cat tests/data/fixture/*.train.tsv >> "$tsv"; done
  fi
  echo "== prepare on $tsv" >&2
  ./build/proact tokenizer train --vocab-size 8000 -o "$OUT/tok.json" "$tsv" >/dev/null
  start=$(date +%s.%N)
  ./build/proact prepare --input "$tsv" --tokenizer "$OUT/tok.json" -o "$OUT/p.h5" > "$OUT/prepare.log"
  end=$(date +%s.%N)
  $PY - "$tsv" "$start" "$end" "$OUT/prepare.log" > "$OUT/prepare.json" <<'PY'
import json, os, re, sys
path, start, end, log = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), open(sys.argv[4]).read()
kept = int(re.search(r"kept (\d+)", log).group(1))
dt = end - start
print(json.dumps({"input": path, "mb": os.path.getsize(path) / 1e6, "pairs": kept, "seconds": dt,
                  "mb_s": os.path.getsize(path) / 1e6 / dt, "pairs_s": kept / dt}))
PY
fi

$PY - "$OUT" <<'PY'
import json, os, sys, datetime
d = sys.argv[1]
def r(n):
    p = os.path.join(d, n)
    return json.load(open(p)) if os.path.exists(p) else None
try:
    res = json.load(open("bench/results.json"))  # keep the sections not rerun
except (OSError, ValueError):
    res = {}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
res.update({"date": datetime.date.today().isoformat(), "machine": f"{cpu}, {os.cpu_count()} cores"})
if r("sgemm1.json"):
    res.update({"openblas_core": r("sgemm1.json")["core"], "config": "configs/base.ini"})
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
    print("| threads | proact tok/s | PyTorch tok/s (best) | ratio | proact GFLOP/s | sgemm peak GFLOP/s | of peak |")
    print("|---|---|---|---|---|---|---|")
    for t, a, b, ratio, g, peak, frac in rows:
        print(f"| {t} | {a:.0f} | {b:.0f} | {ratio:.2f}x | {g:.1f} | {peak:.1f} | {100*frac:.0f}% |")
if r("tokenizer.json"):
    tk, pr = r("tokenizer.json"), r("prepare.json")
    res["tokenizer"] = tk
    res["tokenizer_vs_hf"] = tk["ratio"]
    res["prepare"] = pr
    print(f"tokenizer: proact {tk['proact_mb_s']:.2f} MB/s, @huggingface/tokenizers {tk['hf_js_mb_s']:.2f} MB/s "
          f"-> {tk['ratio']:.1f}x, identical ids: {tk['identical_ids']}")
    print(f"prepare: {pr['mb']:.1f} MB, {pr['pairs']} pairs in {pr['seconds']:.2f} s -> {pr['mb_s']:.1f} MB/s, "
          f"{pr['pairs_s']:.0f} pairs/s ({pr['input']})")
json.dump(res, open("bench/results.json", "w"), indent=2)
print(f"machine: {res['machine']}; {res['date']}")
PY
