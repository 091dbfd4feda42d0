/* eval.c — `proact eval`: stream a test set through decision heads on every rank and score them
 * (docs/design.md §2.7).
 * Recipe: parse options -> world -> load the model and check every head -> read the test set ->
 * deal the sentences to the ranks -> per head, stream this rank's sentences through the runner ->
 * gather on rank 0 -> per head instances.log + scores.tsv; across heads curve.csv, curve.svg and
 * the summary table.
 *
 * Every sentence is run alone with a fresh stream and its own sampling seed (its number), so its
 * words and delays do not depend on which rank runs it: 1 rank and N ranks write the same files,
 * except for the wall-clock `elapsed` times.
 *
 * `--merge` (jobs/eval_merge.c) combines finished evaluations into the directory one evaluation of
 * all their heads would have written, with the writers of the files across heads defined here. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/dataset.h"
#include "io/files.h"
#include "io/instances.h"
#include "io/plot_svg.h"
#include "io/stream_model.h"
#include "jobs/eval.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "mpi/world.h"
#include "src/base/common.h"
#include "src/metrics/scoring.h"
#include "src/stream/runner.h"
#include "src/text/words.h"

/* --- this rank's results ------------------------------------------------------------------------ */

/* What one sentence produced under one head. */
typedef struct {
    char *prediction; /* words joined by single spaces */
    int n_words;
    double *delays;  /* [n_words] source words read (double: as Instance holds them) */
    double *elapsed; /* [n_words] source words on the computation-aware clock (eval_clock) */
    double compute_ms;
    int32_t end; /* InstanceEnd: finished, or cut by the runner's length limit */
} Output;

static void output_free(Output *o) {
    free(o->prediction);
    free(o->delays);
    free(o->elapsed);
    memset(o, 0, sizeof *o);
}

static double now_ms(void) { return runtime_now() * 1e3; }

/* Prefixes the recorded error with where it happened (px_error cannot take its own message as an
 * argument: it writes over it). Returns -1. */
int error_at(const char *where) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", px_error_message());
    return px_error("%s: %s", where, msg);
}

/* Appends one written word to o. */
static int output_add(Output *o, const RunnerWord *w, double clock_ms) {
    size_t old = o->prediction ? strlen(o->prediction) : 0, add = strlen(w->text);
    char *p = realloc(o->prediction, old + add + 2);
    double *d = realloc(o->delays, (size_t)(o->n_words + 1) * sizeof *d);
    if (p) o->prediction = p;
    if (d) o->delays = d;
    double *e = realloc(o->elapsed, (size_t)(o->n_words + 1) * sizeof *e);
    if (e) o->elapsed = e;
    if (!p || !d || !e) return px_error("out of memory");
    if (old) p[old++] = ' ';
    memcpy(p + old, w->text, add + 1);
    o->delays[o->n_words] = w->delay;
    o->elapsed[o->n_words] = clock_ms;
    o->n_words++;
    return 0;
}

/* Streams one sentence. The source words arrive one by one, word k complete at k * word_ms; the
 * runner's computing time is measured. A written word's elapsed time, in source words (word_ms
 * ms each), is with CLOCK_SIMULEVAL its delay plus all the computing time of the sentence so far
 * (SimulEval's elapsed = source read + time since the start); with CLOCK_REALTIME a simulated
 * clock that waits for each word the head asks for and advances by the computing time, so
 * computing while the speaker talks costs nothing. */
static int stream_sentence(Runner *r, int64_t index, const char *src, double word_ms, EvalClock ck, Output *o) {
    WordSpan *words = NULL;
    int n = split_words(src, strlen(src), &words);
    if (n < 0) return -1;
    double clock = 0, t = now_ms();
    int pushed = 0, rc = runner_begin_sentence(r, (uint64_t)index + 1);
    clock += now_ms() - t;
    o->compute_ms += now_ms() - t;
    while (rc == 0) {
        RunnerWord w;
        t = now_ms();
        int ev = runner_step(r, &w);
        double spent = now_ms() - t;
        clock += spent;
        o->compute_ms += spent;
        if (ev < 0) rc = -1;
        else if (ev == RUNNER_DONE) break;
        else if (ev == RUNNER_WORD) {
            double e = word_ms <= 0 ? 0 : ck == CLOCK_REALTIME ? clock / word_ms : w.delay + o->compute_ms / word_ms;
            rc = output_add(o, &w, e); /* without a speaker (word_ms 0) no clock: elapsed is not written */
        } else if (pushed < n) {       /* RUNNER_NEED_SOURCE: wait for the speaker's next word */
            clock = PX_MAX(clock, (pushed + 1) * word_ms);
            rc = runner_push_word(r, src + words[pushed].start, words[pushed].len);
            pushed++;
        } else {
            rc = runner_end_source(r);
        }
    }
    free(words);
    RunnerStats st;
    runner_stats(r, &st);
    o->end = st.stopped_by_limit ? INSTANCE_END_LENGTH_LIMIT : INSTANCE_END_FINISHED;
    if (rc) {
        char where[48];
        snprintf(where, sizeof where, "sentence %lld", (long long)index + 1);
        return error_at(where);
    }
    return 0;
}

