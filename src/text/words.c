/* words.c — splitting texts into words and tokenizing them word by word (words.h). */
#include "src/text/words.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/vec.h"

int count_words(const char *text) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p;) {
        while (*p && word_separator(*p)) p++;
        if (!*p) break;
        n++;
        while (*p && !word_separator(*p)) p++;
    }
    return n;
}

int split_words(const char *text, size_t len, WordSpan **out) {
    *out = NULL;
    size_t n = 0, cap = 0;
    WordSpan *w = NULL;
    for (size_t i = 0; i < len;) {
        while (i < len && word_separator((unsigned char)text[i])) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && !word_separator((unsigned char)text[i])) i++;
        if (n == INT_MAX || VEC_PUSH(w, n, cap, ((WordSpan){start, i - start}), "words")) {
            free(w);
            return n == INT_MAX ? px_error("more than %d words in one text", INT_MAX) : -1;
        }
    }
    *out = w;
    return (int)n;
}

int tokenize_words(const Tokenizer *t, const char *text, size_t len, IdVec *tokens, IdVec *word_ends) {
    WordSpan *words;
    int n = split_words(text, len, &words);
    if (n < 0) return -1;
    size_t base = tokens->n;
    StrBuf word = {0};
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        /* " word" for every word but the first: the leading space belongs to the word */
        word.n = 0;
        if ((i > 0 && strbuf_put(&word, " ", 1)) || strbuf_put(&word, text + words[i].start, words[i].len) ||
            tokenizer_encode(t, word.s, word.n, tokens) || idvec_push(word_ends, (int)(tokens->n - base)))
            rc = -1;
    }
    free(word.s);
    free(words);
    return rc ? -1 : n;
}
