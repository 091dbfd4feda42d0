/* step.h — THE training step of one rank (docs/design.md §2.4, §4): forward, the loss scaled by the
 * GLOBAL number of target tokens, backward with the gradient allreduce started bucket by bucket,
 * the rest of the reduction, AdamW. `proact train` (through src/train/trainer.c) and the
 * benchmarks call this one function; 1, 2 and 4 ranks give the same losses because every
 * rank's gradient is scaled by the same global count before the sum. */
#ifndef PROACT_STEP_H
#define PROACT_STEP_H

#include "mpi/grad_sync.h"
#include "mpi/world.h"
#include "src/model/model.h"
#include "src/model/optim.h"
#include "src/train/batch.h"
#include "src/train/pairs.h"

/* One rank's batch of a step: packed rows and, in the synchronized [source | student | teacher]
 * layout, where each example's two target copies are (for the SPSD loss). */
typedef struct {
    PackedBatch batch;
    int spsd;    /* 1: synchronized layout and SPSD loss; 0: plain next-token cross-entropy */
    int teacher; /* spsd: 1 = [source | student | teacher]; 0 = [source | student], loss CE(student) */
    int n_examples;
    int *student_first, *teacher_first, *n_copy_rows; /* [n_examples] (spsd), growable (src/base/vec.h) */
    size_t cap_student, cap_teacher, cap_copy_rows;
    PairSet pairs; /* the examples the rows were built from (spsd) */
    int *g;        /* read schedule scratch */
    size_t g_cap;
} TrainBatch;

void train_batch_free(TrainBatch *tb);
/* Empties the batch (keeps its memory) for rows of the given kind: spsd with or without the
 * teacher copy (spsd.teacher), or plain rows (spsd 0, teacher ignored). */
void train_batch_clear(TrainBatch *tb, int spsd, int teacher);
/* Appends example e of s in the synchronized layout with the read schedule g (spsd_batch_add,
 * or student_batch_add without the teacher) and records where its copies landed. */
int train_batch_add_spsd(TrainBatch *tb, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi);
/* The tokens the loss is normalised by: student rows with a target (spsd), else rows with a target. */
double train_batch_targets(const TrainBatch *tb);

/* The weights of the SPSD loss: CE(student) + alpha CE(teacher) + lambda tau^2 KL ([spsd]). A batch
 * without the teacher copy has the loss CE(student): alpha is ignored and lambda must be 0. */
typedef struct {
    float alpha, lambda, tau;
} SpsdWeights;

/* What a step trains, and with whom: the model, its optimizer, the ranks that share the work. */
typedef struct {
    Model *model;       /* with gradients (learner_init allocates them) */
    const World *world; /* NULL: this process alone, without MPI (benchmarks, unit tests) */
    GradSync *sync;     /* sums the gradients over the world's ranks (NULL without a world) */
    AdamW opt;          /* full moments, or this rank's shard in ZeRO-1 mode */
    Activations acts;   /* grown on demand */
    SpsdWeights spsd;
} Learner;

/* Gradients for m, the gradient sync over w (bucket_mb, zero: [mpi]) and the optimizer. w may be
 * NULL (one process: no sync). Not collective; the caller agrees on errors. */
int learner_init(Learner *l, Model *m, const World *w, const OptimConfig *optim, double bucket_mb, int zero,
                 SpsdWeights spsd);
void learner_free(Learner *l);

/* The same on every rank: global sums over the step's batch. */
typedef struct {
    double loss;                       /* the objective: CE(student), plus the SPSD terms with a teacher */
    double ce_student, ce_teacher, kl; /* means per target token (teacher and kl 0 without a teacher) */
    double targets;                    /* target tokens (the loss normaliser) */
    double rows;                       /* input rows (tokens processed) */
    double grad_norm;                  /* global norm before clipping */
    float lr;
    double flops;            /* model FLOPs over all ranks (about: this rank's times the rank count) */
    double allreduce_wait_s; /* blocked in the reduction after backward */
} StepStats;

/* One optimizer step (`step` 0-based: the learning-rate schedule) on this rank's batch.
 * Collective over the learner's world; errors are agreed (-1 on every rank, one message): a
 * global batch without targets, a non-finite loss (diverged). */
int train_step(Learner *l, TrainBatch *b, int step, StepStats *out);

/* Forward and loss only (validation): sums[0..3] += this rank's summed CE(student), CE(teacher),
 * KL and target count (no normalisation, nothing collective). */
int train_batch_loss(Learner *l, TrainBatch *b, double sums[4]);

/* Collectives over a learner's world; without a world (one process) they are the identity. */
int learner_agree(const Learner *l, int local_status);
int learner_sum(const Learner *l, double *values, int n);

#endif
