/* test_reference.c — the C model, loss and AdamW against the PyTorch twin.
 *
 * Usage: test_reference REF_DIR, where REF_DIR was written by
 * tests/reference/make_reference.py (ctest's reference_generate fixture does it).
 * For each case (qwen2, llama) in REF_DIR/<case>/:
 *   1. load model/ (an HF dir whose tensors are part F32, part BF16) with hf_load_model;
 *   2. forward the packed batch of case.safetensors -> compare logits;
 *   3. cross-entropy (mean over targets >= 0) -> compare loss;
 *   4. backward -> compare the gradient of every parameter, by Hugging Face name;
 *   5. 5 AdamW steps on the same batch (hyperparameters from the file's __metadata__)
 *      -> compare each step's loss and pre-clipping gradient norm.
 * The references are float64 computations on the stored weights, so the differences
 * measured here are the C side's float32 error alone.
 *
 * Tolerances: logits, loss and each gradient tensor  max|c - ref| <= 1e-4 max|ref| + 1e-7;
 * AdamW losses |c - ref| <= 1e-5 |ref|; gradient norms |c - ref| <= 1e-4 |ref|.
 * Every mismatch is printed (name and worst error) before the test fails, and each case
 * ends with a one-line summary of the worst relative errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "io/hf_model.h"
#include "io/safetensors.h"
#include "src/base/common.h"
#include "src/model/loss.h"
#include "src/model/model.h"
#include "src/model/optim.h"
#include "tests/reference/ref_util.h"

#define TOL_ADAM 1e-5
#define TOL_NORM 1e-4
#define ADAM_STEPS 5

static const char *g_ref_dir;
static const char *const CASES[] = {"qwen2", "llama"};

/* ---- reading the case file --------------------------------------------------------- */

static OptimConfig optim_from_metadata(json_t *meta, const char *path) {
    OptimConfig c;
    memset(&c, 0, sizeof c);
    c.lr = (float)meta_num(meta, path, "lr");
    c.min_lr_ratio = (float)meta_num(meta, path, "min_lr_ratio");
    c.warmup_steps = (int)meta_num(meta, path, "warmup_steps");
    c.total_steps = (int)meta_num(meta, path, "total_steps");
    c.beta1 = (float)meta_num(meta, path, "beta1");
    c.beta2 = (float)meta_num(meta, path, "beta2");
    c.eps = (float)meta_num(meta, path, "eps");
    c.weight_decay = (float)meta_num(meta, path, "weight_decay");
    c.grad_clip = (float)meta_num(meta, path, "grad_clip");
    return c;
}

/* ---- comparison ---------------------------------------------------------------------- */

static double loss_of_batch(Model *m, Activations *a, const int *tokens, const int *targets, const AttnLayout *lay,
                            int count) {
    if (model_forward(m, a, tokens, lay) != 0) fail_msg("model_forward: %s", px_error_message());
    int cnt = -1;
    double sum =
        cross_entropy_forward_backward(a->logits, targets, lay->n_rows, m->cfg.vocab_size, 1.0f / (float)count, &cnt);
    assert_int_equal(cnt, count);
    return sum / cnt;
}

/* ---- one case ------------------------------------------------------------------------- */

