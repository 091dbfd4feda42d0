/* gguf.c — a model as a GGUF v3 file (see gguf.h).
 * Recipe: list the tensors (llama.cpp names, the fused matrices split, q/k rows permuted for llama)
 * -> metadata KVs (general.*, {arch}.*, tokenizer.*, proact.json) -> tensor infos with offsets
 * aligned to 32 -> one pass over the tensors converting each row (F32, BF16 or Q8_0) straight into
 * the temporary file of atomic_write. */
#include "io/gguf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/files.h"
#include "io/proact_json.h"
#include "io/safetensors.h"
#include "src/base/bf16.h"
#include "src/base/common.h"

/* GGUF metadata value types */
enum { GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10 };
/* general.file_type (llama.h's llama_ftype) */
enum { FTYPE_ALL_F32 = 0, FTYPE_MOSTLY_Q8_0 = 7, FTYPE_MOSTLY_BF16 = 32 };

const char *gguf_weights_name(GgufWeights w) {
    return w == GGUF_WEIGHTS_BF16 ? "bf16" : w == GGUF_WEIGHTS_Q8_0 ? "q8_0" : "f32";
}

/* ---- conversions --------------------------------------------------------------------------- */

static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

uint16_t gguf_f32_to_f16(float x) {
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00u;  /* NaN stays a (quiet) NaN */
    if (a >= 0x47800000u) return sign | 0x7C00u; /* >= 2^16 (and inf): inf */
    int e = (int)(a >> 23) - 127;
    if (e < -25) return sign;                    /* below half the smallest subnormal (also f32 subnormals and 0) */
    uint32_t mant = (a & 0x7FFFFFu) | 0x800000u; /* 24 bits with the implicit one */
    /* keep 11 bits for a normal half (exponent >= -14), fewer for a subnormal one */
    int shift = e >= -14 ? 13 : 13 + (-14 - e);
    uint32_t kept = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (kept & 1u))) kept++; /* to nearest, ties to even */
    /* a carry out of the mantissa moves into the exponent (65520 and up become inf) */
    if (e >= -14) return (uint16_t)(sign | (((uint32_t)(e + 15) << 10) + kept - 0x400u));
    return (uint16_t)(sign | kept); /* kept == 0x400 is the smallest normal, as it should be */
}

