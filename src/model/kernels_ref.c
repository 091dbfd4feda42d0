/* kernels_ref.c — plain-loop references for the sgemm-based kernels. Slow and obvious;
 * the tests check that the fast kernels in kernels.c agree with these. Then the serial twins of
 * the threaded kernels (below), which the fast ones must match bit for bit. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "src/base/common.h"
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

/* ------------------------------------------------------------------------------------------
 * The serial loops of the elementwise kernels and the dense-sgemm attention, exactly as they
 * were before kernels.c was threaded and its attention learned to skip hidden keys. The fast
 * kernels must give the same bits as these (tests/model/test_threading.c); they are also the
 * plainest statement of what each kernel computes. */

void embedding_forward_ref(float *out, const int *tokens, const float *embed, int N, int d) {
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * d, embed + (size_t)tokens[n] * d, sizeof(float) * d);
}

void embedding_backward_ref(float *dembed, const float *dout, const int *tokens, int N, int d) {
    for (int n = 0; n < N; n++) {
        float *row = dembed + (size_t)tokens[n] * d;
        const float *g = dout + (size_t)n * d;
        for (int i = 0; i < d; i++) row[i] += g[i];
    }
}

void rmsnorm_forward_ref(float *out, float *rstd, const float *in, const float *w, int N, int d, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * d;
        float *y = out + (size_t)n * d;
        double ss = 0.0;
        for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
        float r = 1.0f / sqrtf((float)(ss / d) + eps);
        rstd[n] = r;
        for (int i = 0; i < d; i++) y[i] = x[i] * r * w[i];
    }
}

/* y_i = x_i r w_i with r = (mean(x^2)+eps)^-1/2, dr/dx_i = -r^3 x_i / d, so
 * dx_i = r w_i dy_i - (r^3/d) x_i sum_j dy_j w_j x_j. */
void rmsnorm_backward_ref(float *din, float *dw, const float *dout, const float *in, const float *w, const float *rstd,
                          int N, int d) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * d;
        const float *dy = dout + (size_t)n * d;
        float *dx = din + (size_t)n * d;
        float r = rstd[n];
        double dot = 0.0;
        for (int i = 0; i < d; i++) dot += (double)dy[i] * w[i] * x[i];
        float c = (float)(dot * r * r * r / d);
        for (int i = 0; i < d; i++) {
            dx[i] += r * w[i] * dy[i] - c * x[i];
            dw[i] += dy[i] * x[i] * r;
        }
    }
}

/* cos/sin of pos * inv_freq[k], k < hd/2, computed in float32 the way Hugging Face does
 * (inv_freq = 1 / theta^(2k/hd) in float32, angle = float(pos) * inv_freq). */
static void rope_angles_ref(float *cs, float *sn, int pos, int hd, float theta) {
    int half = hd / 2;
    for (int k = 0; k < half; k++) {
        float inv = 1.0f / powf(theta, (float)(2 * k) / (float)hd);
        float ang = (float)pos * inv;
        cs[k] = cosf(ang);
        sn[k] = sinf(ang);
    }
}

/* direction +1: out = x cos + rotate_half(x) sin; -1: the transpose (inverse) rotation. */
static void rope_apply_ref(float *x, const int *pos, int N, int n_heads, int hd, int row_stride, float theta,
                           float direction) {
    int half = hd / 2;
    float cs[512], sn[512]; /* hd <= 1024 is checked by model_config_validate */
    for (int n = 0; n < N; n++) {
        rope_angles_ref(cs, sn, pos[n], hd, theta);
        float *row = x + (size_t)n * row_stride;
        for (int h = 0; h < n_heads; h++) {
            float *v = row + h * hd;
            for (int k = 0; k < half; k++) {
                float a = v[k], b = v[k + half];
                float s = direction * sn[k];
                v[k] = a * cs[k] - b * s;
                v[k + half] = b * cs[k] + a * s;
            }
        }
    }
}

void rope_forward_ref(float *x, const int *pos, int N, int n_heads, int hd, int row_stride, float theta) {
    rope_apply_ref(x, pos, N, n_heads, hd, row_stride, theta, 1.0f);
}

void rope_backward_ref(float *dx, const int *pos, int N, int n_heads, int hd, int row_stride, float theta) {
    rope_apply_ref(dx, pos, N, n_heads, hd, row_stride, theta, -1.0f);
}

