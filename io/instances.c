/* instances.c — SimulEval's instances.log and scores.tsv, and one-segment-per-line text files
 * (instances.h). */
#include "io/instances.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/atomic_file.h"
#include "io/files.h"
#include "src/base/common.h"
#include "src/base/utf8.h"

/* ---- writing instances.log ---------------------------------------------------------------- */

/* A JSON string literal (quotes, escapes; UTF-8 kept as is). NULL if text is not valid UTF-8. */
static char *json_quote(const char *text) {
    json_t *s = json_string(text ? text : "");
    if (!s) return NULL;
    char *q = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    return q;
}

/* Shortest "%.{15,16,17}g" that reads back as x (what Python's repr does for most values). */
static void format_real(char *buf, size_t size, double x) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* A delay: an integer when integral (SimulEval writes text delays as ints), else a real. */
static void format_delay(char *buf, size_t size, double x) {
    if (x == floor(x) && fabs(x) < 9007199254740992.0) /* 2^53: every integer exact */
        snprintf(buf, size, "%.0f", x);
    else format_real(buf, size, x);
}

/* An elapsed time: a real, exact (it reads back as the same double, so a rescoring of the file
 * gives the numbers eval computed), with ".0" on whole numbers as Python writes floats. */
static void format_elapsed(char *buf, size_t size, double x) {
    format_real(buf, size, x);
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", size - strlen(buf) - 1);
}

static const char *end_name(InstanceEnd e) {
    return e == INSTANCE_END_FINISHED ? "finished" : e == INSTANCE_END_LENGTH_LIMIT ? "length_limit" : NULL;
}

typedef struct {
    const Instance *v;
    int n;
    char **quoted; /* [3n]: prediction, reference, source of each instance, as JSON strings */
} WriteCtx;

static int write_numbers(FILE *fp, const double *x, int n, void (*fmt)(char *, size_t, double)) {
    char buf[64];
    fputc('[', fp);
    for (int i = 0; i < n; i++) {
        fmt(buf, sizeof buf, x[i]);
        fprintf(fp, "%s%s", i ? ", " : "", buf);
    }
    return fputc(']', fp) == EOF ? -1 : 0;
}

static int write_body(FILE *fp, void *ctx) {
    const WriteCtx *w = ctx;
    for (int i = 0; i < w->n; i++) {
        const Instance *x = &w->v[i];
        /* json.dumps' default separators, so that the lines look like SimulEval's */
        fprintf(fp, "{\"index\": %lld, \"prediction\": %s, \"delays\": ", (long long)x->index, w->quoted[3 * i]);
        write_numbers(fp, x->delays, x->n_delays, format_delay);
        fputs(", \"elapsed\": ", fp);
        write_numbers(fp, x->elapsed, x->elapsed ? x->n_delays : 0, format_elapsed);
        fprintf(fp, ", \"prediction_length\": %d, \"reference\": %s, \"source\": %s, \"source_length\": %d",
                x->n_delays, w->quoted[3 * i + 1], w->quoted[3 * i + 2], x->source_length);
        /* after SimulEval's keys, as SimulEval adds its own extras (SimulEval's LogInstance keeps
         * any other key as an attribute and ignores it) */
        if (end_name(x->end)) fprintf(fp, ", \"end_reason\": \"%s\"", end_name(x->end));
        if (fputs("}\n", fp) == EOF) return -1;
    }
    return ferror(fp) ? -1 : 0;
}

static int check_finite(const Instance *x, const double *a, const char *field) {
    for (int k = 0; a && k < x->n_delays; k++)
        if (!isfinite(a[k]))
            return px_error("instance %lld: field '%s' holds a value that is not finite", (long long)x->index, field);
    return 0;
}