void gguf_quantize_q8_0(const float *x, size_t n, uint8_t *out) {
    for (size_t b = 0; b + GGUF_Q8_0_BLOCK <= n; b += GGUF_Q8_0_BLOCK, out += 2 + GGUF_Q8_0_BLOCK) {
        float amax = 0.0f;
        for (int j = 0; j < GGUF_Q8_0_BLOCK; j++) amax = fmaxf(amax, fabsf(x[b + j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = gguf_f32_to_f16(d);
        out[0] = (uint8_t)(h & 0xFFu);
        out[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < GGUF_Q8_0_BLOCK; j++) out[2 + j] = (uint8_t)(int8_t)roundf(x[b + j] * id);
    }
}

/* ---- metadata ------------------------------------------------------------------------------ */

static int put_bytes(GgufMeta *g, const void *p, size_t n) {
    if (g->failed) return -1;
    if (n && strbuf_put(&g->buf, p, n)) {
        g->failed = 1;
        return -1;
    }
    return 0;
}

static int put_le(GgufMeta *g, uint64_t v, int bytes) {
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    return put_bytes(g, b, (size_t)bytes);
}

static int put_string(GgufMeta *g, const char *s, size_t len) { return put_le(g, len, 8) || put_bytes(g, s, len); }

static int put_key(GgufMeta *g, const char *key, uint32_t type) {
    if (put_string(g, key, strlen(key)) || put_le(g, type, 4)) return -1;
    g->n++;
    return 0;
}

int gguf_put_u32(GgufMeta *g, const char *key, uint32_t v) { return put_key(g, key, GGUF_U32) || put_le(g, v, 4); }

int gguf_put_f32(GgufMeta *g, const char *key, float v) {
    return put_key(g, key, GGUF_F32) || put_le(g, f32_bits(v), 4);
}

int gguf_put_bool(GgufMeta *g, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    return put_key(g, key, GGUF_BOOL) || put_bytes(g, &b, 1);
}

int gguf_put_str(GgufMeta *g, const char *key, const char *s, size_t len) {
    return put_key(g, key, GGUF_STRING) || put_string(g, s, len);
}

int gguf_put_str_array(GgufMeta *g, const char *key, const char *const *s, const size_t *lens, uint64_t n) {
    if (put_key(g, key, GGUF_ARRAY) || put_le(g, GGUF_STRING, 4) || put_le(g, n, 8)) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (put_string(g, s[i], lens ? lens[i] : strlen(s[i]))) return -1;
    return 0;
}

int gguf_put_i32_array(GgufMeta *g, const char *key, const int32_t *v, uint64_t n) {
    if (put_key(g, key, GGUF_ARRAY) || put_le(g, GGUF_I32, 4) || put_le(g, n, 8)) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (put_le(g, (uint32_t)v[i], 4)) return -1;
    return 0;
}

void gguf_meta_free(GgufMeta *g) {
    free(g->buf.s);
    memset(g, 0, sizeof *g);
}

/* ---- the tensors ----------------------------------------------------------------------------- */

/* One GGUF tensor: rows x cols floats of the parameter buffer (row r of the GGUF tensor is source
 * row perm(r), see src_row), written as `type`. A 1-D tensor has rows = 1... of length cols, except
 * a permuted bias, which is cols rows of one value. */
typedef struct {
    char name[64];
    const float *src;
    int64_t rows, cols;
    int ndim;
    int perm_hd; /* > 0: rows are heads of this size, permuted rotate-half -> interleaved */
    uint32_t type;
    uint64_t nbytes, offset;
} GTensor;

typedef struct {
    GTensor *t;
    int n, cap;
    uint64_t data_bytes;
} GPlan;

static int64_t row_of(const GTensor *t, int64_t r) {
    if (t->perm_hd <= 0) return r;
    /* GGUF row h*hd + 2i + j holds proact row h*hd + j*hd/2 + i */
    int64_t hd = t->perm_hd, h = r / hd, w = r % hd;
    return h * hd + (w % 2) * (hd / 2) + w / 2;
}

static uint64_t row_bytes(uint32_t type, int64_t cols) {
    return type == GGML_TYPE_Q8_0   ? (uint64_t)cols / GGUF_Q8_0_BLOCK * (2 + GGUF_Q8_0_BLOCK)
           : type == GGML_TYPE_BF16 ? (uint64_t)cols * 2
                                    : (uint64_t)cols * 4;
}

static int plan_add(GPlan *p, GgufWeights w, const char *name, const float *src, int64_t rows, int64_t cols, int ndim,
                    int perm_hd, int *kept_f32) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        GTensor *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t) return px_error("out of memory listing the GGUF tensors");
        p->t = t;
        p->cap = cap;
    }
    GTensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->src = src;
    t->rows = rows;
    t->cols = cols;
    t->ndim = ndim;
    t->perm_hd = perm_hd;
    t->type = GGML_TYPE_F32;
    if (ndim == 2 && w == GGUF_WEIGHTS_BF16) t->type = GGML_TYPE_BF16;
    if (ndim == 2 && w == GGUF_WEIGHTS_Q8_0) {
        if (cols % GGUF_Q8_0_BLOCK == 0) t->type = GGML_TYPE_Q8_0;
        else (*kept_f32)++; /* a row that is no whole number of blocks cannot be Q8_0 */
    }
    t->nbytes = (uint64_t)rows * row_bytes(t->type, cols);
    t->offset = p->data_bytes;
    p->data_bytes += (t->nbytes + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT;
    return 0;
}

/* A 1-D tensor of n floats; with perm_hd a bias whose elements are permuted like matrix rows. */
static int plan_vec(GPlan *p, GgufWeights w, const char *name, const float *src, int64_t n, int perm_hd, int *k) {
    if (perm_hd > 0) return plan_add(p, w, name, src, n, 1, 1, perm_hd, k);
    return plan_add(p, w, name, src, 1, n, 1, 0, k);
}

static int plan_model(GPlan *p, const Model *m, GgufWeights w, int *kept) {
    const ModelConfig *c = &m->cfg;
    const int64_t d = c->hidden_size, hd = c->head_dim, f = c->intermediate_size;
    const int64_t nq = (int64_t)c->n_heads * hd, nkv = (int64_t)c->n_kv_heads * hd;
    /* llama.cpp's llama graph rotates interleaved pairs: permute q and k; qwen2 is NEOX (rotate-half) */
    const int perm = c->arch == MODEL_ARCH_LLAMA ? c->head_dim : 0;
    char name[64];
    if (plan_add(p, w, "token_embd.weight", m->w.embed, c->vocab_size, d, 2, 0, kept)) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *L = &m->w.layers[l];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d.%s", l, s), name)
        if (plan_vec(p, w, NAME("attn_norm.weight"), L->ln1, d, 0, kept) ||
            plan_add(p, w, NAME("attn_q.weight"), L->wqkv, nq, d, 2, perm, kept) ||
            plan_add(p, w, NAME("attn_k.weight"), L->wqkv + nq * d, nkv, d, 2, perm, kept) ||
            plan_add(p, w, NAME("attn_v.weight"), L->wqkv + (nq + nkv) * d, nkv, d, 2, 0, kept))
            return -1;
        if (L->bqkv && (plan_vec(p, w, NAME("attn_q.bias"), L->bqkv, nq, perm, kept) ||
                        plan_vec(p, w, NAME("attn_k.bias"), L->bqkv + nq, nkv, perm, kept) ||
                        plan_vec(p, w, NAME("attn_v.bias"), L->bqkv + nq + nkv, nkv, 0, kept)))
            return -1;
        if (plan_add(p, w, NAME("attn_output.weight"), L->wo, d, nq, 2, 0, kept) ||
            plan_vec(p, w, NAME("ffn_norm.weight"), L->ln2, d, 0, kept) ||
            plan_add(p, w, NAME("ffn_gate.weight"), L->wgu, f, d, 2, 0, kept) ||
            plan_add(p, w, NAME("ffn_up.weight"), L->wgu + f * d, f, d, 2, 0, kept) ||
            plan_add(p, w, NAME("ffn_down.weight"), L->wdown, d, f, 2, 0, kept))
            return -1;
#undef NAME
    }
    if (plan_vec(p, w, "output_norm.weight", m->w.final_norm, d, 0, kept)) return -1;
    if (!c->tie_embeddings && plan_add(p, w, "output.weight", m->w.lm_head, c->vocab_size, d, 2, 0, kept)) return -1;
    return 0;
}

