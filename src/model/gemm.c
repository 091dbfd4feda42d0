/* gemm.c — the GEMM door (gemm.h): OpenBLAS sgemm for fp32, oneDNN matmul for bf16.
 *
 * oneDNN primitives are expensive to create (microseconds to milliseconds) and cheap to run, so
 * each distinct product (types, sizes, transposes, leading dimensions, alpha, beta) gets one,
 * created on first use and kept in a table; a training step meets the same few hundred shapes
 * every step. A bf16 weight stored densely is handed to oneDNN in place; every other operand
 * reaches it as a dense, padded bf16 copy made here (the rounding is the bf16 conversion itself),
 * so strided fp32 views such as one head of the packed q|k|v rows cost one conversion pass and
 * never push oneDNN onto its slow reference kernels.
 */
#include "src/model/gemm.h"
#include "src/model/gemv.h"

#include "src/base/common.h"
#include "src/base/hashmap.h"
#include "src/base/vec.h"

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- failure */

/* A oneDNN call that fails here is not bad input: the shapes come from a validated model. */
static void dnnl_check(dnnl_status_t st, const char *what, int m, int n, int k) {
    if (st == dnnl_success) return;
    fprintf(stderr, "proact: error: oneDNN %s failed (status %d) for a %dx%dx%d product%s\n", what, (int)st, m, n, k,
            st == dnnl_out_of_memory ? ": out of memory" : "");
    exit(1);
}

static void *xmalloc(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "proact: error: out of memory (%zu bytes for %s)\n", bytes, what);
        exit(1);
    }
    return p;
}

/* ---------------------------------------------------------------- engine, per-thread state */

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;

/* What each thread keeps: its oneDNN stream (streams are not thread-safe) and the bf16 copies
 * of the operands of its current product. */
typedef struct {
    dnnl_stream_t stream;
    bf16_t *a16, *b16;
    float *c32;       /* a padded output block */
    float *a32, *b32; /* the bf16 operands widened back to fp32 (gemm_bf16_portable) */
    size_t a_cap, b_cap, c_cap, a32_cap, b32_cap;
} ThreadState;

static void thread_state_free(void *p) {
    ThreadState *t = p;
    if (!t) return;
    if (t->stream) dnnl_stream_destroy(t->stream);
    free(t->a16);
    free(t->b16);
    free(t->c32);
    free(t->a32);
    free(t->b32);
    free(t);
}

static void engine_init(void) {
    dnnl_check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create", 0, 0, 0);
    if (pthread_key_create(&thread_key, thread_state_free)) {
        fprintf(stderr, "proact: error: pthread_key_create failed\n");
        exit(1);
    }
}

static ThreadState *thread_state(void) {
    pthread_once(&engine_once, engine_init);
    ThreadState *t = pthread_getspecific(thread_key);
    if (!t) {
        t = xmalloc(sizeof *t, "gemm thread state");
        memset(t, 0, sizeof *t);
        dnnl_check(dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags), "stream_create", 0, 0, 0);
        pthread_setspecific(thread_key, t);
    }
    return t;
}

/* Room in a per-thread scratch array (vec.h); running out of memory mid-product is fatal here. */
static void scratch_reserve(void *pp, size_t *cap, size_t need, size_t elem, const char *what) {
    if (vec_reserve(pp, cap, need, elem, what)) {
        fprintf(stderr, "proact: error: %s\n", px_error_message());
        exit(1);
    }
}

/* ---------------------------------------------------------------- the primitive table */

/* One product as oneDNN sees it: dense bf16 (or f32) operands, transposes as strides. */
typedef struct {
    int m, n, k;
    int trans_a, trans_b;
    int lda, ldb, ldc; /* of the operands as handed to oneDNN */
    int f32;           /* 1: f32 x f32, 0: bf16 x bf16 */
    float alpha, beta;
} GemmKey;

typedef struct {
    GemmKey key;
    dnnl_primitive_t prim;
} GemmEntry;

#define GEMM_TABLE_MAX 4096 /* a model meets far fewer; past this, start again (shape churn) */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static GemmEntry *table;
static uint32_t table_n;
static HashMap table_index;

