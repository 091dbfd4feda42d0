/* eval_merge.c — `proact eval --merge`: finished evaluations (say one Slurm array task per head)
 * combined into the directory one evaluation of all their heads would have written.
 * Recipe: refuse an OUT that is one of the parts -> read each part's curve.csv back (checking every
 * field, and that all parts scored the same sentences alike) -> per head, read its instances.log
 * and scores.tsv, score the instances again with eval's own scoring and require both files to say
 * the same -> only then write: copy each head's files into OUT, write the files across heads from
 * the scores of the instances with eval's own writers -> print the table.
 * It only reads and writes files, so it never starts MPI. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "io/instances.h"
#include "jobs/eval.h"
#include "jobs/jobs.h"
#include "src/base/common.h"
#include "src/metrics/scoring.h"

/* Where a merged row came from: to copy its head's files and to name it in errors. */
typedef struct {
    const char *part; /* the PART_DIR */
    int line;         /* its line in PART/curve.csv */
} RowOrigin;

/* Splits a curve.csv line at its commas, in place. Stores at most max fields; returns how many
 * there are. */
static int split_csv(char *line, char **fields, int max) {
    int n = 0;
    for (char *p = line; p; n++) {
        char *comma = strchr(p, ',');
        if (comma) *comma++ = '\0';
        if (n < max) fields[n] = p;
        p = comma;
    }
    return n;
}

/* A number as write_curve_csv wrote it ("%.6f", which gives "nan" for a latency without output).
 * With absent_ok, "-" (fmt_value's "not there") reads as NAN. */
static int csv_number(const char *where, const char *column, const char *field, int absent_ok, double *out) {
    char *end;
    if (absent_ok && strcmp(field, "-") == 0) {
        *out = NAN;
        return 0;
    }
    *out = strtod(field, &end);
    return end > field && !*end ? 0 : px_error("%s: column '%s' is not a number: '%s'", where, column, field);
}

/* One row of curve.csv into hr; names are the header's columns, where is "PART/curve.csv:LINE". */
static int parse_curve_row(char *line, char *const *names, const char *where, HeadResult *hr) {
    char *f[CURVE_COLUMNS], name[PX_PATH_MAX + 80];
    int nf = split_csv(line, f, CURVE_COLUMNS);
    if (nf != CURVE_COLUMNS) return px_error("%s: %d fields, expected %d (%s)", where, nf, CURVE_COLUMNS, curve_header);
    memset(hr, 0, sizeof *hr);
    EvalScores *s = &hr->scores;
    snprintf(name, sizeof name, "%s: column 'head'", where);
    if (head_parse(f[COL_HEAD], &hr->head)) return error_at(name);
    if (strcmp(f[COL_KIND], kind_name(hr->head.kind)))
        return px_error("%s: column 'kind' is '%s', but head '%s' is of kind '%s'", where, f[COL_KIND], hr->head.spec,
                        kind_name(hr->head.kind));
    /* the directory follows from the spec; checking it also keeps the copies inside PART and OUT */
    head_dir_name(hr->head.spec, hr->dir, sizeof hr->dir);
    if (strcmp(f[COL_DIR], hr->dir))
        return px_error("%s: column 'dir' is '%s', but eval writes head '%s' to '%s'", where, f[COL_DIR], hr->head.spec,
                        hr->dir);
    double *const value[CURVE_COLUMNS] = {[COL_BLEU] = &s->bleu.score,
                                          [COL_CHRF] = &s->chrf,
                                          [COL_AL] = &s->AL,
                                          [COL_LAAL] = &s->LAAL,
                                          [COL_AP] = &s->AP,
                                          [COL_DAL] = &s->DAL,
                                          [COL_ATD] = &s->ATD,
                                          [COL_AL_CA] = &s->AL_CA,
                                          [COL_LAAL_CA] = &s->LAAL_CA,
                                          [COL_AP_CA] = &s->AP_CA,
                                          [COL_DAL_CA] = &s->DAL_CA,
                                          [COL_ATD_CA] = &s->ATD_CA,
                                          [COL_MS_PER_WORD] = &hr->ms_per_word};
    for (int c = COL_BLEU; c <= COL_MS_PER_WORD; c++) {
        int optional = c >= COL_AL_CA; /* the *_CA latencies and ms_per_word may be "-" */
        if (csv_number(where, names[c], f[c], optional, value[c])) return -1;
        if (c >= COL_AL_CA && c <= COL_ATD_CA) s->has_ca |= strcmp(f[c], "-") != 0;
    }
    int *const count[] = {&s->n, &s->n_no_output};
    for (int c = COL_N; c <= COL_N_NO_OUTPUT; c++) {
        long v;
        snprintf(name, sizeof name, "%s: column '%s'", where, names[c]);
        if (parse_long_opt(name, f[c], c == COL_N ? 1 : 0, c == COL_N ? INT_MAX : s->n, &v)) return -1;
        *count[c - COL_N] = (int)v;
    }
    snprintf(name, sizeof name, "%s: column 'latency_unit'", where);
    if (latency_unit_parse(f[COL_LATENCY_UNIT], &hr->unit)) return error_at(name);
    const char *sig = f[COL_SIGNATURE];
    if (!*sig || strlen(sig) >= sizeof s->signature)
        return px_error("%s: column 'signature' is empty or too long: '%.60s'", where, sig);
    snprintf(s->signature, sizeof s->signature, "%s", sig);
    return 0;
}

