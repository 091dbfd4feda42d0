/* test_h5util.c — the attribute readers check what the file claims before reading: one value
 * (not an array that would overrun the caller's variable), the expected class, and a string
 * length within H5_ATTR_STRING_MAX (the length is the file's word: a corrupt one must not size an
 * allocation). Errors name the file and the attribute. */
#include <hdf5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/h5util.h"
#include "src/base/common.h"

static char path[256];

/* an attribute of `type` with n values (n == 0: scalar) holding `value` */
static void add_attr(hid_t f, const char *name, hid_t type, hsize_t n, const void *value) {
    hid_t space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, type, value) >= 0);
    H5Aclose(a);
    H5Sclose(space);
}

static int setup(void **state) {
    (void)state;
    snprintf(path, sizeof path, "/tmp/proact_test_h5util_%d.h5", (int)getpid());
    /* the latest format: attributes over 64 KB (dense storage) */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    assert_true(f >= 0);
    assert_int_equal(h5_attr_write_string(f, path, "name", "proact"), 0);
    assert_int_equal(h5_attr_write_i64(f, path, "count", 42), 0);
    int64_t pair[2] = {1, 2};
    add_attr(f, "pair", H5T_NATIVE_INT64, 2, pair);
    double x = 1.5;
    add_attr(f, "real", H5T_NATIVE_DOUBLE, 0, &x);
    hid_t two = H5Tcopy(H5T_C_S1);
    H5Tset_size(two, 4);
    add_attr(f, "two_strings", two, 2, "abcdefgh");
    H5Tclose(two);
    /* one byte over the bound */
    size_t big = (size_t)H5_ATTR_STRING_MAX + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, 'x', big);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, big);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    add_attr(f, "huge", t, 0, text);
    H5Tclose(t);
    free(text);
    H5Fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(path);
    return 0;
}

static void expect(int rc, const char *needle) {
    assert_int_equal(rc, -1);
    const char *msg = px_error_message();
    assert_non_null(strstr(msg, path));
    if (!strstr(msg, needle)) fail_msg("'%s' lacks '%s'", msg, needle);
}

static void test_attributes(void **state) {
    (void)state;
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char *s = NULL;
    int64_t v = 0;
    assert_int_equal(h5_attr_read_string(f, path, "name", "test file", &s), 0);
    assert_string_equal(s, "proact");
    free(s);
    assert_int_equal(h5_attr_read_i64(f, path, "count", "test file", &v), 0);
    assert_int_equal(v, 42);

    expect(h5_attr_read_string(f, path, "huge", "test file", &s), "attribute 'huge' claims 16777217 bytes");
    assert_null(s);
    expect(h5_attr_read_string(f, path, "two_strings", "test file", &s), "attribute 'two_strings' holds 2 values");
    assert_null(s);
    expect(h5_attr_read_string(f, path, "count", "test file", &s), "attribute 'count' is not a string");
    expect(h5_attr_read_i64(f, path, "pair", "test file", &v), "attribute 'pair' holds 2 values");
    expect(h5_attr_read_i64(f, path, "real", "test file", &v), "attribute 'real' is not an integer");
    expect(h5_attr_read_i64(f, path, "name", "test file", &v), "attribute 'name' is not an integer");
    expect(h5_attr_read_i64(f, path, "absent", "test file", &v), "not a test file (attribute 'absent' missing)");
    H5Fclose(f);
}

/* a checkpoint's checksum is written over its placeholder: same length only, in place */
static void test_overwrite(void **state) {
    (void)state;
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_int_equal(h5_attr_overwrite_string(f, path, "name", "PROACT"), 0);
    expect(h5_attr_overwrite_string(f, path, "name", "longer!"), "attribute 'name' is not a string of 7 bytes");
    expect(h5_attr_overwrite_string(f, path, "name", "short"), "attribute 'name' is not a string of 5 bytes");
    expect(h5_attr_overwrite_string(f, path, "count", "PROACT"), "attribute 'count' is not a string");
    expect(h5_attr_overwrite_string(f, path, "absent", "PROACT"), "cannot open attribute 'absent'");
    H5Fclose(f);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char *s = NULL;
    assert_int_equal(h5_attr_read_string(f, path, "name", "test file", &s), 0);
    assert_string_equal(s, "PROACT");
    free(s);
    H5Fclose(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
