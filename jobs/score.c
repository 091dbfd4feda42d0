/* score.c — `proact score`: quality (BLEU, chrF2, as sacreBLEU) of a translation file, or quality
 * and latency (AL, LAAL, AP, DAL, as SimulEval) of an instances.log.
 * Recipe: parse options -> read the files -> score (src/metrics/bleu.h, src/metrics/scoring.h) -> print a
 * table or one JSON object (and, on request, SimulEval's scores.tsv). */
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
#include "src/metrics/scoring.h"

/* sacreBLEU's chrF signature for the defaults we compute (chrF2: 6 char orders, no words). */
#define CHRF_SIGNATURE "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"

/* jansson has no NaN: an undefined value is null. */
static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *int_array(const int64_t *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static void bleu_json(json_t *o, const BleuResult *b, double chrf, const char *signature, int n, const char *tok,
                      int lowercase) {
    json_object_set_new(o, "BLEU", json_real(b->score));
    json_object_set_new(o, "chrF", json_real(chrf));
    json_object_set_new(o, "signature", json_string(signature));
    json_object_set_new(o, "chrF_signature", json_string(CHRF_SIGNATURE));
    json_object_set_new(o, "counts", int_array(b->counts, 4));
    json_object_set_new(o, "totals", int_array(b->totals, 4));
    json_t *prec = json_array();
    for (int k = 0; k < 4; k++) json_array_append_new(prec, json_real(b->precisions[k]));
    json_object_set_new(o, "precisions", prec);
    json_object_set_new(o, "sys_len", json_integer((json_int_t)b->sys_len));
    json_object_set_new(o, "ref_len", json_integer((json_int_t)b->ref_len));
    json_object_set_new(o, "bp", json_real(b->bp));
    json_object_set_new(o, "ratio", num(b->ref_len ? (double)b->sys_len / (double)b->ref_len : NAN));
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

/* "BLEU   23.41  (54.3/29.1/17.6/10.9, BP 0.983, ratio 0.983, hyp 1520 ref 1546)", then chrF2. */
static void print_quality(const BleuResult *b, double chrf) {
    double ratio = b->ref_len ? (double)b->sys_len / (double)b->ref_len : 0;
    printf("BLEU   %6.2f  (%.1f/%.1f/%.1f/%.1f, BP %.3f, ratio %.3f, hyp %lld ref %lld)\n", b->score, b->precisions[0],
           b->precisions[1], b->precisions[2], b->precisions[3], b->bp, ratio, (long long)b->sys_len,
           (long long)b->ref_len);
    printf("chrF2  %6.2f\n", chrf);
}

static int score_text(const char *hyp_path, const char *ref_path, BleuTokenizer tok, const char *tok_name,
                      int lowercase, int as_json) {
    char **hyps = NULL, **refs = NULL;
    int nh = 0, nr = 0, rc = 1;
    if (lines_read(hyp_path, &hyps, &nh) || lines_read(ref_path, &refs, &nr)) {
        rc = job_fail(px_error_message());
        goto done;
    }
    if (nh == 0 || nr == 0) {
        char msg[PX_PATH_MAX + 64];
        snprintf(msg, sizeof msg, "%s: empty file (no segments to score)", nh == 0 ? hyp_path : ref_path);
        rc = job_fail(msg);
        goto done;
    }
    if (nh != nr) {
        char msg[128];
        snprintf(msg, sizeof msg, "--hyp has %d lines but --ref has %d", nh, nr);
        rc = job_fail(msg);
        goto done;
    }
    BleuResult b;
    double chrf;
    if (corpus_bleu((const char *const *)hyps, (const char *const *)refs, nh, tok, lowercase, &b) ||
        corpus_chrf((const char *const *)hyps, (const char *const *)refs, nh, 0, &chrf)) {
        rc = job_fail(px_error_message());
        goto done;
    }
    char sig[160];
    bleu_signature(tok, lowercase, sig, sizeof sig);
    if (as_json) {
        json_t *o = json_object();
        bleu_json(o, &b, chrf, sig, nh, tok_name, lowercase);
        rc = print_json(o);
    } else {
        print_quality(&b, chrf);
        printf("segments %d\nsignature %s\n", nh, sig);
        rc = 0;
    }
done:
    free(hyps);
    free(refs);
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
    if (so->word_ms > 0 && !s.has_ca)
        fprintf(stderr, "proact: warning: %s has no elapsed times for every sentence with output: no *_CA latency\n",
                path);
    if (as_json) {
        json_t *o = json_object();
        bleu_json(o, &s.bleu, s.chrf, s.signature, s.n, tok_name, so->lowercase);
        json_object_set_new(o, "n_no_output", json_integer(s.n_no_output));
        json_object_set_new(o, "use_ref_len", json_boolean(so->use_ref_len));
        json_object_set_new(o, "AL", num(s.AL));
        json_object_set_new(o, "LAAL", num(s.LAAL));
        json_object_set_new(o, "AP", num(s.AP));
        json_object_set_new(o, "DAL", num(s.DAL));
        if (s.has_ca) {
            json_object_set_new(o, "word_ms", json_real(so->word_ms));
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
    const char *unit = so->use_ref_len ? "source words; |Y| = reference words" : "source words; |Y| = prediction words";
    printf("AL     %9.3f  (%s)\nLAAL   %9.3f\nAP     %9.3f\nDAL    %9.3f\n", s.AL, unit, s.LAAL, s.AP, s.DAL);
    if (s.has_ca)
        printf("AL_CA  %9.1f  (ms, source word k at k*%g ms)\nLAAL_CA %8.1f\nAP_CA  %9.3f\nDAL_CA %9.1f\n", s.AL_CA,
               so->word_ms, s.LAAL_CA, s.AP_CA, s.DAL_CA);
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

/* --tokenize: BLEU's tokenizer; the name is kept for the JSON output */
typedef struct {
    const char *name;
    BleuTokenizer tok;
} TokenizeOpt;

static int parse_tokenize(const char *name, const char *arg, void *dest) {
    TokenizeOpt *t = dest;
    if (bleu_tokenizer_parse(arg, &t->tok))
        return px_error("%s must be 13a, none, intl or char (got '%.100s')", name, arg);
    t->name = arg;
    return 0;
}

int cmd_score(int argc, char **argv) {
    const char *hyp = NULL, *ref = NULL, *inst = NULL, *tsv = NULL;
    int as_json = 0, lowercase = 0, no_ref_len = 0, opt_status;
    ScoreOptions so;
    score_options_default(&so);
    TokenizeOpt tok = {"13a", BLEU_TOK_13A};
    const Opt table[] = {
        OPT("hyp", 0, OPT_STRING, &hyp, "FILE", "the translation, one segment per line"),
        OPT("ref", 0, OPT_STRING, &ref, "FILE", "the references, one segment per line"),
        OPT("instances", 0, OPT_STRING, &inst, "FILE", "SimulEval's instances.log (ours or SimulEval's)"),
        OPT("tokenize", 0, OPT_CUSTOM, &tok, "13a|none|intl|char", "BLEU tokenizer (default 13a)",
            .parse = parse_tokenize),
        OPT("lowercase", 0, OPT_FLAG, &lowercase, NULL,
            "BLEU on lowercased text (chrF stays case-sensitive,\n"
            "as sacreBLEU's default)"),
        OPT("json", 0, OPT_FLAG, &as_json, NULL, "one JSON object on stdout instead of the table"),
        OPT("no-use-ref-len", 0, OPT_FLAG, &no_ref_len, NULL,
            "latency with the prediction length instead of the\n"
            "reference length"),
        OPT("word-ms", 0, OPT_CUSTOM, &so.word_ms, "MS",
            "also the computation-aware latency (AL_CA, ...; in ms)\n"
            "from the 'elapsed' times, source word k arriving at\nk*MS ms (docs/evaluation.md)",
            .parse = parse_word_ms),
        OPT("scores-tsv", 0, OPT_STRING, &tsv, "FILE", "also write SimulEval's scores.tsv"),
        {0}};
    Opts o = {.command = "score", .opts = table};
    o.usage = "proact score --hyp FILE --ref FILE [--tokenize 13a|none|intl|char] [--lowercase] [--json]\n"
              "       proact score --instances instances.log [--no-use-ref-len] [--word-ms MS] [--scores-tsv FILE]\n"
              "                    [--tokenize T] [--lowercase] [--json]";
    o.about = "With --hyp/--ref (one segment per line): corpus BLEU and chrF2, identical to sacreBLEU 2.6.0,\n"
              "with BLEU's signature.\n"
              "With --instances (SimulEval's instances.log, ours or SimulEval's): BLEU and chrF2 of the\n"
              "predictions against the references, and the latency as SimulEval computes it: AL, LAAL, AP,\n"
              "DAL in source words, means over the sentences (sentences without output are skipped and\n"
              "counted).\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    so.tok = tok.tok;
    so.lowercase |= lowercase;
    if (no_ref_len) so.use_ref_len = 0;
    const char *tok_name = tok.name;
    if (inst && (hyp || ref)) return opts_usage_error(&o, "give either --hyp/--ref or --instances, not both");
    if (inst) return score_instances(inst, &so, tok_name, tsv, as_json);
    if (!hyp && !ref) return opts_usage_error(&o, "nothing to score: give --hyp FILE --ref FILE, or --instances FILE");
    if (!hyp || !ref) return opts_usage_error(&o, hyp ? "--hyp needs --ref" : "--ref needs --hyp");
    if (!so.use_ref_len || so.word_ms > 0 || tsv)
        return opts_usage_error(&o, "--no-use-ref-len, --word-ms and --scores-tsv apply to --instances only");
    return score_text(hyp, ref, so.tok, tok_name, so.lowercase, as_json);
}
