/* test_vec.c — src/base/vec.h: VEC_PUSH keeps every element through the regrowths, the capacity
 * doubles from 4, VEC_RESERVE of what is there does nothing, and an impossible size fails with
 * a message and leaves the array as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/base/common.h"
#include "src/base/vec.h"

static void test_push_keeps_elements(void **state) {
    (void)state;
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    for (int64_t i = 0; i < 10000; i++) assert_int_equal(VEC_PUSH(v, n, cap, i * 3, "test values"), 0);
    assert_int_equal(n, 10000);
    assert_int_equal(cap, 16384); /* 4 doubled */
    for (int64_t i = 0; i < 10000; i++) assert_int_equal(v[i], i * 3);
    free(v);
}

static void test_reserve(void **state) {
    (void)state;
    char *p = NULL;
    size_t cap = 0;
    assert_int_equal(VEC_RESERVE(p, cap, 0, "nothing"), 0);
    assert_null(p);
    assert_int_equal(VEC_RESERVE(p, cap, 65, "bytes"), 0);
    assert_int_equal(cap, 128);
    char *before = p;
    assert_int_equal(VEC_RESERVE(p, cap, 128, "bytes"), 0);
    assert_ptr_equal(p, before);
    assert_int_equal(cap, 128);
    free(p);
}

static void test_impossible_size_fails(void **state) {
    (void)state;
    double *v = NULL;
    size_t n = 0, cap = 0;
    assert_int_equal(VEC_PUSH(v, n, cap, 1.5, "doubles"), 0);
    assert_int_equal(VEC_RESERVE(v, cap, SIZE_MAX / 4, "doubles"), -1);
    assert_non_null(strstr(px_error_message(), "doubles"));
    assert_int_equal(cap, 4);
    assert_true(v[0] == 1.5);
    free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_keeps_elements),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_impossible_size_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
