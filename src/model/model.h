/* model.h — a Llama/Qwen2-style decoder in fp32 with hand-written forward and backward.
 *
 * Parameters, gradients and activations each live in one contiguous buffer carved
 * into named views (the llm.c layout). The parameter buffer is ordered
 *     embed_tokens | layer 0 | layer 1 | ... | layer L-1 | norm | lm_head (if untied)
 * and inside a layer
 *     input_layernorm | q_proj.w k_proj.w v_proj.w | q_proj.b k_proj.b v_proj.b (qkv_bias)
 *     | o_proj.w | post_attention_layernorm | gate_proj.w up_proj.w | down_proj.w
 * so that each layer is one contiguous range (gradient buckets are layer ranges) and
 * q/k/v (and gate/up) form one fused matrix: a single sgemm computes all three.
 * Tensor names are Hugging Face's (model.layers.3.self_attn.q_proj.weight).
 */
#ifndef PROACT_MODEL_H
#define PROACT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "src/model/gemm.h"

typedef enum { MODEL_ARCH_LLAMA = 0, MODEL_ARCH_QWEN2 = 1 } ModelArch;

typedef struct {
    ModelArch arch;
    int vocab_size;
    int hidden_size; /* d */
    int n_layers;
    int n_heads;           /* query heads */
    int n_kv_heads;        /* key/value heads (grouped-query attention); divides n_heads */
    int head_dim;          /* per-head size; n_heads*head_dim need not equal d */
    int intermediate_size; /* SwiGLU width f */
    float rope_theta;
    float rms_norm_eps;
    int tie_embeddings; /* lm_head shares embed_tokens */
    int qkv_bias;       /* q/k/v projections carry a bias (Qwen2) */
    int max_seq_len;
    float init_std; /* std of the normal init of matrices (from-scratch models) */
} ModelConfig;

/* Checks the shape fields for consistency; 0 or -1 with px_error naming the field. */
int model_config_validate(const ModelConfig *c);
const char *model_arch_name(ModelArch a);     /* "llama" | "qwen2" */
const char *model_arch_hf_class(ModelArch a); /* "LlamaForCausalLM" | "Qwen2ForCausalLM" */

/* One named tensor of the parameter buffer. */
typedef struct {
    char name[96]; /* Hugging Face name */
    int ndim;      /* 1 or 2 */
    int64_t shape[2];
    size_t offset; /* in floats, into params/grads */
    size_t numel;
    int layer; /* -1 for embed/norm/lm_head */
    int decay; /* 1 for matrices (weight decay applies), 0 for norms and biases */
} ParamTensor;

typedef struct {
    float *ln1;   /* [d] */
    float *wqkv;  /* [(nh+2*nkv)*hd, d]  q_proj; k_proj; v_proj */
    float *bqkv;  /* [(nh+2*nkv)*hd] or NULL */
    float *wo;    /* [d, nh*hd] */
    float *ln2;   /* [d] */
    float *wgu;   /* [2f, d]  gate_proj; up_proj */
    float *wdown; /* [d, f] */
} LayerWeights;

typedef struct {
    float *embed; /* [V, d] */
    LayerWeights *layers;
    float *final_norm; /* [d] */
    float *lm_head;    /* [V, d]; == embed when tied */
} WeightViews;

typedef struct {
    ModelConfig cfg;
    size_t n_params; /* floats in params (and grads) */
    float *params;
    float *grads; /* NULL until model_alloc_grads */
    int n_tensors;
    ParamTensor *tensors;
    WeightViews w;       /* views into params */
    WeightViews g;       /* views into grads (layers NULL until grads exist) */
    size_t *layer_begin; /* [n_layers+1] float offset of each layer; layer_begin[L] = end of last layer */
    /* Mixed precision: with GEMM_BF16 the matrix products read params16, a bf16 copy of params
     * (fp32 stays the master copy the optimizer updates); model_refresh_bf16 after each change. */
    GemmPrecision precision;
    bf16_t *params16; /* [n_params] or NULL in fp32 */
} Model;

/* Builds the tensor table and allocates params (zeroed). */
int model_create(Model *m, const ModelConfig *cfg);
int model_alloc_grads(Model *m);
/* Parameters a config implies, without allocating them (0 with px_error if invalid). */
size_t model_param_count(const ModelConfig *cfg);
void model_free(Model *m);
/* Random init: matrices ~ N(0, init_std), norms = 1, biases = 0. Deterministic in seed. */
void model_init_random(Model *m, uint64_t seed);
/* Chooses the precision of the matrix products: GEMM_BF16 allocates and fills params16,
 * GEMM_FP32 frees it. 0 or -1 (px_error: out of memory). */
