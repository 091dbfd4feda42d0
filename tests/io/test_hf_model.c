/* test_hf_model.c — Hugging Face model directories: config.json and weights, the special token ids,
 * the chat template's text and tokenizer.json's merges in both forms (io/hf_export.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/files.h"
#include "io/hf_export.h"
#include "io/hf_model.h"
#include "io/safetensors.h"
#include "io/tokenizer_json.h"
#include "io/tokenizer_write.h"
#include "src/base/bf16.h"
#include "src/base/common.h"

typedef struct {
    char dir[256];   /* mkdtemp root */
    char model[512]; /* a model directory inside it */
    char path[600];  /* scratch */
} Tmp;

static int setup(void **state) {
    Tmp *t = calloc(1, sizeof *t);
    if (!t) return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/proact_test_hf_XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->model, sizeof t->model, "%s/sub/model", t->dir); /* hf_save_model creates both */
    *state = t;
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int teardown(void **state) {
    Tmp *t = *state;
    int rc = nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return rc;
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("expected \"%s\" in error \"%s\"", needle, haystack);
}

static ModelConfig tiny_config(ModelArch arch, int tie) {
    ModelConfig c = {0};
    c.arch = arch;
    c.vocab_size = 50;
    c.hidden_size = 16;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 4;
    c.intermediate_size = 24;
    c.rope_theta = 1000000.0f;
    c.rms_norm_eps = 1e-6f;
    c.tie_embeddings = tie;
    c.qkv_bias = arch == MODEL_ARCH_QWEN2;
    c.max_seq_len = 128;
    c.init_std = 0.02f;
    return c;
}

/* A model whose every parameter (norms and biases too) holds a distinct random value. */
static void tiny_model(Model *m, ModelArch arch, int tie, uint64_t seed) {
    ModelConfig c = tiny_config(arch, tie);
    assert_int_equal(model_create(m, &c), 0);
    model_init_random(m, seed);
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        m->params[i] += (float)((double)(s >> 40) / (double)(1ull << 24) - 0.5);
    }
}

static void assert_same_config(const ModelConfig *a, const ModelConfig *b) {
    assert_int_equal(a->arch, b->arch);
    assert_int_equal(a->vocab_size, b->vocab_size);
    assert_int_equal(a->hidden_size, b->hidden_size);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->n_heads, b->n_heads);
    assert_int_equal(a->n_kv_heads, b->n_kv_heads);
    assert_int_equal(a->head_dim, b->head_dim);
    assert_int_equal(a->intermediate_size, b->intermediate_size);
    assert_true(a->rope_theta == b->rope_theta);
    assert_true(a->rms_norm_eps == b->rms_norm_eps);
    assert_int_equal(a->tie_embeddings, b->tie_embeddings);
    assert_int_equal(a->qkv_bias, b->qkv_bias);
    assert_int_equal(a->max_seq_len, b->max_seq_len);
    assert_true(a->init_std == b->init_std);
}

static void assert_same_params(const Model *a, const Model *b, int bf16) {
    assert_int_equal(a->n_params, b->n_params);
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (size_t i = 0; i < a->n_params; i++) {
        float want = bf16 ? f32_from_bf16(bf16_from_f32(a->params[i])) : a->params[i];
        if (memcmp(&want, &b->params[i], sizeof want) != 0)
            fail_msg("param %zu: expected %.9g, got %.9g", i, (double)want, (double)b->params[i]);
    }
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_save_load_f32(void **state) {
    Tmp *t = *state;
    Model m, back;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 1);
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);
    assert_int_equal(hf_load_model(t->model, &back), 0);
    assert_same_config(&m.cfg, &back.cfg);
    assert_same_params(&m, &back, 0);

    /* The config is what transformers expects. */
    snprintf(t->path, sizeof t->path, "%s/config.json", t->model);
    json_error_t err;
    json_t *cfg = json_load_file(t->path, 0, &err);
    assert_non_null(cfg);
    assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "architectures"), 0)),
                        "Qwen2ForCausalLM");
    assert_string_equal(json_string_value(json_object_get(cfg, "model_type")), "qwen2");
    assert_string_equal(json_string_value(json_object_get(cfg, "torch_dtype")), "float32");
    assert_string_equal(json_string_value(json_object_get(cfg, "hidden_act")), "silu");
    assert_int_equal(json_integer_value(json_object_get(cfg, "num_key_value_heads")), 2);
    assert_true(json_real_value(json_object_get(cfg, "rms_norm_eps")) == 1e-6);
    json_decref(cfg);

    /* Every tensor is stored as F32 under its Hugging Face name, with format=pt metadata. */
    snprintf(t->path, sizeof t->path, "%s/model.safetensors", t->model);
    StFile f;
    assert_int_equal(st_open(&f, t->path), 0);
    assert_int_equal(f.n_tensors, m.n_tensors);
    const StTensor *q = st_find(&f, "model.layers.1.self_attn.q_proj.bias");
    assert_non_null(q);
    assert_int_equal(q->dtype, ST_F32);
    assert_non_null(strstr((const char *)f.map + 8, "\"format\":\"pt\""));
    st_close(&f);

    model_free(&back);
    model_free(&m);
}