int instances_write(const char *path, const Instance *v, int n) {
    if (n < 0 || (n > 0 && !v)) return px_error("%s: instances_write: bad arguments", path);
    WriteCtx w = {v, n, calloc(3 * (size_t)n + 1, sizeof(char *))};
    if (!w.quoted) return px_error("%s: out of memory", path);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const Instance *x = &v[i];
        const char *texts[3] = {x->prediction, x->reference, x->source};
        static const char *const names[3] = {"prediction", "reference", "source"};
        for (int k = 0; k < 3 && rc == 0; k++)
            if (!(w.quoted[3 * i + k] = json_quote(texts[k])))
                rc = px_error("%s: instance %lld: field '%s' is not valid UTF-8", path, (long long)x->index, names[k]);
        if (rc == 0 && x->n_delays > 0 && !x->delays)
            rc = px_error("%s: instance %lld: %d delays announced but none given", path, (long long)x->index,
                          x->n_delays);
        if (rc == 0 && (check_finite(x, x->delays, "delays") || check_finite(x, x->elapsed, "elapsed"))) rc = -1;
    }
    if (rc == 0) rc = atomic_write(path, write_body, &w);
    for (int i = 0; i < 3 * n; i++) free(w.quoted[i]);
    free(w.quoted);
    return rc;
}

/* ---- reading instances.log ---------------------------------------------------------------- */

/* The bad-line error: "path:line: field 'name' <what>". */
#define FIELD_ERROR(name, what) px_error("%s:%d: field '%s' %s", path, line, name, what)

static int get_int64(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out) {
    json_t *x = json_object_get(o, key);
    if (json_is_integer(x)) {
        *out = json_integer_value(x);
    } else if (json_is_real(x) && json_real_value(x) == floor(json_real_value(x)) && fabs(json_real_value(x)) < 9e15) {
        *out = (int64_t)json_real_value(x); /* 5.0 is a whole number too */
    } else {
        return -1;
    }
    return *out >= min && *out <= max ? 0 : -1;
}

/* A list of numbers into a malloc'ed array; -1 if x is not one. */
static int get_numbers(json_t *x, double **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!json_is_array(x) || json_array_size(x) > INT_MAX) return -1;
    size_t len = json_array_size(x);
    double *a = malloc(sizeof *a * (len ? len : 1));
    if (!a) return -1;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(x, i);
        if (!json_is_number(e)) {
            free(a);
            return -1;
        }
        a[i] = json_number_value(e);
    }
    *out = a;
    *n = (int)len;
    return 0;
}

static char *dup_string(json_t *x) {
    const char *s = json_string_value(x);
    return s ? strdup(s) : NULL;
}

/* "source": a string, or (SimulEval for some inputs) a list of strings joined by spaces. */
static char *get_source(json_t *x) {
    if (!x || json_is_null(x)) return strdup("");
    if (json_is_string(x)) return dup_string(x);
    if (!json_is_array(x)) return NULL;
    size_t len = 1, i;
    json_t *e;
    json_array_foreach(x, i, e) {
        if (!json_is_string(e)) return NULL;
        len += json_string_length(e) + 1;
    }
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    json_array_foreach(x, i, e) {
        if (i) *p++ = ' ';
        size_t k = json_string_length(e);
        memcpy(p, json_string_value(e), k);
        p += k;
    }
    *p = '\0';
    return s;
}

