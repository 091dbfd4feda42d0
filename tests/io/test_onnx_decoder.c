/* test_onnx_decoder.c — the ONNX file of io/onnx_decoder.c read back with the same schema (protobuf-c's
 * unpack of onnx.proto): model header, the graph's inputs and outputs in Optimum's order, and the
 * initializers' exact values (a Linear weight transposed, the RoPE tables as proact's kernel computes
 * them, the tied LM head as a Transpose node). That the graph computes proact's forward is
 * tests/jobs/test_onnx.sh's part (onnxruntime). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/files.h"
#include "io/onnx_decoder.h"
#include "onnx/onnx.pb-c.h"
#include "src/base/common.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* The tiny test shape: Qwen2 (tied, q/k/v biases) or Llama (untied, head_dim 24 x 4 != d). */
static ModelConfig tiny(ModelArch arch) {
    ModelConfig c = {.arch = arch,
                     .vocab_size = 96,
                     .hidden_size = 64,
                     .n_layers = 2,
                     .n_heads = 4,
                     .n_kv_heads = 2,
                     .head_dim = arch == MODEL_ARCH_QWEN2 ? 16 : 24,
                     .intermediate_size = 80,
                     .rope_theta = arch == MODEL_ARCH_QWEN2 ? 10000.0f : 500000.0f,
                     .rms_norm_eps = 1e-6f,
                     .tie_embeddings = arch == MODEL_ARCH_QWEN2,
                     .qkv_bias = arch == MODEL_ARCH_QWEN2,
                     .max_seq_len = 32,
                     .init_std = 0.1f};
    return c;
}

/* Exports a random model of cfg into a fresh directory and reads the file back. */
static Onnx__ModelProto *export_and_read(const ModelConfig *cfg, OnnxData where, Model *m, char *dir, size_t cap,
                                         OnnxReport *r) {
    snprintf(dir, cap, "/tmp/proact_test_onnx_XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(model_create(m, cfg), 0);
    model_init_random(m, 7);
    assert_int_equal(onnx_export_decoder(dir, m, where, r), 0);
    char path[512], *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, ONNX_DECODER_FILE);
    assert_int_equal(file_read_all(path, &data, &len), 0);
    assert_int_equal(len, r->bytes);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)data);
    free(data);
    assert_non_null(mp);
    return mp;
}

