/* optim.c — AdamW (torch.optim.AdamW semantics), clipping and the learning-rate schedule. */
#include "src/model/optim.h"

#include <math.h>
#include <stdlib.h>

#include "src/base/common.h"
#include "src/model/parallel.h"
#include "src/model/profile.h"

float lr_at_step(const OptimConfig *c, int step) {
    if (step < c->warmup_steps) return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    int span = c->total_steps - c->warmup_steps;
    double progress = (double)(step - c->warmup_steps) / (double)(span > 1 ? span : 1);
    if (progress > 1.0) progress = 1.0;
    double min_lr = (double)c->lr * c->min_lr_ratio;
    return (float)(min_lr + 0.5 * ((double)c->lr - min_lr) * (1.0 + cos(M_PI * progress)));
}

/* Serial on purpose: one running double sum over all n values. Splitting it between threads would
 * add the same squares in another order, which changes the norm's last bits, and through the
 * clip coefficient every update: the sum is latency-bound (one add after another), not threaded. */
double vector_l2_norm(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

float clip_coefficient(double total_norm, float max_norm) {
    if (max_norm <= 0.0f) return 1.0f;
    /* torch computes the coefficient in float32 from float32 norms */
    float coef = max_norm / ((float)total_norm + 1e-6f);
    return coef < 1.0f ? coef : 1.0f;
}

int adamw_create(AdamW *opt, const OptimConfig *cfg, size_t n_params) {
    return adamw_create_shard(opt, cfg, 0, n_params);
}

int adamw_create_shard(AdamW *opt, const OptimConfig *cfg, size_t base, size_t n) {
    opt->cfg = *cfg;
    opt->n = n;
    opt->base = base;
    opt->t = 0;
    opt->m = px_calloc(n, sizeof(float), "AdamW first moment");
    opt->v = px_calloc(n, sizeof(float), "AdamW second moment");
    if (!opt->m || !opt->v) {
        adamw_free(opt);
        return -1;
    }
    return 0;
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

/* p <- p (1 - lr wd); m, v moments; p <- p - lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), on the
 * gradient g * coef. With g_out, the clipped gradient is also stored there (the clipping loop this
 * replaces left it in the gradient buffer). Elementwise, so on threads. */
static inline void adamw_element(float *p, float *m, float *v, float g, float b1, float b2, float shrink,
                                 float step_size, float bc2_sqrt, float eps) {
    *p *= shrink;
    *m = b1 * *m + (1.0f - b1) * g;
    *v = b2 * *v + (1.0f - b2) * g * g;
    *p -= step_size * *m / (sqrtf(*v) / bc2_sqrt + eps);
}

static void adamw_update_clipped(AdamW *opt, float *p, const float *g, size_t lo, size_t hi, float lr, int decay,
                                 float coef, float *g_out) {
    const OptimConfig *c = &opt->cfg;
    const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const float bc1 = 1.0f - powf(b1, (float)opt->t), bc2_sqrt = sqrtf(1.0f - powf(b2, (float)opt->t));
    const float step_size = lr / bc1, shrink = decay ? 1.0f - lr * c->weight_decay : 1.0f;
    float *m = opt->m, *v = opt->v; /* moments of params [base, base + n): index i - base */
    const size_t base = opt->base;
    if (g_out) {
#pragma omp parallel for schedule(static) if (par_worth(hi - lo)) num_threads(par_threads())
        for (size_t i = lo; i < hi; i++) {
            const float gi = g[i] * coef;
            g_out[i] = gi;
            adamw_element(p + i, m + (i - base), v + (i - base), gi, b1, b2, shrink, step_size, bc2_sqrt, eps);
        }
    } else {
#pragma omp parallel for schedule(static) if (par_worth(hi - lo)) num_threads(par_threads())
        for (size_t i = lo; i < hi; i++)
            adamw_element(p + i, m + (i - base), v + (i - base), g[i], b1, b2, shrink, step_size, bc2_sqrt, eps);
    }
}

void adamw_update_range(AdamW *opt, float *p, const float *g, size_t lo, size_t hi, float lr, int decay) {
    adamw_update_clipped(opt, p, g, lo, hi, lr, decay, 1.0f, NULL);
}

void adamw_update_model_range(AdamW *opt, Model *m, const float *g, size_t lo, size_t hi, float lr) {
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        size_t a = PX_MAX(lo, t->offset), b = PX_MIN(hi, t->offset + t->numel);
        if (a < b) adamw_update_range(opt, m->params, g, a, b, lr, t->decay);
    }
}

/* The clipping is folded into the update's pass over the gradient: each gradient is multiplied by
 * coef (when coef < 1) exactly as the separate clipping loop did, and stored back. */
double adamw_step_model(AdamW *opt, Model *m, int step) {
    double norm;
    PROFILE(PROF_GRAD_NORM, norm = vector_l2_norm(m->grads, m->n_params));
    float coef = clip_coefficient(norm, opt->cfg.grad_clip);
    float lr = lr_at_step(&opt->cfg, step);
    opt->t++;
    PROFILE(
        PROF_ADAMW, for (int i = 0; i < m->n_tensors; i++) {
            const ParamTensor *t = &m->tensors[i];
            adamw_update_clipped(opt, m->params, m->grads, t->offset, t->offset + t->numel, lr, t->decay, coef,
                                 coef < 1.0f ? m->grads : NULL);
        });
    return norm;
}
