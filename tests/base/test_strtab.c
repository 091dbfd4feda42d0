/* test_strtab.c — src/base/strtab.h, the string table: numbering in order, NUL-terminated
 * copies, values, the empty string, embedded NULs, 20k strings found again, clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/strtab.h"

static void test_strtab(void **state) {
    (void)state;
    StrTab t = {0};
    int added;
    assert_int_equal(strtab_find(&t, "x", 1), -1);
    assert_int_equal(strtab_intern(&t, "hello", 5, 10, &added), 0);
    assert_int_equal(added, 1);
    assert_int_equal(strtab_intern(&t, "", 0, 11, &added), 1);
    assert_int_equal(strtab_intern(&t, "a\0b", 3, 12, &added), 2);
    assert_int_equal(strtab_intern(&t, "hello", 5, 99, &added), 0);
    assert_int_equal(added, 0);
    assert_int_equal(t.e[0].val, 10); /* an existing entry keeps its value */
    assert_string_equal(strtab_str(&t, 0), "hello");
    assert_int_equal(strtab_len(&t, 1), 0);
    assert_string_equal(strtab_str(&t, 1), "");
    assert_int_equal(strtab_len(&t, 2), 3);
    assert_memory_equal(strtab_str(&t, 2), "a\0b", 4);
    assert_int_equal(strtab_find(&t, "a", 1), -1);
    assert_int_equal(strtab_find_h(&t, "a\0b", 3, hash_bytes("a\0b", 3)), 2);
    char word[16];
    for (int i = 0; i < 20000; i++) {
        int len = snprintf(word, sizeof word, "w%d", i);
        assert_int_equal(strtab_intern(&t, word, (size_t)len, i, NULL), 3 + i);
    }
    for (int i = 0; i < 20000; i++) {
        int len = snprintf(word, sizeof word, "w%d", i);
        long k = strtab_find(&t, word, (size_t)len);
        assert_int_equal(k, 3 + i);
        assert_string_equal(strtab_str(&t, (size_t)k), word);
        assert_int_equal(t.e[k].val, i);
    }
    strtab_clear(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(strtab_find(&t, "hello", 5), -1);
    assert_int_equal(strtab_intern(&t, "again", 5, 0, NULL), 0);
    strtab_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strtab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
