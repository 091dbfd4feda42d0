/* loss.c — cross-entropy over logits rows, with its gradient written in place. */
#include "loss.h"

#include <math.h>
#include <stddef.h>

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

double cross_entropy_forward_backward(float *logits, const int *targets, int n_rows, int vocab,
                                      float scale, int *count) {
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
