/* decode.c — incremental forward passes against the source and target KV caches (decode.h).
 * The layer order and kernels are model_forward's; only attention differs: new rows attend to
 * cached keys instead of a packed layout. */
#include "src/stream/decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/model/gemv.h"
#include "src/model/kernels.h"

/* ---------------------------------------------------------------- cache */

static int kv_side_grow(KvSide *s, int n_layers, int kv_dim, int bf16, int need) {
    if (need <= s->cap) return 0;
    int cap = s->cap ? s->cap : 64;
    while (cap < need) cap *= 2;
    const size_t per_layer = (size_t)cap * kv_dim, esize = bf16 ? sizeof(bf16_t) : sizeof(float);
    char *k = px_calloc(per_layer * n_layers, esize, "the key cache");
    char *v = px_calloc(per_layer * n_layers, esize, "the value cache");
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    const char *ok = bf16 ? (const char *)s->k16 : (const char *)s->k;
    const char *ov = bf16 ? (const char *)s->v16 : (const char *)s->v;
    for (int l = 0; l < n_layers && s->len > 0; l++) { /* layers keep their own stride: copy each */
        memcpy(k + l * per_layer * esize, ok + (size_t)l * s->cap * kv_dim * esize, esize * (size_t)s->len * kv_dim);
        memcpy(v + l * per_layer * esize, ov + (size_t)l * s->cap * kv_dim * esize, esize * (size_t)s->len * kv_dim);
    }
    free(s->k);
    free(s->v);
    free(s->k16);
    free(s->v16);
    s->k = s->v = NULL;
    s->k16 = s->v16 = NULL;
    if (bf16) s->k16 = (bf16_t *)k, s->v16 = (bf16_t *)v;
    else s->k = (float *)k, s->v = (float *)v;
    s->cap = cap;
    return 0;
}

int kv_cache_init(KvCache *c, const ModelConfig *cfg, int src_cap, int tgt_cap) {
    return kv_cache_init_as(c, cfg, src_cap, tgt_cap, 0);
}

int kv_cache_init_as(KvCache *c, const ModelConfig *cfg, int src_cap, int tgt_cap, int bf16) {
    memset(c, 0, sizeof *c);
    c->n_layers = cfg->n_layers;
    c->kv_dim = cfg->n_kv_heads * cfg->head_dim;
    c->bf16 = bf16 != 0;
    if (kv_side_grow(&c->src, c->n_layers, c->kv_dim, c->bf16, src_cap) ||
        kv_side_grow(&c->tgt, c->n_layers, c->kv_dim, c->bf16, tgt_cap)) {
        kv_cache_free(c);
        return -1;
    }
    return 0;
}

void kv_cache_reset(KvCache *c) { c->src.len = c->tgt.len = 0; }

void kv_cache_free(KvCache *c) {
    free(c->src.k);
    free(c->src.v);
    free(c->tgt.k);
    free(c->tgt.v);
    free(c->src.k16);
    free(c->src.v16);
    free(c->tgt.k16);
    free(c->tgt.v16);
    memset(c, 0, sizeof *c);
}

void kv_cache_pop_target(KvCache *c, int n) { c->tgt.len = n >= c->tgt.len ? 0 : c->tgt.len - n; }

/* ---------------------------------------------------------------- scratch */

void decode_scratch_free(DecodeScratch *s) {
    free(s->x);
    free(s->scores); /* the attention allocation starts with the scores row */
    memset(s, 0, sizeof *s);
}

/* One allocation for the per-row buffers (rows), plus att_last sized for `keys`. */
static int scratch_reserve(DecodeScratch *s, const ModelConfig *c, int rows, int keys) {
    const int d = c->hidden_size, q_dim = c->n_heads * c->head_dim;
    const int qkv_dim = (c->n_heads + 2 * c->n_kv_heads) * c->head_dim, f = c->intermediate_size;
    if (rows > s->cap_rows || !s->x) {
        int cap = PX_MAX(rows, PX_MAX(s->cap_rows * 2, 8));
        size_t per_row = (size_t)3 * d + qkv_dim + q_dim + 3 * (size_t)f;
        float *buf = px_calloc(per_row * cap + d + (size_t)c->vocab_size, sizeof(float), "decode activations");
        if (!buf) return -1;
        free(s->x);
        s->x = buf;
        s->xn = s->x + (size_t)cap * d;
        s->x2 = s->xn + (size_t)cap * d;
        s->attout = s->x2 + (size_t)cap * d;
        s->qkv = s->attout + (size_t)cap * q_dim;
        s->gu = s->qkv + (size_t)cap * qkv_dim;
        s->h = s->gu + (size_t)cap * 2 * f;
        s->hidden = s->h + (size_t)cap * f; /* [d] */
        s->logits = s->hidden + d;          /* [V] */
        s->cap_rows = cap;
    }
    if (keys > s->cap_keys || !s->att_last) {
        int cap = PX_MAX(keys, PX_MAX(s->cap_keys * 2, 64));
        /* scores of one row reuse the first cap floats; att_last holds [L][nh][cap] */
        float *a = px_calloc((size_t)cap * (1 + (size_t)c->n_layers * c->n_heads), sizeof(float), "attention scratch");
        if (!a) return -1;
        free(s->scores);
        s->scores = a;
        s->att_last = a + cap;
        s->cap_keys = cap;
    }
    return 0;
}

