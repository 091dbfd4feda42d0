/* tokenizer_json.h — load a Hugging Face tokenizer.json into a Tokenizer (src/text/tokenizer.h). */
#ifndef PROACT_TOKENIZER_JSON_H
#define PROACT_TOKENIZER_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "src/text/tokenizer.h"

/* Supports model BPE with a ByteLevel pre-tokenizer (alone, or in a Sequence after Split
 * regexes), normalizer null / NFC (or a Sequence of those), added tokens with their flags,
 * merges as "a b" strings or [a, b] pairs, ignore_merges. Anything else is an error naming
 * the file and the component: "tok.json: unsupported model type 'Unigram' (field model.type)". */
int tokenizer_load(const char *path, Tokenizer **out);

/* Merge i of tokenizer.json's model.merges, "a b" (one space) or ["a", "b"], as its two tokens
 * (pointers into m, not NUL-terminated); -1 with px_error naming the file and the field. */
int tokenizer_json_merge(const char *path, const json_t *m, size_t i, const char **a, size_t *alen, const char **b,
                         size_t *blen);

#endif
