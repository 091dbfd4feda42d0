/* kernels.h — one function per layer, forward and backward, fp32.
 *
 * Conventions (after llm.c): raw float pointers and explicit sizes; tensor shapes in the
 * comment; every backward ACCUMULATES (+=) into parameter and input gradients, so callers
 * zero them first. Matrix products go through cblas_sgemm; kernels_ref.c holds plain-loop
 * versions of the sgemm-based kernels that the tests compare against. The elementwise loops run
 * on OpenMP threads and give the same bits at any thread count (parallel.h).
 */
#ifndef PROACT_KERNELS_H
#define PROACT_KERNELS_H

#include "src/model/gemm.h"
#include "src/model/model.h"

/* out[N, d] = embed[tokens[n], :] */
void embedding_forward(float *out, const int *tokens, const float *embed, int N, int d);
/* dembed[tokens[n], :] += dout[n, :] */
void embedding_backward(float *dembed, const float *dout, const int *tokens, int N, int d);

/* out[N, d] = in * rsqrt(mean(in^2) + eps) * w;  rstd[N] saved for backward */
void rmsnorm_forward(float *out, float *rstd, const float *in, const float *w, int N, int d, float eps);
/* resid[N, d] += x[N, d], then out[N, d] = rmsnorm(resid) as rmsnorm_forward: the residual add
 * before a norm in the same pass over each row. */
void residual_rmsnorm_forward(float *resid, float *out, float *rstd, const float *x, const float *w, int N, int d,
                              float eps);
/* din[N, d] += ..., dw[d] += ...  given dout[N, d], in, w, rstd */
void rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w, const float *rstd,
                      int N, int d);

/* out[N, OC] = in[N, IC] W[OC, IC]^T (+ b[OC]);  b may be NULL.
 * W16: W's bf16 copy (model_bf16_of); given, the products run in bf16 (gemm.h), else in fp32. */
void matmul_forward(float *out, const float *in, const float *W, const bf16_t *W16, const float *b, int N, int IC,
                    int OC);
/* din[N, IC] += dout W;  dW[OC, IC] += dout^T in;  db[OC] += colsum(dout).  din/db may be NULL.
 * With W16 both products run in bf16 (dW still accumulates in fp32). */
void matmul_backward(float *din, float *dW, float *db, const float *dout, const float *in, const float *W,
                     const bf16_t *W16, int N, int IC, int OC);

/* RoPE (Hugging Face rotate-half) in place on n_heads heads of size hd in each row:
 * x row r at x + r*row_stride, heads contiguous; angle(k) = pos[r] * theta^(-2k/hd). */
void rope_forward(float *x, const int *pos, int N, int n_heads, int hd, int row_stride, float theta);
/* The transpose rotation: turns d(out) into d(in), in place. */
void rope_backward(float *dx, const int *pos, int N, int n_heads, int hd, int row_stride, float theta);

/* Attention over a packed layout with per-row visibility (model.h AttnLayout). Its products run
 * in fp32 in both training precisions: they are many small tiles (a head's rows x visible keys),
 * where oneDNN's per-call cost outweighs bf16's speed (small config: attention's products took
 * 2.2x longer in bf16, measured with PROACT_PROFILE=1 bench_step).
 * qkv[N, (nh+2nkv)*hd] holds q | k | v per row (after RoPE); out[N, nh*hd];
 * att[sum_s len_s^2 * nh] receives the probabilities, [seq][head][t][j], zeros where hidden.
 * Only the keys a row can see are computed (kernels.c explains how). */
void attention_forward(float *out, float *att, const float *qkv, const AttnLayout *lay, int nh, int nkv, int hd);
/* dqkv[N, qkv_dim] += ...  given dout[N, nh*hd]; scratch[nh * max_len^2]. */
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                        const AttnLayout *lay, int nh, int nkv, int hd);

/* h[N, f] = silu(gu[:, :f]) * gu[:, f:]   (gu[N, 2f] = gate | up) */
void swiglu_forward(float *h, const float *gu, int N, int f);
/* dgu[N, 2f] += ...  given dh[N, f] */
void swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int f);

/* Plain-loop references (kernels_ref.c), same contracts. */
void matmul_forward_ref(float *out, const float *in, const float *W, const float *b, int N, int IC, int OC);
void matmul_backward_ref(float *din, float *dW, float *db, const float *dout, const float *in, const float *W, int N,
                         int IC, int OC);
void attention_forward_ref(float *out, float *att, const float *qkv, const AttnLayout *lay, int nh, int nkv, int hd);
void attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att, const AttnLayout *lay,
                            int nh, int nkv, int hd);

/* Serial twins of the threaded kernels (kernels_ref.c): the loops as they were before threading,
 * which the fast kernels reproduce bit for bit at any thread count. attention_*_dense compute the
 * whole L x L score matrix per head with one sgemm and mask it (the attention before it skipped
 * hidden keys). */
void embedding_forward_ref(float *out, const int *tokens, const float *embed, int N, int d);
void embedding_backward_ref(float *dembed, const float *dout, const int *tokens, int N, int d);
void rmsnorm_forward_ref(float *out, float *rstd, const float *in, const float *w, int N, int d, float eps);
void rmsnorm_backward_ref(float *din, float *dw, const float *dout, const float *in, const float *w, const float *rstd,
                          int N, int d);
void rope_forward_ref(float *x, const int *pos, int N, int n_heads, int hd, int row_stride, float theta);
void rope_backward_ref(float *dx, const int *pos, int N, int n_heads, int hd, int row_stride, float theta);
void swiglu_forward_ref(float *h, const float *gu, int N, int f);
void swiglu_backward_ref(float *dgu, const float *dh, const float *gu, int N, int f);
void attention_forward_dense(float *out, float *att, const float *qkv, const AttnLayout *lay, int nh, int nkv, int hd);
void attention_backward_dense(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                              const AttnLayout *lay, int nh, int nkv, int hd);

/* Whether key j (relative) is visible from row `row` at relative index t. */
static inline int attn_visible(const AttnLayout *lay, int row, int t, int j) {
    return j < lay->vis_prefix[row] || (j >= lay->blk_start[row] && j <= t);
}

#endif