static void test_save_load_bf16(void **state) {
    Tmp *t = *state;
    Model m, back;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 2);
    assert_int_equal(hf_save_model(t->model, &m, 1), 0);
    assert_int_equal(hf_load_model(t->model, &back), 0);
    assert_same_config(&m.cfg, &back.cfg);
    assert_same_params(&m, &back, 1);
    snprintf(t->path, sizeof t->path, "%s/config.json", t->model);
    json_error_t err;
    json_t *cfg = json_load_file(t->path, 0, &err);
    assert_non_null(cfg);
    assert_string_equal(json_string_value(json_object_get(cfg, "torch_dtype")), "bfloat16");
    json_decref(cfg);
    /* bf16 really lost precision somewhere (the comparison above is not vacuous). */
    int differs = 0;
    for (size_t i = 0; i < m.n_params; i++) differs |= m.params[i] != back.params[i];
    assert_true(differs);

    snprintf(t->path, sizeof t->path, "%s/model.safetensors", t->model);
    StFile f;
    assert_int_equal(st_open(&f, t->path), 0);
    assert_int_equal(st_find(&f, "model.embed_tokens.weight")->dtype, ST_BF16);
    st_close(&f);
    model_free(&back);
    model_free(&m);
}

/* Llama with tied embeddings: no lm_head in the table; a stray lm_head.weight and
 * rotary inv_freq buffers in the file are ignored. */
static void test_llama_tied_extra_tensors(void **state) {
    Tmp *t = *state;
    Model m, back;
    tiny_model(&m, MODEL_ARCH_LLAMA, 1, 3);
    assert_null(model_find_tensor(&m, "lm_head.weight"));
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);

    StWriteTensor *ws = calloc((size_t)m.n_tensors + 2, sizeof *ws);
    assert_non_null(ws);
    for (int i = 0; i < m.n_tensors; i++) {
        const ParamTensor *p = &m.tensors[i];
        ws[i] = (StWriteTensor){p->name, ST_F32, p->ndim, {p->shape[0], p->shape[1]}, m.params + p->offset};
    }
    static float junk[50 * 16], inv_freq[2];
    ws[m.n_tensors] = (StWriteTensor){"lm_head.weight", ST_F32, 2, {50, 16}, junk};
    ws[m.n_tensors + 1] = (StWriteTensor){"model.layers.0.self_attn.rotary_emb.inv_freq", ST_F32, 1, {2}, inv_freq};
    snprintf(t->path, sizeof t->path, "%s/model.safetensors", t->model);
    assert_int_equal(st_write(t->path, ws, m.n_tensors + 2, NULL, 0), 0);
    free(ws);

    assert_int_equal(hf_load_model(t->model, &back), 0);
    assert_int_equal(back.cfg.arch, MODEL_ARCH_LLAMA);
    assert_int_equal(back.cfg.tie_embeddings, 1);
    assert_int_equal(back.cfg.qkv_bias, 0);
    assert_same_params(&m, &back, 0);
    model_free(&back);
    model_free(&m);
}

