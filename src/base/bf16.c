/* bf16.c — the array conversions of bf16.h. */
#include "src/base/bf16.h"

#include <string.h>

/* bf16_from_f32 without a branch, so that the compiler vectorizes the loop; the same bits. */
void bf16_from_f32_n(bf16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet_nan = (u >> 16) | 0x40u;
        dst[i] = (bf16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
    }
}

void f32_from_bf16_n(float *dst, const bf16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = f32_from_bf16(src[i]);
}
