/* batch_source.c — a step's global batch and this rank's share of it (see batch_source.h). */
#include "src/train/batch_source.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/vec.h"

int batch_source_init(BatchSource *bs, const BatchConfig *cfg, const ExampleSource *train, const ModelConfig *model) {
    memset(bs, 0, sizeof *bs);
    bs->cfg = *cfg;
    bs->vocab = model->vocab_size;
    bs->max_seq_len = model->max_seq_len;
    const size_t B = (size_t)(cfg->global_batch > 0 ? cfg->global_batch : 1);
    if (cfg->synthetic) {
        if (cfg->seq_len > model->max_seq_len)
            return px_error("train.seq_len=%d exceeds the model's max_seq_len=%d", cfg->seq_len, model->max_seq_len);
        return 0;
    }
    if (!train) return px_error("a batch source of pairs needs its examples");
    bs->train = *train;
    bs->global_idx = malloc(sizeof(int64_t) * B);
    bs->mine = malloc(sizeof(int64_t) * B);
    bs->src = malloc(sizeof(int) * B);
    bs->tgt = malloc(sizeof(int) * B);
    bs->owner = malloc(sizeof(int) * B);
    bs->cost = malloc(sizeof(double) * B);
    if (!bs->global_idx || !bs->mine || !bs->src || !bs->tgt || !bs->owner || !bs->cost)
        return px_error("out of memory dealing a batch of %d", cfg->global_batch);
    return pair_sampler_init(&bs->sampler, train->n_examples, (uint64_t)cfg->seed * 31u + 7u);
}

void batch_source_free(BatchSource *bs) {
    pair_sampler_free(&bs->sampler);
    packed_batch_free(&bs->all);
    free(bs->global_idx);
    free(bs->mine);
    free(bs->src);
    free(bs->tgt);
    free(bs->owner);
    free(bs->cost);
    memset(bs, 0, sizeof *bs);
}

PairSampler *batch_source_sampler(BatchSource *bs) { return bs->cfg.synthetic ? NULL : &bs->sampler; }

/* The read schedule of example e at a step depends only on (seed, step, e): the same on any
 * number of ranks. */
static uint64_t schedule_seed(int seed, int step, int64_t e) {
    return ((uint64_t)seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)(step + 1) << 40) ^ (uint64_t)e;
}

/* Positions beyond what the model allows, as an error. (Rows may exceed max_seq_len: the two
 * target copies share their positions.) */
static int check_lengths(const PackedBatch *b, int max_len) {
    for (int r = 0; r < b->n_rows; r++)
        if (b->pos[r] >= max_len)
            return px_error("a training sequence reaches position %d, beyond the model's max_seq_len=%d (lower "
                            "data.max_tokens or raise model.max_seq_len)",
                            b->pos[r], max_len);
    return 0;
}

int train_batch_fill_pairs(TrainBatch *out, const ExampleSource *src, const StreamConfig *sc, const int64_t *idx, int n,
                           int seed, int step, int vocab, int max_seq_len) {
    pair_set_free(&out->pairs);
    train_batch_clear(out, 1, !sc->no_teacher);
    if (src->get(src->ctx, idx, n, &out->pairs)) return -1;
    for (int k = 0; k < n; k++) {
        int m = pair_tgt_words(&out->pairs, k);
        if (VEC_RESERVE(out->g, out->g_cap, (size_t)m, "a read schedule")) return -1;
        Rng rng;
        rng_seed(&rng, schedule_seed(seed, step, idx[k]));
        schedule_sample(sc, pair_src_words(&out->pairs, k), m, &rng, out->g);
        if (train_batch_add_spsd(out, &out->pairs, src->template_tokens, k, out->g, sc->phi)) return -1;
    }
    int max_id = pair_set_max_token(&out->pairs, src->template_tokens);
    if (max_id >= vocab)
        return px_error("%s: token id %d does not fit the model's vocabulary of %d (model.vocab_size must cover the "
                        "tokenizer)",
                        src->name, max_id, vocab);
    return check_lengths(&out->batch, max_seq_len);
}

/* Synthetic data: every rank draws the whole global batch from the step's seed and copies its
 * own sequences, so that any rank count sees the same data. */
static int next_synthetic(BatchSource *bs, int rank, int size, int step, TrainBatch *out) {
    const int B = bs->cfg.global_batch;
    int64_t first, count;
    split_range(B, rank, size, &first, &count);
    Rng rng;
    rng_seed(&rng, (uint64_t)bs->cfg.seed * 7919u + (uint64_t)step);
    int rc = packed_batch_fill_synthetic(&bs->all, bs->cfg.synthetic, B, bs->cfg.seq_len, bs->vocab, &rng);
    const PackedBatch *all = &bs->all;
    train_batch_clear(out, 0, 0);
    for (int64_t s = first; rc == 0 && s < first + count; s++) {
        int r0 = all->seq_start[s], r1 = all->seq_start[s + 1];
        if ((rc = packed_batch_begin_sequence(&out->batch, r1 - r0))) break;
        for (int r = r0; r < r1; r++)
            packed_batch_push_row(&out->batch, all->tokens[r], all->targets[r], all->pos[r], 0, 0);
        packed_batch_end_sequence(&out->batch);
    }
    return rc ? -1 : check_lengths(&out->batch, bs->max_seq_len);
}

int batch_source_next(BatchSource *bs, const World *w, int step, TrainBatch *out) {
    const int rank = w ? w->rank : 0, size = w ? w->size : 1, B = bs->cfg.global_batch;
    if (bs->cfg.synthetic) return next_synthetic(bs, rank, size, step, out);
    for (int k = 0; k < B; k++) bs->global_idx[k] = pair_sampler_next(&bs->sampler); /* same on every rank */
    /* deal the global batch by cost (rows of the synchronized layout), so that no rank waits for a
     * slower one; every rank computes the same assignment */
    if (bs->train.lengths(bs->train.ctx, bs->global_idx, B, bs->src, bs->tgt)) return -1;
    const double copies = bs->cfg.stream.no_teacher ? 1.0 : 2.0;
    for (int k = 0; k < B; k++) bs->cost[k] = bs->src[k] + copies * bs->tgt[k] + 8.0;
    if (balance_by_cost(bs->cost, B, size, bs->owner)) return -1;
    int n_mine = 0;
    for (int k = 0; k < B; k++)
        if (bs->owner[k] == rank) bs->mine[n_mine++] = bs->global_idx[k];
    return train_batch_fill_pairs(out, &bs->train, &bs->cfg.stream, bs->mine, n_mine, bs->cfg.seed, step, bs->vocab,
                                  bs->max_seq_len);
}
