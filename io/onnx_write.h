/* onnx_write.h — build an ONNX graph in memory and write it as one .onnx file.
 *
 * The messages are ONNX's own (onnx.proto, compiled to C by protoc-c at build time from the copy
 * Debian's libonnx-dev ships; io/CMakeLists.txt); libprotobuf-c serializes them. A builder owns
 * every string, array and message it makes (an arena freed at once), names node outputs itself
 * (scope + op + counter) unless told a name, and remembers the first failure: after an
 * out-of-memory error every call is a no-op returning "", and onnx_write_model reports it. So a
 * graph is written as straight-line code, checked once at the end.
 *
 *     OnnxBuilder b; onnx_builder_init(&b);
 *     const char *y = ONNX_OP(&b, "MatMul", x, w);
 *     ONNX_OP(&b, "Softmax", y); onnx_attr_int(&b, "axis", -1);
 *     onnx_write_model(path, &b, 17, "g", "doc", NULL, NULL); onnx_builder_free(&b);
 *
 * Tensor data is little-endian as this machine's, either inline (raw_data), which keeps a file under
 * 2 GiB (protobuf's limit, which ONNX readers enforce; onnx_write_model refuses a larger one), or,
 * with a data file, ONNX's external data: each initializer of at least ONNX_EXTERNAL_MIN bytes is
 * stored in that file (at an offset that is a multiple of ONNX_EXTERNAL_ALIGN, so that a reader may
 * map it) and its TensorProto names it (data_location EXTERNAL, external_data location / offset /
 * length, the location relative to the model file's folder). */
#ifndef PROACT_ONNX_WRITE_H
#define PROACT_ONNX_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "onnx/onnx.pb-c.h"

enum { ONNX_EXTERNAL_MIN = 1024, ONNX_EXTERNAL_ALIGN = 4096 };
#define ONNX_INLINE_MAX ((size_t)INT32_MAX) /* bytes a protobuf message may have */

/* TensorProto.DataType values used here */
enum { ONNX_FLOAT = 1, ONNX_INT64 = 7, ONNX_BOOL = 9 };

typedef struct {
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    Onnx__ValueInfoProto **inputs, **outputs;
    size_t n_inputs, cap_inputs, n_outputs, cap_outputs;
    void **arena; /* everything above and below is allocated here */
    size_t n_arena, cap_arena;
    char scope[128]; /* prefix of generated names, e.g. "/model/layers.0/" */
    long counter;
    size_t data_bytes; /* bytes of tensor data in the initializers */
    int failed;
} OnnxBuilder;

/* One dimension of a graph input or output: a fixed size, or a symbol (dim_param) if param. */
typedef struct {
    int64_t value;
    const char *param;
} OnnxDim;

void onnx_builder_init(OnnxBuilder *b);
void onnx_builder_free(OnnxBuilder *b);
/* Sets the prefix of generated names (printf-style). */
void onnx_scope(OnnxBuilder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends node op(in[0..n_in)) with one output, named `out` or, if NULL, scope + op + counter;
 * returns the output's name (valid until onnx_builder_free). */
const char *onnx_node(OnnxBuilder *b, const char *op, const char *out, size_t n_in, const char *const *in);
#define ONNX_ARGS(...) \
    (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[]) { __VA_ARGS__ }
#define ONNX_OP(b, op, ...) onnx_node((b), (op), NULL, ONNX_ARGS(__VA_ARGS__))
#define ONNX_OP_TO(b, out, op, ...) onnx_node((b), (op), (out), ONNX_ARGS(__VA_ARGS__))

/* Attributes of the last node added. */
void onnx_attr_int(OnnxBuilder *b, const char *name, int64_t v);
void onnx_attr_ints(OnnxBuilder *b, const char *name, size_t n, const int64_t *v);
void onnx_attr_float(OnnxBuilder *b, const char *name, float v);

/* Initializers; each returns its name. A NULL name is generated. n_dims 0 is a scalar. */
const char *onnx_const_i64(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims, const int64_t *v);
const char *onnx_const_f32(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims, const float *v);
/* A float tensor whose data the builder takes (free()d with it): for large weights built by the
 * caller, not copied again. On failure the data is freed too. */
const char *onnx_const_f32_owned(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims, float *v);
/* A float tensor whose data stays the caller's and must outlive the builder (weights as they are). */
const char *onnx_const_f32_borrowed(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims,
                                    const float *v);

/* Graph inputs and outputs: name, element type, and shape. */
void onnx_input(OnnxBuilder *b, const char *name, int elem_type, size_t n_dims, const OnnxDim *dims);
void onnx_output(OnnxBuilder *b, const char *name, int elem_type, size_t n_dims, const OnnxDim *dims);

/* What onnx_write_model wrote. */
typedef struct {
    size_t model_bytes; /* of the .onnx file */
    size_t data_bytes;  /* of the external data file (0 when inline) */
    size_t n_external;  /* initializers stored there */
} OnnxWritten;

/* Writes PATH (atomically) as a ModelProto of IR version 8 with the default domain at `opset`,
 * producer proact, graph `graph_name` and `doc`; with data_file (a file name, no folder), the large
 * initializers go to that file next to PATH, written first (atomically too). 0, or -1 with px_error
 * naming the file. */
int onnx_write_model(const char *path, OnnxBuilder *b, int opset, const char *graph_name, const char *doc,
                     const char *data_file, OnnxWritten *w);

#endif