static void table_clear(void) {
    for (uint32_t i = 0; i < table_n; i++) dnnl_primitive_destroy(table[i].prim);
    table_n = 0;
    hashmap_clear(&table_index);
}

/* strides of a stored `rows x cols` operand with leading dimension ld, seen as op(X) */
static void op_md(dnnl_memory_desc_t *md, int rows_op, int cols_op, int ld, int trans, dnnl_data_type_t dt,
                  const GemmKey *k) {
    dnnl_dims_t dims = {rows_op, cols_op};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    dnnl_check(dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides), "memory_desc_init", k->m, k->n, k->k);
}

static dnnl_primitive_t primitive_create(const GemmKey *k) {
    dnnl_data_type_t in_dt = k->f32 ? dnnl_f32 : dnnl_bf16;
    dnnl_memory_desc_t a_md, b_md, c_md;
    op_md(&a_md, k->m, k->k, k->lda, k->trans_a, in_dt, k);
    op_md(&b_md, k->k, k->n, k->ldb, k->trans_b, in_dt, k);
    op_md(&c_md, k->m, k->n, k->ldc, 0, dnnl_f32, k);
    dnnl_matmul_desc_t desc;
    dnnl_check(dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md), "matmul_desc_init", k->m, k->n, k->k);

    dnnl_primitive_attr_t attr;
    dnnl_check(dnnl_primitive_attr_create(&attr), "attr_create", k->m, k->n, k->k);
    if (k->alpha != 1.0f)
        dnnl_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha), "set_output_scales", k->m, k->n, k->k);
    if (k->beta != 0.0f) {
        dnnl_post_ops_t po;
        dnnl_check(dnnl_post_ops_create(&po), "post_ops_create", k->m, k->n, k->k);
        dnnl_check(dnnl_post_ops_append_sum(po, k->beta), "post_ops_append_sum", k->m, k->n, k->k);
        dnnl_check(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops", k->m, k->n, k->k);
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    dnnl_check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), "primitive_desc_create", k->m, k->n, k->k);
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_t prim;
    dnnl_check(dnnl_primitive_create(&prim, pd), "primitive_create", k->m, k->n, k->k);
    dnnl_primitive_desc_destroy(pd);
    return prim;
}

static dnnl_primitive_t primitive_get(const GemmKey *k) {
    uint64_t h = hash_bytes(k, sizeof *k); /* GemmKey: 4-byte fields, no padding */
    pthread_mutex_lock(&table_lock);
    HashProbe p = hashmap_probe(&table_index, h);
    for (uint32_t i; hashmap_next(&table_index, &p, &i);)
        if (memcmp(&table[i].key, k, sizeof *k) == 0) {
            dnnl_primitive_t prim = table[i].prim;
            pthread_mutex_unlock(&table_lock);
            return prim;
        }
    if (table_n == GEMM_TABLE_MAX) {
        table_clear();
        p = hashmap_probe(&table_index, h);
    }
    if (!table) table = xmalloc(sizeof(GemmEntry) * GEMM_TABLE_MAX, "gemm primitive table");
    dnnl_primitive_t prim = primitive_create(k);
    table[table_n].key = *k;
    table[table_n].prim = prim;
    if (hashmap_insert(&table_index, &p, table_n)) {
        fprintf(stderr, "proact: error: %s\n", px_error_message());
        exit(1);
    }
    table_n++;
    pthread_mutex_unlock(&table_lock);
    return prim;
}

void gemm_release(void) {
    pthread_mutex_lock(&table_lock);
    table_clear();
    free(table);
    table = NULL;
    hashmap_free(&table_index);
    pthread_mutex_unlock(&table_lock);
    ThreadState *t = NULL;
    if (pthread_once(&engine_once, engine_init) == 0) t = pthread_getspecific(thread_key);
    if (t) {
        thread_state_free(t);
        pthread_setspecific(thread_key, NULL);
    }
}

/* ---------------------------------------------------------------- running one product */

