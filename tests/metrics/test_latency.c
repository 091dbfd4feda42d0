/* test_latency.c — AL, LAAL, AP and DAL against SimulEval's own values
 * (tests/data/metrics/latency.json, computed by SimulEval's scorers; see its README), with the
 * reference length (the default) and the hypothesis length, to 1e-9. */
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_simuleval_cases),
                                       cmocka_unit_test(test_hand_worked_and_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
