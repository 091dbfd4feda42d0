/* test_gemv.c — the decode products (src/model/gemv.c) against plain loops in double.
 *
 * Each product y[m, n] = alpha x[m, k] W[n, k]^T + beta y is checked, on odd shapes (k not a
 * multiple of 32 or 16, n not a multiple of 4, strides wider than the rows), with the kernels the
 * CPU runs and with the portable twins, at 1 and 2 threads, against two references:
 *
 *  - exact:  sum_t x~_t w~_t in double over the inputs as the kernel's semantics round them
 *            (bf16: x~ and w~ rounded to bf16; int8: x~ = x, w~ = scale q). The only error left is
 *            fp32 accumulation: |err| <= gamma * sum |x~ w~|, gamma = (k + 8) 2^-24 (k + 8
 *            roundings along any path: k lane additions, 4 for the 16-lane reduction, alpha,
 *            beta, with room to spare), plus 2^-24 |beta y| for the beta term.
 *  - true:   sum_t x_t w_t in double over the fp32 inputs, bounded by the rounding of the inputs:
 *            bf16: each of x, w has relative error <= u = 2^-9 (8 significant bits, round to
 *            nearest), so |x~ w~ - x w| <= (2u + u^2) |x w|: |err| <= (2u + u^2) sum |x w| + the
 *            accumulation term above;
 *            int8: |w - scale q| <= scale (1/2 + 127 * 2^-24) per weight (the division w / scale
 *            is rounded once before rint), so |err| <= scale (1/2 + 2^-17) sum |x| + the
 *            accumulation term.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/rng.h"
#include "src/model/gemv.h"

typedef struct {
    int m, n, k;
} Shape;

/* n odd or not a multiple of 4, k not a multiple of 32 (and of 16), m across the 4-row groups;
 * the last two are large enough (n k >= GEMV_PARALLEL_MIN) to be split over threads. */
static const Shape shapes[] = {{1, 1, 1},    {1, 5, 31}, {1, 7, 33},    {2, 3, 17},    {3, 13, 100},  {4, 9, 64},
                               {5, 17, 257}, {7, 6, 48}, {16, 33, 515}, {1, 67, 1000}, {1, 301, 300}, {6, 257, 263}};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static double bf16_round(float v) { return (double)f32_from_bf16(bf16_from_f32(v)); }

/* Inputs of one case: x [m, ldx], W fp32 [n, ldw] (row j scaled by 2^(j%7 - 3), so that int8
 * scales differ by row), y [m, ldy] filled with values (beta != 0) or NaN (beta = 0: must not be
 * read). Padding between rows holds NaN, so a kernel that reads past a row fails. */
typedef struct {
    int m, n, k, ldx, ldw, ldy;
    float *x, *W, *y0;
    bf16_t *W16;
    int8_t *q;
    float *scale;
} Case;

static void case_make(Case *c, Shape s, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    c->m = s.m, c->n = s.n, c->k = s.k;
    c->ldx = s.k + 3, c->ldw = s.k + 5, c->ldy = s.n + 2;
    c->x = malloc(sizeof(float) * c->m * c->ldx);
    c->W = malloc(sizeof(float) * c->n * c->ldw);
    c->W16 = malloc(sizeof(bf16_t) * c->n * c->ldw);
    c->q = malloc((size_t)c->n * c->k);
    c->scale = malloc(sizeof(float) * c->n);
    c->y0 = malloc(sizeof(float) * c->m * c->ldy);
    assert_true(c->x && c->W && c->W16 && c->q && c->scale && c->y0);
    for (int i = 0; i < c->m * c->ldx; i++) c->x[i] = (i % c->ldx) < c->k ? (float)rng_normal(&r) : NAN;
    for (int j = 0; j < c->n; j++)
        for (int t = 0; t < c->ldw; t++)
            c->W[j * c->ldw + t] = t < c->k ? (float)(ldexp(0.05 * rng_normal(&r), j % 7 - 3)) : NAN;
    for (int i = 0; i < c->n * c->ldw; i++) c->W16[i] = bf16_from_f32(c->W[i]);
    for (int i = 0; i < c->m * c->ldy; i++) c->y0[i] = (float)rng_normal(&r);
    gemv_quantize_i8(c->q, c->scale, c->W, c->n, c->k, c->ldw);
}

static void case_free(Case *c) { free(c->x), free(c->W), free(c->W16), free(c->q), free(c->scale), free(c->y0); }

