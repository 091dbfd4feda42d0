#include "src/text/words.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

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
    int n = 0, cap = 0;
    WordSpan *w = NULL;
    for (size_t i = 0; i < len;) {
        while (i < len && word_separator((unsigned char)text[i])) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && !word_separator((unsigned char)text[i])) i++;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            WordSpan *bigger = realloc(w, sizeof *w * cap);
            if (!bigger) {
                free(w);
                return px_error("out of memory splitting words");
            }
            w = bigger;
        }
        w[n++] = (WordSpan){start, i - start};
    }
    *out = w;
    return n;
}

int tokenize_words(const Tokenizer *t, const char *text, size_t len, IdVec *tokens, IdVec *word_ends) {
    WordSpan *words;
    int n = split_words(text, len, &words);
    if (n < 0) return -1;
    size_t base = tokens->n, cap = 64;
    char *buf = malloc(cap);
    int rc = buf ? 0 : px_error("out of memory tokenizing words");
    for (int i = 0; i < n && rc == 0; i++) {
        /* " word" for every word but the first: the leading space belongs to the word */
        size_t need = words[i].len + 1;
        if (need > cap) {
            char *bigger = realloc(buf, cap = need * 2);
            if (!bigger) {
                rc = px_error("out of memory tokenizing words");
                break;
            }
            buf = bigger;
        }
        size_t k = 0;
        if (i > 0) buf[k++] = ' ';
        memcpy(buf + k, text + words[i].start, words[i].len);
        k += words[i].len;
        if (tokenizer_encode(t, buf, k, tokens) || idvec_push(word_ends, (int)(tokens->n - base))) rc = -1;
    }
    free(buf);
    free(words);
    return rc ? -1 : n;
}
