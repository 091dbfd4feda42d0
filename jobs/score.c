/* score.c — `proact score`: quality (BLEU, chrF/chrF++, TER, as sacreBLEU 2.6) of a translation file
 * against one or several reference files, or quality and latency (AL, LAAL, AP, DAL, as SimulEval)
 * of an instances.log.
 * Recipe: parse options -> read the files -> score (src/metrics/bleu.h, chrf.h, ter.h,
 * src/metrics/scoring.h) -> print proact's table, proact's JSON object, or sacreBLEU's own JSON or
 * text output byte for byte (--format json|text; docs/ecosystem.md). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/instances.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/metrics/bleu.h"
#include "src/metrics/chrf.h"
#include "src/metrics/scoring.h"
#include "src/metrics/ter.h"

/* sacreBLEU's chrF signature for the defaults --instances computes (chrF2: 6 char orders, no words). */
#define CHRF_SIGNATURE "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"

#define MAX_REFS 64

enum { M_BLEU = 1, M_CHRF = 2, M_TER = 4 };
typedef enum { FMT_TABLE, FMT_JSON, FMT_TEXT } Format;

/* What --hyp/--ref scoring computes and how it prints it. */
typedef struct {
    unsigned metrics; /* M_* */
    BleuTokenizer tok;
    const char *tok_name;
    int lowercase, chrf_word_order, chrf_lowercase, ter_case_sensitive;
    Format format; /* --format */
    int width;     /* --width: decimals of the sacreBLEU outputs' scores */
    int as_json;   /* --json: proact's own object */
} TextOptions;

/* The scores of one --hyp/--ref run. */
typedef struct {
    BleuResult bleu;
    double chrf;
    TerResult ter;
    int n, nrefs;
    char bleu_sig[160], chrf_name[16], chrf_sig[160], ter_sig[160];
} TextScores;

/* jansson has no NaN: an undefined value is null. */
static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *int_array(const int64_t *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static void bleu_json(json_t *o, const BleuResult *b, const char *signature) {
    json_object_set_new(o, "BLEU", json_real(b->score));
    json_object_set_new(o, "signature", json_string(signature));
    json_object_set_new(o, "counts", int_array(b->counts, 4));
    json_object_set_new(o, "totals", int_array(b->totals, 4));
    json_t *prec = json_array();
    for (int k = 0; k < 4; k++) json_array_append_new(prec, json_real(b->precisions[k]));
    json_object_set_new(o, "precisions", prec);
    json_object_set_new(o, "sys_len", json_integer((json_int_t)b->sys_len));
    json_object_set_new(o, "ref_len", json_integer((json_int_t)b->ref_len));
    json_object_set_new(o, "bp", json_real(b->bp));
    json_object_set_new(o, "ratio", num(b->ref_len ? (double)b->sys_len / (double)b->ref_len : NAN));
}

static void common_json(json_t *o, int n, const char *tok, int lowercase) {
    json_object_set_new(o, "n", json_integer(n));
    json_object_set_new(o, "tokenize", json_string(tok));
    json_object_set_new(o, "lowercase", json_boolean(lowercase));
}

static int print_json(json_t *o) {
    char *s = json_dumps(o, JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s) return job_fail("cannot format the JSON output");
    puts(s);
    free(s);
    return 0;
}

/* "BLEU   23.41  (54.3/29.1/17.6/10.9, BP 0.983, ratio 0.983, hyp 1520 ref 1546)" */
static void print_bleu_line(const BleuResult *b) {
    double ratio = b->ref_len ? (double)b->sys_len / (double)b->ref_len : 0;
    printf("BLEU   %6.2f  (%.1f/%.1f/%.1f/%.1f, BP %.3f, ratio %.3f, hyp %lld ref %lld)\n", b->score, b->precisions[0],
           b->precisions[1], b->precisions[2], b->precisions[3], b->bp, ratio, (long long)b->sys_len,
           (long long)b->ref_len);
}

static void print_quality(const BleuResult *b, double chrf) {
    print_bleu_line(b);
    printf("chrF2  %6.2f\n", chrf);
}

/* ---- sacreBLEU's outputs ---- */

/* Python's repr of a float: the shortest digits that read back as x, fixed notation for
 * 1e-4 <= |x| < 1e16 (with at least one decimal: "15.0"), else d.ddde-05 style. */
static void py_float_repr(double x, char *out, size_t size) {
    if (x == 0.0) {
        snprintf(out, size, "%s", signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    const char *q = e;
    int neg = *q == '-';
    q += neg;
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    digits[nd] = '\0';
    int exp10 = atoi(q + 1);
    size_t k = 0;
#define PUT(c) (k + 1 < size ? (void)(out[k++] = (char)(c)) : (void)0)
    if (neg) PUT('-');
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            PUT('0'), PUT('.');
            for (int i = 0; i < -exp10 - 1; i++) PUT('0');
            for (int i = 0; i < nd; i++) PUT(digits[i]);
        } else {
            for (int i = 0; i <= exp10; i++) PUT(i < nd ? digits[i] : '0');
            PUT('.');
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++) PUT(digits[i]);
            else PUT('0');
        }
        out[k] = '\0';
    } else {
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (int i = 1; i < nd; i++) PUT(digits[i]);
        }
        out[k] = '\0';
        snprintf(out + k, size - k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
#undef PUT
}

/* One metric's result as sacreBLEU's Score.format lays it out. */
typedef struct {
    const char *name, *signature;
    double score;
    char verbose[200]; /* "" when the metric has none (chrF, TER) */
} SacreScore;

/* sacreBLEU's BLEU verbose part: "47.3/21.0/10.3/5.3 (BP = 0.986 ratio = 0.986 hyp_len = 5059 ref_len = 5131)". */
static void bleu_verbose(const BleuResult *b, char *buf, size_t size) {
    double ratio = b->ref_len ? (double)b->sys_len / (double)b->ref_len : 0;
    snprintf(buf, size, "%.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)", b->precisions[0],
             b->precisions[1], b->precisions[2], b->precisions[3], b->bp, ratio, (long long)b->sys_len,
             (long long)b->ref_len);
}

/* Prints s as a JSON string (jansson's escaping; for these ASCII strings, Python's json.dumps'). */
static int print_json_string(const char *s) {
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!t) return job_fail("cannot format the JSON output");
    fputs(t, stdout);
    free(t);
    return 0;
}

