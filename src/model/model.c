/* model.c — parameter layout, activations, and the forward/backward of the decoder. */
#include "src/model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/rng.h"
#include "src/base/vec.h"
#include "src/model/kernels.h"
#include "src/model/profile.h"

/* ---------------------------------------------------------------- config */

const char *model_arch_name(ModelArch a) { return a == MODEL_ARCH_QWEN2 ? "qwen2" : "llama"; }
const char *model_arch_hf_class(ModelArch a) { return a == MODEL_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"; }

int model_config_validate(const ModelConfig *c) {
    if (c->vocab_size <= 0) return px_error("model.vocab_size: must be positive (got %d)", c->vocab_size);
    if (c->hidden_size <= 0) return px_error("model.hidden_size: must be positive (got %d)", c->hidden_size);
    if (c->n_layers <= 0) return px_error("model.n_layers: must be positive (got %d)", c->n_layers);
    if (c->n_heads <= 0) return px_error("model.n_heads: must be positive (got %d)", c->n_heads);
    if (c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads != 0)
        return px_error("model.n_kv_heads: must be positive and divide n_heads=%d (got %d)", c->n_heads, c->n_kv_heads);
    if (c->head_dim <= 0 || c->head_dim % 2 != 0 || c->head_dim > 1024)
        return px_error("model.head_dim: must be even and in 2..1024 (got %d)", c->head_dim);
    if (c->intermediate_size <= 0)
        return px_error("model.intermediate_size: must be positive (got %d)", c->intermediate_size);
    if (!(c->rope_theta > 0.0f)) return px_error("model.rope_theta: must be positive (got %g)", c->rope_theta);
    if (!(c->rms_norm_eps > 0.0f)) return px_error("model.rms_norm_eps: must be positive (got %g)", c->rms_norm_eps);
    if (c->qkv_bias && c->arch != MODEL_ARCH_QWEN2)
        return px_error("model.qkv_bias: q/k/v biases exist only for arch = qwen2");
    if (c->max_seq_len <= 0) return px_error("model.max_seq_len: must be positive (got %d)", c->max_seq_len);
    return 0;
}

/* ---------------------------------------------------------------- layout */

typedef struct {
    Model *m;
    size_t offset;
    int count;
    size_t cap;
} TableBuilder;

static int table_add(TableBuilder *tb, const char *name, int layer, int64_t rows, int64_t cols) {
    if (VEC_RESERVE(tb->m->tensors, tb->cap, (size_t)tb->count + 1, "the parameter table")) return -1;
    ParamTensor *t = &tb->m->tensors[tb->count++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols > 0 ? cols : 0;
    t->numel = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    t->offset = tb->offset;
    t->layer = layer;
    t->decay = t->ndim == 2;
    tb->offset += t->numel;
    return 0;
}

/* Adds the tensors in the order documented in model.h. */
static int build_table(Model *m) {
    const ModelConfig *c = &m->cfg;
    const int64_t d = c->hidden_size, q = (int64_t)c->n_heads * c->head_dim;
    const int64_t kv = (int64_t)c->n_kv_heads * c->head_dim, f = c->intermediate_size;
    TableBuilder tb = {.m = m};
    char name[96];
    if (table_add(&tb, "model.embed_tokens.weight", -1, c->vocab_size, d)) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        m->layer_begin[l] = tb.offset;
        struct {
            const char *suffix;
            int64_t rows, cols;
            int present;
        } spec[] = {
            {"input_layernorm.weight", d, 0, 1},
            {"self_attn.q_proj.weight", q, d, 1},
            {"self_attn.k_proj.weight", kv, d, 1},
            {"self_attn.v_proj.weight", kv, d, 1},
            {"self_attn.q_proj.bias", q, 0, c->qkv_bias},
            {"self_attn.k_proj.bias", kv, 0, c->qkv_bias},
            {"self_attn.v_proj.bias", kv, 0, c->qkv_bias},
            {"self_attn.o_proj.weight", d, q, 1},
            {"post_attention_layernorm.weight", d, 0, 1},
            {"mlp.gate_proj.weight", f, d, 1},
            {"mlp.up_proj.weight", f, d, 1},
            {"mlp.down_proj.weight", d, f, 1},
        };
        for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
            if (!spec[i].present) continue;
            snprintf(name, sizeof name, "model.layers.%d.%s", l, spec[i].suffix);
            if (table_add(&tb, name, l, spec[i].rows, spec[i].cols)) return -1;
        }
    }
    m->layer_begin[c->n_layers] = tb.offset;
    if (table_add(&tb, "model.norm.weight", -1, d, 0)) return -1;
    if (!c->tie_embeddings && table_add(&tb, "lm_head.weight", -1, c->vocab_size, d)) return -1;
    m->n_tensors = tb.count;
    m->n_params = tb.offset;
    return 0;
}

