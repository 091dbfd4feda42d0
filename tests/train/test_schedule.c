/* test_schedule.c — read schedules, the synchronized [source | student | teacher] layout on a
 * hand-worked example, and the self-distillation loss (finite differences; no gradient
 * through the teacher distribution). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/model/kernels.h"
#include "src/model/loss.h"
#include "src/train/schedule.h"

/* ------------------------------------------------------------------ schedules */

static void check_monotone_in_bounds(const int *g, int n, int m) {
    for (int j = 0; j < m; j++) {
        assert_true(g[j] >= 1 && g[j] <= n + 1);
        if (j) assert_true(g[j] >= g[j - 1]);
    }
}

static void test_schedules_monotone_and_bounded(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 1);
    StreamConfig c = {.k_min = 1, .k_max = 4, .mean_step = 1.5f, .p_full = 0.1f, .k = 3};
    int g[64];
    for (int kind = 0; kind < 4; kind++) {
        c.kind = (ScheduleKind)kind;
        for (int trial = 0; trial < 500; trial++) {
            int n = 1 + (int)rng_below(&r, 30), m = 1 + (int)rng_below(&r, 40);
            schedule_sample(&c, n, m, &r, g);
            check_monotone_in_bounds(g, n, m);
            if (kind == SCHEDULE_FULL)
                for (int j = 0; j < m; j++) assert_int_equal(g[j], n + 1);
            if (kind == SCHEDULE_WAITK)
                for (int j = 0; j < m; j++) assert_int_equal(g[j], 3 + j < n + 1 ? 3 + j : n + 1);
        }
    }
}

static void test_random_schedule_parameters(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 2);
    int g[200];
    /* p_full = 1: always the full view */
    StreamConfig full = {.kind = SCHEDULE_RANDOM, .k_min = 1, .k_max = 2, .mean_step = 1, .p_full = 1};
    schedule_sample(&full, 10, 5, &r, g);
    for (int j = 0; j < 5; j++) assert_int_equal(g[j], 11);
    /* mean_step = 0: the first read k0 in [k_min, k_max] is never increased */
    StreamConfig flat = {.kind = SCHEDULE_RANDOM, .k_min = 2, .k_max = 4, .mean_step = 0, .p_full = 0};
    for (int t = 0; t < 100; t++) {
        schedule_sample(&flat, 50, 7, &r, g);
        assert_true(g[0] >= 2 && g[0] <= 4);
        for (int j = 1; j < 7; j++) assert_int_equal(g[j], g[0]);
    }
    /* the mean step of the geometric is what was asked for */
    StreamConfig geo = {.kind = SCHEDULE_RANDOM, .k_min = 1, .k_max = 1, .mean_step = 2.0f, .p_full = 0};
    double steps = 0;
    int count = 0;
    for (int t = 0; t < 200; t++) {
        schedule_sample(&geo, 100000, 200, &r, g);
        steps += g[199] - g[0];
        count += 199;
    }
    assert_true(fabs(steps / count - 2.0) < 0.1);
}

/* ------------------------------------------------------------------ layout */

/* prompt [1] | source words a=[10] b=[11 12] c=[13] | src_end [2]  -> S = 6
 * tgt_begin [3] | target words x=[20 21] y=[22] | tgt_end [4]      -> T = 5, 4 rows per copy */
static int src_tokens[4] = {10, 11, 12, 13}, tgt_tokens[3] = {20, 21, 22};
static int src_word_ends[3] = {1, 3, 4}, tgt_word_ends[2] = {2, 3};
static int64_t src_off[2] = {0, 4}, tgt_off[2] = {0, 3}, src_woff[2] = {0, 3}, tgt_woff[2] = {0, 2};
static int prompt[1] = {1}, src_end[1] = {2}, tgt_begin[1] = {3}, tgt_end[1] = {4};

static PairSet example(void) {
    PairSet s = {.count = 1,
                 .src_tokens = src_tokens,
                 .tgt_tokens = tgt_tokens,
                 .src_off = src_off,
                 .tgt_off = tgt_off,
                 .src_word_ends = src_word_ends,
                 .tgt_word_ends = tgt_word_ends,
                 .src_word_off = src_woff,
                 .tgt_word_off = tgt_woff};
    return s;
}

