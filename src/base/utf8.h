/* utf8.h — UTF-8 decoding, encoding, validation and repair (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF). The one UTF-8 module of src/ (the tokenizer, the BPE trainer,
 * the pairs reader).
 *
 * Invalid input follows the WHATWG Encoding Standard (TextDecoder, and so Node and the npm
 * tokenizer reference): each *maximal subpart* of an ill-formed sequence — a lead byte and the
 * continuation bytes that still fit it, or one stray byte — is one error, replaced by one
 * U+FFFD. "\xE0\x80" is two errors (0x80 cannot follow 0xE0), "\xF0\x9F\x98" (truncated) one.
 */
#ifndef PROACT_UTF8_H
#define PROACT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded (3 bytes). */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The sequence starting at s[0] (avail >= 1 bytes readable): its length (1..4) if it is valid
 * UTF-8, else minus the length of its maximal invalid subpart (-1..-3): the bytes that one
 * U+FFFD replaces. */
int utf8_step(const unsigned char *s, size_t avail);

/* The code point of the valid sequence s[0..len) (len as returned by utf8_step). */
uint32_t utf8_decode(const unsigned char *s, int len);

/* Writes the UTF-8 encoding of code point cp (at most U+10FFFF) to out, which has room for 4
 * bytes; returns its length (1..4). No NUL is written. */
int utf8_encode(uint32_t cp, char *out);

/* Offset of the first byte of text that does not start a valid sequence, or len if all of text
 * is valid UTF-8. */
size_t utf8_first_invalid(const char *text, size_t len);

/* 1 if all of text is valid UTF-8; otherwise 0 and *bad_offset (if not NULL) = the offset of
 * the first invalid byte. */
int utf8_valid(const char *text, size_t len, size_t *bad_offset);

/* The most bytes utf8_sanitize writes for len input bytes (a stray byte grows to 3). */
#define UTF8_SANITIZED_MAX(len) (3 * (size_t)(len))

/* Copies text[0..len) to out, replacing every maximal invalid subpart by U+FFFD. The caller
 * provides out with room for UTF8_SANITIZED_MAX(len) bytes (it may not overlap text). Returns
 * the number of bytes written (no NUL is added); *replaced (if not NULL) = the number of
 * replacements. Valid input is copied unchanged. */
size_t utf8_sanitize(const char *text, size_t len, char *out, size_t *replaced);

#endif
