/* dist_fit.c — ridge and logistic probes over all ranks with ScaLAPACK.
 *
 * Distribution. A = [X 1] (rows scaled by √W_i for the logistic Hessian) is one tall matrix
 * whose row block r holds rank r's rows, padded with zero rows to the largest local count m
 * (zero rows change neither AᵀA nor Aᵀv): (P·m) × (d+1) with blocks m × (d+1) on a P × 1
 * BLACS grid, so each rank's local part is just its own rows, column-major, and ranks with
 * no rows hold only padding. PDGEMM('T','N') forms G = AᵀA on that grid ((d+1) × (d+1) in
 * DIST_FIT_NB blocks); PDGEMR2D moves G block-cyclically to a near-square Pr × Pc grid, where
 * the penalty goes on the diagonal and PDPOSV factors and solves. The right-hand side Aᵀy or
 * gradient Aᵀ(p − y) is only d+1 long: a local dgemv summed over ranks, scattered into
 * PDPOSV's right-hand side on process column 0; the solution comes back to every rank as a sum
 * in which each entry has exactly one nonzero term, so it is exact and the same everywhere.
 * Sums that steer decisions (gradient, objective) are MPI_Reduce + MPI_Bcast rather than
 * MPI_Allreduce so that every rank sees the same bits and linfit_newton takes the same steps
 * everywhere. Every failure goes through world_agree before the next collective call.
 */
#include "mpi/dist_fit.h"

#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "src/base/common.h"
#include "src/base/fault.h"
#include "src/probe/linfit.h"

/* BLACS and ScaLAPACK: Debian's libscalapack-openmpi-dev ships no C header. The Fortran
 * routines take everything by reference; the trailing size_t are gfortran's hidden lengths of
 * the character arguments. */
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *icontxt, char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int icontxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int icontxt);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
                      const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void pdgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
                    const double *alpha, const double *a, const int *ia, const int *ja, const int *desca,
                    const double *b, const int *ib, const int *jb, const int *descb, const double *beta, double *c,
                    const int *ic, const int *jc, const int *descc, size_t transa_len, size_t transb_len);
extern void pdposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *ia, const int *ja,
                    const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info,
                    size_t uplo_len);
extern void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja, const int *desca,
                      double *b, const int *ib, const int *jb, const int *descb, const int *ictxt);

enum { NB = DIST_FIT_NB };

/* The grids, descriptors and local buffers of one fit. */
typedef struct {
    const World *w;
    const char *who;
    int d, k, m; /* features, d+1, padded rows per rank */
    double lambda;
    int sys;                /* the BLACS handle of the World's communicator; -1 until made */
    int ctx1, ctx2;         /* P × 1 and Pr × Pc grids; -1 until created */
    int pr, pc, row2, col2; /* the 2-D grid and this rank's place in it */
    int rows2, cols2;       /* local size of G2 */
    int descA[9], descG1[9], descG2[9], descR[9];
    double *A;    /* m × k column-major: this rank's rows of [X 1], scaled, zero padded */
    double *G1;   /* this rank's rows of G on the P × 1 grid (× k columns) */
    double *G2;   /* rows2 × cols2: this rank's blocks of G on the 2-D grid */
    double *R;    /* rows2: right-hand side / solution (process column 0 only) */
    double *diag; /* k: the diagonal entries of G2 this rank owns, before factoring */
} Solver;

static int max1(int v) { return v > 1 ? v : 1; }

/* Global index of local index il in a block-cyclic dimension starting at process 0. */
static int l2g(int il, int iproc, int nprocs) { return ((il / NB) * nprocs + iproc) * NB + il % NB; }

/* Sums buf over ranks; every rank gets rank 0's result, bit for bit. */
static int sum_all(const World *w, double *buf, int count) {
    int rc = MPI_Reduce(w->rank == 0 ? MPI_IN_PLACE : buf, buf, count, MPI_DOUBLE, MPI_SUM, 0, world_comm(w));
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(buf, count, MPI_DOUBLE, 0, world_comm(w));
    return world_agree(w, rc == MPI_SUCCESS ? 0 : px_error("MPI_Reduce/MPI_Bcast of %d doubles failed", count));
}

