/* test_scoring.c — corpus scores of instances (src/metrics/scoring.h), SimulEval's instances.log and
 * scores.tsv (io/instances.h), and the SVG latency–quality plot (io/plot_svg.h).
 *
 * eval_scores must equal its parts: corpus_bleu/corpus_chrf over all sentences and the mean of
 * latency_scores over the sentences with output (the others are skipped and counted, as
 * SimulEval does); the computation-aware values are checked against a case worked by hand. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "io/files.h"
#include "io/instances.h"
#include "io/plot_svg.h"
#include "src/base/common.h"
#include "src/metrics/bleu.h"
#include "src/metrics/latency.h"
#include "src/metrics/scoring.h"

static char g_dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/proact_test_scoring_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    DIR *d = opendir(g_dir);
    if (d) {
        char path[PX_PATH_MAX];
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(g_dir);
    return 0;
}

static const char *tmp_path(const char *name) {
    static char path[PX_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return path;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static char *read_file(const char *path) {
    char *data;
    size_t len;
    assert_int_equal(file_read_all(path, &data, &len), 0);
    return data;
}

#define assert_close(a, b, tol)                                                                             \
    do {                                                                                                    \
        double a_ = (a), b_ = (b);                                                                          \
        if (!(fabs(a_ - b_) <= (tol) * (1 + fabs(b_)))) fail_msg("%s = %.15g, expected %.15g", #a, a_, b_); \
    } while (0)

/* An instance over borrowed arrays (the test owns nothing here; never instance_free these). */
static Instance inst(int64_t index, const char *pred, double *delays, double *elapsed, int n, const char *ref,
                     const char *src, int src_len) {
    Instance v = {index, (char *)pred, delays, elapsed, n, (char *)ref, (char *)src, src_len, INSTANCE_END_UNKNOWN};
    return v;
}

/* ---- eval_scores ----------------------------------------------------------------------------- */