/* --- moving results between ranks: a flat byte record per sentence ---------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} Bytes;

static int bytes_put(Bytes *b, const void *data, size_t len) {
    if (b->len + len > b->cap) {
        size_t cap = PX_MAX(b->cap * 2, b->len + len + 4096);
        char *p = realloc(b->p, cap);
        if (!p) return px_error("out of memory packing results");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

/* record: int64 index | int32 n_words | int32 text bytes | text | double delays[n] | double elapsed[n] | double compute_ms
 * | int32 end */
static int pack_output(Bytes *b, int64_t index, const Output *o) {
    int32_t n = o->n_words, tl = o->prediction ? (int32_t)strlen(o->prediction) : 0;
    int rc = bytes_put(b, &index, sizeof index) || bytes_put(b, &n, sizeof n) || bytes_put(b, &tl, sizeof tl) ||
             bytes_put(b, o->prediction ? o->prediction : "", (size_t)tl);
    if (n && rc == 0)
        rc =
            bytes_put(b, o->delays, (size_t)n * sizeof(double)) || bytes_put(b, o->elapsed, (size_t)n * sizeof(double));
    return rc || bytes_put(b, &o->compute_ms, sizeof o->compute_ms) || bytes_put(b, &o->end, sizeof o->end) ? -1 : 0;
}

static int take(const char **p, const char *end, void *dst, size_t len) {
    if ((size_t)(end - *p) < len) return px_error("gathered results are truncated");
    memcpy(dst, *p, len);
    *p += len;
    return 0;
}

