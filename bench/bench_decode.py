#!/usr/bin/python3
"""bench_decode.py — the PyTorch side of the streaming-decode benchmark.

An incremental (KV-cache) greedy decoder over the PyTorch twin's weights
(tests/reference/twin.py), with the group positions of proact's streaming runner:
  * the source ids are encoded once, in one forward over all S rows (positions 0..S-1, causal);
  * then target tokens are decoded one at a time at positions phi+0, phi+1, ...; each sees the
    whole source cache plus the target cache (causal), and the argmax of its logits is the next
    token fed.
This is what bench/bench_decode.c does with decode_forward(DECODE_SOURCE) once and then
decode_forward(DECODE_TARGET, vis_src = S, want_last = 1) per token.

    /usr/bin/python3 bench/bench_decode.py --model DIR --src-ids 5,17,... --first 3 \\
        --tokens 128 --threads 1 [--phi 0] [--repeat 3] [--check]

Prints one JSON line: tokens/s of the per-token decode loop (warm-up excluded; the source
encode is timed separately), the decoded token ids, which bench.sh compares with proact's, and
gemv_ms_per_token: the weight products of one token timed alone (the profile).

The decoder is written the way a careful PyTorch user would write it, not slowed down:
torch.no_grad(), float32, preallocated caches ([layers, kv_heads, S+T, head_dim], source
first, so the keys of a step are one contiguous slice), q/k/v and gate/up fused into one
matrix each (proact fuses them too), one-row products as BLAS gemv (--matvec mv; F.linear,
which nn.Linear uses, is timed too with --matvec linear: it is ~5x slower per product here), RoPE tables computed once, grouped-query attention by a
batched matmul over the key/value heads (no repeat_interleave), logits of the last row only.
--check verifies the incremental logits against the twin's full forward on the packed
training layout (target rows see the whole source: vis_prefix = S, blk_start = S).
"""

import argparse
import json
import math
import os
import sys
import time


