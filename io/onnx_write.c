/* onnx_write.c — the ONNX graph builder and the .onnx file writer (onnx_write.h). */
#include "io/onnx_write.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "src/base/common.h"
#include "src/base/vec.h"

/* ---------------------------------------------------------------- arena */

/* Records p in the arena so that onnx_builder_free frees it; on failure frees p and fails b. */
static void *keep(OnnxBuilder *b, void *p) {
    if (!p || VEC_PUSH(b->arena, b->n_arena, b->cap_arena, p, "the ONNX graph")) {
        free(p);
        b->failed = 1;
        return NULL;
    }
    return p;
}

static void *alloc(OnnxBuilder *b, size_t count, size_t size) {
    if (b->failed) return NULL;
    return keep(b, px_calloc(count, size, "the ONNX graph"));
}

static char *copy_str(OnnxBuilder *b, const char *s) {
    char *p = alloc(b, strlen(s) + 1, 1);
    if (p) memcpy(p, s, strlen(s) + 1);
    return p;
}

void onnx_builder_init(OnnxBuilder *b) { memset(b, 0, sizeof *b); }

void onnx_builder_free(OnnxBuilder *b) {
    for (size_t i = 0; i < b->n_arena; i++) free(b->arena[i]);
    free(b->arena);
    free(b->nodes);
    free(b->inits);
    free(b->inputs);
    free(b->outputs);
    memset(b, 0, sizeof *b);
}

void onnx_scope(OnnxBuilder *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->scope, sizeof b->scope, fmt, ap);
    va_end(ap);
}

/* scope + what + "_" + counter, or `name` if given */
static char *name_or_new(OnnxBuilder *b, const char *name, const char *what) {
    if (name) return copy_str(b, name);
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s_%ld", b->scope, what, b->counter++);
    return copy_str(b, buf);
}

/* ---------------------------------------------------------------- nodes */

const char *onnx_node(OnnxBuilder *b, const char *op, const char *out, size_t n_in, const char *const *in) {
    Onnx__NodeProto *n = alloc(b, 1, sizeof *n);
    char **ins = alloc(b, n_in, sizeof(char *));
    char **outs = alloc(b, 1, sizeof(char *));
    if (!n || !ins || !outs) return "";
    onnx__node_proto__init(n);
    for (size_t i = 0; i < n_in; i++)
        if (!(ins[i] = copy_str(b, in[i]))) return "";
    if (!(outs[0] = name_or_new(b, out, op))) return "";
    n->n_input = n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->op_type = copy_str(b, op);
    n->name = name_or_new(b, NULL, op);
    if (!n->op_type || !n->name || VEC_PUSH(b->nodes, b->n_nodes, b->cap_nodes, n, "the ONNX graph")) {
        b->failed = 1;
        return "";
    }
    return outs[0];
}

/* A new attribute on the last node, or NULL. */
static Onnx__AttributeProto *new_attr(OnnxBuilder *b, const char *name, Onnx__AttributeProto__AttributeType type) {
    if (b->failed || b->n_nodes == 0) return NULL;
    Onnx__NodeProto *n = b->nodes[b->n_nodes - 1];
    Onnx__AttributeProto *a = alloc(b, 1, sizeof *a);
    Onnx__AttributeProto **list = alloc(b, n->n_attribute + 1, sizeof *list);
    if (!a || !list) return NULL;
    onnx__attribute_proto__init(a);
    if (!(a->name = copy_str(b, name))) return NULL;
    a->has_type = 1;
    a->type = type;
    if (n->n_attribute) memcpy(list, n->attribute, n->n_attribute * sizeof *list);
    list[n->n_attribute++] = a;
    n->attribute = list; /* the old list stays in the arena */
    return a;
}

void onnx_attr_int(OnnxBuilder *b, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a) return;
    a->has_i = 1;
    a->i = v;
}

void onnx_attr_ints(OnnxBuilder *b, const char *name, size_t n, const int64_t *v) {
    Onnx__AttributeProto *a = new_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = alloc(b, n, sizeof *copy);
    if (!a || !copy) return;
    memcpy(copy, v, n * sizeof *copy);
    a->n_ints = n;
    a->ints = copy;
}

void onnx_attr_float(OnnxBuilder *b, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (!a) return;
    a->has_f = 1;
    a->f = v;
}

/* ---------------------------------------------------------------- initializers */

/* How an initializer holds its data: a copy, the caller's buffer taken over, or the caller's
 * buffer borrowed (it outlives the builder). */
typedef enum { DATA_COPY, DATA_TAKE, DATA_BORROW } DataHold;

