/* bleu.c — BLEU and chrF as sacreBLEU 2.x computes them.
 *
 * Text is decoded to code points; tokenizers rewrite the code-point sequence the way
 * sacreBLEU's regex substitutions do (leftmost, non-overlapping pair matches), then split on
 * Python's str.split() whitespace. Tokens are interned to integer ids, and n-gram counts are
 * matched per segment by counting the hypothesis's n-grams in a hash map, then the reference's.
 */
#include "src/metrics/bleu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "src/base/common.h"
#include "src/base/hashmap.h"
#include "src/base/strtab.h"
#include "src/base/vec.h"

/* ---- growable code-point buffer ---- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} Buf;

static int buf_push(Buf *b, uint32_t c) { return VEC_PUSH(b->v, b->n, b->cap, c, "bleu: code points"); }

static void buf_swap(Buf *a, Buf *b) {
    Buf t = *a;
    *a = *b;
    *b = t;
}

/* Python str.isspace() set (what str.split() with no argument splits on). */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* UTF-8 -> code points; invalid bytes map to U+DC80.. (like surrogateescape). */
static int decode(const char *s, int lowercase, Buf *out) {
    out->n = 0;
    const uint8_t *p = (const uint8_t *)(s ? s : "");
    size_t len = strlen((const char *)p), i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) {
            cp = 0xDC00 + p[i];
            k = 1;
        }
        i += (size_t)k;
        if (lowercase) {
            if (cp == 0x130) { /* Python: 'İ'.lower() == 'i' + U+0307 */
                if (buf_push(out, 'i') || buf_push(out, 0x307)) return -1;
                continue;
            }
            cp = utf8proc_tolower(cp);
        }
        if (buf_push(out, (uint32_t)cp)) return -1;
    }
    return 0;
}

/* ---- regex-equivalent rewriting passes ---- */

typedef int (*Pred)(uint32_t);

/* Every c with pred(c) becomes " c ". */
static int single_pass(const Buf *in, Buf *out, Pred pred) {
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (pred(c)) {
            if (buf_push(out, ' ') || buf_push(out, c) || buf_push(out, ' ')) return -1;
        } else if (buf_push(out, c)) {
            return -1;
        }
    }
    return 0;
}

/* Leftmost non-overlapping matches of (a)(b): style 0 -> "a b ", style 1 -> " a b". */
static int pair_pass(const Buf *in, Buf *out, Pred pa, Pred pb, int style) {
    out->n = 0;
    size_t i = 0;
    while (i < in->n) {
        uint32_t a = in->v[i];
        if (i + 1 < in->n && pa(a) && pb(in->v[i + 1])) {
            uint32_t b = in->v[i + 1];
            int rc = style == 0 ? (buf_push(out, a) || buf_push(out, ' ') || buf_push(out, b) || buf_push(out, ' '))
                                : (buf_push(out, ' ') || buf_push(out, a) || buf_push(out, ' ') || buf_push(out, b));
            if (rc) return -1;
            i += 2;
        } else {
            if (buf_push(out, a)) return -1;
            i++;
        }
    }
    return 0;
}

/* Replace every occurrence of ASCII pattern pat by ASCII rep (Python str.replace). */
static int replace_all(const Buf *in, Buf *out, const char *pat, const char *rep) {
    out->n = 0;
    size_t pl = strlen(pat), i = 0;
    while (i < in->n) {
        size_t k = 0;
        while (k < pl && i + k < in->n && in->v[i + k] == (uint8_t)pat[k]) k++;
        if (k == pl) {
            for (const char *r = rep; *r; r++)
                if (buf_push(out, (uint8_t)*r)) return -1;
            i += pl;
        } else {
            if (buf_push(out, in->v[i])) return -1;
            i++;
        }
    }
    return 0;
}

static int is_13a_punct(uint32_t c) {
    /* [\{-\~\[-\` -\&\(-\+\:-\@\/] */
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
           (c >= ':' && c <= '@') || c == '/';
}
static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int not_digit(uint32_t c) { return !is_digit(c); }
static int is_dotcomma(uint32_t c) { return c == '.' || c == ','; }
static int is_dash(uint32_t c) { return c == '-'; }

