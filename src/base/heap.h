/* heap.h — a binary heap (priority queue) of fixed-size elements, ordered by the caller's
 * "comes before" function: the top is an element that no other comes before. Elements are
 * copied in and out (keep them small). Used by BPE encoding (lowest merge rank first) and BPE
 * training (highest pair count first).
 *
 *     Heap h = HEAP_INIT(MyItem, my_before);
 *     heap_push(&h, &item); ... heap_pop(&h, &item); ... heap_free(&h);
 */
#ifndef PROACT_HEAP_H
#define PROACT_HEAP_H

#include <stddef.h>

/* 1 if *x must come out before *y. */
typedef int (*HeapBefore)(const void *x, const void *y);

typedef struct {
    unsigned char *v; /* the elements, heap-ordered */
    size_t n, cap;
    size_t size; /* bytes per element */
    HeapBefore before;
} Heap;

#define HEAP_INIT(type, before_fn) ((Heap){.size = sizeof(type), .before = (before_fn)})

/* Adds a copy of *x. 0, or -1 (px_error) if out of memory. */
int heap_push(Heap *h, const void *x);
/* Removes the top into *out (the heap must not be empty). */
void heap_pop(Heap *h, void *out);
/* Adds a copy of *x without ordering (then heap_order before anything else); for filling a heap
 * in one go, which heap_order then orders in linear time. 0 or -1. */
int heap_append(Heap *h, const void *x);
void heap_order(Heap *h);
/* Room for n elements. 0 or -1. */
int heap_reserve(Heap *h, size_t n);
/* Empties the heap (keeps the memory). */
static inline void heap_clear(Heap *h) { h->n = 0; }
void heap_free(Heap *h);

#endif
