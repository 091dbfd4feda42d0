/* ter.c — TER as sacreBLEU 2.6's lib_ter computes it (src/metrics/ter.h).
 *
 * Per hypothesis/reference pair: repeat { find the block shift that lowers the beam edit distance
 * the most; apply it } until none helps or 1000 candidates were tried; edits = shifts + the final
 * edit distance. The edit distance of a shifted candidate reuses the rows of the current
 * hypothesis's matrix for their common prefix (a row depends only on the words before it and on
 * the lengths), as sacreBLEU's prefix cache does.
 */
#include "src/metrics/ter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/metrics/sacre_text.h"

#define TER_MAX_SHIFT_SIZE 10
#define TER_MAX_SHIFT_DIST 50
#define TER_BEAM_WIDTH 25
#define TER_MAX_SHIFT_CANDIDATES 1000
#define TER_INF 10000000000000000LL /* 1e16, sacreBLEU's _INT_INFINITY */
#define TER_MAX_REFS 64

/* Operations on the way from the hypothesis (rows) to the reference (columns): ' ' match,
 * 's' substitution, 'd' a hypothesis word dropped, 'i' a reference word inserted, 'x' unset. */
typedef struct {
    int64_t cost;
    char op;
} Cell;

typedef struct {
    const uint32_t *ref;
    int nr, nh;                    /* the lengths; shifts keep nh */
    double ratio;                  /* nr / nh: the slope of the beam's diagonal */
    int beam;                      /* half-width of the band of columns computed per row */
    Cell *base;                    /* [(nh+1) x (nr+1)]: the matrix of cur */
    Cell *cand;                    /* the same, rows past the common prefix, for a candidate */
    uint32_t *cur;                 /* [nh] the hypothesis with the shifts so far */
    uint32_t *shift;               /* [nh] a candidate */
    uint32_t *best;                /* [nh] the best candidate so far */
    int *align;                    /* [nr] hypothesis position each reference word aligns to (-1: before the first) */
    char *hyp_err, *ref_err, *ops; /* [nh], [nr], [nh + nr] */
} Ter;

/* Row i of a matrix (rows 0..nh, nr + 1 cells each). */
static Cell *row_of(const Ter *t, Cell *m, int i) { return m + (size_t)i * (size_t)(t->nr + 1); }

/* Row 0: every reference word inserted. */
static void first_row(const Ter *t, Cell *m) {
    for (int j = 0; j <= t->nr; j++) m[j] = (Cell){j, 'i'};
}

/* Row i (1-based hypothesis word `word`) from the row above, in the band around the diagonal
 * (the whole last row); ties prefer match/substitution, then a dropped hypothesis word, then an
 * inserted reference word (sacreBLEU's order, which its flipped alignment needs). */
static void dp_row(const Ter *t, const Cell *prev, Cell *row, int i, uint32_t word) {
    for (int j = 0; j <= t->nr; j++) row[j] = (Cell){TER_INF, 'x'};
    int64_t diag = (int64_t)floor((double)i * t->ratio);
    int64_t lo = diag - t->beam > 0 ? diag - t->beam : 0;
    int64_t hi = diag + t->beam < t->nr + 1 ? diag + t->beam : t->nr + 1;
    if (i == t->nh) hi = t->nr + 1;
    for (int64_t j = lo; j < hi; j++) {
        if (j == 0) {
            row[0] = (Cell){prev[0].cost + 1, 'd'};
            continue;
        }
        int same = word == t->ref[j - 1];
        Cell c[3] = {
            {prev[j - 1].cost + (same ? 0 : 1), same ? ' ' : 's'}, {prev[j].cost + 1, 'd'}, {row[j - 1].cost + 1, 'i'}};
        for (int k = 0; k < 3; k++)
            if (row[j].cost > c[k].cost) row[j] = c[k];
    }
}

/* The edit distance of cur, with its whole matrix in base. */
static int64_t distance_cur(Ter *t) {
    first_row(t, t->base);
    for (int i = 1; i <= t->nh; i++) dp_row(t, row_of(t, t->base, i - 1), row_of(t, t->base, i), i, t->cur[i - 1]);
    return row_of(t, t->base, t->nh)[t->nr].cost;
}

/* The edit distance of the candidate in t->shift: rows up to their common prefix with cur are
 * base's. */
static int64_t distance_shift(Ter *t) {
    int p = 0;
    while (p < t->nh && t->shift[p] == t->cur[p]) p++;
    if (p == t->nh) return row_of(t, t->base, t->nh)[t->nr].cost;
    for (int i = p + 1; i <= t->nh; i++) {
        const Cell *prev = i - 1 <= p ? row_of(t, t->base, i - 1) : row_of(t, t->cand, i - 1);
        dp_row(t, prev, row_of(t, t->cand, i), i, t->shift[i - 1]);
    }
    return row_of(t, t->cand, t->nh)[t->nr].cost;
}

