/* gemv.h — products of a few activation rows with a weight matrix, for decoding.
 *
 *     y[m, n] = alpha * x[m, k] W[n, k]^T + beta * y[m, n]        row-major, x and y fp32
 *
 * W is stored [n, k] (a weight [OC, IC], used transposed) in fp32, bf16, or int8 with one fp32
 * scale per row (W[j, t] = scale[j] * q[j, t]). Decoding one token reads every weight once and
 * does 2 flops per weight read, so these products run at the speed W streams from memory: each
 * kernel reads W once per call for all m rows (4 rows of W at a time, every x row against them
 * while they sit in L1), and fewer bytes per weight (bf16: 2, int8: 1) mean a faster token.
 *
 * Semantics (what the tests bound):
 *   bf16 W    x is rounded to bf16 first, then bf16 x bf16 products accumulate in fp32 (AVX-512
 *             BF16 vdpbf16ps): the "bf16 inputs, fp32 accumulation" of gemm.h's GEMM_BF16, so a
 *             product gives the same result, up to summation order, on either path.
 *   fp32 W    under GEMM_BF16 the same: W is rounded to bf16 as it is read (vcvtne2ps2bf16).
 *   int8 W    weight-only: x stays fp32 and each int8 converts exactly to fp32; only the
 *             weights' rounding (at most scale/2 each) is an error. Rounding x to bf16 would add
 *             error and save nothing: x is a few KB that sit in L1, the bytes are all in W.
 * Every kernel has a portable scalar twin (the same arithmetic in plain loops) and, for bf16 and
 * int8 weights, an AVX2+FMA one; they run when the CPU lacks AVX-512 (F, BW, VL; BF16 for the bf16
 * kernels) and are compared with each other in tests/model/test_gemv.c. Both vcvtne2ps2bf16 and vdpbf16ps treat fp32 denormals (|v| < 1.2e-38)
 * as zero; the portable twin does not. Nothing else differs but summation order.
 */
#ifndef PROACT_GEMV_H
#define PROACT_GEMV_H

#include <stdint.h>

#include "src/model/gemm.h"

/* gemv_try takes products up to this many activation rows; above it a blocked GEMM wins. */
#define GEMV_MAX_M 16

/* The decode door for gemm(): handles C = alpha A B^T + beta C and returns 1 when prec is
 * GEMM_BF16, A is fp32 activations [m, k] (not transposed), B is a weight stored [n, k] used
 * transposed (fp32, bf16, or int8 with scale), 1 <= m <= GEMV_MAX_M, n, k >= 1; otherwise
 * returns 0 and touches nothing. GEMM_FP32 products are never taken: they stay on OpenBLAS, the
 * bit-for-bit reference. */
int gemv_try(GemmPrecision prec, int m, int n, int k, float alpha, GemmMat A, GemmMat B, float beta, float *C, int ldc);

/* The same product for any m >= 1 (W is streamed once per call; x rows reuse it from L1, so
 * beyond a few dozen rows a blocked GEMM is faster). W.trans must be 1 (stored [n, k]).
 * beta == 0: y is not read (it may hold NaN). */
void gemv(int m, int n, int k, float alpha, const float *x, int ldx, GemmMat W, float beta, float *y, int ldy);

/* Per-row symmetric int8: scale[j] = max_t |W[j, t]| / 127 (1 for an all-zero row),
 * q[j, t] = round(W[j, t] / scale[j]) in [-127, 127], so |W - scale q| <= scale / 2.
 * W rows are ldw apart; q rows are cols apart. */
void gemv_quantize_i8(int8_t *q, float *scale, const float *W, int rows, int cols, int ldw);

/* Threads for the products (OpenMP over the rows of W; only products of at least
 * GEMV_PARALLEL_MIN weights are split). Default 1. */
#define GEMV_PARALLEL_MIN (1 << 16)
void gemv_set_threads(int n);
int gemv_threads(void);

/* Which kernels run: "avx512bf16", "avx512 (int8; bf16 on avx2)", "avx2" or "portable". */
const char *gemv_describe(void);
/* For the tests: 1 forces the portable kernels, 2 the AVX2 ones for bf16 and int8 weights where
 * the CPU has AVX2 (portable otherwise); 0 restores the CPU's best. */
void gemv_force_portable(int on);

#endif