/* sacreBLEU's Score.format(width, signature=sig, is_json=True): json.dumps(indent=1) of name, the
 * score rounded to width decimals (as a float), signature, verbose_score when there is one, then
 * each key:value of the signature as strings. */
static int print_sacre_json(const SacreScore *m, int width) {
    char rounded[64], repr[64];
    snprintf(rounded, sizeof rounded, "%.*f", width, m->score);
    py_float_repr(strtod(rounded, NULL), repr, sizeof repr);
    fputs("{\n \"name\": ", stdout);
    if (print_json_string(m->name)) return -1;
    printf(",\n \"score\": %s,\n \"signature\": ", repr);
    if (print_json_string(m->signature)) return -1;
    if (m->verbose[0]) {
        fputs(",\n \"verbose_score\": ", stdout);
        if (print_json_string(m->verbose)) return -1;
    }
    const char *p = m->signature;
    while (*p) {
        const char *bar = strchr(p, '|'), *end = bar ? bar : p + strlen(p), *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon) return job_fail("internal: a signature item without ':'");
        char key[64], val[64];
        snprintf(key, sizeof key, "%.*s", (int)(colon - p), p);
        snprintf(val, sizeof val, "%.*s", (int)(end - colon - 1), colon + 1);
        fputs(",\n ", stdout);
        if (print_json_string(key)) return -1;
        fputs(": ", stdout);
        if (print_json_string(val)) return -1;
        p = bar ? bar + 1 : end;
    }
    fputs("\n}", stdout);
    return 0;
}

/* sacreBLEU's single-system output: one JSON object, or a list of them ("[\n" a ",\n" b "\n]");
 * as text, "name|signature = score verbose" lines right-aligned at their " = ". */
