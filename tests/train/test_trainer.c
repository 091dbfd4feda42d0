/* test_trainer.c — the trainer as a library (src/train/trainer.h), on a tiny model and pairs in
 * memory, in one process without MPI: trainer_run equals train_step called by hand (bit for
 * bit), a run split in two equals one run, a stop request ends the loop at that step after a
 * checkpoint, validation and checkpoints come at the configured steps, a failing hook fails the
 * run with its message, and training lowers the loss. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/base/rng.h"
#include "src/train/trainer.h"

/* ------------------------------------------------------------------ pairs in memory */

enum { N_EXAMPLES = 24, VOCAB = 64, MAX_STEPS = 64 };

static int prompt[1] = {1}, src_end[1] = {2}, tgt_begin[1] = {3}, tgt_end[1] = {4};
static const TemplatePieces TEMPLATE = {{prompt, 1, 0}, {src_end, 1, 0}, {tgt_begin, 1, 0}, {tgt_end, 1, 0}};

/* n examples of 2..4 source and 2..4 target words of 1..2 tokens each (ids 5..VOCAB-1); every
 * target token is its source token at the same index plus one, so there is something to learn. */
static PairSet make_pairs(int n, uint64_t seed) {
    PairSet s = {.first = 0, .count = n};
    s.src_tokens = calloc(8 * (size_t)n, sizeof(int));
    s.tgt_tokens = calloc(8 * (size_t)n, sizeof(int));
    s.src_word_ends = calloc(4 * (size_t)n, sizeof(int));
    s.tgt_word_ends = calloc(4 * (size_t)n, sizeof(int));
    int64_t **offs[6] = {&s.src_off, &s.tgt_off, &s.src_word_off, &s.tgt_word_off, &s.src_text_off, &s.tgt_text_off};
    for (int i = 0; i < 6; i++) *offs[i] = calloc((size_t)n + 1, sizeof(int64_t));
    s.src_text = calloc(1, 1);
    s.tgt_text = calloc(1, 1);
    s.line = calloc((size_t)n, sizeof(int64_t));
    Rng rng;
    rng_seed(&rng, seed);
    for (int e = 0; e < n; e++) {
        s.line[e] = e + 1;
        int words = 2 + (int)rng_below(&rng, 3), tokens = 0;
        s.src_word_off[e + 1] = s.src_word_off[e] + words;
        s.tgt_word_off[e + 1] = s.tgt_word_off[e] + words;
        for (int w = 0; w < words; w++) {
            tokens += 1 + (int)rng_below(&rng, 2);
            s.src_word_ends[s.src_word_off[e] + w] = s.tgt_word_ends[s.tgt_word_off[e] + w] = tokens;
        }
        for (int t = 0; t < tokens; t++) {
            int id = 5 + (int)rng_below(&rng, VOCAB - 6);
            s.src_tokens[s.src_off[e] + t] = id;
            s.tgt_tokens[s.tgt_off[e] + t] = id + 1;
        }
        s.src_off[e + 1] = s.src_off[e] + tokens;
        s.tgt_off[e + 1] = s.tgt_off[e] + tokens;
    }
    return s;
}

static int memory_get(void *ctx, const int64_t *idx, int n, PairSet *out) { return pair_set_select(ctx, idx, n, out); }

static int memory_lengths(void *ctx, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens) {
    const PairSet *s = ctx;
    for (int k = 0; k < n; k++) {
        src_tokens[k] = (int)(s->src_off[idx[k] + 1] - s->src_off[idx[k]]);
        tgt_tokens[k] = (int)(s->tgt_off[idx[k] + 1] - s->tgt_off[idx[k]]);
    }
    return 0;
}

static ExampleSource memory_examples(PairSet *s) {
    return (ExampleSource){.ctx = s,
                           .n_examples = s->count,
                           .template_tokens = &TEMPLATE,
                           .name = "memory",
                           .get = memory_get,
                           .lengths = memory_lengths};
}

/* ------------------------------------------------------------------ a tiny model and its trainer */

typedef struct {
    PairSet train_set, valid_set;
    ExampleSource train, valid;
    Model m;
    Learner l;
    BatchSource bs;
} Setup;

/* The same model, optimizer and data every time: synthetic NULL means pairs; stream and spsd
 * NULL: the default read schedule and weights. */
