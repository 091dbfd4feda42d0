/* tokenizer_write.h — write a trained byte-level BPE (src/text/bpe_train.h) as a Hugging Face
 * tokenizer.json, the same components as Qwen2/Qwen3's files:
 *
 *   normalizer NFC; pre_tokenizer Sequence[Split(BPE_SPLIT_REGEX, Isolated),
 *   ByteLevel(add_prefix_space false, trim_offsets false, use_regex false)]; post_processor and
 *   decoder ByteLevel; model BPE (vocab in id order, merges as [left, right] pairs in rank
 *   order); the special tokens as added tokens (special, normalized false).
 *
 * The output is deterministic (same result -> same bytes): keys in a fixed order; two-space
 * indentation with one vocab entry and one merge per line, or (compact) no whitespace at all,
 * about 40% smaller. The file is written atomically. */
#ifndef PROACT_TOKENIZER_WRITE_H
#define PROACT_TOKENIZER_WRITE_H

#include "src/text/bpe_train.h"

/* 0, or -1 with px_error naming the path (or the inconsistent token / merge). */
int tokenizer_write_json(const char *path, const BpeResult *r, int compact);

/* How model.merges is written: ["a", "b"] pairs (tokenizers >= 0.20, what tokenizer_write_json
 * writes) or "a b" strings (older readers; impossible when a merged token contains a space). */
typedef enum { TOKENIZER_MERGES_PAIRS, TOKENIZER_MERGES_STRINGS } TokenizerMerges;

/* Copies the tokenizer.json FROM to TO (atomically) with every merge in the given form and all else
 * kept, printed as tokenizer_write_json prints (indented). Errors name the file and the merge. */
int tokenizer_rewrite_merges(const char *from, const char *to, TokenizerMerges form);

#endif
