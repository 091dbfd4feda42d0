/* test_kernels.c — each kernel's backward against central finite differences of its
 * forward, and each sgemm-based kernel against its plain-loop reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/rng.h"
#include "src/model/kernels.h"
#include "tests/support/attn_layouts.h"

static float *random_vec(Rng *r, size_t n, float scale) {
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) v[i] = (float)(rng_normal(r) * scale);
    return v;
}

/* ||a - b|| / ||b|| */
static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (double)(a[i] - b[i]) * (a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-30));
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* A streaming-shaped layout: seq 0 plain causal (5 rows); seq 1 = [source 4 | student 3 |
 * teacher 3] with student rows seeing a growing source prefix, teacher rows all of it. */
typedef struct {
    int seq_start[3], pos[15], vis[15], blk[15];
    AttnLayout lay;
} TestLayout;

static void make_layout(TestLayout *t) {
    int seq_start[3] = {0, 5, 15};
    memcpy(t->seq_start, seq_start, sizeof seq_start);
    for (int r = 0; r < 5; r++) t->pos[r] = r, t->vis[r] = 0, t->blk[r] = 0;
    int student_vis[3] = {1, 2, 4};
    for (int j = 0; j < 10; j++) {
        int r = 5 + j;
        if (j < 4) t->pos[r] = j, t->vis[r] = 0, t->blk[r] = 0;
        else if (j < 7) t->pos[r] = 3 + (j - 4), t->vis[r] = student_vis[j - 4], t->blk[r] = 4;
        else t->pos[r] = 3 + (j - 7), t->vis[r] = 4, t->blk[r] = 7;
    }
    t->lay = (AttnLayout){
        .n_rows = 15, .n_seqs = 2, .seq_start = t->seq_start, .pos = t->pos, .vis_prefix = t->vis, .blk_start = t->blk};
}

/* ------------------------------------------------------------------ attention */

enum { NH = 4, NKV = 2, HD = 8, QKV = (NH + 2 * NKV) * HD, QD = NH * HD };

static double attention_objective(const float *qkv, const AttnLayout *lay, const float *w, float *out, float *att) {
    attention_forward(out, att, qkv, lay, NH, NKV, HD);
    return dot(out, w, (size_t)lay->n_rows * QD);
}

static void test_attention_fast_matches_reference(void **state) {
    (void)state;
    TestLayout t;
    make_layout(&t);
    Rng r;
    rng_seed(&r, 1);
    const int N = t.lay.n_rows;
    size_t scores = attn_layout_score_elems(&t.lay) * NH;
    float *qkv = random_vec(&r, (size_t)N * QKV, 1.0f), *dout = random_vec(&r, (size_t)N * QD, 1.0f);
    float *out = calloc((size_t)N * QD, 4), *out_ref = calloc((size_t)N * QD, 4);
    float *att = calloc(scores, 4), *att_ref = calloc(scores, 4), *scratch = calloc(NH * 100, 4);
    float *dqkv = calloc((size_t)N * QKV, 4), *dqkv_ref = calloc((size_t)N * QKV, 4);
    attention_forward(out, att, qkv, &t.lay, NH, NKV, HD);
    attention_forward_ref(out_ref, att_ref, qkv, &t.lay, NH, NKV, HD);
    assert_true(rel_err(out, out_ref, (size_t)N * QD) < 1e-5);
    assert_true(rel_err(att, att_ref, scores) < 1e-5);
    attention_backward(dqkv, scratch, dout, qkv, att, &t.lay, NH, NKV, HD);
    attention_backward_ref(dqkv_ref, dout, qkv, att_ref, &t.lay, NH, NKV, HD);
    assert_true(rel_err(dqkv, dqkv_ref, (size_t)N * QKV) < 1e-5);
    free(qkv), free(dout), free(out), free(out_ref), free(att), free(att_ref), free(scratch), free(dqkv),
        free(dqkv_ref);
}

