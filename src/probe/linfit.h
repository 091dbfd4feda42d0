/* linfit.h — linear probes on one process: ridge regression and L2-penalized logistic
 * regression, each with an unpenalized intercept (OpenBLAS cblas + LAPACK dposv).
 *
 * Shapes: X is n × d, row-major double (row i = one example); y has n entries; coef has d+1
 * entries, the weights w[0..d) and then the intercept b. With A = [X 1] (n × (d+1)) and
 * Λ = diag(λ, ..., λ, 0) (the intercept is not penalized):
 *
 *   ridge:     minimise ½|Aθ − y|² + λ/2 |w|²        →  (AᵀA + Λ) θ = Aᵀy
 *   logistic:  minimise Σ_i [log(1+e^{z_i}) − y_i z_i] + λ/2 |w|²,  z = Aθ
 *              gradient g = Aᵀ(p − y) + Λθ, Hessian H = AᵀWA + Λ, p = σ(z), W = diag(p(1−p))
 *
 * Both solve with a Cholesky factorization (dposv, lower triangle). A system is rejected as
 * singular when dposv fails or when some pivot of the factor L satisfies
 * L_jj² < LINFIT_PIVOT_RTOL · M_jj (column j of the matrix M is, to 1e-12, a combination of
 * the earlier columns: a duplicated or constant feature with λ = 0). mpi/dist_fit.c does the
 * same arithmetic on many ranks, and shares the building blocks declared at the end. */
#ifndef PROACT_LINFIT_H
#define PROACT_LINFIT_H

#include <stdint.h>

#define LINFIT_PIVOT_RTOL 1e-12

/* Ridge regression. X: n × d row-major, y: n, coef: d+1 (out). n ≥ 1, d ≥ 1, λ ≥ 0.
 * Returns 0, or -1 with px_error (bad arguments, out of memory, singular Gram matrix). */
int ridge_fit(const double *X, const double *y, int64_t n, int d, double lambda, double *coef);

/* Logistic regression by damped Newton (IRLS), starting from θ = 0. X: n × d row-major,
 * y: n labels in [0, 1] (normally 0/1), coef: d+1 (out). Each iteration solves H s = g and
 * moves θ ← θ − t s, with t = 1 halved until the objective does not increase (beyond
 * rounding). Stops after the iteration whose full Newton step has max_j |s_j| < tol; *iters
 * = iterations done (may be NULL). -1 with px_error if that has not happened after max_iter
 * iterations (coef then holds the last iterate), or on a singular Hessian, bad arguments or
 * out of memory. */
int logistic_fit(const double *X, const double *y, int64_t n, int d, double lambda, int max_iter, double tol,
                 double *coef, int *iters);

/* ---- building blocks shared with mpi/dist_fit.c (same math on one rank and on many) ---- */

/* Argument checks common to all fits; who names the caller in the message. n is the total
 * row count (over all ranks). */
int linfit_check_args(const char *who, int64_t n, int d, double lambda);

/* out (d+1) = Aᵀv for A = [X 1]: out[j] = Σ_i v_i X_ij, out[d] = Σ_i v_i. X: n × d row-major. */
void linfit_at_vec(const double *X, const double *v, int64_t n, int d, double *out);

/* Rows [X_i 1] scaled by s_i (s NULL: by 1) written column-major into B (ldb ≥ n rows,
 * d+1 columns): the factor whose BᵀB is AᵀA (ridge) or AᵀWA (logistic, s = √W). */
void linfit_scaled_rows(const double *X, const double *s, int64_t n, int d, double *B, int64_t ldb);

/* The logistic data term Σ_i [log(1+e^{z_i}) − y_i z_i] at θ = coef (no penalty), computed
 * without overflow or cancellation. If r is not NULL: r_i = p_i − y_i; if s is not NULL:
 * s_i = √(p_i(1 − p_i)). X: n × d row-major, y, r, s: n. */
double linfit_logistic_terms(const double *X, const double *y, int64_t n, int d, const double *coef, double *r,
                             double *s);

/* λ/2 |w|² (the intercept coef[d] excluded). */
double linfit_penalty(const double *coef, int d, double lambda);

/* g (d+1) += Λθ: the penalty's gradient. */
void linfit_add_penalty_grad(double *g, const double *coef, int d, double lambda);

/* The singularity test above for one pivot: 0 if L_jj² ≥ LINFIT_PIVOT_RTOL · M_jj, else -1
 * with px_error naming who, what (e.g. "Gram matrix") and column j. */
int linfit_check_pivot(const char *who, const char *what, int j, double l_jj, double m_jj);

/* The damped Newton driver used by logistic_fit and dist_logistic_fit. The callbacks see the
 * current θ (d+1) and return 0 or -1 with px_error; a distributed caller makes them collective
 * and agreed, so that every rank takes the same decisions here. */
typedef struct {
    /* step (d+1) = H⁻¹ g at coef */
    int (*newton_step)(void *ctx, const double *coef, double *step);
    /* the penalized objective at coef */
    int (*objective)(void *ctx, const double *coef, double *f);
} LinfitNewtonOps;

/* work: 2(d+1) doubles from the caller, so that a distributed caller has agreed on every
 * allocation before the first collective callback. */
int linfit_newton(const char *who, const LinfitNewtonOps *ops, void *ctx, int d, int max_iter, double tol, double *coef,
                  int *iters, double *work);

#endif