static void test_scores_equal_their_parts(void **state) {
    (void)state;
    /* delays and lengths from tests/data/metrics/latency.json cases 0-3; texts with those word counts */
    double d0[] = {3, 4, 5, 5, 5}, d1[] = {5, 5, 5, 5, 5, 5, 5}, d2[] = {1, 2, 3, 4, 5}, d3[] = {2};
    Instance v[] = {
        inst(0, "the cat sat on mats", d0, NULL, 5, "the cat is on mats", "le chat est assis là", 5),
        inst(1, "a b c d e f g", d1, NULL, 7, "a b c d e f", "u v w x y", 5),
        inst(2, "", NULL, NULL, 0, "nothing was written here", "one two three", 3), /* no output */
        inst(3, "one two three four five", d2, NULL, 5, "one two three four five", "1 2 3 4 5", 5),
        inst(4, "hello", d3, NULL, 1, "hello  world\tagain  now", "a b c d e", 5), /* odd spacing */
    };
    const int n = 5;
    ScoreOptions o;
    score_options_default(&o);
    assert_int_equal(o.tok, BLEU_TOK_13A);
    assert_int_equal(o.use_ref_len, 1);
    for (int use_ref = 1; use_ref >= 0; use_ref--) {
        o.use_ref_len = use_ref;
        EvalScores s;
        assert_int_equal(eval_scores(v, n, &o, &s), 0);
        assert_int_equal(s.n, 5);
        assert_int_equal(s.n_no_output, 1);
        assert_int_equal(s.has_ca, 0);
        /* quality over all five, the empty prediction included */
        const char *hyps[5], *refs[5];
        for (int i = 0; i < n; i++) {
            hyps[i] = v[i].prediction;
            refs[i] = v[i].reference;
        }
        BleuResult b;
        double chrf;
        assert_int_equal(corpus_bleu(hyps, refs, n, BLEU_TOK_13A, 0, &b), 0);
        assert_int_equal(corpus_chrf(hyps, refs, n, 0, &chrf), 0);
        assert_true(s.bleu.score == b.score && s.bleu.sys_len == b.sys_len && s.bleu.ref_len == b.ref_len);
        assert_true(s.chrf == chrf);
        assert_string_equal(s.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
        /* latency: the mean over the four sentences with output, by hand; |Y| as SimulEval's
         * reference.split(" ") counts: "hello  world\tagain  now" is 5 pieces (two empty) */
        const double ref_words[] = {5, 6, 0, 5, 5};
        LatencyScores sum = {0, 0, 0, 0};
        for (int i = 0; i < n; i++) {
            if (!v[i].n_delays) continue;
            LatencyScores l;
            assert_int_equal(latency_scores(v[i].delays, v[i].n_delays, v[i].source_length, ref_words[i], use_ref, &l),
                             0);
            sum.AL += l.AL;
            sum.LAAL += l.LAAL;
            sum.AP += l.AP;
            sum.DAL += l.DAL;
        }
        assert_close(s.AL, sum.AL / 4, 1e-14);
        assert_close(s.LAAL, sum.LAAL / 4, 1e-14);
        assert_close(s.AP, sum.AP / 4, 1e-14);
        assert_close(s.DAL, sum.DAL / 4, 1e-14);
    }
    /* the first two are latency.json cases 0 and 1 (AL 3.0 and 5.0; AP 0.88 and 1.1666...) */
    o.use_ref_len = 1;
    EvalScores s;
    assert_int_equal(eval_scores(v, 2, &o, &s), 0);
    assert_close(s.AL, (3.0 + 5.0) / 2, 1e-12);
    assert_close(s.AP, (0.88 + 1.1666666666666667) / 2, 1e-12);

    /* lowercase and another tokenizer reach BLEU and its signature */
    o.lowercase = 1;
    o.tok = BLEU_TOK_CHAR;
    assert_int_equal(eval_scores(v, n, &o, &s), 0);
    assert_string_equal(s.signature, "nrefs:1|case:lc|eff:no|tok:char|smooth:exp|version:2.6.0");
}

static void test_no_output_anywhere_and_errors(void **state) {
    (void)state;
    Instance v[] = {inst(0, "", NULL, NULL, 0, "a b", "x y", 2), inst(1, "", NULL, NULL, 0, "c", "z", 1)};
    ScoreOptions o;
    score_options_default(&o);
    EvalScores s;
    assert_int_equal(eval_scores(v, 2, &o, &s), 0);
    assert_int_equal(s.n_no_output, 2);
    assert_true(isnan(s.AL) && isnan(s.LAAL) && isnan(s.AP) && isnan(s.DAL));
    assert_true(s.bleu.score == 0.0);

    assert_int_equal(eval_scores(v, 0, &o, &s), -1);
    assert_non_null(strstr(px_error_message(), "no instances"));
    double d[] = {1, 2};
    Instance bad = inst(7, "a b", d, NULL, 2, "a b", "", 0); /* output but no source */
    assert_int_equal(eval_scores(&bad, 1, &o, &s), -1);
    assert_non_null(strstr(px_error_message(), "instance 7: source_length is 0"));
    double inf[] = {1, INFINITY};
    bad = inst(8, "a b", inf, NULL, 2, "a b", "x y", 2);
    assert_int_equal(eval_scores(&bad, 1, &o, &s), -1);
    assert_non_null(strstr(px_error_message(), "instance 8: delays"));
    /* an empty reference counts as one word (SimulEval: "".split(" ") == [""]) */
    double d1[] = {2};
    Instance e = inst(0, "a", d1, NULL, 1, "", "x y", 2);
    assert_int_equal(eval_scores(&e, 1, &o, &s), 0);
    LatencyScores l;
    assert_int_equal(latency_scores(d1, 1, 2, 1, 1, &l), 0);
    assert_true(s.AP == l.AP);
}

static void test_computation_aware(void **state) {
    (void)state;
    /* 4 source words at 100 ms each (word k at k*100 ms), 4 target words, 4 reference words.
     * Clock when each word was written: 250, 380, 450, 470 ms; |X| = 400 ms, |X|/|Y| = 100 ms.
     *   AL_CA: tau = 3 (450 >= 400): (250 + (380 - 100) + (450 - 200)) / 3 = 260
     *   LAAL_CA: max(|Y|, 4) = 4: the same, 260
     *   AP_CA: (250 + 380 + 450 + 470) / (400 * 4) = 0.96875
     *   DAL_CA: g' = 250, max(380, 350) = 380, max(450, 480) = 480, max(470, 580) = 580;
     *           (250 + 280 + 280 + 280) / 4 = 272.5 */
    double d[] = {2, 3, 4, 4}, el[] = {250, 380, 450, 470};
    Instance v[] = {inst(0, "w x y z", d, el, 4, "r s t u", "a b c d", 4), inst(1, "", NULL, NULL, 0, "q", "a", 1)};
    ScoreOptions o;
    score_options_default(&o);
    o.word_ms = 100;
    EvalScores s;
    assert_int_equal(eval_scores(v, 2, &o, &s), 0);
    assert_int_equal(s.has_ca, 1);
    assert_int_equal(s.n_no_output, 1);
    assert_close(s.AL_CA, 260, 1e-14);
    assert_close(s.LAAL_CA, 260, 1e-14);
    assert_close(s.AP_CA, 0.96875, 1e-14);
    assert_close(s.DAL_CA, 272.5, 1e-14);

    /* a system that computes instantly: elapsed = delays * word_ms, so AL_CA = AL * word_ms */
    double d2[] = {1, 1, 3, 5, 5}, el2[5];
    for (int i = 0; i < 5; i++) el2[i] = d2[i] * 300;
    Instance w = inst(0, "a b c d e", d2, el2, 5, "p q r s t u", "1 2 3 4 5", 5);
    o.word_ms = 300;
    assert_int_equal(eval_scores(&w, 1, &o, &s), 0);
    assert_close(s.AL_CA, s.AL * 300, 1e-12);
    assert_close(s.LAAL_CA, s.LAAL * 300, 1e-12);
    assert_close(s.DAL_CA, s.DAL * 300, 1e-12);
    assert_close(s.AP_CA, s.AP, 1e-12); /* a ratio: no unit */

    /* no clock for a sentence with output, or no word_ms: no *_CA */
    v[0].elapsed = NULL;
    o.word_ms = 100;
    assert_int_equal(eval_scores(v, 2, &o, &s), 0);
    assert_int_equal(s.has_ca, 0);
    v[0].elapsed = el;
    o.word_ms = 0;
    assert_int_equal(eval_scores(v, 2, &o, &s), 0);
    assert_int_equal(s.has_ca, 0);
}

/* ---- instances.log ------------------------------------------------------------------------ */

static void assert_same_instance(const Instance *a, const Instance *b) {
    assert_int_equal(a->index, b->index);
    assert_string_equal(a->prediction, b->prediction);
    assert_int_equal(a->n_delays, b->n_delays);
    for (int i = 0; i < a->n_delays; i++) assert_true(a->delays[i] == b->delays[i]);
    assert_int_equal(a->elapsed != NULL, b->elapsed != NULL);
    for (int i = 0; a->elapsed && i < a->n_delays; i++) assert_true(a->elapsed[i] == b->elapsed[i]);
    assert_string_equal(a->reference, b->reference);
    assert_string_equal(a->source, b->source);
    assert_int_equal(a->source_length, b->source_length);
    assert_int_equal(a->end, b->end);
}

static void test_instances_round_trip(void **state) {
    (void)state;
    double d0[] = {2, 3, 3, 4}, e0[] = {612.5, 905.125, 905.25, 1200};
    double d1[] = {1.5, 1e9};                       /* not integral; large */
    double d2[] = {1}, e2[] = {1.0000123456789012}; /* elapsed written exactly: it reads back the same */
    Instance v[] = {
        inst(0, "Grüße «sagt» \"er\" \\ / 日本語 😀", d0, e0, 4, "Ein \"Zitat\" mit\ttab & <tag>",
             "Hello \"you\" there!", 4),
        inst(1, "a b", d1, NULL, 2, "x y", "s", 1),
        inst(5, "", NULL, NULL, 0, "", "", 0),
        inst(6, "z", d2, e2, 1, "z", "s", 1),
    };
    v[0].end = INSTANCE_END_LENGTH_LIMIT;
    v[3].end = INSTANCE_END_FINISHED;
    const char *path = tmp_path("instances.log");
    assert_int_equal(instances_write(path, v, 4), 0);
    char *text = read_file(path);
    /* SimulEval's keys in SimulEval's order; integral delays as ints, elapsed in ms */
    assert_non_null(strstr(text, "{\"index\": 0, \"prediction\": \"Grüße «sagt» \\\"er\\\" \\\\ / 日本語 😀\", "
                                 "\"delays\": [2, 3, 3, 4], \"elapsed\": [612.5, 905.125, 905.25, 1200.0], "
                                 "\"prediction_length\": 4, \"reference\": "));
    assert_non_null(strstr(text, "\"source\": \"Hello \\\"you\\\" there!\", \"source_length\": 4, "
                                 "\"end_reason\": \"length_limit\"}\n"));
    assert_non_null(strstr(text, "\"elapsed\": [1.0000123456789012], \"prediction_length\": 1, \"reference\": \"z\", "
                                 "\"source\": \"s\", \"source_length\": 1, \"end_reason\": \"finished\"}\n"));
    assert_non_null(strstr(text, "\"source_length\": 0}\n")); /* no end reason known: no key */
    assert_non_null(strstr(text, "\"delays\": [1.5, 1000000000], \"elapsed\": [], \"prediction_length\": 2"));
    free(text);
    Instance *r;
    int n;
    assert_int_equal(instances_read(path, &r, &n), 0);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) assert_same_instance(&v[i], &r[i]);
    for (int i = 0; i < n; i++) instance_free(&r[i]);
    free(r);

    /* nothing is written for bad input, and the error names the instance and field */
    double nan_d[] = {NAN};
    Instance bad[] = {inst(3, "a", nan_d, NULL, 1, "b", "c", 1)};
    assert_int_equal(instances_write(tmp_path("bad.log"), bad, 1), -1);
    assert_non_null(strstr(px_error_message(), "instance 3: field 'delays'"));
    bad[0] = inst(4, "a\xff", d0, NULL, 1, "b", "c", 1);
    assert_int_equal(instances_write(tmp_path("bad.log"), bad, 1), -1);
    assert_non_null(strstr(px_error_message(), "instance 4: field 'prediction' is not valid UTF-8"));
    assert_int_equal(access(tmp_path("bad.log"), F_OK), -1);
}