/* Hidden keys get exactly zero probability, visible ones a softmax that sums to 1. */
static void test_attention_respects_visibility(void **state) {
    (void)state;
    TestLayout t;
    make_layout(&t);
    Rng r;
    rng_seed(&r, 2);
    const int N = t.lay.n_rows;
    float *qkv = random_vec(&r, (size_t)N * QKV, 1.0f);
    float *out = calloc((size_t)N * QD, 4), *att = calloc(attn_layout_score_elems(&t.lay) * NH, 4);
    attention_forward(out, att, qkv, &t.lay, NH, NKV, HD);
    size_t off = 0;
    for (int s = 0; s < 2; s++) {
        int r0 = t.seq_start[s], L = t.seq_start[s + 1] - r0;
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < L; i++) {
                double sum = 0;
                for (int j = 0; j < L; j++) {
                    float p = att[off + ((size_t)h * L + i) * L + j];
                    if (attn_visible(&t.lay, r0 + i, i, j)) assert_true(p > 0.0f);
                    else assert_true(p == 0.0f);
                    sum += p;
                }
                assert_true(fabs(sum - 1.0) < 1e-5);
            }
        off += (size_t)NH * L * L;
    }
    /* student row 5+5 (second student token) sees source 0,1 and student 4,5 only */
    assert_true(attn_visible(&t.lay, 10, 5, 1) && !attn_visible(&t.lay, 10, 5, 2));
    assert_true(attn_visible(&t.lay, 10, 5, 4) && !attn_visible(&t.lay, 10, 5, 7));
    free(qkv), free(out), free(att);
}

static void test_attention_gradient_finite_difference(void **state) {
    (void)state;
    TestLayout t;
    make_layout(&t);
    Rng r;
    rng_seed(&r, 3);
    const int N = t.lay.n_rows;
    size_t nq = (size_t)N * QKV, no = (size_t)N * QD, scores = attn_layout_score_elems(&t.lay) * NH;
    float *qkv = random_vec(&r, nq, 1.0f), *w = random_vec(&r, no, 1.0f);
    float *out = calloc(no, 4), *att = calloc(scores, 4), *scratch = calloc(NH * 100, 4);
    float *dqkv = calloc(nq, 4), *numeric = calloc(nq, 4);
    attention_objective(qkv, &t.lay, w, out, att);
    attention_backward(dqkv, scratch, w, qkv, att, &t.lay, NH, NKV, HD);
    const float eps = 1e-2f;
    for (size_t i = 0; i < nq; i++) {
        float keep = qkv[i];
        qkv[i] = keep + eps;
        double up = attention_objective(qkv, &t.lay, w, out, att);
        qkv[i] = keep - eps;
        double down = attention_objective(qkv, &t.lay, w, out, att);
        qkv[i] = keep;
        numeric[i] = (float)((up - down) / (2 * eps));
    }
    double e = rel_err(dqkv, numeric, nq);
    print_message("attention: finite-difference relative error %.2e\n", e);
    assert_true(e < 1e-3);
    free(qkv), free(w), free(out), free(att), free(scratch), free(dqkv), free(numeric);
}

/* Layouts long enough to cross the kernel's row tiles, with one and two key ranges per tile and
 * rows that see keys after themselves: the same probabilities (exact zeros where hidden), outputs
 * and gradients as the row-by-row reference. */
static void test_attention_long_layouts_match_reference(void **state) {
    (void)state;
    static LongLayout l;
    for (int k = 0; k < N_LONG_LAYOUTS; k++) {
        long_layout(&l, k);
        assert_int_equal(attn_layout_validate(&l.lay), 0);
        Rng r;
        rng_seed(&r, 20 + k);
        const int N = l.lay.n_rows;
        int max_len = 0;
        for (int s = 0; s < l.n_seqs; s++)
            if (l.seq_start[s + 1] - l.seq_start[s] > max_len) max_len = l.seq_start[s + 1] - l.seq_start[s];
        size_t scores = attn_layout_score_elems(&l.lay) * NH, nq = (size_t)N * QKV, no = (size_t)N * QD;
        float *qkv = random_vec(&r, nq, 1.0f), *dout = random_vec(&r, no, 1.0f);
        float *out = calloc(no, 4), *out_ref = calloc(no, 4), *att = malloc(4 * scores), *att_ref = calloc(scores, 4);
        float *scratch = malloc(4 * (size_t)NH * max_len * max_len), *dqkv = calloc(nq, 4), *dqkv_ref = calloc(nq, 4);
        for (size_t i = 0; i < scores; i++) att[i] = NAN; /* whatever is not written shows */
        for (size_t i = 0; i < (size_t)NH * max_len * max_len; i++) scratch[i] = NAN;
        attention_forward(out, att, qkv, &l.lay, NH, NKV, HD);
        attention_forward_ref(out_ref, att_ref, qkv, &l.lay, NH, NKV, HD);
        attention_backward(dqkv, scratch, dout, qkv, att, &l.lay, NH, NKV, HD);
        attention_backward_ref(dqkv_ref, dout, qkv, att_ref, &l.lay, NH, NKV, HD);
        size_t off = 0;
        for (int s = 0; s < l.n_seqs; s++) {
            const int r0 = l.seq_start[s], L = l.seq_start[s + 1] - r0;
            for (size_t i = 0; i < (size_t)NH * L * L; i++) {
                const int t = (int)(i / L % L), j = (int)(i % L);
                if (!attn_visible(&l.lay, r0 + t, t, j)) assert_true(att[off + i] == 0.0f);
                else assert_true(att[off + i] > 0.0f);
            }
            off += (size_t)NH * L * L;
        }
        double eo = rel_err(out, out_ref, no), ea = rel_err(att, att_ref, scores), ed = rel_err(dqkv, dqkv_ref, nq);
        print_message("attention, %s: relative error out %.1e att %.1e dqkv %.1e\n", l.name, eo, ea, ed);
        assert_true(eo < 1e-5 && ea < 1e-5 && ed < 1e-5);
        free(qkv), free(dout), free(out), free(out_ref), free(att), free(att_ref), free(scratch), free(dqkv),
            free(dqkv_ref);
    }
}

