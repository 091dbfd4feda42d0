/* diagnose.c — `proact diagnose`: the go/no-go diagnostic of a trained streaming model
 * (docs/evaluation.md "Diagnosing a model"; the definitions are src/probe/diagnose.h's).
 * Recipe: parse options -> load the model (fp32) and the data -> choose the examples (the first
 * --limit of a seeded order, kept in file order) -> diagnose_run (the student-teacher statistics
 * per lag, the cues at the decision points) -> AUCs and quantiles -> a table on stdout and, with
 * --json, the same numbers as one JSON object. One process: no MPI. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/dataset.h"
#include "io/stream_model.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/base/rng.h"
#include "src/probe/diagnose.h"

#define TABLE_LAG_MAX 5 /* the table's lags: 0..5 and full (plus the cue lags) */

typedef struct {
    const char *model_dir, *data, *json_path;
    int64_t limit;
    uint64_t seed;
    int threads, quantiles;
    int cue_lag[2]; /* --cue-lags A:B */
} DiagArgs;

/* --cue-lags A:B with 1 <= A <= B <= 1000 */
static int parse_cue_lags(const char *name, const char *arg, void *dest) {
    int *ab = dest, end = 0;
    if (sscanf(arg, "%d:%d%n", &ab[0], &ab[1], &end) != 2 || arg[end] != '\0' || ab[0] < 1 || ab[1] < ab[0] ||
        ab[1] > 1000)
        return px_error("%s: expected A:B with 1 <= A <= B <= 1000, got '%s'", name, arg);
    return 0;
}

/* 0 to go on, else the exit status to return at once (0 after --help). */
static int parse_args(int argc, char **argv, DiagArgs *a, int *status) {
    *a = (DiagArgs){.limit = 500, .seed = 1, .threads = 1, .quantiles = 20, .cue_lag = {1, 4}};
    const Opt table[] = {
        OPT("model", 'm', OPT_STRING, &a->model_dir, "DIR", "exported model directory", .flags = OPT_REQUIRED),
        OPT("data", 'd', OPT_STRING, &a->data, "valid.h5|valid.tsv", "pairs to measure on (validation data)",
            .flags = OPT_REQUIRED),
        OPT("limit", 'n', OPT_I64, &a->limit, "N",
            "examples to use (default 500; 0 = all): the first N of\n"
            "an order seeded by --seed, measured in file order",
            .min = 0, .max = LONG_MAX),
        OPT("json", 'j', OPT_STRING, &a->json_path, "FILE", "also write every number as one JSON object"),
        OPT("seed", 's', OPT_U64, &a->seed, "S", "which examples when --limit cuts (default 1)"),
        OPT("threads", 't', OPT_INT, &a->threads, "N", "BLAS and kernel threads (default 1)", .min = 1, .max = 1024),
        OPT("cue-lags", 'c', OPT_CUSTOM, a->cue_lag, "A:B",
            "lags whose decision points the cues are measured at\n(default 1:4)", .parse = parse_cue_lags),
        OPT("quantiles", 'q', OPT_INT, &a->quantiles, "K",
            "cue quantiles at levels 1/K .. (K-1)/K (default 20:\n0.05, 0.10, .., 0.95)", .min = 2, .max = 1000),
        {0}};
    Opts o = {.command = "diagnose", .opts = table};
    o.about = "The go/no-go diagnostic of a trained streaming model. At lag L the student writes target\n"
              "word j having read g(j) = min(n+1, max(1, L + j - 1)) source words (full: everything).\n"
              "For L = 0..5 and full: KL(teacher || student) in nats, top-1 agreement and both\n"
              "cross-entropies, over the student rows that predict a reference target token (not the\n"
              "tgt_begin or tgt_end rows), from one forward pass over [source | student | teacher]\n"
              "sequences per batch, in fp32. Then, at the decision points a runner floored at each cue\n"
              "lag visits (the decode path, only while the source is not finished), how well each cue\n"
              "predicts \"the student's next token already equals the teacher's\": the AUC of -entropy,\n"
              "maxprob, -attn_front, the probe's score (if the model has one) and the lag alone; the\n"
              "cues' quantiles; and the AUC of attention-mass variants (per layer and head, the newest\n"
              "W tokens or the newest word, raw or length-normalized). See docs/evaluation.md.\n";
    return opts_parse(&o, argc, argv, status);
}

