/* diagnose.h — the go/no-go diagnostic of a trained streaming model (`proact diagnose`,
 * docs/evaluation.md "Diagnosing a model"): how far the student's view is from the teacher's
 * at fixed lags, and whether the endogenous cues (docs/design.md §2.5) can tell, at the decision
 * points, when the student already agrees with the teacher.
 *
 * Lag schedule. At lag L the student row predicting target word j's tokens sees
 *     g(j) = min(n+1, max(1, L + j - 1))  source units   (n source words; n+1 = everything),
 * and at the "full" lag (DIAG_LAG_FULL) g(j) = n+1. (waitk:K reads the same schedule for K >= 1.)
 *
 * Per lag (student vs teacher, one model_forward per batch of spsd_batch_add sequences — the
 * student and teacher copies of an example in one sequence — in the model's precision):
 *   rows          the student rows that predict one of the reference's target tokens y_1..y_m;
 *                 the rows predicting the forced tgt_begin and the tgt_end marker are NOT counted
 *                 (tgt_end is written once the whole source is read, where the student sees what
 *                 the teacher sees); each counted row is paired with the teacher row at the same
 *                 copy position (same target prefix, the whole source);
 *   kl            mean over rows of KL(teacher || student) = sum_v p_T(v) (log p_T(v) - log p_S(v)), nats;
 *   agreement     share of rows where argmax student == argmax teacher (first maximum on ties);
 *   student_loss  mean cross-entropy of the student rows against the reference token, nats;
 *   teacher_loss  the same for the teacher rows (the same for every lag, up to summation order).
 *
 * Cues at decision points (for the cue lags lag_min..lag_max): the points probe_collect_example
 * visits (src/probe/probe_data.h: the decode path, pop and refeed, as a runner floored at that
 * lag sees them; only points with g(j) <= n). Per point: the cues entropy, maxprob and attn_front
 * (window attn_window tokens, all layers and heads, as decode_cues), the probe's score when a
 * probe is given, the lag, and the label "the student's next token (argmax) equals the
 * teacher's". Besides, from the same forward pass as the lag statistics, at the same rows (the
 * training layout and the decode path compute the same rows: tests/probe/test_probe_data.c), the
 * attention mass of every layer and query head on two windows of the newest visible source keys:
 *   tokens   the newest attn_window visible source keys (the prompt counts as source);
 *   word     the tokens of the newest source word read (word g(j)).
 * Their means over a layer's heads or over all layers are the attn variants; the
 * length-normalized variant divides the mass by W / V (W keys in the window, V visible source
 * keys): 1 = the window gets what uniform attention over the source would give it. */
#ifndef PROACT_DIAGNOSE_H
#define PROACT_DIAGNOSE_H

#include <stdint.h>

#include "src/model/model.h"
#include "src/stream/heads.h"
#include "src/stream/runner.h"
#include "src/train/pairs.h"

#define DIAG_LAG_FULL (-1) /* g(j) = n+1: the student sees what the teacher sees */

/* g[0..m-1] of lag `lag` (>= 0, or DIAG_LAG_FULL) for n source words. */
void diag_lag_schedule(int lag, int n, int m, int *g);

/* One lag's student-teacher statistics (means over `rows`; NaN when rows == 0). */
typedef struct {
    int lag;
    int64_t rows;
    double kl, agreement, student_loss, teacher_loss;
} DiagLag;

typedef void (*DiagProgressFn)(void *ctx, const char *stage, int64_t done, int64_t total);

typedef struct {
    const int *lags; /* the lags of the table (>= 0 or DIAG_LAG_FULL), each once */
    int n_lags;
    int cue_lag_min, cue_lag_max; /* cue lags, each >= 1 and among lags; cue_lag_max < cue_lag_min: none */
    int attn_window;              /* W of attn_front and of the token window (>= 1) */
    const Probe *probe;           /* scored at every point, or NULL */
    int batch_rows;               /* rows per model_forward (a batch holds at least one sequence) */
    DiagProgressFn progress;      /* optional: called after each batch / example */
    void *progress_ctx;
} DiagOptions;

/* The attention masses of one point: mass[(l * n_heads + h) * 2 + w], w = 0 the token window,
 * w = 1 the newest word. */
