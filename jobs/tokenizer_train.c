/* tokenizer_train.c — `proact tokenizer train`: learn a byte-level BPE from text files and write
 * a Hugging Face tokenizer.json.
 * Recipe: read every file line by line -> split each line at tabs (a TSV of pairs gives both
 * columns; plain text gives whole lines) -> count the words of each field (src/text/bpe_train.c)
 * -> merge up to the vocabulary size -> write tokenizer.json (io/tokenizer_write.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tokenizer_write.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/text/bpe_train.h"

#define MAX_VOCAB 1000000

static void usage_main(FILE *out) {
    fprintf(out,
            "usage: proact tokenizer train --vocab-size N -o tokenizer.json [--min-frequency 2] [--compact] FILE...\n\n"
            "Tokenizer tools.\n\n"
            "subcommands:\n"
            "  train   learn a byte-level BPE from text files and write a Hugging Face tokenizer.json\n\n"
            "proact tokenizer train --help for its options.\n");
}

/* A whole decimal number in [lo, hi]; -1 with px_error naming the option otherwise. */
static int parse_long(const char *s, long lo, long hi, const char *what, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return px_error("%s: '%s' is not a whole number", what, s);
    if (v < lo || v > hi) return px_error("%s: %ld is outside %ld..%ld", what, v, lo, hi);
    *out = v;
    return 0;
}

/* --vocab-size and --min-frequency (OPT_CUSTOM: their messages say which of the two is wrong) */
static int parse_vocab_size(const char *name, const char *arg, void *dest) {
    return parse_long(arg, BPE_MIN_VOCAB, MAX_VOCAB, name, dest);
}

static int parse_min_frequency(const char *name, const char *arg, void *dest) {
    return parse_long(arg, 1, 1000000000L, name, dest);
}

/* Feeds every tab-separated field of every line of the file to the trainer. */
static int read_file(BpeTrainer *tr, const char *path, long long *lines) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return px_error("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    errno = 0;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        (*lines)++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t start = 0;
        for (size_t i = 0; i <= len && rc == 0; i++) {
            if (i == len || line[i] == '\t') {
                if (i > start) rc = bpe_trainer_add_text(tr, line + start, i - start);
                start = i + 1;
            }
        }
        if (rc) break;
    }
    if (rc == 0 && ferror(fp)) rc = px_error("%s: read error: %s", path, strerror(errno ? errno : EIO));
    free(line);
    fclose(fp);
    return rc;
}

typedef struct {
    int next_report; /* the merge count of the next progress line */
    int step;
    double t0;
} Progress;

static void on_progress(int merges_done, int vocab_now, int vocab_target, int64_t last_count, void *ctx) {
    Progress *p = ctx;
    if (merges_done < p->next_report) return;
    printf("  merges %7d | vocab %7d/%d | last pair count %lld | %.1f s\n", merges_done, vocab_now, vocab_target,
           (long long)last_count, runtime_now() - p->t0);
    fflush(stdout);
    p->next_report += p->step;
}

