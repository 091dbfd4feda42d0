/* utf8.h — UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
#ifndef PROACT_UTF8_H
#define PROACT_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s[0] (1..4), or 0 if s[0..] does not start
 * one. */
int utf8_sequence_length(const unsigned char *s, size_t avail);
/* 1 if all of text is valid UTF-8; otherwise 0 and *bad_offset = first invalid byte. */
int utf8_valid(const char *text, size_t len, size_t *bad_offset);

#endif
