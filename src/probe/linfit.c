#include "src/probe/linfit.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

/* LAPACK (exported by OpenBLAS; no lapacke header here). The trailing size_t is gfortran's
 * hidden length of the character argument. */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
                   const int *ldb, int *info, size_t uplo_len);

enum {
    GRAM_CHUNK = 512,     /* rows per dsyrk update: bounds the scratch copy of [X 1] */
    MAX_HALVINGS = 40,    /* line search: t down to 2^-40 */
    DGEMV_ROWS = 1 << 30, /* rows per cblas call (int sizes) */
};
/* The line search accepts a step that raises the objective by no more than this (relative),
 * so that rounding noise near the optimum never shortens a converging Newton step. */
#define OBJECTIVE_RTOL 1e-10

int linfit_check_args(const char *who, int64_t n, int d, double lambda) {
    if (n < 1) return px_error("%s: no rows to fit (n = %lld)", who, (long long)n);
    if (d < 1) return px_error("%s: need at least one feature (d = %d)", who, d);
    if (d > 1000000) return px_error("%s: d = %d features is too many for a dense (d+1)^2 Gram matrix", who, d);
    if (!(lambda >= 0) || !isfinite(lambda))
        return px_error("%s: lambda must be finite and >= 0 (got %g)", who, lambda);
    return 0;
}

void linfit_at_vec(const double *X, const double *v, int64_t n, int d, double *out) {
    memset(out, 0, sizeof(double) * (size_t)(d + 1));
    double sum = 0;
    for (int64_t i0 = 0; i0 < n; i0 += DGEMV_ROWS) {
        int m = (int)PX_MIN(n - i0, (int64_t)DGEMV_ROWS);
        /* out[0..d) += X[i0.., :]ᵀ v[i0..] */
        cblas_dgemv(CblasRowMajor, CblasTrans, m, d, 1.0, X + i0 * d, d, v + i0, 1, 1.0, out, 1);
        for (int i = 0; i < m; i++) sum += v[i0 + i];
    }
    out[d] = sum;
}

void linfit_scaled_rows(const double *X, const double *s, int64_t n, int d, double *B, int64_t ldb) {
    for (int64_t i = 0; i < n; i++) {
        double si = s ? s[i] : 1.0;
        const double *x = X + i * d;
        for (int j = 0; j < d; j++) B[j * ldb + i] = si * x[j];
        B[d * ldb + i] = si;
    }
}

/* log(1 + e^z) for any z: max(z,0) + log1p(e^{-|z|}) never overflows. */
static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

double linfit_logistic_terms(const double *X, const double *y, int64_t n, int d, const double *coef, double *r,
                             double *s) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double z = coef[d] + cblas_ddot(d, X + i * d, 1, coef, 1), yi = y[i];
        /* softplus(z) - y z = (1-y) softplus(z) + y softplus(-z): no cancellation for 0/1 labels */
        sum += (1 - yi) * softplus(z) + yi * softplus(-z);
        if (r || s) {
            double e = exp(-fabs(z)), p = z >= 0 ? 1 / (1 + e) : e / (1 + e), q = z >= 0 ? e / (1 + e) : 1 / (1 + e);
            if (r) r[i] = (1 - yi) * p - yi * q; /* p - y, with 1-p computed directly */
            if (s) s[i] = sqrt(e) / (1 + e);     /* sqrt(p q) */
        }
    }
    return sum;
}

double linfit_penalty(const double *coef, int d, double lambda) {
    return 0.5 * lambda * cblas_ddot(d, coef, 1, coef, 1);
}

void linfit_add_penalty_grad(double *g, const double *coef, int d, double lambda) {
    for (int j = 0; j < d; j++) g[j] += lambda * coef[j];
}

int linfit_check_pivot(const char *who, const char *what, int j, double l_jj, double m_jj) {
    if (!isfinite(m_jj)) return px_error("%s: %s has non-finite entries (NaN or Inf in the data?)", who, what);
    /* written so that a NaN pivot fails too */
    if (!(l_jj * l_jj >= LINFIT_PIVOT_RTOL * m_jj))
        return px_error("%s: %s is singular (column %d is a linear combination of the earlier ones to 1e-12: a "
                        "duplicated or constant feature with lambda = 0?)",
                        who, what, j);
    return 0;
}

