/* onnx_decoder.c — model_forward (src/model/model.c) written as an ONNX graph with a key/value
 * cache (onnx_decoder.h). Shapes in the comments: B batch, S this call's tokens, P past tokens,
 * T = P + S, d hidden, nh query heads, nkv key/value heads, g = nh / nkv, hd head size. */
#include "io/onnx_decoder.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/files.h"
#include "io/onnx_write.h"
#include "src/base/common.h"

enum { OPSET = 17 };

/* Names of the shared constants and tensors every layer uses. */
typedef struct {
    const char *eps, *scale, *masked;      /* float scalars: rms_norm_eps, 1/sqrt(hd), the masked score */
    const char *axis_last, *axis1, *axis2; /* int64 [1]: -1, 1, 2 (Unsqueeze and Slice axes) */
    const char *zero, *half, *hd;          /* int64 [1]: 0, hd/2, hd (Slice bounds) */
    const char *shape_q, *shape_kv;        /* Reshape [B,S,n*hd] -> [B,S,n,hd] */
    const char *shape_groups;              /* [B,nh,S,hd] -> [B,nkv,g,S,hd] */
    const char *shape_heads, *shape_merge; /* [B,nkv,g,S,hd] -> [B,nh,S,hd] -> ... -> [B,S,nh*hd] */
    const char *cos, *sin;                 /* [B,1,S,hd] for this call's positions */
    const char *allowed;                   /* bool [B,1,1,S,T]: which keys each query sees */
} Shared;

static const char *i64s(OnnxBuilder *b, size_t n, const int64_t *v) {
    int64_t dims[1] = {(int64_t)n};
    return onnx_const_i64(b, NULL, 1, dims, v);
}
static const char *i64_scalar(OnnxBuilder *b, int64_t v) { return onnx_const_i64(b, NULL, 0, NULL, &v); }
static const char *f32_scalar(OnnxBuilder *b, float v) { return onnx_const_f32(b, NULL, 0, NULL, &v); }

/* The Hugging Face tensor `name` as it is (norms, biases, the embedding table), or with transpose a
 * Linear weight [out, in] transposed to MatMul's [in, out], under name + ".T". */
static const char *weight(OnnxBuilder *b, const Model *m, const char *name, int transpose) {
    const ParamTensor *t = model_find_tensor(m, name);
    if (!t) {
        px_error("the model has no tensor %s", name);
        b->failed = 1;
        return "";
    }
    const float *src = m->params + t->offset;
    if (!transpose) return onnx_const_f32_borrowed(b, name, (size_t)t->ndim, t->shape, src); /* m outlives b */
    const int64_t rows = t->shape[0], cols = t->shape[1];
    float *tr = px_calloc(t->numel, sizeof(float), name);
    if (!tr) {
        b->failed = 1;
        return "";
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) tr[c * rows + r] = src[r * cols + c];
    char tname[128];
    snprintf(tname, sizeof tname, "%s.T", name);
    int64_t dims[2] = {cols, rows};
    return onnx_const_f32_owned(b, tname, 2, dims, tr);
}

/* model.layers.L.suffix */
static const char *layer_weight(OnnxBuilder *b, const Model *m, int l, const char *suffix, int transpose) {
    char name[128];
    snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);
    return weight(b, m, name, transpose);
}

/* cos and sin of pos * inv_freq[k] for pos < max_seq_len as rope_apply (src/model/kernels.c)
 * computes them, each [max_seq_len, hd]: cos | cos, and -sin | sin, so that RoPE is
 *     x * cos + concat(x[hd/2:], x[:hd/2]) * sin
 * (rotate_half with its sign moved into the table). */