/* A row joins the merge if its head is new and it was scored like the first row: on the same
 * sentences (a merged curve compares the heads) and with the same BLEU signature (the footer
 * states one). */
static int check_merged_row(const HeadResult *hr, const RowOrigin *from, int n, const HeadResult *r,
                            const char *where) {
    for (int k = 0; k < n; k++)
        if (strcmp(hr[k].dir, r->dir) == 0)
            return px_error("%s: head '%s' comes twice: also in %s/curve.csv:%d", where, r->head.spec, from[k].part,
                            from[k].line);
    if (n && r->scores.n != hr[0].scores.n)
        return px_error("%s: head '%s' scored %d sentences, but %s/curve.csv:%d scored %d: the parts must evaluate "
                        "the same sentences (--data, --limit)",
                        where, r->head.spec, r->scores.n, from[0].part, from[0].line, hr[0].scores.n);
    if (n && strcmp(r->scores.signature, hr[0].scores.signature))
        return px_error("%s: BLEU signature %s, but %s/curve.csv:%d has %s: the parts must score alike (--tokenize, "
                        "--lowercase)",
                        where, r->scores.signature, from[0].part, from[0].line, hr[0].scores.signature);
    return 0;
}

/* Appends the rows of PART/curve.csv to *hr and *from, which hold *n rows so far. */
static int read_curve(const char *part, HeadResult **hr, RowOrigin **from, int *n) {
    char path[PX_PATH_MAX + 32], where[PX_PATH_MAX + 48], **lines, *names[CURVE_COLUMNS];
    int n_lines, rc;
    snprintf(path, sizeof path, "%s/curve.csv", part);
    if (lines_read(path, &lines, &n_lines)) return -1;
    if (n_lines == 0 || strcmp(lines[0], curve_header))
        rc = px_error("%s:1: not a proact eval curve (header '%.80s', expected '%s')", path, n_lines ? lines[0] : "",
                      curve_header);
    else rc = n_lines > 1 ? 0 : px_error("%s: no heads", path);
    if (rc == 0) {
        split_csv(lines[0], names, CURVE_COLUMNS);
        HeadResult *more = realloc(*hr, (size_t)(*n + n_lines - 1) * sizeof *more);
        if (more) *hr = more;
        RowOrigin *more_from = realloc(*from, (size_t)(*n + n_lines - 1) * sizeof *more_from);
        if (more_from) *from = more_from;
        if (!more || !more_from) rc = px_error("%s: out of memory", path);
    }
    for (int l = 1; l < n_lines && rc == 0; l++) {
        snprintf(where, sizeof where, "%s:%d", path, l + 1);
        rc = parse_curve_row(lines[l], names, where, &(*hr)[*n]);
        if (rc == 0) rc = check_merged_row(*hr, *from, *n, &(*hr)[*n], where);
        if (rc == 0) (*from)[(*n)++] = (RowOrigin){part, l + 1};
    }
    free(lines);
    return rc;
}

/* The options a head was scored with: the BLEU tokenizer and case that bleu_signature turns into
 * its signature, its latency unit, and the *_CA latencies when its scores.tsv has them (eval
 * writes elapsed in source words, read as they are). */
