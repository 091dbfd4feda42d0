#!/usr/bin/python3
"""check_twin.py — self-checks of the PyTorch twin, so the reference is trusted on its own
merits rather than because the C code happens to agree with it.

  1. dense_mask matches the AttnLayout rule evaluated key by key, and the streaming layout
     of make_reference.py has the intended shape (no cross-sequence visibility, students see
     a growing source prefix, teachers see the whole source and never the students);
  2. the vectorised forward matches a naive row-by-row, head-by-head implementation written
     from the spec (explicit (i, i + hd/2) RoPE pairs, explicit visible-key lists);
  3. packing: a sequence's logits do not depend on what it is packed with;
  4. RoPE: shifting every position of a causal sequence leaves its logits unchanged
     (attention depends only on relative positions);
  5. grouped-query attention maps query head h to kv head h // (nh / nkv): a GQA model equals
     the multi-head model whose k/v heads are copied accordingly;
  6. torch.autograd.gradcheck in float64 on a tiny model with a streaming layout, all
     parameters (incl. biases, tied embedding);
  7. adamw_run equals AdamW, clipping and the LR schedule written out by hand from optim.h;
  8. bfloat16 rounding equals torch's round-to-nearest-even cast; safetensors and HF-dir
     round trips are exact.

Usage: /usr/bin/python3 tests/reference/check_twin.py [--full]   (exit status 0 iff all pass)
"""

import copy
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
from torch.nn.utils import stateless

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402
import twin  # noqa: E402

FAILURES = []
FULL_GRADCHECK = "--full" in sys.argv[1:]   # full Jacobian: ~20 s instead of ~1 s


def check(cond, what):
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        FAILURES.append(what)


