/* test_diagnose.c — the diagnostic's pieces (src/probe/diagnose.h): the AUC (ties count 1/2) and
 * the quantiles on hand-made values, the lag schedule, and diagnose_run on a random model where the
 * answers are known without recomputing the model: at the full lag the student is the teacher
 * (KL 0, agreement 1, equal losses), the rows and decision points are the counts the definitions
 * give, and the decode path agrees with the forward pass at every point. The exact values of a
 * trained model against the PyTorch twin: tests/jobs/test_diagnose.sh. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/probe/diagnose.h"
#include "src/text/words.h"
#include "src/train/schedule.h"
#include "tests/support/stream_fixture.h"

static void test_auc_hand_made(void **state) {
    (void)state;
    /* the textbook case: of the 4 (positive, negative) pairs, 3 are ordered right */
    const double s1[] = {0.1, 0.4, 0.35, 0.8};
    const unsigned char l1[] = {0, 0, 1, 1};
    assert_true(fabs(diag_auc(s1, l1, 4) - 0.75) < 1e-12);
    /* ties: pairs (1,1) and (2,2) count 1/2, (2,1) 1, (1,2) 0 -> 2/4 */
    const double s2[] = {1, 1, 2, 2};
    const unsigned char l2[] = {0, 1, 0, 1};
    assert_true(fabs(diag_auc(s2, l2, 4) - 0.5) < 1e-12);
    /* a tie across the classes inside a ranking: pos {3, 2}, neg {2, 1, 0}: 3 beats all three,
     * 2 ties one and beats two -> (3 + 2.5) / 6 */
    const double s3[] = {2, 0, 3, 1, 2};
    const unsigned char l3[] = {0, 0, 1, 0, 1};
    assert_true(fabs(diag_auc(s3, l3, 5) - 5.5 / 6) < 1e-12);
    /* all tied: chance; perfect and reversed orders */
    const double s4[] = {7, 7, 7, 7, 7};
    const unsigned char l4[] = {1, 0, 1, 0, 0};
    assert_true(fabs(diag_auc(s4, l4, 5) - 0.5) < 1e-12);
    const double s5[] = {1, 2, 3, 4};
    const unsigned char l5[] = {0, 0, 1, 1}, l5r[] = {1, 1, 0, 0};
    assert_true(diag_auc(s5, l5, 4) == 1.0);
    assert_true(diag_auc(s5, l5r, 4) == 0.0);
    /* undefined: one class empty, or a NaN score */
    const unsigned char ones[] = {1, 1, 1, 1};
    assert_true(isnan(diag_auc(s5, ones, 4)));
    const double s6[] = {1, NAN, 3, 4};
    assert_true(isnan(diag_auc(s6, l5, 4)));
}

static void test_quantiles_hand_made(void **state) {
    (void)state;
    /* sorted 1 2 3 4: position level * 3, linear in between (numpy's default) */
    const double x[] = {3, 1, 2, 4}, levels[] = {0, 0.25, 0.5, 0.9, 1};
    double q[5];
    assert_int_equal(diag_quantiles(x, 4, levels, 5, q), 0);
    const double want[] = {1, 1.75, 2.5, 3.7, 4};
    for (int i = 0; i < 5; i++) assert_true(fabs(q[i] - want[i]) < 1e-12);
    assert_true(x[0] == 3 && x[1] == 1); /* the input is not sorted in place */
    const double one[] = {5};
    assert_int_equal(diag_quantiles(one, 1, levels, 5, q), 0);
    for (int i = 0; i < 5; i++) assert_true(q[i] == 5);
    assert_int_equal(diag_quantiles(x, 0, levels, 2, q), 0);
    assert_true(isnan(q[0]) && isnan(q[1]));
}

static void test_lag_schedule(void **state) {
    (void)state;
    int g[6];
    const int lag0[] = {1, 1, 2, 3, 4, 4}, lag2[] = {2, 3, 4, 4, 4, 4}; /* n = 3: n+1 = 4 is everything */
    diag_lag_schedule(0, 3, 6, g);
    assert_memory_equal(g, lag0, sizeof lag0);
    diag_lag_schedule(2, 3, 6, g);
    assert_memory_equal(g, lag2, sizeof lag2);
    diag_lag_schedule(DIAG_LAG_FULL, 3, 6, g);
    for (int j = 0; j < 6; j++) assert_int_equal(g[j], 4);
    diag_lag_schedule(9, 3, 2, g);
    assert_true(g[0] == 4 && g[1] == 4);
}

/* ---- diagnose_run on the random fixture model ------------------------------------------------ */

static StreamFixture fx;

static int setup(void **state) {
    (void)state;
    return stream_fixture_init(&fx, 23, 1);
}

static int teardown(void **state) {
    (void)state;
    stream_fixture_free(&fx);
    return 0;
}

