/* test_gguf.c — io/gguf.c: the fp16 and Q8_0 conversions, and the file of a small Llama read back
 * by a minimal GGUF reader: header, counts, alignment, tensor shapes and types, the q/k row
 * permutation and the split of the fused matrices. (llama.cpp itself runs the exports in
 * tests/jobs/test_gguf.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/gguf.h"
#include "src/base/common.h"

static void test_f16(void **state) {
    (void)state;
    assert_int_equal(gguf_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(gguf_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(gguf_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(gguf_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(gguf_f32_to_f16(0.1f), 0x2E66);     /* 0.0999755859375 */
    assert_int_equal(gguf_f32_to_f16(65504.0f), 0x7BFF); /* the largest half */
    assert_int_equal(gguf_f32_to_f16(65519.0f), 0x7BFF); /* below the midpoint to inf */
    assert_int_equal(gguf_f32_to_f16(65520.0f), 0x7C00); /* the midpoint rounds to inf (even) */
    assert_int_equal(gguf_f32_to_f16(INFINITY), 0x7C00);
    assert_int_equal(gguf_f32_to_f16(NAN) & 0x7E00, 0x7E00);
    assert_int_equal(gguf_f32_to_f16(ldexpf(1.0f, -14)), 0x0400); /* smallest normal */
    assert_int_equal(gguf_f32_to_f16(ldexpf(1.0f, -24)), 0x0001); /* smallest subnormal */
    assert_int_equal(gguf_f32_to_f16(ldexpf(1.0f, -25)), 0x0000); /* its half: tie to even (0) */
    assert_int_equal(gguf_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    assert_int_equal(gguf_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);            /* 1.5 subnormal steps: tie to even */
    assert_int_equal(gguf_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3C00);     /* tie: even */
    assert_int_equal(gguf_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3C02); /* tie: even (up) */
    assert_int_equal(gguf_f32_to_f16(ldexpf(1.0f, -14) - ldexpf(1.0f, -25)), 0x0400); /* rounds up to normal */
}

static void test_q8_0(void **state) {
    (void)state;
    float x[64];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16); /* max |x| = 16 */
    for (int j = 32; j < 64; j++) x[j] = 0.0f;           /* an all-zero block: d = 0, q = 0 */
    uint8_t out[68];
    gguf_quantize_q8_0(x, 64, out);
    uint16_t d = (uint16_t)(out[0] | out[1] << 8);
    assert_int_equal(d, gguf_f32_to_f16(16.0f / 127.0f));
    assert_int_equal((int8_t)out[2], -127);                                      /* -16 */
    assert_int_equal((int8_t)out[2 + 16], 0);                                    /* 0 */
    assert_int_equal((int8_t)out[2 + 17], (int)roundf(1.0f * (127.0f / 16.0f))); /* 1 -> 8 */
    assert_int_equal((int8_t)out[2 + 31], (int)roundf(15.0f * (127.0f / 16.0f)));
    for (int j = 0; j < 34; j++) assert_int_equal(out[34 + j], 0);
}

