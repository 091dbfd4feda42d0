/* shards.c — write and read HDF5 token shards (layout in shards.h and docs/formats.md). */
#include "io/shards.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "src/base/common.h"
#include "src/base/vec.h"

/* ---------------------------------------------------------------- growable arrays */

typedef struct {
    void *data;
    size_t n, cap, elem;
} Grow;

static int grow_reserve(Grow *g, size_t need) {
    return vec_reserve(&g->data, &g->cap, need, g->elem, "collecting token shards");
}

static int grow_append(Grow *g, const void *src, size_t count) {
    if (grow_reserve(g, g->n + count)) return -1;
    if (count) memcpy((char *)g->data + g->n * g->elem, src, count * g->elem);
    g->n += count;
    return 0;
}

static int grow_push_i64(Grow *g, int64_t v) { return grow_append(g, &v, 1); }

struct ShardWriter {
    Grow src_tokens, tgt_tokens, src_off, tgt_off;
    Grow src_word_ends, tgt_word_ends, src_word_off, tgt_word_off;
    Grow src_text, tgt_text, src_text_off, tgt_text_off;
    Grow lengths, line;
};

#define WRITER_ARRAYS(w)                                                                                        \
    &(w)->src_tokens, &(w)->tgt_tokens, &(w)->src_off, &(w)->tgt_off, &(w)->src_word_ends, &(w)->tgt_word_ends, \
        &(w)->src_word_off, &(w)->tgt_word_off, &(w)->src_text, &(w)->tgt_text, &(w)->src_text_off,             \
        &(w)->tgt_text_off, &(w)->lengths, &(w)->line

ShardWriter *shard_writer_new(void) {
    ShardWriter *w = px_calloc(1, sizeof *w, "shard writer");
    if (!w) return NULL;
    w->src_tokens.elem = w->tgt_tokens.elem = w->src_word_ends.elem = w->tgt_word_ends.elem = sizeof(int);
    w->lengths.elem = sizeof(int);
    w->src_off.elem = w->tgt_off.elem = w->src_word_off.elem = w->tgt_word_off.elem = sizeof(int64_t);
    w->src_text_off.elem = w->tgt_text_off.elem = w->line.elem = sizeof(int64_t);
    w->src_text.elem = w->tgt_text.elem = 1;
    Grow *starts[] = {&w->src_off, &w->tgt_off, &w->src_word_off, &w->tgt_word_off, &w->src_text_off, &w->tgt_text_off};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        if (grow_push_i64(starts[i], 0)) {
            shard_writer_free(w);
            return NULL;
        }
    return w;
}

void shard_writer_free(ShardWriter *w) {
    if (!w) return;
    Grow *all[] = {WRITER_ARRAYS(w)};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->data);
    free(w);
}

int64_t shard_writer_count(const ShardWriter *w) { return (int64_t)w->line.n; }

int shard_writer_add(ShardWriter *w, const ShardExample *ex) {
    int lengths[4] = {ex->n_src_words, ex->n_src_tokens, ex->n_tgt_words, ex->n_tgt_tokens};
    if (grow_append(&w->src_tokens, ex->src_tokens, ex->n_src_tokens) ||
        grow_append(&w->tgt_tokens, ex->tgt_tokens, ex->n_tgt_tokens) ||
        grow_push_i64(&w->src_off, (int64_t)w->src_tokens.n) || grow_push_i64(&w->tgt_off, (int64_t)w->tgt_tokens.n) ||
        grow_append(&w->src_word_ends, ex->src_word_ends, ex->n_src_words) ||
        grow_append(&w->tgt_word_ends, ex->tgt_word_ends, ex->n_tgt_words) ||
        grow_push_i64(&w->src_word_off, (int64_t)w->src_word_ends.n) ||
        grow_push_i64(&w->tgt_word_off, (int64_t)w->tgt_word_ends.n) ||
        grow_append(&w->src_text, ex->src_text, ex->src_text_len) ||
        grow_append(&w->tgt_text, ex->tgt_text, ex->tgt_text_len) ||
        grow_push_i64(&w->src_text_off, (int64_t)w->src_text.n) ||
        grow_push_i64(&w->tgt_text_off, (int64_t)w->tgt_text.n) || grow_append(&w->lengths, lengths, 4) ||
        grow_push_i64(&w->line, ex->line))
        return -1;
    return 0;
}

