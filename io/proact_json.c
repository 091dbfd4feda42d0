/* proact_json.c — read and write MODEL_DIR/proact.json (proact_json.h), both with jansson. */
#include "io/proact_json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "src/base/common.h"
#include "src/stream/probe_features.h"

/* the top-level keys this module knows; the others are kept in ProactJson.other */
static int known_key(const char *key) {
    static const char *const keys[] = {"format",   "template",     "src_lang",        "tgt_lang", "phi",
                                       "schedule", "default_head", "template_tokens", "probe"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

void proact_json_init(ProactJson *pj) {
    memset(pj, 0, sizeof *pj);
    snprintf(pj->format, sizeof pj->format, "proact");
    snprintf(pj->template_name, sizeof pj->template_name, "plain");
    snprintf(pj->src_lang, sizeof pj->src_lang, "source");
    snprintf(pj->tgt_lang, sizeof pj->tgt_lang, "target");
    snprintf(pj->default_head, sizeof pj->default_head, "waitk:3");
}

static void fit_free(ProbeFitInfo *f) {
    free((char *)f->method); /* proact_json_read's copies */
    free((char *)f->data);
    free((char *)f->states);
    free((char *)f->label);
    memset(f, 0, sizeof *f);
}

void proact_json_free(ProactJson *pj) {
    template_pieces_free(&pj->tokens);
    probe_free(&pj->probe);
    fit_free(&pj->fit);
    free(pj->other);
    memset(pj, 0, sizeof *pj);
}

/* ------------------------------------------------------------------------------------ reading */

/* An array of token ids (non-negative integers) -> span (malloc'ed). */
static int read_ids(const char *path, json_t *tt, const char *key, IdVec *out) {
    json_t *a = json_object_get(tt, key);
    if (!json_is_array(a)) return px_error("%s: template_tokens.%s must be an array of token ids", path, key);
    size_t n = json_array_size(a);
    out->ids = px_calloc(n ? n : 1, sizeof(int), "template tokens");
    if (!out->ids) return -1;
    out->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return px_error("%s: template_tokens.%s[%zu] is not a token id (a non-negative integer)", path, key, i);
        out->ids[i] = (int)json_integer_value(v);
    }
    return 0;
}

/* obj.key into out if present (else out keeps its default). */
static int read_string(const char *path, json_t *obj, const char *where, const char *key, char *out, size_t size) {
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_string(v) || json_string_length(v) >= size)
        return px_error("%s: field %s%s must be a string of fewer than %zu bytes", path, where, key, size);
    snprintf(out, size, "%s", json_string_value(v));
    return 0;
}

/* probe.weights / mean / scale: arrays of finite numbers, all as long as weights (*dim, set by the
 * first). */
static int read_floats(const char *path, json_t *probe, const char *key, int *dim, float **out) {
    json_t *a = json_object_get(probe, key);
    if (*dim == 0) {
        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > INT32_MAX)
            return px_error("%s: probe.%s must be an array of numbers, one per feature (%s)", path, key,
                            PROBE_FEATURE_LIST);
        *dim = (int)json_array_size(a);
    }
    if (!json_is_array(a) || json_array_size(a) != (size_t)*dim)
        return px_error("%s: probe.%s must be an array of %d numbers (as many as probe.weights)", path, key, *dim);
    *out = px_calloc((size_t)*dim, sizeof(float), "the probe");
    if (!*out) return -1;
    for (int i = 0; i < *dim; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return px_error("%s: probe.%s[%d] is not a finite number", path, key, i);
        (*out)[i] = (float)json_number_value(v);
    }
    return 0;
}

/* probe.fit's fields: each optional, each of its type when present (numbers may be null: NaN). */
static int fit_string(const char *path, json_t *fit, const char *key, const char **out) {
    json_t *v = json_object_get(fit, key);
    if (!v) return 0;
    if (!json_is_string(v)) return px_error("%s: field probe.fit.%s must be a string", path, key);
    char *s = malloc(json_string_length(v) + 1);
    if (!s) return px_error("%s: out of memory reading probe.fit.%s", path, key);
    memcpy(s, json_string_value(v), json_string_length(v) + 1);
    *out = s;
    return 0;
}

