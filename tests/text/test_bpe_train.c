/* test_bpe_train.c — src/text/bpe_train.c and io/tokenizer_write.c: the first merges of a hand-sized
 * corpus, the tie rule, ids of the special and byte tokens, the vocabulary size, NFC and U+FFFD,
 * the incremental trainer against a naive one (full recount per merge), byte-identical output,
 * and — through the encoder (io/tokenizer_json.c) — that the written file encodes with the
 * learned merges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tokenizer_json.h"
#include "io/tokenizer_write.h"
#include "src/base/common.h"
#include "src/text/bpe_train.h"
#include "src/text/tokenizer.h"

/* ---- helpers ------------------------------------------------------------------------- */

static BpeTrainer *new_trainer(void) {
    BpeTrainer *tr = bpe_trainer_new();
    if (!tr) print_error("bpe_trainer_new: %s\n", px_error_message());
    assert_non_null(tr);
    return tr;
}

static void add(BpeTrainer *tr, const char *text, int times) {
    for (int i = 0; i < times; i++) assert_int_equal(bpe_trainer_add_text(tr, text, strlen(text)), 0);
}

static void train(const BpeTrainer *tr, int vocab, int64_t min_freq, BpeResult *r) {
    BpeTrainParams p = {.vocab_size = vocab, .min_frequency = min_freq};
    int rc = bpe_trainer_train(tr, &p, r);
    if (rc) print_error("bpe_trainer_train: %s\n", px_error_message());
    assert_int_equal(rc, 0);
}

/* The token string of merge k as "left+right". */
static void merge_text(const BpeResult *r, int k, char *buf, size_t size) {
    snprintf(buf, size, "%s+%s", r->tokens[r->merges[2 * k]], r->tokens[r->merges[2 * k + 1]]);
}

static void expect_merge(const BpeResult *r, int k, const char *want) {
    char got[256];
    assert_true(k < r->n_merges);
    merge_text(r, k, got, sizeof got);
    if (strcmp(got, want) != 0) {
        print_error("merge %d is %s, expected %s\n", k, got, want);
        fail();
    }
}

static void expect_same_result(const BpeResult *a, const BpeResult *b) {
    assert_int_equal(a->n_tokens, b->n_tokens);
    assert_int_equal(a->n_merges, b->n_merges);
    for (int i = 0; i < a->n_tokens; i++) assert_string_equal(a->tokens[i], b->tokens[i]);
    for (int k = 0; k < 2 * a->n_merges; k++) assert_int_equal(a->merges[k], b->merges[k]);
}

static int find_token(const BpeResult *r, const char *s) {
    for (int i = 0; i < r->n_tokens; i++)
        if (strcmp(r->tokens[i], s) == 0) return i;
    return -1;
}

/* Deterministic pseudo-random text: words made of a few syllables, Zipf-like frequencies. */
static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static void make_text(char *buf, size_t size, uint64_t seed) {
    static const char *syll[] = {"ka", "to", "ri", "ne", "mo", "sa", "lu", "pe",
                                 "di", "ga", "ve", "zo", "qu", "th", "ch"};
    rng_state = seed;
    size_t o = 0;
    while (o + 64 < size) {
        int n = 1 + (int)(rnd() % 4);
        uint32_t w = rnd() % 400;
        w = w * w / 400; /* favour small word numbers */
        if (o) buf[o++] = ' ';
        for (int i = 0; i < n; i++) {
            uint32_t h = (w * 31u + (uint32_t)i) * 2654435761u;
            const char *s = syll[(h >> 16) % 15];
            memcpy(buf + o, s, 2);
            o += 2;
        }
        if (rnd() % 10 == 0) buf[o++] = ',';
    }
    buf[o] = '\0';
}

static void temp_path(char *path, const char *tag) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, PX_PATH_MAX, "%s/proact-test-bpe-%s-%ld.json", dir && *dir ? dir : "/tmp", tag, (long)getpid());
}

