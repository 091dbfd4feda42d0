#include "src/base/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_buffer[1024];

int px_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buffer, sizeof error_buffer, fmt, ap);
    va_end(ap);
    return -1;
}

const char *px_error_message(void) { return error_buffer; }

void *px_calloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) px_error("out of memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}

int px_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void px_format_float(float v, char *buf, size_t size) {
    if (v == floorf(v) && fabsf(v) < 1e9f) {
        snprintf(buf, size, "%.0f", (double)v);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) { /* 9 significant digits always read back */
        snprintf(buf, size, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}