static void test_instances_simuleval_style(void **state) {
    (void)state;
    /* as SimulEval writes text-to-text runs (source sometimes a list of words), with extra keys and
     * blank lines; one line without elapsed, one with [] */
    const char *path = tmp_path("simuleval.log");
    write_file(path, "{\"index\": 1, \"prediction\": \"Hallo Welt\", \"delays\": [1, 2], \"elapsed\": [0, 0], "
                     "\"prediction_length\": 2, \"reference\": \"Hallo, Welt!\", \"source\": [\"Hello\", \"world\"], "
                     "\"source_length\": 2, \"metric\": {\"BLEU\": 3}}\r\n"
                     "\n"
                     "{\"index\": 0, \"prediction\": \"Ja\", \"delays\": [3.0], \"reference\": \"Ja .\", "
                     "\"source\": \"Yes it is\", \"source_length\": 3.0}\n"
                     "{\"index\": 2, \"prediction\": \"\", \"delays\": [], \"elapsed\": [], \"prediction_length\": 0, "
                     "\"reference\": \"x\", \"source_length\": 1}");
    Instance *r;
    int n;
    assert_int_equal(instances_read(path, &r, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].index, 1);
    assert_string_equal(r[0].source, "Hello world");
    assert_non_null(r[0].elapsed);
    assert_true(r[0].delays[1] == 2 && r[0].elapsed[1] == 0);
    assert_int_equal(r[1].index, 0);
    assert_null(r[1].elapsed);
    assert_int_equal(r[1].source_length, 3);
    assert_true(r[1].n_delays == 1 && r[1].delays[0] == 3);
    assert_int_equal(r[2].n_delays, 0);
    assert_null(r[2].elapsed);
    assert_string_equal(r[2].source, ""); /* absent */
    for (int i = 0; i < n; i++) instance_free(&r[i]);
    free(r);
}

