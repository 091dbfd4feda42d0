#!/usr/bin/env python3
"""Writes the summary of bench/results.json into docs/performance.md, between the lines
'<!-- bench.sh summary: begin -->' and '<!-- bench.sh summary: end -->' (scripts/bench.sh runs it):
the machine, the OpenBLAS core, the date, and every ratio against its peer."""
import json
import sys

BEGIN, END = "<!-- bench.sh summary: begin -->", "<!-- bench.sh summary: end -->"
RATIOS = [  # key, what it compares, how to read it
    ("train_step_vs_pytorch", "training step (base, 1 thread): proact bf16 tok/s ÷ the best PyTorch twin tok/s "
     "(fp32 or autocast bf16)", "> 1: proact faster"),
    ("train_step_vs_pytorch_2threads", "the same on 2 threads", "> 1: proact faster"),
    ("bf16_vs_fp32_step", "proact bf16 step tok/s ÷ proact fp32 step tok/s (base, 1 thread)", "> 1: bf16 faster"),
    ("mfu_vs_bf16_peak", "bf16 training step model FLOP/s ÷ oneDNN bf16 matmul peak (1 thread)", "share of the peak"),
    ("mfu_vs_sgemm_peak", "fp32 training step model FLOP/s ÷ OpenBLAS sgemm peak (1 thread)", "share of the peak"),
    ("spsd_overhead", "SPSD step time ÷ plain causal step time on the same pairs", "cost of the teacher copy"),
    ("weak_scaling_2ranks", "2-rank tok/s ÷ (2 × 1-rank tok/s)", "1 = perfect"),
    ("allreduce_hidden_fraction", "share of the gradient allreduce hidden behind backward", "1 = all hidden"),
    ("ckpt_write_vs_dd", "parallel HDF5 checkpoint write GB/s ÷ dd GB/s (2 ranks)", "1 = disk speed"),
    ("ckpt_read_vs_dd", "checkpoint read GB/s ÷ dd GB/s (2 ranks)", "1 = disk speed"),
    ("tokenizer_vs_hf", "tokenizer MB/s ÷ @huggingface/tokenizers MB/s (identical ids)", "> 1: proact faster"),
    ("decode_vs_llamacpp", "greedy decode tok/s (base, 1 thread, bf16 weights) ÷ llama.cpp on the bf16 GGUF export",
     "> 1: proact faster"),
    ("decode_int8_vs_llamacpp_q8_0", "the same with proact int8 weights ÷ llama.cpp q8_0", "> 1: proact faster"),
    ("decode_vs_pytorch", "greedy decode tok/s (small, 1 thread) ÷ PyTorch with KV cache", "> 1: proact faster"),
    ("decode_int8_vs_fp32", "greedy decode tok/s with int8 weights ÷ fp32 weights (base, 1 thread)", "> 1: int8 faster"),
    ("decode_gemv_vs_read_bw", "bf16 weight products GB/s ÷ one core's read GB/s (base, 1 thread)", "1 = memory speed"),
]


def main():
    res_path, doc_path = sys.argv[1], sys.argv[2]
    res = json.load(open(res_path))
    lines = [BEGIN, "",
             f"Last `scripts/bench.sh` run: {res.get('date', '?')} on {res.get('machine', '?')}, OpenBLAS core "
             f"`{res.get('openblas_core', '?')}`. Every ratio is proact against its peer measured in the same run "
             "(`bench/results.json`).", "",
             "| ratio | value | compares | reads |", "|---|---|---|---|"]
    for key, what, how in RATIOS:
        v = res.get(key)
        lines.append(f"| `{key}` | {'-' if v is None else f'{v:.2f}'} | {what} | {how} |")
    lines += ["", END]
    doc = open(doc_path).read()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + "\n".join(lines) + rest.split(END, 1)[1]
    else:  # first time: after the opening paragraph
        title, _, body = doc.partition("\n\n")
        para, _, tail = body.partition("\n\n")
        doc = f"{title}\n\n{para}\n\n" + "\n".join(lines) + f"\n\n{tail}"
    open(doc_path, "w").write(doc)


if __name__ == "__main__":
    main()