static void setup_make_with(Setup *s, const char *synthetic, const StreamConfig *stream, const SpsdWeights *spsd) {
    memset(s, 0, sizeof *s);
    s->train_set = make_pairs(N_EXAMPLES, 11);
    s->valid_set = make_pairs(10, 12);
    s->train = memory_examples(&s->train_set);
    s->valid = memory_examples(&s->valid_set);
    ModelConfig mc = {.arch = MODEL_ARCH_QWEN2,
                      .vocab_size = VOCAB,
                      .hidden_size = 32,
                      .n_layers = 2,
                      .n_heads = 4,
                      .n_kv_heads = 2,
                      .head_dim = 8,
                      .intermediate_size = 48,
                      .rope_theta = 10000.0f,
                      .rms_norm_eps = 1e-6f,
                      .tie_embeddings = 1,
                      .qkv_bias = 1,
                      .max_seq_len = 64,
                      .init_std = 0.05f};
    OptimConfig oc = {.lr = 3e-3f,
                      .min_lr_ratio = 0.1f,
                      .warmup_steps = 2,
                      .total_steps = MAX_STEPS,
                      .beta1 = 0.9f,
                      .beta2 = 0.95f,
                      .eps = 1e-8f,
                      .weight_decay = 0.01f,
                      .grad_clip = 1.0f};
    BatchConfig bc = {.synthetic = synthetic,
                      .global_batch = 4,
                      .seq_len = 16,
                      .seed = 5,
                      .stream = {.kind = SCHEDULE_RANDOM, .k_min = 1, .k_max = 2, .mean_step = 1, .p_full = 0.2f}};
    if (stream) bc.stream = *stream;
    assert_int_equal(model_create(&s->m, &mc), 0);
    model_init_random(&s->m, 7);
    assert_int_equal(learner_init(&s->l, &s->m, NULL, &oc, 0, 0, spsd ? *spsd : (SpsdWeights){1.0f, 1.0f, 1.0f}), 0);
    assert_int_equal(batch_source_init(&s->bs, &bc, synthetic ? NULL : &s->train, &s->m.cfg), 0);
}

static void setup_make(Setup *s, const char *synthetic) { setup_make_with(s, synthetic, NULL, NULL); }

static void setup_free(Setup *s) {
    batch_source_free(&s->bs);
    learner_free(&s->l);
    model_free(&s->m);
    pair_set_free(&s->train_set);
    pair_set_free(&s->valid_set);
}

/* What the hooks saw. */
typedef struct {
    StepStats steps[MAX_STEPS];
    int n_steps, stop_at, polls;
    int saved[MAX_STEPS], n_saved, announced[MAX_STEPS], n_announced, evals[MAX_STEPS], n_evals;
    double saved_tokens;
    EvalStats last_eval;
    int fail_at;      /* on_step fails after this many steps (0: never) */
    char phases[256]; /* the phases as letters: S(tep) V(alidation) C(heckpoint), then '.' at each end */
    int n_phases, in_phase;
} Seen;

static int seen_stop(void *ctx) {
    Seen *s = ctx;
    return ++s->polls == s->stop_at;
}
static int seen_save(void *ctx, int steps, double tokens) {
    Seen *s = ctx;
    s->saved[s->n_saved++] = steps;
    s->saved_tokens = tokens;
    return 0;
}
static int seen_checkpoint(void *ctx, int steps) {
    Seen *s = ctx;
    s->announced[s->n_announced++] = steps;
    return 0;
}
static int seen_step(void *ctx, int steps, const StepStats *st) {
    Seen *s = ctx;
    assert_int_equal(steps, s->n_steps + 1);
    s->steps[s->n_steps++] = *st;
    return s->fail_at && steps == s->fail_at ? px_error("the log is full") : 0;
}
static int seen_eval(void *ctx, int steps, const EvalStats *v) {
    Seen *s = ctx;
    s->evals[s->n_evals++] = steps;
    s->last_eval = *v;
    return 0;
}

static void seen_phase_begin(void *ctx, TrainerPhase phase, int steps) {
    Seen *s = ctx;
    (void)steps;
    assert_false(s->in_phase); /* phases do not nest */
    s->in_phase = 1;
    if (s->n_phases < 250) s->phases[s->n_phases++] = "SVC"[phase];
}
static void seen_phase_end(void *ctx) {
    Seen *s = ctx;
    assert_true(s->in_phase);
    s->in_phase = 0;
    if (s->n_phases < 250) s->phases[s->n_phases++] = '.';
}