/* ------------------------------------------------------------------ RoPE */

static void test_rope_gradient_and_inverse(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 4);
    enum { N = 6, H = 3, D = 8, STRIDE = 30 };
    int pos[N] = {0, 1, 5, 17, 100, 3};
    size_t n = (size_t)N * STRIDE;
    float *x = random_vec(&r, n, 1.0f), *w = random_vec(&r, n, 1.0f);
    float *y = malloc(4 * n), *g = malloc(4 * n), *numeric = calloc(n, 4);
    /* objective sum(w * rope(x)) over the rotated columns; its gradient is rope^T(w) */
    memcpy(g, w, 4 * n);
    rope_backward(g, pos, N, H, D, STRIDE, 10000.0f);
    const float eps = 1e-2f;
    for (int row = 0; row < N; row++)
        for (int c = 0; c < H * D; c++) {
            size_t i = (size_t)row * STRIDE + c;
            double f[2];
            for (int k = 0; k < 2; k++) {
                memcpy(y, x, 4 * n);
                y[i] += k ? -eps : eps;
                rope_forward(y, pos, N, H, D, STRIDE, 10000.0f);
                f[k] = 0;
                for (int rr = 0; rr < N; rr++)
                    for (int cc = 0; cc < H * D; cc++) f[k] += (double)y[rr * STRIDE + cc] * w[rr * STRIDE + cc];
            }
            numeric[i] = (float)((f[0] - f[1]) / (2 * eps));
        }
    for (int row = 0; row < N; row++) /* columns past H*D are not RoPE's: untouched */
        for (int c = H * D; c < STRIDE; c++) numeric[(size_t)row * STRIDE + c] = w[(size_t)row * STRIDE + c];
    double e = rel_err(g, numeric, n);
    print_message("rope: finite-difference relative error %.2e\n", e);
    assert_true(e < 1e-3);
    /* rotation then inverse rotation is the identity; position 0 is the identity */
    memcpy(y, x, 4 * n);
    rope_forward(y, pos, N, H, D, STRIDE, 10000.0f);
    assert_true(rel_err(y, x, STRIDE) < 1e-7); /* row 0 has pos 0 */
    assert_true(rel_err(y + STRIDE, x + STRIDE, STRIDE) > 1e-3);
    rope_backward(y, pos, N, H, D, STRIDE, 10000.0f);
    assert_true(rel_err(y, x, n) < 1e-6);
    free(x), free(w), free(y), free(g), free(numeric);
}

/* Hugging Face's rotate-half pairs x[k] with x[k + D/2]. */
static void test_rope_rotate_half_convention(void **state) {
    (void)state;
    float x[4] = {1, 0, 0, 0};
    int pos[1] = {1};
    rope_forward(x, pos, 1, 1, 4, 4, 10000.0f);
    /* k = 0: angle 1 rad; x[0] -> cos 1, x[2] -> sin 1 */
    assert_float_equal(x[0], cosf(1.0f), 1e-6);
    assert_float_equal(x[2], sinf(1.0f), 1e-6);
    assert_float_equal(x[1], 0.0f, 1e-7);
    assert_float_equal(x[3], 0.0f, 1e-7);
}

/* ------------------------------------------------------------------ RMSNorm */

