/* prepare.c — `proact prepare`: a TSV of (source TAB target) pairs -> HDF5 token shards.
 * Recipe: load the tokenizer -> tokenize the template -> for each line: check, split into
 * words, tokenize word by word -> write the shards atomically -> print the summary. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "io/pairs_tsv.h"
#include "io/shards.h"
#include "io/tokenizer_json.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/text/template.h"

/* Prints the first 50 malformed lines; all are counted. */
typedef struct {
    long shown;
} Reporter;

static void print_skip(void *ctx, const char *path, long line, const char *why) {
    Reporter *r = ctx;
    if (r->shown++ < 50) fprintf(stderr, "%s:%ld: skipped: %s\n", path, line, why);
}

static void print_summary(const PairsStats *st, const char *input, const char *out, double seconds) {
    printf("prepare: %s -> %s: kept %ld of %ld lines", input, out, st->kept, st->lines);
    if (pairs_skipped(st)) {
        printf("; skipped %ld (", pairs_skipped(st));
        const char *sep = "";
        for (int i = 0; i < PAIRS_N_REASONS; i++)
            if (st->skipped[i]) {
                printf("%s%s: %ld", sep, pairs_reason_name(i), st->skipped[i]);
                sep = ", ";
            }
        printf(")");
    }
    printf("\nprepare: %ld source words / %ld tokens, %ld target words / %ld tokens, %.2f s\n", st->src_words,
           st->src_tokens, st->tgt_words, st->tgt_tokens, seconds);
}

/* --src-lang, --tgt-lang: into a char[32]. */
static int parse_lang(const char *name, const char *arg, void *dest) {
    if (strlen(arg) >= 32) return px_error("%s: expected a language code, got '%.40s...'", name, arg);
    snprintf(dest, 32, "%s", arg);
    return 0;
}

int cmd_prepare(int argc, char **argv) {
    const char *input = NULL, *tok_path = NULL, *out = NULL, *template_name = "plain";
    char src_lang[32] = "", tgt_lang[32] = "";
    int max_tokens = 256, strict = 0, opt_status;
    const Opt table[] = {
        OPT("input", 'i', OPT_STRING, &input, "pairs.tsv", "lines 'source<TAB>target'", .flags = OPT_REQUIRED),
        OPT("tokenizer", 't', OPT_STRING, &tok_path, "tokenizer.json", "the tokenizer", .flags = OPT_REQUIRED),
        OPT("output", 'o', OPT_STRING, &out, "out.h5", "the shard file to write", .flags = OPT_REQUIRED),
        OPT("template", 'T', OPT_STRING, &template_name, "NAME", "plain (default), chatml or llama3"),
        OPT("src-lang", 's', OPT_CUSTOM, src_lang, "CODE", "source language (default: from the input's name)",
            .parse = parse_lang),
        OPT("tgt-lang", 'g', OPT_CUSTOM, tgt_lang, "CODE", "target language (default: from the input's name)",
            .parse = parse_lang),
        OPT("max-tokens", 'm', OPT_INT, &max_tokens, "N",
            "longest side in tokens (default 256); longer lines\n"
            "are skipped",
            .min = 1, .max = INT_MAX),
        OPT("strict", 'S', OPT_FLAG, &strict, NULL, "fail on the first malformed line, writing nothing"),
        {0}};
    Opts o = {.command = "prepare", .opts = table};
    o.about = "Tokenizes each line 'source<TAB>target' word by word (docs/design.md §2.1) into HDF5 token shards\n"
              "(docs/formats.md). Malformed lines (no tab, more than one tab, an empty side, invalid UTF-8,\n"
              "more than --max-tokens tokens on a side) are reported with file:line and skipped; --strict\n"
              "fails instead, writing nothing. The languages default to the 'xx-yy' part of the input\n"
              "name (e.g. john.en-es.train.tsv). The output appears only when complete.\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    if (!src_lang[0] || !tgt_lang[0]) {
        char gs[32], gt[32];
        template_guess_languages(input, gs, gt, sizeof gs);
        if (!src_lang[0]) snprintf(src_lang, sizeof src_lang, "%s", gs);
        if (!tgt_lang[0]) snprintf(tgt_lang, sizeof tgt_lang, "%s", gt);
    }
    const TemplateSpec *spec = template_find(template_name);
    if (!spec) return job_fail(px_error_message());

    double t0 = runtime_now();
    Tokenizer *tok = NULL;
    char *tok_json = NULL;
    size_t tok_len = 0;
    TemplatePieces tt = {0};
    PairsStats st;
    Reporter reporter = {0};
    ShardWriter *writer = NULL;
    int status = 0;
    if (tokenizer_load(tok_path, &tok) || file_read_all(tok_path, &tok_json, &tok_len) ||
        template_tokenize(spec, tok, src_lang, tgt_lang, &tt) || !(writer = shard_writer_new()))
        goto fail;
    int read_rc = pairs_tsv_read(input, tok, max_tokens, strict, writer, &st, print_skip, &reporter);
    if (reporter.shown > 50) fprintf(stderr, "%s: ... %ld more skipped lines not shown\n", input, reporter.shown - 50);
    if (read_rc) goto fail;
    ShardInfo info = {.n_examples = st.kept, .tokenizer_fingerprint = tokenizer_fingerprint(tok), .tp = tt};
    snprintf(info.source, sizeof info.source, "%s", input);
    snprintf(info.src_lang, sizeof info.src_lang, "%s", src_lang);
    snprintf(info.tgt_lang, sizeof info.tgt_lang, "%s", tgt_lang);
    snprintf(info.template_name, sizeof info.template_name, "%s", spec->name);
    int rc = shard_writer_finish(writer, out, &info, tok_json, tok_len);
    writer = NULL; /* freed by finish */
    if (rc) goto fail;
    print_summary(&st, input, out, runtime_now() - t0);
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    shard_writer_free(writer);
    template_pieces_free(&tt);
    free(tok_json);
    tokenizer_free(tok);
    return status;
}
