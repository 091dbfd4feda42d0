/* test_dist_fit — under mpirun -np N: every rank generates the same data set (1000 rows,
 * correlated features), takes an uneven slice (with 4 ranks rank 2 has none), standardizes
 * with dist_standardize and fits ridge and logistic with ScaLAPACK; rank 0 fits the full
 * standardized data with ridge_fit / logistic_fit (LAPACK) and the results must agree to 1e-6.
 * Also: noise-free ridge recovers the true weights, the logistic gradient vanishes, every rank
 * gets the same bits, and singular / non-converging / bad-argument cases fail on every rank
 * with the same message. d = 1, 13 and 70 (> DIST_FIT_NB, so the 2-D grid is block-cyclic). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/dist_fit.h"
#include "mpi/world.h"
#include "src/base/common.h"
#include "src/probe/linfit.h"
#include "tests/support/fit_check.h"

enum { N_ROWS = 1000, MAX_ITER = 50 };
#define TOL 1e-10

static World W;
static int failures;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "test_dist_fit rank %d, line %d: ", W.rank, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
            failures++;                                                            \
        }                                                                          \
    } while (0)

/* ---- deterministic data ---- */

static uint64_t rng_state;
static double uniform(void) { /* splitmix64 → (0, 1) */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) { return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()); }

typedef struct {
    int d;
    double *X;  /* N_ROWS × d raw features */
    double *Xs; /* the same, standardized with mean/scale below */
    double *mean, *scale;
    double *w_true;                  /* d+1: weights, intercept (on the standardized features) */
    double *y_lin, *y_clean, *y_bin; /* N_ROWS: noisy linear, noise-free linear, 0/1 logistic */
} Data;

/* Features share a common factor (correlation ~0.4..0.7), have different scales and offsets. */
static void make_data(Data *D, int d, uint64_t seed) {
    rng_state = seed;
    D->d = d;
    D->X = calloc((size_t)N_ROWS * d, sizeof(double));
    D->Xs = calloc((size_t)N_ROWS * d, sizeof(double));
    D->mean = calloc(d, sizeof(double));
    D->scale = calloc(d, sizeof(double));
    D->w_true = calloc(d + 1, sizeof(double));
    D->y_lin = calloc(N_ROWS, sizeof(double));
    D->y_clean = calloc(N_ROWS, sizeof(double));
    D->y_bin = calloc(N_ROWS, sizeof(double));
    for (int i = 0; i < N_ROWS; i++) {
        double f = normal();
        for (int j = 0; j < d; j++) D->X[i * d + j] = (1 + j % 3) * normal() + 0.9 * f + 0.5 * j;
    }
    /* the full-data standardization, computed the plain way */
    for (int j = 0; j < d; j++) {
        double s = 0, v = 0;
        for (int i = 0; i < N_ROWS; i++) s += D->X[i * d + j];
        D->mean[j] = s / N_ROWS;
        for (int i = 0; i < N_ROWS; i++) v += (D->X[i * d + j] - D->mean[j]) * (D->X[i * d + j] - D->mean[j]);
        double sd = sqrt(v / N_ROWS);
        D->scale[j] = sd < 1e-12 ? 1 : sd;
        for (int i = 0; i < N_ROWS; i++) D->Xs[i * d + j] = (D->X[i * d + j] - D->mean[j]) / D->scale[j];
    }
    for (int j = 0; j < d; j++) D->w_true[j] = 0.5 * (j % 5 - 2) + 0.1;
    D->w_true[d] = 0.7;
    for (int i = 0; i < N_ROWS; i++) {
        double z = D->w_true[d];
        for (int j = 0; j < d; j++) z += D->Xs[i * d + j] * D->w_true[j];
        D->y_clean[i] = z;
        D->y_lin[i] = z + 0.3 * normal();
        /* logistic labels from the same model scaled so that the classes overlap */
        double zl = 1.5 * z / sqrt((double)d);
        D->y_bin[i] = uniform() < 1 / (1 + exp(-zl)) ? 1 : 0;
    }
}

static void free_data(Data *D) {
    free(D->X);
    free(D->Xs);
    free(D->mean);
    free(D->scale);
    free(D->w_true);
    free(D->y_lin);
    free(D->y_clean);
    free(D->y_bin);
}

/* Rank r's rows [first, first+count): weights r+1, except rank 2 of ≥ 4 ranks gets none. */
static void slice(int rank, int size, int64_t *first, int64_t *count) {
    int64_t total = 0, before = 0;
    for (int r = 0; r < size; r++) total += (size >= 4 && r == 2) ? 0 : r + 1;
    for (int r = 0; r < rank; r++) before += (size >= 4 && r == 2) ? 0 : r + 1;
    int64_t mine = (size >= 4 && rank == 2) ? 0 : rank + 1;
    *first = N_ROWS * before / total;
    *count = N_ROWS * (before + mine) / total - *first;
}

