/* loss.h — losses over logits rows. Each writes d(loss)/d(logits) into the logits buffer
 * in place (the backward of the model reads it from there). */
#ifndef PROACT_LOSS_H
#define PROACT_LOSS_H

/* Cross-entropy of rows with targets[i] >= 0 (rows with -1 are ignored and get zero
 * gradient). logits [N, V] is replaced by scale * (softmax - onehot) on counted rows.
 * Returns the SUM of -log p(target) over counted rows; *count receives their number.
 * Use scale = 1/normalizer (e.g. the global number of target tokens). */
double cross_entropy_forward_backward(float *logits, const int *targets, int n_rows, int vocab,
                                      float scale, int *count);

/* Cross-entropy only (logits untouched). Same return convention. */
double cross_entropy_forward(const float *logits, const int *targets, int n_rows, int vocab, int *count);

#endif
