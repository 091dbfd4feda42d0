/* test_model.c — the parameter layout, the whole model's gradient against finite
 * differences, and that a row's output never depends on keys it cannot see. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/base/rng.h"
#include "src/model/loss.h"
#include "src/model/model.h"

static ModelConfig tiny_config(int qwen2) {
    ModelConfig c = {.arch = qwen2 ? MODEL_ARCH_QWEN2 : MODEL_ARCH_LLAMA,
                     .vocab_size = 23,
                     .hidden_size = 16,
                     .n_layers = 2,
                     .n_heads = 4,
                     .n_kv_heads = 2,
                     .head_dim = 6,
                     .intermediate_size = 20,
                     .rope_theta = 10000.0f,
                     .rms_norm_eps = 1e-5f,
                     .tie_embeddings = qwen2,
                     .qkv_bias = qwen2,
                     .max_seq_len = 64,
                     .init_std = 0.3f};
    return c;
}

static void test_layout_contiguous_layers_and_hf_names(void **state) {
    (void)state;
    ModelConfig c = tiny_config(1);
    Model m;
    assert_int_equal(model_create(&m, &c), 0);
    /* embed, 2 x (ln1, q, k, v, qb, kb, vb, o, ln2, gate, up, down), norm; tied: no lm_head */
    assert_int_equal(m.n_tensors, 1 + 2 * 12 + 1);
    assert_null(model_find_tensor(&m, "lm_head.weight"));
    const ParamTensor *q = model_find_tensor(&m, "model.layers.1.self_attn.q_proj.weight");
    const ParamTensor *k = model_find_tensor(&m, "model.layers.1.self_attn.k_proj.weight");
    const ParamTensor *v = model_find_tensor(&m, "model.layers.1.self_attn.v_proj.weight");
    assert_non_null(q);
    assert_int_equal(q->shape[0], 24); /* 4 heads x 6 */
    assert_int_equal(q->shape[1], 16);
    assert_int_equal(k->shape[0], 12);
    /* q, k, v are one fused matrix, and the view points at it */
    assert_int_equal(k->offset, q->offset + q->numel);
    assert_int_equal(v->offset, k->offset + k->numel);
    assert_ptr_equal(m.w.layers[1].wqkv, m.params + q->offset);
    const ParamTensor *gate = model_find_tensor(&m, "model.layers.0.mlp.gate_proj.weight");
    const ParamTensor *up = model_find_tensor(&m, "model.layers.0.mlp.up_proj.weight");
    assert_int_equal(up->offset, gate->offset + gate->numel);
    /* every layer is one contiguous range and the ranges tile the middle of the buffer */
    for (int i = 0; i < m.n_tensors; i++) {
        const ParamTensor *t = &m.tensors[i];
        if (t->layer >= 0) {
            assert_true(t->offset >= m.layer_begin[t->layer]);
            assert_true(t->offset + t->numel <= m.layer_begin[t->layer + 1]);
        }
        if (i + 1 < m.n_tensors) assert_int_equal(m.tensors[i + 1].offset, t->offset + t->numel);
        assert_int_equal(t->decay, t->ndim == 2);
    }
    assert_ptr_equal(m.w.lm_head, m.w.embed);
    model_free(&m);

    c = tiny_config(0);
    assert_int_equal(model_create(&m, &c), 0);
    assert_non_null(model_find_tensor(&m, "lm_head.weight"));
    assert_null(model_find_tensor(&m, "model.layers.0.self_attn.q_proj.bias"));
    assert_ptr_not_equal(m.w.lm_head, m.w.embed);
    model_free(&m);
}

/* The real Qwen2-0.5B (Hugging Face's model card: 494,032,768 parameters, tied). */
static void test_qwen2_0_5b_parameter_count(void **state) {
    (void)state;
    ModelConfig c = {.arch = MODEL_ARCH_QWEN2,
                     .vocab_size = 151936,
                     .hidden_size = 896,
                     .n_layers = 24,
                     .n_heads = 14,
                     .n_kv_heads = 2,
                     .head_dim = 64,
                     .intermediate_size = 4864,
                     .rope_theta = 1e6f,
                     .rms_norm_eps = 1e-6f,
                     .tie_embeddings = 1,
                     .qkv_bias = 1,
                     .max_seq_len = 32768,
                     .init_std = 0.02f};
    assert_int_equal(model_param_count(&c), 494032768);
    c.tie_embeddings = 0; /* an untied head adds V x d */
    assert_int_equal(model_param_count(&c), 494032768 + 151936 * 896);
}

static void test_config_validation_names_field(void **state) {
    (void)state;
    ModelConfig c = tiny_config(0);
    c.n_kv_heads = 3;
    Model m;
    assert_int_equal(model_create(&m, &c), -1);
    assert_non_null(strstr(px_error_message(), "n_kv_heads"));
    c = tiny_config(0);
    c.head_dim = 5;
    assert_int_equal(model_create(&m, &c), -1);
    assert_non_null(strstr(px_error_message(), "head_dim"));
}

