/* decode.h — incremental forward passes against two key/value caches (docs/design.md §2.6).
 *
 * Streaming keeps the source and the target in separate caches: source rows are encoded
 * against the source cache only (they never see a target token), target rows see a prefix of
 * the source cache plus the target cache causally. Keys are cached after RoPE with their own
 * group positions (source 0.., target phi+0..), so nothing is ever re-encoded; popping target
 * entries (pop and refeed) just shortens the target cache.
 *
 * This is the same computation as model_forward over the training layout (model.h AttnLayout):
 * a target row with vis source tokens visible equals a training row with vis_prefix = vis and
 * blk_start = the start of its target block. tests/stream/test_runner.c checks that.
 */
#ifndef PROACT_DECODE_H
#define PROACT_DECODE_H

#include "src/model/gemm.h"
#include "src/model/model.h"
#include "src/stream/decode_weights.h"
#include "src/stream/heads.h"

/* One side (source or target) of the cache: per layer K and V, [cap, n_kv_heads*head_dim]. */
typedef struct {
    int len, cap;
    float *k, *v;      /* [n_layers][cap][kv_dim] (fp32 cache) */
    bf16_t *k16, *v16; /* the same in bf16 (bf16 cache); the other pair is NULL */
} KvSide;

typedef struct {
    int n_layers, kv_dim;
    int bf16; /* keys and values stored rounded to bf16: half the bytes attention reads */
    KvSide src, tgt;
} KvCache;

int kv_cache_init(KvCache *c, const ModelConfig *cfg, int src_cap, int tgt_cap);
/* The same with the storage chosen: bf16 = 1 rounds keys and values to bf16 as they are
 * appended; scores, softmax and the weighted sum of values stay fp32 (each bf16 value widens
 * exactly), so the only change is that rounding (relative 2^-9 per element). */
int kv_cache_init_as(KvCache *c, const ModelConfig *cfg, int src_cap, int tgt_cap, int bf16);
void kv_cache_reset(KvCache *c); /* both sides empty, memory kept */
void kv_cache_free(KvCache *c);

/* Scratch for decode_forward, grown on demand (one per concurrent stream). */
typedef struct {
    int cap_rows, cap_keys;
    float *x, *xn, *qkv, *attout, *x2, *gu, *h, *scores; /* per-row activations */
    float *hidden;                                       /* [d] final-norm hidden state of the last row */
    float *logits;                                       /* [V] logits of the last row */
    float *att_last; /* [n_layers][n_heads][cap_keys] attention probabilities of the last row */
    int att_keys;    /* keys of the last row: visible source + target (att_last row stride is cap_keys) */
    int att_src;     /* how many of those keys are source keys (they come first) */
} DecodeScratch;

void decode_scratch_free(DecodeScratch *s);

typedef enum { DECODE_SOURCE = 0, DECODE_TARGET = 1 } DecodeSide;

/* Runs n new tokens through the model and appends their K/V to one side of the cache, with the
 * weight matrices of dw (decode_weights.h; NULL or fp32: the model's own, through sgemv).
 *   DECODE_SOURCE: positions src.len .. src.len+n-1; causal over the source cache.
 *   DECODE_TARGET: positions phi + tgt.len ..; each row sees source keys [0, vis_src) and the
 *                  target cache causally (vis_src <= src.len).
 * want_last: also compute, for the last new row, hidden [d], logits [V] and att_last.
 * 0, or -1 with px_error (bad token id, out of memory). */
int decode_forward_w(const Model *m, const DecodeWeights *dw, KvCache *c, DecodeScratch *s, const int *tokens, int n,
                     DecodeSide side, int vis_src, int phi, int want_last);
/* With the model's fp32 weights. */
static inline int decode_forward(const Model *m, KvCache *c, DecodeScratch *s, const int *tokens, int n,
                                 DecodeSide side, int vis_src, int phi, int want_last) {
    return decode_forward_w(m, NULL, c, s, tokens, n, side, vis_src, phi, want_last);
}

/* The decision cues (heads.h) of the last row of the latest decode_forward with want_last:
 * entropy and max probability of its next-token distribution, attention mass on the newest
 * `window` visible source tokens averaged over the given layers and query heads (NULL/0: all),
 * and its final hidden state (out->hidden points into s). */
void decode_cues(const Model *m, const DecodeScratch *s, int window, const int *layers, int n_layers, const int *heads,
                 int n_heads, Cues *out);

/* Entropy (nats) and largest probability of softmax(z[0..V)) (softmax_stats.c). */
void softmax_stats(const float *z, int V, float *entropy, float *maxprob);

/* Drops the newest n target entries (pop and refeed). */
void kv_cache_pop_target(KvCache *c, int n);

#endif
