/* test_proact_json.c — io/proact_json.c: write -> read gives back every field (with and without a
 * probe and its fit record), adding a probe keeps the other fields and other tools' keys, the checks
 * against a model, and malformed files give one line naming the file and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/proact_json.h"
#include "src/base/common.h"
#include "src/stream/probe_features.h"

typedef struct {
    char dir[64], path[128];
} TempDir;

static void temp_dir(TempDir *t) {
    snprintf(t->dir, sizeof t->dir, "/tmp/proact_test_pj_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/proact.json", t->dir);
}

static void temp_dir_remove(TempDir *t) {
    unlink(t->path);
    assert_int_equal(rmdir(t->dir), 0);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void expect_message(const char *needle) {
    const char *msg = px_error_message();
    if (!strstr(msg, needle)) {
        print_error("expected the error message to contain\n    %s\nbut it is\n    %s\n", needle, msg);
        fail();
    }
}

static void assert_span_equal(const IdVec *a, const IdVec *b) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) assert_int_equal(a->ids[i], b->ids[i]);
}

static void assert_float_arrays_equal(const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) assert_true(a[i] == b[i]); /* floats round-trip exactly through 9 digits */
}

/* a double that may be NaN (a measurement not taken) */
static void assert_same(double a, double b) { assert_true(a == b || (isnan(a) && isnan(b))); }

static void assert_string_or_null_equal(const char *a, const char *b) {
    if (!a || !b) assert_true(a == b);
    else assert_string_equal(a, b);
}

static void assert_proact_json_equal(const ProactJson *a, const ProactJson *b) {
    assert_string_equal(a->format, b->format);
    assert_string_equal(a->template_name, b->template_name);
    assert_string_equal(a->src_lang, b->src_lang);
    assert_string_equal(a->tgt_lang, b->tgt_lang);
    assert_int_equal(a->phi, b->phi);
    assert_string_equal(a->schedule, b->schedule);
    assert_string_equal(a->default_head, b->default_head);
    assert_span_equal(&a->tokens.prompt, &b->tokens.prompt);
    assert_span_equal(&a->tokens.src_end, &b->tokens.src_end);
    assert_span_equal(&a->tokens.tgt_begin, &b->tokens.tgt_begin);
    assert_span_equal(&a->tokens.tgt_end, &b->tokens.tgt_end);
    assert_int_equal(a->has_probe, b->has_probe);
    if (a->has_probe) {
        assert_int_equal(a->probe.dim, b->probe.dim);
        assert_float_arrays_equal(a->probe.w, b->probe.w, a->probe.dim);
        assert_float_arrays_equal(a->probe.mean, b->probe.mean, a->probe.dim);
        assert_float_arrays_equal(a->probe.scale, b->probe.scale, a->probe.dim);
        assert_true(a->probe.bias == b->probe.bias);
        assert_int_equal(a->probe.attn_window, b->probe.attn_window);
    }
    assert_int_equal(a->has_fit, b->has_fit);
    if (a->has_fit) {
        const ProbeFitInfo *f = &a->fit, *g = &b->fit;
        assert_string_or_null_equal(f->method, g->method);
        assert_string_or_null_equal(f->data, g->data);
        assert_string_or_null_equal(f->states, g->states);
        assert_string_or_null_equal(f->label, g->label);
        assert_same(f->holdout_auc, g->holdout_auc);
        assert_int_equal(f->samples, g->samples);
        assert_int_equal(f->holdout, g->holdout);
        assert_same(f->lambda, g->lambda);
        assert_same(f->positive_rate, g->positive_rate);
        assert_int_equal(f->iterations, g->iterations);
        assert_same(f->train_accuracy, g->train_accuracy);
        assert_same(f->holdout_accuracy, g->holdout_accuracy);
        assert_same(f->ridge_train_accuracy, g->ridge_train_accuracy);
        assert_same(f->ridge_holdout_accuracy, g->ridge_holdout_accuracy);
        assert_int_equal(f->ranks, g->ranks);
    }
}

