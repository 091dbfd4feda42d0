/* words.h — the streaming unit is the word (docs/design.md §2.1): texts are split on whitespace, and
 * each word is tokenized on its own (non-first words with their leading space), so word
 * boundaries in token space are exact by construction. */
#ifndef PROACT_WORDS_H
#define PROACT_WORDS_H

#include <stddef.h>

#include "src/text/tokenizer.h"

typedef struct {
    size_t start, len; /* byte range of the word in the text */
} WordSpan;

/* The bytes that separate words: ASCII space, tab, CR, LF, VT, FF. */
static inline int word_separator(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits on ASCII whitespace (space, tab, CR, LF, VT, FF). Returns the number of words and
 * a malloc'ed array in *out (NULL when there are none), or -1. */
int split_words(const char *text, size_t len, WordSpan **out);

/* The number of words split_words would find in the NUL-terminated text (NULL: 0), without
 * allocating. */
int count_words(const char *text);

/* Appends the tokens of every word to *tokens and, per word, the token count so far (its end,
 * relative to the first token appended) to *word_ends. Returns the number of words or -1. */
int tokenize_words(const Tokenizer *t, const char *text, size_t len, IdVec *tokens, IdVec *word_ends);

#endif