def _pin_threads():
    # torch.set_num_threads only limits OpenMP; torch's OpenBLAS sizes its own pool at load
    # time from OPENBLAS_NUM_THREADS. Set both BEFORE importing torch (see bench_step.py).
    n, omp = "1", None
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif arg.startswith("--threads="):
            n = arg.split("=", 1)[1]
        elif arg == "--omp-threads" and i + 1 < len(sys.argv):
            omp = sys.argv[i + 1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = n
    if omp:
        os.environ["OMP_NUM_THREADS"] = omp


_pin_threads()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import twin  # noqa: E402


def parse_ids(s):
    return [int(x) for x in s.replace(",", " ").split()]


def parse_args():
    ap = argparse.ArgumentParser(description="PyTorch twin incremental-decode benchmark")
    ap.add_argument("--model", required=True, help="Hugging Face model directory (config.json + model.safetensors)")
    ap.add_argument("--src-ids", required=True, help="source token ids, comma-separated (or @FILE)")
    ap.add_argument("--first", type=int, required=True, help="the first target token fed (e.g. tgt_begin)")
    ap.add_argument("--tokens", type=int, default=128, help="target tokens decoded per pass")
    ap.add_argument("--phi", type=int, default=0, help="position of the first target token")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes (the mean is reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed passes first")
    ap.add_argument("--threads", type=int, default=1, help="BLAS and torch intra-op threads")
    ap.add_argument("--omp-threads", type=int, default=0, help="torch intra-op threads if not --threads")
    ap.add_argument("--matvec", default="mv", choices=["mv", "linear"],
                    help="single-row products: torch.addmv (BLAS gemv) or F.linear (what nn.Linear does)")
    ap.add_argument("--check", action="store_true", help="check the incremental logits against the full forward")
    return ap.parse_args()


class IncrementalDecoder:
    """Greedy decoding with one KV cache per layer: source rows first, target rows after."""

    def __init__(self, model, cap, matvec="mv"):
        dm = model.dims
        self.matvec = matvec
        self.dm = dm
        self.cap = cap
        self.scale = 1.0 / math.sqrt(dm.hd)
        self.rep = dm.nh // dm.nkv
        self.embed = model.model.embed_tokens.weight
        self.layers = []
        for layer in model.model.layers:
            a, m = layer.self_attn, layer.mlp
            wqkv = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).contiguous()
            bqkv = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]).contiguous() if dm.qkv_bias else None
            wgu = torch.cat([m.gate_proj.weight, m.up_proj.weight]).contiguous()
            self.layers.append((layer.input_layernorm.weight, wqkv, bqkv, a.o_proj.weight,
                                layer.post_attention_layernorm.weight, wgu, m.down_proj.weight))
        self.norm = model.model.norm.weight
        self.lm = model.lm_weight()
        self.k = torch.zeros(dm.L, dm.nkv, cap, dm.hd)
        self.v = torch.zeros(dm.L, dm.nkv, cap, dm.hd)
        self.src_len = 0
        self.len = 0  # rows in the cache (source, then target)

    def rope_tables(self, max_pos):
        cos, sin = twin.rope_cos_sin(np.arange(max_pos), self.dm.hd, self.dm.theta, torch.float32)
        self.cos, self.sin = cos, sin

    def lin(self, x, w, b=None):
        # One row: F.linear goes through addmm (a sgemm with M = 1), which torch 1.13 on OpenBLAS
        # runs about 5x slower than a gemv; --matvec mv uses the gemv.
        if self.matvec == "mv" and x.shape[0] == 1:
            return (torch.mv(w, x[0]) if b is None else torch.addmv(b, w, x[0])).unsqueeze(0)
        return F.linear(x, w, b)

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.dm.eps) * w

    def rope(self, x, cos, sin):  # x [n, heads, hd]; cos/sin [n, hd]
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
        return x * cos[:, None, :] + rot * sin[:, None, :]

    def rows(self, tokens, pos, causal):
        """Appends len(tokens) rows at positions pos; returns the logits of the last row.
        causal: mask among the new rows (the source encode); a single target row sees every
        cached key, so it needs no mask."""
        dm = self.dm
        n = len(tokens)
        start = self.len
        end = start + n
        cos, sin = self.cos[pos], self.sin[pos]
        x = F.embedding(tokens, self.embed)
        mask = None
        if causal and n > 1:
            mask = torch.full((n, end), float("-inf")).triu(start + 1)
        q_dim, kv_dim = dm.nh * dm.hd, dm.nkv * dm.hd
        for li, (ln1, wqkv, bqkv, wo, ln2, wgu, wdown) in enumerate(self.layers):
            qkv = self.lin(self.rms(x, ln1), wqkv, bqkv)
            q = self.rope(qkv[:, :q_dim].view(n, dm.nh, dm.hd), cos, sin)
            k = self.rope(qkv[:, q_dim:q_dim + kv_dim].view(n, dm.nkv, dm.hd), cos, sin)
            v = qkv[:, q_dim + kv_dim:].view(n, dm.nkv, dm.hd)
            self.k[li, :, start:end] = k.transpose(0, 1)
            self.v[li, :, start:end] = v.transpose(0, 1)
            keys, vals = self.k[li, :, :end], self.v[li, :, :end]          # [nkv, end, hd]
            # query head h uses kv head h // rep: group the queries by kv head
            qg = q.view(n, dm.nkv, self.rep, dm.hd).permute(1, 2, 0, 3).reshape(dm.nkv, self.rep * n, dm.hd)
            scores = torch.matmul(qg, keys.transpose(1, 2)) * self.scale   # [nkv, rep*n, end]
            if mask is not None:
                scores = scores.view(dm.nkv, self.rep, n, end) + mask
                scores = scores.view(dm.nkv, self.rep * n, end)
            o = torch.matmul(torch.softmax(scores, dim=-1), vals)          # [nkv, rep*n, hd]
            o = o.view(dm.nkv, self.rep, n, dm.hd).permute(2, 0, 1, 3).reshape(n, q_dim)
            x = x + self.lin(o, wo)
            gu = self.lin(self.rms(x, ln2), wgu)
            g, u = gu.chunk(2, dim=-1)
            x = x + self.lin(F.silu(g) * u, wdown)
        self.len = end
        return self.lin(self.rms(x[-1:], self.norm), self.lm)[0]

    def encode_source(self, src):
        self.len = 0
        self.rows(torch.tensor(src, dtype=torch.long), torch.arange(len(src)), causal=True)
        self.src_len = self.len

    def decode(self, first, n_tokens, phi):
        """Greedy: feed `first`, then each argmax; returns the n_tokens predicted ids."""
        self.len = self.src_len  # drop the target cache
        out, tok = [], first
        for i in range(n_tokens):
            logits = self.rows(torch.tensor([tok], dtype=torch.long), torch.tensor([phi + i]), causal=False)
            tok = int(torch.argmax(logits))
            out.append(tok)
        return out