/* G (k × k, column-major, lower triangle) = BᵀB for B = the rows [X_i 1] scaled by s_i (s NULL: 1).
 * B: scratch of GRAM_CHUNK × k. */
static void gram(const double *X, const double *s, int64_t n, int d, double *B, double *G) {
    int k = d + 1;
    memset(G, 0, sizeof(double) * (size_t)k * k);
    for (int64_t i0 = 0; i0 < n; i0 += GRAM_CHUNK) {
        int m = (int)PX_MIN(n - i0, (int64_t)GRAM_CHUNK);
        linfit_scaled_rows(X + i0 * d, s ? s + i0 : NULL, m, d, B, m);
        cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, k, m, 1.0, B, m, 1.0, G, k);
    }
}

/* Solves (G + Λ) x = rhs in place (rhs becomes x); G: k × k column-major lower, overwritten by
 * its Cholesky factor. diag: scratch of k. */
static int solve_penalized(const char *who, const char *what, double *G, int d, double lambda, double *rhs,
                           double *diag) {
    int k = d + 1, nrhs = 1, info = 0;
    for (int j = 0; j < d; j++) G[(size_t)j * k + j] += lambda;
    for (int j = 0; j < k; j++) {
        diag[j] = G[(size_t)j * k + j];
        if (!isfinite(diag[j])) return px_error("%s: %s has non-finite entries (NaN or Inf in the data?)", who, what);
    }
    dposv_("L", &k, &nrhs, G, &k, rhs, &k, &info, 1);
    if (info < 0) return px_error("%s: LAPACK dposv rejected argument %d", who, -info);
    if (info > 0) return px_error("%s: %s is singular (not positive definite: LAPACK dposv info=%d)", who, what, info);
    for (int j = 0; j < k; j++)
        if (linfit_check_pivot(who, what, j, G[(size_t)j * k + j], diag[j])) return -1;
    return 0;
}

int ridge_fit(const double *X, const double *y, int64_t n, int d, double lambda, double *coef) {
    if (linfit_check_args("ridge_fit", n, d, lambda)) return -1;
    int k = d + 1, rc = -1;
    double *G = px_calloc((size_t)k * k, sizeof(double), "ridge_fit Gram matrix");
    double *B = px_calloc((size_t)GRAM_CHUNK * k, sizeof(double), "ridge_fit row block");
    double *diag = px_calloc(k, sizeof(double), "ridge_fit diagonal");
    if (G && B && diag) {
        gram(X, NULL, n, d, B, G);
        linfit_at_vec(X, y, n, d, coef);
        rc = solve_penalized("ridge_fit", "Gram matrix", G, d, lambda, coef, diag);
        for (int j = 0; rc == 0 && j < k; j++)
            if (!isfinite(coef[j])) rc = px_error("ridge_fit: non-finite solution (NaN or Inf in y?)");
    }
    free(G);
    free(B);
    free(diag);
    return rc;
}

/* ---- logistic regression: the single-process callbacks of linfit_newton ---- */

typedef struct {
    const double *X, *y;
    int64_t n;
    int d;
    double lambda;
    double *r, *s;        /* n: p - y and sqrt(W) */
    double *B, *G, *diag; /* GRAM_CHUNK × (d+1), (d+1)², d+1 */
} LogisticCtx;

static int local_newton_step(void *ctx, const double *coef, double *step) {
    LogisticCtx *c = ctx;
    linfit_logistic_terms(c->X, c->y, c->n, c->d, coef, c->r, c->s);
    linfit_at_vec(c->X, c->r, c->n, c->d, step); /* g = Aᵀ(p - y) + Λθ */
    linfit_add_penalty_grad(step, coef, c->d, c->lambda);
    gram(c->X, c->s, c->n, c->d, c->B, c->G); /* AᵀWA */
    return solve_penalized("logistic_fit", "Hessian", c->G, c->d, c->lambda, step, c->diag);
}