/* Points the views of `v` at buffer `base` following the table. */
static void point_views(const Model *m, WeightViews *v, float *base) {
    const ModelConfig *c = &m->cfg;
    int i = 0;
    v->embed = base + m->tensors[i++].offset;
    for (int l = 0; l < c->n_layers; l++) {
        LayerWeights *L = &v->layers[l];
        L->ln1 = base + m->tensors[i++].offset;
        L->wqkv = base + m->tensors[i].offset;
        i += 3;
        L->bqkv = NULL;
        if (c->qkv_bias) {
            L->bqkv = base + m->tensors[i].offset;
            i += 3;
        }
        L->wo = base + m->tensors[i++].offset;
        L->ln2 = base + m->tensors[i++].offset;
        L->wgu = base + m->tensors[i].offset;
        i += 2;
        L->wdown = base + m->tensors[i++].offset;
    }
    v->final_norm = base + m->tensors[i++].offset;
    v->lm_head = c->tie_embeddings ? v->embed : base + m->tensors[i++].offset;
}

int model_create(Model *m, const ModelConfig *cfg) {
    memset(m, 0, sizeof *m);
    if (model_config_validate(cfg)) return -1;
    m->cfg = *cfg;
    m->layer_begin = px_calloc(cfg->n_layers + 1, sizeof(size_t), "layer offsets");
    m->w.layers = px_calloc(cfg->n_layers, sizeof(LayerWeights), "layer views");
    if (!m->layer_begin || !m->w.layers || build_table(m)) goto fail;
    m->params = px_calloc(m->n_params, sizeof(float), "parameters");
    if (!m->params) goto fail;
    point_views(m, &m->w, m->params);
    return 0;
fail:
    model_free(m);
    return -1;
}

size_t model_param_count(const ModelConfig *cfg) {
    Model m;
    memset(&m, 0, sizeof m);
    if (model_config_validate(cfg)) return 0;
    m.cfg = *cfg;
    m.layer_begin = px_calloc(cfg->n_layers + 1, sizeof(size_t), "layer offsets");
    size_t n = m.layer_begin && build_table(&m) == 0 ? m.n_params : 0;
    model_free(&m);
    return n;
}

int model_alloc_grads(Model *m) {
    if (m->grads) return 0;
    m->grads = px_calloc(m->n_params, sizeof(float), "gradients");
    m->g.layers = px_calloc(m->cfg.n_layers, sizeof(LayerWeights), "gradient views");
    if (!m->grads || !m->g.layers) {
        free(m->grads);
        free(m->g.layers);
        m->grads = NULL;
        m->g.layers = NULL;
        return -1;
    }
    point_views(m, &m->g, m->grads);
    return 0;
}

void model_free(Model *m) {
    free(m->params);
    free(m->grads);
    free(m->tensors);
    free(m->w.layers);
    free(m->g.layers);
    free(m->layer_begin);
    free(m->params16);
    memset(m, 0, sizeof *m);
}

