/* latency.h — simultaneous-translation latency of one sentence, exactly as SimulEval 1.1's scorers
 * (AL, LAAL, AP, DAL, ATD) compute it. Delays d_i: source units (words) read when target unit i was
 * written; |X| the source length; |Y| the reference length (SimulEval's default) or, with
 * use_ref_len = 0, the hypothesis length (the number of delays).
 *   AL   = (1/tau) sum_{i<=tau} [d_i - (i-1) |X|/|Y|], tau = first i with d_i >= |X|;
 *          d_1 if d_1 > |X|
 *   LAAL = AL with |Y| replaced by max(|Y|, number of delays)
 *   AP   = sum_i d_i / (|X| |Y|)
 *   DAL  = (1/|Yh|) sum_i [g'_i - (i-1) |X|/|Yh|], g'_1 = d_1, g'_i = max(d_i, g'_{i-1} + |X|/|Yh|),
 *          |Yh| = the number of delays in both modes (as SimulEval does)
 * The arithmetic follows SimulEval's order of operations, so results agree to rounding.
 * The computation-aware variants (*_CA) are the same formulas with the elapsed times as delays. */
#ifndef PROACT_LATENCY_H
#define PROACT_LATENCY_H

typedef struct {
    double AL, LAAL, AP, DAL;
} LatencyScores;

/* 0, or -1 with px_error when there are no delays or a length is not positive. */
int latency_scores(const double *delays, int n, double src_len, double ref_len, int use_ref_len, LatencyScores *out);

/* SimulEval's unit of the target side (--eval-latency-unit): what one delay stands for and how the
 * reference is counted as |Y|. */
typedef enum {
    LATENCY_UNIT_WORD, /* a word; |Y| = len(reference.split(" ")): pieces between single spaces */
    LATENCY_UNIT_CHAR  /* a character (code point); |Y| = len(reference.strip()), spaces inside counted */
} LatencyUnit;

/* "word" or "char" into *out; -1 with px_error otherwise. */
int latency_unit_parse(const char *s, LatencyUnit *out);
const char *latency_unit_name(LatencyUnit u);

/* |Y| of a reference as SimulEval's LogInstance.reference_length counts it in unit u (NULL = "").
 * "word" counts the pieces of split(" "): doubled, leading and trailing spaces make empty words,
 * tabs and newlines join; "" is one word. "char" counts the code points left after stripping
 * Python's str.isspace() characters at both ends (utf8proc's category Zs and bidi classes WS, B,
 * S). Invalid UTF-8 counts a byte per code point. */
int latency_reference_length(const char *reference, LatencyUnit u);

/* ATD (Average Token Delay, SimulEval's ATDScorer) of one sentence as SimulEval computes it from an
 * instances.log (LogInstance: the source is taken as speech in chunks of at most 300 units per
 * token, each target token lasts 0). Delays are grouped into chunks of equal consecutive values;
 * the target tokens of chunk c are matched to the source tokens of chunks <= c, and ATD is the
 * mean of (end of target token - end of its source token).
 * elapsed == NULL: the plain ATD. elapsed != NULL: ATD_CA, where each target token also takes
 * the increase of (elapsed_i - d_i) since the previous token (all-zero elapsed: no computing
 * time). 0, or -1 with px_error (n < 1, out of memory). */
int latency_atd(const double *delays, const double *elapsed, int n, double *out);

#endif