/* The alignment of cur from base's trace, read with insertions and deletions swapped
 * (sacreBLEU flips the trace to rewrite the reference into the hypothesis). */
static int align_cur(Ter *t) {
    int i = t->nh, j = t->nr, n = 0;
    while (i > 0 || j > 0) {
        char op = row_of(t, t->base, i)[j].op;
        t->ops[n++] = op;
        if (op == ' ' || op == 's') i--, j--;
        else if (op == 'i') j--;
        else if (op == 'd') i--;
        else
            return px_error("TER: the edit-distance trace leaves the beam (%d hypothesis, %d reference words)", t->nh,
                            t->nr);
    }
    int ph = -1, pr = -1;
    for (int k = n - 1; k >= 0; k--) { /* ops[] is the trace backwards */
        char op = t->ops[k];
        if (op == ' ' || op == 's') {
            ph++, pr++;
            t->align[pr] = ph;
            t->hyp_err[ph] = t->ref_err[pr] = op == 's';
        } else if (op == 'd') { /* flipped: an inserted hypothesis word */
            t->hyp_err[++ph] = 1;
        } else { /* 'i', flipped: a deleted reference word */
            t->align[++pr] = ph;
            t->ref_err[pr] = 1;
        }
    }
    return 0;
}

/* Python's list slice w[a:b] appended to out at *k (bounds clamped to [0, n]). */
static void put_slice(uint32_t *out, int *k, const uint32_t *w, int n, int a, int b) {
    if (a > n) a = n;
    if (b > n) b = n;
    for (int i = a; i < b; i++) out[(*k)++] = w[i];
}

/* sacreBLEU's _perform_shift: cur's words [start, start + len) moved to target. */
static void perform_shift(Ter *t, int start, int len, int target) {
    const uint32_t *w = t->cur;
    int n = t->nh, k = 0;
    if (target < start) {
        put_slice(t->shift, &k, w, n, 0, target);
        put_slice(t->shift, &k, w, n, start, start + len);
        put_slice(t->shift, &k, w, n, target, start);
        put_slice(t->shift, &k, w, n, start + len, n);
    } else if (target > start + len) {
        put_slice(t->shift, &k, w, n, 0, start);
        put_slice(t->shift, &k, w, n, start + len, target);
        put_slice(t->shift, &k, w, n, start, start + len);
        put_slice(t->shift, &k, w, n, target, n);
    } else {
        put_slice(t->shift, &k, w, n, 0, start);
        put_slice(t->shift, &k, w, n, start + len, len + target);
        put_slice(t->shift, &k, w, n, start, start + len);
        put_slice(t->shift, &k, w, n, len + target, n);
    }
}

/* Tercom's ranking of a shift: the larger gain, then the longer block, the earlier start, the
 * earlier target. */
typedef struct {
    int64_t gain;
    int len, start, target;
} Rank;

static int rank_better(const Rank *a, const Rank *b) {
    if (a->gain != b->gain) return a->gain > b->gain;
    if (a->len != b->len) return a->len > b->len;
    if (a->start != b->start) return a->start < b->start;
    return a->target < b->target;
}

static int any_err(const char *err, int from, int len) {
    for (int i = from; i < from + len; i++)
        if (err[i]) return 1;
    return 0;
}

/* The targets of the block cur[sh, sh+len) == ref[sr, sr+len): before the reference words
 * sr-1 .. sr+len-1's aligned positions; each tried candidate counts in *checked. */
static void try_block(Ter *t, int sh, int sr, int len, int64_t pre, int64_t *checked, Rank *best, int *have) {
    if (!any_err(t->hyp_err, sh, len) || !any_err(t->ref_err, sr, len)) return;
    if (sh <= t->align[sr] && t->align[sr] < sh + len) return; /* not within the block itself */
    int prev = -1;
    for (int off = -1; off < len; off++) {
        int idx = sr + off == -1 ? 0 : t->align[sr + off] + 1;
        if (idx == prev) continue;
        prev = idx;
        perform_shift(t, sh, len, idx);
        Rank r = {pre - distance_shift(t), len, sh, idx};
        (*checked)++;
        if (!*have || rank_better(&r, best)) {
            *best = r;
            *have = 1;
            memcpy(t->best, t->shift, sizeof *t->best * (size_t)t->nh);
        }
    }
}

/* sacreBLEU's _shift: the best shift of cur (its gain in *gain, its words in t->best), trying the
 * blocks in sacreBLEU's order until *checked reaches the limit. */
