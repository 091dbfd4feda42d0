/* gemv.c — the decode products of gemv.h: AVX-512 kernels and their portable twins.
 *
 * Every kernel computes a tile: R (1 or 4) rows of W against M (1..4) rows of x, with R*M fp32
 * accumulators in registers. The driver walks W four rows at a time and, for each block, runs
 * every 4-row group of x against it, so W comes from memory once and the other x groups find
 * its rows in L1. The kernels are compiled with target attributes, not -march, so that the
 * portable build still has them; which one runs is decided once with __builtin_cpu_supports.
 */
#include "src/model/gemv.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

static int g_threads = 1;
static int g_force_portable;

void gemv_set_threads(int n) { g_threads = n > 0 ? n : 1; }
int gemv_threads(void) { return g_threads; }
void gemv_force_portable(int on) { g_force_portable = on; }

static int cpu_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
static int cpu_bf16(void) { return cpu_avx512() && __builtin_cpu_supports("avx512bf16"); }
static int cpu_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The kernels that run: 2 AVX-512 (BF16 for the bf16 kinds), 1 AVX2, 0 portable. fp32 W under bf16
 * semantics has no AVX2 kernel (nothing decodes that way: the training products go to oneDNN). */
enum { LEVEL_PORTABLE = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 };
static int kernel_level(GemmType t) {
    const int below_avx512 = cpu_avx2() && t != GEMM_T_F32 ? LEVEL_AVX2 : LEVEL_PORTABLE;
    if (g_force_portable) return g_force_portable == 2 ? below_avx512 : LEVEL_PORTABLE;
    return (t == GEMM_T_I8 ? cpu_avx512() : cpu_bf16()) ? LEVEL_AVX512 : below_avx512;
}

const char *gemv_describe(void) {
    if (cpu_bf16()) return "avx512bf16";
    if (cpu_avx512()) return cpu_avx2() ? "avx512 (int8; bf16 on avx2)" : "avx512 (int8 only; bf16 portable)";
    return cpu_avx2() ? "avx2" : "portable";
}

/* y = alpha v + beta y, without reading y when beta is 0 (it may hold NaN). */
INLINE void put(float *y, float v, float alpha, float beta) { *y = beta == 0.0f ? alpha * v : alpha * v + beta * *y; }

/* ------------------------------------------------------------------ bf16 products */

/* Unrolls the small loops over the R rows of W and the M rows of x, so that the accumulators
 * live in registers (gcc leaves them in memory otherwise, at -O2). */
#define UNROLL _Pragma("GCC unroll 4")

/* Software prefetch of the rows PF_ROWS ahead: the same offset in the row that a later tile
 * reads, `bytes` of it (one or two cache lines), so that the lines of the next tiles are on
 * their way while this one computes. */
#ifndef PF_ROWS
#define PF_ROWS 8
#endif
INLINE void prefetch_ahead(const char *p, size_t dist, int bytes) {
    _mm_prefetch(p + dist, _MM_HINT_T0);
    if (bytes > 64) _mm_prefetch(p + dist + 64, _MM_HINT_T0);
}

/* One step of 32 bf16 values of row r of W (fp32 W: 32 floats rounded to bf16 as read); the
 * tail (rest < 32) is loaded under a mask, so nothing past the row is read. */
INLINE TARGET_BF16 __m512bh bf16_load_w(int wf32, const void *W, size_t off, int rest) {
    if (wf32) {
        const float *p = (const float *)W + off;
        if (rest >= 32) return _mm512_cvtne2ps_pbh(_mm512_loadu_ps(p + 16), _mm512_loadu_ps(p));
        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)(rest >= 16 ? 0xffff : (1u << rest) - 1), p);
        __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(rest > 16 ? (1u << (rest - 16)) - 1 : 0), p + 16);
        return _mm512_cvtne2ps_pbh(hi, lo);
    }
    const bf16_t *p = (const bf16_t *)W + off;
    return (__m512bh)(rest >= 32 ? _mm512_loadu_si512(p)
                                 : _mm512_maskz_loadu_epi16((__mmask32)((1ull << rest) - 1), p));
}