int shard_writer_to_pairs(ShardWriter *w, PairSet *out) {
    memset(out, 0, sizeof *out);
    out->count = (int64_t)w->line.n;
    out->src_tokens = w->src_tokens.data;
    out->tgt_tokens = w->tgt_tokens.data;
    out->src_off = w->src_off.data;
    out->tgt_off = w->tgt_off.data;
    out->src_word_ends = w->src_word_ends.data;
    out->tgt_word_ends = w->tgt_word_ends.data;
    out->src_word_off = w->src_word_off.data;
    out->tgt_word_off = w->tgt_word_off.data;
    out->src_text = w->src_text.data;
    out->tgt_text = w->tgt_text.data;
    out->src_text_off = w->src_text_off.data;
    out->tgt_text_off = w->tgt_text_off.data;
    out->line = w->line.data;
    free(w->lengths.data);
    free(w);
    return 0;
}

/* ---------------------------------------------------------------- HDF5 writing helpers */

static int write_dataset(hid_t loc, const char *path, const char *name, hid_t type, const void *data, int rank,
                         const hsize_t *dims) {
    static const char dummy[8] = {0}; /* HDF5 wants a buffer even for an empty dataset */
    hid_t space = H5Screate_simple(rank, dims, NULL);
    if (space < 0) return px_error("%s: cannot create dataspace for '%s'", path, name);
    hid_t dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (dset < 0) rc = px_error("%s: cannot create dataset '%s'", path, name);
    else if (H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data ? data : dummy) < 0)
        rc = px_error("%s: cannot write dataset '%s'", path, name);
    if (dset >= 0 && H5Dclose(dset) < 0 && rc == 0) rc = px_error("%s: cannot close dataset '%s'", path, name);
    H5Sclose(space);
    return rc;
}

static int write_1d(hid_t loc, const char *path, const char *name, hid_t type, const Grow *g) {
    hsize_t dims[1] = {g->n};
    return write_dataset(loc, path, name, type, g->data, 1, dims);
}

static int write_span(hid_t loc, const char *path, const char *name, const IdVec *s) {
    hsize_t dims[1] = {(hsize_t)s->n};
    return write_dataset(loc, path, name, H5T_NATIVE_INT, s->ids, 1, dims);
}