/* the fields `proact train` writes, with token ids that live on the caller's stack */
static int prompt_ids[] = {5, 17, 2}, src_end_ids[] = {9}, tgt_begin_ids[] = {11, 12}, tgt_end_ids[] = {13};

static void trained_file(ProactJson *pj) {
    proact_json_init(pj);
    snprintf(pj->template_name, sizeof pj->template_name, "chat");
    snprintf(pj->src_lang, sizeof pj->src_lang, "en");
    snprintf(pj->tgt_lang, sizeof pj->tgt_lang, "es \"quoted\"");
    snprintf(pj->schedule, sizeof pj->schedule, "random");
    snprintf(pj->default_head, sizeof pj->default_head, "waitk:5");
    pj->phi = 2;
    pj->tokens = (TemplatePieces){{prompt_ids, 3, 0}, {src_end_ids, 1, 0}, {tgt_begin_ids, 2, 0}, {tgt_end_ids, 1, 0}};
}

/* a probe over a model of hidden size 4, and how it was fitted */
enum { HIDDEN = 4, DIM = HIDDEN + PROBE_EXTRA_FEATURES };
static float probe_w[DIM] = {0.1f, -2.5f, 3.14159274f, 1e-8f, 7.0f, -0.333333343f, 0.5f, 2.0f, -1.25f};
static float probe_mean[DIM] = {0, 1, 2, 3, 4.25f, 0.999f, 1e3f, 5.5f, 1.0f};
static float probe_scale[DIM] = {1, 2, 0.5f, 1e-3f, 3, 0.125f, 7.5f, 4.0f, 1.5f};

static void with_probe(ProactJson *pj) {
    assert_int_equal(DIM, probe_feature_dim(HIDDEN));
    pj->has_probe = 1;
    pj->probe =
        (Probe){.dim = DIM, .w = probe_w, .mean = probe_mean, .scale = probe_scale, .bias = -0.75f, .attn_window = 6};
    pj->has_fit = 1;
    pj->fit = (ProbeFitInfo){.method = "logistic regression (IRLS, ScaLAPACK)",
                             .data = "data/train.h5",
                             .states = "on-policy band:1:3",
                             .label = "p-teacher",
                             .holdout_auc = 0.71875,
                             .samples = 3200,
                             .holdout = 800,
                             .lambda = 10,
                             .positive_rate = 0.625,
                             .iterations = 7,
                             .train_accuracy = 0.8125,
                             .holdout_accuracy = NAN,
                             .ridge_train_accuracy = 0.75,
                             .ridge_holdout_accuracy = 0.1,
                             .ranks = 2};
}

static void test_round_trip_without_probe(void **state) {
    (void)state;
    TempDir t;
    temp_dir(&t);
    ProactJson w, r;
    trained_file(&w);
    assert_int_equal(proact_json_write(t.path, &w), 0);
    assert_int_equal(proact_json_read(t.path, &r), 0);
    assert_proact_json_equal(&w, &r);
    assert_null(r.other);
    assert_int_equal(proact_json_check(t.path, &r, 18, HIDDEN), 0);
    /* a file from before the spec strings: the bare name reads as random with its defaults */
    StreamConfig sc = {0}, defaults = {0};
    schedule_defaults(&defaults);
    assert_int_equal(schedule_parse(r.schedule, &sc), 0);
    assert_memory_equal(&sc, &defaults, sizeof sc);
    proact_json_free(&r);
    temp_dir_remove(&t);
}

static void test_round_trip_with_probe(void **state) {
    (void)state;
    TempDir t;
    temp_dir(&t);
    ProactJson w, r;
    trained_file(&w);
    with_probe(&w);
    /* the whole spec `proact train` writes, as long as one gets */
    StreamConfig sc = {0}, back = {0};
    schedule_defaults(&sc);
    sc.k_min = sc.k_max = 1000000, sc.lag_floor = -1000000, sc.has_lag_floor = 1;
    sc.mean_step = 1.23456791e-05f, sc.p_full = 0.333333343f, sc.drift = 123456.789f;
    assert_int_equal(schedule_format(&sc, w.schedule, sizeof w.schedule), 0);
    assert_int_equal(proact_json_write(t.path, &w), 0);
    assert_int_equal(proact_json_read(t.path, &r), 0);
    assert_proact_json_equal(&w, &r);
    assert_int_equal(proact_json_check(t.path, &r, 18, HIDDEN), 0);
    assert_int_equal(schedule_parse(r.schedule, &back), 0);
    assert_memory_equal(&back, &sc, sizeof sc);
    proact_json_free(&r);
    temp_dir_remove(&t);
}

