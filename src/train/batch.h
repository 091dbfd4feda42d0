/* batch.h — a packed batch of sequences (no padding) with next-token targets, and the
 * synthetic data sources used for benchmarks and smoke tests (data.source). */
#ifndef PROACT_BATCH_H
#define PROACT_BATCH_H

#include "src/base/rng.h"
#include "src/model/model.h"

typedef struct {
    int n_rows, n_seqs, cap_rows, cap_seqs;
    int *tokens;                       /* [n_rows] inputs */
    int *targets;                      /* [n_rows] next token, or -1 where nothing is predicted */
    int *pos, *vis_prefix, *blk_start; /* [n_rows] see AttnLayout */
    int *seq_start;                    /* [n_seqs+1] */
    AttnLayout lay;                    /* valid after packed_batch_layout() */
} PackedBatch;

void packed_batch_clear(PackedBatch *b);
void packed_batch_free(PackedBatch *b);
/* Adds seq[0..len-1] as one causal sequence of len-1 rows: row t reads seq[t] at position t
 * and predicts seq[t+1] if predict is NULL or predict[t+1] is non-zero (else target -1). */
int packed_batch_add_causal(PackedBatch *b, const int *seq, const unsigned char *predict, int len);
/* Row-by-row building of one sequence: begin, push rows (blk_start relative to the sequence
 * start), end. packed_batch_add_causal is built on these. */
int packed_batch_begin_sequence(PackedBatch *b, int max_rows);
void packed_batch_push_row(PackedBatch *b, int token, int target, int pos, int vis_prefix, int blk_start);
void packed_batch_end_sequence(PackedBatch *b);
/* Rows added to the current sequence so far (the relative index of the next row). */
int packed_batch_sequence_rows(const PackedBatch *b);

/* The attention layout of the rows added so far. */
const AttnLayout *packed_batch_layout(PackedBatch *b);
/* Rows with a target. */
int packed_batch_count_targets(const PackedBatch *b);

/* Fills the batch with n synthetic sequences of T rows (T+1 tokens): "random": uniform random
 * tokens; "copy": a random first half repeated in the second half, which a model can learn (its
 * loss falls towards ln(V)/2). Returns -1 (px_error) for another source. */
int packed_batch_fill_synthetic(PackedBatch *b, const char *source, int n, int T, int vocab, Rng *rng);

#endif
