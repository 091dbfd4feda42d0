/* tokenizer_json.c — reads a Hugging Face tokenizer.json (jansson) into a Tokenizer.
 *
 * Recipe: parse → check it is a tokenizer file → model (BPE: vocab, merges, flags) →
 * normalizer → pre_tokenizer → decoder → added_tokens → tokenizer_finish. Every component the
 * encoder cannot reproduce exactly is refused with an error naming it and its field.
 * post_processor, truncation and padding are ignored: they only add special tokens or cut
 * sequences, which tokenizer_encode never does (add_special_tokens=False).
 */
#include "io/tokenizer_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "src/base/common.h"

/* The member `key` of object o, or NULL if absent or null. */
static json_t *member(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

/* An optional boolean member (absent or null: def). */
static int get_bool(const char *path, json_t *o, const char *key, const char *field, int def, int *out) {
    json_t *v = member(o, key);
    if (!v) return *out = def, 0;
    if (!json_is_boolean(v)) return px_error("%s: field %s.%s must be true or false", path, field, key);
    *out = json_is_true(v);
    return 0;
}

/* The "type" string of a component, or an error naming the field. */
static const char *get_type(const char *path, json_t *o, const char *field) {
    json_t *v = json_is_object(o) ? member(o, "type") : NULL;
    if (!json_is_string(v)) {
        px_error("%s: %s has no \"type\" string (field %s.type)", path, field, field);
        return NULL;
    }
    return json_string_value(v);
}

/* A member that must be absent, null, false, 0 or "": anything else is unsupported. */
static int must_be_empty(const char *path, json_t *model, const char *key) {
    json_t *v = member(model, key);
    int empty = !v || json_is_false(v) || (json_is_number(v) && json_number_value(v) == 0) ||
                (json_is_string(v) && json_string_length(v) == 0);
    if (empty) return 0;
    char shown[64] = "a value";
    if (json_is_string(v)) snprintf(shown, sizeof shown, "'%.40s'", json_string_value(v));
    else if (json_is_true(v)) snprintf(shown, sizeof shown, "true");
    else if (json_is_number(v)) snprintf(shown, sizeof shown, "%g", json_number_value(v));
    return px_error("%s: unsupported model.%s %s (field model.%s)", path, key, shown, key);
}

/* ───────────── model ───────────── */

static int read_vocab(const char *path, json_t *model, Tokenizer *t) {
    json_t *vocab = member(model, "vocab");
    if (!json_is_object(vocab)) return px_error("%s: field model.vocab must be an object of token -> id", path);
    for (void *it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return px_error("%s: field model.vocab['%.60s'] must be a non-negative integer id", path, key);
        if (tokenizer_add_vocab(t, key, json_object_iter_key_len(it), (int)json_integer_value(v))) return -1;
    }
    return 0;
}

int tokenizer_json_merge(const char *path, const json_t *m, size_t i, const char **a, size_t *alen, const char **b,
                         size_t *blen) {
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        size_t len = json_string_length(m);
        if (!sp || sp == s || sp + 1 == s + len || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
            return px_error("%s: merge '%.60s' is not two tokens separated by one space (field model.merges[%zu])",
                            path, s, i);
        *a = s, *alen = (size_t)(sp - s), *b = sp + 1, *blen = len - (size_t)(sp + 1 - s);
        return 0;
    }
    const json_t *x = json_array_get(m, 0), *y = json_array_get(m, 1);
    if (!json_is_array(m) || json_array_size(m) != 2 || !json_is_string(x) || !json_is_string(y))
        return px_error("%s: field model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", path, i);
    *a = json_string_value(x), *alen = json_string_length(x), *b = json_string_value(y), *blen = json_string_length(y);
    return 0;
}

static int read_merge(const char *path, json_t *m, size_t i, Tokenizer *t) {
    const char *a, *b;
    size_t alen, blen;
    return tokenizer_json_merge(path, m, i, &a, &alen, &b, &blen) ? -1 : tokenizer_add_merge(t, a, alen, b, blen);
}

static int read_model(const char *path, json_t *model, Tokenizer *t) {
    const char *type = get_type(path, model, "model");
    if (!type) return -1;
    if (strcmp(type, "BPE") != 0) return px_error("%s: unsupported model type '%s' (field model.type)", path, type);
    if (must_be_empty(path, model, "dropout") || must_be_empty(path, model, "byte_fallback") ||
        must_be_empty(path, model, "continuing_subword_prefix") || must_be_empty(path, model, "end_of_word_suffix"))
        return -1;
    json_t *unk = member(model, "unk_token");
    if (unk && !json_is_string(unk)) return px_error("%s: field model.unk_token must be a string or null", path);
    if (unk && must_be_empty(path, model, "fuse_unk")) return -1;
    int ignore_merges;
    if (get_bool(path, model, "ignore_merges", "model", 0, &ignore_merges) || read_vocab(path, model, t)) return -1;
    tokenizer_set_ignore_merges(t, ignore_merges);
    if (unk && tokenizer_set_unk_token(t, json_string_value(unk), json_string_length(unk))) return -1;
    json_t *merges = member(model, "merges");
    if (merges && !json_is_array(merges)) return px_error("%s: field model.merges must be an array", path);
    for (size_t i = 0; i < json_array_size(merges); i++)
        if (read_merge(path, json_array_get(merges, i), i, t)) return -1;
    return 0;
}

/* ───────────── normalizer, pre-tokenizer, decoder ───────────── */

/* null, NFC, or a Sequence of those (NFC twice is NFC once). */
static int read_normalizer(const char *path, json_t *n, const char *field, int *nfc) {
    if (!n) return 0;
    const char *type = get_type(path, n, field);
    if (!type) return -1;
    if (strcmp(type, "NFC") == 0) return *nfc = 1, 0;
    if (strcmp(type, "Sequence") != 0)
        return px_error("%s: unsupported normalizer '%s' (field %s.type)", path, type, field);
    json_t *list = member(n, "normalizers");
    if (list && !json_is_array(list)) return px_error("%s: field %s.normalizers must be an array", path, field);
    for (size_t i = 0; i < json_array_size(list); i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s.normalizers[%zu]", field, i);
        json_t *el = json_array_get(list, i);
        if (read_normalizer(path, json_is_null(el) ? NULL : el, sub, nfc)) return -1; /* null: no step */
    }
    return 0;
}

static int read_byte_level(const char *path, json_t *p, const char *field, Tokenizer *t) {
    int prefix, use_regex; /* defaults as in tokenizers.js */
    if (get_bool(path, p, "add_prefix_space", field, 0, &prefix) ||
        get_bool(path, p, "use_regex", field, 1, &use_regex))
        return -1;
    tokenizer_set_byte_level(t, prefix, use_regex);
    return 0;
}

static int read_split(const char *path, json_t *p, const char *field, Tokenizer *t) {
    json_t *pat = member(p, "pattern"), *behavior = member(p, "behavior");
    json_t *regex = json_is_object(pat) ? member(pat, "Regex") : NULL;
    json_t *literal = json_is_object(pat) ? member(pat, "String") : NULL;
    json_t *s = regex ? regex : literal;
    if (!json_is_string(s))
        return px_error("%s: field %s.pattern must be {\"Regex\": ...} or {\"String\": ...}", path, field);
    if (!json_is_string(behavior) || strcmp(json_string_value(behavior), "Isolated") != 0)
        return px_error("%s: unsupported Split behavior '%s' (field %s.behavior)", path,
                        json_is_string(behavior) ? json_string_value(behavior) : "(none)", field);
    int invert;
    if (get_bool(path, p, "invert", field, 0, &invert)) return -1;
    if (invert) return px_error("%s: unsupported Split invert true (field %s.invert)", path, field);
    char pfield[160];
    snprintf(pfield, sizeof pfield, "%s.pattern.%s", field, regex ? "Regex" : "String");
    return tokenizer_add_split(t, json_string_value(s), json_string_length(s), regex != NULL, pfield);
}

/* ByteLevel, or a Sequence of Split steps ending with ByteLevel. */
static int read_pre_tokenizer(const char *path, json_t *p, Tokenizer *t) {
    if (!p)
        return px_error("%s: unsupported pre_tokenizer null (byte-level BPE needs ByteLevel; field pre_tokenizer)",
                        path);
    const char *type = get_type(path, p, "pre_tokenizer");
    if (!type) return -1;
    if (strcmp(type, "ByteLevel") == 0) return read_byte_level(path, p, "pre_tokenizer", t);
    if (strcmp(type, "Sequence") != 0)
        return px_error("%s: unsupported pre_tokenizer '%s' (field pre_tokenizer.type)", path, type);
    json_t *list = member(p, "pretokenizers");
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0)
        return px_error("%s: field pre_tokenizer.pretokenizers must be a non-empty array", path);
    for (size_t i = 0; i < n; i++) {
        char field[96];
        snprintf(field, sizeof field, "pre_tokenizer.pretokenizers[%zu]", i);
        json_t *step = json_array_get(list, i);
        const char *st = get_type(path, step, field);
        if (!st) return -1;
        int last = i + 1 == n, is_split = strcmp(st, "Split") == 0, is_bl = strcmp(st, "ByteLevel") == 0;
        if (!is_split && !is_bl) return px_error("%s: unsupported pre_tokenizer '%s' (field %s.type)", path, st, field);
        if (is_bl != last)
            return px_error("%s: unsupported pre_tokenizer Sequence: ByteLevel must be its last step (field %s.type)",
                            path, field);
        if (is_split ? read_split(path, step, field, t) : read_byte_level(path, step, field, t)) return -1;
    }
    return 0;
}

