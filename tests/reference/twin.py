"""twin.py — the PyTorch twin of proact's C model, optimizer and file formats.

The C code in src/ computes a Llama/Qwen2-style decoder with hand-written forward and
backward passes. This module computes the same function with PyTorch autograd, so the
reference tests can check the C logits, gradients and AdamW trajectory against it.

It is written from the model description (not from Hugging Face `transformers`, which is
not installed), but follows Hugging Face's conventions exactly:
  * parameter names are Hugging Face's (model.layers.3.self_attn.q_proj.weight, ...);
  * RMSNorm is  x * rsqrt(mean(x^2, -1) + eps) * weight;
  * RoPE uses the rotate-half convention, with inv_freq, angles, cos and sin computed in
    float32 (as HF does) and only then cast to the compute dtype;
  * grouped-query attention maps query head h to key/value head h // (nh / nkv);
  * the MLP is down(silu(gate(x)) * up(x)).

Unlike HF the attention takes an explicit packed layout (see `Layout`): several sequences
back to back in N rows, each row with its own visibility rule and RoPE position.

The model works in any float dtype. make_reference.py runs it in float64 on weights that
are exactly representable in float32 (or bfloat16), so the stored references are the
exact answer for those weights to ~1e-12 and the test tolerances measure only the error
of the C float32 arithmetic.

Safetensors I/O is pure Python (struct + json + numpy) because torch 1.13 has neither the
safetensors package nor bfloat16 <-> numpy conversion; bfloat16 is handled as uint16 bits.

Requires torch (1.13 is enough) and numpy. Debian's /usr/bin/python3 has both.
"""

import json
import math
import os
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHES = ("LlamaForCausalLM", "Qwen2ForCausalLM")


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

def make_config(arch, vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
                num_key_value_heads, head_dim, intermediate_size, rope_theta, rms_norm_eps,
                tie_word_embeddings, max_position_embeddings=4096, attention_bias=False):
    """A config dict in Hugging Face config.json form for one of ARCHES.

    Qwen2 always has q/k/v biases (and no `attention_bias` key, as in HF). For Llama,
    `attention_bias` in HF means biases on q, k, v AND o; proact only models q/k/v
    biases, so the twin (and, we expect, proact's loader) rejects attention_bias=true.
    """
    if arch not in ARCHES:
        raise ValueError(f"unsupported architecture {arch!r}")
    cfg = {
        "architectures": [arch],
        "model_type": "qwen2" if arch == "Qwen2ForCausalLM" else "llama",
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "num_key_value_heads": num_key_value_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": max_position_embeddings,
        "rope_theta": float(rope_theta),
        "rms_norm_eps": float(rms_norm_eps),
        "tie_word_embeddings": bool(tie_word_embeddings),
        "torch_dtype": "float32",
    }
    if arch == "LlamaForCausalLM":
        cfg["attention_bias"] = bool(attention_bias)
        cfg["mlp_bias"] = False
    return cfg


@dataclass
class Dims:
    """The shape fields of a config, with HF defaults applied."""
    arch: str
    V: int
    d: int
    L: int
    nh: int
    nkv: int
    hd: int
    f: int
    theta: float
    eps: float
    tied: bool
    qkv_bias: bool

    @staticmethod
    def from_config(cfg):
        arch = cfg["architectures"][0]
        if arch not in ARCHES:
            raise ValueError(f"unsupported architecture {arch!r}")
        nh = cfg["num_attention_heads"]
        d = cfg["hidden_size"]
        if arch == "Qwen2ForCausalLM":
            qkv_bias = True
        else:
            if cfg.get("attention_bias", False):
                raise ValueError("Llama attention_bias=true also biases o_proj; not modelled")
            if cfg.get("mlp_bias", False):
                raise ValueError("Llama mlp_bias=true is not modelled")
            qkv_bias = False
        nkv = cfg.get("num_key_value_heads", nh)
        hd = cfg.get("head_dim") or d // nh
        if nh % nkv != 0:
            raise ValueError("num_key_value_heads must divide num_attention_heads")
        if hd % 2 != 0:
            raise ValueError("head_dim must be even for RoPE")
        return Dims(arch=arch, V=cfg["vocab_size"], d=d, L=cfg["num_hidden_layers"], nh=nh,
                    nkv=nkv, hd=hd, f=cfg["intermediate_size"],
                    theta=float(cfg.get("rope_theta", 10000.0)),
                    eps=float(cfg.get("rms_norm_eps", 1e-6)),
                    tied=bool(cfg.get("tie_word_embeddings", False)), qkv_bias=qkv_bias)


