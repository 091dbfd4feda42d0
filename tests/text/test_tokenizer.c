/* test_tokenizer.c — src/text/tokenizer.c, pretokenizer.c, pretokenizer_regex.c and
 * io/tokenizer_json.c on hand-built tokenizer.json files:
 * merges by rank and ties, ignore_merges, added tokens (longest match, special or not, lstrip,
 * rstrip, single_word, normalized under NFC), NFC, invalid UTF-8 → U+FFFD, the pre-tokenizer
 * regexes, decoding, the fingerprint, and one error per unsupported component.
 *
 * Each test writes a small tokenizer.json: the 256 byte tokens (id = byte value, in GPT-2's
 * byte-to-character form), then one token per merge in merge order. Results are checked as the
 * token strings joined by '|', e.g. "he|llo|Ġw". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tokenizer_json.h"
#include "src/base/common.h"
#include "src/text/tokenizer.h"

/* ---- writing tokenizer.json files ------------------------------------------------------- */

typedef struct {
    const char *merges;        /* "a b,c d": merges in rank order (byte-level form) */
    const char *model_extra;   /* extra members of "model", e.g. "\"ignore_merges\": true" */
    const char *vocab_extra;   /* extra vocab entries, e.g. "\"abc\": 900" */
    const char *added;         /* the added_tokens array, or NULL for [] */
    const char *normalizer;    /* JSON, or NULL for null */
    const char *pre_tokenizer; /* JSON, or NULL for ByteLevel with the GPT-2 regex */
    const char *decoder;       /* JSON, or NULL for ByteLevel */
    int pair_merges;           /* merges as ["a", "b"] instead of "a b" */
} Spec;

static char temp_dir[PX_PATH_MAX];

static int setup_dir(void **state) {
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/proact-test-tokenizer-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(temp_dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    char cmd[PX_PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", temp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* GPT-2's bytes_to_unicode, as UTF-8. */
static void byte_token(int b, char out[3]) {
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    int cp = b;
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++)
            if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) cp++;
    }
    memset(out, 0, 3);
    if (cp < 0x80) out[0] = (char)cp;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F));
}

static void put_json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') fputc('\\', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

