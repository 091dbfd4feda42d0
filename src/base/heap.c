/* heap.c — the out-of-line part of heap.h: memory. */
#include "src/base/heap.h"

#include <stdlib.h>

#include "src/base/vec.h"

int heap_reserve(Heap *h, size_t n, size_t size) { return vec_reserve(&h->v, &h->cap, n + 1, size, "a heap"); }

void heap_free(Heap *h) {
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
