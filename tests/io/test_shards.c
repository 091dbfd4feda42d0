/* test_shards.c — token shards: write/read round trip, rank ranges, and bad files
 * (not HDF5, truncated, a foreign HDF5 file, a newer format version) named in the error, and
 * sizes the file claims (dims, rank, type) checked before anything is allocated or read. */
#include <hdf5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/shards.h"
#include "src/base/common.h"

static char dir[256];

static void path_in_dir(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", dir, name); }

static void write_small(const char *path) {
    ShardWriter *w = shard_writer_new();
    assert_non_null(w);
    int src[3] = {5, 6, 7}, tgt[2] = {8, 9}, se[2] = {1, 3}, te[1] = {2};
    ShardExample a = {src, tgt, 3, 2, se, te, 2, 1, "ab cd", "xy", 5, 2, 1};
    ShardExample b = {tgt, src, 2, 3, te, se, 1, 2, "xy", "ab cd", 2, 5, 3};
    assert_int_equal(shard_writer_add(w, &a), 0);
    assert_int_equal(shard_writer_add(w, &b), 0);
    assert_int_equal(shard_writer_count(w), 2);
    int prompt[1] = {1}, send[1] = {2}, tb[1] = {3}, tend[1] = {4};
    ShardInfo info = {.n_examples = 2,
                      .tokenizer_fingerprint = 0xfedcba9876543210ULL,
                      .tp = {{prompt, 1, 0}, {send, 1, 0}, {tb, 1, 0}, {tend, 1, 0}}};
    snprintf(info.source, sizeof info.source, "pairs.tsv");
    snprintf(info.src_lang, sizeof info.src_lang, "en");
    snprintf(info.tgt_lang, sizeof info.tgt_lang, "de");
    snprintf(info.template_name, sizeof info.template_name, "plain");
    assert_int_equal(shard_writer_finish(w, path, &info, "{\"x\":1}", 7), 0);
}

static void test_round_trip(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "rt.h5");
    write_small(path);
    ShardInfo info;
    assert_int_equal(shards_read_info(path, &info), 0);
    assert_int_equal(info.n_examples, 2);
    assert_string_equal(info.src_lang, "en");
    assert_string_equal(info.template_name, "plain");
    assert_true(info.tokenizer_fingerprint == 0xfedcba9876543210ULL);
    assert_int_equal(info.tp.tgt_end.n, 1);
    assert_int_equal(info.tp.tgt_end.ids[0], 4);
    shard_info_free(&info);
    ShardSlice s;
    assert_int_equal(shards_read_slice(path, 1, 1, &s), 0); /* the second example alone */
    assert_int_equal(s.src_off[1], 2);
    assert_int_equal(s.src_tokens[0], 8);
    assert_int_equal(s.tgt_off[1], 3);
    assert_int_equal(s.tgt_word_ends[1], 3);
    assert_int_equal(s.line[0], 3);
    assert_memory_equal(s.tgt_text, "ab cd", 5);
    shard_slice_free(&s);
    char *json;
    size_t len;
    assert_int_equal(shards_read_tokenizer_json(path, &json, &len), 0);
    assert_string_equal(json, "{\"x\":1}");
    free(json);
    /* reading past the end names the dataset */
    assert_int_equal(shards_read_slice(path, 1, 5, &s), -1);
    assert_non_null(strstr(px_error_message(), "src_offsets"));
}

static void expect_error(const char *path, const char *needle) {
    ShardInfo info;
    px_error("%s", "");
    assert_int_equal(shards_read_info(path, &info), -1);
    assert_non_null(strstr(px_error_message(), path));
    if (!strstr(px_error_message(), needle)) fail_msg("'%s' lacks '%s'", px_error_message(), needle);
}

