/* scoring.c — corpus BLEU/chrF and SimulEval's latency means over instances (scoring.h). */
#include "src/metrics/scoring.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/metrics/latency.h"

void instance_free(Instance *v) {
    if (!v) return;
    free(v->prediction);
    free(v->delays);
    free(v->elapsed);
    free(v->reference);
    free(v->source);
    memset(v, 0, sizeof *v);
}

void score_options_default(ScoreOptions *o) {
    memset(o, 0, sizeof *o);
    o->tok = BLEU_TOK_13A;
    o->lowercase = 0;
    o->use_ref_len = 1;
    o->unit = LATENCY_UNIT_WORD;
    o->computation_aware = 0;
    o->word_ms = 0;
}

/* Compensated (Neumaier) sum: SimulEval's statistics.mean sums exactly, so keep the rounding
 * error of long corpora out of the mean. */
typedef struct {
    double sum, c;
    int n;
} Mean;

static void mean_add(Mean *m, double x) {
    double t = m->sum + x;
    m->c += fabs(m->sum) >= fabs(x) ? (m->sum - t) + x : (x - t) + m->sum;
    m->sum = t;
    m->n++;
}

static double mean_value(const Mean *m) { return m->n ? (m->sum + m->c) / m->n : NAN; }

static int all_finite(const double *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* One sentence's latency; on failure the message names the instance. */
static int instance_latency(const Instance *v, const double *delays, double src_len, double ref_len, int use_ref_len,
                            const char *what, LatencyScores *s) {
    if (!all_finite(delays, v->n_delays))
        return px_error("instance %lld: %s holds a value that is not finite", (long long)v->index, what);
    if (latency_scores(delays, v->n_delays, src_len, ref_len, use_ref_len, s)) {
        char msg[512]; /* px_error may not read its own buffer */
        snprintf(msg, sizeof msg, "%s", px_error_message());
        return px_error("instance %lld: %s", (long long)v->index, msg);
    }
    return 0;
}

/* One sentence's ATD (elapsed NULL) or ATD_CA; on failure the message names the instance. */
static int instance_atd(const Instance *v, const double *elapsed, double *out) {
    if (elapsed && !all_finite(elapsed, v->n_delays))
        return px_error("instance %lld: elapsed holds a value that is not finite", (long long)v->index);
    if (latency_atd(v->delays, elapsed, v->n_delays, out)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", px_error_message());
        return px_error("instance %lld: %s", (long long)v->index, msg);
    }
    return 0;
}

int eval_scores(const Instance *v, int n, const ScoreOptions *o, EvalScores *out) {
    memset(out, 0, sizeof *out);
    if (n < 1 || !v) return px_error("eval_scores: no instances");
    out->n = n;

    /* quality: predictions vs references, one segment per instance */
    const char **hyps = malloc(sizeof *hyps * (size_t)n), **refs = malloc(sizeof *refs * (size_t)n);
    if (!hyps || !refs) {
        free(hyps);
        free(refs);
        return px_error("eval_scores: out of memory");
    }
    for (int i = 0; i < n; i++) {
        hyps[i] = v[i].prediction ? v[i].prediction : "";
        refs[i] = v[i].reference ? v[i].reference : "";
    }
    int rc = corpus_bleu(hyps, refs, n, o->tok, o->lowercase, &out->bleu);
    if (rc == 0) rc = corpus_chrf(hyps, refs, n, 0, &out->chrf);
    free(hyps);
    free(refs);
    if (rc) return -1;
    bleu_signature(o->tok, o->lowercase, out->signature, sizeof out->signature);

    /* latency: mean over the sentences that wrote something */
    int ca = o->computation_aware || o->word_ms > 0;
    const double x_scale = o->word_ms > 0 ? o->word_ms : 1; /* |X| in elapsed's unit */
    for (int i = 0; i < n && ca; i++)
        if (v[i].n_delays > 0 && !v[i].elapsed) ca = 0; /* unknown clock: no *_CA */
    Mean al = {0}, laal = {0}, ap = {0}, dal = {0}, atd = {0};
    Mean al_ca = {0}, laal_ca = {0}, ap_ca = {0}, dal_ca = {0}, atd_ca = {0};
    for (int i = 0; i < n; i++) {
        const Instance *x = &v[i];
        if (x->n_delays <= 0) {
            out->n_no_output++;
            continue;
        }
        if (!x->delays)
            return px_error("instance %lld: %d delays announced but none given", (long long)x->index, x->n_delays);
        if (x->source_length < 1)
            return px_error("instance %lld: source_length is %d, but it has output", (long long)x->index,
                            x->source_length);
        double ref_len = latency_reference_length(x->reference, o->unit);
        LatencyScores s;
        double a;
        if (instance_latency(x, x->delays, x->source_length, ref_len, o->use_ref_len, "delays", &s) ||
            instance_atd(x, NULL, &a))
            return -1;
        mean_add(&al, s.AL);
        mean_add(&laal, s.LAAL);
        mean_add(&ap, s.AP);
        mean_add(&dal, s.DAL);
        mean_add(&atd, a);
        if (!ca) continue;
        if (instance_latency(x, x->elapsed, x->source_length * x_scale, ref_len, o->use_ref_len, "elapsed", &s))
            return -1;
        mean_add(&al_ca, s.AL);
        mean_add(&laal_ca, s.LAAL);
        mean_add(&ap_ca, s.AP);
        mean_add(&dal_ca, s.DAL);
        if (o->word_ms > 0) continue; /* elapsed in ms, delays in words: no ATD_CA */
        if (instance_atd(x, x->elapsed, &a)) return -1;
        mean_add(&atd_ca, a);
    }
    out->AL = mean_value(&al);
    out->LAAL = mean_value(&laal);
    out->AP = mean_value(&ap);
    out->DAL = mean_value(&dal);
    out->ATD = mean_value(&atd);
    out->has_ca = ca;
    if (ca) {
        out->AL_CA = mean_value(&al_ca);
        out->LAAL_CA = mean_value(&laal_ca);
        out->AP_CA = mean_value(&ap_ca);
        out->DAL_CA = mean_value(&dal_ca);
        out->ATD_CA = mean_value(&atd_ca);
    }
    return 0;
}
