/* shards.h — HDF5 token shards: tokenized (source, target) pairs with exact word boundaries.
 *
 * One file holds n examples (layout in docs/formats.md):
 *   /src_tokens, /tgt_tokens          int32, all examples concatenated
 *   /src_offsets, /tgt_offsets        int64 [n+1], token offsets of each example
 *   /src_word_ends, /tgt_word_ends    int32, per word: its end token index inside the example
 *   /src_word_offsets, /tgt_word_offsets  int64 [n+1], offsets into the *_word_ends arrays
 *   /src_text, /tgt_text              uint8, the UTF-8 texts concatenated
 *   /src_text_offsets, /tgt_text_offsets  int64 [n+1]
 *   /lengths                          int32 [n, 4]: source words, source tokens, target words, target tokens
 *   /line                             int64 [n], line of the example in the input file
 *   /template/{prompt,src_end,tgt_begin,tgt_end}  int32, the template's token pieces
 *   /tokenizer_json                   uint8, the tokenizer.json the shard was made with
 * attributes on /: format ("proact-shards"), format_version, n_examples, source (input path),
 *   src_lang, tgt_lang, template, tokenizer_fingerprint (16 hex digits).
 * A rank reads its examples by hyperslab (shards_read_slice). */
#ifndef PROACT_SHARDS_H
#define PROACT_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "src/train/pairs.h"

#define SHARDS_FORMAT "proact-shards"
#define SHARDS_FORMAT_VERSION 1

/* The slice a rank reads is a PairSet (src/train/pairs.h). */
typedef PairSet ShardSlice;

typedef struct {
    int64_t n_examples;
    int format_version;
    char source[1024];
    char src_lang[32], tgt_lang[32];
    char template_name[64];
    uint64_t tokenizer_fingerprint;
    TemplatePieces tp; /* the template's pieces (owned) */
} ShardInfo;

/* One example as the writer takes it. */
typedef struct {
    const int *src_tokens, *tgt_tokens;
    int n_src_tokens, n_tgt_tokens;
    const int *src_word_ends, *tgt_word_ends;
    int n_src_words, n_tgt_words;
    const char *src_text, *tgt_text;
    size_t src_text_len, tgt_text_len;
    int64_t line;
} ShardExample;

typedef struct ShardWriter ShardWriter;

/* Collects examples in memory; shard_writer_finish writes everything to PATH atomically
 * (PATH.tmp.<pid>, then rename) and frees the writer. */
ShardWriter *shard_writer_new(void);
int shard_writer_add(ShardWriter *w, const ShardExample *ex);
int64_t shard_writer_count(const ShardWriter *w);
/* Moves the collected examples into an in-memory set (and frees the writer). */
int shard_writer_to_pairs(ShardWriter *w, PairSet *out);
int shard_writer_finish(ShardWriter *w, const char *path, const ShardInfo *info, const char *tokenizer_json,
                        size_t tokenizer_json_len);
void shard_writer_free(ShardWriter *w);

/* Reads the attributes and template; errors name the file and the dataset or attribute:
 * "data/x.h5: not a proact token shard (attribute 'format' missing)". */
int shards_read_info(const char *path, ShardInfo *info);
void shard_info_free(ShardInfo *info);
/* Reads the tokenizer.json bytes stored in the file (malloc'ed, NUL-terminated). */
int shards_read_tokenizer_json(const char *path, char **json, size_t *len);

/* Reads examples [first, first+count) with hyperslab selections. */
int shards_read_slice(const char *path, int64_t first, int64_t count, ShardSlice *out);
void shard_slice_free(ShardSlice *s);

/* An open shard file for reading examples one list at a time (each rank reads only the
 * examples of its part of the step's global batch, by hyperslab). */
typedef struct ShardFile ShardFile;
ShardFile *shards_open(const char *path);
/* Reads examples idx[0..n-1] (any order, repeats allowed) into out; out->first is -1. */
int shards_read_examples(ShardFile *f, const int64_t *idx, int n, PairSet *out);
void shards_close(ShardFile *f);
/* Source and target token counts of examples idx[0..n-1] (from the 'lengths' dataset). */
int shards_read_lengths(ShardFile *f, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens);

#endif