static void run(const GemmKey *k, const void *a, const void *b, float *c) {
    dnnl_primitive_t prim = primitive_get(k);
    ThreadState *t = thread_state();
    const dnnl_memory_desc_t *a_md, *b_md, *c_md;
    const_dnnl_primitive_desc_t pd;
    dnnl_check(dnnl_primitive_get_primitive_desc(prim, &pd), "get_primitive_desc", k->m, k->n, k->k);
    a_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    b_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    c_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_t ma, mb, mc;
    dnnl_check(dnnl_memory_create(&ma, a_md, engine, (void *)a), "memory_create", k->m, k->n, k->k);
    dnnl_check(dnnl_memory_create(&mb, b_md, engine, (void *)b), "memory_create", k->m, k->n, k->k);
    dnnl_check(dnnl_memory_create(&mc, c_md, engine, c), "memory_create", k->m, k->n, k->k);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    dnnl_check(dnnl_primitive_execute(prim, t->stream, 3, args), "primitive_execute", k->m, k->n, k->k);
    dnnl_check(dnnl_stream_wait(t->stream), "stream_wait", k->m, k->n, k->k);
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
}

/* The size a dimension that is copied anyway is padded to: the next multiple of a step that grows
 * with it (16 up to 255, then about 1/16 of it, a power of two). A dimension that changes from call
 * to call (a batch's rows, a sequence's length) then meets a few dozen primitives instead of one per
 * value, each costing about a millisecond to create, and wastes at most 1/8 of the work. */
static int pad_step(int x) {
    int q = 16;
    while (q * 32 <= x) q *= 2;
    return q;
}
static int padded(int x) { return (x + pad_step(x) - 1) / pad_step(x) * pad_step(x); }

/* A dense bf16 copy of a stored `rows x cols` operand (any type) in a `prows x pcols` block whose
 * padding is zero (it adds exact zeros to every sum). */
static const bf16_t *to_bf16(GemmMat x, int rows, int cols, int prows, int pcols, bf16_t **buf, size_t *cap) {
    scratch_reserve(buf, cap, (size_t)prows * pcols, sizeof(bf16_t), "bf16 operand copy");
    bf16_t *out = *buf;
    for (int r = 0; r < rows; r++) {
        bf16_t *o = out + (size_t)r * pcols;
        if (x.type == GEMM_T_F32) {
            bf16_from_f32_n(o, (const float *)x.data + (size_t)r * x.ld, (size_t)cols);
        } else if (x.type == GEMM_T_BF16) {
            memcpy(o, (const bf16_t *)x.data + (size_t)r * x.ld, sizeof(bf16_t) * cols);
        } else { /* int8 with one scale per stored row */
            const int8_t *q = (const int8_t *)x.data + (size_t)r * x.ld;
            for (int j = 0; j < cols; j++) o[j] = bf16_from_f32((float)q[j] * x.scale[r]);
        }
        memset(o + cols, 0, sizeof(bf16_t) * (pcols - cols));
    }
    memset(out + (size_t)rows * pcols, 0, sizeof(bf16_t) * (size_t)(prows - rows) * pcols);
    return out;
}

/* The bf16 product. A bf16 operand stored densely (a weight's bf16 copy) is used in place and its
 * dimensions are kept; every other operand is rounded into a padded copy. */