static int check_decoder(const char *path, json_t *d) {
    if (!d) return px_error("%s: unsupported decoder null (field decoder)", path);
    const char *type = get_type(path, d, "decoder");
    if (!type) return -1;
    if (strcmp(type, "ByteLevel") != 0)
        return px_error("%s: unsupported decoder '%s' (field decoder.type)", path, type);
    return 0;
}

/* ───────────── added tokens ───────────── */

static int read_added_token(const char *path, json_t *a, size_t i, Tokenizer *t) {
    char field[64];
    snprintf(field, sizeof field, "added_tokens[%zu]", i);
    json_t *id = member(a, "id"), *content = member(a, "content");
    if (!json_is_object(a) || !json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > INT32_MAX)
        return px_error("%s: field %s.id must be a non-negative integer", path, field);
    if (!json_is_string(content)) return px_error("%s: field %s.content must be a string", path, field);
    TokenizerAddedToken tok = {
        .content = json_string_value(content), .len = json_string_length(content), .id = (int)json_integer_value(id)};
    if (get_bool(path, a, "single_word", field, 0, &tok.single_word) ||
        get_bool(path, a, "lstrip", field, 0, &tok.lstrip) || get_bool(path, a, "rstrip", field, 0, &tok.rstrip) ||
        get_bool(path, a, "special", field, 0, &tok.special) ||
        get_bool(path, a, "normalized", field, !tok.special, &tok.normalized)) /* default: not special */
        return -1;
    return tokenizer_add_added_token(t, &tok);
}