/* ---------------------------------------------------------------- attention over the caches */

/* One query head against two key blocks: keys A[0..na) (source) then B[0..nb) (target), both
 * [rows, kv_dim] row-major at the head's offset. out[hd] = softmax(q.k / sqrt(hd)) V.
 * p[na+nb] receives the probabilities. */
static void softmax_in_place(float *p, int n) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        p[j] = expf(p[j] - mx);
        sum += p[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) p[j] *= inv;
}

static void attend_two_blocks(float *out, float *p, const float *q, const float *KA, const float *VA, int na,
                              const float *KB, const float *VB, int nb, int kv_dim, int hd) {
    const float scale = 1.0f / sqrtf((float)hd);
    /* p[0:na] = scale KA q;  p[na:] = scale KB q */
    if (na > 0) gemm_ff(GEMM_FP32, 0, 1, 1, na, hd, scale, q, hd, KA, kv_dim, 0.0f, p, na);
    if (nb > 0) gemm_ff(GEMM_FP32, 0, 1, 1, nb, hd, scale, q, hd, KB, kv_dim, 0.0f, p + na, nb);
    softmax_in_place(p, na + nb);
    /* out = VA^T p[0:na] + VB^T p[na:] */
    memset(out, 0, sizeof(float) * hd);
    if (na > 0) gemm_ff(GEMM_FP32, 0, 0, 1, hd, na, 1.0f, p, na, VA, kv_dim, 1.0f, out, hd);
    if (nb > 0) gemm_ff(GEMM_FP32, 0, 0, 1, hd, nb, 1.0f, p + na, nb, VB, kv_dim, 1.0f, out, hd);
}

/* The same over a bf16 cache. Keys and values widen exactly to fp32; q, the scores, the softmax
 * and the sum of values are fp32. The loops over 16 lanes are what the compiler vectorizes. */
static void scores_bf16(float *p, const float *q, const bf16_t *K, int n, int kv_dim, int hd, float scale) {
    for (int j = 0; j < n; j++) {
        const bf16_t *k = K + (size_t)j * kv_dim;
        float lane[16] = {0}, sum = 0.0f;
        int t = 0;
        for (; t + 16 <= hd; t += 16)
            for (int i = 0; i < 16; i++) lane[i] += q[t + i] * f32_from_bf16(k[t + i]);
        for (; t < hd; t++) sum += q[t] * f32_from_bf16(k[t]);
        for (int i = 0; i < 16; i++) sum += lane[i];
        p[j] = scale * sum;
    }
}

static void values_bf16(float *out, const float *p, const bf16_t *V, int n, int kv_dim, int hd) {
    for (int j = 0; j < n; j++) {
        const bf16_t *v = V + (size_t)j * kv_dim;
        const float pj = p[j];
        for (int t = 0; t < hd; t++) out[t] += pj * f32_from_bf16(v[t]);
    }
}

static void attend_two_blocks_bf16(float *out, float *p, const float *q, const bf16_t *KA, const bf16_t *VA, int na,
                                   const bf16_t *KB, const bf16_t *VB, int nb, int kv_dim, int hd) {
    const float scale = 1.0f / sqrtf((float)hd);
    scores_bf16(p, q, KA, na, kv_dim, hd, scale);
    scores_bf16(p + na, q, KB, nb, kv_dim, hd, scale);
    softmax_in_place(p, na + nb);
    memset(out, 0, sizeof(float) * hd);
    values_bf16(out, p, VA, na, kv_dim, hd);
    values_bf16(out, p + na, VB, nb, kv_dim, hd);
}

/* ---------------------------------------------------------------- forward */