int model_set_precision(Model *m, GemmPrecision p) {
    if (p == GEMM_FP32) {
        free(m->params16);
        m->params16 = NULL;
    } else if (!m->params16) {
        m->params16 = malloc(sizeof(bf16_t) * (m->n_params ? m->n_params : 1));
        if (!m->params16)
            return px_error("out of memory: the bf16 copy of the weights needs %.1f MB", m->n_params * 2.0 / 1e6);
    }
    m->precision = p;
    model_refresh_bf16(m);
    return 0;
}

void model_refresh_bf16(Model *m) {
    if (m->params16) bf16_from_f32_n(m->params16, m->params, m->n_params);
}

void model_init_random(Model *m, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        int is_norm = strstr(t->name, "norm") != NULL;
        for (size_t k = 0; k < t->numel; k++)
            p[k] = t->ndim == 2 ? (float)(rng_normal(&rng) * m->cfg.init_std) : (is_norm ? 1.0f : 0.0f);
    }
}

const ParamTensor *model_find_tensor(const Model *m, const char *hf_name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, hf_name) == 0) return &m->tensors[i];
    return NULL;
}

void model_zero_grads(Model *m) {
    if (m->grads) PROFILE(PROF_ZERO, memset(m->grads, 0, sizeof(float) * m->n_params));
}

/* ---------------------------------------------------------------- attention layout */

int attn_layout_validate(const AttnLayout *lay) {
    if (lay->n_seqs <= 0 || lay->seq_start[0] != 0 || lay->seq_start[lay->n_seqs] != lay->n_rows)
        return px_error("attention layout: sequences must cover rows 0..%d exactly", lay->n_rows);
    for (int s = 0; s < lay->n_seqs; s++) {
        int r0 = lay->seq_start[s], r1 = lay->seq_start[s + 1];
        if (r1 <= r0) return px_error("attention layout: sequence %d is empty", s);
        for (int r = r0; r < r1; r++) {
            int t = r - r0;
            if (lay->blk_start[r] < 0 || lay->blk_start[r] > t)
                return px_error("attention layout: row %d: blk_start %d outside 0..%d", r, lay->blk_start[r], t);
            if (lay->vis_prefix[r] < 0 || lay->vis_prefix[r] > r1 - r0)
                return px_error("attention layout: row %d: vis_prefix %d outside 0..%d", r, lay->vis_prefix[r],
                                r1 - r0);
            if (lay->pos[r] < 0) return px_error("attention layout: row %d: negative position", r);
        }
    }
    return 0;
}

size_t attn_layout_score_elems(const AttnLayout *lay) {
    size_t n = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        size_t L = (size_t)(lay->seq_start[s + 1] - lay->seq_start[s]);
        n += L * L;
    }
    return n;
}

static int layout_max_len(const AttnLayout *lay) {
    int mx = 0;
    for (int s = 0; s < lay->n_seqs; s++) mx = PX_MAX(mx, lay->seq_start[s + 1] - lay->seq_start[s]);
    return mx;
}

/* ---------------------------------------------------------------- activations */

void activations_free(Activations *a) {
    free(a->buffer);
    free(a->resid);
    memset(a, 0, sizeof *a);
}