/* proact probe's path: the probe goes in, everything else (other tools' keys too) stays */
static void test_set_probe_keeps_the_rest(void **state) {
    (void)state;
    TempDir t;
    temp_dir(&t);
    write_text(t.path, "{\"format\": \"proact\", \"template\": \"plain\",\n"
                       " \"notes\": {\"by\": \"hand\", \"n\": [1, 2]}, \"phi\": 1,\n"
                       " \"template_tokens\": {\"prompt\": [], \"src_end\": [2], \"tgt_begin\": [3], \"tgt_end\": [4]},"
                       " \"probe\": null}\n");
    ProactJson before, with, after;
    assert_int_equal(proact_json_read(t.path, &before), 0);
    assert_int_equal(before.has_probe, 0);
    assert_string_equal(before.src_lang, "source"); /* absent: the defaults */
    assert_string_equal(before.default_head, "waitk:3");
    assert_string_equal(before.schedule, "");
    assert_non_null(before.other);
    assert_non_null(strstr(before.other, "\"notes\""));

    with_probe(&with);
    assert_int_equal(proact_json_set_probe(t.path, t.path, &with.probe, &with.fit), 0);
    assert_int_equal(proact_json_read(t.path, &after), 0);
    /* the same file with the probe */
    with = before;
    with_probe(&with);
    assert_proact_json_equal(&with, &after);
    assert_non_null(after.other);
    assert_string_equal(after.other, before.other);
    /* a fit record with fields left out reads as far as it goes */
    write_text(t.path, "{\"template_tokens\": {\"prompt\": [], \"src_end\": [2], \"tgt_begin\": [3], \"tgt_end\": [4]},"
                       " \"probe\": {\"bias\": 1, \"weights\": [1], \"mean\": [0], \"scale\": [1],"
                       " \"fit\": {\"samples\": 10}}}");
    proact_json_free(&after);
    assert_int_equal(proact_json_read(t.path, &after), 0);
    assert_int_equal(after.has_fit, 1);
    assert_int_equal(after.fit.samples, 10);
    assert_null(after.fit.data);
    assert_int_equal(after.probe.attn_window, CUE_ATTN_WINDOW_DEFAULT);
    proact_json_free(&after);
    proact_json_free(&before);
    temp_dir_remove(&t);
}

/* the file against a model: token ids in its vocabulary, a probe of its feature count */
static void test_check_against_the_model(void **state) {
    (void)state;
    TempDir t;
    temp_dir(&t);
    ProactJson w, r;
    trained_file(&w);
    with_probe(&w);
    assert_int_equal(proact_json_write(t.path, &w), 0);
    assert_int_equal(proact_json_read(t.path, &r), 0);
    assert_int_equal(proact_json_check(t.path, &r, 17, HIDDEN), -1);
    expect_message("template_tokens.prompt[1] is not a token id of the model (vocabulary 17)");
    expect_message(t.path);
    assert_int_equal(proact_json_check(t.path, &r, 18, HIDDEN + 1), -1);
    expect_message("probe.weights, mean and scale must have 10 numbers each");
    expect_message(PROBE_FEATURE_LIST);
    /* a probe of the older list (3 extra features): said so, with the way out */
    assert_int_equal(proact_json_check(t.path, &r, 18, DIM - 3), -1);
    expect_message("features of an older proact (hidden,entropy,maxprob,attn_front)");
    expect_message("fit it again with proact probe");
    proact_json_free(&r);
    temp_dir_remove(&t);
}

