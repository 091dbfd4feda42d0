/* scoring.h — corpus scores of a simultaneous-translation run: quality (BLEU, chrF2 as
 * sacreBLEU) and latency (AL, LAAL, AP, DAL as SimulEval), from one Instance per sentence.
 *
 * Pure compute, no file I/O (io/instances.h reads and writes SimulEval's instances.log).
 *
 * Latency, as SimulEval's LatencyScorer computes it:
 *   - per sentence with latency_scores() (src/metrics/latency.h): |X| = source_length, |Y| = the words of
 *     the reference (use_ref_len = 1, SimulEval's default) or the number of delays;
 *   - the corpus value is the arithmetic mean over sentences;
 *   - a sentence without output (no delays) has no latency: SimulEval warns and skips it, and so
 *     do we; such sentences are counted in n_no_output (and still count for BLEU and chrF).
 *   If no sentence has output, the latencies are NaN (SimulEval would fail on an empty mean).
 *
 * Words of the reference: split on ASCII whitespace (word_separator() in src/text/words.h, the
 * project's word unit). SimulEval counts reference.split(" ") instead; the two agree whenever
 * single spaces separate the words (they differ on doubled, leading or trailing spaces and on
 * tabs, where split(" ") counts empty words). An empty reference counts as 1 word, as
 * "".split(" ") does in SimulEval, so that |Y| stays positive.
 *
 * Computation-aware latency (*_CA, in ms), when word_ms > 0 and every sentence with output has
 * elapsed times: source word k (1-based) is taken to arrive at k * word_ms ms, and elapsed[i] is
 * the simulated clock (ms) when target word i was written — the time the source needed to arrive
 * plus the computation so far. The same formulas are applied with delays = elapsed and
 * |X| = source_length * word_ms: SimulEval's convention for speech input, where delays, elapsed
 * and the source length are all in ms (|Y| stays in words). A system that computes instantly
 * has elapsed[i] = delays[i] * word_ms and so AL_CA = AL * word_ms.
 */
#ifndef PROACT_SCORING_H
#define PROACT_SCORING_H

#include <stdint.h>

#include "src/metrics/bleu.h"

/* One evaluated sentence, as in SimulEval's instances.log (text to text). */
typedef struct {
    int64_t index;     /* 0-based sentence number */
    char *prediction;  /* target words joined by single spaces */
    double *delays;    /* [n_delays]: source words read when each target word was written */
    double *elapsed;   /* [n_delays]: ms (computation-aware clock), or NULL when unknown */
    int n_delays;      /* = prediction_length = words in prediction */
    char *reference;   /* the reference translation */
    char *source;      /* the source sentence */
    int source_length; /* source words */
} Instance;

/* Frees the members (malloc'ed) and clears them, not v itself. NULL is fine. */
void instance_free(Instance *v);

typedef struct {
    BleuTokenizer tok; /* BLEU tokenizer (default 13a) */
    int lowercase;     /* BLEU on lowercased text (default 0: mixed case) */
    int use_ref_len;   /* 1 (SimulEval default): |Y| = words in the reference; 0: delays */
    double word_ms;    /* > 0: also the computation-aware latencies (ms per source word) */
} ScoreOptions;

void score_options_default(ScoreOptions *o);

typedef struct {
    int n;                                /* sentences scored */
    int n_no_output;                      /* of which without output (skipped in latency) */
    BleuResult bleu;                      /* corpus BLEU of predictions vs references */
    char signature[160];                  /* sacreBLEU's BLEU signature */
    double chrf;                          /* corpus chrF2 */
    double AL, LAAL, AP, DAL;             /* corpus means over sentences with output, in source words */
    int has_ca;                           /* 1 if the *_CA values were computed */
    double AL_CA, LAAL_CA, AP_CA, DAL_CA; /* computation-aware, in ms */
} EvalScores;

/* Scores n >= 1 instances. 0, or -1 with px_error naming the instance (by its index) at fault:
 * an instance with output but source_length < 1, delays that are not finite, and so on. */
int eval_scores(const Instance *v, int n, const ScoreOptions *o, EvalScores *out);

#endif