/* Carves all activation views out of one buffer (or, with base == NULL, just counts floats). */
static size_t carve(Activations *a, const ModelConfig *c, float *base, int N, size_t scores, int max_len) {
    const size_t d = c->hidden_size, qkv = (size_t)(c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    const size_t q = (size_t)c->n_heads * c->head_dim, f = c->intermediate_size;
    size_t off = 0;
#define TAKE(ptr, count)              \
    do {                              \
        if (base) (ptr) = base + off; \
        off += (size_t)(count);       \
    } while (0)
    for (int l = 0; l < c->n_layers; l++) {
        TAKE(a->resid[l], N * d);
        TAKE(a->ln1[l], N * d);
        TAKE(a->rstd1[l], N);
        TAKE(a->qkv[l], N * qkv);
        TAKE(a->att[l], scores * c->n_heads);
        TAKE(a->attout[l], N * q);
        TAKE(a->resid2[l], N * d);
        TAKE(a->ln2[l], N * d);
        TAKE(a->rstd2[l], N);
        TAKE(a->gu[l], N * 2 * f);
        TAKE(a->h[l], N * f);
    }
    TAKE(a->resid_final, N * d);
    TAKE(a->lnf, N * d);
    TAKE(a->rstdf, N);
    TAKE(a->logits, (size_t)N * c->vocab_size);
    TAKE(a->d_resid, N * d);
    TAKE(a->d_tmp, N * d);
    TAKE(a->d_qkv, N * qkv);
    TAKE(a->d_attout, N * q);
    TAKE(a->d_gu, N * 2 * f);
    TAKE(a->d_h, N * f);
    TAKE(a->d_scores, (size_t)c->n_heads * max_len * max_len);
#undef TAKE
    return off;
}

int activations_reserve(Activations *a, const ModelConfig *c, const AttnLayout *lay) {
    size_t scores = attn_layout_score_elems(lay);
    int max_len = layout_max_len(lay);
    if (a->buffer && lay->n_rows <= a->cap_rows && scores <= a->cap_scores && max_len <= a->max_len) return 0;
    activations_free(a);
    /* One pointer array holds the 11 per-layer view arrays. */
    const int L = c->n_layers;
    float ***arrays[] = {&a->resid,  &a->ln1, &a->rstd1, &a->qkv, &a->att, &a->attout,
                         &a->resid2, &a->ln2, &a->rstd2, &a->gu,  &a->h};
    const int n_arrays = (int)(sizeof arrays / sizeof arrays[0]);
    float **ptrs = px_calloc((size_t)n_arrays * L, sizeof(float *), "activation views");
    if (!ptrs) return -1;
    for (int i = 0; i < n_arrays; i++) *arrays[i] = ptrs + (size_t)i * L;
    size_t n = carve(a, c, NULL, lay->n_rows, scores, max_len);
    a->buffer = malloc(sizeof(float) * n);
    if (!a->buffer) {
        free(ptrs);
        memset(a, 0, sizeof *a);
        return px_error("out of memory: activations need %.1f MB for %d rows", n * 4.0 / 1e6, lay->n_rows);
    }
    carve(a, c, a->buffer, lay->n_rows, scores, max_len);
    a->n_floats = n;
    a->cap_rows = lay->n_rows;
    a->cap_scores = scores;
    a->max_len = max_len;
    return 0;
}

/* ---------------------------------------------------------------- forward / backward */

/* A weight's bf16 copy in bf16 mode (the product then runs in bf16), NULL in fp32. */
static inline const bf16_t *W16(const Model *m, const float *p) { return model_bf16_of(m, p); }

int model_forward(Model *m, Activations *a, const int *tokens, const AttnLayout *lay) {
    const ModelConfig *c = &m->cfg;
    const int N = lay->n_rows, d = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim;
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, f = c->intermediate_size;
    if (attn_layout_validate(lay)) return -1;
    for (int n = 0; n < N; n++)
        if (tokens[n] < 0 || tokens[n] >= c->vocab_size)
            return px_error("token id %d at row %d is outside the vocabulary (size %d)", tokens[n], n, c->vocab_size);
    if (activations_reserve(a, c, lay)) return -1;

    PROFILE(PROF_EMBED_FWD, embedding_forward(a->resid[0], tokens, m->w.embed, N, d));
    /* Each residual add is done by the norm that reads its sum: resid2 += x before ln2, and the
     * down projection's output (x_next) += resid2 before the next layer's ln1 or the final norm. */
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        float *x = a->resid[l];
        float *x_next = l + 1 < c->n_layers ? a->resid[l + 1] : a->resid_final;
        if (l == 0)
            PROFILE(PROF_RMSNORM_FWD, rmsnorm_forward(a->ln1[l], a->rstd1[l], x, w->ln1, N, d, c->rms_norm_eps));
        else
            PROFILE(PROF_RMSNORM_FWD, residual_rmsnorm_forward(x, a->ln1[l], a->rstd1[l], a->resid2[l - 1], w->ln1, N,
                                                               d, c->rms_norm_eps));
        PROFILE(PROF_MATMUL_FWD,
                matmul_forward(a->qkv[l], a->ln1[l], w->wqkv, W16(m, w->wqkv), w->bqkv, N, d, qkv_dim));
        /* q and k heads */
        PROFILE(PROF_ROPE_FWD, rope_forward(a->qkv[l], lay->pos, N, nh + nkv, hd, qkv_dim, c->rope_theta));
        attention_forward(a->attout[l], a->att[l], a->qkv[l], lay, nh, nkv, hd); /* times its own parts */
        PROFILE(PROF_MATMUL_FWD, matmul_forward(a->resid2[l], a->attout[l], w->wo, W16(m, w->wo), NULL, N, q_dim, d));
        PROFILE(PROF_RMSNORM_FWD,
                residual_rmsnorm_forward(a->resid2[l], a->ln2[l], a->rstd2[l], x, w->ln2, N, d, c->rms_norm_eps));
        PROFILE(PROF_MATMUL_FWD, matmul_forward(a->gu[l], a->ln2[l], w->wgu, W16(m, w->wgu), NULL, N, d, 2 * f));
        PROFILE(PROF_SWIGLU_FWD, swiglu_forward(a->h[l], a->gu[l], N, f));
        PROFILE(PROF_MATMUL_FWD, matmul_forward(x_next, a->h[l], w->wdown, W16(m, w->wdown), NULL, N, f, d));
    }
    PROFILE(PROF_RMSNORM_FWD, residual_rmsnorm_forward(a->resid_final, a->lnf, a->rstdf, a->resid2[c->n_layers - 1],
                                                       m->w.final_norm, N, d, c->rms_norm_eps));
    PROFILE(PROF_LMHEAD_FWD,
            matmul_forward(a->logits, a->lnf, m->w.lm_head, W16(m, m->w.lm_head), NULL, N, d, c->vocab_size));
    return 0;
}