static void rope_tables(OnnxBuilder *b, const ModelConfig *c, const char **cos_t, const char **sin_t) {
    const int hd = c->head_dim, half = hd / 2, n = c->max_seq_len;
    float *cs = px_calloc((size_t)n * hd, sizeof(float), "the RoPE cos table");
    float *sn = px_calloc((size_t)n * hd, sizeof(float), "the RoPE sin table");
    if (!cs || !sn) {
        free(cs);
        free(sn);
        b->failed = 1;
        return;
    }
    for (int k = 0; k < half; k++) {
        float inv = 1.0f / powf(c->rope_theta, (float)(2 * k) / (float)hd);
        for (int p = 0; p < n; p++) {
            float ang = (float)p * inv;
            cs[(size_t)p * hd + k] = cs[(size_t)p * hd + k + half] = cosf(ang);
            sn[(size_t)p * hd + k] = -sinf(ang);
            sn[(size_t)p * hd + k + half] = sinf(ang);
        }
    }
    int64_t dims[2] = {n, hd};
    *cos_t = onnx_const_f32_owned(b, "rope.cos", 2, dims, cs);
    *sin_t = onnx_const_f32_owned(b, "rope.sin", 2, dims, sn);
}

/* The attention mask every layer shares: query t (absolute index P + t) sees key j iff j <= P + t
 * and attention_mask[b, j] = 1. bool [B, 1, 1, S, T], to broadcast over [B, nkv, g, S, T]. */
static const char *attention_allowed(OnnxBuilder *b) {
    onnx_scope(b, "/model/mask/");
    const char *one = i64_scalar(b, 1);
    const char *T = ONNX_OP(b, "Gather", ONNX_OP(b, "Shape", "attention_mask"), one); /* scalar */
    const char *S = ONNX_OP(b, "Gather", ONNX_OP(b, "Shape", "input_ids"), one);
    const char *keys = ONNX_OP(b, "Range", i64_scalar(b, 0), T, one);           /* [T] */
    const char *queries = ONNX_OP(b, "Range", ONNX_OP(b, "Sub", T, S), T, one); /* [S] */
    const char *causal = ONNX_OP(b, "LessOrEqual", keys, ONNX_OP(b, "Unsqueeze", queries, i64s(b, 1, (int64_t[]){1})));
    const char *pad = ONNX_OP(b, "Cast", "attention_mask"); /* [B, T] */
    onnx_attr_int(b, "to", ONNX_BOOL);
    pad = ONNX_OP(b, "Unsqueeze", pad, i64s(b, 3, (int64_t[]){1, 2, 3})); /* [B, 1, 1, 1, T] */
    return ONNX_OP(b, "And", causal, pad);
}

/* x [.., d] -> x / sqrt(mean(x^2) + eps) * w, as rmsnorm_row */
static const char *rmsnorm(OnnxBuilder *b, const Shared *s, const char *x, const char *w) {
    const char *ms = ONNX_OP(b, "ReduceMean", ONNX_OP(b, "Mul", x, x));
    onnx_attr_ints(b, "axes", 1, (int64_t[]){-1});
    onnx_attr_int(b, "keepdims", 1);
    const char *r = ONNX_OP(b, "Reciprocal", ONNX_OP(b, "Sqrt", ONNX_OP(b, "Add", ms, s->eps)));
    return ONNX_OP(b, "Mul", ONNX_OP(b, "Mul", x, r), w);
}

/* x [B, S, in] @ W^T (+ bias) for the layer's projection `proj` (e.g. "self_attn.q_proj") */
static const char *linear(OnnxBuilder *b, const Model *m, int l, const char *proj, int bias, const char *x) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", proj);
    const char *y = ONNX_OP(b, "MatMul", x, layer_weight(b, m, l, name, 1));
    if (!bias) return y;
    snprintf(name, sizeof name, "%s.bias", proj);
    return ONNX_OP(b, "Add", y, layer_weight(b, m, l, name, 0));
}

/* [B, S, n*hd] -> [B, n, S, hd] */
static const char *split_heads(OnnxBuilder *b, const char *x, const char *shape) {
    const char *y = ONNX_OP(b, "Transpose", ONNX_OP(b, "Reshape", x, shape));
    onnx_attr_ints(b, "perm", 4, (int64_t[]){0, 2, 1, 3});
    return y;
}

