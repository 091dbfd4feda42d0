/* stream_model.c — open an exported model directory for streaming (stream_model.h). */
#include "io/stream_model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/hf_model.h"
#include "io/tokenizer_json.h"
#include "src/base/common.h"

/* An array of token ids inside the vocabulary -> span (malloc'ed). */
static int read_ids(const char *path, json_t *obj, const char *key, int vocab, IdVec *out) {
    json_t *a = json_object_get(obj, key);
    if (!json_is_array(a)) return px_error("%s: template_tokens.%s must be an array of token ids", path, key);
    size_t n = json_array_size(a);
    out->ids = px_calloc(n ? n : 1, sizeof(int), "template tokens");
    if (!out->ids) return -1;
    out->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab)
            return px_error("%s: template_tokens.%s[%zu] is not a token id of the model (vocabulary %d)", path, key, i,
                            vocab);
        out->ids[i] = (int)json_integer_value(v);
    }
    return 0;
}

static int read_string(const char *path, json_t *root, const char *key, char *out, size_t size, const char *dflt) {
    json_t *v = json_object_get(root, key);
    if (!v) {
        snprintf(out, size, "%s", dflt);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= size)
        return px_error("%s: field %s must be a string of fewer than %zu bytes", path, key, size);
    snprintf(out, size, "%s", json_string_value(v));
    return 0;
}

/* probe.weights / mean / scale: arrays of dim finite numbers. */
static int read_floats(const char *path, json_t *probe, const char *key, int dim, float **out) {
    json_t *a = json_object_get(probe, key);
    if (!json_is_array(a) || (int)json_array_size(a) != dim)
        return px_error("%s: probe.%s must be an array of %d numbers (hidden size + 3)", path, key, dim);
    *out = px_calloc((size_t)dim, sizeof(float), "the probe");
    if (!*out) return -1;
    for (int i = 0; i < dim; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return px_error("%s: probe.%s[%d] is not a finite number", path, key, i);
        (*out)[i] = (float)json_number_value(v);
    }
    return 0;
}

static int read_probe(const char *path, json_t *probe, int hidden, Probe *p) {
    if (!json_is_object(probe)) return px_error("%s: field probe must be an object", path);
    p->dim = hidden + 3;
    json_t *b = json_object_get(probe, "bias"), *w = json_object_get(probe, "attn_window");
    if (!json_is_number(b) || !isfinite(json_number_value(b)))
        return px_error("%s: probe.bias must be a finite number", path);
    p->bias = (float)json_number_value(b);
    p->attn_window = json_is_integer(w) ? (int)json_integer_value(w) : 4;
    if (p->attn_window < 1) return px_error("%s: probe.attn_window must be at least 1", path);
    if (read_floats(path, probe, "weights", p->dim, &p->w) || read_floats(path, probe, "mean", p->dim, &p->mean) ||
        read_floats(path, probe, "scale", p->dim, &p->scale))
        return -1;
    for (int i = 0; i < p->dim; i++)
        if (!(p->scale[i] > 0)) return px_error("%s: probe.scale[%d] must be positive", path, i);
    return 0;
}