/* A tile of bf16-semantics products: acc[r][i] = sum_t W[r, t] xb[i, t] for r < R, i < M.
 * Shapes: W [R, k] rows ldw apart, bf16 (wf32 = 0) or fp32 rounded to bf16 as read (wf32 = 1);
 * xb [M, kp] bf16 rows kp apart, kp a multiple of 32, zero beyond k (so x needs no tail mask);
 * y [M, R] rows ldy apart. vdpbf16ps adds the products of 16 bf16 pairs into 16 fp32 lanes. */
INLINE TARGET_BF16 void bf16_tile(int R, int M, int wf32, int k, const void *W, int ldw, const bf16_t *xb, int kp,
                                  float alpha, float beta, float *y, int ldy) {
    __m512 acc[4][4];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int i = 0; i < M; i++) acc[r][i] = _mm512_setzero_ps();
    const size_t esize = wf32 ? sizeof(float) : sizeof(bf16_t);
    for (int t = 0; t < k; t += 32) {
        __m512bh w[4];
        UNROLL for (int r = 0; r < R; r++) {
            w[r] = bf16_load_w(wf32, W, (size_t)r * ldw + t, k - t);
            prefetch_ahead((const char *)W + ((size_t)r * ldw + t) * esize, (size_t)PF_ROWS * ldw * esize,
                           (int)(32 * esize));
        }
        UNROLL for (int i = 0; i < M; i++) {
            __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + (size_t)i * kp + t);
            UNROLL for (int r = 0; r < R; r++) acc[r][i] = _mm512_dpbf16_ps(acc[r][i], w[r], xv);
        }
    }
    UNROLL for (int i = 0; i < M; i++) UNROLL for (int r = 0; r < R; r++)
        put(y + (size_t)i * ldy + r, _mm512_reduce_add_ps(acc[r][i]), alpha, beta);
}

/* Rows [j0, j1) of y[m, n] for bf16 semantics; W as in bf16_tile (whole matrix, row 0 first). */
INLINE TARGET_BF16 void bf16_rows_avx512_t(int wf32, int m, int j0, int j1, int k, float alpha, const void *W, int ldw,
                                           const bf16_t *xb, int kp, float beta, float *y, int ldy) {
    const size_t esize = wf32 ? sizeof(float) : sizeof(bf16_t);
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        const void *Wj = (const char *)W + (size_t)j * ldw * esize;
        for (int i0 = 0; i0 < m; i0 += 4) {
            const bf16_t *x = xb + (size_t)i0 * kp;
            float *yy = y + (size_t)i0 * ldy + j;
            switch (m - i0 >= 4 ? 4 : m - i0) {
                case 1: bf16_tile(4, 1, wf32, k, Wj, ldw, x, kp, alpha, beta, yy, ldy); break;
                case 2: bf16_tile(4, 2, wf32, k, Wj, ldw, x, kp, alpha, beta, yy, ldy); break;
                case 3: bf16_tile(4, 3, wf32, k, Wj, ldw, x, kp, alpha, beta, yy, ldy); break;
                default: bf16_tile(4, 4, wf32, k, Wj, ldw, x, kp, alpha, beta, yy, ldy); break;
            }
        }
    }
    for (; j < j1; j++) { /* the last n % 4 rows, one at a time */
        const void *Wj = (const char *)W + (size_t)j * ldw * esize;
        for (int i = 0; i < m; i++)
            bf16_tile(1, 1, wf32, k, Wj, ldw, xb + (size_t)i * kp, kp, alpha, beta, y + (size_t)i * ldy + j, ldy);
    }
}

/* The two instances: W in bf16, W in fp32 (rounded as read). */
static TARGET_BF16 void bf16_rows_avx512(int m, int j0, int j1, int k, float alpha, const void *W, int ldw,
                                         const bf16_t *xb, int kp, float beta, float *y, int ldy) {
    bf16_rows_avx512_t(0, m, j0, j1, k, alpha, W, ldw, xb, kp, beta, y, ldy);
}
static TARGET_BF16 void f32w_rows_avx512(int m, int j0, int j1, int k, float alpha, const void *W, int ldw,
                                         const bf16_t *xb, int kp, float beta, float *y, int ldy) {
    bf16_rows_avx512_t(1, m, j0, j1, k, alpha, W, ldw, xb, kp, beta, y, ldy);
}