int model_backward(Model *m, Activations *a, const int *tokens, const AttnLayout *lay) {
    return model_backward_hooked(m, a, tokens, lay, NULL, NULL);
}

int model_backward_hooked(Model *m, Activations *a, const int *tokens, const AttnLayout *lay, BackwardHook hook,
                          void *ctx) {
    const ModelConfig *c = &m->cfg;
    const int N = lay->n_rows, d = c->hidden_size, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim;
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, f = c->intermediate_size;
    const size_t Nd = (size_t)N * d;
    if (!m->grads) return px_error("model_backward: gradients are not allocated");

    /* logits = lnf lm_head^T */
    PROFILE(PROF_ZERO, memset(a->d_tmp, 0, sizeof(float) * Nd));
    PROFILE(PROF_LMHEAD_BWD, matmul_backward(a->d_tmp, m->g.lm_head, NULL, a->logits, a->lnf, m->w.lm_head,
                                             W16(m, m->w.lm_head), N, d, c->vocab_size));
    PROFILE(PROF_ZERO, memset(a->d_resid, 0, sizeof(float) * Nd));
    PROFILE(PROF_RMSNORM_BWD,
            rmsnorm_backward(a->d_resid, m->g.final_norm, a->d_tmp, a->resid_final, m->w.final_norm, a->rstdf, N, d));
    if (hook) hook(ctx, c->n_layers);

    /* d_resid holds d(loss)/d(output of layer l) throughout the loop. */
    for (int l = c->n_layers - 1; l >= 0; l--) {
        const LayerWeights *w = &m->w.layers[l];
        LayerWeights *g = &m->g.layers[l];
        /* x_next = resid2 + h W_down^T: d_resid flows to resid2 unchanged */
        PROFILE(PROF_ZERO, memset(a->d_h, 0, sizeof(float) * (size_t)N * f));
        PROFILE(PROF_MATMUL_BWD,
                matmul_backward(a->d_h, g->wdown, NULL, a->d_resid, a->h[l], w->wdown, W16(m, w->wdown), N, f, d));
        if (hook) hook(ctx, BACKWARD_PROGRESS);
        PROFILE(PROF_ZERO, memset(a->d_gu, 0, sizeof(float) * (size_t)N * 2 * f));
        PROFILE(PROF_SWIGLU_BWD, swiglu_backward(a->d_gu, a->d_h, a->gu[l], N, f));
        PROFILE(PROF_ZERO, memset(a->d_tmp, 0, sizeof(float) * Nd));
        PROFILE(PROF_MATMUL_BWD,
                matmul_backward(a->d_tmp, g->wgu, NULL, a->d_gu, a->ln2[l], w->wgu, W16(m, w->wgu), N, d, 2 * f));
        if (hook) hook(ctx, BACKWARD_PROGRESS);
        PROFILE(PROF_RMSNORM_BWD,
                rmsnorm_backward(a->d_resid, g->ln2, a->d_tmp, a->resid2[l], w->ln2, a->rstd2[l], N, d));
        /* resid2 = x + attout W_o^T: d_resid now is d(resid2), which flows to x unchanged */
        PROFILE(PROF_ZERO, memset(a->d_attout, 0, sizeof(float) * (size_t)N * q_dim));
        PROFILE(PROF_MATMUL_BWD,
                matmul_backward(a->d_attout, g->wo, NULL, a->d_resid, a->attout[l], w->wo, W16(m, w->wo), N, q_dim, d));
        PROFILE(PROF_ZERO, memset(a->d_qkv, 0, sizeof(float) * (size_t)N * qkv_dim));
        /* times its own parts */
        attention_backward(a->d_qkv, a->d_scores, a->d_attout, a->qkv[l], a->att[l], lay, nh, nkv, hd);
        if (hook) hook(ctx, BACKWARD_PROGRESS);
        PROFILE(PROF_ROPE_BWD, rope_backward(a->d_qkv, lay->pos, N, nh + nkv, hd, qkv_dim, c->rope_theta));
        PROFILE(PROF_ZERO, memset(a->d_tmp, 0, sizeof(float) * Nd));
        PROFILE(PROF_MATMUL_BWD, matmul_backward(a->d_tmp, g->wqkv, g->bqkv, a->d_qkv, a->ln1[l], w->wqkv,
                                                 W16(m, w->wqkv), N, d, qkv_dim));
        PROFILE(PROF_RMSNORM_BWD,
                rmsnorm_backward(a->d_resid, g->ln1, a->d_tmp, a->resid[l], w->ln1, a->rstd1[l], N, d));
        if (hook) hook(ctx, l);
    }
    PROFILE(PROF_EMBED_BWD, embedding_backward(m->g.embed, a->d_resid, tokens, N, d));
    if (hook) hook(ctx, -1);
    return 0;
}

double model_train_flops(const ModelConfig *c, const AttnLayout *lay) {
    const double d = c->hidden_size, q = (double)c->n_heads * c->head_dim;
    const double kv = (double)c->n_kv_heads * c->head_dim, f = c->intermediate_size;
    /* matmul parameters touched per token (embedding lookup is not a matmul) */
    double per_token = c->n_layers * (d * (q + 2 * kv) + q * d + 3 * d * f) + d * c->vocab_size;
    double flops = 6.0 * per_token * lay->n_rows;
    /* attention: QK^T and PV, forward 2 matmuls, backward 4: 6 * 2 * L^2 * q per layer */
    flops += 12.0 * c->n_layers * q * (double)attn_layout_score_elems(lay);
    return flops;
}
