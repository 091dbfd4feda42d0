/* probe_features.h — the probe head's feature vector, defined once (docs/design.md §2.5):
 *
 *   x = [h; entropy; maxprob; attn_front; words_read; lag]
 *
 * (words_read and lag = words read - target words written place the decision in the stream; the
 * words written are their difference, so a third column would make the fit singular.)
 *
 * h is the decision row's final hidden state (hidden_size numbers), then the extra cues of
 * PROBE_EXTRA_FEATURE_TABLE in its order. The head (probe_score), the runner's check of a probe, the
 * fitting data (src/probe/probe_data.c), proact.json's reader and `proact probe` all take the count,
 * the names and the order from here, so that the features a probe is fitted on and those it is
 * applied to cannot drift apart. */
#ifndef PROACT_PROBE_FEATURES_H
#define PROACT_PROBE_FEATURES_H

#include "src/stream/heads.h"

/* X(enumerator, name, Cues field) for each cue after h, in the feature vector's order. */
#define PROBE_EXTRA_FEATURE_TABLE(X)                                              \
    X(PROBE_FEATURE_ENTROPY, "entropy", entropy)          /* H, nats */           \
    X(PROBE_FEATURE_MAXPROB, "maxprob", maxprob)          /* pmax */              \
    X(PROBE_FEATURE_ATTN_FRONT, "attn_front", attn_front) /* A_front */           \
    X(PROBE_FEATURE_WORDS_READ, "words_read", words_read) /* source units read */ \
    X(PROBE_FEATURE_LAG, "lag", lag)                      /* read - written (written itself would be collinear) */

#define PROBE_FEATURE_ENUM_(id, name, field) id,
typedef enum { PROBE_EXTRA_FEATURE_TABLE(PROBE_FEATURE_ENUM_) PROBE_EXTRA_FEATURES } ProbeExtraFeature;
#undef PROBE_FEATURE_ENUM_

/* The whole list as text, "hidden,entropy,maxprob,attn_front,words_read,lag" (messages, docs' "features"). */
#define PROBE_FEATURE_NAME_(id, name, field) "," name
#define PROBE_FEATURE_LIST ("hidden" PROBE_EXTRA_FEATURE_TABLE(PROBE_FEATURE_NAME_))

/* The length of x for a model of this hidden size. */
static inline int probe_feature_dim(int hidden) { return hidden + PROBE_EXTRA_FEATURES; }

/* The extra cues of c in order, as floats (the cues' own values: probe_score's arithmetic). */
void probe_extra_features(const Cues *c, float out[PROBE_EXTRA_FEATURES]);

/* x[0 .. probe_feature_dim(hidden)) from c: the fitting data's rows, the cues' floats exactly. */
void probe_features(const Cues *c, int hidden, double *x);

/* The inverse: the cues whose features are x (h [hidden] receives the hidden state, out->hidden
 * points to it), so that a probe can score collected rows as the head scores live cues. */
void probe_cues_of_features(const double *x, int hidden, float *h, Cues *out);

#endif
