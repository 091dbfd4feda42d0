/* probe_policy.c — on-policy decision points for the probe head (probe_policy.h). */
#include "src/probe/probe_policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/vec.h"
#include "src/stream/logits.h"
#include "src/text/words.h"
#include "src/train/schedule.h"

static const char *const label_names[] = {"agree", "p-teacher", "kl"};

const char *probe_label_name(ProbeLabel l) { return label_names[l]; }

int probe_label_parse(const char *s, ProbeLabel *out) {
    for (int i = 0; i < (int)(sizeof label_names / sizeof label_names[0]); i++)
        if (strcmp(s, label_names[i]) == 0) {
            *out = (ProbeLabel)i;
            return 0;
        }
    return px_error("unknown probe label '%s'; expected agree, p-teacher or kl", s);
}

void probe_points_free(ProbePoints *p) {
    free(p->x);
    free(p->y);
    free(p->agree);
    memset(p, 0, sizeof *p);
}

static int points_reserve(ProbePoints *p, int64_t more) {
    if (p->n + more <= p->cap) return 0;
    int64_t cap = PX_MAX(p->cap * 2, p->n + more + 256);
    double *x = realloc(p->x, (size_t)cap * (size_t)p->dim * sizeof(double));
    if (x) p->x = x;
    double *y = realloc(p->y, (size_t)cap * sizeof(double));
    if (y) p->y = y;
    double *a = realloc(p->agree, (size_t)cap * sizeof(double));
    if (a) p->agree = a;
    if (!x || !y || !a) return px_error("out of memory collecting probe points");
    p->cap = cap;
    return 0;
}

int probe_points_push(ProbePoints *p, const double *x, double y, double agree) {
    if (points_reserve(p, 1)) return -1;
    memcpy(p->x + (size_t)p->n * (size_t)p->dim, x, (size_t)p->dim * sizeof(double));
    p->y[p->n] = y;
    p->agree[p->n++] = agree;
    return 0;
}

/* The band policy: word j is written once L_j + j - 1 units are read, L_j ~ U{min_lag..max_lag}. */
static int band_decide(void *ctx, const HeadState *st) {
    PolicyCollector *pc = ctx;
    const int j = st->word_index;
    if (VEC_RESERVE(pc->band_lag, pc->cap_lag, (size_t)j, "band lags")) {
        pc->failed = 1;
        return 1;
    }
    while (pc->n_lag < j) {
        const int span = pc->pol.max_lag - pc->pol.min_lag + 1;
        pc->band_lag[pc->n_lag++] = pc->pol.min_lag + (int)rng_below(&pc->rng, (uint64_t)span);
    }
    return st->units_read >= pc->band_lag[j - 1] + j - 1;
}

/* The lowest lag at which the policy is asked (a floored head is not asked below its floor). */
static int policy_floor(const ProbePolicy *p) { return p->head ? p->head->min_lag : p->min_lag; }

/* Every decision taken before the source is finished, at or above the floor, becomes a point:
 * its features now, its labels once the teacher has run. */
static void on_decision(void *ctx, const RunnerDecision *d) {
    PolicyCollector *pc = ctx;
    if (pc->failed || strcmp(d->reason, "source finished") == 0 || strcmp(d->reason, "end of output") == 0) return;
    if ((int)d->cues.lag < policy_floor(&pc->pol)) return;
    ProbePoints *out = pc->out;
    const int V = pc->m->cfg.vocab_size;
    if (points_reserve(out, 1) || VEC_RESERVE(pc->dec_row, pc->cap_dec, pc->n_dec + 1, "decisions") ||
        VEC_RESERVE(pc->dec_logits, pc->cap_logits, (pc->n_dec + 1) * (size_t)V, "decision logits")) {
        pc->failed = 1;
        return;
    }
    memcpy(pc->dec_logits + pc->n_dec * (size_t)V, d->logits, (size_t)V * sizeof(float));
    pc->dec_row[pc->n_dec++] = d->tgt_tokens - 1;
    probe_features(&d->cues, pc->m->cfg.hidden_size, out->x + (size_t)out->n * (size_t)out->dim);
    out->n++;
}