/* Two packed sequences: a plain causal one, and a streaming one [source 4 | copy 4]
 * whose copy rows see a growing source prefix. */
typedef struct {
    int tokens[14], targets[14], seq_start[3], pos[14], vis[14], blk[14];
    AttnLayout lay;
} Case;

static void make_case(Case *k, Rng *r, int vocab) {
    int seq_start[3] = {0, 6, 14};
    memcpy(k->seq_start, seq_start, sizeof seq_start);
    for (int i = 0; i < 14; i++) {
        k->tokens[i] = (int)rng_below(r, vocab);
        k->targets[i] = i % 5 == 4 ? -1 : (int)rng_below(r, vocab);
        k->pos[i] = i < 6 ? i : (i - 6 < 4 ? i - 6 : 2 + (i - 10));
        k->vis[i] = i < 10 ? 0 : (i - 10) + 1;
        k->blk[i] = i < 10 ? 0 : 4;
    }
    k->lay = (AttnLayout){
        .n_rows = 14, .n_seqs = 2, .seq_start = k->seq_start, .pos = k->pos, .vis_prefix = k->vis, .blk_start = k->blk};
}

static double loss_of(Model *m, Activations *a, Case *k) {
    assert_int_equal(model_forward(m, a, k->tokens, &k->lay), 0);
    int count;
    double s = cross_entropy_forward(a->logits, k->targets, 14, m->cfg.vocab_size, &count);
    return s / count;
}

static void check_model_gradient(int qwen2) {
    ModelConfig c = tiny_config(qwen2);
    Model m;
    Activations a = {0};
    Rng r;
    rng_seed(&r, 11);
    assert_int_equal(model_create(&m, &c), 0);
    model_init_random(&m, 5);
    /* non-trivial norms and biases so their gradients are exercised */
    for (int i = 0; i < m.n_tensors; i++)
        if (m.tensors[i].ndim == 1)
            for (size_t j = 0; j < m.tensors[i].numel; j++)
                m.params[m.tensors[i].offset + j] += (float)(0.2 * rng_normal(&r));
    Case k;
    make_case(&k, &r, c.vocab_size);
    assert_int_equal(model_alloc_grads(&m), 0);
    model_zero_grads(&m);
    assert_int_equal(model_forward(&m, &a, k.tokens, &k.lay), 0);
    int count;
    double loss = cross_entropy_forward_backward(a.logits, k.targets, 14, c.vocab_size, 1.0f, &count);
    for (int i = 0; i < 14 * c.vocab_size; i++) a.logits[i] /= count; /* gradient of the mean */
    assert_int_equal(model_backward(&m, &a, k.tokens, &k.lay), 0);
    assert_true(fabs(loss / count - loss_of(&m, &a, &k)) < 1e-6);
    /* central differences on a sample of every tensor; Richardson extrapolation
     * (4 D(eps/2) - D(eps)) / 3 cancels the eps^2 error that dominates in fp32 */
    const float eps = 2e-2f;
    double worst = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const ParamTensor *t = &m.tensors[i];
        for (int s = 0; s < 4; s++) {
            size_t j = t->offset + rng_below(&r, t->numel);
            float keep = m.params[j];
            double d[2];
            for (int h = 0; h < 2; h++) {
                float e = h ? eps / 2 : eps;
                m.params[j] = keep + e;
                double up = loss_of(&m, &a, &k);
                m.params[j] = keep - e;
                double down = loss_of(&m, &a, &k);
                d[h] = (up - down) / (2.0 * ((double)(keep + e) - keep));
            }
            m.params[j] = keep;
            double numeric = (4 * d[1] - d[0]) / 3, analytic = m.grads[j];
            double err = fabs(numeric - analytic) / (fabs(numeric) + 1e-2);
            if (err > worst) worst = err;
            if (err > 1e-2) fail_msg("%s[%zu]: analytic %.6g numeric %.6g", t->name, j - t->offset, analytic, numeric);
        }
    }
    print_message("%s: worst finite-difference relative error %.2e over %d tensors\n", model_arch_name(c.arch), worst,
                  m.n_tensors);
    activations_free(&a);
    model_free(&m);
}

static void test_model_gradient_llama(void **state) {
    (void)state;
    check_model_gradient(0);
}
static void test_model_gradient_qwen2(void **state) {
    (void)state;
    check_model_gradient(1);
}

/* Changing a token a row cannot see leaves that row's logits bit-identical; changing a
 * visible one changes them. */
