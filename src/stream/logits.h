/* logits.h — one row of next-token logits, in double precision: its argmax, its log-sum-exp and
 * the KL divergence between two rows' distributions. The self-labels of the probe (src/probe/) and
 * the student-teacher diagnostic compare a student row with its teacher row through these. */
#ifndef PROACT_LOGITS_H
#define PROACT_LOGITS_H

/* The index of the largest of z[0..n) (the lowest one on ties). */
int logits_argmax(const float *z, int n);
/* log sum_i exp(z_i), shifted by the largest z for range. */
double logits_log_sum_exp(const float *z, int n);
/* KL(softmax(zp) || softmax(zq)) in nats; lp, lq: the rows' logits_log_sum_exp. */
double logits_kl(const float *zp, double lp, const float *zq, double lq, int n);

#endif
