/* trainer.h — the training loop (docs/design.md §2, §4): for each step, a stop request agreed by all
 * ranks (then a checkpoint and the end), this rank's batch from the BatchSource, train_step,
 * the step's statistics to a callback, validation and checkpoints when due.
 *
 * Every decision that ends the run is agreed by all ranks at the step boundary: a callback's
 * failure on any rank (its px_error message) fails the run on every rank. The trainer reads,
 * writes and prints nothing itself: checkpoints, progress lines and metrics go through the hooks,
 * which `proact train` (jobs/train.c) wires to io/ and stdout. */
#ifndef PROACT_TRAINER_H
#define PROACT_TRAINER_H

#include "src/train/batch_source.h"
#include "src/train/step.h"

typedef struct {
    int steps;            /* the run ends after this many steps (train.steps) */
    int first_step;       /* steps already done (a resumed run) */
    int eval_every;       /* validation every N steps and after the last (0: only after the last) */
    int checkpoint_every; /* a checkpoint every N steps and after the last (0: only after the last) */
    int eval_at_start;    /* validation before the first step too */
    int eval_batch;       /* validation examples per forward on each rank (train.global_batch) */
    int eval_seed;        /* the validation schedules' seed (train.seed + 1: the same at every evaluation) */
} TrainerConfig;

/* Global means over the validation set (every example once, split over the ranks). */
typedef struct {
    double ce_student, ce_teacher, kl;
    double seconds; /* with hooks->now */
} EvalStats;

/* The collective phases of a run, for a watchdog (mpi/watchdog.h) that aborts a stuck one. */
typedef enum { TRAINER_PHASE_STEP, TRAINER_PHASE_VALIDATION, TRAINER_PHASE_CHECKPOINT } TrainerPhase;

/* Every hook may be NULL. Those returning int return 0, or -1 after px_error. */
typedef struct {
    void *ctx;
    /* a clock in seconds, for the timings in the stats (NULL: no timings) */
    double (*now)(void);
    /* non-zero on any rank stops every rank at the next step boundary, after a checkpoint */
    int (*stop_requested)(void *ctx);
    /* collective: a checkpoint after `steps` steps (`tokens`: target tokens trained since the
     * start of this process); the trainer agrees on the result */
    int (*save_checkpoint)(void *ctx, int steps, double tokens);
    /* after a periodic checkpoint every rank agreed on */
    int (*on_checkpoint)(void *ctx, int steps);
    /* after every step, on every rank, with the same statistics (steps = steps done) */
    int (*on_step)(void *ctx, int steps, const StepStats *s);
    /* after every validation (steps = steps done; 0 before the first) */
    int (*on_eval)(void *ctx, int steps, const EvalStats *v);
    /* a collective phase begins (steps = steps done when it begins) / the one begun has ended */
    void (*phase_begin)(void *ctx, TrainerPhase phase, int steps);
    void (*phase_end)(void *ctx);
} TrainerHooks;

/* trainer_run's outcome besides its return value. */
typedef struct {
    int steps_done;
    double tokens; /* target tokens trained on by this call */
} TrainerResult;

#define TRAINER_STOPPED 1

/* Validation of the learner's model over `valid` (collective): every example once, split over
 * the ranks, with the schedules of cfg->eval_seed. */
int trainer_validate(Learner *l, const ExampleSource *valid, const StreamConfig *sc, const TrainerConfig *cfg,
                     TrainBatch *scratch, EvalStats *out);

/* Trains from cfg->first_step to cfg->steps (valid NULL: no validation). Collective. Returns 0
 * after the last step, TRAINER_STOPPED after a stop request (its checkpoint written), or -1 on
 * every rank with the same px_error message. */
int trainer_run(Learner *l, BatchSource *bs, const ExampleSource *valid, const TrainerConfig *cfg,
                const TrainerHooks *hooks, TrainerResult *out);

#endif