static void gemm_bf16_product(int m, int n, int k, float alpha, GemmMat A, GemmMat B, float beta, float *C, int ldc) {
    ThreadState *t = thread_state();
    /* stored shapes: op(A) is m x k, op(B) is k x n */
    const int a_rows = A.trans ? k : m, a_cols = A.trans ? m : k;
    const int b_rows = B.trans ? n : k, b_cols = B.trans ? k : n;
    const int a_copy = !(A.type == GEMM_T_BF16 && A.ld == a_cols), b_copy = !(B.type == GEMM_T_BF16 && B.ld == b_cols);
    const int pm = a_copy ? padded(m) : m, pn = b_copy ? padded(n) : n, pk = a_copy && b_copy ? padded(k) : k;
    const bf16_t *a16 =
        a_copy ? to_bf16(A, a_rows, a_cols, A.trans ? pk : pm, A.trans ? pm : pk, &t->a16, &t->a_cap) : A.data;
    const bf16_t *b16 =
        b_copy ? to_bf16(B, b_rows, b_cols, B.trans ? pn : pk, B.trans ? pk : pn, &t->b16, &t->b_cap) : B.data;
    const int lda = A.trans ? pm : pk, ldb = B.trans ? pk : pn;
    /* 1. the rows that fill whole padding steps go straight into C (when n needs no padding) */
    int done = 0;
    if (pn == n) {
        done = pm == m ? m : m - m % pad_step(m);
        if (done > 0) {
            GemmKey key = {done, n, pk, A.trans, B.trans, lda, ldb, ldc, 0, alpha, beta};
            run(&key, a16, b16, C);
        }
    }
    if (done == m) return;
    /* 2. the rest through a padded output block: C's rows copied in (for beta) and back */
    const int rows = m - done, prows = pm - done;
    scratch_reserve(&t->c32, &t->c_cap, (size_t)prows * pn, sizeof(float), "gemm output block");
    float *c_rest = C + (size_t)done * ldc;
    if (beta != 0.0f)
        for (int i = 0; i < rows; i++) memcpy(t->c32 + (size_t)i * pn, c_rest + (size_t)i * ldc, sizeof(float) * n);
    GemmKey key = {prows, pn, pk, A.trans, B.trans, lda, ldb, pn, 0, alpha, beta};
    run(&key, A.trans ? a16 + done : a16 + (size_t)done * lda, b16, t->c32);
    for (int i = 0; i < rows; i++) memcpy(c_rest + (size_t)i * ldc, t->c32 + (size_t)i * pn, sizeof(float) * n);
}

/* The same product where oneDNN has no bf16 kernel for the CPU (one without AVX-512): each operand
 * rounded to bf16 (to_bf16, as above) and widened back to fp32, which is exact, then sgemm. A product
 * of two bf16 values is exact in fp32, so this is the same "bf16 inputs, fp32 accumulation" up to
 * summation order. Slower than fp32 (two copies per call); training falls back to fp32 instead. */
static void gemm_bf16_portable(int m, int n, int k, float alpha, GemmMat A, GemmMat B, float beta, float *C, int ldc) {
    ThreadState *t = thread_state();
    const int a_rows = A.trans ? k : m, a_cols = A.trans ? m : k;
    const int b_rows = B.trans ? n : k, b_cols = B.trans ? k : n;
    const size_t na = (size_t)a_rows * a_cols, nb = (size_t)b_rows * b_cols;
    scratch_reserve(&t->a32, &t->a32_cap, na, sizeof(float), "bf16 operand copy");
    scratch_reserve(&t->b32, &t->b32_cap, nb, sizeof(float), "bf16 operand copy");
    f32_from_bf16_n(t->a32, to_bf16(A, a_rows, a_cols, a_rows, a_cols, &t->a16, &t->a_cap), na);
    f32_from_bf16_n(t->b32, to_bf16(B, b_rows, b_cols, b_rows, b_cols, &t->b16, &t->b_cap), nb);
    cblas_sgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans, B.trans ? CblasTrans : CblasNoTrans, m, n, k, alpha,
                t->a32, a_cols, t->b32, b_cols, beta, C, ldc);
}

/* Whether oneDNN makes bf16 products on this CPU: asked once, with a small product. */
static int bf16_available = -1, bf16_forced_portable;
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;

static void bf16_probe(void) {
    pthread_once(&engine_once, engine_init);
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t dims = {16, 16}, strides = {16, 1};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    bf16_available = dnnl_memory_desc_init_by_strides(&a_md, 2, dims, dnnl_bf16, strides) == dnnl_success &&
                     dnnl_memory_desc_init_by_strides(&b_md, 2, dims, dnnl_bf16, strides) == dnnl_success &&
                     dnnl_memory_desc_init_by_strides(&c_md, 2, dims, dnnl_f32, strides) == dnnl_success &&
                     dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md) == dnnl_success &&
                     dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
}

int gemm_bf16_available(void) {
    pthread_once(&bf16_once, bf16_probe);
    return bf16_available;
}

void gemm_force_portable_bf16(int on) { bf16_forced_portable = on; }

