/* kernels.c — forward and backward of each layer. Shapes are in kernels.h; how the loops use
 * threads, and why their results do not depend on the thread count, in parallel.h. */
#include "src/model/kernels.h"

#include "src/base/common.h"
#include "src/model/parallel.h"
#include "src/model/profile.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- embedding */

void embedding_forward(float *out, const int *tokens, const float *embed, int N, int d) {
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * d)) num_threads(par_threads())
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * d, embed + (size_t)tokens[n] * d, sizeof(float) * d);
}

/* Rows with the same token add into the same row of dembed, in row order: the threads split the
 * columns, so that every element still receives its rows in that order. */
void embedding_backward(float *dembed, const float *dout, const int *tokens, int N, int d) {
#pragma omp parallel if (par_worth((size_t)N * d)) num_threads(par_threads())
    {
        size_t lo, hi;
        par_share((size_t)d, 16, &lo, &hi);
        for (int n = 0; n < N; n++) {
            float *row = dembed + (size_t)tokens[n] * d;
            const float *g = dout + (size_t)n * d;
            for (size_t i = lo; i < hi; i++) row[i] += g[i];
        }
    }
}

/* ---------------------------------------------------------------- RMSNorm */

/* One row: y[d] = x * r * w with r = (mean(x^2) + eps)^-1/2, the sum of squares in double. */
static void rmsnorm_row(float *y, float *rstd, const float *x, const float *w, int d, float eps) {
    double ss = 0.0;
    for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
    float r = 1.0f / sqrtf((float)(ss / d) + eps);
    *rstd = r;
    for (int i = 0; i < d; i++) y[i] = x[i] * r * w[i];
}

void rmsnorm_forward(float *out, float *rstd, const float *in, const float *w, int N, int d, float eps) {
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * d)) num_threads(par_threads())
    for (int n = 0; n < N; n++) rmsnorm_row(out + (size_t)n * d, rstd + n, in + (size_t)n * d, w, d, eps);
}

/* The residual add before a norm, in the same pass over each row (the row is in L1 when the norm
 * reads it): resid = resid + x, as `resid[i] += x[i]` did, then the norm of the sum. */
void residual_rmsnorm_forward(float *resid, float *out, float *rstd, const float *x, const float *w, int N, int d,
                              float eps) {
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * d)) num_threads(par_threads())
    for (int n = 0; n < N; n++) {
        float *r = resid + (size_t)n * d;
        const float *a = x + (size_t)n * d;
        for (int i = 0; i < d; i++) r[i] += a[i];
        rmsnorm_row(out + (size_t)n * d, rstd + n, r, w, d, eps);
    }
}

/* y_i = x_i r w_i with r = (mean(x^2)+eps)^-1/2, dr/dx_i = -r^3 x_i / d, so
 * dx_i = r w_i dy_i - (r^3/d) x_i sum_j dy_j w_j x_j. dx is per row; dw sums over rows, so for dw
 * the threads split the columns and each adds the rows in row order. */
void rmsnorm_backward(float *din, float *dw, const float *dout, const float *in, const float *w, const float *rstd,
                      int N, int d) {
#pragma omp parallel if (par_worth((size_t)N * d)) num_threads(par_threads())
    {
#pragma omp for schedule(static) nowait
        for (int n = 0; n < N; n++) {
            const float *x = in + (size_t)n * d;
            const float *dy = dout + (size_t)n * d;
            float *dx = din + (size_t)n * d;
            float r = rstd[n];
            double dot = 0.0;
            for (int i = 0; i < d; i++) dot += (double)dy[i] * w[i] * x[i];
            float c = (float)(dot * r * r * r / d);
            for (int i = 0; i < d; i++) dx[i] += r * w[i] * dy[i] - c * x[i];
        }
        size_t lo, hi;
        par_share((size_t)d, 16, &lo, &hi);
        for (int n = 0; n < N; n++) {
            const float *x = in + (size_t)n * d;
            const float *dy = dout + (size_t)n * d;
            float r = rstd[n];
            for (size_t i = lo; i < hi; i++) dw[i] += dy[i] * x[i] * r;
        }
    }
}

/* ---------------------------------------------------------------- matmul */

/* out[N, OC] = b[OC] on every row */
static void bias_broadcast(float *out, const float *b, int N, int OC) {
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * OC)) num_threads(par_threads())
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, sizeof(float) * OC);
}