static int print_sacre(const SacreScore *m, int n, Format format, int width) {
    if (format == FMT_JSON) {
        if (n > 1) fputs("[\n", stdout);
        for (int i = 0; i < n; i++) {
            if (i) fputs(",\n", stdout);
            if (print_sacre_json(&m[i], width)) return 1;
        }
        fputs(n > 1 ? "\n]\n" : "\n", stdout);
        return 0;
    }
    int left[3], w = 0;
    for (int i = 0; i < n; i++) {
        left[i] = (int)(strlen(m[i].name) + 1 + strlen(m[i].signature));
        if (left[i] > w) w = left[i];
    }
    for (int i = 0; i < n; i++)
        printf("%*s%s|%s = %.*f%s%s\n", w - left[i], "", m[i].name, m[i].signature, width, m[i].score,
               m[i].verbose[0] ? " " : "", m[i].verbose);
    return 0;
}

/* ---- --hyp/--ref ---- */

/* Reads the hypotheses and every reference file (each as many lines as the hypotheses). */
static int read_texts(const char *hyp_path, const OptList *ref_paths, char ***hyps, char ***refs, int *n) {
    int nh = 0;
    if (lines_read(hyp_path, hyps, &nh)) return job_fail(px_error_message());
    char msg[PX_PATH_MAX + 96];
    if (nh == 0) {
        snprintf(msg, sizeof msg, "%s: empty file (no segments to score)", hyp_path);
        return job_fail(msg);
    }
    for (int k = 0; k < ref_paths->n; k++) {
        int nr = 0;
        if (lines_read(ref_paths->items[k], &refs[k], &nr)) return job_fail(px_error_message());
        if (nr == 0) {
            snprintf(msg, sizeof msg, "%s: empty file (no segments to score)", ref_paths->items[k]);
            return job_fail(msg);
        }
        if (nr != nh) {
            if (ref_paths->n == 1) snprintf(msg, sizeof msg, "--hyp has %d lines but --ref has %d", nh, nr);
            else snprintf(msg, sizeof msg, "--hyp has %d lines but --ref %s has %d", nh, ref_paths->items[k], nr);
            return job_fail(msg);
        }
    }
    *n = nh;
    return 0;
}

static int compute_text(char **hyps, char **refs[], int nrefs, int n, const TextOptions *t, TextScores *s) {
    const char *const *h = (const char *const *)hyps;
    const char *const *const *r = (const char *const *const *)refs;
    memset(s, 0, sizeof *s);
    s->n = n;
    s->nrefs = nrefs;
    if ((t->metrics & M_BLEU) && corpus_bleu_refs(h, r, nrefs, n, t->tok, t->lowercase, &s->bleu)) return -1;
    if ((t->metrics & M_CHRF) && corpus_chrf_refs(h, r, nrefs, n, t->chrf_word_order, t->chrf_lowercase, &s->chrf))
        return -1;
    if ((t->metrics & M_TER) && corpus_ter(h, r, nrefs, n, t->ter_case_sensitive, &s->ter)) return -1;
    bleu_signature_refs(nrefs, t->tok, t->lowercase, s->bleu_sig, sizeof s->bleu_sig);
    chrf_name(t->chrf_word_order, s->chrf_name, sizeof s->chrf_name);
    chrf_signature(nrefs, t->chrf_word_order, t->chrf_lowercase, s->chrf_sig, sizeof s->chrf_sig);
    ter_signature(nrefs, t->ter_case_sensitive, s->ter_sig, sizeof s->ter_sig);
    return 0;
}

/* proact's JSON object: BLEU with its counts, chrF, TER, each when computed. */
static int print_text_json(const TextScores *s, const TextOptions *t) {
    json_t *o = json_object();
    if (t->metrics & M_BLEU) bleu_json(o, &s->bleu, s->bleu_sig);
    if (t->metrics & M_CHRF) {
        json_object_set_new(o, "chrF", json_real(s->chrf));
        json_object_set_new(o, "chrF_name", json_string(s->chrf_name));
        json_object_set_new(o, "chrF_signature", json_string(s->chrf_sig));
    }
    if (t->metrics & M_TER) {
        json_object_set_new(o, "TER", json_real(s->ter.score));
        json_object_set_new(o, "TER_edits", json_integer((json_int_t)s->ter.edits));
        json_object_set_new(o, "TER_ref_length", json_real(s->ter.ref_length));
        json_object_set_new(o, "TER_signature", json_string(s->ter_sig));
    }
    common_json(o, s->n, t->tok_name, t->lowercase);
    json_object_set_new(o, "nrefs", json_integer(s->nrefs));
    return print_json(o);
}

