/* kernels_ref.c — plain-loop references for the sgemm-based kernels. Slow and obvious;
 * the tests check that the fast kernels in kernels.c agree with these. */
#include <math.h>

#include "src/model/kernels.h"

void matmul_forward_ref(float *out, const float *in, const float *W, const float *b, int N, int IC, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < IC; i++) acc += (double)in[(size_t)n * IC + i] * W[(size_t)o * IC + i];
            out[(size_t)n * OC + o] = (float)acc;
        }
}

void matmul_backward_ref(float *din, float *dW, float *db, const float *dout, const float *in, const float *W, int N,
                         int IC, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float g = dout[(size_t)n * OC + o];
            if (db) db[o] += g;
            for (int i = 0; i < IC; i++) {
                if (din) din[(size_t)n * IC + i] += g * W[(size_t)o * IC + i];
                dW[(size_t)o * IC + i] += g * in[(size_t)n * IC + i];
            }
        }
}

/* Row by row: scores against visible keys only, softmax, weighted sum of values. */
void attention_forward_ref(float *out, float *att, const float *qkv, const AttnLayout *lay, int nh, int nkv, int hd) {
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, group = nh / nkv;
    const double scale = 1.0 / sqrt((double)hd);
    size_t att_off = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        const int r0 = lay->seq_start[s], L = lay->seq_start[s + 1] - r0;
        for (int h = 0; h < nh; h++) {
            const int g = h / group;
            for (int t = 0; t < L; t++) {
                const int row = r0 + t;
                const float *q = qkv + (size_t)row * qkv_dim + h * hd;
                float *p = att + att_off + ((size_t)h * L + t) * L;
                double mx = -INFINITY;
                for (int j = 0; j < L; j++) {
                    if (!attn_visible(lay, row, t, j)) continue;
                    const float *k = qkv + (size_t)(r0 + j) * qkv_dim + (nh + g) * hd;
                    double dot = 0.0;
                    for (int i = 0; i < hd; i++) dot += (double)q[i] * k[i];
                    p[j] = (float)(dot * scale);
                    if (p[j] > mx) mx = p[j];
                }
                double sum = 0.0;
                for (int j = 0; j < L; j++) {
                    if (!attn_visible(lay, row, t, j)) {
                        p[j] = 0.0f;
                        continue;
                    }
                    p[j] = (float)exp(p[j] - mx);
                    sum += p[j];
                }
                for (int j = 0; j < L; j++) p[j] = (float)(p[j] / sum);
                float *o = out + (size_t)row * q_dim + h * hd;
                for (int i = 0; i < hd; i++) {
                    double acc = 0.0;
                    for (int j = 0; j < L; j++)
                        acc += (double)p[j] * qkv[(size_t)(r0 + j) * qkv_dim + (nh + nkv + g) * hd + i];
                    o[i] = (float)acc;
                }
            }
        }
        att_off += (size_t)nh * L * L;
    }
}

void attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att, const AttnLayout *lay,
                            int nh, int nkv, int hd) {
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, group = nh / nkv;
    const double scale = 1.0 / sqrt((double)hd);
    size_t att_off = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        const int r0 = lay->seq_start[s], L = lay->seq_start[s + 1] - r0;
        for (int h = 0; h < nh; h++) {
            const int g = h / group;
            for (int t = 0; t < L; t++) {
                const int row = r0 + t;
                const float *p = att + att_off + ((size_t)h * L + t) * L;
                const float *dO = dout + (size_t)row * q_dim + h * hd;
                /* dp_j = dO . v_j ; dv_j += p_j dO */
                double dot = 0.0;
                double dp[4096]; /* tests only: sequences up to 4096 rows */
                for (int j = 0; j < L; j++) {
                    const float *v = qkv + (size_t)(r0 + j) * qkv_dim + (nh + nkv + g) * hd;
                    float *dv = dqkv + (size_t)(r0 + j) * qkv_dim + (nh + nkv + g) * hd;
                    double acc = 0.0;
                    for (int i = 0; i < hd; i++) {
                        acc += (double)dO[i] * v[i];
                        dv[i] += p[j] * dO[i];
                    }
                    dp[j] = acc;
                    dot += p[j] * acc;
                }
                const float *q = qkv + (size_t)row * qkv_dim + h * hd;
                float *dq = dqkv + (size_t)row * qkv_dim + h * hd;
                for (int j = 0; j < L; j++) {
                    double ds = p[j] * (dp[j] - dot) * scale;
                    if (ds == 0.0) continue;
                    const float *k = qkv + (size_t)(r0 + j) * qkv_dim + (nh + g) * hd;
                    float *dk = dqkv + (size_t)(r0 + j) * qkv_dim + (nh + g) * hd;
                    for (int i = 0; i < hd; i++) {
                        dq[i] += (float)(ds * k[i]);
                        dk[i] += (float)(ds * q[i]);
                    }
                }
            }
        }
        att_off += (size_t)nh * L * L;
    }
}