/* The examples to use: all, or the first `limit` of a seeded order, sorted back to file order. */
static int choose_examples(int64_t n, int64_t limit, uint64_t seed, int64_t **idx, int64_t *count) {
    *count = limit > 0 && limit < n ? limit : n;
    int64_t *order = px_calloc((size_t)PX_MAX(n, (int64_t)1), sizeof *order, "example order");
    if (!order) return -1;
    for (int64_t i = 0; i < n; i++) order[i] = i;
    if (*count < n) {
        Rng rng;
        rng_seed(&rng, seed);
        for (int64_t i = 0; i < *count; i++) { /* a partial Fisher-Yates: order[0..count) is the sample */
            int64_t j = i + (int64_t)rng_below(&rng, (uint64_t)(n - i)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int64_t i = 1; i < *count; i++) /* insertion sort: file order */
            for (int64_t j = i; j > 0 && order[j - 1] > order[j]; j--) {
                int64_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
    }
    *idx = order;
    return 0;
}

typedef struct {
    double t0, last;
} Progress;

static void on_progress(void *ctx, const char *stage, int64_t done, int64_t total) {
    Progress *p = ctx;
    const double now = runtime_now();
    if (now - p->last < 5 && done < total) return;
    p->last = now;
    fprintf(stderr, "proact diagnose: %s, %lld/%lld example passes (%.1f s)\n", stage, (long long)done,
            (long long)total, now - p->t0);
}

/* ---- the summaries ------------------------------------------------------------------------- */

typedef struct {
    int lag;
    int64_t from, to; /* its points */
    double rate, auc[DIAG_CUES];
} LagCues;

typedef struct {
    double auc[DIAG_CUES], rate;
    int n_levels;
    double *levels, *quant; /* [n_levels], [DIAG_CUES][n_levels] */
    int n_by_lag;
    LagCues *by_lag;
    int n_var;
    DiagAttnVariant *var;
} Summary;

static void summary_free(Summary *s) {
    free(s->levels);
    free(s->quant);
    free(s->by_lag);
    free(s->var);
}

static double positive_rate(const DiagResult *r, int64_t from, int64_t to) {
    double ones = 0;
    for (int64_t i = from; i < to; i++) ones += r->label[i];
    return to > from ? ones / (double)(to - from) : NAN;
}

static int summarize(const DiagResult *r, const DiagArgs *a, Summary *s) {
    memset(s, 0, sizeof *s);
    s->n_levels = a->quantiles - 1;
    s->n_by_lag = a->cue_lag[1] - a->cue_lag[0] + 1;
    s->levels = px_calloc((size_t)s->n_levels, sizeof *s->levels, "quantiles");
    s->quant = px_calloc((size_t)s->n_levels * DIAG_CUES, sizeof *s->quant, "quantiles");
    s->by_lag = px_calloc((size_t)s->n_by_lag, sizeof *s->by_lag, "cues per lag");
    double *x = px_calloc((size_t)PX_MAX(r->n_points, (int64_t)1), sizeof *x, "cue values");
    if (!s->levels || !s->quant || !s->by_lag || !x) {
        free(x);
        return -1;
    }
    for (int q = 0; q < s->n_levels; q++) s->levels[q] = (double)(q + 1) / a->quantiles;
    int rc = diag_cue_aucs(r, 0, r->n_points, s->auc);
    s->rate = positive_rate(r, 0, r->n_points);
    for (int c = 0; c < DIAG_CUES && rc == 0; c++) {
        for (int64_t i = 0; i < r->n_points; i++) x[i] = diag_cue_value(r, (DiagCue)c, i);
        if (c == DIAG_CUE_PROBE && !r->probe) {
            for (int q = 0; q < s->n_levels; q++) s->quant[c * s->n_levels + q] = NAN;
            continue;
        }
        rc = diag_quantiles(x, r->n_points, s->levels, s->n_levels, s->quant + (size_t)c * s->n_levels);
    }
    free(x);
    /* the points are ordered by lag */
    int64_t at = 0;
    for (int k = 0; k < s->n_by_lag && rc == 0; k++) {
        LagCues *l = &s->by_lag[k];
        l->lag = a->cue_lag[0] + k;
        l->from = at;
        while (at < r->n_points && r->point_lag[at] == l->lag) at++;
        l->to = at;
        l->rate = positive_rate(r, l->from, l->to);
        rc = diag_cue_aucs(r, l->from, l->to, l->auc);
    }
    return rc ? rc : diag_attn_variants(r, &s->var, &s->n_var);
}

/* ---- the table ----------------------------------------------------------------------------- */

static void lag_name(int lag, char *buf, size_t n) {
    if (lag == DIAG_LAG_FULL) snprintf(buf, n, "full");
    else snprintf(buf, n, "%d", lag);
}

static void print_num(double x, const char *fmt, int width) {
    if (isfinite(x)) printf(fmt, x);
    else printf("%*s", width, "-");
}

static void variant_name(const DiagAttnVariant *v, int W, char *buf, size_t n) {
    char layer[16], head[16];
    if (v->layer < 0) snprintf(layer, sizeof layer, "all");
    else snprintf(layer, sizeof layer, "%d", v->layer);
    if (v->head < 0) snprintf(head, sizeof head, "all");
    else snprintf(head, sizeof head, "%d", v->head);
    char win[16];
    if (v->window == DIAG_WIN_TOKENS) snprintf(win, sizeof win, "W=%d", W);
    else snprintf(win, sizeof win, "word");
    snprintf(buf, n, "layer %s head %s %s%s", layer, head, win, v->normalized ? " normalized" : "");
}

static void print_report(const DiagResult *r, const Summary *s, const DiagArgs *a, int64_t n_examples, int W) {
    printf("proact diagnose: %lld examples of %s (fp32)\n", (long long)n_examples, a->data);
    printf("student vs teacher, rows = student rows predicting a reference target token (not tgt_begin/tgt_end)\n");
    printf("  %4s %8s %10s %12s %11s %11s\n", "lag", "rows", "KL(T||S)", "top-1 agree", "student CE", "teacher CE");
    for (int i = 0; i < r->n_lags; i++) {
        const DiagLag *l = &r->lag[i];
        char name[16];
        lag_name(l->lag, name, sizeof name);
        printf("  %4s %8lld ", name, (long long)l->rows);
        print_num(l->kl, "%10.4f", 10);
        print_num(100 * l->agreement, " %11.1f%%", 12);
        print_num(l->student_loss, " %11.4f", 12);
        print_num(l->teacher_loss, " %11.4f", 12);
        printf("\n");
    }
    printf("\ncues at the decision points of lags %d..%d (decode path): %lld points, label 1 (student's argmax = "
           "teacher's) ",
           a->cue_lag[0], a->cue_lag[1], (long long)r->n_points);
    print_num(100 * s->rate, "%.1f%%\n", 1);
    if (!isfinite(s->rate)) printf("\n");
    printf("  AUC of the score for label 1 (0.5 = chance, < 0.5 = backwards)\n");
    printf("  %-18s %7s", "score", "all");
    for (int k = 0; k < s->n_by_lag; k++) printf("  lag %-2d", s->by_lag[k].lag);
    printf("\n");
    for (int c = 0; c < DIAG_CUES; c++) {
        char name[32];
        snprintf(name, sizeof name, "%s%s", diag_cue_sign((DiagCue)c) < 0 ? "-" : "", diag_cue_name((DiagCue)c));
        if (c == DIAG_CUE_ATTN_FRONT) snprintf(name, sizeof name, "-attn_front (W=%d)", W);
        if (c == DIAG_CUE_PROBE && !r->probe) snprintf(name, sizeof name, "probe (none)");
        printf("  %-18s ", name);
        print_num(s->auc[c], "%7.3f", 7);
        for (int k = 0; k < s->n_by_lag; k++) print_num(s->by_lag[k].auc[c], "  %6.3f", 8);
        printf("\n");
    }
    printf("  points per lag    %7lld", (long long)r->n_points);
    for (int k = 0; k < s->n_by_lag; k++) printf("  %6lld", (long long)(s->by_lag[k].to - s->by_lag[k].from));
    printf("\n  quantiles  %10s %10s %10s %10s\n", "entropy", "maxprob", "attn_front", "probe");
    for (int q = 0; q < s->n_levels; q++) {
        printf("  %9.3f ", s->levels[q]);
        for (int c = 0; c <= DIAG_CUE_PROBE; c++) print_num(s->quant[c * s->n_levels + q], " %10.4f", 11);
        printf("\n");
    }
    printf("\nattention variants: AUC of -mass (mean over the layer's heads, or all layers)\n");
    printf("  %-6s %9s %9s %9s %9s\n", "layer", "W tok", "W norm", "word", "word norm");
    const DiagAttnVariant *best = NULL;
    int heads = 0;
    for (int k = 0; k < s->n_var; k++) {
        const DiagAttnVariant *v = &s->var[k];
        if (v->head >= 0) {
            heads++;
            if (isfinite(v->auc) && (!best || fabs(v->auc - 0.5) > fabs(best->auc - 0.5))) best = v;
            continue;
        }
        if (v->window == DIAG_WIN_TOKENS && !v->normalized) {
            char name[16];
            if (v->layer < 0) snprintf(name, sizeof name, "all");
            else snprintf(name, sizeof name, "%d", v->layer);
            printf("  %-6s", name);
        }
        print_num(v->auc, " %9.3f", 10);
        if (v->window == DIAG_WIN_WORD && v->normalized) printf("\n");
    }
    if (best) {
        char name[96];
        variant_name(best, W, name, sizeof name);
        printf("  farthest from 0.5 of the %d single-head variants: %s, AUC %.3f (a maximum: optimistic)\n", heads,
               name, best->auc);
    }
    printf("\ndecode path vs forward pass at the same points: attn_front max |diff| %.2g, labels differing %lld\n",
           r->attn_front_max_diff, (long long)r->label_mismatches);
}

/* ---- the JSON ------------------------------------------------------------------------------ */

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); } /* NaN: null */