static char *read_all(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* ---- tests --------------------------------------------------------------------------- */

/* The classic example: hug 10, pug 5, pun 12, bun 4, hugs 5 (each text one word, no space).
 * Pair counts: ug 20, pu 17, un 16, hu 15 -> "ug" first; then un 16, then h+ug 15. */
static void test_first_merges(void **state) {
    (void)state;
    BpeTrainer *tr = new_trainer();
    add(tr, "hug", 10);
    add(tr, "pug", 5);
    add(tr, "pun", 12);
    add(tr, "bun", 4);
    add(tr, "hugs", 5);
    BpeTrainerStats st = bpe_trainer_stats(tr);
    assert_int_equal(st.distinct, 5);
    assert_int_equal(st.pieces, 36);
    BpeResult r;
    train(tr, BPE_MIN_VOCAB + 3, 1, &r);
    assert_int_equal(r.n_merges, 3);
    assert_int_equal(r.n_tokens, BPE_MIN_VOCAB + 3);
    expect_merge(&r, 0, "u+g");
    expect_merge(&r, 1, "u+n");
    expect_merge(&r, 2, "h+ug");
    assert_int_equal(r.merge_counts[0], 20);
    assert_int_equal(r.merge_counts[1], 16);
    assert_int_equal(r.merge_counts[2], 15);
    /* Merged tokens take the ids after the bytes, in merge order. */
    for (int k = 0; k < 3; k++) assert_int_equal(r.merge_ids[k], BPE_MIN_VOCAB + k);
    assert_string_equal(r.tokens[BPE_MIN_VOCAB + 2], "hug");
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

/* Words keep their leading space ("Ġ"), and the pre-tokenizer splits digits one by one. */
static void test_pretokenizer_words(void **state) {
    (void)state;
    BpeTrainer *tr = new_trainer();
    add(tr, "the cat and the hat, the end 2024", 20);
    BpeTrainerStats st = bpe_trainer_stats(tr);
    /* the | Ġcat | Ġand | Ġthe | Ġhat | , | Ġthe | Ġend | Ġ | 2 | 0 | 2 | 4 */
    assert_int_equal(st.pieces, 13 * 20);
    assert_int_equal(st.distinct, 11);
    BpeResult r;
    train(tr, 1000, 2, &r);
    assert_true(find_token(&r, "Ġthe") >= 0);
    assert_true(find_token(&r, "Ġcat") >= 0);
    assert_int_equal(find_token(&r, "20"), -1); /* digits are never merged */
    assert_int_equal(find_token(&r, "Ġ2"), -1);
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

/* Equal counts: the pair with the smallest (left id, right id) wins. Ids follow GPT-2's byte
 * order, in which the space (Ġ, U+0120) comes after every printable byte: so "a"+"b" beats
 * "Ġ"+"x" although " x" < "ab" as bytes; and "a"+"b" beats "c"+"d". */
static void test_ties(void **state) {
    (void)state;
    BpeTrainer *tr = new_trainer();
    add(tr, "cd", 3);
    add(tr, " x", 3);
    add(tr, "ab", 3);
    BpeResult r;
    train(tr, BPE_MIN_VOCAB + 3, 1, &r);
    expect_merge(&r, 0, "a+b");
    expect_merge(&r, 1, "c+d");
    expect_merge(&r, 2, "Ġ+x");
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

/* Specials 0..5, then the 256 bytes in GPT-2's order. */
static void test_ids(void **state) {
    (void)state;
    BpeTrainer *tr = new_trainer();
    add(tr, "x", 1);
    BpeResult r;
    train(tr, 300, 1, &r);
    assert_int_equal(r.n_tokens, BPE_MIN_VOCAB); /* nothing to merge */
    assert_int_equal(r.n_merges, 0);
    assert_int_equal(r.n_special, 6);
    const char *sp[] = {"<pad>", "<src>", "</src>", "<tgt>", "</tgt>", "<|endoftext|>"};
    for (int i = 0; i < 6; i++) assert_string_equal(r.tokens[i], sp[i]);
    assert_string_equal(r.tokens[6], "!");            /* byte 0x21 */
    assert_string_equal(r.tokens[6 + 93], "~");       /* byte 0x7E */
    assert_string_equal(r.tokens[6 + 94], "¡");       /* byte 0xA1 */
    assert_string_equal(r.tokens[6 + 188], "Ā");      /* byte 0x00 */
    assert_string_equal(r.tokens[6 + 188 + 32], "Ġ"); /* byte 0x20 */
    assert_string_equal(r.tokens[261], "Ń");          /* byte 0xAD, the last */
    char out[8];
    const uint8_t bytes[] = {0x0A, 0x7F, 0xAD, 'a'};
    assert_int_equal(bpe_bytes_to_unicode(bytes, 4, out), 7);
    assert_string_equal(out, "ĊġŃa");
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

/* A corpus with enough pairs gives exactly the vocabulary asked for; the merge counts never rise
 * and every merge makes the concatenation of its two tokens. */
static void test_vocab_size(void **state) {
    (void)state;
    static char text[200000];
    make_text(text, sizeof text, 7);
    BpeTrainer *tr = new_trainer();
    add(tr, text, 1);
    for (int vocab = 300; vocab <= 500; vocab += 100) {
        BpeResult r;
        train(tr, vocab, 2, &r);
        assert_int_equal(r.n_tokens, vocab);
        for (int k = 0; k < r.n_merges; k++) {
            if (k > 0) assert_true(r.merge_counts[k] <= r.merge_counts[k - 1]);
            assert_true(r.merge_counts[k] >= 2);
            char cat[512];
            snprintf(cat, sizeof cat, "%s%s", r.tokens[r.merges[2 * k]], r.tokens[r.merges[2 * k + 1]]);
            assert_string_equal(r.tokens[r.merge_ids[k]], cat);
        }
        bpe_result_free(&r);
    }
    /* min_frequency stops early: nothing in this text occurs a million times. */
    BpeResult r;
    train(tr, 500, 1000000, &r);
    assert_int_equal(r.n_tokens, BPE_MIN_VOCAB);
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

/* Decomposed input is trained as its NFC form; invalid UTF-8 as U+FFFD per maximal subpart
 * (E0 80 is two subparts, a truncated F0 9F 98 one). */
static void test_nfc_and_invalid_utf8(void **state) {
    (void)state;
    BpeTrainer *a = new_trainer(), *b = new_trainer();
    add(a, "cafe\xcc\x81 re\xcc\x81sume\xcc\x81 \xff\xfe x\xe0\x80y \xf0\x9f\x98z", 5);
    add(b, "caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd x\xef\xbf\xbd\xef\xbf\xbdy \xef\xbf\xbdz", 5);
    assert_int_equal(bpe_trainer_stats(a).replaced, 5 * 5);
    assert_int_equal(bpe_trainer_stats(b).replaced, 0);
    BpeResult ra, rb;
    train(a, 400, 2, &ra);
    train(b, 400, 2, &rb);
    expect_same_result(&ra, &rb);
    assert_true(find_token(&ra, "Ã©") >= 0);  /* é = C3 A9 */
    assert_true(find_token(&ra, "ï¿½") >= 0); /* U+FFFD = EF BF BD */
    bpe_result_free(&ra);
    bpe_result_free(&rb);
    bpe_trainer_free(a);
    bpe_trainer_free(b);
}

/* Special tokens in the text are cut out, never trained on. */
static void test_specials_in_text(void **state) {
    (void)state;
    BpeTrainer *a = new_trainer(), *b = new_trainer();
    add(a, "<src>hello</src><tgt> world</tgt><|endoftext|><pad>", 10);
    add(b, "hello", 10);
    add(b, " world", 10);
    assert_int_equal(bpe_trainer_stats(a).specials, 60);
    BpeResult ra, rb;
    train(a, 400, 2, &ra);
    train(b, 400, 2, &rb);
    expect_same_result(&ra, &rb);
    bpe_result_free(&ra);
    bpe_result_free(&rb);
    bpe_trainer_free(a);
    bpe_trainer_free(b);
}

/* ---- the incremental trainer against a naive one ------------------------------------------ */

/* Naive BPE over words of letters (each text is one word): recount all pairs every merge. */
typedef struct {
    int *sym[64];
    int len[64];
    int count[64];
    int n;
} NaiveWords;

static void naive_train(NaiveWords *w, int byte_id_a, int vocab, int *merges, int *n_merges) {
    /* token strings, to find the id of a concatenation that already exists */
    static char tok[400][64];
    int n_tok = BPE_MIN_VOCAB;
    for (int i = 0; i < n_tok; i++) tok[i][0] = '\0';
    for (int c = 'a'; c <= 'z'; c++) {
        tok[byte_id_a + (c - 'a')][0] = (char)c;
        tok[byte_id_a + (c - 'a')][1] = '\0';
    }
    *n_merges = 0;
    static long cnt[400][400];
    while (n_tok < vocab) {
        memset(cnt, 0, sizeof cnt);
        for (int k = 0; k < w->n; k++)
            for (int i = 0; i + 1 < w->len[k]; i++) cnt[w->sym[k][i]][w->sym[k][i + 1]] += w->count[k];
        int best_a = -1, best_b = -1;
        long best = 0;
        for (int a = 0; a < n_tok; a++)
            for (int b = 0; b < n_tok; b++)
                if (cnt[a][b] > best) best = cnt[a][b], best_a = a, best_b = b; /* ties: smallest ids */
        if (best < 1) break;
        char cat[64];
        snprintf(cat, sizeof cat, "%s%s", tok[best_a], tok[best_b]);
        int n = -1;
        for (int i = 0; i < n_tok; i++)
            if (strcmp(tok[i], cat) == 0) n = i;
        if (n < 0) {
            n = n_tok++;
            strcpy(tok[n], cat);
        }
        merges[2 * *n_merges] = best_a;
        merges[2 * *n_merges + 1] = best_b;
        (*n_merges)++;
        for (int k = 0; k < w->n; k++) {
            int o = 0;
            for (int i = 0; i < w->len[k];) {
                if (i + 1 < w->len[k] && w->sym[k][i] == best_a && w->sym[k][i + 1] == best_b) {
                    w->sym[k][o++] = n;
                    i += 2;
                } else {
                    w->sym[k][o++] = w->sym[k][i++];
                }
            }
            w->len[k] = o;
        }
    }
}

static void test_against_naive(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 25; seed++) {
        rng_state = seed * 977;
        int alpha = 2 + (int)(rnd() % 3); /* letters a.. */
        NaiveWords w = {.n = 4 + (int)(rnd() % 30)};
        BpeTrainer *tr = new_trainer();
        BpeResult r;
        train(tr, 300, 1, &r); /* only to learn the id of 'a' */
        int id_a = find_token(&r, "a");
        bpe_result_free(&r);
        for (int k = 0; k < w.n; k++) {
            char word[64];
            int len = 1 + (int)(rnd() % 12);
            for (int i = 0; i < len; i++) word[i] = (char)('a' + rnd() % (uint32_t)alpha);
            word[len] = '\0';
            w.count[k] = 1 + (int)(rnd() % 9);
            w.len[k] = len;
            w.sym[k] = malloc(sizeof(int) * 64);
            assert_non_null(w.sym[k]);
            for (int i = 0; i < len; i++) w.sym[k][i] = id_a + (word[i] - 'a');
            add(tr, word, w.count[k]);
        }
        int vocab = BPE_MIN_VOCAB + 1 + (int)(rnd() % 40);
        train(tr, vocab, 1, &r);
        int merges[2 * 64], n_merges;
        naive_train(&w, id_a, vocab, merges, &n_merges);
        if (r.n_merges != n_merges) print_error("seed %d: %d merges, naive %d\n", (int)seed, r.n_merges, n_merges);
        assert_int_equal(r.n_merges, n_merges);
        for (int k = 0; k < 2 * n_merges; k++) assert_int_equal(r.merges[k], merges[k]);
        for (int k = 0; k < w.n; k++) free(w.sym[k]);
        bpe_result_free(&r);
        bpe_trainer_free(tr);
    }
}

/* ---- tokenizer.json ------------------------------------------------------------------------ */

static void write_trained(const char *text, int vocab, const char *path, int compact) {
    BpeTrainer *tr = new_trainer();
    add(tr, text, 1);
    BpeResult r;
    train(tr, vocab, 2, &r);
    int rc = tokenizer_write_json(path, &r, compact);
    if (rc) print_error("tokenizer_write_json: %s\n", px_error_message());
    assert_int_equal(rc, 0);
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

/* Same input -> byte-identical file; the file has the expected structure. */
static void test_json_deterministic(void **state) {
    (void)state;
    static char text[100000];
    make_text(text, sizeof text, 11);
    char p1[PX_PATH_MAX], p2[PX_PATH_MAX];
    temp_path(p1, "a");
    temp_path(p2, "b");
    write_trained(text, 400, p1, 0);
    write_trained(text, 400, p2, 0);
    size_t n1, n2;
    char *b1 = read_all(p1, &n1), *b2 = read_all(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);

    json_error_t err;
    json_t *root = json_load_file(p1, 0, &err);
    if (!root) print_error("%s:%d: %s\n", p1, err.line, err.text);
    assert_non_null(root);
    const char *keys[] = {"version",       "truncation",     "padding", "added_tokens", "normalizer",
                          "pre_tokenizer", "post_processor", "decoder", "model"};
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        assert_true(i < 9);
        assert_string_equal(key, keys[i++]);
    }
    assert_int_equal(i, 9);
    json_t *added = json_object_get(root, "added_tokens");
    assert_int_equal(json_array_size(added), 6);
    for (size_t k = 0; k < 6; k++) {
        json_t *t = json_array_get(added, k);
        assert_int_equal(json_integer_value(json_object_get(t, "id")), (json_int_t)k);
        assert_string_equal(json_string_value(json_object_get(t, "content")), BPE_SPECIAL_TOKENS[k]);
        assert_true(json_is_true(json_object_get(t, "special")));
        assert_true(json_is_false(json_object_get(t, "normalized")));
    }
    json_t *model = json_object_get(root, "model");
    assert_string_equal(json_string_value(json_object_get(model, "type")), "BPE");
    json_t *vocab = json_object_get(model, "vocab");
    assert_int_equal(json_object_size(vocab), 400);
    assert_int_equal(json_integer_value(json_object_get(vocab, "<pad>")), 0);
    assert_int_equal(json_integer_value(json_object_get(vocab, "Ġ")), 6 + 188 + 32);
    json_t *merges = json_object_get(model, "merges");
    assert_int_equal(json_array_size(merges), 400 - BPE_MIN_VOCAB);
    assert_int_equal(json_array_size(json_array_get(merges, 0)), 2);
    json_t *split = json_array_get(json_object_get(json_object_get(root, "pre_tokenizer"), "pretokenizers"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(split, "pattern"), "Regex")),
                        BPE_SPLIT_REGEX);
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "normalizer"), "type")), "NFC");

    /* The compact form holds the same document in fewer bytes, and the encoder reads it. */
    write_trained(text, 400, p2, 1);
    json_t *compact = json_load_file(p2, 0, &err);
    assert_non_null(compact);
    assert_true(json_equal(root, compact));
    char *b3 = read_all(p2, &n2);
    assert_true(n2 < n1 * 3 / 4);
    assert_null(memchr(b3, '\n', n2 - 1)); /* one line */
    assert_null(strstr(b3, "\": "));
    free(b3);
    Tokenizer *t = NULL;
    assert_int_equal(tokenizer_load(p2, &t), 0);
    assert_int_equal(tokenizer_vocab_size(t), 400);
    tokenizer_free(t);
    json_decref(compact);
    json_decref(root);
    assert_int_equal(unlink(p1), 0);
    assert_int_equal(unlink(p2), 0);
}