static void test_instances_errors(void **state) {
    (void)state;
    static const char *const GOOD =
        "{\"index\": 0, \"prediction\": \"a b\", \"delays\": [1, 2], \"elapsed\": [1.5, 2.5], "
        "\"prediction_length\": 2, \"reference\": \"a b\", \"source\": \"x y\", \"source_length\": 2}\n";
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"{\"index\": 1, \"prediction\": ", ":2: not valid JSON"},
        {"[1, 2]", ":2: not a JSON object"},
        {"{\"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'index' is missing"},
        {"{\"index\": \"1\", \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'index' is not an integer"},
        {"{\"index\": -1, \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'index' is not an integer >= 0"},
        {"{\"index\": 1, \"prediction\": 5, \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'prediction' is not a string"},
        {"{\"index\": 1, \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'prediction' is missing"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1, \"2\"], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'delays' is not a list of numbers"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": 1, \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'delays' is not a list of numbers"},
        {"{\"index\": 1, \"prediction\": \"a\", \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'delays' is missing"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"elapsed\": [1, 2], \"reference\": \"a\", "
         "\"source_length\": 1}",
         ":2: field 'elapsed' has 2 values but 'delays' has 1"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"elapsed\": {}, \"reference\": \"a\", "
         "\"source_length\": 1}",
         ":2: field 'elapsed' is not a list of numbers"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"prediction_length\": 2, \"reference\": \"a\", "
         "\"source_length\": 1}",
         ":2: field 'prediction_length' is 2 but 'delays' has 1 values"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"source_length\": 1}",
         ":2: field 'reference' is missing"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"reference\": null, \"source_length\": 1}",
         ":2: field 'reference' is not a string"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source\": [\"x\", 2], "
         "\"source_length\": 1}",
         ":2: field 'source' is not a string or a list of strings"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 2.5}",
         ":2: field 'source_length' is not an integer >= 0"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\"}",
         ":2: field 'source_length' is missing"},
        {"{\"index\": 1, \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 1, "
         "\"end_reason\": \"stopped\"}",
         ":2: field 'end_reason' is not \"finished\" or \"length_limit\""},
        {"{\"index\": 0, \"prediction\": \"a\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: field 'index' is 0, as on line 1"},
        {"{\"index\": 1, \"prediction\": \"\xc3\x28\", \"delays\": [1], \"reference\": \"a\", \"source_length\": 1}",
         ":2: not valid JSON"},
    };
    const char *path = tmp_path("bad_instances.log");
    char *text = malloc(4096);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(text, 4096, "%s%s\n", GOOD, cases[c].line);
        write_file(path, text);
        Instance *r = NULL;
        int n = -1;
        if (instances_read(path, &r, &n) != -1) fail_msg("case %zu: read did not fail", c);
        assert_null(r);
        assert_int_equal(n, 0);
        char want[PX_PATH_MAX + 128];
        snprintf(want, sizeof want, "%s%s", path, cases[c].want);
        if (!strstr(px_error_message(), want)) fail_msg("case %zu: error '%s' lacks '%s'", c, px_error_message(), want);
    }
    free(text);
    Instance *r;
    int n;
    write_file(path, "\n  \n");
    assert_int_equal(instances_read(path, &r, &n), -1);
    assert_non_null(strstr(px_error_message(), ": no instances"));
    assert_int_equal(instances_read(tmp_path("missing.log"), &r, &n), -1);
    assert_non_null(strstr(px_error_message(), "missing.log: cannot open"));
}

