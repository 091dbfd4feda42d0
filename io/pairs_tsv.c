#include "io/pairs_tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/utf8.h"
#include "src/text/words.h"

static const char *const reason_names[PAIRS_N_REASONS] = {"no tab",       "more than one tab", "empty source",
                                                          "empty target", "invalid UTF-8",     "too long"};

const char *pairs_reason_name(int reason) { return reason_names[reason]; }

long pairs_skipped(const PairsStats *st) {
    long n = 0;
    for (int i = 0; i < PAIRS_N_REASONS; i++) n += st->skipped[i];
    return n;
}

typedef struct {
    const char *path;
    const Tokenizer *tok;
    int max_tokens;
    ShardWriter *writer;
    PairsStats *st;
    PairsReport report;
    void *report_ctx;
    IdVec src, tgt, src_ends, tgt_ends;
} Reader;

static void skip(Reader *r, long line, int reason, const char *why) {
    r->st->skipped[reason]++;
    if (r->st->first_bad_line == 0) {
        r->st->first_bad_line = line;
        snprintf(r->st->first_bad, sizeof r->st->first_bad, "%s", why);
    }
    if (r->report) r->report(r->report_ctx, r->path, line, why);
}

/* Checks and tokenizes one line (without its newline); adds it or reports why not. */
static int read_line(Reader *r, char *line, size_t len, long lineno) {
    char why[200];
    size_t bad;
    if (memchr(line, '\0', len)) {
        skip(r, lineno, PAIRS_UTF8, "NUL byte in line");
        return 0;
    }
    if (!utf8_valid(line, len, &bad)) {
        snprintf(why, sizeof why, "invalid UTF-8 (byte %zu)", bad + 1);
        skip(r, lineno, PAIRS_UTF8, why);
        return 0;
    }
    char *tab = memchr(line, '\t', len);
    if (!tab) {
        skip(r, lineno, PAIRS_NO_TAB, "no tab between source and target");
        return 0;
    }
    if (memchr(tab + 1, '\t', len - (size_t)(tab + 1 - line))) {
        skip(r, lineno, PAIRS_TABS, "more than one tab");
        return 0;
    }
    const char *src = line, *tgt = tab + 1;
    size_t src_len = (size_t)(tab - line), tgt_len = len - src_len - 1;
    r->src.n = r->tgt.n = r->src_ends.n = r->tgt_ends.n = 0;
    int ns = tokenize_words(r->tok, src, src_len, &r->src, &r->src_ends);
    int nt = ns < 0 ? -1 : tokenize_words(r->tok, tgt, tgt_len, &r->tgt, &r->tgt_ends);
    if (ns < 0 || nt < 0) return -1;
    if (ns == 0 || nt == 0) {
        skip(r, lineno, ns == 0 ? PAIRS_EMPTY_SRC : PAIRS_EMPTY_TGT, ns == 0 ? "empty source" : "empty target");
        return 0;
    }
    if (r->src.n > r->max_tokens || r->tgt.n > r->max_tokens) {
        snprintf(why, sizeof why, "too long: %d source and %d target tokens (limit %d)", r->src.n, r->tgt.n,
                 r->max_tokens);
        skip(r, lineno, PAIRS_LONG, why);
        return 0;
    }
    ShardExample ex = {.src_tokens = r->src.ids,
                       .tgt_tokens = r->tgt.ids,
                       .n_src_tokens = r->src.n,
                       .n_tgt_tokens = r->tgt.n,
                       .src_word_ends = r->src_ends.ids,
                       .tgt_word_ends = r->tgt_ends.ids,
                       .n_src_words = ns,
                       .n_tgt_words = nt,
                       .src_text = src,
                       .tgt_text = tgt,
                       .src_text_len = src_len,
                       .tgt_text_len = tgt_len,
                       .line = lineno};
    if (shard_writer_add(r->writer, &ex)) return -1;
    PairsStats *st = r->st;
    st->kept++;
    st->src_tokens += (long)r->src.n;
    st->tgt_tokens += (long)r->tgt.n;
    st->src_words += ns;
    st->tgt_words += nt;
    return 0;
}

int pairs_tsv_read(const char *path, const Tokenizer *t, int max_tokens, int strict, ShardWriter *w, PairsStats *st,
                   PairsReport report, void *report_ctx) {
    memset(st, 0, sizeof *st);
    FILE *fp = fopen(path, "rb");
    if (!fp) return px_error("%s: cannot open: %s", path, strerror(errno));
    Reader r = {.path = path,
                .tok = t,
                .max_tokens = max_tokens,
                .writer = w,
                .st = st,
                .report = report,
                .report_ctx = report_ctx};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (ssize_t n; rc == 0 && (n = getline(&line, &cap, fp)) != -1;) {
        st->lines++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        rc = read_line(&r, line, len, st->lines);
    }
    if (rc == 0 && ferror(fp)) rc = px_error("%s: read error after line %ld", path, st->lines);
    long skipped = pairs_skipped(st);
    if (rc == 0 && strict && skipped)
        rc = px_error("%s: %ld malformed line%s (first: line %ld: %s); --strict", path, skipped,
                      skipped == 1 ? "" : "s", st->first_bad_line, st->first_bad);
    if (rc == 0 && st->kept == 0) rc = px_error("%s: no usable pairs in %ld lines", path, st->lines);
    fclose(fp);
    free(line);
    idvec_free(&r.src);
    idvec_free(&r.tgt);
    idvec_free(&r.src_ends);
    idvec_free(&r.tgt_ends);
    return rc;
}