static int read_proact_json(const char *dir, StreamModel *sm) {
    char path[PX_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/proact.json", dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f) return px_error("%s: cannot open (a streaming model directory needs proact.json: see proact export)", path);
        fclose(f);
        return px_error("%s:%d:%d: %s", path, err.line, err.column, err.text);
    }
    int rc = -1;
    const int V = sm->model.cfg.vocab_size;
    json_t *tt = json_object_get(root, "template_tokens"), *phi = json_object_get(root, "phi");
    if (!json_is_object(root) || !json_is_object(tt)) {
        px_error("%s: field template_tokens (an object) is missing", path);
        goto done;
    }
    TemplatePieces *tp = &sm->format.tp;
    if (read_ids(path, tt, "prompt", V, &tp->prompt) || read_ids(path, tt, "src_end", V, &tp->src_end) ||
        read_ids(path, tt, "tgt_begin", V, &tp->tgt_begin) || read_ids(path, tt, "tgt_end", V, &tp->tgt_end))
        goto done;
    if (tp->tgt_begin.n == 0 || tp->tgt_end.n == 0) {
        px_error("%s: template_tokens.tgt_begin and tgt_end must not be empty", path);
        goto done;
    }
    if (phi && (!json_is_integer(phi) || json_integer_value(phi) < 0 || json_integer_value(phi) > 1000000)) {
        px_error("%s: field phi must be a non-negative integer", path);
        goto done;
    }
    sm->format.phi = phi ? (int)json_integer_value(phi) : 0;
    if (read_string(path, root, "src_lang", sm->src_lang, sizeof sm->src_lang, "source") ||
        read_string(path, root, "tgt_lang", sm->tgt_lang, sizeof sm->tgt_lang, "target") ||
        read_string(path, root, "default_head", sm->default_head, sizeof sm->default_head, "waitk:3") ||
        read_string(path, root, "template", sm->template_name, sizeof sm->template_name, "plain"))
        goto done;
    json_t *probe = json_object_get(root, "probe");
    if (probe && !json_is_null(probe)) {
        if (read_probe(path, probe, sm->model.cfg.hidden_size, &sm->probe)) goto done;
        sm->has_probe = 1;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int stream_model_load(const char *dir, StreamModel *sm) {
    memset(sm, 0, sizeof *sm);
    snprintf(sm->dir, sizeof sm->dir, "%s", dir);
    char path[PX_PATH_MAX + 32];
    if (hf_load_model(dir, &sm->model)) return -1;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (tokenizer_load(path, &sm->tokenizer) || read_proact_json(dir, sm)) {
        stream_model_free(sm);
        return -1;
    }
    if (tokenizer_vocab_size(sm->tokenizer) > sm->model.cfg.vocab_size) {
        px_error("%s: the tokenizer has %d tokens but the model only %d", path, tokenizer_vocab_size(sm->tokenizer),
                 sm->model.cfg.vocab_size);
        stream_model_free(sm);
        return -1;
    }
    return 0;
}

void stream_model_free(StreamModel *sm) {
    model_free(&sm->model);
    if (sm->tokenizer) tokenizer_free(sm->tokenizer);
    TemplatePieces *tp = &sm->format.tp;
    free(tp->prompt.ids);
    free(tp->src_end.ids);
    free(tp->tgt_begin.ids);
    free(tp->tgt_end.ids);
    probe_free(&sm->probe);
    memset(sm, 0, sizeof *sm);
}

int stream_model_head(const StreamModel *sm, const char *spec, HeadSpec *out) {
    if (head_parse(spec, out)) return -1;
    if (out->kind == HEAD_PROBE && !sm->has_probe)
        return px_error("decision head '%s' needs a probe, and %s has none: run proact probe --model %s first", spec,
                        sm->dir, sm->dir);
    return 0;
}

static json_t *float_array(const float *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_real(v[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* proact.json's text: indented, then a newline */
static int write_json_body(FILE *fp, void *root) {
    if (json_dumpf(root, fp, JSON_INDENT(2) | JSON_REAL_PRECISION(9))) return -1;
    return fputc('\n', fp) == EOF ? -1 : 0;
}

int stream_model_write_probe(const char *dir, const Probe *p, const ProbeFitInfo *info) {
    char path[PX_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/proact.json", dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) return px_error("%s:%d: %s", path, err.line, err.text);
    json_t *probe = json_pack("{s:o?, s:o?, s:o?, s:f, s:i, s:{s:s, s:s, s:I, s:I, s:f, s:f, s:i, s:f, s:f, s:f, s:f, s:i}}",
                              "weights", float_array(p->w, p->dim), "mean", float_array(p->mean, p->dim), "scale",
                              float_array(p->scale, p->dim), "bias", (double)p->bias, "attn_window", p->attn_window,
                              "fit", "method", "logistic regression (IRLS, ScaLAPACK)", "data", info->data,
                              "samples", (json_int_t)info->samples, "holdout", (json_int_t)info->holdout, "lambda",
                              info->lambda, "positive_rate", info->positive_rate, "iterations", info->iterations,
                              "train_accuracy", info->train_accuracy, "holdout_accuracy", info->holdout_accuracy,
                              "ridge_train_accuracy", info->ridge_train_accuracy, "ridge_holdout_accuracy",
                              info->ridge_holdout_accuracy, "ranks", info->ranks);
    int rc = 0;
    if (!json_is_object(root)) rc = px_error("%s: not a JSON object", path);
    else if (!probe || !json_object_get(probe, "weights") || !json_object_get(probe, "mean") ||
             !json_object_get(probe, "scale"))
        rc = px_error("%s: out of memory building the probe", path);
    else {
        int bad = json_object_set_new(root, "probe", probe); /* takes probe, also when it fails */
        probe = NULL;
        if (bad) rc = px_error("%s: out of memory building the probe", path);
    }
    if (rc == 0) rc = atomic_write(path, write_json_body, root);
    json_decref(probe);
    json_decref(root);
    return rc;
}
