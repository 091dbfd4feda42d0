/* onnx_decoder.h — the model's decoder as an ONNX graph with a key/value cache, laid out as
 * Hugging Face Optimum exports a Llama/Qwen2 decoder and transformers.js loads it
 * (DIR/onnx/model.onnx next to DIR/config.json):
 *
 *   inputs   input_ids                  int64 [batch_size, sequence_length]
 *            attention_mask             int64 [batch_size, total_sequence_length]  (1 = a real token)
 *            position_ids               int64 [batch_size, sequence_length]        (RoPE positions)
 *            past_key_values.{i}.key    float [batch_size, n_kv_heads, past_sequence_length, head_dim]
 *            past_key_values.{i}.value  float (same)                                i = 0 .. n_layers-1
 *   outputs  logits                     float [batch_size, sequence_length, vocab_size]
 *            present.{i}.key / .value   float [batch_size, n_kv_heads, total_sequence_length, head_dim]
 *
 * total = past + sequence; the present tensors are the past ones with this call's keys and values
 * appended (keys after RoPE), to be fed back as past_key_values on the next call. A first call
 * passes past tensors with past_sequence_length 0. Query t of this call (absolute index
 * past + t) sees key j iff j <= past + t and attention_mask[j] = 1.
 *
 * Standard ONNX operators only (opset 17, IR version 8): RMSNorm as Mul, ReduceMean, Add, Sqrt,
 * Reciprocal, Mul; RoPE with cos/sin tables of max_seq_len rows computed as proact's kernel does
 * (a position >= max_seq_len is out of the table: onnxruntime refuses it); grouped-query attention
 * by broadcasting each key/value head over its group of query heads; SwiGLU as Sigmoid and Mul.
 * Weights are fp32 initializers; a Linear weight is stored transposed, [in, out], under its Hugging
 * Face name + ".T"; a tied LM head is a Transpose of model.embed_tokens.weight. They are inline in
 * model.onnx, or in DIR/onnx/model.onnx_data (ONNX external data, the name transformers.js looks
 * for) when asked or when inline would pass 2 GiB. */
#ifndef PROACT_ONNX_DECODER_H
#define PROACT_ONNX_DECODER_H

#include <stddef.h>

#include "src/model/model.h"

typedef struct {
    size_t n_nodes, n_initializers;
    size_t bytes;      /* of model.onnx */
    size_t data_bytes; /* of model.onnx_data (0: inline) */
    size_t n_external; /* initializers stored there */
} OnnxReport;

/* Where the weights go: inline if they fit in 2 GiB, else external (AUTO); always inline (refused
 * when too large); always in model.onnx_data. */
typedef enum { ONNX_DATA_AUTO = 0, ONNX_DATA_INLINE, ONNX_DATA_EXTERNAL } OnnxData;

#define ONNX_DECODER_FILE "onnx/model.onnx"
#define ONNX_DECODER_DATA "model.onnx_data" /* next to it */

/* 1 if the decoder of a model of this shape fits in one ONNX file with its weights inline (at most
 * 2 GiB), else 0. */
int onnx_decoder_fits_inline(const ModelConfig *c);
/* 0 if a model of this shape can be written so, else -1 with px_error saying why; for checking
 * before anything is written. */
int onnx_decoder_check(const ModelConfig *c, OnnxData data);

/* Writes DIR/onnx/model.onnx (creating DIR/onnx), and DIR/onnx/model.onnx_data when the weights go
 * there. 0, or -1 with px_error naming the file. */
int onnx_export_decoder(const char *dir, const Model *m, OnnxData data, OnnxReport *r);

#endif