/* One line (a JSON object) into *x; -1 with path:line and the field at fault. */
static int parse_instance(const char *path, int line, const char *text, size_t len, Instance *x) {
    json_error_t err;
    json_t *o = json_loadb(text, len, 0, &err);
    if (!o) return px_error("%s:%d: not valid JSON: %s", path, line, err.text);
    int rc = -1;
    double *elapsed = NULL;
    int n_elapsed = 0;
    int64_t v64;
    json_t *f;
    memset(x, 0, sizeof *x);
    if (!json_is_object(o)) {
        px_error("%s:%d: not a JSON object", path, line);
        goto done;
    }
    if (!json_object_get(o, "index") || get_int64(o, "index", 0, INT64_MAX, &x->index)) {
        FIELD_ERROR("index", json_object_get(o, "index") ? "is not an integer >= 0" : "is missing");
        goto done;
    }
    if (!(f = json_object_get(o, "prediction")) || !(x->prediction = dup_string(f))) {
        FIELD_ERROR("prediction", f ? "is not a string" : "is missing");
        goto done;
    }
    if (!(f = json_object_get(o, "delays")) || get_numbers(f, &x->delays, &x->n_delays)) {
        FIELD_ERROR("delays", f ? "is not a list of numbers" : "is missing");
        goto done;
    }
    /* SimulEval writes "elapsed" for every instance, but it is only meaningful with a clock:
     * [] (speech output) or null mean unknown; a list must match the delays one to one. */
    f = json_object_get(o, "elapsed");
    if (f && !json_is_null(f)) {
        if (get_numbers(f, &elapsed, &n_elapsed)) {
            FIELD_ERROR("elapsed", "is not a list of numbers");
            goto done;
        }
        if (n_elapsed > 0 && n_elapsed != x->n_delays) {
            px_error("%s:%d: field 'elapsed' has %d values but 'delays' has %d", path, line, n_elapsed, x->n_delays);
            goto done;
        }
        if (n_elapsed > 0) {
            x->elapsed = elapsed;
            elapsed = NULL;
        }
    }
    /* SimulEval's prediction_length is len(prediction_list), one entry per delay. We do not
     * count the words of "prediction" against it: with --eval-latency-unit char SimulEval
     * writes one delay per character, and Python's split() knows more spaces than we do. */
    if ((f = json_object_get(o, "prediction_length"))) {
        if (get_int64(o, "prediction_length", 0, INT_MAX, &v64)) {
            FIELD_ERROR("prediction_length", "is not an integer >= 0");
            goto done;
        }
        if (v64 != x->n_delays) {
            px_error("%s:%d: field 'prediction_length' is %lld but 'delays' has %d values", path, line, (long long)v64,
                     x->n_delays);
            goto done;
        }
    }
    if (!(f = json_object_get(o, "reference")) || !(x->reference = dup_string(f))) {
        FIELD_ERROR("reference", f ? "is not a string" : "is missing");
        goto done;
    }
    if (!(x->source = get_source(json_object_get(o, "source")))) {
        FIELD_ERROR("source", "is not a string or a list of strings");
        goto done;
    }
    if (!json_object_get(o, "source_length") || get_int64(o, "source_length", 0, INT_MAX, &v64)) {
        FIELD_ERROR("source_length", json_object_get(o, "source_length") ? "is not an integer >= 0" : "is missing");
        goto done;
    }
    x->source_length = (int)v64;
    if ((f = json_object_get(o, "end_reason")) && !json_is_null(f)) {
        const char *e = json_string_value(f);
        x->end = !e                               ? INSTANCE_END_UNKNOWN
                 : strcmp(e, "finished") == 0     ? INSTANCE_END_FINISHED
                 : strcmp(e, "length_limit") == 0 ? INSTANCE_END_LENGTH_LIMIT
                                                  : INSTANCE_END_UNKNOWN;
        if (x->end == INSTANCE_END_UNKNOWN) {
            FIELD_ERROR("end_reason", "is not \"finished\" or \"length_limit\"");
            goto done;
        }
    }
    rc = 0;
done:
    free(elapsed);
    json_decref(o);
    if (rc) instance_free(x);
    return rc;
}

typedef struct {
    int64_t index;
    int line;
} IndexLine;

