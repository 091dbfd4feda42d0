/* latency.c — SimulEval's AL, LAAL, AP and DAL for one sentence (latency.h). */
#include "src/metrics/latency.h"

#include "src/base/common.h"

/* AL and LAAL differ only in the target length that sets the ideal rate gamma = |Y| / |X|. */
static double average_lagging(const double *d, int n, double src_len, double tgt_len) {
    if (d[0] > src_len) return d[0];
    const double gamma = tgt_len / src_len;
    double sum = 0;
    int tau = 0;
    for (int t = 0; t < n; t++) { /* t = i - 1 */
        sum += d[t] - t / gamma;
        tau = t + 1;
        if (d[t] >= src_len) break;
    }
    return sum / tau;
}

int latency_scores(const double *delays, int n, double src_len, double ref_len, int use_ref_len, LatencyScores *out) {
    if (n <= 0) return px_error("latency: no delays (nothing was written)");
    if (!(src_len > 0)) return px_error("latency: the source length must be positive (got %g)", src_len);
    const double tgt_len = use_ref_len ? ref_len : n;
    if (!(tgt_len > 0)) return px_error("latency: the reference length must be positive (got %g)", tgt_len);
    out->AL = average_lagging(delays, n, src_len, tgt_len);
    out->LAAL = average_lagging(delays, n, src_len, n > tgt_len ? n : tgt_len);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += delays[i];
    out->AP = sum / (src_len * tgt_len);
    /* DAL always uses the hypothesis length */
    const double gamma = n / src_len;
    double dal = 0, g_last = 0;
    for (int i = 0; i < n; i++) {
        double g = i == 0 ? delays[0] : (delays[i] > g_last + 1 / gamma ? delays[i] : g_last + 1 / gamma);
        dal += g - i / gamma;
        g_last = g;
    }
    out->DAL = dal / n;
    return 0;
}
