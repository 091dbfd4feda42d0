/* utf8.c — see utf8.h. */
#include "src/base/utf8.h"

#include <string.h>

int utf8_step(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int need;                      /* continuation bytes */
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else return -1;                  /* 0x80..0xC1, 0xF5..0xFF: never a lead byte */
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= avail || s[i] < lo || s[i] > hi) return -i; /* the lead and i - 1 that fitted */
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}

uint32_t utf8_decode(const unsigned char *s, int len) {
    if (len == 1) return s[0];
    uint32_t cp = s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) cp = cp << 6 | (s[i] & 0x3F);
    return cp;
}

int utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return o[0] = (unsigned char)(0xC0 | cp >> 6), o[1] = (unsigned char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_first_invalid(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_step(s + i, len - i);
        if (k < 0) return i;
        i += (size_t)k;
    }
    return len;
}

int utf8_valid(const char *text, size_t len, size_t *bad_offset) {
    size_t bad = utf8_first_invalid(text, len);
    if (bad == len) return 1;
    if (bad_offset) *bad_offset = bad;
    return 0;
}

size_t utf8_sanitize(const char *text, size_t len, char *out, size_t *replaced) {
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0, bad = 0;
    for (size_t i = 0; i < len;) {
        int k = utf8_step(s + i, len - i);
        if (k > 0) {
            memcpy(out + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(out + o, UTF8_REPLACEMENT, 3);
            o += 3;
            i += (size_t)-k;
            bad++;
        }
    }
    if (replaced) *replaced = bad;
    return o;
}
