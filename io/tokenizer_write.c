/* tokenizer_write.c — BpeResult -> tokenizer.json, and a tokenizer.json's merges in the other
 * form (see tokenizer_write.h).
 * Recipe: build (or read) the document as a jansson tree (insertion order = key order), then
 * print it with a small pretty-printer that keeps arrays of scalars on one line, straight into
 * the temporary file of atomic_write. */
#include "io/tokenizer_write.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/tokenizer_json.h"
#include "src/base/common.h"

/* ---- building the tree -------------------------------------------------------------------- */

/* Sets obj[key] = value, taking the reference (also on failure, as json_object_set_new does);
 * returns 0, or -1 (value NULL or no memory). */
static int put(json_t *obj, const char *key, json_t *value) {
    return value ? json_object_set_new(obj, key, value) : -1;
}

static json_t *byte_level(void) {
    json_t *o = json_object();
    if (!o || put(o, "type", json_string("ByteLevel")) || put(o, "add_prefix_space", json_false()) ||
        put(o, "trim_offsets", json_false()) || put(o, "use_regex", json_false())) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *added_tokens(const BpeResult *r) {
    json_t *a = json_array();
    for (int i = 0; a && i < r->n_special; i++) {
        json_t *t = json_object();
        if (!t || put(t, "id", json_integer(i)) || put(t, "content", json_string(r->tokens[i])) ||
            put(t, "single_word", json_false()) || put(t, "lstrip", json_false()) || put(t, "rstrip", json_false()) ||
            put(t, "normalized", json_false()) || put(t, "special", json_true())) {
            json_decref(t);
            json_decref(a);
            return NULL;
        }
        if (json_array_append_new(a, t)) { /* takes t, also on failure */
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *pre_tokenizer(void) {
    json_t *seq = json_object(), *list = json_array(), *split = json_object(), *pattern = json_object();
    int bad = !seq || !list || !split || !pattern;
    if (!bad) bad = put(pattern, "Regex", json_string(BPE_SPLIT_REGEX)) || put(split, "type", json_string("Split"));
    if (!bad) {
        bad = put(split, "pattern", pattern);
        pattern = NULL;
    }
    if (!bad) bad = put(split, "behavior", json_string("Isolated")) || put(split, "invert", json_false());
    if (!bad) {
        bad = json_array_append_new(list, split);
        split = NULL;
    }
    if (!bad) bad = json_array_append_new(list, byte_level()); /* NULL -> -1 */
    if (!bad) bad = put(seq, "type", json_string("Sequence"));
    if (!bad) {
        bad = put(seq, "pretokenizers", list);
        list = NULL;
    }
    json_decref(pattern);
    json_decref(split);
    json_decref(list);
    if (bad) {
        json_decref(seq);
        return NULL;
    }
    return seq;
}

/* The BPE model; -1 with px_error on a duplicate token or a merge id out of range. */
static int add_model(json_t *root, const BpeResult *r, const char *path) {
    json_t *m = json_object(), *vocab = json_object(), *merges = json_array();
    int rc = -1;
    if (!m || !vocab || !merges) goto oom;
    if (put(m, "type", json_string("BPE")) || put(m, "dropout", json_null()) || put(m, "unk_token", json_null()) ||
        put(m, "continuing_subword_prefix", json_string("")) || put(m, "end_of_word_suffix", json_string("")) ||
        put(m, "fuse_unk", json_false()) || put(m, "byte_fallback", json_false()) ||
        put(m, "ignore_merges", json_false()))
        goto oom;
    for (int i = 0; i < r->n_tokens; i++) {
        if (json_object_get(vocab, r->tokens[i])) {
            rc = px_error("%s: token '%s' (id %d) occurs twice in the vocabulary", path, r->tokens[i], i);
            goto done;
        }
        if (put(vocab, r->tokens[i], json_integer(i))) goto oom;
    }
    for (int k = 0; k < r->n_merges; k++) {
        int32_t a = r->merges[2 * k], b = r->merges[2 * k + 1];
        if (a < 0 || b < 0 || a >= r->n_tokens || b >= r->n_tokens) {
            rc = px_error("%s: merge %d refers to id %d, outside the vocabulary of %d", path, k,
                          a < 0 || a >= r->n_tokens ? a : b, r->n_tokens);
            goto done;
        }
        json_t *pair = json_array();
        if (!pair || json_array_append_new(pair, json_string(r->tokens[a])) ||
            json_array_append_new(pair, json_string(r->tokens[b]))) {
            json_decref(pair);
            goto oom;
        }
        if (json_array_append_new(merges, pair)) goto oom; /* takes pair, also on failure */
    }
    rc = put(m, "vocab", vocab);
    vocab = NULL;
    if (rc == 0) rc = put(m, "merges", merges);
    merges = NULL;
    if (rc == 0) rc = put(root, "model", m);
    m = NULL;
    if (rc) goto oom;
    goto done;
oom:
    rc = px_error("%s: out of memory building tokenizer.json", path);
done:
    json_decref(merges);
    json_decref(vocab);
    json_decref(m);
    return rc;
}

static json_t *build(const BpeResult *r, const char *path) {
    json_t *root = json_object();
    if (!root || put(root, "version", json_string("1.0")) || put(root, "truncation", json_null()) ||
        put(root, "padding", json_null()) || put(root, "added_tokens", added_tokens(r))) {
        json_decref(root);
        px_error("%s: out of memory building tokenizer.json", path);
        return NULL;
    }
    json_t *norm = json_object();
    if (norm && put(norm, "type", json_string("NFC"))) {
        json_decref(norm);
        norm = NULL;
    }
    if (put(root, "normalizer", norm)) { /* takes norm, also on failure */
        json_decref(root);
        px_error("%s: out of memory building tokenizer.json", path);
        return NULL;
    }
    if (put(root, "pre_tokenizer", pre_tokenizer()) || put(root, "post_processor", byte_level()) ||
        put(root, "decoder", byte_level())) {
        json_decref(root);
        px_error("%s: out of memory building tokenizer.json", path);
        return NULL;
    }
    if (add_model(root, r, path)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- printing ----------------------------------------------------------------------------- */

static int is_scalar(const json_t *v) { return !json_is_object(v) && !json_is_array(v); }

static int indent(FILE *fp, int n) {
    for (int i = 0; i < n; i++)
        if (fputc(' ', fp) == EOF) return -1;
    return 0;
}

/* Scalars and strings in jansson's encoding (UTF-8 kept, no escaped slashes). */
static int print_scalar(FILE *fp, const json_t *v) { return json_dumpf(v, fp, JSON_ENCODE_ANY); }

/* Pretty (depth >= 0): two-space indentation, arrays of scalars on one line. Compact (depth < 0):
 * no whitespace at all. */
static int print_value(FILE *fp, const json_t *v, int depth) {
    const int pretty = depth >= 0;
    if (json_is_object(v)) {
        if (json_object_size(v) == 0) return fputs("{}", fp) == EOF ? -1 : 0;
        if (fputs(pretty ? "{\n" : "{", fp) == EOF) return -1;
        const char *key;
        json_t *val;
        size_t i = 0, n = json_object_size(v);
        json_object_foreach((json_t *)v, key, val) {
            json_t *k = json_string(key);
            const char *sep = ++i < n ? (pretty ? ",\n" : ",") : (pretty ? "\n" : "");
            int bad = !k || (pretty && indent(fp, 2 * (depth + 1))) || print_scalar(fp, k) ||
                      fputs(pretty ? ": " : ":", fp) == EOF || print_value(fp, val, pretty ? depth + 1 : -1) ||
                      fputs(sep, fp) == EOF;
            json_decref(k);
            if (bad) return -1;
        }
        return (pretty && indent(fp, 2 * depth)) || fputc('}', fp) == EOF ? -1 : 0;
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n == 0) return fputs("[]", fp) == EOF ? -1 : 0;
        int flat = 1; /* all on one line: compact, or pretty with scalars only */
        for (size_t i = 0; i < n && flat && pretty; i++) flat = is_scalar(json_array_get(v, i));
        if (fputs(flat ? "[" : "[\n", fp) == EOF) return -1;
        for (size_t i = 0; i < n; i++) {
            if (!flat && indent(fp, 2 * (depth + 1))) return -1;
            if (print_value(fp, json_array_get(v, i), pretty ? depth + 1 : -1)) return -1;
            if (i + 1 < n && fputs(!pretty ? "," : flat ? ", " : ",\n", fp) == EOF) return -1;
        }
        if (!flat && (fputc('\n', fp) == EOF || indent(fp, 2 * depth))) return -1;
        return fputc(']', fp) == EOF ? -1 : 0;
    }
    return print_scalar(fp, v);
}

typedef struct {
    const json_t *root;
    int compact;
} Doc;

static int write_body(FILE *fp, void *ctx) {
    const Doc *d = ctx;
    if (print_value(fp, d->root, d->compact ? -1 : 0) || fputc('\n', fp) == EOF) {
        if (errno == 0) errno = EIO;
        return -1;
    }
    return 0;
}

int tokenizer_write_json(const char *path, const BpeResult *r, int compact) {
    if (r->n_special > r->n_tokens)
        return px_error("%s: %d special tokens but %d tokens", path, r->n_special, r->n_tokens);
    json_t *root = build(r, path);
    if (!root) return -1;
    Doc d = {root, compact};
    int rc = atomic_write(path, write_body, &d);
    json_decref(root);
    return rc;
}

/* ---- merges in the other form ------------------------------------------------------------- */

/* Merge i in the requested form (a new reference), or NULL with px_error. */
static json_t *merge_in_form(const char *path, const json_t *m, size_t i, TokenizerMerges form) {
    const char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    if (tokenizer_json_merge(path, m, i, &a, &alen, &b, &blen)) return NULL;
    if (form == TOKENIZER_MERGES_PAIRS) {
        json_t *pair = json_array();
        if (!pair || json_array_append_new(pair, json_stringn(a, alen)) ||
            json_array_append_new(pair, json_stringn(b, blen))) {
            json_decref(pair);
            px_error("%s: out of memory rewriting the merges", path);
            return NULL;
        }
        return pair;
    }
    if (memchr(a, ' ', alen) || memchr(b, ' ', blen)) {
        px_error("%s: merge %zu ('%.*s' + '%.*s') has a token with a space: it cannot be written as an \"a b\" "
                 "string (use pairs)",
                 path, i, (int)(alen > 40 ? 40 : alen), a, (int)(blen > 40 ? 40 : blen), b);
        return NULL;
    }
    char *s = malloc(alen + blen + 2);
    if (!s) {
        px_error("%s: out of memory rewriting the merges", path);
        return NULL;
    }
    memcpy(s, a, alen);
    s[alen] = ' ';
    memcpy(s + alen + 1, b, blen);
    json_t *str = json_stringn(s, alen + blen + 1);
    free(s);
    if (!str) px_error("%s: out of memory rewriting the merges", path);
    return str;
}

int tokenizer_rewrite_merges(const char *from, const char *to, TokenizerMerges form) {
    json_error_t err;
    json_t *root = json_load_file(from, JSON_ALLOW_NUL, &err);
    if (!root) return px_error("%s: not valid JSON (line %d: %s)", from, err.line, err.text);
    json_t *model = json_object_get(root, "model"), *merges = json_object_get(model, "merges");
    int rc = 0;
    if (!json_is_object(model) || !json_is_array(merges))
        rc = px_error("%s: no model.merges array: not a BPE tokenizer.json", from);
    for (size_t i = 0; rc == 0 && i < json_array_size(merges); i++) {
        json_t *m = merge_in_form(from, json_array_get(merges, i), i, form);
        if (!m || json_array_set_new(merges, i, m)) rc = m ? px_error("%s: out of memory", from) : -1;
    }
    if (rc == 0) {
        Doc d = {root, 0};
        rc = atomic_write(to, write_body, &d);
    }
    json_decref(root);
    return rc;
}
