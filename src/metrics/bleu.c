/* bleu.c — BLEU as sacreBLEU 2.6 computes it.
 *
 * Text is decoded to code points (src/metrics/sacre_text.h); tokenizers rewrite the code-point
 * sequence the way sacreBLEU's regex substitutions do (leftmost, non-overlapping pair matches),
 * then split on Python's str.split() whitespace. Tokens are interned to integer ids, and n-gram
 * counts are matched per segment by counting the hypothesis's n-grams in a hash map, then each
 * reference's.
 */
#include "src/metrics/bleu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "src/base/common.h"
#include "src/base/strtab.h"
#include "src/base/vec.h"
#include "src/metrics/sacre_text.h"

/* ---- regex-equivalent rewriting passes ---- */

typedef int (*Pred)(uint32_t);

/* Every c with pred(c) becomes " c ". */
static int single_pass(const CpBuf *in, CpBuf *out, Pred pred) {
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (pred(c)) {
            if (cpbuf_push(out, ' ') || cpbuf_push(out, c) || cpbuf_push(out, ' ')) return -1;
        } else if (cpbuf_push(out, c)) {
            return -1;
        }
    }
    return 0;
}

/* Leftmost non-overlapping matches of (a)(b): style 0 -> "a b ", style 1 -> " a b". */
static int pair_pass(const CpBuf *in, CpBuf *out, Pred pa, Pred pb, int style) {
    out->n = 0;
    size_t i = 0;
    while (i < in->n) {
        uint32_t a = in->v[i];
        if (i + 1 < in->n && pa(a) && pb(in->v[i + 1])) {
            uint32_t b = in->v[i + 1];
            int rc = style == 0
                         ? (cpbuf_push(out, a) || cpbuf_push(out, ' ') || cpbuf_push(out, b) || cpbuf_push(out, ' '))
                         : (cpbuf_push(out, ' ') || cpbuf_push(out, a) || cpbuf_push(out, ' ') || cpbuf_push(out, b));
            if (rc) return -1;
            i += 2;
        } else {
            if (cpbuf_push(out, a)) return -1;
            i++;
        }
    }
    return 0;
}

