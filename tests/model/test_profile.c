/* test_profile.c — the step breakdown records only when enabled, and per section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "src/model/profile.h"

static void test_off_records_nothing_on_records_calls(void **state) {
    (void)state;
    int ran = 0;
    profile_reset();
    profile_enable(0);
    PROFILE(PROF_SWIGLU_FWD, ran++);
    assert_int_equal(ran, 1); /* the statement runs either way */
    assert_int_equal(profile_calls(PROF_SWIGLU_FWD), 0);
    assert_true(profile_seconds(PROF_SWIGLU_FWD) == 0.0);
    profile_enable(1);
    PROFILE(PROF_SWIGLU_FWD, ran++);
    PROFILE(PROF_SWIGLU_FWD, ran++);
    PROFILE(PROF_LOSS, ran++);
    assert_int_equal(ran, 4);
    assert_int_equal(profile_calls(PROF_SWIGLU_FWD), 2);
    assert_int_equal(profile_calls(PROF_LOSS), 1);
    assert_int_equal(profile_calls(PROF_ADAMW), 0);
    assert_true(profile_seconds(PROF_SWIGLU_FWD) >= 0.0);
    profile_reset();
    assert_int_equal(profile_calls(PROF_SWIGLU_FWD), 0);
    profile_enable(0);
    for (int i = 0; i < PROF_N; i++) assert_non_null(profile_name(i));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_off_records_nothing_on_records_calls)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