static TrainerHooks hooks_of(Seen *seen) {
    return (TrainerHooks){.ctx = seen,
                          .stop_requested = seen_stop,
                          .save_checkpoint = seen_save,
                          .on_checkpoint = seen_checkpoint,
                          .on_step = seen_step,
                          .on_eval = seen_eval,
                          .phase_begin = seen_phase_begin,
                          .phase_end = seen_phase_end};
}

/* ------------------------------------------------------------------ tests */

/* trainer_run is train_step on batch_source_next's batches, nothing else: the same losses and
 * the same parameters, bit for bit (pairs with the SPSD loss, and the synthetic copy task). */
static void run_equals_steps_by_hand(const char *synthetic) {
    enum { STEPS = 5 };
    Setup a, b;
    setup_make(&a, synthetic);
    setup_make(&b, synthetic);
    Seen seen = {0};
    TrainerHooks h = hooks_of(&seen);
    TrainerConfig tc = {.steps = STEPS, .eval_batch = 4};
    TrainerResult res;
    assert_int_equal(trainer_run(&a.l, &a.bs, NULL, &tc, &h, &res), 0);
    assert_int_equal(res.steps_done, STEPS);
    assert_int_equal(seen.n_steps, STEPS);
    TrainBatch tb = {0};
    double tokens = 0;
    for (int step = 0; step < STEPS; step++) {
        StepStats st;
        assert_int_equal(batch_source_next(&b.bs, NULL, step, &tb), 0);
        assert_int_equal(tb.spsd, synthetic == NULL);
        assert_int_equal(train_step(&b.l, &tb, step, &st), 0);
        assert_true(isfinite(st.loss) && st.targets > 0);
        assert_memory_equal(&st.loss, &seen.steps[step].loss, sizeof st.loss);
        assert_memory_equal(&st.kl, &seen.steps[step].kl, sizeof st.kl);
        assert_memory_equal(&st.grad_norm, &seen.steps[step].grad_norm, sizeof st.grad_norm);
        tokens += st.targets;
    }
    assert_true(res.tokens == tokens);
    assert_memory_equal(a.m.params, b.m.params, sizeof(float) * a.m.n_params);
    /* the last step always checkpoints */
    assert_int_equal(seen.n_saved, 1);
    assert_int_equal(seen.saved[0], STEPS);
    train_batch_free(&tb);
    setup_free(&a);
    setup_free(&b);
}

static void test_run_equals_steps_by_hand(void **state) {
    (void)state;
    run_equals_steps_by_hand(NULL);
    run_equals_steps_by_hand("copy");
}

/* 3 steps, then steps 3..6 on the same learner and batch source = 6 steps at once. */
static void test_split_run_equals_one_run(void **state) {
    (void)state;
    Setup a, b;
    setup_make(&a, NULL);
    setup_make(&b, NULL);
    TrainerResult res;
    TrainerConfig all = {.steps = 6, .eval_batch = 4}, first = {.steps = 3, .eval_batch = 4},
                  rest = {.steps = 6, .first_step = 3, .eval_batch = 4};
    assert_int_equal(trainer_run(&a.l, &a.bs, NULL, &all, NULL, &res), 0);
    assert_int_equal(trainer_run(&b.l, &b.bs, NULL, &first, NULL, &res), 0);
    assert_int_equal(res.steps_done, 3);
    assert_int_equal(trainer_run(&b.l, &b.bs, NULL, &rest, NULL, &res), 0);
    assert_int_equal(res.steps_done, 6);
    assert_memory_equal(a.m.params, b.m.params, sizeof(float) * a.m.n_params);
    setup_free(&a);
    setup_free(&b);
}

/* A stop request at the boundary before step 4: a checkpoint of 3 steps, then TRAINER_STOPPED. */
static void test_stop_request_ends_the_loop_after_a_checkpoint(void **state) {
    (void)state;
    Setup s;
    setup_make(&s, NULL);
    Seen seen = {.stop_at = 4};
    TrainerHooks h = hooks_of(&seen);
    TrainerConfig tc = {.steps = 10, .checkpoint_every = 100, .eval_batch = 4};
    TrainerResult res;
    assert_int_equal(trainer_run(&s.l, &s.bs, NULL, &tc, &h, &res), TRAINER_STOPPED);
    assert_int_equal(res.steps_done, 3);
    assert_int_equal(seen.n_steps, 3);
    assert_int_equal(seen.n_saved, 1);
    assert_int_equal(seen.saved[0], 3);
    assert_int_equal(seen.n_announced, 0); /* the stop's checkpoint is the caller's to announce */
    assert_true(seen.saved_tokens == seen.steps[0].targets + seen.steps[1].targets + seen.steps[2].targets);
    setup_free(&s);
}