/* out[n, OC] = in[n, IC] W[OC, IC]^T (+ b): matmul_forward, but a few rows go through sgemv,
 * because sgemm packs all of W for every call, which dominates when decoding one token. */
static void linear_rows(float *out, const float *in, const float *W, const float *b, int n, int IC, int OC) {
    if (n > 4) {
        matmul_forward(out, in, W, NULL, b, n, IC, OC);
        return;
    }
    for (int i = 0; i < n; i++) {
        float *y = out + (size_t)i * OC;
        if (b) memcpy(y, b, sizeof(float) * OC);
        gemm_ff(GEMM_FP32, 0, 1, 1, OC, IC, 1.0f, in + (size_t)i * IC, IC, W, IC, b ? 1.0f : 0.0f, y, OC);
    }
}

/* The same with a bf16 or int8 weight W [OC, IC] (gemv.h: W streamed once for all n rows). */
static void linear_rows_q(float *out, const float *in, GemmMat W, const float *b, int n, int IC, int OC) {
    if (b)
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * OC, b, sizeof(float) * OC);
    gemv(n, OC, IC, 1.0f, in, IC, W, b ? 1.0f : 0.0f, out, OC);
}

/* out = in W^T (+ b) with the layer's matrix in the precision decode runs at: the model's fp32
 * (sgemv, unchanged), or the copy in dw. */
#define LINEAR(out, in, mat, b, n, IC, OC)                                  \
    do {                                                                    \
        if (quant) linear_rows_q(out, in, dw->layers[l].mat, b, n, IC, OC); \
        else linear_rows(out, in, w->mat, b, n, IC, OC);                    \
    } while (0)

/* Appends the new rows' keys and values (from qkv, [n, qkv_dim]) at rows first.. of layer l. */
static void kv_append(KvSide *own, int l, int kv_dim, int first, int n, const float *qkv, int qkv_dim, int q_dim,
                      int bf16) {
    for (int i = 0; i < n; i++) {
        const float *k = qkv + (size_t)i * qkv_dim + q_dim, *v = k + kv_dim;
        const size_t at = ((size_t)l * own->cap + first + i) * kv_dim;
        if (bf16) {
            for (int t = 0; t < kv_dim; t++)
                own->k16[at + t] = bf16_from_f32(k[t]), own->v16[at + t] = bf16_from_f32(v[t]);
        } else {
            memcpy(own->k + at, k, sizeof(float) * kv_dim);
            memcpy(own->v + at, v, sizeof(float) * kv_dim);
        }
    }
}