int policy_collector_init(PolicyCollector *pc, const Model *m, const Tokenizer *tok, const StreamFormat *fmt,
                          const ProbePolicy *pol) {
    memset(pc, 0, sizeof *pc);
    pc->m = m;
    pc->tok = tok;
    pc->fmt = fmt;
    pc->pol = *pol;
    if (!pol->head && (pol->min_lag < 1 || pol->max_lag < pol->min_lag))
        return px_error("probe policy band %d..%d: expected 1 <= A <= B", pol->min_lag, pol->max_lag);
    if (probe_collector_init(&pc->tc, m)) return -1;
    HeadSpec offline;
    if (!pol->head && head_parse("offline", &offline)) return -1;
    RunnerOptions o;
    runner_options_default(&o);
    o.attn_window = pol->attn_window;
    o.trace = on_decision;
    o.trace_ctx = pc;
    if (!pol->head) { /* the band decides; the runner's head only writes once the source is done */
        o.policy = band_decide;
        o.policy_ctx = pc;
    }
    pc->runner = runner_new(m, tok, fmt, pol->head ? pol->head : &offline, pol->probe, &o);
    if (!pc->runner) {
        policy_collector_free(pc);
        return -1;
    }
    return 0;
}

void policy_collector_free(PolicyCollector *pc) {
    runner_free(pc->runner);
    probe_collector_free(&pc->tc);
    free(pc->dec_row);
    free(pc->dec_logits);
    free(pc->band_lag);
    memset(pc, 0, sizeof *pc);
}

/* The labels of one decision: student logits zs against teacher logits zt. */
static void label_point(const float *zs, const float *zt, int V, ProbeLabel kind, double *y, double *agree) {
    const int t = logits_argmax(zt, V);
    *agree = logits_argmax(zs, V) == t;
    const double ls = logits_log_sum_exp(zs, V);
    switch (kind) {
        case PROBE_LABEL_AGREE: *y = *agree; break;
        case PROBE_LABEL_P_TEACHER: *y = exp(zs[t] - ls); break;
        case PROBE_LABEL_KL: *y = exp(-PX_MAX(logits_kl(zt, logits_log_sum_exp(zt, V), zs, ls, V), 0.0)); break;
    }
}

/* Streams the sentence through the runner with every source word queued. */
static int stream_sentence(PolicyCollector *pc, const char *src, size_t len, int64_t index) {
    WordSpan *words = NULL;
    int n = split_words(src, len, &words), rc = n < 0 ? -1 : runner_begin_sentence(pc->runner, (uint64_t)index + 1);
    for (int i = 0; rc == 0 && i < n; i++) rc = runner_push_word(pc->runner, src + words[i].start, words[i].len);
    free(words);
    if (rc == 0) rc = runner_end_source(pc->runner);
    while (rc == 0 && !pc->failed) {
        RunnerWord w;
        int ev = runner_step(pc->runner, &w);
        if (ev < 0) rc = -1;
        else if (ev == RUNNER_DONE) break;
        else if (ev == RUNNER_NEED_SOURCE) rc = px_error("the runner asked for source after its end");
    }
    return rc || pc->failed ? -1 : 0;
}

int probe_collect_on_policy(PolicyCollector *pc, const PairSet *s, int64_t e, int64_t index, ProbePoints *out) {
    const Model *m = pc->m;
    const int V = m->cfg.vocab_size;
    out->dim = probe_feature_dim(m->cfg.hidden_size);
    pc->out = out;
    pc->n_dec = pc->n_lag = 0;
    pc->failed = 0;
    rng_seed(&pc->rng, pc->pol.seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(index + 1)));
    const int64_t first = out->n;
    const char *src = s->src_text + s->src_text_off[e];
    if (stream_sentence(pc, src, (size_t)(s->src_text_off[e + 1] - s->src_text_off[e]), index)) {
        out->n = first;
        return -1;
    }
    if (pc->n_dec == 0) return 0;
    /* the teacher: the whole source, then the runner's own target tokens one row at a time */
    const int *tgt, *vis, *src_ids;
    int n_tgt, n_src;
    runner_debug_rows(pc->runner, &tgt, &vis, &n_tgt, &src_ids, &n_src);
    const TemplatePieces *tp = &pc->fmt->tp;
    const int ns = (int)(s->src_off[e + 1] - s->src_off[e]), S = tp->prompt.n + ns + tp->src_end.n;
    if (probe_encode_source(m, &pc->tc.teacher, &pc->tc.ts, tp, s->src_tokens + s->src_off[e], ns)) return -1;
    size_t k = 0;
    for (int row = 0; row < n_tgt && k < pc->n_dec; row++) {
        if (decode_forward(m, &pc->tc.teacher, &pc->tc.ts, &tgt[row], 1, DECODE_TARGET, S, pc->fmt->phi, 1)) return -1;
        for (; k < pc->n_dec && pc->dec_row[k] == row; k++)
            label_point(pc->dec_logits + k * (size_t)V, pc->tc.ts.logits, V, pc->pol.label, &out->y[first + k],
                        &out->agree[first + k]);
    }
    if (k != pc->n_dec) return px_error("a decision row lies beyond the runner's target tokens");
    return 0;
}