/* Softmax of one score row over the visible keys [0, vp) u [bs, t]; hidden keys get 0. */
static void masked_softmax_row_dense(float *p, int L, int t, int vp, int bs) {
    int a_end = PX_MIN(vp, L);
    float mx = -INFINITY;
    for (int j = 0; j < a_end; j++) mx = p[j] > mx ? p[j] : mx;
    for (int j = bs; j <= t; j++) mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < L; j++) {
        int visible = j < vp || (j >= bs && j <= t);
        float e = visible ? expf(p[j] - mx) : 0.0f;
        p[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < L; j++) p[j] *= inv;
}

void attention_forward_dense(float *out, float *att, const float *qkv, const AttnLayout *lay, int nh, int nkv, int hd) {
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    size_t att_off = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        const int r0 = lay->seq_start[s], L = lay->seq_start[s + 1] - r0;
        for (int h = 0; h < nh; h++) {
            const int g = h / group;
            const float *Q = qkv + (size_t)r0 * qkv_dim + h * hd;
            const float *K = qkv + (size_t)r0 * qkv_dim + (nh + g) * hd;
            const float *V = qkv + (size_t)r0 * qkv_dim + (nh + nkv + g) * hd;
            float *P = att + att_off + (size_t)h * L * L;
            /* P[L, L] = scale * Q K^T, then masked softmax per row */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, scale, Q, qkv_dim, K, qkv_dim, 0.0f, P, L);
            for (int t = 0; t < L; t++)
                masked_softmax_row_dense(P + (size_t)t * L, L, t, lay->vis_prefix[r0 + t], lay->blk_start[r0 + t]);
            /* out_h[L, hd] = P V */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, P, L, V, qkv_dim, 0.0f,
                        out + (size_t)r0 * q_dim + h * hd, q_dim);
        }
        att_off += (size_t)nh * L * L;
    }
}

void attention_backward_dense(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                              const AttnLayout *lay, int nh, int nkv, int hd) {
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    size_t att_off = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        const int r0 = lay->seq_start[s], L = lay->seq_start[s + 1] - r0;
        for (int h = 0; h < nh; h++) {
            const int g = h / group;
            const size_t base = (size_t)r0 * qkv_dim;
            const float *Q = qkv + base + h * hd, *K = qkv + base + (nh + g) * hd;
            const float *V = qkv + base + (nh + nkv + g) * hd;
            float *dQ = dqkv + base + h * hd, *dK = dqkv + base + (nh + g) * hd;
            float *dV = dqkv + base + (nh + nkv + g) * hd;
            const float *P = att + att_off + (size_t)h * L * L;
            const float *dO = dout + (size_t)r0 * q_dim + h * hd;
            float *dS = scratch; /* [L, L] */
            /* dP = dO V^T;  dV += P^T dO */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, 1.0f, dO, q_dim, V, qkv_dim, 0.0f, dS, L);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, 1.0f, P, L, dO, q_dim, 1.0f, dV, qkv_dim);
            /* softmax backward: dS = P * (dP - sum_j P dP); hidden entries have P = 0 */
            for (int t = 0; t < L; t++) {
                const float *p = P + (size_t)t * L;
                float *d = dS + (size_t)t * L;
                float dot = 0.0f;
                for (int j = 0; j < L; j++) dot += p[j] * d[j];
                for (int j = 0; j < L; j++) d[j] = p[j] * (d[j] - dot);
            }
            /* dQ += scale dS K;  dK += scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, scale, dS, L, K, qkv_dim, 1.0f, dQ,
                        qkv_dim);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, scale, dS, L, Q, qkv_dim, 1.0f, dK, qkv_dim);
        }
        att_off += (size_t)nh * L * L;
    }
}

void swiglu_forward_ref(float *h, const float *gu, int N, int f) {
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * f, *u = g + f;
        float *o = h + (size_t)n * f;
        for (int i = 0; i < f; i++) {
            float sig = 1.0f / (1.0f + expf(-g[i]));
            o[i] = g[i] * sig * u[i];
        }
    }
}

/* silu'(g) = s (1 + g (1 - s)) with s = sigmoid(g). */
void swiglu_backward_ref(float *dgu, const float *dh, const float *gu, int N, int f) {
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * f, *u = g + f;
        const float *d = dh + (size_t)n * f;
        float *dg = dgu + (size_t)n * 2 * f, *du = dg + f;
        for (int i = 0; i < f; i++) {
            float sig = 1.0f / (1.0f + expf(-g[i]));
            float silu = g[i] * sig;
            dg[i] += d[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
            du[i] += d[i] * silu;
        }
    }
}
