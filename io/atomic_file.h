/* atomic_file.h — write a file so that readers see either the old file or the complete new
 * one, never a half-written one: write PATH.tmp.<pid>, fsync, close, rename over PATH. */
#ifndef PROACT_ATOMIC_FILE_H
#define PROACT_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Writes the body into an open temporary file; returns 0, or -1 with errno set (a failed
 * fwrite leaves errno set). */
typedef int (*AtomicWriteBody)(FILE *fp, void *ctx);

/* Runs body on a temporary file next to `path`, then publishes it. On any failure the
 * temporary file is removed, `path` is untouched, and px_error names the path and cause. */
int atomic_write(const char *path, AtomicWriteBody body, void *ctx);

/* The common case: one buffer. */
int atomic_write_buffer(const char *path, const void *data, size_t len);

#endif
