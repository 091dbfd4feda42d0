/* safetensors.c — a validating safetensors reader (mmap) and an atomic writer. */
#include "io/safetensors.h"

#include "io/atomic_file.h"

#include "src/base/bf16.h"
#include "src/base/common.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tensor data is reinterpreted in place (F32, I32 written straight from memory). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "proact's safetensors code assumes a little-endian host"
#endif

#define ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024)
#define ST_MAX_DIMS 8

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},   [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

const char *st_dtype_name(StDtype t) { return (int)t >= 0 && (int)t < N_DTYPES ? dtype_info[t].name : "?"; }

size_t st_dtype_size(StDtype t) { return (int)t >= 0 && (int)t < N_DTYPES ? dtype_info[t].size : 0; }

static int dtype_from_name(const char *s, StDtype *out) {
    for (int i = 0; i < N_DTYPES; i++) {
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (StDtype)i;
            return 0;
        }
    }
    return -1;
}

/* ---- scalar conversions ------------------------------------------------------------ */

static float bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (mant << 13)); /* inf / NaN */
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign); /* +-0 */
        /* Subnormal: mant * 2^-24, exact in fp32. */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* ---- reading ------------------------------------------------------------------------ */

void st_close(StFile *f) {
    if (!f) return;
    if (f->tensors) {
        for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
        free(f->tensors);
    }
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->map_size);
    f->tensors = NULL;
    f->n_tensors = 0;
    f->map = NULL;
    f->map_size = 0;
}