/* RoPE on x [B, n, S, hd] (rope_tables) */
static const char *rope(OnnxBuilder *b, const Shared *s, const char *x) {
    const char *lo = ONNX_OP(b, "Slice", x, s->zero, s->half, s->axis_last);
    const char *hi = ONNX_OP(b, "Slice", x, s->half, s->hd, s->axis_last);
    const char *rot = ONNX_OP(b, "Concat", hi, lo);
    onnx_attr_int(b, "axis", -1);
    return ONNX_OP(b, "Add", ONNX_OP(b, "Mul", x, s->cos), ONNX_OP(b, "Mul", rot, s->sin));
}

/* One decoder layer: h [B, S, d] -> h [B, S, d]; writes present.l.key/value. */
static const char *layer(OnnxBuilder *b, const Model *m, const Shared *s, int l, const char *h) {
    const ModelConfig *c = &m->cfg;
    char past_k[64], past_v[64], present_k[64], present_v[64];
    snprintf(past_k, sizeof past_k, "past_key_values.%d.key", l);
    snprintf(past_v, sizeof past_v, "past_key_values.%d.value", l);
    snprintf(present_k, sizeof present_k, "present.%d.key", l);
    snprintf(present_v, sizeof present_v, "present.%d.value", l);
    onnx_scope(b, "/model/layers.%d/attn/", l);
    const char *x = rmsnorm(b, s, h, layer_weight(b, m, l, "input_layernorm.weight", 0));
    const char *q = split_heads(b, linear(b, m, l, "self_attn.q_proj", c->qkv_bias, x), s->shape_q);
    const char *k = split_heads(b, linear(b, m, l, "self_attn.k_proj", c->qkv_bias, x), s->shape_kv);
    const char *v = split_heads(b, linear(b, m, l, "self_attn.v_proj", c->qkv_bias, x), s->shape_kv);
    q = rope(b, s, q);
    k = ONNX_OP_TO(b, present_k, "Concat", past_k, rope(b, s, k)); /* [B, nkv, T, hd] */
    onnx_attr_int(b, "axis", 2);
    v = ONNX_OP_TO(b, present_v, "Concat", past_v, v);
    onnx_attr_int(b, "axis", 2);
    /* query head i uses key/value head i / g: queries as [B, nkv, g, S, hd], keys and values as
     * [B, nkv, 1, T, hd] broadcast over the group */
    q = ONNX_OP(b, "Reshape", q, s->shape_groups);
    const char *kt = ONNX_OP(b, "Transpose", ONNX_OP(b, "Unsqueeze", k, s->axis2)); /* [B, nkv, 1, hd, T] */
    onnx_attr_ints(b, "perm", 5, (int64_t[]){0, 1, 2, 4, 3});
    const char *scores = ONNX_OP(b, "Mul", ONNX_OP(b, "MatMul", q, kt), s->scale); /* [B, nkv, g, S, T] */
    scores = ONNX_OP(b, "Where", s->allowed, scores, s->masked);
    const char *p = ONNX_OP(b, "Softmax", scores);
    onnx_attr_int(b, "axis", -1);
    const char *o = ONNX_OP(b, "MatMul", p, ONNX_OP(b, "Unsqueeze", v, s->axis2)); /* [B, nkv, g, S, hd] */
    o = ONNX_OP(b, "Transpose", ONNX_OP(b, "Reshape", o, s->shape_heads));         /* [B, S, nh, hd] */
    onnx_attr_ints(b, "perm", 4, (int64_t[]){0, 2, 1, 3});
    o = ONNX_OP(b, "Reshape", o, s->shape_merge);
    h = ONNX_OP(b, "Add", h, linear(b, m, l, "self_attn.o_proj", 0, o));

    onnx_scope(b, "/model/layers.%d/mlp/", l);
    x = rmsnorm(b, s, h, layer_weight(b, m, l, "post_attention_layernorm.weight", 0));
    const char *gate = linear(b, m, l, "mlp.gate_proj", 0, x);
    const char *up = linear(b, m, l, "mlp.up_proj", 0, x);
    const char *act = ONNX_OP(b, "Mul", ONNX_OP(b, "Mul", gate, ONNX_OP(b, "Sigmoid", gate)), up);
    return ONNX_OP(b, "Add", h, linear(b, m, l, "mlp.down_proj", 0, act));
}