static void print_text_table(const TextScores *s, const TextOptions *t) {
    if (t->metrics & M_BLEU) print_bleu_line(&s->bleu);
    if (t->metrics & M_CHRF) printf("%-6s %6.2f\n", s->chrf_name, s->chrf);
    if (t->metrics & M_TER)
        printf("TER    %6.2f  (%lld edits, reference length %.1f)\n", s->ter.score, (long long)s->ter.edits,
               s->ter.ref_length);
    printf("segments %d, %d reference%s each\n", s->n, s->nrefs, s->nrefs > 1 ? "s" : "");
    if (t->metrics & M_BLEU) printf("signature %s\n", s->bleu_sig);
    if (t->metrics & M_CHRF) printf("%s signature %s\n", s->chrf_name, s->chrf_sig);
    if (t->metrics & M_TER) printf("TER signature %s\n", s->ter_sig);
}

static int score_text(const char *hyp_path, const OptList *ref_paths, const TextOptions *t) {
    char **hyps = NULL, **refs[MAX_REFS] = {0};
    int n = 0, rc = read_texts(hyp_path, ref_paths, &hyps, refs, &n);
    TextScores s;
    if (rc == 0 && compute_text(hyps, refs, ref_paths->n, n, t, &s)) rc = job_fail(px_error_message());
    if (rc == 0) {
        if (t->as_json) {
            rc = print_text_json(&s, t);
        } else if (t->format == FMT_TABLE) {
            print_text_table(&s, t);
        } else {
            SacreScore m[3];
            int k = 0;
            if (t->metrics & M_BLEU) {
                m[k] = (SacreScore){"BLEU", s.bleu_sig, s.bleu.score, ""};
                bleu_verbose(&s.bleu, m[k++].verbose, sizeof m[0].verbose);
            }
            if (t->metrics & M_CHRF) m[k++] = (SacreScore){s.chrf_name, s.chrf_sig, s.chrf, ""};
            if (t->metrics & M_TER) m[k++] = (SacreScore){"TER", s.ter_sig, s.ter.score, ""};
            rc = print_sacre(m, k, t->format, t->width);
        }
    }
    free(hyps);
    for (int k = 0; k < ref_paths->n; k++) free(refs[k]);
    return rc;
}

