/* test_parallel.c — the threaded kernels, losses and AdamW give the same bits at 1, 2 and 3 threads
 * (3: splits that do not divide the sizes) and the same bits as the serial code they replaced:
 * kernels_ref.c for the kernels, and below, verbatim, the loss and AdamW loops as they were. The
 * sizes are odd and large enough that every loop really runs on threads (PAR_MIN_WORK). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/rng.h"
#include "src/model/kernels.h"
#include "src/model/loss.h"
#include "src/model/optim.h"
#include "src/model/parallel.h"
#include "tests/support/attn_layouts.h"

static const int thread_counts[] = {1, 2, 3};
enum { N_COUNTS = 3 };

static float *random_vec(Rng *r, size_t n, float scale) {
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) v[i] = (float)(rng_normal(r) * scale);
    return v;
}

static float *copy_of(const float *x, size_t n) {
    float *y = malloc(sizeof(float) * n);
    memcpy(y, x, sizeof(float) * n);
    return y;
}

/* Bitwise equality, with the first differing index in the failure message. */
static void assert_same_bits(const float *a, const float *b, size_t n, const char *what, int threads) {
    if (memcmp(a, b, sizeof(float) * n) == 0) return;
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float))) {
            print_error("%s at %d threads: element %zu is %.9g, expected %.9g\n", what, threads, i, a[i], b[i]);
            break;
        }
    fail();
}

static void test_threads_really_split(void **state) {
    (void)state;
    parallel_set_threads(3);
    assert_int_equal(par_threads(), 3);
    assert_true(par_worth(PAR_MIN_WORK));
    assert_false(par_worth(PAR_MIN_WORK - 1)); /* decoding's one row stays on the calling thread */
    int seen = 0;
#pragma omp parallel if (par_worth(PAR_MIN_WORK)) num_threads(par_threads())
    {
#pragma omp atomic
        seen++;
    }
    assert_int_equal(seen, 3);
    /* par_share covers 0..n exactly, in order, in blocks of `align` */
    size_t lo[3], hi[3];
#pragma omp parallel num_threads(3)
    par_share(1000, 16, &lo[omp_get_thread_num()], &hi[omp_get_thread_num()]);
    assert_int_equal(lo[0], 0);
    assert_int_equal(hi[0], lo[1]);
    assert_int_equal(hi[1], lo[2]);
    assert_int_equal(hi[2], 1000);
    assert_int_equal(lo[1] % 16, 0);
    parallel_set_threads(1);
    assert_false(par_worth(1u << 30));
    parallel_set_threads(0);
}

/* ------------------------------------------------------------------ elementwise kernels */

enum { N = 77, D = 517, F = 431, VOCAB = 7 };