/* ---- a minimal reader ----------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} Rd;

static uint64_t rd_le(Rd *r, int n) {
    assert_true(r->p + n <= r->end);
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

static void rd_str(Rd *r, char *out, size_t cap) {
    uint64_t n = rd_le(r, 8);
    assert_true(r->p + n <= r->end && n < cap);
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
}

static void skip_value(Rd *r, uint32_t type) {
    static const int size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
        uint64_t n = rd_le(r, 8);
        r->p += n;
    } else if (type == 9) {
        uint32_t et = (uint32_t)rd_le(r, 4);
        uint64_t n = rd_le(r, 8);
        for (uint64_t i = 0; i < n; i++) skip_value(r, et);
    } else {
        assert_true(type < 13);
        r->p += size[type];
    }
}

typedef struct {
    char name[64];
    uint32_t ndim, type;
    uint64_t ne[4], offset;
} Info;

static void test_llama_file(void **state) {
    (void)state;
    ModelConfig c = {.arch = MODEL_ARCH_LLAMA,
                     .vocab_size = 40,
                     .hidden_size = 32,
                     .n_layers = 2,
                     .n_heads = 4,
                     .n_kv_heads = 2,
                     .head_dim = 6, /* 4 x 6 != 32: key_length is written */
                     .intermediate_size = 48,
                     .rope_theta = 10000.0f,
                     .rms_norm_eps = 1e-5f,
                     .tie_embeddings = 0,
                     .max_seq_len = 64,
                     .init_std = 0.5f};
    Model m;
    assert_int_equal(model_create(&m, &c), 0);
    model_init_random(&m, 7);
    char path[64];
    snprintf(path, sizeof path, "/tmp/proact-test-gguf-%ld.gguf", (long)getpid());
    GgufExport x = {.weights = GGUF_WEIGHTS_F32, .name = "t"};
    GgufReport rep = {0};
    assert_int_equal(gguf_export(path, &m, &x, &rep), 0);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 20];
    size_t size = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    unlink(path);
    assert_int_equal(size, rep.bytes);
    Rd r = {buf, buf + size};
    assert_memory_equal(r.p, "GGUF", 4);
    r.p += 4;
    assert_int_equal(rd_le(&r, 4), 3);
    uint64_t nt = rd_le(&r, 8), nkv = rd_le(&r, 8);
    assert_int_equal(nt, 1 + 2 * 9 + 2); /* embd, 9 per layer, output_norm, output (untied) */
    assert_int_equal(nt, rep.n_tensors);
    int saw_key_length = 0;
    for (uint64_t i = 0; i < nkv; i++) {
        char key[128];
        rd_str(&r, key, sizeof key);
        uint32_t type = (uint32_t)rd_le(&r, 4);
        if (strcmp(key, "llama.attention.key_length") == 0) {
            assert_int_equal(type, 4);
            assert_int_equal(rd_le(&r, 4), 6);
            saw_key_length = 1;
        } else if (strcmp(key, "general.alignment") == 0) {
            assert_int_equal(type, 4);
            assert_int_equal(rd_le(&r, 4), 32);
        } else {
            skip_value(&r, type);
        }
    }
    assert_true(saw_key_length);
    Info info[32];
    for (uint64_t i = 0; i < nt; i++) {
        rd_str(&r, info[i].name, sizeof info[i].name);
        info[i].ndim = (uint32_t)rd_le(&r, 4);
        for (uint32_t d = 0; d < info[i].ndim; d++) info[i].ne[d] = rd_le(&r, 8);
        info[i].type = (uint32_t)rd_le(&r, 4);
        info[i].offset = rd_le(&r, 8);
        assert_int_equal(info[i].offset % 32, 0);
        assert_int_equal(info[i].type, GGML_TYPE_F32);
    }
    size_t data = ((size_t)(r.p - buf) + 31) / 32 * 32;
    const LayerWeights *L = &m.w.layers[1];
    const int hd = 6, d = 32;
    int checked = 0;
    for (uint64_t i = 0; i < nt; i++) {
        const float *t = (const float *)(buf + data + info[i].offset);
        if (strcmp(info[i].name, "blk.1.attn_q.weight") == 0 || strcmp(info[i].name, "blk.1.attn_k.weight") == 0) {
            int is_k = info[i].name[11] == 'k';
            const float *src = L->wqkv + (is_k ? 4 * hd * d : 0);
            assert_int_equal(info[i].ne[0], d);
            assert_int_equal(info[i].ne[1], (is_k ? 2 : 4) * hd);
            for (uint64_t row = 0; row < info[i].ne[1]; row++) {
                int h = (int)row / hd, w = (int)row % hd; /* GGUF row h*hd + 2i + j = proact h*hd + j*hd/2 + i */
                int from = h * hd + (w % 2) * (hd / 2) + w / 2;
                assert_memory_equal(t + row * d, src + (size_t)from * d, d * sizeof(float));
            }
            checked++;
        } else if (strcmp(info[i].name, "blk.1.attn_v.weight") == 0) {
            assert_memory_equal(t, L->wqkv + 6 * hd * d, 2 * hd * d * sizeof(float));
            checked++;
        } else if (strcmp(info[i].name, "blk.1.ffn_up.weight") == 0) {
            assert_int_equal(info[i].ne[0], d);
            assert_int_equal(info[i].ne[1], 48);
            assert_memory_equal(t, L->wgu + 48 * d, 48 * d * sizeof(float));
            checked++;
        } else if (strcmp(info[i].name, "output.weight") == 0) {
            assert_memory_equal(t, m.w.lm_head, 40 * d * sizeof(float));
            checked++;
        }
    }
    assert_int_equal(checked, 5);
    model_free(&m);
}

static void test_bad_path(void **state) {
    (void)state;
    ModelConfig c = {.arch = MODEL_ARCH_QWEN2,
                     .vocab_size = 8,
                     .hidden_size = 32,
                     .n_layers = 1,
                     .n_heads = 2,
                     .n_kv_heads = 1,
                     .head_dim = 16,
                     .intermediate_size = 32,
                     .rope_theta = 10000.0f,
                     .rms_norm_eps = 1e-6f,
                     .tie_embeddings = 1,
                     .qkv_bias = 1,
                     .max_seq_len = 16,
                     .init_std = 0.02f};
    Model m;
    assert_int_equal(model_create(&m, &c), 0);
    GgufExport x = {.weights = GGUF_WEIGHTS_Q8_0};
    assert_int_equal(gguf_export("/nonexistent-dir/m.gguf", &m, &x, NULL), -1);
    assert_non_null(strstr(px_error_message(), "/nonexistent-dir/m.gguf"));
    m.params[3] = NAN;
    char path[64];
    snprintf(path, sizeof path, "/tmp/proact-test-gguf-nan-%ld.gguf", (long)getpid());
    assert_int_equal(gguf_export(path, &m, &x, NULL), -1);
    assert_non_null(strstr(px_error_message(), "token_embd.weight"));
    assert_int_equal(access(path, F_OK), -1); /* nothing left behind */
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16),
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_llama_file),
        cmocka_unit_test(test_bad_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
