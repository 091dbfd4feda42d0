/* test_safetensors.c — safetensors reader/writer, scalar conversions and .npy files. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "io/safetensors.h"
#include "src/base/bf16.h"
#include "src/base/common.h"

/* ---- fixtures: one temporary directory per test ------------------------------------ */

typedef struct {
    char dir[256];
    char path[512]; /* scratch file path inside dir */
} Tmp;

/* Files whose name contains ".tmp" in dir: what a failed or finished atomic write leaves. */
static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

static int setup(void **state) {
    Tmp *t = calloc(1, sizeof *t);
    if (!t) return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/proact_test_st_XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s/x.safetensors", t->dir);
    *state = t;
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int teardown(void **state) {
    Tmp *t = *state;
    int rc = nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return rc;
}

/* Writes a safetensors file by hand: header length (as given), header text, data. */
static void write_raw_len(const char *path, uint64_t hlen, const char *header, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hlen >> (8 * i));
    assert_int_equal(fwrite(le, 1, 8, fp), 8);
    size_t hl = strlen(header);
    assert_int_equal(fwrite(header, 1, hl, fp), hl);
    if (n) assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void write_raw(const char *path, const char *header, const void *data, size_t n) {
    write_raw_len(path, strlen(header), header, data, n);
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("expected \"%s\" in error \"%s\"", needle, haystack);
}

/* st_open must fail with a message naming the file and each of the given words. */
static void expect_open_error(const char *path, const char *w1, const char *w2) {
    StFile f;
    px_error("%s", ""); /* clear */
    assert_int_equal(st_open(&f, path), -1);
    const char *msg = px_error_message();
    assert_contains(msg, path);
    if (w1) assert_contains(msg, w1);
    if (w2) assert_contains(msg, w2);
    assert_null(strchr(msg, '\n'));
    assert_null(f.tensors);
    assert_null(f.map);
    st_close(&f); /* safe after a failed open */
}

static float bf16_round(float x) { return f32_from_bf16(bf16_from_f32(x)); }

static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---- scalar conversions --------------------------------------------------------------- */

static void test_bf16_rounding(void **state) {
    (void)state;
    assert_int_equal(bf16_from_f32(1.0f), 0x3F80);
    assert_int_equal(bf16_from_f32(-2.0f), 0xC000);
    /* Exactly half-way: ties go to the even neighbour. */
    assert_int_equal(bf16_from_f32(from_bits(0x3F808000u)), 0x3F80);
    assert_int_equal(bf16_from_f32(from_bits(0x3F818000u)), 0x3F82);
    /* Just above / below half-way. */
    assert_int_equal(bf16_from_f32(from_bits(0x3F808001u)), 0x3F81);
    assert_int_equal(bf16_from_f32(from_bits(0x3F807FFFu)), 0x3F80);
    assert_int_equal(bf16_from_f32(from_bits(0xBF818000u)), 0xBF82);
    /* Infinities stay, the largest floats round up to infinity. */
    assert_int_equal(bf16_from_f32(INFINITY), 0x7F80);
    assert_int_equal(bf16_from_f32(-INFINITY), 0xFF80);
    assert_int_equal(bf16_from_f32(from_bits(0x7F7FFFFFu)), 0x7F80);
    /* NaN stays NaN, even one whose payload sits only in the dropped low bits. */
    uint16_t n1 = bf16_from_f32(from_bits(0x7F800001u));
    assert_int_equal(n1 & 0x7F80, 0x7F80);
    assert_true((n1 & 0x007F) != 0);
    assert_true(isnan(f32_from_bf16(n1)));
    uint16_t n2 = bf16_from_f32(from_bits(0xFFC00000u));
    assert_true(isnan(f32_from_bf16(n2)));
    assert_true(n2 & 0x8000);
    assert_true(isnan(f32_from_bf16(bf16_from_f32(NAN))));
    /* bf16 -> f32 is exact widening. */
    assert_true(f32_from_bf16(0x3F80) == 1.0f);
    assert_int_equal(bits(f32_from_bf16(0x4049)), 0x40490000u);
    assert_true(f32_from_bf16(0x0001) > 0.0f); /* subnormal survives */
}

static void test_f16_values(void **state) {
    (void)state;
    assert_true(f16_to_f32(0x3C00) == 1.0f);
    assert_true(f16_to_f32(0xC000) == -2.0f);
    assert_true(f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(f16_to_f32(0x03FF) == 1023.0f * ldexpf(1.0f, -24));
    assert_true(f16_to_f32(0x8001) == -ldexpf(1.0f, -24));
    assert_true(f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    assert_true(f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(f16_to_f32(0x3555) == 0.333251953125f);
    assert_true(isinf(f16_to_f32(0x7C00)) && f16_to_f32(0x7C00) > 0);
    assert_true(isinf(f16_to_f32(0xFC00)) && f16_to_f32(0xFC00) < 0);
    assert_true(isnan(f16_to_f32(0x7E00)));
    assert_true(isnan(f16_to_f32(0x7C01)));
    assert_true(f16_to_f32(0x0000) == 0.0f && !signbit(f16_to_f32(0x0000)));
    assert_true(signbit(f16_to_f32(0x8000)));
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_round_trip(void **state) {
    Tmp *t = *state;
    float a[6] = {1.0f, -2.5f, 3.14159265f, 1e-8f, -0.0f, 65504.125f};
    float b[5] = {1.00390625f, 0.1f, -7.77f, 3e38f, 1e-40f};
    int32_t c[4] = {0, -1, INT32_MAX, INT32_MIN};
    float scalar = 42.5f;
    StWriteTensor ws[] = {
        {"a", ST_F32, 2, {2, 3}, a},        {"b.weight", ST_BF16, 1, {5}, b},    {"c", ST_I32, 2, {2, 2}, c},
        {"empty", ST_F32, 2, {0, 4}, NULL}, {"scalar", ST_F32, 0, {0}, &scalar},
    };
    const char *meta[] = {"format", "pt", "note", "hello"};
    assert_int_equal(st_write(t->path, ws, 5, meta, 2), 0);

    assert_int_equal(count_tmp_files(t->dir), 0); /* the temporary was renamed away */

    StFile f;
    assert_int_equal(st_open(&f, t->path), 0);
    assert_int_equal(f.n_tensors, 5);

    /* The header is space-padded to 8 bytes and the data is contiguous. */
    uint64_t hlen;
    memcpy(&hlen, f.map, 8);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(f.map_size, 8 + hlen + 6 * 4 + 5 * 2 + 4 * 4 + 0 + 4);
    assert_non_null(strstr((const char *)f.map + 8, "\"__metadata__\""));

    /* Tensors are listed in data order; the writer keeps the given order. */
    assert_string_equal(f.tensors[0].name, "a");
    assert_string_equal(f.tensors[1].name, "b.weight");
    assert_string_equal(f.tensors[2].name, "c");

    const StTensor *ta = st_find(&f, "a");
    assert_non_null(ta);
    assert_int_equal(ta->dtype, ST_F32);
    assert_int_equal(ta->ndim, 2);
    assert_int_equal(ta->shape[0], 2);
    assert_int_equal(ta->shape[1], 3);
    float out[6];
    assert_int_equal(st_tensor_to_f32(&f, ta, out), 0);
    assert_memory_equal(out, a, sizeof a);

    const StTensor *tb = st_find(&f, "b.weight");
    assert_non_null(tb);
    assert_int_equal(tb->dtype, ST_BF16);
    assert_int_equal(tb->nbytes, 10);
    assert_int_equal(st_tensor_to_f32(&f, tb, out), 0);
    for (int i = 0; i < 5; i++) assert_true(bits(out[i]) == bits(bf16_round(b[i])));
    assert_true(out[0] == 1.0f); /* 1.00390625 is a tie: rounds to even 1.0 */

    const StTensor *tc = st_find(&f, "c");
    assert_non_null(tc);
    assert_int_equal(tc->dtype, ST_I32);
    assert_memory_equal(tc->data, c, sizeof c);
    px_error("%s", "");                                  /* clear */
    assert_int_equal(st_tensor_to_f32(&f, tc, out), -1); /* ints are not converted */
    assert_contains(px_error_message(), "unsupported dtype I32");

    const StTensor *te = st_find(&f, "empty");
    assert_non_null(te);
    assert_int_equal(te->numel, 0);
    const StTensor *ts = st_find(&f, "scalar");
    assert_non_null(ts);
    assert_int_equal(ts->ndim, 0);
    assert_int_equal(ts->numel, 1);
    assert_int_equal(st_tensor_to_f32(&f, ts, out), 0);
    assert_true(out[0] == 42.5f);
    assert_null(st_find(&f, "missing"));
    st_close(&f);
    st_close(&f); /* idempotent */
}

/* F16 and F64 data at unaligned addresses (odd header length), converted to fp32. */
static void test_f16_f64_unaligned(void **state) {
    Tmp *t = *state;
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[6,22]},"
                      "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[22,26]}}";
    assert_true(strlen(hdr) % 2 == 1);
    uint8_t data[26];
    uint16_t h[3] = {0x3C00, 0xC000, 0x0001};
    double d[2] = {0.1, -1e300};
    float fl = 2.75f;
    memcpy(data, h, 6);
    memcpy(data + 6, d, 16);
    memcpy(data + 22, &fl, 4);
    write_raw(t->path, hdr, data, sizeof data);

    StFile f;
    assert_int_equal(st_open(&f, t->path), 0);
    float out[3];
    assert_int_equal(st_tensor_to_f32(&f, st_find(&f, "h"), out), 0);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1.0f, -24));
    assert_int_equal(st_tensor_to_f32(&f, st_find(&f, "d"), out), 0);
    assert_true(out[0] == 0.1f);
    assert_true(isinf(out[1]) && out[1] < 0);
    assert_int_equal(st_tensor_to_f32(&f, st_find(&f, "f"), out), 0);
    assert_true(out[0] == 2.75f);
    st_close(&f);
}

/* ---- hostile input -------------------------------------------------------------------- */

static void test_bad_empty_and_short(void **state) {
    Tmp *t = *state;
    FILE *fp = fopen(t->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    expect_open_error(t->path, "empty", NULL);

    fp = fopen(t->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite("abc", 1, 3, fp), 3);
    assert_int_equal(fclose(fp), 0);
    expect_open_error(t->path, "truncated", NULL);

    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.safetensors", t->dir);
    expect_open_error(missing, "cannot open", NULL);
}

static void test_bad_header_length(void **state) {
    Tmp *t = *state;
    write_raw_len(t->path, 1000, "{}", NULL, 0);
    expect_open_error(t->path, "truncated: header length 1000 but file has 10 bytes", NULL);
    write_raw_len(t->path, UINT64_MAX, "{}", NULL, 0); /* must not wrap around */
    expect_open_error(t->path, "truncated", NULL);
    write_raw_len(t->path, 3, "{}", NULL, 0); /* one byte more than the file holds */
    expect_open_error(t->path, "truncated: header length 3 but file has 10 bytes", NULL);
}

static void test_bad_truncated_data(void **state) {
    Tmp *t = *state;
    float d[2] = {1, 2};
    /* The header promises 4 floats, the file was cut after 2. */
    write_raw(t->path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'w'", "data_offsets [0, 16) exceed the data size 8");
}

static void test_bad_not_json(void **state) {
    Tmp *t = *state;
    write_raw(t->path, "{\"w\": {\"dtype\": \"F32\",", NULL, 0);
    expect_open_error(t->path, "header is not valid JSON (line 1", NULL);
    write_raw(t->path, "[1, 2]", NULL, 0);
    expect_open_error(t->path, "not a JSON object", NULL);
    write_raw(t->path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
              NULL, 0);
    expect_open_error(t->path, "not valid JSON", "duplicate");
}

static void test_bad_offsets_beyond(void **state) {
    Tmp *t = *state;
    float d[4] = {0};
    write_raw(t->path,
              "{\"ok\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"far\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}",
              d, sizeof d);
    expect_open_error(t->path, "tensor 'far'", "exceed the data size 16");
    write_raw(t->path, "{\"rev\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'rev'", "begin > end");
    write_raw(t->path, "{\"neg\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'neg'", "data_offsets");
}

static void test_bad_size_mismatch(void **state) {
    Tmp *t = *state;
    float d[4] = {0};
    write_raw(t->path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'w'", "hold 16 bytes");
    write_raw(t->path, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'w'", "need 8");
    /* Shape products that overflow 64 bits must not wrap to a small size. */
    write_raw(t->path,
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],"
              "\"data_offsets\":[0,0]}}",
              d, sizeof d);
    expect_open_error(t->path, "tensor 'w'", "overflow");
    write_raw(t->path,
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
              "\"data_offsets\":[0,0]}}",
              d, sizeof d);
    expect_open_error(t->path, "tensor 'w'", "overflow");
}

static void test_bad_overlap(void **state) {
    Tmp *t = *state;
    float d[6] = {0};
    write_raw(t->path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
              "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
              d, sizeof d);
    expect_open_error(t->path, "tensors 'a' and 'b' overlap", NULL);
    /* A range nested inside an earlier, longer one also overlaps. */
    write_raw(t->path,
              "{\"big\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},"
              "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
              "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
              d, sizeof d);
    expect_open_error(t->path, "'big'", "overlap");
    /* Empty tensors may share an offset with anything. */
    write_raw(t->path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
              d, sizeof d);
    StFile f;
    assert_int_equal(st_open(&f, t->path), 0);
    st_close(&f);
}

static void test_bad_dtype_and_shape(void **state) {
    Tmp *t = *state;
    float d[4] = {0};
    write_raw(t->path, "{\"q\":{\"dtype\":\"Q8\",\"shape\":[4],\"data_offsets\":[0,4]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'q'", "unknown dtype 'Q8'");
    write_raw(t->path, "{\"n\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'n'", "shape[1]");
    write_raw(t->path, "{\"s\":{\"dtype\":\"F32\",\"shape\":\"4\",\"data_offsets\":[0,16]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 's'", "'shape'");
    write_raw(t->path, "{\"m\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'm'", "dimensions");
    write_raw(t->path, "{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", d, sizeof d);
    expect_open_error(t->path, "tensor 'x'", "'dtype'");
    write_raw(t->path, "{\"x\":[1]}", d, sizeof d);
    expect_open_error(t->path, "tensor 'x'", "not an object");
    write_raw(t->path, "{\"__metadata__\":{\"k\":1}}", d, sizeof d);
    expect_open_error(t->path, "__metadata__", "'k'");
}

static void test_bad_dtype_conversion(void **state) {
    Tmp *t = *state;
    int64_t ids[2] = {7, 9};
    write_raw(t->path,
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
              ids, sizeof ids);
    StFile f;
    assert_int_equal(st_open(&f, t->path), 0); /* valid file: only conversion fails */
    assert_int_equal(f.n_tensors, 1);
    const StTensor *ti = st_find(&f, "ids");
    assert_non_null(ti);
    float out[2];
    px_error("%s", ""); /* clear */
    assert_int_equal(st_tensor_to_f32(&f, ti, out), -1);
    const char *msg = px_error_message();
    assert_contains(msg, t->path);
    assert_contains(msg, "tensor 'ids': unsupported dtype I64 (expected F32, BF16 or F16)");
    st_close(&f);
}

static void test_write_errors(void **state) {
    Tmp *t = *state;
    float a[2] = {1, 2};
    StWriteTensor w = {"a", ST_F32, 1, {2}, a};
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", t->dir);
    px_error("%s", ""); /* clear */
    assert_int_equal(st_write(bad, &w, 1, NULL, 0), -1);
    assert_contains(px_error_message(), bad);
    assert_contains(px_error_message(), "No such file");

    /* Renaming onto a directory fails: the temporary must be removed. */
    char dirpath[600];
    snprintf(dirpath, sizeof dirpath, "%s/adir", t->dir);
    assert_int_equal(mkdir(dirpath, 0700), 0);
    assert_int_equal(st_write(dirpath, &w, 1, NULL, 0), -1);
    assert_contains(px_error_message(), dirpath);
    assert_int_equal(count_tmp_files(t->dir), 0);

    StWriteTensor dup[2] = {w, w};
    assert_int_equal(st_write(t->path, dup, 2, NULL, 0), -1);
    assert_contains(px_error_message(), "tensor 'a'");
    StWriteTensor f16 = {"h", ST_F16, 1, {2}, a};
    assert_int_equal(st_write(t->path, &f16, 1, NULL, 0), -1);
    assert_contains(px_error_message(), "tensor 'h'");
    assert_int_equal(access(t->path, F_OK), -1); /* nothing written */
}

/* ---- npy ------------------------------------------------------------------------------ */

static void test_npy_round_trip(void **state) {
    Tmp *t = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/a.npy", t->dir);
    float data[15];
    for (int i = 0; i < 15; i++) data[i] = (float)i * 0.5f - 3.0f;
    int64_t shape[2] = {3, 5};
    assert_int_equal(npy_write_f32(path, data, shape, 2), 0);

    /* Header: magic, version 1.0, length, dict ending in '\n', total multiple of 64. */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t raw[512];
    size_t n = fread(raw, 1, sizeof raw, fp);
    assert_int_equal(fclose(fp), 0);
    assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
    size_t hlen = 10 + (size_t)(raw[8] | raw[9] << 8);
    assert_int_equal(hlen % 64, 0);
    assert_int_equal(n, hlen + sizeof data);
    assert_int_equal(raw[hlen - 1], '\n');
    assert_memory_equal(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }", 59);

    float *back = NULL;
    int64_t bshape[8];
    int nd = 0;
    assert_int_equal(npy_read_f32(path, &back, bshape, &nd), 0);
    assert_int_equal(nd, 2);
    assert_int_equal(bshape[0], 3);
    assert_int_equal(bshape[1], 5);
    assert_memory_equal(back, data, sizeof data);
    free(back);

    /* 1-D shapes are written as Python one-tuples "(7,)". */
    int64_t s1 = 7;
    assert_int_equal(npy_write_f32(path, data, &s1, 1), 0);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    n = fread(raw, 1, sizeof raw, fp);
    assert_int_equal(fclose(fp), 0);
    assert_memory_equal(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", 57);
    assert_int_equal(npy_read_f32(path, &back, bshape, &nd), 0);
    assert_int_equal(nd, 1);
    assert_int_equal(bshape[0], 7);
    assert_memory_equal(back, data, 7 * sizeof(float));
    free(back);
}

static void write_npy_raw(const char *path, const char *dict, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    size_t len = strlen(dict);
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    assert_int_equal(fwrite(pre, 1, 10, fp), 10);
    assert_int_equal(fwrite(dict, 1, len, fp), len);
    if (n) assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void test_npy_read_variants_and_errors(void **state) {
    Tmp *t = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/b.npy", t->dir);
    float d[6] = {1, 2, 3, 4, 5, 6};
    float *back = NULL;
    int64_t shape[8];
    int nd;
    /* Keys in another order, extra spaces, no trailing comma. */
    write_npy_raw(path, "{ 'shape' : (2,3), 'fortran_order': False, 'descr': '<f4' }  \n", d, sizeof d);
    assert_int_equal(npy_read_f32(path, &back, shape, &nd), 0);
    assert_int_equal(nd, 2);
    assert_int_equal(shape[1], 3);
    assert_memory_equal(back, d, sizeof d);
    free(back);

    write_npy_raw(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", d, sizeof d);
    assert_int_equal(npy_read_f32(path, &back, shape, &nd), -1);
    assert_contains(px_error_message(), path);
    assert_contains(px_error_message(), "'<f8'");
    write_npy_raw(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", d, sizeof d);
    assert_int_equal(npy_read_f32(path, &back, shape, &nd), -1);
    assert_contains(px_error_message(), "Fortran");
    write_npy_raw(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }\n", d, sizeof d);
    assert_int_equal(npy_read_f32(path, &back, shape, &nd), -1);
    assert_contains(px_error_message(), path);
    assert_null(back);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_f16_values),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_f16_f64_unaligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_empty_and_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_truncated_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_not_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_offsets_beyond, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_size_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_dtype_and_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_dtype_conversion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_npy_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_npy_read_variants_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