/* Maps the whole file read-only; the descriptor is not needed after mmap. */
static int map_file(StFile *f) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return px_error("%s: cannot open: %s", f->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return px_error("%s: cannot stat: %s", f->path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return px_error("%s: not a regular file", f->path);
    }
    if (sb.st_size < 8) {
        close(fd);
        if (sb.st_size == 0) return px_error("%s: file is empty", f->path);
        return px_error("%s: truncated: %lld bytes, too short for the 8-byte header length", f->path,
                        (long long)sb.st_size);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* read-only descriptor: a failing close loses nothing */
    if (p == MAP_FAILED) return px_error("%s: mmap failed: %s", f->path, strerror(e));
    f->map = p;
    f->map_size = (size_t)sb.st_size;
    return 0;
}

static int get_nonneg_int(json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Fills t from one header entry and checks its range against the data section. */
static int parse_entry(StFile *f, const char *name, json_t *entry, const uint8_t *data, uint64_t data_size,
                       StTensor *t) {
    if (!json_is_object(entry)) return px_error("%s: tensor '%s': header entry is not an object", f->path, name);

    json_t *dt = json_object_get(entry, "dtype");
    if (!json_is_string(dt)) return px_error("%s: tensor '%s': field 'dtype' missing or not a string", f->path, name);
    if (dtype_from_name(json_string_value(dt), &t->dtype) != 0)
        return px_error("%s: tensor '%s': unknown dtype '%s'", f->path, name, json_string_value(dt));

    json_t *shape = json_object_get(entry, "shape");
    if (!json_is_array(shape)) return px_error("%s: tensor '%s': field 'shape' missing or not an array", f->path, name);
    if (json_array_size(shape) > ST_MAX_DIMS)
        return px_error("%s: tensor '%s': shape has %zu dimensions (at most %d supported)", f->path, name,
                        json_array_size(shape), ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t n;
        if (get_nonneg_int(json_array_get(shape, (size_t)d), &n) != 0)
            return px_error("%s: tensor '%s': shape[%d] is not a non-negative integer", f->path, name, d);
        if (n != 0 && numel > UINT64_MAX / n)
            return px_error("%s: tensor '%s': shape overflows the element count", f->path, name);
        numel *= n;
        t->shape[d] = (int64_t)n;
    }
    size_t esize = st_dtype_size(t->dtype);
    if (numel > UINT64_MAX / esize || numel * esize > SIZE_MAX)
        return px_error("%s: tensor '%s': shape overflows the byte count", f->path, name);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(numel * esize);

    json_t *offs = json_object_get(entry, "data_offsets");
    uint64_t begin, end;
    if (!json_is_array(offs) || json_array_size(offs) != 2 || get_nonneg_int(json_array_get(offs, 0), &begin) != 0 ||
        get_nonneg_int(json_array_get(offs, 1), &end) != 0)
        return px_error("%s: tensor '%s': field 'data_offsets' must be [begin, end] non-negative integers", f->path,
                        name);
    if (begin > end)
        return px_error("%s: tensor '%s': data_offsets [%llu, %llu) has begin > end", f->path, name,
                        (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return px_error("%s: tensor '%s': data_offsets [%llu, %llu) exceed the data size %llu", f->path, name,
                        (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
    if (end - begin != t->nbytes)
        return px_error("%s: tensor '%s': data_offsets [%llu, %llu) hold %llu bytes but %s x %llu elements "
                        "need %zu",
                        f->path, name, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin), st_dtype_name(t->dtype), (unsigned long long)numel,
                        t->nbytes);
    t->data = data + begin;
    return 0;
}

static int check_metadata(const StFile *f, json_t *meta) {
    if (!json_is_object(meta)) return px_error("%s: '__metadata__' is not an object", f->path);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v)) return px_error("%s: '__metadata__' value '%s' is not a string", f->path, k);
    }
    return 0;
}

static int cmp_by_offset(const void *pa, const void *pb) {
    const StTensor *a = pa, *b = pb;
    if (a->data != b->data) return a->data < b->data ? -1 : 1;
    if (a->nbytes != b->nbytes) return a->nbytes < b->nbytes ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Sorts by offset and rejects overlapping non-empty ranges. */
static int check_overlaps(StFile *f) {
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_by_offset);
    /* Sorted by begin, a range overlaps an earlier one iff it overlaps the previous
     * non-empty range: a non-overlapping one starts, and so ends, after all earlier ends. */
    const StTensor *last = NULL;
    for (int i = 0; i < f->n_tensors; i++) {
        const StTensor *t = &f->tensors[i];
        if (t->nbytes == 0) continue;
        if (last && t->data < last->data + last->nbytes)
            return px_error("%s: tensors '%s' and '%s' overlap", f->path, last->name, t->name);
        last = t;
    }
    return 0;
}

static int parse_header(StFile *f, json_t *root, const uint8_t *data, uint64_t data_size) {
    if (!json_is_object(root)) return px_error("%s: header is not a JSON object", f->path);
    size_t n = json_object_size(root);
    f->tensors = px_calloc(n, sizeof *f->tensors, "safetensors tensor table");
    if (!f->tensors) return -1;

    const char *name;
    json_t *entry;
    json_object_foreach(root, name, entry) {
        if (strcmp(name, "__metadata__") == 0) {
            if (check_metadata(f, entry) != 0) return -1;
            continue;
        }
        StTensor *t = &f->tensors[f->n_tensors];
        t->name = strdup(name);
        if (!t->name) return px_error("%s: out of memory", f->path);
        f->n_tensors++; /* counted now so that st_close frees the name on error */
        if (parse_entry(f, name, entry, data, data_size, t) != 0) return -1;
    }
    return check_overlaps(f);
}

int st_open(StFile *f, const char *path) {
    memset(f, 0, sizeof *f);
    if ((size_t)snprintf(f->path, sizeof f->path, "%s", path) >= sizeof f->path)
        return px_error("%.200s...: path too long", path);
    if (map_file(f) != 0) return -1;

    const uint8_t *base = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | base[i];
    if (hlen > (uint64_t)f->map_size - 8) {
        px_error("%s: truncated: header length %llu but file has %zu bytes", path, (unsigned long long)hlen,
                 f->map_size);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        px_error("%s: header length %llu exceeds the %llu-byte limit", path, (unsigned long long)hlen,
                 (unsigned long long)ST_MAX_HEADER);
        goto fail;
    }

    json_error_t jerr;
    json_t *root = json_loadb((const char *)base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        px_error("%s: header is not valid JSON (line %d: %s)", path, jerr.line, jerr.text);
        goto fail;
    }
    int rc = parse_header(f, root, base + 8 + hlen, (uint64_t)f->map_size - 8 - hlen);
    json_decref(root);
    if (rc != 0) goto fail;
    return 0;

fail:
    st_close(f);
    return -1;
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

int st_tensor_to_f32(const StFile *f, const StTensor *t, float *out) {
    const uint8_t *p = t->data; /* may be unaligned: read through memcpy */
    switch (t->dtype) {
        case ST_F32:
            if (t->nbytes) memcpy(out, p, t->nbytes);
            return 0;
        case ST_BF16:
        case ST_F16:
            for (size_t i = 0; i < t->numel; i++) {
                uint16_t h;
                memcpy(&h, p + 2 * i, sizeof h);
                out[i] = t->dtype == ST_BF16 ? f32_from_bf16(h) : f16_to_f32(h);
            }
            return 0;
        case ST_F64:
            for (size_t i = 0; i < t->numel; i++) {
                double v;
                memcpy(&v, p + 8 * i, sizeof v);
                out[i] = (float)v;
            }
            return 0;
        default:
            return px_error("%s: tensor '%s': unsupported dtype %s (expected F32, BF16 or F16)", f->path, t->name,
                            st_dtype_name(t->dtype));
    }
}

/* ---- writing ------------------------------------------------------------------------ */

static int writer_numel(const char *path, const StWriteTensor *t, size_t *numel) {
    if (!t->name) return px_error("%s: tensor without a name", path);
    if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_I32)
        return px_error("%s: tensor '%s': cannot write dtype %s (F32, BF16 or I32 only)", path, t->name,
                        st_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
        return px_error("%s: tensor '%s': %d dimensions (0..%d supported)", path, t->name, t->ndim, ST_MAX_DIMS);
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0) return px_error("%s: tensor '%s': negative shape[%d]", path, t->name, d);
        size_t s = (size_t)t->shape[d];
        if (s != 0 && n > SIZE_MAX / 8 / s) return px_error("%s: tensor '%s': shape too large", path, t->name);
        n *= s;
    }
    if (n > 0 && !t->data) return px_error("%s: tensor '%s': no data", path, t->name);
    *numel = n;
    return 0;
}

static json_t *shape_json(const StWriteTensor *t) {
    json_t *a = json_array();
    for (int d = 0; a && d < t->ndim; d++) {
        if (json_array_append_new(a, json_integer((json_int_t)t->shape[d])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Builds the header text, space-padded so that the data starts 8-byte aligned. */
static char *build_header(const char *path, const StWriteTensor *ts, int n, const char *const *meta_kv, int n_meta,
                          size_t *out_len) {
    json_t *root = json_object();
    if (!root) goto oom;
    if (n_meta > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0) goto oom;
        for (int i = 0; i < n_meta; i++) {
            if (!meta_kv[2 * i] || !meta_kv[2 * i + 1]) {
                json_decref(root);
                px_error("%s: metadata pair %d is NULL", path, i);
                return NULL;
            }
            if (json_object_set_new(meta, meta_kv[2 * i], json_string(meta_kv[2 * i + 1])) != 0) goto oom;
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        size_t numel;
        if (writer_numel(path, &ts[i], &numel) != 0) {
            json_decref(root);
            return NULL;
        }
        if (strcmp(ts[i].name, "__metadata__") == 0 || json_object_get(root, ts[i].name)) {
            json_decref(root);
            px_error("%s: tensor '%s' given twice (or reserved name)", path, ts[i].name);
            return NULL;
        }
        uint64_t nbytes = (uint64_t)numel * st_dtype_size(ts[i].dtype);
        /* json_object_set_new always takes ownership of the value, even on failure. */
        json_t *e = json_object();
        if (!e) goto oom;
        if (json_object_set_new(e, "dtype", json_string(st_dtype_name(ts[i].dtype))) != 0 ||
            json_object_set_new(e, "shape", shape_json(&ts[i])) != 0 ||
            json_object_set_new(e, "data_offsets",
                                json_pack("[II]", (json_int_t)offset, (json_int_t)(offset + nbytes))) != 0) {
            json_decref(e);
            goto oom;
        }
        if (json_object_set_new(root, ts[i].name, e) != 0) goto oom;
        offset += nbytes;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) goto oom_nofree;
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    char *buf = realloc(text, padded + 1);
    if (!buf) {
        free(text);
        goto oom_nofree;
    }
    memset(buf + len, ' ', padded - len);
    buf[padded] = '\0';
    *out_len = padded;
    return buf;

oom:
    json_decref(root);
oom_nofree:
    px_error("%s: cannot build the header (out of memory, or a name is not valid UTF-8)", path);
    return NULL;
}

/* Writes one tensor's bytes, converting to bf16 in chunks when asked. */
static int write_tensor_data(FILE *fp, const StWriteTensor *t, size_t numel) {
    if (numel == 0) return 0; /* data may be NULL */
    if (t->dtype != ST_BF16) return fwrite(t->data, 4, numel, fp) == numel ? 0 : -1;
    const float *src = t->data;
    uint16_t chunk[4096];
    for (size_t i = 0; i < numel;) {
        size_t k = PX_MIN(numel - i, sizeof chunk / sizeof chunk[0]);
        for (size_t j = 0; j < k; j++) chunk[j] = bf16_from_f32(src[i + j]);
        if (fwrite(chunk, 2, k, fp) != k) return -1;
        i += k;
    }
    return 0;
}

static int write_all(FILE *fp, const char *path, const char *header, size_t hlen, const StWriteTensor *ts, int n) {
    uint8_t len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    if (fwrite(len_le, 1, 8, fp) != 8 || fwrite(header, 1, hlen, fp) != hlen) return -1;
    for (int i = 0; i < n; i++) {
        size_t numel;
        if (writer_numel(path, &ts[i], &numel) != 0) return -1; /* cannot fail: checked by build_header */
        if (write_tensor_data(fp, &ts[i], numel) != 0) return -1;
    }
    return 0;
}

typedef struct {
    const char *path, *header;
    size_t hlen;
    const StWriteTensor *tensors;
    int n;
} StBody;

static int write_body(FILE *fp, void *ctx) {
    const StBody *b = ctx;
    return write_all(fp, b->path, b->header, b->hlen, b->tensors, b->n);
}

int st_write(const char *path, const StWriteTensor *tensors, int n, const char *const *meta_kv, int n_meta) {
    if (n < 0 || n_meta < 0) return px_error("%s: negative tensor or metadata count", path);
    size_t hlen;
    char *header = build_header(path, tensors, n, meta_kv, n_meta, &hlen);
    if (!header) return -1;
    StBody body = {path, header, hlen, tensors, n};
    int rc = atomic_write(path, write_body, &body);
    free(header);
    return rc;
}
