/* diagnose_stats.c — AUCs and quantiles of the diagnostic's cues (diagnose.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/probe/diagnose.h"

typedef struct {
    double v;
    int64_t i;
} Keyed;

static int cmp_keyed(const void *a, const void *b) {
    const Keyed *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double diag_auc(const double *score, const unsigned char *label, int64_t n) {
    int64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i])) return NAN;
        pos += label[i] != 0;
    }
    const int64_t neg = n - pos;
    if (pos == 0 || neg == 0) return NAN;
    Keyed *k = px_calloc((size_t)n, sizeof *k, "AUC ranks");
    if (!k) return NAN; /* px_error says: out of memory */
    for (int64_t i = 0; i < n; i++) k[i] = (Keyed){score[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    /* the rank sum of the label-1 points, tied scores sharing their mean rank (1-based) */
    double rank_sum = 0;
    for (int64_t a = 0, b; a < n; a = b) {
        int64_t ones = 0;
        for (b = a; b < n && k[b].v == k[a].v; b++) ones += label[k[b].i] != 0;
        rank_sum += (double)ones * (0.5 * (double)(a + 1 + b));
    }
    free(k);
    return (rank_sum - 0.5 * (double)pos * (double)(pos + 1)) / ((double)pos * (double)neg);
}

int diag_quantiles(const double *x, int64_t n, const double *levels, int k, double *out) {
    if (n <= 0) {
        for (int q = 0; q < k; q++) out[q] = NAN;
        return 0;
    }
    double *s = px_calloc((size_t)n, sizeof *s, "quantiles");
    if (!s) return -1;
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    for (int q = 0; q < k; q++) {
        const double at = levels[q] * (double)(n - 1);
        const int64_t lo = (int64_t)floor(at), hi = PX_MIN(lo + 1, n - 1);
        out[q] = s[lo] + (at - (double)lo) * (s[hi] - s[lo]);
    }
    free(s);
    return 0;
}

const char *diag_cue_name(DiagCue c) {
    static const char *const names[DIAG_CUES] = {"entropy", "maxprob", "attn_front", "probe", "lag"};
    return names[c];
}

int diag_cue_sign(DiagCue c) { return c == DIAG_CUE_ENTROPY || c == DIAG_CUE_ATTN_FRONT ? -1 : 1; }

double diag_cue_value(const DiagResult *r, DiagCue c, int64_t i) {
    switch (c) {
        case DIAG_CUE_ENTROPY: return r->entropy[i];
        case DIAG_CUE_MAXPROB: return r->maxprob[i];
        case DIAG_CUE_ATTN_FRONT: return r->attn_front[i];
        case DIAG_CUE_PROBE: return r->probe ? r->probe[i] : NAN;
        case DIAG_CUE_LAG: return r->point_lag[i];
        case DIAG_CUES: break;
    }
    return NAN;
}

int diag_cue_aucs(const DiagResult *r, int64_t from, int64_t to, double auc[DIAG_CUES]) {
    const int64_t n = to - from;
    double *score = px_calloc((size_t)PX_MAX(n, (int64_t)1), sizeof *score, "cue scores");
    if (!score) return -1;
    for (int c = 0; c < DIAG_CUES; c++) {
        auc[c] = NAN;
        if (n <= 0) continue;
        for (int64_t i = 0; i < n; i++) score[i] = diag_cue_sign((DiagCue)c) * diag_cue_value(r, (DiagCue)c, from + i);
        auc[c] = diag_auc(score, r->label + from, n);
    }
    free(score);
    return 0;
}

/* The variant's score at every point: -(mean mass over the chosen layers and heads), times V / W
 * when normalized. */
static void variant_scores(const DiagResult *r, const DiagAttnVariant *v, double *score) {
    const int L = r->n_layers, H = r->n_heads;
    const int l0 = v->layer < 0 ? 0 : v->layer, l1 = v->layer < 0 ? L : v->layer + 1;
    const int h0 = v->head < 0 ? 0 : v->head, h1 = v->head < 0 ? H : v->head + 1;
    for (int64_t i = 0; i < r->n_points; i++) {
        double mass = 0;
        for (int l = l0; l < l1; l++)
            for (int h = h0; h < h1; h++)
                mass += r->attn_mass[(((size_t)i * L + l) * H + h) * DIAG_WINDOWS + v->window];
        mass /= (double)(l1 - l0) * (h1 - h0);
        if (v->normalized) mass *= r->source_keys[i] / r->window_keys[i * DIAG_WINDOWS + v->window];
        score[i] = -mass;
    }
}

int diag_attn_variants(const DiagResult *r, DiagAttnVariant **out, int *n) {
    const int L = r->n_layers, H = r->n_heads, n_sel = 1 + L * (H + 1);
    *n = n_sel * DIAG_WINDOWS * 2;
    *out = px_calloc((size_t)*n, sizeof **out, "attention variants");
    double *score = px_calloc((size_t)PX_MAX(r->n_points, (int64_t)1), sizeof *score, "attention variants");
    if (!*out || !score) {
        free(*out);
        *out = NULL;
        free(score);
        return -1;
    }
    int k = 0;
    for (int sel = 0; sel < n_sel; sel++) {
        /* 0: all layers and heads; then per layer: all heads, head 0, ..., head H-1 */
        const int layer = sel == 0 ? -1 : (sel - 1) / (H + 1), head = sel == 0 ? -1 : (sel - 1) % (H + 1) - 1;
        for (int w = 0; w < DIAG_WINDOWS; w++)
            for (int norm = 0; norm < 2; norm++) {
                DiagAttnVariant *v = &(*out)[k++];
                *v = (DiagAttnVariant){.layer = layer, .head = head, .window = w, .normalized = norm};
                variant_scores(r, v, score);
                v->auc = diag_auc(score, r->label, r->n_points);
            }
    }
    free(score);
    return 0;
}