/* db[OC] += colsum(dout[N, OC]): threads split the columns, each adds the rows in row order. */
static void bias_backward(float *db, const float *dout, int N, int OC) {
#pragma omp parallel if (par_worth((size_t)N * OC)) num_threads(par_threads())
    {
        size_t lo, hi;
        par_share((size_t)OC, 16, &lo, &hi);
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * OC;
            for (size_t o = lo; o < hi; o++) db[o] += g[o];
        }
    }
}

/* The weight operand: its bf16 copy when there is one (then the product is bf16), else fp32. */
static GemmMat weight_operand(const float *W, const bf16_t *W16, int ld, int trans) {
    return W16 ? gemm_bf16(W16, ld, trans) : gemm_f32(W, ld, trans);
}

void matmul_forward(float *out, const float *in, const float *W, const bf16_t *W16, const float *b, int N, int IC,
                    int OC) {
    const GemmPrecision prec = W16 ? GEMM_BF16 : GEMM_FP32;
    float beta = 0.0f;
    if (b) {
        bias_broadcast(out, b, N, OC);
        beta = 1.0f;
    }
    gemm(prec, N, OC, IC, 1.0f, gemm_f32(in, IC, 0), weight_operand(W, W16, IC, 1), beta, out, OC);
}

void matmul_backward(float *din, float *dW, float *db, const float *dout, const float *in, const float *W,
                     const bf16_t *W16, int N, int IC, int OC) {
    const GemmPrecision prec = W16 ? GEMM_BF16 : GEMM_FP32;
    if (din) gemm(prec, N, IC, OC, 1.0f, gemm_f32(dout, OC, 0), weight_operand(W, W16, IC, 0), 1.0f, din, IC);
    gemm_ff(prec, 1, 0, OC, IC, N, 1.0f, dout, OC, in, IC, 1.0f, dW, IC);
    if (db) bias_backward(db, dout, N, OC);
}

/* ---------------------------------------------------------------- RoPE */

/* direction +1: out = x cos + rotate_half(x) sin; -1: the transpose (inverse) rotation.
 * cos/sin of pos * inv_freq[k], k < hd/2, are computed in float32 the way Hugging Face does
 * (inv_freq = 1 / theta^(2k/hd) in float32, angle = float(pos) * inv_freq); inv_freq is the same
 * for every row, so it is computed once. */