static int score_options_of(const HeadResult *r, int has_ca, const char *where, ScoreOptions *o) {
    const char *signature = r->scores.signature;
    score_options_default(o);
    o->unit = r->unit;
    o->computation_aware = has_ca;
    char sig[sizeof((EvalScores *)0)->signature];
    for (int tok = BLEU_TOK_13A; tok <= BLEU_TOK_ZH; tok++)
        for (int lc = 0; lc <= 1; lc++) {
            bleu_signature((BleuTokenizer)tok, lc, sig, sizeof sig);
            if (strcmp(sig, signature) == 0) {
                o->tok = (BleuTokenizer)tok;
                o->lowercase = lc;
                return 0;
            }
        }
    return px_error("%s: column 'signature' is not a BLEU signature proact writes: '%s'", where, signature);
}

/* The sentences every head must have scored: the first head's instances. */
typedef struct {
    Instance *v;
    int n;
    char path[PX_PATH_MAX + 160]; /* its instances.log */
} Sentences;

static void sentences_free(Sentences *s) {
    for (int i = 0; s->v && i < s->n; i++) instance_free(&s->v[i]);
    free(s->v);
    s->v = NULL;
}

/* Whether v[0..n) are the first head's sentences, in its order (index, source, reference): 0, or
 * -1 naming the first field that differs. */
static int check_same_sentences(const Sentences *first, const Instance *v, int n, const char *path) {
    for (int i = 0; i < n && i < first->n; i++) {
        const Instance *a = &v[i], *b = &first->v[i];
        const char *field = a->index != b->index                   ? "index"
                            : strcmp(a->source, b->source)         ? "source"
                            : a->source_length != b->source_length ? "source_length"
                            : strcmp(a->reference, b->reference)   ? "reference"
                                                                   : NULL;
        if (field)
            return px_error("%s: sentence %d: field '%s' differs from %s's: the parts must evaluate the same "
                            "sentences (--data, --limit)",
                            path, i + 1, field, first->path);
    }
    return 0;
}

/* The scores the files keep: curve.csv all of them (6 decimals), scores.tsv all but chrF (3). */
enum { SCORE_ALL = 12, SCORE_PLAIN = 7 };
static const char *const score_names[SCORE_ALL] = {"BLEU", "chrF",  "AL",      "LAAL",  "AP",     "DAL",
                                                   "ATD",  "AL_CA", "LAAL_CA", "AP_CA", "DAL_CA", "ATD_CA"};
static void score_values(const EvalScores *s, double v[SCORE_ALL]) {
    const double all[SCORE_ALL] = {s->bleu.score, s->chrf,  s->AL,      s->LAAL,  s->AP,     s->DAL,
                                   s->ATD,        s->AL_CA, s->LAAL_CA, s->AP_CA, s->DAL_CA, s->ATD_CA};
    for (int k = 0; k < SCORE_ALL; k++) v[k] = k < SCORE_PLAIN || s->has_ca ? all[k] : NAN;
}

/* Equal to the decimals a file keeps; NaN (no latency) only equals NaN. */
static int agree(double a, double b, int decimals) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= 0.5 * pow(10, -decimals) + 1e-12 * (1 + fabs(b));
}

/* The curve.csv row (claim, at row) and scores.tsv (file, at tsv) against the scores of the
 * instances (re, of log). */
static int check_scores(const HeadResult *claim, const char *row, const EvalScores *file, const char *tsv,
                        const EvalScores *re, const char *log) {
    double c[SCORE_ALL], f[SCORE_ALL], r[SCORE_ALL];
    score_values(&claim->scores, c);
    score_values(file, f);
    score_values(re, r);
    if (claim->scores.has_ca != file->has_ca)
        return px_error("%s:1: %s *_CA columns, but %s %s *_CA latencies", tsv, file->has_ca ? "has" : "no", row,
                        claim->scores.has_ca ? "has" : "has no");
    for (int k = 0; k < SCORE_ALL; k++) {
        if (k != 1 && !agree(f[k], r[k], 3))
            return px_error("%s:2: column '%s' is %.3f, but the sentences of %s score %.6f", tsv, score_names[k], f[k],
                            log, r[k]);
        if (!agree(c[k], r[k], 6))
            return px_error("%s: column '%s' is %.6f, but the sentences of %s score %.6f", row, score_names[k], c[k],
                            log, r[k]);
    }
    if (claim->scores.n_no_output != re->n_no_output)
        return px_error("%s: column 'n_no_output' is %d, but %s has %d sentences without output", row,
                        claim->scores.n_no_output, log, re->n_no_output);
    if (file->has_ca && !re->has_ca)
        return px_error("%s: a sentence with output has no 'elapsed' times, but %s has *_CA latencies", log, tsv);
    return 0;
}

