/* test_gemm.c — the GEMM door (src/model/gemm.h): the fp32 path is cblas_sgemm bit for bit;
 * the bf16 path (oneDNN, or sgemm on the rounded operands where oneDNN has no bf16 kernel for the
 * CPU, forced here too) equals an exact product of the bf16-rounded operands within fp32
 * accumulation error; int8 operands are their scaled values; oneDNN's fp32 path agrees with
 * OpenBLAS where oneDNN has fp32 kernels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>

#include "src/base/rng.h"
#include "src/model/gemm.h"
#include "src/model/gemv.h"

static float *random_vec(Rng *r, size_t n) {
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) v[i] = (float)rng_normal(r);
    return v;
}

static void test_bf16_rounding(void **state) {
    (void)state;
    assert_int_equal(bf16_from_f32(1.0f), 0x3f80);
    assert_int_equal(bf16_from_f32(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0) */
    assert_int_equal(bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);
    /* 1 + 3*2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6 */
    assert_int_equal(bf16_from_f32(1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_int_equal(bf16_from_f32(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81); /* above half: up */
    assert_int_equal(bf16_from_f32(INFINITY), 0x7f80);
    assert_int_equal(bf16_from_f32(-INFINITY), 0xff80);
    assert_true(isnan(f32_from_bf16(bf16_from_f32(NAN))));
    assert_int_equal(bf16_from_f32(3.4e38f), 0x7f80);         /* rounds past the largest bf16: inf, as in PyTorch */
    assert_true(f32_from_bf16(bf16_from_f32(1e-40f)) > 0.0f); /* subnormals kept, not flushed */
    /* every bf16 value converts back exactly */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = f32_from_bf16((bf16_t)h);
        if (!isnan(f)) assert_int_equal(bf16_from_f32(f), h);
    }
}

/* Stored `rows x cols` with leading dimension ld (>= cols) */
typedef struct {
    int rows, cols, ld;
    float *v;
} Stored;

static Stored stored_random(Rng *r, int rows, int cols, int pad) {
    Stored s = {rows, cols, cols + pad, NULL};
    s.v = random_vec(r, (size_t)rows * s.ld);
    return s;
}

static double op_at(const Stored *s, int trans, int i, int j, int round) {
    float x = trans ? s->v[(size_t)j * s->ld + i] : s->v[(size_t)i * s->ld + j];
    return round ? f32_from_bf16(bf16_from_f32(x)) : x;
}

/* Every combination of transposes, padded leading dimensions, alpha and beta. */
static void test_paths_against_exact(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    const int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {33, 17, 65}, {64, 96, 128}, {3, 200, 47}, {130, 9, 260}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int variant = 0; variant < 2; variant++) {
                    int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
                    int pad = variant ? 3 : 0;
                    float alpha = variant ? 0.37f : 1.0f, beta = variant ? 1.0f : 0.0f;
                    Stored A = stored_random(&r, ta ? k : m, ta ? m : k, pad);
                    Stored B = stored_random(&r, tb ? n : k, tb ? k : n, pad);
                    int ldc = n + pad;
                    float *C0 = random_vec(&r, (size_t)m * ldc);
                    float *C_ref = malloc(sizeof(float) * m * ldc), *C = malloc(sizeof(float) * m * ldc);

                    /* fp32 on OpenBLAS: cblas_sgemm bit for bit */
                    memcpy(C_ref, C0, sizeof(float) * m * ldc);
                    memcpy(C, C0, sizeof(float) * m * ldc);
                    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                                alpha, A.v, A.ld, B.v, B.ld, beta, C_ref, ldc);
                    gemm_ff(GEMM_FP32, ta, tb, m, n, k, alpha, A.v, A.ld, B.v, B.ld, beta, C, ldc);
                    assert_memory_equal(C, C_ref, sizeof(float) * m * ldc);

                    /* bf16 and oneDNN fp32: against the exact (double) product of the operands they
                     * multiply (bf16-rounded for bf16). Bound: fp32 accumulation over k terms,
                     * k * 2^-23 * sum |a b| (generous: blocked sums grow like log k), and the
                     * final scale and beta add, 2^-22 * |C|. */
                    for (int path = 0; path < 3; path++) {
                        int round = path != 1;
                        memcpy(C, C0, sizeof(float) * m * ldc);
                        if (path != 1) { /* 0: bf16 as the CPU runs it; 2: the portable bf16 product */
                            gemm_force_portable_bf16(path == 2);
                            gemm_ff(GEMM_BF16, ta, tb, m, n, k, alpha, A.v, A.ld, B.v, B.ld, beta, C, ldc);
                            gemm_force_portable_bf16(0);
                        } else {
                            gemm_set_fp32_backend(GEMM_FP32_ONEDNN);
                            gemm_ff(GEMM_FP32, ta, tb, m, n, k, alpha, A.v, A.ld, B.v, B.ld, beta, C, ldc);
                            gemm_set_fp32_backend(GEMM_FP32_OPENBLAS);
                        }
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++) {
                                double s = 0, sabs = 0;
                                for (int p = 0; p < k; p++) {
                                    double t = op_at(&A, ta, i, p, round) * op_at(&B, tb, p, j, round);
                                    s += t;
                                    sabs += fabs(t);
                                }
                                double want = alpha * s + beta * C0[(size_t)i * ldc + j];
                                double bound = k * 0x1p-23 * fabs(alpha) * sabs + 0x1p-22 * fabs(want) + 1e-30;
                                double got = C[(size_t)i * ldc + j];
                                if (fabs(got - want) > bound)
                                    fail_msg("path %d m=%d n=%d k=%d ta=%d tb=%d pad=%d: C[%d,%d] = %.9g, exact %.9g "
                                             "(bound %.3g)",
                                             path, m, n, k, ta, tb, pad, i, j, got, want, bound);
                            }
                        /* the padding between rows of C is never written */
                        for (int i = 0; i < m; i++)
                            for (int j = n; j < ldc; j++)
                                assert_memory_equal(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof(float));
                    }
                    free(A.v);
                    free(B.v);
                    free(C0);
                    free(C_ref);
                    free(C);
                }
}

