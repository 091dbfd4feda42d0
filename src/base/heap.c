/* heap.c — the binary heap of heap.h: children of i at 2i+1 and 2i+2. Sifting moves a hole
 * instead of swapping, so each level costs one copy; the element being placed is read from a
 * slot at or past n, which the sifting never writes. */
#include "src/base/heap.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/vec.h"

#define AT(h, i) ((h)->v + (i) * (h)->size)

/* One slot more than asked for: the spare past the last element, where heap_order keeps the
 * element it sifts (sift_down writes only below n). */
int heap_reserve(Heap *h, size_t n) { return vec_reserve(&h->v, &h->cap, n + 1, h->size, "a heap"); }

int heap_push(Heap *h, const void *x) {
    if (heap_reserve(h, h->n + 1)) return -1;
    size_t i = h->n++;
    while (i > 0 && h->before(x, AT(h, (i - 1) / 2))) {
        memcpy(AT(h, i), AT(h, (i - 1) / 2), h->size);
        i = (i - 1) / 2;
    }
    memcpy(AT(h, i), x, h->size);
    return 0;
}

/* Puts *x at hole i and sifts it down among the first n elements. */
static void sift_down(Heap *h, size_t i, const void *x) {
    size_t n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h->before(AT(h, c + 1), AT(h, c))) c++;
        if (!h->before(AT(h, c), x)) break;
        memcpy(AT(h, i), AT(h, c), h->size);
        i = c;
    }
    memcpy(AT(h, i), x, h->size);
}

void heap_pop(Heap *h, void *out) {
    memcpy(out, h->v, h->size);
    if (--h->n > 0) sift_down(h, 0, AT(h, h->n)); /* the old last element, now outside [0, n) */
}

int heap_append(Heap *h, const void *x) {
    if (heap_reserve(h, h->n + 1)) return -1;
    memcpy(AT(h, h->n++), x, h->size);
    return 0;
}

void heap_order(Heap *h) {
    for (size_t i = h->n / 2; i-- > 0;) {
        memcpy(AT(h, h->n), AT(h, i), h->size); /* the spare slot holds the element sifted */
        sift_down(h, i, AT(h, h->n));
    }
}

void heap_free(Heap *h) {
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
