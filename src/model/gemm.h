/* gemm.h — the one door every matrix product of the model goes through (forward, backward,
 * attention, decode).
 *
 *     C[m, n] = alpha * op(A)[m, k] op(B)[k, n] + beta * C[m, n]        row-major, C in fp32
 *
 * Operands are typed (GemmMat): fp32, bf16 (the top half of an fp32, round-to-nearest-even), or
 * int8 with one fp32 scale per stored row (weight-only quantization for decode). `prec` is the
 * precision of the products:
 *   GEMM_FP32  both operands fp32; OpenBLAS sgemm, the reference path (bit for bit what
 *              cblas_sgemm gives; one row of A: cblas_sgemv), or oneDNN f32 where
 *              gemm_set_fp32_backend chose it.
 *   GEMM_BF16  fp32 operands are rounded to bf16 first (into per-thread scratch), then oneDNN
 *              matmul multiplies bf16 by bf16 with fp32 accumulation and fp32 output (on a CPU
 *              without AVX-512, where oneDNN has no bf16 kernel: sgemm on the rounded values).
 * A bf16 or int8 operand requires GEMM_BF16. Primitives are created once per shape and kept.
 * GEMM_BF16 products of a few activation rows with a weight (decoding) go to gemv.h's kernels,
 * which stream the weight at memory speed instead.
 */
#ifndef PROACT_GEMM_H
#define PROACT_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "src/base/bf16.h"

typedef enum { GEMM_FP32 = 0, GEMM_BF16 = 1 } GemmPrecision;
typedef enum { GEMM_T_F32 = 0, GEMM_T_BF16 = 1, GEMM_T_I8 = 2 } GemmType;

/* One operand as stored: `rows x cols` row-major with leading dimension ld; trans says whether
 * the product uses it transposed (op(X) = X^T). scale: int8 only, one per stored row. */
typedef struct {
    const void *data;
    GemmType type;
    int ld;
    int trans;
    const float *scale;
} GemmMat;

static inline GemmMat gemm_f32(const float *p, int ld, int trans) {
    GemmMat g = {p, GEMM_T_F32, ld, trans, NULL};
    return g;
}
static inline GemmMat gemm_bf16(const bf16_t *p, int ld, int trans) {
    GemmMat g = {p, GEMM_T_BF16, ld, trans, NULL};
    return g;
}
static inline GemmMat gemm_i8(const int8_t *p, const float *row_scale, int ld, int trans) {
    GemmMat g = {p, GEMM_T_I8, ld, trans, row_scale};
    return g;
}

/* C = alpha op(A) op(B) + beta C. Dies with a one-line message if oneDNN fails (a primitive
 * that cannot be created for a shape is a bug or an exhausted machine, not bad input). */
void gemm(GemmPrecision prec, int m, int n, int k, float alpha, GemmMat A, GemmMat B, float beta, float *C, int ldc);

/* The cblas-shaped shorthand for two fp32 operands. */
static inline void gemm_ff(GemmPrecision prec, int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    gemm(prec, m, n, k, alpha, gemm_f32(A, lda, trans_a), gemm_f32(B, ldb, trans_b), beta, C, ldc);
}

/* ---- what runs */
typedef enum { GEMM_FP32_OPENBLAS = 0, GEMM_FP32_ONEDNN = 1 } GemmFp32Backend;
/* fp32 products on OpenBLAS (default, the reference) or on oneDNN f32. */
void gemm_set_fp32_backend(GemmFp32Backend b);
GemmFp32Backend gemm_fp32_backend(void);
/* Whether this CPU runs bf16 products natively (AVX-512 BF16 or AMX); oneDNN would emulate
 * them slowly otherwise. */
int gemm_bf16_native(void);
/* Whether oneDNN has a bf16 kernel for this CPU at all (AVX-512; emulated without BF16). Where it
 * has none, GEMM_BF16 products above gemv's rows round their operands to bf16 and run on sgemm. */
int gemm_bf16_available(void);
/* For the tests: 1 sends every GEMM_BF16 product above gemv's rows that way (0 restores oneDNN). */
void gemm_force_portable_bf16(int on);
/* One line for start-up: "oneDNN 2.6.3 bf16 (avx512_core_bf16), fp32 on OpenBLAS" or why not. */
const char *gemm_describe(void);
/* The oneDNN implementation chosen for a dense product of that shape ("brg:avx512_core_bf16"). */
const char *gemm_impl_name(GemmPrecision prec, int m, int n, int k, int trans_a, int trans_b);
/* Threads for oneDNN (OpenMP) products; OpenBLAS keeps its own setting. */
void gemm_set_threads(int n);
/* Frees the cached primitives and scratch (for leak checkers; the cache is rebuilt on use). */
void gemm_release(void);

#endif