/* The tensor infos: name, n_dims, ne (innermost first: a [rows, cols] matrix is ne = {cols, rows}),
 * type, offset. */
static int put_infos(GgufMeta *g, const GPlan *p) {
    for (int i = 0; i < p->n; i++) {
        const GTensor *t = &p->t[i];
        if (put_string(g, t->name, strlen(t->name)) || put_le(g, (uint32_t)t->ndim, 4)) return -1;
        if (t->ndim == 2 ? put_le(g, (uint64_t)t->cols, 8) || put_le(g, (uint64_t)t->rows, 8)
                         : put_le(g, (uint64_t)(t->rows * t->cols), 8))
            return -1;
        if (put_le(g, t->type, 4) || put_le(g, t->offset, 8)) return -1;
    }
    return 0;
}

/* ---- the metadata of a model --------------------------------------------------------------- */

static int arch_meta(GgufMeta *g, const ModelConfig *c, GgufWeights w, const char *name) {
    const char *arch = model_arch_name(c->arch);
    char key[96];
#define K(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
    const uint32_t ftype = w == GGUF_WEIGHTS_BF16   ? FTYPE_MOSTLY_BF16
                           : w == GGUF_WEIGHTS_Q8_0 ? FTYPE_MOSTLY_Q8_0
                                                    : FTYPE_ALL_F32;
    int rc = gguf_put_str(g, "general.architecture", arch, strlen(arch)) ||
             gguf_put_str(g, "general.type", "model", 5) || gguf_put_str(g, "general.name", name, strlen(name)) ||
             gguf_put_u32(g, "general.alignment", GGUF_ALIGNMENT) || gguf_put_u32(g, "general.file_type", ftype) ||
             (w == GGUF_WEIGHTS_Q8_0 && gguf_put_u32(g, "general.quantization_version", 2)) ||
             gguf_put_u32(g, K("vocab_size"), (uint32_t)c->vocab_size) ||
             gguf_put_u32(g, K("context_length"), (uint32_t)c->max_seq_len) ||
             gguf_put_u32(g, K("embedding_length"), (uint32_t)c->hidden_size) ||
             gguf_put_u32(g, K("block_count"), (uint32_t)c->n_layers) ||
             gguf_put_u32(g, K("feed_forward_length"), (uint32_t)c->intermediate_size) ||
             gguf_put_u32(g, K("attention.head_count"), (uint32_t)c->n_heads) ||
             gguf_put_u32(g, K("attention.head_count_kv"), (uint32_t)c->n_kv_heads) ||
             gguf_put_f32(g, K("rope.freq_base"), c->rope_theta) ||
             gguf_put_u32(g, K("rope.dimension_count"), (uint32_t)c->head_dim) ||
             gguf_put_f32(g, K("attention.layer_norm_rms_epsilon"), c->rms_norm_eps);
    /* llama.cpp assumes head_dim = embedding_length / head_count unless told */
    if (!rc && c->head_dim * c->n_heads != c->hidden_size)
        rc = gguf_put_u32(g, K("attention.key_length"), (uint32_t)c->head_dim) ||
             gguf_put_u32(g, K("attention.value_length"), (uint32_t)c->head_dim);
#undef K
    return rc ? -1 : 0;
}