enum { DIAG_WIN_TOKENS = 0, DIAG_WIN_WORD = 1, DIAG_WINDOWS = 2 };

typedef struct {
    int n_lags;
    DiagLag *lag; /* [n_lags], in the order of DiagOptions.lags */
    /* decision points of the cue lags, ordered by lag, then example, then target word */
    int64_t n_points;
    int *point_lag;                        /* [n_points] */
    float *entropy, *maxprob, *attn_front; /* [n_points] the decode path's cues */
    double *probe;                         /* [n_points] probe_score, or NULL without a probe */
    unsigned char *label;                  /* [n_points] 1 = argmax student == argmax teacher */
    int n_layers, n_heads;                 /* of the attention masses */
    float *attn_mass;                      /* [n_points][n_layers][n_heads][DIAG_WINDOWS] (forward) */
    float *window_keys;                    /* [n_points][DIAG_WINDOWS] W: keys in each window */
    float *source_keys;                    /* [n_points] V: visible source keys */
    /* the two paths side by side: max |attn_front (decode) - token-window mass over all layers and
     * heads (forward)|, and the points whose labels differ (argmax near-ties) */
    double attn_front_max_diff;
    int64_t label_mismatches;
} DiagResult;

/* Runs the diagnostic over all examples of s. m's precision is used as it is (set GEMM_FP32 for
 * the readable path). 0, or -1 with px_error. */
int diagnose_run(Model *m, const StreamFormat *fmt, const PairSet *s, const DiagOptions *o, DiagResult *out);
void diag_result_free(DiagResult *r);

/* ---- summaries (diagnose_stats.c) ------------------------------------------------------------ */

/* Area under the ROC curve of `score` for label 1 against label 0 (Mann-Whitney): the chance
 * that a random label-1 point scores higher than a random label-0 point, ties counting 1/2.
 * NaN if one of the classes is empty, a score is NaN, or memory ran out (px_error). */
double diag_auc(const double *score, const unsigned char *label, int64_t n);

/* The quantiles of x[0..n) at levels[0..k) in [0, 1] (linear interpolation between order
 * statistics, numpy's default: position level * (n - 1)); NaN for n == 0. 0 or -1 (memory). */
int diag_quantiles(const double *x, int64_t n, const double *levels, int k, double *out);

/* The cues as scores (higher = "WRITE now" by the head's own rule). */
typedef enum {
    DIAG_CUE_ENTROPY = 0, /* -H          (entropy:TAU writes when H is low) */
    DIAG_CUE_MAXPROB,     /* pmax */
    DIAG_CUE_ATTN_FRONT,  /* -A_front    (attn:W:TAU reads when A_front is high) */
    DIAG_CUE_PROBE,       /* probe score (only with a probe) */
    DIAG_CUE_LAG,         /* the lag alone */
    DIAG_CUES
} DiagCue;

const char *diag_cue_name(DiagCue c); /* "entropy", "maxprob", "attn_front", "probe", "lag" */
/* The cue's raw value at point i (H, pmax, A_front, the score, the lag); NaN for the probe
 * without one. */
double diag_cue_value(const DiagResult *r, DiagCue c, int64_t i);
/* Its sign as a score (+1 or -1): score = sign * value. */
int diag_cue_sign(DiagCue c);

/* An attention variant: the mean mass over a layer (or all, -1) and a query head (or all, -1)
 * on one window, raw or length-normalized; scored as -mass (attn:W:TAU's direction). */
typedef struct {
    int layer, head, window, normalized;
    double auc;
} DiagAttnVariant;

/* The AUC of every cue over the points [from, to) (NaN where undefined). 0 or -1 (memory). */
int diag_cue_aucs(const DiagResult *r, int64_t from, int64_t to, double auc[DIAG_CUES]);
/* All variants: all layers and heads; then for each layer, all its heads, then each head alone;
 * each with both windows (DIAG_WIN_*), raw then normalized. *out is malloc'ed ((n_layers * (n_heads + 1) + 1) * 4
 * entries). 0 or -1. */
int diag_attn_variants(const DiagResult *r, DiagAttnVariant **out, int *n);

#endif