static int fit_integer(const char *path, json_t *fit, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    json_t *v = json_object_get(fit, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return px_error("%s: field probe.fit.%s must be an integer in %lld..%lld", path, key, (long long)lo,
                        (long long)hi);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int fit_number(const char *path, json_t *fit, const char *key, double *out) {
    json_t *v = json_object_get(fit, key);
    if (!v) return 0;
    if (!json_is_number(v) && !json_is_null(v)) return px_error("%s: field probe.fit.%s must be a number", path, key);
    *out = json_is_null(v) ? NAN : json_number_value(v);
    return 0;
}

static int read_fit(const char *path, json_t *fit, ProbeFitInfo *f) {
    if (!json_is_object(fit)) return px_error("%s: field probe.fit must be an object", path);
    int64_t iterations = 0, ranks = 0;
    f->holdout_auc = NAN; /* absent in files of older versions */
    if (fit_string(path, fit, "method", &f->method) || fit_string(path, fit, "data", &f->data) ||
        fit_string(path, fit, "states", &f->states) || fit_string(path, fit, "label", &f->label) ||
        fit_number(path, fit, "holdout_auc", &f->holdout_auc) ||
        fit_integer(path, fit, "samples", 0, INT64_MAX, &f->samples) ||
        fit_integer(path, fit, "holdout", 0, INT64_MAX, &f->holdout) || fit_number(path, fit, "lambda", &f->lambda) ||
        fit_number(path, fit, "positive_rate", &f->positive_rate) ||
        fit_integer(path, fit, "iterations", 0, INT32_MAX, &iterations) ||
        fit_number(path, fit, "train_accuracy", &f->train_accuracy) ||
        fit_number(path, fit, "holdout_accuracy", &f->holdout_accuracy) ||
        fit_number(path, fit, "ridge_train_accuracy", &f->ridge_train_accuracy) ||
        fit_number(path, fit, "ridge_holdout_accuracy", &f->ridge_holdout_accuracy) ||
        fit_integer(path, fit, "ranks", 0, INT32_MAX, &ranks))
        return -1;
    f->iterations = (int)iterations;
    f->ranks = (int)ranks;
    return 0;
}

static int read_probe(const char *path, json_t *probe, ProactJson *pj) {
    Probe *p = &pj->probe;
    if (!json_is_object(probe)) return px_error("%s: field probe must be an object", path);
    json_t *b = json_object_get(probe, "bias"), *w = json_object_get(probe, "attn_window");
    if (!json_is_number(b) || !isfinite(json_number_value(b)))
        return px_error("%s: probe.bias must be a finite number", path);
    p->bias = (float)json_number_value(b);
    p->attn_window = json_is_integer(w) ? (int)json_integer_value(w) : CUE_ATTN_WINDOW_DEFAULT;
    if (p->attn_window < 1) return px_error("%s: probe.attn_window must be at least 1", path);
    if (read_floats(path, probe, "weights", &p->dim, &p->w) || read_floats(path, probe, "mean", &p->dim, &p->mean) ||
        read_floats(path, probe, "scale", &p->dim, &p->scale))
        return -1;
    for (int i = 0; i < p->dim; i++)
        if (!(p->scale[i] > 0)) return px_error("%s: probe.scale[%d] must be positive", path, i);
    json_t *fit = json_object_get(probe, "fit");
    if (fit) {
        if (read_fit(path, fit, &pj->fit)) return -1;
        pj->has_fit = 1;
    }
    return 0;
}

static int read_root(const char *path, json_t *root, ProactJson *pj) {
    json_t *tt = json_object_get(root, "template_tokens"), *phi = json_object_get(root, "phi");
    if (!json_is_object(root) || !json_is_object(tt))
        return px_error("%s: field template_tokens (an object) is missing", path);
    for (int i = 0; i < TEMPLATE_PIECES; i++)
        if (read_ids(path, tt, TEMPLATE_PIECE_NAMES[i], template_piece(&pj->tokens, i))) return -1;
    if (pj->tokens.tgt_begin.n == 0 || pj->tokens.tgt_end.n == 0)
        return px_error("%s: template_tokens.tgt_begin and tgt_end must not be empty", path);
    if (phi && (!json_is_integer(phi) || json_integer_value(phi) < 0 || json_integer_value(phi) > 1000000))
        return px_error("%s: field phi must be a non-negative integer", path);
    pj->phi = phi ? (int)json_integer_value(phi) : 0;
    if (read_string(path, root, "", "src_lang", pj->src_lang, sizeof pj->src_lang) ||
        read_string(path, root, "", "tgt_lang", pj->tgt_lang, sizeof pj->tgt_lang) ||
        read_string(path, root, "", "default_head", pj->default_head, sizeof pj->default_head) ||
        read_string(path, root, "", "template", pj->template_name, sizeof pj->template_name) ||
        read_string(path, root, "", "format", pj->format, sizeof pj->format) ||
        read_string(path, root, "", "schedule", pj->schedule, sizeof pj->schedule))
        return -1;
    json_t *probe = json_object_get(root, "probe");
    if (probe && !json_is_null(probe)) {
        if (read_probe(path, probe, pj)) return -1;
        pj->has_probe = 1;
    }
    /* the keys of other tools, kept as they are */
    json_t *other = json_object();
    const char *key;
    json_t *value;
    int bad = !other;
    json_object_foreach(root, key, value) {
        if (!bad && !known_key(key)) bad = json_object_set(other, key, value);
    }
    if (!bad && json_object_size(other) > 0) bad = !(pj->other = json_dumps(other, JSON_COMPACT));
    json_decref(other);
    return bad ? px_error("%s: out of memory reading it", path) : 0;
}

int proact_json_read(const char *path, ProactJson *pj) {
    proact_json_init(pj);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f)
            return px_error("%s: cannot open (a streaming model directory needs proact.json: see proact export)", path);
        fclose(f);
        return px_error("%s:%d:%d: %s", path, err.line, err.column, err.text);
    }
    int rc = read_root(path, root, pj);
    json_decref(root);
    if (rc) proact_json_free(pj);
    return rc;
}

