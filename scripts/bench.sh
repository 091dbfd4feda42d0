#!/usr/bin/env bash
# Benchmarks, each side by side with its peer in the same run; writes bench/results.json
# and prints a table for docs/performance.md. Not a test: numbers depend on the machine.
# Usage: scripts/bench.sh [--quick] [--only train|tokenizer|spsd|ckpt|decode|scaling]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=4; ONLY=all
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) STEPS=2 ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--only train|tokenizer|spsd|ckpt|decode|scaling]" >&2; exit 2 ;;
  esac
  shift
done
PY=${PROACT_PYTHON:-/usr/bin/python3}
./scripts/install-deps.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_step bench_sgemm bench_spsd bench_allreduce bench_comm bench_ckpt bench_decode proact_bin >/dev/null
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
  for p in fp32 bf16; do
    ./build/bench_step --config configs/base.ini --set train.precision=$p --steps $STEPS --threads $t \
      > "$OUT/proact${t}_$p.json"
  done
  $PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads $t > "$OUT/torch$t.json"
  $PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads $t --autocast bf16 > "$OUT/torch${t}_bf16.json"
done
# PyTorch's other 2-core setting: BLAS on 2 threads, its own ops on 1 (no oversubscription)
$PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads 2 --omp-threads 1 > "$OUT/torch2b.json"
$PY bench/bench_step.py $SHAPE --steps $STEPS --warmup 1 --threads 2 --omp-threads 1 --autocast bf16 \
  > "$OUT/torch2b_bf16.json"
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