/* proact.json: its text as the KV "proact.json"; its tgt_end as the eos token (*eos, or -1). */
static int proact_meta(GgufMeta *g, const char *path, const Model *m, int *eos) {
    *eos = -1;
    if (!path) return 0;
    ProactJson pj;
    if (proact_json_read(path, &pj) || proact_json_check(path, &pj, m->cfg.vocab_size, m->cfg.hidden_size)) return -1;
    if (pj.tokens.tgt_end.n == 1) *eos = pj.tokens.tgt_end.ids[0];
    proact_json_free(&pj);
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, &text, &len)) return -1;
    int rc = gguf_put_str(g, "proact.json", text, len);
    free(text);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------------- */

typedef struct {
    const GPlan *plan;
    const GgufMeta *head; /* everything before the data */
    uint8_t *row;         /* scratch: one converted row */
    float *vals;          /* scratch: one source row (permuted biases gather here) */
    int bad_tensor;       /* index of a tensor with a non-finite value, or -1 */
} WriteCtx;

static int write_zeros(FILE *fp, uint64_t n) {
    static const uint8_t zeros[GGUF_ALIGNMENT];
    return n == 0 || fwrite(zeros, 1, (size_t)n, fp) == n ? 0 : -1;
}

static int write_tensor(FILE *fp, WriteCtx *w, int ti) {
    const GTensor *t = &w->plan->t[ti];
    const int64_t rows = t->ndim == 1 && t->perm_hd > 0 ? 1 : t->rows;
    const int64_t cols = t->ndim == 1 && t->perm_hd > 0 ? t->rows : t->cols;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = t->src + row_of(t, r) * t->cols;
        if (t->ndim == 1 && t->perm_hd > 0) { /* a bias: gather its permuted elements */
            for (int64_t i = 0; i < cols; i++) w->vals[i] = t->src[row_of(t, i)];
            x = w->vals;
        }
        for (int64_t i = 0; i < cols; i++)
            if (!isfinite(x[i])) {
                w->bad_tensor = ti;
                errno = EINVAL;
                return -1;
            }
        size_t nb = (size_t)row_bytes(t->type, cols);
        if (t->type == GGML_TYPE_F32) {
            memcpy(w->row, x, nb); /* little-endian host: the bytes are the file's */
        } else if (t->type == GGML_TYPE_BF16) {
            for (int64_t i = 0; i < cols; i++) {
                uint16_t h = bf16_from_f32(x[i]);
                w->row[2 * i] = (uint8_t)(h & 0xFFu);
                w->row[2 * i + 1] = (uint8_t)(h >> 8);
            }
        } else {
            gguf_quantize_q8_0(x, (size_t)cols, w->row);
        }
        if (fwrite(w->row, 1, nb, fp) != nb) return -1;
    }
    return write_zeros(fp, (GGUF_ALIGNMENT - t->nbytes % GGUF_ALIGNMENT) % GGUF_ALIGNMENT);
}

