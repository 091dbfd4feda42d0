/* pretokenizer.c — everything tokenizer_encode does before BPE, as tokenizers.js does it:
 * invalid UTF-8 → U+FFFD, added tokens split out (longest match, left to right; lstrip/rstrip
 * trimming their neighbours), NFC, added tokens again on the normalized text, the Split regexes
 * (behaviour Isolated: matches and the gaps between them are pieces), then ByteLevel's prefix
 * space and GPT-2 regex. The pieces and added tokens go to a sink in text order: BPE for
 * tokenizer_encode (src/text/tokenizer.c), the caller for tokenizer_pretokenize (the BPE
 * trainer). Split patterns are translated from Oniguruma by src/text/pretokenizer_regex.c.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "src/base/common.h"
#include "src/base/utf8.h"
#include "src/base/vec.h"
#include "src/text/pretokenizer_regex.h"
#include "src/text/tokenizer_internal.h"

/* ───────────────────────── UTF-8 and whitespace ───────────────────────── */

int pretok_sanitize(StrBuf *b, const char *text, size_t n, size_t *replaced) {
    if (vec_reserve(&b->s, &b->cap, b->n + UTF8_SANITIZED_MAX(n) + 1, 1, "text")) return -1;
    b->n += utf8_sanitize(text, n, b->s + b->n, replaced);
    b->s[b->n] = '\0';
    return 0;
}

/* JavaScript's trim() whitespace: WhiteSpace and LineTerminator (note: U+FEFF yes, U+0085 no). */
static int is_js_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

void pretok_regex_free(Regex *r) {
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
    free(r->source);
    memset(r, 0, sizeof *r);
}

/* ───────────────────────── building ───────────────────────── */

/* Compiles a PCRE2 pattern (with JIT when available). */
static int regex_compile(const Tokenizer *t, Regex *re, const char *pcre_pat, const char *field) {
    int err;
    PCRE2_SIZE at;
    re->code = pcre2_compile((PCRE2_SPTR)pcre_pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &at, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return px_error("%s: cannot compile the regex of %s: %s", t->origin, field, (const char *)msg);
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* optional: the interpreter is the fallback */
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!re->md) return px_error("%s: out of memory for regex match data", t->origin);
    return 0;
}

int tokenizer_add_split(Tokenizer *t, const char *pattern, size_t len, int is_regex, const char *field) {
    if (t->n_splits == MAX_SPLITS)
        return px_error("%s: more than %d Split pre-tokenizers (%s)", t->origin, MAX_SPLITS, field);
    Regex *re = &t->splits[t->n_splits];
    StrBuf pcre = {0};
    re->source = strndup(pattern, len); /* NUL-terminated: the translator may look ahead with strstr */
    if (!re->source) return px_error("out of memory");
    int rc = is_regex ? pretokenizer_regex_translate(re->source, len, t->origin, field, &pcre)
                      : pretokenizer_regex_literal(pattern, len, t->origin, field, &pcre);
    if (rc == 0 && pcre.n == 0) rc = px_error("%s: empty Split pattern (field %s)", t->origin, field);
    if (rc == 0) rc = regex_compile(t, re, pcre.s, field);
    free(pcre.s);
    re->is_regex = is_regex;
    if (rc) {
        pretok_regex_free(re);
        return -1;
    }
    t->n_splits++;
    return 0;
}

/* Text whose code points are all below U+0300 is already NFC (nothing there decomposes into or composes with a combining mark), so it is
 * copied without calling utf8proc. */
int pretok_nfc(Work *w, const char *s, size_t n, StrBuf *out) {
    out->n = 0;
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0xCC) i++;
    if (i == n) return strbuf_put(out, s, n);
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_ssize_t k = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                            (utf8proc_int32_t *)w->ucs, (utf8proc_ssize_t)w->ucs_cap, opt);
    if (k > (utf8proc_ssize_t)w->ucs_cap) {
        if (vec_reserve(&w->ucs, &w->ucs_cap, (size_t)k + 1, sizeof *w->ucs, "NFC")) return -1;
        k = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, (utf8proc_int32_t *)w->ucs,
                               (utf8proc_ssize_t)w->ucs_cap, opt);
    }
    if (k < 0) return px_error("NFC normalization failed: %s", utf8proc_errmsg(k));
    if (vec_reserve(&w->ucs, &w->ucs_cap, (size_t)k + 1, sizeof *w->ucs, "NFC")) return -1; /* room for the NUL */
    utf8proc_ssize_t m = utf8proc_reencode((utf8proc_int32_t *)w->ucs, k, opt); /* composes, then UTF-8 in place */
    if (m < 0) return px_error("NFC normalization failed: %s", utf8proc_errmsg(m));
    return strbuf_put(out, w->ucs, (size_t)m);
}

/* The ByteLevel regex as tokenizers.js runs it: a native JavaScript regex, where \s is
 * JavaScript's whitespace (U+FEFF yes, U+0085 no). */
