/* ref_util.c — helpers shared by the reference tests; see ref_util.h. */
#include "tests/reference/ref_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "io/safetensors.h"
#include "src/base/common.h"
#include "src/model/model.h"

/* ---- reading the case file --------------------------------------------------------- */

/* int32 tensor -> malloc'd copy (memcpy: the mapped data need not be aligned). */
int *read_i32(const StFile *f, const char *name, size_t *numel) {
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("%s: missing tensor '%s'", f->path, name);
    if (t->dtype != ST_I32) fail_msg("%s: tensor '%s' is %s, expected I32", f->path, name, st_dtype_name(t->dtype));
    int *out = malloc(t->numel * sizeof(int) + 1);
    assert_non_null(out);
    memcpy(out, t->data, t->numel * sizeof(int32_t));
    *numel = t->numel;
    return out;
}

/* Any float tensor -> malloc'd float32 copy of exactly expect_numel elements. */
float *read_f32(const StFile *f, const char *name, size_t expect_numel) {
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("%s: missing tensor '%s'", f->path, name);
    if (t->numel != expect_numel)
        fail_msg("%s: tensor '%s' has %zu elements, expected %zu", f->path, name, t->numel, expect_numel);
    float *out = malloc(t->numel * sizeof(float) + 1);
    assert_non_null(out);
    if (st_tensor_to_f32(f, t, out) != 0) fail_msg("%s", px_error_message());
    return out;
}

/* The safetensors "__metadata__" map, read straight from the header (StFile does not
 * keep it). Returns a new reference. */
json_t *read_metadata(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("%s: cannot open", path);
    uint8_t lenb[8];
    if (fread(lenb, 1, 8, fp) != 8) fail_msg("%s: short header", path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenb[i];
    if (hlen == 0 || hlen > (1u << 26)) fail_msg("%s: bad header length", path);
    char *hdr = malloc(hlen + 1);
    assert_non_null(hdr);
    if (fread(hdr, 1, hlen, fp) != hlen) fail_msg("%s: short header", path);
    hdr[hlen] = '\0';
    fclose(fp);
    json_error_t err;
    json_t *root = json_loads(hdr, 0, &err);
    free(hdr);
    if (!root) fail_msg("%s: header JSON: %s", path, err.text);
    json_t *meta = json_object_get(root, "__metadata__");
    if (!json_is_object(meta)) fail_msg("%s: no __metadata__", path);
    json_incref(meta);
    json_decref(root);
    return meta;
}

/* A __metadata__ value (always a string in safetensors) parsed as a number. */
double meta_num(json_t *meta, const char *path, const char *key) {
    const char *s = json_string_value(json_object_get(meta, key));
    if (!s) fail_msg("%s: __metadata__ lacks '%s'", path, key);
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) fail_msg("%s: __metadata__ '%s' = '%s' is not a number", path, key, s);
    return v;
}

/* ---- comparison ---------------------------------------------------------------------- */

/* Compares c against ref: passes iff max|c - ref| <= 1e-4 max|ref| + 1e-7 and nothing is
 * NaN. Prints the failure (name, worst error, where) and returns the relative error
 * max|c - ref| / max|ref|. */
double compare(Report *r, const char *case_name, const char *what, const float *c, const float *ref, size_t n) {
    double max_diff = 0, max_ref = 0;
    size_t at = 0, n_nan = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(c[i]) || isinf(c[i])) {
            n_nan++;
            continue;
        }
        double d = fabs((double)c[i] - (double)ref[i]);
        if (d > max_diff) {
            max_diff = d;
            at = i;
        }
        if (fabs((double)ref[i]) > max_ref) max_ref = fabs((double)ref[i]);
    }
    double rel = max_diff / (max_ref > 0 ? max_ref : 1e-30);
    if (n_nan) {
        printf("FAIL %s %s: %zu non-finite values\n", case_name, what, n_nan);
        r->failures++;
        return INFINITY;
    }
    if (!(max_diff <= TOL_REL * max_ref + TOL_ABS)) {
        printf("FAIL %s %s: max|c-ref| = %.3e, max|ref| = %.3e, relative %.3e > %.0e "
               "(worst at element %zu: c = %.8g, ref = %.8g)\n",
               case_name, what, max_diff, max_ref, rel, TOL_REL, at, c[at], ref[at]);
        r->failures++;
    }
    return rel;
}

/* Every parameter's gradient, by name; the file must hold exactly ours. */
void compare_grads(Report *r, const char *case_name, const Model *m, const StFile *f) {
    int n_grad_in_file = 0;
    for (int i = 0; i < f->n_tensors; i++) n_grad_in_file += strncmp(f->tensors[i].name, "grad.", 5) == 0;
    if (n_grad_in_file != m->n_tensors) {
        printf("FAIL %s: the reference has %d gradients, the model %d tensors\n", case_name, n_grad_in_file,
               m->n_tensors);
        r->failures++;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *pt = &m->tensors[i];
        char key[128];
        snprintf(key, sizeof key, "grad.%s", pt->name);
        float *ref = read_f32(f, key, pt->numel);
        double rel = compare(r, case_name, key, m->grads + pt->offset, ref, pt->numel);
        if (rel > r->grad || i == 0) {
            r->grad = rel;
            snprintf(r->grad_name, sizeof r->grad_name, "%s", pt->name);
        }
        free(ref);
    }
}