/* ---- scores.tsv and text lines ------------------------------------------------------------------ */

static void test_scores_tsv(void **state) {
    (void)state;
    EvalScores s;
    memset(&s, 0, sizeof s);
    s.bleu.score = 23.456789;
    s.chrf = 51.2; /* not a SimulEval metric: not in the file */
    s.AL = 3.25;
    s.LAAL = 3.5;
    s.AP = 0.0625; /* a tie at 3 decimals: round() and "%.3f" round it half-even, to 0.062 */
    s.DAL = 4.1255;
    s.ATD = -0.0001; /* Python: round(-0.0001, 3) is -0.0 */
    const char *path = tmp_path("scores.tsv");
    assert_int_equal(scores_tsv_write(path, &s), 0);
    char *text = read_file(path);
    assert_string_equal(text, "BLEU\tLAAL\tAL\tAP\tDAL\tATD\n23.457\t3.5\t3.25\t0.062\t4.125\t-0.0\n");
    free(text);
    s.has_ca = 1;
    s.AL_CA = 812.5;
    s.LAAL_CA = 900;
    s.AP_CA = 0.5;
    s.DAL = NAN; /* pandas writes NaN as an empty field */
    s.DAL_CA = 1000.0625;
    s.ATD_CA = 2;
    assert_int_equal(scores_tsv_write(path, &s), 0);
    text = read_file(path);
    assert_string_equal(text, "BLEU\tLAAL\tLAAL_CA\tAL\tAL_CA\tAP\tAP_CA\tDAL\tDAL_CA\tATD\tATD_CA\n"
                              "23.457\t3.5\t900.0\t3.25\t812.5\t0.062\t0.5\t\t1000.062\t-0.0\t2.0\n");
    free(text);
}

/* scores_tsv_read takes back what scores_tsv_write wrote, and names the line and column of a bad one. */
static void test_scores_tsv_read(void **state) {
    (void)state;
    const char *path = tmp_path("scores_read.tsv");
    EvalScores s, r;
    memset(&s, 0, sizeof s);
    s.bleu.score = 23.456789;
    s.AL = 3.25;
    s.LAAL = NAN;
    s.AP = -0.75;
    s.DAL = 4.125;
    s.ATD = 1.5;
    assert_int_equal(scores_tsv_write(path, &s), 0);
    assert_int_equal(scores_tsv_read(path, &r), 0);
    assert_int_equal(r.has_ca, 0);
    assert_close(r.bleu.score, 23.457, 0);
    assert_close(r.AP, -0.75, 0);
    assert_close(r.ATD, 1.5, 0);
    assert_true(isnan(r.LAAL));
    assert_int_equal(r.n, 0);
    s.has_ca = 1;
    s.AL_CA = 812.5;
    s.LAAL_CA = 900;
    s.AP_CA = NAN;
    s.DAL_CA = 1000.0625;
    s.ATD_CA = 3;
    assert_int_equal(scores_tsv_write(path, &s), 0);
    assert_int_equal(scores_tsv_read(path, &r), 0);
    assert_int_equal(r.has_ca, 1);
    assert_close(r.AL_CA, 812.5, 0);
    assert_close(r.DAL_CA, 1000.062, 0);
    assert_close(r.ATD_CA, 3, 0);
    assert_true(isnan(r.AP_CA));

#define H6 "BLEU\tLAAL\tAL\tAP\tDAL\tATD\n"
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", ": empty, expected a header line and a line of scores"},
        {"BLEU\tLAAL\tAL\tAP\tDAL\n1\t2\t3\t4\t5\n", ":1: header is 'BLEU\tLAAL\tAL\tAP\tDAL', expected"},
        {"BLEU\tchrF\tAL\tLAAL\tAP\tDAL\n1\t2\t3\t4\t5\t6\n", ":1: header is"}, /* proact's older layout */
        {H6, ": no line of scores after the header"},
        {H6 "1\t2\t3\t4\t5\t6\n\n", ":3: a line after the scores"},
        {H6 "1\t2\t3\t4\t5\n", ":2: 5 values, expected 6"},
        {H6 "1\t2\t3\t4\t5\t6\t7\n", ":2: 7 values, expected 6"},
        {H6 "\t2\t3\t4\t5\t6\n", ":2: column 'BLEU' is not a number: ''"},
        {H6 "1\t2\t3\t4.5x\t5\t6\n", ":2: column 'AP' is not a number or empty: '4.5x'"},
        {H6 "1\t2\tnan\t4\t5\t6\n", ":2: column 'AL' is not a number or empty: 'nan'"},
        {H6 "1\t2\t3\t4\t5\tinf\n", ":2: column 'ATD' is not a number or empty: 'inf'"},
        {H6 "1\t 2\t3\t4\t5\t6\n", ":2: column 'LAAL' is not a number or empty: ' 2'"},
    };