static void test_layout_hand_worked(void **state) {
    (void)state;
    PairSet s = example();
    TemplatePieces tp = {{prompt, 1, 0}, {src_end, 1, 0}, {tgt_begin, 1, 0}, {tgt_end, 1, 0}};
    PackedBatch b = {0};
    int g[2] = {1, 3}; /* word x is written after 1 source word, y after 3 */
    SpsdRows rows;
    assert_int_equal(pair_src_words(&s, 0), 3);
    assert_int_equal(pair_tgt_words(&s, 0), 2);
    assert_int_equal(spsd_batch_add(&b, &s, &tp, 0, g, 7, &rows), 0);
    const AttnLayout *lay = packed_batch_layout(&b);
    assert_int_equal(lay->n_rows, 6 + 4 + 4);
    assert_int_equal(rows.student_first, 6);
    assert_int_equal(rows.teacher_first, 10);
    assert_int_equal(rows.n_copy_rows, 4);
    int tokens[14] = {1, 10, 11, 12, 13, 2, 3, 20, 21, 22, 3, 20, 21, 22};
    int targets[14] = {-1, -1, -1, -1, -1, -1, 20, 21, 22, 4, 20, 21, 22, 4};
    int pos[14] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 7, 8, 9, 10}; /* phi = 7 for both copies */
    /* student: row B->20 and 20->21 see prompt + a (2 tokens); row 21->22 already sees word y's
     * g = 3 (shift by one): prompt + a b c = 5; the row predicting tgt_end sees all 6 */
    int vis[14] = {0, 0, 0, 0, 0, 0, 2, 2, 5, 6, 6, 6, 6, 6};
    int blk[14] = {0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 10, 10, 10, 10};
    assert_memory_equal(b.tokens, tokens, sizeof tokens);
    assert_memory_equal(b.targets, targets, sizeof targets);
    assert_memory_equal(lay->pos, pos, sizeof pos);
    assert_memory_equal(lay->vis_prefix, vis, sizeof vis);
    assert_memory_equal(lay->blk_start, blk, sizeof blk);
    int bad[2][2] = {{0, 1}, {3, 2}}; /* g(1) = 0; not monotone */
    for (int k = 0; k < 2; k++) assert_int_equal(spsd_batch_add(&b, &s, &tp, 0, bad[k], 7, NULL), -1);
    assert_int_equal(attn_layout_validate(lay), 0);
    for (int t = 0; t < 14; t++)
        for (int j = 0; j < 14; j++) {
            int v = attn_visible(lay, t, t, j);
            if (t < 6) assert_int_equal(v, j <= t);                /* source: causal, no target */
            if (t >= 6 && t < 10) {                                /* student */
                if (j >= 10) assert_false(v);                      /* never the teacher */
                if (j >= 6 && j < 10) assert_int_equal(v, j <= t); /* causal in its copy */
            }
            if (t >= 10) assert_int_equal(v, j < 6 || (j >= 10 && j <= t)); /* teacher: all source, own copy */
        }
    packed_batch_free(&b);
}

/* ------------------------------------------------------------------ loss */

enum { V = 7 };

/* Two copies of 2 rows after 1 source row; row 2 (and its teacher twin 4) has no target. */
static double spsd_value(const float *logits, float alpha, float lambda, float tau, SpsdLoss *parts) {
    float tmp[5 * V];
    memcpy(tmp, logits, sizeof tmp);
    int targets[5] = {-1, 3, -1, 3, -1}, sf[1] = {1}, tf[1] = {3}, nr[1] = {2};
    assert_int_equal(spsd_loss_forward_backward(tmp, targets, 5, V, sf, tf, nr, 1, alpha, lambda, tau, 1.0f, parts), 0);
    return parts->ce_student + alpha * parts->ce_teacher + lambda * tau * tau * parts->kl;
}

static void test_spsd_loss_gradient(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 3);
    float z[5 * V], grad[5 * V];
    for (int i = 0; i < 5 * V; i++) z[i] = (float)rng_normal(&r);
    const float alpha = 0.7f, lambda = 1.3f, tau = 2.0f;
    int targets[5] = {-1, 3, -1, 3, -1}, sf[1] = {1}, tf[1] = {3}, nr[1] = {2};
    SpsdLoss parts;
    memcpy(grad, z, sizeof z);
    assert_int_equal(spsd_loss_forward_backward(grad, targets, 5, V, sf, tf, nr, 1, alpha, lambda, tau, 1.0f, &parts),
                     0);
    assert_int_equal(parts.count, 1);
    assert_true(parts.kl > 0);
    /* rows without a paired target get no gradient */
    for (int j = 0; j < V; j++) assert_true(grad[j] == 0 && grad[2 * V + j] == 0 && grad[4 * V + j] == 0);
    /* the student row: finite differences of the whole loss */
    for (int j = 0; j < V; j++) {
        float keep = z[V + j];
        z[V + j] = keep + 1e-2f;
        double up = spsd_value(z, alpha, lambda, tau, &parts);
        z[V + j] = keep - 1e-2f;
        double down = spsd_value(z, alpha, lambda, tau, &parts);
        z[V + j] = keep;
        assert_true(fabs((up - down) / 2e-2 - grad[V + j]) < 2e-3);
    }
    /* the teacher row: only alpha * dCE, as if the KL's teacher distribution were a constant */
    float p[V];
    double s = 0;
    for (int j = 0; j < V; j++) s += exp(z[3 * V + j]);
    for (int j = 0; j < V; j++) p[j] = (float)(exp(z[3 * V + j]) / s);
    for (int j = 0; j < V; j++) assert_true(fabs(grad[3 * V + j] - alpha * (p[j] - (j == 3))) < 1e-6);
}

/* With alpha = 0 the teacher row gets exactly zero gradient although the KL term depends on it. */
static void test_no_gradient_through_teacher(void **state) {
    (void)state;
    float z[5 * V];
    for (int i = 0; i < 5 * V; i++) z[i] = (float)sin(i * 1.7);
    int targets[5] = {-1, 2, -1, 2, -1}, sf[1] = {1}, tf[1] = {3}, nr[1] = {2};
    SpsdLoss parts;
    assert_int_equal(spsd_loss_forward_backward(z, targets, 5, V, sf, tf, nr, 1, 0.0f, 1.0f, 1.0f, 1.0f, &parts), 0);
    assert_true(parts.kl > 0);
    for (int j = 0; j < V; j++) assert_true(z[3 * V + j] == 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules_monotone_and_bounded),
        cmocka_unit_test(test_random_schedule_parameters),
        cmocka_unit_test(test_layout_hand_worked),
        cmocka_unit_test(test_spsd_loss_gradient),
        cmocka_unit_test(test_no_gradient_through_teacher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