static void test_embedding_rmsnorm_swiglu_rope(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 11);
    int tokens[N], pos[N];
    for (int n = 0; n < N; n++) tokens[n] = (int)rng_below(&r, VOCAB), pos[n] = (int)rng_below(&r, 3000);
    const size_t nd = (size_t)N * D, nf = (size_t)N * F;
    float *embed = random_vec(&r, (size_t)VOCAB * D, 1.0f), *x = random_vec(&r, nd, 1.0f);
    float *x2 = random_vec(&r, nd, 1.0f), *w = random_vec(&r, D, 1.0f), *dy = random_vec(&r, nd, 1.0f);
    float *gu = random_vec(&r, 2 * nf, 2.0f), *dh = random_vec(&r, nf, 1.0f);
    float *dembed0 = random_vec(&r, (size_t)VOCAB * D, 1.0f), *dx0 = random_vec(&r, nd, 1.0f);
    float *dw0 = random_vec(&r, D, 1.0f), *dgu0 = random_vec(&r, 2 * nf, 1.0f);
    /* the serial references */
    float *e_ref = malloc(4 * nd), *de_ref = copy_of(dembed0, (size_t)VOCAB * D);
    float *y_ref = malloc(4 * nd), *rstd_ref = malloc(4 * N), *sum_ref = copy_of(x, nd);
    float *dx_ref = copy_of(dx0, nd), *dw_ref = copy_of(dw0, D), *h_ref = malloc(4 * nf);
    float *dgu_ref = copy_of(dgu0, 2 * nf), *rope_ref = copy_of(x, nd), *ropeb_ref = copy_of(x, nd);
    embedding_forward_ref(e_ref, tokens, embed, N, D);
    embedding_backward_ref(de_ref, x, tokens, N, D);
    for (size_t i = 0; i < nd; i++) sum_ref[i] += x2[i]; /* model.c's residual loop, as it was */
    rmsnorm_forward_ref(y_ref, rstd_ref, sum_ref, w, N, D, 1e-5f);
    rmsnorm_backward_ref(dx_ref, dw_ref, dy, sum_ref, w, rstd_ref, N, D);
    swiglu_forward_ref(h_ref, gu, N, F);
    swiglu_backward_ref(dgu_ref, dh, gu, N, F);
    /* 11 heads of 46 in rows of 517: the last columns are not RoPE's */
    rope_forward_ref(rope_ref, pos, N, 11, 46, D, 10000.0f);
    rope_backward_ref(ropeb_ref, pos, N, 11, 46, D, 500000.0f);

    float *e = malloc(4 * nd), *y = malloc(4 * nd), *rstd = malloc(4 * N), *h = malloc(4 * nf);
    for (int c = 0; c < N_COUNTS; c++) {
        const int t = thread_counts[c];
        parallel_set_threads(t);
        embedding_forward(e, tokens, embed, N, D);
        assert_same_bits(e, e_ref, nd, "embedding_forward", t);
        float *de = copy_of(dembed0, (size_t)VOCAB * D);
        embedding_backward(de, x, tokens, N, D); /* 77 rows into 7 token rows: many repeats */
        assert_same_bits(de, de_ref, (size_t)VOCAB * D, "embedding_backward", t);
        float *sum = copy_of(x, nd);
        residual_rmsnorm_forward(sum, y, rstd, x2, w, N, D, 1e-5f);
        assert_same_bits(sum, sum_ref, nd, "residual_rmsnorm_forward (sum)", t);
        assert_same_bits(y, y_ref, nd, "residual_rmsnorm_forward (norm)", t);
        assert_same_bits(rstd, rstd_ref, N, "residual_rmsnorm_forward (rstd)", t);
        rmsnorm_forward(y, rstd, sum_ref, w, N, D, 1e-5f);
        assert_same_bits(y, y_ref, nd, "rmsnorm_forward", t);
        float *dx = copy_of(dx0, nd), *dw = copy_of(dw0, D);
        rmsnorm_backward(dx, dw, dy, sum_ref, w, rstd_ref, N, D);
        assert_same_bits(dx, dx_ref, nd, "rmsnorm_backward (dx)", t);
        assert_same_bits(dw, dw_ref, D, "rmsnorm_backward (dw)", t);
        swiglu_forward(h, gu, N, F);
        assert_same_bits(h, h_ref, nf, "swiglu_forward", t);
        float *dgu = copy_of(dgu0, 2 * nf);
        swiglu_backward(dgu, dh, gu, N, F);
        assert_same_bits(dgu, dgu_ref, 2 * nf, "swiglu_backward", t);
        float *ro = copy_of(x, nd), *rb = copy_of(x, nd);
        rope_forward(ro, pos, N, 11, 46, D, 10000.0f);
        rope_backward(rb, pos, N, 11, 46, D, 500000.0f);
        assert_same_bits(ro, rope_ref, nd, "rope_forward", t);
        assert_same_bits(rb, ropeb_ref, nd, "rope_backward", t);
        free(de), free(sum), free(dx), free(dw), free(dgu), free(ro), free(rb);
    }
    /* one row (decoding) takes the serial path and must agree too */
    parallel_set_threads(2);
    rmsnorm_forward(y, rstd, sum_ref + (size_t)5 * D, w, 1, D, 1e-5f);
    assert_same_bits(y, y_ref + (size_t)5 * D, D, "rmsnorm_forward, one row", 2);
    parallel_set_threads(0);
    free(embed), free(x), free(x2), free(w), free(dy), free(gu), free(dh), free(dembed0), free(dx0), free(dw0);
    free(dgu0), free(e_ref), free(de_ref), free(y_ref), free(rstd_ref), free(sum_ref), free(dx_ref), free(dw_ref);
    free(h_ref), free(dgu_ref), free(rope_ref), free(ropeb_ref), free(e), free(y), free(rstd), free(h);
}

