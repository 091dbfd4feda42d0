/* step.h — one training step of a causal language model: forward, cross-entropy,
 * backward, AdamW. Shared by `proact train` and the benchmarks. */
#ifndef PROACT_STEP_H
#define PROACT_STEP_H

#include "src/model/model.h"
#include "src/model/optim.h"

typedef struct {
    double loss;      /* mean cross-entropy over counted targets */
    double grad_norm; /* global norm before clipping */
    float lr;
    int tokens;       /* counted targets */
} StepStats;

/* `step` is 0-based (for the learning-rate schedule). Fails (px_error) on a non-finite loss. */
int lm_train_step(Model *m, Activations *a, AdamW *opt, const int *tokens, const int *targets,
                  const AttnLayout *lay, int step, StepStats *out);

#endif