static double max_abs_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* Every rank must hold rank 0's coef, bit for bit. */
static void check_same_everywhere(const double *coef, int k, const char *what) {
    double *root = malloc(sizeof(double) * k);
    memcpy(root, coef, sizeof(double) * k);
    MPI_Bcast(root, k, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    CHECK(memcmp(root, coef, sizeof(double) * k) == 0, "%s: coef differs from rank 0's", what);
    free(root);
}

/* A failure expected on every rank: rc -1 everywhere, the message names the cause and is the
 * same on every rank. */
static void check_failed_everywhere(int rc, const char *cause, const char *what) {
    CHECK(rc == -1, "%s: expected -1, got %d", what, rc);
    const char *msg = px_error_message();
    CHECK(strstr(msg, cause) != NULL, "%s: message \"%s\" does not mention \"%s\"", what, msg, cause);
    char root[1024];
    snprintf(root, sizeof root, "%s", msg);
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK(strcmp(root, msg) == 0, "%s: message \"%s\" differs from rank 0's \"%s\"", what, msg, root);
    if (W.rank == 0) printf("  expected error (%s): %s\n", what, msg);
}

typedef struct {
    double ridge_diff, logistic_diff;
    int iters;
} Summary;

/* The agreement tests on one data set of d features. */
static void run_case(int d, uint64_t seed, Summary *sum) {
    Data D;
    make_data(&D, d, seed);
    int k = d + 1;
    int64_t first, n;
    slice(W.rank, W.size, &first, &n);
    double *X = malloc(sizeof(double) * (n ? n : 1) * d), *mean = malloc(sizeof(double) * d),
           *scale = malloc(sizeof(double) * d);
    memcpy(X, D.X + first * d, sizeof(double) * n * d);
    const double *y_lin = D.y_lin + first, *y_clean = D.y_clean + first, *y_bin = D.y_bin + first;

    /* standardization: the full-data statistics, and the rows they give */
    CHECK(dist_standardize(&W, X, n, d, mean, scale) == 0, "d=%d: %s", d, px_error_message());
    CHECK(max_abs_diff(mean, D.mean, d) <= 1e-12, "d=%d: mean differs by %g", d, max_abs_diff(mean, D.mean, d));
    CHECK(max_abs_diff(scale, D.scale, d) <= 1e-12, "d=%d: scale differs by %g", d, max_abs_diff(scale, D.scale, d));
    CHECK(max_abs_diff(X, D.Xs + first * d, (int)n * d) <= 1e-12, "d=%d: standardized rows differ", d);

    double *cd = malloc(sizeof(double) * k), *cr = malloc(sizeof(double) * k);
    /* ridge, noisy targets */
    const double lambda = 1.0;
    CHECK(dist_ridge_fit(&W, X, y_lin, n, d, lambda, cd) == 0, "d=%d: %s", d, px_error_message());
    check_same_everywhere(cd, k, "ridge");
    if (W.rank == 0) {
        CHECK(ridge_fit(D.Xs, D.y_lin, N_ROWS, d, lambda, cr) == 0, "d=%d: %s", d, px_error_message());
        double diff = max_abs_diff(cd, cr, k);
        CHECK(diff <= 1e-6, "d=%d: ridge max|dist - ref| = %g", d, diff);
        sum->ridge_diff = fmax(sum->ridge_diff, diff);
    }

    /* ridge, noise-free targets, tiny penalty: the true weights come back */
    CHECK(dist_ridge_fit(&W, X, y_clean, n, d, 1e-10, cd) == 0, "d=%d: %s", d, px_error_message());
    CHECK(max_abs_diff(cd, D.w_true, k) <= 1e-8, "d=%d: noise-free ridge misses w* by %g", d,
          max_abs_diff(cd, D.w_true, k));
    if (W.rank == 0) {
        CHECK(ridge_fit(D.Xs, D.y_clean, N_ROWS, d, 1e-10, cr) == 0, "d=%d: %s", d, px_error_message());
        CHECK(max_abs_diff(cr, D.w_true, k) <= 1e-8, "d=%d: noise-free ridge_fit misses w*", d);
    }

    /* logistic */
    int it_d = 0, it_r = 0;
    CHECK(dist_logistic_fit(&W, X, y_bin, n, d, lambda, MAX_ITER, TOL, cd, &it_d) == 0, "d=%d: %s", d,
          px_error_message());
    check_same_everywhere(cd, k, "logistic");
    if (W.rank == 0) {
        CHECK(logistic_fit(D.Xs, D.y_bin, N_ROWS, d, lambda, MAX_ITER, TOL, cr, &it_r) == 0, "d=%d: %s", d,
              px_error_message());
        double diff = max_abs_diff(cd, cr, k), gn = logistic_grad_norm(D.Xs, D.y_bin, N_ROWS, d, lambda, cd);
        CHECK(diff <= 1e-6, "d=%d: logistic max|dist - ref| = %g", d, diff);
        CHECK(it_d == it_r, "d=%d: %d iterations distributed, %d on one rank", d, it_d, it_r);
        CHECK(gn < 1e-8, "d=%d: logistic penalized gradient norm %g at the solution", d, gn);
        CHECK(cd[0] != 0 && fabs(cd[0]) < 10, "d=%d: implausible logistic weight %g", d, cd[0]);
        sum->logistic_diff = fmax(sum->logistic_diff, diff);
        if (d == 13) sum->iters = it_d;
    }
    free(cd);
    free(cr);
    free(X);
    free(mean);
    free(scale);
    free_data(&D);
}

/* Failures that must reach every rank with the same message, and no hang. */
static void run_errors(void) {
    const int d = 13, k = d + 1;
    Data D;
    make_data(&D, d, 7);
    int64_t first, n;
    slice(W.rank, W.size, &first, &n);
    double *X = malloc(sizeof(double) * (n ? n : 1) * d), *coef = malloc(sizeof(double) * k);
    memcpy(X, D.Xs + first * d, sizeof(double) * n * d);
    for (int64_t i = 0; i < n; i++) X[i * d + 5] = X[i * d + 2]; /* duplicated column */
    const double *y_lin = D.y_lin + first, *y_bin = D.y_bin + first;

    check_failed_everywhere(dist_ridge_fit(&W, X, y_lin, n, d, 0.0, coef), "singular", "duplicated column, ridge");
    int iters = -1;
    check_failed_everywhere(dist_logistic_fit(&W, X, y_bin, n, d, 0.0, MAX_ITER, TOL, coef, &iters), "singular",
                            "duplicated column, logistic");
    /* rank 0: the same on the full data with LAPACK; then, with a penalty, the duplicate is
     * harmless (the two weights split evenly) and the fits agree */
    double *cr = calloc(k, sizeof(double));
    if (W.rank == 0) {
        double *Xf = malloc(sizeof(double) * N_ROWS * d);
        memcpy(Xf, D.Xs, sizeof(double) * N_ROWS * d);
        for (int i = 0; i < N_ROWS; i++) Xf[i * d + 5] = Xf[i * d + 2];
        CHECK(ridge_fit(Xf, D.y_lin, N_ROWS, d, 0.0, cr) == -1 && strstr(px_error_message(), "singular"),
              "duplicated column: ridge_fit gave no singular error");
        CHECK(ridge_fit(Xf, D.y_lin, N_ROWS, d, 0.5, cr) == 0, "ridge_fit, duplicated column, lambda 0.5: %s",
              px_error_message());
        free(Xf);
    }
    MPI_Bcast(cr, k, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    CHECK(dist_ridge_fit(&W, X, y_lin, n, d, 0.5, coef) == 0, "dist_ridge_fit, duplicated column, lambda 0.5: %s",
          px_error_message());
    CHECK(max_abs_diff(coef, cr, k) <= 1e-6 && fabs(coef[2] - coef[5]) < 1e-9,
          "duplicated column, lambda 0.5: dist and ref differ by %g", max_abs_diff(coef, cr, k));
    free(cr);

    /* no convergence in 2 iterations */
    memcpy(X, D.Xs + first * d, sizeof(double) * n * d);
    check_failed_everywhere(dist_logistic_fit(&W, X, y_bin, n, d, 1.0, 2, 1e-14, coef, &iters), "converge",
                            "max_iter 2");
    CHECK(iters == 2, "max_iter 2: %d iterations reported", iters);

    /* one rank's bad arguments stop all of them */
    int bad = W.rank == W.size - 1;
    check_failed_everywhere(dist_ridge_fit(&W, bad ? NULL : X, y_lin, n ? n : 1, d, 1.0, coef), "bad local rows",
                            "NULL rows on the last rank");
    /* no rows anywhere */
    check_failed_everywhere(dist_ridge_fit(&W, X, y_lin, 0, d, 1.0, coef), "no rows", "no rows anywhere");
    check_failed_everywhere(dist_standardize(&W, X, 0, d, coef, coef), "no rows", "standardize, no rows anywhere");
    /* after all that, a normal fit still works (grids were released) */
    CHECK(dist_ridge_fit(&W, X, y_lin, n, d, 1.0, coef) == 0, "fit after errors: %s", px_error_message());
    free(X);
    free(coef);
    free_data(&D);
}

int main(int argc, char **argv) {
    if (world_init(&argc, &argv, &W)) {
        fprintf(stderr, "test_dist_fit: %s\n", px_error_message());
        return 1;
    }
    Summary sum = {0, 0, 0};
    const int dims[] = {1, 13, 70};
    for (int i = 0; i < 3; i++) run_case(dims[i], 1000 + dims[i], &sum);
    run_errors();

    int any = 0;
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (W.rank == 0) {
        if (any) printf("dist_fit np=%d: FAILED (see the rank messages above)\n", W.size);
        else
            printf("dist_fit np=%d: ridge max|diff|=%.1e, logistic max|diff|=%.1e (%d iters)\n", W.size, sum.ridge_diff,
                   sum.logistic_diff, sum.iters);
    }
    world_finalize();
    return any ? 1 : 0;
}
