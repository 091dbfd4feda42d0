/* bytelevel.c — see bytelevel.h. The 68 non-printable bytes are three runs: 0x00..0x20 (33
 * bytes, U+0100..U+0120), 0x7F..0xA0 (34 bytes, U+0121..U+0142) and 0xAD (U+0143). */
#include "src/text/bytelevel.h"

static int printable(uint32_t b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t bytelevel_char(uint8_t b) {
    if (printable(b)) return b;
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xA0) return 0x121u + (uint32_t)(b - 0x7F);
    return 0x143; /* 0xAD */
}

int bytelevel_byte(uint32_t cp) {
    if (cp < 0x100) return printable(cp) ? (int)cp : -1;
    if (cp <= 0x120) return (int)(cp - 0x100);
    if (cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    return cp == 0x143 ? 0xAD : -1;
}

int bytelevel_utf8(uint8_t b, char *out) {
    uint32_t cp = bytelevel_char(b); /* < U+0800: one or two UTF-8 bytes */
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

size_t bytelevel_encode(const uint8_t *bytes, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) o += (size_t)bytelevel_utf8(bytes[i], out + o);
    out[o] = '\0';
    return o;
}

void bytelevel_order(uint8_t order[256]) {
    int r = 0;
    for (int b = 0; b < 256; b++)
        if (printable((uint32_t)b)) order[r++] = (uint8_t)b;
    for (int b = 0; b < 256; b++)
        if (!printable((uint32_t)b)) order[r++] = (uint8_t)b;
}