/* Runs one product through gemv() and checks every element against both references. */
static void check(const Case *c, GemmType type, float alpha, float beta, const char *what) {
    float *y = malloc(sizeof(float) * c->m * c->ldy);
    assert_non_null(y);
    for (int i = 0; i < c->m * c->ldy; i++) y[i] = beta == 0.0f ? NAN : c->y0[i];
    GemmMat W = type == GEMM_T_F32    ? gemm_f32(c->W, c->ldw, 1)
                : type == GEMM_T_BF16 ? gemm_bf16(c->W16, c->ldw, 1)
                                      : gemm_i8(c->q, c->scale, c->k, 1);
    gemv(c->m, c->n, c->k, alpha, c->x, c->ldx, W, beta, y, c->ldy);
    const double u = ldexp(1.0, -9), gamma = (c->k + 8) * ldexp(1.0, -24);
    for (int i = 0; i < c->m; i++)
        for (int j = 0; j < c->n; j++) {
            double exact = 0, exact_abs = 0, truth = 0, true_abs = 0, x_abs = 0;
            for (int t = 0; t < c->k; t++) {
                const double x = c->x[i * c->ldx + t], w = c->W[j * c->ldw + t];
                const double xr = type == GEMM_T_I8 ? x : bf16_round((float)x);
                const double wr = type == GEMM_T_I8 ? (double)c->scale[j] * c->q[j * c->k + t] : bf16_round((float)w);
                exact += xr * wr, exact_abs += fabs(xr * wr);
                truth += x * w, true_abs += fabs(x * w), x_abs += fabs(x);
            }
            const double by = beta == 0.0f ? 0.0 : (double)beta * c->y0[i * c->ldy + j];
            const double got = y[i * c->ldy + j];
            const double acc = gamma * fabs(alpha) * exact_abs + ldexp(fabs(by), -23);
            const double in_bound =
                type == GEMM_T_I8 ? c->scale[j] * (0.5 + ldexp(1.0, -17)) * x_abs : (2 * u + u * u) * true_abs;
            const double e1 = fabs(got - (alpha * exact + by)), e2 = fabs(got - (alpha * truth + by));
            if (!(e1 <= acc) || !(e2 <= fabs(alpha) * in_bound + acc)) {
                fail_msg("%s m=%d n=%d k=%d alpha=%g beta=%g y[%d,%d] = %.9g: exact-input error %.3g (bound %.3g), "
                         "true error %.3g (bound %.3g)",
                         what, c->m, c->n, c->k, alpha, beta, i, j, got, e1, acc, e2, fabs(alpha) * in_bound + acc);
            }
        }
    /* the padding of y is never written */
    for (int i = 0; i < c->m; i++)
        for (int j = c->n; j < c->ldy; j++)
            if (beta == 0.0f) assert_true(isnan(y[i * c->ldy + j]));
            else assert_float_equal(y[i * c->ldy + j], c->y0[i * c->ldy + j], 0);
    free(y);
}

static void check_all(GemmType type, const char *name) {
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
    for (int s = 0; s < N_SHAPES; s++) {
        Case c;
        case_make(&c, shapes[s], 100 + s);
        for (int force = 0; force < 3; force++) /* the CPU's best, portable, AVX2 (where the CPU has it) */
            for (int threads = 1; threads <= 2; threads++) {
                gemv_force_portable(force);
                gemv_set_threads(threads);
                for (int a = 0; a < 3; a++) {
                    char what[96];
                    snprintf(what, sizeof what, "%s %s %d thread(s)", name,
                             force == 1   ? "portable"
                             : force == 2 ? "avx2 if any"
                                          : gemv_describe(),
                             threads);
                    check(&c, type, ab[a][0], ab[a][1], what);
                }
            }
        case_free(&c);
    }
    gemv_force_portable(0);
    gemv_set_threads(1);
}

static void test_bf16_weights(void **state) {
    (void)state;
    check_all(GEMM_T_BF16, "bf16 W");
}

static void test_fp32_weights_bf16_semantics(void **state) {
    (void)state;
    check_all(GEMM_T_F32, "fp32 W (bf16 products)");
}

static void test_int8_weights(void **state) {
    (void)state;
    check_all(GEMM_T_I8, "int8 W");
}

/* The int8 bound is not vacuous: on realistic rows the worst error relative to it stays below 1,
 * but not by orders of magnitude (random rounding errors add like a random walk: about
 * sqrt(k / 12) / (k E|x| / 2) of the bound, a few percent here). */