/* The encoder loads the written file and encodes with its merges: frequent words are one token,
 * special tokens keep their ids, and decoding gives the text back. */
static void test_encoder_roundtrip(void **state) {
    (void)state;
    static char text[200000];
    make_text(text, sizeof text, 5);
    char path[PX_PATH_MAX];
    temp_path(path, "enc");
    BpeTrainer *tr = new_trainer();
    add(tr, text, 1);
    BpeResult r;
    train(tr, 1000, 2, &r);
    bpe_trainer_free(tr);
    assert_int_equal(tokenizer_write_json(path, &r, 0), 0);
    Tokenizer *t = NULL;
    int rc = tokenizer_load(path, &t);
    if (rc) print_error("tokenizer_load: %s\n", px_error_message());
    assert_int_equal(rc, 0);
    assert_int_equal(tokenizer_vocab_size(t), r.n_tokens);
    for (int i = 0; i < r.n_tokens; i++) {
        assert_int_equal(tokenizer_token_to_id(t, r.tokens[i]), i);
        assert_string_equal(tokenizer_id_to_token(t, i), r.tokens[i]);
    }

    /* Every piece of the text (a word with its leading space, or a comma) encodes exactly as the
     * merges, applied in order, rewrite it; many frequent words become one token. */
    int byte_id[256];
    for (int b = 0; b < 256; b++) {
        char bl[8];
        const uint8_t byte = (uint8_t)b;
        bpe_bytes_to_unicode(&byte, 1, bl);
        byte_id[b] = find_token(&r, bl);
    }
    int single = 0, checked = 0;
    for (const char *p = text; *p && checked < 2000; checked++) {
        size_t n = 1;
        if (*p != ',')
            while (p[n] >= 'a' && p[n] <= 'z') n++;
        int want[64], n_want = 0;
        for (size_t i = 0; i < n; i++) want[n_want++] = byte_id[(uint8_t)p[i]];
        for (int k = 0; k < r.n_merges; k++) { /* the merges in rank order, left to right */
            int o = 0;
            for (int i = 0; i < n_want;) {
                if (i + 1 < n_want && want[i] == r.merges[2 * k] && want[i + 1] == r.merges[2 * k + 1]) {
                    want[o++] = r.merge_ids[k];
                    i += 2;
                } else {
                    want[o++] = want[i++];
                }
            }
            n_want = o;
        }
        IdVec v = {0};
        assert_int_equal(tokenizer_encode(t, p, n, &v), 0);
        if (v.n != n_want) print_error("piece '%.*s': %d tokens, expected %d\n", (int)n, p, v.n, n_want);
        assert_int_equal(v.n, n_want);
        for (int i = 0; i < n_want; i++) assert_int_equal(v.ids[i], want[i]);
        single += n_want == 1;
        idvec_free(&v);
        p += n;
    }
    assert_true(single > checked / 2);
    bpe_result_free(&r);

    IdVec v = {0};
    const char *s = "<src> kaqu tori</src>";
    assert_int_equal(tokenizer_encode(t, s, strlen(s), &v), 0);
    assert_int_equal(v.ids[0], 1);
    assert_int_equal(v.ids[v.n - 1], 2);
    idvec_free(&v);

    /* The whole text: far fewer tokens than bytes, and it decodes back. */
    size_t len = strlen(text);
    assert_int_equal(tokenizer_encode(t, text, len, &v), 0);
    assert_true((size_t)v.n < len / 3);
    char *back = NULL;
    size_t back_len = 0;
    assert_int_equal(tokenizer_decode(t, v.ids, v.n, 0, &back, &back_len), 0);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, text, len);
    free(back);
    idvec_free(&v);
    tokenizer_free(t);
    assert_int_equal(unlink(path), 0);
}

