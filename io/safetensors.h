/* safetensors.h — read and write the safetensors format.
 *
 * File: u64 little-endian header length N | N bytes of JSON header | data.
 * The header maps tensor name -> {dtype, shape, data_offsets [begin, end)} relative to
 * the start of the data, plus an optional "__metadata__" map of string -> string.
 * The reader treats the header as hostile: every range must lie inside the file, match
 * dtype x shape exactly, and not overlap another; errors name the file and the tensor.
 */
#ifndef PROACT_SAFETENSORS_H
#define PROACT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } StDtype;

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[8];
    size_t numel;
    size_t nbytes;
    const uint8_t *data; /* points into the mapped file */
} StTensor;

typedef struct {
    char path[4096];
    int n_tensors;
    StTensor *tensors; /* in file order of data offsets */
    void *map;         /* mmap of the whole file */
    size_t map_size;
} StFile;

const char *st_dtype_name(StDtype t); /* "F32", "BF16", ... */
size_t st_dtype_size(StDtype t);

/* Opens and validates; 0 or -1 with px_error "<path>: <what> (tensor '<name>')". */
int st_open(StFile *f, const char *path);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);

/* Converts a tensor's elements (F32, F16, BF16 or F64) to fp32 into out[numel].
 * Any other dtype -> -1 with px_error "<path>: tensor '<name>': unsupported dtype X". */
int st_tensor_to_f32(const StFile *f, const StTensor *t, float *out);

/* Writing: collect tensors, then write to `path` atomically (path.tmp, fsync, rename). */
typedef struct {
    const char *name; /* not copied: must outlive the writer */
    StDtype dtype;    /* output dtype: ST_F32, ST_BF16 (round to nearest even) or ST_I32 */
    int ndim;
    int64_t shape[8];
    const void *data; /* fp32 for F32/BF16 output, int32 for I32 */
} StWriteTensor;

int st_write(const char *path, const StWriteTensor *tensors, int n, const char *const *meta_kv, int n_meta);
/* meta_kv: n_meta pairs as [key0, value0, key1, value1, ...] for "__metadata__". */

/* f16 -> fp32 (exposed for tests); bf16 conversions are src/base/bf16.h's. */
float f16_to_f32(uint16_t h);

#endif
