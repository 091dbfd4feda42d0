#!/usr/bin/env bash
# Benchmarks, each side by side with its peer in the same run; writes bench/results.json
# and prints a table for docs/performance.md. Not a test: numbers depend on the machine.
# Usage: scripts/bench.sh [--quick] [--only train|tokenizer|spsd|ckpt]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=4; ONLY=all
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) STEPS=2 ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--only train|tokenizer|spsd|ckpt]" >&2; exit 2 ;;
  esac
  shift
done
PY=${PROACT_PYTHON:-/usr/bin/python3}
./scripts/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_step bench_sgemm bench_spsd bench_allreduce bench_ckpt proact_bin >/dev/null
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

if [ "$ONLY" = all ] || [ "$ONLY" = spsd ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  FIX=tests/data/fixture
  ./build/proact prepare --input $FIX/john.en-es.train.tsv --tokenizer $FIX/tokenizer.json -o "$OUT/john.h5" >/dev/null
  echo "== SPSD step vs a plain cross-entropy step (configs/small.ini, same examples)" >&2
  ./build/bench_spsd --config configs/small.ini --data "$OUT/john.h5" --steps $((STEPS + 2)) --threads 1 > "$OUT/spsd.json"
  echo "== data parallel: 1 rank x 1 thread vs 2 ranks x 1 thread, 8 examples per rank" >&2
  for np in 1 2; do
    mpirun -np $np --oversubscribe ./build/proact train --config configs/small.ini --set data.train="$OUT/john.h5" \
      --set data.valid= --set train.steps=40 --set train.log_every=10 --set train.global_batch=$((8 * np)) \
      --set run.threads=1 --set run.dir="$OUT/ddp$np" > "$OUT/ddp$np.log"
  done
  # overlap: equal-length synthetic sequences, so that no rank waits for another and the time
  # left in MPI after backward is only the allreduce that backward did not hide
  mpirun -np 2 --oversubscribe ./build/proact train --config configs/small.ini --set data.source=random \
    --set train.seq_len=128 --set train.steps=40 --set train.log_every=10 --set train.global_batch=16 \
    --set run.threads=1 --set run.dir="$OUT/overlap" > "$OUT/overlap.log"
  params=$(grep -o '[0-9.]*M parameters' "$OUT/ddp1.log" | head -1 | sed 's/M.*//')
  mpirun -np 2 --oversubscribe ./build/bench_allreduce "$($PY -c "print(int($params * 1e6))")" > "$OUT/allreduce.json"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = ckpt ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  echo "== checkpoint write/read (configs/base.ini: parameters + AdamW moments) vs dd on the same bytes" >&2
  for np in 1 2; do
    rm -rf "$OUT/ck"; mpirun -np $np --oversubscribe ./build/bench_ckpt --config configs/base.ini --dir "$OUT/ck" > "$OUT/ckpt$np.json"
  done
  mb=$($PY -c "import json; print(int(json.load(open('$OUT/ckpt1.json'))['bytes'] / 2**20))")
  $PY - "$OUT" "$mb" > "$OUT/dd.json" <<'PY'
import json, subprocess, sys, time
out, mb = sys.argv[1], int(sys.argv[2])
best_w = best_r = 1e30
for _ in range(3):  # the same bytes, best of 3, like bench_ckpt
    t = time.perf_counter(); subprocess.run(["dd", "if=/dev/zero", f"of={out}/dd.bin", "bs=1M", f"count={mb}"], check=True, capture_output=True)
    best_w = min(best_w, time.perf_counter() - t)
    t = time.perf_counter(); subprocess.run(["dd", f"if={out}/dd.bin", "of=/dev/null", "bs=1M"], check=True, capture_output=True)
    best_r = min(best_r, time.perf_counter() - t)
b = mb * 2**20
print(json.dumps({"bytes": b, "write_gb_s": b / best_w / 1e9, "read_gb_s": b / best_r / 1e9}))
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
if r("spsd.json"):
    sp = r("spsd.json")
    res["spsd"] = sp
    res["spsd_overhead"] = sp["spsd_overhead"]
    print(f"SPSD step: {sp['spsd_step_ms']:.1f} ms vs plain {sp['plain_step_ms']:.1f} ms -> {sp['spsd_overhead']:.2f}x "
          f"(rows {sp['row_ratio']:.2f}x)")
    def tps(n):  # tokens/s of the steps after the first window (warm-up excluded)
        rows = [json.loads(l) for l in open(os.path.join(d, f"ddp{n}", "metrics.jsonl")) if '"loss"' in l]
        rows = [x for x in rows if x["step"] > 10]
        return sum(x["tokens_per_s"] for x in rows) / len(rows), sum(x["allreduce_wait_s"] for x in rows) / 30
    t1, _ = tps(1)
    t2, wait2 = tps(2)
    rows = [json.loads(l) for l in open(os.path.join(d, "overlap", "metrics.jsonl")) if '"loss"' in l]
    wait_eq = sum(x["allreduce_wait_s"] for x in rows if x["step"] > 10) / 30
    ar = r("allreduce.json")
    res["weak_scaling_2ranks"] = t2 / (2 * t1)
    res["allreduce_hidden_fraction"] = max(0.0, 1 - wait_eq / ar["allreduce_s"])
    res["ddp"] = {"tokens_per_s_1rank": t1, "tokens_per_s_2ranks": t2, "wait_per_step_s_pairs": wait2,
                  "wait_per_step_s_equal_lengths": wait_eq, "blocking_allreduce_s": ar["allreduce_s"],
                  "floats": ar["floats"]}
    print(f"data parallel: 1 rank {t1:.0f} tok/s, 2 ranks {t2:.0f} tok/s -> efficiency {t2 / (2 * t1):.2f} "
          f"(pairs; {wait2 * 1e3:.2f} ms per step waiting in MPI after backward)")
    print(f"overlap: allreduce of {ar['floats']} floats {ar['allreduce_s'] * 1e3:.2f} ms blocking; with equal-length "
          f"sequences {wait_eq * 1e3:.2f} ms left after backward per step -> "
          f"{100 * res['allreduce_hidden_fraction']:.0f}% hidden")
if r("ckpt1.json"):
    dd = r("dd.json")
    res["checkpoint"] = {"dd": dd, "ranks1": r("ckpt1.json"), "ranks2": r("ckpt2.json")}
    for n in (1, 2):
        c = r(f"ckpt{n}.json")
        print(f"checkpoint, {n} rank(s): write {c['write_gb_s']:.2f} GB/s ({c['write_gb_s'] / dd['write_gb_s']:.2f} of dd), "
              f"read {c['read_gb_s']:.2f} GB/s ({c['read_gb_s'] / dd['read_gb_s']:.2f} of dd); dd {dd['write_gb_s']:.2f} / "
              f"{dd['read_gb_s']:.2f} GB/s")
    res["ckpt_write_vs_dd"] = r("ckpt2.json")["write_gb_s"] / dd["write_gb_s"]
    res["ckpt_read_vs_dd"] = r("ckpt2.json")["read_gb_s"] / dd["read_gb_s"]
json.dump(res, open("bench/results.json", "w"), indent=2)
print(f"machine: {res['machine']}; {res['date']}")
PY