/* The graph's inputs and outputs in Optimum's order. */
static void declare_io(OnnxBuilder *b, const ModelConfig *c) {
    const OnnxDim bs[2] = {{.param = "batch_size"}, {.param = "sequence_length"}};
    const OnnxDim bt[2] = {{.param = "batch_size"}, {.param = "total_sequence_length"}};
    const OnnxDim past[4] = {
        {.param = "batch_size"}, {.value = c->n_kv_heads}, {.param = "past_sequence_length"}, {.value = c->head_dim}};
    const OnnxDim present[4] = {
        {.param = "batch_size"}, {.value = c->n_kv_heads}, {.param = "total_sequence_length"}, {.value = c->head_dim}};
    const OnnxDim logits[3] = {{.param = "batch_size"}, {.param = "sequence_length"}, {.value = c->vocab_size}};
    char name[64];
    onnx_input(b, "input_ids", ONNX_INT64, 2, bs);
    onnx_input(b, "attention_mask", ONNX_INT64, 2, bt);
    onnx_input(b, "position_ids", ONNX_INT64, 2, bs);
    onnx_output(b, "logits", ONNX_FLOAT, 3, logits);
    for (int l = 0; l < c->n_layers; l++)
        for (int kv = 0; kv < 2; kv++) {
            snprintf(name, sizeof name, "past_key_values.%d.%s", l, kv ? "value" : "key");
            onnx_input(b, name, ONNX_FLOAT, 4, past);
            snprintf(name, sizeof name, "present.%d.%s", l, kv ? "value" : "key");
            onnx_output(b, name, ONNX_FLOAT, 4, present);
        }
}

static void build(OnnxBuilder *b, const Model *m) {
    const ModelConfig *c = &m->cfg;
    const int64_t nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim;
    declare_io(b, c);
    onnx_scope(b, "/model/");
    Shared s = {
        .eps = f32_scalar(b, c->rms_norm_eps),
        .scale = f32_scalar(b, 1.0f / sqrtf((float)hd)),
        .masked = f32_scalar(b, -FLT_MAX),
        .axis_last = i64s(b, 1, (int64_t[]){-1}),
        .axis1 = i64s(b, 1, (int64_t[]){1}),
        .axis2 = i64s(b, 1, (int64_t[]){2}),
        .zero = i64s(b, 1, (int64_t[]){0}),
        .half = i64s(b, 1, (int64_t[]){hd / 2}),
        .hd = i64s(b, 1, (int64_t[]){hd}),
        /* Reshape: 0 keeps that dimension, -1 takes what is left */
        .shape_q = i64s(b, 4, (int64_t[]){0, 0, nh, hd}),
        .shape_kv = i64s(b, 4, (int64_t[]){0, 0, nkv, hd}),
        .shape_groups = i64s(b, 5, (int64_t[]){0, nkv, nh / nkv, -1, hd}),
        .shape_heads = i64s(b, 4, (int64_t[]){0, nh, -1, hd}),
        .shape_merge = i64s(b, 3, (int64_t[]){0, 0, nh * hd}),
    };
    const char *cos_t = "", *sin_t = "";
    rope_tables(b, c, &cos_t, &sin_t);
    onnx_scope(b, "/model/rope/");
    s.cos = ONNX_OP(b, "Unsqueeze", ONNX_OP(b, "Gather", cos_t, "position_ids"), s.axis1); /* [B, 1, S, hd] */
    s.sin = ONNX_OP(b, "Unsqueeze", ONNX_OP(b, "Gather", sin_t, "position_ids"), s.axis1);
    s.allowed = attention_allowed(b);

    onnx_scope(b, "/model/embed/");
    const char *embed = weight(b, m, "model.embed_tokens.weight", 0);
    const char *h = ONNX_OP(b, "Gather", embed, "input_ids"); /* [B, S, d] */
    for (int l = 0; l < c->n_layers; l++) h = layer(b, m, &s, l, h);

    onnx_scope(b, "/model/head/");
    h = rmsnorm(b, &s, h, weight(b, m, "model.norm.weight", 0));
    const char *head;
    if (c->tie_embeddings) {
        head = ONNX_OP_TO(b, "lm_head.weight.T", "Transpose", embed); /* [d, V] */
        onnx_attr_ints(b, "perm", 2, (int64_t[]){1, 0});
    } else {
        head = weight(b, m, "lm_head.weight", 1);
    }
    ONNX_OP_TO(b, "logits", "MatMul", h, head);
}

