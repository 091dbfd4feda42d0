/* test_spsd_reference.c — one whole SPSD step (docs/design.md §2.4) against the PyTorch twin.
 *
 * Usage: test_spsd_reference REF_DIR. REF_DIR/<case>/model is written by
 * tests/reference/make_reference.py and REF_DIR/spsd/<case>/spsd.safetensors by
 * tests/reference/make_spsd_reference.py (ctest's reference_generate and
 * reference_spsd_generate fixtures). The Python side builds the synchronized
 * [source | student | teacher] layout on its own, from the rules of src/train/schedule.h. For each
 * case (qwen2, llama):
 *   1. load the model (hf_load_model) and rebuild the PairSet and TemplatePieces of the three
 *      stored examples;
 *   2. spsd_batch_add each example with its read schedule g and phi, and compare the C layout
 *      EXACTLY with the Python one (tokens, targets, pos, vis_prefix, blk_start, seq_start,
 *      student_first, teacher_first, n_copy_rows); a mismatch names the array and the first
 *      differing index, and stops the case;
 *   3. model_forward -> compare logits;
 *   4. spsd_loss_forward_backward (alpha, lambda, tau from the file, scale 1/count) -> compare
 *      CE(student), CE(teacher), KL (each / count) and the total;
 *   5. model_backward -> compare the gradient of every parameter, by Hugging Face name.
 *
 * Tolerances: logits and each gradient tensor  max|c - ref| <= 1e-4 max|ref| + 1e-7;
 * the loss terms |c - ref| <= 1e-5 |ref|. The references are float64 computations on the
 * stored (float32 / bfloat16) weights, so the differences are the C side's float32 error. */
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
#include "src/train/batch.h"
#include "src/train/pairs.h"
#include "src/train/schedule.h"
#include "tests/reference/ref_util.h"

#define TOL_LOSS 1e-5
#define N_EXAMPLES 3

static const char *g_ref_dir;
static const char *const CASES[] = {"qwen2", "llama"};

/* ---- reading the case file --------------------------------------------------------- */

/* An I32 tensor that must have exactly `expect` elements. */
static int *read_i32_n(const StFile *f, const char *name, size_t expect) {
    size_t n;
    int *p = read_i32(f, name, &n);
    if (n != expect) fail_msg("%s: tensor '%s' has %zu elements, expected %zu", f->path, name, n, expect);
    return p;
}

/* An [count+1] offset tensor as the int64 offsets PairSet wants, checked: starts at 0,
 * never decreases, ends at `total`. */
static int64_t *read_offsets(const StFile *f, const char *name, size_t total) {
    int *o = read_i32_n(f, name, N_EXAMPLES + 1);
    int64_t *out = malloc(sizeof(int64_t) * (N_EXAMPLES + 1));
    assert_non_null(out);
    for (int i = 0; i <= N_EXAMPLES; i++) {
        if ((i == 0 && o[i] != 0) || (i > 0 && o[i] < o[i - 1]))
            fail_msg("%s: tensor '%s' is not an offset table", f->path, name);
        out[i] = o[i];
    }
    if ((size_t)o[N_EXAMPLES] != total)
        fail_msg("%s: tensor '%s' ends at %d, the data has %zu elements", f->path, name, o[N_EXAMPLES], total);
    free(o);
    return out;
}

/* ---- comparison ---------------------------------------------------------------------- */

/* Exact comparison of one layout array; prints the first differing index. */
static int same_ints(const char *case_name, const char *what, const int *c, size_t nc, const int *ref, size_t nref) {
    if (nc != nref) {
        printf("FAIL %s layout: '%s' has %zu entries in C, %zu in the Python reference\n", case_name, what, nc, nref);
        return 0;
    }
    for (size_t i = 0; i < nc; i++)
        if (c[i] != ref[i]) {
            printf("FAIL %s layout: '%s' differs first at index %zu: C %d, Python %d\n", case_name, what, i, c[i],
                   ref[i]);
            return 0;
        }
    return 1;
}

/* A loss term (computed in double) against its float reference, to 1e-5 relative. */
static double compare_scalar(Report *r, const char *case_name, const char *what, double c, float ref) {
    double rel = fabs(c - (double)ref) / fabs((double)ref);
    if (!(rel <= TOL_LOSS)) {
        printf("FAIL %s %s: %.8f, ref %.8f, relative %.3e > %.0e\n", case_name, what, c, (double)ref, rel, TOL_LOSS);
        r->failures++;
    }
    return rel;
}

/* ---- one case ------------------------------------------------------------------------- */

