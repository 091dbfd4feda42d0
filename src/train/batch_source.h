/* batch_source.h — where a step's batch comes from (docs/design.md §2, §4): the step's global batch,
 * the same on any rank count, and this rank's share of it.
 *
 * Pairs: every rank draws the same global_batch examples from the sampler, deals them by cost
 * (rows of the synchronized layout) with balance_by_cost, and lays its own out in the
 * [source | student | teacher] layout ([source | student] with stream.no_teacher), each with the
 * read schedule seeded by (seed, step, example). Synthetic data ("random", "copy"): every rank draws the whole global batch from the
 * step's seed and keeps its part. The examples themselves come through an ExampleSource, so this
 * code reads no files: jobs/ wires it to io/dataset.h, tests to memory. */
#ifndef PROACT_BATCH_SOURCE_H
#define PROACT_BATCH_SOURCE_H

#include <stdint.h>

#include "mpi/world.h"
#include "src/model/model.h"
#include "src/train/pairs.h"
#include "src/train/schedule.h"
#include "src/train/step.h"

/* A data set of pairs, as the trainer reads it. */
typedef struct {
    void *ctx;
    int64_t n_examples;
    const TemplatePieces *template_tokens;
    const char *name; /* for messages (the path) */
    /* examples idx[0..n-1] (0-based) into *out (a new set) */
    int (*get)(void *ctx, const int64_t *idx, int n, PairSet *out);
    /* their source and target token counts, without reading the examples */
    int (*lengths)(void *ctx, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens);
} ExampleSource;

typedef struct {
    const char *synthetic; /* NULL: pairs from the ExampleSource; else data.source "random" or "copy" */
    int global_batch;      /* examples (sequences) per step over all ranks */
    int seq_len;           /* synthetic: rows per sequence */
    int seed;              /* train.seed: the sampler's order, the read schedules, the synthetic tokens */
    StreamConfig stream;   /* pairs: the read schedules and the copies' position offset */
} BatchConfig;

typedef struct {
    BatchConfig cfg;
    ExampleSource train;        /* pairs */
    PairSampler sampler;        /* pairs: the epoch order (a checkpoint saves it) */
    int vocab, max_seq_len;     /* the model's: token ids and positions are checked against them */
    int64_t *global_idx, *mine; /* [global_batch] scratch */
    int *src, *tgt, *owner;
    double *cost;
    PackedBatch all; /* synthetic: the whole global batch */
} BatchSource;

/* train may be NULL for synthetic data. Fails on a synthetic seq_len beyond the model's positions. */
int batch_source_init(BatchSource *bs, const BatchConfig *cfg, const ExampleSource *train, const ModelConfig *model);
void batch_source_free(BatchSource *bs);
/* The sampler to checkpoint (NULL for synthetic data). */
PairSampler *batch_source_sampler(BatchSource *bs);

/* This rank's share (w NULL: the whole) of the global batch of step `step` (0-based) into out.
 * Not collective (every rank computes the same deal); the caller agrees on errors. */
int batch_source_next(BatchSource *bs, const World *w, int step, TrainBatch *out);

/* Examples idx[0..n-1] of src in the synchronized layout, each with the read schedule seeded
 * by (seed, step, idx[k]) (validation passes its own seed and step -1), checked against the
 * model's vocabulary and positions. */
int train_batch_fill_pairs(TrainBatch *out, const ExampleSource *src, const StreamConfig *sc, const int64_t *idx, int n,
                           int seed, int step, int vocab, int max_seq_len);

#endif