static int local_objective(void *ctx, const double *coef, double *f) {
    LogisticCtx *c = ctx;
    *f = linfit_logistic_terms(c->X, c->y, c->n, c->d, coef, NULL, NULL) + linfit_penalty(coef, c->d, c->lambda);
    return 0;
}

int logistic_fit(const double *X, const double *y, int64_t n, int d, double lambda, int max_iter, double tol,
                 double *coef, int *iters) {
    if (linfit_check_args("logistic_fit", n, d, lambda)) return -1;
    int k = d + 1, rc = -1;
    LogisticCtx c = {X, y, n, d, lambda, NULL, NULL, NULL, NULL, NULL};
    c.r = px_calloc((size_t)n, sizeof(double), "logistic_fit residuals");
    c.s = px_calloc((size_t)n, sizeof(double), "logistic_fit weights");
    c.B = px_calloc((size_t)GRAM_CHUNK * k, sizeof(double), "logistic_fit row block");
    c.G = px_calloc((size_t)k * k, sizeof(double), "logistic_fit Hessian");
    c.diag = px_calloc(k, sizeof(double), "logistic_fit diagonal");
    double *work = px_calloc(2 * (size_t)k, sizeof(double), "logistic_fit Newton step");
    if (c.r && c.s && c.B && c.G && c.diag && work) {
        LinfitNewtonOps ops = {local_newton_step, local_objective};
        rc = linfit_newton("logistic_fit", &ops, &c, d, max_iter, tol, coef, iters, work);
    }
    free(work);
    free(c.r);
    free(c.s);
    free(c.B);
    free(c.G);
    free(c.diag);
    return rc;
}

/* ---- the Newton driver ---- */

/* θ ← θ - t s with t halved until the objective does not rise; *f becomes the new objective. */
static int line_search(const char *who, const LinfitNewtonOps *ops, void *ctx, int k, const double *step, double *coef,
                       double *trial, double *f, int it) {
    double t = 1, ft = 0;
    for (int h = 0;; h++, t *= 0.5) {
        for (int j = 0; j < k; j++) trial[j] = coef[j] - t * step[j];
        if (ops->objective(ctx, trial, &ft)) return -1;
        if (ft <= *f + OBJECTIVE_RTOL * (1 + fabs(*f))) break; /* false for NaN */
        if (h == MAX_HALVINGS)
            return px_error("%s: iteration %d: the Newton step does not decrease the objective (%.17g)", who, it, *f);
    }
    memcpy(coef, trial, sizeof(double) * k);
    *f = ft;
    return 0;
}

int linfit_newton(const char *who, const LinfitNewtonOps *ops, void *ctx, int d, int max_iter, double tol, double *coef,
                  int *iters, double *work) {
    if (iters) *iters = 0;
    if (max_iter < 1) return px_error("%s: max_iter must be >= 1 (got %d)", who, max_iter);
    if (!(tol > 0)) return px_error("%s: tol must be > 0 (got %g)", who, tol);
    int k = d + 1;
    double *step = work, *trial = work + k, f = 0, smax = 0;
    memset(coef, 0, sizeof(double) * k);
    if (ops->objective(ctx, coef, &f)) return -1;
    for (int it = 1; it <= max_iter; it++) {
        if (ops->newton_step(ctx, coef, step)) return -1;
        smax = 0;
        for (int j = 0; j < k; j++) {
            if (!isfinite(step[j]))
                return px_error("%s: iteration %d: non-finite Newton step (NaN or Inf in the data?)", who, it);
            smax = PX_MAX(smax, fabs(step[j]));
        }
        if (line_search(who, ops, ctx, k, step, coef, trial, &f, it)) return -1;
        if (iters) *iters = it;
        if (smax < tol) return 0;
    }
    return px_error("%s: did not converge in %d iterations (last max|Newton step| = %.3g, tol = %.3g)", who, max_iter,
                    smax, tol);
}
