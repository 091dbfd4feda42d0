/* hf_model.c — load and save Hugging Face model directories (Llama / Qwen2). */
#include "io/hf_model.h"

#include "io/atomic_file.h"
#include "io/files.h"

#include "io/safetensors.h"
#include "src/base/common.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join_path(char *out, size_t cap, const char *dir, const char *name) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap) return px_error("%.200s...: path too long", dir);
    return 0;
}

/* ---- config.json: reading ---------------------------------------------------------- */

/* Optional fields treat JSON null like an absent key (some exporters write "head_dim": null). */
static json_t *get_opt(json_t *root, const char *key) {
    json_t *v = json_object_get(root, key);
    return json_is_null(v) ? NULL : v;
}

static int get_int(const char *path, json_t *root, const char *key, int required, int def, int *out) {
    json_t *v = json_object_get(root, key);
    if (!v || (!required && json_is_null(v))) {
        if (required) return px_error("%s: missing field '%s'", path, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) return px_error("%s: field '%s' must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < INT_MIN || x > INT_MAX) return px_error("%s: field '%s' is out of range (%lld)", path, key, (long long)x);
    *out = (int)x;
    return 0;
}

static int get_float(const char *path, json_t *root, const char *key, float def, float *out) {
    json_t *v = get_opt(root, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return px_error("%s: field '%s' must be a number", path, key);
    *out = (float)json_number_value(v);
    return 0;
}

static int get_bool(const char *path, json_t *root, const char *key, int def, int *out) {
    json_t *v = get_opt(root, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) return px_error("%s: field '%s' must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

static int arch_from_class(const char *s, ModelArch *a) {
    if (strcmp(s, "LlamaForCausalLM") == 0) *a = MODEL_ARCH_LLAMA;
    else if (strcmp(s, "Qwen2ForCausalLM") == 0) *a = MODEL_ARCH_QWEN2;
    else return -1;
    return 0;
}

static int read_arch(const char *path, json_t *root, ModelArch *arch) {
    json_t *archs = get_opt(root, "architectures");
    if (archs) {
        json_t *first = json_array_get(archs, 0);
        if (!json_is_array(archs) || !json_is_string(first))
            return px_error("%s: field 'architectures' must be a non-empty array of strings", path);
        if (arch_from_class(json_string_value(first), arch) != 0)
            return px_error("%s: field 'architectures': unsupported architecture '%s' "
                            "(expected LlamaForCausalLM or Qwen2ForCausalLM)",
                            path, json_string_value(first));
        return 0;
    }
    json_t *mt = get_opt(root, "model_type");
    if (!mt) return px_error("%s: missing field 'architectures' (and no 'model_type')", path);
    if (!json_is_string(mt)) return px_error("%s: field 'model_type' must be a string", path);
    const char *s = json_string_value(mt);
    if (strcmp(s, "llama") == 0) *arch = MODEL_ARCH_LLAMA;
    else if (strcmp(s, "qwen2") == 0) *arch = MODEL_ARCH_QWEN2;
    else return px_error("%s: field 'model_type': unsupported model type '%s' (expected llama or qwen2)", path, s);
    return 0;
}

/* Features the forward pass does not implement must be rejected, not silently ignored. */
static int check_unsupported(const char *path, json_t *root) {
    if (get_opt(root, "rope_scaling")) return px_error("%s: field 'rope_scaling': RoPE scaling is not supported", path);
    json_t *act = get_opt(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0))
        return px_error("%s: field 'hidden_act': unsupported activation '%s' (expected 'silu')", path,
                        json_is_string(act) ? json_string_value(act) : "<not a string>");
    int flag = 0;
    if (get_bool(path, root, "use_sliding_window", 0, &flag) != 0) return -1;
    if (flag) return px_error("%s: field 'use_sliding_window': sliding-window attention is not supported", path);
    if (get_bool(path, root, "mlp_bias", 0, &flag) != 0) return -1;
    if (flag) return px_error("%s: field 'mlp_bias': MLP biases are not supported", path);
    return 0;
}

static int config_from_json(const char *path, json_t *root, ModelConfig *c) {
    if (!json_is_object(root)) return px_error("%s: not a JSON object", path);
    memset(c, 0, sizeof *c);
    if (read_arch(path, root, &c->arch) != 0) return -1;
    if (get_int(path, root, "hidden_size", 1, 0, &c->hidden_size) != 0 ||
        get_int(path, root, "num_hidden_layers", 1, 0, &c->n_layers) != 0 ||
        get_int(path, root, "num_attention_heads", 1, 0, &c->n_heads) != 0 ||
        get_int(path, root, "intermediate_size", 1, 0, &c->intermediate_size) != 0 ||
        get_int(path, root, "vocab_size", 1, 0, &c->vocab_size) != 0)
        return -1;
    /* A zero head count is reported by model_config_validate, not as a division by zero. */
    int default_hd = c->n_heads > 0 ? c->hidden_size / c->n_heads : 0;
    if (get_int(path, root, "num_key_value_heads", 0, c->n_heads, &c->n_kv_heads) != 0 ||
        get_int(path, root, "head_dim", 0, default_hd, &c->head_dim) != 0 ||
        get_int(path, root, "max_position_embeddings", 0, 2048, &c->max_seq_len) != 0 ||
        get_float(path, root, "rope_theta", 10000.0f, &c->rope_theta) != 0 ||
        get_float(path, root, "rms_norm_eps", 1e-6f, &c->rms_norm_eps) != 0 ||
        get_float(path, root, "initializer_range", 0.02f, &c->init_std) != 0 ||
        get_bool(path, root, "tie_word_embeddings", 0, &c->tie_embeddings) != 0)
        return -1;
    if (c->arch == MODEL_ARCH_QWEN2) {
        c->qkv_bias = 1; /* Qwen2 always has q/k/v biases */
    } else {
        /* Llama's attention_bias puts a bias on o_proj too, which this model does not have. */
        int attention_bias = 0;
        if (get_bool(path, root, "attention_bias", 0, &attention_bias) != 0) return -1;
        if (attention_bias)
            return px_error("%s: field 'attention_bias': Llama attention biases (q/k/v/o) are not supported", path);
        c->qkv_bias = 0;
    }
    if (check_unsupported(path, root) != 0) return -1;
    if (model_config_validate(c) != 0) {
        /* Prefix the file name: the validator only knows the field. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_error_message());
        return px_error("%s: %s", path, msg);
    }
    return 0;
}

static json_t *load_json(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        px_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
    fclose(fp); /* read-only stream: nothing to lose on a failing close */
    if (!root) px_error("%s: not valid JSON (line %d: %s)", path, jerr.line, jerr.text);
    return root;
}

int hf_read_config(const char *dir, ModelConfig *cfg) {
    char path[PX_PATH_MAX];
    if (join_path(path, sizeof path, dir, "config.json") != 0) return -1;
    json_t *root = load_json(path);
    if (!root) return -1;
    int rc = config_from_json(path, root, cfg);
    json_decref(root);
    return rc;
}

/* ---- weights: loading --------------------------------------------------------------- */

/* Tensors a checkpoint may carry that the model legitimately does not have. */
static int ignorable(const Model *m, const char *name) {
    if (px_ends_with(name, ".rotary_emb.inv_freq")) return 1;
    return m->cfg.tie_embeddings && strcmp(name, "lm_head.weight") == 0;
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Copies every model tensor found in one safetensors file; marks it in loaded[]. */
static int load_shard(Model *m, const char *path, char *loaded) {
    StFile f;
    if (st_open(&f, path) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < f.n_tensors && rc == 0; i++) {
        const StTensor *t = &f.tensors[i];
        if (ignorable(m, t->name)) continue;
        const ParamTensor *p = model_find_tensor(m, t->name);
        if (!p) {
            rc = px_error("%s: unexpected tensor '%s' (the model has no such parameter: does config.json "
                          "match the weights?)",
                          path, t->name);
            break;
        }
        size_t idx = (size_t)(p - m->tensors);
        if (loaded[idx]) {
            rc = px_error("%s: tensor '%s' appears in more than one shard", path, t->name);
            break;
        }
        int same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            char got[200], want[200];
            format_shape(got, sizeof got, t->ndim, t->shape);
            format_shape(want, sizeof want, p->ndim, p->shape);
            rc = px_error("%s: tensor '%s' has shape %s, expected %s", path, t->name, got, want);
            break;
        }
        rc = st_tensor_to_f32(&f, t, m->params + p->offset);
        loaded[idx] = 1;
    }
    st_close(&f);
    return rc;
}

/* Shard file names come from an untrusted index: plain names in DIR only. */
static int valid_shard_name(const char *s) {
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Loads each distinct shard named in the index's weight_map, once; then reports the
 * first model tensor still missing, naming the file that should have held it. */
static int load_sharded(Model *m, const char *dir, const char *index_path, char *loaded) {
    json_t *root = load_json(index_path);
    if (!root) return -1;
    int rc = 0;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        rc = px_error("%s: missing field 'weight_map' (an object)", index_path);
        goto done;
    }
    const char *name;
    json_t *file;
    json_object_foreach(wm, name, file) {
        if (!json_is_string(file) || !valid_shard_name(json_string_value(file))) {
            rc = px_error("%s: weight_map entry '%s': '%s' is not a file name in the model directory", index_path, name,
                          json_is_string(file) ? json_string_value(file) : "<not a string>");
            goto done;
        }
    }
    /* A shard is loaded when first seen: earlier entries with the same file are done. */
    const char *prev_name;
    json_t *prev_file;
    json_object_foreach(wm, name, file) {
        int seen = 0;
        json_object_foreach(wm, prev_name, prev_file) {
            if (prev_file == file) break;
            if (strcmp(json_string_value(prev_file), json_string_value(file)) == 0) {
                seen = 1;
                break;
            }
        }
        if (seen) continue;
        char shard[PX_PATH_MAX];
        if (join_path(shard, sizeof shard, dir, json_string_value(file)) != 0 || load_shard(m, shard, loaded) != 0) {
            rc = -1;
            goto done;
        }
    }
    /* Name the file that should have held the first missing tensor. */
    for (int i = 0; i < m->n_tensors; i++) {
        if (loaded[i]) continue;
        json_t *where = json_object_get(wm, m->tensors[i].name);
        if (!where) {
            rc = px_error("%s: missing tensor '%s'", index_path, m->tensors[i].name);
        } else {
            char shard[PX_PATH_MAX];
            snprintf(shard, sizeof shard, "%s/%s", dir, json_string_value(where));
            rc = px_error("%s: missing tensor '%s'", shard, m->tensors[i].name);
        }
        break;
    }
done:
    json_decref(root);
    return rc;
}

static int load_weights(Model *m, const char *dir) {
    char single[PX_PATH_MAX], index[PX_PATH_MAX];
    if (join_path(single, sizeof single, dir, "model.safetensors") != 0 ||
        join_path(index, sizeof index, dir, "model.safetensors.index.json") != 0)
        return -1;
    char *loaded = px_calloc((size_t)m->n_tensors, 1, "loaded-tensor flags");
    if (!loaded) return -1;
    int rc;
    if (access(single, F_OK) == 0) {
        rc = load_shard(m, single, loaded);
        for (int i = 0; rc == 0 && i < m->n_tensors; i++)
            if (!loaded[i]) rc = px_error("%s: missing tensor '%s'", single, m->tensors[i].name);
    } else if (access(index, F_OK) == 0) {
        rc = load_sharded(m, dir, index, loaded);
    } else {
        rc = px_error("%s: no model.safetensors or model.safetensors.index.json", dir);
    }
    free(loaded);
    return rc;
}

int hf_load_model(const char *dir, Model *m) {
    memset(m, 0, sizeof *m);
    ModelConfig cfg;
    if (hf_read_config(dir, &cfg) != 0) return -1;
    if (model_create(m, &cfg) != 0) return -1;
    if (load_weights(m, dir) != 0) {
        model_free(m);
        return -1;
    }
    return 0;
}

/* ---- saving ------------------------------------------------------------------------- */

/* The shortest decimal that reads back as the same float, so that 1e-6f is written as
 * 1e-06 rather than 9.9999999747524271e-07. */
static json_t *json_float(float x) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    return json_real(strtod(buf, NULL));
}

static json_t *config_to_json(const ModelConfig *c, int bf16) {
    const char *cls = model_arch_hf_class(c->arch);
    json_t *root = json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:b, s:i, s:o, s:s, s:s}", "architectures", cls,
        "model_type", model_arch_name(c->arch), "hidden_size", c->hidden_size, "intermediate_size",
        c->intermediate_size, "num_hidden_layers", c->n_layers, "num_attention_heads", c->n_heads,
        "num_key_value_heads", c->n_kv_heads, "head_dim", c->head_dim, "vocab_size", c->vocab_size, "rope_theta",
        json_float(c->rope_theta), "rms_norm_eps", json_float(c->rms_norm_eps), "tie_word_embeddings",
        c->tie_embeddings, "max_position_embeddings", c->max_seq_len, "initializer_range", json_float(c->init_std),
        "hidden_act", "silu", "torch_dtype", bf16 ? "bfloat16" : "float32");
    if (root && c->arch == MODEL_ARCH_LLAMA && json_object_set_new(root, "attention_bias", json_false()) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* config.json's token id keys, for the ids that are >= 0; 0 or -1 (no memory). */
static int put_token_ids(json_t *root, const HfTokenIds *ids) {
    const char *keys[3] = {"bos_token_id", "eos_token_id", "pad_token_id"};
    const int vals[3] = {ids->bos, ids->eos, ids->pad};
    for (int i = 0; i < 3; i++)
        if (vals[i] >= 0 && json_object_set_new(root, keys[i], json_integer(vals[i])) != 0) return -1;
    return 0;
}

static int save_config(const char *dir, const ModelConfig *c, int bf16, const HfTokenIds *ids) {
    char path[PX_PATH_MAX];
    if (join_path(path, sizeof path, dir, "config.json") != 0) return -1;
    json_t *root = config_to_json(c, bf16);
    if (root && ids && put_token_ids(root, ids) != 0) {
        json_decref(root);
        root = NULL;
    }
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(root);
    if (!text) return px_error("%s: out of memory building the config", path);
    size_t len = strlen(text);
    char *full = realloc(text, len + 2); /* end the file with a newline */
    if (!full) {
        free(text);
        return px_error("%s: out of memory building the config", path);
    }
    full[len] = '\n';
    full[len + 1] = '\0';
    int rc = atomic_write_buffer(path, full, len + 1);
    free(full);
    return rc;
}

static int save_weights(const char *dir, const Model *m, int bf16) {
    char path[PX_PATH_MAX];
    if (join_path(path, sizeof path, dir, "model.safetensors") != 0) return -1;
    StWriteTensor *ts = px_calloc((size_t)m->n_tensors, sizeof *ts, "safetensors write table");
    if (!ts) return -1;
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *p = &m->tensors[i];
        ts[i].name = p->name;
        ts[i].dtype = bf16 ? ST_BF16 : ST_F32;
        ts[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++) ts[i].shape[d] = p->shape[d];
        ts[i].data = m->params + p->offset;
    }
    static const char *const meta[] = {"format", "pt"};
    int rc = st_write(path, ts, m->n_tensors, meta, 1);
    free(ts);
    return rc;
}

int hf_save_model_ids(const char *dir, const Model *m, int bf16, const HfTokenIds *ids) {
    const char *names[3] = {"bos", "eos", "pad"};
    const int vals[3] = {ids ? ids->bos : -1, ids ? ids->eos : -1, ids ? ids->pad : -1};
    for (int i = 0; i < 3; i++)
        if (vals[i] >= m->cfg.vocab_size)
            return px_error("%s: %s_token_id %d is outside the model's vocabulary of %d", dir, names[i], vals[i],
                            m->cfg.vocab_size);
    if (file_mkdirs(dir) != 0) return -1;
    if (save_config(dir, &m->cfg, bf16, ids) != 0) return -1;
    return save_weights(dir, m, bf16);
}

int hf_save_model(const char *dir, const Model *m, int bf16) { return hf_save_model_ids(dir, m, bf16, NULL); }

char *hf_config_text(const ModelConfig *cfg) {
    json_t *root = config_to_json(cfg, 0);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text) px_error("out of memory writing a model config");
    return text;
}

int hf_config_parse(const char *text, const char *origin, ModelConfig *cfg) {
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    if (!root) return px_error("%s: model config is not valid JSON (line %d: %s)", origin, err.line, err.text);
    int rc = config_from_json(origin, root, cfg);
    json_decref(root);
    return rc;
}