int onnx_decoder_fits_inline(const ModelConfig *c) {
    /* the weights (a tied head adds none), the two RoPE tables, and room for the graph itself */
    double bytes = 4.0 * ((double)model_param_count(c) + 2.0 * c->max_seq_len * c->head_dim) + (1 << 20);
    return bytes <= (double)ONNX_INLINE_MAX;
}

int onnx_decoder_check(const ModelConfig *c, OnnxData data) {
    if (model_config_validate(c)) return -1;
    if (data == ONNX_DATA_INLINE && !onnx_decoder_fits_inline(c))
        return px_error("--onnx-data inline: the model's fp32 weights take %.2f GB, over the 2 GiB an ONNX file "
                        "holds inline (protobuf's limit); use --onnx-data external",
                        4.0 * (double)model_param_count(c) / 1e9);
    return 0;
}

int onnx_export_decoder(const char *dir, const Model *m, OnnxData data, OnnxReport *r) {
    char sub[PX_PATH_MAX + 16], path[PX_PATH_MAX + 32];
    if (onnx_decoder_check(&m->cfg, data)) return -1;
    const int ext = data == ONNX_DATA_EXTERNAL || (data == ONNX_DATA_AUTO && !onnx_decoder_fits_inline(&m->cfg));
    snprintf(sub, sizeof sub, "%s/onnx", dir);
    snprintf(path, sizeof path, "%s/%s", dir, ONNX_DECODER_FILE);
    if (file_mkdirs(sub)) return -1;
    OnnxBuilder b;
    onnx_builder_init(&b);
    build(&b, m);
    char doc[512];
    snprintf(doc, sizeof doc,
             "%s decoder exported by proact: %d layers, d=%d, %d query heads and %d key/value heads of %d, "
             "vocabulary %d, RoPE theta %g over %d positions; inputs and outputs as Optimum's decoder with past",
             model_arch_hf_class(m->cfg.arch), m->cfg.n_layers, m->cfg.hidden_size, m->cfg.n_heads, m->cfg.n_kv_heads,
             m->cfg.head_dim, m->cfg.vocab_size, m->cfg.rope_theta, m->cfg.max_seq_len);
    OnnxWritten w = {0};
    int rc = onnx_write_model(path, &b, OPSET, "proact_decoder", doc, ext ? ONNX_DECODER_DATA : NULL, &w);
    char data_path[PX_PATH_MAX + 48];
    snprintf(data_path, sizeof data_path, "%s/%s", sub, ONNX_DECODER_DATA);
    if (rc == 0 && !ext && unlink(data_path) != 0 && errno != ENOENT) /* a data file of an earlier export */
        rc = px_error("%s: cannot remove it (the new model.onnx is inline): %s", data_path, strerror(errno));
    if (rc == 0 && r) {
        r->n_nodes = b.n_nodes;
        r->n_initializers = b.n_inits;
        r->bytes = w.model_bytes;
        r->data_bytes = w.data_bytes;
        r->n_external = w.n_external;
    }
    onnx_builder_free(&b);
    return rc;
}
