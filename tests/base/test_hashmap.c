/* test_hashmap.c — src/base/hashmap.h: a u64-keyed table of 100k keys (with the entries kept by
 * the caller, as the BPE trainer keeps its pairs) against a plain search; colliding hashes (all
 * keys hashed alike) still told apart by the caller's comparison; clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/hashmap.h"

typedef struct {
    uint64_t key;
    int value;
} Ent;

/* The entry of key (hash h), added with value if absent. */
static long find_or_add(HashMap *m, Ent *ents, size_t *n, uint64_t key, uint64_t h, int value) {
    HashProbe p = hashmap_probe(m, h);
    for (uint32_t i; hashmap_next(m, &p, &i);)
        if (ents[i].key == key) return (long)i;
    ents[*n] = (Ent){key, value};
    assert_int_equal(hashmap_insert(m, &p, (uint32_t)*n), 0);
    return (long)(*n)++;
}

static long find(const HashMap *m, const Ent *ents, uint64_t key, uint64_t h) {
    HashProbe p = hashmap_probe(m, h);
    for (uint32_t i; hashmap_next(m, &p, &i);)
        if (ents[i].key == key) return (long)i;
    return -1;
}

static void test_u64_keys(void **state) {
    (void)state;
    enum { N = 100000 };
    Ent *ents = calloc(N, sizeof *ents);
    HashMap m = {0};
    size_t n = 0;
    assert_int_equal(find(&m, ents, 5, hash_u64(5)), -1); /* an empty map has no slots */
    for (int i = 0; i < N; i++) {
        uint64_t key = (uint64_t)i * 7919 + 3;
        assert_int_equal(find_or_add(&m, ents, &n, key, hash_u64(key), i), i);
    }
    assert_int_equal(m.n, N);
    assert_true(2 * m.n <= m.mask + 1); /* at most half full */
    for (int i = 0; i < N; i++) {       /* present: found again, not added */
        uint64_t key = (uint64_t)i * 7919 + 3;
        assert_int_equal(find_or_add(&m, ents, &n, key, hash_u64(key), -1), i);
        assert_int_equal(ents[find(&m, ents, key, hash_u64(key))].value, i);
        assert_int_equal(find(&m, ents, key + 1, hash_u64(key + 1)), -1);
    }
    assert_int_equal(n, N);
    hashmap_clear(&m);
    assert_int_equal(find(&m, ents, 3, hash_u64(3)), -1);
    hashmap_free(&m);
    free(ents);
}

static void test_collisions(void **state) {
    (void)state;
    Ent ents[300];
    HashMap m = {0};
    size_t n = 0;
    for (int i = 0; i < 300; i++) assert_int_equal(find_or_add(&m, ents, &n, (uint64_t)i, 42, i), i);
    for (int i = 0; i < 300; i++) assert_int_equal(find(&m, ents, (uint64_t)i, 42), i);
    assert_int_equal(find(&m, ents, 1000, 42), -1);
    assert_int_equal(hashmap_reserve(&m, 5000), 0); /* regrowing keeps the hash bits */
    for (int i = 0; i < 300; i++) assert_int_equal(find(&m, ents, (uint64_t)i, 42), i);
    hashmap_free(&m);
}

static void test_hash_bytes(void **state) {
    (void)state;
    assert_true(hash_bytes("abcdefghij", 10) == hash_bytes("abcdefghij", 10));
    assert_true(hash_bytes("abcdefghij", 10) != hash_bytes("abcdefghik", 10));
    assert_true(hash_bytes("ab", 2) != hash_bytes("ab\0", 3)); /* the length counts */
    assert_true(hash_bytes("", 0) != hash_bytes("\0", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_keys),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_hash_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
