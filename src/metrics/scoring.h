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
 * |Y| is counted as SimulEval's LogInstance.reference_length does in the latency unit
 * (latency_reference_length in src/metrics/latency.h): with "word", len(reference.split(" ")) —
 * pieces between single spaces, so a doubled space makes an empty word and "" is one word; with
 * "char", the code points of reference.strip(). The unit does not change the delays: they are
 * read as they are (one per word, or one per character when the run was in characters).
 *
 * ATD: SimulEval's ATDScorer on each sentence with output (latency_atd), then the mean.
 *
 * Computation-aware latency (*_CA), as SimulEval's --computation-aware: the same scorers with
 * delays = elapsed and |X| = source_length, so elapsed must be in the unit of the delays (proact
 * eval writes it in source words, docs/evaluation.md). It is computed when computation_aware is
 * set, or word_ms > 0, and every sentence with output has elapsed times. word_ms > 0 is the older
 * reading of elapsed in ms with source word k arriving at k * word_ms: |X| = source_length *
 * word_ms (SimulEval's convention for speech input, where delays and the source length are in
 * ms); a system that computes instantly then has AL_CA = AL * word_ms. ATD_CA needs elapsed in
 * the delays' unit, so it is NaN with word_ms > 0.
 */
#ifndef PROACT_SCORING_H
#define PROACT_SCORING_H

#include <stdint.h>

#include "src/metrics/bleu.h"
#include "src/metrics/latency.h"

/* Why the output of a sentence ended: the model finished it, or the runner's length limit cut it. */
typedef enum { INSTANCE_END_UNKNOWN, INSTANCE_END_FINISHED, INSTANCE_END_LENGTH_LIMIT } InstanceEnd;

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
    InstanceEnd end;   /* why the sentence ended (INSTANCE_END_UNKNOWN when not recorded) */
} Instance;

/* Frees the members (malloc'ed) and clears them, not v itself. NULL is fine. */
void instance_free(Instance *v);

typedef struct {
    BleuTokenizer tok;     /* BLEU tokenizer (default 13a) */
    int lowercase;         /* BLEU on lowercased text (default 0: mixed case) */
    int use_ref_len;       /* 1 (SimulEval default): |Y| = words in the reference; 0: delays */
    LatencyUnit unit;      /* SimulEval's --eval-latency-unit: how |Y| counts the reference (default word) */
    int computation_aware; /* 1: also the *_CA latencies, elapsed read in the delays' unit */
    double word_ms;        /* > 0: also the *_CA latencies, elapsed in ms, |X| = source_length * word_ms */
} ScoreOptions;

void score_options_default(ScoreOptions *o);

typedef struct {
    int n;                                /* sentences scored */
    int n_no_output;                      /* of which without output (skipped in latency) */
    BleuResult bleu;                      /* corpus BLEU of predictions vs references */
    char signature[160];                  /* sacreBLEU's BLEU signature */
    double chrf;                          /* corpus chrF2 */
    double AL, LAAL, AP, DAL, ATD;        /* corpus means over sentences with output, in source words */
    int has_ca;                           /* 1 if the *_CA values were computed */
    double AL_CA, LAAL_CA, AP_CA, DAL_CA; /* computation-aware, in elapsed's unit (ms with word_ms) */
    double ATD_CA;                        /* NaN with word_ms > 0 */
} EvalScores;

/* Scores n >= 1 instances. 0, or -1 with px_error naming the instance (by its index) at fault:
 * an instance with output but source_length < 1, delays that are not finite, and so on. */
int eval_scores(const Instance *v, int n, const ScoreOptions *o, EvalScores *out);

#endif
