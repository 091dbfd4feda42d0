/* test_ter.c — TER against sacreBLEU 2.6.0 (tests/data/metrics/sacrebleu/expected.json, made by
 * generate.py there from sacreBLEU's own code): corpus TER of every set, case-insensitive (the
 * default) and case-sensitive, one or several references (fewest edits, mean reference length):
 * score and reference length to 1e-9, edit count exact, signature exact; and the edits of every
 * line of the small sets (lib_ter's translation_edit_rate), which exercise shifts, the widened
 * beam, the shift distance limit and the 1000-candidate limit. Also cases worked by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/metrics/ter.h"
#include "tests/metrics/sacre_vectors.h"

static void test_sacrebleu_sets(void **state) {
    (void)state;
    json_t *root = sacre_load();
    const char *name;
    json_t *v;
    int n = 0, n_lines = 0;
    json_object_foreach(json_object_get(root, "sets"), name, v) {
        SacreSet s;
        sacre_set_open(&s, name, v);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(v, "ter"), i, e) {
            int cs = sacre_bool(e, "case_sensitive");
            TerResult r;
            assert_int_equal(corpus_ter((const char *const *)s.hyp.lines, s.ref_streams, s.nrefs, s.hyp.n, cs, &r), 0);
            double want = sacre_num(e, "score");
            if (fabs(r.score - want) > 1e-9 || r.edits != (int64_t)sacre_num(e, "num_edits") ||
                fabs(r.ref_length - sacre_num(e, "ref_length")) > 1e-9)
                fail_msg("%s case_sensitive=%d: TER %.15f (%lld edits / %.6f), sacreBLEU %.15f (%lld / %.6f)", name, cs,
                         r.score, (long long)r.edits, r.ref_length, want, (long long)sacre_num(e, "num_edits"),
                         sacre_num(e, "ref_length"));
            char sig[160];
            ter_signature(s.nrefs, cs, sig, sizeof sig);
            assert_string_equal(sig, json_string_value(json_object_get(e, "signature")));
            n++;
        }
        json_array_foreach(json_object_get(v, "ter_lines"), i, e) { /* [edits, ref words] vs the first reference */
            const char *h[] = {s.hyp.lines[i]}, *r[] = {s.refs[0].lines[i]};
            const char *const *refs[] = {r};
            TerResult t;
            assert_int_equal(corpus_ter(h, refs, 1, 1, 0, &t), 0);
            int64_t want_edits = json_integer_value(json_array_get(e, 0));
            double want_len = (double)json_integer_value(json_array_get(e, 1));
            if (t.edits != want_edits || t.ref_length != want_len)
                fail_msg("%s line %zu: %lld edits / %g words, sacreBLEU %lld / %g", name, i + 1, (long long)t.edits,
                         t.ref_length, (long long)want_edits, want_len);
            n_lines++;
        }
        sacre_set_close(&s);
    }
    assert_int_equal(n, 7 * 2);
    assert_int_equal(n_lines, 10 + 10 + 10 + 7);
    json_decref(root);
}

/* Edits of word-id sequences. */
static int64_t edits(const uint32_t *h, int nh, const uint32_t *r, int nr) {
    int64_t e;
    assert_int_equal(ter_edits(h, nh, r, nr, &e), 0);
    return e;
}

static void test_by_hand(void **state) {
    (void)state;
    const uint32_t a[] = {1, 2, 3, 4, 5, 6}, moved[] = {4, 5, 6, 1, 2, 3}, sub[] = {1, 2, 9, 4, 5, 6};
    assert_int_equal(edits(a, 6, a, 6), 0);
    assert_int_equal(edits(sub, 6, a, 6), 1);   /* one substitution */
    assert_int_equal(edits(moved, 6, a, 6), 1); /* one block shift instead of 6 edits */
    assert_int_equal(edits(a, 0, a, 6), 6);     /* empty hypothesis: every reference word inserted */
    assert_int_equal(edits(a, 6, a, 0), 6);     /* empty reference: every hypothesis word */
    /* corpus: 100 x edits / reference words; an empty reference with a non-empty hypothesis is 100 */
    const char *h[] = {"A b c", "x"}, *r[] = {"a b d", ""};
    const char *const *refs[] = {r};
    TerResult t;
    assert_int_equal(corpus_ter(h, refs, 1, 2, 0, &t), 0);
    assert_true(t.edits == 2 && t.ref_length == 3.0 && fabs(t.score - 200.0 / 3.0) < 1e-12);
    assert_int_equal(corpus_ter(h, refs, 1, 2, 1, &t), 0); /* case-sensitive: "A" != "a" */
    assert_true(t.edits == 3);
    const char *h2[] = {"x"}, *r2[] = {""};
    const char *const *refs2[] = {r2};
    assert_int_equal(corpus_ter(h2, refs2, 1, 1, 0, &t), 0);
    assert_true(t.edits == 1 && t.ref_length == 0.0 && t.score == 100.0);
    char sig[160];
    ter_signature(2, 0, sig, sizeof sig);
    assert_string_equal(sig, "nrefs:2|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sacrebleu_sets),
        cmocka_unit_test(test_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
