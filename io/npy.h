/* npy.h — write NumPy .npy files (format version 1.0, little-endian float32 / int32). */
#ifndef PROACT_NPY_H
#define PROACT_NPY_H

#include <stdint.h>

/* Writes data [shape0 x shape1 ...] as '<f4' C-order, atomically (tmp + rename). */
int npy_write_f32(const char *path, const float *data, const int64_t *shape, int ndim);

/* Reads a '<f4' C-order .npy (used by tests); allocates *data; shape up to 8 dims. */
int npy_read_f32(const char *path, float **data, int64_t *shape, int *ndim);

#endif
