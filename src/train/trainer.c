/* trainer.c — the training loop over steps (see trainer.h). */
#include "src/train/trainer.h"

#include <math.h>
#include <stdlib.h>

#include "src/base/common.h"

static double clock_now(const TrainerHooks *h) { return h->now ? h->now() : 0.0; }

static void phase_begin(const TrainerHooks *h, TrainerPhase phase, int steps) {
    if (h->phase_begin) h->phase_begin(h->ctx, phase, steps);
}

/* Passes rc through, after the phase's end. */
static int phase_end(const TrainerHooks *h, int rc) {
    if (h->phase_end) h->phase_end(h->ctx);
    return rc;
}

int trainer_validate(Learner *l, const ExampleSource *valid, const StreamConfig *sc, const TrainerConfig *cfg,
                     TrainBatch *scratch, EvalStats *out) {
    const int rank = l->world ? l->world->rank : 0, size = l->world ? l->world->size : 1;
    const int B = cfg->eval_batch > 0 ? cfg->eval_batch : 1;
    const ModelConfig *mc = &l->model->cfg;
    int64_t first, count;
    split_range(valid->n_examples, rank, size, &first, &count);
    double sums[4] = {0, 0, 0, 0};
    int rc = 0;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)B);
    if (!idx) rc = px_error("out of memory for validation");
    for (int64_t e0 = first; rc == 0 && e0 < first + count; e0 += B) {
        int n = (int)PX_MIN((int64_t)B, first + count - e0);
        for (int k = 0; k < n; k++) idx[k] = e0 + k;
        if (train_batch_fill_pairs(scratch, valid, sc, idx, n, cfg->eval_seed, -1, mc->vocab_size, mc->max_seq_len) ||
            train_batch_loss(l, scratch, sums))
            rc = -1;
    }
    free(idx);
    if (learner_agree(l, rc) || learner_sum(l, sums, 4)) return -1;
    out->ce_student = sums[3] > 0 ? sums[0] / sums[3] : NAN;
    out->ce_teacher = sums[3] > 0 ? sums[1] / sums[3] : NAN;
    out->kl = sums[3] > 0 ? sums[2] / sums[3] : NAN;
    return 0;
}

/* Validation after `steps` steps, then its hook; agreed. */
static int validate(Learner *l, const BatchSource *bs, const ExampleSource *valid, const TrainerConfig *cfg,
                    const TrainerHooks *h, TrainBatch *scratch, int steps) {
    EvalStats v;
    double t0 = clock_now(h);
    phase_begin(h, TRAINER_PHASE_VALIDATION, steps);
    if (trainer_validate(l, valid, &bs->cfg.stream, cfg, scratch, &v)) return phase_end(h, -1);
    v.seconds = clock_now(h) - t0;
    return phase_end(h, learner_agree(l, h->on_eval ? h->on_eval(h->ctx, steps, &v) : 0));
}

static int checkpoint(Learner *l, const TrainerHooks *h, int steps, double tokens) {
    if (!h->save_checkpoint) return 0;
    phase_begin(h, TRAINER_PHASE_CHECKPOINT, steps);
    return phase_end(h, learner_agree(l, h->save_checkpoint(h->ctx, steps, tokens)));
}

int trainer_run(Learner *l, BatchSource *bs, const ExampleSource *valid, const TrainerConfig *cfg,
                const TrainerHooks *hooks, TrainerResult *out) {
    static const TrainerHooks none = {0};
    const TrainerHooks *h = hooks ? hooks : &none;
    TrainBatch tb = {0};
    int rc = -1;
    *out = (TrainerResult){cfg->first_step, 0};
    if (valid && cfg->eval_at_start && validate(l, bs, valid, cfg, h, &tb, cfg->first_step)) goto done;
    for (int step = cfg->first_step; step < cfg->steps; step++) {
        /* 0. a stop request on any rank stops all of them here, after a checkpoint */
        phase_begin(h, TRAINER_PHASE_STEP, step);
        int local_stop = h->stop_requested ? h->stop_requested(h->ctx) != 0 : 0;
        int stop = l->world ? world_any(l->world, local_stop) : local_stop;
        if (stop) {
            phase_end(h, 0);
            if (stop > 0 && checkpoint(l, h, step, out->tokens) == 0) rc = TRAINER_STOPPED;
            goto done;
        }
        /* 1. this rank's batch, all ranks agreeing before any collective; 2. the step */
        StepStats st;
        int failed = learner_agree(l, batch_source_next(bs, l->world, step, &tb)) || train_step(l, &tb, step, &st);
        if (!failed) {
            out->steps_done = step + 1;
            out->tokens += st.targets;
            failed = learner_agree(l, h->on_step ? h->on_step(h->ctx, step + 1, &st) : 0);
        }
        if (phase_end(h, failed)) goto done;
        /* 3. validation and a checkpoint when due; the last step has both */
        const int last = step + 1 == cfg->steps;
        if (valid && ((cfg->eval_every && (step + 1) % cfg->eval_every == 0) || last) &&
            validate(l, bs, valid, cfg, h, &tb, step + 1))
            goto done;
        if ((cfg->checkpoint_every && (step + 1) % cfg->checkpoint_every == 0) || last) {
            if (checkpoint(l, h, step + 1, out->tokens) ||
                (h->on_checkpoint && learner_agree(l, h->on_checkpoint(h->ctx, step + 1))))
                goto done;
        }
    }
    rc = 0;
done:
    train_batch_free(&tb);
    return rc;
}