static int ucat(uint32_t c) {
    if (c > 0x10FFFF) return UTF8PROC_CATEGORY_CN;
    return (int)utf8proc_category((utf8proc_int32_t)c);
}
static int is_upunct(uint32_t c) {
    int k = ucat(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
static int is_usym(uint32_t c) {
    int k = ucat(c);
    return k >= UTF8PROC_CATEGORY_SM && k <= UTF8PROC_CATEGORY_SO;
}
static int not_unum(uint32_t c) {
    int k = ucat(c);
    return !(k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

/* Applies tokenizer tok to a (already lowercased, rstripped) line in *a; result in *a. */
static int tokenize(BleuTokenizer tok, Buf *a, Buf *b) {
    switch (tok) {
        case BLEU_TOK_NONE:
        case BLEU_TOK_CHAR: /* " ".join(chars) then split() == every non-space char */ return 0;
        case BLEU_TOK_13A: {
            if (replace_all(a, b, "<skipped>", "")) return -1;
            buf_swap(a, b);
            if (replace_all(a, b, "-\n", "")) return -1;
            buf_swap(a, b);
            if (replace_all(a, b, "\n", " ")) return -1;
            buf_swap(a, b);
            int amp = 0;
            for (size_t i = 0; i < a->n; i++) amp |= a->v[i] == '&';
            if (amp) {
                static const char *const ent[4][2] = {{"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}};
                for (int e = 0; e < 4; e++) {
                    if (replace_all(a, b, ent[e][0], ent[e][1])) return -1;
                    buf_swap(a, b);
                }
            }
            /* f" {line} " */
            b->n = 0;
            if (buf_push(b, ' ')) return -1;
            for (size_t i = 0; i < a->n; i++)
                if (buf_push(b, a->v[i])) return -1;
            if (buf_push(b, ' ')) return -1;
            buf_swap(a, b);
            if (single_pass(a, b, is_13a_punct)) return -1;
            buf_swap(a, b);
            if (pair_pass(a, b, not_digit, is_dotcomma, 0)) return -1;
            buf_swap(a, b);
            if (pair_pass(a, b, is_dotcomma, not_digit, 1)) return -1;
            buf_swap(a, b);
            if (pair_pass(a, b, is_digit, is_dash, 0)) return -1;
            buf_swap(a, b);
            return 0;
        }
        case BLEU_TOK_INTL:
            if (pair_pass(a, b, not_unum, is_upunct, 0)) return -1;
            buf_swap(a, b);
            if (pair_pass(a, b, is_upunct, not_unum, 1)) return -1;
            buf_swap(a, b);
            if (single_pass(a, b, is_usym)) return -1;
            buf_swap(a, b);
            return 0;
    }
    return 0;
}

/* ---- token interning: a token's id is its number in a StrTab of code-point strings ---- */

/* id of token c[0..n), or -1 on allocation failure. */
static int64_t intern(StrTab *in, const uint32_t *c, size_t n) { return strtab_intern(in, c, n * sizeof *c, 0, NULL); }

/* Splits a on Python whitespace; each token interned into ids (ids->n = token count).
 * If punct_split, applies chrF's _remove_punctuation to each word. */
static const char CHRF_PUNCTS[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
static int is_chrf_punct(uint32_t c) { return c && c < 128 && strchr(CHRF_PUNCTS, (int)c); }

static int add_tok(StrTab *in, Buf *ids, const uint32_t *c, size_t n) {
    int64_t id = intern(in, c, n);
    if (id < 0) return -1;
    return buf_push(ids, (uint32_t)id);
}

static int split_words(const Buf *a, StrTab *in, Buf *ids, int punct_split) {
    ids->n = 0;
    size_t i = 0;
    while (i < a->n) {
        while (i < a->n && py_space(a->v[i])) i++;
        if (i >= a->n) break;
        size_t s = i;
        while (i < a->n && !py_space(a->v[i])) i++;
        const uint32_t *w = a->v + s;
        size_t n = i - s;
        if (!punct_split || n == 1) {
            if (add_tok(in, ids, w, n)) return -1;
        } else if (is_chrf_punct(w[n - 1])) {
            if (add_tok(in, ids, w, n - 1) || add_tok(in, ids, w + n - 1, 1)) return -1;
        } else if (is_chrf_punct(w[0])) {
            if (add_tok(in, ids, w, 1) || add_tok(in, ids, w + 1, n - 1)) return -1;
        } else if (add_tok(in, ids, w, n)) {
            return -1;
        }
    }
    return 0;
}

/* ---- n-gram matching by counting in a hash map ---- */

/* A distinct n-gram of the hypothesis: where it first starts, and its counts in both sides. */
typedef struct {
    size_t at;
    int64_t nh, nr;
} Gram;

typedef struct {
    HashMap map; /* n-gram -> its Gram */
    Gram *g;
    size_t n, cap;
} Scratch;

static void scratch_free(Scratch *sc) {
    hashmap_free(&sc->map);
    free(sc->g);
}

/* The Gram of the n-gram x (bytes long) of the hypothesis h, or -1; *p ends where it would go. */
static long gram_find(const Scratch *sc, const uint32_t *h, const uint32_t *x, size_t bytes, HashProbe *p) {
    *p = hashmap_probe(&sc->map, hash_bytes(x, bytes));
    for (uint32_t k; hashmap_next(&sc->map, p, &k);)
        if (memcmp(h + sc->g[k].at, x, bytes) == 0) return (long)k;
    return -1;
}

/* Number of clipped matches of order-grams between h and r: the sum over the hypothesis's
 * n-grams of min(count in h, count in r). */
static int ngram_matches(const Buf *h, const Buf *r, size_t order, Scratch *sc, int64_t *match) {
    *match = 0;
    if (h->n < order || r->n < order) return 0;
    size_t nh = h->n - order + 1, bytes = order * sizeof *h->v;
    if (sc->map.mask + 1 > 8 * nh + 64) hashmap_free(&sc->map); /* after a long segment: a small table clears faster */
    hashmap_clear(&sc->map);
    sc->n = 0;
    if (hashmap_reserve(&sc->map, nh)) return -1;
    HashProbe p;
    for (size_t i = 0; i < nh; i++) {
        long k = gram_find(sc, h->v, h->v + i, bytes, &p);
        if (k >= 0) {
            sc->g[k].nh++;
            continue;
        }
        Gram g = {i, 1, 0};
        if (VEC_PUSH(sc->g, sc->n, sc->cap, g, "bleu: n-grams") || hashmap_insert(&sc->map, &p, (uint32_t)(sc->n - 1)))
            return -1;
    }
    for (size_t j = 0; j + order <= r->n; j++) {
        long k = gram_find(sc, h->v, r->v + j, bytes, &p);
        if (k >= 0 && sc->g[k].nr < sc->g[k].nh) sc->g[k].nr++, (*match)++;
    }
    return 0;
}

/* ---- BLEU ---- */

int bleu_tokenizer_parse(const char *name, BleuTokenizer *out) {
    if (!name) return px_error("bleu: tokenizer name missing");
    if (!strcmp(name, "13a")) *out = BLEU_TOK_13A;
    else if (!strcmp(name, "none")) *out = BLEU_TOK_NONE;
    else if (!strcmp(name, "intl")) *out = BLEU_TOK_INTL;
    else if (!strcmp(name, "char")) *out = BLEU_TOK_CHAR;
    else return px_error("bleu: unknown tokenizer '%s' (expected 13a, none, intl or char)", name);
    return 0;
}

static const char *tok_name(BleuTokenizer t) {
    switch (t) {
        case BLEU_TOK_13A: return "13a";
        case BLEU_TOK_NONE: return "none";
        case BLEU_TOK_INTL: return "intl";
        case BLEU_TOK_CHAR: return "char";
    }
    return "?";
}

void bleu_signature(BleuTokenizer tok, int lowercase, char *buf, size_t size) {
    snprintf(buf, size, "nrefs:1|case:%s|eff:no|tok:%s|smooth:exp|version:2.6.0", lowercase ? "lc" : "mixed",
             tok_name(tok));
}

typedef struct {
    Buf a, b, ids_h, ids_r;
    Scratch sc;
    StrTab in;
} Work;

static void work_free(Work *w) {
    free(w->a.v);
    free(w->b.v);
    free(w->ids_h.v);
    free(w->ids_r.v);
    scratch_free(&w->sc);
    strtab_free(&w->in);
}

/* sacreBLEU BLEU._preprocess_segment + tokenizer + split into interned ids. */
static int bleu_segment_ids(const char *s, BleuTokenizer tok, int lowercase, Work *w, Buf *ids) {
    if (decode(s, lowercase, &w->a)) return -1;
    while (w->a.n && py_space(w->a.v[w->a.n - 1])) w->a.n--; /* rstrip */
    if (tokenize(tok, &w->a, &w->b)) return -1;
    if (tok == BLEU_TOK_CHAR) {
        ids->n = 0;
        for (size_t i = 0; i < w->a.n; i++)
            if (!py_space(w->a.v[i]) && add_tok(&w->in, ids, w->a.v + i, 1)) return -1;
        return 0;
    }
    return split_words(&w->a, &w->in, ids, 0);
}

static int bleu_add_stats(const char *hyp, const char *ref, BleuTokenizer tok, int lowercase, Work *w,
                          BleuResult *acc) {
    if (bleu_segment_ids(hyp, tok, lowercase, w, &w->ids_h) || bleu_segment_ids(ref, tok, lowercase, w, &w->ids_r))
        return -1;
    acc->sys_len += (int64_t)w->ids_h.n;
    acc->ref_len += (int64_t)w->ids_r.n;
    for (size_t n = 1; n <= 4; n++) {
        if (w->ids_h.n >= n) acc->totals[n - 1] += (int64_t)(w->ids_h.n - n + 1);
        int64_t m;
        if (ngram_matches(&w->ids_h, &w->ids_r, n, &w->sc, &m)) return -1;
        acc->counts[n - 1] += m;
    }
    return 0;
}

static double my_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

/* sacreBLEU BLEU.compute_bleu with smooth_method='exp'. */
static void bleu_finish(BleuResult *r, int effective_order) {
    r->bp = 1.0;
    if (r->sys_len < r->ref_len) r->bp = r->sys_len > 0 ? exp(1.0 - (double)r->ref_len / (double)r->sys_len) : 0.0;
    double smooth = 1.0;
    int eff = 4;
    for (int k = 0; k < 4; k++) r->precisions[k] = 0.0;
    r->score = 0.0;
    if (!r->counts[0] && !r->counts[1] && !r->counts[2] && !r->counts[3])
        return; /* sacreBLEU: no matches at all -> 0 (precisions 0, bp kept) */
    for (int n = 1; n <= 4; n++) {
        if (r->totals[n - 1] == 0) break;
        if (effective_order) eff = n;
        if (r->counts[n - 1] == 0) {
            smooth *= 2.0;
            r->precisions[n - 1] = 100.0 / (smooth * (double)r->totals[n - 1]);
        } else {
            r->precisions[n - 1] = 100.0 * (double)r->counts[n - 1] / (double)r->totals[n - 1];
        }
    }
    double s = 0.0;
    for (int k = 0; k < eff; k++) s += my_log(r->precisions[k]);
    r->score = r->bp * exp(s / eff);
}

int corpus_bleu(const char *const *hyps, const char *const *refs, int n, BleuTokenizer tok, int lowercase,
                BleuResult *out) {
    if (n < 0 || (n > 0 && (!hyps || !refs))) return px_error("corpus_bleu: bad arguments");
    memset(out, 0, sizeof *out);
    Work w;
    memset(&w, 0, sizeof w);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = bleu_add_stats(hyps[i], refs[i], tok, lowercase, &w, out);
    work_free(&w);
    if (rc) return -1;
    bleu_finish(out, 0);
    return 0;
}

int sentence_bleu(const char *hyp, const char *ref, BleuTokenizer tok, int lowercase, BleuResult *out) {
    memset(out, 0, sizeof *out);
    Work w;
    memset(&w, 0, sizeof w);
    int rc = bleu_add_stats(hyp, ref, tok, lowercase, &w, out);
    work_free(&w);
    if (rc) return -1;
    bleu_finish(out, 1);
    return 0;
}

/* ---- chrF ---- */

#define CHRF_CHAR_ORDER 6
#define CHRF_MAX_ORDER (CHRF_CHAR_ORDER + 8)

static double chrf_f_score(const int64_t *st, int order, double beta) {
    const double eps = 1e-16, factor = beta * beta;
    double avg_p = 0.0, avg_r = 0.0;
    int eff = 0;
    for (int i = 0; i < order; i++) {
        int64_t nh = st[3 * i], nr = st[3 * i + 1], nm = st[3 * i + 2];
        double p = nh > 0 ? (double)nm / (double)nh : eps;
        double r = nr > 0 ? (double)nm / (double)nr : eps;
        if (nh > 0 && nr > 0) {
            avg_p += p;
            avg_r += r;
            eff++;
        }
    }
    if (eff == 0) return 0.0;
    avg_p /= eff;
    avg_r /= eff;
    if (avg_p + avg_r == 0.0) return 0.0;
    return 100.0 * ((1 + factor) * avg_p * avg_r) / (factor * avg_p + avg_r);
}

/* Adds [hyp, ref, match] for one order; hyp count is 0 when the reference has none. */
static int chrf_add(const Buf *h, const Buf *r, size_t order, Scratch *sc, int64_t *st) {
    int64_t nh = h->n >= order ? (int64_t)(h->n - order + 1) : 0;
    int64_t nr = r->n >= order ? (int64_t)(r->n - order + 1) : 0;
    int64_t m;
    if (ngram_matches(h, r, order, sc, &m)) return -1;
    st[0] += nr > 0 ? nh : 0;
    st[1] += nr;
    st[2] += m;
    return 0;
}

static void strip_space(Buf *a) {
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!py_space(a->v[i])) a->v[k++] = a->v[i];
    a->n = k;
}

int corpus_chrf(const char *const *hyps, const char *const *refs, int n, int word_order, double *score) {
    if (n < 0 || (n > 0 && (!hyps || !refs)) || word_order < 0 || word_order > 8)
        return px_error("corpus_chrf: bad arguments (word_order must be 0..8)");
    int order = CHRF_CHAR_ORDER + word_order;
    int64_t st[3 * CHRF_MAX_ORDER];
    memset(st, 0, sizeof st);
    Work w;
    memset(&w, 0, sizeof w);
    Buf hc = {0}, rc_ = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = decode(hyps[i], 0, &hc) || decode(refs[i], 0, &rc_);
        if (rc) break;
        if (word_order > 0) {
            rc = split_words(&hc, &w.in, &w.ids_h, 1) || split_words(&rc_, &w.in, &w.ids_r, 1);
            if (rc) break;
        }
        strip_space(&hc);
        strip_space(&rc_);
        for (int k = 1; k <= CHRF_CHAR_ORDER && !rc; k++) rc = chrf_add(&hc, &rc_, (size_t)k, &w.sc, st + 3 * (k - 1));
        for (int k = 1; k <= word_order && !rc; k++)
            rc = chrf_add(&w.ids_h, &w.ids_r, (size_t)k, &w.sc, st + 3 * (CHRF_CHAR_ORDER + k - 1));
    }
    free(hc.v);
    free(rc_.v);
    work_free(&w);
    if (rc) return -1;
    *score = chrf_f_score(st, order, 2.0);
    return 0;
}
