#include "src/train/step.h"

#include <math.h>

#include "src/base/common.h"
#include "src/model/loss.h"

int lm_train_step(Model *m, Activations *a, AdamW *opt, const int *tokens, const int *targets,
                  const AttnLayout *lay, int step, StepStats *out) {
    model_zero_grads(m);
    if (model_forward(m, a, tokens, lay)) return -1;
    int count = 0;
    for (int n = 0; n < lay->n_rows; n++) count += targets[n] >= 0;
    if (count == 0) return px_error("step %d: the batch has no targets", step + 1);
    double sum = cross_entropy_forward_backward(a->logits, targets, lay->n_rows, m->cfg.vocab_size,
                                                1.0f / (float)count, &count);
    out->loss = sum / count;
    out->tokens = count;
    if (!isfinite(out->loss))
        return px_error("loss is %g at step %d: training diverged (lower optim.lr?)", out->loss, step + 1);
    if (model_backward(m, a, tokens, lay)) return -1;
    out->lr = lr_at_step(&opt->cfg, step);
    out->grad_norm = adamw_step_model(opt, m, step);
    return 0;
}
