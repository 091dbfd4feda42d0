/* schedule.c — `proact schedule`: which student rows a read schedule trains, as a histogram of lags.
 * Recipe: the config (with --set) gives the schedule, --schedule may replace it by a spec -> open the
 * data (io/dataset.h) and read each chosen example's source and target word counts -> draw one
 * schedule per example (schedule_lag_histogram) -> print the words per lag bucket, as a table or
 * JSON. Nothing is trained: this is how to see what a sampler asks of the student before paying for
 * a run (docs/method.md, "What the samplers train"). */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/dataset.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/train/schedule.h"

/* Reports the first 20 malformed lines of a .tsv; all are counted. */
/* The source and target word counts of `count` examples spread evenly over the data set (all of
 * them when count is its size), read in chunks. */
static int read_lengths(Dataset *d, int64_t count, int *n, int *m) {
    enum { CHUNK = 512 };
    int64_t idx[CHUNK];
    for (int64_t at = 0; at < count; at += CHUNK) {
        const int k = (int)PX_MIN((int64_t)CHUNK, count - at);
        for (int i = 0; i < k; i++) idx[i] = (int64_t)((double)(at + i) * (double)d->n_examples / (double)count);
        PairSet ps = {0};
        if (dataset_get(d, idx, k, &ps)) return -1;
        for (int i = 0; i < k; i++) {
            n[at + i] = pair_src_words(&ps, i);
            m[at + i] = pair_tgt_words(&ps, i);
        }
        pair_set_free(&ps);
    }
    return 0;
}

static int64_t total_words(const LagHistogram *h) {
    int64_t w = 0;
    for (int b = 0; b < LAG_BUCKETS; b++) w += h->words[b];
    return w;
}

static void print_table(const LagHistogram *h, const char *spec, const char *data, uint64_t seed) {
    const int64_t words = total_words(h);
    printf("schedule %s\ndata %s: %lld examples, %lld target words (seed %llu)\n\n", spec, data, (long long)h->examples,
           (long long)words, (unsigned long long)seed);
    printf("%-6s %12s %8s\n", "lag", "words", "share");
    for (int b = 0; b < LAG_BUCKETS; b++)
        printf("%-6s %12lld %7.1f%%\n", lag_bucket_name(b), (long long)h->words[b],
               words ? 100.0 * (double)h->words[b] / (double)words : 0.0);
}

static int print_json(const LagHistogram *h, const char *spec, const char *data, uint64_t seed) {
    const int64_t words = total_words(h);
    json_t *root = json_object(), *buckets = json_array();
    int bad = !root || !buckets;
    for (int b = 0; !bad && b < LAG_BUCKETS; b++)
        bad = json_array_append_new(buckets, json_pack("{s:s, s:I, s:f}", "lag", lag_bucket_name(b), "words",
                                                       (json_int_t)h->words[b], "share",
                                                       words ? (double)h->words[b] / (double)words : 0.0));
    if (!bad)
        bad = json_object_set_new(root, "schedule", json_string(spec)) ||
              json_object_set_new(root, "data", json_string(data)) ||
              json_object_set_new(root, "seed", json_integer((json_int_t)seed)) ||
              json_object_set_new(root, "examples", json_integer((json_int_t)h->examples)) ||
              json_object_set_new(root, "words", json_integer((json_int_t)words)) ||
              json_object_set_new(root, "buckets", buckets);
    else json_decref(buckets);
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) return px_error("cannot build the JSON output (out of memory, or a path that is not UTF-8)");
    puts(text);
    free(text);
    return 0;
}

int cmd_schedule(int argc, char **argv) {
    const char *config_path = NULL, *data = NULL, *spec_arg = NULL;
    const char *set_items[64];
    OptList sets = {set_items, 0, 64};
    int64_t samples = 0;
    uint64_t seed = 0;
    int want_json = 0, opt_status;
    const Opt table[] = {
        OPT("config", 'c', OPT_STRING, &config_path, "FILE", "the config (.ini); default: the built-in defaults"),
        OPT("set", 's', OPT_LIST, &sets, "section.key=value", "override a config value (repeatable, at most 64)"),
        OPT("schedule", 'S', OPT_STRING, &spec_arg, "SPEC",
            "a schedule spec instead of the config's, e.g.\n"
            "band:min_lag=1,max_lag=3,p_full=0.1"),
        OPT("data", 'd', OPT_STRING, &data, "train.h5|train.tsv",
            "the pairs (default: data.train); a .tsv is tokenized\n"
            "with data.tokenizer, data.template, data.max_tokens"),
        OPT("samples", 'n', OPT_I64, &samples, "N", "examples, spread evenly over the data (default: all)", .min = 1,
            .max = INT_MAX),
        OPT("seed", 'r', OPT_U64, &seed, "S", "seed of the schedules (default: train.seed)"),
        OPT("json", 'j', OPT_FLAG, &want_json, NULL, "print one JSON object instead of the table"),
        {0}};
    Opts o = {.command = "schedule", .opts = table};
    o.about = "Draws one read schedule per example, as training would, and counts the target words (the\n"
              "student rows that predict them) by lag = g(j) - (j - 1), source words read minus target words\n"
              "already written: below 0, 0 .. 5, 6 or more, and full (the whole source). A wait-k schedule\n"
              "has lag k; a runner with min-lag L never writes below lag L.\n";
    o.notes = "Spec strings: random:k_min=1,k_max=3,mean_step=1,p_full=0.1,lag_floor=none,drift=0 |\n"
              "band:min_lag=1,max_lag=3,p_full=0.1 | waitk:k=3 | cuts | full (docs/method.md).\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;

    ProactConfig cfg;
    if (config_load(&cfg, config_path, sets.items, sets.n)) return job_fail(px_error_message());
    StreamConfig sc = cfg.stream;
    if (spec_arg && schedule_parse(spec_arg, &sc)) {
        config_free(&cfg);
        return job_fail(px_error_message());
    }
    if (!opts_given(&o, "seed")) seed = (uint64_t)cfg.train.seed;
    if (!data) data = cfg.data.train;
    if (!data[0]) {
        config_free(&cfg);
        return opts_usage_error(&o, "no data: give --data or data.train in the config");
    }
    char spec[SCHEDULE_SPEC_MAX];
    Dataset d = {0};
    LagHistogram h;
    int *n = NULL, *m = NULL, status = 0;
    long shown = 0;
    if (schedule_format(&sc, spec, sizeof spec) ||
        dataset_open(data, cfg.data.tokenizer, cfg.data.template_name, cfg.data.max_tokens, &d, job_print_skip, &shown))
        goto fail;
    if (shown > 20) fprintf(stderr, "%s: ... %ld more skipped lines not shown\n", data, shown - 20);
    if (d.n_examples == 0) {
        px_error("%s: no examples", data);
        goto fail;
    }
    const int64_t count = samples && samples < d.n_examples ? samples : d.n_examples;
    if (!(n = px_calloc((size_t)count, sizeof *n, "source lengths")) ||
        !(m = px_calloc((size_t)count, sizeof *m, "target lengths")) || read_lengths(&d, count, n, m) ||
        schedule_lag_histogram(&sc, n, m, count, seed, &h))
        goto fail;
    if (want_json) {
        if (print_json(&h, spec, data, seed)) goto fail;
    } else {
        print_table(&h, spec, data, seed);
    }
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    free(n);
    free(m);
    dataset_free(&d);
    config_free(&cfg);
    return status;
}