/* ------------------------------------------------------------------ losses, as they were */

static double log_sum_exp_serial(const float *z, int V, float *mx) {
    float m = z[0];
    for (int j = 1; j < V; j++) m = z[j] > m ? z[j] : m;
    double s = 0.0;
    for (int j = 0; j < V; j++) s += expf(z[j] - m);
    *mx = m;
    return m + log(s);
}

static double cross_entropy_forward_backward_serial(float *logits, const int *targets, int n_rows, int vocab,
                                                    float scale, int *count) {
    double total = 0.0;
    int counted = 0;
    for (int n = 0; n < n_rows; n++) {
        float *z = logits + (size_t)n * vocab;
        if (targets[n] < 0) {
            for (int j = 0; j < vocab; j++) z[j] = 0.0f;
            continue;
        }
        float mx;
        double lse = log_sum_exp_serial(z, vocab, &mx);
        total += lse - z[targets[n]];
        counted++;
        const float lse_f = (float)lse;
        for (int j = 0; j < vocab; j++) z[j] = expf(z[j] - lse_f) * scale;
        z[targets[n]] -= scale;
    }
    if (count) *count = counted;
    return total;
}

static double softmax_tau_serial(const float *z, int V, float tau, float *p) {
    float mx = z[0];
    for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0.0;
    for (int j = 0; j < V; j++) {
        p[j] = expf((z[j] - mx) / tau);
        s += p[j];
    }
    float inv = (float)(1.0 / s);
    for (int j = 0; j < V; j++) p[j] *= inv;
    return mx / tau + log(s);
}

static void spsd_loss_serial(float *logits, const int *targets, int n_rows, int vocab, const int *student_first,
                             const int *teacher_first, const int *n_copy_rows, int n_examples, float alpha,
                             float lambda, float tau, float scale, SpsdLoss *out) {
    memset(out, 0, sizeof *out);
    float *ps = malloc(sizeof(float) * vocab), *pt = malloc(sizeof(float) * vocab);
    float *pst = malloc(sizeof(float) * vocab), *ptt = malloc(sizeof(float) * vocab);
    unsigned char *written = calloc((size_t)n_rows, 1);
    for (int e = 0; e < n_examples; e++) {
        for (int i = 0; i < n_copy_rows[e]; i++) {
            const int rs = student_first[e] + i, rt = teacher_first[e] + i, y = targets[rs];
            if (y < 0) continue;
            float *zs = logits + (size_t)rs * vocab, *zt = logits + (size_t)rt * vocab;
            double lse_s = softmax_tau_serial(zs, vocab, 1.0f, ps), lse_t = softmax_tau_serial(zt, vocab, 1.0f, pt);
            out->ce_student += lse_s - zs[y];
            out->ce_teacher += lse_t - zt[y];
            double lse_st = softmax_tau_serial(zs, vocab, tau, pst), lse_tt = softmax_tau_serial(zt, vocab, tau, ptt);
            double kl = 0.0;
            for (int j = 0; j < vocab; j++)
                if (ptt[j] > 0) kl += ptt[j] * ((zt[j] / tau - lse_tt) - (zs[j] / tau - lse_st));
            out->kl += kl;
            out->count++;
            const float kd = lambda * tau;
            for (int j = 0; j < vocab; j++) {
                zs[j] = scale * (ps[j] + kd * (pst[j] - ptt[j]));
                zt[j] = scale * alpha * pt[j];
            }
            zs[y] -= scale;
            zt[y] -= scale * alpha;
            written[rs] = written[rt] = 1;
        }
    }
    for (int r = 0; r < n_rows; r++)
        if (!written[r]) memset(logits + (size_t)r * vocab, 0, sizeof(float) * vocab);
    free(ps), free(pt), free(pst), free(ptt), free(written);
}

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void test_cross_entropy(void **state) {
    (void)state;
    enum { ROWS = 301, V = 1001 }; /* more rows than one block of partial sums (256) */
    Rng r;
    rng_seed(&r, 12);
    int targets[ROWS];
    for (int n = 0; n < ROWS; n++) targets[n] = n % 5 == 3 ? -1 : (int)rng_below(&r, V);
    float *z0 = random_vec(&r, (size_t)ROWS * V, 3.0f), *z_ref = copy_of(z0, (size_t)ROWS * V);
    int count_ref, count;
    double total_ref = cross_entropy_forward_backward_serial(z_ref, targets, ROWS, V, 1.0f / 241, &count_ref);
    for (int c = 0; c < N_COUNTS; c++) {
        parallel_set_threads(thread_counts[c]);
        assert_true(same_double(cross_entropy_forward(z0, targets, ROWS, V, &count), total_ref));
        assert_int_equal(count, count_ref);
        float *z = copy_of(z0, (size_t)ROWS * V);
        assert_true(same_double(cross_entropy_forward_backward(z, targets, ROWS, V, 1.0f / 241, &count), total_ref));
        assert_int_equal(count, count_ref);
        assert_same_bits(z, z_ref, (size_t)ROWS * V, "cross_entropy_forward_backward", thread_counts[c]);
        free(z);
    }
    parallel_set_threads(0);
    free(z0), free(z_ref);
}

