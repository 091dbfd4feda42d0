/* npy.c — NumPy .npy float32 files (format 1.0 written; 1.0, 2.0 and 3.0 read). */
#include "io/npy.h"

#include "io/atomic_file.h"

#include "src/base/common.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c writes '<f4' straight from memory and assumes a little-endian host"
#endif

#define NPY_MAX_DIMS 8
static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- writing ------------------------------------------------------------------------ */

/* Header: magic, version 1.0, u16 length, dict text padded with spaces and ended by
 * '\n' so that the data starts at a multiple of 64 bytes (what NumPy itself does). */
static int build_header(const char *path, const int64_t *shape, int ndim, size_t *numel, char *hdr, size_t cap,
                        size_t *hdr_len) {
    char dims[NPY_MAX_DIMS * 24 + 8] = "";
    size_t dl = 0, n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return px_error("%s: negative shape[%d] = %lld", path, d, (long long)shape[d]);
        size_t s = (size_t)shape[d];
        if (s != 0 && n > SIZE_MAX / 4 / s) return px_error("%s: shape too large", path);
        n *= s;
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%s%lld", d ? ", " : "", (long long)shape[d]);
    }
    if (ndim == 1) dl += (size_t)snprintf(dims + dl, sizeof dims - dl, ",");
    char dict[sizeof dims + 96];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t total = 10 + (size_t)len + 1; /* preamble + dict + '\n' */
    total = (total + 63) / 64 * 64;
    if (total > cap) return px_error("%s: npy header too long", path);
    memcpy(hdr, npy_magic, 6);
    hdr[6] = 1;
    hdr[7] = 0;
    size_t body = total - 10;
    hdr[8] = (char)(body & 0xFF);
    hdr[9] = (char)(body >> 8);
    memcpy(hdr + 10, dict, (size_t)len);
    memset(hdr + 10 + len, ' ', body - (size_t)len - 1);
    hdr[total - 1] = '\n';
    *hdr_len = total;
    *numel = n;
    return 0;
}

typedef struct {
    const char *header;
    size_t header_len;
    const float *data;
    size_t numel;
} NpyBody;

static int write_npy_body(FILE *fp, void *ctx) {
    const NpyBody *b = ctx;
    if (fwrite(b->header, 1, b->header_len, fp) != b->header_len) return -1;
    return b->numel == 0 || fwrite(b->data, sizeof(float), b->numel, fp) == b->numel ? 0 : -1;
}

int npy_write_f32(const char *path, const float *data, const int64_t *shape, int ndim) {
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return px_error("%s: %d dimensions (0..%d supported)", path, ndim, NPY_MAX_DIMS);
    char hdr[512];
    size_t hlen = 0, numel = 0;
    if (build_header(path, shape, ndim, &numel, hdr, sizeof hdr, &hlen) != 0) return -1;
    if (numel > 0 && !data) return px_error("%s: no data", path);

    NpyBody body = {hdr, hlen, data, numel};
    return atomic_write(path, write_npy_body, &body);
}

/* ---- reading ------------------------------------------------------------------------ */

/* A cursor over the header dict, a Python literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
typedef struct {
    const char *p, *end;
} Cursor;

static void skip_ws(Cursor *c) {
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int accept(Cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...") without escapes, copied into out. */
static int parse_str(Cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap) return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[n] = '\0';
    return 0;
}

static int parse_word(Cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return -1;
    c->p += n;
    return 0;
}

/* A tuple of non-negative integers: (), (3,), (3, 4), with an optional trailing comma. */
static int parse_shape(Cursor *c, int64_t *shape, int *ndim) {
    if (!accept(c, '(')) return -1;
    *ndim = 0;
    for (;;) {
        if (accept(c, ')')) return 0;
        skip_ws(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p) || *ndim >= NPY_MAX_DIMS) return -1;
        int64_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            if (v > (INT64_MAX - 9) / 10) return -1;
            v = v * 10 + (*c->p++ - '0');
        }
        while (c->p < c->end && (*c->p == 'L')) c->p++; /* Python 2 longs */
        shape[(*ndim)++] = v;
        if (accept(c, ')')) return 0;
        if (!accept(c, ',')) return -1;
    }
}

