/* sacre_vectors.h — reading sacreBLEU 2.6.0's expected values (tests/data/metrics/sacrebleu/
 * expected.json, made by generate.py there) and the text files they were computed on, for
 * test_bleu.c, test_chrf.c and test_ter.c. Static functions: each test includes it once. */
#ifndef PROACT_TEST_SACRE_VECTORS_H
#define PROACT_TEST_SACRE_VECTORS_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SACRE_DATA PROACT_SOURCE_DIR "/tests/data/metrics/"

typedef struct {
    char *text;
    char **lines;
    int n;
} SacreLines;

/* A file as sacreBLEU's command line reads it: lines split on '\n' (a final newline adds none),
 * each rstripped of ASCII whitespace (the files hold no other trailing whitespace). */
static void sacre_read_lines(const char *rel, SacreLines *l) {
    char path[4096];
    snprintf(path, sizeof path, SACRE_DATA "%s", rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    l->text = malloc((size_t)sz + 1);
    assert_non_null(l->text);
    assert_int_equal(fread(l->text, 1, (size_t)sz, f), (size_t)sz);
    l->text[sz] = '\0';
    fclose(f);
    l->n = 0;
    for (long i = 0; i < sz; i++) l->n += l->text[i] == '\n';
    if (sz > 0 && l->text[sz - 1] != '\n') l->n++;
    l->lines = calloc((size_t)l->n + 1, sizeof *l->lines);
    assert_non_null(l->lines);
    char *p = l->text;
    for (int k = 0; k < l->n; k++) {
        l->lines[k] = p;
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t len = strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r')) p[--len] = '\0';
        p = nl ? nl + 1 : p + len;
    }
}

static void sacre_free_lines(SacreLines *l) {
    free(l->text);
    free(l->lines);
}

/* One set of expected.json: its hypotheses and references (refs[k] = the k-th reference file). */
typedef struct {
    const char *name;
    json_t *v; /* the set's object (borrowed) */
    SacreLines hyp, refs[8];
    const char *const *ref_streams[8];
    int nrefs;
} SacreSet;

static json_t *sacre_load(void) {
    json_error_t err;
    json_t *root = json_load_file(SACRE_DATA "sacrebleu/expected.json", 0, &err);
    if (!root) fail_msg("expected.json:%d: %s", err.line, err.text);
    return root;
}

static void sacre_set_open(SacreSet *s, const char *name, json_t *v) {
    memset(s, 0, sizeof *s);
    s->name = name;
    s->v = v;
    sacre_read_lines(json_string_value(json_object_get(v, "hyp")), &s->hyp);
    json_t *refs = json_object_get(v, "refs");
    s->nrefs = (int)json_array_size(refs);
    assert_true(s->nrefs >= 1 && s->nrefs <= 8);
    for (int k = 0; k < s->nrefs; k++) {
        sacre_read_lines(json_string_value(json_array_get(refs, (size_t)k)), &s->refs[k]);
        assert_int_equal(s->refs[k].n, s->hyp.n);
        s->ref_streams[k] = (const char *const *)s->refs[k].lines;
    }
}

static void sacre_set_close(SacreSet *s) {
    sacre_free_lines(&s->hyp);
    for (int k = 0; k < s->nrefs; k++) sacre_free_lines(&s->refs[k]);
}

static double sacre_num(json_t *o, const char *key) {
    json_t *x = json_object_get(o, key);
    assert_true(json_is_number(x));
    return json_number_value(x);
}

static int sacre_bool(json_t *o, const char *key) {
    json_t *x = json_object_get(o, key);
    assert_true(json_is_boolean(x));
    return json_is_true(x);
}

#endif
