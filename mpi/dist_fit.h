/* dist_fit.h — ridge and logistic (IRLS) probes on rows spread over all MPI ranks, solved with
 * ScaLAPACK (PDGEMM for the Gram matrix / Hessian, PDPOSV for the solves) on BLACS grids over
 * MPI_COMM_WORLD. The math is that of src/probe/linfit.h (same objective, coef layout, stopping rule
 * and singularity test), so the result equals ridge_fit / logistic_fit on the concatenated
 * rows up to rounding.
 *
 * All functions are collective: every rank calls them with its own rows (X_local: n_local × d
 * row-major, y_local: n_local; n_local may differ between ranks and may be 0, but the total
 * must be ≥ 1) and the same d, lambda, max_iter and tol. Every rank gets the same coef (d+1:
 * weights, then intercept), bit for bit. On any failure (bad arguments, allocation,
 * ScaLAPACK info, singular matrix, no convergence) every rank returns -1 with the same
 * px_error message (world_agree), never a hang. */
#ifndef PROACT_DIST_FIT_H
#define PROACT_DIST_FIT_H

#include <stdint.h>

#include "mpi/world.h"

/* Block size (rows and columns) of the (d+1) × (d+1) matrices on the 2-D process grid. */
#define DIST_FIT_NB 32

int dist_ridge_fit(const World *w, const double *X_local, const double *y_local, int64_t n_local, int d, double lambda,
                   double *coef);

/* *iters (may be NULL): Newton iterations done, as in logistic_fit. */
int dist_logistic_fit(const World *w, const double *X_local, const double *y_local, int64_t n_local, int d,
                      double lambda, int max_iter, double tol, double *coef, int *iters);

/* Global feature means and population standard deviations (a feature with std < 1e-12 gets
 * scale 1), summed over ranks; then X_local ← (X_local - mean) / scale in place.
 * mean, scale: d (out), identical on every rank. */
int dist_standardize(const World *w, double *X_local, int64_t n_local, int d, double *mean, double *scale);

#endif
