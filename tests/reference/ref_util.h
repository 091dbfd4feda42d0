/* ref_util.h — helpers shared by the reference tests (test_reference.c,
 * test_spsd_reference.c): reading a case file written by the PyTorch twin and comparing
 * the C side's float tensors with it.
 *
 * Every helper reports a problem through cmocka (fail_msg / assert_*), so it may only be
 * called from inside a running cmocka test. */
#ifndef PROACT_TESTS_REF_UTIL_H
#define PROACT_TESTS_REF_UTIL_H

#include <stddef.h>

#include <jansson.h>

#include "io/safetensors.h"
#include "src/model/model.h"

/* compare(): a tensor passes iff max|c - ref| <= TOL_REL max|ref| + TOL_ABS. */
#define TOL_REL 1e-4
#define TOL_ABS 1e-7

/* Failures and worst relative errors of one case. Each test fills the fields it measures
 * and leaves the others at 0. */
typedef struct {
    int failures;
    double logits, grad;          /* both tests */
    double loss, adam, norm;      /* test_reference: CE loss, AdamW losses, grad norms */
    double ce_s, ce_t, kl, total; /* test_spsd_reference: the SPSD loss terms */
    char grad_name[96];           /* the parameter with the worst gradient error */
} Report;

/* An I32 tensor -> malloc'd int copy (memcpy: the mapped data need not be aligned);
 * its element count goes to *numel. Fails the test if it is missing or not I32. */
int *read_i32(const StFile *f, const char *name, size_t *numel);

/* A tensor of any float dtype -> malloc'd float32 copy; fails the test if it is missing
 * or does not have exactly expect_numel elements. */
float *read_f32(const StFile *f, const char *name, size_t expect_numel);

/* The safetensors "__metadata__" map, read straight from the header of `path` (StFile
 * does not keep it). Returns a new reference. */
json_t *read_metadata(const char *path);

/* The __metadata__ string `key` parsed as a number; fails the test if it is absent or
 * not a number. `path` is only for the messages. */
double meta_num(json_t *meta, const char *path, const char *key);

/* Compares c against ref: passes iff max|c - ref| <= 1e-4 max|ref| + 1e-7 and nothing is
 * NaN. Prints the failure (name, worst error, where), counting it in r->failures, and
 * returns the relative error max|c - ref| / max|ref| (INFINITY if c has non-finite values). */
double compare(Report *r, const char *case_name, const char *what, const float *c, const float *ref, size_t n);

/* Compares every parameter's gradient m->grads with the file's "grad.<HF name>" tensor
 * (the file must hold exactly one per model tensor) and records the worst relative error
 * and its parameter in r->grad and r->grad_name. */
void compare_grads(Report *r, const char *case_name, const Model *m, const StFile *f);

#endif