/* Validation at the start, every eval_every steps and at the end; checkpoints every
 * checkpoint_every steps and at the end. */
static void test_validation_and_checkpoints_at_the_configured_steps(void **state) {
    (void)state;
    Setup s;
    setup_make(&s, NULL);
    Seen seen = {0};
    TrainerHooks h = hooks_of(&seen);
    TrainerConfig tc = {
        .steps = 7, .eval_every = 4, .checkpoint_every = 3, .eval_at_start = 1, .eval_batch = 3, .eval_seed = 6};
    TrainerResult res;
    assert_int_equal(trainer_run(&s.l, &s.bs, &s.valid, &tc, &h, &res), 0);
    int evals[3] = {0, 4, 7}, saved[3] = {3, 6, 7};
    assert_int_equal(seen.n_evals, 3);
    assert_memory_equal(seen.evals, evals, sizeof evals);
    assert_int_equal(seen.n_saved, 3);
    assert_memory_equal(seen.saved, saved, sizeof saved);
    assert_int_equal(seen.n_announced, 3);
    assert_memory_equal(seen.announced, saved, sizeof saved);
    /* every collective phase is announced to the watchdog, begun and ended in pairs */
    assert_string_equal(seen.phases, "V.S.S.S.C.S.V.S.S.C.S.V.C.");
    assert_false(seen.in_phase);
    /* the last validation is trainer_validate on the final model */
    TrainBatch tb = {0};
    EvalStats v;
    assert_int_equal(trainer_validate(&s.l, &s.valid, &s.bs.cfg.stream, &tc, &tb, &v), 0);
    assert_true(isfinite(v.ce_student) && v.ce_student > 0);
    assert_memory_equal(&v.ce_student, &seen.last_eval.ce_student, sizeof v.ce_student);
    train_batch_free(&tb);
    setup_free(&s);
}

/* A hook's error ends the run with its message, at that step. */
static void test_failing_hook_fails_the_run(void **state) {
    (void)state;
    Setup s;
    setup_make(&s, NULL);
    Seen seen = {.fail_at = 2};
    TrainerHooks h = hooks_of(&seen);
    TrainerConfig tc = {.steps = 5, .eval_batch = 4};
    TrainerResult res;
    assert_int_equal(trainer_run(&s.l, &s.bs, NULL, &tc, &h, &res), -1);
    assert_non_null(strstr(px_error_message(), "the log is full"));
    assert_int_equal(seen.n_steps, 2);
    assert_int_equal(seen.n_saved, 0);
    assert_false(seen.in_phase); /* a failure ends its phase too */
    setup_free(&s);
}

/* Training learns: the SPSD loss on the pairs falls (measured: 4.16 -> 2.84 over 40 steps). */
static void test_training_lowers_the_loss(void **state) {
    (void)state;
    Setup s;
    setup_make(&s, NULL);
    Seen seen = {0};
    TrainerHooks h = hooks_of(&seen);
    TrainerConfig tc = {.steps = 40, .eval_batch = 4};
    TrainerResult res;
    assert_int_equal(trainer_run(&s.l, &s.bs, NULL, &tc, &h, &res), 0);
    double first = 0, last = 0;
    for (int k = 0; k < 5; k++) first += seen.steps[k].ce_student / 5, last += seen.steps[35 + k].ce_student / 5;
    assert_true(last < first - 0.5);
    setup_free(&s);
}

/* spsd.teacher = off (the wait-k baseline as baseline systems train it): each sequence is
 * [source | student], the student rows exactly those of the synchronized layout, so at step 0
 * (the same parameters, the same batch and schedules) the student cross-entropy equals the one
 * reported with the teacher, and the loss is that cross-entropy alone. For random, waitk and full. */