# --------------------------------------------------------------------------------------
# Packed attention layout (mirror of AttnLayout in src/model/model.h)
# --------------------------------------------------------------------------------------

class Layout:
    """Sequences packed back to back in N rows; sequence s owns rows
    seq_start[s] .. seq_start[s+1]-1. A row at relative index t of its sequence sees the
    key at relative index j of the SAME sequence iff
        j < vis_prefix[row]   or   blk_start[row] <= j <= t.
    pos[row] is the RoPE position id. All arrays are int32 numpy arrays. Treat a Layout
    as immutable: the model caches its attention masks on it."""

    def __init__(self, seq_start, pos, vis_prefix, blk_start):
        self.seq_start = np.asarray(seq_start, dtype=np.int32)
        self.pos = np.asarray(pos, dtype=np.int32)
        self.vis_prefix = np.asarray(vis_prefix, dtype=np.int32)
        self.blk_start = np.asarray(blk_start, dtype=np.int32)
        self.validate()

    @property
    def n_rows(self):
        return int(self.seq_start[-1])

    @property
    def n_seqs(self):
        return len(self.seq_start) - 1

    def lengths(self):
        return np.diff(self.seq_start)

    def rel_index(self):
        """Relative index t of each row inside its sequence."""
        starts = np.repeat(self.seq_start[:-1], self.lengths())
        return np.arange(self.n_rows, dtype=np.int64) - starts

    def validate(self):
        ss = self.seq_start
        if ss.ndim != 1 or len(ss) < 2 or ss[0] != 0 or np.any(np.diff(ss) <= 0):
            raise ValueError("seq_start must start at 0 and increase strictly")
        n = self.n_rows
        for name in ("pos", "vis_prefix", "blk_start"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have {n} entries")
        t = self.rel_index()
        if np.any(self.blk_start < 0) or np.any(self.blk_start > t):
            raise ValueError("blk_start must be in 0..t so that every row sees itself")
        if np.any(self.vis_prefix < 0) or np.any(self.pos < 0):
            raise ValueError("vis_prefix and pos must be >= 0")

    @staticmethod
    def causal(lengths, pos_offsets=None):
        """Plain causal sequences (vis_prefix 0, blk_start 0), positions offset..offset+len-1."""
        lengths = list(lengths)
        if pos_offsets is None:
            pos_offsets = [0] * len(lengths)
        seq_start = np.concatenate([[0], np.cumsum(lengths)])
        pos = np.concatenate([np.arange(n) + o for n, o in zip(lengths, pos_offsets)])
        n = int(seq_start[-1])
        return Layout(seq_start, pos, np.zeros(n), np.zeros(n))

    @staticmethod
    def concat(layouts):
        """Packs several layouts one after the other."""
        seq_start, off = [0], 0
        for lay in layouts:
            seq_start.extend((lay.seq_start[1:] + off).tolist())
            off += lay.n_rows
        return Layout(seq_start, np.concatenate([x.pos for x in layouts]),
                      np.concatenate([x.vis_prefix for x in layouts]),
                      np.concatenate([x.blk_start for x in layouts]))


def dense_mask(layout):
    """Dense [N, N] boolean visibility: mask[r, c] is True iff row r may attend to row c."""
    n = layout.n_rows
    seq_of_row = np.repeat(np.arange(layout.n_seqs), layout.lengths())
    t = layout.rel_index()
    same_seq = seq_of_row[:, None] == seq_of_row[None, :]
    j = t[None, :]                 # relative index of the key (column)
    tt = t[:, None]                # relative index of the query (row)
    vis = (j < layout.vis_prefix[:, None].astype(np.int64)) | \
          ((layout.blk_start[:, None].astype(np.int64) <= j) & (j <= tt))
    out = same_seq & vis
    assert out.shape == (n, n)
    return torch.from_numpy(out)


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


def rope_cos_sin(pos, hd, theta, dtype):
    """cos, sin [N, hd] for position ids `pos` (int array), HF's computation: inv_freq,
    angles, cos and sin in float32, then cast. The C side computes the angles in float32
    too; doing it in float64 here would move the reference away from it by up to
    ~pos * 6e-8 radians."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    p = torch.as_tensor(np.asarray(pos), dtype=torch.int64).float()
    angles = p[:, None] * inv_freq[None, :]            # [N, hd/2] float32
    emb = torch.cat([angles, angles], dim=-1)          # [N, hd]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    """x [N, heads, hd]; cos/sin [N, hd]."""
    return x * cos[:, None, :] + rotate_half(x) * sin[:, None, :]


class Attention(nn.Module):
    def __init__(self, dm):
        super().__init__()
        self.dm = dm
        self.q_proj = nn.Linear(dm.d, dm.nh * dm.hd, bias=dm.qkv_bias)
        self.k_proj = nn.Linear(dm.d, dm.nkv * dm.hd, bias=dm.qkv_bias)
        self.v_proj = nn.Linear(dm.d, dm.nkv * dm.hd, bias=dm.qkv_bias)
        self.o_proj = nn.Linear(dm.nh * dm.hd, dm.d, bias=False)

    def forward(self, x, cos, sin, groups, probs_out=None):
        """probs_out: a list that receives (rows [B, len], probabilities [B, nh, len, len]) per
        group, or None."""
        dm = self.dm
        n = x.shape[0]
        q = apply_rope(self.q_proj(x).view(n, dm.nh, dm.hd), cos, sin)
        k = apply_rope(self.k_proj(x).view(n, dm.nkv, dm.hd), cos, sin)
        v = self.v_proj(x).view(n, dm.nkv, dm.hd)
        rep = dm.nh // dm.nkv
        out = x.new_zeros(n, dm.nh, dm.hd)
        # Sequences of equal length are batched: rows idx [B, len], additive mask bias
        # [B, 1, len, len] (0 where visible, -inf elsewhere; every row sees itself, so no
        # softmax row is all -inf).
        for idx, bias in groups:
            qb = q[idx].transpose(1, 2)                                   # [B, nh, len, hd]
            kb = k[idx].transpose(1, 2).repeat_interleave(rep, dim=1)     # query head h ->
            vb = v[idx].transpose(1, 2).repeat_interleave(rep, dim=1)     # kv head h // rep
            scores = qb @ kb.transpose(-1, -2) / math.sqrt(dm.hd) + bias
            probs = F.softmax(scores, dim=-1)
            if probs_out is not None:
                probs_out.append((idx, probs))
            ob = (probs @ vb).transpose(1, 2)                             # [B, len, nh, hd]
            out = out.index_copy(0, idx.reshape(-1), ob.reshape(-1, dm.nh, dm.hd))
        return self.o_proj(out.reshape(n, dm.nh * dm.hd))


class MLP(nn.Module):
    def __init__(self, dm):
        super().__init__()
        self.gate_proj = nn.Linear(dm.d, dm.f, bias=False)
        self.up_proj = nn.Linear(dm.d, dm.f, bias=False)
        self.down_proj = nn.Linear(dm.f, dm.d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, dm):
        super().__init__()
        self.input_layernorm = RMSNorm(dm.d, dm.eps)
        self.self_attn = Attention(dm)
        self.post_attention_layernorm = RMSNorm(dm.d, dm.eps)
        self.mlp = MLP(dm)

    def forward(self, x, cos, sin, groups, probs_out=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, groups, probs_out)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """Holds what HF calls `model.` (embed_tokens, layers, norm)."""

    def __init__(self, dm):
        super().__init__()
        self.embed_tokens = nn.Embedding(dm.V, dm.d)
        self.layers = nn.ModuleList([DecoderLayer(dm) for _ in range(dm.L)])
        self.norm = RMSNorm(dm.d, dm.eps)


class TwinModel(nn.Module):
    """Llama/Qwen2 decoder over a packed layout; state_dict names are Hugging Face's.
    With tie_word_embeddings there is no lm_head parameter: logits use embed_tokens."""

    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.dims = Dims.from_config(config)
        self.model = Decoder(self.dims)
        if not self.dims.tied:
            self.lm_head = nn.Linear(self.dims.d, self.dims.V, bias=False)

    @property
    def dtype(self):
        return self.model.embed_tokens.weight.dtype

    def lm_weight(self):
        return self.model.embed_tokens.weight if self.dims.tied else self.lm_head.weight

    def attention_groups(self, layout):
        """[(rows [B, len] long, additive mask [B, 1, len, len])] per distinct length.
        Cached on the layout (per dtype): a training loop reusing one layout, like the
        benchmark, should not pay for rebuilding masks every step."""
        cache = layout.__dict__.setdefault("_groups_cache", {})
        if self.dtype not in cache:
            cache[self.dtype] = self._build_groups(layout)
        return cache[self.dtype]

    def _build_groups(self, layout):
        mask = dense_mask(layout)
        by_len = {}
        for s in range(layout.n_seqs):
            a, b = int(layout.seq_start[s]), int(layout.seq_start[s + 1])
            by_len.setdefault(b - a, []).append(a)
        groups = []
        for ln, starts in by_len.items():
            idx = torch.tensor(starts)[:, None] + torch.arange(ln)[None, :]
            vis = mask[idx[:, :, None], idx[:, None, :]]
            bias = torch.zeros(vis.shape, dtype=self.dtype).masked_fill(~vis, float("-inf"))
            groups.append((idx, bias[:, None]))
        return groups

    def forward(self, tokens, layout, internals=None):
        """tokens [N] (any int array) -> logits [N, V]. With a dict `internals`, also fills
        internals["hidden"] (the final-norm hidden states [N, d]) and internals["probs"] (per
        layer, the attention probabilities as Attention.forward's probs_out lists them)."""
        tokens = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        assert tokens.shape == (layout.n_rows,)
        cos, sin = rope_cos_sin(layout.pos, self.dims.hd, self.dims.theta, self.dtype)
        groups = self.attention_groups(layout)
        x = self.model.embed_tokens(tokens)
        probs = []
        for layer in self.model.layers:
            probs.append([] if internals is not None else None)
            x = layer(x, cos, sin, groups, probs[-1])
        hidden = self.model.norm(x)
        if internals is not None:
            internals["hidden"] = hidden
            internals["probs"] = probs
        return hidden @ self.lm_weight().t()


def init_random(model, generator, std=0.1):
    """Matrices ~ N(0, std); norm weights 1 + 0.1 N(0,1); biases 0.1 N(0,1). The non-unit
    norms and non-zero biases make every parameter matter to the output, so a C bug that
    ignores one (or mixes up two) cannot hide."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith(".bias"):
                p.copy_(0.1 * r)
            else:
                p.copy_(std * r)


def cross_entropy(logits, targets):
    """Mean cross-entropy over rows with target >= 0 (target -1 is ignored):
    sum(-log p[target]) / count."""
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    return F.cross_entropy(logits, targets, ignore_index=-1, reduction="mean")


# --------------------------------------------------------------------------------------
# AdamW, as proact's optim.h specifies it
# --------------------------------------------------------------------------------------

def lr_at_step(h, step):
    """Learning rate of 0-based step `step` (proact's lr_at_step):
        step < warmup:  lr * (step + 1) / warmup
        otherwise:      progress = (step - warmup) / max(1, total - warmup)
                        min_lr   = lr * min_lr_ratio
                        lr_step  = min_lr + 0.5 * (lr - min_lr) * (1 + cos(pi * progress))
    """
    lr, warmup, total = float(h["lr"]), int(h["warmup_steps"]), int(h["total_steps"])
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    min_lr = lr * float(h["min_lr_ratio"])
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def param_groups(model, weight_decay):
    """Weight decay for matrices (2-D), none for norms and biases (1-D)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def adamw_run(model, batch, steps, hparams, grad_norms=None):
    """Runs `steps` AdamW updates on one batch (tokens, targets, layout) and returns the
    per-step losses, each recorded before its update. Each step: zero grads, forward,
    mean cross-entropy, backward, clip_grad_norm_(max_norm=grad_clip) (when > 0), set the
    lr of both groups to lr_at_step(step), optimizer.step(). If `grad_norms` is a list
    the pre-clipping global norm of each step is appended to it. Modifies the model."""
    tokens, targets, layout = batch
    h = hparams
    opt = torch.optim.AdamW(param_groups(model, float(h["weight_decay"])), lr=float(h["lr"]),
                            betas=(float(h["beta1"]), float(h["beta2"])), eps=float(h["eps"]),
                            foreach=False)
    losses = []
    for step in range(steps):
        opt.zero_grad(set_to_none=False)
        loss = cross_entropy(model(tokens, layout), targets)
        losses.append(float(loss))
        loss.backward()
        if float(h["grad_clip"]) > 0:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float(h["grad_clip"]))
        else:
            norm = torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()]))
        if grad_norms is not None:
            grad_norms.append(float(norm))
        for g in opt.param_groups:
            g["lr"] = lr_at_step(h, step)
        opt.step()
    return losses