static void test_rmsnorm_gradient_finite_difference(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 5);
    enum { N = 4, D = 16 };
    float *x = random_vec(&r, N * D, 1.0f), *wt = random_vec(&r, D, 1.0f), *w = random_vec(&r, N * D, 1.0f);
    float y[N * D], rstd[N], dx[N * D] = {0}, dw[D] = {0}, nx[N * D], nw[D];
    rmsnorm_forward(y, rstd, x, wt, N, D, 1e-5f);
    rmsnorm_backward(dx, dw, w, x, wt, rstd, N, D);
    const float eps = 1e-2f;
    for (int i = 0; i < N * D + D; i++) {
        float *p = i < N * D ? &x[i] : &wt[i - N * D];
        float keep = *p;
        double f[2];
        for (int k = 0; k < 2; k++) {
            *p = keep + (k ? -eps : eps);
            rmsnorm_forward(y, rstd, x, wt, N, D, 1e-5f);
            f[k] = dot(y, w, N * D);
        }
        *p = keep;
        (i < N * D ? nx : nw)[i < N * D ? i : i - N * D] = (float)((f[0] - f[1]) / (2 * eps));
    }
    double ex = rel_err(dx, nx, N * D), ew = rel_err(dw, nw, D);
    print_message("rmsnorm: finite-difference relative error dx %.2e dw %.2e\n", ex, ew);
    assert_true(ex < 1e-3 && ew < 1e-3);
    free(x), free(wt), free(w);
}

/* ------------------------------------------------------------------ SwiGLU, matmul */

static void test_swiglu_gradient_finite_difference(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 6);
    enum { N = 3, F = 10 };
    float *gu = random_vec(&r, N * 2 * F, 1.5f), *w = random_vec(&r, N * F, 1.0f);
    float h[N * F], dgu[N * 2 * F] = {0}, numeric[N * 2 * F];
    swiglu_backward(dgu, w, gu, N, F);
    const float eps = 1e-2f;
    for (int i = 0; i < N * 2 * F; i++) {
        float keep = gu[i];
        double f[2];
        for (int k = 0; k < 2; k++) {
            gu[i] = keep + (k ? -eps : eps);
            swiglu_forward(h, gu, N, F);
            f[k] = dot(h, w, N * F);
        }
        gu[i] = keep;
        numeric[i] = (float)((f[0] - f[1]) / (2 * eps));
    }
    assert_true(rel_err(dgu, numeric, N * 2 * F) < 1e-3);
    free(gu), free(w);
}

static void test_matmul_fast_matches_reference(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    enum { N = 13, IC = 24, OC = 19 };
    float *in = random_vec(&r, N * IC, 1.0f), *W = random_vec(&r, OC * IC, 1.0f), *b = random_vec(&r, OC, 1.0f);
    float *dout = random_vec(&r, N * OC, 1.0f);
    float out[N * OC], out_ref[N * OC];
    float din[N * IC] = {0}, din_ref[N * IC] = {0}, dW[OC * IC] = {0}, dW_ref[OC * IC] = {0};
    float db[OC] = {0}, db_ref[OC] = {0};
    matmul_forward(out, in, W, NULL, b, N, IC, OC);
    matmul_forward_ref(out_ref, in, W, b, N, IC, OC);
    assert_true(rel_err(out, out_ref, N * OC) < 1e-6);
    /* backward accumulates: run twice, expect twice the gradient */
    for (int k = 0; k < 2; k++) {
        matmul_backward(din, dW, db, dout, in, W, NULL, N, IC, OC);
        matmul_backward_ref(din_ref, dW_ref, db_ref, dout, in, W, N, IC, OC);
    }
    assert_true(rel_err(din, din_ref, N * IC) < 1e-6);
    assert_true(rel_err(dW, dW_ref, OC * IC) < 1e-6);
    assert_true(rel_err(db, db_ref, OC) < 1e-6);
    free(in), free(W), free(b), free(dout);
}

static void test_embedding_scatter_add(void **state) {
    (void)state;
    float embed[3 * 2] = {1, 2, 3, 4, 5, 6}, out[4 * 2], dembed[3 * 2] = {0};
    int tokens[4] = {2, 0, 2, 1};
    float dout[4 * 2] = {1, 1, 10, 10, 100, 100, 1000, 1000};
    embedding_forward(out, tokens, embed, 4, 2);
    assert_float_equal(out[0], 5, 0);
    assert_float_equal(out[3], 2, 0);
    embedding_backward(dembed, dout, tokens, 4, 2);
    assert_float_equal(dembed[4], 101, 0); /* token 2 appears twice */
    assert_float_equal(dembed[0], 10, 0);
    assert_float_equal(dembed[2], 1000, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_fast_matches_reference),
        cmocka_unit_test(test_attention_respects_visibility),
        cmocka_unit_test(test_attention_gradient_finite_difference),
        cmocka_unit_test(test_attention_long_layouts_match_reference),
        cmocka_unit_test(test_rope_gradient_and_inverse),
        cmocka_unit_test(test_rope_rotate_half_convention),
        cmocka_unit_test(test_rmsnorm_gradient_finite_difference),
        cmocka_unit_test(test_swiglu_gradient_finite_difference),
        cmocka_unit_test(test_matmul_fast_matches_reference),
        cmocka_unit_test(test_embedding_scatter_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