static void run_case(const char *name) {
    char model_dir[PX_PATH_MAX], case_path[PX_PATH_MAX];
    snprintf(model_dir, sizeof model_dir, "%s/%s/model", g_ref_dir, name);
    snprintf(case_path, sizeof case_path, "%s/%s/case.safetensors", g_ref_dir, name);
    Report r;
    memset(&r, 0, sizeof r);

    Model m;
    memset(&m, 0, sizeof m);
    if (hf_load_model(model_dir, &m) != 0) fail_msg("hf_load_model: %s", px_error_message());
    StFile f;
    memset(&f, 0, sizeof f);
    if (st_open(&f, case_path) != 0) fail_msg("st_open: %s", px_error_message());
    json_t *meta = read_metadata(case_path);

    size_t n_tok, n_tgt, n_ss, n_pos, n_vp, n_bs;
    int *tokens = read_i32(&f, "tokens", &n_tok);
    int *targets = read_i32(&f, "targets", &n_tgt);
    int *seq_start = read_i32(&f, "seq_start", &n_ss);
    int *pos = read_i32(&f, "pos", &n_pos);
    int *vis_prefix = read_i32(&f, "vis_prefix", &n_vp);
    int *blk_start = read_i32(&f, "blk_start", &n_bs);
    const int N = (int)n_tok, V = m.cfg.vocab_size;
    assert_true(n_tgt == n_tok && n_pos == n_tok && n_vp == n_tok && n_bs == n_tok && n_ss >= 2);
    AttnLayout lay = {.n_rows = N,
                      .n_seqs = (int)n_ss - 1,
                      .seq_start = seq_start,
                      .pos = pos,
                      .vis_prefix = vis_prefix,
                      .blk_start = blk_start};
    if (attn_layout_validate(&lay) != 0) fail_msg("attn_layout_validate: %s", px_error_message());
    int count = 0;
    for (int i = 0; i < N; i++) count += targets[i] >= 0;
    assert_true(count > 0);

    Activations a;
    memset(&a, 0, sizeof a);
    if (activations_reserve(&a, &m.cfg, &lay) != 0) fail_msg("activations_reserve: %s", px_error_message());

    /* 1-2. forward and loss */
    float *ref_logits = read_f32(&f, "logits", (size_t)N * V);
    float *ref_loss = read_f32(&f, "loss", 1);
    if (model_forward(&m, &a, tokens, &lay) != 0) fail_msg("model_forward: %s", px_error_message());
    r.logits = compare(&r, name, "logits", a.logits, ref_logits, (size_t)N * V);
    int cnt = -1;
    double loss = cross_entropy_forward_backward(a.logits, targets, N, V, 1.0f / (float)count, &cnt) / count;
    assert_int_equal(cnt, count);
    /* Compared in double: rounding our loss to float first would hide errors below 6e-8. */
    r.loss = fabs(loss - ref_loss[0]) / fabs((double)ref_loss[0]);
    if (!(fabs(loss - ref_loss[0]) <= TOL_REL * fabs((double)ref_loss[0]) + TOL_ABS)) {
        printf("FAIL %s loss: %.8f, ref %.8f, relative %.3e > %.0e\n", name, loss, ref_loss[0], r.loss, TOL_REL);
        r.failures++;
    }

    /* 3. backward: every parameter's gradient, by name; the file must hold exactly ours */
    if (!m.grads && model_alloc_grads(&m) != 0) fail_msg("model_alloc_grads: %s", px_error_message());
    model_zero_grads(&m);
    if (model_backward(&m, &a, tokens, &lay) != 0) fail_msg("model_backward: %s", px_error_message());
    compare_grads(&r, name, &m, &f);

    /* 5. AdamW from the loaded weights, on the same batch */
    OptimConfig oc = optim_from_metadata(meta, case_path);
    float *ref_adam = read_f32(&f, "adam_losses", ADAM_STEPS);
    float *ref_norms = read_f32(&f, "adam_grad_norms", ADAM_STEPS);
    AdamW opt;
    memset(&opt, 0, sizeof opt);
    if (adamw_create(&opt, &oc, m.n_params) != 0) fail_msg("adamw_create: %s", px_error_message());
    for (int step = 0; step < ADAM_STEPS; step++) {
        model_zero_grads(&m);
        double l = loss_of_batch(&m, &a, tokens, targets, &lay, count);
        if (model_backward(&m, &a, tokens, &lay) != 0) fail_msg("model_backward: %s", px_error_message());
        double norm = adamw_step_model(&opt, &m, step);
        double rel = fabs(l - ref_adam[step]) / fabs((double)ref_adam[step]);
        double nrel = fabs(norm - ref_norms[step]) / fabs((double)ref_norms[step]);
        if (!(rel <= TOL_ADAM)) {
            printf("FAIL %s adam step %d: loss %.8f, ref %.8f, relative %.3e > %.0e\n", name, step, l, ref_adam[step],
                   rel, TOL_ADAM);
            r.failures++;
        }
        if (!(nrel <= TOL_NORM)) {
            printf("FAIL %s adam step %d: grad norm %.8f, ref %.8f, relative %.3e > %.0e\n", name, step, norm,
                   ref_norms[step], nrel, TOL_NORM);
            r.failures++;
        }
        if (!(rel <= r.adam)) r.adam = rel;
        if (!(nrel <= r.norm)) r.norm = nrel;
    }

    printf("reference %s: worst relative errors: logits %.2e, loss %.2e, grad %.2e (%s), "
           "adam losses %.2e, grad norms %.2e -> %s\n",
           name, r.logits, r.loss, r.grad, r.grad_name, r.adam, r.norm, r.failures ? "FAIL" : "ok");
    fflush(stdout);

    adamw_free(&opt);
    free(ref_adam);
    free(ref_norms);
    free(ref_logits);
    free(ref_loss);
    activations_free(&a);
    free(tokens);
    free(targets);
    free(seq_start);
    free(pos);
    free(vis_prefix);
    free(blk_start);
    json_decref(meta);
    st_close(&f);
    model_free(&m);
    if (r.failures) fail_msg("%s: %d comparison(s) out of tolerance (see FAIL lines above)", name, r.failures);
}

static void test_qwen2(void **state) {
    (void)state;
    run_case("qwen2");
}

static void test_llama(void **state) {
    (void)state;
    run_case("llama");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s REF_DIR  (written by tests/reference/make_reference.py --out REF_DIR)\n", argv[0]);
        return 2;
    }
    g_ref_dir = argv[1];
    /* A missing reference must fail, never skip: otherwise a broken generator would turn
     * the whole comparison green. */
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char p[PX_PATH_MAX];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s/case.safetensors", g_ref_dir, CASES[i]);
        if (stat(p, &st) != 0) {
            fprintf(stderr,
                    "test_reference: ERROR: reference data '%s' is missing.\n"
                    "  Generate it with: /usr/bin/python3 tests/reference/make_reference.py --out %s\n"
                    "  (ctest runs this as the reference_generate fixture.)\n",
                    p, g_ref_dir);
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_llama),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
