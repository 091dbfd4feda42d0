/* test_heap.c — src/base/heap.h: pushes and pops in random order against sorting (a min-heap of
 * u64 keys and a max-heap of (count, a, b) items as the BPE trainer orders its pairs), interleaved
 * pushes and pops, append + order, and clear, through HEAP_DEFINE's typed operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/heap.h"
#include "src/base/rng.h"

static int u64_before(const void *x, const void *y) { return *(const uint64_t *)x < *(const uint64_t *)y; }

static int u64_cmp(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

typedef struct {
    int64_t count;
    int32_t a, b;
} Item;

static int item_before(const void *px, const void *py) {
    const Item *x = px, *y = py;
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int item_cmp(const void *x, const void *y) { return item_before(x, y) ? -1 : item_before(y, x) ? 1 : 0; }

HEAP_DEFINE(u64_heap, uint64_t, u64_before)
HEAP_DEFINE(item_heap, Item, item_before)

static void test_min_heap(void **state) {
    (void)state;
    enum { N = 5000 };
    Rng r;
    rng_seed(&r, 1);
    uint64_t *keys = malloc(N * sizeof *keys);
    Heap h = {0};
    for (int i = 0; i < N; i++) {
        keys[i] = rng_below(&r, 1000); /* with repeats */
        assert_int_equal(u64_heap_push(&h, &keys[i]), 0);
    }
    qsort(keys, N, sizeof *keys, u64_cmp);
    for (int i = 0; i < N; i++) {
        uint64_t top;
        u64_heap_pop(&h, &top);
        assert_true(top == keys[i]);
    }
    assert_int_equal(h.n, 0);
    heap_free(&h);
    free(keys);
}

static void test_max_heap_items(void **state) {
    (void)state;
    enum { N = 3000 };
    Rng r;
    rng_seed(&r, 2);
    Item *items = malloc(N * sizeof *items);
    Heap h = {0};
    for (int i = 0; i < N; i++) {
        items[i] = (Item){(int64_t)rng_below(&r, 50), (int32_t)rng_below(&r, 20), (int32_t)rng_below(&r, 20)};
        assert_int_equal(item_heap_append(&h, &items[i]), 0);
    }
    item_heap_order(&h);
    qsort(items, N, sizeof *items, item_cmp);
    for (int i = 0; i < N; i++) {
        Item top;
        item_heap_pop(&h, &top);
        assert_true(top.count == items[i].count && top.a == items[i].a && top.b == items[i].b);
    }
    heap_free(&h);
    free(items);
}

/* Pops interleaved with pushes: every pop gives the smallest key present (checked by a count
 * per key). */
static void test_interleaved(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 3);
    int present[256] = {0};
    Heap h = {0};
    for (int step = 0; step < 20000; step++) {
        if (h.n == 0 || rng_below(&r, 3) != 0) {
            uint64_t k = rng_below(&r, 256);
            assert_int_equal(u64_heap_push(&h, &k), 0);
            present[k]++;
        } else {
            uint64_t top;
            u64_heap_pop(&h, &top);
            for (uint64_t k = 0; k < top; k++) assert_int_equal(present[k], 0);
            assert_true(present[top] > 0);
            present[top]--;
        }
    }
    heap_clear(&h);
    assert_int_equal(h.n, 0);
    heap_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_heap),
        cmocka_unit_test(test_max_heap_items),
        cmocka_unit_test(test_interleaved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
