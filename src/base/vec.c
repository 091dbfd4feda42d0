/* vec.c — growing the arrays of vec.h, and appending to a StrBuf. */
#include "src/base/vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

int vec_grow(void *pp, size_t *cap, size_t need, size_t elem, const char *what) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 4;
    while (c < need) {
        if (c > SIZE_MAX / 2) return px_error("out of memory: %s (%zu elements)", what, need);
        c *= 2;
    }
    if (c > SIZE_MAX / elem) return px_error("out of memory: %s (%zu elements of %zu bytes)", what, c, elem);
    void *p; /* copied with memcpy: *pp is a T *, read and written without punning it as a void * */
    memcpy(&p, pp, sizeof p);
    void *q = realloc(p, c * elem);
    if (!q) return px_error("out of memory: %s (%zu x %zu bytes)", what, c, elem);
    memcpy(pp, &q, sizeof q);
    *cap = c;
    return 0;
}

int strbuf_put(StrBuf *b, const void *p, size_t n) {
    if (vec_reserve(&b->s, &b->cap, b->n + n + 1, 1, "a string buffer")) return -1;
    if (n) memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}