static int write_contents(hid_t file, const char *path, const ShardWriter *w, const ShardInfo *info,
                          const char *tok_json, size_t tok_len) {
    char fp[17];
    snprintf(fp, sizeof fp, "%016" PRIx64, info->tokenizer_fingerprint);
    hsize_t len_dims[2] = {w->line.n, 4};
    hsize_t tok_dims[1] = {tok_len};
    if (h5_attr_write_string(file, path, "format", SHARDS_FORMAT) ||
        h5_attr_write_i64(file, path, "format_version", SHARDS_FORMAT_VERSION) ||
        h5_attr_write_i64(file, path, "n_examples", (int64_t)w->line.n) ||
        h5_attr_write_string(file, path, "source", info->source) ||
        h5_attr_write_string(file, path, "src_lang", info->src_lang) ||
        h5_attr_write_string(file, path, "tgt_lang", info->tgt_lang) ||
        h5_attr_write_string(file, path, "template", info->template_name) ||
        h5_attr_write_string(file, path, "tokenizer_fingerprint", fp) ||
        write_1d(file, path, "src_tokens", H5T_NATIVE_INT, &w->src_tokens) ||
        write_1d(file, path, "tgt_tokens", H5T_NATIVE_INT, &w->tgt_tokens) ||
        write_1d(file, path, "src_offsets", H5T_NATIVE_INT64, &w->src_off) ||
        write_1d(file, path, "tgt_offsets", H5T_NATIVE_INT64, &w->tgt_off) ||
        write_1d(file, path, "src_word_ends", H5T_NATIVE_INT, &w->src_word_ends) ||
        write_1d(file, path, "tgt_word_ends", H5T_NATIVE_INT, &w->tgt_word_ends) ||
        write_1d(file, path, "src_word_offsets", H5T_NATIVE_INT64, &w->src_word_off) ||
        write_1d(file, path, "tgt_word_offsets", H5T_NATIVE_INT64, &w->tgt_word_off) ||
        write_1d(file, path, "src_text", H5T_NATIVE_UINT8, &w->src_text) ||
        write_1d(file, path, "tgt_text", H5T_NATIVE_UINT8, &w->tgt_text) ||
        write_1d(file, path, "src_text_offsets", H5T_NATIVE_INT64, &w->src_text_off) ||
        write_1d(file, path, "tgt_text_offsets", H5T_NATIVE_INT64, &w->tgt_text_off) ||
        write_dataset(file, path, "lengths", H5T_NATIVE_INT, w->lengths.data, 2, len_dims) ||
        write_1d(file, path, "line", H5T_NATIVE_INT64, &w->line) ||
        write_dataset(file, path, "tokenizer_json", H5T_NATIVE_UINT8, tok_json, 1, tok_dims))
        return -1;
    hid_t g = H5Gcreate2(file, "template", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return px_error("%s: cannot create group '/template'", path);
    int rc = 0;
    for (int i = 0; rc == 0 && i < TEMPLATE_PIECES; i++)
        rc = write_span(g, path, TEMPLATE_PIECE_NAMES[i], template_piece_const(&info->tp, i));
    H5Gclose(g);
    return rc;
}

int shard_writer_finish(ShardWriter *w, const char *path, const ShardInfo *info, const char *tokenizer_json,
                        size_t tokenizer_json_len) {
    h5_quiet();
    char tmp[PX_PATH_MAX + 32];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        shard_writer_free(w);
        return px_error("%.200s...: path too long", path);
    }
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        shard_writer_free(w);
        return px_error("%s: cannot create %s (does the directory exist and is it writable?)", path, tmp);
    }
    int rc = write_contents(file, path, w, info, tokenizer_json, tokenizer_json_len);
    if (H5Fclose(file) < 0 && rc == 0) rc = px_error("%s: cannot close %s (disk full?)", path, tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = px_error("%s: cannot rename %s: %s", path, tmp, strerror(errno));
    if (rc != 0) unlink(tmp);
    shard_writer_free(w);
    return rc;
}

/* ---------------------------------------------------------------- reading */

/* A string attribute into a fixed buffer (the ShardInfo fields). */
static int read_attr_string(hid_t file, const char *path, const char *name, char *out, size_t size) {
    char *value;
    if (h5_attr_read_string(file, path, name, "proact token shard", &value)) return -1;
    snprintf(out, size, "%s", value);
    free(value);
    return 0;
}

static hid_t open_shard(const char *path) {
    h5_quiet();
    if (access(path, R_OK) != 0) {
        px_error("%s: cannot open token shards: %s", path, strerror(errno));
        return -1;
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) px_error("%s: not an HDF5 file (or truncated/corrupt)", path);
    return file;
}

/* A shard's datasets hold integers (int, uint8, int64): anything else is a corrupt file, and
 * HDF5 must not be asked to convert it (a corrupt type size makes a slow, huge conversion). */
static int integer_type(hid_t dset, const char *path, const char *name, size_t *elem) {
    hid_t type = H5Dget_type(dset);
    int ok = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) <= 8;
    *elem = ok ? H5Tget_size(type) : 0;
    if (type >= 0) H5Tclose(type);
    return ok ? 0 : px_error("%s: dataset '%s' does not hold integers (corrupt file?)", path, name);
}

/* Length of a 1-D dataset, checked against the file before anyone allocates by it: a shard's
 * datasets are contiguous and unfiltered, so their data cannot be larger than the file. */
