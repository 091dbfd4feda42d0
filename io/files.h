/* files.h — small file helpers shared by io/ and jobs/. */
#ifndef PROACT_FILES_H
#define PROACT_FILES_H

#include <stddef.h>

/* Reads a whole file into a malloc'ed NUL-terminated buffer; errors name the path. */
int file_read_all(const char *path, char **data, size_t *len);

/* Copies a file to dst, published atomically (atomic_file.h). Errors name the path. */
int file_copy(const char *src, const char *dst);

/* 1 if a and b name the same existing file or directory (the same device and inode, whatever the
 * spelling: "A", "./A", "A/", a symbolic link to A), else 0. */
int file_same(const char *a, const char *b);

/* 1 if path names an existing regular file (following links), else 0. */
int file_exists(const char *path);

/* mkdir -p: creates dir and its parents; fine if it exists. Errors name the path. */
int file_mkdirs(const char *dir);

/* strerror(err), with the errno's name for the ones a failing disk gives: "No space left on device
 * (ENOSPC)". A thread-local buffer, valid until the next call. */
const char *file_strerror(int err);

/* Reserves the blocks of the file's first `bytes` bytes (creating it if needed) without changing
 * its size, so that writes
 * inside them cannot fail for lack of space: 0 when reserved, 1 when the file system cannot reserve
 * (writes may still fail), -1 with px_error on failure (ENOSPC: the disk is full). */
int file_reserve(const char *path, long long bytes);
/* Gives back the reserved blocks past the file's end (best effort). */
void file_release_reserve(const char *path);

/* A log of one JSON object per line (RUN_DIR/metrics.jsonl), appended and flushed line by line
 * so that a crash loses at most the line being written. */
typedef struct {
    char path[4096];
    void *fp;
} JsonLog;
int json_log_open(JsonLog *log, const char *dir, const char *name);
int json_log_line(JsonLog *log, const char *line);
void json_log_close(JsonLog *log);
/* For a run resumed from the checkpoint of step `last_step`: rewrites the log (atomically) without
 * the rows of later steps, which the resumed run logs again, and without a last line cut short by a
 * crash; rows without a "step" stay. The log stays open for appending. */
int json_log_keep_steps(JsonLog *log, long last_step);

#endif