/* The first n_ex pairs of the fixture's test file as one PairSet (tokenized word by word). */
static void load_pairs(int n_ex, PairSet *ps, IdVec v[4]) {
    FILE *f = fopen(PROACT_SOURCE_DIR "/tests/data/fixture/john.en-es.test.tsv", "r");
    assert_non_null(f);
    memset(ps, 0, sizeof *ps);
    memset(v, 0, 4 * sizeof *v);
    ps->count = n_ex;
    ps->src_off = calloc((size_t)n_ex + 1, sizeof(int64_t));
    ps->tgt_off = calloc((size_t)n_ex + 1, sizeof(int64_t));
    ps->src_word_off = calloc((size_t)n_ex + 1, sizeof(int64_t));
    ps->tgt_word_off = calloc((size_t)n_ex + 1, sizeof(int64_t));
    char line[8192];
    for (int e = 0; e < n_ex; e++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        tab[strcspn(tab + 1, "\r\n") + 1] = '\0';
        const char *text[2] = {line, tab + 1};
        for (int side = 0; side < 2; side++) {
            IdVec ids = {0}, ends = {0};
            int words = tokenize_words(fx.tok, text[side], strlen(text[side]), &ids, &ends);
            assert_true(words > 0);
            for (int i = 0; i < ids.n; i++) assert_int_equal(idvec_push(&v[2 * side], ids.ids[i]), 0);
            for (int i = 0; i < ends.n; i++) assert_int_equal(idvec_push(&v[2 * side + 1], ends.ids[i]), 0);
            int64_t *off = side ? ps->tgt_off : ps->src_off, *woff = side ? ps->tgt_word_off : ps->src_word_off;
            off[e + 1] = (int64_t)v[2 * side].n;
            woff[e + 1] = (int64_t)v[2 * side + 1].n;
            idvec_free(&ids);
            idvec_free(&ends);
        }
    }
    fclose(f);
    ps->src_tokens = v[0].ids;
    ps->src_word_ends = v[1].ids;
    ps->tgt_tokens = v[2].ids;
    ps->tgt_word_ends = v[3].ids;
}

static void free_pairs(PairSet *ps, IdVec v[4]) {
    free(ps->src_off);
    free(ps->tgt_off);
    free(ps->src_word_off);
    free(ps->tgt_word_off);
    for (int i = 0; i < 4; i++) idvec_free(&v[i]);
}

static void test_run_known_answers(void **state) {
    (void)state;
    PairSet ps;
    IdVec v[4];
    load_pairs(5, &ps, v);
    const int lags[] = {0, 1, 2, 3, DIAG_LAG_FULL};
    DiagOptions o = {
        .lags = lags, .n_lags = 5, .cue_lag_min = 1, .cue_lag_max = 3, .attn_window = 3, .batch_rows = 150};
    DiagResult r;
    assert_int_equal(diagnose_run(&fx.model, &fx.fmt, &ps, &o, &r), 0);
    /* rows: every target token of every example, at every lag */
    int64_t tokens = ps.tgt_off[ps.count], points = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r.lag[i].lag, lags[i]);
        assert_int_equal(r.lag[i].rows, tokens);
        assert_true(r.lag[i].kl >= -1e-9 && r.lag[i].agreement >= 0 && r.lag[i].agreement <= 1);
        assert_true(fabs(r.lag[i].teacher_loss - r.lag[0].teacher_loss) <
                    1e-5); /* the teacher does not depend on the lag */
    }
    const DiagLag *full = &r.lag[4];
    assert_true(fabs(full->kl) < 1e-6 && full->agreement == 1.0);
    assert_true(fabs(full->student_loss - full->teacher_loss) < 1e-5);
    assert_true(r.lag[0].kl > 1e-3 && r.lag[0].agreement < 1); /* a random model: wait-0 is not the teacher */
    /* decision points: word j with L + j - 1 <= n, for each cue lag */
    for (int lag = 1; lag <= 3; lag++)
        for (int64_t e = 0; e < ps.count; e++)
            points += PX_MAX(0, PX_MIN(pair_tgt_words(&ps, e), pair_src_words(&ps, e) - lag + 1));
    assert_int_equal(r.n_points, points);
    for (int64_t i = 1; i < r.n_points; i++) assert_true(r.point_lag[i] >= r.point_lag[i - 1]);
    assert_true(r.attn_front_max_diff < 1e-5);
    assert_int_equal(r.label_mismatches, 0);
    for (int64_t i = 0; i < r.n_points; i++) {
        assert_true(r.window_keys[i * DIAG_WINDOWS + DIAG_WIN_TOKENS] == PX_MIN(3, r.source_keys[i]));
        assert_true(r.window_keys[i * DIAG_WINDOWS + DIAG_WIN_WORD] >= 1);
        assert_true(r.source_keys[i] >= r.window_keys[i * DIAG_WINDOWS + DIAG_WIN_WORD]);
        assert_true(r.entropy[i] > 0 && r.maxprob[i] > 0 && r.maxprob[i] <= 1);
    }
    assert_null(r.probe);
    double auc[DIAG_CUES];
    assert_int_equal(diag_cue_aucs(&r, 0, r.n_points, auc), 0);
    assert_true(isnan(auc[DIAG_CUE_PROBE]));
    DiagAttnVariant *var = NULL;
    int nv = 0;
    assert_int_equal(diag_attn_variants(&r, &var, &nv), 0);
    assert_int_equal(nv, (2 * (4 + 1) + 1) * 4);
    assert_true(var[0].layer == -1 && var[0].head == -1 && var[0].window == DIAG_WIN_TOKENS && !var[0].normalized);
    assert_true(var[4].layer == 0 && var[4].head == -1 && var[8].layer == 0 && var[8].head == 0);
    free(var);
    diag_result_free(&r);

    /* bad options: one error each, before any work */
    const int dup[] = {1, 1};
    DiagOptions bad = o;
    bad.lags = dup;
    bad.n_lags = 2;
    bad.cue_lag_max = 0;
    assert_int_equal(diagnose_run(&fx.model, &fx.fmt, &ps, &bad, &r), -1);
    assert_non_null(strstr(px_error_message(), "twice"));
    bad = o;
    bad.cue_lag_max = 4; /* lag 4 is not in the table */
    assert_int_equal(diagnose_run(&fx.model, &fx.fmt, &ps, &bad, &r), -1);
    assert_non_null(strstr(px_error_message(), "cue lag 4"));
    free_pairs(&ps, v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_hand_made),
        cmocka_unit_test(test_quantiles_hand_made),
        cmocka_unit_test(test_lag_schedule),
        cmocka_unit_test(test_run_known_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