static int cmp_index_line(const void *a, const void *b) {
    const IndexLine *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* SimulEval keys instances by index (a repeat silently replaces the earlier one); we refuse. */
static int check_unique(const char *path, const IndexLine *il, int n) {
    IndexLine *s = malloc(sizeof *s * (size_t)n);
    if (!s) return px_error("%s: out of memory", path);
    memcpy(s, il, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_index_line);
    int rc = 0;
    for (int i = 1; i < n && rc == 0; i++)
        if (s[i].index == s[i - 1].index)
            rc = px_error("%s:%d: field 'index' is %lld, as on line %d", path, s[i].line, (long long)s[i].index,
                          s[i - 1].line);
    free(s);
    return rc;
}

int instances_read(const char *path, Instance **v, int *n) {
    *v = NULL;
    *n = 0;
    char *data;
    size_t len;
    if (file_read_all(path, &data, &len)) return -1;
    Instance *a = NULL;
    IndexLine *il = NULL;
    int count = 0, cap = 0, rc = 0, line = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, next = nl ? end + 1 : len;
        line++;
        size_t k = pos;
        while (k < end && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r')) k++;
        if (k == end) { /* blank line */
            pos = next;
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            Instance *bigger = realloc(a, sizeof *a * (size_t)cap);
            IndexLine *bigger_il = bigger ? realloc(il, sizeof *il * (size_t)cap) : NULL;
            if (bigger) a = bigger;
            if (bigger_il) il = bigger_il;
            if (!bigger || !bigger_il) {
                rc = px_error("%s: out of memory", path);
                break;
            }
        }
        rc = parse_instance(path, line, data + pos, end - pos, &a[count]);
        if (rc == 0) {
            il[count] = (IndexLine){a[count].index, line};
            count++;
        }
        pos = next;
    }
    free(data);
    if (rc == 0 && count == 0) rc = px_error("%s: no instances", path);
    if (rc == 0) rc = check_unique(path, il, count);
    free(il);
    if (rc) {
        for (int i = 0; i < count; i++) instance_free(&a[i]);
        free(a);
        return -1;
    }
    *v = a;
    *n = count;
    return 0;
}

/* ---- scores.tsv ----------------------------------------------------------------------------- */

/* SimulEval's columns: its quality metric (BLEU), then its default latency metrics in its order,
 * each followed by its *_CA twin when computation-aware. */
enum { SCORE_METRICS = 5 };
static const char *const latency_names[SCORE_METRICS] = {"LAAL", "AL", "AP", "DAL", "ATD"};

/* The columns of a file with or without the *_CA ones: names and where the values live. */
static int score_columns(EvalScores *s, int has_ca, const char *names[], double *slots[]) {
    double *plain[SCORE_METRICS] = {&s->LAAL, &s->AL, &s->AP, &s->DAL, &s->ATD};
    double *ca[SCORE_METRICS] = {&s->LAAL_CA, &s->AL_CA, &s->AP_CA, &s->DAL_CA, &s->ATD_CA};
    static const char *const ca_names[SCORE_METRICS] = {"LAAL_CA", "AL_CA", "AP_CA", "DAL_CA", "ATD_CA"};
    int n = 0;
    names[n] = "BLEU";
    slots[n++] = &s->bleu.score;
    for (int k = 0; k < SCORE_METRICS; k++) {
        names[n] = latency_names[k];
        slots[n++] = plain[k];
        if (!has_ca) continue;
        names[n] = ca_names[k];
        slots[n++] = ca[k];
    }
    return n;
}

/* A score as SimulEval writes it: Python's round(x, 3), then the shortest text that reads back
 * as that float (pandas' to_csv), which always has a decimal point ("3.0"); NaN as pandas'
 * empty field. printf's "%.3f" rounds the exact binary value half-even, as round() does. */
static void format_score(char *buf, size_t size, double x) {
    if (isnan(x)) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, size, "%.3f", x);
    char *dot = strchr(buf, '.'), *end = buf + strlen(buf);
    if (!dot) return; /* inf */
    while (end > dot + 2 && end[-1] == '0') *--end = '\0';
}

static int scores_body(FILE *fp, void *ctx) {
    EvalScores s = *(const EvalScores *)ctx;
    const char *names[1 + 2 * SCORE_METRICS];
    double *slots[1 + 2 * SCORE_METRICS];
    int n = score_columns(&s, s.has_ca, names, slots);
    for (int k = 0; k < n; k++) fprintf(fp, "%s%s", names[k], k + 1 < n ? "\t" : "\n");
    char buf[64];
    for (int k = 0; k < n; k++) {
        format_score(buf, sizeof buf, *slots[k]);
        fprintf(fp, "%s%s", buf, k + 1 < n ? "\t" : "\n");
    }
    return ferror(fp) ? -1 : 0;
}

int scores_tsv_write(const char *path, const EvalScores *s) { return atomic_write(path, scores_body, (void *)s); }

/* A value as format_score writes it, or "" (NaN) where empty_ok. */
static int tsv_number(const char *path, const char *column, const char *field, int empty_ok, double *out) {
    if (empty_ok && !*field) {
        *out = NAN;
        return 0;
    }
    char *end;
    *out = strtod(field, &end);
    if (*field && strspn(field, "-0123456789.") == strlen(field) && !*end && isfinite(*out)) return 0;
    return px_error("%s:2: column '%s' is not a number%s: '%.40s'", path, column, empty_ok ? " or empty" : "", field);
}

/* The header line of a layout, without its newline. */
static void header_of(int has_ca, char *buf, size_t size) {
    EvalScores dummy;
    const char *names[1 + 2 * SCORE_METRICS];
    double *slots[1 + 2 * SCORE_METRICS];
    int n = score_columns(&dummy, has_ca, names, slots);
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? "\t" : "", names[k]);
}