static int score_instances(const char *path, const ScoreOptions *so, const char *tok_name, const char *tsv_path,
                           int as_json) {
    Instance *v = NULL;
    int n = 0, rc = 1;
    EvalScores s;
    if (instances_read(path, &v, &n) || eval_scores(v, n, so, &s) || (tsv_path && scores_tsv_write(tsv_path, &s))) {
        rc = job_fail(px_error_message());
        goto done;
    }
    if ((so->word_ms > 0 || so->computation_aware) && !s.has_ca)
        fprintf(stderr, "proact: warning: %s has no elapsed times for every sentence with output: no *_CA latency\n",
                path);
    if (as_json) {
        json_t *o = json_object();
        bleu_json(o, &s.bleu, s.signature);
        json_object_set_new(o, "chrF", json_real(s.chrf));
        json_object_set_new(o, "chrF_signature", json_string(CHRF_SIGNATURE));
        common_json(o, s.n, tok_name, so->lowercase);
        json_object_set_new(o, "n_no_output", json_integer(s.n_no_output));
        json_object_set_new(o, "use_ref_len", json_boolean(so->use_ref_len));
        json_object_set_new(o, "latency_unit", json_string(latency_unit_name(so->unit)));
        json_object_set_new(o, "AL", num(s.AL));
        json_object_set_new(o, "LAAL", num(s.LAAL));
        json_object_set_new(o, "AP", num(s.AP));
        json_object_set_new(o, "DAL", num(s.DAL));
        json_object_set_new(o, "ATD", num(s.ATD));
        if (s.has_ca) {
            if (so->word_ms > 0) json_object_set_new(o, "word_ms", json_real(so->word_ms));
            else json_object_set_new(o, "ATD_CA", num(s.ATD_CA));
            json_object_set_new(o, "AL_CA", num(s.AL_CA));
            json_object_set_new(o, "LAAL_CA", num(s.LAAL_CA));
            json_object_set_new(o, "AP_CA", num(s.AP_CA));
            json_object_set_new(o, "DAL_CA", num(s.DAL_CA));
        }
        rc = print_json(o);
        goto done;
    }
    printf("sentences %d", s.n);
    if (s.n_no_output) printf(" (%d without output, left out of the latency)", s.n_no_output);
    putchar('\n');
    print_quality(&s.bleu, s.chrf);
    const char *target = so->unit == LATENCY_UNIT_CHAR ? "characters" : "words";
    printf("AL     %9.3f  (source words; |Y| = %s %s)\nLAAL   %9.3f\nAP     %9.3f\nDAL    %9.3f\nATD    %9.3f\n", s.AL,
           so->use_ref_len ? "reference" : "prediction", target, s.LAAL, s.AP, s.DAL, s.ATD);
    if (s.has_ca && so->word_ms > 0)
        printf("AL_CA  %9.1f  (ms, source word k at k*%g ms)\nLAAL_CA %8.1f\nAP_CA  %9.3f\nDAL_CA %9.1f\n", s.AL_CA,
               so->word_ms, s.LAAL_CA, s.AP_CA, s.DAL_CA);
    else if (s.has_ca)
        printf("AL_CA  %9.3f  (computation-aware, SimulEval's: 'elapsed' in source words)\nLAAL_CA %8.3f\n"
               "AP_CA  %9.3f\nDAL_CA %9.3f\nATD_CA %9.3f\n",
               s.AL_CA, s.LAAL_CA, s.AP_CA, s.DAL_CA, s.ATD_CA);
    printf("signature %s\n", s.signature);
    rc = 0;
done:
    for (int i = 0; i < n; i++) instance_free(&v[i]);
    free(v);
    return rc;
}

/* --word-ms: ms per source word, > 0 */
static int parse_word_ms(const char *name, const char *arg, void *dest) {
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !isfinite(v) || v <= 0)
        return px_error("%s must be a number > 0 (ms per source word)", name);
    *(double *)dest = v;
    return 0;
}

static int parse_unit(const char *name, const char *arg, void *dest) {
    if (latency_unit_parse(arg, dest)) return px_error("%s must be word or char (got '%.100s')", name, arg);
    return 0;
}

/* --tokenize: BLEU's tokenizer; the name is kept for the JSON output */
typedef struct {
    const char *name;
    BleuTokenizer tok;
} TokenizeOpt;

static int parse_tokenize(const char *name, const char *arg, void *dest) {
    TokenizeOpt *t = dest;
    if (bleu_tokenizer_parse(arg, &t->tok))
        return px_error("%s must be 13a, none, intl, char or zh (got '%.100s')", name, arg);
    t->name = arg;
    return 0;
}

/* --metrics: a comma-separated list of bleu, chrf, ter (sacreBLEU's -m names); repeatable. The
 * first --metrics replaces the default. */
typedef struct {
    unsigned mask;
    int given;
} MetricsOpt;

static int parse_metrics(const char *name, const char *arg, void *dest) {
    MetricsOpt *m = dest;
    if (!m->given) m->mask = 0, m->given = 1;
    const char *p = arg;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 4 && !strncmp(p, "bleu", 4)) m->mask |= M_BLEU;
        else if (len == 4 && !strncmp(p, "chrf", 4)) m->mask |= M_CHRF;
        else if (len == 3 && !strncmp(p, "ter", 3)) m->mask |= M_TER;
        else return px_error("%s: expected a list of bleu, chrf, ter; got '%.*s'", name, (int)len, p);
        p += len + (p[len] == ',');
    }
    if (!m->mask) return px_error("%s: expected a list of bleu, chrf, ter; got '%s'", name, arg);
    return 0;
}