/* The portable twin: the same bf16 products (exact in fp32: 8-bit by 8-bit mantissas), summed in
 * fp32 in index order. It rounds x as it reads it (fp32 [m, k], rows ldx apart): no scratch. */
static void bf16_rows_portable(int wf32, int m, int j0, int j1, int k, float alpha, const void *W, int ldw,
                               const float *x, int ldx, float beta, float *y, int ldy) {
    for (int j = j0; j < j1; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int t = 0; t < k; t++) {
                const float w = wf32 ? f32_from_bf16(bf16_from_f32(((const float *)W)[(size_t)j * ldw + t]))
                                     : f32_from_bf16(((const bf16_t *)W)[(size_t)j * ldw + t]);
                s += w * f32_from_bf16(bf16_from_f32(x[(size_t)i * ldx + t]));
            }
            put(y + (size_t)i * ldy + j, s, alpha, beta);
        }
}

/* ------------------------------------------------------------------ AVX2 products */

/* On a CPU with AVX2 and FMA but no AVX-512: bf16 and int8 weights, 8 lanes at a time. Each weight
 * widens exactly to fp32 (bf16: the 16 bits shifted up; int8: sign-extended and converted) and
 * meets the activation in an fp32 FMA. For bf16 the activations were rounded to bf16 beforehand
 * (and widened back, exactly), so every product of two bf16 values is exact in fp32 and only the
 * summation order differs from the other kernels: the same semantics as gemv.h states. */
INLINE TARGET_AVX2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* 8 weights of a row from element off, as fp32. */
INLINE TARGET_AVX2 __m256 avx2_load_w(int i8, const void *W, size_t off) {
    if (i8)
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)W + off))));
    const __m128i h = _mm_loadu_si128((const __m128i *)((const bf16_t *)W + off));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
INLINE float w_at(int i8, const void *W, size_t off) {
    return i8 ? (float)((const int8_t *)W)[off] : f32_from_bf16(((const bf16_t *)W)[off]);
}

/* A tile: acc[r][i] = sum_t W[r, t] x[i, t] for r < R (1 or 4), i < M (1 or 2: 8 accumulators, 4
 * weights and one activation fit the 16 ymm registers), then y[i, r] = alpha (scale[r]) acc (+ beta
 * y). Shapes: W [R, k] rows ldw apart (bf16, or int8 with scale [R]); x fp32 [M, k] rows ldx apart
 * (for bf16: already rounded to bf16 values); y [M, R] rows ldy apart. The k % 8 last terms are
 * added one by one after the vector sum. */
INLINE TARGET_AVX2 void avx2_tile(int R, int M, int i8, int k, const void *W, int ldw, const float *scale,
                                  const float *x, int ldx, float alpha, float beta, float *y, int ldy) {
    __m256 acc[4][2];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int i = 0; i < M; i++) acc[r][i] = _mm256_setzero_ps();
    const size_t esize = i8 ? 1 : sizeof(bf16_t);
    const int k8 = k & ~7, line = i8 ? 63 : 31; /* one prefetch per 64-byte line of a row */
    for (int t = 0; t < k8; t += 8) {
        __m256 w[4];
        UNROLL for (int r = 0; r < R; r++) {
            w[r] = avx2_load_w(i8, W, (size_t)r * ldw + t);
            if (!(t & line))
                prefetch_ahead((const char *)W + ((size_t)r * ldw + t) * esize, (size_t)PF_ROWS * ldw * esize, 64);
        }
        UNROLL for (int i = 0; i < M; i++) {
            const __m256 xv = _mm256_loadu_ps(x + (size_t)i * ldx + t);
            UNROLL for (int r = 0; r < R; r++) acc[r][i] = _mm256_fmadd_ps(w[r], xv, acc[r][i]);
        }
    }
    UNROLL for (int i = 0; i < M; i++) UNROLL for (int r = 0; r < R; r++) {
        float s = hsum8(acc[r][i]);
        for (int t = k8; t < k; t++) s += w_at(i8, W, (size_t)r * ldw + t) * x[(size_t)i * ldx + t];
        put(y + (size_t)i * ldy + r, i8 ? scale[r] * s : s, alpha, beta);
    }
}

