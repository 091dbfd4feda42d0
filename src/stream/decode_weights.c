/* decode_weights.c — the bf16 / int8 copies of the matrices decoding reads (decode_weights.h). */
#include "src/stream/decode_weights.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/model/gemv.h"

/* The matrices of one token, in the order decode reads them: per layer q/k/v, o, gate/up, down;
 * then the LM head. rows x cols each, stored [rows, cols]. */
typedef struct {
    const float *w;
    int rows, cols;
    GemmMat *dst;
} MatRef;

static int list_matrices(DecodeWeights *dw, const Model *m, MatRef *out) {
    const ModelConfig *c = &m->cfg;
    const int d = c->hidden_size, q_dim = c->n_heads * c->head_dim, f = c->intermediate_size;
    const int qkv_dim = (c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    int n = 0;
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        DecodeLayer *dl = &dw->layers[l];
        out[n++] = (MatRef){w->wqkv, qkv_dim, d, &dl->wqkv};
        out[n++] = (MatRef){w->wo, d, q_dim, &dl->wo};
        out[n++] = (MatRef){w->wgu, 2 * f, d, &dl->wgu};
        out[n++] = (MatRef){w->wdown, d, f, &dl->wdown};
    }
    out[n++] = (MatRef){m->w.lm_head, c->vocab_size, d, &dw->lm_head};
    return n;
}

int decode_weights_make(DecodeWeights *dw, const Model *m, DecodeWeightType type) {
    memset(dw, 0, sizeof *dw);
    dw->type = type;
    dw->model = m;
    const int L = m->cfg.n_layers;
    dw->layers = px_calloc((size_t)L, sizeof(DecodeLayer), "the decode weights");
    MatRef *mats = px_calloc((size_t)4 * L + 1, sizeof(MatRef), "the decode weights");
    if (!dw->layers || !mats) {
        free(mats);
        decode_weights_free(dw);
        return -1;
    }
    const int n = list_matrices(dw, m, mats);
    size_t weights = 0, rows = 0;
    for (int i = 0; i < n; i++) weights += (size_t)mats[i].rows * mats[i].cols, rows += (size_t)mats[i].rows;
    if (type == DECODE_FP32) { /* views of the model: nothing copied */
        for (int i = 0; i < n; i++) *mats[i].dst = gemm_f32(mats[i].w, mats[i].cols, 1);
        dw->bytes = sizeof(float) * weights;
        free(mats);
        return 0;
    }
    const size_t esize = type == DECODE_BF16 ? sizeof(bf16_t) : 1;
    /* each matrix starts on a 64-byte line, so that a tile's loads do not straddle two */
    size_t total = 0;
    for (int i = 0; i < n; i++) total += ((size_t)mats[i].rows * mats[i].cols * esize + 63) / 64 * 64;
    dw->data = aligned_alloc(64, total);
    if (type == DECODE_INT8) dw->scales = px_calloc(rows, sizeof(float), "the int8 scales");
    if (!dw->data || (type == DECODE_INT8 && !dw->scales)) {
        free(mats);
        decode_weights_free(dw);
        return px_error("out of memory for the %s decode weights (%zu MB)", decode_weight_type_name(type), total >> 20);
    }
    char *p = dw->data;
    float *sc = dw->scales;
    for (int i = 0; i < n; i++) {
        const MatRef *r = &mats[i];
        const size_t count = (size_t)r->rows * r->cols;
        if (type == DECODE_BF16) {
            bf16_t *dst = (bf16_t *)p;
            for (size_t e = 0; e < count; e++) dst[e] = bf16_from_f32(r->w[e]);
            *r->dst = gemm_bf16(dst, r->cols, 1);
        } else {
            gemv_quantize_i8((int8_t *)p, sc, r->w, r->rows, r->cols, r->cols);
            *r->dst = gemm_i8((const int8_t *)p, sc, r->cols, 1);
            sc += r->rows;
        }
        p += (count * esize + 63) / 64 * 64;
    }
    dw->bytes = esize * weights;
    free(mats);
    return 0;
}

void decode_weights_free(DecodeWeights *dw) {
    free(dw->layers);
    free(dw->data);
    free(dw->scales);
    memset(dw, 0, sizeof *dw);
}

int decode_weight_type_parse(const char *s, DecodeWeightType *out) {
    if (!strcmp(s, "fp32")) *out = DECODE_FP32;
    else if (!strcmp(s, "bf16")) *out = DECODE_BF16;
    else if (!strcmp(s, "int8")) *out = DECODE_INT8;
    else return px_error("expected fp32, bf16 or int8, got '%s'", s);
    return 0;
}

const char *decode_weight_type_name(DecodeWeightType t) {
    return t == DECODE_BF16 ? "bf16" : t == DECODE_INT8 ? "int8" : "fp32";
}
