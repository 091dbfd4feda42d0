/* test_linfit.c — src/probe/linfit.c on one process: ridge against hand-solved normal equations,
 * logistic against a saturated model with a closed-form optimum and a vanishing gradient,
 * overflow-free logistic terms, the damped Newton driver on a function where plain Newton
 * diverges, and the errors (singular, no convergence, bad arguments, NaN). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/probe/linfit.h"
#include "tests/support/fit_check.h"

#define assert_near(a, b, tol)                                                         \
    do {                                                                               \
        double a_ = (a), b_ = (b);                                                     \
        if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.17g, want %.17g", #a, a_, b_); \
    } while (0)

static uint64_t rng_state = 12345;
static double uniform(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

/* n × d features in [-1, 1] plus a shared component (correlated), row-major. */
static double *random_X(int n, int d) {
    double *X = malloc(sizeof(double) * n * d);
    for (int i = 0; i < n; i++) {
        double f = 2 * uniform() - 1;
        for (int j = 0; j < d; j++) X[i * d + j] = 2 * uniform() - 1 + 0.5 * f;
    }
    return X;
}

static void test_ridge_by_hand(void **state) {
    (void)state;
    /* x = 0, 1, 2; y = 1, 2, 4. AᵀA = [[5,3],[3,3]], Aᵀy = [10, 7].
     * λ = 1: [[6,3],[3,3]] θ = [10,7] → w = 1, b = 4/3.  λ = 0: w = 3/2, b = 5/6. */
    const double X[] = {0, 1, 2}, y[] = {1, 2, 4};
    double c[2];
    assert_int_equal(ridge_fit(X, y, 3, 1, 1.0, c), 0);
    assert_near(c[0], 1.0, 1e-12);
    assert_near(c[1], 4.0 / 3.0, 1e-12);
    assert_int_equal(ridge_fit(X, y, 3, 1, 0.0, c), 0);
    assert_near(c[0], 1.5, 1e-12);
    assert_near(c[1], 5.0 / 6.0, 1e-12);
}

/* Larger ridge: the penalized gradient Aᵀ(Aθ - y) + Λθ vanishes; the intercept is unpenalized,
 * so the residuals sum to zero. */
static void test_ridge_normal_equations(void **state) {
    (void)state;
    const int n = 1200, d = 40; /* n > 512: the Gram matrix is summed over several dsyrk chunks */
    double *X = random_X(n, d), *y = malloc(sizeof(double) * n), c[41], g[41] = {0};
    for (int i = 0; i < n; i++) y[i] = 3 + X[i * d] - 2 * X[i * d + 7] + (uniform() - 0.5);
    assert_int_equal(ridge_fit(X, y, n, d, 2.5, c), 0);
    for (int i = 0; i < n; i++) {
        double r = c[d] - y[i];
        for (int j = 0; j < d; j++) r += X[i * d + j] * c[j];
        for (int j = 0; j < d; j++) g[j] += r * X[i * d + j];
        g[d] += r;
    }
    for (int j = 0; j < d; j++) assert_near(g[j] + 2.5 * c[j], 0.0, 1e-10);
    assert_near(g[d], 0.0, 1e-10);
    free(X);
    free(y);
}

static void test_logistic_closed_form(void **state) {
    (void)state;
    /* two groups: x = 1 with 1 of 3 positive, x = -1 with 2 of 3 positive. Unpenalized, the
     * model fits both frequencies: σ(w + b) = 1/3, σ(-w + b) = 2/3 → b = 0, w = -ln 2. */
    const double X[] = {1, 1, 1, -1, -1, -1}, y[] = {1, 0, 0, 1, 1, 0};
    double c[2];
    int iters = 0;
    assert_int_equal(logistic_fit(X, y, 6, 1, 0.0, 50, 1e-12, c, &iters), 0);
    assert_near(c[0], -log(2.0), 1e-10);
    assert_near(c[1], 0.0, 1e-10);
    assert_true(iters >= 2 && iters < 20);
}

static void test_logistic_gradient_vanishes(void **state) {
    (void)state;
    const int n = 500, d = 6;
    const double lambda = 0.3;
    double *X = random_X(n, d), *y = malloc(sizeof(double) * n), c[7];
    for (int i = 0; i < n; i++) {
        double z = 0.5 + 2 * X[i * d] - 3 * X[i * d + 3];
        y[i] = uniform() < 1 / (1 + exp(-z));
    }
    int iters = 0;
    assert_int_equal(logistic_fit(X, y, n, d, lambda, 50, 1e-10, c, &iters), 0);
    assert_true(logistic_grad_norm(X, y, n, d, lambda, c) < 1e-8);
    assert_true(c[0] > 1 && c[3] < -1.5); /* the signal is found */
    assert_true(iters >= 3 && iters < 20);
    free(X);
    free(y);
}