/* --format: table (proact's) | json | text (sacreBLEU's) */
static int parse_format(const char *name, const char *arg, void *dest) {
    if (!strcmp(arg, "table")) *(Format *)dest = FMT_TABLE;
    else if (!strcmp(arg, "json")) *(Format *)dest = FMT_JSON;
    else if (!strcmp(arg, "text")) *(Format *)dest = FMT_TEXT;
    else return px_error("%s must be table, json or text (got '%.100s')", name, arg);
    return 0;
}

int cmd_score(int argc, char **argv) {
    const char *hyp = NULL, *inst = NULL, *tsv = NULL, *ref_items[MAX_REFS];
    OptList refs = {ref_items, 0, MAX_REFS};
    int as_json = 0, lowercase = 0, no_ref_len = 0, opt_status, chrf_word_order = 0, chrf_lowercase = 0,
        ter_case_sensitive = 0, width = 1;
    Format format = FMT_TABLE;
    MetricsOpt metrics = {M_BLEU | M_CHRF, 0};
    ScoreOptions so;
    score_options_default(&so);
    TokenizeOpt tok = {"13a", BLEU_TOK_13A};
    const Opt table[] = {
        OPT("hyp", 0, OPT_STRING, &hyp, "FILE", "the translation, one segment per line"),
        OPT("ref", 0, OPT_LIST, &refs, "FILE...",
            "the references, one segment per line; several files\n"
            "(--ref a.txt b.txt, or --ref repeated) are several\nreferences per segment, as sacreBLEU's"),
        OPT("instances", 0, OPT_STRING, &inst, "FILE", "SimulEval's instances.log (ours or SimulEval's)"),
        OPT("metrics", 0, OPT_CUSTOM, &metrics, "LIST",
            "what --hyp/--ref computes: bleu,chrf,ter (sacreBLEU's\n-m; default bleu,chrf)", .parse = parse_metrics),
        OPT("tokenize", 0, OPT_CUSTOM, &tok, "13a|none|intl|char|zh", "BLEU tokenizer (default 13a)",
            .parse = parse_tokenize),
        OPT("lowercase", 0, OPT_FLAG, &lowercase, NULL,
            "BLEU on lowercased text, Python's str.lower (chrF and\n"
            "TER have their own options, as sacreBLEU's)"),
        OPT("chrf-word-order", 0, OPT_INT, &chrf_word_order, "N",
            "chrF's word n-gram order: 0 chrF2 (default), 2 chrF++", .min = 0, .max = 8),
        OPT("chrf-lowercase", 0, OPT_FLAG, &chrf_lowercase, NULL, "chrF on lowercased text"),
        OPT("ter-case-sensitive", 0, OPT_FLAG, &ter_case_sensitive, NULL,
            "TER keeps case (sacreBLEU's TER lowercases by default)"),
        OPT("format", 0, OPT_CUSTOM, &format, "table|json|text",
            "--hyp/--ref output: proact's table (default), or\n"
            "sacreBLEU's json or text output, byte for byte",
            .parse = parse_format),
        OPT("width", 0, OPT_INT, &width, "N", "decimals of the json/text scores (sacreBLEU's -w;\ndefault 1)", .min = 0,
            .max = 16),
        OPT("json", 0, OPT_FLAG, &as_json, NULL, "one JSON object of proact's, with every count, on\nstdout"),
        OPT("no-use-ref-len", 0, OPT_FLAG, &no_ref_len, NULL,
            "latency with the prediction length instead of the\n"
            "reference length"),
        OPT("latency-unit", 0, OPT_CUSTOM, &so.unit, "word|char",
            "what a delay stands for, as SimulEval's\n"
            "--eval-latency-unit: char counts the reference in\n"
            "characters (a log written with proact eval\n--latency-unit char); default word",
            .parse = parse_unit),
        OPT("computation-aware", 0, OPT_FLAG, &so.computation_aware, NULL,
            "also AL_CA, LAAL_CA, AP_CA, DAL_CA, ATD_CA from the\n"
            "'elapsed' times in the delays' unit, as SimulEval's\n--computation-aware (proact eval writes them so)"),
        OPT("word-ms", 0, OPT_CUSTOM, &so.word_ms, "MS",
            "instead: 'elapsed' in ms (other tools' logs), source\n"
            "word k arriving at k*MS ms; the *_CA values in ms\n(docs/evaluation.md)",
            .parse = parse_word_ms),
        OPT("scores-tsv", 0, OPT_STRING, &tsv, "FILE", "also write SimulEval's scores.tsv"),
        {0}};
    Opts o = {.command = "score", .opts = table, .arg_name = "[REF...]"};
    o.usage = "proact score --hyp FILE --ref FILE [FILE...] [--metrics bleu,chrf,ter] [--tokenize T] [--lowercase]\n"
              "                    [--chrf-word-order N] [--chrf-lowercase] [--ter-case-sensitive]\n"
              "                    [--format table|json|text] [--width N] [--json]\n"
              "       proact score --instances instances.log [--no-use-ref-len] [--latency-unit word|char]\n"
              "                    [--computation-aware | --word-ms MS] [--scores-tsv FILE]\n"
              "                    [--tokenize T] [--lowercase] [--json]";
    o.about = "With --hyp/--ref (one segment per line; several --ref files are several references per\n"
              "segment): corpus BLEU, chrF (chrF2, or chrF++ with --chrf-word-order 2) and TER, identical to\n"
              "sacreBLEU 2.6.0 with the same options, with their signatures. --format json and text print\n"
              "what sacreBLEU prints, byte for byte: `sacrebleu REF... -i HYP -m bleu chrf` prints what\n"
              "--format json does with the default --metrics.\n"
              "With --instances (SimulEval's instances.log, ours or SimulEval's): BLEU and chrF2 of the\n"
              "predictions against the references, and the latency as SimulEval computes it: AL, LAAL, AP,\n"
              "DAL, ATD in source words, means over the sentences (sentences without output are skipped and\n"
              "counted).\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    so.tok = tok.tok;
    so.lowercase |= lowercase;
    if (no_ref_len) so.use_ref_len = 0;
    const char *tok_name = tok.name;
    if (inst && (hyp || refs.n)) return opts_usage_error(&o, "give either --hyp/--ref or --instances, not both");
    if (o.n_args > 0 && !refs.n) {
        char msg[260];
        snprintf(msg, sizeof msg, "unexpected argument '%.200s'", o.args[0]);
        return opts_usage_error(&o, msg);
    }
    if (inst) {
        if (so.computation_aware && so.word_ms > 0)
            return opts_usage_error(&o,
                                    "--computation-aware reads 'elapsed' in source words, --word-ms in ms: give one");
        if (metrics.given || opts_given(&o, "chrf-word-order") || chrf_lowercase || ter_case_sensitive ||
            opts_given(&o, "format") || opts_given(&o, "width"))
            return opts_usage_error(&o, "--metrics, --chrf-*, --ter-*, --format and --width apply to --hyp/--ref only");
        return score_instances(inst, &so, tok_name, tsv, as_json);
    }
    for (int i = 0; i < o.n_args; i++) { /* --ref a.txt b.txt: the files after the first are arguments */
        if (refs.n >= MAX_REFS) return opts_usage_error(&o, "more than 64 reference files");
        refs.items[refs.n++] = o.args[i];
    }
    if (!hyp && !refs.n)
        return opts_usage_error(&o, "nothing to score: give --hyp FILE --ref FILE, or --instances FILE");
    if (!hyp || !refs.n) return opts_usage_error(&o, hyp ? "--hyp needs --ref" : "--ref needs --hyp");
    if (!so.use_ref_len || so.word_ms > 0 || so.computation_aware || opts_given(&o, "latency-unit") || tsv)
        return opts_usage_error(&o, "--no-use-ref-len, --latency-unit, --computation-aware, --word-ms and "
                                    "--scores-tsv apply to --instances only");
    if (as_json && opts_given(&o, "format"))
        return opts_usage_error(&o, "--json is proact's own JSON; give it or --format, not both");
    TextOptions t = {.metrics = metrics.mask,
                     .tok = so.tok,
                     .tok_name = tok_name,
                     .lowercase = so.lowercase,
                     .chrf_word_order = chrf_word_order,
                     .chrf_lowercase = chrf_lowercase,
                     .ter_case_sensitive = ter_case_sensitive,
                     .format = format,
                     .width = width,
                     .as_json = as_json};
    return score_text(hyp, &refs, &t);
}
