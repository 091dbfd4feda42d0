/* probe_data.h — training data for the probe head (docs/design.md §2.5): at the decision points of a
 * training example read under a random schedule, the student's cues as features and, as the
 * label, whether the student's next token already equals the full-context teacher's.
 *
 * For target word j read with g(j) source units (1 <= g(j) <= n; once the whole source is read
 * every head writes, so those points are left out):
 *   student row  the row before word j's first token, fed exactly as the streaming runner feeds
 *                it (earlier target tokens with the visibility they were written with, the
 *                pending row refed with g(j) words) — so the features have the distribution the
 *                probe:P head will see;
 *   teacher row  the same row with the whole source visible to every target row;
 *   features     [h (hidden_size); H; pmax; A_front; read; lag]   (probe_features.h: the head's
 *                own list and order)
 *   label        1 if argmax(student logits) == argmax(teacher logits), else 0.
 * The target is the reference (teacher forcing), as in training. */
#ifndef PROACT_PROBE_DATA_H
#define PROACT_PROBE_DATA_H

#include "src/stream/decode.h"
#include "src/stream/probe_features.h"
#include "src/stream/runner.h"
#include "src/train/pairs.h"

typedef struct {
    KvCache student, teacher;
    DecodeScratch ss, ts;
} ProbeCollector;

/* Resets cache c and runs prompt, the source tokens src[0..ns) and src_end through its source side. */
int probe_encode_source(const Model *m, KvCache *c, DecodeScratch *sc, const TemplatePieces *tp, const int *src,
                        int ns);

int probe_collector_init(ProbeCollector *pc, const Model *m);
void probe_collector_free(ProbeCollector *pc);

/* Decision points of example e of s under schedule g[0..m-1] (m target words, monotone in
 * 1..n+1, as schedule_sample makes). Appends one row per point with g(j) <= n:
 * feat[k * probe_feature_dim(d) ..] and label[k], k = 0..*n_points-1 (the caller sizes them for m points).
 * attn_window: w of A_front. 0, or -1 with px_error. */
int probe_collect_example(ProbeCollector *pc, const Model *m, const StreamFormat *fmt, const PairSet *s, int64_t e,
                          const int *g, int attn_window, double *feat, double *label, int *n_points);

#endif