static json_t *lag_json(int lag) { return lag == DIAG_LAG_FULL ? json_string("full") : json_integer(lag); }

static json_t *index_json(int i) { return i < 0 ? json_string("all") : json_integer(i); }

static json_t *auc_json(const double auc[DIAG_CUES]) {
    json_t *o = json_object();
    for (int c = 0; c < DIAG_CUES; c++) json_object_set_new(o, diag_cue_name((DiagCue)c), num(auc[c]));
    return o;
}

static json_t *report_json(const DiagResult *r, const Summary *s, const DiagArgs *a, int64_t n_examples, int W) {
    json_t *o = json_object(), *lags = json_array();
    json_object_set_new(o, "model", json_string(a->model_dir));
    json_object_set_new(o, "data", json_string(a->data));
    json_object_set_new(o, "examples", json_integer(n_examples));
    json_object_set_new(o, "limit", json_integer(a->limit));
    json_object_set_new(o, "seed", json_integer((json_int_t)a->seed));
    json_object_set_new(o, "precision", json_string("fp32"));
    json_object_set_new(o, "lag_schedule", json_string("g(j) = min(n+1, max(1, L + j - 1)); full: g(j) = n+1"));
    json_object_set_new(o, "rows",
                        json_string("student rows predicting a reference target token y_1..y_m "
                                    "(tgt_begin and tgt_end rows not counted)"));
    for (int i = 0; i < r->n_lags; i++) {
        const DiagLag *l = &r->lag[i];
        json_t *x = json_object();
        json_object_set_new(x, "lag", lag_json(l->lag));
        json_object_set_new(x, "rows", json_integer(l->rows));
        json_object_set_new(x, "kl", num(l->kl));
        json_object_set_new(x, "agreement", num(l->agreement));
        json_object_set_new(x, "student_loss", num(l->student_loss));
        json_object_set_new(x, "teacher_loss", num(l->teacher_loss));
        json_array_append_new(lags, x);
    }
    json_object_set_new(o, "lags", lags);

    json_t *c = json_object(), *cl = json_array(), *lv = json_array(), *qs = json_object(), *by = json_array(),
           *var = json_array();
    for (int l = a->cue_lag[0]; l <= a->cue_lag[1]; l++) json_array_append_new(cl, json_integer(l));
    json_object_set_new(c, "lags", cl);
    json_object_set_new(c, "attn_window", json_integer(W));
    json_object_set_new(c, "points", json_integer(r->n_points));
    json_object_set_new(c, "positive_rate", num(s->rate));
    json_object_set_new(c, "has_probe", json_boolean(r->probe != NULL));
    json_object_set_new(c, "auc", auc_json(s->auc));
    for (int q = 0; q < s->n_levels; q++) json_array_append_new(lv, json_real(s->levels[q]));
    json_object_set_new(c, "quantile_levels", lv);
    for (int k = 0; k <= DIAG_CUE_PROBE; k++) {
        if (k == DIAG_CUE_PROBE && !r->probe) continue;
        json_t *arr = json_array();
        for (int q = 0; q < s->n_levels; q++) json_array_append_new(arr, num(s->quant[k * s->n_levels + q]));
        json_object_set_new(qs, diag_cue_name((DiagCue)k), arr);
    }
    json_object_set_new(c, "quantiles", qs);
    for (int k = 0; k < s->n_by_lag; k++) {
        const LagCues *l = &s->by_lag[k];
        json_t *x = json_object();
        json_object_set_new(x, "lag", json_integer(l->lag));
        json_object_set_new(x, "points", json_integer(l->to - l->from));
        json_object_set_new(x, "positive_rate", num(l->rate));
        json_object_set_new(x, "auc", auc_json(l->auc));
        json_array_append_new(by, x);
    }
    json_object_set_new(c, "by_lag", by);
    for (int k = 0; k < s->n_var; k++) {
        const DiagAttnVariant *v = &s->var[k];
        json_t *x = json_object();
        json_object_set_new(x, "layer", index_json(v->layer));
        json_object_set_new(x, "head", index_json(v->head));
        json_object_set_new(x, "window", json_string(v->window == DIAG_WIN_TOKENS ? "tokens" : "word"));
        json_object_set_new(x, "normalized", json_boolean(v->normalized));
        json_object_set_new(x, "auc", num(v->auc));
        json_array_append_new(var, x);
    }
    json_object_set_new(c, "attn_variants", var);
    json_t *cons = json_object();
    json_object_set_new(cons, "attn_front_max_diff", json_real(r->attn_front_max_diff));
    json_object_set_new(cons, "label_mismatches", json_integer(r->label_mismatches));
    json_object_set_new(c, "decode_vs_forward", cons);
    json_object_set_new(o, "cues", c);
    return o;
}