/* Rows [j0, j1) of y[m, n]: four rows of W at a time against every pair of x rows. */
INLINE TARGET_AVX2 void avx2_rows_t(int i8, int m, int j0, int j1, int k, float alpha, const void *W, int ldw,
                                    const float *scale, const float *x, int ldx, float beta, float *y, int ldy) {
    const size_t esize = i8 ? 1 : sizeof(bf16_t);
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        const void *Wj = (const char *)W + (size_t)j * ldw * esize;
        const float *sj = i8 ? scale + j : NULL;
        for (int i0 = 0; i0 < m; i0 += 2) {
            const float *xi = x + (size_t)i0 * ldx;
            float *yy = y + (size_t)i0 * ldy + j;
            if (m - i0 >= 2) avx2_tile(4, 2, i8, k, Wj, ldw, sj, xi, ldx, alpha, beta, yy, ldy);
            else avx2_tile(4, 1, i8, k, Wj, ldw, sj, xi, ldx, alpha, beta, yy, ldy);
        }
    }
    for (; j < j1; j++) { /* the last n % 4 rows, one at a time */
        const void *Wj = (const char *)W + (size_t)j * ldw * esize;
        for (int i = 0; i < m; i++)
            avx2_tile(1, 1, i8, k, Wj, ldw, i8 ? scale + j : NULL, x + (size_t)i * ldx, ldx, alpha, beta,
                      y + (size_t)i * ldy + j, ldy);
    }
}
static TARGET_AVX2 void bf16_rows_avx2(int m, int j0, int j1, int k, float alpha, const void *W, int ldw,
                                       const float *x, int ldx, float beta, float *y, int ldy) {
    avx2_rows_t(0, m, j0, j1, k, alpha, W, ldw, NULL, x, ldx, beta, y, ldy);
}
static TARGET_AVX2 void i8_rows_avx2(int m, int j0, int j1, int k, float alpha, const int8_t *q, int ldw,
                                     const float *scale, const float *x, int ldx, float beta, float *y, int ldy) {
    avx2_rows_t(1, m, j0, j1, k, alpha, q, ldw, scale, x, ldx, beta, y, ldy);
}

/* ------------------------------------------------------------------ int8 products */

/* A tile of weight-only int8 products: acc[r][i] = sum_t q[r, t] x[i, t], then
 * y[i, r] = alpha scale[r] acc[r][i] (+ beta y). Shapes: q int8 [R, k] rows ldw apart, scale [R],
 * x fp32 [M, k] rows ldx apart, y [M, R] rows ldy apart. Each int8 widens exactly to fp32
 * (vpmovsxbd, vcvtdq2ps); the product is an fp32 FMA with the activation. */
INLINE TARGET_AVX512 void i8_tile(int R, int M, int k, const int8_t *q, int ldw, const float *scale, const float *x,
                                  int ldx, float alpha, float beta, float *y, int ldy) {
    __m512 acc[4][4];
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int i = 0; i < M; i++) acc[r][i] = _mm512_setzero_ps();
    for (int t = 0; t < k; t += 16) {
        const int full = k - t >= 16;
        const __mmask16 mask = (__mmask16)(full ? 0xffff : (1u << (k - t)) - 1);
        __m512 w[4];
        UNROLL for (int r = 0; r < R; r++) {
            const int8_t *p = q + (size_t)r * ldw + t;
            if (!(t & 63)) prefetch_ahead((const char *)p, (size_t)PF_ROWS * ldw, 64);
            __m128i b = full ? _mm_loadu_si128((const __m128i *)p) : _mm_maskz_loadu_epi8(mask, p);
            w[r] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
        }
        UNROLL for (int i = 0; i < M; i++) {
            const float *px = x + (size_t)i * ldx + t;
            __m512 xv = full ? _mm512_loadu_ps(px) : _mm512_maskz_loadu_ps(mask, px);
            UNROLL for (int r = 0; r < R; r++) acc[r][i] = _mm512_fmadd_ps(w[r], xv, acc[r][i]);
        }
    }
    UNROLL for (int i = 0; i < M; i++) UNROLL for (int r = 0; r < R; r++)
        put(y + (size_t)i * ldy + r, scale[r] * _mm512_reduce_add_ps(acc[r][i]), alpha, beta);
}

