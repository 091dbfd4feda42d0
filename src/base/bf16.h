/* bf16.h — bfloat16: the top half of an fp32. The one conversion the project uses, for the bf16
 * products (src/model/gemm.h), the decode weights and the safetensors/GGUF files (io/): round to
 * nearest even (as PyTorch's .to(torch.bfloat16)); overflow rounds to inf; NaN stays a quiet NaN. */
#ifndef PROACT_BF16_H
#define PROACT_BF16_H

#include <stddef.h>
#include <stdint.h>

typedef uint16_t bf16_t;

static inline bf16_t bf16_from_f32(float f) {
    union {
        float f;
        uint32_t u;
    } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((v.u >> 16) | 0x40); /* quiet NaN */
    return (bf16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float f32_from_bf16(bf16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}
void bf16_from_f32_n(bf16_t *dst, const float *src, size_t n);
void f32_from_bf16_n(float *dst, const bf16_t *src, size_t n);

#endif