# --------------------------------------------------------------------------------------
# bfloat16 and safetensors, in numpy
# --------------------------------------------------------------------------------------

def f32_to_bf16_bits(x):
    """float32 array -> uint16 bfloat16 bits, round to nearest even (NaN stays NaN)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    rounded = np.where(nan, (u >> 16) | 0x40, rounded)   # keep sign, force a quiet NaN
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def round_to_bf16(x):
    """float32 array -> float32 array of the nearest bfloat16 values."""
    return bf16_bits_to_f32(f32_to_bf16_bits(x))


_ST_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
              "I32": np.dtype("<i4")}


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> (array, dtype) with dtype "F32", "BF16" (float input, rounded
    to nearest even) or "I32", written in dict order. metadata: dict str -> str."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, (arr, dt) in tensors.items():
        arr = np.asarray(arr)
        if dt == "F32":
            raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        elif dt == "BF16":
            raw = f32_to_bf16_bits(arr.astype(np.float32)).astype("<u2").tobytes()
        elif dt == "I32":
            if arr.size and (arr.min() < -2**31 or arr.max() >= 2**31):
                raise ValueError(f"{name}: value out of int32 range")
            raw = np.ascontiguousarray(arr, dtype="<i4").tobytes()
        else:
            raise ValueError(f"{name}: cannot write dtype {dt}")
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)    # pad so the data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(hjson)))
        fh.write(hjson)
        for raw in blobs:
            fh.write(raw)
    os.replace(tmp, path)


def load_safetensors(path):
    """-> (dict name -> numpy array, metadata dict). F32/BF16/F16 come back as float32,
    I32 as int32."""
    with open(path, "rb") as fh:
        data = fh.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name!r}: unsupported dtype {dt}")
        a, b = info["data_offsets"]
        shape = tuple(info["shape"])
        arr = np.frombuffer(data[base + a:base + b], dtype=_ST_DTYPES[dt])
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name!r}: size does not match shape")
        arr = arr.reshape(shape)
        if dt == "BF16":
            arr = bf16_bits_to_f32(arr)
        elif dt in ("F32", "F16"):
            arr = arr.astype(np.float32)
        else:
            arr = arr.astype(np.int32)
        out[name] = arr
    return out, meta


# --------------------------------------------------------------------------------------
# Hugging Face model directories
# --------------------------------------------------------------------------------------

def round_params_to_bf16(model, names):
    """Rounds the named parameters to bfloat16 values in place (kept in the model dtype),
    so the twin computes on exactly what a BF16 file stores."""
    sd = dict(model.named_parameters())
    with torch.no_grad():
        for n in names:
            p = sd[n]
            r = round_to_bf16(p.detach().float().numpy())
            p.copy_(torch.from_numpy(r).to(p.dtype))


def save_hf_dir(model, directory, bf16_names=()):
    """Writes directory/config.json and directory/model.safetensors; tensors in bf16_names
    are stored as BF16, the rest as F32. Every value must be exactly representable in the
    stored dtype (round_params_to_bf16 first), so the file holds what the twin computes on."""
    os.makedirs(directory, exist_ok=True)
    bf16_names = set(bf16_names)
    sd = model.state_dict()
    unknown = bf16_names - set(sd)
    if unknown:
        raise KeyError(f"bf16_names not in the model: {sorted(unknown)}")
    tensors = {}
    for name, t in sd.items():
        a64 = t.detach().double().numpy()
        a32 = a64.astype(np.float32)
        dt = "BF16" if name in bf16_names else "F32"
        stored = round_to_bf16(a32) if dt == "BF16" else a32
        if not np.array_equal(stored.astype(np.float64), a64):
            raise ValueError(f"{name}: values not exactly representable as {dt}")
        tensors[name] = (a32, dt)
    with open(os.path.join(directory, "config.json"), "w") as fh:
        json.dump(model.config, fh, indent=2)
        fh.write("\n")
    save_safetensors(os.path.join(directory, "model.safetensors"), tensors,
                     metadata={"format": "pt"})


def load_hf_dir(directory, dtype=torch.float32):
    """The inverse of save_hf_dir (single-file checkpoints only)."""
    with open(os.path.join(directory, "config.json")) as fh:
        config = json.load(fh)
    model = TwinModel(config).to(dtype)
    tensors, _ = load_safetensors(os.path.join(directory, "model.safetensors"))
    sd = {k: torch.from_numpy(np.array(v)).to(dtype) for k, v in tensors.items()}
    if model.dims.tied:
        sd.pop("lm_head.weight", None)   # HF files of tied models may carry a copy
    model.load_state_dict(sd, strict=True)
    return model