static TARGET_AVX512 void i8_rows_avx512(int m, int j0, int j1, int k, float alpha, const int8_t *q, int ldw,
                                         const float *scale, const float *x, int ldx, float beta, float *y, int ldy) {
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        const int8_t *qj = q + (size_t)j * ldw;
        for (int i0 = 0; i0 < m; i0 += 4) {
            const float *xi = x + (size_t)i0 * ldx;
            float *yy = y + (size_t)i0 * ldy + j;
            switch (m - i0 >= 4 ? 4 : m - i0) {
                case 1: i8_tile(4, 1, k, qj, ldw, scale + j, xi, ldx, alpha, beta, yy, ldy); break;
                case 2: i8_tile(4, 2, k, qj, ldw, scale + j, xi, ldx, alpha, beta, yy, ldy); break;
                case 3: i8_tile(4, 3, k, qj, ldw, scale + j, xi, ldx, alpha, beta, yy, ldy); break;
                default: i8_tile(4, 4, k, qj, ldw, scale + j, xi, ldx, alpha, beta, yy, ldy); break;
            }
        }
    }
    for (; j < j1; j++)
        for (int i = 0; i < m; i++)
            i8_tile(1, 1, k, q + (size_t)j * ldw, ldw, scale + j, x + (size_t)i * ldx, ldx, alpha, beta,
                    y + (size_t)i * ldy + j, ldy);
}

static void i8_rows_portable(int m, int j0, int j1, int k, float alpha, const int8_t *q, int ldw, const float *scale,
                             const float *x, int ldx, float beta, float *y, int ldy) {
    for (int j = j0; j < j1; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int t = 0; t < k; t++) s += (float)q[(size_t)j * ldw + t] * x[(size_t)i * ldx + t];
            put(y + (size_t)i * ldy + j, scale[j] * s, alpha, beta);
        }
}

/* ------------------------------------------------------------------ the driver */

typedef struct {
    int m, n, k, ldx, ldy, kp, level;
    float alpha, beta;
    const float *x;   /* bf16 W on the AVX2 path: x already rounded to bf16 values */
    const bf16_t *xb; /* bf16 kinds on the AVX-512 path: x rounded, [m, kp] */
    GemmMat W;
    float *y;
} Product;

/* Rows [j0, j1) of the product. */
static void product_rows(const Product *p, int j0, int j1) {
    const int ldw = p->W.ld;
    switch (p->W.type) {
        case GEMM_T_I8:
            if (p->level == LEVEL_AVX512)
                i8_rows_avx512(p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->W.scale, p->x, p->ldx, p->beta, p->y,
                               p->ldy);
            else if (p->level == LEVEL_AVX2)
                i8_rows_avx2(p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->W.scale, p->x, p->ldx, p->beta, p->y,
                             p->ldy);
            else
                i8_rows_portable(p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->W.scale, p->x, p->ldx, p->beta, p->y,
                                 p->ldy);
            break;
        case GEMM_T_BF16:
            if (p->level == LEVEL_AVX512)
                bf16_rows_avx512(p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->xb, p->kp, p->beta, p->y, p->ldy);
            else if (p->level == LEVEL_AVX2)
                bf16_rows_avx2(p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->x, p->ldx, p->beta, p->y, p->ldy);
            else
                bf16_rows_portable(0, p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->x, p->ldx, p->beta, p->y,
                                   p->ldy);
            break;
        case GEMM_T_F32:
            if (p->level == LEVEL_AVX512)
                f32w_rows_avx512(p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->xb, p->kp, p->beta, p->y, p->ldy);
            else
                bf16_rows_portable(1, p->m, j0, j1, p->k, p->alpha, p->W.data, ldw, p->x, p->ldx, p->beta, p->y,
                                   p->ldy);
            break;
    }
}

/* The whole product, split over the rows of W (in multiples of 4) when it is large enough for
 * the fork to pay. */
static void product_run(const Product *p) {
    int T = g_threads;
    if ((size_t)p->n * p->k < GEMV_PARALLEL_MIN || p->n < 8) T = 1;
#ifdef _OPENMP
    if (T > 1) {
#pragma omp parallel num_threads(T)
        {
            const int nt = omp_get_num_threads(), id = omp_get_thread_num();
            const int blocks = (p->n + 3) / 4;
            const int b0 = (int)((long)blocks * id / nt), b1 = (int)((long)blocks * (id + 1) / nt);
            const int j0 = 4 * b0, j1 = 4 * b1 < p->n ? 4 * b1 : p->n;
            if (j0 < j1) product_rows(p, j0, j1);
        }
        return;
    }
#endif
    product_rows(p, 0, p->n);
}