static void test_hidden_tokens_do_not_leak(void **state) {
    (void)state;
    ModelConfig c = tiny_config(1);
    Model m;
    Activations a = {0};
    Rng r;
    rng_seed(&r, 12);
    assert_int_equal(model_create(&m, &c), 0);
    model_init_random(&m, 6);
    Case k;
    make_case(&k, &r, c.vocab_size);
    const int V = c.vocab_size;
    assert_int_equal(model_forward(&m, &a, k.tokens, &k.lay), 0);
    float *before = malloc(sizeof(float) * 14 * V);
    memcpy(before, a.logits, sizeof(float) * 14 * V);
    /* row 10 = first copy row: sees source token 0 (rel 0) and itself; not source 1..3 */
    k.tokens[6 + 2] = (k.tokens[6 + 2] + 1) % V;
    assert_int_equal(model_forward(&m, &a, k.tokens, &k.lay), 0);
    assert_memory_equal(a.logits + 10 * V, before + 10 * V, sizeof(float) * V);
    assert_memory_equal(a.logits, before, sizeof(float) * 6 * V);                   /* other sequence untouched */
    assert_memory_not_equal(a.logits + 13 * V, before + 13 * V, sizeof(float) * V); /* row 13 sees it */
    free(before);
    activations_free(&a);
    model_free(&m);
}

/* A bf16 step (matrix products in bf16, gemm.h) against the fp32 path on the same weights and
 * batch. Bound: rounding an operand to bf16 changes it by at most u = 2^-8 relative (8 bits of
 * mantissa, round to nearest: half of 2^-7), so one product's terms move by <= 2u; a gradient
 * passes through about 2 x (4 products per layer x 2 layers + the LM head) = 18 products, whose
 * independent roundings add in quadrature: ~2u sqrt(18) ~ 0.033 relative at worst on average.
 * Each tensor's gradient must be within 0.05 (relative L2), the loss within 0.01, and differ
 * from fp32 at all (the bf16 path really ran). */
static void test_bf16_step_against_fp32(void **state) {
    (void)state;
    ModelConfig c = tiny_config(1);
    c.hidden_size = 64;
    c.head_dim = 16;
    c.intermediate_size = 96;
    c.vocab_size = 97;
    c.init_std = 0.1f;
    Model m;
    Activations a = {0};
    Rng r;
    rng_seed(&r, 21);
    assert_int_equal(model_create(&m, &c), 0);
    model_init_random(&m, 9);
    assert_int_equal(model_alloc_grads(&m), 0);
    Case k;
    make_case(&k, &r, c.vocab_size);
    double loss[2];
    float *grads[2];
    for (int bf = 0; bf < 2; bf++) {
        assert_int_equal(model_set_precision(&m, bf ? GEMM_BF16 : GEMM_FP32), 0);
        assert_true((m.params16 != NULL) == bf);
        model_zero_grads(&m);
        assert_int_equal(model_forward(&m, &a, k.tokens, &k.lay), 0);
        int count;
        loss[bf] = cross_entropy_forward_backward(a.logits, k.targets, 14, c.vocab_size, 1.0f, &count) / count;
        assert_int_equal(model_backward(&m, &a, k.tokens, &k.lay), 0);
        grads[bf] = malloc(sizeof(float) * m.n_params);
        memcpy(grads[bf], m.grads, sizeof(float) * m.n_params);
    }
    assert_true(fabs(loss[1] - loss[0]) < 0.01 * fabs(loss[0]));
    double worst = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const ParamTensor *t = &m.tensors[i];
        double num = 0, den = 0;
        for (size_t j = t->offset; j < t->offset + t->numel; j++) {
            num += ((double)grads[1][j] - grads[0][j]) * ((double)grads[1][j] - grads[0][j]);
            den += (double)grads[0][j] * grads[0][j];
        }
        double rel = sqrt(num / (den > 0 ? den : 1e-300));
        if (rel > 0.05) fail_msg("%s: bf16 gradient off by %.3g (relative L2) from fp32", t->name, rel);
        worst = rel > worst ? rel : worst;
    }
    assert_memory_not_equal(grads[0], grads[1], sizeof(float) * m.n_params);
    print_message("bf16 step: loss %.6f vs fp32 %.6f, worst gradient relative L2 error %.2e over %d tensors\n", loss[1],
                  loss[0], worst, m.n_tensors);
    free(grads[0]);
    free(grads[1]);
    activations_free(&a);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_contiguous_layers_and_hf_names),
        cmocka_unit_test(test_config_validation_names_field),
        cmocka_unit_test(test_qwen2_0_5b_parameter_count),
        cmocka_unit_test(test_model_gradient_llama),
        cmocka_unit_test(test_model_gradient_qwen2),
        cmocka_unit_test(test_hidden_tokens_do_not_leak),
        cmocka_unit_test(test_bf16_step_against_fp32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
