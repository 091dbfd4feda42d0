/* hf_export.h — the Hugging Face model directory that `proact export --format hf` writes, complete
 * for the Hugging Face tools (transformers, transformers.js):
 *
 *   config.json            the model (io/hf_model.h) with bos_token_id / eos_token_id / pad_token_id
 *   model.safetensors      the weights
 *   tokenizer.json         the run's, copied, or with its merges rewritten as pairs or "a b" strings
 *   tokenizer_config.json  tokenizer_class, the special tokens, model_max_length, add_bos/eos_token
 *                          (what tokenizer.json's post-processor adds: false for proact's own
 *                          tokenizers, whose encoding then equals proact's with the tools' default
 *                          add_special_tokens too), and proact's translation template as a
 *                          chat_template (when the template's text reproduces proact.json's
 *                          template_tokens)
 *   generation_config.json the special ids, max_length, greedy decoding
 *   proact.json            the run's, copied (or with default_head set: HfExportOptions.default_head)
 *
 * The special tokens follow the GGUF export's rule (docs/formats.md): bos <|begin_of_text|>, else
 * <|endoftext|>; eos proact.json's tgt_end when it is one token, else <|endoftext|>; pad <pad>. */
#ifndef PROACT_HF_EXPORT_H
#define PROACT_HF_EXPORT_H

#include "io/hf_model.h"
#include "io/tokenizer_write.h"

enum { HF_MERGES_KEEP = -1 }; /* HfExportOptions.merges: tokenizer.json copied byte for byte */

typedef struct {
    int bf16;                 /* model.safetensors in BF16 (else F32) */
    int merges;               /* HF_MERGES_KEEP, or a TokenizerMerges form to rewrite tokenizer.json's merges in */
    const char *default_head; /* proact.json's default_head becomes this spec, checked as `proact run`
                                 checks a head (a probe head needs the file's probe); NULL: kept */
} HfExportOptions;

typedef struct {
    int tokenizer, proact_json;  /* 1: SRC_DIR had the file, and it went along */
    int chat_template;           /* 1: tokenizer_config.json has one */
    char no_template[256];       /* why there is no chat_template ("" when there is one) */
    const char *tokenizer_class; /* what tokenizer_config.json names (NULL: no tokenizer) */
    HfTokenIds ids;
} HfExportReport;

/* Writes OUT (created) for model m, taking tokenizer.json and proact.json from SRC_DIR when there.
 * Everything is checked before the first file is written; each file is written atomically. */
int hf_export(const char *out, const Model *m, const char *src_dir, const HfExportOptions *o, HfExportReport *r);

/* The Jinja chat template that renders messages [{"role": "user", "content": source},
 * {"role": "assistant", "content": target}?] as proact's sequence: prompt, the source's words
 * joined by single spaces (split on ASCII whitespace, as the runner does), src_end, then tgt_begin
 * (add_generation_prompt, or before the assistant's words) and tgt_end after them. The pieces are
 * the template's texts; malloc'ed, or NULL (px_error). */
char *hf_chat_template(const char *prompt, const char *src_end, const char *tgt_begin, const char *tgt_end);

#endif