static int write_json(const char *path, json_t *o) {
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    if (!text) return px_error("%s: cannot format the JSON report", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the terminator: the buffer is written by length */
    int rc = atomic_write_buffer(path, text, n + 1);
    free(text);
    return rc;
}

int cmd_diagnose(int argc, char **argv) {
    DiagArgs a;
    int opt_status;
    if (parse_args(argc, argv, &a, &opt_status)) return opt_status;
    runtime_set_threads(a.threads);
    runtime_report_blas();

    StreamModel sm;
    Dataset d = {0};
    PairSet ps = {0};
    DiagResult r = {0};
    Summary s = {0};
    int64_t *idx = NULL, n = 0;
    int status = 0, lags[TABLE_LAG_MAX + 1002], n_lags = 0;
    char tok_path[PX_PATH_MAX + 32];
    if (stream_model_load(a.model_dir, &sm)) return job_fail(px_error_message());
    const int W = sm.has_probe && sm.probe.attn_window > 0 ? sm.probe.attn_window : CUE_ATTN_WINDOW_DEFAULT;
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", a.model_dir);
    if (model_set_precision(&sm.model, GEMM_FP32) ||
        dataset_open(a.data, tok_path, sm.template_name, sm.model.cfg.max_seq_len, &d, NULL, NULL))
        goto fail;
    if (d.n_examples == 0) {
        px_error("%s: no examples", a.data);
        goto fail;
    }
    if (choose_examples(d.n_examples, a.limit, a.seed, &idx, &n) || dataset_get(&d, idx, (int)n, &ps)) goto fail;
    for (int l = 0; l <= PX_MAX(TABLE_LAG_MAX, a.cue_lag[1]); l++)
        if (l <= TABLE_LAG_MAX || l >= a.cue_lag[0]) lags[n_lags++] = l;
    lags[n_lags++] = DIAG_LAG_FULL;
    fprintf(stderr, "proact diagnose: %lld of %lld examples of %s, %d lags, cues at lags %d..%d\n", (long long)n,
            (long long)d.n_examples, a.data, n_lags, a.cue_lag[0], a.cue_lag[1]);
    Progress pg = {runtime_now(), runtime_now()};
    const int V = sm.model.cfg.vocab_size;
    DiagOptions o = {.lags = lags,
                     .n_lags = n_lags,
                     .cue_lag_min = a.cue_lag[0],
                     .cue_lag_max = a.cue_lag[1],
                     .attn_window = W,
                     .probe = sm.has_probe ? &sm.probe : NULL,
                     .batch_rows = PX_MAX(256, PX_MIN(4096, (1 << 24) / V)),
                     .progress = on_progress,
                     .progress_ctx = &pg};
    if (diagnose_run(&sm.model, &sm.format, &ps, &o, &r) || summarize(&r, &a, &s)) goto fail;
    print_report(&r, &s, &a, n, W);
    if (a.json_path) {
        json_t *j = report_json(&r, &s, &a, n, W);
        int rc = j ? write_json(a.json_path, j) : px_error("cannot build the JSON report");
        json_decref(j);
        if (rc) goto fail;
        printf("wrote %s\n", a.json_path);
    }
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    summary_free(&s);
    diag_result_free(&r);
    pair_set_free(&ps);
    free(idx);
    dataset_free(&d);
    stream_model_free(&sm);
    return status;
}
