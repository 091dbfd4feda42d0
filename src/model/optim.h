/* optim.h — AdamW with decoupled weight decay, global-norm clipping, warmup + cosine schedule.
 * Semantics follow torch.optim.AdamW and torch.nn.utils.clip_grad_norm_ exactly, so that
 * the PyTorch twin reproduces our losses step for step. */
#ifndef PROACT_OPTIM_H
#define PROACT_OPTIM_H

#include <stddef.h>

#include "src/model/model.h"

typedef struct {
    float lr;           /* peak learning rate */
    float min_lr_ratio; /* final lr = lr * min_lr_ratio at the end of the cosine */
    int warmup_steps;   /* linear warmup from lr/warmup_steps to lr */
    int total_steps;    /* cosine decay ends here */
    float beta1, beta2, eps;
    float weight_decay; /* applied to matrices only (ParamTensor.decay) */
    float grad_clip;    /* max global L2 norm; <= 0 disables */
} OptimConfig;

typedef struct {
    OptimConfig cfg;
    size_t n;
    size_t base; /* global index of m[0], v[0]: 0, or the start of this rank's shard (ZeRO-1) */
    float *m;    /* first moment of params [base, base + n) */
    float *v;    /* second moment */
    int t;       /* number of updates done */
} AdamW;

/* Learning rate for the update of 0-based step `step`. */
float lr_at_step(const OptimConfig *c, int step);
/* L2 norm of a float vector, accumulated in double. */
double vector_l2_norm(const float *x, size_t n);
/* Multiplier clip_grad_norm_ applies for a given total norm: min(1, max_norm/(norm+1e-6)). */
float clip_coefficient(double total_norm, float max_norm);

int adamw_create(AdamW *opt, const OptimConfig *cfg, size_t n_params);
/* Moments for params [base, base + n) only (a ZeRO-1 shard). */
int adamw_create_shard(AdamW *opt, const OptimConfig *cfg, size_t base, size_t n);
/* One update of the shard [lo, hi) of the model (global indices) with gradient g (indexed
 * globally), tensor by tensor for the decay flag; grads already clipped. opt->t must count it. */
void adamw_update_model_range(AdamW *opt, Model *m, const float *g, size_t lo, size_t hi, float lr);
void adamw_free(AdamW *opt);
/* One AdamW update of p[lo..hi) (a slice of the full parameter vector) with gradient g
 * already scaled; `decay` says whether weight decay applies. opt->t must already count
 * this update (1-based). */
void adamw_update_range(AdamW *opt, float *p, const float *g, size_t lo, size_t hi, float lr, int decay);
/* Clips m->grads by the global norm and updates every tensor of the model. Returns the
 * norm before clipping. */
double adamw_step_model(AdamW *opt, Model *m, int step);

#endif