/* Two shards plus model.safetensors.index.json load the same as one file. */
static void test_sharded(void **state) {
    Tmp *t = *state;
    Model m, back;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 4);
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);
    snprintf(t->path, sizeof t->path, "%s/model.safetensors", t->model);
    assert_int_equal(unlink(t->path), 0);

    const char *shard_name[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    int half = m.n_tensors / 2;
    json_t *wm = json_object();
    assert_non_null(wm);
    for (int s = 0; s < 2; s++) {
        int lo = s ? half : 0, hi = s ? m.n_tensors : half;
        StWriteTensor *ws = calloc((size_t)(hi - lo), sizeof *ws);
        assert_non_null(ws);
        for (int i = lo; i < hi; i++) {
            const ParamTensor *p = &m.tensors[i];
            ws[i - lo] = (StWriteTensor){p->name, ST_F32, p->ndim, {p->shape[0], p->shape[1]}, m.params + p->offset};
            assert_int_equal(json_object_set_new(wm, p->name, json_string(shard_name[s])), 0);
        }
        char path[700];
        snprintf(path, sizeof path, "%s/%s", t->model, shard_name[s]);
        assert_int_equal(st_write(path, ws, hi - lo, NULL, 0), 0);
        free(ws);
    }
    json_t *index = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", wm);
    assert_non_null(index);
    snprintf(t->path, sizeof t->path, "%s/model.safetensors.index.json", t->model);
    assert_int_equal(json_dump_file(index, t->path, JSON_INDENT(2)), 0);

    assert_int_equal(hf_load_model(t->model, &back), 0);
    assert_same_params(&m, &back, 0);
    model_free(&back);

    /* A tensor absent from the weight map is reported against the index file. */
    assert_int_equal(json_object_del(wm, m.tensors[0].name), 0);
    assert_int_equal(json_dump_file(index, t->path, JSON_INDENT(2)), 0);
    assert_int_equal(hf_load_model(t->model, &back), 0); /* still found in its shard */
    model_free(&back);
    /* ... but a tensor missing from both is an error naming the index. */
    char shard0[700];
    snprintf(shard0, sizeof shard0, "%s/%s", t->model, shard_name[0]);
    StWriteTensor one = {m.tensors[1].name,
                         ST_F32,
                         m.tensors[1].ndim,
                         {m.tensors[1].shape[0], m.tensors[1].shape[1]},
                         m.params + m.tensors[1].offset};
    assert_int_equal(st_write(shard0, &one, 1, NULL, 0), 0);
    px_error("%s", ""); /* clear */
    assert_int_equal(hf_load_model(t->model, &back), -1);
    assert_contains(px_error_message(), "model.safetensors.index.json");
    assert_contains(px_error_message(), m.tensors[0].name);

    /* Shard names must stay inside the directory. */
    assert_int_equal(json_object_set_new(wm, m.tensors[0].name, json_string("../evil.safetensors")), 0);
    assert_int_equal(json_dump_file(index, t->path, JSON_INDENT(2)), 0);
    assert_int_equal(hf_load_model(t->model, &back), -1);
    assert_contains(px_error_message(), "'../evil.safetensors' is not a file name in the model directory");
    json_decref(index);
    model_free(&m);
}

/* ---- bad config.json ------------------------------------------------------------------ */

/* Saves a tiny model, then rewrites config.json after `edit` changed it. */
static void edited_model_dir(Tmp *t, void (*edit)(json_t *cfg)) {
    Model m;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 5);
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);
    model_free(&m);
    snprintf(t->path, sizeof t->path, "%s/config.json", t->model);
    json_error_t err;
    json_t *cfg = json_load_file(t->path, 0, &err);
    assert_non_null(cfg);
    edit(cfg);
    assert_int_equal(json_dump_file(cfg, t->path, JSON_INDENT(2)), 0);
    json_decref(cfg);
}

/* hf_load_model and hf_read_config both fail naming DIR/config.json and `what`. */
static void expect_config_error(Tmp *t, const char *what) {
    char cfg_path[700];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", t->model);
    ModelConfig c;
    px_error("%s", ""); /* clear */
    assert_int_equal(hf_read_config(t->model, &c), -1);
    assert_contains(px_error_message(), cfg_path);
    assert_contains(px_error_message(), what);
    Model m;
    px_error("%s", ""); /* clear */
    assert_int_equal(hf_load_model(t->model, &m), -1);
    assert_contains(px_error_message(), cfg_path);
    assert_contains(px_error_message(), what);
    assert_null(m.params);
}

