/* test_latency.c — AL, LAAL, AP, DAL and ATD against SimulEval's own values, to 1e-9:
 *   tests/data/metrics/latency.json (SimulEval's scorers; see its README), with the reference length
 *   (the default) and the hypothesis length;
 *   tests/data/metrics/simuleval/cases.json (SimulEval 1.1.4's scorer classes on its LogInstance,
 *   generate.py): the reference counted in words (split(" ")) and in characters (strip()), plain
 *   and computation-aware (elapsed as the delays), and ATD / ATD_CA. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "src/base/common.h"
#include "src/metrics/latency.h"

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_simuleval_cases(void **state) {
    (void)state;
    json_error_t err;
    json_t *cases = json_load_file(PROACT_SOURCE_DIR "/tests/data/metrics/latency.json", 0, &err);
    assert_non_null(cases);
    assert_true(json_array_size(cases) > 100);
    size_t i;
    json_t *c;
    int checked = 0;
    json_array_foreach(cases, i, c) {
        json_t *d = json_object_get(c, "delays");
        int n = (int)json_array_size(d);
        double *delays = malloc(sizeof(double) * (n ? n : 1));
        for (int k = 0; k < n; k++) delays[k] = json_number_value(json_array_get(d, k));
        LatencyScores ref, hyp;
        assert_int_equal(latency_scores(delays, n, num(c, "source_length"), num(c, "reference_length"), 1, &ref), 0);
        assert_int_equal(latency_scores(delays, n, num(c, "source_length"), num(c, "reference_length"), 0, &hyp), 0);
        const struct {
            const char *key;
            double got;
        } want[] = {{"AL", ref.AL},        {"LAAL", ref.LAAL},        {"AP", ref.AP},        {"DAL", ref.DAL},
                    {"AL_hyplen", hyp.AL}, {"LAAL_hyplen", hyp.LAAL}, {"AP_hyplen", hyp.AP}, {"DAL_hyplen", hyp.DAL}};
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
            double e = num(c, want[w].key);
            if (fabs(want[w].got - e) > 1e-9 * (1 + fabs(e)))
                fail_msg("case %zu %s: got %.12g, SimulEval %.12g", i, want[w].key, want[w].got, e);
            checked++;
        }
        free(delays);
    }
    assert_int_equal(checked, 8 * (int)json_array_size(cases));
    json_decref(cases);
}

static double *numbers(json_t *a, int *n) {
    *n = (int)json_array_size(a);
    double *x = malloc(sizeof(double) * (size_t)(*n ? *n : 1));
    for (int k = 0; k < *n; k++) x[k] = json_number_value(json_array_get(a, k));
    return x;
}

static void expect(double got, json_t *want, const char *key, size_t c, const char *mode) {
    double e = num(want, key);
    if (fabs(got - e) > 1e-9 * (1 + fabs(e)))
        fail_msg("case %zu %s %s: got %.15g, SimulEval %.15g", c, mode, key, got, e);
}

static void test_simuleval_units_ca_atd(void **state) {
    (void)state;
    json_error_t err;
    json_t *cases = json_load_file(PROACT_SOURCE_DIR "/tests/data/metrics/simuleval/cases.json", 0, &err);
    assert_non_null(cases);
    assert_int_equal(json_array_size(cases), 400);
    size_t c;
    json_t *x;
    int checked = 0;
    json_array_foreach(cases, c, x) {
        int n, ne;
        double *d = numbers(json_object_get(x, "delays"), &n), *e = numbers(json_object_get(x, "elapsed"), &ne);
        assert_int_equal(n, ne);
        const char *ref = json_string_value(json_object_get(x, "reference"));
        double src = num(x, "source_length");
        json_t *sim = json_object_get(x, "simuleval");
        for (int unit = LATENCY_UNIT_WORD; unit <= LATENCY_UNIT_CHAR; unit++) {
            const char *uname = latency_unit_name((LatencyUnit)unit);
            int ref_len = latency_reference_length(ref, (LatencyUnit)unit);
            if (ref_len != (int)num(json_object_get(x, "reference_length"), uname))
                fail_msg("case %zu: |Y| in %s is %d, SimulEval %g", c, uname, ref_len,
                         num(json_object_get(x, "reference_length"), uname));
            for (int ca = 0; ca <= 1; ca++)
                for (int use_ref = 1; use_ref >= 0; use_ref--) {
                    char mode[32];
                    snprintf(mode, sizeof mode, "%s%s%s", uname, ca ? "_ca" : "", use_ref ? "" : "_hyplen");
                    json_t *want = json_object_get(sim, mode);
                    assert_non_null(want);
                    LatencyScores s;
                    double atd;
                    assert_int_equal(latency_scores(ca ? e : d, n, src, ref_len, use_ref, &s), 0);
                    assert_int_equal(latency_atd(d, ca ? e : NULL, n, &atd), 0);
                    expect(s.AL, want, "AL", c, mode);
                    expect(s.LAAL, want, "LAAL", c, mode);
                    expect(s.AP, want, "AP", c, mode);
                    expect(s.DAL, want, "DAL", c, mode);
                    expect(atd, want, "ATD", c, mode);
                    checked += 5;
                }
        }
        free(d);
        free(e);
    }
    assert_int_equal(checked, 400 * 8 * 5);
    json_decref(cases);
}

static void test_reference_length_and_atd_by_hand(void **state) {
    (void)state;
    /* split(" "): a doubled space is an empty word, a tab joins; "" is one word */
    assert_int_equal(latency_reference_length("a  b\tc ", LATENCY_UNIT_WORD), 4);
    assert_int_equal(latency_reference_length("", LATENCY_UNIT_WORD), 1);
    assert_int_equal(latency_reference_length(NULL, LATENCY_UNIT_WORD), 1);
    /* strip() removes Unicode spaces at the ends (U+3000, U+00A0, newline), not inside */
    assert_int_equal(latency_reference_length("\xe3\x80\x80 \xe6\x97\xa5 \xe6\x9c\xac\xc2\xa0\n", LATENCY_UNIT_CHAR),
                     3);
    assert_int_equal(latency_reference_length("   ", LATENCY_UNIT_CHAR), 0);
    LatencyUnit u;
    assert_int_equal(latency_unit_parse("char", &u), 0);
    assert_int_equal(u, LATENCY_UNIT_CHAR);
    assert_int_equal(latency_unit_parse("spm", &u), -1);
    /* ATD of a text log, read as SimulEval reads a log (as speech: at most 300 units per source
     * token; target tokens take no time). Delays 2 2 4: source chunks of 2 and 2 words, one token
     * each, ending at 2 and 4; target chunks {1, 2} and {3}, the tokens ending at 2, 2, 4. Tokens 1
     * and 2 (chunk 1, one source token) both go to source token 1, token 3 to source token 2:
     * ATD = (0 + 0 + 0) / 3. With elapsed 2.5 3 4.5 each token also takes the increase of
     * elapsed - delay (0.5, 0.5, -1.0): the tokens end at 2.5, 3.0, max(4, 3) - 1 = 3.0, so
     * ATD_CA = (0.5 + 1.0 - 1.0) / 3. */
    double d[] = {2, 2, 4}, el[] = {2.5, 3, 4.5}, atd;
    assert_int_equal(latency_atd(d, NULL, 3, &atd), 0);
    assert_true(atd == 0);
    assert_int_equal(latency_atd(d, el, 3, &atd), 0);
    assert_true(fabs(atd - 1.0 / 3) < 1e-15);
    assert_int_equal(latency_atd(d, NULL, 0, &atd), -1);
}

static void test_hand_worked_and_errors(void **state) {
    (void)state;
    /* wait-3 on 5 source words, 5 target words (delays capped at |X|): AL = (3 + 3 + 3) / 3 */
    double d[] = {3, 4, 5, 5, 5};
    LatencyScores s;
    assert_int_equal(latency_scores(d, 5, 5, 5, 1, &s), 0);
    assert_true(fabs(s.AL - 3.0) < 1e-12);
    assert_true(fabs(s.AP - 22.0 / 25.0) < 1e-12);
    /* over-generation: 10 words against a 5-word reference; LAAL uses 10, AL uses 5 */
    double o[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    assert_int_equal(latency_scores(o, 10, 5, 5, 1, &s), 0);
    assert_true(s.LAAL > s.AL);
    assert_int_equal(latency_scores(d, 0, 5, 5, 1, &s), -1);
    assert_non_null(strstr(px_error_message(), "no delays"));
    assert_int_equal(latency_scores(d, 5, 0, 5, 1, &s), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simuleval_cases), cmocka_unit_test(test_simuleval_units_ca_atd),
        cmocka_unit_test(test_reference_length_and_atd_by_hand), cmocka_unit_test(test_hand_worked_and_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