/* Reads and checks one head's instances.log and scores.tsv against its curve.csv row, and puts
 * into *r the scores of its instances. The first head's instances are kept in *first. */
static int check_head(const char *part, int line, HeadResult *r, Sentences *first) {
    char row[PX_PATH_MAX + 48], log[PX_PATH_MAX + 160], tsv[PX_PATH_MAX + 160];
    snprintf(row, sizeof row, "%s/curve.csv:%d", part, line);
    snprintf(log, sizeof log, "%s/%s/instances.log", part, r->dir);
    snprintf(tsv, sizeof tsv, "%s/%s/scores.tsv", part, r->dir);
    ScoreOptions so;
    EvalScores file, re;
    Instance *v = NULL;
    int n = 0;
    if (scores_tsv_read(tsv, &file) || score_options_of(r, file.has_ca, row, &so) || instances_read(log, &v, &n))
        return -1;
    int rc = 0;
    if (n != r->scores.n) rc = px_error("%s: %d sentences, but %s has n = %d", log, n, row, r->scores.n);
    if (rc == 0 && first->v) rc = check_same_sentences(first, v, n, log);
    if (rc == 0 && eval_scores(v, n, &so, &re)) rc = error_at(log);
    if (rc == 0) rc = check_scores(r, row, &file, tsv, &re, log);
    if (rc == 0) r->scores = re; /* the summary's numbers: the instances' */
    if (rc == 0 && !first->v) {
        *first = (Sentences){v, n, ""};
        snprintf(first->path, sizeof first->path, "%s", log);
        return 0;
    }
    Sentences mine = {v, n, ""};
    sentences_free(&mine);
    return rc;
}

/* Copies PART/<dir>/{instances.log,scores.tsv}, checked before, into OUT/<dir>/, with SimulEval's
 * config.yaml beside them (written anew: a part from an older proact has none). */
static int copy_head_files(const char *part, const char *out_dir, const char *dir) {
    static const char *const files[] = {"instances.log", "scores.tsv"};
    char src[PX_PATH_MAX + 160], dst[PX_PATH_MAX + 160];
    snprintf(dst, sizeof dst, "%s/%s", out_dir, dir);
    if (file_mkdirs(dst)) return -1;
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        snprintf(src, sizeof src, "%s/%s/%s", part, dir, files[k]);
        snprintf(dst, sizeof dst, "%s/%s/%s", out_dir, dir, files[k]);
        if (file_copy(src, dst)) return -1;
    }
    snprintf(dst, sizeof dst, "%s/%s/config.yaml", out_dir, dir);
    return simuleval_config_write(dst);
}

/* proact eval --merge: the parts' heads, in order, written to out_dir as one evaluation of them
 * all would have written them. model_dir (may be NULL) only names the model in the plot. Nothing
 * is written before every part has been read and checked. */
int merge_evals(const char *out_dir, const char *model_dir, char *const *parts, int n_parts) {
    HeadResult *hr = NULL;
    RowOrigin *from = NULL;
    Sentences first = {0};
    int n = 0, rc = 0;
    /* OUT/curve.csv would replace the part's own: the part would lose its record of its heads */
    for (int p = 0; p < n_parts && rc == 0; p++)
        if (file_same(out_dir, parts[p]))
            rc = px_error("%s: the output directory is the part %s: --merge does not write over its inputs, give a "
                          "new -o",
                          out_dir, parts[p]);
    for (int p = 0; p < n_parts && rc == 0; p++) rc = read_curve(parts[p], &hr, &from, &n);
    for (int h = 0; h < n && rc == 0; h++) rc = check_head(from[h].part, from[h].line, &hr[h], &first);
    sentences_free(&first);
    if (rc == 0) rc = file_mkdirs(out_dir);
    for (int h = 0; h < n && rc == 0; h++) rc = copy_head_files(from[h].part, out_dir, hr[h].dir);
    if (rc == 0) rc = write_summary(out_dir, hr, n, model_dir);
    if (rc == 0) {
        fprintf(stderr, "proact eval: merged %d head%s of %d evaluation%s -> %s\n", n, n == 1 ? "" : "s", n_parts,
                n_parts == 1 ? "" : "s", out_dir);
        print_results(out_dir, hr, n, NAN);
    }
    free(hr);
    free(from);
    return rc;
}