/* An initializer of `type` holding `bytes` of raw data at data. */
static const char *add_init(OnnxBuilder *b, const char *name, int type, size_t n_dims, const int64_t *dims, void *data,
                            size_t bytes, DataHold hold) {
    if (hold == DATA_TAKE && !keep(b, data)) return "";
    Onnx__TensorProto *t = alloc(b, 1, sizeof *t);
    int64_t *d = alloc(b, n_dims, sizeof *d);
    uint8_t *raw = hold == DATA_COPY ? alloc(b, bytes, 1) : data;
    if (!t || !d || !raw) return "";
    if (hold == DATA_COPY && bytes) memcpy(raw, data, bytes);
    onnx__tensor_proto__init(t);
    if (n_dims) memcpy(d, dims, n_dims * sizeof *d);
    t->n_dims = n_dims;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = bytes;
    if (!(t->name = name_or_new(b, name, "const")) ||
        VEC_PUSH(b->inits, b->n_inits, b->cap_inits, t, "the ONNX graph")) {
        b->failed = 1;
        return "";
    }
    b->data_bytes += bytes;
    return t->name;
}

static size_t numel(size_t n_dims, const int64_t *dims) {
    size_t n = 1;
    for (size_t i = 0; i < n_dims; i++) n *= (size_t)dims[i];
    return n;
}

const char *onnx_const_i64(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims, const int64_t *v) {
    return add_init(b, name, ONNX_INT64, n_dims, dims, (void *)v, numel(n_dims, dims) * sizeof *v, DATA_COPY);
}

const char *onnx_const_f32(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims, const float *v) {
    return add_init(b, name, ONNX_FLOAT, n_dims, dims, (void *)v, numel(n_dims, dims) * sizeof *v, DATA_COPY);
}

const char *onnx_const_f32_borrowed(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims,
                                    const float *v) {
    return add_init(b, name, ONNX_FLOAT, n_dims, dims, (void *)v, numel(n_dims, dims) * sizeof *v, DATA_BORROW);
}

const char *onnx_const_f32_owned(OnnxBuilder *b, const char *name, size_t n_dims, const int64_t *dims, float *v) {
    if (b->failed) {
        free(v);
        return "";
    }
    return add_init(b, name, ONNX_FLOAT, n_dims, dims, v, numel(n_dims, dims) * sizeof *v, DATA_TAKE);
}

/* ---------------------------------------------------------------- inputs and outputs */

static Onnx__ValueInfoProto *value_info(OnnxBuilder *b, const char *name, int elem_type, size_t n_dims,
                                        const OnnxDim *dims) {
    Onnx__ValueInfoProto *vi = alloc(b, 1, sizeof *vi);
    Onnx__TypeProto *tp = alloc(b, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = alloc(b, 1, sizeof *tt);
    Onnx__TensorShapeProto *sh = alloc(b, 1, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dl = alloc(b, n_dims, sizeof *dl);
    if (!vi || !tp || !tt || !sh || !dl) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (size_t i = 0; i < n_dims; i++) {
        Onnx__TensorShapeProto__Dimension *d = alloc(b, 1, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i].param) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            if (!(d->dim_param = copy_str(b, dims[i].param))) return NULL;
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i].value;
        }
        dl[i] = d;
    }
    sh->n_dim = n_dims;
    sh->dim = dl;
    tt->has_elem_type = 1;
    tt->elem_type = elem_type;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    vi->name = copy_str(b, name);
    return vi->name ? vi : NULL;
}

void onnx_input(OnnxBuilder *b, const char *name, int elem_type, size_t n_dims, const OnnxDim *dims) {
    Onnx__ValueInfoProto *vi = value_info(b, name, elem_type, n_dims, dims);
    if (!vi || VEC_PUSH(b->inputs, b->n_inputs, b->cap_inputs, vi, "the ONNX graph")) b->failed = 1;
}

void onnx_output(OnnxBuilder *b, const char *name, int elem_type, size_t n_dims, const OnnxDim *dims) {
    Onnx__ValueInfoProto *vi = value_info(b, name, elem_type, n_dims, dims);
    if (!vi || VEC_PUSH(b->outputs, b->n_outputs, b->cap_outputs, vi, "the ONNX graph")) b->failed = 1;
}

/* ---------------------------------------------------------------- the file */

/* protobuf-c's output sink, appending to the open file; remembers the first write error. */
typedef struct {
    ProtobufCBuffer base;
    FILE *fp;
    int err;
} FileSink;

static void sink_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data) {
    FileSink *s = (FileSink *)buffer;
    if (!s->err && len && fwrite(data, 1, len, s->fp) != len) s->err = errno ? errno : EIO;
}

static int write_body(FILE *fp, void *ctx) {
    FileSink sink = {.base = {.append = sink_append}, .fp = fp};
    protobuf_c_message_pack_to_buffer(ctx, &sink.base);
    if (sink.err) errno = sink.err;
    return sink.err ? -1 : 0;
}

/* ---------------------------------------------------------------- external data */