static int best_shift(Ter *t, int64_t pre, int64_t *checked, int64_t *gain) {
    if (align_cur(t)) return -1;
    Rank best = {0};
    int have = 0;
    for (int sh = 0; sh < t->nh; sh++)
        for (int sr = 0; sr < t->nr; sr++) {
            if (abs(sr - sh) > TER_MAX_SHIFT_DIST) continue;
            for (int len = 1; len <= TER_MAX_SHIFT_SIZE && t->cur[sh + len - 1] == t->ref[sr + len - 1]; len++) {
                int64_t before = *checked;
                try_block(t, sh, sr, len, pre, checked, &best, &have);
                if (*checked != before && *checked >= TER_MAX_SHIFT_CANDIDATES) goto done;
                if (sh + len == t->nh || sr + len == t->nr) break;
            }
        }
done:
    *gain = have ? best.gain : 0;
    return 0;
}

static void ter_free(Ter *t) {
    free(t->base);
    free(t->cand);
    free(t->cur);
    free(t->shift);
    free(t->best);
    free(t->align);
    free(t->hyp_err);
    free(t->ref_err);
    free(t->ops);
}

int ter_edits(const uint32_t *hyp, int nh, const uint32_t *ref, int nr, int64_t *edits) {
    if (nr == 0) { /* an empty reference: every hypothesis word is an edit */
        *edits = nh;
        return 0;
    }
    Ter t = {.ref = ref, .nr = nr, .nh = nh};
    t.ratio = nh ? (double)nr / (double)nh : 1.0;
    t.beam = TER_BEAM_WIDTH < t.ratio / 2 ? (int)ceil(t.ratio / 2 + TER_BEAM_WIDTH) : TER_BEAM_WIDTH;
    size_t cells = (size_t)(nh + 1) * (size_t)(nr + 1), words = (size_t)nh + 1;
    t.base = malloc(cells * sizeof *t.base);
    t.cand = malloc(cells * sizeof *t.cand);
    t.cur = malloc(words * sizeof *t.cur);
    t.shift = malloc(words * sizeof *t.shift);
    t.best = malloc(words * sizeof *t.best);
    t.align = malloc((size_t)nr * sizeof *t.align);
    t.hyp_err = malloc(words);
    t.ref_err = malloc((size_t)nr);
    t.ops = malloc(words + (size_t)nr);
    if (!t.base || !t.cand || !t.cur || !t.shift || !t.best || !t.align || !t.hyp_err || !t.ref_err || !t.ops) {
        ter_free(&t);
        return px_error("TER: out of memory (%d x %d words)", nh, nr);
    }
    if (nh) memcpy(t.cur, hyp, (size_t)nh * sizeof *hyp);
    int64_t shifts = 0, checked = 0, dist = distance_cur(&t);
    for (;;) {
        int64_t gain;
        if (best_shift(&t, dist, &checked, &gain)) {
            ter_free(&t);
            return -1;
        }
        if (checked >= TER_MAX_SHIFT_CANDIDATES || gain <= 0) break; /* sacreBLEU drops the last shift found */
        shifts++;
        memcpy(t.cur, t.best, (size_t)nh * sizeof *t.cur);
        dist = distance_cur(&t);
    }
    *edits = shifts + dist;
    ter_free(&t);
    return 0;
}

/* TER's tokenizer with sacreBLEU's defaults: rstrip, lowercase unless case_sensitive, split. */
static int ter_words(const char *s, int case_sensitive, CpBuf *a, StrTab *in, CpBuf *ids) {
    if (sacre_decode(s, !case_sensitive, a)) return -1;
    return sacre_split_words(a, in, ids, 0);
}

int corpus_ter(const char *const *hyps, const char *const *const *refs, int nrefs, int n, int case_sensitive,
               TerResult *out) {
    if (n < 0 || (n > 0 && (!hyps || !refs)) || nrefs < 1 || nrefs > TER_MAX_REFS)
        return px_error("corpus_ter: bad arguments (1 to %d references)", TER_MAX_REFS);
    memset(out, 0, sizeof *out);
    CpBuf a = {0}, h = {0}, r = {0};
    StrTab in = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = ter_words(hyps[i], case_sensitive, &a, &in, &h);
        int64_t best = TER_INF, ref_words = 0;
        for (int k = 0; k < nrefs && !rc; k++) {
            int64_t e;
            rc = ter_words(refs[k][i], case_sensitive, &a, &in, &r) || ter_edits(h.v, (int)h.n, r.v, (int)r.n, &e);
            if (rc) break;
            ref_words += (int64_t)r.n;
            if (e < best) best = e;
        }
        if (rc) break;
        out->edits += best;
        out->ref_length += (double)ref_words / (double)nrefs;
        if (in.n > (1u << 20)) strtab_clear(&in); /* ids only need to agree within a segment */
    }
    free(a.v);
    free(h.v);
    free(r.v);
    strtab_free(&in);
    if (rc) return -1;
    if (out->ref_length > 0) out->score = 100 * ((double)out->edits / out->ref_length);
    else out->score = out->edits > 0 ? 100.0 : 0.0;
    return 0;
}

void ter_signature(int nrefs, int case_sensitive, char *buf, size_t size) {
    snprintf(buf, size, "nrefs:%d|case:%s|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0", nrefs,
             case_sensitive ? "mixed" : "lc");
}