/* Within fp32 accumulation error of the exact product of bf16(x) and the weight values wv. */
static void check_product(const float *c, const float *x, const float *wv, int m, int n, int k, const char *what) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, sabs = 0;
            for (int p = 0; p < k; p++) {
                double t = (double)f32_from_bf16(bf16_from_f32(x[i * k + p])) * wv[j * k + p];
                s += t;
                sabs += fabs(t);
            }
            if (fabs(c[i * n + j] - s) > k * 0x1p-23 * sabs + 1e-30)
                fail_msg("%s: C[%d,%d] = %.9g, exact %.9g", what, i, j, c[i * n + j], s);
        }
}

/* Typed operands: a bf16 weight and an int8 weight with row scales multiply as their values do
 * (through oneDNN's bf16 path: m above GEMV_MAX_M; fewer rows go to gemv.h's kernels, tested in
 * test_gemv.c, whose int8 kernel keeps the activations in fp32). */
static void test_typed_operands(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 11);
    const int m = GEMV_MAX_M + 3, n = 13, k = 70;
    float *x = random_vec(&r, (size_t)m * k), *w = random_vec(&r, (size_t)n * k);
    bf16_t *w16 = malloc(sizeof(bf16_t) * n * k);
    int8_t *w8 = malloc((size_t)n * k);
    float *scale = malloc(sizeof(float) * n), *wv = malloc(sizeof(float) * n * k);
    bf16_from_f32_n(w16, w, (size_t)n * k);
    float *c = calloc((size_t)m * n, sizeof(float));
    f32_from_bf16_n(wv, w16, (size_t)n * k);
    for (int portable = 0; portable < 2; portable++) {
        gemm_force_portable_bf16(portable);
        gemm(GEMM_BF16, m, n, k, 1.0f, gemm_f32(x, k, 0), gemm_bf16(w16, k, 1), 0.0f, c, n);
        check_product(c, x, wv, m, n, k, portable ? "bf16 weight, portable" : "bf16 weight");
    }
    gemm_force_portable_bf16(0);
    for (int o = 0; o < n; o++) {
        float mx = 0;
        for (int i = 0; i < k; i++) mx = fmaxf(mx, fabsf(w[o * k + i]));
        scale[o] = mx / 127.0f;
        for (int i = 0; i < k; i++) {
            w8[o * k + i] = (int8_t)lrintf(w[o * k + i] / scale[o]);
            /* the oneDNN path multiplies bf16(q * scale) */
            wv[o * k + i] = f32_from_bf16(bf16_from_f32((float)w8[o * k + i] * scale[o]));
        }
    }
    for (int portable = 0; portable < 2; portable++) {
        gemm_force_portable_bf16(portable);
        gemm(GEMM_BF16, m, n, k, 1.0f, gemm_f32(x, k, 0), gemm_i8(w8, scale, k, 1), 0.0f, c, n);
        check_product(c, x, wv, m, n, k, portable ? "int8 weight, portable" : "int8 weight");
    }
    gemm_force_portable_bf16(0);
    free(x);
    free(w);
    free(w16);
    free(w8);
    free(scale);
    free(wv);
    free(c);
}

/* k = 0 scales C by beta; the same shape twice reuses its primitive and gives the same bits. */
static void test_edges(void **state) {
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {1, 1, 1, 1};
    gemm_ff(GEMM_BF16, 0, 0, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, c, 2);
    for (int i = 0; i < 4; i++) assert_true(c[i] == 0.5f);
    float c1[4], c2[4];
    gemm_ff(GEMM_BF16, 0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c1, 2);
    gemm_ff(GEMM_BF16, 0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c2, 2);
    assert_memory_equal(c1, c2, sizeof c1);
    /* small integers are exact in bf16: [1 2; 3 4][5 6; 7 8] */
    assert_true(c1[0] == 19.0f && c1[1] == 22.0f && c1[2] == 43.0f && c1[3] == 50.0f);
    assert_non_null(gemm_describe());
    gemm_release();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_paths_against_exact),
        cmocka_unit_test(test_typed_operands),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