/* Total and largest local row count; local argument checks folded in. Collective. */
static int row_counts(const World *w, const char *who, int local_status, int64_t n_local, int64_t *n, int64_t *m) {
    int64_t mine = n_local > 0 ? n_local : 0;
    if (MPI_Allreduce(&mine, n, 1, MPI_INT64_T, MPI_SUM, world_comm(w)) != MPI_SUCCESS ||
        MPI_Allreduce(&mine, m, 1, MPI_INT64_T, MPI_MAX, world_comm(w)) != MPI_SUCCESS)
        local_status = px_error("%s: MPI_Allreduce of the row counts failed", who);
    return world_agree(w, local_status);
}

static void solver_close(Solver *S) {
    if (S->ctx1 >= 0) Cblacs_gridexit(S->ctx1);
    if (S->ctx2 >= 0) Cblacs_gridexit(S->ctx2);
    if (S->sys >= 0) Cfree_blacs_system_handle(S->sys);
    free(S->A);
    free(S->G1);
    free(S->G2);
    free(S->R);
    free(S->diag);
    memset(S, 0, sizeof *S);
    S->sys = S->ctx1 = S->ctx2 = -1;
}

/* Descriptors for the four distributed matrices; 0 or -1 with px_error. */
static int solver_describe(Solver *S, int P, int row1) {
    int zero = 0, one = 1, k = S->k, nb = NB, rows1 = numroc_(&k, &nb, &row1, &zero, &P);
    S->rows2 = numroc_(&k, &nb, &S->row2, &zero, &S->pr);
    S->cols2 = numroc_(&k, &nb, &S->col2, &zero, &S->pc);
    int M = P * S->m, lldA = max1(S->m), lld1 = max1(rows1), lld2 = max1(S->rows2), info[4];
    descinit_(S->descA, &M, &k, &S->m, &k, &zero, &zero, &S->ctx1, &lldA, &info[0]);
    descinit_(S->descG1, &k, &k, &nb, &nb, &zero, &zero, &S->ctx1, &lld1, &info[1]);
    descinit_(S->descG2, &k, &k, &nb, &nb, &zero, &zero, &S->ctx2, &lld2, &info[2]);
    descinit_(S->descR, &k, &one, &nb, &one, &zero, &zero, &S->ctx2, &lld2, &info[3]);
    for (int i = 0; i < 4; i++)
        if (info[i])
            return px_error("%s: ScaLAPACK descinit rejected argument %d of descriptor %d", S->who, -info[i], i);
    S->A = px_calloc((size_t)S->m * k, sizeof(double), "distributed fit rows");
    S->G1 = px_calloc((size_t)lld1 * k, sizeof(double), "distributed Gram matrix");
    S->G2 = px_calloc((size_t)lld2 * max1(S->cols2), sizeof(double), "distributed Gram matrix (2-D)");
    S->R = px_calloc(lld2, sizeof(double), "distributed right-hand side");
    S->diag = px_calloc(k, sizeof(double), "distributed diagonal");
    return S->A && S->G1 && S->G2 && S->R && S->diag ? 0 : -1;
}

/* Checks the arguments, creates the grids and buffers. Collective; on failure (agreed) every
 * rank has released what it made. local_status: the caller's own local checks. */
static int solver_open(Solver *S, const World *w, const char *who, int local_status, const double *X, const double *y,
                       int64_t n_local, int d, double lambda) {
    memset(S, 0, sizeof *S);
    S->sys = S->ctx1 = S->ctx2 = -1;
    S->w = w;
    S->who = who;
    S->d = d;
    S->k = d + 1;
    S->lambda = lambda;
    if (local_status == 0 && (n_local < 0 || (n_local > 0 && (!X || !y))))
        local_status = px_error("%s: bad local rows (n_local = %lld, X or y NULL)", who, (long long)n_local);
    int64_t n = 0, m = 0;
    if (row_counts(w, who, local_status, n_local, &n, &m)) return -1;
    /* the same on every rank from here: n, m, d, lambda */
    if (linfit_check_args(who, n, d, lambda)) return -1;
    if (m > INT_MAX / w->size)
        return px_error("%s: %lld rows on one rank is too many for ScaLAPACK's 32-bit indices", who, (long long)m);
    S->m = (int)m;

    int P = w->size, nprow, npcol, row1, col1;
    S->pr = (int)sqrt((double)P);
    while (P % S->pr) S->pr--;
    S->pc = P / S->pr;
    S->sys = Csys2blacs_handle(world_comm(w)); /* both grids over the World's communicator */
    S->ctx1 = S->sys;
    Cblacs_gridinit(&S->ctx1, "Row", P, 1);
    S->ctx2 = S->sys;
    Cblacs_gridinit(&S->ctx2, "Row", S->pr, S->pc);
    Cblacs_gridinfo(S->ctx1, &nprow, &npcol, &row1, &col1);
    Cblacs_gridinfo(S->ctx2, &nprow, &npcol, &S->row2, &S->col2);
    int status = 0;
    if (row1 < 0 || S->row2 < 0) status = px_error("%s: this rank is not in the BLACS grid", who);
    if (status == 0) status = solver_describe(S, P, row1);
    if (world_agree(w, status)) {
        solver_close(S);
        return -1;
    }
    return 0;
}

