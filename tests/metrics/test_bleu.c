/* test_bleu.c — BLEU and chrF against sacreBLEU 2.6.0 reference values.
 *
 * For every folder in tests/data/metrics/bleu (hyp.txt, ref.txt, expected.json): corpus BLEU
 * for every "bleu tok=T lowercase=L" entry (score, bp to 1e-6; counts, totals, lengths exact;
 * signature string exact), chrF2 and chrF++ to 1e-6, and sentence BLEU (13a, effective order)
 * for the first lines. For every set of tests/data/metrics/sacrebleu/expected.json (generate.py
 * there runs sacreBLEU 2.6.0): BLEU with each tokenizer (13a, none, intl, char, zh), mixed case
 * and lowercased (Python's str.lower, Greek final sigma), one or several references, score and bp
 * to 1e-9, counts, lengths and signature exact; and the words BLEU counts on every line, exactly.
 * Also tokenizer parsing and small edge cases.
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
#include "tests/metrics/sacre_vectors.h"

#define DATA PROACT_SOURCE_DIR "/tests/data/metrics/bleu/"

static const char *const SETS[] = {"bible-es-apertium-3000", "bible-es-apertium-first200", "edge-empty-hyps",
                                   "edge-identical", "edge-unicode-punct"};

static void check_set(const char *name) {
    char path[PX_PATH_MAX];
    SacreLines h, r;
    snprintf(path, sizeof path, "bleu/%s/hyp.txt", name);
    sacre_read_lines(path, &h);
    snprintf(path, sizeof path, "bleu/%s/ref.txt", name);
    sacre_read_lines(path, &r);
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
    sacre_free_lines(&h);
    sacre_free_lines(&r);
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
    assert_int_equal(bleu_tokenizer_parse("zh", &t), 0);
    assert_int_equal(t, BLEU_TOK_ZH);
    assert_int_equal(bleu_tokenizer_parse("ja-mecab", &t), -1);
    assert_non_null(strstr(px_error_message(), "ja-mecab"));
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

/* One "bleu" entry of a sacreBLEU set. */
static void check_sacre_bleu(const SacreSet *s, json_t *e) {
    BleuTokenizer tok;
    const char *tokname = json_string_value(json_object_get(e, "tok"));
    int lc = sacre_bool(e, "lowercase");
    assert_int_equal(bleu_tokenizer_parse(tokname, &tok), 0);
    BleuResult r;
    assert_int_equal(
        corpus_bleu_refs((const char *const *)s->hyp.lines, s->ref_streams, s->nrefs, s->hyp.n, tok, lc, &r), 0);
    double want = sacre_num(e, "score");
    if (fabs(r.score - want) > 1e-9)
        fail_msg("%s tok=%s lc=%d: BLEU %.15f, sacreBLEU %.15f", s->name, tokname, lc, r.score, want);
    for (int k = 0; k < 4; k++) {
        int64_t wc = json_integer_value(json_array_get(json_object_get(e, "counts"), (size_t)k));
        int64_t wt = json_integer_value(json_array_get(json_object_get(e, "totals"), (size_t)k));
        if (r.counts[k] != wc || r.totals[k] != wt)
            fail_msg("%s tok=%s lc=%d: order %d counts %lld/%lld, sacreBLEU %lld/%lld", s->name, tokname, lc, k + 1,
                     (long long)r.counts[k], (long long)r.totals[k], (long long)wc, (long long)wt);
    }
    if (r.sys_len != (int64_t)sacre_num(e, "sys_len") || r.ref_len != (int64_t)sacre_num(e, "ref_len"))
        fail_msg("%s tok=%s lc=%d: lengths %lld/%lld", s->name, tokname, lc, (long long)r.sys_len,
                 (long long)r.ref_len);
    assert_true(fabs(r.bp - sacre_num(e, "bp")) <= 1e-9);
    char sig[160];
    bleu_signature_refs(s->nrefs, tok, lc, sig, sizeof sig);
    assert_string_equal(sig, json_string_value(json_object_get(e, "signature")));
}

/* One "tokens" entry: the words of every hypothesis and reference line. */
static void check_sacre_tokens(const SacreSet *s, json_t *e) {
    BleuTokenizer tok;
    const char *tokname = json_string_value(json_object_get(e, "tok"));
    int lc = sacre_bool(e, "lowercase");
    assert_int_equal(bleu_tokenizer_parse(tokname, &tok), 0);
    for (int k = -1; k < s->nrefs; k++) {
        json_t *want = k < 0 ? json_object_get(e, "hyp") : json_array_get(json_object_get(e, "refs"), (size_t)k);
        const SacreLines *l = k < 0 ? &s->hyp : &s->refs[k];
        assert_int_equal((int)json_array_size(want), l->n);
        for (int i = 0; i < l->n; i++) {
            char *got;
            assert_int_equal(bleu_tokens(l->lines[i], tok, lc, &got), 0);
            const char *w = json_string_value(json_array_get(want, (size_t)i));
            if (strcmp(got, w) != 0)
                fail_msg("%s tok=%s lc=%d %s line %d:\n  proact    '%s'\n  sacreBLEU '%s'", s->name, tokname, lc,
                         k < 0 ? "hyp" : "ref", i + 1, got, w);
            free(got);
        }
    }
}

static void test_sacrebleu_sets(void **state) {
    (void)state;
    json_t *root = sacre_load();
    const char *name;
    json_t *v;
    int n_bleu = 0, n_tokens = 0;
    json_object_foreach(json_object_get(root, "sets"), name, v) {
        SacreSet s;
        sacre_set_open(&s, name, v);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(v, "bleu"), i, e) check_sacre_bleu(&s, e), n_bleu++;
        json_array_foreach(json_object_get(v, "tokens"), i, e) check_sacre_tokens(&s, e), n_tokens++;
        sacre_set_close(&s);
    }
    assert_int_equal(n_bleu, 7 * 10);
    assert_int_equal(n_tokens, 4 * 10);
    json_decref(root);
}

/* Several references: the closest length (the shorter on a tie), n-gram counts clipped by the
 * largest count in any one reference. */
static void test_multi_ref(void **state) {
    (void)state;
    const char *h[] = {"a a a b"};
    const char *r1[] = {"a b c"}, *r2[] = {"a a x y z"};
    const char *const *refs[] = {r1, r2};
    BleuResult r;
    assert_int_equal(corpus_bleu_refs(h, refs, 2, 1, BLEU_TOK_NONE, 0, &r), 0);
    assert_int_equal(r.sys_len, 4);
    assert_int_equal(r.ref_len, 3);   /* |4-3| == |4-5|: the shorter */
    assert_int_equal(r.counts[0], 3); /* a: min(3, max(1, 2)) = 2, b: 1 */
    assert_int_equal(r.counts[1], 2); /* "a a": 1 (r2), "a b": 1 (r1) */
    assert_int_equal(bleu_tokenizer_name(BLEU_TOK_ZH)[0], 'z');
    char sig[128];
    bleu_signature_refs(3, BLEU_TOK_ZH, 0, sig, sizeof sig);
    assert_string_equal(sig, "nrefs:3|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0");
    assert_int_equal(corpus_bleu_refs(h, refs, 0, 1, BLEU_TOK_NONE, 0, &r), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer_parse), cmocka_unit_test(test_edges),     cmocka_unit_test(test_reference_sets),
        cmocka_unit_test(test_sacrebleu_sets),  cmocka_unit_test(test_multi_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