static int parse_dict(const char *path, Cursor *c, int64_t *shape, int *ndim) {
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!accept(c, '{')) return px_error("%s: npy header is not a dict", path);
    while (!accept(c, '}')) {
        char key[32], val[32];
        if (parse_str(c, key, sizeof key) != 0 || !accept(c, ':')) return px_error("%s: malformed npy header", path);
        if (strcmp(key, "descr") == 0) {
            if (parse_str(c, val, sizeof val) != 0) return px_error("%s: malformed 'descr' in npy header", path);
            if (strcmp(val, "<f4") != 0)
                return px_error("%s: npy dtype '%s' is not supported (expected '<f4')", path, val);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(c, "True") == 0) return px_error("%s: Fortran-order npy is not supported", path);
            if (parse_word(c, "False") != 0) return px_error("%s: malformed 'fortran_order' in npy header", path);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(c, shape, ndim) != 0)
                return px_error("%s: malformed 'shape' in npy header (at most %d dims)", path, NPY_MAX_DIMS);
            have_shape = 1;
        } else {
            return px_error("%s: unexpected key '%s' in npy header", path, key);
        }
        if (!accept(c, ',')) {
            if (accept(c, '}')) break;
            return px_error("%s: malformed npy header", path);
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return px_error("%s: npy header lacks '%s'", path,
                        !have_descr   ? "descr"
                        : !have_order ? "fortran_order"
                                      : "shape");
    return 0;
}

/* Reads and checks the preamble; returns the header dict text (allocated). */
static char *read_header(const char *path, FILE *fp, size_t *dict_len, long *data_start) {
    unsigned char pre[12];
    if (fread(pre, 1, 10, fp) != 10 || memcmp(pre, npy_magic, 6) != 0) {
        px_error("%s: not a .npy file (bad magic or too short)", path);
        return NULL;
    }
    size_t len;
    long start;
    if (pre[6] == 1) {
        len = (size_t)pre[8] | (size_t)pre[9] << 8;
        start = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, fp) != 2) {
            px_error("%s: truncated npy header", path);
            return NULL;
        }
        len = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        start = 12;
        if (len > (1u << 24)) {
            px_error("%s: npy header length %zu is implausible", path, len);
            return NULL;
        }
    } else {
        px_error("%s: unsupported npy format version %d.%d", path, pre[6], pre[7]);
        return NULL;
    }
    char *text = malloc(len + 1);
    if (!text) {
        px_error("%s: out of memory reading the npy header", path);
        return NULL;
    }
    if (fread(text, 1, len, fp) != len) {
        free(text);
        px_error("%s: truncated npy header", path);
        return NULL;
    }
    text[len] = '\0';
    *dict_len = len;
    *data_start = start + (long)len;
    return text;
}

static int read_body(const char *path, FILE *fp, long data_start, float **data, int64_t *shape, int ndim) {
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        size_t s = (size_t)shape[d];
        if (s != 0 && numel > SIZE_MAX / 4 / s) return px_error("%s: npy shape too large", path);
        numel *= s;
    }
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) return px_error("%s: cannot stat: %s", path, strerror(errno));
    if ((uint64_t)sb.st_size != (uint64_t)data_start + (uint64_t)numel * 4)
        return px_error("%s: file has %lld bytes but the header promises %ld + %zu x 4", path, (long long)sb.st_size,
                        data_start, numel);
    float *buf = px_calloc(numel, sizeof(float), path);
    if (!buf) return -1;
    if (fread(buf, sizeof(float), numel, fp) != numel) {
        free(buf);
        return px_error("%s: read failed", path);
    }
    *data = buf;
    return 0;
}

int npy_read_f32(const char *path, float **data, int64_t *shape, int *ndim) {
    *data = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return px_error("%s: cannot open: %s", path, strerror(errno));
    size_t len;
    long data_start;
    char *text = read_header(path, fp, &len, &data_start);
    int rc = -1;
    if (text) {
        Cursor c = {text, text + len};
        int nd = 0;
        int64_t shp[NPY_MAX_DIMS];
        if (parse_dict(path, &c, shp, &nd) == 0 && read_body(path, fp, data_start, data, shp, nd) == 0) {
            memcpy(shape, shp, (size_t)nd * sizeof *shape);
            *ndim = nd;
            rc = 0;
        }
        free(text);
    }
    fclose(fp); /* read-only stream: nothing to lose on a failing close */
    return rc;
}