static void test_teacher_off_trains_the_same_student_rows(void **state) {
    (void)state;
    const StreamConfig streams[3] = {
        {.kind = SCHEDULE_RANDOM, .k_min = 1, .k_max = 2, .mean_step = 1, .p_full = 0.2f},
        {.kind = SCHEDULE_WAITK, .k = 2},
        {.kind = SCHEDULE_FULL},
    };
    for (int k = 0; k < 3; k++) {
        StreamConfig off_stream = streams[k];
        off_stream.no_teacher = 1;
        const SpsdWeights with = {1.0f, 1.0f, 1.0f}, solo = {1.0f, 0.0f, 1.0f}; /* alpha is ignored */
        Setup on, off;
        setup_make_with(&on, NULL, &streams[k], &with);
        setup_make_with(&off, NULL, &off_stream, &solo);
        TrainBatch a = {0}, b = {0};
        assert_int_equal(batch_source_next(&on.bs, NULL, 0, &a), 0);
        assert_int_equal(batch_source_next(&off.bs, NULL, 0, &b), 0);
        assert_true(a.spsd && a.teacher && b.spsd && !b.teacher);
        assert_int_equal(a.n_examples, b.n_examples);
        int teacher_rows = 0;
        for (int e = 0; e < a.n_examples; e++) {
            const int na = a.n_copy_rows[e], fa = a.student_first[e], fb = b.student_first[e];
            assert_int_equal(b.n_copy_rows[e], na);
            assert_int_equal(b.teacher_first[e], -1);
            teacher_rows += na;
            /* the source rows and the student rows, token for token and visibility for visibility */
            const int src_a = fa - a.batch.seq_start[e], src_b = fb - b.batch.seq_start[e];
            assert_int_equal(src_a, src_b);
            assert_int_equal(b.batch.seq_start[e + 1] - b.batch.seq_start[e], src_b + na);
            const AttnLayout *la = packed_batch_layout(&a.batch), *lb = packed_batch_layout(&b.batch);
            for (int i = -src_a; i < na; i++) {
                assert_int_equal(a.batch.tokens[fa + i], b.batch.tokens[fb + i]);
                assert_int_equal(a.batch.targets[fa + i], b.batch.targets[fb + i]);
                assert_int_equal(la->pos[fa + i], lb->pos[fb + i]);
                assert_int_equal(la->vis_prefix[fa + i], lb->vis_prefix[fb + i]);
                assert_int_equal(la->blk_start[fa + i], lb->blk_start[fb + i]); /* within the sequence */
            }
        }
        assert_int_equal(b.batch.n_rows, a.batch.n_rows - teacher_rows); /* shorter by the teacher copies */
        assert_true(train_batch_targets(&a) == train_batch_targets(&b));
        StepStats sa, sb;
        assert_int_equal(train_step(&on.l, &a, 0, &sa), 0);
        assert_int_equal(train_step(&off.l, &b, 0, &sb), 0);
        if (fabs(sa.ce_student - sb.ce_student) > 1e-5 * sa.ce_student)
            fail_msg("%s: CE(student) %.9g with the teacher, %.9g without", schedule_name(streams[k].kind),
                     sa.ce_student, sb.ce_student);
        assert_true(sb.ce_teacher == 0 && sb.kl == 0 && sb.loss == sb.ce_student);
        assert_true(sa.targets == sb.targets && sb.rows < sa.rows);
        if (k == 0) assert_true(sa.kl > 0 && sa.loss > sa.ce_student); /* the teacher run is not the same objective */
        /* a distillation weight without a teacher is refused, not ignored */
        off.l.spsd.lambda = 0.5f;
        assert_int_equal(train_step(&off.l, &b, 1, &sb), -1);
        assert_non_null(strstr(px_error_message(), "spsd.lambda = 0.5 needs the teacher copy"));
        train_batch_free(&a);
        train_batch_free(&b);
        setup_free(&on);
        setup_free(&off);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_equals_steps_by_hand),
        cmocka_unit_test(test_split_run_equals_one_run),
        cmocka_unit_test(test_stop_request_ends_the_loop_after_a_checkpoint),
        cmocka_unit_test(test_validation_and_checkpoints_at_the_configured_steps),
        cmocka_unit_test(test_failing_hook_fails_the_run),
        cmocka_unit_test(test_teacher_off_trains_the_same_student_rows),
        cmocka_unit_test(test_training_lowers_the_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
