/* schedule.h — the streaming side of ProactiveLLM training (docs/design.md §2.2–2.4): monotone read
 * schedules, group positions, and the synchronized [source | student | teacher] layout.
 *
 * One training sequence holds the source once and the target twice:
 *
 *   [ prompt x_1..x_n src_end ]  [ tgt_begin y_1..y_m tgt_end ]_student  [ same ]_teacher
 *   positions 0 .. S-1             phi+0 .. phi+T-1 (token positions; the last token of each copy
 *                                  predicts nothing and is not an input row: rows go to phi+T-2)
 *
 * Visibility (AttnLayout: vis_prefix + causal inside the row's own block):
 *   source rows   causal over the source only               vis_prefix 0, blk_start 0
 *   student rows  the source prefix of g(.) words + causal   vis_prefix = visible source tokens,
 *                 over the student copy                      blk_start = start of the student copy
 *   teacher rows  the whole source + causal over the copy    vis_prefix = S, blk_start = teacher start
 * The two copies never see each other. "Shift by one": the row whose NEXT token belongs to
 * target word j carries g(j), so the last token of word j-1 already sees g(j) source words
 * (at inference that token is fed again after the READ — "pop and refeed"). Rows whose next
 * token is in tgt_begin see g(1); the rows predicting tgt_end tokens see everything (unit n+1).
 * The last token of each copy (the end of tgt_end) is not an input row: it predicts nothing.
 */
#ifndef PROACT_SCHEDULE_H
#define PROACT_SCHEDULE_H

#include "src/base/rng.h"
#include "src/train/batch.h"
#include "src/train/pairs.h"

typedef enum { SCHEDULE_RANDOM = 0, SCHEDULE_CUTS, SCHEDULE_WAITK, SCHEDULE_FULL } ScheduleKind;

typedef struct {
    ScheduleKind kind; /* stream.schedule */
    int k_min, k_max;  /* random: first read k0 ~ U{k_min..k_max} */
    float mean_step;   /* random: delta ~ Geometric on {0,1,2,..} with this mean */
    float p_full;      /* random: probability that a whole example uses the full view */
    int k;             /* waitk: g(j) = min(k + j - 1, n + 1) */
    int phi;           /* position offset of the target copies (group position encoding) */
} StreamConfig;

const char *schedule_name(ScheduleKind k);

/* Samples g(1..m) into g[0..m-1] for n source words: monotone, 1 <= g(j) <= n+1 (n+1 = the
 * end-of-source marker, i.e. everything). */
void schedule_sample(const StreamConfig *c, int n, int m, Rng *rng, int *g);

/* Rows of one example inside a packed batch, for the losses. */
typedef struct {
    int student_first, teacher_first; /* first row of each copy in the batch */
    int n_copy_rows;                  /* rows per copy (T - 1) */
} SpsdRows;

/* Appends example e as one synchronized sequence using the schedule g[0..m-1] (m = target
 * words; monotone, each in 1..n+1, else an error). Targets are set on the rows that predict a
 * target token or tgt_end, in both copies.
 * rows (optional) receives where the copies landed. */
int spsd_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                   SpsdRows *rows);

/* The number of source words and target words of example e. */
int pair_src_words(const PairSet *s, int64_t e);
int pair_tgt_words(const PairSet *s, int64_t e);

#endif