def check_against_full_forward(model, dec, src, first, toks, phi, n_check=8):
    """The last row's logits of the incremental decoder equal those of the twin's full forward
    over the training layout [source | target], target rows with vis_prefix = blk_start = S."""
    S = len(src)
    tgt = [first] + toks[:n_check - 1]
    T = len(tgt)
    layout = twin.Layout([0, S + T], list(range(S)) + [phi + i for i in range(T)],
                         [0] * S + [S] * T, [0] * S + [S] * T)
    full = model(src + tgt, layout)
    dec.len = dec.src_len
    worst = 0.0
    for i, t in enumerate(tgt):
        logits = dec.rows(torch.tensor([t]), torch.tensor([phi + i]), causal=False)
        ref = full[S + i]
        worst = max(worst, float((logits - ref).abs().max() / ref.abs().max()))
    return worst


def main():
    a = parse_args()
    torch.set_num_threads(a.omp_threads or a.threads)
    src_text = open(a.src_ids[1:]).read() if a.src_ids.startswith("@") else a.src_ids
    src = parse_ids(src_text)
    with torch.no_grad():
        model = twin.load_hf_dir(a.model, torch.float32)
        model.eval()
        dm = model.dims
        bad = [t for t in src + [a.first] if not 0 <= t < dm.V]
        if bad:
            sys.exit(f"bench_decode.py: token id {bad[0]} outside the vocabulary (0..{dm.V - 1})")
        dec = IncrementalDecoder(model, len(src) + a.tokens + 1, a.matvec)
        dec.rope_tables(max(len(src), a.phi + a.tokens + 1))

        t0 = time.perf_counter()
        dec.encode_source(src)
        encode_s = time.perf_counter() - t0

        for _ in range(a.warmup):
            toks = dec.decode(a.first, a.tokens, a.phi)
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            toks = dec.decode(a.first, a.tokens, a.phi)
            times.append(time.perf_counter() - t0)
        check = check_against_full_forward(model, dec, src, a.first, toks, a.phi) if a.check else None

        # profile: the weight products of one token alone (what dec.lin does for one row)
        x = {n: torch.full((n,), 0.01) for n in {dm.d, dm.nh * dm.hd, dm.f}}
        t0 = time.perf_counter()
        for _ in range(a.repeat * a.tokens):
            for (_, wqkv, bqkv, wo, _, wgu, wdown) in dec.layers:
                dec.lin(x[dm.d][None], wqkv, bqkv)
                dec.lin(x[dm.nh * dm.hd][None], wo)
                dec.lin(x[dm.d][None], wgu)
                dec.lin(x[dm.f][None], wdown)
            dec.lin(x[dm.d][None], dec.lm)
        gemv_s = (time.perf_counter() - t0) / (a.repeat * a.tokens)

    total = sum(times)
    out = {
        "impl": f"pytorch {torch.__version__}",
        "threads": a.threads,
        "omp_threads": torch.get_num_threads(),
        "matvec": a.matvec,
        "params": sum(p.numel() for p in model.parameters()),
        "src_tokens": len(src),
        "decoded": a.tokens,
        "tokens_per_s": a.tokens * a.repeat / total,
        "ms_per_token": 1e3 * total / (a.tokens * a.repeat),
        "ms_per_token_best_pass": 1e3 * min(times) / a.tokens,
        "encode_ms": 1e3 * encode_s,
        "gemv_ms_per_token": 1e3 * gemv_s,
        "tokens": toks,
    }
    if check is not None:
        out["check_max_rel_err"] = check
    print(json.dumps(out))


if __name__ == "__main__":
    main()