static void del_hidden_size(json_t *c) { json_object_del(c, "hidden_size"); }
static void str_hidden_size(json_t *c) { json_object_set_new(c, "hidden_size", json_string("16")); }
static void gpt2(json_t *c) { json_object_set_new(c, "architectures", json_pack("[s]", "GPT2LMHeadModel")); }
static void rope_scaling(json_t *c) {
    json_object_set_new(c, "rope_scaling", json_pack("{s:s, s:f}", "type", "linear", "factor", 2.0));
}
static void gelu(json_t *c) { json_object_set_new(c, "hidden_act", json_string("gelu")); }
static void bad_heads(json_t *c) { json_object_set_new(c, "num_key_value_heads", json_integer(3)); }
static void llama_attention_bias(json_t *c) {
    json_object_set_new(c, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    json_object_set_new(c, "attention_bias", json_true());
}

static void test_config_missing_field(void **state) {
    edited_model_dir(*state, del_hidden_size);
    expect_config_error(*state, "missing field 'hidden_size'");
}

static void test_config_wrong_type(void **state) {
    edited_model_dir(*state, str_hidden_size);
    expect_config_error(*state, "field 'hidden_size' must be an integer");
}

static void test_config_unknown_arch(void **state) {
    edited_model_dir(*state, gpt2);
    expect_config_error(*state, "field 'architectures': unsupported architecture 'GPT2LMHeadModel'");
}

static void test_config_rope_scaling(void **state) {
    edited_model_dir(*state, rope_scaling);
    expect_config_error(*state, "field 'rope_scaling': RoPE scaling is not supported");
}

static void test_config_other_errors(void **state) {
    Tmp *t = *state;
    edited_model_dir(t, gelu);
    expect_config_error(t, "'gelu'");
    edited_model_dir(t, bad_heads);
    expect_config_error(t, "n_kv_heads");
    edited_model_dir(t, llama_attention_bias); /* would need an o_proj bias too */
    expect_config_error(t, "field 'attention_bias'");
    snprintf(t->path, sizeof t->path, "%s/config.json", t->model);
    FILE *fp = fopen(t->path, "w");
    assert_non_null(fp);
    fputs("{\"hidden_size\": 16,", fp);
    assert_int_equal(fclose(fp), 0);
    expect_config_error(t, "not valid JSON");
    assert_int_equal(unlink(t->path), 0);
    expect_config_error(t, "cannot open");
}

/* Without "architectures", model_type decides; defaults fill the optional fields. */
static void test_config_model_type_and_defaults(void **state) {
    Tmp *t = *state;
    snprintf(t->path, sizeof t->path, "%s/sub", t->dir);
    assert_int_equal(mkdir(t->path, 0700), 0);
    assert_int_equal(mkdir(t->model, 0700), 0);
    snprintf(t->path, sizeof t->path, "%s/config.json", t->model);
    FILE *fp = fopen(t->path, "w");
    assert_non_null(fp);
    fputs("{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2,"
          " \"num_attention_heads\": 8, \"intermediate_size\": 128, \"vocab_size\": 100,"
          " \"head_dim\": null, \"rope_scaling\": null, \"attention_bias\": false}",
          fp);
    assert_int_equal(fclose(fp), 0);
    ModelConfig c;
    assert_int_equal(hf_read_config(t->model, &c), 0);
    assert_int_equal(c.arch, MODEL_ARCH_LLAMA);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.head_dim, 8);
    assert_true(c.rope_theta == 10000.0f);
    assert_true(c.rms_norm_eps == 1e-6f);
    assert_int_equal(c.tie_embeddings, 0);
    assert_int_equal(c.max_seq_len, 2048);
    assert_true(c.init_std == 0.02f);
    assert_int_equal(c.qkv_bias, 0);
}

/* ---- bad weights ---------------------------------------------------------------------- */

/* Rewrites DIR/model.safetensors from m's table, leaving out `skip` and giving
 * `reshape` a transposed shape. */
