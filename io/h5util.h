/* h5util.h — small HDF5 helpers shared by the token shards and the checkpoints. Errors name
 * the file (`path`) and the attribute; `kind` says what the file should have been
 * ("proact token shard", "proact checkpoint") when an attribute is missing. */
#ifndef PROACT_H5UTIL_H
#define PROACT_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

/* HDF5 prints its own error stack by default; proact reports one line itself instead. */
void h5_quiet(void);

/* Scalar attributes. */
int h5_attr_write(hid_t loc, const char *path, const char *name, hid_t type, const void *value);
int h5_attr_write_string(hid_t loc, const char *path, const char *name, const char *value);
int h5_attr_write_i64(hid_t loc, const char *path, const char *name, int64_t value);
/* Writes `value` over the existing fixed-length string attribute `name`, which must have exactly
 * strlen(value) bytes: its message keeps its size, so the object header changes in place. */
int h5_attr_overwrite_string(hid_t loc, const char *path, const char *name, const char *value);
/* The longest string attribute the readers accept: the length is the file's word, and a corrupt
 * file must not decide how much proact allocates (a run's whole config is a few KB). */
#define H5_ATTR_STRING_MAX (16 << 20)

/* Reading checks, before any allocation or H5Aread, that the attribute holds one value (scalar)
 * of the expected class (string / integer) and, for strings, at most H5_ATTR_STRING_MAX bytes.
 * *out is malloc'ed and NUL-terminated. */
int h5_attr_read_string(hid_t loc, const char *path, const char *name, const char *kind, char **out);
int h5_attr_read_i64(hid_t loc, const char *path, const char *name, const char *kind, int64_t *out);

#endif