#define JS_SPACE \
    "\\t\\n\\x{B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" JS_SPACE
                                   "\\p{L}\\p{N}]+|[" JS_SPACE "]+(?![^" JS_SPACE "])|[" JS_SPACE "]+";

int pretok_finish(Tokenizer *t) {
    Work *w = t->work;
    w->mctx = pcre2_match_context_create(NULL);
    w->jit_stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
    if (!w->mctx || !w->jit_stack) return px_error("out of memory for the regex matcher");
    pcre2_jit_stack_assign(w->mctx, NULL, w->jit_stack);
    return t->use_regex ? regex_compile(t, &t->gpt2, GPT2_PATTERN, "the ByteLevel regex") : 0;
}

/* ───────────────────────── running ───────────────────────── */

/* Splits s[0..n) at the added tokens of `set` (at each position the longest token starting
 * there; positions advance left to right) into spans: text gaps and tokens. */
static int split_added(const Tokenizer *t, const AddedSet *set, const char *s, size_t n, int level) {
    Work *w = t->work;
    w->n_spans[level] = 0;
    size_t gap = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t hit = 0;
        for (uint32_t k = set->start[c]; k < set->start[c + 1]; k++) {
            const AddedTok *a = &t->added[set->cand[k]];
            if (a->nlen <= n - i && memcmp(s + i, t->added_text.s + a->noff, a->nlen) == 0) {
                hit = a->nlen;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        if (vec_reserve(&w->spans[level], &w->cap_spans[level], w->n_spans[level] + 2, sizeof(Span), "spans"))
            return -1;
        if (i > gap) w->spans[level][w->n_spans[level]++] = (Span){gap, i};
        w->spans[level][w->n_spans[level]++] = (Span){i, i + hit};
        i += hit;
        gap = i;
    }
    if (vec_reserve(&w->spans[level], &w->cap_spans[level], w->n_spans[level] + 1, sizeof(Span), "spans")) return -1;
    if (gap < n) w->spans[level][w->n_spans[level]++] = (Span){gap, n};
    return 0;
}

/* The added token whose content (or normalized content) is exactly s[sp], or NULL. */
static const AddedTok *added_lookup(const Tokenizer *t, const char *s, Span sp) {
    int32_t i;
    if (sp.b <= sp.a || !strtab_get(&t->added_map, s + sp.a, sp.b - sp.a, &i)) return NULL;
    return &t->added[i];
}

static void trim_end(const char *s, Span *sp) {
    while (sp->b > sp->a) {
        size_t k = sp->b - 1;
        while (k > sp->a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        if (!is_js_space(utf8_decode((const unsigned char *)s + k, (int)(sp->b - k)))) break;
        sp->b = k;
    }
}

static void trim_start(const char *s, Span *sp) {
    while (sp->a < sp->b) {
        int k = utf8_step((const unsigned char *)s + sp->a, sp->b - sp->a);
        if (k <= 0 || !is_js_space(utf8_decode((const unsigned char *)s + sp->a, k))) break;
        sp->a += (size_t)k;
    }
}

/* lstrip / rstrip: a span equal to an added token trims the whitespace of its neighbours, in
 * order, each test seeing the earlier trims (tokenizers.js). */
static void strip_neighbours(const Tokenizer *t, const char *s, int level) {
    Span *sp = t->work->spans[level];
    size_t n = t->work->n_spans[level];
    for (size_t i = 0; i < n; i++) {
        const AddedTok *a = added_lookup(t, s, sp[i]);
        if (!a) continue;
        if (a->lstrip && i > 0) trim_end(s, &sp[i - 1]);
        if (a->rstrip && i + 1 < n) trim_start(s, &sp[i + 1]);
    }
}

/* Next match of re in s[0..n) at or after *pos: 1 with [*ms, *me), 0 if none, -1 on error.
 * After an empty match the search resumes one character later (JavaScript's matchAll). */
static int regex_next(const Tokenizer *t, const Regex *re, const char *s, size_t n, size_t *pos, size_t *ms,
                      size_t *me) {
    if (*pos > n) return 0;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, *pos, PCRE2_NO_UTF_CHECK, re->md, t->work->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* a huge piece: the interpreter keeps its stack on the heap */
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, *pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, re->md, t->work->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return px_error("%s: regex match failed on a piece of %zu bytes: %s", t->origin, n, (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    *ms = ov[0], *me = ov[1];
    if (*me > *ms) *pos = *me;
    else if (*me < n) *pos = *me + (size_t)utf8_step((const unsigned char *)s + *me, n - *me);
    else *pos = n + 1;
    return 1;
}

/* Where the pre-tokenizer's output goes, in text order: each piece (added_id -1) and each added
 * token (its id). tokenizer_encode's sink runs BPE; tokenizer_pretokenize's is the caller's. */
typedef struct {
    TokenizerPieceFn fn;
    void *ctx;
} Sink;

/* The ByteLevel step on one piece: prefix space, GPT-2 regex (use_regex), then the sink. */
static int byte_level(const Tokenizer *t, const char *s, size_t n, const Sink *out) {
    if (t->add_prefix_space && (n == 0 || s[0] != ' ')) {
        StrBuf *p = &t->work->prefixed;
        p->n = 0;
        if (strbuf_put(p, " ", 1) || strbuf_put(p, s, n)) return -1;
        s = p->s, n = p->n;
    }
    if (!t->use_regex) return out->fn(s, n, -1, out->ctx) ? -1 : 0;
    size_t pos = 0, ms, me;
    int rc;
    while ((rc = regex_next(t, &t->gpt2, s, n, &pos, &ms, &me)) == 1)
        if (me > ms && out->fn(s + ms, me - ms, -1, out->ctx)) return -1;
    return rc;
}

/* Split step k (Isolated: matches and gaps are pieces), then the steps after it. */
static int pre_tokenize(const Tokenizer *t, int k, const char *s, size_t n, const Sink *out) {
    if (k == t->n_splits) return byte_level(t, s, n, out);
    size_t pos = 0, prev = 0, ms, me;
    int rc;
    while ((rc = regex_next(t, &t->splits[k], s, n, &pos, &ms, &me)) == 1) {
        if (ms > prev && pre_tokenize(t, k + 1, s + prev, ms - prev, out)) return -1;
        if (me > ms && pre_tokenize(t, k + 1, s + ms, me - ms, out)) return -1;
        prev = me;
    }
    if (rc < 0) return -1;
    return prev < n ? pre_tokenize(t, k + 1, s + prev, n - prev, out) : 0;
}

/* An added token found in the text (s[sp]) goes to the sink with its id. */
static int put_added(const AddedTok *a, const char *s, Span sp, const Sink *out) {
    return out->fn(s + sp.a, sp.b - sp.a, a->id, out->ctx) ? -1 : 0;
}

/* A section after normalization: split out normalized added tokens, pre-tokenize the rest. */
static int split_normalized(const Tokenizer *t, const char *s, size_t n, const Sink *out) {
    if (split_added(t, &t->norm_set, s, n, 1)) return -1;
    strip_neighbours(t, s, 1);
    for (size_t i = 0; i < t->work->n_spans[1]; i++) {
        Span sp = t->work->spans[1][i];
        if (sp.b <= sp.a) continue;
        const AddedTok *a = added_lookup(t, s, sp);
        if (a ? put_added(a, s, sp, out) : pre_tokenize(t, 0, s + sp.a, sp.b - sp.a, out)) return -1;
    }
    return 0;
}

/* Valid UTF-8 text: split out raw added tokens, normalize and pre-tokenize the sections between. */
static int split_valid(const Tokenizer *t, const char *s, size_t n, const Sink *out) {
    Work *w = t->work;
    if (split_added(t, &t->raw_set, s, n, 0)) return -1;
    strip_neighbours(t, s, 0);
    for (size_t i = 0; i < w->n_spans[0]; i++) {
        Span sp = w->spans[0][i];
        if (sp.b <= sp.a) continue;
        const AddedTok *a = added_lookup(t, s, sp);
        if (a) {
            if (put_added(a, s, sp, out)) return -1;
            continue;
        }
        const char *ns = s + sp.a;
        size_t nn = sp.b - sp.a;
        if (t->nfc) {
            if (pretok_nfc(w, ns, nn, &w->norm)) return -1;
            ns = w->norm.s, nn = w->norm.n;
        }
        if (nn && split_normalized(t, ns, nn, out)) return -1;
    }
    return 0;
}

/* Any bytes: invalid UTF-8 → U+FFFD, then the pipeline into out. */
static int split_text(const Tokenizer *t, const char *text, size_t len, const Sink *out, size_t *replaced) {
    if (replaced) *replaced = 0;
    size_t bad = utf8_first_invalid(text, len);
    if (bad == len) return split_valid(t, text, len, out);
    StrBuf *clean = &t->work->clean;
    clean->n = 0;
    if (strbuf_put(clean, text, bad) || pretok_sanitize(clean, text + bad, len - bad, replaced)) return -1;
    return split_valid(t, clean->s, clean->n, out);
}

int pretok_run(const Tokenizer *t, const char *text, size_t len, TokenizerPieceFn fn, void *ctx, size_t *replaced) {
    Sink out = {fn, ctx};
    return split_text(t, text, len, &out, replaced);
}

int tokenizer_pretokenize(const Tokenizer *t, const char *text, size_t len, TokenizerPieceFn fn, void *ctx,
                          size_t *replaced) {
    if (!t->finished) return px_error("%s: tokenizer used before tokenizer_finish", t->origin);
    return pretok_run(t, text, len, fn, ctx, replaced);
}