static void cleanup(Onnx__ModelProto *mp, Model *m, const char *dir) {
    onnx__model_proto__free_unpacked(mp, NULL);
    model_free(m);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const Onnx__TensorProto *init_named(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (strcmp(g->initializer[i]->name, name) == 0) return g->initializer[i];
    return NULL;
}

static const float *floats(const Onnx__TensorProto *t) {
    assert_int_equal(t->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    assert_true(t->has_raw_data);
    return (const float *)t->raw_data.data;
}

/* The names of the graph's inputs (or outputs) joined by spaces. */
static void names(char *buf, size_t cap, Onnx__ValueInfoProto **v, size_t n) {
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(buf, v[i]->name, cap - strlen(buf) - 1);
        if (i + 1 < n) strncat(buf, " ", cap - strlen(buf) - 1);
    }
}

/* The dims of input or output v as text: numbers, or the symbol's name. */
static void dims(char *buf, size_t cap, const Onnx__ValueInfoProto *v) {
    const Onnx__TensorShapeProto *s = v->type->tensor_type->shape;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_dim; i++) {
        char one[64];
        if (s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            snprintf(one, sizeof one, "%s%s", i ? "," : "", s->dim[i]->dim_param);
        else snprintf(one, sizeof one, "%s%lld", i ? "," : "", (long long)s->dim[i]->dim_value);
        strncat(buf, one, cap - strlen(buf) - 1);
    }
}

static void test_header_and_io(void **state) {
    (void)state;
    ModelConfig cfg = tiny(MODEL_ARCH_QWEN2);
    Model m;
    char dir[64], buf[1024];
    OnnxReport r;
    Onnx__ModelProto *mp = export_and_read(&cfg, ONNX_DATA_AUTO, &m, dir, sizeof dir, &r);
    assert_int_equal(mp->ir_version, 8);
    assert_int_equal(mp->n_opset_import, 1);
    assert_string_equal(mp->opset_import[0]->domain, "");
    assert_int_equal(mp->opset_import[0]->version, 17);
    assert_string_equal(mp->producer_name, "proact");
    const Onnx__GraphProto *g = mp->graph;
    assert_int_equal(g->n_node, r.n_nodes);
    assert_int_equal(g->n_initializer, r.n_initializers);
    names(buf, sizeof buf, g->input, g->n_input);
    assert_string_equal(buf, "input_ids attention_mask position_ids past_key_values.0.key past_key_values.0.value "
                             "past_key_values.1.key past_key_values.1.value");
    names(buf, sizeof buf, g->output, g->n_output);
    assert_string_equal(buf, "logits present.0.key present.0.value present.1.key present.1.value");
    assert_int_equal(g->input[0]->type->tensor_type->elem_type, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
    assert_int_equal(g->input[1]->type->tensor_type->elem_type, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
    assert_int_equal(g->input[3]->type->tensor_type->elem_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    dims(buf, sizeof buf, g->input[0]);
    assert_string_equal(buf, "batch_size,sequence_length");
    dims(buf, sizeof buf, g->input[1]);
    assert_string_equal(buf, "batch_size,total_sequence_length");
    dims(buf, sizeof buf, g->input[3]);
    assert_string_equal(buf, "batch_size,2,past_sequence_length,16");
    dims(buf, sizeof buf, g->output[0]);
    assert_string_equal(buf, "batch_size,sequence_length,96");
    dims(buf, sizeof buf, g->output[4]);
    assert_string_equal(buf, "batch_size,2,total_sequence_length,16");
    /* each present is the output of one node, a Concat of the past along the sequence axis */
    int concats = 0;
    for (size_t i = 0; i < g->n_node; i++)
        if (strncmp(g->node[i]->output[0], "present.", 8) == 0) {
            assert_string_equal(g->node[i]->op_type, "Concat");
            assert_int_equal(strncmp(g->node[i]->input[0], "past_key_values.", 16), 0);
            assert_int_equal(g->node[i]->attribute[0]->i, 2);
            concats++;
        }
    assert_int_equal(concats, 4);
    cleanup(mp, &m, dir);
}

/* The weights: transposed Linear weights, as-is vectors and embedding, RoPE tables, the LM head. */
static void check_weights(ModelArch arch) {
    ModelConfig cfg = tiny(arch);
    Model m;
    char dir[64];
    OnnxReport r;
    Onnx__ModelProto *mp = export_and_read(&cfg, ONNX_DATA_AUTO, &m, dir, sizeof dir, &r);
    const Onnx__GraphProto *g = mp->graph;
    const int hd = cfg.head_dim, half = hd / 2, kv = cfg.n_kv_heads * hd, d = cfg.hidden_size;

    const ParamTensor *k = model_find_tensor(&m, "model.layers.1.self_attn.k_proj.weight");
    const Onnx__TensorProto *kt = init_named(g, "model.layers.1.self_attn.k_proj.weight.T");
    assert_non_null(kt);
    assert_int_equal(kt->n_dims, 2);
    assert_int_equal(kt->dims[0], d);
    assert_int_equal(kt->dims[1], kv);
    const float *kv_t = floats(kt), *kv_p = m.params + k->offset;
    for (int row = 0; row < kv; row++)
        for (int col = 0; col < d; col++) assert_true(kv_t[(size_t)col * kv + row] == kv_p[(size_t)row * d + col]);

    const ParamTensor *e = model_find_tensor(&m, "model.embed_tokens.weight");
    const Onnx__TensorProto *et = init_named(g, "model.embed_tokens.weight");
    assert_non_null(et);
    assert_int_equal(et->dims[0], cfg.vocab_size);
    assert_memory_equal(floats(et), m.params + e->offset, e->numel * sizeof(float));
    assert_non_null(init_named(g, "model.layers.0.input_layernorm.weight"));
    assert_true((init_named(g, "model.layers.0.self_attn.q_proj.bias") != NULL) == (arch == MODEL_ARCH_QWEN2));

    const Onnx__TensorProto *cs = init_named(g, "rope.cos"), *sn = init_named(g, "rope.sin");
    assert_non_null(cs);
    assert_non_null(sn);
    assert_int_equal(cs->dims[0], cfg.max_seq_len);
    assert_int_equal(cs->dims[1], hd);
    for (int p = 0; p < cfg.max_seq_len; p += 7)
        for (int i = 0; i < half; i++) {
            float ang = (float)p * (1.0f / powf(cfg.rope_theta, (float)(2 * i) / (float)hd));
            const float *c = floats(cs) + (size_t)p * hd, *s = floats(sn) + (size_t)p * hd;
            assert_true(c[i] == cosf(ang) && c[i + half] == cosf(ang));
            assert_true(s[i] == -sinf(ang) && s[i + half] == sinf(ang));
        }

    /* tied: a Transpose of the embedding, no second copy; untied: lm_head.weight.T */
    const Onnx__NodeProto *head = NULL;
    for (size_t i = 0; i < g->n_node; i++)
        if (strcmp(g->node[i]->output[0], "lm_head.weight.T") == 0) head = g->node[i];
    if (cfg.tie_embeddings) {
        assert_non_null(head);
        assert_string_equal(head->op_type, "Transpose");
        assert_string_equal(head->input[0], "model.embed_tokens.weight");
        assert_null(init_named(g, "lm_head.weight.T"));
    } else {
        assert_null(head);
        const Onnx__TensorProto *lt = init_named(g, "lm_head.weight.T");
        assert_non_null(lt);
        assert_int_equal(lt->dims[0], d);
        assert_int_equal(lt->dims[1], cfg.vocab_size);
    }
    cleanup(mp, &m, dir);
}

static void test_weights_qwen2(void **state) {
    (void)state;
    check_weights(MODEL_ARCH_QWEN2);
}

static void test_weights_llama(void **state) {
    (void)state;
    check_weights(MODEL_ARCH_LLAMA);
}

/* The value of external_data entry `key` of t, or NULL. */
static const char *ext_value(const Onnx__TensorProto *t, const char *key) {
    for (size_t i = 0; i < t->n_external_data; i++)
        if (strcmp(t->external_data[i]->key, key) == 0) return t->external_data[i]->value;
    return NULL;
}

/* --onnx-data external: every initializer of 1024 bytes or more is in model.onnx_data at an offset
 * that is a multiple of 4096, the others stay inline; the bytes there are the weights. */
static void test_external_data(void **state) {
    (void)state;
    ModelConfig cfg = tiny(MODEL_ARCH_LLAMA);
    Model m;
    char dir[64], path[512], *data = NULL;
    size_t len = 0;
    OnnxReport r;
    Onnx__ModelProto *mp = export_and_read(&cfg, ONNX_DATA_EXTERNAL, &m, dir, sizeof dir, &r);
    snprintf(path, sizeof path, "%s/onnx/%s", dir, ONNX_DECODER_DATA);
    assert_int_equal(file_read_all(path, &data, &len), 0);
    assert_int_equal(len, r.data_bytes);
    const Onnx__GraphProto *g = mp->graph;
    size_t n_ext = 0, end = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        size_t bytes = 4;
        for (size_t k = 0; k < t->n_dims; k++) bytes *= (size_t)t->dims[k];
        if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) bytes = bytes / 4 * 8; /* int64 */
        if (bytes < 1024) {
            assert_false(t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
            assert_int_equal(t->raw_data.len, bytes);
            continue;
        }
        n_ext++;
        assert_true(t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
        assert_false(t->has_raw_data);
        assert_string_equal(ext_value(t, "location"), ONNX_DECODER_DATA);
        size_t off = strtoul(ext_value(t, "offset"), NULL, 10), n = strtoul(ext_value(t, "length"), NULL, 10);
        assert_int_equal(off % 4096, 0);
        assert_int_equal(n, bytes);
        assert_true(off >= end && off + n <= len);
        end = off + n;
        if (strcmp(t->name, "model.layers.1.self_attn.k_proj.weight.T") == 0) {
            const ParamTensor *k = model_find_tensor(&m, "model.layers.1.self_attn.k_proj.weight");
            const float *kt = (const float *)(data + off), *kp = m.params + k->offset;
            const int64_t rows = k->shape[0], cols = k->shape[1];
            for (int64_t a = 0; a < rows; a++)
                for (int64_t c = 0; c < cols; c++) assert_true(kt[c * rows + a] == kp[a * cols + c]);
        }
        if (strcmp(t->name, "model.embed_tokens.weight") == 0)
            assert_memory_equal(data + off, m.params + model_find_tensor(&m, t->name)->offset, n);
    }
    assert_int_equal(n_ext, r.n_external);
    assert_true(n_ext >= 2 + 7 * (size_t)cfg.n_layers); /* embed, head, rope tables, the 7 matrices a layer */
    assert_int_equal(end, len);
    free(data);
    /* written again inline, the directory keeps no data file of the first export */
    assert_int_equal(onnx_export_decoder(dir, &m, ONNX_DATA_INLINE, &r), 0);
    assert_int_equal(r.n_external, 0);
    assert_int_not_equal(access(path, F_OK), 0);
    cleanup(mp, &m, dir);
}

/* A 7B-sized shape does not fit inline: refused with a message when inline is asked for (before
 * anything is written); auto and external take it. */
static void test_too_large(void **state) {
    (void)state;
    ModelConfig c = tiny(MODEL_ARCH_QWEN2);
    assert_int_equal(onnx_decoder_check(&c, ONNX_DATA_INLINE), 0);
    assert_true(onnx_decoder_fits_inline(&c));
    c.vocab_size = 152064;
    c.hidden_size = 3584;
    c.n_layers = 28;
    c.n_heads = 28;
    c.n_kv_heads = 4;
    c.head_dim = 128;
    c.intermediate_size = 18944;
    c.max_seq_len = 32768;
    assert_false(onnx_decoder_fits_inline(&c));
    assert_int_equal(onnx_decoder_check(&c, ONNX_DATA_INLINE), -1);
    assert_non_null(strstr(px_error_message(), "over the 2 GiB an ONNX file holds inline"));
    assert_int_equal(onnx_decoder_check(&c, ONNX_DATA_AUTO), 0); /* goes to model.onnx_data */
    assert_int_equal(onnx_decoder_check(&c, ONNX_DATA_EXTERNAL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_io), cmocka_unit_test(test_weights_qwen2),
        cmocka_unit_test(test_weights_llama), cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
