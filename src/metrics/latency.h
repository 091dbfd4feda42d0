/* latency.h — simultaneous-translation latency of one sentence, exactly as SimulEval's scorers
 * (AL, LAAL, AP, DAL) compute it. Delays d_i: source units (words) read when target unit i was
 * written; |X| the source length; |Y| the reference length (SimulEval's default) or, with
 * use_ref_len = 0, the hypothesis length (the number of delays).
 *   AL   = (1/tau) sum_{i<=tau} [d_i - (i-1) |X|/|Y|], tau = first i with d_i >= |X|;
 *          d_1 if d_1 > |X|
 *   LAAL = AL with |Y| replaced by max(|Y|, number of delays)
 *   AP   = sum_i d_i / (|X| |Y|)
 *   DAL  = (1/|Yh|) sum_i [g'_i - (i-1) |X|/|Yh|], g'_1 = d_1, g'_i = max(d_i, g'_{i-1} + |X|/|Yh|),
 *          |Yh| = the number of delays in both modes (as SimulEval does)
 * The arithmetic follows SimulEval's order of operations, so results agree to rounding. */
#ifndef PROACT_LATENCY_H
#define PROACT_LATENCY_H

typedef struct {
    double AL, LAAL, AP, DAL;
} LatencyScores;

/* 0, or -1 with px_error when there are no delays or a length is not positive. */
int latency_scores(const double *delays, int n, double src_len, double ref_len, int use_ref_len, LatencyScores *out);

#endif