static int external(const Onnx__TensorProto *t) { return t->raw_data.len >= ONNX_EXTERNAL_MIN; }

static size_t aligned(size_t off) {
    return (off + ONNX_EXTERNAL_ALIGN - 1) / ONNX_EXTERNAL_ALIGN * ONNX_EXTERNAL_ALIGN;
}

/* The data file: each external initializer's bytes at the next aligned offset, zeros between. */
static int write_data(FILE *fp, void *ctx) {
    const OnnxBuilder *b = ctx;
    static const uint8_t zeros[ONNX_EXTERNAL_ALIGN];
    size_t off = 0;
    for (size_t i = 0; i < b->n_inits; i++) {
        const Onnx__TensorProto *t = b->inits[i];
        if (!external(t)) continue;
        size_t pad = aligned(off) - off;
        if ((pad && fwrite(zeros, 1, pad, fp) != pad) ||
            fwrite(t->raw_data.data, 1, t->raw_data.len, fp) != t->raw_data.len)
            return -1;
        off += pad + t->raw_data.len;
    }
    return 0;
}

/* One external_data entry. */
static Onnx__StringStringEntryProto *entry(OnnxBuilder *b, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = alloc(b, 1, sizeof *e);
    if (!e) return NULL;
    onnx__string_string_entry_proto__init(e);
    e->key = copy_str(b, key);
    e->value = copy_str(b, value);
    return e->key && e->value ? e : NULL;
}

/* Points each external initializer at its place in data_file, in write_data's layout, and drops
 * its inline bytes. Returns the data file's size, or (size_t)-1 on failure. */
static size_t move_to_external(OnnxBuilder *b, const char *data_file, size_t *n_external) {
    size_t off = 0;
    *n_external = 0;
    for (size_t i = 0; i < b->n_inits; i++) {
        Onnx__TensorProto *t = b->inits[i];
        if (!external(t)) continue;
        off = aligned(off);
        char offset[32], length[32];
        snprintf(offset, sizeof offset, "%zu", off);
        snprintf(length, sizeof length, "%zu", t->raw_data.len);
        Onnx__StringStringEntryProto **list = alloc(b, 3, sizeof *list);
        if (!list || !(list[0] = entry(b, "location", data_file)) || !(list[1] = entry(b, "offset", offset)) ||
            !(list[2] = entry(b, "length", length))) {
            b->failed = 1;
            return (size_t)-1;
        }
        t->n_external_data = 3;
        t->external_data = list;
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        off += t->raw_data.len;
        t->has_raw_data = 0; /* the bytes stay in the arena; the message no longer carries them */
        (*n_external)++;
    }
    return off;
}

int onnx_write_model(const char *path, OnnxBuilder *b, int opset, const char *graph_name, const char *doc,
                     const char *data_file, OnnxWritten *w) {
    if (b->failed) return px_error("%s: building the ONNX graph failed: %s", path, px_error_message());
    OnnxWritten got = {0};
    if (data_file) {
        const char *slash = strrchr(path, '/');
        char data_path[PX_PATH_MAX + 64];
        snprintf(data_path, sizeof data_path, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, data_file);
        if (atomic_write(data_path, write_data, b)) return -1;
        got.data_bytes = move_to_external(b, data_file, &got.n_external);
        if (got.data_bytes == (size_t)-1) return px_error("%s: %s", path, px_error_message());
    }
    Onnx__GraphProto g;
    Onnx__ModelProto m;
    Onnx__OperatorSetIdProto os;
    Onnx__OperatorSetIdProto *osl[1] = {&os};
    onnx__graph_proto__init(&g);
    onnx__model_proto__init(&m);
    onnx__operator_set_id_proto__init(&os);
    g.name = (char *)graph_name;
    g.n_node = b->n_nodes;
    g.node = b->nodes;
    g.n_initializer = b->n_inits;
    g.initializer = b->inits;
    g.n_input = b->n_inputs;
    g.input = b->inputs;
    g.n_output = b->n_outputs;
    g.output = b->outputs;
    os.domain = (char *)"";
    os.has_version = 1;
    os.version = opset;
    m.has_ir_version = 1;
    m.ir_version = 8; /* ONNX 1.10 .. 1.12; opset 17 needs IR >= 8 */
    m.n_opset_import = 1;
    m.opset_import = osl;
    m.producer_name = (char *)"proact";
    m.doc_string = (char *)doc;
    m.graph = &g;
    got.model_bytes = protobuf_c_message_get_packed_size(&m.base);
    if (got.model_bytes > ONNX_INLINE_MAX)
        return px_error("%s: the model takes %.2f GB, over the 2 GiB an ONNX file holds inline (protobuf's limit)",
                        path, got.model_bytes / 1e9);
    if (atomic_write(path, write_body, &m)) return -1;
    if (w) *w = got;
    return 0;
}