/* |z| = 800 would overflow e^z: the terms stay finite and right. */
static void test_logistic_terms_extreme(void **state) {
    (void)state;
    const double X[] = {1, 1, -1, -1}, y[] = {1, 0, 1, 0}, coef[] = {800, 0};
    double r[4], s[4];
    double f = linfit_logistic_terms(X, y, 4, 1, coef, r, s);
    assert_near(f, 1600.0, 1e-9); /* rows 2 and 3 are wrong by 800 each */
    const double want_r[] = {0, 1, -1, 0};
    for (int i = 0; i < 4; i++) {
        assert_near(r[i], want_r[i], 1e-300);
        assert_near(s[i], 0.0, 1e-170);
    }
    assert_near(linfit_logistic_terms(X, y, 1, 1, (const double[]){0, 0}, r, s), log(2.0), 1e-15);
    assert_near(r[0], -0.5, 1e-16);
    assert_near(s[0], 0.5, 1e-16);
}

/* f(θ) = sqrt(1 + (θ - 3)²) from θ = 0: the full Newton step goes to θ = 30 (plain Newton
 * diverges: u → -u³), the line search halves it three times and then it converges. */
static int sqrt_step(void *ctx, const double *c, double *step) {
    (void)ctx;
    double u = c[0] - 3;
    step[0] = u * (1 + u * u); /* f'/f'' */
    return 0;
}
static int sqrt_objective(void *ctx, const double *c, double *f) {
    (*(int *)ctx)++;
    *f = sqrt(1 + (c[0] - 3) * (c[0] - 3));
    return 0;
}

static void test_newton_line_search(void **state) {
    (void)state;
    int calls = 0, iters = 0;
    double c[1], work[2];
    LinfitNewtonOps ops = {sqrt_step, sqrt_objective};
    assert_int_equal(linfit_newton("test", &ops, &calls, 0, 30, 1e-12, c, &iters, work), 0);
    assert_near(c[0], 3.0, 1e-12);
    assert_true(iters < 10);
    assert_true(calls >= 1 + iters + 3); /* the start, one per iteration, three halvings */
}

static void test_errors(void **state) {
    (void)state;
    const int n = 50, d = 4;
    double *X = random_X(n, d), *y = malloc(sizeof(double) * n), c[5];
    int iters = -1;
    for (int i = 0; i < n; i++) y[i] = uniform() < 0.5;
    for (int i = 0; i < n; i++) X[i * d + 3] = X[i * d + 1]; /* duplicated column */
    assert_int_equal(ridge_fit(X, y, n, d, 0.0, c), -1);
    assert_non_null(strstr(px_error_message(), "ridge_fit: Gram matrix is singular"));
    assert_int_equal(logistic_fit(X, y, n, d, 0.0, 50, 1e-10, c, &iters), -1);
    assert_non_null(strstr(px_error_message(), "logistic_fit: Hessian is singular"));
    assert_int_equal(ridge_fit(X, y, n, d, 0.1, c), 0); /* a penalty makes it well posed */
    assert_near(c[1], c[3], 1e-12);

    for (int i = 0; i < n; i++) X[i * d + 3] = 0; /* an all-zero column: a zero pivot */
    assert_int_equal(ridge_fit(X, y, n, d, 0.0, c), -1);
    assert_non_null(strstr(px_error_message(), "singular"));

    for (int i = 0; i < n; i++) X[i * d + 3] = 2 * uniform() - 1;
    assert_int_equal(logistic_fit(X, y, n, d, 1.0, 1, 1e-14, c, &iters), -1);
    assert_non_null(strstr(px_error_message(), "did not converge in 1 iterations"));
    assert_int_equal(iters, 1);
    assert_int_equal(logistic_fit(X, y, n, d, 1.0, 0, 1e-10, c, &iters), -1);
    assert_non_null(strstr(px_error_message(), "max_iter"));
    assert_int_equal(logistic_fit(X, y, n, d, 1.0, 10, 0.0, c, &iters), -1);
    assert_non_null(strstr(px_error_message(), "tol"));

    assert_int_equal(ridge_fit(X, y, 0, d, 1.0, c), -1);
    assert_non_null(strstr(px_error_message(), "no rows"));
    assert_int_equal(ridge_fit(X, y, n, 0, 1.0, c), -1);
    assert_int_equal(ridge_fit(X, y, n, d, -1.0, c), -1);
    assert_non_null(strstr(px_error_message(), "lambda"));
    assert_int_equal(logistic_fit(X, y, n, d, NAN, 10, 1e-10, c, &iters), -1);

    X[7] = NAN;
    assert_int_equal(ridge_fit(X, y, n, d, 1.0, c), -1);
    assert_non_null(strstr(px_error_message(), "non-finite"));
    assert_int_equal(logistic_fit(X, y, n, d, 1.0, 10, 1e-10, c, &iters), -1);
    assert_non_null(strstr(px_error_message(), "non-finite"));
    free(X);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ridge_by_hand),
        cmocka_unit_test(test_ridge_normal_equations),
        cmocka_unit_test(test_logistic_closed_form),
        cmocka_unit_test(test_logistic_gradient_vanishes),
        cmocka_unit_test(test_logistic_terms_extreme),
        cmocka_unit_test(test_newton_line_search),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
