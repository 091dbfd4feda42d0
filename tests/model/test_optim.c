/* test_optim.c — learning-rate schedule, clipping and AdamW against hand-computed values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/model/optim.h"

static OptimConfig config(void) {
    OptimConfig c = {.lr = 1e-2f,
                     .min_lr_ratio = 0.1f,
                     .warmup_steps = 2,
                     .total_steps = 6,
                     .beta1 = 0.9f,
                     .beta2 = 0.95f,
                     .eps = 1e-8f,
                     .weight_decay = 0.1f,
                     .grad_clip = 1.0f};
    return c;
}

static void test_schedule_warmup_then_cosine(void **state) {
    (void)state;
    OptimConfig c = config();
    assert_float_equal(lr_at_step(&c, 0), 0.005f, 1e-9);
    assert_float_equal(lr_at_step(&c, 1), 0.01f, 1e-9);
    assert_float_equal(lr_at_step(&c, 2), 0.01f, 1e-9); /* cosine starts at the peak */
    /* halfway through the 4 decay steps: min + (peak-min)/2 */
    assert_float_equal(lr_at_step(&c, 4), 0.001f + 0.5f * 0.009f, 1e-8);
    assert_float_equal(lr_at_step(&c, 6), 0.001f, 1e-9);
    assert_float_equal(lr_at_step(&c, 100), 0.001f, 1e-9); /* clamps past the end */
}

static void test_clip_coefficient(void **state) {
    (void)state;
    assert_float_equal(clip_coefficient(0.5, 1.0f), 1.0f, 0);
    assert_float_equal(clip_coefficient(4.0, 1.0f), 1.0f / (4.0f + 1e-6f), 1e-9);
    assert_float_equal(clip_coefficient(4.0, 0.0f), 1.0f, 0); /* disabled */
    float v[3] = {3, 4, 0};
    assert_float_equal(vector_l2_norm(v, 3), 5.0, 1e-12);
}

/* Two AdamW updates of one scalar, against the formulas written out by hand. */
static void test_adamw_two_steps_by_hand(void **state) {
    (void)state;
    OptimConfig c = config();
    AdamW opt;
    assert_int_equal(adamw_create(&opt, &c, 2), 0);
    float p[2] = {1.0f, 1.0f}, g[2] = {0.5f, 0.5f};
    double ref = 1.0, m = 0, v = 0;
    for (int t = 1; t <= 2; t++) {
        opt.t = t;
        adamw_update_range(&opt, p, g, 0, 1, 0.01f, 1);
        adamw_update_range(&opt, p, g, 1, 2, 0.01f, 0);
        ref *= 1.0 - 0.01 * 0.1;
        m = 0.9 * m + 0.1 * 0.5;
        v = 0.95 * v + 0.05 * 0.25;
        double mhat = m / (1 - pow(0.9, t)), vhat = v / (1 - pow(0.95, t));
        ref -= 0.01 * mhat / (sqrt(vhat) + 1e-8);
    }
    assert_float_equal(p[0], (float)ref, 1e-6);
    assert_true(p[1] > p[0]); /* the same update without decay ends higher */
    adamw_free(&opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_warmup_then_cosine),
        cmocka_unit_test(test_clip_coefficient),
        cmocka_unit_test(test_adamw_two_steps_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
