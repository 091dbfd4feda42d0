/* test_chrf.c — chrF and chrF++ against sacreBLEU 2.6.0 (tests/data/metrics/sacrebleu/expected.json,
 * made by generate.py there from sacreBLEU's own code): every set, word order 0 and 2, mixed case
 * and lowercased, one or several references (each segment takes its best reference); scores to
 * 1e-9, names and signatures exact. Also a best-reference case by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/metrics/chrf.h"
#include "tests/metrics/sacre_vectors.h"

static void test_sacrebleu_sets(void **state) {
    (void)state;
    json_t *root = sacre_load();
    const char *name;
    json_t *v;
    int n = 0;
    json_object_foreach(json_object_get(root, "sets"), name, v) {
        SacreSet s;
        sacre_set_open(&s, name, v);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(v, "chrf"), i, e) {
            int wo = (int)sacre_num(e, "word_order"), lc = sacre_bool(e, "lowercase");
            double got, want = sacre_num(e, "score");
            assert_int_equal(
                corpus_chrf_refs((const char *const *)s.hyp.lines, s.ref_streams, s.nrefs, s.hyp.n, wo, lc, &got), 0);
            if (fabs(got - want) > 1e-9)
                fail_msg("%s word_order=%d lc=%d: chrF %.15f, sacreBLEU %.15f", name, wo, lc, got, want);
            char buf[160];
            chrf_name(wo, buf, sizeof buf);
            assert_string_equal(buf, json_string_value(json_object_get(e, "name")));
            chrf_signature(s.nrefs, wo, lc, buf, sizeof buf);
            assert_string_equal(buf, json_string_value(json_object_get(e, "signature")));
            n++;
        }
        sacre_set_close(&s);
    }
    assert_int_equal(n, 7 * 4);
    json_decref(root);
}

/* The segment's statistics come from its best reference, not from all references pooled. */
static void test_best_reference(void **state) {
    (void)state;
    const char *h[] = {"abcdef", "xyz"};
    const char *r1[] = {"abcdef", "qqq"}, *r2[] = {"zzz", "xyz"};
    const char *const *refs[] = {r1, r2};
    double both, same;
    assert_int_equal(corpus_chrf_refs(h, refs, 2, 2, 0, 0, &both), 0);
    const char *const *exact[] = {h};
    assert_int_equal(corpus_chrf_refs(h, exact, 1, 2, 0, 0, &same), 0);
    assert_true(fabs(both - 100.0) < 1e-12 && fabs(same - 100.0) < 1e-12);
    const char *up[] = {"ABCDEF", "XYZ"};
    assert_int_equal(corpus_chrf_refs(up, refs, 2, 2, 0, 1, &both), 0); /* --chrf-lowercase */
    assert_true(fabs(both - 100.0) < 1e-12);
    assert_int_equal(corpus_chrf_refs(up, refs, 2, 2, 0, 0, &both), 0);
    assert_true(both == 0.0);
    assert_int_equal(corpus_chrf_refs(h, refs, 2, 2, 9, 0, &both), -1); /* word order > 8 */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sacrebleu_sets),
        cmocka_unit_test(test_best_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
