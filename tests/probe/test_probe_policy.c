/* test_probe_policy.c — on-policy probe points (src/probe/probe_policy.c) against an independent
 * recompute: for every point the runner collected, one model_forward over [source | the runner's
 * own target tokens] with each target row seeing the source it saw when it was fed (the decision
 * row: the source read at the decision) gives the student row, and one over the same tokens with
 * the whole source visible gives the teacher row. Features, labels (agree, p-teacher, kl) and the
 * band's lags must match; a head policy's points must sit at or above its floor. */
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
#include "src/probe/probe_policy.h"
#include "src/text/words.h"
#include "tests/support/stream_fixture.h"

static StreamFixture fx;

static int setup(void **state) {
    (void)state;
    return stream_fixture_init(&fx, 11, 2);
}

static int teardown(void **state) {
    (void)state;
    stream_fixture_free(&fx);
    return 0;
}

static int argmax(const float *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

static double lse(const float *z, int n) {
    double mx = z[argmax(z, n)], s = 0;
    for (int i = 0; i < n; i++) s += exp(z[i] - mx);
    return mx + log(s);
}

/* One sentence as a PairSet of one example (tokens and word ends from the tokenizer). */
typedef struct {
    IdVec st, se, tt, te;
    int64_t soff[2], toff[2], swo[2], two[2], xoff[2];
    PairSet ps;
} OnePair;

static void one_pair(OnePair *p, const char *src, const char *tgt) {
    memset(p, 0, sizeof *p);
    int n = tokenize_words(fx.tok, src, strlen(src), &p->st, &p->se);
    int m = tokenize_words(fx.tok, tgt, strlen(tgt), &p->tt, &p->te);
    assert_true(n > 0 && m > 0);
    p->soff[1] = (int64_t)p->st.n, p->toff[1] = (int64_t)p->tt.n, p->swo[1] = n, p->two[1] = m;
    p->xoff[1] = (int64_t)strlen(src);
    p->ps = (PairSet){.count = 1,
                      .src_tokens = p->st.ids,
                      .tgt_tokens = p->tt.ids,
                      .src_off = p->soff,
                      .tgt_off = p->toff,
                      .src_word_ends = p->se.ids,
                      .tgt_word_ends = p->te.ids,
                      .src_word_off = p->swo,
                      .tgt_word_off = p->two,
                      .src_text = (char *)src,
                      .src_text_off = p->xoff};
}

static void one_pair_free(OnePair *p) {
    idvec_free(&p->st);
    idvec_free(&p->se);
    idvec_free(&p->tt);
    idvec_free(&p->te);
}

/* model_forward over src_ids then tgt[0..rows]: target row k sees vis[k] source tokens. */
static void forward(const int *src, int ns, const int *tgt, const int *vis, int rows, Activations *a, PackedBatch *b) {
    packed_batch_free(b);
    memset(b, 0, sizeof *b);
    assert_int_equal(packed_batch_begin_sequence(b, ns + rows), 0);
    for (int t = 0; t < ns; t++) packed_batch_push_row(b, src[t], -1, t, 0, 0);
    for (int k = 0; k < rows; k++) packed_batch_push_row(b, tgt[k], -1, fx.fmt.phi + k, vis[k], ns);
    packed_batch_end_sequence(b);
    int ss[2] = {0, b->n_rows};
    AttnLayout lay = {.n_rows = b->n_rows,
                      .n_seqs = 1,
                      .seq_start = ss,
                      .pos = b->pos,
                      .vis_prefix = b->vis_prefix,
                      .blk_start = b->blk_start};
    assert_int_equal(model_forward(&fx.model, a, b->tokens, &lay), 0);
}

/* Collects one sentence under pol with each label and checks every point. Returns the points. */
static int check_sentence(const char *src, const char *tgt, ProbePolicy pol, int64_t index) {
    OnePair p;
    one_pair(&p, src, tgt);
    const int d = fx.model.cfg.hidden_size, V = fx.model.cfg.vocab_size, dim = probe_feature_dim(d);
    const int pn = fx.fmt.tp.prompt.n, n = (int)p.swo[1];
    ProbePoints pts[3] = {{0}};
    PolicyCollector pc;
    int n_pts = -1;
    for (int lab = 0; lab < 3; lab++) {
        pol.label = (ProbeLabel)lab;
        assert_int_equal(policy_collector_init(&pc, &fx.model, fx.tok, &fx.fmt, &pol), 0);
        assert_int_equal(probe_collect_on_policy(&pc, &p.ps, 0, index, &pts[lab]), 0);
        if (lab < 2) policy_collector_free(&pc);
    }
    /* the same points whatever the label; the features bit for bit */
    assert_int_equal(pts[0].n, pts[1].n);
    assert_int_equal(pts[0].n, pts[2].n);
    n_pts = (int)pts[0].n;
    assert_memory_equal(pts[0].x, pts[2].x, (size_t)n_pts * dim * sizeof(double));
    const int *tgt_ids, *tgt_vis, *src_ids;
    int n_tgt, n_src;
    runner_debug_rows(pc.runner, &tgt_ids, &tgt_vis, &n_tgt, &src_ids, &n_src);
    /* the runner read everything: its source is the PairSet's, wrapped in prompt and src_end */
    assert_int_equal(n_src, pn + (int)p.st.n + fx.fmt.tp.src_end.n);
    assert_memory_equal(src_ids + pn, p.st.ids, p.st.n * sizeof(int));
    int *vis = calloc((size_t)n_tgt + 1, sizeof *vis), *all = calloc((size_t)n_tgt + 1, sizeof *all);
    for (int k = 0; k < n_tgt; k++) all[k] = n_src;
    Activations as = {0}, at = {0};
    PackedBatch bs = {0}, bt = {0};
    forward(src_ids, n_src, tgt_ids, all, n_tgt, &at, &bt); /* the teacher: everything visible */
    for (int k = 0; k < n_pts; k++) {
        const double *x = pts[0].x + (size_t)k * dim;
        const int read = (int)x[d + PROBE_FEATURE_WORDS_READ], lag = (int)x[d + PROBE_FEATURE_LAG];
        const int row = pc.dec_row[k];
        assert_true(read >= 1 && read <= n);
        assert_true(lag >= (pol.head ? pol.head->min_lag : pol.min_lag));
        if (!pol.head) assert_true(lag <= pol.max_lag);
        /* the student: earlier rows as fed, the decision row with the source read at the decision */
        memcpy(vis, tgt_vis, (size_t)row * sizeof *vis);
        vis[row] = pn + p.se.ids[read - 1];
        forward(src_ids, n_src, tgt_ids, vis, row + 1, &as, &bs);
        const float *zs = as.logits + (size_t)(n_src + row) * V, *zt = at.logits + (size_t)(n_src + row) * V;
        for (int t = 0; t < d; t++) assert_true(fabs(x[t] - as.lnf[(size_t)(n_src + row) * d + t]) < 1e-4);
        const int teach = argmax(zt, V);
        const double agree = argmax(zs, V) == teach, ls = lse(zs, V), lt = lse(zt, V);
        double kl = 0;
        for (int i = 0; i < V; i++) kl += exp(zt[i] - lt) * ((zt[i] - lt) - (zs[i] - ls));
        assert_true(pts[0].y[k] == agree && pts[1].agree[k] == agree);
        assert_true(fabs(pts[1].y[k] - exp(zs[teach] - ls)) < 1e-4);
        assert_true(fabs(pts[2].y[k] - exp(-kl)) < 1e-4);
    }
    activations_free(&as);
    activations_free(&at);
    packed_batch_free(&bs);
    packed_batch_free(&bt);
    free(vis);
    free(all);
    policy_collector_free(&pc);
    for (int lab = 0; lab < 3; lab++) probe_points_free(&pts[lab]);
    one_pair_free(&p);
    return n_pts;
}

static const char *pairs[][2] = {
    {"In the beginning was the Word, and the Word was with God.",
     "En el principio era el Verbo, y el Verbo era con Dios."},
    {"He came unto his own, and his own received him not.", "A lo suyo vino, y los suyos no le recibieron."},
    {"And the light shineth in darkness", "La luz en las tinieblas resplandece"},
};

static void test_band_points_match_recompute(void **state) {
    (void)state;
    int total = 0;
    for (int i = 0; i < 3; i++)
        total += check_sentence(pairs[i][0], pairs[i][1],
                                (ProbePolicy){.min_lag = 1, .max_lag = 3, .seed = 7, .attn_window = 4}, i);
    assert_true(total > 20);
}

static void test_head_policy_respects_floor(void **state) {
    (void)state;
    HeadSpec h;
    assert_int_equal(head_parse("waitk:3/min-lag=2", &h), 0);
    int total = 0;
    for (int i = 0; i < 3; i++)
        total += check_sentence(pairs[i][0], pairs[i][1], (ProbePolicy){.head = &h, .seed = 7, .attn_window = 4}, i);
    assert_true(total > 10);
}

/* The band's lags depend on (seed, index) only: the same twice, and another seed moves them. */
static void test_band_is_seeded(void **state) {
    (void)state;
    OnePair p;
    one_pair(&p, pairs[0][0], pairs[0][1]);
    ProbePoints a = {0}, b = {0}, c = {0};
    ProbePolicy pol = {.min_lag = 1, .max_lag = 4, .seed = 3, .attn_window = 4};
    PolicyCollector pc;
    assert_int_equal(policy_collector_init(&pc, &fx.model, fx.tok, &fx.fmt, &pol), 0);
    assert_int_equal(probe_collect_on_policy(&pc, &p.ps, 0, 5, &a), 0);
    assert_int_equal(probe_collect_on_policy(&pc, &p.ps, 0, 5, &b), 0);
    assert_int_equal(probe_collect_on_policy(&pc, &p.ps, 0, 6, &c), 0);
    policy_collector_free(&pc);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.x, b.x, (size_t)a.n * a.dim * sizeof(double));
    int differ = a.n != c.n;
    for (int64_t k = 0; !differ && k < a.n; k++)
        differ = memcmp(a.x + k * a.dim, c.x + k * c.dim, (size_t)a.dim * 8) != 0;
    assert_true(differ);
    probe_points_free(&a);
    probe_points_free(&b);
    probe_points_free(&c);
    one_pair_free(&p);
}

static void test_bad_band(void **state) {
    (void)state;
    PolicyCollector pc;
    ProbePolicy pol = {.min_lag = 3, .max_lag = 2};
    assert_int_equal(policy_collector_init(&pc, &fx.model, fx.tok, &fx.fmt, &pol), -1);
    assert_non_null(strstr(px_error_message(), "band 3..2"));
    ProbeLabel l;
    assert_int_equal(probe_label_parse("p-teacher", &l), 0);
    assert_int_equal(l, PROBE_LABEL_P_TEACHER);
    assert_int_equal(probe_label_parse("argmax", &l), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_band_points_match_recompute),
        cmocka_unit_test(test_head_policy_respects_floor),
        cmocka_unit_test(test_band_is_seeded),
        cmocka_unit_test(test_bad_band),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