int model_set_precision(Model *m, GemmPrecision p);
/* Copies params into params16 (rounded to bf16) after the parameters changed; a no-op in fp32. */
void model_refresh_bf16(Model *m);
/* The bf16 copy of the parameter at p (a pointer into m->params), or NULL in fp32. */
static inline const bf16_t *model_bf16_of(const Model *m, const float *p) {
    return m->params16 ? m->params16 + (p - m->params) : NULL;
}
const ParamTensor *model_find_tensor(const Model *m, const char *hf_name);
void model_zero_grads(Model *m);

/* Which keys each row may attend to. Sequences are packed back to back (no padding):
 * sequence s owns rows seq_start[s] .. seq_start[s+1]-1. For a row at relative index t
 * in its sequence, key at relative index j is visible iff
 *     j < vis_prefix[row]                         (a visible prefix, e.g. the source read so far)
 *  or blk_start[row] <= j <= t                    (causal inside the row's own block)
 * Plain causal attention: vis_prefix = 0, blk_start = 0. Requires blk_start[row] <= t
 * so that every row sees at least itself. pos[row] is the RoPE position id. */
typedef struct {
    int n_rows;
    int n_seqs;
    const int *seq_start;  /* [n_seqs+1] */
    const int *pos;        /* [n_rows] */
    const int *vis_prefix; /* [n_rows] */
    const int *blk_start;  /* [n_rows] */
} AttnLayout;

int attn_layout_validate(const AttnLayout *lay);
/* Sum over sequences of len^2: attention probabilities per head per layer. */
size_t attn_layout_score_elems(const AttnLayout *lay);

/* Activations for one batch, grown on demand. All [N, ...] are row-major over packed rows. */
typedef struct {
    int cap_rows;
    size_t cap_scores;
    size_t n_floats;
    float *buffer; /* one allocation holding everything below */
    /* per layer l (arrays of n_layers pointers) */
    float **resid;      /* [N, d] input of layer l */
    float **ln1;        /* [N, d] */
    float **rstd1;      /* [N] */
    float **qkv;        /* [N, qkv_dim] after bias and RoPE */
    float **att;        /* [sum_s len_s^2 * nh] probabilities, [seq][head][t][j] */
    float **attout;     /* [N, nh*hd] */
    float **resid2;     /* [N, d] after the attention residual */
    float **ln2;        /* [N, d] */
    float **rstd2;      /* [N] */
    float **gu;         /* [N, 2f] gate|up pre-activation */
    float **h;          /* [N, f] silu(gate)*up */
    float *resid_final; /* [N, d] */
    float *lnf;         /* [N, d] */
    float *rstdf;       /* [N] */
    float *logits;      /* [N, V]; backward takes dlogits in this buffer */
    /* backward scratch */
    float *d_resid;  /* [N, d] */
    float *d_tmp;    /* [N, d] */
    float *d_qkv;    /* [N, qkv_dim] */
    float *d_attout; /* [N, nh*hd] */
    float *d_gu;     /* [N, 2f] */
    float *d_h;      /* [N, f] */
    float *d_scores; /* [max_len^2] */
    int max_len;
} Activations;

int activations_reserve(Activations *a, const ModelConfig *cfg, const AttnLayout *lay);
void activations_free(Activations *a);

/* Forward over a packed batch; fills a->logits [N, V]. tokens: [N]. */
int model_forward(Model *m, Activations *a, const int *tokens, const AttnLayout *lay);

/* Backward: reads dlogits [N, V] from a->logits (overwritten by the loss), accumulates
 * into m->grads (call model_zero_grads first). Needs the activations of model_forward. */
int model_backward(Model *m, Activations *a, const int *tokens, const AttnLayout *lay);

/* The same, calling hook(ctx, stage) as parts of the gradient become final, so that their
 * allreduce can start while backward goes on: stage = n_layers after the LM head and final
 * norm, stage = l after layer l, stage = -1 at the end (embedding; a tied LM head too), and
 * stage = BACKWARD_PROGRESS between the large products inside a layer (nothing new is final;
 * a chance to progress communication that MPI only advances inside its calls). */
#define BACKWARD_PROGRESS (-2)
typedef void (*BackwardHook)(void *ctx, int stage);
int model_backward_hooked(Model *m, Activations *a, const int *tokens, const AttnLayout *lay, BackwardHook hook,
                          void *ctx);

/* Model FLOPs of one forward+backward over the layout (6*N*params-style count plus
 * attention), used for MFU. Counts masked attention entries as computed (what sgemm does). */
double model_train_flops(const ModelConfig *c, const AttnLayout *lay);

#endif