/* Fills out[index] for every record in buf (rank 0); each sentence must come exactly once. */
static int unpack_outputs(const char *buf, size_t len, Output *out, int64_t n) {
    const char *p = buf, *end = buf + len;
    while (p < end) {
        int64_t index = -1;
        int32_t nw = 0, tl = 0;
        if (take(&p, end, &index, sizeof index) || take(&p, end, &nw, sizeof nw) || take(&p, end, &tl, sizeof tl))
            return -1;
        if (index < 0 || index >= n || out[index].prediction || nw < 0 || tl < 0)
            return px_error("gathered results: sentence %lld is out of range or came twice", (long long)index + 1);
        Output *o = &out[index];
        o->prediction = px_calloc((size_t)tl + 1, 1, "prediction");
        o->delays = px_calloc((size_t)nw + 1, sizeof(double), "delays");
        o->elapsed = px_calloc((size_t)nw + 1, sizeof(double), "elapsed");
        if (!o->prediction || !o->delays || !o->elapsed || take(&p, end, o->prediction, (size_t)tl)) return -1;
        o->n_words = nw;
        if (take(&p, end, o->delays, (size_t)nw * sizeof(double)) ||
            take(&p, end, o->elapsed, (size_t)nw * sizeof(double)) ||
            take(&p, end, &o->compute_ms, sizeof o->compute_ms) || take(&p, end, &o->end, sizeof o->end))
            return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (!out[i].prediction) return px_error("gathered results: sentence %lld is missing", (long long)i + 1);
    return 0;
}

/* --- the test set ------------------------------------------------------------------------------ */

typedef struct {
    int64_t n;
    char **src, **ref;
    long skipped; /* malformed .tsv lines left out */
    char first_skipped[300];
} TestSet;

static void test_set_free(TestSet *t) {
    for (int64_t i = 0; i < t->n; i++) {
        free(t->src[i]);
        free(t->ref[i]);
    }
    free(t->src);
    free(t->ref);
    memset(t, 0, sizeof *t);
}

static void note_skipped(void *ctx, const char *path, long line, const char *why) {
    TestSet *t = ctx;
    if (t->skipped++ == 0) snprintf(t->first_skipped, sizeof t->first_skipped, "%s:%ld: %s", path, line, why);
}

static char *text_copy(const char *text, const int64_t *off, int64_t k) {
    size_t len = (size_t)(off[k + 1] - off[k]);
    char *s = px_calloc(len + 1, 1, "test text");
    if (s) memcpy(s, text + off[k], len);
    return s;
}

/* The source and reference texts of the first `limit` sentences (all if limit <= 0). A .tsv is
 * read with the model's tokenizer and template, as proact prepare would. */
static int test_set_load(const char *path, const StreamModel *sm, int64_t limit, TestSet *t) {
    memset(t, 0, sizeof *t);
    char tok_path[PX_PATH_MAX + 32];
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", sm->dir);
    Dataset d;
    if (dataset_open(path, tok_path, sm->template_name, sm->model.cfg.max_seq_len, &d, note_skipped, t)) return -1;
    int64_t n = limit > 0 && limit < d.n_examples ? limit : d.n_examples;
    int rc = n > 0 ? 0 : px_error("%s: no sentences", path);
    int64_t *idx = rc ? NULL : px_calloc((size_t)n, sizeof *idx, "test indices");
    PairSet ps = {0};
    if (rc == 0 && !idx) rc = -1;
    for (int64_t i = 0; i < n && rc == 0; i++) idx[i] = i;
    if (rc == 0 && n > 1000000000)
        rc = px_error("%s: %lld sentences are too many for one evaluation", path, (long long)n);
    if (rc == 0) rc = dataset_get(&d, idx, (int)n, &ps);
    if (rc == 0) {
        t->src = px_calloc((size_t)n, sizeof(char *), "sources");
        t->ref = px_calloc((size_t)n, sizeof(char *), "references");
        rc = t->src && t->ref ? 0 : -1;
        t->n = rc ? 0 : n;
        for (int64_t i = 0; i < t->n && rc == 0; i++) {
            t->src[i] = text_copy(ps.src_text, ps.src_text_off, i);
            t->ref[i] = text_copy(ps.tgt_text, ps.tgt_text_off, i);
            if (!t->src[i] || !t->ref[i]) rc = -1;
        }
    }
    pair_set_free(&ps);
    free(idx);
    dataset_free(&d);
    if (rc) test_set_free(t);
    return rc;
}

/* --- progress on a terminal ------------------------------------------------------------------- */

typedef struct {
    int on; /* rank 0 and stderr is a terminal */
    int head, n_heads;
    const char *spec;
    int64_t done, total; /* this rank's sentences of the current head */
    double t0;
} Progress;

static void progress_draw(const Progress *p) {
    if (!p->on) return;
    const int width = 30;
    int fill = p->total ? (int)(width * p->done / p->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r  head %d/%d %-18.18s [%s] %lld/%lld sentences (rank 0)  %.1f s ", p->head + 1, p->n_heads,
            p->spec, bar, (long long)p->done, (long long)p->total, runtime_now() - p->t0);
    if (p->done == p->total) fputc('\n', stderr);
    fflush(stderr);
}

/* --- results across heads ----------------------------------------------------------------------- */

void head_dir_name(const char *spec, char *out, size_t size) {
    snprintf(out, size, "%s", spec);
    for (char *c = out; *c; c++)
        if (*c == ':' || *c == '/') *c = '_';
}

/* In characters (--latency-unit char), as SimulEval's text output in characters: one delay and
 * elapsed time per character of the written words (code points; the spaces between words are no
 * characters), each the word's. The prediction stays the words joined by spaces. In place. */
static int output_to_chars(Output *o) {
    int n = 0;
    for (const char *p = o->prediction; p && *p; p++) n += *p != ' ' && ((unsigned char)*p & 0xC0) != 0x80;
    double *d = px_calloc((size_t)n + 1, sizeof *d, "delays"), *e = px_calloc((size_t)n + 1, sizeof *e, "elapsed");
    if (!d || !e) {
        free(d);
        free(e);
        return -1;
    }
    int word = 0, k = 0;
    for (const char *p = o->prediction; p && *p; p++) {
        if (*p == ' ') word++;
        else if (((unsigned char)*p & 0xC0) != 0x80 && word < o->n_words) {
            d[k] = o->delays[word];
            e[k++] = o->elapsed[word];
        }
    }
    free(o->delays);
    free(o->elapsed);
    o->delays = d;
    o->elapsed = e;
    int pieces = o->prediction && *o->prediction ? word + 1 : 0; /* words joined by single spaces */
    if (pieces != o->n_words) return px_error("%d written words, but the prediction has %d", o->n_words, pieces);
    o->n_words = k;
    return 0;
}

/* Builds the instances of one head (rank 0) and writes instances.log, scores.tsv and config.yaml.
 * The outputs are turned into the latency unit in place. */
static int write_head(const char *out_dir, const TestSet *t, Output *outs, const ScoreOptions *so, HeadResult *hr) {
    Instance *v = px_calloc((size_t)t->n, sizeof *v, "instances");
    if (!v) return -1;
    int rc = 0;
    double compute = 0, words = 0;
    for (int64_t i = 0; i < t->n && rc == 0; i++) { /* borrowed: the outputs and the texts stay theirs */
        Output *o = &outs[i];
        compute += o->compute_ms;
        words += o->n_words;
        if (so->unit == LATENCY_UNIT_CHAR) rc = output_to_chars(o);
        v[i] = (Instance){.index = i,
                          .prediction = o->prediction,
                          .delays = o->delays,
                          .elapsed = so->computation_aware ? o->elapsed : NULL, /* no clock: "elapsed": [] */
                          .n_delays = o->n_words,
                          .reference = t->ref[i],
                          .source = t->src[i],
                          .source_length = count_words(t->src[i]),
                          .end = (InstanceEnd)o->end};
    }
    char dir[PX_PATH_MAX + 160], path[PX_PATH_MAX + 200];
    snprintf(dir, sizeof dir, "%s/%s", out_dir, hr->dir);
    if (rc == 0 && mkdir(dir, 0777) && errno != EEXIST)
        rc = px_error("%s: cannot create the directory: %s", dir, strerror(errno));
    if (rc == 0) rc = eval_scores(v, (int)t->n, so, &hr->scores);
    snprintf(path, sizeof path, "%s/instances.log", dir);
    if (rc == 0) rc = instances_write(path, v, (int)t->n);
    snprintf(path, sizeof path, "%s/scores.tsv", dir);
    if (rc == 0) rc = scores_tsv_write(path, &hr->scores);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    if (rc == 0) rc = simuleval_config_write(path);
    hr->ms_per_word = words > 0 ? compute / words : NAN;
    hr->unit = so->unit;
    free(v);
    return rc;
}

const char *kind_name(HeadKind k) {
    static const char *names[] = {"entropy", "maxprob", "attn", "probe", "waitk", "chunk", "offline"};
    return names[k];
}

/* "%.2f" or "-" for a value that is not there. */
static void fmt_value(char *buf, size_t size, int have, double v, const char *fmt) {
    if (have && isfinite(v)) snprintf(buf, size, fmt, v);
    else snprintf(buf, size, "-");
}

typedef struct {
    const HeadResult *hr;
    int n;
} Table;

static int write_table(FILE *fp, void *ctx) {
    const Table *t = ctx;
    int w = 26; /* the head column: as wide as the longest spec (floors and ceilings make long ones) */
    for (int h = 0; h < t->n; h++) w = PX_MAX(w, (int)strlen(t->hr[h].head.spec));
    fprintf(fp, "%-*s %7s %7s %7s %7s %7s %7s %7s %8s %8s %9s\n", w, "head", "BLEU", "chrF2", "AL", "LAAL", "AP", "DAL",
            "ATD", "LAAL_CA", "AL_CA", "ms/word");
    for (int h = 0; h < t->n; h++) {
        const EvalScores *s = &t->hr[h].scores;
        char ca1[32], ca2[32], mpw[32];
        fmt_value(ca1, sizeof ca1, s->has_ca, s->LAAL_CA, "%.2f");
        fmt_value(ca2, sizeof ca2, s->has_ca, s->AL_CA, "%.2f");
        fmt_value(mpw, sizeof mpw, 1, t->hr[h].ms_per_word, "%.2f");
        fprintf(fp, "%-*s %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %8s %8s %9s\n", w, t->hr[h].head.spec,
                s->bleu.score, s->chrf, s->AL, s->LAAL, s->AP, s->DAL, s->ATD, ca1, ca2, mpw);
    }
    return ferror(fp) ? -1 : 0;
}

/* curve.csv's header: its columns in the order of jobs/eval.h's COL_* */
const char curve_header[] = "head,kind,dir,BLEU,chrF,AL,LAAL,AP,DAL,ATD,AL_CA,LAAL_CA,AP_CA,DAL_CA,ATD_CA,ms_per_word,"
                            "n,n_no_output,latency_unit,"
                            "signature";

static int write_curve_csv(FILE *fp, void *ctx) {
    const Table *t = ctx;
    fprintf(fp, "%s\n", curve_header);
    for (int h = 0; h < t->n; h++) {
        const HeadResult *r = &t->hr[h];
        const EvalScores *s = &r->scores;
        char ca[5][32], mpw[32];
        const double cav[5] = {s->AL_CA, s->LAAL_CA, s->AP_CA, s->DAL_CA, s->ATD_CA};
        for (int k = 0; k < 5; k++) fmt_value(ca[k], sizeof ca[k], s->has_ca, cav[k], "%.6f");
        fmt_value(mpw, sizeof mpw, 1, r->ms_per_word, "%.6f");
        /* no CSV quoting is needed: --heads is split at commas, and sacreBLEU's signature joins
         * fixed names with '|' */
        assert(!strchr(r->head.spec, ',') && !strchr(s->signature, ','));
        fprintf(fp, "%s,%s,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%s,%s,%s,%s,%s,%s,%d,%d,%s,%s\n", r->head.spec,
                kind_name(r->head.kind), r->dir, s->bleu.score, s->chrf, s->AL, s->LAAL, s->AP, s->DAL, s->ATD, ca[0],
                ca[1], ca[2], ca[3], ca[4], mpw, s->n, s->n_no_output, latency_unit_name(r->unit), s->signature);
    }
    return ferror(fp) ? -1 : 0;
}

/* The point label of a head within its series: what varies (the threshold or k). */
static void point_label(const HeadSpec *h, char *buf, size_t size) {
    const char *colon = strchr(h->spec, ':'), *from = colon ? colon + 1 : h->spec;
    size_t len = PX_MIN(strlen(from), size - 1); /* the plot shortens long labels anyway */
    memcpy(buf, from, len);
    buf[len] = '\0';
}

/* BLEU against LAAL, one series per kind of head, points in order of latency. */
static int write_plot(const char *path, const HeadResult *hr, int n, const char *title) {
    PlotSeries series[HEAD_OFFLINE + 1];
    double *x = px_calloc((size_t)n, sizeof *x, "plot"), *y = px_calloc((size_t)n, sizeof *y, "plot");
    char(*labels)[48] = px_calloc((size_t)n, sizeof *labels, "plot labels");
    const char **label_ptrs = px_calloc((size_t)n, sizeof *label_ptrs, "plot labels");
    int rc = x && y && labels && label_ptrs ? 0 : -1, n_series = 0, used = 0;
    for (int kind = 0; kind <= HEAD_OFFLINE && rc == 0; kind++) {
        int first = used;
        for (int h = 0; h < n; h++) {
            if ((int)hr[h].head.kind != kind) continue;
            /* insertion by LAAL keeps the series a left-to-right line */
            int at = used++;
            while (at > first && x[at - 1] > hr[h].scores.LAAL) {
                x[at] = x[at - 1];
                y[at] = y[at - 1];
                memcpy(labels[at], labels[at - 1], sizeof labels[at]);
                at--;
            }
            x[at] = hr[h].scores.LAAL;
            y[at] = hr[h].scores.bleu.score;
            point_label(&hr[h].head, labels[at], sizeof labels[at]);
        }
        if (used == first) continue;
        for (int k = first; k < used; k++) label_ptrs[k] = labels[k];
        series[n_series++] =
            (PlotSeries){kind_name((HeadKind)kind), x + first, y + first, used - first, label_ptrs + first};
    }
    if (rc == 0) rc = plot_svg_write(path, title, "LAAL (source words; lower is faster)", "BLEU", series, n_series);
    free(x);
    free(y);
    free(labels);
    free(label_ptrs);
    return rc;
}

/* The files across heads. model_dir may be NULL (a merge without --model): the title then omits it. */
int write_summary(const char *out_dir, const HeadResult *hr, int n, const char *model_dir) {
    Table t = {hr, n};
    char path[PX_PATH_MAX + 32], title[PX_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/summary.txt", out_dir);
    if (atomic_write(path, write_table, &t)) return -1;
    snprintf(path, sizeof path, "%s/curve.csv", out_dir);
    if (atomic_write(path, write_curve_csv, &t)) return -1;
    const char *base = model_dir ? strrchr(model_dir, '/') : NULL;
    if (model_dir)
        snprintf(title, sizeof title, "Latency-quality: %s, %d sentences", base && base[1] ? base + 1 : model_dir,
                 hr[0].scores.n);
    else snprintf(title, sizeof title, "Latency-quality: %d sentences", hr[0].scores.n);
    snprintf(path, sizeof path, "%s/curve.svg", out_dir);
    return write_plot(path, hr, n, title);
}

/* The table on stdout and the lines under it. word_ms is NAN when it is not known: curve.csv does
 * not record it, so a merge cannot say it. */
void print_results(const char *out_dir, const HeadResult *hr, int n, double word_ms) {
    Table tab = {hr, n};
    char clock[64] = "";
    if (!isnan(word_ms)) snprintf(clock, sizeof clock, ", the source at %g ms/word", word_ms);
    write_table(stdout, &tab);
    printf("(%d sentences; BLEU %s; latency in source words per target %s, *_CA too%s)\n"
           "wrote %s/{summary.txt,curve.csv,curve.svg} and per head instances.log, scores.tsv, config.yaml\n",
           hr[0].scores.n, hr[0].scores.signature, latency_unit_name(hr[0].unit), clock, out_dir);
    fflush(stdout);
}

/* --- the job ---------------------------------------------------------------------------------- */

typedef struct {
    const char *model_dir, *data, *heads, *out_dir;
    int merge; /* --merge: combine the evaluations in parts[0..n_parts) */
    char **parts;
    int n_parts;
    int64_t limit;
    int threads, progress;
    double word_ms;
    EvalClock clock; /* --ca-clock */
    ScoreOptions score;
    RunnerOptions runner;
    DecodeWeightType weights; /* --weights */
} EvalArgs;

/* --word-ms: ms per source word in [0, 1e7) */
static int parse_word_ms(const char *name, const char *arg, void *dest) {
    if (parse_double_opt(name, arg, 0, 1e7, dest) || *(double *)dest == 1e7)
        return px_error("%s: expected ms per source word in [0, 1e7), got '%s'", name, arg);
    return 0;
}

static int parse_tokenize(const char *name, const char *arg, void *dest) {
    (void)name;
    return bleu_tokenizer_parse(arg, dest);
}

static int parse_unit(const char *name, const char *arg, void *dest) {
    (void)name;
    return latency_unit_parse(arg, dest);
}

static int parse_clock(const char *name, const char *arg, void *dest) {
    if (strcmp(arg, "simuleval") == 0) *(EvalClock *)dest = CLOCK_SIMULEVAL;
    else if (strcmp(arg, "realtime") == 0) *(EvalClock *)dest = CLOCK_REALTIME;
    else return px_error("%s: expected simuleval or realtime, got '%s'", name, arg);
    return 0;
}

/* 0 to go on, else the exit status to return at once (0 after --help). */
static int parse_args(int argc, char **argv, EvalArgs *a, int *status) {
    memset(a, 0, sizeof *a);
    a->threads = 1;
    a->word_ms = 400;
    score_options_default(&a->score);
    runner_options_default(&a->runner);
    int no_progress = 0;
    char heads_help[1024];
    snprintf(heads_help, sizeof heads_help, "comma-separated decision heads: %s", head_spec_help());
    const Opt table[] = {
        OPT("model", 'm', OPT_STRING, &a->model_dir, "DIR", "exported model directory"),
        OPT("data", 'd', OPT_STRING, &a->data, "test.h5|test.tsv", "the test set"),
        OPT("heads", 'H', OPT_STRING, &a->heads, "SPEC[,SPEC...]", heads_help),
        OPT("out", 'o', OPT_STRING, &a->out_dir, "OUT", "the output directory"),
        OPT("limit", 'n', OPT_I64, &a->limit, "N", "only the first N sentences", .min = 1, .max = LONG_MAX),
        OPT("word-ms", 'W', OPT_CUSTOM, &a->word_ms, "R",
            "the source is spoken at R ms per word (default 400):\n"
            "`elapsed` is then when each word was written, in\n"
            "source words (R ms each), and the computation-aware\n"
            "*_CA latencies are reported (SimulEval's\n"
            "--computation-aware); 0 = no clock, no *_CA",
            .parse = parse_word_ms),
        OPT("ca-clock", 0, OPT_CUSTOM, &a->clock, "simuleval|realtime",
            "how computing time enters `elapsed` (default\n"
            "simuleval: the delay plus all computing time of the\n"
            "sentence so far, as SimulEval; realtime: a clock that\n"
            "waits for each source word and runs while computing,\n"
            "so computing while the speaker talks costs nothing)",
            .parse = parse_clock),
        OPT("latency-unit", 0, OPT_CUSTOM, &a->score.unit, "word|char",
            "the target unit of the latency (SimulEval's\n"
            "--eval-latency-unit; default word): char writes a\n"
            "delay per character and counts the reference in\n"
            "characters (Chinese, Japanese)",
            .parse = parse_unit),
        OPT("tokenize", 'k', OPT_CUSTOM, &a->score.tok, "13a|none|intl|char|zh",
            "BLEU tokenizer (sacreBLEU's; default 13a)", .parse = parse_tokenize),
        OPT("lowercase", 'c', OPT_FLAG, &a->score.lowercase, NULL, "BLEU on lowercased text (default: mixed case)"),
        RUNNER_OPTS(a->runner),
        DECODE_OPTS(a->weights, a->runner.kv_bf16),
        OPT("threads", 't', OPT_INT, &a->threads, "N", "BLAS threads per rank (default 1)", .min = 1, .max = 1024),
        OPT("no-progress", 'q', OPT_FLAG, &no_progress, NULL, "no progress bar, even on a terminal"),
        OPT("merge", 0, OPT_FLAG, &a->merge, NULL,
            "combine earlier evaluations (PART_DIRs: their -o, e.g.\n"
            "one Slurm array task per head) into OUT as one\n"
            "evaluation of all their heads would have written it.\n"
            "First reads every part back and scores each head's\n"
            "instances.log again: a bad line, a sentence count\n"
            "other than curve.csv's, other sentences than the first\n"
            "head's or a scores.tsv/curve.csv value that differs\n"
            "from the rescoring stops it before it writes anything.\n"
            "Then copies each head's files, writes curve.csv,\n"
            "curve.svg, summary.txt from the rescored numbers and\n"
            "prints the table. Heads keep the order of the parts.\n"
            "OUT must not be one of the PART_DIRs. No MPI and no\n"
            "model: --model DIR only names the model in the plot"),
        {0}};
    Opts o = {.command = "eval", .opts = table, .arg_name = "PART_DIR..."};
    o.usage = "proact eval --model DIR --data test.h5|test.tsv --heads SPEC[,SPEC...] -o OUT [options]\n"
              "       proact eval --merge -o OUT [--model DIR] PART_DIR [PART_DIR ...]";
    o.about = "Streams every test sentence word by word through each decision head and scores the output\n"
              "(BLEU and chrF2 as sacreBLEU; LAAL, AL, AP, DAL, ATD in source words as SimulEval 1.1). Under\n"
              "mpirun or srun the sentences are split over the ranks and the results gathered on rank 0. Writes\n"
              "  OUT/<head>/instances.log  one JSON line per sentence (SimulEval's format, + end_reason)\n"
              "  OUT/<head>/scores.tsv     the corpus scores (SimulEval's format: its columns, 3 decimals)\n"
              "  OUT/<head>/config.yaml    SimulEval's source/target types: `simuleval --score-only --output\n"
              "                            OUT/<head>` (with --computation-aware when --word-ms > 0) scores\n"
              "                            the head alone and prints scores.tsv's numbers\n"
              "  OUT/curve.csv, OUT/curve.svg, OUT/summary.txt   all heads: the latency-quality curve\n";
    if (opts_parse(&o, argc, argv, status)) return 1;
    a->progress = !no_progress;
    if (a->merge) {
        /* a merge reads what evaluations wrote: an option of the evaluation itself would be ignored */
        for (int i = 0; table[i].name; i++) {
            const char *name = table[i].name;
            if (!o.given[i] || !strcmp(name, "model") || !strcmp(name, "out") || !strcmp(name, "merge")) continue;
            char msg[128];
            snprintf(msg, sizeof msg, "--merge combines finished evaluations: --%s does not apply", name);
            *status = opts_usage_error(&o, msg);
            return 1;
        }
        if (!a->out_dir || o.n_args == 0) {
            *status = opts_usage_error(&o, !a->out_dir ? "--merge needs -o OUT" : "--merge needs PART_DIRs to combine");
            return 1;
        }
        a->parts = o.args;
        a->n_parts = o.n_args;
        /* a shell glob's "dir/" would name "dir//curve.csv" in messages */
        for (int p = 0; p < a->n_parts; p++)
            for (char *end = a->parts[p] + strlen(a->parts[p]); end > a->parts[p] + 1 && end[-1] == '/';) *--end = '\0';
        return 0;
    }
    const char *missing = !a->model_dir ? "--model"
                          : !a->data    ? "--data"
                          : !a->heads   ? "--heads"
                          : !a->out_dir ? "--out"
                                        : NULL;
    char msg[160];
    if (missing || o.n_args) {
        if (missing) snprintf(msg, sizeof msg, "%s is required (or --merge to combine evaluations)", missing);
        else snprintf(msg, sizeof msg, "unexpected argument '%.100s' (PART_DIRs are for --merge)", o.args[0]);
        *status = opts_usage_error(&o, msg);
        return 1;
    }
    a->score.computation_aware = a->word_ms > 0; /* elapsed in source words: SimulEval reads it as is */
    return 0;
}

/* Parses "SPEC,SPEC,..." into heads usable with the model. */
static int parse_heads(const StreamModel *sm, const char *list, HeadResult **out, int *n) {
    *out = NULL;
    *n = 0;
    char *copy = strdup(list);
    if (!copy) return px_error("out of memory");
    int cap = 1, rc = 0;
    for (const char *p = list; *p; p++) cap += *p == ',';
    HeadResult *hr = px_calloc((size_t)cap, sizeof *hr, "heads");
    if (!hr) rc = -1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        if (stream_model_head(sm, tok, &hr[*n].head)) rc = -1;
        else head_dir_name(hr[*n].head.spec, hr[*n].dir, sizeof hr[*n].dir);
        for (int k = 0; k < *n && rc == 0; k++)
            if (strcmp(hr[k].dir, hr[*n].dir) == 0) rc = px_error("--heads: '%s' is given twice", tok);
        if (rc == 0) (*n)++;
    }
    if (rc == 0 && *n == 0) rc = px_error("--heads: no decision head given");
    free(copy);
    if (rc) free(hr);
    else *out = hr;
    return rc;
}

/* Which rank runs which sentence: balanced by source length (a proxy for its cost). */
static int deal_sentences(const World *w, const TestSet *t, int **owner) {
    double *cost = px_calloc((size_t)t->n, sizeof *cost, "sentence costs");
    *owner = px_calloc((size_t)t->n, sizeof **owner, "sentence owners");
    int rc = cost && *owner ? 0 : -1;
    for (int64_t i = 0; i < t->n && rc == 0; i++) cost[i] = (double)strlen(t->src[i]) + 1;
    if (rc == 0) rc = balance_by_cost(cost, (int)t->n, w->size, *owner);
    free(cost);
    return rc;
}

/* Streams this rank's sentences through one head; packs the results. */
static int run_head(const StreamModel *sm, const HeadResult *hr, const EvalArgs *a, const TestSet *t, const int *owner,
                    int rank, Progress *pg, Bytes *packed) {
    Runner *r =
        runner_new(&sm->model, sm->tokenizer, &sm->format, &hr->head, sm->has_probe ? &sm->probe : NULL, &a->runner);
    if (!r) return -1;
    int rc = 0;
    for (int64_t i = 0; i < t->n && rc == 0; i++) {
        if (owner[i] != rank) continue;
        Output o = {0};
        rc = stream_sentence(r, i, t->src[i], a->word_ms, a->clock, &o);
        if (rc == 0) rc = pack_output(packed, i, &o);
        output_free(&o);
        pg->done++;
        progress_draw(pg);
    }
    runner_free(r);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    int opt_status;
    if (parse_args(argc, argv, &a, &opt_status)) return opt_status;
    /* a merge only reads and writes files: it runs as a plain process, before and without MPI */
    if (a.merge) return merge_evals(a.out_dir, a.model_dir, a.parts, a.n_parts) ? job_fail(px_error_message()) : 0;
    World w;
    if (world_init(NULL, NULL, &w)) return job_fail(px_error_message());
    runtime_set_threads(a.threads);
    runtime_report_blas();

    StreamModel sm;
    DecodeWeights dw = {0};
    TestSet t = {0};
    HeadResult *hr = NULL;
    int n_heads = 0, *owner = NULL, status = 0;
    Output *outs = NULL;
    int rc = stream_model_load(a.model_dir, &sm);
    if (rc == 0) rc = decode_weights_for(&dw, &sm.model, a.weights, &a.runner); /* made once, shared by the heads */
    if (rc == 0) rc = parse_heads(&sm, a.heads, &hr, &n_heads);
    if (rc == 0) rc = test_set_load(a.data, &sm, a.limit, &t);
    if (rc == 0) rc = deal_sentences(&w, &t, &owner);
    struct stat sb;
    if (rc == 0 && w.rank == 0 && mkdir(a.out_dir, 0777) && errno != EEXIST)
        rc = px_error("%s: cannot create the output directory: %s", a.out_dir, strerror(errno));
    else if (rc == 0 && w.rank == 0 && (stat(a.out_dir, &sb) || !S_ISDIR(sb.st_mode)))
        rc = px_error("%s: the output must be a directory", a.out_dir);
    if (rc == 0 && w.rank == 0) outs = px_calloc((size_t)t.n, sizeof *outs, "results");
    if (rc == 0 && w.rank == 0 && !outs) rc = -1;
    if (world_agree(&w, rc)) {
        status = job_fail(px_error_message());
        goto done;
    }
    if (w.rank == 0) {
        if (t.skipped)
            fprintf(stderr, "proact eval: warning: %ld malformed lines of %s are not evaluated (first: %s)\n",
                    t.skipped, a.data, t.first_skipped);
        fprintf(stderr, "proact eval: %lld sentences, %d heads, %d rank%s, source at %g ms/word -> %s\n",
                (long long)t.n, n_heads, w.size, w.size == 1 ? "" : "s", a.word_ms, a.out_dir);
    }
    int64_t mine = 0;
    for (int64_t i = 0; i < t.n; i++) mine += owner[i] == w.rank;
    Progress pg = {w.rank == 0 && a.progress && isatty(STDERR_FILENO), 0, n_heads, "", 0, mine, runtime_now()};

    for (int h = 0; h < n_heads; h++) {
        Bytes packed = {0};
        void *all = NULL;
        size_t all_len = 0;
        pg.head = h;
        pg.spec = hr[h].head.spec;
        pg.done = 0;
        double t0 = runtime_now();
        /* a rank that fails stops its sentences and reports here, where every rank meets */
        rc = run_head(&sm, &hr[h], &a, &t, owner, w.rank, &pg, &packed);
        if (world_agree(&w, rc) || world_gather_bytes(&w, packed.p, packed.len, &all, &all_len)) {
            free(packed.p);
            status = job_fail(px_error_message());
            goto done;
        }
        free(packed.p);
        if (w.rank == 0) {
            rc = unpack_outputs(all, all_len, outs, t.n);
            if (rc == 0) rc = write_head(a.out_dir, &t, outs, &a.score, &hr[h]);
            if (rc == 0 && !pg.on)
                fprintf(stderr, "proact eval: head %d/%d %s: BLEU %.2f, LAAL %.2f (%.1f s)\n", h + 1, n_heads,
                        hr[h].head.spec, hr[h].scores.bleu.score, hr[h].scores.LAAL, runtime_now() - t0);
            for (int64_t i = 0; i < t.n; i++) output_free(&outs[i]);
        }
        free(all);
        if (world_agree(&w, rc)) {
            status = job_fail(px_error_message());
            goto done;
        }
    }
    if (w.rank == 0) {
        rc = write_summary(a.out_dir, hr, n_heads, a.model_dir);
        if (rc == 0) print_results(a.out_dir, hr, n_heads, a.word_ms);
    }
    if (world_agree(&w, rc)) status = job_fail(px_error_message());
done:
    free(outs);
    free(owner);
    free(hr);
    test_set_free(&t);
    decode_weights_free(&dw);
    stream_model_free(&sm);
    world_finalize();
    return status;
}