int scores_tsv_read(const char *path, EvalScores *s) {
    memset(s, 0, sizeof *s);
    char **lines, header[2][192], *fields[1 + 2 * SCORE_METRICS];
    int n_lines, rc = 0, has_ca = -1;
    if (lines_read(path, &lines, &n_lines)) return -1;
    header_of(0, header[0], sizeof header[0]);
    header_of(1, header[1], sizeof header[1]);
    if (n_lines == 0) rc = px_error("%s: empty, expected a header line and a line of scores", path);
    else if (strcmp(lines[0], header[0]) == 0) has_ca = 0;
    else if (strcmp(lines[0], header[1]) == 0) has_ca = 1;
    else rc = px_error("%s:1: header is '%.80s', expected '%s' (or with the *_CA columns)", path, lines[0], header[0]);
    if (rc == 0 && n_lines < 2) rc = px_error("%s: no line of scores after the header", path);
    if (rc == 0 && n_lines > 2) rc = px_error("%s:3: a line after the scores: '%.40s'", path, lines[2]);
    const char *names[1 + 2 * SCORE_METRICS];
    double *slots[1 + 2 * SCORE_METRICS];
    int nc = rc == 0 ? score_columns(s, has_ca, names, slots) : 0, nf = 0;
    for (char *p = rc == 0 ? lines[1] : NULL; p; nf++) { /* split at the tabs, in place */
        char *tab = strchr(p, '\t');
        if (tab) *tab++ = '\0';
        if (nf < 1 + 2 * SCORE_METRICS) fields[nf] = p;
        p = tab;
    }
    if (rc == 0 && nf != nc) rc = px_error("%s:2: %d values, expected %d (one per column of the header)", path, nf, nc);
    /* BLEU always has a value; a latency is empty (NaN) when no sentence wrote anything */
    for (int k = 0; k < nc && rc == 0; k++) rc = tsv_number(path, names[k], fields[k], k >= 1, slots[k]);
    s->has_ca = has_ca == 1;
    free(lines);
    if (rc) memset(s, 0, sizeof *s);
    return rc;
}

/* ---- config.yaml ------------------------------------------------------------------------------ */

static int config_body(FILE *fp, void *ctx) {
    (void)ctx;
    /* what yaml.dump(..., default_flow_style=False) writes for SimulEval's two keys, sorted */
    fputs("source_type: text\ntarget_type: text\n", fp);
    return ferror(fp) ? -1 : 0;
}

int simuleval_config_write(const char *path) { return atomic_write(path, config_body, NULL); }

/* ---- text files, one segment per line ------------------------------------------------------------ */

int lines_read(const char *path, char ***lines, int *n) {
    *lines = NULL;
    *n = 0;
    char *data;
    size_t len;
    if (file_read_all(path, &data, &len)) return -1;
    size_t count = 0;
    for (size_t i = 0; i < len; i++) count += data[i] == '\n';
    if (len > 0 && data[len - 1] != '\n') count++; /* the last line without its newline */
    if (count > INT_MAX) {
        free(data);
        return px_error("%s: too many lines", path);
    }
    /* one block: the pointers, then the text (each line NUL-terminated in place of its '\n') */
    char **block = malloc(sizeof(char *) * count + len + 1);
    if (!block) {
        free(data);
        return px_error("%s: out of memory", path);
    }
    char *text = (char *)(block + count);
    memcpy(text, data, len);
    text[len] = '\0';
    free(data);
    size_t pos = 0;
    for (size_t i = 0; i < count; i++) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t bad;
        if (memchr(text + pos, '\0', end - pos)) {
            free(block);
            return px_error("%s:%zu: holds a NUL byte", path, i + 1);
        }
        if (!utf8_valid(text + pos, end - pos, &bad)) {
            free(block);
            return px_error("%s:%zu: invalid UTF-8 at byte %zu of the line", path, i + 1, bad + 1);
        }
        text[end] = '\0';
        if (end > pos && text[end - 1] == '\r') text[end - 1] = '\0';
        block[i] = text + pos;
        pos = end + 1;
    }
    *lines = block;
    *n = (int)count;
    return 0;
}