int decode_forward_w(const Model *m, const DecodeWeights *dw, KvCache *c, DecodeScratch *s, const int *tokens, int n,
                     DecodeSide side, int vis_src, int phi, int want_last) {
    const ModelConfig *cfg = &m->cfg;
    const int d = cfg->hidden_size, nh = cfg->n_heads, nkv = cfg->n_kv_heads, hd = cfg->head_dim;
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, f = cfg->intermediate_size, kv_dim = c->kv_dim;
    const int group = nh / nkv, L = cfg->n_layers;
    const int quant = dw && dw->type != DECODE_FP32;
    if (n <= 0) return px_error("decode_forward: no tokens");
    if (dw && dw->model != m) return px_error("decode_forward: the decode weights were made for another model");
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg->vocab_size)
            return px_error("token id %d is outside the vocabulary (size %d)", tokens[i], cfg->vocab_size);
    KvSide *own = side == DECODE_SOURCE ? &c->src : &c->tgt;
    if (side == DECODE_TARGET && (vis_src < 0 || vis_src > c->src.len))
        return px_error("decode_forward: %d visible source tokens, but the cache holds %d", vis_src, c->src.len);
    const int first = own->len; /* index of the first new row in its side */
    const int na = side == DECODE_TARGET ? vis_src : 0;
    if (kv_side_grow(own, L, kv_dim, c->bf16, first + n) || scratch_reserve(s, cfg, n, na + first + n)) return -1;
    int pos_small[64], *pos = n <= 64 ? pos_small : malloc(sizeof(int) * n);
    if (!pos) return px_error("out of memory");
    for (int i = 0; i < n; i++) pos[i] = (side == DECODE_TARGET ? phi : 0) + first + i;

    float rstd_small[64], *rstd = n <= 64 ? rstd_small : malloc(sizeof(float) * n);
    if (!rstd) {
        if (pos != pos_small) free(pos);
        return px_error("out of memory");
    }
    embedding_forward(s->x, tokens, m->w.embed, n, d);
    for (int l = 0; l < L; l++) {
        const LayerWeights *w = &m->w.layers[l];
        /* x[n, d] -> xn -> qkv[n, qkv_dim] (RoPE on q and k) */
        rmsnorm_forward(s->xn, rstd, s->x, w->ln1, n, d, cfg->rms_norm_eps);
        LINEAR(s->qkv, s->xn, wqkv, w->bqkv, n, d, qkv_dim);
        rope_forward(s->qkv, pos, n, nh + nkv, hd, qkv_dim, cfg->rope_theta);
        kv_append(own, l, kv_dim, first, n, s->qkv, qkv_dim, q_dim, c->bf16);
        /* attention: row i sees the visible source (target rows) and its own side up to itself */
        const size_t src_off = (size_t)l * c->src.cap * kv_dim, own_off = (size_t)l * own->cap * kv_dim;
        for (int i = 0; i < n; i++) {
            const int nb = first + i + 1;
            const int last = want_last && i == n - 1;
            for (int h = 0; h < nh; h++) {
                const size_t g = (size_t)(h / group) * hd;
                float *p = last ? s->att_last + ((size_t)l * nh + h) * s->cap_keys : s->scores;
                float *out = s->attout + (size_t)i * q_dim + h * hd;
                const float *q = s->qkv + (size_t)i * qkv_dim + h * hd;
                if (c->bf16)
                    attend_two_blocks_bf16(out, p, q, c->src.k16 + src_off + g, c->src.v16 + src_off + g, na,
                                           own->k16 + own_off + g, own->v16 + own_off + g, nb, kv_dim, hd);
                else
                    attend_two_blocks(out, p, q, c->src.k + src_off + g, c->src.v + src_off + g, na,
                                      own->k + own_off + g, own->v + own_off + g, nb, kv_dim, hd);
            }
        }
        /* x2 = x + attout Wo^T;  x = x2 + down(swiglu(gate_up(norm(x2)))) */
        LINEAR(s->x2, s->attout, wo, NULL, n, q_dim, d);
        for (size_t i = 0; i < (size_t)n * d; i++) s->x2[i] += s->x[i];
        rmsnorm_forward(s->xn, rstd, s->x2, w->ln2, n, d, cfg->rms_norm_eps);
        LINEAR(s->gu, s->xn, wgu, NULL, n, d, 2 * f);
        swiglu_forward(s->h, s->gu, n, f);
        LINEAR(s->x, s->h, wdown, NULL, n, f, d);
        for (size_t i = 0; i < (size_t)n * d; i++) s->x[i] += s->x2[i];
    }
    own->len = first + n;
    if (want_last) {
        s->att_src = na;
        s->att_keys = na + own->len;
        if (side == DECODE_SOURCE) s->att_src = 0;
        rmsnorm_forward(s->hidden, rstd, s->x + (size_t)(n - 1) * d, m->w.final_norm, 1, d, cfg->rms_norm_eps);
        if (quant) gemv(1, cfg->vocab_size, d, 1.0f, s->hidden, d, dw->lm_head, 0.0f, s->logits, cfg->vocab_size);
        else
            gemm_ff(GEMM_FP32, 0, 1, 1, cfg->vocab_size, d, 1.0f, s->hidden, d, m->w.lm_head, d, 0.0f, s->logits,
                    cfg->vocab_size);
    }
    if (pos != pos_small) free(pos);
    if (rstd != rstd_small) free(rstd);
    return 0;
}

/* ---------------------------------------------------------------- cues */

void decode_cues(const Model *m, const DecodeScratch *s, int window, const int *layers, int n_layers, const int *heads,
                 int n_heads, Cues *out) {
    softmax_stats(s->logits, m->cfg.vocab_size, &out->entropy, &out->maxprob);
    out->hidden = s->hidden;
    /* attention mass on source keys [ns - w, ns) of the last row, mean over layers and heads */
    const int ns = s->att_src, from = ns > window ? ns - window : 0;
    const int nl = n_layers ? n_layers : m->cfg.n_layers, nh = n_heads ? n_heads : m->cfg.n_heads;
    double mass = 0;
    for (int a = 0; a < nl; a++) {
        const int l = n_layers ? layers[a] : a;
        for (int b = 0; b < nh; b++) {
            const int h = n_heads ? heads[b] : b;
            const float *p = s->att_last + ((size_t)l * m->cfg.n_heads + h) * s->cap_keys;
            for (int j = from; j < ns; j++) mass += p[j];
        }
    }
    out->attn_front = (float)(mass / ((double)nl * nh));
}
