/* tokenize.c — `proact tokenize`: token ids of each line of stdin (or text of each line of ids); with
 * --null the records end with NUL bytes instead (texts that hold newlines).
 * Recipe: load tokenizer.json -> read stdin in chunks as it arrives -> for each complete line:
 * encode (or decode) -> buffered output, flushed after every chunk so that it streams. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tokenizer_json.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"

#define CHUNK (1 << 20)

typedef struct {
    char *s;
    size_t n, cap;
} Bytes;

static int bytes_reserve(Bytes *b, size_t extra) {
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : CHUNK;
    while (cap < b->n + extra) cap *= 2;
    char *bigger = realloc(b->s, cap);
    if (!bigger) return px_error("out of memory (%zu bytes)", cap);
    b->s = bigger;
    b->cap = cap;
    return 0;
}

/* Writes all of b to stdout and empties it. */
static int flush_out(Bytes *b) {
    for (size_t done = 0; done < b->n;) {
        ssize_t k = write(STDOUT_FILENO, b->s + done, b->n - done);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return px_error("cannot write to stdout: %s", strerror(errno));
        done += (size_t)k;
    }
    b->n = 0;
    return 0;
}

/* Appends the decimal ids separated by spaces, and the record end. */
static int put_ids(Bytes *out, const int *ids, size_t n, char end) {
    if (bytes_reserve(out, 12 * n + 1)) return -1;
    char *o = out->s + out->n;
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ' ';
        char tmp[12];
        int k = 0;
        unsigned v = (unsigned)ids[i]; /* ids are non-negative */
        do tmp[k++] = (char)('0' + v % 10);
        while (v /= 10);
        while (k) *o++ = tmp[--k];
    }
    *o++ = end;
    out->n = (size_t)(o - out->s);
    return 0;
}

/* Parses a line of space-separated ids into *ids. */
static int parse_ids(const char *s, size_t len, long line_no, IdVec *ids) {
    ids->n = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        long v = 0;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && v <= 1L << 31) v = v * 10 + (s[i++] - '0');
        if (i == start || v > 1L << 31 || (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r'))
            return px_error("stdin line %ld: '%.*s' is not a token id", line_no, (int)PX_MIN(len - start, 20),
                            s + start);
        if (idvec_push(ids, (int)v)) return -1;
    }
    return 0;
}

typedef struct {
    const Tokenizer *tok;
    int decode;
    char end; /* what ends a record, in and out: '\n' (or NUL with --null) */
    long line_no;
    IdVec ids;
    Bytes out;
} Job;

static int do_line(Job *job, const char *s, size_t len) {
    job->line_no++;
    if (!job->decode) {
        job->ids.n = 0;
        return tokenizer_encode(job->tok, s, len, &job->ids) || put_ids(&job->out, job->ids.ids, job->ids.n, job->end)
                   ? -1
                   : 0;
    }
    char *text;
    size_t n;
    if (parse_ids(s, len, job->line_no, &job->ids) ||
        tokenizer_decode(job->tok, job->ids.ids, job->ids.n, 0, &text, &n))
        return -1;
    int rc = bytes_reserve(&job->out, n + 1);
    if (rc == 0) {
        memcpy(job->out.s + job->out.n, text, n);
        job->out.s[job->out.n + n] = job->end;
        job->out.n += n + 1;
    }
    free(text);
    return rc;
}

/* Reads stdin to the end, handing over each record as soon as it is complete. */
static int run(Job *job, size_t *bytes_in) {
    Bytes in = {0};
    int rc = 0;
    for (;;) {
        if ((rc = bytes_reserve(&in, CHUNK))) break;
        ssize_t k = read(STDIN_FILENO, in.s + in.n, in.cap - in.n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = px_error("cannot read stdin: %s", strerror(errno));
            break;
        }
        *bytes_in += (size_t)k;
        size_t start = 0, end = in.n + (size_t)k;
        for (char *nl; rc == 0 && (nl = memchr(in.s + start, job->end, end - start));) {
            rc = do_line(job, in.s + start, (size_t)(nl - in.s) - start);
            start = (size_t)(nl - in.s) + 1;
        }
        if (rc == 0 && k == 0 && start < end)
            rc = do_line(job, in.s + start, end - start), start = end; /* no final \n */
        memmove(in.s, in.s + start, end - start);
        in.n = end - start;
        if (rc == 0) rc = flush_out(&job->out); /* after every read: output streams with the input */
        if (rc || k == 0) break;
    }
    free(in.s);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL;
    int decode = 0, timing = 0, null = 0, fingerprint = 0, opt_status;
    const Opt table[] = {
        OPT("tokenizer", 't', OPT_STRING, &path, "tokenizer.json", "the tokenizer", .flags = OPT_REQUIRED),
        OPT("decode", 'd', OPT_FLAG, &decode, NULL,
            "read lines of space-separated ids and print the decoded\n"
            "text of each"),
        OPT("null", 'z', OPT_FLAG, &null, NULL,
            "records end with a NUL byte instead of a newline, in the\n"
            "input and the output (texts with newlines)"),
        OPT("fingerprint", 0, OPT_FLAG, &fingerprint, NULL,
            "print the tokenizer's fingerprint (16 hex digits, what token\n"
            "shards record and train compares) and exit; stdin is not read"),
        OPT("timing", 0, OPT_FLAG, &timing, NULL,
            "print the load and encode times (seconds) to stderr as one\n"
            "JSON line"),
        {0}};
    Opts o = {.command = "tokenize", .opts = table};
    o.usage = "proact tokenize --tokenizer tokenizer.json [options] < input\n"
              "       proact tokenize --tokenizer tokenizer.json --fingerprint";
    o.about = "Encodes each line of stdin with a Hugging Face tokenizer.json (byte-level BPE) and prints its\n"
              "token ids separated by spaces, one output line per input line. No special tokens are added;\n"
              "the newline ending a line is not part of it (a '\\r' before it is, like any character);\n"
              "invalid UTF-8 is read as U+FFFD. An empty line gives an empty line.\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    double t0 = runtime_now();
    Tokenizer *tok;
    if (tokenizer_load(path, &tok)) return job_fail(px_error_message());
    if (fingerprint) { /* two files are the same tokenizer when this agrees, whatever their layout */
        printf("%016" PRIx64 "\n", tokenizer_fingerprint(tok));
        tokenizer_free(tok);
        return fflush(stdout) == 0 ? 0 : job_fail("cannot write to stdout");
    }
    double t1 = runtime_now();
    Job job = {.tok = tok, .decode = decode, .end = null ? '\0' : '\n'};
    size_t bytes_in = 0;
    int rc = run(&job, &bytes_in);
    double t2 = runtime_now();
    idvec_free(&job.ids);
    free(job.out.s);
    tokenizer_free(tok);
    if (rc) return job_fail(px_error_message());
    if (timing) fprintf(stderr, "{\"load_s\": %.6f, \"encode_s\": %.6f, \"bytes\": %zu}\n", t1 - t0, t2 - t1, bytes_in);
    return 0;
}