static int dataset_length(hid_t loc, const char *path, const char *name, hsize_t *len) {
    *len = 0;
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (dset < 0) return px_error("%s: dataset '%s' missing", path, name);
    hid_t space = H5Dget_space(dset), fid = H5Iget_file_id(dset);
    hsize_t file_size = 0;
    size_t elem = 0;
    int rc = 0;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 || H5Sget_simple_extent_dims(space, len, NULL) != 1)
        rc = px_error("%s: dataset '%s' is not one-dimensional (corrupt file?)", path, name);
    else if (integer_type(dset, path, name, &elem)) rc = -1;
    else if (fid < 0 || H5Fget_filesize(fid, &file_size) < 0 || elem == 0 || *len > file_size / elem)
        rc = px_error("%s: dataset '%s' claims %llu elements, more than the file (%llu bytes) holds (corrupt file?)",
                      path, name, (unsigned long long)*len, (unsigned long long)file_size);
    if (fid >= 0) H5Fclose(fid);
    if (space >= 0) H5Sclose(space);
    H5Dclose(dset);
    return rc;
}

/* Reads elements [start, start+count) of a 1-D dataset into buf, by hyperslab. */
static int read_range(hid_t loc, const char *path, const char *name, hid_t mtype, int64_t start, int64_t count,
                      void *buf) {
    if (count == 0) return 0;
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (dset < 0) return px_error("%s: dataset '%s' missing", path, name);
    hid_t fspace = H5Dget_space(dset);
    hsize_t len = 0, off = (hsize_t)start, cnt = (hsize_t)count;
    size_t elem;
    int rc = 0;
    hid_t mspace = -1;
    if (fspace < 0 || H5Sget_simple_extent_ndims(fspace) != 1 || H5Sget_simple_extent_dims(fspace, &len, NULL) != 1) {
        rc = px_error("%s: dataset '%s' is not one-dimensional (corrupt file?)", path, name);
    } else if (integer_type(dset, path, name, &elem)) {
        rc = -1;
    } else if (start < 0 || off + cnt > len) {
        rc = px_error("%s: dataset '%s' has %llu elements, cannot read [%lld, %lld): the file is inconsistent", path,
                      name, (unsigned long long)len, (long long)start, (long long)(start + count));
    } else if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &off, NULL, &cnt, NULL) < 0 ||
               (mspace = H5Screate_simple(1, &cnt, NULL)) < 0 ||
               H5Dread(dset, mtype, mspace, fspace, H5P_DEFAULT, buf) < 0) {
        rc = px_error("%s: cannot read dataset '%s' (corrupt file?)", path, name);
    }
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    H5Dclose(dset);
    return rc;
}

static int read_span(hid_t file, const char *path, const char *name, IdVec *s) {
    hsize_t len;
    if (dataset_length(file, path, name, &len)) return -1;
    if (len > INT32_MAX)
        return px_error("%s: dataset '%s' has %llu tokens (corrupt file?)", path, name, (unsigned long long)len);
    s->n = (int)len;
    s->cap = len ? len : 1;
    s->ids = px_calloc(s->cap, sizeof(int), name);
    if (!s->ids) return -1;
    return read_range(file, path, name, H5T_NATIVE_INT, 0, (int64_t)len, s->ids);
}

int shards_read_info(const char *path, ShardInfo *info) {
    memset(info, 0, sizeof *info);
    hid_t file = open_shard(path);
    if (file < 0) return -1;
    char format[64] = "", fp[32] = "";
    int64_t version = 0;
    int rc = read_attr_string(file, path, "format", format, sizeof format);
    if (rc == 0 && strcmp(format, SHARDS_FORMAT) != 0)
        rc = px_error("%s: not a proact token shard (format '%s')", path, format);
    if (rc == 0) rc = h5_attr_read_i64(file, path, "format_version", "proact token shard", &version);
    if (rc == 0 && version != SHARDS_FORMAT_VERSION)
        rc = px_error("%s: token shard format version %lld, this proact reads version %d", path, (long long)version,
                      SHARDS_FORMAT_VERSION);
    info->format_version = (int)version;
    if (rc == 0)
        rc = h5_attr_read_i64(file, path, "n_examples", "proact token shard", &info->n_examples) ||
                     read_attr_string(file, path, "source", info->source, sizeof info->source) ||
                     read_attr_string(file, path, "src_lang", info->src_lang, sizeof info->src_lang) ||
                     read_attr_string(file, path, "tgt_lang", info->tgt_lang, sizeof info->tgt_lang) ||
                     read_attr_string(file, path, "template", info->template_name, sizeof info->template_name) ||
                     read_attr_string(file, path, "tokenizer_fingerprint", fp, sizeof fp)
                 ? -1
                 : 0;
    if (rc == 0 && info->n_examples < 0)
        rc =
            px_error("%s: attribute 'n_examples' is negative (%lld; corrupt file?)", path, (long long)info->n_examples);
    if (rc == 0) {
        char *end;
        info->tokenizer_fingerprint = strtoull(fp, &end, 16);
        if (*end || strlen(fp) != 16) rc = px_error("%s: attribute 'tokenizer_fingerprint' is not 16 hex digits", path);
    }
    for (int i = 0; rc == 0 && i < TEMPLATE_PIECES; i++) {
        char name[32];
        snprintf(name, sizeof name, "template/%s", TEMPLATE_PIECE_NAMES[i]);
        rc = read_span(file, path, name, template_piece(&info->tp, i));
    }
    if (rc == 0) {
        hsize_t n_off;
        if (dataset_length(file, path, "src_offsets", &n_off)) rc = -1;
        else if ((int64_t)n_off != info->n_examples + 1)
            rc = px_error("%s: dataset 'src_offsets' has %llu entries for %lld examples (corrupt file?)", path,
                          (unsigned long long)n_off, (long long)info->n_examples);
    }
    H5Fclose(file);
    if (rc) shard_info_free(info);
    return rc;
}

