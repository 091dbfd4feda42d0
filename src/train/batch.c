#include "src/train/batch.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

void packed_batch_clear(PackedBatch *b) {
    b->n_rows = 0;
    b->n_seqs = 0;
}

void packed_batch_free(PackedBatch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->pos);
    free(b->vis_prefix);
    free(b->blk_start);
    free(b->seq_start);
    memset(b, 0, sizeof *b);
}

static int grow_ints(int **p, int cap) {
    int *q = realloc(*p, sizeof(int) * (size_t)cap);
    if (!q) return px_error("out of memory growing a batch to %d rows", cap);
    *p = q;
    return 0;
}

static int reserve(PackedBatch *b, int rows, int seqs) {
    if (rows > b->cap_rows) {
        int cap = b->cap_rows ? b->cap_rows : 1024;
        while (cap < rows) cap *= 2;
        if (grow_ints(&b->tokens, cap) || grow_ints(&b->targets, cap) || grow_ints(&b->pos, cap) ||
            grow_ints(&b->vis_prefix, cap) || grow_ints(&b->blk_start, cap))
            return -1;
        b->cap_rows = cap;
    }
    if (seqs + 1 > b->cap_seqs) {
        int cap = b->cap_seqs ? b->cap_seqs : 64;
        while (cap < seqs + 1) cap *= 2;
        if (grow_ints(&b->seq_start, cap)) return -1;
        b->cap_seqs = cap;
    }
    return 0;
}

int packed_batch_begin_sequence(PackedBatch *b, int max_rows) {
    if (reserve(b, b->n_rows + max_rows, b->n_seqs + 1)) return -1;
    b->seq_start[b->n_seqs] = b->n_rows;
    return 0;
}

void packed_batch_push_row(PackedBatch *b, int token, int target, int pos, int vis_prefix, int blk_start) {
    int r = b->n_rows++;
    b->tokens[r] = token;
    b->targets[r] = target;
    b->pos[r] = pos;
    b->vis_prefix[r] = vis_prefix;
    b->blk_start[r] = blk_start;
}

void packed_batch_end_sequence(PackedBatch *b) {
    b->n_seqs++;
    b->seq_start[b->n_seqs] = b->n_rows;
}

int packed_batch_sequence_rows(const PackedBatch *b) { return b->n_rows - b->seq_start[b->n_seqs]; }

int packed_batch_add_causal(PackedBatch *b, const int *seq, const unsigned char *predict, int len) {
    if (len < 2) return px_error("a training sequence needs at least 2 tokens (got %d)", len);
    if (packed_batch_begin_sequence(b, len - 1)) return -1;
    for (int t = 0; t + 1 < len; t++)
        packed_batch_push_row(b, seq[t], !predict || predict[t + 1] ? seq[t + 1] : -1, t, 0, 0);
    packed_batch_end_sequence(b);
    return 0;
}

const AttnLayout *packed_batch_layout(PackedBatch *b) {
    b->lay = (AttnLayout){.n_rows = b->n_rows,
                          .n_seqs = b->n_seqs,
                          .seq_start = b->seq_start,
                          .pos = b->pos,
                          .vis_prefix = b->vis_prefix,
                          .blk_start = b->blk_start};
    return &b->lay;
}

int packed_batch_count_targets(const PackedBatch *b) {
    int n = 0;
    for (int r = 0; r < b->n_rows; r++) n += b->targets[r] >= 0;
    return n;
}

int packed_batch_fill_synthetic(PackedBatch *b, const char *source, int n, int T, int vocab, Rng *rng) {
    int copy = strcmp(source, "copy") == 0;
    if (!copy && strcmp(source, "random") != 0)
        return px_error("data.source: '%s' is not a synthetic source (random, copy)", source);
    int half = (T + 1) / 2;
    int *seq = px_calloc((size_t)T + 1, sizeof(int), "synthetic sequence");
    if (!seq) return -1;
    packed_batch_clear(b);
    int rc = 0;
    for (int s = 0; s < n && rc == 0; s++) {
        for (int t = 0; t <= T; t++) seq[t] = copy && t >= half ? seq[t - half] : (int)rng_below(rng, (uint64_t)vocab);
        rc = packed_batch_add_causal(b, seq, NULL, T + 1);
    }
    free(seq);
    return rc;
}
