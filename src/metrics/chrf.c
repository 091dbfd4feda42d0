/* chrf.c — chrF and chrF++ as sacreBLEU 2.6 computes them (src/metrics/chrf.h).
 *
 * Per segment and order: [hypothesis n-grams, reference n-grams, clipped matches]; character
 * n-grams over the text without whitespace, word n-grams over chrF++'s punctuation-split words.
 */
#include "src/metrics/chrf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/metrics/sacre_text.h"

#define CHRF_CHAR_ORDER 6
#define CHRF_MAX_WORD_ORDER 8
#define CHRF_MAX_ORDER (CHRF_CHAR_ORDER + CHRF_MAX_WORD_ORDER)
#define CHRF_MAX_REFS 64
#define CHRF_BETA 2

/* sacreBLEU CHRF._compute_f_score without eps smoothing: precision and recall averaged over the
 * orders where both sides have n-grams, then F-beta; the operations in Python's order. */
static double chrf_f_score(const int64_t *st, int order) {
    const double eps = 1e-16;
    const int factor = CHRF_BETA * CHRF_BETA;
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
    double score = (1 + factor) * avg_p * avg_r;
    score /= factor * avg_p + avg_r;
    return 100 * score;
}

/* One order's [hyp, ref, match]; the hypothesis count is 0 when the reference has none. */
static int order_stats(const CpBuf *h, const CpBuf *r, size_t order, SacreNgrams *sc, int64_t *st) {
    int64_t nh = h->n >= order ? (int64_t)(h->n - order + 1) : 0;
    int64_t nr = r->n >= order ? (int64_t)(r->n - order + 1) : 0;
    int64_t m;
    if (sacre_ngram_matches(h, &r, 1, order, sc, &m)) return -1;
    st[0] = nr > 0 ? nh : 0;
    st[1] = nr;
    st[2] = m;
    return 0;
}

/* A segment's text: its characters without whitespace and (chrF++) its word ids. */
typedef struct {
    CpBuf chars, words;
} Side;

static int side_read(const char *s, int word_order, int lowercase, StrTab *in, Side *x) {
    if (sacre_decode(s, lowercase, &x->chars)) return -1;
    if (word_order > 0 && sacre_split_words(&x->chars, in, &x->words, 1)) return -1;
    sacre_strip_space(&x->chars);
    return 0;
}

/* The statistics of hypothesis h against reference r: 3 numbers per order. */
static int segment_stats(const Side *h, const Side *r, int word_order, SacreNgrams *sc, int64_t *st) {
    for (int k = 1; k <= CHRF_CHAR_ORDER; k++)
        if (order_stats(&h->chars, &r->chars, (size_t)k, sc, st + 3 * (k - 1))) return -1;
    for (int k = 1; k <= word_order; k++)
        if (order_stats(&h->words, &r->words, (size_t)k, sc, st + 3 * (CHRF_CHAR_ORDER + k - 1))) return -1;
    return 0;
}

int corpus_chrf_refs(const char *const *hyps, const char *const *const *refs, int nrefs, int n, int word_order,
                     int lowercase, double *score) {
    if (n < 0 || (n > 0 && (!hyps || !refs)) || word_order < 0 || word_order > CHRF_MAX_WORD_ORDER || nrefs < 1 ||
        nrefs > CHRF_MAX_REFS)
        return px_error("corpus_chrf: bad arguments (word order 0..%d, 1 to %d references)", CHRF_MAX_WORD_ORDER,
                        CHRF_MAX_REFS);
    int order = CHRF_CHAR_ORDER + word_order;
    int64_t total[3 * CHRF_MAX_ORDER] = {0}, st[3 * CHRF_MAX_ORDER], best[3 * CHRF_MAX_ORDER];
    StrTab in = {0};
    SacreNgrams sc = {0};
    Side h = {0}, r = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = side_read(hyps[i], word_order, lowercase, &in, &h);
        double best_f = -1.0;
        for (int k = 0; k < nrefs && !rc; k++) {
            rc = side_read(refs[k][i], word_order, lowercase, &in, &r) || segment_stats(&h, &r, word_order, &sc, st);
            if (rc) break;
            double f = chrf_f_score(st, order);
            if (f > best_f) { /* the first best reference */
                best_f = f;
                memcpy(best, st, sizeof(int64_t) * 3 * (size_t)order);
            }
        }
        for (int j = 0; j < 3 * order && !rc; j++) total[j] += best[j];
        if (in.n > (1u << 20)) strtab_clear(&in); /* ids only need to agree within a segment */
    }
    free(h.chars.v);
    free(h.words.v);
    free(r.chars.v);
    free(r.words.v);
    sacre_ngrams_free(&sc);
    strtab_free(&in);
    if (rc) return -1;
    *score = chrf_f_score(total, order);
    return 0;
}

int corpus_chrf(const char *const *hyps, const char *const *refs, int n, int word_order, double *score) {
    const char *const *streams[1] = {refs};
    return corpus_chrf_refs(hyps, streams, 1, n, word_order, 0, score);
}

void chrf_name(int word_order, char *buf, size_t size) {
    snprintf(buf, size, "chrF%d%.*s", CHRF_BETA, word_order, "++++++++");
}

void chrf_signature(int nrefs, int word_order, int lowercase, char *buf, size_t size) {
    snprintf(buf, size, "nrefs:%d|case:%s|eff:yes|nc:%d|nw:%d|space:no|version:2.6.0", nrefs,
             lowercase ? "lc" : "mixed", CHRF_CHAR_ORDER, word_order);
}