#define XB_STACK 16384 /* bf16 values of rounded x kept on the stack (32 KB) */

void gemv(int m, int n, int k, float alpha, const float *x, int ldx, GemmMat W, float beta, float *y, int ldy) {
    Product p = {.m = m, .n = n, .k = k, .ldx = ldx, .ldy = ldy, .alpha = alpha, .beta = beta, .x = x, .W = W, .y = y};
    if (m <= 0 || n <= 0) return;
    p.level = kernel_level(W.type);
    if (W.type == GEMM_T_I8 || p.level == LEVEL_PORTABLE) { /* x read as it is (the portable twins round it) */
        product_run(&p);
        return;
    }
    if (p.level == LEVEL_AVX2) { /* bf16 W: x rounded to bf16 values once, kept in fp32 */
        float stack[XB_STACK / 2], *xr = (size_t)m * k <= XB_STACK / 2 ? stack : malloc(sizeof(float) * (size_t)m * k);
        if (!xr) { /* no memory for the rounded rows: the portable twin needs none */
            p.level = LEVEL_PORTABLE;
            product_run(&p);
            return;
        }
        for (int i = 0; i < m; i++)
            for (int t = 0; t < k; t++) xr[(size_t)i * k + t] = f32_from_bf16(bf16_from_f32(x[(size_t)i * ldx + t]));
        p.x = xr;
        p.ldx = k;
        product_run(&p);
        if (xr != stack) free(xr);
        return;
    }
    /* bf16 semantics: x rounded to bf16 once, rows padded with zeros to a multiple of 32 */
    p.kp = (k + 31) / 32 * 32;
    bf16_t stack[XB_STACK], *xb = stack;
    int chunk = m; /* rows of x per pass over W: all of them unless the scratch cannot be had */
    if ((size_t)m * p.kp > XB_STACK) {
        xb = malloc(sizeof(bf16_t) * (size_t)m * p.kp);
        if (!xb) {
            xb = stack;
            chunk = XB_STACK / p.kp;
        }
    }
    if (chunk < 1) { /* k > 16384 and no memory for one rounded row: the portable twin needs none */
        p.level = LEVEL_PORTABLE;
        product_run(&p);
        return;
    }
    for (int i0 = 0; i0 < m; i0 += chunk) {
        const int mm = m - i0 < chunk ? m - i0 : chunk;
        for (int i = 0; i < mm; i++) {
            const float *xr = x + (size_t)(i0 + i) * ldx;
            bf16_t *xbr = xb + (size_t)i * p.kp;
            for (int t = 0; t < k; t++) xbr[t] = bf16_from_f32(xr[t]);
            for (int t = k; t < p.kp; t++) xbr[t] = 0;
        }
        p.m = mm;
        p.xb = xb;
        p.y = y + (size_t)i0 * ldy;
        product_run(&p);
    }
    if (xb != stack) free(xb);
}

int gemv_try(GemmPrecision prec, int m, int n, int k, float alpha, GemmMat A, GemmMat B, float beta, float *C,
             int ldc) {
    if (prec != GEMM_BF16 || m < 1 || m > GEMV_MAX_M || n < 1 || k < 1) return 0;
    if (A.type != GEMM_T_F32 || A.trans || !B.trans || (B.type == GEMM_T_I8 && !B.scale)) return 0;
    gemv(m, n, k, alpha, A.data, A.ld, B, beta, C, ldc);
    return 1;
}

/* ------------------------------------------------------------------ quantization */

void gemv_quantize_i8(int8_t *q, float *scale, const float *W, int rows, int cols, int ldw) {
    for (int j = 0; j < rows; j++) {
        const float *w = W + (size_t)j * ldw;
        float amax = 0.0f;
        for (int t = 0; t < cols; t++) amax = fabsf(w[t]) > amax ? fabsf(w[t]) : amax;
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        scale[j] = s;
        for (int t = 0; t < cols; t++) {
            float v = rintf(w[t] / s); /* division, not a reciprocal: round(w / s) exactly as stated */
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            q[(size_t)j * cols + t] = (int8_t)v;
        }
    }
}