void shard_info_free(ShardInfo *info) { template_pieces_free(&info->tp); }

int shards_read_tokenizer_json(const char *path, char **json, size_t *len) {
    hid_t file = open_shard(path);
    if (file < 0) return -1;
    hsize_t n;
    int rc = dataset_length(file, path, "tokenizer_json", &n);
    char *buf = rc ? NULL : px_calloc(n + 1, 1, "tokenizer.json");
    if (rc == 0 && !buf) rc = -1;
    if (rc == 0) rc = read_range(file, path, "tokenizer_json", H5T_NATIVE_UINT8, 0, (int64_t)n, buf);
    H5Fclose(file);
    if (rc) {
        free(buf);
        return -1;
    }
    *json = buf;
    *len = n;
    return 0;
}

/* Reads offsets [first, first+count] of `off_name`, rebased to 0, then the elements they span. */
static int read_ragged(hid_t file, const char *path, const char *off_name, const char *data_name, hid_t mtype,
                       size_t elem, int64_t first, int64_t count, int64_t **off_out, void **data_out) {
    int64_t *off = px_calloc((size_t)count + 1, sizeof(int64_t), off_name);
    if (!off) return -1;
    if (read_range(file, path, off_name, H5T_NATIVE_INT64, first, count + 1, off)) {
        free(off);
        return -1;
    }
    int64_t base = off[0], n = off[count] - base;
    for (int64_t i = 0; i <= count; i++) {
        if (off[i] < base || (i > 0 && off[i] < off[i - 1])) {
            free(off);
            return px_error("%s: dataset '%s' is not monotone (corrupt file?)", path, off_name);
        }
        off[i] -= base;
    }
    /* the offsets come from the file: they must lie inside the data before they size an allocation */
    hsize_t data_len = 0;
    int bad = dataset_length(file, path, data_name, &data_len);
    if (!bad && (base < 0 || (hsize_t)base + (hsize_t)n > data_len))
        bad = px_error("%s: cannot read '%s': dataset '%s' points past its end (corrupt file?)", path, data_name,
                       off_name);
    if (bad) {
        free(off);
        return -1;
    }
    void *data = px_calloc(n ? (size_t)n : 1, elem, data_name);
    if (!data || read_range(file, path, data_name, mtype, base, n, data)) {
        free(off);
        free(data);
        return -1;
    }
    *off_out = off;
    *data_out = data;
    return 0;
}

