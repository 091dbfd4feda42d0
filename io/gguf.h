/* gguf.h — write a model as a GGUF v3 file for llama.cpp (ggml's docs/gguf.md).
 *
 * File: "GGUF" | u32 version 3 | u64 tensor count | u64 KV count | the metadata KVs (key, u32
 * type, value) | the tensor infos (name, u32 n_dims, u64 ne[n_dims] innermost first, u32 ggml
 * type, u64 offset into the data) | padding to general.alignment (32) | the tensor data, each
 * tensor starting at a multiple of 32. Everything little-endian; strings are u64 length + bytes.
 *
 * Tensor names and metadata keys are llama.cpp's (architecture llama or qwen2); proact's fused
 * q|k|v and gate|up matrices are written as separate tensors. For `llama`, whose graph uses
 * interleaved RoPE, the rows of q and k (and their biases) are permuted per head so that the
 * interleaved pairs (2i, 2i+1) are proact's rotate-half pairs (i, i + head_dim/2); `qwen2` uses
 * llama.cpp's NEOX RoPE, which is rotate-half, and needs no permutation. A tied LM head writes no
 * output.weight (llama.cpp then uses token_embd). docs/formats.md lists every key and tensor. */
#ifndef PROACT_GGUF_H
#define PROACT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "src/base/vec.h"
#include "src/model/model.h"

/* ggml tensor types used here (ggml.h's enum ggml_type) */
enum { GGML_TYPE_F32 = 0, GGML_TYPE_Q8_0 = 8, GGML_TYPE_BF16 = 30 };
#define GGUF_ALIGNMENT 32
#define GGUF_Q8_0_BLOCK 32 /* values per Q8_0 block: fp16 scale + 32 int8 = 34 bytes */

/* The type of the 2-D weight matrices; norms and biases are always F32. */
typedef enum { GGUF_WEIGHTS_F32 = 0, GGUF_WEIGHTS_BF16, GGUF_WEIGHTS_Q8_0 } GgufWeights;
const char *gguf_weights_name(GgufWeights w); /* "f32" | "bf16" | "q8_0" */

/* ---- the metadata section, built in memory ----------------------------------------------------
 * Each put appends one KV; a failed put (out of memory) returns -1 after px_error and leaves the
 * section unusable (failed = 1), which gguf_write reports again. */
typedef struct {
    StrBuf buf; /* the KVs' bytes */
    uint64_t n; /* KVs in buf */
    int failed; /* a put failed */
} GgufMeta;

int gguf_put_u32(GgufMeta *g, const char *key, uint32_t v);
int gguf_put_f32(GgufMeta *g, const char *key, float v);
int gguf_put_bool(GgufMeta *g, const char *key, int v);
int gguf_put_str(GgufMeta *g, const char *key, const char *s, size_t len);
/* An array of n strings; lens may be NULL (strlen of each). */
int gguf_put_str_array(GgufMeta *g, const char *key, const char *const *s, const size_t *lens, uint64_t n);
int gguf_put_i32_array(GgufMeta *g, const char *key, const int32_t *v, uint64_t n);
void gguf_meta_free(GgufMeta *g);

/* ---- the tokenizer (io/gguf_vocab.c) ----------------------------------------------------------
 * Adds tokenizer.ggml.* from a Hugging Face tokenizer.json (byte-level BPE, as io/tokenizer_json.c
 * reads): model "gpt2", pre (qwen2 | llama-bpe | gpt-2, from the pre-tokenizer's regex), the tokens
 * in id order (ids the tokenizer lacks up to n_vocab become "[PADi]", type UNUSED), their types
 * (NORMAL; added tokens CONTROL if special, else USER_DEFINED), the merges as "a b", bos/eos/padding
 * ids, add_bos_token false. eos_id >= 0 names the eos token (proact.json's tgt_end); -1 picks
 * <|endoftext|> if present. Errors name the file and the field or token. */
int gguf_vocab_meta(GgufMeta *g, const char *tokenizer_path, int n_vocab, int eos_id);

/* ---- writing a model ------------------------------------------------------------------------- */

typedef struct {
    GgufWeights weights;
    const char *name;             /* general.name (NULL: "proact") */
    const char *tokenizer_path;   /* tokenizer.json, or NULL: no tokenizer.* keys */
    const char *proact_json_path; /* proact.json, or NULL; its text is kept as the KV "proact.json" */
} GgufExport;

typedef struct {
    int n_tensors;
    int n_kept_f32; /* Q8_0 only: matrices whose rows are not a multiple of 32, written as F32 */
    uint64_t bytes; /* file size */
} GgufReport;

/* Writes m to path (atomically: nothing is left half-written). 0, or -1 with px_error naming the
 * file (or the tokenizer / proact.json file and its field). */
int gguf_export(const char *path, const Model *m, const GgufExport *x, GgufReport *report);

/* ---- conversions (exposed for the tests) ----------------------------------------------------- */

uint16_t gguf_f32_to_f16(float x); /* IEEE half, round to nearest even (ggml's FP32_TO_FP16) */
/* n values (a multiple of 32) -> n/32 Q8_0 blocks at out (34 bytes each), as ggml's
 * quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d) (half away from zero), d as fp16. */
void gguf_quantize_q8_0(const float *x, size_t n, uint8_t *out);

#endif