static void test_spsd_loss(void **state) {
    (void)state;
    /* three examples: rows [source | student | teacher] each, plus two rows of nothing at the end */
    enum { V = 517, E = 3 };
    const int copy_rows[E] = {17, 30, 11}, source_rows[E] = {9, 14, 6};
    int student_first[E], teacher_first[E], rows = 0;
    for (int e = 0; e < E; e++) {
        student_first[e] = rows + source_rows[e];
        teacher_first[e] = student_first[e] + copy_rows[e];
        rows = teacher_first[e] + copy_rows[e];
    }
    rows += 2;
    Rng r;
    rng_seed(&r, 13);
    int *targets = malloc(sizeof(int) * rows);
    for (int n = 0; n < rows; n++) targets[n] = n % 7 == 2 ? -1 : (int)rng_below(&r, V);
    float *z0 = random_vec(&r, (size_t)rows * V, 2.0f), *z_ref = copy_of(z0, (size_t)rows * V);
    SpsdLoss ref, got;
    spsd_loss_serial(z_ref, targets, rows, V, student_first, teacher_first, copy_rows, E, 0.5f, 0.7f, 2.0f, 1.0f / 53,
                     &ref);
    for (int c = 0; c < N_COUNTS; c++) {
        parallel_set_threads(thread_counts[c]);
        float *z = copy_of(z0, (size_t)rows * V);
        assert_int_equal(spsd_loss_forward_backward(z, targets, rows, V, student_first, teacher_first, copy_rows, E,
                                                    0.5f, 0.7f, 2.0f, 1.0f / 53, &got),
                         0);
        assert_true(same_double(got.ce_student, ref.ce_student));
        assert_true(same_double(got.ce_teacher, ref.ce_teacher));
        assert_true(same_double(got.kl, ref.kl));
        assert_int_equal(got.count, ref.count);
        assert_same_bits(z, z_ref, (size_t)rows * V, "spsd_loss_forward_backward", thread_counts[c]);
        free(z);
    }
    parallel_set_threads(0);
    free(targets), free(z0), free(z_ref);
}

/* ------------------------------------------------------------------ AdamW, as it was */

