/* decode.c — incremental forward passes against the source and target KV caches (decode.h).
 * The layer order and kernels are model_forward's; only attention differs: new rows attend to
 * cached keys instead of a packed layout. */
#include "src/stream/decode.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/model/kernels.h"

/* ---------------------------------------------------------------- cache */

static int kv_side_grow(KvSide *s, int n_layers, int kv_dim, int need) {
    if (need <= s->cap) return 0;
    int cap = s->cap ? s->cap : 64;
    while (cap < need) cap *= 2;
    size_t per_layer = (size_t)cap * kv_dim;
    float *k = px_calloc(per_layer * n_layers, sizeof(float), "the key cache");
    float *v = px_calloc(per_layer * n_layers, sizeof(float), "the value cache");
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (int l = 0; l < n_layers && s->len > 0; l++) { /* layers keep their own stride: copy each */
        memcpy(k + l * per_layer, s->k + (size_t)l * s->cap * kv_dim, sizeof(float) * (size_t)s->len * kv_dim);
        memcpy(v + l * per_layer, s->v + (size_t)l * s->cap * kv_dim, sizeof(float) * (size_t)s->len * kv_dim);
    }
    free(s->k);
    free(s->v);
    s->k = k;
    s->v = v;
    s->cap = cap;
    return 0;
}

int kv_cache_init(KvCache *c, const ModelConfig *cfg, int src_cap, int tgt_cap) {
    memset(c, 0, sizeof *c);
    c->n_layers = cfg->n_layers;
    c->kv_dim = cfg->n_kv_heads * cfg->head_dim;
    if (kv_side_grow(&c->src, c->n_layers, c->kv_dim, src_cap) ||
        kv_side_grow(&c->tgt, c->n_layers, c->kv_dim, tgt_cap)) {
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
static void attend_two_blocks(float *out, float *p, const float *q, const float *KA, const float *VA, int na,
                              const float *KB, const float *VB, int nb, int kv_dim, int hd) {
    const float scale = 1.0f / sqrtf((float)hd);
    if (na > 0) cblas_sgemv(CblasRowMajor, CblasNoTrans, na, hd, scale, KA, kv_dim, q, 1, 0.0f, p, 1);
    if (nb > 0) cblas_sgemv(CblasRowMajor, CblasNoTrans, nb, hd, scale, KB, kv_dim, q, 1, 0.0f, p + na, 1);
    const int n = na + nb;
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        p[j] = expf(p[j] - mx);
        sum += p[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) p[j] *= inv;
    memset(out, 0, sizeof(float) * hd);
    if (na > 0) cblas_sgemv(CblasRowMajor, CblasTrans, na, hd, 1.0f, VA, kv_dim, p, 1, 1.0f, out, 1);
    if (nb > 0) cblas_sgemv(CblasRowMajor, CblasTrans, nb, hd, 1.0f, VB, kv_dim, p + na, 1, 1.0f, out, 1);
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
        cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, IC, 1.0f, W, IC, in + (size_t)i * IC, 1, b ? 1.0f : 0.0f, y, 1);
    }
}

int decode_forward(const Model *m, KvCache *c, DecodeScratch *s, const int *tokens, int n, DecodeSide side, int vis_src,
                   int phi, int want_last) {
    const ModelConfig *cfg = &m->cfg;
    const int d = cfg->hidden_size, nh = cfg->n_heads, nkv = cfg->n_kv_heads, hd = cfg->head_dim;
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, f = cfg->intermediate_size, kv_dim = c->kv_dim;
    const int group = nh / nkv, L = cfg->n_layers;
    if (n <= 0) return px_error("decode_forward: no tokens");
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg->vocab_size)
            return px_error("token id %d is outside the vocabulary (size %d)", tokens[i], cfg->vocab_size);
    KvSide *own = side == DECODE_SOURCE ? &c->src : &c->tgt;
    if (side == DECODE_TARGET && (vis_src < 0 || vis_src > c->src.len))
        return px_error("decode_forward: %d visible source tokens, but the cache holds %d", vis_src, c->src.len);
    const int first = own->len; /* index of the first new row in its side */
    const int na = side == DECODE_TARGET ? vis_src : 0;
    if (kv_side_grow(own, L, kv_dim, first + n) || scratch_reserve(s, cfg, n, na + first + n)) return -1;
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
        linear_rows(s->qkv, s->xn, w->wqkv, w->bqkv, n, d, qkv_dim);
        rope_forward(s->qkv, pos, n, nh + nkv, hd, qkv_dim, cfg->rope_theta);
        /* append k, v of the new rows: cache rows first .. first+n-1 of layer l */
        float *Kl = own->k + (size_t)l * own->cap * kv_dim, *Vl = own->v + (size_t)l * own->cap * kv_dim;
        for (int i = 0; i < n; i++) {
            memcpy(Kl + (size_t)(first + i) * kv_dim, s->qkv + (size_t)i * qkv_dim + q_dim, sizeof(float) * kv_dim);
            memcpy(Vl + (size_t)(first + i) * kv_dim, s->qkv + (size_t)i * qkv_dim + q_dim + kv_dim,
                   sizeof(float) * kv_dim);
        }
        /* attention: row i sees the visible source (target rows) and its own side up to itself */
        const float *KS = c->src.k + (size_t)l * c->src.cap * kv_dim, *VS = c->src.v + (size_t)l * c->src.cap * kv_dim;
        for (int i = 0; i < n; i++) {
            const int nb = first + i + 1;
            const int last = want_last && i == n - 1;
            for (int h = 0; h < nh; h++) {
                const int g = h / group;
                float *p = last ? s->att_last + ((size_t)l * nh + h) * s->cap_keys : s->scores;
                attend_two_blocks(s->attout + (size_t)i * q_dim + h * hd, p, s->qkv + (size_t)i * qkv_dim + h * hd,
                                  KS + g * hd, VS + g * hd, na, Kl + g * hd, Vl + g * hd, nb, kv_dim, hd);
            }
        }
        /* x2 = x + attout Wo^T;  x = x2 + down(swiglu(gate_up(norm(x2)))) */
        linear_rows(s->x2, s->attout, w->wo, NULL, n, q_dim, d);
        for (size_t i = 0; i < (size_t)n * d; i++) s->x2[i] += s->x[i];
        rmsnorm_forward(s->xn, rstd, s->x2, w->ln2, n, d, cfg->rms_norm_eps);
        linear_rows(s->gu, s->xn, w->wgu, NULL, n, d, 2 * f);
        swiglu_forward(s->h, s->gu, n, f);
        linear_rows(s->x, s->h, w->wdown, NULL, n, f, d);
        for (size_t i = 0; i < (size_t)n * d; i++) s->x[i] += s->x2[i];
    }
    own->len = first + n;
    if (want_last) {
        s->att_src = na;
        s->att_keys = na + own->len;
        if (side == DECODE_SOURCE) s->att_src = 0;
        rmsnorm_forward(s->hidden, rstd, s->x + (size_t)(n - 1) * d, m->w.final_norm, 1, d, cfg->rms_norm_eps);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, cfg->vocab_size, d, 1.0f, m->w.lm_head, d, s->hidden, 1, 0.0f,
                    s->logits, 1);
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