static void write_weights(Tmp *t, const Model *m, const char *skip, const char *reshape, const char *extra) {
    StWriteTensor *ws = calloc((size_t)m->n_tensors + 1, sizeof *ws);
    assert_non_null(ws);
    int n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *p = &m->tensors[i];
        if (skip && strcmp(p->name, skip) == 0) continue;
        ws[n] = (StWriteTensor){p->name, ST_BF16, p->ndim, {p->shape[0], p->shape[1]}, m->params + p->offset};
        if (reshape && strcmp(p->name, reshape) == 0) {
            ws[n].shape[0] = p->shape[1];
            ws[n].shape[1] = p->shape[0];
        }
        n++;
    }
    static float junk[4];
    if (extra) ws[n++] = (StWriteTensor){extra, ST_F32, 1, {4}, junk};
    snprintf(t->path, sizeof t->path, "%s/model.safetensors", t->model);
    assert_int_equal(st_write(t->path, ws, n, NULL, 0), 0);
    free(ws);
}

static void expect_load_error(Tmp *t, const char *w1, const char *w2) {
    Model back;
    px_error("%s", ""); /* clear */
    assert_int_equal(hf_load_model(t->model, &back), -1);
    char st_path[700];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", t->model);
    assert_contains(px_error_message(), st_path);
    assert_contains(px_error_message(), w1);
    if (w2) assert_contains(px_error_message(), w2);
    assert_null(back.params); /* freed */
}

static void test_weights_missing_tensor(void **state) {
    Tmp *t = *state;
    Model m;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 6);
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);
    write_weights(t, &m, "model.layers.0.mlp.up_proj.weight", NULL, NULL);
    expect_load_error(t, "missing tensor 'model.layers.0.mlp.up_proj.weight'", NULL);
    model_free(&m);
}

static void test_weights_wrong_shape(void **state) {
    Tmp *t = *state;
    Model m;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 8);
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);
    write_weights(t, &m, NULL, "model.layers.0.mlp.down_proj.weight", NULL);
    expect_load_error(t, "tensor 'model.layers.0.mlp.down_proj.weight' has shape [24, 16], expected [16, 24]", NULL);
    model_free(&m);
}

static void test_weights_unexpected_tensor(void **state) {
    Tmp *t = *state;
    Model m;
    tiny_model(&m, MODEL_ARCH_QWEN2, 0, 9);
    assert_int_equal(hf_save_model(t->model, &m, 0), 0);
    write_weights(t, &m, NULL, NULL, "model.layers.2.input_layernorm.weight");
    expect_load_error(t, "unexpected tensor 'model.layers.2.input_layernorm.weight'", NULL);
    /* A corrupt weights file is reported by the safetensors reader, naming the file. */
    FILE *fp = fopen(t->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    expect_load_error(t, "empty", NULL);
    model_free(&m);
}

/* ---- the exported directory's extras --------------------------------------------------- */

static void test_save_token_ids(void **state) {
    Tmp *t = *state;
    Model m, back;
    tiny_model(&m, MODEL_ARCH_LLAMA, 1, 10);
    const HfTokenIds ids = {.bos = 5, .eos = 4, .pad = -1};
    assert_int_equal(hf_save_model_ids(t->model, &m, 0, &ids), 0);
    snprintf(t->path, sizeof t->path, "%s/config.json", t->model);
    json_error_t err;
    json_t *cfg = json_load_file(t->path, 0, &err);
    assert_non_null(cfg);
    assert_int_equal(json_integer_value(json_object_get(cfg, "bos_token_id")), 5);
    assert_int_equal(json_integer_value(json_object_get(cfg, "eos_token_id")), 4);
    assert_null(json_object_get(cfg, "pad_token_id")); /* -1: the model has none */
    json_decref(cfg);
    assert_int_equal(hf_load_model(t->model, &back), 0); /* the reader takes them as other keys */
    assert_same_config(&m.cfg, &back.cfg);
    model_free(&back);
    const HfTokenIds outside = {.bos = -1, .eos = 50, .pad = 0};
    assert_int_equal(hf_save_model_ids(t->model, &m, 0, &outside), -1);
    assert_contains(px_error_message(), "eos_token_id 50 is outside the model's vocabulary of 50");
    model_free(&m);
}

static void test_chat_template_text(void **state) {
    (void)state;
    /* the pieces become double-quoted Jinja strings: backslash, quote, newline, CR and tab escaped */
    char *c = hf_chat_template("<s>\"a\"\\\n", "</s>\r", "<t>\t", "</t>");
    assert_non_null(c);
    const char *want =
        "{%- for message in messages -%}{%- set ns = namespace(text='') -%}"
        "{%- for w in message['content'].replace('\\t', ' ').replace('\\n', ' ').replace('\\r', ' ')"
        ".replace('\\v', ' ').replace('\\f', ' ').split(' ') -%}"
        "{%- if w -%}{%- set ns.text = ns.text + ' ' + w if ns.text else w -%}{%- endif -%}{%- endfor -%}"
        "{%- if message['role'] == 'user' -%}{{- \"<s>\\\"a\\\"\\\\\\n\" + ns.text + \"</s>\\r\" -}}"
        "{%- elif message['role'] == 'assistant' -%}{{- \"<t>\\t\" + ns.text + \"</t>\" -}}"
        "{%- else -%}{{- raise_exception('proact translation template: messages are the source (role user) and "
        "the translation (role assistant), got role ' + message['role']) -}}{%- endif -%}{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- \"<t>\\t\" -}}{%- endif -%}";
    assert_string_equal(c, want);
    free(c);
}

/* A byte-level BPE with two merges, "a b" and "ab c", written with the merges in FORM_JSON. */
static void write_small_tokenizer(const char *path, const char *merges_json) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp,
            "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"special\": true}],\n"
            " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false},\n"
            " \"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"},\n"
            " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4},\n"
            "           \"merges\": %s}}\n",
            merges_json);
    assert_int_equal(fclose(fp), 0);
}

