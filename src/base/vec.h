/* vec.h — growable arrays: a pointer, a count and a capacity kept by the caller, grown by
 * doubling. One implementation for every array that grows by appending, so that the overflow
 * check and the out-of-memory message are written once. StrBuf is the byte-string case.
 *
 *     int32_t *ids = NULL; size_t n = 0, cap = 0;
 *     if (VEC_PUSH(ids, n, cap, 7, "token ids")) return -1;
 */
#ifndef PROACT_VEC_H
#define PROACT_VEC_H

#include <stddef.h>
#include <string.h>

/* Makes room for `need` elements of `elem` bytes in the array whose address is pp (a T ** passed
 * as void *, so that any element type works), capacity *cap: doubles from 4 until need fits.
 * 0, or -1 after px_error naming `what` (the array is then unchanged). */
int vec_grow(void *pp, size_t *cap, size_t need, size_t elem, const char *what);

/* The common case (room already there) without a call. */
static inline int vec_reserve(void *pp, size_t *cap, size_t need, size_t elem, const char *what) {
    return need <= *cap ? 0 : vec_grow(pp, cap, need, elem, what);
}

/* Room for `need` elements in the array p (any T *) of capacity cap (a size_t). 0 or -1. */
#define VEC_RESERVE(p, cap, need, what) vec_reserve(&(p), &(cap), (need), sizeof *(p), (what))

/* Appends x to the array p holding n elements (n and cap are size_t lvalues). 0 or -1. */
#define VEC_PUSH(p, n, cap, x, what) (VEC_RESERVE(p, cap, (n) + 1, what) ? -1 : ((p)[(n)++] = (x), 0))

/* A growable byte string, NUL-terminated once anything was put into it (s is NULL before). */
typedef struct {
    char *s;
    size_t n, cap;
} StrBuf;

/* Appends p[0..n) (and keeps a NUL after the end). 0 or -1 (px_error). */
int strbuf_put(StrBuf *b, const void *p, size_t n);
static inline int strbuf_puts(StrBuf *b, const char *s) { return strbuf_put(b, s, strlen(s)); }

#endif
