/* step.c — one rank's training step (see step.h) and the batch it trains on. */
#include "src/train/step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/vec.h"
#include "src/model/loss.h"
#include "src/model/profile.h"
#include "src/train/schedule.h"

/* ---------------------------------------------------------------- the batch */

void train_batch_free(TrainBatch *tb) {
    packed_batch_free(&tb->batch);
    pair_set_free(&tb->pairs);
    free(tb->student_first);
    free(tb->teacher_first);
    free(tb->n_copy_rows);
    free(tb->g);
    memset(tb, 0, sizeof *tb);
}

void train_batch_clear(TrainBatch *tb, int spsd, int teacher) {
    packed_batch_clear(&tb->batch);
    tb->spsd = spsd;
    tb->teacher = spsd && teacher;
    tb->n_examples = 0;
}

int train_batch_add_spsd(TrainBatch *tb, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi) {
    const size_t need = (size_t)tb->n_examples + 1;
    if (VEC_RESERVE(tb->student_first, tb->cap_student, need, "a batch's examples") ||
        VEC_RESERVE(tb->teacher_first, tb->cap_teacher, need, "a batch's examples") ||
        VEC_RESERVE(tb->n_copy_rows, tb->cap_copy_rows, need, "a batch's examples"))
        return -1;
    SpsdRows rows;
    if ((tb->teacher ? spsd_batch_add : student_batch_add)(&tb->batch, s, tp, e, g, phi, &rows)) return -1;
    const int k = tb->n_examples++;
    tb->student_first[k] = rows.student_first;
    tb->teacher_first[k] = rows.teacher_first;
    tb->n_copy_rows[k] = rows.n_copy_rows;
    return 0;
}

double train_batch_targets(const TrainBatch *tb) {
    if (!tb->spsd) return packed_batch_count_targets(&tb->batch);
    double n = 0;
    for (int k = 0; k < tb->n_examples; k++)
        for (int i = 0; i < tb->n_copy_rows[k]; i++) n += tb->batch.targets[tb->student_first[k] + i] >= 0;
    return n;
}

/* ---------------------------------------------------------------- the learner */

int learner_init(Learner *l, Model *m, const World *w, const OptimConfig *optim, double bucket_mb, int zero,
                 SpsdWeights spsd) {
    memset(l, 0, sizeof *l);
    l->model = m;
    l->world = w;
    l->spsd = spsd;
    if (model_alloc_grads(m)) return -1;
    if (!w) return adamw_create(&l->opt, optim, m->n_params);
    if (!(l->sync = grad_sync_new(w, m, bucket_mb, zero))) return -1;
    return grad_sync_optimizer_create(l->sync, &l->opt, optim);
}

void learner_free(Learner *l) {
    grad_sync_free(l->sync);
    adamw_free(&l->opt);
    activations_free(&l->acts);
    l->sync = NULL;
}

/* ---------------------------------------------------------------- collectives */

int learner_agree(const Learner *l, int local_status) {
    if (l->world) return world_agree(l->world, local_status);
    return local_status ? -1 : 0;
}

int learner_sum(const Learner *l, double *values, int n) { return l->world ? world_sum(l->world, values, n) : 0; }

/* ---------------------------------------------------------------- the step */

/* Loss and dlogits (scaled by 1/normaliser) of the rows in the learner's logits;
 * sums[] += CE(student), CE(teacher), KL, count. */
