/* bytelevel.h — GPT-2's bytes_to_unicode, the alphabet of byte-level BPE (GPT-2, Llama 3, Qwen2):
 * every byte is written as one character, so that any byte string is a printable string.
 *
 * The 188 printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other
 * 68 (0x00..0x20, 0x7F..0xA0, 0xAD), in byte order, become U+0100..U+0143 (so ' ' is 'Ġ',
 * U+0120, and '\n' is 'Ċ', U+010A). The one definition used by the encoder and decoder
 * (src/text/tokenizer.c) and the trainer (src/text/bpe_train.c).
 */
#ifndef PROACT_BYTELEVEL_H
#define PROACT_BYTELEVEL_H

#include <stddef.h>
#include <stdint.h>

/* The character (code point) that stands for byte b. */
uint32_t bytelevel_char(uint8_t b);

/* The byte that character cp stands for, or -1 if cp is not one of the 256 characters. */
int bytelevel_byte(uint32_t cp);

/* The UTF-8 form of byte b's character into out (room for 2 bytes); returns its length (1 or
 * 2). No NUL is written. */
int bytelevel_utf8(uint8_t b, char *out);

/* The byte-level form of a byte string: each byte's character, UTF-8 encoded, into out, which
 * must hold 2 * len + 1 bytes; returns the length written (out is NUL-terminated). */
size_t bytelevel_encode(const uint8_t *bytes, size_t len, char *out);

/* order[r] = the byte whose character has rank r among the 256 (sorted by code point): GPT-2's
 * vocabulary order of the byte tokens, '!'..'~', '¡'..'¬', '®'..'ÿ', then 0x00.. as U+0100.. */
void bytelevel_order(uint8_t order[256]);

#endif
