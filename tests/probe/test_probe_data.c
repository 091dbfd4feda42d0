/* test_probe_data.c — the probe's features and self-labels (src/probe/probe_data.c) against the training
 * layout recomputed in one batch: for every decision point of a random read schedule, the student
 * features equal model_forward's student row of spsd_batch_add (hidden state, entropy, max
 * probability, attention mass on the newest w visible source tokens) and the label equals whether
 * the student row's argmax equals the teacher row's. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/tokenizer_json.h"
#include "src/base/common.h"
#include "src/probe/probe_data.h"
#include "src/text/template.h"
#include "src/text/words.h"
#include "src/train/schedule.h"
#include "tests/support/stream_fixture.h"

static StreamFixture fx; /* model, tokenizer, template tokens and stream format */

static int setup(void **state) {
    (void)state;
    if (stream_fixture_init(&fx, 11, 2)) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    stream_fixture_free(&fx);
    return 0;
}

static double rel_err(double a, double b) { return fabs(a - b) / (fabs(b) + 1e-3); }

static int argmax(const float *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* One example (source, target texts) with schedule g: every point against the batch recompute. */
static int check_example(const char *src, const char *tgt, const int *g, int window, int *ones) {
    IdVec st = {0}, se = {0}, tt_ = {0}, te = {0};
    int n = tokenize_words(fx.tok, src, strlen(src), &st, &se), m = tokenize_words(fx.tok, tgt, strlen(tgt), &tt_, &te);
    assert_true(n > 0 && m > 0);
    int64_t soff[2] = {0, (int64_t)st.n}, toff[2] = {0, (int64_t)tt_.n}, swo[2] = {0, n}, two[2] = {0, m};
    PairSet ps = {.first = 0,
                  .count = 1,
                  .src_tokens = st.ids,
                  .tgt_tokens = tt_.ids,
                  .src_off = soff,
                  .tgt_off = toff,
                  .src_word_ends = se.ids,
                  .tgt_word_ends = te.ids,
                  .src_word_off = swo,
                  .tgt_word_off = two};
    const int d = fx.model.cfg.hidden_size, V = fx.model.cfg.vocab_size, L = fx.model.cfg.n_layers,
              nh = fx.model.cfg.n_heads;
    double *feat = calloc((size_t)m * probe_feature_dim(d), sizeof(double)), *label = calloc((size_t)m, sizeof(double));
    ProbeCollector pc;
    int np = -1;
    assert_int_equal(probe_collector_init(&pc, &fx.model), 0);
    assert_int_equal(probe_collect_example(&pc, &fx.model, &fx.fmt, &ps, 0, g, window, feat, label, &np), 0);
    probe_collector_free(&pc);

    /* the batch: source | student copy | teacher copy */
    PackedBatch b = {0};
    SpsdRows rows;
    assert_int_equal(spsd_batch_add(&b, &ps, &fx.fmt.tp, 0, g, fx.fmt.phi, &rows), 0);
    int ss[2] = {0, b.n_rows};
    AttnLayout lay = {.n_rows = b.n_rows,
                      .n_seqs = 1,
                      .seq_start = ss,
                      .pos = b.pos,
                      .vis_prefix = b.vis_prefix,
                      .blk_start = b.blk_start};
    Activations a = {0};
    assert_int_equal(model_forward(&fx.model, &a, b.tokens, &lay), 0);
    const int tb = fx.fmt.tp.tgt_begin.n, N = b.n_rows;
    int k = 0;
    for (int j = 1; j <= m; j++) {
        if (g[j - 1] > n) continue;                         /* the source is finished: no decision */
        const int i = tb - 1 + (j > 1 ? te.ids[j - 2] : 0); /* the row before word j's first token */
        const int srow = rows.student_first + i, trow = rows.teacher_first + i;
        const float *z = a.logits + (size_t)srow * V;
        double mx = z[argmax(z, V)], sum = 0, sz = 0;
        for (int t = 0; t < V; t++) sum += exp(z[t] - mx), sz += exp(z[t] - mx) * (z[t] - mx);
        const double *f = feat + (size_t)k * probe_feature_dim(d);
        for (int t = 0; t < d; t++) assert_true(fabs(f[t] - a.lnf[(size_t)srow * d + t]) < 1e-4);
        assert_true(rel_err(f[d + PROBE_FEATURE_ENTROPY], log(sum) - sz / sum) < 1e-4);
        assert_true(rel_err(f[d + PROBE_FEATURE_MAXPROB], 1.0 / sum) < 1e-4);
        const int vis = b.vis_prefix[srow], from = vis > window ? vis - window : 0;
        double mass = 0;
        for (int l = 0; l < L; l++)
            for (int h = 0; h < nh; h++)
                for (int t = from; t < vis; t++) mass += a.att[l][((size_t)h * N + srow) * N + t];
        assert_true(fabs(f[d + PROBE_FEATURE_ATTN_FRONT] - mass / (L * nh)) < 1e-5);
        assert_true(vis < b.vis_prefix[trow]); /* the teacher row sees more */
        double want = argmax(z, V) == argmax(a.logits + (size_t)trow * V, V);
        assert_true(label[k] == want);
        *ones += want == 1;
        k++;
    }
    assert_int_equal(np, k);
    activations_free(&a);
    packed_batch_free(&b);
    free(feat);
    free(label);
    idvec_free(&st);
    idvec_free(&se);
    idvec_free(&tt_);
    idvec_free(&te);
    return k;
}

static void test_features_equal_training_layout(void **state) {
    (void)state;
    FILE *f = fopen(PROACT_SOURCE_DIR "/tests/data/fixture/john.en-es.test.tsv", "r");
    assert_non_null(f);
    char line[8192];
    int points = 0, ones = 0, examples = 0;
    Rng rng;
    rng_seed(&rng, 5);
    StreamConfig sc = {.kind = SCHEDULE_RANDOM, .k_min = 1, .k_max = 3, .mean_step = 1.0f};
    while (examples < 8 && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        tab[strcspn(tab + 1, "\r\n") + 1] = '\0';
        WordSpan *ws = NULL, *wt = NULL;
        int n = split_words(line, strlen(line), &ws), m = split_words(tab + 1, strlen(tab + 1), &wt);
        free(ws);
        free(wt);
        int *g = calloc((size_t)m, sizeof(int));
        schedule_sample(&sc, n, m, &rng, g);
        points += check_example(line, tab + 1, g, 1 + examples % 4, &ones);
        free(g);
        examples++;
    }
    fclose(f);
    /* both labels occur, and there were enough points to mean something */
    assert_true(points > 40);
    assert_true(ones > 0 && ones < points);
}

/* A schedule that is not monotone is refused before any work. */
static void test_bad_schedule(void **state) {
    (void)state;
    const char *src = "In the beginning was the Word", *tgt = "En el principio era el Verbo";
    IdVec st = {0}, se = {0}, tt_ = {0}, te = {0};
    int n = tokenize_words(fx.tok, src, strlen(src), &st, &se), m = tokenize_words(fx.tok, tgt, strlen(tgt), &tt_, &te);
    int64_t soff[2] = {0, (int64_t)st.n}, toff[2] = {0, (int64_t)tt_.n}, swo[2] = {0, n}, two[2] = {0, m};
    PairSet ps = {.count = 1,
                  .src_tokens = st.ids,
                  .tgt_tokens = tt_.ids,
                  .src_off = soff,
                  .tgt_off = toff,
                  .src_word_ends = se.ids,
                  .tgt_word_ends = te.ids,
                  .src_word_off = swo,
                  .tgt_word_off = two};
    int g[6] = {2, 1, 3, 4, 5, 6}, np = 0;
    double feat[6 * 67], label[6];
    ProbeCollector pc;
    assert_int_equal(probe_collector_init(&pc, &fx.model), 0);
    assert_int_equal(probe_collect_example(&pc, &fx.model, &fx.fmt, &ps, 0, g, 4, feat, label, &np), -1);
    assert_non_null(strstr(px_error_message(), "not monotone"));
    probe_collector_free(&pc);
    idvec_free(&st);
    idvec_free(&se);
    idvec_free(&tt_);
    idvec_free(&te);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_equal_training_layout),
        cmocka_unit_test(test_bad_schedule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
