/* diagnose.c — the student-teacher statistics per lag and the cues at decision points (diagnose.h). */
#include "src/probe/diagnose.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/probe/probe_data.h"
#include "src/stream/logits.h"
#include "src/train/schedule.h"

void diag_lag_schedule(int lag, int n, int m, int *g) {
    for (int j = 1; j <= m; j++) g[j - 1] = lag == DIAG_LAG_FULL ? n + 1 : PX_MIN(n + 1, PX_MAX(1, lag + j - 1));
}

void diag_result_free(DiagResult *r) {
    free(r->lag);
    free(r->point_lag);
    free(r->entropy);
    free(r->maxprob);
    free(r->attn_front);
    free(r->probe);
    free(r->label);
    free(r->attn_mass);
    free(r->window_keys);
    free(r->source_keys);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- one row pair */

/* Adds the row pair (student logits zs, teacher logits zt, reference token y) to the sums:
 * sums[0] KL(T || S), [1] agreement, [2] CE student, [3] CE teacher. */
static void add_row_pair(const float *zs, const float *zt, int V, int y, double sums[4]) {
    const double ls = logits_log_sum_exp(zs, V), lt = logits_log_sum_exp(zt, V);
    sums[0] += logits_kl(zt, lt, zs, ls, V);
    sums[1] += logits_argmax(zs, V) == logits_argmax(zt, V);
    sums[2] += ls - zs[y];
    sums[3] += lt - zt[y];
}

/* ---------------------------------------------------------------- the run's shared state */

typedef struct {
    Model *m;
    const StreamFormat *fmt;
    const PairSet *s;
    const DiagOptions *o;
    DiagResult *r;
    int n_cue_lags;
    int64_t *point_off;       /* [n_cue_lags * count + 1]: first point of (cue lag c, example e) */
    unsigned char *fwd_label; /* [n_points] the forward's label at each point */
    int *g;                   /* [max target words] */
    int64_t done, total;      /* progress units: (lag, example) pairs of both passes */
} Run;

static int cue_index(const Run *R, int lag) {
    const DiagOptions *o = R->o;
    return lag != DIAG_LAG_FULL && lag >= o->cue_lag_min && lag <= o->cue_lag_max ? lag - o->cue_lag_min : -1;
}

static void progress(Run *R, const char *stage, int64_t units) {
    R->done += units;
    if (R->o->progress) R->o->progress(R->o->progress_ctx, stage, R->done, R->total);
}

/* Where the decision points of example e are, under the lag schedule of every cue lag. */
static int count_points(Run *R) {
    const int64_t N = R->s->count;
    R->point_off = px_calloc((size_t)R->n_cue_lags * N + 1, sizeof *R->point_off, "decision points");
    if (!R->point_off) return -1;
    int64_t k = 0;
    for (int c = 0; c < R->n_cue_lags; c++)
        for (int64_t e = 0; e < N; e++) {
            const int n = pair_src_words(R->s, e), mw = pair_tgt_words(R->s, e);
            R->point_off[c * N + e] = k;
            diag_lag_schedule(R->o->cue_lag_min + c, n, mw, R->g);
            for (int j = 0; j < mw; j++) k += R->g[j] <= n;
        }
    R->point_off[R->n_cue_lags * N] = k;
    return 0;
}

static int alloc_points(Run *R) {
    DiagResult *r = R->r;
    const int64_t P = R->point_off[R->n_cue_lags * R->s->count];
    const size_t np = (size_t)PX_MAX(P, (int64_t)1), heads = (size_t)r->n_layers * r->n_heads;
    r->n_points = P;
    r->point_lag = px_calloc(np, sizeof *r->point_lag, "decision points");
    r->entropy = px_calloc(np, sizeof *r->entropy, "decision points");
    r->maxprob = px_calloc(np, sizeof *r->maxprob, "decision points");
    r->attn_front = px_calloc(np, sizeof *r->attn_front, "decision points");
    r->label = px_calloc(np, sizeof *r->label, "decision points");
    r->attn_mass = px_calloc(np * heads * DIAG_WINDOWS, sizeof *r->attn_mass, "attention masses");
    r->window_keys = px_calloc(np * DIAG_WINDOWS, sizeof *r->window_keys, "attention masses");
    r->source_keys = px_calloc(np, sizeof *r->source_keys, "attention masses");
    R->fwd_label = px_calloc(np, sizeof *R->fwd_label, "decision points");
    if (R->o->probe) r->probe = px_calloc(np, sizeof *r->probe, "decision points");
    if (!r->point_lag || !r->entropy || !r->maxprob || !r->attn_front || !r->label || !r->attn_mass ||
        !r->window_keys || !r->source_keys || !R->fwd_label || (R->o->probe && !r->probe))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- the forward pass */

/* One sequence of a batch: example e, its copies at rows, its attention at att_off of every
 * layer's probabilities ([head][t][j], len x len per head). */
typedef struct {
    int64_t e;
    SpsdRows rows;
    size_t att_off;
} SeqInfo;

/* The attention masses at the decision points of one sequence (a cue lag's batch). */
static void decision_rows(Run *R, const PackedBatch *b, const Activations *a, const SeqInfo *q, int seq, int c) {
    const TemplatePieces *tp = &R->fmt->tp;
    const PairSet *s = R->s;
    DiagResult *r = R->r;
    const int V = R->m->cfg.vocab_size, nh = R->m->cfg.n_heads, W = R->o->attn_window;
    const int n = pair_src_words(s, q->e), mw = pair_tgt_words(s, q->e);
    const int *src_ends = s->src_word_ends + s->src_word_off[q->e],
              *tgt_ends = s->tgt_word_ends + s->tgt_word_off[q->e];
    const int r0 = b->seq_start[seq], len = b->seq_start[seq + 1] - r0;
    diag_lag_schedule(R->o->cue_lag_min + c, n, mw, R->g);
    int64_t k = R->point_off[c * s->count + q->e];
    for (int j = 1; j <= mw; j++) {
        const int gj = R->g[j - 1];
        if (gj > n) continue; /* the source is finished: no decision (as probe_collect_example) */
        const int i = tp->tgt_begin.n - 1 + (j > 1 ? tgt_ends[j - 2] : 0); /* the row before word j's first token */
        const int srow = q->rows.student_first + i, trow = q->rows.teacher_first + i, t = srow - r0;
        const int vis = b->vis_prefix[srow];
        const int win[DIAG_WINDOWS][2] = {
            {PX_MAX(0, vis - W), vis},
            {tp->prompt.n + (gj > 1 ? src_ends[gj - 2] : 0), tp->prompt.n + src_ends[gj - 1]}};
        for (int l = 0; l < r->n_layers; l++)
            for (int h = 0; h < nh; h++) {
                const float *p = a->att[l] + q->att_off + ((size_t)h * len + t) * len;
                for (int w = 0; w < DIAG_WINDOWS; w++) {
                    double mass = 0;
                    for (int key = win[w][0]; key < win[w][1]; key++) mass += p[key];
                    r->attn_mass[((size_t)k * r->n_layers * nh + (size_t)l * nh + h) * DIAG_WINDOWS + w] = (float)mass;
                }
            }
        for (int w = 0; w < DIAG_WINDOWS; w++) r->window_keys[k * DIAG_WINDOWS + w] = (float)(win[w][1] - win[w][0]);
        r->source_keys[k] = (float)vis;
        r->point_lag[k] = R->o->cue_lag_min + c;
        R->fwd_label[k] =
            logits_argmax(a->logits + (size_t)srow * V, V) == logits_argmax(a->logits + (size_t)trow * V, V);
        k++;
    }
}

/* The counted rows of one sequence into sums (add_row_pair's four, then the row count). */
static void sequence_sums(const Run *R, const PackedBatch *b, const Activations *a, const SeqInfo *q, double sums[5]) {
    const int V = R->m->cfg.vocab_size, tb = R->fmt->tp.tgt_begin.n;
    const int nt = (int)(R->s->tgt_off[q->e + 1] - R->s->tgt_off[q->e]);
    /* copy row i predicts copy token i+1: counted when that is one of y_1..y_nt */
    for (int i = tb - 1; i < tb - 1 + nt; i++) {
        const int srow = q->rows.student_first + i, trow = q->rows.teacher_first + i;
        add_row_pair(a->logits + (size_t)srow * V, a->logits + (size_t)trow * V, V, b->targets[srow], sums);
        sums[4] += 1;
    }
}

static int forward_lag(Run *R, int li, PackedBatch *b, Activations *a, SeqInfo *seqs) {
    const int lag = R->o->lags[li], c = cue_index(R, lag), nh = R->m->cfg.n_heads;
    const PairSet *s = R->s;
    double sums[5] = {0};
    for (int64_t e0 = 0; e0 < s->count;) {
        packed_batch_clear(b);
        int n_seqs = 0;
        size_t att_off = 0;
        int64_t e = e0;
        for (; e < s->count && (n_seqs == 0 || b->n_rows < R->o->batch_rows); e++) {
            SeqInfo *q = &seqs[n_seqs];
            q->e = e;
            q->att_off = att_off;
            diag_lag_schedule(lag, pair_src_words(s, e), pair_tgt_words(s, e), R->g);
            if (spsd_batch_add(b, s, &R->fmt->tp, e, R->g, R->fmt->phi, &q->rows)) return -1;
            const size_t len = (size_t)(b->seq_start[n_seqs + 1] - b->seq_start[n_seqs]);
            att_off += (size_t)nh * len * len;
            n_seqs++;
        }
        if (model_forward(R->m, a, b->tokens, packed_batch_layout(b))) return -1;
        for (int k = 0; k < n_seqs; k++) {
            sequence_sums(R, b, a, &seqs[k], sums);
            if (c >= 0) decision_rows(R, b, a, &seqs[k], k, c);
        }
        progress(R, "forward", e - e0);
        e0 = e;
    }
    DiagLag *d = &R->r->lag[li];
    d->lag = lag;
    d->rows = (int64_t)sums[4];
    const double rows = sums[4] > 0 ? sums[4] : NAN;
    d->kl = sums[0] / rows;
    d->agreement = sums[1] / rows;
    d->student_loss = sums[2] / rows;
    d->teacher_loss = sums[3] / rows;
    return 0;
}

/* ---------------------------------------------------------------- the decode path */

static int decode_lag(Run *R, int c, ProbeCollector *pc, double *feat, double *label, float *hidden) {
    const PairSet *s = R->s;
    DiagResult *r = R->r;
    const int d = R->m->cfg.hidden_size, dim = probe_feature_dim(d), L = r->n_layers, nh = r->n_heads;
    for (int64_t e = 0; e < s->count; e++) {
        const int n = pair_src_words(s, e), mw = pair_tgt_words(s, e);
        int got = 0;
        diag_lag_schedule(R->o->cue_lag_min + c, n, mw, R->g);
        if (probe_collect_example(pc, R->m, R->fmt, s, e, R->g, R->o->attn_window, feat, label, &got)) return -1;
        const int64_t k0 = R->point_off[c * s->count + e];
        if (k0 + got != R->point_off[c * s->count + e + 1])
            return px_error("example %lld: %d decision points on the decode path, %lld in the training layout",
                            (long long)(s->first + e), got, (long long)(R->point_off[c * s->count + e + 1] - k0));
        for (int i = 0; i < got; i++) {
            const double *f = feat + (size_t)i * dim;
            const int64_t k = k0 + i;
            Cues cue; /* the features are the cues' floats exactly */
            probe_cues_of_features(f, d, hidden, &cue);
            r->entropy[k] = cue.entropy;
            r->maxprob[k] = cue.maxprob;
            r->attn_front[k] = cue.attn_front;
            r->label[k] = label[i] > 0.5;
            if (r->probe) r->probe[k] = probe_score(R->o->probe, &cue);
            /* the forward's token-window mass over all layers and heads: decode_cues' A_front */
            double mass = 0;
            for (int lh = 0; lh < L * nh; lh++) mass += r->attn_mass[((size_t)k * L * nh + lh) * DIAG_WINDOWS];
            r->attn_front_max_diff = PX_MAX(r->attn_front_max_diff, fabs(mass / (L * nh) - cue.attn_front));
            r->label_mismatches += r->label[k] != R->fwd_label[k];
        }
        progress(R, "decode", 1);
    }
    return 0;
}

/* ---------------------------------------------------------------- the run */

static int check_options(const Model *m, const StreamFormat *fmt, const DiagOptions *o) {
    if (fmt->tp.tgt_begin.n < 1)
        return px_error("diagnose: the template has no tgt_begin piece (no decision row for word 1)");
    if (o->n_lags < 1) return px_error("diagnose: no lags");
    for (int i = 0; i < o->n_lags; i++) {
        if (o->lags[i] < 0 && o->lags[i] != DIAG_LAG_FULL) return px_error("diagnose: lag %d is negative", o->lags[i]);
        for (int k = 0; k < i; k++)
            if (o->lags[k] == o->lags[i]) return px_error("diagnose: lag %d is listed twice", o->lags[i]);
    }
    for (int lag = o->cue_lag_min; lag <= o->cue_lag_max; lag++) {
        int listed = 0;
        for (int i = 0; i < o->n_lags; i++) listed |= o->lags[i] == lag;
        if (lag < 1 || !listed) return px_error("diagnose: cue lag %d is not >= 1 and among the lags", lag);
    }
    if (o->attn_window < 1) return px_error("diagnose: attention window %d < 1", o->attn_window);
    if (o->probe && o->probe->dim != probe_feature_dim(m->cfg.hidden_size))
        return px_error("diagnose: the probe has %d features, the model needs %d", o->probe->dim,
                        probe_feature_dim(m->cfg.hidden_size));
    return 0;
}

int diagnose_run(Model *m, const StreamFormat *fmt, const PairSet *s, const DiagOptions *o, DiagResult *out) {
    memset(out, 0, sizeof *out);
    if (check_options(m, fmt, o)) return -1;
    Run R = {.m = m, .fmt = fmt, .s = s, .o = o, .r = out};
    R.n_cue_lags = PX_MAX(0, o->cue_lag_max - o->cue_lag_min + 1);
    out->n_lags = o->n_lags;
    out->n_layers = m->cfg.n_layers;
    out->n_heads = m->cfg.n_heads;
    R.total = (int64_t)(o->n_lags + R.n_cue_lags) * s->count;
    int max_words = 1;
    for (int64_t e = 0; e < s->count; e++) max_words = PX_MAX(max_words, pair_tgt_words(s, e));
    const int d = m->cfg.hidden_size, dim = probe_feature_dim(d);
    PackedBatch b = {0};
    Activations a = {0};
    ProbeCollector pc;
    int pc_ready = 0, rc = -1;
    SeqInfo *seqs = NULL;
    double *feat = NULL, *label = NULL;
    float *hidden = NULL;
    out->lag = px_calloc((size_t)o->n_lags, sizeof *out->lag, "lag statistics");
    R.g = px_calloc((size_t)max_words, sizeof *R.g, "schedule");
    seqs = px_calloc((size_t)PX_MAX(s->count, (int64_t)1), sizeof *seqs, "batch");
    feat = px_calloc((size_t)max_words * dim, sizeof *feat, "cue features");
    label = px_calloc((size_t)max_words, sizeof *label, "cue labels");
    hidden = px_calloc((size_t)d, sizeof *hidden, "cue features");
    if (!out->lag || !R.g || !seqs || !feat || !label || !hidden || count_points(&R) || alloc_points(&R)) goto done;
    for (int li = 0; li < o->n_lags; li++)
        if (forward_lag(&R, li, &b, &a, seqs)) goto done;
    if (R.n_cue_lags > 0) {
        if (probe_collector_init(&pc, m)) goto done;
        pc_ready = 1;
        for (int c = 0; c < R.n_cue_lags; c++)
            if (decode_lag(&R, c, &pc, feat, label, hidden)) goto done;
    }
    rc = 0;
done:
    if (pc_ready) probe_collector_free(&pc);
    activations_free(&a);
    packed_batch_free(&b);
    free(seqs);
    free(feat);
    free(label);
    free(hidden);
    free(R.g);
    free(R.point_off);
    free(R.fwd_label);
    if (rc) diag_result_free(out);
    return rc;
}