/* Writes the tokenizer of `s` to temp_dir/name and returns its path (static buffer). */
static const char *write_spec(const char *name, const Spec *s) {
    static char path[PX_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": %s,\n \"normalizer\": %s,\n \"pre_tokenizer\": %s,\n",
            s->added ? s->added : "[]", s->normalizer ? s->normalizer : "null",
            s->pre_tokenizer ? s->pre_tokenizer
                             : "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}");
    fprintf(f, " \"post_processor\": null, \"decoder\": %s,\n", s->decoder ? s->decoder : "{\"type\": \"ByteLevel\"}");
    fprintf(f, " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null%s%s, \"vocab\": {",
            s->model_extra ? ", " : "", s->model_extra ? s->model_extra : "");
    for (int b = 0; b < 256; b++) {
        char tok[3];
        byte_token(b, tok);
        put_json_string(f, tok, strlen(tok));
        fprintf(f, ": %d, ", b);
    }
    int id = 256;
    const char *m = s->merges ? s->merges : "";
    for (const char *p = m; *p;) { /* each merge's result is a token */
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *sp = memchr(p, ' ', len);
        assert_non_null(sp);
        char joined[64];
        snprintf(joined, sizeof joined, "%.*s%.*s", (int)(sp - p), p, (int)(len - (size_t)(sp - p) - 1), sp + 1);
        put_json_string(f, joined, strlen(joined));
        fprintf(f, ": %d, ", id++);
        p += len + (end ? 1 : 0);
    }
    fprintf(f, "%s%s\"<unused>\": %d}, \"merges\": [", s->vocab_extra ? s->vocab_extra : "", s->vocab_extra ? ", " : "",
            id + 1000);
    for (const char *p = m; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *sp = memchr(p, ' ', len);
        if (p != m) fputs(", ", f);
        if (s->pair_merges) {
            fputc('[', f);
            put_json_string(f, p, (size_t)(sp - p));
            fputs(", ", f);
            put_json_string(f, sp + 1, len - (size_t)(sp - p) - 1);
            fputc(']', f);
        } else put_json_string(f, p, len);
        p += len + (end ? 1 : 0);
    }
    fputs("]}}\n", f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static Tokenizer *load_spec(const Spec *s) {
    Tokenizer *t = NULL;
    const char *path = write_spec("tokenizer.json", s);
    if (tokenizer_load(path, &t)) print_error("tokenizer_load: %s\n", px_error_message());
    assert_non_null(t);
    return t;
}

/* The token strings of encode(text) joined by '|' (static buffer). */
static const char *tokens_n(const Tokenizer *t, const char *text, size_t len) {
    static char out[4096];
    IdVec ids = {0};
    assert_int_equal(tokenizer_encode(t, text, len, &ids), 0);
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < ids.n; i++) {
        const char *tok = tokenizer_id_to_token(t, ids.ids[i]);
        assert_non_null(tok);
        k += (size_t)snprintf(out + k, sizeof out - k, "%s%s", i ? "|" : "", tok);
    }
    idvec_free(&ids);
    return out;
}

static const char *tokens(const Tokenizer *t, const char *text) { return tokens_n(t, text, strlen(text)); }

/* ---- BPE ------------------------------------------------------------------------------ */

static void test_merges_by_rank(void **state) {
    (void)state;
    Spec s = {.merges = "b c,a b"}; /* "bc" outranks "ab" */
    Tokenizer *t = load_spec(&s);
    assert_string_equal(tokens(t, "abc"), "a|bc");
    tokenizer_free(t);

    s.merges = "a b,b c"; /* now "ab" first */
    t = load_spec(&s);
    assert_string_equal(tokens(t, "abc"), "ab|c");
    tokenizer_free(t);

    s.merges = "h e,l l,he ll,hell o,Ġ w,o r,Ġw or,Ġwor l,Ġworl d";
    s.pair_merges = 1; /* the [a, b] form of merges */
    t = load_spec(&s);
    assert_string_equal(tokens(t, "hello world"), "hello|Ġworld");
    assert_string_equal(tokens(t, "hellohello"), "hello|hello");
    assert_string_equal(tokens(t, "help"), "he|l|p");
    tokenizer_free(t);
}

static void test_merge_ties_go_left(void **state) {
    (void)state;
    Spec s = {.merges = "a a"};
    Tokenizer *t = load_spec(&s);
    assert_string_equal(tokens(t, "aaa"), "aa|a");
    assert_string_equal(tokens(t, "aaaaa"), "aa|aa|a");
    tokenizer_free(t);
}

static void test_ignore_merges(void **state) {
    (void)state;
    Spec s = {.merges = "a b", .vocab_extra = "\"abc\": 900"};
    Tokenizer *t = load_spec(&s);
    assert_string_equal(tokens(t, "abc"), "ab|c"); /* no merge leads to "abc" */
    tokenizer_free(t);
    s.model_extra = "\"ignore_merges\": true";
    t = load_spec(&s);
    assert_string_equal(tokens(t, "abc"), "abc"); /* Llama 3: a piece that is a token stays whole */
    assert_string_equal(tokens(t, "abd"), "ab|d");
    tokenizer_free(t);
}

static void test_bytes_and_pretokenizer(void **state) {
    (void)state;
    Spec s = {.merges = "Ġ Ġ,ĠĠ ĠĠ"};
    Tokenizer *t = load_spec(&s);
    /* GPT-2 regex: contractions, letters, digits, punctuation runs, spaces before a word */
    assert_string_equal(tokens(t, "it's"), "i|t|'|s");
    assert_string_equal(tokens(t, "a  b"), "a|Ġ|Ġ|b");
    assert_string_equal(tokens(t, "x     "), "x|ĠĠĠĠ|Ġ");
    assert_string_equal(tokens(t, "\xc3\xa4"), "Ã|¤"); /* ä: two bytes, two byte tokens */
    assert_string_equal(tokens(t, ""), "");
    tokenizer_free(t);

    s.pre_tokenizer = "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true}";
    t = load_spec(&s);
    assert_string_equal(tokens(t, "ab"), "Ġ|a|b");
    assert_string_equal(tokens(t, " ab"), "Ġ|a|b");
    tokenizer_free(t);
}

static void test_split_regex(void **state) {
    (void)state;
    /* Qwen2-style Split, then ByteLevel without its own regex */
    Spec s = {
        .merges = "Ġ t,Ġt h,Ġth e,Å ¿,Å¿ x,ħ Â",
        .pre_tokenizer =
            "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
            "\"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
            "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false},"
            "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}"};
    Tokenizer *t = load_spec(&s);
    assert_string_equal(tokens(t, "the 42"), "t|h|e|Ġ|4|2"); /* digits one by one */
    assert_string_equal(tokens(t, "IT'S"), "I|T|'|S");       /* (?i:'s) matches 'S */
    assert_string_equal(tokens(t, "'\xc5\xbfx"), "'|Å¿x");   /* ...but only ASCII folds: 'ſ is not 's */
    assert_string_equal(tokens(t, "x the"), "x|Ġthe");
    /* U+0085 is \s for Split: the two are separate pieces, so "ħ Â" cannot merge across them */
    assert_string_equal(tokens(t, "a\xc2\x85\xc2\x85"
                                  "b"),
                        "a|Â|ħ|Â|ħ|b");
    tokenizer_free(t);

    /* a literal String split, and a pattern with a quantified group and classes */
    s.pre_tokenizer =
        "{\"type\": \"Sequence\", \"pretokenizers\": ["
        "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Isolated\", \"invert\": false},"
        "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\d{2}+|[a-c]+|(?i:[d-f])\"}, \"behavior\": "
        "\"Isolated\", \"invert\": false},"
        "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}";
    s.merges = "a b,ab c,1 2,3 4,12 34,D e,De F";
    t = load_spec(&s);
    assert_string_equal(tokens(t, "abc-12345"), "abc|-|1234|5");
    assert_string_equal(tokens(t, "DeF"), "D|e|F"); /* (?i:[d-f]) takes one letter a time */
    tokenizer_free(t);
}

/* ---- added tokens --------------------------------------------------------------------- */

#define ADDED(id, content, flags) "{\"id\": " #id ", \"content\": \"" content "\", \"single_word\": false, " flags "}"

static void test_added_tokens(void **state) {
    (void)state;
    /* one added token per line */
    /* clang-format off */
    Spec s = {
        .merges = "a b",
        .added = "["
            ADDED(500, "<s>", "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true") ","
            ADDED(501, "ab", "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": false") ","
            ADDED(502, "abc", "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": false") ","
            ADDED(503, "<L>", "\"lstrip\": true, \"rstrip\": false, \"normalized\": false, \"special\": true") ","
            ADDED(504, "<R>", "\"lstrip\": false, \"rstrip\": true, \"normalized\": false, \"special\": false") ","
            "{\"id\": 505, \"content\": \"<W>\", \"single_word\": true, \"special\": true}]"};
    /* clang-format on */
    Tokenizer *t = load_spec(&s);
    assert_int_equal(tokenizer_token_to_id(t, "<s>"), 500);
    assert_string_equal(tokens(t, "x<s>y"), "x|<s>|y");
    assert_string_equal(tokens(t, "<s><s>"), "<s>|<s>");
    assert_string_equal(tokens(t, "abcd"), "abc|d");      /* longest match */
    assert_string_equal(tokens(t, "xab"), "x|ab");        /* the added token, not the merge */
    assert_string_equal(tokens(t, "a  <L>b"), "a|<L>|b"); /* lstrip eats the spaces before */
    assert_string_equal(tokens(t, "a  <R>  b"), "a|Ġ|Ġ|<R>|b");
    assert_string_equal(tokens(t, "x<W>y"), "x|<W>|y"); /* single_word is not used (as in tokenizers.js) */
    assert_string_equal(tokens(t, "<s"), "<|s");
    assert_int_equal(tokenizer_vocab_size(t), 1258); /* write_spec puts "<unused>" at 1257 */

    /* decoding: added tokens verbatim; skip_special drops <s> and <L> but keeps <R> */
    IdVec ids = {0};
    const char *text = "hi <s>ab<R>c";
    assert_int_equal(tokenizer_encode(t, text, strlen(text), &ids), 0);
    char *out;
    size_t n;
    assert_int_equal(tokenizer_decode(t, ids.ids, ids.n, 0, &out, &n), 0);
    assert_string_equal(out, "hi <s>ab<R>c");
    free(out);
    assert_int_equal(tokenizer_decode(t, ids.ids, ids.n, 1, &out, &n), 0);
    assert_string_equal(out, "hi ab<R>c");
    free(out);
    idvec_free(&ids);
    tokenizer_free(t);
}

/* ---- normalization and invalid UTF-8 -------------------------------------------------- */

static void test_nfc(void **state) {
    (void)state;
    Spec s = {.merges = "Ã ©,c a,ca f,caf Ã©"}; /* é is "Ã©" in byte-level form */
    Tokenizer *t = load_spec(&s);
    assert_string_equal(tokens(t, "caf\xc3\xa9"), "cafÃ©");
    assert_string_equal(tokens(t, "cafe\xcc\x81"), "caf|e|Ì|ģ"); /* no normalizer: e + U+0301 */
    tokenizer_free(t);

    s.normalizer = "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}]}";
    s.added = "[" ADDED(600, "e\\u0301t\\u00e9",
                        "\"lstrip\": false, \"rstrip\": false, \"normalized\": true, \"special\": false") "]";
    t = load_spec(&s);
    assert_string_equal(tokens(t, "cafe\xcc\x81"), "cafÃ©"); /* NFC first */
    const char *nfd = "e\xcc\x81t\xc3\xa9", *nfc = "\xc3\xa9t\xc3\xa9";
    assert_string_equal(tokens(t, nfd), tokens(t, nfc)); /* a normalized added token matches either form */
    IdVec ids = {0};
    assert_int_equal(tokenizer_encode(t, nfc, strlen(nfc), &ids), 0);
    assert_int_equal(ids.n, 1);
    assert_int_equal(ids.ids[0], 600);
    idvec_free(&ids);
    tokenizer_free(t);
}

static void test_invalid_utf8(void **state) {
    (void)state;
    Spec s = {.merges = "ï ¿,ï¿ ½"};
    Tokenizer *t = load_spec(&s);
    /* WHATWG: each maximal invalid subpart becomes one U+FFFD (here the token "ï¿½") */
    assert_string_equal(tokens_n(t,
                                 "a\xff"
                                 "b",
                                 3),
                        "a|ï¿½|b");
    assert_string_equal(tokens_n(t, "\xe2\x82", 2), "ï¿½"); /* truncated: one */
    assert_string_equal(tokens_n(t,
                                 "\xe2\x82"
                                 "a",
                                 3),
                        "ï¿½|a");
    assert_string_equal(tokens_n(t, "\xf0\x80\x80", 3), "ï¿½|ï¿½|ï¿½");         /* overlong: three */
    assert_string_equal(tokens_n(t, "\xed\xa0\x80", 3), "ï¿½|ï¿½|ï¿½");         /* surrogate: three */
    assert_string_equal(tokens_n(t, "\xf4\x90\x80\x80", 4), "ï¿½|ï¿½|ï¿½|ï¿½"); /* > U+10FFFF */
    assert_string_equal(tokens_n(t, "\xc0\xaf", 2), "ï¿½|ï¿½");
    assert_string_equal(tokens_n(t,
                                 "\xf0\x9f\x98"
                                 "!",
                                 4),
                        "ï¿½|!");
    assert_string_equal(tokens_n(t, "x\0y", 3), "x|Ā|y"); /* NUL is a byte like any other */

    /* decoding bytes that are not UTF-8 gives U+FFFD too */
    int lone[] = {0xE2, 0x82};
    char *out;
    size_t n;
    assert_int_equal(tokenizer_decode(t, lone, 2, 0, &out, &n), 0);
    assert_string_equal(out, "\xef\xbf\xbd");
    free(out);
    tokenizer_free(t);
}

static void test_decode_round_trip(void **state) {
    (void)state;
    Spec s = {.merges = "Ġ t,h e,Ġt he,Ã ¤,Ã ¶,Ã ¼",
              .added = "[" ADDED(700, "<|endoftext|>",
                                 "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true") "]"};
    Tokenizer *t = load_spec(&s);
    const char *texts[] = {"the quick brown fox",
                           "  leading and trailing  ",
                           "Grüße aus Köln, Straße",
                           "tabs\tand\r\n",
                           "emoji \xf0\x9f\x98\x80 \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
                           "<|endoftext|>x",
                           "",
                           "\xe4\xbd\xa0\xe5\xa5\xbd"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        IdVec ids = {0};
        assert_int_equal(tokenizer_encode(t, texts[i], strlen(texts[i]), &ids), 0);
        char *out;
        size_t n;
        assert_int_equal(tokenizer_decode(t, ids.ids, ids.n, 0, &out, &n), 0);
        assert_string_equal(out, texts[i]);
        assert_int_equal(n, strlen(texts[i]));
        free(out);
        idvec_free(&ids);
    }
    int bad[] = {5, 99999};
    char *out = NULL;
    size_t n;
    assert_int_equal(tokenizer_decode(t, bad, 2, 0, &out, &n), -1);
    assert_non_null(strstr(px_error_message(), "99999"));
    assert_null(tokenizer_id_to_token(t, 99999));
    assert_string_equal(tokenizer_id_to_token(t, 'a'), "a");
    tokenizer_free(t);
}

static void test_fingerprint(void **state) {
    (void)state;
    Spec s = {.merges = "a b,c d"};
    Tokenizer *t1 = load_spec(&s), *t2 = load_spec(&s);
    assert_true(tokenizer_fingerprint(t1) == tokenizer_fingerprint(t2));
    s.pair_merges = 1; /* the same merges written the other way: same tokenizer */
    Tokenizer *t3 = load_spec(&s);
    assert_true(tokenizer_fingerprint(t1) == tokenizer_fingerprint(t3));
    s.merges = "c d,a b"; /* other ranks */
    Tokenizer *t4 = load_spec(&s);
    assert_true(tokenizer_fingerprint(t1) != tokenizer_fingerprint(t4));
    s.merges = "a b,c d";
    s.normalizer = "{\"type\": \"NFC\"}";
    Tokenizer *t5 = load_spec(&s);
    assert_true(tokenizer_fingerprint(t1) != tokenizer_fingerprint(t5));
    tokenizer_free(t1);
    tokenizer_free(t2);
    tokenizer_free(t3);
    tokenizer_free(t4);
    tokenizer_free(t5);
}

/* ---- errors --------------------------------------------------------------------------- */

/* Loading `text` (a whole file) must fail with a message naming the file and `needle`. */
static void expect_load_error(const char *name, const char *text, const char *needle) {
    char path[PX_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    Tokenizer *t = (Tokenizer *)1;
    int rc = tokenizer_load(path, &t);
    const char *msg = px_error_message();
    if (rc == 0 || !strstr(msg, needle) || !strstr(msg, name)) {
        print_error("%s: expected an error naming '%s' and the file, got rc %d: %s\n", name, needle, rc, msg);
        fail();
    }
    assert_null(t);
}

/* Loading spec `s` must fail with a message containing `needle`. */
static void expect_spec_error(const Spec *s, const char *needle) {
    const char *path = write_spec("bad.json", s);
    Tokenizer *t = NULL;
    int rc = tokenizer_load(path, &t);
    const char *msg = px_error_message();
    if (rc == 0 || !strstr(msg, needle) || !strstr(msg, "bad.json")) {
        print_error("expected an error containing '%s', got rc %d: %s\n", needle, rc, msg);
        fail();
    }
    tokenizer_free(t);
}

#define SPLIT(re)                                                                                               \
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"" re "\"}, " \
    "\"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}"

static void test_unsupported_components(void **state) {
    (void)state;
    Spec s = {.normalizer = "{\"type\": \"NFKD\"}"};
    expect_spec_error(&s, "unsupported normalizer 'NFKD' (field normalizer.type)");
    s.normalizer = "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"Lowercase\"}]}";
    expect_spec_error(&s, "unsupported normalizer 'Lowercase' (field normalizer.normalizers[1].type)");
    s = (Spec){.pre_tokenizer = "{\"type\": \"Metaspace\", \"replacement\": \"_\"}"};
    expect_spec_error(&s, "unsupported pre_tokenizer 'Metaspace'");
    s.pre_tokenizer =
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, {\"type\": \"ByteLevel\"}]}";
    expect_spec_error(&s, "unsupported pre_tokenizer 'Digits' (field pre_tokenizer.pretokenizers[0].type)");
    s.pre_tokenizer =
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, "
        "\"behavior\": \"Removed\", \"invert\": false}, {\"type\": \"ByteLevel\"}]}";
    expect_spec_error(&s, "unsupported Split behavior 'Removed'");
    s.pre_tokenizer =
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, "
        "\"behavior\": \"Isolated\", \"invert\": true}, {\"type\": \"ByteLevel\"}]}";
    expect_spec_error(&s, "unsupported Split invert true");
    s.pre_tokenizer =
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, "
        "\"behavior\": \"Isolated\", \"invert\": false}]}";
    expect_spec_error(&s, "ByteLevel must be its last step");
    s.pre_tokenizer = SPLIT("(a)\\\\1");
    expect_spec_error(&s, "unsupported regex escape '\\1");
    s.pre_tokenizer = SPLIT("[\\\\w&&[^a]]");
    expect_spec_error(&s, "unsupported regex nested class or intersection");
    s.pre_tokenizer = SPLIT("(?<name>a)");
    expect_spec_error(&s, "unsupported regex group");
    s.pre_tokenizer = SPLIT("\\\\p{NoSuchScript}");
    expect_spec_error(&s, "cannot compile the regex of pre_tokenizer.pretokenizers[0].pattern.Regex");
    s = (Spec){.decoder = "{\"type\": \"WordPiece\"}"};
    expect_spec_error(&s, "unsupported decoder 'WordPiece' (field decoder.type)");
    s = (Spec){.model_extra = "\"byte_fallback\": true"};
    expect_spec_error(&s, "unsupported model.byte_fallback true");
    s = (Spec){.model_extra = "\"continuing_subword_prefix\": \"##\""};
    expect_spec_error(&s, "unsupported model.continuing_subword_prefix '##'");
    s = (Spec){.model_extra = "\"end_of_word_suffix\": \"</w>\""};
    expect_spec_error(&s, "unsupported model.end_of_word_suffix '</w>'");
    s = (Spec){.model_extra = "\"dropout\": 0.1"};
    expect_spec_error(&s, "unsupported model.dropout 0.1");

    expect_load_error("unigram.json",
                      "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}, \"normalizer\": null, "
                      "\"pre_tokenizer\": null, \"decoder\": null, \"added_tokens\": []}",
                      "unsupported model type 'Unigram' (field model.type)");
    expect_load_error("config.json", "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\"}",
                      "not a tokenizer.json (no \"model\" object); it looks like a model config.json");
    expect_load_error("garbage.json", "this is not JSON\n", "not a tokenizer.json: not valid JSON");
    expect_load_error(
        "unk.json",
        "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}, \"merges\": []}, "
        "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": "
        "\"ByteLevel\"}, \"added_tokens\": []}",
        "unk_token '<unk>' is not in the vocabulary (field model.unk_token)");
    expect_load_error("merge.json",
                      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\", \"ab\"]}, "
                      "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": "
                      "\"ByteLevel\"}, \"added_tokens\": []}",
                      "merge 'ab' is not two tokens separated by one space (field model.merges[1])");
    expect_load_error("nopre.json",
                      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": null, "
                      "\"pre_tokenizer\": null, \"decoder\": {\"type\": \"ByteLevel\"}, \"added_tokens\": []}",
                      "unsupported pre_tokenizer null");
    Tokenizer *t = NULL;
    assert_int_equal(tokenizer_load("/nonexistent/tokenizer.json", &t), -1);
    assert_non_null(strstr(px_error_message(), "/nonexistent/tokenizer.json: cannot open"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merges_by_rank),
        cmocka_unit_test(test_merge_ties_go_left),
        cmocka_unit_test(test_ignore_merges),
        cmocka_unit_test(test_bytes_and_pretokenizer),
        cmocka_unit_test(test_split_regex),
        cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_nfc),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_unsupported_components),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