static void rope_apply(float *x, const int *pos, int N, int n_heads, int hd, int row_stride, float theta,
                       float direction) {
    const int half = hd / 2;
    float inv[512]; /* hd <= 1024 is checked by model_config_validate */
    for (int k = 0; k < half; k++) inv[k] = 1.0f / powf(theta, (float)(2 * k) / (float)hd);
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * n_heads * hd)) num_threads(par_threads())
    for (int n = 0; n < N; n++) {
        float cs[512], sn[512];
        for (int k = 0; k < half; k++) {
            float ang = (float)pos[n] * inv[k];
            cs[k] = cosf(ang);
            sn[k] = sinf(ang);
        }
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

void rope_forward(float *x, const int *pos, int N, int n_heads, int hd, int row_stride, float theta) {
    rope_apply(x, pos, N, n_heads, hd, row_stride, theta, 1.0f);
}

void rope_backward(float *dx, const int *pos, int N, int n_heads, int hd, int row_stride, float theta) {
    rope_apply(dx, pos, N, n_heads, hd, row_stride, theta, -1.0f);
}

/* ---------------------------------------------------------------- attention */

/* Hidden keys are skipped, not computed and then masked.
 *
 * A sequence's rows are cut into tiles of at most ATT_TILE rows, cut also where a new block starts
 * (blk_start changes: the student and the teacher copy of the SPSD layout) once a tile has
 * ATT_MIN_TILE rows. The rows of a tile can see keys only in [0, max vis_prefix) u [min blk_start,
 * last row]: its score products (Q K^T, dO V^T) cover those columns, one range or two, and
 * nothing else. The products that sum over keys (P V, dS K) take one span, from the first key of
 * the tile's first range to the last of its last: splitting such a sum in two would round it
 * differently from the dense product. The same tiles, read as tiles of keys, are seen only by a
 * contiguous run of rows; the products that sum over rows (P^T dO, dS^T Q) take that run. Every
 * probability and dS entry outside what a row sees is written as 0, so a product reads exact zeros
 * wherever it covers more than that.
 *
 * Against the dense version (kernels_ref.c attention_*_dense: one L x L product per head): a score
 * is the same dot product over hd, and a sum over keys or rows runs over the same terms in the same
 * order minus leading or trailing exact zeros. Whether OpenBLAS gives the same bits for the
 * smaller products depends on its kernel choice: docs/performance.md ("Step profile") says where
 * it does (the tests' layouts, the base config) and where it does not (sums over more than about
 * 448 keys, products of a few dozen rows, some head sizes), by a few ulps. */
enum { ATT_TILE = 64, ATT_MIN_TILE = 16 };

/* End of the row tile that starts at t0. */
static int tile_end(const AttnLayout *lay, int r0, int L, int t0) {
    int t1 = t0 + 1;
    while (t1 < L && t1 - t0 < ATT_TILE &&
           !(lay->blk_start[r0 + t1] != lay->blk_start[r0 + t1 - 1] && t1 - t0 >= ATT_MIN_TILE))
        t1++;
    return t1;
}

/* The keys rows [t0, t1) can see, as ranges [c0[i], c1[i]), i < the count returned (1 or 2). */
static int tile_keys(const AttnLayout *lay, int r0, int L, int t0, int t1, int c0[2], int c1[2]) {
    int vmax = 0, bmin = L;
    for (int t = t0; t < t1; t++) {
        vmax = PX_MAX(vmax, PX_MIN(lay->vis_prefix[r0 + t], L));
        bmin = PX_MIN(bmin, lay->blk_start[r0 + t]);
    }
    if (vmax >= bmin) { /* one range from key 0 */
        c0[0] = 0, c1[0] = PX_MAX(vmax, t1);
        return 1;
    }
    if (vmax == 0) { /* only the rows' own block */
        c0[0] = bmin, c1[0] = t1;
        return 1;
    }
    c0[0] = 0, c1[0] = vmax, c0[1] = bmin, c1[1] = t1;
    return 2;
}

/* The rows [*a, *b) that see any of the keys [j0, j1): j < vis_prefix, or blk_start <= j <= t. */
static void key_rows(const AttnLayout *lay, int r0, int L, int j0, int j1, int *a, int *b) {
    *a = 0, *b = 0;
    for (int t = 0; t < L; t++)
        if (lay->vis_prefix[r0 + t] > j0 || (lay->blk_start[r0 + t] < j1 && t >= j0)) {
            if (*b == 0) *a = t;
            *b = t + 1;
        }
}

/* The keys row t sees, in increasing order: [0, *a) then [*b, *e); it does not see [*a, *b) and
 * [*e, L). */
static void visible_keys(int L, int t, int vp, int bs, int *a, int *b, int *e) {
    *a = PX_MIN(vp, L);
    *b = PX_MAX(bs, *a);
    *e = PX_MAX(t + 1, *b);
}

/* Softmax of one score row over its visible keys; every other entry becomes 0 (the product left
 * it unset). The sum runs over the visible keys in increasing order, as the dense loop's did over
 * all keys adding 0 for the hidden ones. */
static void masked_softmax_row(float *p, int L, int t, int vp, int bs) {
    int a, b, e;
    visible_keys(L, t, vp, bs, &a, &b, &e);
    float mx = -INFINITY;
    for (int j = 0; j < a; j++) mx = p[j] > mx ? p[j] : mx;
    for (int j = b; j < e; j++) mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < a; j++) sum += (p[j] = expf(p[j] - mx));
    for (int j = b; j < e; j++) sum += (p[j] = expf(p[j] - mx));
    float inv = 1.0f / sum;
    for (int j = 0; j < a; j++) p[j] *= inv;
    for (int j = b; j < e; j++) p[j] *= inv;
    memset(p + a, 0, sizeof(float) * (size_t)(b - a));
    memset(p + e, 0, sizeof(float) * (size_t)(L - e));
}

/* Softmax backward of one row: d = p (d - sum_j p_j d_j) on the visible keys, 0 elsewhere. The dense
 * loop's hidden terms were p_j d_j = 0 * finite, which never change a sum that starts at +0. */
