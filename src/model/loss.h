/* loss.h — losses over logits rows. Each writes d(loss)/d(logits) into the logits buffer
 * in place (the backward of the model reads it from there). */
#ifndef PROACT_LOSS_H
#define PROACT_LOSS_H

/* Cross-entropy of rows with targets[i] >= 0 (rows with -1 are ignored and get zero
 * gradient). logits [N, V] is replaced by scale * (softmax - onehot) on counted rows.
 * Returns the SUM of -log p(target) over counted rows; *count receives their number.
 * Use scale = 1/normalizer (e.g. the global number of target tokens). */
double cross_entropy_forward_backward(float *logits, const int *targets, int n_rows, int vocab, float scale,
                                      int *count);

/* Cross-entropy only (logits untouched). Same return convention. */
double cross_entropy_forward(const float *logits, const int *targets, int n_rows, int vocab, int *count);

/* Synchronized privileged self-distillation (docs/design.md §2.4), over the copies of `n_examples`
 * examples (student rows student_first + i paired with teacher rows teacher_first + i):
 *     L = CE(student) + alpha CE(teacher) + lambda tau^2 KL(stopgrad(softmax(z_T/tau)) || softmax(z_S/tau))
 * summed over the rows i whose target is set (the same rows in both copies). logits [N, V] is
 * replaced by scale * dL/dlogits; the teacher logits get only alpha * dCE (no gradient flows
 * through the teacher distribution in the KL term); every other row gets 0.
 * out receives the SUMS of the three terms and the number of predicted tokens. */
typedef struct {
    double ce_student, ce_teacher, kl;
    int count;
} SpsdLoss;

int spsd_loss_forward_backward(float *logits, const int *targets, int n_rows, int vocab, const int *student_first,
                               const int *teacher_first, const int *n_copy_rows, int n_examples, float alpha,
                               float lambda, float tau, float scale, SpsdLoss *out);

#endif