def rel(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def tiny_config(arch="Qwen2ForCausalLM", nh=4, nkv=2, tied=True):
    return twin.make_config(arch, vocab_size=13, hidden_size=8, num_hidden_layers=2,
                            num_attention_heads=nh, num_key_value_heads=nkv, head_dim=4,
                            intermediate_size=12, rope_theta=10000.0, rms_norm_eps=1e-6,
                            tie_word_embeddings=tied)


def random_model(config, seed, dtype=torch.float64):
    m = twin.TwinModel(config)
    twin.init_random(m, torch.Generator().manual_seed(seed), std=0.3)
    return m.to(dtype)


def visible(layout, r, c):
    """The AttnLayout rule, literally."""
    s = int(np.searchsorted(layout.seq_start, r, side="right")) - 1
    s2 = int(np.searchsorted(layout.seq_start, c, side="right")) - 1
    if s != s2:
        return False
    t, j = r - layout.seq_start[s], c - layout.seq_start[s]
    return j < layout.vis_prefix[r] or layout.blk_start[r] <= j <= t


# ---- 1. mask ------------------------------------------------------------------------------

def check_mask():
    print("1. visibility mask")
    lay = mr.make_layout()
    m = twin.dense_mask(lay).numpy()
    brute = np.array([[visible(lay, r, c) for c in range(lay.n_rows)] for r in range(lay.n_rows)])
    check(np.array_equal(m, brute), "dense_mask equals the rule evaluated key by key")
    ss = lay.seq_start
    seq = np.repeat(np.arange(lay.n_seqs), lay.lengths())
    check(not np.any(m & (seq[:, None] != seq[None, :])), "no row sees another sequence")
    check(bool(np.all(np.diag(m))), "every row sees itself")
    a0, a1 = ss[0], ss[1]
    check(np.array_equal(m[a0:a1, a0:a1], np.tril(np.ones((11, 11), bool))), "sequence A is plain causal")
    b = ss[1]
    src, stu, tea = range(b, b + 6), range(b + 6, b + 11), range(b + 11, b + 17)
    ok = all(np.array_equal(m[r, b:b + 6], np.arange(6) <= (r - b)) for r in src)
    check(ok, "streaming source rows are causal over the source")
    ok = all(m[r, b:b + 6].sum() == lay.vis_prefix[r] and
             np.array_equal(m[r, b + 6:b + 11], np.arange(5) <= (r - b - 6)) and
             not m[r, b + 11:b + 17].any() for r in stu)
    check(ok, "student rows see vis_prefix source rows and their own block causally")
    ok = all(m[r, b:b + 6].all() and not m[r, b + 6:b + 11].any() and
             np.array_equal(m[r, b + 11:b + 17], np.arange(6) <= (r - b - 11)) for r in tea)
    check(ok, "teacher rows see the whole source, no student row, their own block causally")
    check(list(lay.pos[b:b + 17]) == list(range(6)) + list(range(5)) + list(range(6)),
          "streaming positions restart at phi = 0 for each copy")
    check(list(lay.pos[ss[2]:ss[3]]) == list(range(100, 109)), "sequence C has positions 100..108")


# ---- 2. naive forward ------------------------------------------------------------------------

def naive_forward(model, tokens, layout):
    """Row by row, head by head, straight from the spec; float64 numpy."""
    dm = model.dims
    P = {n: p.detach().double().numpy() for n, p in model.state_dict().items()}
    # Angles in float32, as the spec (and HF) says; then everything in float64. inv_freq is
    # computed with torch's float32 pow, as HF does: numpy's float32 pow may differ from it by
    # one ulp (it does for theta = 500000 on AVX-512 machines), which is a different input to
    # the model, not an error of the forward pass, and would show up here as ~1e-10.
    inv_freq = (1.0 / (torch.tensor(dm.theta, dtype=torch.float32)
                       ** (torch.arange(0, dm.hd, 2, dtype=torch.float32) / dm.hd))).numpy()
    half = dm.hd // 2

    def rope(vec, p):                                  # vec [hd]
        out = np.empty_like(vec)
        for i in range(half):
            # cos/sin of the float32 angle, evaluated in float32 like HF (torch's float32
            # cos, so that the comparison below can be tight).
            ang = torch.tensor(np.float32(p) * inv_freq[i], dtype=torch.float32)
            c, s = float(ang.cos()), float(ang.sin())
            out[i] = vec[i] * c - vec[i + half] * s
            out[i + half] = vec[i + half] * c + vec[i] * s
        return out

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + dm.eps) * w

    x = P["model.embed_tokens.weight"][np.asarray(tokens)]
    N = layout.n_rows
    rep = dm.nh // dm.nkv
    for li in range(dm.L):
        pre = f"model.layers.{li}."
        h = rms(x, P[pre + "input_layernorm.weight"])
        proj = {}
        for nm in "qkv":
            y = h @ P[pre + f"self_attn.{nm}_proj.weight"].T
            if dm.qkv_bias:
                y = y + P[pre + f"self_attn.{nm}_proj.bias"]
            proj[nm] = y
        qr = [[rope(proj["q"][r, hh * dm.hd:(hh + 1) * dm.hd], layout.pos[r]) for hh in range(dm.nh)]
              for r in range(N)]
        kr = [[rope(proj["k"][r, hh * dm.hd:(hh + 1) * dm.hd], layout.pos[r]) for hh in range(dm.nkv)]
              for r in range(N)]
        att = np.zeros((N, dm.nh * dm.hd))
        for r in range(N):
            keys = [c for c in range(N) if visible(layout, r, c)]
            for head in range(dm.nh):
                kvh = head // rep
                q = qr[r][head]
                sc = []
                for c in keys:
                    k = kr[c][kvh]
                    sc.append(q @ k / math.sqrt(dm.hd))
                sc = np.array(sc)
                p = np.exp(sc - sc.max())
                p /= p.sum()
                att[r, head * dm.hd:(head + 1) * dm.hd] = sum(
                    pi * proj["v"][c, kvh * dm.hd:(kvh + 1) * dm.hd] for pi, c in zip(p, keys))
        x = x + att @ P[pre + "self_attn.o_proj.weight"].T
        h = rms(x, P[pre + "post_attention_layernorm.weight"])
        g = h @ P[pre + "mlp.gate_proj.weight"].T
        u = h @ P[pre + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ P[pre + "mlp.down_proj.weight"].T
    x = rms(x, P["model.norm.weight"])
    w = P["model.embed_tokens.weight"] if dm.tied else P["lm_head.weight"]
    return x @ w.T


def forward_error_bound(cfg, n_rows):
    """How far two float64 evaluations of the same forward pass may differ, relative to the
    largest logit: the classical bound for a dot product of length n, |fl(x.y) - x.y| <=
    gamma_n |x|.|y| with gamma_n = n u / (1 - n u) and u = 2^-53, taken for the longest
    reduction in the model (hidden, head, MLP or key count), for both implementations (x2),
    once per residual block and the head (2 L + 1 products in a row), and with a factor 4 of
    slack for the norms, softmax and exp, whose relative errors are a few u each. The
    vectorised pass sums in another order (BLAS blocking, pairwise sums) than the naive one,
    so only such a bound, not equality, can be asserted."""
    u = 2.0 ** -53
    n = max(cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"], n_rows)
    gamma = n * u / (1 - n * u)
    return 4 * 2 * (2 * cfg["num_hidden_layers"] + 1) * gamma


def check_naive():
    print("2. vectorised forward vs naive per-row implementation (float64)")
    lay = mr.make_layout()
    for name, cfg in mr.CASES.items():
        model = random_model(cfg, 7)
        tokens = torch.randint(0, cfg["vocab_size"], (lay.n_rows,), generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            got = model(tokens, lay)
        e = rel(got, naive_forward(model, tokens.numpy(), lay))
        bound = forward_error_bound(cfg, lay.n_rows)
        check(e < bound, f"{name}: max rel. difference {e:.1e} (float64 bound {bound:.1e})")


# ---- 3, 4, 5. invariances ---------------------------------------------------------------------

def check_invariances():
    print("3-5. packing, relative positions, GQA head mapping (float64)")
    lay = mr.make_layout()
    gen = torch.Generator().manual_seed(11)
    for name, cfg in mr.CASES.items():
        model = random_model(cfg, 5)
        tokens = torch.randint(0, cfg["vocab_size"], (lay.n_rows,), generator=gen)
        with torch.no_grad():
            packed = model(tokens, lay)
            ss = lay.seq_start
            alone = model(tokens[ss[2]:ss[3]], twin.Layout.causal([9], [100]))
            check(rel(packed[ss[2]:ss[3]], alone) < 1e-12, f"{name}: sequence C alone == packed")
            t12 = tokens[:12]
            a = model(t12, twin.Layout.causal([12], [0]))
            b = model(t12, twin.Layout.causal([12], [37]))
            # Not exact: angles are float32 (HF semantics), so shifting moves them by ~1e-7 rad.
            e = rel(b, a)
            check(e < 1e-4, f"{name}: positions shifted by 37 change logits by {e:.1e} only")
            c = model(t12, twin.Layout.causal([12], [0]))
            check(rel(c, a) == 0.0, f"{name}: forward is deterministic")
    # GQA: nh=4, nkv=2 equals nh=nkv=4 with kv heads copied as [0, 0, 1, 1].
    gqa = random_model(tiny_config(nh=4, nkv=2), 9)
    mha = twin.TwinModel(tiny_config(nh=4, nkv=4)).double()
    sd = gqa.state_dict()
    hd = 4
    order = [0, 0, 1, 1]
    for k in list(sd):
        if ".k_proj." in k or ".v_proj." in k:
            sd[k] = torch.cat([sd[k][h * hd:(h + 1) * hd] for h in order])
    mha.load_state_dict(sd)
    lay2 = twin.Layout.causal([7, 5])
    toks = torch.arange(12) % 13
    with torch.no_grad():
        e = rel(gqa(toks, lay2), mha(toks, lay2))
    check(e < 1e-12, f"GQA model == MHA with kv heads copied h -> h // 2 ({e:.1e})")


# ---- 6. gradcheck ----------------------------------------------------------------------------------

def check_gradcheck():
    print("6. torch.autograd.gradcheck (float64, tiny models, streaming layout)")
    lay = twin.Layout.concat([
        twin.Layout.causal([4]),
        twin.Layout([0, 7], pos=[0, 1, 2, 0, 1, 0, 1], vis_prefix=[0, 0, 0, 1, 3, 3, 3],
                    blk_start=[0, 0, 0, 3, 3, 5, 5]),
        twin.Layout.causal([3], [50]),
    ])
    for arch, tied, nkv in (("Qwen2ForCausalLM", True, 2), ("LlamaForCausalLM", False, 1)):
        model = random_model(tiny_config(arch, nh=4, nkv=nkv, tied=tied), 13)
        names = [n for n, _ in model.named_parameters()]
        params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
        gen = torch.Generator().manual_seed(17)
        tokens = torch.randint(0, 13, (lay.n_rows,), generator=gen)
        targets = torch.randint(0, 13, (lay.n_rows,), generator=gen)
        targets[[3, 5, 9]] = -1

        def f(*ps):
            logits = stateless.functional_call(model, dict(zip(names, ps)), (tokens, lay))
            return twin.cross_entropy(logits, targets)

        ok = torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False,
                                      fast_mode=not FULL_GRADCHECK)
        check(ok, f"{arch} (tied={tied}, nkv={nkv}): {len(params)} parameter tensors, "
                  f"{'full Jacobian' if FULL_GRADCHECK else 'fast mode (random projections; --full for all)'}")


# ---- 7. AdamW by hand -----------------------------------------------------------------------------

def check_adamw():
    print("7. adamw_run vs AdamW + clipping + schedule by hand (float64)")
    h = mr.HPARAMS
    lrs = [twin.lr_at_step(h, s) for s in range(5)]
    lr, mn = h["lr"], h["lr"] * h["min_lr_ratio"]
    want = [lr * 1 / 2, lr * 2 / 2, lr, mn + 0.5 * (lr - mn) * (1 + math.cos(math.pi / 3)),
            mn + 0.5 * (lr - mn) * (1 + math.cos(2 * math.pi / 3))]
    check(all(abs(a - b) < 1e-15 for a, b in zip(lrs, want)), f"lr schedule {['%.5f' % x for x in lrs]}")
    for name, cfg in mr.CASES.items():
        model = random_model(cfg, 21)
        lay = mr.make_layout()
        tokens, targets = mr.make_batch(lay, cfg["vocab_size"], torch.Generator().manual_seed(4))
        ref_model = copy.deepcopy(model)
        norms = []
        losses = twin.adamw_run(model, (tokens, targets, lay), 5, h, grad_norms=norms)

        # By hand, from optim.h: clip by min(1, max_norm / (norm + 1e-6)), decoupled decay
        # p *= 1 - lr*wd on matrices, Adam with bias correction, denom sqrt(v_hat) + eps.
        params = list(ref_model.parameters())
        m = [torch.zeros_like(p) for p in params]
        v = [torch.zeros_like(p) for p in params]
        my_losses, my_norms = [], []
        for step in range(5):
            for p in params:
                p.grad = None
            loss = twin.cross_entropy(ref_model(tokens, lay), targets)
            my_losses.append(float(loss))
            loss.backward()
            with torch.no_grad():
                norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params))
                my_norms.append(norm)
                coef = min(1.0, h["grad_clip"] / (norm + 1e-6))
                lr_s = twin.lr_at_step(h, step)
                t = step + 1
                for i, p in enumerate(params):
                    g = p.grad * coef
                    if p.dim() >= 2:
                        p.mul_(1 - lr_s * h["weight_decay"])
                    m[i] = h["beta1"] * m[i] + (1 - h["beta1"]) * g
                    v[i] = h["beta2"] * v[i] + (1 - h["beta2"]) * g * g
                    mhat = m[i] / (1 - h["beta1"] ** t)
                    denom = (v[i] / (1 - h["beta2"] ** t)).sqrt() + h["eps"]
                    p.sub_(lr_s * mhat / denom)
        e_loss = max(abs(a - b) / b for a, b in zip(losses, my_losses))
        e_norm = max(abs(a - b) / b for a, b in zip(norms, my_norms))
        e_par = max(rel(a.detach(), b.detach()) for a, b in zip(model.parameters(), params))
        check(e_loss < 1e-12 and e_norm < 1e-12 and e_par < 1e-12,
              f"{name}: losses {e_loss:.1e}, norms {e_norm:.1e}, params {e_par:.1e} "
              f"(clipped {sum(n > h['grad_clip'] for n in norms)}/5 steps)")