static void softmax_backward_row(float *d, const float *p, int L, int t, int vp, int bs) {
    int a, b, e;
    visible_keys(L, t, vp, bs, &a, &b, &e);
    float dot = 0.0f;
    for (int j = 0; j < a; j++) dot += p[j] * d[j];
    for (int j = b; j < e; j++) dot += p[j] * d[j];
    for (int j = 0; j < a; j++) d[j] = p[j] * (d[j] - dot);
    for (int j = b; j < e; j++) d[j] = p[j] * (d[j] - dot);
    memset(d + a, 0, sizeof(float) * (size_t)(b - a));
    memset(d + e, 0, sizeof(float) * (size_t)(L - e));
}

void attention_forward(float *out, float *att, const float *qkv, const AttnLayout *lay, int nh, int nkv, int hd) {
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    size_t att_off = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        const int r0 = lay->seq_start[s], L = lay->seq_start[s + 1] - r0;
        const float *base = qkv + (size_t)r0 * qkv_dim;
        float *Pseq = att + att_off; /* [nh][L][L] */
        double t0 = profile_on ? profile_clock() : 0.0;
        for (int h = 0; h < nh; h++) {
            const float *Q = base + h * hd, *K = base + (nh + h / group) * hd;
            float *P = Pseq + (size_t)h * L * L;
            for (int a = 0, b; a < L; a = b) {
                int c0[2], c1[2];
                b = tile_end(lay, r0, L, a);
                for (int i = 0, nr = tile_keys(lay, r0, L, a, b, c0, c1); i < nr; i++)
                    /* P[a:b, c0:c1] = scale Q[a:b] K[c0:c1]^T */
                    gemm_ff(GEMM_FP32, 0, 1, b - a, c1[i] - c0[i], hd, scale, Q + (size_t)a * qkv_dim, qkv_dim,
                            K + (size_t)c0[i] * qkv_dim, qkv_dim, 0.0f, P + (size_t)a * L + c0[i], L);
            }
        }
        if (profile_on) profile_add(PROF_ATTN_SGEMM_FWD, profile_clock() - t0), t0 = profile_clock();
            /* every row of every head: rows are independent; later rows see more keys, so they are
         * dealt to the threads round-robin in small chunks */
#pragma omp parallel for schedule(static, 8) if (par_worth((size_t)nh * L * L / 2)) num_threads(par_threads())
        for (int ht = 0; ht < nh * L; ht++) {
            const int t = ht % L;
            masked_softmax_row(Pseq + (size_t)ht * L, L, t, lay->vis_prefix[r0 + t], lay->blk_start[r0 + t]);
        }
        if (profile_on) profile_add(PROF_ATTN_SOFTMAX_FWD, profile_clock() - t0), t0 = profile_clock();
        for (int h = 0; h < nh; h++) {
            const float *V = base + (nh + nkv + h / group) * hd, *P = Pseq + (size_t)h * L * L;
            float *O = out + (size_t)r0 * q_dim + h * hd;
            for (int a = 0, b; a < L; a = b) {
                int c0[2], c1[2];
                b = tile_end(lay, r0, L, a);
                const int nr = tile_keys(lay, r0, L, a, b, c0, c1), k0 = c0[0], k1 = c1[nr - 1];
                /* out_h[a:b] = P[a:b, k0:k1] V[k0:k1]: one sum over the span of the tile's keys */
                gemm_ff(GEMM_FP32, 0, 0, b - a, hd, k1 - k0, 1.0f, P + (size_t)a * L + k0, L, V + (size_t)k0 * qkv_dim,
                        qkv_dim, 0.0f, O + (size_t)a * q_dim, q_dim);
            }
        }
        if (profile_on) profile_add(PROF_ATTN_SGEMM_FWD, profile_clock() - t0);
        att_off += (size_t)nh * L * L;
    }
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                        const AttnLayout *lay, int nh, int nkv, int hd) {
    const int qkv_dim = (nh + 2 * nkv) * hd, q_dim = nh * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    size_t att_off = 0;
    for (int s = 0; s < lay->n_seqs; s++) {
        const int r0 = lay->seq_start[s], L = lay->seq_start[s + 1] - r0;
        const size_t base = (size_t)r0 * qkv_dim;
        const float *Pseq = att + att_off; /* [nh][L][L] */
        float *dSseq = scratch;            /* [nh][L][L] */
        double t0 = profile_on ? profile_clock() : 0.0;
        for (int h = 0; h < nh; h++) {
            const int g = h / group;
            const float *V = qkv + base + (nh + nkv + g) * hd, *P = Pseq + (size_t)h * L * L;
            const float *dO = dout + (size_t)r0 * q_dim + h * hd;
            float *dV = dqkv + base + (nh + nkv + g) * hd, *dS = dSseq + (size_t)h * L * L;
            for (int a = 0, b; a < L; a = b) {
                int c0[2], c1[2], ra, rb;
                b = tile_end(lay, r0, L, a);
                for (int i = 0, nr = tile_keys(lay, r0, L, a, b, c0, c1); i < nr; i++)
                    /* dP[a:b, c0:c1] = dO[a:b] V[c0:c1]^T */
                    gemm_ff(GEMM_FP32, 0, 1, b - a, c1[i] - c0[i], hd, 1.0f, dO + (size_t)a * q_dim, q_dim,
                            V + (size_t)c0[i] * qkv_dim, qkv_dim, 0.0f, dS + (size_t)a * L + c0[i], L);
                key_rows(lay, r0, L, a, b, &ra, &rb);
                /* dV[a:b] += P[ra:rb, a:b]^T dO[ra:rb]  (keys a..b as a tile of keys) */
                gemm_ff(GEMM_FP32, 1, 0, b - a, hd, rb - ra, 1.0f, P + (size_t)ra * L + a, L, dO + (size_t)ra * q_dim,
                        q_dim, 1.0f, dV + (size_t)a * qkv_dim, qkv_dim);
            }
        }
        if (profile_on) profile_add(PROF_ATTN_SGEMM_BWD, profile_clock() - t0), t0 = profile_clock();
            /* softmax backward of every row of every head: dS = P * (dP - sum_j P dP) */
#pragma omp parallel for schedule(static, 8) if (par_worth((size_t)nh * L * L / 2)) num_threads(par_threads())
        for (int ht = 0; ht < nh * L; ht++) {
            const int t = ht % L;
            softmax_backward_row(dSseq + (size_t)ht * L, Pseq + (size_t)ht * L, L, t, lay->vis_prefix[r0 + t],
                                 lay->blk_start[r0 + t]);
        }
        if (profile_on) profile_add(PROF_ATTN_SOFTMAX_BWD, profile_clock() - t0), t0 = profile_clock();
        for (int h = 0; h < nh; h++) {
            const int g = h / group;
            const float *Q = qkv + base + h * hd, *K = qkv + base + (nh + g) * hd;
            const float *dS = dSseq + (size_t)h * L * L;
            float *dQ = dqkv + base + h * hd, *dK = dqkv + base + (nh + g) * hd;
            for (int a = 0, b; a < L; a = b) {
                int c0[2], c1[2], ra, rb;
                b = tile_end(lay, r0, L, a);
                const int nr = tile_keys(lay, r0, L, a, b, c0, c1), k0 = c0[0], k1 = c1[nr - 1];
                /* dQ[a:b] += scale dS[a:b, k0:k1] K[k0:k1]: one sum over the span of the tile's keys */
                gemm_ff(GEMM_FP32, 0, 0, b - a, hd, k1 - k0, scale, dS + (size_t)a * L + k0, L,
                        K + (size_t)k0 * qkv_dim, qkv_dim, 1.0f, dQ + (size_t)a * qkv_dim, qkv_dim);
                key_rows(lay, r0, L, a, b, &ra, &rb);
                /* dK[a:b] += scale dS[ra:rb, a:b]^T Q[ra:rb] */
                gemm_ff(GEMM_FP32, 1, 0, b - a, hd, rb - ra, scale, dS + (size_t)ra * L + a, L,
                        Q + (size_t)ra * qkv_dim, qkv_dim, 1.0f, dK + (size_t)a * qkv_dim, qkv_dim);
            }
        }
        if (profile_on) profile_add(PROF_ATTN_SGEMM_BWD, profile_clock() - t0);
        att_off += (size_t)nh * L * L;
    }
}

/* ---------------------------------------------------------------- SwiGLU */

void swiglu_forward(float *h, const float *gu, int N, int f) {
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * f)) num_threads(par_threads())
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
void swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int f) {
#pragma omp parallel for schedule(static) if (par_worth((size_t)N * f)) num_threads(par_threads())
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