int proact_json_check(const char *path, const ProactJson *pj, int vocab, int hidden) {
    for (int i = 0; i < TEMPLATE_PIECES; i++) {
        const IdVec *s = template_piece_const(&pj->tokens, i);
        for (int k = 0; k < s->n; k++)
            if (s->ids[k] >= vocab)
                return px_error("%s: template_tokens.%s[%d] is not a token id of the model (vocabulary %d)", path,
                                TEMPLATE_PIECE_NAMES[i], k, vocab);
    }
    if (pj->has_probe && pj->probe.dim == hidden + 3) /* the list before words_read and lag joined it */
        return px_error(
            "%s: the probe has the %d features of an older proact (hidden,entropy,maxprob,attn_front); this "
            "one needs %d (%s): fit it again with proact probe",
            path, pj->probe.dim, probe_feature_dim(hidden), PROBE_FEATURE_LIST);
    if (pj->has_probe && pj->probe.dim != probe_feature_dim(hidden))
        return px_error("%s: probe.weights, mean and scale must have %d numbers each (%s: hidden size %d + %d), not %d",
                        path, probe_feature_dim(hidden), PROBE_FEATURE_LIST, hidden, PROBE_EXTRA_FEATURES,
                        pj->probe.dim);
    return 0;
}

/* ------------------------------------------------------------------------------------ writing */