static void adamw_update_range_serial(AdamW *opt, float *p, const float *g, size_t lo, size_t hi, float lr, int decay) {
    const OptimConfig *c = &opt->cfg;
    const float b1 = c->beta1, b2 = c->beta2;
    const float bc1 = 1.0f - powf(b1, (float)opt->t), bc2_sqrt = sqrtf(1.0f - powf(b2, (float)opt->t));
    const float step_size = lr / bc1, shrink = decay ? 1.0f - lr * c->weight_decay : 1.0f;
    float *m = opt->m, *v = opt->v;
    for (size_t i = lo; i < hi; i++) {
        const size_t k = i - opt->base;
        p[i] *= shrink;
        m[k] = b1 * m[k] + (1.0f - b1) * g[i];
        v[k] = b2 * v[k] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step_size * m[k] / (sqrtf(v[k]) / bc2_sqrt + c->eps);
    }
}

static double adamw_step_model_serial(AdamW *opt, Model *m, int step) {
    double norm = vector_l2_norm(m->grads, m->n_params);
    float coef = clip_coefficient(norm, opt->cfg.grad_clip);
    if (coef < 1.0f)
        for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= coef;
    float lr = lr_at_step(&opt->cfg, step);
    opt->t++;
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        adamw_update_range_serial(opt, m->params, m->grads, t->offset, t->offset + t->numel, lr, t->decay);
    }
    return norm;
}

/* Three steps of a small model, clipping on (clip 0.5) and off (clip 1e9), against the serial
 * loops: parameters, moments, the clipped gradients left in the buffer, the norm. */
static void test_adamw(void **state) {
    (void)state;
    ModelConfig mc = {.arch = MODEL_ARCH_QWEN2,
                      .vocab_size = 331,
                      .hidden_size = 96,
                      .n_layers = 2,
                      .n_heads = 4,
                      .n_kv_heads = 2,
                      .head_dim = 24,
                      .intermediate_size = 250,
                      .rope_theta = 1e4f,
                      .rms_norm_eps = 1e-6f,
                      .qkv_bias = 1,
                      .max_seq_len = 64,
                      .init_std = 0.1f};
    for (int clip = 0; clip < 2; clip++) {
        OptimConfig oc = {.lr = 1e-2f,
                          .min_lr_ratio = 0.1f,
                          .warmup_steps = 1,
                          .total_steps = 5,
                          .beta1 = 0.9f,
                          .beta2 = 0.95f,
                          .eps = 1e-8f,
                          .weight_decay = 0.1f,
                          .grad_clip = clip ? 0.5f : 1e9f};
        Model ref;
        AdamW ref_opt;
        assert_int_equal(model_create(&ref, &mc), 0);
        assert_int_equal(model_alloc_grads(&ref), 0);
        model_init_random(&ref, 7);
        assert_int_equal(adamw_create(&ref_opt, &oc, ref.n_params), 0);
        Rng r;
        rng_seed(&r, 14);
        double norms[3];
        float *grads[3];
        for (int s = 0; s < 3; s++) {
            grads[s] = random_vec(&r, ref.n_params, 0.01f);
            memcpy(ref.grads, grads[s], sizeof(float) * ref.n_params);
            norms[s] = adamw_step_model_serial(&ref_opt, &ref, s);
        }
        assert_true(clip ? norms[2] > 0.5 : norms[2] < 1e9);
        for (int c = 0; c < N_COUNTS; c++) {
            parallel_set_threads(thread_counts[c]);
            Model m;
            AdamW opt;
            assert_int_equal(model_create(&m, &mc), 0);
            assert_int_equal(model_alloc_grads(&m), 0);
            model_init_random(&m, 7);
            assert_int_equal(adamw_create(&opt, &oc, m.n_params), 0);
            for (int s = 0; s < 3; s++) {
                memcpy(m.grads, grads[s], sizeof(float) * m.n_params);
                assert_true(same_double(adamw_step_model(&opt, &m, s), norms[s]));
            }
            assert_same_bits(m.params, ref.params, m.n_params, "AdamW parameters", thread_counts[c]);
            assert_same_bits(m.grads, ref.grads, m.n_params, "clipped gradients", thread_counts[c]);
            assert_same_bits(opt.m, ref_opt.m, m.n_params, "AdamW first moment", thread_counts[c]);
            assert_same_bits(opt.v, ref_opt.v, m.n_params, "AdamW second moment", thread_counts[c]);
            adamw_free(&opt);
            model_free(&m);
        }
        parallel_set_threads(0);
        for (int s = 0; s < 3; s++) free(grads[s]);
        adamw_free(&ref_opt);
        model_free(&ref);
    }
}

