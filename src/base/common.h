/* common.h — error reporting and small helpers shared by every layer.
 *
 * Library functions return 0 on success and -1 on failure; on failure they
 * have called px_error() with a one-line message naming the file, field or
 * line at fault. Callers (jobs/) print px_error_message() and exit non-zero.
 */
#ifndef PROACT_COMMON_H
#define PROACT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define PX_PATH_MAX 4096

/* Records a printf-style error message (replaces any earlier one). Always returns -1
 * so that `return px_error(...)` reads naturally. */
int px_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last message recorded by px_error(), or "" if none. */
const char *px_error_message(void);

/* Allocation that records an error (naming what) instead of returning silently. */
void *px_calloc(size_t count, size_t size, const char *what);

/* 1 if s ends with suffix. */
int px_ends_with(const char *s, const char *suffix);

/* v in the shortest %g form that reads back as the same float; whole numbers below 1e9 in full
 * (1000000 rather than 1e+06). For text that must round-trip (configs, schedule specs). */
void px_format_float(float v, char *buf, size_t size);

#define PX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PX_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
