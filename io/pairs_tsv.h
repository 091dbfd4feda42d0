/* pairs_tsv.h — read a TSV of (source TAB target) pairs, check every line, and tokenize the
 * good ones word by word into a ShardWriter (docs/design.md §2.1, docs/formats.md). */
#ifndef PROACT_PAIRS_TSV_H
#define PROACT_PAIRS_TSV_H

#include <stdio.h>

#include "io/shards.h"
#include "src/text/tokenizer.h"

enum { PAIRS_NO_TAB, PAIRS_TABS, PAIRS_EMPTY_SRC, PAIRS_EMPTY_TGT, PAIRS_UTF8, PAIRS_LONG, PAIRS_N_REASONS };

typedef struct {
    long lines, kept, skipped[PAIRS_N_REASONS];
    long first_bad_line;
    char first_bad[256];
    long src_tokens, tgt_tokens, src_words, tgt_words;
} PairsStats;

/* Called for every malformed line (the caller decides what to print). */
typedef void (*PairsReport)(void *ctx, const char *path, long line, const char *why);

const char *pairs_reason_name(int reason);
long pairs_skipped(const PairsStats *st);

/* Adds every good line of `path` to w; counts and reports the others. Lines longer than
 * max_tokens tokens on a side are malformed. With strict, any malformed line is an error
 * naming the first one. Fails (px_error) on I/O errors or when no line is usable. */
int pairs_tsv_read(const char *path, const Tokenizer *t, int max_tokens, int strict, ShardWriter *w, PairsStats *st,
                   PairsReport report, void *report_ctx);

#endif
