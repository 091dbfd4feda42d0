/* loss.c — cross-entropy and the SPSD loss over logits rows, with their gradient written in place.
 * Rows (pairs of rows) run on OpenMP threads; totals add up in row order (parallel.h). */
#include "src/model/loss.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/model/parallel.h"

/* log(sum_j exp(z_j)) computed stably; returns it and leaves the max in *mx. */
static double log_sum_exp(const float *z, int V, float *mx) {
    float m = z[0];
    for (int j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
    double s = 0.0; /* float exponentials (vectorisable), summed in double */
    for (int j = 0; j < V; j++) s += expf(z[j] - m);
    *mx = m;
    return m + log(s);
}

/* Rows are independent and run on threads; the total adds each row's loss in row order, as the
 * serial loop did, from partials kept for a block of rows at a time (parallel.h). */
enum { LOSS_BLOCK = 256 };

double cross_entropy_forward(const float *logits, const int *targets, int n_rows, int vocab, int *count) {
    double total = 0.0, part[LOSS_BLOCK];
    int counted = 0;
    for (int r0 = 0; r0 < n_rows; r0 += LOSS_BLOCK) {
        const int r1 = PX_MIN(n_rows, r0 + LOSS_BLOCK);
#pragma omp parallel for schedule(static) if (par_worth((size_t)(r1 - r0) * vocab)) num_threads(par_threads())
        for (int n = r0; n < r1; n++) {
            if (targets[n] < 0) continue;
            const float *z = logits + (size_t)n * vocab;
            float mx;
            part[n - r0] = log_sum_exp(z, vocab, &mx) - z[targets[n]];
        }
        for (int n = r0; n < r1; n++)
            if (targets[n] >= 0) total += part[n - r0], counted++;
    }
    if (count) *count = counted;
    return total;
}

double cross_entropy_forward_backward(float *logits, const int *targets, int n_rows, int vocab, float scale,
                                      int *count) {
    double total = 0.0, part[LOSS_BLOCK];
    int counted = 0;
    for (int r0 = 0; r0 < n_rows; r0 += LOSS_BLOCK) {
        const int r1 = PX_MIN(n_rows, r0 + LOSS_BLOCK);
#pragma omp parallel for schedule(static) if (par_worth((size_t)(r1 - r0) * vocab)) num_threads(par_threads())
        for (int n = r0; n < r1; n++) {
            float *z = logits + (size_t)n * vocab;
            if (targets[n] < 0) {
                for (int j = 0; j < vocab; j++) z[j] = 0.0f;
                continue;
            }
            float mx;
            double lse = log_sum_exp(z, vocab, &mx);
            part[n - r0] = lse - z[targets[n]];
            const float lse_f = (float)lse;
            for (int j = 0; j < vocab; j++) z[j] = expf(z[j] - lse_f) * scale;
            z[targets[n]] -= scale;
        }
        for (int n = r0; n < r1; n++)
            if (targets[n] >= 0) total += part[n - r0], counted++;
    }
    if (count) *count = counted;
    return total;
}

/* p = softmax(z / tau) into p[V]; returns log(sum exp(z/tau)) (of the scaled logits). */
static double softmax_tau(const float *z, int V, float tau, float *p) {
    float mx = z[0];
    for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0.0;
    for (int j = 0; j < V; j++) {
        p[j] = expf((z[j] - mx) / tau);
        s += p[j];
    }
    float inv = (float)(1.0 / s);
    for (int j = 0; j < V; j++) p[j] *= inv;
    return mx / tau + log(s);
}

/* One student/teacher pair of rows: its loss terms into term[3] (CE student, CE teacher, KL) and
 * its gradient over both rows; p* are [V] scratch. */
static void spsd_pair(float *zs, float *zt, int y, int vocab, float alpha, float lambda, float tau, float scale,
                      float *ps, float *pt, float *pst, float *ptt, double term[3]) {
    /* CE of both copies (tau = 1) */
    double lse_s = softmax_tau(zs, vocab, 1.0f, ps), lse_t = softmax_tau(zt, vocab, 1.0f, pt);
    term[0] = lse_s - zs[y];
    term[1] = lse_t - zt[y];
    /* KL(p_T^tau || p_S^tau) = sum p_T^tau (log p_T^tau - log p_S^tau) */
    double lse_st = softmax_tau(zs, vocab, tau, pst), lse_tt = softmax_tau(zt, vocab, tau, ptt);
    double kl = 0.0;
    for (int j = 0; j < vocab; j++)
        if (ptt[j] > 0) kl += ptt[j] * ((zt[j] / tau - lse_tt) - (zs[j] / tau - lse_st));
    term[2] = kl;
    /* d/dz_S: (p_S - onehot) + lambda tau^2 (1/tau)(p_S^tau - p_T^tau); d/dz_T: alpha (p_T - onehot) */
    const float kd = lambda * tau;
    for (int j = 0; j < vocab; j++) {
        zs[j] = scale * (ps[j] + kd * (pst[j] - ptt[j]));
        zt[j] = scale * alpha * pt[j];
    }
    zs[y] -= scale;
    zt[y] -= scale * alpha;
}

/* The pairs run on threads, each with its own scratch; the sums add the pairs' terms in pair order,
 * as the serial loop did. */
int spsd_loss_forward_backward(float *logits, const int *targets, int n_rows, int vocab, const int *student_first,
                               const int *teacher_first, const int *n_copy_rows, int n_examples, float alpha,
                               float lambda, float tau, float scale, SpsdLoss *out) {
    memset(out, 0, sizeof *out);
    int n_pairs = 0;
    for (int e = 0; e < n_examples; e++) n_pairs += n_copy_rows[e];
    const int n_threads = par_threads();
    float *scratch = malloc(sizeof(float) * 4 * (size_t)vocab * n_threads);
    int *rs = malloc(sizeof(int) * (size_t)(n_pairs + 1)), *rt = malloc(sizeof(int) * (size_t)(n_pairs + 1));
    double *term = malloc(sizeof(double) * 3 * (size_t)(n_pairs + 1));
    unsigned char *written = calloc((size_t)n_rows + 1, 1);
    if (!scratch || !rs || !rt || !term || !written) {
        free(scratch), free(rs), free(rt), free(term), free(written);
        return px_error("out of memory in the distillation loss");
    }
    for (int e = 0, k = 0; e < n_examples; e++)
        for (int i = 0; i < n_copy_rows[e]; i++, k++) rs[k] = student_first[e] + i, rt[k] = teacher_first[e] + i;
#pragma omp parallel for schedule(static) if (par_worth((size_t)n_pairs * vocab)) num_threads(n_threads)
    for (int k = 0; k < n_pairs; k++) {
        const int y = targets[rs[k]];
        if (y < 0) continue;
        float *p = scratch + (size_t)4 * vocab * omp_get_thread_num();
        spsd_pair(logits + (size_t)rs[k] * vocab, logits + (size_t)rt[k] * vocab, y, vocab, alpha, lambda, tau, scale,
                  p, p + vocab, p + 2 * (size_t)vocab, p + 3 * (size_t)vocab, term + 3 * (size_t)k);
        written[rs[k]] = written[rt[k]] = 1; /* every pair has its own two rows */
    }
    for (int k = 0; k < n_pairs; k++) {
        if (targets[rs[k]] < 0) continue;
        out->ce_student += term[3 * (size_t)k];
        out->ce_teacher += term[3 * (size_t)k + 1];
        out->kl += term[3 * (size_t)k + 2];
        out->count++;
    }
#pragma omp parallel for schedule(static) if (par_worth((size_t)n_rows * vocab)) num_threads(n_threads)
    for (int r = 0; r < n_rows; r++)
        if (!written[r]) memset(logits + (size_t)r * vocab, 0, sizeof(float) * vocab);
    free(scratch), free(rs), free(rt), free(term), free(written);
    return 0;
}
