#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

int causal_batch_alloc(CausalBatch *b, int B, int T) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->T = T;
    size_t N = (size_t)B * T;
    b->tokens = px_calloc(N, sizeof(int), "batch tokens");
    b->targets = px_calloc(N, sizeof(int), "batch targets");
    b->pos = px_calloc(N, sizeof(int), "batch positions");
    b->zero = px_calloc(N, sizeof(int), "batch visibility");
    b->seq_start = px_calloc((size_t)B + 1, sizeof(int), "batch sequence starts");
    if (!b->tokens || !b->targets || !b->pos || !b->zero || !b->seq_start) {
        causal_batch_free(b);
        return -1;
    }
    for (int s = 0; s <= B; s++) b->seq_start[s] = s * T;
    for (size_t n = 0; n < N; n++) b->pos[n] = (int)(n % T);
    b->lay = (AttnLayout){.n_rows = (int)N, .n_seqs = B, .seq_start = b->seq_start, .pos = b->pos,
                          .vis_prefix = b->zero, .blk_start = b->zero};
    return 0;
}

void causal_batch_free(CausalBatch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->pos);
    free(b->zero);
    free(b->seq_start);
    memset(b, 0, sizeof *b);
}

int causal_batch_fill_synthetic(CausalBatch *b, const char *source, int vocab, Rng *rng) {
    int copy = strcmp(source, "copy") == 0;
    if (!copy && strcmp(source, "random") != 0)
        return px_error("data.source: unknown source '%s' (expected: random, copy)", source);
    int half = (b->T + 1) / 2;
    int *seq = px_calloc((size_t)b->T + 1, sizeof(int), "synthetic sequence");
    if (!seq) return -1;
    for (int s = 0; s < b->B; s++) {
        for (int t = 0; t <= b->T; t++)
            seq[t] = copy && t >= half ? seq[t - half] : (int)rng_below(rng, (uint64_t)vocab);
        memcpy(b->tokens + (size_t)s * b->T, seq, sizeof(int) * b->T);
        memcpy(b->targets + (size_t)s * b->T, seq + 1, sizeof(int) * b->T);
    }
    free(seq);
    return 0;
}
