/* test_bleu.c — BLEU and chrF against sacreBLEU 2.6.0 reference values.
 *
 * For every folder in tests/data/metrics/bleu (hyp.txt, ref.txt, expected.json): corpus BLEU
 * for every "bleu tok=T lowercase=L" entry (score, bp to 1e-6; counts, totals, lengths exact;
 * signature string exact), chrF2 and chrF++ to 1e-6, and sentence BLEU (13a, effective order)
 * for the first lines. Also tokenizer parsing and small edge cases.
 */
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

#include "src/base/common.h"
#include "src/metrics/bleu.h"

#define DATA PROACT_SOURCE_DIR "/tests/data/metrics/bleu/"

static const char *const SETS[] = {"bible-es-apertium-3000", "bible-es-apertium-first200", "edge-empty-hyps",
                                   "edge-identical", "edge-unicode-punct"};

typedef struct {
    char *text;
    char **lines;
    int n;
} Lines;

/* Reads a file as lines (newline removed; a trailing newline does not add a line). */
static void read_lines(const char *path, Lines *l) {
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
    int cap = 16;
    l->lines = malloc(sizeof(char *) * (size_t)cap);
    l->n = 0;
    char *p = l->text;
    while (*p) {
        if (l->n == cap) {
            cap *= 2;
            l->lines = realloc(l->lines, sizeof(char *) * (size_t)cap);
        }
        l->lines[l->n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
}

static void free_lines(Lines *l) {
    free(l->text);
    free(l->lines);
}

static void check_set(const char *name) {
    char path[PX_PATH_MAX];
    Lines h, r;
    snprintf(path, sizeof path, DATA "%s/hyp.txt", name);
    read_lines(path, &h);
    snprintf(path, sizeof path, DATA "%s/ref.txt", name);
    read_lines(path, &r);
    assert_int_equal(h.n, r.n);
    snprintf(path, sizeof path, DATA "%s/expected.json", name);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    assert_non_null(root);

    const char *key;
    json_t *val;
    int n_bleu = 0;
    json_object_foreach(root, key, val) {
        char tokname[16];
        int lc;
        if (sscanf(key, "bleu tok=%15s lowercase=%d", tokname, &lc) != 2) continue;
        BleuTokenizer tok;
        assert_int_equal(bleu_tokenizer_parse(tokname, &tok), 0);
        BleuResult res;
        assert_int_equal(corpus_bleu((const char *const *)h.lines, (const char *const *)r.lines, h.n, tok, lc, &res),
                         0);
        double want = json_number_value(json_object_get(val, "score"));
        if (fabs(res.score - want) > 1e-6) fail_msg("%s %s: score %.12f want %.12f", name, key, res.score, want);
        for (int k = 0; k < 4; k++) {
            int64_t wc = json_integer_value(json_array_get(json_object_get(val, "counts"), k));
            int64_t wt = json_integer_value(json_array_get(json_object_get(val, "totals"), k));
            if (res.counts[k] != wc || res.totals[k] != wt)
                fail_msg("%s %s: order %d counts %lld/%lld want %lld/%lld", name, key, k + 1, (long long)res.counts[k],
                         (long long)res.totals[k], (long long)wc, (long long)wt);
        }
        assert_int_equal(res.sys_len, json_integer_value(json_object_get(val, "sys_len")));
        assert_int_equal(res.ref_len, json_integer_value(json_object_get(val, "ref_len")));
        assert_true(fabs(res.bp - json_number_value(json_object_get(val, "bp"))) < 1e-6);
        char sig[128];
        bleu_signature(tok, lc, sig, sizeof sig);
        assert_string_equal(sig, json_string_value(json_object_get(val, "signature")));
        n_bleu++;
    }
    assert_int_equal(n_bleu, 8);

    static const struct {
        const char *key;
        int word_order;
    } CHRF[] = {{"chrF2", 0}, {"chrF++", 2}};
    for (int c = 0; c < 2; c++) {
        json_t *e = json_object_get(root, CHRF[c].key);
        assert_non_null(e);
        double s;
        assert_int_equal(
            corpus_chrf((const char *const *)h.lines, (const char *const *)r.lines, h.n, CHRF[c].word_order, &s), 0);
        double want = json_number_value(json_object_get(e, "score"));
        if (fabs(s - want) > 1e-6) fail_msg("%s %s: %.12f want %.12f", name, CHRF[c].key, s, want);
    }

    json_t *sent = json_object_get(root, "sentence_bleu_13a_first50");
    assert_true(json_is_array(sent));
    for (size_t i = 0; i < json_array_size(sent); i++) {
        BleuResult res;
        assert_true((int)i < h.n);
        assert_int_equal(sentence_bleu(h.lines[i], r.lines[i], BLEU_TOK_13A, 0, &res), 0);
        double want = json_number_value(json_array_get(sent, i));
        if (fabs(res.score - want) > 1e-6) fail_msg("%s sentence %zu: %.12f want %.12f", name, i, res.score, want);
    }
    json_decref(root);
    free_lines(&h);
    free_lines(&r);
}

static void test_reference_sets(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++) check_set(SETS[i]);
}

static void test_tokenizer_parse(void **state) {
    (void)state;
    BleuTokenizer t;
    assert_int_equal(bleu_tokenizer_parse("13a", &t), 0);
    assert_int_equal(t, BLEU_TOK_13A);
    assert_int_equal(bleu_tokenizer_parse("char", &t), 0);
    assert_int_equal(t, BLEU_TOK_CHAR);
    assert_int_equal(bleu_tokenizer_parse("zh", &t), -1);
    assert_non_null(strstr(px_error_message(), "zh"));
    char sig[128];
    bleu_signature(BLEU_TOK_INTL, 1, sig, sizeof sig);
    assert_string_equal(sig, "nrefs:1|case:lc|eff:no|tok:intl|smooth:exp|version:2.6.0");
}

static void test_edges(void **state) {
    (void)state;
    BleuResult r;
    const char *e[] = {""};
    const char *x[] = {"a b c d e"};
    assert_int_equal(corpus_bleu(e, x, 1, BLEU_TOK_13A, 0, &r), 0);
    assert_true(r.score == 0.0 && r.sys_len == 0 && r.ref_len == 5 && r.bp == 0.0);
    assert_int_equal(corpus_bleu(x, x, 1, BLEU_TOK_13A, 0, &r), 0);
    assert_true(fabs(r.score - 100.0) < 1e-9);
    assert_int_equal(corpus_bleu(NULL, NULL, 0, BLEU_TOK_13A, 0, &r), 0);
    assert_true(r.score == 0.0);
    double s;
    assert_int_equal(corpus_chrf(e, x, 1, 2, &s), 0);
    assert_true(s == 0.0);
    assert_int_equal(corpus_chrf(x, x, 1, 0, &s), 0);
    assert_true(fabs(s - 100.0) < 1e-9);
    /* 13a: entities, punctuation, decimal numbers, dash after a digit */
    const char *h1[] = {"He said &quot;hi&quot;, 3.5 and 1-2."};
    const char *r1[] = {"He said \" hi \" , 3.5 and 1 - 2 ."};
    assert_int_equal(corpus_bleu(h1, r1, 1, BLEU_TOK_13A, 0, &r), 0);
    assert_true(fabs(r.score - 100.0) < 1e-9);
    assert_int_equal(r.sys_len, 12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer_parse),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_reference_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