static GemmFp32Backend fp32_backend = GEMM_FP32_OPENBLAS;

void gemm(GemmPrecision prec, int m, int n, int k, float alpha, GemmMat A, GemmMat B, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (prec == GEMM_FP32) {
        if (A.type != GEMM_T_F32 || B.type != GEMM_T_F32) {
            fprintf(stderr, "proact: error: gemm: a bf16/int8 operand in an fp32 product (a bug)\n");
            exit(1);
        }
        if (m == 1 && !A.trans && k > 0) { /* one row: sgemv, what decoding called before (same bits) */
            if (B.trans) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, B.data, B.ld, A.data, 1, beta, C, 1);
            else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, B.data, B.ld, A.data, 1, beta, C, 1);
            return;
        }
        if (fp32_backend == GEMM_FP32_OPENBLAS || k == 0) {
            cblas_sgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans, B.trans ? CblasTrans : CblasNoTrans, m, n,
                        k, alpha, A.data, A.ld, B.data, B.ld, beta, C, ldc);
            return;
        }
        GemmKey key = {m, n, k, A.trans, B.trans, A.ld, B.ld, ldc, 1, alpha, beta};
        run(&key, A.data, B.data, C);
        return;
    }
    if (k == 0) { /* nothing to multiply: C = beta C */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    /* a few activation rows against a weight (decoding): streamed at memory speed (gemv.h) */
    if (gemv_try(prec, m, n, k, alpha, A, B, beta, C, ldc)) return;
    if (bf16_forced_portable || !gemm_bf16_available()) gemm_bf16_portable(m, n, k, alpha, A, B, beta, C, ldc);
    else gemm_bf16_product(m, n, k, alpha, A, B, beta, C, ldc);
}

/* ---------------------------------------------------------------- what runs */

void gemm_set_fp32_backend(GemmFp32Backend b) { fp32_backend = b; }
GemmFp32Backend gemm_fp32_backend(void) { return fp32_backend; }

int gemm_bf16_native(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

void gemm_set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
}

/* The implementation oneDNN picks for a product (e.g. "brg:avx512_core_bf16"); "" if none. */
const char *gemm_impl_name(GemmPrecision prec, int m, int n, int k, int trans_a, int trans_b) {
    static _Thread_local char name[64];
    pthread_once(&engine_once, engine_init);
    GemmKey key = {m, n, k, trans_a, trans_b, trans_a ? m : k, trans_b ? k : n, n, prec == GEMM_FP32, 1.0f, 0.0f};
    dnnl_primitive_t prim = primitive_get(&key);
    const_dnnl_primitive_desc_t pd;
    const char *impl = NULL;
    name[0] = 0;
    if (dnnl_primitive_get_primitive_desc(prim, &pd) == dnnl_success &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(name, sizeof name, "%s", impl);
    return name;
}

const char *gemm_describe(void) {
    static char line[256];
    const dnnl_version_t *v = dnnl_version();
    if (!gemm_bf16_available())
        snprintf(line, sizeof line,
                 "oneDNN %d.%d.%d has no bf16 kernel for this CPU (no AVX-512): bf16 products round their "
                 "operands and run on OpenBLAS sgemm; fp32 on %s",
                 v->major, v->minor, v->patch, fp32_backend == GEMM_FP32_OPENBLAS ? "OpenBLAS" : "oneDNN");
    else if (!gemm_bf16_native())
        snprintf(line, sizeof line,
                 "oneDNN %d.%d.%d: this CPU has no AVX-512 BF16, bf16 products are emulated; fp32 on %s", v->major,
                 v->minor, v->patch, fp32_backend == GEMM_FP32_OPENBLAS ? "OpenBLAS" : "oneDNN");
    else
        snprintf(line, sizeof line, "oneDNN %d.%d.%d bf16 (%s), fp32 on %s", v->major, v->minor, v->patch,
                 gemm_impl_name(GEMM_BF16, 256, 256, 256, 0, 1),
                 fp32_backend == GEMM_FP32_OPENBLAS ? "OpenBLAS" : "oneDNN");
    return line;
}
