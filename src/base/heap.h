/* heap.h — a binary heap (priority queue) of fixed-size elements, ordered by the caller's
 * "comes before" function: the top is an element that no other comes before. Used by BPE
 * encoding (lowest merge rank first) and BPE training (highest pair count first).
 *
 * HEAP_DEFINE(name, T, before) declares typed operations name_push / name_pop / name_append /
 * name_order on a Heap of T. They are inline with the element size and the comparator known, so
 * the compiler copies and compares elements without calls: the heap is on BPE's hot path.
 *
 *     static int item_before(const void *x, const void *y) { ... }
 *     HEAP_DEFINE(item_heap, Item, item_before)
 *     Heap h = {0};  item_heap_push(&h, &it);  item_heap_pop(&h, &it);  heap_free(&h);
 */
#ifndef PROACT_HEAP_H
#define PROACT_HEAP_H

#include <stddef.h>
#include <string.h>

/* 1 if *x must come out before *y. */
typedef int (*HeapBefore)(const void *x, const void *y);

typedef struct {
    unsigned char *v; /* the elements, heap-ordered: the children of i at 2i+1 and 2i+2 */
    size_t n, cap;
} Heap;

/* Room for n elements of `size` bytes, and one spare past them (the element being placed is
 * read from a slot at or past n, which sifting never writes). 0, or -1 (px_error). */
int heap_reserve(Heap *h, size_t n, size_t size);
/* Empties the heap (keeps the memory). */
static inline void heap_clear(Heap *h) { h->n = 0; }
void heap_free(Heap *h);

/* ---- the generic operations behind HEAP_DEFINE (size and before the same on every call) ---- */

#define HEAP_AT_(h, i, size) ((h)->v + (i) * (size))

/* Puts *x at hole i and sifts it down among the first n elements; x must not lie below n. */
static inline void heap_sift_down_(Heap *h, size_t i, const void *x, size_t size, HeapBefore before) {
    for (size_t n = h->n;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(HEAP_AT_(h, c + 1, size), HEAP_AT_(h, c, size))) c++;
        if (!before(HEAP_AT_(h, c, size), x)) break;
        memcpy(HEAP_AT_(h, i, size), HEAP_AT_(h, c, size), size);
        i = c;
    }
    memcpy(HEAP_AT_(h, i, size), x, size);
}

static inline int heap_push_(Heap *h, const void *x, size_t size, HeapBefore before) {
    if (h->n + 2 > h->cap && heap_reserve(h, h->n + 1, size)) return -1;
    size_t i = h->n++;
    while (i > 0 && before(x, HEAP_AT_(h, (i - 1) / 2, size))) { /* moves the hole up */
        memcpy(HEAP_AT_(h, i, size), HEAP_AT_(h, (i - 1) / 2, size), size);
        i = (i - 1) / 2;
    }
    memcpy(HEAP_AT_(h, i, size), x, size);
    return 0;
}

/* The top into *out (the heap must not be empty); the last element fills the hole. */
static inline void heap_pop_(Heap *h, void *out, size_t size, HeapBefore before) {
    memcpy(out, h->v, size);
    if (--h->n > 0) heap_sift_down_(h, 0, HEAP_AT_(h, h->n, size), size, before);
}

/* Adds *x without ordering: fill with appends, then order once (linear time). */
static inline int heap_append_(Heap *h, const void *x, size_t size) {
    if (h->n + 2 > h->cap && heap_reserve(h, h->n + 1, size)) return -1;
    memcpy(HEAP_AT_(h, h->n++, size), x, size);
    return 0;
}

static inline void heap_order_(Heap *h, size_t size, HeapBefore before) {
    for (size_t i = h->n / 2; i-- > 0;) {
        memcpy(HEAP_AT_(h, h->n, size), HEAP_AT_(h, i, size), size); /* the spare holds the element sifted */
        heap_sift_down_(h, i, HEAP_AT_(h, h->n, size), size, before);
    }
}

/* Typed operations on a Heap of T: name_push(h, &x) and name_append(h, &x) (0 or -1),
 * name_pop(h, &out), name_order(h) after appending. */
#define HEAP_DEFINE(name, T, before)                                                                   \
    static inline int name##_push(Heap *h, const T *x) { return heap_push_(h, x, sizeof(T), before); } \
    static inline void name##_pop(Heap *h, T *out) { heap_pop_(h, out, sizeof(T), before); }           \
    static inline int name##_append(Heap *h, const T *x) { return heap_append_(h, x, sizeof(T)); }     \
    static inline void name##_order(Heap *h) { heap_order_(h, sizeof(T), before); }

#endif