/* Solves (AᵀA + Λ) x = g for the A already in S->A. g (k, the same on every rank) becomes x on
 * every rank. what names the matrix in errors. Collective. */
static int solver_solve(Solver *S, const char *what, double *g) {
    int one = 1, k = S->k, d = S->d, M = S->descA[2], info = 0, status = 0;
    double alpha = 1, beta = 0;
    /* G = AᵀA on the P × 1 grid, then block-cyclic onto the 2-D grid */
    pdgemm_("T", "N", &k, &k, &M, &alpha, S->A, &one, &one, S->descA, S->A, &one, &one, S->descA, &beta, S->G1, &one,
            &one, S->descG1, 1, 1);
    pdgemr2d_(&k, &k, S->G1, &one, &one, S->descG1, S->G2, &one, &one, S->descG2, &S->ctx1);

    /* the penalty on the diagonal entries this rank owns (not the intercept's) */
    int lld2 = S->descG2[8];
    for (int j = 0; j < k; j++) {
        if ((j / NB) % S->pr != S->row2 || (j / NB) % S->pc != S->col2) continue;
        int il = j / (NB * S->pr) * NB + j % NB, jl = j / (NB * S->pc) * NB + j % NB;
        double *gjj = &S->G2[(size_t)jl * lld2 + il];
        if (j < d) *gjj += S->lambda;
        S->diag[j] = *gjj;
        if (status == 0 && !isfinite(*gjj))
            status = px_error("%s: %s has non-finite entries (NaN or Inf in the data?)", S->who, what);
    }
    if (world_agree(S->w, status)) return -1;

    if (S->col2 == 0)
        for (int il = 0; il < S->rows2; il++) S->R[il] = g[l2g(il, S->row2, S->pr)];
    pdposv_("L", &k, &one, S->G2, &one, &one, S->descG2, S->R, &one, &one, S->descR, &info, 1);
    if (info < 0) status = px_error("%s: ScaLAPACK pdposv rejected argument %d", S->who, -info);
    if (info > 0)
        status = px_error("%s: %s is singular (not positive definite: ScaLAPACK pdposv info=%d)", S->who, what, info);
    for (int j = 0; status == 0 && j < k; j++) {
        if ((j / NB) % S->pr != S->row2 || (j / NB) % S->pc != S->col2) continue;
        int il = j / (NB * S->pr) * NB + j % NB, jl = j / (NB * S->pc) * NB + j % NB;
        status = linfit_check_pivot(S->who, what, j, S->G2[(size_t)jl * lld2 + il], S->diag[j]);
    }
    if (world_agree(S->w, status)) return -1;

    /* each entry of x lives on one rank of process column 0: a sum of it and zeros */
    memset(g, 0, sizeof(double) * k);
    if (S->col2 == 0)
        for (int il = 0; il < S->rows2; il++) g[l2g(il, S->row2, S->pr)] = S->R[il];
    status = MPI_Allreduce(MPI_IN_PLACE, g, k, MPI_DOUBLE, MPI_SUM, world_comm(S->w)) == MPI_SUCCESS
                 ? 0
                 : px_error("%s: MPI_Allreduce of the solution failed", S->who);
    return world_agree(S->w, status);
}

int dist_ridge_fit(const World *w, const double *X_local, const double *y_local, int64_t n_local, int d, double lambda,
                   double *coef) {
    const char *who = "dist_ridge_fit";
    Solver S;
    if (solver_open(&S, w, who, 0, X_local, y_local, n_local, d, lambda)) return -1;
    linfit_scaled_rows(X_local, NULL, n_local, d, S.A, S.m);
    linfit_at_vec(X_local, y_local, n_local, d, coef); /* Aᵀy, this rank's rows */
    int rc = sum_all(w, coef, S.k) || solver_solve(&S, "Gram matrix", coef) ? -1 : 0;
    for (int j = 0; rc == 0 && j < S.k; j++)
        if (!isfinite(coef[j])) rc = px_error("%s: non-finite solution (NaN or Inf in y?)", who);
    solver_close(&S);
    return rc;
}