static void run_case(const char *name) {
    char model_dir[PX_PATH_MAX], case_path[PX_PATH_MAX];
    snprintf(model_dir, sizeof model_dir, "%s/%s/model", g_ref_dir, name);
    snprintf(case_path, sizeof case_path, "%s/spsd/%s/spsd.safetensors", g_ref_dir, name);
    Report r;
    memset(&r, 0, sizeof r);

    Model m;
    memset(&m, 0, sizeof m);
    if (hf_load_model(model_dir, &m) != 0) fail_msg("hf_load_model: %s", px_error_message());
    const int V = m.cfg.vocab_size;
    StFile f;
    memset(&f, 0, sizeof f);
    if (st_open(&f, case_path) != 0) fail_msg("st_open: %s", px_error_message());
    json_t *meta = read_metadata(case_path);
    const int phi = (int)meta_num(meta, case_path, "phi");
    const float alpha = (float)meta_num(meta, case_path, "alpha");
    const float lambda = (float)meta_num(meta, case_path, "lambda");
    const float tau = (float)meta_num(meta, case_path, "tau");
    const int ref_count = (int)meta_num(meta, case_path, "count");

    /* 1. the examples, as the C data structures hold them */
    size_t n_src, n_sw, n_tgt, n_tw, n_g;
    int *src_tokens = read_i32(&f, "src_tokens", &n_src);
    int *src_word_ends = read_i32(&f, "src_word_ends", &n_sw);
    int *tgt_tokens = read_i32(&f, "tgt_tokens", &n_tgt);
    int *tgt_word_ends = read_i32(&f, "tgt_word_ends", &n_tw);
    int *g = read_i32(&f, "g", &n_g);
    int64_t *src_off = read_offsets(&f, "src_off", n_src), *src_word_off = read_offsets(&f, "src_word_off", n_sw);
    int64_t *tgt_off = read_offsets(&f, "tgt_off", n_tgt), *tgt_word_off = read_offsets(&f, "tgt_word_off", n_tw);
    int64_t *g_off = read_offsets(&f, "g_off", n_g);
    PairSet s = {.first = 0,
                 .count = N_EXAMPLES,
                 .src_tokens = src_tokens,
                 .tgt_tokens = tgt_tokens,
                 .src_off = src_off,
                 .tgt_off = tgt_off,
                 .src_word_ends = src_word_ends,
                 .tgt_word_ends = tgt_word_ends,
                 .src_word_off = src_word_off,
                 .tgt_word_off = tgt_word_off};
    size_t np, nse, ntb, nte;
    int *prompt = read_i32(&f, "prompt", &np), *src_end = read_i32(&f, "src_end", &nse);
    int *tgt_begin = read_i32(&f, "tgt_begin", &ntb), *tgt_end = read_i32(&f, "tgt_end", &nte);
    TemplatePieces tp = {
        {prompt, (int)np, 0}, {src_end, (int)nse, 0}, {tgt_begin, (int)ntb, 0}, {tgt_end, (int)nte, 0}};
    assert_true(pair_set_max_token(&s, &tp) < V);

    /* 2. the layout, built by C, against the one built by Python */
    PackedBatch b;
    memset(&b, 0, sizeof b);
    SpsdRows rows[N_EXAMPLES];
    int student_first[N_EXAMPLES], teacher_first[N_EXAMPLES], n_copy_rows[N_EXAMPLES];
    for (int e = 0; e < N_EXAMPLES; e++) {
        assert_int_equal(g_off[e + 1] - g_off[e], pair_tgt_words(&s, e));
        if (spsd_batch_add(&b, &s, &tp, e, g + g_off[e], phi, &rows[e]) != 0)
            fail_msg("spsd_batch_add: %s", px_error_message());
        student_first[e] = rows[e].student_first;
        teacher_first[e] = rows[e].teacher_first;
        n_copy_rows[e] = rows[e].n_copy_rows;
    }
    const AttnLayout *lay = packed_batch_layout(&b);
    const int N = b.n_rows;
    struct {
        const char *name;
        const int *c;
        size_t nc;
    } arrays[] = {
        {"tokens", b.tokens, (size_t)N},
        {"targets", b.targets, (size_t)N},
        {"pos", b.pos, (size_t)N},
        {"vis_prefix", b.vis_prefix, (size_t)N},
        {"blk_start", b.blk_start, (size_t)N},
        {"seq_start", b.seq_start, (size_t)b.n_seqs + 1},
        {"student_first", student_first, N_EXAMPLES},
        {"teacher_first", teacher_first, N_EXAMPLES},
        {"n_copy_rows", n_copy_rows, N_EXAMPLES},
    };
    int layout_ok = 1;
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        size_t nref;
        int *ref = read_i32(&f, arrays[i].name, &nref);
        layout_ok &= same_ints(name, arrays[i].name, arrays[i].c, arrays[i].nc, ref, nref);
        free(ref);
    }
    if (!layout_ok)
        fail_msg("%s: the C layout (spsd_batch_add) differs from the Python one built from schedule.h's rules "
                 "(see FAIL lines above)",
                 name);
    if (attn_layout_validate(lay) != 0) fail_msg("attn_layout_validate: %s", px_error_message());
    int count = 0;
    for (int e = 0; e < N_EXAMPLES; e++)
        for (int i = 0; i < n_copy_rows[e]; i++) count += b.targets[student_first[e] + i] >= 0;
    assert_int_equal(count, ref_count);

    /* 3. forward */
    Activations a;
    memset(&a, 0, sizeof a);
    if (activations_reserve(&a, &m.cfg, lay) != 0) fail_msg("activations_reserve: %s", px_error_message());
    if (model_forward(&m, &a, b.tokens, lay) != 0) fail_msg("model_forward: %s", px_error_message());
    float *ref_logits = read_f32(&f, "logits", (size_t)N * V);
    r.logits = compare(&r, name, "logits", a.logits, ref_logits, (size_t)N * V);

    /* 4. the loss; its gradient replaces the logits */
    SpsdLoss parts;
    if (spsd_loss_forward_backward(a.logits, b.targets, N, V, student_first, teacher_first, n_copy_rows, N_EXAMPLES,
                                   alpha, lambda, tau, 1.0f / (float)count, &parts) != 0)
        fail_msg("spsd_loss_forward_backward: %s", px_error_message());
    assert_int_equal(parts.count, count);
    float *ref_s = read_f32(&f, "loss_student", 1), *ref_t = read_f32(&f, "loss_teacher", 1);
    float *ref_kl = read_f32(&f, "kl", 1), *ref_total = read_f32(&f, "loss", 1);
    double total =
        (parts.ce_student + (double)alpha * parts.ce_teacher + (double)lambda * (double)tau * (double)tau * parts.kl) /
        count;
    r.ce_s = compare_scalar(&r, name, "loss_student", parts.ce_student / count, ref_s[0]);
    r.ce_t = compare_scalar(&r, name, "loss_teacher", parts.ce_teacher / count, ref_t[0]);
    r.kl = compare_scalar(&r, name, "kl", parts.kl / count, ref_kl[0]);
    r.total = compare_scalar(&r, name, "loss", total, ref_total[0]);

    /* 5. backward: every parameter's gradient, by name; the file must hold exactly ours */
    if (!m.grads && model_alloc_grads(&m) != 0) fail_msg("model_alloc_grads: %s", px_error_message());
    model_zero_grads(&m);
    if (model_backward(&m, &a, b.tokens, lay) != 0) fail_msg("model_backward: %s", px_error_message());
    compare_grads(&r, name, &m, &f);

    printf("spsd reference %s: N=%d count=%d phi=%d alpha=%g lambda=%g tau=%g; layout identical; worst relative "
           "errors: logits %.2e, grad %.2e (%s), CE_S %.2e, CE_T %.2e, KL %.2e, loss %.2e -> %s\n",
           name, N, count, phi, alpha, lambda, tau, r.logits, r.grad, r.grad_name, r.ce_s, r.ce_t, r.kl, r.total,
           r.failures ? "FAIL" : "ok");
    fflush(stdout);

    free(ref_s), free(ref_t), free(ref_kl), free(ref_total), free(ref_logits);
    activations_free(&a);
    packed_batch_free(&b);
    free(prompt), free(src_end), free(tgt_begin), free(tgt_end);
    free(src_tokens), free(src_word_ends), free(tgt_tokens), free(tgt_word_ends), free(g);
    free(src_off), free(src_word_off), free(tgt_off), free(tgt_word_off), free(g_off);
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
        fprintf(stderr,
                "usage: %s REF_DIR  (REF_DIR from make_reference.py --out REF_DIR, then "
                "make_spsd_reference.py --ref REF_DIR --out REF_DIR/spsd)\n",
                argv[0]);
        return 2;
    }
    g_ref_dir = argv[1];
    /* Missing data must fail, never skip: a broken generator would otherwise turn this green. */
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        for (int k = 0; k < 2; k++) {
            char p[PX_PATH_MAX];
            struct stat st;
            if (k == 0) snprintf(p, sizeof p, "%s/%s/model/model.safetensors", g_ref_dir, CASES[i]);
            else snprintf(p, sizeof p, "%s/spsd/%s/spsd.safetensors", g_ref_dir, CASES[i]);
            if (stat(p, &st) != 0) {
                fprintf(stderr,
                        "test_spsd_reference: ERROR: reference data '%s' is missing.\n"
                        "  Generate it with:\n"
                        "    /usr/bin/python3 tests/reference/make_reference.py --out %s\n"
                        "    /usr/bin/python3 tests/reference/make_spsd_reference.py --ref %s --out %s/spsd\n"
                        "  (ctest runs these as the reference_generate and reference_spsd_generate fixtures:\n"
                        "   ctest -R reference)\n",
                        p, g_ref_dir, g_ref_dir, g_ref_dir);
                return 1;
            }
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_llama),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