/* ------------------------------------------------------------------ attention */

static size_t differing(const float *a, const float *b, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += memcmp(a + i, b + i, sizeof(float)) != 0;
    return k;
}

static double max_rel(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return num / (den > 0 ? den : 1);
}

/* The attention that skips hidden keys: the same bits at 1, 2 and 3 threads (its softmax rows run on
 * threads, its products on OpenBLAS); against the dense version it replaced, a rounding-level
 * difference at most, and how many elements differ at all is printed (docs/performance.md). */
static void test_attention(void **state) {
    (void)state;
    enum { NH = 4, NKV = 2, HD = 16, QKV = (NH + 2 * NKV) * HD, QD = NH * HD };
    static LongLayout l;
    for (int k = 0; k < N_LONG_LAYOUTS; k++) {
        long_layout(&l, k);
        Rng r;
        rng_seed(&r, 30 + k);
        const int rows = l.lay.n_rows;
        const size_t scores = attn_layout_score_elems(&l.lay) * NH, nq = (size_t)rows * QKV, no = (size_t)rows * QD;
        float *qkv = random_vec(&r, nq, 1.0f), *dout = random_vec(&r, no, 1.0f);
        float *out[N_COUNTS + 1], *att[N_COUNTS + 1], *dqkv[N_COUNTS + 1];
        float *scratch = malloc(sizeof(float) * NH * 1024 * 1024);
        for (int c = 0; c <= N_COUNTS; c++) {
            out[c] = calloc(no, 4), att[c] = calloc(scores, 4), dqkv[c] = calloc(nq, 4);
            if (c == N_COUNTS) { /* the dense version, on one thread */
                parallel_set_threads(1);
                attention_forward_dense(out[c], att[c], qkv, &l.lay, NH, NKV, HD);
                attention_backward_dense(dqkv[c], scratch, dout, qkv, att[c], &l.lay, NH, NKV, HD);
                break;
            }
            parallel_set_threads(thread_counts[c]);
            attention_forward(out[c], att[c], qkv, &l.lay, NH, NKV, HD);
            attention_backward(dqkv[c], scratch, dout, qkv, att[c], &l.lay, NH, NKV, HD);
            assert_same_bits(out[c], out[0], no, "attention_forward", thread_counts[c]);
            assert_same_bits(att[c], att[0], scores, "attention_forward (probabilities)", thread_counts[c]);
            assert_same_bits(dqkv[c], dqkv[0], nq, "attention_backward", thread_counts[c]);
        }
        const float *dense_out = out[N_COUNTS], *dense_att = att[N_COUNTS], *dense_dqkv = dqkv[N_COUNTS];
        print_message("attention vs dense, %s: differing out %zu/%zu, att %zu/%zu, dqkv %zu/%zu; max rel %.1e\n",
                      l.name, differing(out[0], dense_out, no), no, differing(att[0], dense_att, scores), scores,
                      differing(dqkv[0], dense_dqkv, nq), nq, max_rel(dqkv[0], dense_dqkv, nq));
        assert_true(max_rel(out[0], dense_out, no) < 1e-6);
        assert_true(max_rel(att[0], dense_att, scores) < 1e-6);
        assert_true(max_rel(dqkv[0], dense_dqkv, nq) < 1e-6);
        for (int c = 0; c <= N_COUNTS; c++) free(out[c]), free(att[c]), free(dqkv[c]);
        free(qkv), free(dout), free(scratch);
    }
    parallel_set_threads(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_really_split),
        cmocka_unit_test(test_embedding_rmsnorm_swiglu_rope),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_spsd_loss),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
