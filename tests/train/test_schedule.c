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

#include "src/base/common.h"
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
    StreamConfig c = {.k_min = 1, .k_max = 4, .mean_step = 1.5f, .p_full = 0.1f, .k = 3, .min_lag = 1, .max_lag = 3};
    int g[64];
    for (int kind = 0; kind < SCHEDULE_KINDS; kind++) {
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

/* What random drew before lag_floor and drift existed (captured from that code): the defaults
 * (d) and other parameters (v) must keep drawing exactly this, generator call for call. n = 9
 * source words, m = 12 target words, seeds 1007, 2007, ..., 8007. */
static const int RANDOM_BEFORE[2][8][12] = {
    {{2, 2, 3, 5, 6, 6, 6, 10, 10, 10, 10, 10},
     {1, 1, 1, 2, 2, 2, 2, 2, 4, 5, 8, 8},
     {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10},
     {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10},
     {1, 1, 2, 2, 4, 5, 5, 6, 6, 7, 8, 8},
     {2, 2, 3, 7, 7, 7, 7, 8, 8, 8, 10, 10},
     {3, 4, 4, 5, 6, 9, 9, 10, 10, 10, 10, 10},
     {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}},
    {{5, 5, 6, 7, 7, 7, 7, 10, 10, 10, 10, 10},
     {3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 7, 7},
     {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10},
     {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10},
     {3, 3, 4, 4, 5, 5, 5, 5, 5, 6, 7, 7},
     {5, 5, 5, 8, 8, 8, 8, 9, 9, 9, 10, 10},
     {3, 3, 3, 3, 3, 5, 5, 5, 5, 6, 6, 6},
     {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
};

static void test_random_defaults_draw_as_before(void **state) {
    (void)state;
    StreamConfig d, v;
    schedule_defaults(&d);
    v = d;
    v.k_min = 2, v.k_max = 5, v.mean_step = 0.6f, v.p_full = 0.25f;
    /* an initialiser without the new fields means the same as the defaults */
    StreamConfig old = {.kind = SCHEDULE_RANDOM, .k_min = 1, .k_max = 3, .mean_step = 1.0f, .p_full = 0.1f, .k = 3};
    const StreamConfig *cs[3] = {&d, &v, &old};
    for (int c = 0; c < 3; c++)
        for (int seed = 1; seed <= 8; seed++) {
            Rng r;
            rng_seed(&r, (uint64_t)seed * 1000 + 7);
            int g[12];
            schedule_sample(cs[c], 9, 12, &r, g);
            assert_memory_equal(g, RANDOM_BEFORE[c == 1][seed - 1], sizeof g);
        }
}

/* lag_floor = L: g(j) >= L + j - 1 (clipped to 1..n+1). With k0 = 1 and no steps the floor alone
 * decides, by hand: L = 0 gives 1, 1, 2, 3, 4 and L = 2 gives wait-2. */
static void test_lag_floor(void **state) {
    (void)state;
    StreamConfig c;
    schedule_defaults(&c);
    c.k_min = c.k_max = 1, c.mean_step = 0, c.p_full = 0, c.has_lag_floor = 1;
    Rng r;
    rng_seed(&r, 4);
    int g[64];
    static const int want0[5] = {1, 1, 2, 3, 4}, want2[5] = {2, 3, 4, 5, 6}, want2_short[5] = {2, 3, 4, 4, 4};
    c.lag_floor = 0;
    schedule_sample(&c, 10, 5, &r, g);
    assert_memory_equal(g, want0, sizeof want0);
    c.lag_floor = 2;
    schedule_sample(&c, 10, 5, &r, g);
    assert_memory_equal(g, want2, sizeof want2);
    schedule_sample(&c, 3, 5, &r, g); /* n = 3: clipped to n + 1 = 4 */
    assert_memory_equal(g, want2_short, sizeof want2_short);
    /* with random steps and any floor: never below it, still monotone; without it the same
     * walk goes below (the floor is what keeps it up) */
    schedule_defaults(&c);
    c.p_full = 0;
    int below_without = 0;
    for (int L = -2; L <= 3; L++)
        for (int t = 0; t < 300; t++) {
            int n = 1 + (int)rng_below(&r, 30), m = 1 + (int)rng_below(&r, 40);
            c.has_lag_floor = 1, c.lag_floor = L;
            schedule_sample(&c, n, m, &r, g);
            check_monotone_in_bounds(g, n, m);
            for (int j = 0; j < m; j++) {
                int floor_j = L + j < 1 ? 1 : L + j > n + 1 ? n + 1 : L + j;
                assert_true(g[j] >= floor_j);
            }
            c.has_lag_floor = 0;
            schedule_sample(&c, n, m, &r, g);
            for (int j = 0; j < m; j++) below_without += g[j] < PX_MIN(PX_MAX(L + j, 1), n + 1);
        }
    assert_true(below_without > 100);
}

/* drift: the step's mean is max(mean_step, drift * unread / unwritten). One step from g(1) = 1
 * with n = 99 and m = 2: unread 99, unwritten 1, so drift 0.1 makes the mean 9.9; 0 keeps 1. */
static void test_drift(void **state) {
    (void)state;
    StreamConfig c;
    schedule_defaults(&c);
    c.k_min = c.k_max = 1, c.p_full = 0;
    Rng r;
    rng_seed(&r, 5);
    int g[2];
    const float drifts[2] = {0.0f, 0.1f};
    const double want[2] = {1.0, 9.9};
    for (int d = 0; d < 2; d++) {
        c.drift = drifts[d];
        double sum = 0;
        for (int t = 0; t < 20000; t++) {
            schedule_sample(&c, 99, 2, &r, g);
            assert_int_equal(g[0], 1);
            sum += g[1] - g[0];
        }
        if (fabs(sum / 20000 - want[d]) > 0.3)
            fail_msg("drift %g: mean step %g, want %g", drifts[d], sum / 20000, want[d]);
    }
    /* drift 1 brings the last word near the end of the source; without it the walk stays behind */
    double last[2] = {0, 0};
    c.mean_step = 0.2f;
    for (int d = 0; d < 2; d++) {
        c.drift = d ? 1.0f : 0.0f;
        int gg[40];
        for (int t = 0; t < 2000; t++) {
            schedule_sample(&c, 40, 40, &r, gg);
            check_monotone_in_bounds(gg, 40, 40);
            last[d] += gg[39] / 2000.0;
        }
    }
    assert_true(last[0] < 12 && last[1] > 35); /* measured: 8.8 and 40.4 of 41 */
}

/* band: every g(j) inside [min_lag + j - 1, max_lag + j - 1] clipped to 1..n+1, monotone; a whole
 * example full with probability p_full. */
static void test_band_in_band_and_monotone(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 6);
    StreamConfig c;
    schedule_defaults(&c);
    c.kind = SCHEDULE_BAND;
    int g[64], full = 0, trials = 0;
    int64_t at_lag[3] = {0, 0, 0};
    for (int lo = -2; lo <= 3; lo++)
        for (int width = 0; width <= 4; width++) {
            c.min_lag = lo, c.max_lag = lo + width, c.p_full = 0.2f;
            for (int t = 0; t < 200; t++, trials++) {
                int n = 1 + (int)rng_below(&r, 30), m = 1 + (int)rng_below(&r, 40);
                schedule_sample(&c, n, m, &r, g);
                check_monotone_in_bounds(g, n, m);
                int all_full = 1;
                for (int j = 0; j < m; j++) all_full &= g[j] == n + 1;
                if (all_full && PX_MAX(c.max_lag, 1) < n + 1) { /* g(1) = n+1 is outside the band: p_full */
                    full++;
                    continue;
                }
                for (int j = 0; j < m; j++) {
                    int a = PX_MIN(PX_MAX(c.min_lag + j, 1), n + 1), b = PX_MIN(PX_MAX(c.max_lag + j, 1), n + 1);
                    if (g[j] < a || g[j] > b)
                        fail_msg("band %d..%d: g(%d) = %d outside %d..%d", c.min_lag, c.max_lag, j + 1, g[j], a, b);
                    if (lo == 1 && width == 2 && g[j] <= n) at_lag[g[j] - j - 1]++;
                }
            }
        }
    assert_true(full > 0 && full < trials / 4);
    /* band 1..3: the walk visits every lag of the band about equally */
    for (int k = 0; k < 3; k++) assert_true(at_lag[k] > 0);
    int64_t most = PX_MAX(at_lag[0], PX_MAX(at_lag[1], at_lag[2])),
            least = PX_MIN(at_lag[0], PX_MIN(at_lag[1], at_lag[2]));
    assert_true(least * 10 > most * 7);
    /* min_lag = max_lag = k is wait-k exactly */
    StreamConfig w = {.kind = SCHEDULE_WAITK, .k = 2};
    c.min_lag = c.max_lag = 2, c.p_full = 0;
    for (int t = 0; t < 100; t++) {
        int n = 1 + (int)rng_below(&r, 30), m = 1 + (int)rng_below(&r, 40), gw[64];
        schedule_sample(&c, n, m, &r, g);
        schedule_sample(&w, n, m, &r, gw);
        assert_memory_equal(g, gw, sizeof(int) * (size_t)m);
    }
}

/* The exact draws of band 1..3 for a fixed seed (pinned: a changed sampler changes training). By
 * hand from the walk's rule: each g is lag + j - 1 with the lag moving by -1, 0 or +1 in 1..3. */
static void test_band_fixed_seed(void **state) {
    (void)state;
    StreamConfig c;
    schedule_defaults(&c);
    c.kind = SCHEDULE_BAND, c.p_full = 0;
    Rng r;
    rng_seed(&r, 77);
    int g[10];
    schedule_sample(&c, 20, 10, &r, g);
    static const int want[10] = {1, 3, 3, 5, 6, 8, 8, 9, 9, 10}; /* lags 1 2 1 2 2 3 2 2 1 1 */
    assert_memory_equal(g, want, sizeof want);
    for (int j = 1; j < 10; j++) assert_true(abs((g[j] - j) - (g[j - 1] - j + 1)) <= 1);
}

/* ------------------------------------------------------------------ lag histogram */

static void test_lag_histogram_exact(void **state) {
    (void)state;
    LagHistogram h = {0};
    /* n = 20: lags 1, 0, -1, 2, 3, then 6 and 9 (both >= 6) */
    const int g[7] = {1, 1, 1, 5, 7, 11, 15};
    lag_histogram_add(&h, g, 20, 7);
    const int64_t want[LAG_BUCKETS] = {1, 1, 1, 1, 1, 0, 0, 2, 0};
    assert_memory_equal(h.words, want, sizeof want);
    const int g2[3] = {10, 11, 11};
    lag_histogram_add(&h, g2, 10, 3); /* lag 10 (>= 6), then full twice */
    const int64_t want2[LAG_BUCKETS] = {1, 1, 1, 1, 1, 0, 0, 3, 2};
    assert_memory_equal(h.words, want2, sizeof want2);
    assert_int_equal(h.examples, 2);
    /* wait-2 on (n, m) = (5, 4), (2, 4), (3, 1): g = 2 3 4 5 | 2 3 3 3 (3 = n+1: full) | 2 */
    StreamConfig w = {.kind = SCHEDULE_WAITK, .k = 2};
    const int n[3] = {5, 2, 3}, m[3] = {4, 4, 1};
    assert_int_equal(schedule_lag_histogram(&w, n, m, 3, 1, &h), 0);
    const int64_t want3[LAG_BUCKETS] = {0, 0, 0, 6, 0, 0, 0, 0, 3};
    assert_memory_equal(h.words, want3, sizeof want3);
    assert_int_equal(h.examples, 3);
    /* full: every word */
    StreamConfig f = {.kind = SCHEDULE_FULL};
    assert_int_equal(schedule_lag_histogram(&f, n, m, 3, 1, &h), 0);
    const int64_t want4[LAG_BUCKETS] = {0, 0, 0, 0, 0, 0, 0, 0, 9};
    assert_memory_equal(h.words, want4, sizeof want4);
    /* band 1..3 never leaves its buckets (or full), and the same seed gives the same counts */
    StreamConfig b;
    schedule_defaults(&b);
    b.kind = SCHEDULE_BAND;
    int ns[50], ms[50];
    for (int i = 0; i < 50; i++) ns[i] = 5 + i % 17, ms[i] = 3 + i % 11;
    LagHistogram h1, h2;
    assert_int_equal(schedule_lag_histogram(&b, ns, ms, 50, 9, &h1), 0);
    assert_int_equal(schedule_lag_histogram(&b, ns, ms, 50, 9, &h2), 0);
    assert_memory_equal(&h1, &h2, sizeof h1);
    int64_t total = 0;
    for (int k = 0; k < LAG_BUCKETS; k++) total += h1.words[k];
    for (int i = 0; i < 50; i++) total -= ms[i];
    assert_int_equal(total, 0);
    assert_true(h1.words[0] == 0 && h1.words[1] == 0 && h1.words[5] == 0 && h1.words[6] == 0 && h1.words[7] == 0);
    assert_string_equal(lag_bucket_name(0), "<0");
    assert_string_equal(lag_bucket_name(7), ">=6");
    assert_string_equal(lag_bucket_name(8), "full");
}

/* ------------------------------------------------------------------ spec strings */

static void assert_roundtrip(const StreamConfig *c, const char *want) {
    char buf[SCHEDULE_SPEC_MAX], again[SCHEDULE_SPEC_MAX];
    assert_int_equal(schedule_format(c, buf, sizeof buf), 0);
    if (want) assert_string_equal(buf, want);
    StreamConfig back = {.phi = 5, .no_teacher = 1};
    if (schedule_parse(buf, &back)) fail_msg("%s: %s", buf, px_error_message());
    assert_int_equal(back.phi, 5); /* not part of the schedule */
    assert_int_equal(back.no_teacher, 1);
    assert_int_equal(schedule_format(&back, again, sizeof again), 0);
    assert_string_equal(again, buf);
    /* the kind's own fields come back exactly */
    assert_int_equal(back.kind, c->kind);
    if (c->kind == SCHEDULE_RANDOM) {
        assert_int_equal(back.k_min, c->k_min);
        assert_int_equal(back.k_max, c->k_max);
        assert_memory_equal(&back.mean_step, &c->mean_step, sizeof(float));
        assert_memory_equal(&back.drift, &c->drift, sizeof(float));
        assert_int_equal(back.has_lag_floor, c->has_lag_floor);
        if (c->has_lag_floor) assert_int_equal(back.lag_floor, c->lag_floor);
    }
    if (c->kind == SCHEDULE_RANDOM || c->kind == SCHEDULE_BAND)
        assert_memory_equal(&back.p_full, &c->p_full, sizeof(float));
    if (c->kind == SCHEDULE_BAND) {
        assert_int_equal(back.min_lag, c->min_lag);
        assert_int_equal(back.max_lag, c->max_lag);
    }
    if (c->kind == SCHEDULE_WAITK) assert_int_equal(back.k, c->k);
}

static void test_spec_roundtrip(void **state) {
    (void)state;
    StreamConfig c;
    schedule_defaults(&c);
    assert_roundtrip(&c, "random:k_min=1,k_max=3,mean_step=1,p_full=0.1,lag_floor=none,drift=0");
    c.k_min = 2, c.k_max = 7, c.mean_step = 0.3f, c.p_full = 1e-7f, c.has_lag_floor = 1, c.lag_floor = -2,
    c.drift = 2.5f;
    assert_roundtrip(&c, "random:k_min=2,k_max=7,mean_step=0.3,p_full=1e-07,lag_floor=-2,drift=2.5");
    c.kind = SCHEDULE_BAND, c.min_lag = 1, c.max_lag = 3, c.p_full = 0.1f;
    assert_roundtrip(&c, "band:min_lag=1,max_lag=3,p_full=0.1");
    c.min_lag = -1, c.max_lag = 0, c.p_full = 0;
    assert_roundtrip(&c, "band:min_lag=-1,max_lag=0,p_full=0");
    c.kind = SCHEDULE_WAITK, c.k = 3;
    assert_roundtrip(&c, "waitk:k=3");
    c.kind = SCHEDULE_CUTS;
    assert_roundtrip(&c, "cuts");
    c.kind = SCHEDULE_FULL;
    assert_roundtrip(&c, "full");
    /* any float reads back bit for bit */
    Rng r;
    rng_seed(&r, 8);
    schedule_defaults(&c);
    for (int t = 0; t < 2000; t++) {
        c.mean_step = (float)(rng_uniform(&r) * pow(10, (int)rng_below(&r, 9) - 4));
        c.p_full = (float)rng_uniform(&r);
        c.drift = (float)(rng_uniform(&r) * 100);
        assert_roundtrip(&c, NULL);
    }
    /* too small a buffer is an error, not a cut spec */
    char tiny[12];
    assert_int_equal(schedule_format(&c, tiny, sizeof tiny), -1);
}

/* proact.json files from before the spec have the bare name: that kind with its defaults. */
static void test_bare_names_parse(void **state) {
    (void)state;
    StreamConfig want, got;
    schedule_defaults(&want);
    memset(&got, 0x55, sizeof got);
    got.phi = 4, got.no_teacher = 0;
    assert_int_equal(schedule_parse("random", &got), 0);
    assert_int_equal(got.kind, SCHEDULE_RANDOM);
    assert_int_equal(got.k_min, want.k_min);
    assert_int_equal(got.k_max, want.k_max);
    assert_true(got.mean_step == want.mean_step && got.p_full == want.p_full && got.drift == 0);
    assert_int_equal(got.has_lag_floor, 0);
    assert_int_equal(got.phi, 4);
    static const char *const names[] = {"band", "cuts", "waitk", "full"};
    static const ScheduleKind kinds[] = {SCHEDULE_BAND, SCHEDULE_CUTS, SCHEDULE_WAITK, SCHEDULE_FULL};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(schedule_parse(names[i], &got), 0);
        assert_int_equal(got.kind, kinds[i]);
        assert_string_equal(schedule_name(got.kind), names[i]);
    }
    assert_int_equal(got.k, 3);
    assert_int_equal(schedule_parse("band", &got), 0);
    assert_true(got.min_lag == 1 && got.max_lag == 3 && got.p_full == 0.1f);
    /* a partial spec: the rest are defaults; keys in any order */
    assert_int_equal(schedule_parse("random:p_full=0,k_max=5", &got), 0);
    assert_true(got.k_min == 1 && got.k_max == 5 && got.p_full == 0 && got.mean_step == 1);
}

static void expect_parse_error(const char *spec, const char *needle) {
    StreamConfig c;
    schedule_defaults(&c);
    c.phi = 9;
    StreamConfig before = c;
    assert_int_equal(schedule_parse(spec, &c), -1);
    assert_memory_equal(&c, &before, sizeof c); /* unchanged */
    if (!strstr(px_error_message(), needle)) fail_msg("%s: '%s' lacks '%s'", spec, px_error_message(), needle);
}

static void test_spec_errors_name_the_key(void **state) {
    (void)state;
    expect_parse_error("wait", "unknown kind 'wait'");
    expect_parse_error("", "unknown kind ''");
    expect_parse_error("random:k_mim=2",
                       "unknown key 'k_mim' for random (expected: k_min, k_max, mean_step, p_full, lag_floor, drift)");
    expect_parse_error("band:k=3", "unknown key 'k' for band");
    expect_parse_error("full:k=3", "unknown key 'k' for full (it takes none)");
    expect_parse_error("waitk:k=0", "k must be in 1..1000000, got 0");
    expect_parse_error("waitk:k=three", "k: expected an integer, got 'three'");
    expect_parse_error("waitk:k=3,k=4", "k given twice");
    expect_parse_error("random:p_full=2", "p_full must be in [0, 1], got 2");
    expect_parse_error("random:mean_step=-1", "mean_step must be in");
    expect_parse_error("random:mean_step=nan", "mean_step: expected a number, got 'nan'");
    expect_parse_error("random:lag_floor=low", "lag_floor: expected none or an integer, got 'low'");
    expect_parse_error("random:k_min=4", "k_max must be in k_min = 4..");
    expect_parse_error("random:drift=-0.5", "drift must be in");
    expect_parse_error("band:min_lag=3,max_lag=1", "max_lag must be in min_lag = 3..");
    expect_parse_error("band:", "expected key=value, got ''");
    expect_parse_error("band:min_lag=1,", "expected key=value, got ''");
    expect_parse_error("band:min_lag", "expected key=value, got 'min_lag'");
    StreamConfig c;
    schedule_defaults(&c);
    assert_int_equal(schedule_set(&c, "nope", "1"), -1);
    assert_non_null(strstr(px_error_message(), "unknown schedule parameter 'nope'"));
    assert_int_equal(schedule_set(&c, "lag_floor", "-3"), 0);
    assert_true(c.has_lag_floor && c.lag_floor == -3);
    assert_int_equal(schedule_set(&c, "lag_floor", "none"), 0);
    assert_false(c.has_lag_floor);
    char msg[128];
    assert_null(schedule_invalid(&c, msg, sizeof msg));
    c.min_lag = 4;
    assert_string_equal(schedule_invalid(&c, msg, sizeof msg), "max_lag");
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
        cmocka_unit_test(test_random_defaults_draw_as_before),
        cmocka_unit_test(test_lag_floor),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_band_in_band_and_monotone),
        cmocka_unit_test(test_band_fixed_seed),
        cmocka_unit_test(test_lag_histogram_exact),
        cmocka_unit_test(test_spec_roundtrip),
        cmocka_unit_test(test_bare_names_parse),
        cmocka_unit_test(test_spec_errors_name_the_key),
        cmocka_unit_test(test_layout_hand_worked),
        cmocka_unit_test(test_spsd_loss_gradient),
        cmocka_unit_test(test_no_gradient_through_teacher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
