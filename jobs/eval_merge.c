/* eval_merge.c — `proact eval --merge`: finished evaluations (say one Slurm array task per head)
 * combined into the directory one evaluation of all their heads would have written.
 * Recipe: read each part's curve.csv back (checking every field, and that all parts scored the
 * same sentences alike) -> check that each head's files can be read -> copy them into OUT ->
 * write the files across heads with eval's own writers -> print the table.
 * It only reads and writes files, so it never starts MPI. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/files.h"
#include "io/instances.h"
#include "jobs/eval.h"
#include "jobs/jobs.h"
#include "src/base/common.h"

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
                                          [COL_AL_CA] = &s->AL_CA,
                                          [COL_LAAL_CA] = &s->LAAL_CA,
                                          [COL_AP_CA] = &s->AP_CA,
                                          [COL_DAL_CA] = &s->DAL_CA,
                                          [COL_MS_PER_WORD] = &hr->ms_per_word};
    for (int c = COL_BLEU; c <= COL_MS_PER_WORD; c++) {
        int optional = c >= COL_AL_CA; /* the *_CA latencies and ms_per_word may be "-" */
        if (csv_number(where, names[c], f[c], optional, value[c])) return -1;
        if (c >= COL_AL_CA && c <= COL_DAL_CA) s->has_ca |= strcmp(f[c], "-") != 0;
    }
    int *const count[] = {&s->n, &s->n_no_output};
    for (int c = COL_N; c <= COL_N_NO_OUTPUT; c++) {
        long v;
        snprintf(name, sizeof name, "%s: column '%s'", where, names[c]);
        if (parse_long_opt(name, f[c], c == COL_N ? 1 : 0, c == COL_N ? INT_MAX : s->n, &v)) return -1;
        *count[c - COL_N] = (int)v;
    }
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

/* Whether two paths name the same directory (then its files are already in place). */
static int same_dir(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Copies PART/<dir>/{instances.log,scores.tsv} into OUT/<dir>/. With copy = 0 it only checks that
 * they can be read, so that a missing one stops the merge before it writes anything. */
static int merge_head_files(const char *part, const char *out_dir, const char *dir, int copy) {
    static const char *const files[] = {"instances.log", "scores.tsv"};
    char src[PX_PATH_MAX + 160], dst[PX_PATH_MAX + 160];
    snprintf(dst, sizeof dst, "%s/%s", out_dir, dir);
    if (copy && file_mkdirs(dst)) return -1;
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        snprintf(src, sizeof src, "%s/%s/%s", part, dir, files[k]);
        snprintf(dst, sizeof dst, "%s/%s/%s", out_dir, dir, files[k]);
        if (!copy && access(src, R_OK)) return px_error("%s: cannot read: %s", src, strerror(errno));
        if (copy && file_copy(src, dst)) return -1;
    }
    return 0;
}

/* proact eval --merge: the parts' heads, in order, written to out_dir as one evaluation of them
 * all would have written them. model_dir (may be NULL) only names the model in the plot. */
int merge_evals(const char *out_dir, const char *model_dir, char *const *parts, int n_parts) {
    HeadResult *hr = NULL;
    RowOrigin *from = NULL;
    int n = 0, rc = 0;
    for (int p = 0; p < n_parts && rc == 0; p++) rc = read_curve(parts[p], &hr, &from, &n);
    for (int h = 0; h < n && rc == 0; h++) rc = merge_head_files(from[h].part, out_dir, hr[h].dir, 0);
    if (rc == 0) rc = file_mkdirs(out_dir);
    for (int h = 0; h < n && rc == 0; h++)
        if (!same_dir(from[h].part, out_dir)) rc = merge_head_files(from[h].part, out_dir, hr[h].dir, 1);
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
