/* test_pairs.c — how pairs become training sequences: only the target tokens and tgt_end are
 * predicted; packing keeps sequences apart; the sampler visits every example once per epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/text/template.h"
#include "src/train/pairs.h"

/* Two examples: (src 10 11 12 | tgt 20 21) and (src 13 | tgt 22 23 24). */
static int src_tokens[4] = {10, 11, 12, 13}, tgt_tokens[5] = {20, 21, 22, 23, 24};
static int64_t src_off[3] = {0, 3, 4}, tgt_off[3] = {0, 2, 5};
static int prompt[1] = {1}, src_end[1] = {2}, tgt_begin[1] = {3}, tgt_end[1] = {4};

static PairSet make_set(void) {
    PairSet s = {
        .count = 2, .src_tokens = src_tokens, .tgt_tokens = tgt_tokens, .src_off = src_off, .tgt_off = tgt_off};
    return s;
}
static TemplatePieces make_template(void) {
    TemplatePieces tp = {{prompt, 1, 0}, {src_end, 1, 0}, {tgt_begin, 1, 0}, {tgt_end, 1, 0}};
    return tp;
}

static void test_sequence_and_targets(void **state) {
    (void)state;
    PairSet s = make_set();
    TemplatePieces tp = make_template();
    PackedBatch b = {0};
    assert_int_equal(pair_batch_add(&b, &s, &tp, 0), 0);
    /* sequence: 1 10 11 12 2 3 20 21 4  (9 tokens -> 8 rows) */
    int want_tokens[8] = {1, 10, 11, 12, 2, 3, 20, 21};
    int want_targets[8] = {-1, -1, -1, -1, -1, 20, 21, 4}; /* predicted: target words and tgt_end only */
    assert_int_equal(b.n_rows, 8);
    assert_memory_equal(b.tokens, want_tokens, sizeof want_tokens);
    assert_memory_equal(b.targets, want_targets, sizeof want_targets);
    assert_int_equal(packed_batch_count_targets(&b), 3);
    assert_int_equal(pair_batch_add(&b, &s, &tp, 1), 0);
    const AttnLayout *lay = packed_batch_layout(&b);
    assert_int_equal(lay->n_seqs, 2);
    assert_int_equal(lay->seq_start[1], 8);
    assert_int_equal(lay->n_rows, 8 + 7); /* second sequence 1 13 2 3 22 23 24 4: 8 tokens, 7 rows */
    assert_int_equal(lay->pos[8], 0);     /* positions restart in each sequence */
    assert_int_equal(b.targets[8 + 3], 22);
    assert_int_equal(pair_set_max_token(&s, &tp), 24);
    packed_batch_free(&b);
}

static void test_sampler_epochs(void **state) {
    (void)state;
    PairSampler ps;
    assert_int_equal(pair_sampler_init(&ps, 10, 3), 0);
    int64_t first[10];
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[10] = {0};
        int64_t order[10];
        for (int i = 0; i < 10; i++) {
            order[i] = pair_sampler_next(&ps);
            seen[order[i]]++;
        }
        for (int i = 0; i < 10; i++) assert_int_equal(seen[i], 1);
        if (epoch == 0) memcpy(first, order, sizeof first);
        else assert_memory_not_equal(first, order, sizeof first); /* reshuffled */
    }
    pair_sampler_free(&ps);
    /* the same seed gives the same order */
    PairSampler a, c;
    pair_sampler_init(&a, 50, 9);
    pair_sampler_init(&c, 50, 9);
    for (int i = 0; i < 120; i++) assert_int_equal(pair_sampler_next(&a), pair_sampler_next(&c));
    pair_sampler_free(&a);
    pair_sampler_free(&c);
}

static void test_synthetic_copy(void **state) {
    (void)state;
    PackedBatch b = {0};
    Rng r;
    rng_seed(&r, 1);
    assert_int_equal(packed_batch_fill_synthetic(&b, "copy", 3, 9, 50, &r), 0);
    assert_int_equal(b.n_rows, 27);
    /* 10 tokens, half = 5: token t+5 repeats token t; row t predicts token t+1 */
    for (int s = 0; s < 3; s++)
        for (int t = 5; t < 9; t++) assert_int_equal(b.tokens[s * 9 + t], b.tokens[s * 9 + t - 5]);
    assert_int_equal(packed_batch_fill_synthetic(&b, "files", 1, 4, 50, &r), -1);
    packed_batch_free(&b);
}

static void test_guess_languages(void **state) {
    (void)state;
    char s[32], t[32];
    const char *cases[][3] = {
        {"john.en-es.train.tsv", "en", "es"},    {"data/libreoffice-en-de/train.tsv", "en", "de"},
        {"/x/ding-en-de/valid.tsv", "en", "de"}, {"runs/de-en_pairs.tsv", "de", "en"},
        {"a/b/train.tsv", "source", "target"},   {"state-of-art.tsv", "source", "target"}}; /* words, not codes */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        template_guess_languages(cases[i][0], s, t, sizeof s);
        assert_string_equal(s, cases[i][1]);
        assert_string_equal(t, cases[i][2]);
    }
}

static void test_rank_ranges_tile(void **state) {
    (void)state;
    for (int size = 1; size <= 7; size++) {
        int64_t next = 0;
        for (int r = 0; r < size; r++) {
            int64_t first, count;
            split_range(20, r, size, &first, &count);
            assert_int_equal(first, next);
            assert_true(count == 20 / size || count == 20 / size + 1);
            next = first + count;
        }
        assert_int_equal(next, 20);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_and_targets), cmocka_unit_test(test_sampler_epochs),
        cmocka_unit_test(test_synthetic_copy),       cmocka_unit_test(test_guess_languages),
        cmocka_unit_test(test_rank_ranges_tile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
