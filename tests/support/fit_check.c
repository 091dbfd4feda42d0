/* fit_check.c — see fit_check.h. */
#include "tests/support/fit_check.h"

#include <math.h>
#include <stdlib.h>

double logistic_grad_norm(const double *X, const double *y, int n, int d, double lambda, const double *c) {
    double *g = calloc((size_t)d + 1, sizeof(double)), norm = 0;
    if (!g) return INFINITY;
    for (int i = 0; i < n; i++) {
        double z = c[d];
        for (int j = 0; j < d; j++) z += X[i * d + j] * c[j];
        double r = 1 / (1 + exp(-z)) - y[i];
        for (int j = 0; j < d; j++) g[j] += r * X[i * d + j];
        g[d] += r;
    }
    for (int j = 0; j < d; j++) g[j] += lambda * c[j];
    for (int j = 0; j <= d; j++) norm += g[j] * g[j];
    free(g);
    return sqrt(norm);
}
