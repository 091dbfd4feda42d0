/* logits.c — argmax, log-sum-exp and KL of logit rows (logits.h). */
#include "src/stream/logits.h"

#include <math.h>

int logits_argmax(const float *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

double logits_log_sum_exp(const float *z, int n) {
    const double mx = z[logits_argmax(z, n)];
    double s = 0;
    for (int i = 0; i < n; i++) s += exp(z[i] - mx);
    return mx + log(s);
}

double logits_kl(const float *zp, double lp, const float *zq, double lq, int n) {
    double kl = 0;
    for (int i = 0; i < n; i++) {
        const double log_p = zp[i] - lp, log_q = zq[i] - lq;
        kl += exp(log_p) * (log_p - log_q);
    }
    return kl;
}
