/* batch.h — a batch of B plain causal sequences of T tokens with next-token targets,
 * and the synthetic data sources used before token shards (data.source). */
#ifndef PROACT_BATCH_H
#define PROACT_BATCH_H

#include "model.h"
#include "rng.h"

typedef struct {
    int B, T;
    int *tokens;   /* [B*T] inputs */
    int *targets;  /* [B*T] next tokens */
    int *seq_start, *pos, *zero;
    AttnLayout lay; /* B packed causal sequences, positions 0..T-1 */
} CausalBatch;

int causal_batch_alloc(CausalBatch *b, int B, int T);
void causal_batch_free(CausalBatch *b);

/* Fills the batch with synthetic sequences of T+1 tokens (inputs = first T, targets = last T):
 * "random": uniform random tokens; "copy": a random first half repeated in the second half,
 * which a model can learn (its loss falls towards ln(V)/2). Returns -1 for an unknown source. */
int causal_batch_fill_synthetic(CausalBatch *b, const char *source, int vocab, Rng *rng);

#endif
