/* hf_model.h — Hugging Face model directories (config.json + model.safetensors or a
 * sharded model.safetensors.index.json) for LlamaForCausalLM and Qwen2ForCausalLM. */
#ifndef PROACT_HF_MODEL_H
#define PROACT_HF_MODEL_H

#include "src/model/model.h"

/* Reads DIR/config.json into *cfg. Errors name the file and the field:
 * "models/x/config.json: missing field 'hidden_size'",
 * "models/x/config.json: field 'architectures': unsupported architecture 'GPT2LMHeadModel'". */
int hf_read_config(const char *dir, ModelConfig *cfg);

/* Creates *m from DIR (config + weights, any of F32/BF16/F16 converted to fp32).
 * Every parameter must be present with the right shape; errors name file and tensor. */
int hf_load_model(const char *dir, Model *m);

/* Writes DIR/config.json and DIR/model.safetensors (F32 or BF16), creating DIR.
 * Files are written atomically (tmp + rename). */
int hf_save_model(const char *dir, const Model *m, int bf16);

/* The special token ids an exported model declares (config.json's bos_token_id, eos_token_id,
 * pad_token_id; io/hf_export.h chooses them); -1: the model has none. */
typedef struct {
    int bos, eos, pad;
} HfTokenIds;

/* hf_save_model, with the ids that are >= 0 in config.json (ids NULL: none). An id outside the
 * vocabulary is an error. */
int hf_save_model_ids(const char *dir, const Model *m, int bf16, const HfTokenIds *ids);

/* The config.json text of a model (malloc'ed), and its inverse: what checkpoints carry so that
 * a model is rebuilt with exactly its shape. `origin` names the text in errors. */
char *hf_config_text(const ModelConfig *cfg);
int hf_config_parse(const char *text, const char *origin, ModelConfig *cfg);

#endif
