#!/usr/bin/python3
"""bench_step.py — the PyTorch side of the training-step benchmark.

Times forward + backward + global-norm clipping + AdamW of the PyTorch twin
(tests/reference/twin.py) on a batch of plain causal sequences, with the same shapes as
proact's bench_step, and prints one JSON line on stdout:
    {"tokens_per_s": ..., "step_ms": ..., ...}

    /usr/bin/python3 bench/bench_step.py --vocab 8192 --d 512 --layers 8 --heads 8 \\
        --kv-heads 4 --ff 1408 --batch 8 --seq 256 --steps 5 --threads 1

Attention is the twin's masked-matmul path (scores [B, nh, T, T] plus an additive causal
mask, then softmax): torch 1.13 has no fused scaled_dot_product_attention, and this is
also what proact computes. float32 throughout, or with --autocast bf16 the forward and loss
under torch.autocast (PyTorch's own mixed precision: bf16 matmuls on oneDNN).
"""

import argparse
import json
import os
import sys
import time


def _pin_blas_threads():
    # torch.set_num_threads only limits OpenMP: the OpenBLAS that torch calls for matmuls
    # keeps its own thread pool, sized at load time. Pin it BEFORE importing torch, or a
    # "1 thread" run quietly uses every core.
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
            break
        if arg.startswith("--threads="):
            n = arg.split("=", 1)[1]
            break
    else:
        n = "1"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
    # --omp-threads K: torch's own (OpenMP) threads, when they should differ from BLAS's
    for i, arg in enumerate(sys.argv):
        if arg == "--omp-threads" and i + 1 < len(sys.argv):
            os.environ["OMP_NUM_THREADS"] = sys.argv[i + 1]


_pin_blas_threads()
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import twin  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description="PyTorch twin training-step benchmark")
    ap.add_argument("--arch", default="llama", choices=["llama", "qwen2"])
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--d", type=int, default=512, help="hidden size")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=0, help="default: d / heads")
    ap.add_argument("--ff", type=int, default=1408, help="intermediate (SwiGLU) size")
    ap.add_argument("--tied", type=int, default=1, choices=[0, 1], help="tie lm_head to the embedding")
    ap.add_argument("--batch", type=int, default=8, help="sequences per step")
    ap.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=1, help="BLAS and torch intra-op threads")
    ap.add_argument("--omp-threads", type=int, default=0, help="torch intra-op threads if not --threads")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--autocast", choices=["off", "bf16"], default="off",
                    help="bf16: forward and loss under torch.autocast('cpu', dtype=torch.bfloat16) "
                         "(oneDNN bf16 matmuls; fp32 weights, gradients and AdamW)")
    return ap.parse_args()


def main():
    a = parse_args()
    torch.set_num_threads(a.omp_threads or a.threads)
    torch.manual_seed(a.seed)
    hd = a.head_dim or a.d // a.heads
    arch = "LlamaForCausalLM" if a.arch == "llama" else "Qwen2ForCausalLM"
    cfg = twin.make_config(arch, vocab_size=a.vocab, hidden_size=a.d, num_hidden_layers=a.layers,
                           num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, head_dim=hd,
                           intermediate_size=a.ff, rope_theta=10000.0, rms_norm_eps=1e-6,
                           tie_word_embeddings=bool(a.tied), max_position_embeddings=max(a.seq, 1))
    model = twin.TwinModel(cfg)
    gen = torch.Generator().manual_seed(a.seed)
    twin.init_random(model, gen, std=0.02)

    layout = twin.Layout.causal([a.seq] * a.batch)
    n = layout.n_rows
    tokens = torch.randint(0, a.vocab, (n,), generator=gen)
    targets = torch.randint(0, a.vocab, (n,), generator=gen)
    opt = torch.optim.AdamW(twin.param_groups(model, a.weight_decay), lr=a.lr, betas=(0.9, 0.95),
                            eps=1e-8, foreach=False)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            loss = twin.cross_entropy(model(tokens, layout).float(), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    out = {
        "tokens_per_s": n * a.steps / total,
        "step_ms": 1000.0 * total / a.steps,
        "step_ms_min": 1000.0 * min(times),
        "tokens_per_step": n,
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.parameters()),
        "loss": loss,
        "impl": f"pytorch {torch.__version__}",
        "precision": "autocast bf16" if a.autocast == "bf16" else "fp32",
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