static int batch_loss(Learner *l, TrainBatch *b, double normaliser, double sums[4]) {
    const float scale = (float)(1.0 / normaliser);
    const int vocab = l->model->cfg.vocab_size;
    float *logits = l->acts.logits;
    if (b->spsd && !b->teacher && l->spsd.lambda > 0) /* no teacher to distil from: refused, not ignored */
        return px_error("spsd.lambda = %g needs the teacher copy, but the batch has none (spsd.teacher = off)",
                        (double)l->spsd.lambda);
    if (!b->teacher) { /* plain rows, or [source | student]: the rows with a target are the student's */
        int n;
        sums[0] += cross_entropy_forward_backward(logits, b->batch.targets, b->batch.n_rows, vocab, scale, &n);
        sums[3] += n;
        return 0;
    }
    SpsdLoss s;
    if (spsd_loss_forward_backward(logits, b->batch.targets, b->batch.n_rows, vocab, b->student_first, b->teacher_first,
                                   b->n_copy_rows, b->n_examples, l->spsd.alpha, l->spsd.lambda, l->spsd.tau, scale,
                                   &s))
        return -1;
    sums[0] += s.ce_student;
    sums[1] += s.ce_teacher;
    sums[2] += s.kl;
    sums[3] += s.count;
    return 0;
}

int train_batch_loss(Learner *l, TrainBatch *b, double sums[4]) {
    if (model_forward(l->model, &l->acts, b->batch.tokens, packed_batch_layout(&b->batch))) return -1;
    return batch_loss(l, b, 1.0, sums);
}

int train_step(Learner *l, TrainBatch *b, int step, StepStats *out) {
    Model *m = l->model;
    /* 1. the global target count: every rank scales its loss by it, so the summed gradient is
     * the one of the whole global batch whatever the rank count */
    double counts[1] = {train_batch_targets(b)};
    if (learner_sum(l, counts, 1)) return -1;
    if (counts[0] == 0) return px_error("step %d: the global batch has no target tokens", step + 1);
    /* 2. forward and loss */
    const AttnLayout *lay = packed_batch_layout(&b->batch);
    double sums[5] = {0, 0, 0, 0, lay->n_rows}; /* CE(student), CE(teacher), KL, targets, rows */
    int rc = model_forward(m, &l->acts, b->batch.tokens, lay);
    if (rc == 0) PROFILE(PROF_LOSS, rc = batch_loss(l, b, counts[0], sums));
    if (learner_agree(l, rc)) return -1;
    /* 3. backward, with the gradient allreduce started bucket by bucket (it fails only without
     * gradients, before any bucket starts: the same on every rank) */
    model_zero_grads(m);
    double wait_s = 0;
    if (model_backward_hooked(m, &l->acts, b->batch.tokens, lay, l->sync ? grad_sync_on_backward : NULL, l->sync))
        return -1;
    if (l->sync && grad_sync_finish(l->sync, &wait_s)) return -1;
    /* 4. the same statistics on every rank; a diverged loss stops everyone */
    if (learner_sum(l, sums, 5)) return -1;
    const double ce_s = sums[0] / sums[3], ce_t = sums[1] / sums[3], kl = sums[2] / sums[3];
    const SpsdWeights *w = &l->spsd;
    const double loss = b->teacher ? ce_s + w->alpha * ce_t + w->lambda * w->tau * w->tau * kl : ce_s;
    if (!isfinite(loss)) return px_error("loss is %g at step %d: training diverged (lower optim.lr?)", loss, step + 1);
    /* 5. AdamW on the summed gradient (this rank's shard in ZeRO-1 mode) */
    double grad_norm = l->sync ? grad_sync_optimizer_step(l->sync, &l->opt, step) : adamw_step_model(&l->opt, m, step);
    if (grad_norm < 0) return -1;
    model_refresh_bf16(m); /* the bf16 copy the next step's products read (bf16 mode) */
    *out = (StepStats){.loss = loss,
                       .ce_student = ce_s,
                       .ce_teacher = ce_t,
                       .kl = kl,
                       .targets = sums[3],
                       .rows = sums[4],
                       .grad_norm = grad_norm,
                       .lr = lr_at_step(&l->opt.cfg, step),
                       .flops = model_train_flops(&m->cfg, lay) * (l->world ? l->world->size : 1),
                       .allreduce_wait_s = wait_s};
    return 0;
}