static void test_bad_files(void **state) {
    (void)state;
    char path[300], bad[300];
    path_in_dir(path, sizeof path, "good.h5");
    write_small(path);

    path_in_dir(bad, sizeof bad, "missing.h5");
    expect_error(bad, "cannot open");

    path_in_dir(bad, sizeof bad, "text.h5");
    FILE *fp = fopen(bad, "w");
    fputs("source\ttarget\n", fp);
    fclose(fp);
    expect_error(bad, "not an HDF5 file");

    /* truncated: the first half of a good file */
    path_in_dir(bad, sizeof bad, "truncated.h5");
    fp = fopen(path, "rb");
    FILE *out = fopen(bad, "wb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc(size);
    assert_int_equal(fread(buf, 1, size, fp), size);
    fwrite(buf, 1, size / 2, out);
    fclose(fp);
    fclose(out);
    free(buf);
    ShardInfo info;
    ShardSlice s;
    assert_true(shards_read_info(bad, &info) == -1 || shards_read_slice(bad, 0, 2, &s) == -1);
    assert_non_null(strstr(px_error_message(), bad));

    /* a foreign HDF5 file (no 'format' attribute) */
    path_in_dir(bad, sizeof bad, "foreign.h5");
    hid_t f = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_error(bad, "attribute 'format' missing");

    /* a newer format version */
    path_in_dir(bad, sizeof bad, "newer.h5");
    write_small(bad);
    f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int64_t v = 99;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
    expect_error(bad, "format version 99");
}

/* Replaces dataset `name` of a good shard by one of the given rank, dims and type, its space never
 * allocated (so dims can claim more than the file holds). */
static void replace_dataset(const char *path, const char *name, int rank, const hsize_t *dims, hid_t type) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
}

/* Sizes read from the file are checked before they size an allocation or a read. */
static void test_sizes_checked_before_reading(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "sizes.h5");
    char *json = NULL;
    size_t len;
    /* a tokenizer.json of 10^12 bytes in a file of a few KB: refused, not allocated */
    write_small(path);
    hsize_t huge = 1000000000000ULL;
    replace_dataset(path, "tokenizer_json", 1, &huge, H5T_NATIVE_UINT8);
    assert_int_equal(shards_read_tokenizer_json(path, &json, &len), -1);
    assert_null(json);
    assert_non_null(strstr(px_error_message(), "'tokenizer_json' claims 1000000000000 elements"));
    /* offsets as a 2-D dataset: refused before their dims are asked for */
    write_small(path);
    hsize_t dims2[2] = {3, 2};
    replace_dataset(path, "src_offsets", 2, dims2, H5T_NATIVE_INT64);
    ShardInfo info;
    assert_int_equal(shards_read_info(path, &info), -1);
    assert_non_null(strstr(px_error_message(), "'src_offsets' is not one-dimensional"));
    /* token data stored as floats: refused before HDF5 converts it */
    write_small(path);
    hsize_t five = 5;
    replace_dataset(path, "src_tokens", 1, &five, H5T_NATIVE_FLOAT);
    ShardSlice s;
    assert_int_equal(shards_read_slice(path, 0, 2, &s), -1);
    assert_non_null(strstr(px_error_message(), "'src_tokens' does not hold integers"));
    /* the lengths table with a third dimension */
    write_small(path);
    hsize_t dims3[3] = {2, 4, 2};
    replace_dataset(path, "lengths", 3, dims3, H5T_NATIVE_INT);
    ShardFile *sf = shards_open(path);
    assert_non_null(sf);
    int64_t idx = 0;
    int src_len, tgt_len;
    assert_int_equal(shards_read_lengths(sf, &idx, 1, &src_len, &tgt_len), -1);
    assert_non_null(strstr(px_error_message(), "'lengths'"));
    shards_close(sf);
}

static void test_unwritable_output_leaves_nothing(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "no/such/dir/x.h5");
    ShardWriter *w = shard_writer_new();
    ShardInfo info = {0};
    assert_int_equal(shard_writer_finish(w, path, &info, "{}", 2), -1);
    assert_non_null(strstr(px_error_message(), path));
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/proact_test_shards_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_sizes_checked_before_reading),
        cmocka_unit_test(test_unwritable_output_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