static int read_added_tokens(const char *path, json_t *root, Tokenizer *t) {
    json_t *list = member(root, "added_tokens");
    if (list && !json_is_array(list)) return px_error("%s: field added_tokens must be an array", path);
    for (size_t i = 0; i < json_array_size(list); i++)
        if (read_added_token(path, json_array_get(list, i), i, t)) return -1;
    return 0;
}

/* ───────────── the file ───────────── */

static json_t *parse_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        px_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    json_error_t err;
    json_t *root = json_loadf(fp, JSON_ALLOW_NUL, &err);
    int read_failed = ferror(fp);
    fclose(fp);
    if (read_failed) px_error("%s: read error", path);
    else if (!root) px_error("%s: not a tokenizer.json: not valid JSON (line %d: %s)", path, err.line, err.text);
    if (read_failed) json_decref(root);
    return read_failed ? NULL : root;
}

static int check_is_tokenizer(const char *path, json_t *root) {
    if (json_is_object(root) && json_is_object(member(root, "model"))) return 0;
    int config = json_is_object(root) && (member(root, "architectures") || member(root, "model_type"));
    return px_error("%s: not a tokenizer.json (no \"model\" object)%s", path,
                    config ? "; it looks like a model config.json" : "");
}

int tokenizer_load(const char *path, Tokenizer **out) {
    *out = NULL;
    json_t *root = parse_file(path);
    if (!root) return -1;
    Tokenizer *t = NULL;
    int nfc = 0, rc = check_is_tokenizer(path, root);
    if (rc == 0 && !(t = tokenizer_new(path))) rc = -1;
    if (rc == 0)
        rc = read_model(path, member(root, "model"), t) ||
             read_normalizer(path, member(root, "normalizer"), "normalizer", &nfc) ||
             read_pre_tokenizer(path, member(root, "pre_tokenizer"), t) ||
             check_decoder(path, member(root, "decoder")) || read_added_tokens(path, root, t);
    if (rc == 0) {
        tokenizer_set_nfc(t, nfc);
        rc = tokenizer_finish(t);
    }
    json_decref(root);
    if (rc) {
        tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