static int tokenizer_train(int argc, char **argv) {
    const char *out_path = NULL;
    long vocab_size = 0, min_freq = 2;
    int compact = 0, opt_status;
    char vocab_help[96];
    snprintf(vocab_help, sizeof vocab_help, "vocabulary size including the %d special and byte tokens\n(%d..%d)",
             BPE_MIN_VOCAB, BPE_MIN_VOCAB, MAX_VOCAB);
    const Opt table[] = {
        OPT("vocab-size", 0, OPT_CUSTOM, &vocab_size, "N", vocab_help, .parse = parse_vocab_size,
            .flags = OPT_REQUIRED),
        OPT("output", 'o', OPT_STRING, &out_path, "FILE", "the tokenizer.json to write", .flags = OPT_REQUIRED),
        OPT("min-frequency", 0, OPT_CUSTOM, &min_freq, "N",
            "merge only pairs that occur at least N times (default 2);\n"
            "the vocabulary is smaller than N when the text runs out\nof such pairs",
            .parse = parse_min_frequency),
        OPT("compact", 0, OPT_FLAG, &compact, NULL,
            "write the JSON without whitespace (about 40% smaller); by\n"
            "default it is indented, one vocabulary entry and one\nmerge per line"),
        {0}};
    Opts o = {.command = "tokenizer train", .opts = table, .arg_name = "FILE...", .min_args = 1};
    o.about = "Learns a byte-level BPE tokenizer (GPT-2 / Llama 3 / Qwen2 style) from the text of the FILEs and\n"
              "writes it as a Hugging Face tokenizer.json.\n\n"
              "Every line of every FILE is split at tabs, and each field is trained on as one text without its\n"
              "line end: a TSV of (source, target) pairs gives both columns; plain text gives whole lines.\n"
              "Text is NFC-normalized (invalid UTF-8 becomes U+FFFD) and split into words by the Qwen2 /\n"
              "Llama 3 pre-tokenizer regex (a word keeps its leading space; digits stay single).\n\n"
              "ids: <pad> 0, <src> 1, </src> 2, <tgt> 3, </tgt> 4, <|endoftext|> 5 (special tokens), then the\n"
              "256 bytes, then one token per merge. The most frequent adjacent pair is merged first; ties go to\n"
              "the pair with the smallest (left id, right id), as in Hugging Face's BpeTrainer.\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    double t0 = runtime_now();
    BpeTrainer *tr = bpe_trainer_new();
    if (!tr) return job_fail(px_error_message());
    int n_files = o.n_args;
    for (int i = 0; i < n_files; i++) {
        long long lines = 0;
        BpeTrainerStats before = bpe_trainer_stats(tr);
        if (read_file(tr, o.args[i], &lines)) {
            bpe_trainer_free(tr);
            return job_fail(px_error_message());
        }
        BpeTrainerStats now = bpe_trainer_stats(tr);
        printf("read %s: %lld lines, %.2f MB, %lld words (%lld distinct so far) | %.1f s\n", o.args[i], lines,
               (now.bytes - before.bytes) / 1e6, (long long)(now.pieces - before.pieces), (long long)now.distinct,
               runtime_now() - t0);
        fflush(stdout);
    }
    BpeTrainerStats st = bpe_trainer_stats(tr);
    if (st.pieces == 0) {
        bpe_trainer_free(tr);
        px_error("no text to train on in the %d file%s given", n_files, n_files == 1 ? "" : "s");
        return job_fail(px_error_message());
    }
    if (st.replaced) printf("note: %lld invalid UTF-8 sequences were read as U+FFFD\n", (long long)st.replaced);

    double t1 = runtime_now();
    int target_merges = (int)vocab_size - BPE_MIN_VOCAB;
    Progress prog = {.step = target_merges >= 10 ? target_merges / 10 : 1, .t0 = t1};
    prog.next_report = prog.step;
    BpeTrainParams params = {
        .vocab_size = (int)vocab_size, .min_frequency = min_freq, .progress = on_progress, .progress_ctx = &prog};
    BpeResult res;
    printf("training: vocab %ld (%d merges wanted), min frequency %ld\n", vocab_size, target_merges, min_freq);
    int rc = bpe_trainer_train(tr, &params, &res);
    bpe_trainer_free(tr);
    if (rc) return job_fail(px_error_message());
    double t2 = runtime_now();
    if (res.n_tokens < vocab_size)
        printf("note: vocabulary stopped at %d: no pair left that occurs at least %ld times\n", res.n_tokens, min_freq);
    if (tokenizer_write_json(out_path, &res, compact)) {
        bpe_result_free(&res);
        return job_fail(px_error_message());
    }
    printf("wrote %s: vocab %d (%d special + 256 bytes + %d merged tokens), %d merges\n", out_path, res.n_tokens,
           res.n_special, res.n_tokens - BPE_MIN_VOCAB, res.n_merges);
    printf("summary: %d file%s, %.2f MB, %lld words (%lld distinct), %d merges | read %.1f s, train %.1f s, "
           "total %.1f s\n",
           n_files, n_files == 1 ? "" : "s", st.bytes / 1e6, (long long)st.pieces, (long long)st.distinct, res.n_merges,
           t1 - t0, t2 - t1, runtime_now() - t0);
    bpe_result_free(&res);
    return 0;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(argv[1], "train") == 0) return tokenizer_train(argc - 1, argv + 1);
    fprintf(stderr, "proact tokenizer: error: unknown subcommand '%s' (expected: train)\n", argv[1]);
    return 2;
}