static void test_rewrite_merges(void **state) {
    Tmp *t = *state;
    char from[700], to[700];
    snprintf(from, sizeof from, "%s/strings.json", t->dir);
    snprintf(to, sizeof to, "%s/out.json", t->dir);
    write_small_tokenizer(from, "[\"a b\", \"ab c\"]");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(tokenizer_rewrite_merges(from, to, TOKENIZER_MERGES_PAIRS), 0);
    assert_int_equal(file_read_all(to, &text, &len), 0);
    assert_non_null(strstr(text, "\"merges\": [\n      [\"a\", \"b\"],\n      [\"ab\", \"c\"]\n    ]"));
    free(text);
    assert_int_equal(tokenizer_rewrite_merges(to, to, TOKENIZER_MERGES_STRINGS), 0); /* in place */
    assert_int_equal(file_read_all(to, &text, &len), 0);
    assert_non_null(strstr(text, "\"merges\": [\"a b\", \"ab c\"]"));
    assert_non_null(strstr(text, "\"added_tokens\": [\n    {\n      \"id\": 5,")); /* the rest is kept */
    free(text);
    /* both forms encode alike */
    Tokenizer *a = NULL, *b = NULL;
    assert_int_equal(tokenizer_load(from, &a), 0);
    assert_int_equal(tokenizer_load(to, &b), 0);
    assert_true(tokenizer_fingerprint(a) == tokenizer_fingerprint(b));
    tokenizer_free(a);
    tokenizer_free(b);
    /* a token with a space has no "a b" form; a malformed merge is named */
    write_small_tokenizer(from, "[[\"a\", \"b\"], [\"ab\", \"c d\"]]");
    assert_int_equal(tokenizer_rewrite_merges(from, to, TOKENIZER_MERGES_STRINGS), -1);
    assert_contains(px_error_message(), "merge 1 ('ab' + 'c d') has a token with a space");
    write_small_tokenizer(from, "[\"a b\", \"abc\"]");
    assert_int_equal(tokenizer_rewrite_merges(from, to, TOKENIZER_MERGES_PAIRS), -1);
    assert_contains(px_error_message(), "merge 'abc' is not two tokens separated by one space (field model.merges[1])");
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_save_load_f32),
        T(test_save_load_bf16),
        T(test_llama_tied_extra_tensors),
        T(test_sharded),
        T(test_config_missing_field),
        T(test_config_wrong_type),
        T(test_config_unknown_arch),
        T(test_config_rope_scaling),
        T(test_config_other_errors),
        T(test_config_model_type_and_defaults),
        T(test_weights_missing_tensor),
        T(test_weights_wrong_shape),
        T(test_weights_unexpected_tensor),
        T(test_save_token_ids),
        T(test_chat_template_text),
        T(test_rewrite_merges),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