#undef H6
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_file(path, cases[c].text);
        r.AL = 7;
        if (scores_tsv_read(path, &r) != -1) fail_msg("case %zu: read did not fail", c);
        assert_true(r.AL == 0 && r.has_ca == 0);
        char want[PX_PATH_MAX + 128];
        snprintf(want, sizeof want, "%s%s", path, cases[c].want);
        if (!strstr(px_error_message(), want)) fail_msg("case %zu: error '%s' lacks '%s'", c, px_error_message(), want);
    }
    assert_int_equal(scores_tsv_read(tmp_path("missing.tsv"), &r), -1);
    assert_non_null(strstr(px_error_message(), "missing.tsv: cannot open"));
}

/* ---- the real SimulEval on proact eval directories (tests/data/metrics/simuleval) ----------- */

static char *fixture_text(const char *dir, const char *file) {
    char path[PX_PATH_MAX];
    snprintf(path, sizeof path, "%s/tests/data/metrics/simuleval/%s/%s", PROACT_SOURCE_DIR, dir, file);
    char *text = read_file(path);
    if (!text) fail_msg("cannot read %s", path);
    return text;
}

/* Line k (0-based) of text, tab-split field f, as a new string. */
static char *tsv_field(const char *text, int line, int f) {
    const char *p = text;
    for (int l = 0; l < line; l++) p = strchr(p, '\n') + 1;
    for (int k = 0; k < f; k++) p = strchr(p, '\t') + 1;
    size_t len = strcspn(p, "\t\n");
    char *out = malloc(len + 1);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static int tsv_columns(const char *text) {
    int n = 1;
    for (const char *p = text; *p && *p != '\n'; p++) n += *p == '\t';
    return n;
}

/* A directory that `proact eval` wrote and that SimulEval 1.1.4 scored (generate.py): proact's
 * scores of its instances.log equal SimulEval's unrounded ones, its scores.tsv is byte for byte the
 * one SimulEval's dump_results wrote, and with the *_CA columns each column equals SimulEval's
 * --computation-aware run's column of that name. (That run also makes the plain columns
 * computation-aware: SimulEval 1.1.4's from_args passes --computation-aware to both scorers; proact
 * keeps them plain.) */
static void check_simuleval_dir(const char *dir, LatencyUnit unit) {
    char path[PX_PATH_MAX];
    snprintf(path, sizeof path, "%s/tests/data/metrics/simuleval/%s/instances.log", PROACT_SOURCE_DIR, dir);
    Instance *v;
    int n;
    assert_int_equal(instances_read(path, &v, &n), 0);
    snprintf(path, sizeof path, "%s/tests/data/metrics/simuleval/%s/expected.json", PROACT_SOURCE_DIR, dir);
    json_error_t err;
    json_t *want = json_load_file(path, 0, &err);
    assert_non_null(want);
    assert_string_equal(json_string_value(json_object_get(want, "latency_unit")), latency_unit_name(unit));
    ScoreOptions o;
    score_options_default(&o);
    o.unit = unit;
    for (int ca = 0; ca <= 1; ca++) {
        o.computation_aware = ca;
        EvalScores s;
        assert_int_equal(eval_scores(v, n, &o, &s), 0);
        assert_int_equal(s.has_ca, ca);
        json_t *w = json_object_get(want, ca ? "computation_aware" : "plain");
        const struct {
            const char *key;
            double got;
        } got[] = {{"BLEU", s.bleu.score}, {"LAAL", s.LAAL},     {"AL", s.AL},           {"AP", s.AP},
                   {"DAL", s.DAL},         {"ATD", s.ATD},       {"LAAL_CA", s.LAAL_CA}, {"AL_CA", s.AL_CA},
                   {"AP_CA", s.AP_CA},     {"DAL_CA", s.DAL_CA}, {"ATD_CA", s.ATD_CA}};
        for (size_t k = 0; k < (ca ? 11u : 6u); k++) {
            if (ca && k >= 1 && k <= 5) continue; /* SimulEval's plain columns are CA here (above) */
            json_t *x = json_object_get(w, got[k].key);
            assert_true(json_is_number(x));
            double e = json_number_value(x);
            if (fabs(got[k].got - e) > 1e-9 * (1 + fabs(e)))
                fail_msg("%s %s: proact %.15g, SimulEval %.15g", dir, got[k].key, got[k].got, e);
        }
        const char *tsv = tmp_path("simuleval.tsv");
        assert_int_equal(scores_tsv_write(tsv, &s), 0);
        char *ours = read_file(tsv);
        char *theirs = fixture_text(dir, ca ? "scores-ca.simuleval.tsv" : "scores.simuleval.tsv");
        if (!ca) assert_string_equal(ours, theirs);
        assert_int_equal(tsv_columns(ours), tsv_columns(theirs));
        for (int c = 0; c < tsv_columns(ours); c++) {
            char *name = tsv_field(ours, 0, c), *mine = tsv_field(ours, 1, c);
            char *their_name = tsv_field(theirs, 0, c), *their_value = tsv_field(theirs, 1, c);
            assert_string_equal(name, their_name); /* the same columns in the same order */
            if (!ca || c == 0 || strstr(name, "_CA")) assert_string_equal(mine, their_value);
            free(name);
            free(mine);
            free(their_name);
            free(their_value);
        }
        free(ours);
        free(theirs);
    }
    char *config = fixture_text(dir, "config.yaml");
    assert_int_equal(simuleval_config_write(tmp_path("config.yaml")), 0);
    char *mine = read_file(tmp_path("config.yaml"));
    assert_string_equal(mine, config);
    free(mine);
    free(config);
    json_decref(want);
    for (int i = 0; i < n; i++) instance_free(&v[i]);
    free(v);
}

static void test_simuleval_score_only(void **state) {
    (void)state;
    check_simuleval_dir("eval-word", LATENCY_UNIT_WORD);
    check_simuleval_dir("eval-char", LATENCY_UNIT_CHAR);
}

static void test_lines_read(void **state) {
    (void)state;
    const char *path = tmp_path("lines.txt");
    char **l;
    int n;
    write_file(path, "one\r\n\ntwo «2»\nlast");
    assert_int_equal(lines_read(path, &l, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(l[0], "one");
    assert_string_equal(l[1], "");
    assert_string_equal(l[2], "two «2»");
    assert_string_equal(l[3], "last");
    free(l);
    write_file(path, "a\nb\n");
    assert_int_equal(lines_read(path, &l, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(l[1], "b");
    free(l);
    write_file(path, "\n");
    assert_int_equal(lines_read(path, &l, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0], "");
    free(l);
    write_file(path, "");
    assert_int_equal(lines_read(path, &l, &n), 0);
    assert_int_equal(n, 0);
    free(l);
    write_file(path, "ok\nfine\nbad \xe2\x82 here\n");
    assert_int_equal(lines_read(path, &l, &n), -1);
    char want[PX_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:3: invalid UTF-8 at byte 5", path);
    assert_non_null(strstr(px_error_message(), want));
    FILE *f = fopen(path, "wb");
    fwrite("a\nb\0c\n", 1, 6, f);
    fclose(f);
    assert_int_equal(lines_read(path, &l, &n), -1);
    assert_non_null(strstr(px_error_message(), ":2: holds a NUL byte"));
    assert_int_equal(lines_read(tmp_path("nope.txt"), &l, &n), -1);
    assert_non_null(strstr(px_error_message(), "nope.txt: cannot open"));
}

/* ---- the plot ---------------------------------------------------------------------------------- */

static void expect_ticks(double lo, double hi, int intervals, double t0, double t1, double step, int n) {
    PlotTicks t;
    assert_int_equal(plot_nice_ticks(lo, hi, intervals, &t), 0);
    if (fabs(t.lo - t0) > 1e-12 || fabs(t.hi - t1) > 1e-12 || fabs(t.step - step) > 1e-12 || t.n != n)
        fail_msg("%g..%g/%d: got %g..%g step %g n %d, expected %g..%g step %g n %d", lo, hi, intervals, t.lo, t.hi,
                 t.step, t.n, t0, t1, step, n);
}

static void test_plot_ticks(void **state) {
    (void)state;
    expect_ticks(0.37, 9.2, 5, 0, 10, 2, 6);
    expect_ticks(0, 1, 5, 0, 1, 0.2, 6);
    expect_ticks(0.6, 1.2, 3, 0.6, 1.2, 0.2, 4); /* 0.6 / 0.2 is 2.9999999999999996 */
    expect_ticks(13.2, 27.9, 5, 10, 30, 5, 5);
    expect_ticks(-3.5, 2, 5, -4, 2, 2, 4);
    expect_ticks(1200, 4800, 6, 1000, 5000, 1000, 5);
    expect_ticks(0.0021, 0.0094, 5, 0.002, 0.01, 0.002, 5);
    expect_ticks(9.2, 0.37, 5, 0, 10, 2, 6); /* reversed */
    expect_ticks(5, 5, 5, 4.4, 5.6, 0.2, 7); /* one value: +-10% */
    expect_ticks(0, 0, 5, 0, 1, 0.2, 6);
    expect_ticks(-20, -20, 5, -22, -18, 1, 5);
    PlotTicks t;
    assert_int_equal(plot_nice_ticks(NAN, 1, 5, &t), -1);
    assert_int_equal(plot_nice_ticks(0, INFINITY, 5, &t), -1);

    char b[32];
    plot_tick_label(0.4, 0.2, b, sizeof b);
    assert_string_equal(b, "0.4");
    plot_tick_label(10, 2, b, sizeof b);
    assert_string_equal(b, "10");
    plot_tick_label(0.05, 0.05, b, sizeof b);
    assert_string_equal(b, "0.05");
    plot_tick_label(-1e-17, 0.2, b, sizeof b);
    assert_string_equal(b, "0.0");
    plot_tick_label(3000, 1000, b, sizeof b);
    assert_string_equal(b, "3000");
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_plot_svg(void **state) {
    (void)state;
    double x1[] = {1.2, 2.5, NAN, 4.1, 6.3}, y1[] = {14.1, 19.8, 21, 23.5, INFINITY};
    double x2[] = {3.0, 3.9, 5.2}, y2[] = {18.0, 20.5, 22.2};
    const char *const labels1[] = {"τ=0.5", "τ=1", "τ=1.5", "τ=2 <&>", "τ=3"};
    PlotSeries s[] = {
        {"H <&> \"q\" 'x'", x1, y1, 5, labels1},
        {"wait-k with a legend label far too long to fit", x2, y2, 3, NULL},
    };
    const char *path = tmp_path("plot.svg");
    assert_int_equal(plot_svg_write(path, "BLEU vs AL — en→de", "AL (source words)", "BLEU", s, 2), 0);
    char *svg = read_file(path);
    size_t len = strlen(svg);
    assert_true(strncmp(svg, "<svg ", 5) == 0);
    assert_true(len > 7 && strcmp(svg + len - 7, "</svg>\n") == 0);
    assert_non_null(strstr(svg, ">H &lt;&amp;&gt; &quot;q&quot; &apos;x&apos;</text>"));
    assert_non_null(strstr(svg, ">wait-k with a le\xE2\x80\xA6</text>")); /* cut to 17 characters */
    assert_non_null(strstr(svg, "BLEU vs AL — en→de"));
    assert_non_null(strstr(svg, "τ=2 &lt;&amp;&gt;"));
    assert_null(strstr(svg, "τ=1.5")); /* its point is not finite */
    assert_int_equal(count(svg, "class=\"marker\""), 3 + 3);
    assert_int_equal(count(svg, "class=\"legend-marker\""), 2);
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "inf"));
    assert_int_equal(count(svg, "<"), count(svg, ">")); /* every tag closed; no raw < or > in text */
    free(svg);

    /* one point; all-equal values; nothing finite at all; no series */
    double one_x[] = {2.5}, one_y[] = {30}, eq_x[] = {1, 1, 1}, eq_y[] = {0, 0, 0}, bad[] = {NAN, INFINITY};
    PlotSeries one = {"one", one_x, one_y, 1, NULL}, eq = {"equal", eq_x, eq_y, 3, NULL},
               none = {"none", bad, bad, 2, NULL};
    const struct {
        const PlotSeries *s;
        int n, markers;
    } edge[] = {{&one, 1, 1}, {&eq, 1, 3}, {&none, 1, 0}, {NULL, 0, 0}};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        assert_int_equal(plot_svg_write(path, "t", "x", "y", edge[i].s, edge[i].n), 0);
        svg = read_file(path);
        assert_true(strncmp(svg, "<svg ", 5) == 0);
        assert_int_equal(count(svg, "class=\"marker\""), edge[i].markers);
        assert_null(strstr(svg, "nan"));
        assert_null(strstr(svg, "inf"));
        if (edge[i].markers == 0) assert_non_null(strstr(svg, "no data"));
        free(svg);
    }
    /* invalid UTF-8 and control characters in labels still give a well-formed file */
    PlotSeries odd = {"bad \xff byte\x01", one_x, one_y, 1, NULL};
    assert_int_equal(plot_svg_write(path, "t\x02", NULL, NULL, &odd, 1), 0);
    svg = read_file(path);
    assert_non_null(strstr(svg, "bad \xEF\xBF\xBD byte "));
    free(svg);
    PlotSeries broken = {"x", NULL, NULL, 3, NULL};
    assert_int_equal(plot_svg_write(path, "t", "x", "y", &broken, 1), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_equal_their_parts),
        cmocka_unit_test(test_no_output_anywhere_and_errors),
        cmocka_unit_test(test_computation_aware),
        cmocka_unit_test(test_instances_round_trip),
        cmocka_unit_test(test_instances_simuleval_style),
        cmocka_unit_test(test_instances_errors),
        cmocka_unit_test(test_scores_tsv),
        cmocka_unit_test(test_scores_tsv_read),
        cmocka_unit_test(test_simuleval_score_only),
        cmocka_unit_test(test_lines_read),
        cmocka_unit_test(test_plot_ticks),
        cmocka_unit_test(test_plot_svg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