/* one malformed file each: -1, and one line that names the file and the field */
static void test_malformed_files(void **state) {
    (void)state;
    static const char *const tt = "\"template_tokens\": {\"prompt\": [1], \"src_end\": [2], \"tgt_begin\": [3], "
                                  "\"tgt_end\": [4]}";
    static const struct {
        const char *text; /* %s: the template_tokens member, when the case needs it */
        const char *needle;
    } cases[] = {
        {"{\"phi\": 0}", "field template_tokens (an object) is missing"},
        {"[1, 2]", "field template_tokens (an object) is missing"},
        {"{\"template_tokens\": {\"prompt\": [1], \"src_end\": [2], \"tgt_begin\": [3], \"tgt_end\": [-1]}}",
         "template_tokens.tgt_end[0] is not a token id"},
        {"{\"template_tokens\": {\"prompt\": [1], \"src_end\": 2, \"tgt_begin\": [3], \"tgt_end\": [4]}}",
         "template_tokens.src_end must be an array"},
        {"{\"template_tokens\": {\"prompt\": [1], \"src_end\": [2], \"tgt_begin\": [], \"tgt_end\": [4]}}",
         "template_tokens.tgt_begin and tgt_end must not be empty"},
        {"{%s, \"phi\": -1}", "field phi must be a non-negative integer"},
        {"{%s, \"src_lang\": 7}", "field src_lang must be a string"},
        {"{%s, \"default_head\": \"waitk:3 and a head spec far too long to be one: "
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
         "field default_head must be a string of fewer than 96 bytes"},
        {"{%s, \"probe\": [1]}", "field probe must be an object"},
        {"{%s, \"probe\": {\"weights\": [1], \"mean\": [0], \"scale\": [1]}}", "probe.bias must be a finite number"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [], \"mean\": [], \"scale\": []}}",
         "probe.weights must be an array of numbers, one per feature"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [1, 2], \"mean\": [0], \"scale\": [1, 1]}}",
         "probe.mean must be an array of 2 numbers (as many as probe.weights)"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [1, \"x\"], \"mean\": [0, 0], \"scale\": [1, 1]}}",
         "probe.weights[1] is not a finite number"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [1, 2], \"mean\": [0, 0], \"scale\": [1, 0]}}",
         "probe.scale[1] must be positive"},
        {"{%s, \"probe\": {\"bias\": 0, \"attn_window\": 0, \"weights\": [1], \"mean\": [0], \"scale\": [1]}}",
         "probe.attn_window must be at least 1"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [1], \"mean\": [0], \"scale\": [1], \"fit\": 3}}",
         "field probe.fit must be an object"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [1], \"mean\": [0], \"scale\": [1],"
         " \"fit\": {\"samples\": \"x\"}}}",
         "field probe.fit.samples must be an integer"},
        {"{%s, \"probe\": {\"bias\": 0, \"weights\": [1], \"mean\": [0], \"scale\": [1],"
         " \"fit\": {\"lambda\": \"x\"}}}",
         "field probe.fit.lambda must be a number"},
        {"{%s,\n \"phi\": }", ":2:"}, /* JSON syntax: file:line:column */
    };
    TempDir t;
    temp_dir(&t);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, cases[i].text, tt);
        write_text(t.path, text);
        ProactJson pj;
        if (proact_json_read(t.path, &pj) != -1) {
            print_error("case %zu (%s) was read without an error\n", i, text);
            fail();
        }
        expect_message(t.path);
        expect_message(cases[i].needle);
        assert_null(strchr(px_error_message(), '\n'));
    }
    ProactJson pj;
    unlink(t.path);
    assert_int_equal(proact_json_read(t.path, &pj), -1); /* no file */
    expect_message(t.path);
    expect_message("cannot open");
    temp_dir_remove(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_without_probe), cmocka_unit_test(test_round_trip_with_probe),
        cmocka_unit_test(test_set_probe_keeps_the_rest), cmocka_unit_test(test_check_against_the_model),
        cmocka_unit_test(test_malformed_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
