/* decode_weights.h — the weight matrices decoding reads, in the precision chosen at load.
 *
 * Decoding one token reads every matrix once (q/k/v, o, gate/up, down in every layer, then the
 * LM head): its speed is the bytes per weight. A DecodeWeights holds those matrices as
 *   fp32   views of the model's own parameters (no copy; decode_forward is bit for bit the
 *          fp32 path: OpenBLAS sgemv),
 *   bf16   a rounded copy (2 bytes per weight; products with bf16 inputs and fp32 accumulation),
 *   int8   a per-row symmetric quantized copy with one fp32 scale per row (1 byte per weight;
 *          weight-only: activations stay fp32), see src/model/gemv.h.
 * Made once per loaded model and shared by every runner of it (read-only). Embeddings (the
 * lookup), norms and biases stay the model's fp32; a tied LM head gets its own copy. The model's
 * fp32 parameters stay resident: the copy adds 2 (bf16) or 1 (int8) bytes per matrix weight.
 */
#ifndef PROACT_DECODE_WEIGHTS_H
#define PROACT_DECODE_WEIGHTS_H

#include <stddef.h>

#include "src/model/gemm.h"
#include "src/model/model.h"

typedef enum { DECODE_FP32 = 0, DECODE_BF16 = 1, DECODE_INT8 = 2 } DecodeWeightType;

typedef struct {
    GemmMat wqkv, wo, wgu, wdown; /* stored [OC, IC], used transposed */
} DecodeLayer;

typedef struct {
    DecodeWeightType type;
    const Model *model;  /* made from this model (the runner checks) */
    DecodeLayer *layers; /* [n_layers]; fp32: views of the model's parameters */
    GemmMat lm_head;     /* [V, d] */
    void *data;          /* one allocation holding every copied matrix */
    float *scales;       /* int8: one per row of every matrix */
    size_t bytes;        /* bytes of matrices one decoded token reads */
} DecodeWeights;

/* 0, or -1 with px_error (out of memory). */
int decode_weights_make(DecodeWeights *dw, const Model *m, DecodeWeightType type);
void decode_weights_free(DecodeWeights *dw);

/* "fp32" | "bf16" | "int8"; 0, or -1 with px_error naming the accepted values. */
int decode_weight_type_parse(const char *s, DecodeWeightType *out);
const char *decode_weight_type_name(DecodeWeightType t);

#endif
