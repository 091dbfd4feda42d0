/* fit_check.h — independent checks of the ridge/logistic fits, shared by the LAPACK (unit) and
 * ScaLAPACK (MPI) tests. */
#ifndef PROACT_TEST_FIT_CHECK_H
#define PROACT_TEST_FIT_CHECK_H

/* |∇| of the L2-penalized logistic log-loss at coef c (d weights, then the unpenalized
 * intercept), computed directly from X [n, d] and the 0/1 labels y. */
double logistic_grad_norm(const double *X, const double *y, int n, int d, double lambda, const double *c);

#endif