static void test_errors(void **state) {
    (void)state;
    BpeTrainer *tr = new_trainer();
    add(tr, "hello", 3);
    BpeResult r;
    BpeTrainParams p = {.vocab_size = 261, .min_frequency = 2};
    assert_int_equal(bpe_trainer_train(tr, &p, &r), -1);
    assert_non_null(strstr(px_error_message(), "vocab_size 261"));
    p = (BpeTrainParams){.vocab_size = 300, .min_frequency = 0};
    assert_int_equal(bpe_trainer_train(tr, &p, &r), -1);
    assert_non_null(strstr(px_error_message(), "min_frequency"));
    train(tr, 300, 2, &r);
    assert_int_equal(tokenizer_write_json("/nonexistent-dir/tokenizer.json", &r, 0), -1);
    assert_non_null(strstr(px_error_message(), "/nonexistent-dir/tokenizer.json"));
    bpe_result_free(&r);
    bpe_trainer_free(tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_merges),
        cmocka_unit_test(test_pretokenizer_words),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_vocab_size),
        cmocka_unit_test(test_nfc_and_invalid_utf8),
        cmocka_unit_test(test_specials_in_text),
        cmocka_unit_test(test_against_naive),
        cmocka_unit_test(test_json_deterministic),
        cmocka_unit_test(test_encoder_roundtrip),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
