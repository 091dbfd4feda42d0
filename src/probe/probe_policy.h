/* probe_policy.h — on-policy decision points for the probe head (docs/design.md §2.5): the states a
 * streaming runner actually visits, not those of a training schedule.
 *
 * The streaming runner (src/stream/runner.h) translates a training sentence with its own words
 * under a policy, and every decision it takes before the whole source is read is one point:
 *   features  the decision row's cues exactly as the runner computes them (probe_features.h);
 *   teacher   the same target prefix (the runner's own words) with the whole source visible;
 *   labels    agree  = argmax(student) == argmax(teacher), always kept (accuracy, AUC);
 *             y      = the label the probe is fitted to (ProbeLabel).
 * Policies:
 *   band A..B  per target word j a lag L_j drawn uniformly from A..B; the runner reads until
 *              L_j + j - 1 units are read, then writes (a random floored runner: every state with
 *              lag in A..B that such a runner passes through, with its own earlier words);
 *   a head     the runner's head itself (e.g. waitk:3, probe:0.7/min-lag=1); states below its
 *              min-lag floor are skipped, as the head is never asked there.
 * Which points come out depends on (seed, example index) only, never on ranks. */
#ifndef PROACT_PROBE_POLICY_H
#define PROACT_PROBE_POLICY_H

#include <stdint.h>

#include "src/base/rng.h"
#include "src/probe/probe_data.h"
#include "src/stream/runner.h"
#include "src/text/tokenizer.h"
#include "src/train/pairs.h"

/* What a point's fitted label y is. Each lies in [0, 1]: the logistic fit takes it as a soft label. */
typedef enum {
    PROBE_LABEL_AGREE = 0, /* 1 if the student's argmax is the teacher's, else 0 */
    PROBE_LABEL_P_TEACHER, /* the student's probability of the teacher's argmax token */
    PROBE_LABEL_KL,        /* exp(-KL(teacher || student)) */
} ProbeLabel;

const char *probe_label_name(ProbeLabel l);
/* "agree" | "p-teacher" | "kl"; -1 with px_error otherwise. */
int probe_label_parse(const char *s, ProbeLabel *out);

typedef struct {
    int min_lag, max_lag; /* band policy (head == NULL) */
    const HeadSpec *head; /* or this head drives the runner */
    const Probe *probe;   /* for a probe:P head */
    uint64_t seed;        /* band lags: mixed with the example index */
    int attn_window;      /* w of A_front */
    ProbeLabel label;
} ProbePolicy;

/* Growing rows of points: x [n][dim], y [n], agree [n]. */
typedef struct {
    int64_t n, cap;
    int dim;
    double *x, *y, *agree;
} ProbePoints;

void probe_points_free(ProbePoints *p);
/* Appends one point (x: dim numbers). 0 or -1. */
int probe_points_push(ProbePoints *p, const double *x, double y, double agree);

typedef struct {
    Runner *runner; /* the student: the streaming runner itself */
    ProbeCollector tc;
    const Model *m;
    const Tokenizer *tok;
    const StreamFormat *fmt;
    ProbePolicy pol;
    /* the current sentence's decisions */
    size_t n_dec, cap_dec, cap_logits;
    int *dec_row;      /* [n_dec] target row of the decision (tokens fed - 1) */
    float *dec_logits; /* [n_dec][V] */
    Rng rng;           /* the band lags of the current sentence */
    int *band_lag;     /* [n_lag] the band lag of each word so far, drawn when first needed */
    size_t cap_lag;
    int n_lag;
    ProbePoints *out;
    int failed;
} PolicyCollector;

int policy_collector_init(PolicyCollector *pc, const Model *m, const Tokenizer *tok, const StreamFormat *fmt,
                          const ProbePolicy *pol);
void policy_collector_free(PolicyCollector *pc);

/* Streams example e of s (its source text) under the policy and appends its points to out
 * (out->dim = probe_feature_dim(hidden) is set here). index: the example's data-set index (seeds
 * the band lags). 0, or -1 with px_error. */
int probe_collect_on_policy(PolicyCollector *pc, const PairSet *s, int64_t e, int64_t index, ProbePoints *out);

#endif