int shards_read_slice(const char *path, int64_t first, int64_t count, ShardSlice *s) {
    memset(s, 0, sizeof *s);
    s->first = first;
    s->count = count;
    hid_t file = open_shard(path);
    if (file < 0) return -1;
    int rc = read_ragged(file, path, "src_offsets", "src_tokens", H5T_NATIVE_INT, sizeof(int), first, count,
                         &s->src_off, (void **)&s->src_tokens) ||
                     read_ragged(file, path, "tgt_offsets", "tgt_tokens", H5T_NATIVE_INT, sizeof(int), first, count,
                                 &s->tgt_off, (void **)&s->tgt_tokens) ||
                     read_ragged(file, path, "src_word_offsets", "src_word_ends", H5T_NATIVE_INT, sizeof(int), first,
                                 count, &s->src_word_off, (void **)&s->src_word_ends) ||
                     read_ragged(file, path, "tgt_word_offsets", "tgt_word_ends", H5T_NATIVE_INT, sizeof(int), first,
                                 count, &s->tgt_word_off, (void **)&s->tgt_word_ends) ||
                     read_ragged(file, path, "src_text_offsets", "src_text", H5T_NATIVE_UINT8, 1, first, count,
                                 &s->src_text_off, (void **)&s->src_text) ||
                     read_ragged(file, path, "tgt_text_offsets", "tgt_text", H5T_NATIVE_UINT8, 1, first, count,
                                 &s->tgt_text_off, (void **)&s->tgt_text)
                 ? -1
                 : 0;
    if (rc == 0) {
        s->line = px_calloc((size_t)count + 1, sizeof(int64_t), "line numbers");
        rc = !s->line || read_range(file, path, "line", H5T_NATIVE_INT64, first, count, s->line) ? -1 : 0;
    }
    H5Fclose(file);
    if (rc) shard_slice_free(s);
    return rc;
}

void shard_slice_free(ShardSlice *s) { pair_set_free(s); }

/* ---------------------------------------------------------------- example lists */

/* the ragged arrays' data, in the order of shards_read_examples' offsets */
static const char *const RAGGED_DATA[6] = {"src_tokens",    "tgt_tokens", "src_word_ends",
                                           "tgt_word_ends", "src_text",   "tgt_text"};

struct ShardFile {
    char path[4096];
    hid_t file;
    int64_t n_examples;
    hsize_t data_len[6]; /* RAGGED_DATA's lengths: the bound of every offset read later */
};

ShardFile *shards_open(const char *path) {
    ShardInfo info;
    if (shards_read_info(path, &info)) return NULL; /* validates the format */
    shard_info_free(&info);
    ShardFile *f = px_calloc(1, sizeof *f, "shard file");
    if (!f) return NULL;
    snprintf(f->path, sizeof f->path, "%s", path);
    f->n_examples = info.n_examples;
    f->file = open_shard(path);
    int rc = f->file < 0 ? -1 : 0;
    for (int k = 0; rc == 0 && k < 6; k++) rc = dataset_length(f->file, path, RAGGED_DATA[k], &f->data_len[k]);
    if (rc) {
        if (f->file >= 0) H5Fclose(f->file);
        free(f);
        return NULL;
    }
    return f;
}

void shards_close(ShardFile *f) {
    if (!f) return;
    H5Fclose(f->file);
    free(f);
}

/* Appends example e's elements of ragged array k (offsets dataset + data dataset RAGGED_DATA[k]). */
static int append_ragged(ShardFile *f, const char *off_name, int k, hid_t mtype, size_t elem, int64_t e, Grow *data,
                         Grow *off) {
    const char *data_name = RAGGED_DATA[k];
    int64_t range[2];
    if (read_range(f->file, f->path, off_name, H5T_NATIVE_INT64, e, 2, range)) return -1;
    int64_t n = range[1] - range[0];
    if (n < 0)
        return px_error("%s: dataset '%s' is not monotone at example %lld (corrupt file?)", f->path, off_name,
                        (long long)e);
    /* the offsets come from the file: inside the data, or they would size the allocation below */
    if (range[0] < 0 || (hsize_t)range[1] > f->data_len[k])
        return px_error("%s: cannot read example %lld: dataset '%s' points past the end of '%s' (corrupt file?)",
                        f->path, (long long)e, off_name, data_name);
    if (grow_reserve(data, data->n + (size_t)n)) return -1;
    if (read_range(f->file, f->path, data_name, mtype, range[0], n, (char *)data->data + data->n * elem)) return -1;
    data->n += (size_t)n;
    return grow_push_i64(off, (int64_t)data->n);
}