if [ "$ONLY" = all ] || [ "$ONLY" = decode ]; then
  # Streaming decode: greedy incremental decoding, proact (decode.h) vs the PyTorch twin with a KV
  # cache; 64 source tokens encoded once, then 128 target tokens one at a time (group positions).
  # Models: the tiny trained stream model and random-init small.ini / base.ini. Same ids both sides.
  ./build/proact init --config configs/small.ini -o "$OUT/dec-small" >/dev/null
  ./build/proact init --config configs/base.ini -o "$OUT/dec-base" >/dev/null
  bash tests/jobs/make_stream_model.sh build/proact "$OUT/sm" >/dev/null
  SRC=$($PY -c "import random; r = random.Random(7); print(','.join(str(r.randrange(5, 1024)) for _ in range(64)))")
  DEC_TOKENS=128
  for spec in "tiny:$OUT/sm/model" "small:$OUT/dec-small" "base:$OUT/dec-base"; do
    name=${spec%%:*}; dir=${spec#*:}
    for t in 1 2; do
      echo "== decode $name, threads $t: proact vs PyTorch incremental decoding" >&2
      ./build/bench_decode decode --model "$dir" --src-ids "$SRC" --first 3 --tokens $DEC_TOKENS --repeat 5 --threads $t \
        > "$OUT/dec_${name}_proact$t.json"
      for mv in mv linear; do  # one-row products as gemv, or as nn.Linear does them; the better one counts
        $PY bench/bench_decode.py --model "$dir" --src-ids "$SRC" --first 3 --tokens $DEC_TOKENS --repeat 5 --threads $t \
          --matvec $mv > "$OUT/dec_${name}_torch${t}_$mv.json"
      done
    done
  done
  # Weight precision: the same decoding with bf16 and int8 weight copies (src/stream/decode_weights.h,
  # proact run --weights), beside one core's read bandwidth measured in the same run.
  echo "== decode with bf16 / int8 weights; one core's read bandwidth" >&2
  ./build/bench_decode readbw --mb 1024 --repeat 5 > "$OUT/readbw.json"
  for spec in "small:$OUT/dec-small" "base:$OUT/dec-base"; do
    name=${spec%%:*}; dir=${spec#*:}
    for w in bf16 int8; do
      for t in 1 2; do
        ./build/bench_decode decode --model "$dir" --src-ids "$SRC" --first 3 --tokens $DEC_TOKENS --repeat 5 \
          --threads $t --weights $w > "$OUT/dec_${name}_${w}$t.json"
      done
    done
  done
  # llama.cpp on the same weights: the GGUF export (bf16, and q8_0 beside proact's int8), greedy
  # decoding of the same number of tokens after the same 64 ids (plain causal positions: the work per
  # token is the same as proact's group positions), at 1 and 2 threads (bench/bench_llamacpp.mjs)
  for name in small base; do
    cp "$OUT/sm/model/tokenizer.json" "$OUT/sm/model/proact.json" "$OUT/dec-$name/"
    for ty in bf16 q8_0; do
      ./build/proact export --model "$OUT/dec-$name" --format gguf --gguf-type $ty -o "$OUT/dec-$name-$ty.gguf" >/dev/null
      for t in 1 2; do
        echo "== decode $name, threads $t: llama.cpp on the $ty GGUF export" >&2
        node bench/bench_llamacpp.mjs "$OUT/dec-$name-$ty.gguf" --ids "$SRC" --tokens $DEC_TOKENS --threads $t \
          --repeat 5 > "$OUT/dec_${name}_llama_${ty}$t.json"
      done
    done
  done
  # Decision heads: the full runner over the fixture's test sentences. The cue heads are pinned to
  # waitk:3's decisions (/min-lag=3/max-lag=3) so that every head does the same decoding work.
  echo "== decision-head overhead (runner over tests/data/fixture/john.en-es.test.tsv)" >&2
  HEADS=(--head waitk:3 --head entropy:5.5/min-lag=3/max-lag=3 --head attn:4:0.1/min-lag=3/max-lag=3
         --head probe:0.5/min-lag=3/max-lag=3)
  ./build/bench_decode heads --model "$OUT/sm/model" "${HEADS[@]}" --head entropy:5.5 --head attn:4:0.1 \
    --repeat 5 > "$OUT/heads_tiny.json"
  # the same runner on the small.ini shape (random weights, the fixture's tokenizer and template)
  mkdir -p "$OUT/dec-small-stream"
  cp "$OUT"/dec-small/{config.json,model.safetensors} "$OUT/sm/model/tokenizer.json" "$OUT/sm/model/proact.json" \
    "$OUT/dec-small-stream/"
  ./build/bench_decode heads --model "$OUT/dec-small-stream" "${HEADS[@]}" --sentences 10 --repeat 3 \
    > "$OUT/heads_small.json"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = scaling ]; then
  # The inputs of the scaling model (bench/scaling.py, docs/scaling.md): message costs between two
  # ranks, and one rank's compute per step (1 BLAS thread) for each model size.
  echo "== ping-pong and allreduce by size, 2 ranks" >&2
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 ./build/bench_comm > "$OUT/comm.json"
  for m in small base qwen2-0.5b; do
    echo "== one rank's training step: $m" >&2
    batch=(); [ $m = qwen2-0.5b ] && batch=(--set train.global_batch=1 --set train.seq_len=256) # 8.6 GB, 12 s a step
    ./build/bench_step --config configs/$m.ini "${batch[@]}" --steps 2 --warmup 1 --threads 1 > "$OUT/step_$m.json"
  done
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
        s, p32, p16 = r(f"sgemm{t}.json"), r(f"proact{t}_fp32.json"), r(f"proact{t}_bf16.json")
        names = [f"torch{t}.json", f"torch{t}_bf16.json"] + (["torch2b.json", "torch2b_bf16.json"] if t == 2 else [])
        torch_runs = [r(n) for n in names]
        best = max(torch_runs, key=lambda x: x["tokens_per_s"])
        res[f"threads{t}"] = {"sgemm_peak_gflops": s["peak_gflops"], "bf16_peak_gflops": s["bf16_peak_gflops"],
                              "gemm": s["gemm"], "proact_fp32": p32, "proact_bf16": p16, "pytorch_best": best,
                              "pytorch_runs": torch_runs}
        rows.append((t, p16["tokens_per_s"], p32["tokens_per_s"], best["tokens_per_s"], best["precision"],
                     p16["tokens_per_s"] / best["tokens_per_s"], p16["tokens_per_s"] / p32["tokens_per_s"],
                     p16["gflops"] / s["bf16_peak_gflops"], p32["gflops"] / s["peak_gflops"]))
    res["train_step_vs_pytorch"] = rows[0][5]
    res["train_step_vs_pytorch_2threads"] = rows[1][5]
    res["bf16_vs_fp32_step"] = rows[0][6]
    res["bf16_vs_fp32_step_2threads"] = rows[1][6]
    res["mfu_vs_bf16_peak"] = rows[0][7]
    res["mfu_vs_bf16_peak_2threads"] = rows[1][7]
    res["mfu_vs_sgemm_peak"] = rows[0][8]
    res["mfu_vs_sgemm_peak_2threads"] = rows[1][8]
    print("| threads | proact bf16 tok/s | proact fp32 tok/s | PyTorch tok/s (best: its precision) | bf16 ÷ PyTorch "
          "| bf16 ÷ fp32 | bf16 MFU (of oneDNN bf16 peak) | fp32 MFU (of sgemm peak) |")
    print("|---|---|---|---|---|---|---|---|")
    for t, a16, a32, b, bp, ratio, self_ratio, mfu16, mfu32 in rows:
        print(f"| {t} | {a16:.0f} | {a32:.0f} | {b:.0f} ({bp}) | {ratio:.2f}x | {self_ratio:.2f}x | {100*mfu16:.0f}% "
              f"| {100*mfu32:.0f}% |")
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
if r("dec_small_proact1.json"):
    dec = {"src_tokens": r("dec_small_proact1.json")["src_tokens"], "decoded": r("dec_small_proact1.json")["decoded"],
           "core": r("dec_small_proact1.json")["core"], "models": {}}
    print("| model | params | threads | proact tok/s | PyTorch tok/s (best) | ratio | same greedy tokens "
          "| weight gemv ms/token proact / PyTorch | ms/token proact / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("tiny", "small", "base"):
        entry = {"params": r(f"dec_{name}_proact1.json")["params"]}
        for t in (1, 2):
            p = r(f"dec_{name}_proact{t}.json")
            runs = [r(f"dec_{name}_torch{t}_{mv}.json") for mv in ("mv", "linear")]
            best = max(runs, key=lambda x: x["tokens_per_s"])
            a, b = p.pop("tokens"), best["tokens"]
            prefix = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            same32 = sum(x == y for x, y in zip(a[:32], b[:32]))
            for x in runs:
                x.pop("tokens")
            if same32 != min(32, len(a)):
                sys.exit(f"decode {name}, threads {t}: proact and PyTorch disagree on the greedy tokens "
                         f"(first difference at token {prefix})")
            entry[f"threads{t}"] = {"proact": p, "pytorch_best": best, "pytorch_runs": runs,
                                   "ratio": p["tokens_per_s"] / best["tokens_per_s"], "same_first32": same32,
                                   "same_prefix": prefix, "same_total": sum(x == y for x, y in zip(a, b))}
            print(f"| {name} | {entry['params'] / 1e6:.2f}M | {t} | {p['tokens_per_s']:.0f} | {best['tokens_per_s']:.0f} "
                  f"({best['matvec']}) | {p['tokens_per_s'] / best['tokens_per_s']:.2f}x | {prefix}/{len(a)} "
                  f"| {p['gemv_ms_per_token']:.3f} / {best['gemv_ms_per_token']:.3f} "
                  f"| {p['ms_per_token']:.3f} / {best['ms_per_token']:.3f} |")
        dec["models"][name] = entry
    heads = {"tiny": r("heads_tiny.json"), "small": r("heads_small.json")}
    dec["heads"] = heads
    if r("readbw.json"):  # weight precision: tok/s and the bytes streamed, against one core's read bandwidth
        bw = r("readbw.json")["read_gb_s"]
        prec = {"read_gb_s_1core": bw, "models": {}}
        print(f"one core's read bandwidth: {bw:.1f} GB/s (sum over 1 GB)")
        print("| model | weights | threads | tok/s | vs fp32 | MB of weights per token | weight GB/s over the token "
              "| products alone GB/s | products of 1-core read bw | same greedy tokens as fp32 |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name in ("small", "base"):
            entry = {}
            for t in (1, 2):
                f32 = r(f"dec_{name}_proact{t}.json")
                for w in ("fp32", "bf16", "int8"):
                    p = f32 if w == "fp32" else r(f"dec_{name}_{w}{t}.json")
                    same = sum(x == y for x, y in zip(p["tokens"], f32["tokens"]))
                    row = {k: p[k] for k in ("tokens_per_s", "ms_per_token", "gemv_ms_per_token", "weight_bytes_per_token",
                                             "weight_gb_s", "gemv_gb_s", "gemv_kernels")}
                    row.update({"vs_fp32": p["tokens_per_s"] / f32["tokens_per_s"], "gemv_of_read_bw": p["gemv_gb_s"] / bw,
                                "same_tokens_as_fp32": same, "tokens": len(f32["tokens"])})
                    entry.setdefault(w, {})[f"threads{t}"] = row
                    print(f"| {name} | {w} | {t} | {row['tokens_per_s']:.0f} | {row['vs_fp32']:.2f}x "
                          f"| {row['weight_bytes_per_token'] / 1e6:.1f} | {row['weight_gb_s']:.1f} | {row['gemv_gb_s']:.1f} "
                          f"| {row['gemv_of_read_bw']:.2f} | {same}/{len(f32['tokens'])} |")
            prec["models"][name] = entry
        dec["weights"] = prec
        res["decode_int8_vs_fp32"] = prec["models"]["base"]["int8"]["threads1"]["vs_fp32"]
        res["decode_gemv_vs_read_bw"] = prec["models"]["base"]["bf16"]["threads1"]["gemv_of_read_bw"]
    if r("dec_base_llama_bf161.json"):  # llama.cpp on the GGUF export of the same weights
        print("| model | threads | proact bf16 tok/s | llama.cpp bf16 tok/s | ratio | proact int8 tok/s "
              "| llama.cpp q8_0 tok/s | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        llama = {}
        for name in ("small", "base"):
            for t in (1, 2):
                p16, p8 = r(f"dec_{name}_bf16{t}.json"), r(f"dec_{name}_int8{t}.json")
                l16, l8 = r(f"dec_{name}_llama_bf16{t}.json"), r(f"dec_{name}_llama_q8_0{t}.json")
                for x in (l16, l8):
                    x.pop("tokens", None)
                llama[f"{name}_threads{t}"] = {"llama_bf16": l16, "llama_q8_0": l8,
                                               "bf16_ratio": p16["tokens_per_s"] / l16["tokens_per_s"],
                                               "int8_vs_q8_0_ratio": p8["tokens_per_s"] / l8["tokens_per_s"]}
                print(f"| {name} | {t} | {p16['tokens_per_s']:.0f} | {l16['tokens_per_s']:.0f} "
                      f"| {p16['tokens_per_s'] / l16['tokens_per_s']:.2f}x | {p8['tokens_per_s']:.0f} "
                      f"| {l8['tokens_per_s']:.0f} | {p8['tokens_per_s'] / l8['tokens_per_s']:.2f}x |")
        dec["llamacpp"] = llama
        res["decode_vs_llamacpp"] = llama["base_threads1"]["bf16_ratio"]
        res["decode_int8_vs_llamacpp_q8_0"] = llama["base_threads1"]["int8_vs_q8_0_ratio"]
    res["decode"] = dec
    res["decode_vs_pytorch"] = dec["models"]["small"]["threads1"]["ratio"]
    res["decode_vs_pytorch_by_model"] = {n: {f"threads{t}": dec["models"][n][f"threads{t}"]["ratio"] for t in (1, 2)}
                                         for n in dec["models"]}
    res["decode_tokens_per_s"] = {n: {f"threads{t}": {"proact": dec["models"][n][f"threads{t}"]["proact"]["tokens_per_s"],
                                                      "pytorch": dec["models"][n][f"threads{t}"]["pytorch_best"]["tokens_per_s"]}
                                      for t in (1, 2)} for n in dec["models"]}
    # head overhead: the cue computation measured directly (cue_us_per_decision x decisions) over the
    # rest of the runner's time; the worst cue head on each model
    for name, h in heads.items():
        waitk = next(x for x in h["heads"] if x["head"].startswith("waitk"))
        pinned = [x for x in h["heads"] if x["uses_cues"] and "/min-lag=3/max-lag=3" in x["head"]]
        same = all((x["words"], x["tokens_decoded"], x["tokens_encoded"]) ==
                   (waitk["words"], waitk["tokens_decoded"], waitk["tokens_encoded"]) for x in pinned)
        e2e = max(x["seconds"] for x in pinned) / waitk["seconds"] - 1
        frac = max(x["cue_fraction"] for x in h["heads"] if x["uses_cues"])
        h["summary"] = {"cue_fraction_worst": frac, "end_to_end_pinned_vs_waitk": e2e, "same_work": same}
        print(f"heads on {name} (d={h['d']}, vocab {h['vocab']}): cue computation {frac * 100:.1f}% of the rest "
              f"of the runner's time (worst head, {max(x['cue_us_per_decision'] for x in pinned):.1f} us per "
              f"decision); end to end, cue heads pinned to waitk:3's decisions vs waitk:3: {e2e * 100:+.1f}% "
              f"(same work: {same}); waitk:3 {waitk['ms_per_word']:.3f} ms per word")
    res["head_overhead"] = heads["tiny"]["summary"]["cue_fraction_worst"]
    res["head_overhead_small"] = heads["small"]["summary"]["cue_fraction_worst"]
if r("comm.json"):
    res["comm"] = r("comm.json")
    res["step_by_model"] = {}
    for m in ("small", "base", "qwen2-0.5b"):
        st = r(f"step_{m}.json")
        res["step_by_model"][m] = {"params": st["params"], "step_s": st["step_ms"] / 1e3, "gflops": st["gflops"],
                                   "tokens": round(st["tokens_per_s"] * st["step_ms"] / 1e3),
                                   "seq_len": {"small": 128, "base": 256, "qwen2-0.5b": 256}[m]}
json.dump(res, open("bench/results.json", "w"), indent=2)
print(f"machine: {res['machine']}; {res['date']}")
PY

if [ "$ONLY" = all ] || [ "$ONLY" = scaling ]; then
  echo "== the scaling model (docs/scaling.md)" >&2
  $PY bench/scaling.py --update
fi
$PY bench/summary.py bench/results.json docs/performance.md