static int write_body(FILE *fp, void *ctx) {
    WriteCtx *w = ctx;
    const GgufMeta *h = w->head;
    if (fwrite(h->buf.s, 1, h->buf.n, fp) != h->buf.n) return -1;
    if (write_zeros(fp, (GGUF_ALIGNMENT - h->buf.n % GGUF_ALIGNMENT) % GGUF_ALIGNMENT)) return -1;
    for (int i = 0; i < w->plan->n; i++)
        if (write_tensor(fp, w, i)) return -1;
    return 0;
}

int gguf_export(const char *path, const Model *m, const GgufExport *x, GgufReport *report) {
    GPlan plan = {0};
    GgufMeta kv = {0}, head = {0};
    WriteCtx w = {.plan = &plan, .head = &head, .bad_tensor = -1};
    int kept = 0, eos = -1, rc = -1;
    if (plan_model(&plan, m, x->weights, &kept)) goto done;
    if (arch_meta(&kv, &m->cfg, x->weights, x->name ? x->name : "proact") ||
        proact_meta(&kv, x->proact_json_path, m, &eos) ||
        (x->tokenizer_path && gguf_vocab_meta(&kv, x->tokenizer_path, m->cfg.vocab_size, eos)))
        goto done;
    /* the header: magic, version, counts, the KVs, the tensor infos */
    if (put_bytes(&head, "GGUF", 4) || put_le(&head, 3, 4) || put_le(&head, (uint64_t)plan.n, 8) ||
        put_le(&head, kv.n, 8) || put_bytes(&head, kv.buf.s, kv.buf.n) || put_infos(&head, &plan)) {
        px_error("%s: out of memory building the GGUF header", path);
        goto done;
    }
    int64_t widest = 1;
    for (int i = 0; i < plan.n; i++) widest = plan.t[i].rows > widest ? plan.t[i].rows : widest;
    for (int i = 0; i < plan.n; i++) widest = plan.t[i].cols > widest ? plan.t[i].cols : widest;
    w.row = px_calloc((size_t)widest, 4, "GGUF row buffer");
    w.vals = px_calloc((size_t)widest, sizeof(float), "GGUF row buffer");
    if (!w.row || !w.vals) goto done;
    if (atomic_write(path, write_body, &w)) {
        if (w.bad_tensor >= 0)
            px_error("%s: tensor '%s' has a non-finite value (NaN or inf); nothing written", path,
                     plan.t[w.bad_tensor].name);
        goto done;
    }
    if (report) {
        report->n_tensors = plan.n;
        report->n_kept_f32 = kept;
        report->bytes = (head.buf.n + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT + plan.data_bytes;
    }
    rc = 0;
done:
    if (kv.failed || head.failed) px_error("%s: out of memory building the GGUF metadata", path);
    free(w.row);
    free(w.vals);
    free(plan.t);
    gguf_meta_free(&kv);
    gguf_meta_free(&head);
    return rc;
}