int shards_read_examples(ShardFile *f, const int64_t *idx, int n, PairSet *out) {
    memset(out, 0, sizeof *out);
    Grow src = {.elem = sizeof(int)}, tgt = {.elem = sizeof(int)}, sw = {.elem = sizeof(int)},
         tw = {.elem = sizeof(int)};
    Grow st = {.elem = 1}, tt = {.elem = 1}, line = {.elem = sizeof(int64_t)};
    Grow offs[6];
    for (int i = 0; i < 6; i++) offs[i] = (Grow){.elem = sizeof(int64_t)};
    int rc = 0;
    for (int i = 0; i < 6 && rc == 0; i++) rc = grow_push_i64(&offs[i], 0);
    for (int k = 0; k < n && rc == 0; k++) {
        int64_t e = idx[k];
        if (e < 0 || e >= f->n_examples) {
            rc = px_error("%s: example %lld is out of range (the file has %lld)", f->path, (long long)e,
                          (long long)f->n_examples);
            break;
        }
        int64_t ln;
        rc = append_ragged(f, "src_offsets", 0, H5T_NATIVE_INT, sizeof(int), e, &src, &offs[0]) ||
                     append_ragged(f, "tgt_offsets", 1, H5T_NATIVE_INT, sizeof(int), e, &tgt, &offs[1]) ||
                     append_ragged(f, "src_word_offsets", 2, H5T_NATIVE_INT, sizeof(int), e, &sw, &offs[2]) ||
                     append_ragged(f, "tgt_word_offsets", 3, H5T_NATIVE_INT, sizeof(int), e, &tw, &offs[3]) ||
                     append_ragged(f, "src_text_offsets", 4, H5T_NATIVE_UINT8, 1, e, &st, &offs[4]) ||
                     append_ragged(f, "tgt_text_offsets", 5, H5T_NATIVE_UINT8, 1, e, &tt, &offs[5]) ||
                     read_range(f->file, f->path, "line", H5T_NATIVE_INT64, e, 1, &ln) || grow_push_i64(&line, ln)
                 ? -1
                 : 0;
    }
    *out = (PairSet){.first = -1,
                     .count = n,
                     .src_tokens = src.data,
                     .tgt_tokens = tgt.data,
                     .src_off = offs[0].data,
                     .tgt_off = offs[1].data,
                     .src_word_ends = sw.data,
                     .tgt_word_ends = tw.data,
                     .src_word_off = offs[2].data,
                     .tgt_word_off = offs[3].data,
                     .src_text = st.data,
                     .tgt_text = tt.data,
                     .src_text_off = offs[4].data,
                     .tgt_text_off = offs[5].data,
                     .line = line.data};
    if (rc) pair_set_free(out);
    return rc;
}

int shards_read_lengths(ShardFile *f, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens) {
    hid_t dset = H5Dopen2(f->file, "lengths", H5P_DEFAULT);
    if (dset < 0) return px_error("%s: dataset 'lengths' missing", f->path);
    hid_t fspace = H5Dget_space(dset);
    int rc = fspace < 0 ? px_error("%s: dataset 'lengths' has no readable shape", f->path) : 0;
    for (int k = 0; k < n && rc == 0; k++) {
        hsize_t start[2] = {(hsize_t)idx[k], 0}, count[2] = {1, 4}, dims[2];
        int row[4] = {0};
        size_t elem;
        hid_t mspace = H5Screate_simple(2, count, NULL);
        /* the rank before the dims (dims has room for two), the type before the read */
        if (idx[k] < 0 || idx[k] >= f->n_examples || H5Sget_simple_extent_ndims(fspace) != 2 ||
            H5Sget_simple_extent_dims(fspace, dims, NULL) != 2 || integer_type(dset, f->path, "lengths", &elem) ||
            dims[1] != 4 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 || mspace < 0 ||
            H5Dread(dset, H5T_NATIVE_INT, mspace, fspace, H5P_DEFAULT, row) < 0)
            rc = px_error("%s: cannot read dataset 'lengths' at example %lld", f->path, (long long)idx[k]);
        if (mspace >= 0) H5Sclose(mspace);
        src_tokens[k] = row[1];
        tgt_tokens[k] = row[3];
    }
    if (fspace >= 0) H5Sclose(fspace);
    H5Dclose(dset);
    return rc;
}