/* Replace every occurrence of ASCII pattern pat by ASCII rep (Python str.replace). */
static int replace_all(const CpBuf *in, CpBuf *out, const char *pat, const char *rep) {
    out->n = 0;
    size_t pl = strlen(pat), i = 0;
    while (i < in->n) {
        size_t k = 0;
        while (k < pl && i + k < in->n && in->v[i + k] == (uint8_t)pat[k]) k++;
        if (k == pl) {
            for (const char *r = rep; *r; r++)
                if (cpbuf_push(out, (uint8_t)*r)) return -1;
            i += pl;
        } else {
            if (cpbuf_push(out, in->v[i])) return -1;
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

/* sacreBLEU's TokenizerRegexp, the part 13a and zh share: punctuation and symbols apart, periods
 * and commas apart unless next to a digit, a dash after a digit apart. */
static int regexp_passes(CpBuf *a, CpBuf *b) {
    if (single_pass(a, b, is_13a_punct)) return -1;
    cpbuf_swap(a, b);
    if (pair_pass(a, b, not_digit, is_dotcomma, 0)) return -1;
    cpbuf_swap(a, b);
    if (pair_pass(a, b, is_dotcomma, not_digit, 1)) return -1;
    cpbuf_swap(a, b);
    if (pair_pass(a, b, is_digit, is_dash, 0)) return -1;
    cpbuf_swap(a, b);
    return 0;
}

static int tok_13a(CpBuf *a, CpBuf *b) {
    if (replace_all(a, b, "<skipped>", "")) return -1;
    cpbuf_swap(a, b);
    if (replace_all(a, b, "-\n", "")) return -1;
    cpbuf_swap(a, b);
    if (replace_all(a, b, "\n", " ")) return -1;
    cpbuf_swap(a, b);
    int amp = 0;
    for (size_t i = 0; i < a->n; i++) amp |= a->v[i] == '&';
    if (amp) {
        static const char *const ent[4][2] = {{"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}};
        for (int e = 0; e < 4; e++) {
            if (replace_all(a, b, ent[e][0], ent[e][1])) return -1;
            cpbuf_swap(a, b);
        }
    }
    /* f" {line} " */
    b->n = 0;
    if (cpbuf_push(b, ' ')) return -1;
    for (size_t i = 0; i < a->n; i++)
        if (cpbuf_push(b, a->v[i])) return -1;
    if (cpbuf_push(b, ' ')) return -1;
    cpbuf_swap(a, b);
    return regexp_passes(a, b);
}

static int tok_intl(CpBuf *a, CpBuf *b) {
    if (pair_pass(a, b, not_unum, is_upunct, 0)) return -1;
    cpbuf_swap(a, b);
    if (pair_pass(a, b, is_upunct, not_unum, 1)) return -1;
    cpbuf_swap(a, b);
    if (single_pass(a, b, is_usym)) return -1;
    cpbuf_swap(a, b);
    return 0;
}

/* The code points sacreBLEU's zh tokenizer puts spaces around. Its table compares one character
 * with range bounds as Python strings; two bounds are written with 5 hex digits after \u, which
 * Python reads as a 4-digit code point followed by a digit character ('\u20000' is U+2000 then
 * '0'), so those ranges are U+2001..U+2A6D and U+2F81..U+2FA1 (not U+20000.. / U+2F800..). */
static int is_zh_char(uint32_t c) {
    static const uint32_t R[][2] = {
        {0x3400, 0x4DB5}, {0x4E00, 0x9FA5}, {0x9FA6, 0x9FBB}, {0xF900, 0xFA2D}, {0xFA30, 0xFA6A}, {0xFA70, 0xFAD9},
        {0x2001, 0x2A6D}, {0x2F81, 0x2FA1}, {0xFF00, 0xFFEF}, {0x2E80, 0x2EFF}, {0x3000, 0x303F}, {0x31C0, 0x31EF},
        {0x2F00, 0x2FDF}, {0x2FF0, 0x2FFF}, {0x3100, 0x312F}, {0x31A0, 0x31BF}, {0xFE10, 0xFE1F}, {0xFE30, 0xFE4F},
        {0x2600, 0x26FF}, {0x2700, 0x27BF}, {0x3200, 0x32FF}, {0x3300, 0x33FF}};
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++)
        if (c >= R[i][0] && c <= R[i][1]) return 1;
    return 0;
}

/* zh: strip, a space either side of every Chinese character, then TokenizerRegexp's passes
 * (no 13a entity handling and no padding spaces). */
static int tok_zh(CpBuf *a, CpBuf *b) {
    size_t s = 0, e = a->n;
    while (s < e && sacre_py_space(a->v[s])) s++;
    while (e > s && sacre_py_space(a->v[e - 1])) e--;
    b->n = 0;
    for (size_t i = s; i < e; i++) {
        uint32_t c = a->v[i];
        int zh = is_zh_char(c);
        if ((zh && cpbuf_push(b, ' ')) || cpbuf_push(b, c) || (zh && cpbuf_push(b, ' '))) return -1;
    }
    cpbuf_swap(a, b);
    return regexp_passes(a, b);
}

/* Applies tokenizer tok to a (already lowercased, rstripped) line in *a; result in *a. */
static int tokenize(BleuTokenizer tok, CpBuf *a, CpBuf *b) {
    switch (tok) {
        case BLEU_TOK_NONE:
        case BLEU_TOK_CHAR: /* " ".join(chars) then split() == every non-space char */ return 0;
        case BLEU_TOK_13A: return tok_13a(a, b);
        case BLEU_TOK_INTL: return tok_intl(a, b);
        case BLEU_TOK_ZH: return tok_zh(a, b);
    }
    return 0;
}

/* ---- BLEU ---- */

int bleu_tokenizer_parse(const char *name, BleuTokenizer *out) {
    if (!name) return px_error("bleu: tokenizer name missing");
    for (int t = BLEU_TOK_13A; t <= BLEU_TOK_ZH; t++)
        if (!strcmp(name, bleu_tokenizer_name((BleuTokenizer)t))) {
            *out = (BleuTokenizer)t;
            return 0;
        }
    return px_error("bleu: unknown tokenizer '%s' (expected 13a, none, intl, char or zh)", name);
}

const char *bleu_tokenizer_name(BleuTokenizer t) {
    switch (t) {
        case BLEU_TOK_13A: return "13a";
        case BLEU_TOK_NONE: return "none";
        case BLEU_TOK_INTL: return "intl";
        case BLEU_TOK_CHAR: return "char";
        case BLEU_TOK_ZH: return "zh";
    }
    return "?";
}

void bleu_signature_refs(int nrefs, BleuTokenizer tok, int lowercase, char *buf, size_t size) {
    snprintf(buf, size, "nrefs:%d|case:%s|eff:no|tok:%s|smooth:exp|version:2.6.0", nrefs, lowercase ? "lc" : "mixed",
             bleu_tokenizer_name(tok));
}

void bleu_signature(BleuTokenizer tok, int lowercase, char *buf, size_t size) {
    bleu_signature_refs(1, tok, lowercase, buf, size);
}

typedef struct {
    CpBuf a, b, ids_h;
    CpBuf *ids_r; /* [nrefs] */
    int nrefs;
    SacreNgrams sc;
    StrTab in;
} Work;

static int work_init(Work *w, int nrefs) {
    memset(w, 0, sizeof *w);
    w->ids_r = calloc((size_t)(nrefs > 0 ? nrefs : 1), sizeof *w->ids_r);
    if (!w->ids_r) return px_error("bleu: out of memory");
    w->nrefs = nrefs;
    return 0;
}

static void work_free(Work *w) {
    free(w->a.v);
    free(w->b.v);
    free(w->ids_h.v);
    for (int k = 0; w->ids_r && k < w->nrefs; k++) free(w->ids_r[k].v);
    free(w->ids_r);
    sacre_ngrams_free(&w->sc);
    strtab_free(&w->in);
}

/* sacreBLEU BLEU._preprocess_segment (lowercase, rstrip, tokenize) and the split into words;
 * the words are left in w->a (as code points, one space apart) and their ids in ids. */
static int bleu_segment_ids(const char *s, BleuTokenizer tok, int lowercase, Work *w, CpBuf *ids) {
    if (sacre_decode(s, lowercase, &w->a)) return -1;
    while (w->a.n && sacre_py_space(w->a.v[w->a.n - 1])) w->a.n--; /* rstrip */
    if (tokenize(tok, &w->a, &w->b)) return -1;
    if (tok == BLEU_TOK_CHAR) {
        ids->n = 0;
        for (size_t i = 0; i < w->a.n; i++)
            if (!sacre_py_space(w->a.v[i]) && sacre_add_token(&w->in, ids, w->a.v + i, 1)) return -1;
        return 0;
    }
    return sacre_split_words(&w->a, &w->in, ids, 0);
}

/* sacreBLEU's _get_closest_ref_len: the reference length nearest hyp_len, the shorter on a tie. */
static int64_t closest_ref_len(int64_t hyp_len, const CpBuf *ids_r, int nrefs) {
    int64_t best_diff = -1, best = -1;
    for (int k = 0; k < nrefs; k++) {
        int64_t len = (int64_t)ids_r[k].n, diff = len > hyp_len ? len - hyp_len : hyp_len - len;
        if (best_diff == -1 || diff < best_diff) best_diff = diff, best = len;
        else if (diff == best_diff && len < best) best = len;
    }
    return best;
}

/* Adds one segment's statistics (refs[k]: its k-th reference) to acc. */
static int bleu_add_stats(const char *hyp, const char *const *refs, BleuTokenizer tok, int lowercase, Work *w,
                          BleuResult *acc) {
    if (bleu_segment_ids(hyp, tok, lowercase, w, &w->ids_h)) return -1;
    const CpBuf *r[64];
    for (int k = 0; k < w->nrefs; k++) {
        if (bleu_segment_ids(refs[k], tok, lowercase, w, &w->ids_r[k])) return -1;
        r[k] = &w->ids_r[k];
    }
    acc->sys_len += (int64_t)w->ids_h.n;
    acc->ref_len += closest_ref_len((int64_t)w->ids_h.n, w->ids_r, w->nrefs);
    for (size_t n = 1; n <= 4; n++) {
        if (w->ids_h.n >= n) acc->totals[n - 1] += (int64_t)(w->ids_h.n - n + 1);
        int64_t m;
        if (sacre_ngram_matches(&w->ids_h, r, w->nrefs, n, &w->sc, &m)) return -1;
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

#define BLEU_MAX_REFS 64

int corpus_bleu_refs(const char *const *hyps, const char *const *const *refs, int nrefs, int n, BleuTokenizer tok,
                     int lowercase, BleuResult *out) {
    if (n < 0 || (n > 0 && (!hyps || !refs)) || nrefs < 1 || nrefs > BLEU_MAX_REFS)
        return px_error("corpus_bleu: bad arguments (1 to %d references)", BLEU_MAX_REFS);
    memset(out, 0, sizeof *out);
    Work w;
    if (work_init(&w, nrefs)) return -1;
    int rc = 0;
    const char *seg_refs[BLEU_MAX_REFS];
    for (int i = 0; i < n && !rc; i++) {
        for (int k = 0; k < nrefs; k++) seg_refs[k] = refs[k][i];
        rc = bleu_add_stats(hyps[i], seg_refs, tok, lowercase, &w, out);
    }
    work_free(&w);
    if (rc) return -1;
    bleu_finish(out, 0);
    return 0;
}

int corpus_bleu(const char *const *hyps, const char *const *refs, int n, BleuTokenizer tok, int lowercase,
                BleuResult *out) {
    const char *const *streams[1] = {refs};
    return corpus_bleu_refs(hyps, streams, 1, n, tok, lowercase, out);
}

int sentence_bleu(const char *hyp, const char *ref, BleuTokenizer tok, int lowercase, BleuResult *out) {
    memset(out, 0, sizeof *out);
    Work w;
    if (work_init(&w, 1)) return -1;
    const char *refs[1] = {ref};
    int rc = bleu_add_stats(hyp, refs, tok, lowercase, &w, out);
    work_free(&w);
    if (rc) return -1;
    bleu_finish(out, 1);
    return 0;
}

/* Appends code point c as UTF-8 (a U+DC80.. escape as the byte it stands for). */
static int put_utf8(char **s, size_t *n, size_t *cap, uint32_t c) {
    uint8_t tmp[4];
    size_t k;
    if (c >= 0xDC80 && c <= 0xDCFF) tmp[0] = (uint8_t)(c - 0xDC00), k = 1;
    else k = (size_t)utf8proc_encode_char((utf8proc_int32_t)c, tmp);
    for (size_t i = 0; i < k; i++)
        if (VEC_PUSH(*s, *n, *cap, (char)tmp[i], "bleu: tokens")) return -1;
    return 0;
}

int bleu_tokens(const char *segment, BleuTokenizer tok, int lowercase, char **out) {
    *out = NULL;
    Work w;
    if (work_init(&w, 1)) return -1;
    int rc = bleu_segment_ids(segment, tok, lowercase, &w, &w.ids_h);
    char *s = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < w.ids_h.n && !rc; i++) {
        size_t id = w.ids_h.v[i];
        const char *bytes = strtab_str(&w.in, id); /* the token's code points, not aligned */
        size_t len = strtab_len(&w.in, id) / sizeof(uint32_t);
        if (i) rc = VEC_PUSH(s, n, cap, ' ', "bleu: tokens");
        for (size_t j = 0; j < len && !rc; j++) {
            uint32_t c;
            memcpy(&c, bytes + j * sizeof c, sizeof c);
            rc = put_utf8(&s, &n, &cap, c);
        }
    }
    if (!rc) rc = VEC_PUSH(s, n, cap, '\0', "bleu: tokens");
    work_free(&w);
    if (rc) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}