/* ---- logistic regression: the distributed callbacks of linfit_newton ---- */

typedef struct {
    Solver *S;
    const double *X, *y;
    int64_t n;     /* local rows */
    double *r, *s; /* n: p - y and sqrt(W) for the local rows */
} DistLogistic;

static int dist_newton_step(void *ctx, const double *coef, double *step) {
    DistLogistic *c = ctx;
    Solver *S = c->S;
    linfit_logistic_terms(c->X, c->y, c->n, S->d, coef, c->r, c->s);
    linfit_at_vec(c->X, c->r, c->n, S->d, step); /* g = Aᵀ(p - y) + Λθ */
    if (sum_all(S->w, step, S->k)) return -1;
    fault_injected(FAULT_DIST_FIT, S->w->rank, -1, 0); /* tests only: PROACT_FAULT=dist_fit:... */
    linfit_add_penalty_grad(step, coef, S->d, S->lambda);
    linfit_scaled_rows(c->X, c->s, c->n, S->d, S->A, S->m); /* √W A: its Gram is AᵀWA */
    return solver_solve(S, "Hessian", step);
}

static int dist_objective(void *ctx, const double *coef, double *f) {
    DistLogistic *c = ctx;
    double v = linfit_logistic_terms(c->X, c->y, c->n, c->S->d, coef, NULL, NULL);
    if (sum_all(c->S->w, &v, 1)) return -1;
    *f = v + linfit_penalty(coef, c->S->d, c->S->lambda);
    return 0;
}

int dist_logistic_fit(const World *w, const double *X_local, const double *y_local, int64_t n_local, int d,
                      double lambda, int max_iter, double tol, double *coef, int *iters) {
    const char *who = "dist_logistic_fit";
    if (iters) *iters = 0;
    size_t nl = n_local > 0 ? (size_t)n_local : 0, k = d > 0 ? (size_t)d + 1 : 1;
    DistLogistic c = {NULL,
                      X_local,
                      y_local,
                      n_local,
                      px_calloc(nl, sizeof(double), "logistic residuals"),
                      px_calloc(nl, sizeof(double), "logistic weights")};
    double *work = px_calloc(2 * k, sizeof(double), "Newton step");
    Solver S;
    int rc = -1;
    if (solver_open(&S, w, who, c.r && c.s && work ? 0 : -1, X_local, y_local, n_local, d, lambda) == 0) {
        c.S = &S;
        LinfitNewtonOps ops = {dist_newton_step, dist_objective};
        rc = linfit_newton(who, &ops, &c, d, max_iter, tol, coef, iters, work);
        solver_close(&S);
    }
    free(c.r);
    free(c.s);
    free(work);
    return rc;
}

/* ---- standardization ---- */

int dist_standardize(const World *w, double *X_local, int64_t n_local, int d, double *mean, double *scale) {
    const char *who = "dist_standardize";
    int status = 0;
    if (d < 1) status = px_error("%s: need at least one feature (d = %d)", who, d);
    else if (n_local < 0 || (n_local > 0 && !X_local))
        status = px_error("%s: bad local rows (n_local = %lld, X NULL)", who, (long long)n_local);
    int64_t n = 0, m = 0;
    if (row_counts(w, who, status, n_local, &n, &m)) return -1;
    if (n < 1) return px_error("%s: no rows on any rank", who);

    memset(mean, 0, sizeof(double) * d);
    for (int64_t i = 0; i < n_local; i++)
        for (int j = 0; j < d; j++) mean[j] += X_local[i * d + j];
    if (sum_all(w, mean, d)) return -1;
    for (int j = 0; j < d; j++) mean[j] /= (double)n;

    /* two passes: the variance from deviations, not from E[x²] - E[x]² */
    memset(scale, 0, sizeof(double) * d);
    for (int64_t i = 0; i < n_local; i++)
        for (int j = 0; j < d; j++) {
            double dev = X_local[i * d + j] - mean[j];
            scale[j] += dev * dev;
        }
    if (sum_all(w, scale, d)) return -1;
    for (int j = 0; j < d; j++) {
        double sd = sqrt(scale[j] / (double)n);
        scale[j] = sd < 1e-12 ? 1.0 : sd;
    }
    for (int64_t i = 0; i < n_local; i++)
        for (int j = 0; j < d; j++) X_local[i * d + j] = (X_local[i * d + j] - mean[j]) / scale[j];
    return 0;
}
