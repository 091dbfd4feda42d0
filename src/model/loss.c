/* loss.c — cross-entropy over logits rows, with its gradient written in place. */
#include "src/model/loss.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

/* log(sum_j exp(z_j)) computed stably; returns it and leaves the max in *mx. */
static double log_sum_exp(const float *z, int V, float *mx) {
    float m = z[0];
    for (int j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
    double s = 0.0; /* float exponentials (vectorisable), summed in double */
    for (int j = 0; j < V; j++) s += expf(z[j] - m);
    *mx = m;
    return m + log(s);
}

double cross_entropy_forward(const float *logits, const int *targets, int n_rows, int vocab, int *count) {
    double total = 0.0;
    int counted = 0;
    for (int n = 0; n < n_rows; n++) {
        if (targets[n] < 0) continue;
        const float *z = logits + (size_t)n * vocab;
        float mx;
        total += log_sum_exp(z, vocab, &mx) - z[targets[n]];
        counted++;
    }
    if (count) *count = counted;
    return total;
}

double cross_entropy_forward_backward(float *logits, const int *targets, int n_rows, int vocab, float scale,
                                      int *count) {
    double total = 0.0;
    int counted = 0;
    for (int n = 0; n < n_rows; n++) {
        float *z = logits + (size_t)n * vocab;
        if (targets[n] < 0) {
            for (int j = 0; j < vocab; j++) z[j] = 0.0f;
            continue;
        }
        float mx;
        double lse = log_sum_exp(z, vocab, &mx);
        total += lse - z[targets[n]];
        counted++;
        const float lse_f = (float)lse;
        for (int j = 0; j < vocab; j++) z[j] = expf(z[j] - lse_f) * scale;
        z[targets[n]] -= scale;
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

int spsd_loss_forward_backward(float *logits, const int *targets, int n_rows, int vocab, const int *student_first,
                               const int *teacher_first, const int *n_copy_rows, int n_examples, float alpha,
                               float lambda, float tau, float scale, SpsdLoss *out) {
    memset(out, 0, sizeof *out);
    float *ps = malloc(sizeof(float) * vocab), *pt = malloc(sizeof(float) * vocab);
    float *pst = malloc(sizeof(float) * vocab), *ptt = malloc(sizeof(float) * vocab);
    unsigned char *written = calloc((size_t)n_rows, 1);
    if (!ps || !pt || !pst || !ptt || !written) {
        free(ps), free(pt), free(pst), free(ptt), free(written);
        return px_error("out of memory in the distillation loss");
    }
    for (int e = 0; e < n_examples; e++) {
        for (int i = 0; i < n_copy_rows[e]; i++) {
            const int rs = student_first[e] + i, rt = teacher_first[e] + i, y = targets[rs];
            if (y < 0) continue;
            float *zs = logits + (size_t)rs * vocab, *zt = logits + (size_t)rt * vocab;
            /* CE of both copies (tau = 1) */
            double lse_s = softmax_tau(zs, vocab, 1.0f, ps), lse_t = softmax_tau(zt, vocab, 1.0f, pt);
            out->ce_student += lse_s - zs[y];
            out->ce_teacher += lse_t - zt[y];
            /* KL(p_T^tau || p_S^tau) = sum p_T^tau (log p_T^tau - log p_S^tau) */
            double lse_st = softmax_tau(zs, vocab, tau, pst), lse_tt = softmax_tau(zt, vocab, tau, ptt);
            double kl = 0.0;
            for (int j = 0; j < vocab; j++)
                if (ptt[j] > 0) kl += ptt[j] * ((zt[j] / tau - lse_tt) - (zs[j] / tau - lse_st));
            out->kl += kl;
            out->count++;
            /* d/dz_S: (p_S - onehot) + lambda tau^2 (1/tau)(p_S^tau - p_T^tau); d/dz_T: alpha (p_T - onehot) */
            const float kd = lambda * tau;
            for (int j = 0; j < vocab; j++) {
                zs[j] = scale * (ps[j] + kd * (pst[j] - ptt[j]));
                zt[j] = scale * alpha * pt[j];
            }
            zs[y] -= scale;
            zt[y] -= scale * alpha;
            written[rs] = written[rt] = 1;
        }
    }
    for (int r = 0; r < n_rows; r++)
        if (!written[r]) memset(logits + (size_t)r * vocab, 0, sizeof(float) * vocab);
    free(ps), free(pt), free(pst), free(ptt), free(written);
    return 0;
}