# ---- 8. bf16 and files ------------------------------------------------------------------------------

def check_files():
    print("8. bfloat16 rounding, safetensors, HF dirs")
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(100000, generator=gen) * torch.exp(torch.randn(100000, generator=gen) * 10)
    # Exact ties (low 16 bits = 0x8000) with odd and even upper halves, plus edge values.
    ties = np.array([0x3F808000, 0x3F818000, 0xBF808000, 0x7F7F8000, 0x00008000, 0x00018000],
                    dtype=np.uint32).view(np.float32)
    edge = np.array([0.0, -0.0, np.inf, -np.inf, 3.4028235e38, 1e-45, 1.1754942e-38], dtype=np.float32)
    allx = np.concatenate([x.numpy(), ties, edge]).astype(np.float32)
    mine = twin.f32_to_bf16_bits(allx)
    theirs = torch.from_numpy(allx).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    check(np.array_equal(mine, theirs), "f32 -> bf16 bits == torch's cast (random, ties, edges)")
    nanb = twin.f32_to_bf16_bits(np.array([np.nan], dtype=np.float32))
    check(bool(np.isnan(twin.bf16_bits_to_f32(nanb))[0]), "NaN stays NaN")
    r = twin.round_to_bf16(allx[:1000])
    check(np.array_equal(twin.round_to_bf16(r), r), "rounding is idempotent")

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.safetensors")
        a = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
        ints = np.array([-1, 0, 7, 2**31 - 1], dtype=np.int32)
        twin.save_safetensors(p, {"a": (a, "F32"), "b": (a, "BF16"), "i": (ints, "I32")}, {"k": "v"})
        t, meta = twin.load_safetensors(p)
        check(np.array_equal(t["a"], a) and np.array_equal(t["b"], twin.round_to_bf16(a))
              and np.array_equal(t["i"], ints) and t["i"].dtype == np.int32 and meta == {"k": "v"},
              "safetensors round trip (F32, BF16, I32, metadata)")
        with open(p, "rb") as fh:
            (hlen,) = struct.unpack("<Q", fh.read(8))
            hdr = json.loads(fh.read(hlen))
        check(hlen % 8 == 0 and hdr["b"]["dtype"] == "BF16" and hdr["i"]["data_offsets"] == [90, 106],
              "header padded to 8 bytes; offsets contiguous")

        for name, cfg in mr.CASES.items():
            model = twin.TwinModel(cfg)
            twin.init_random(model, torch.Generator().manual_seed(2))
            names = mr.bf16_tensor_names(model)
            twin.round_params_to_bf16(model, names)
            hd = os.path.join(d, name)
            twin.save_hf_dir(model, hd, names)
            back = twin.load_hf_dir(hd)
            same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
            _, hdr_meta = twin.load_safetensors(os.path.join(hd, "model.safetensors"))
            with open(os.path.join(hd, "model.safetensors"), "rb") as fh:
                (hlen,) = struct.unpack("<Q", fh.read(8))
                hdr = json.loads(fh.read(hlen))
            n_bf16 = sum(1 for k, v in hdr.items() if k != "__metadata__" and v["dtype"] == "BF16")
            expect = set(model.state_dict())
            check(same and n_bf16 == len(names) and set(hdr) - {"__metadata__"} == expect,
                  f"{name}: HF dir round trip exact, {n_bf16}/{len(expect)} tensors BF16, HF names")
            unrounded = twin.TwinModel(cfg)
            twin.init_random(unrounded, torch.Generator().manual_seed(2))
            try:
                twin.save_hf_dir(unrounded, os.path.join(d, "bad"), names)
                check(False, f"{name}: saving unrounded weights as BF16 is refused")
            except ValueError:
                check(True, f"{name}: saving unrounded weights as BF16 is refused")


def main():
    torch.set_num_threads(1)
    check_mask()
    check_naive()
    check_invariances()
    check_gradcheck()
    check_adamw()
    check_files()
    if FAILURES:
        print(f"check_twin: {len(FAILURES)} FAILED: {FAILURES}")
        sys.exit(1)
    print("check_twin: all checks passed")


if __name__ == "__main__":
    main()
