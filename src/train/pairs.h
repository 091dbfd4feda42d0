/* pairs.h — tokenized (source, target) pairs in memory, and how they become training
 * sequences: prompt source src_end | tgt_begin target tgt_end (src/text/template.h). */
#ifndef PROACT_PAIRS_H
#define PROACT_PAIRS_H

#include <stdint.h>

#include "src/base/rng.h"
#include "src/text/template.h"
#include "src/train/batch.h"

/* Examples [first, first+count) of a data set. Offsets are relative to this set. */
typedef struct {
    int64_t first, count;
    int *src_tokens, *tgt_tokens;         /* concatenated */
    int64_t *src_off, *tgt_off;           /* [count+1] */
    int *src_word_ends, *tgt_word_ends;   /* per word: end token index inside the example */
    int64_t *src_word_off, *tgt_word_off; /* [count+1] */
    char *src_text, *tgt_text;            /* concatenated UTF-8 */
    int64_t *src_text_off, *tgt_text_off; /* [count+1] */
    int64_t *line;                        /* [count] line in the input file */
} PairSet;

void pair_set_free(PairSet *s);
/* Copies examples idx[0..n-1] of src (indices within src) into a new set (out->first = -1). */
int pair_set_select(const PairSet *src, const int64_t *idx, int n, PairSet *out);
/* Largest token id used by the pairs and the template (to check against the vocabulary). */
int pair_set_max_token(const PairSet *s, const TemplatePieces *tp);

/* Adds example e (0-based within the set) as one causal sequence; the rows that predict a
 * target token or tgt_end carry targets, all others -1 (prompt, source and the forced
 * tgt_begin are never predicted). */
int pair_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e);

/* Deals n items to `size` ranks so that their summed costs are close: longest first, each to
 * the least loaded rank (ties to the lower rank). Deterministic: every rank computes the same
 * owner[] from the same costs. */
int balance_by_cost(const double *cost, int n, int size, int *owner);
/* Even split of n examples over `size` ranks: rank gets [*first, *first + *count) (the first
 * n % size ranks one more). */
void split_range(int64_t n, int rank, int size, int64_t *first, int64_t *count);

/* Visits the examples in a fresh random order every epoch (seeded). */
typedef struct {
    int64_t n, next;
    int64_t *order;
    int epoch;
    Rng rng;
} PairSampler;

int pair_sampler_init(PairSampler *ps, int64_t n, uint64_t seed);
int64_t pair_sampler_next(PairSampler *ps);
void pair_sampler_free(PairSampler *ps);

#endif
