/* sacre_text.c — decoding, Python-compatible lowercasing (ICU), word splitting and n-gram matching
 * shared by BLEU, chrF and TER.
 */
#include "src/metrics/sacre_text.h"

#include <stdlib.h>
#include <string.h>

#include <unicode/ustring.h>
#include <unicode/utypes.h>
#include <utf8proc.h>

#include "src/base/common.h"
#include "src/base/vec.h"

int cpbuf_push(CpBuf *b, uint32_t c) { return VEC_PUSH(b->v, b->n, b->cap, c, "sacre_text: code points"); }

void cpbuf_swap(CpBuf *a, CpBuf *b) {
    CpBuf t = *a;
    *a = *b;
    *b = t;
}

int sacre_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- lowercasing: code points -> UTF-16 -> ICU u_strToLower (root locale) -> code points ---- */

/* Code points to UTF-16 (*u, *n units). The U+DC80.. escapes stay lone low surrogates, which ICU
 * passes through unchanged; no high surrogate ever precedes them, so the round trip is lossless. */
static int to_utf16(const CpBuf *a, UChar **u, int32_t *n) {
    if (a->n > (size_t)INT32_MAX / 2 - 1) return px_error("lowercase: segment too long (%zu code points)", a->n);
    UChar *p = malloc((2 * a->n + 1) * sizeof *p);
    if (!p) return px_error("lowercase: out of memory");
    int32_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint32_t c = a->v[i];
        if (c >= 0x10000) {
            p[k++] = (UChar)(0xD800 + ((c - 0x10000) >> 10));
            p[k++] = (UChar)(0xDC00 + ((c - 0x10000) & 0x3FF));
        } else {
            p[k++] = (UChar)c;
        }
    }
    *u = p;
    *n = k;
    return 0;
}

/* Python's str.lower on a whole segment: ICU's full lowercase mapping with no language rules,
 * whose context-sensitive Final_Sigma condition is the one Python applies (Σ after a cased letter
 * and not before one becomes ς), and whose İ becomes i + U+0307 as in Python. */
static int lowercase(CpBuf *a) {
    UChar *src = NULL, *dst = NULL;
    int32_t n = 0;
    if (a->n == 0) return 0;
    if (to_utf16(a, &src, &n)) return -1;
    int32_t cap = n + 16, len = 0;
    for (int attempt = 0; attempt < 2; attempt++) { /* the result may be longer: retry once at its size */
        free(dst);
        dst = malloc((size_t)cap * sizeof *dst);
        if (!dst) {
            free(src);
            return px_error("lowercase: out of memory");
        }
        UErrorCode err = U_ZERO_ERROR;
        len = u_strToLower(dst, cap, src, n, "", &err);
        if (err == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
            cap = len + 1;
            continue;
        }
        if (U_FAILURE(err)) {
            free(src);
            free(dst);
            return px_error("lowercase: ICU u_strToLower failed: %s", u_errorName(err));
        }
        break;
    }
    a->n = 0;
    int rc = 0;
    for (int32_t i = 0; i < len && !rc; i++) {
        uint32_t c = dst[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len && dst[i + 1] >= 0xDC00 && dst[i + 1] <= 0xDFFF)
            c = 0x10000 + ((c - 0xD800) << 10) + (uint32_t)(dst[++i] - 0xDC00);
        rc = cpbuf_push(a, c);
    }
    free(src);
    free(dst);
    return rc;
}

int sacre_decode(const char *s, int lower, CpBuf *out) {
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
        if (cpbuf_push(out, (uint32_t)cp)) return -1;
    }
    return lower ? lowercase(out) : 0;
}

void sacre_strip_space(CpBuf *a) {
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!sacre_py_space(a->v[i])) a->v[k++] = a->v[i];
    a->n = k;
}

/* ---- words ---- */

int sacre_add_token(StrTab *in, CpBuf *ids, const uint32_t *c, size_t n) {
    long id = strtab_intern(in, c, n * sizeof *c, 0, NULL);
    if (id < 0) return -1;
    return cpbuf_push(ids, (uint32_t)id);
}

/* Python's string.punctuation, which chrF++ separates from words. */
static int is_chrf_punct(uint32_t c) { return c && c < 128 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)c); }

int sacre_split_words(const CpBuf *a, StrTab *in, CpBuf *ids, int punct_split) {
    ids->n = 0;
    size_t i = 0;
    while (i < a->n) {
        while (i < a->n && sacre_py_space(a->v[i])) i++;
        if (i >= a->n) break;
        size_t s = i;
        while (i < a->n && !sacre_py_space(a->v[i])) i++;
        const uint32_t *w = a->v + s;
        size_t n = i - s;
        if (!punct_split || n == 1) {
            if (sacre_add_token(in, ids, w, n)) return -1;
        } else if (is_chrf_punct(w[n - 1])) {
            if (sacre_add_token(in, ids, w, n - 1) || sacre_add_token(in, ids, w + n - 1, 1)) return -1;
        } else if (is_chrf_punct(w[0])) {
            if (sacre_add_token(in, ids, w, 1) || sacre_add_token(in, ids, w + 1, n - 1)) return -1;
        } else if (sacre_add_token(in, ids, w, n)) {
            return -1;
        }
    }
    return 0;
}

/* ---- n-gram matching by counting in a hash map ---- */

/* A distinct n-gram of the hypothesis: where it first starts, its count there, its count in the
 * reference being read (clipped at nh), and the most any reference had (clipped). */
struct SacreGram {
    size_t at;
    int64_t nh, nr, best;
};

void sacre_ngrams_free(SacreNgrams *sc) {
    hashmap_free(&sc->map);
    free(sc->g);
    memset(sc, 0, sizeof *sc);
}

/* The gram of the n-gram x (bytes long) of the hypothesis h, or -1; *p ends where it would go. */
static long gram_find(const SacreNgrams *sc, const uint32_t *h, const uint32_t *x, size_t bytes, HashProbe *p) {
    *p = hashmap_probe(&sc->map, hash_bytes(x, bytes));
    for (uint32_t k; hashmap_next(&sc->map, p, &k);)
        if (memcmp(h + sc->g[k].at, x, bytes) == 0) return (long)k;
    return -1;
}

int sacre_ngram_matches(const CpBuf *h, const CpBuf *const *r, int nrefs, size_t order, SacreNgrams *sc,
                        int64_t *match) {
    *match = 0;
    if (h->n < order) return 0;
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
        struct SacreGram g = {i, 1, 0, 0};
        if (VEC_PUSH(sc->g, sc->n, sc->cap, g, "sacre_text: n-grams") ||
            hashmap_insert(&sc->map, &p, (uint32_t)(sc->n - 1)))
            return -1;
    }
    for (int q = 0; q < nrefs; q++) {
        for (size_t k = 0; k < sc->n; k++) sc->g[k].nr = 0;
        for (size_t j = 0; j + order <= r[q]->n; j++) {
            long k = gram_find(sc, h->v, r[q]->v + j, bytes, &p);
            if (k >= 0 && sc->g[k].nr < sc->g[k].nh) sc->g[k].nr++;
        }
        for (size_t k = 0; k < sc->n; k++)
            if (sc->g[k].nr > sc->g[k].best) sc->g[k].best = sc->g[k].nr;
    }
    for (size_t k = 0; k < sc->n; k++) *match += sc->g[k].best;
    return 0;
}