static void test_bound_is_tight_enough(void **state) {
    (void)state;
    Case c;
    case_make(&c, (Shape){1, 64, 512}, 5);
    float *y = malloc(sizeof(float) * c.ldy);
    assert_non_null(y);
    gemv(1, c.n, c.k, 1.0f, c.x, c.ldx, gemm_i8(c.q, c.scale, c.k, 1), 0.0f, y, c.ldy);
    double worst = 0;
    for (int j = 0; j < c.n; j++) {
        double truth = 0, x_abs = 0;
        for (int t = 0; t < c.k; t++) truth += (double)c.x[t] * c.W[j * c.ldw + t], x_abs += fabs(c.x[t]);
        const double ratio = fabs(y[j] - truth) / (c.scale[j] * 0.5 * x_abs);
        worst = ratio > worst ? ratio : worst;
    }
    assert_true(worst < 1.0);
    assert_true(worst > 1e-3);
    free(y);
    case_free(&c);
}

static void test_quantize(void **state) {
    (void)state;
    const float W[3][5] = {{0, 0, 0, 0, 0}, {1.0f, -0.5f, 0.25f, 0.126f, -1.0f}, {-3e-3f, 1e-3f, 2e-3f, 0, 7e-4f}};
    int8_t q[15];
    float s[3];
    gemv_quantize_i8(q, s, &W[0][0], 3, 5, 5);
    assert_float_equal(s[0], 1.0f, 0); /* an all-zero row: scale 1, all zero */
    for (int t = 0; t < 5; t++) assert_int_equal(q[t], 0);
    assert_float_equal(s[1], 1.0f / 127.0f, 0);
    assert_int_equal(q[5], 127);
    assert_int_equal(q[9], -127);
    assert_int_equal(q[6], -64);   /* -0.5 * 127 = -63.5 rounds to even */
    assert_int_equal(q[10], -127); /* the row's largest magnitude maps to -127 */
    for (int j = 0; j < 3; j++)
        for (int t = 0; t < 5; t++) assert_true(fabsf(W[j][t] - s[j] * q[j * 5 + t]) <= s[j] * (0.5f + 1e-5f));
}

/* gemv_try takes exactly the decode products and leaves everything else to gemm(). */
static void test_try_takes_only_decode_products(void **state) {
    (void)state;
    Case c;
    case_make(&c, (Shape){2, 9, 40}, 9);
    float y[2 * 11], ref[2 * 11];
    GemmMat A = gemm_f32(c.x, c.ldx, 0), B = gemm_bf16(c.W16, c.ldw, 1);
    assert_int_equal(gemv_try(GEMM_FP32, 2, 9, 40, 1, A, gemm_f32(c.W, c.ldw, 1), 0, y, 11), 0);    /* OpenBLAS's */
    assert_int_equal(gemv_try(GEMM_BF16, 2, 9, 40, 1, gemm_f32(c.x, c.ldx, 1), B, 0, y, 11), 0);    /* A^T */
    assert_int_equal(gemv_try(GEMM_BF16, 2, 9, 40, 1, A, gemm_bf16(c.W16, c.ldw, 0), 0, y, 11), 0); /* B as is */
    assert_int_equal(gemv_try(GEMM_BF16, GEMV_MAX_M + 1, 9, 40, 1, A, B, 0, y, 11), 0);
    assert_int_equal(gemv_try(GEMM_BF16, 2, 9, 40, 1, gemm_bf16(c.W16, c.ldw, 0), B, 0, y, 11), 0); /* bf16 A */
    assert_int_equal(gemv_try(GEMM_BF16, 2, 9, 40, 1, A, gemm_i8(c.q, NULL, c.k, 1), 0, y, 11), 0); /* no scale */
    assert_int_equal(gemv_try(GEMM_BF16, 2, 9, 40, 1, A, B, 0, y, 11), 1);
    gemv(2, 9, 40, 1, c.x, c.ldx, B, 0, ref, 11);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 9; j++) assert_float_equal(y[i * 11 + j], ref[i * 11 + j], 0);
    case_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_weights), cmocka_unit_test(test_fp32_weights_bf16_semantics),
        cmocka_unit_test(test_int8_weights), cmocka_unit_test(test_bound_is_tight_enough),
        cmocka_unit_test(test_quantize),     cmocka_unit_test(test_try_takes_only_decode_products),
    };
    printf("gemv kernels: %s\n", gemv_describe());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