/* JSON has no NaN: a measurement that could not be taken (no held-out points) is null. */
static json_t *number(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *float_array(const float *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_real(v[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *id_array(const IdVec *s) {
    json_t *a = json_array();
    for (int i = 0; a && i < s->n; i++)
        if (json_array_append_new(a, json_integer(s->ids[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* obj[key] = v (stolen; NULL = it could not be made: out of memory, or a string not UTF-8). The
 * first key that fails is kept in *failed for the error. */
static void put(json_t *obj, const char *key, json_t *v, const char **failed) {
    if (json_object_set_new(obj, key, v) && !*failed) *failed = key;
}

static json_t *fit_object(const ProbeFitInfo *f, const char **failed) {
    json_t *o = json_object();
    if (!o) return NULL;
    if (f->method) put(o, "method", json_string(f->method), failed);
    if (f->data) put(o, "data", json_string(f->data), failed);
    if (f->states) put(o, "states", json_string(f->states), failed);
    if (f->label) put(o, "label", json_string(f->label), failed);
    put(o, "samples", json_integer(f->samples), failed);
    put(o, "holdout", json_integer(f->holdout), failed);
    put(o, "lambda", number(f->lambda), failed);
    put(o, "positive_rate", number(f->positive_rate), failed);
    put(o, "iterations", json_integer(f->iterations), failed);
    put(o, "train_accuracy", number(f->train_accuracy), failed);
    put(o, "holdout_accuracy", number(f->holdout_accuracy), failed);
    put(o, "ridge_train_accuracy", number(f->ridge_train_accuracy), failed);
    put(o, "ridge_holdout_accuracy", number(f->ridge_holdout_accuracy), failed);
    put(o, "holdout_auc", number(f->holdout_auc), failed);
    put(o, "ranks", json_integer(f->ranks), failed);
    return o;
}

static json_t *probe_object(const ProactJson *pj, const char **failed) {
    const Probe *p = &pj->probe;
    json_t *o = json_object();
    if (!o) return NULL;
    put(o, "weights", float_array(p->w, p->dim), failed);
    put(o, "mean", float_array(p->mean, p->dim), failed);
    put(o, "scale", float_array(p->scale, p->dim), failed);
    put(o, "bias", json_real(p->bias), failed);
    put(o, "attn_window", json_integer(p->attn_window), failed);
    if (pj->has_fit) put(o, "fit", fit_object(&pj->fit, failed), failed);
    return o;
}

/* proact.json's text: indented, then a newline */
static int write_body(FILE *fp, void *root) {
    if (json_dumpf(root, fp, JSON_INDENT(2) | JSON_REAL_PRECISION(9))) return -1;
    return fputc('\n', fp) == EOF ? -1 : 0;
}

int proact_json_write(const char *path, const ProactJson *pj) {
    const char *failed = NULL;
    json_t *root = json_object(), *tt = json_object();
    if (!root || !tt) {
        json_decref(root);
        json_decref(tt);
        return px_error("%s: out of memory building it", path);
    }
    put(root, "format", json_string(pj->format), &failed);
    put(root, "template", json_string(pj->template_name), &failed);
    put(root, "src_lang", json_string(pj->src_lang), &failed);
    put(root, "tgt_lang", json_string(pj->tgt_lang), &failed);
    put(root, "phi", json_integer(pj->phi), &failed);
    if (pj->schedule[0]) put(root, "schedule", json_string(pj->schedule), &failed);
    put(root, "default_head", json_string(pj->default_head), &failed);
    for (int i = 0; i < TEMPLATE_PIECES; i++)
        put(tt, TEMPLATE_PIECE_NAMES[i], id_array(template_piece_const(&pj->tokens, i)), &failed);
    put(root, "template_tokens", tt, &failed);
    if (pj->other) {
        json_error_t err;
        json_t *other = json_loads(pj->other, 0, &err);
        if ((!json_is_object(other) || json_object_update_missing(root, other)) && !failed) failed = "(other keys)";
        json_decref(other);
    }
    if (pj->has_probe) put(root, "probe", probe_object(pj, &failed), &failed);
    int rc = failed ? px_error("%s: cannot build field %s (out of memory, or a string that is not UTF-8)", path, failed)
                    : atomic_write(path, write_body, root);
    json_decref(root);
    return rc;
}

int proact_json_set_probe(const char *from, const char *to, const Probe *p, const ProbeFitInfo *fit) {
    ProactJson pj;
    if (proact_json_read(from, &pj)) return -1;
    probe_free(&pj.probe);
    fit_free(&pj.fit);
    pj.probe = *p; /* lent: not freed below */
    pj.has_probe = 1;
    pj.has_fit = fit != NULL;
    if (fit) pj.fit = *fit;
    int rc = proact_json_write(to, &pj);
    memset(&pj.probe, 0, sizeof pj.probe);
    memset(&pj.fit, 0, sizeof pj.fit);
    proact_json_free(&pj);
    return rc;
}
