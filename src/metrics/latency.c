/* latency.c — SimulEval's AL, LAAL, AP, DAL and ATD for one sentence (latency.h). */
#include "src/metrics/latency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "src/base/common.h"
#include "src/base/utf8.h"

/* AL and LAAL differ only in the target length that sets the ideal rate gamma = |Y| / |X|. */
static double average_lagging(const double *d, int n, double src_len, double tgt_len) {
    if (d[0] > src_len) return d[0];
    const double gamma = tgt_len / src_len;
    double sum = 0;
    int tau = 0;
    for (int t = 0; t < n; t++) { /* t = i - 1 */
        sum += d[t] - t / gamma;
        tau = t + 1;
        if (d[t] >= src_len) break;
    }
    return sum / tau;
}

int latency_scores(const double *delays, int n, double src_len, double ref_len, int use_ref_len, LatencyScores *out) {
    if (n <= 0) return px_error("latency: no delays (nothing was written)");
    if (!(src_len > 0)) return px_error("latency: the source length must be positive (got %g)", src_len);
    const double tgt_len = use_ref_len ? ref_len : n;
    if (!(tgt_len > 0)) return px_error("latency: the reference length must be positive (got %g)", tgt_len);
    out->AL = average_lagging(delays, n, src_len, tgt_len);
    out->LAAL = average_lagging(delays, n, src_len, n > tgt_len ? n : tgt_len);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += delays[i];
    out->AP = sum / (src_len * tgt_len);
    /* DAL always uses the hypothesis length */
    const double gamma = n / src_len;
    double dal = 0, g_last = 0;
    for (int i = 0; i < n; i++) {
        double g = i == 0 ? delays[0] : (delays[i] > g_last + 1 / gamma ? delays[i] : g_last + 1 / gamma);
        dal += g - i / gamma;
        g_last = g;
    }
    out->DAL = dal / n;
    return 0;
}

/* ---- units ---------------------------------------------------------------------------------- */

int latency_unit_parse(const char *s, LatencyUnit *out) {
    if (strcmp(s, "word") == 0) *out = LATENCY_UNIT_WORD;
    else if (strcmp(s, "char") == 0) *out = LATENCY_UNIT_CHAR;
    else return px_error("latency unit '%s': expected word or char", s);
    return 0;
}

const char *latency_unit_name(LatencyUnit u) { return u == LATENCY_UNIT_CHAR ? "char" : "word"; }

/* Python's str.isspace() for one code point: bidi class WS, B or S, or category Zs. */
static int python_space(int32_t cp) {
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

int latency_reference_length(const char *reference, LatencyUnit u) {
    const char *s = reference ? reference : "";
    if (u == LATENCY_UNIT_WORD) { /* split(" "): one more piece than single spaces */
        int n = 1;
        for (; *s; s++) n += *s == ' ';
        return n;
    }
    /* code points, with the leading and trailing ones that strip() removes left out */
    int n = 0, trailing = 0, leading = 1;
    for (size_t pos = 0, len = strlen(s); pos < len;) {
        int k = utf8_step((const unsigned char *)s + pos, len - pos);
        int32_t cp = k > 0 ? (int32_t)utf8_decode((const unsigned char *)s + pos, k) : -1;
        pos += k > 0 ? (size_t)k : 1;
        int space = cp >= 0 && python_space(cp);
        if (leading && space) continue;
        leading = 0;
        n++;
        trailing = space ? trailing + 1 : 0;
    }
    return n - trailing;
}

/* ---- ATD ------------------------------------------------------------------------------------ */

/* SimulEval's LogInstance ATD: source tokens of at most 300 units, target tokens of length 0. */
#define ATD_SRC_TOKEN 300.0
#define ATD_TGT_TOKEN 0.0

/* Python's divmod(a, b) for floats: the floor quotient and a remainder of b's sign. */
static void py_divmod(double a, double b, double *q, double *r) {
    double mod = fmod(a, b), div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) {
        mod += b;
        div -= 1.0;
    }
    double fl = floor(div); /* div is integral up to rounding */
    *q = div - fl > 0.5 ? fl + 1.0 : fl;
    *r = mod;
}

typedef struct {
    double *src_time;           /* [1 + source tokens]: end time of each source token, [0] = 0 */
    int *src_chunk, *tgt_chunk; /* [n_src_chunks + 1], [n_tgt_chunks + 1]: chunk sizes, [0] = 0 */
    int n_src_tok, n_src_chunk, n_tgt_chunk;
    int *tok_chunk;                /* [n + 1]: the chunk of each target token, [0] = 0 */
    double *tgt_time;              /* [n + 1]: end time of each target token, [0] = 0 */
    long *src_prefix, *tgt_prefix; /* [chunks + 2]: sum of the chunk sizes before k */
} Atd;

static void atd_free(Atd *a) {
    free(a->src_time);
    free(a->src_chunk);
    free(a->tgt_chunk);
    free(a->tok_chunk);
    free(a->tgt_time);
    free(a->src_prefix);
    free(a->tgt_prefix);
}

/* The source side: the chunks are the differences of the distinct delays (first occurrences, in
 * order), each split into tokens of ATD_SRC_TOKEN and a rest. */
static int atd_source(Atd *a, const double *d, int n) {
    double *uniq = malloc(sizeof *uniq * (size_t)n);
    int nu = 0;
    if (!uniq) return px_error("latency: out of memory");
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int k = 0; k < nu && !seen; k++) seen = uniq[k] == d[i];
        if (!seen) uniq[nu++] = d[i];
    }
    long total = 0;
    for (int c = 0; c < nu; c++) {
        double q, r;
        py_divmod(uniq[c] - (c ? uniq[c - 1] : 0), ATD_SRC_TOKEN, &q, &r);
        total += (q > 0 ? (long)q : 0) + (r != 0);
    }
    a->src_time = malloc(sizeof *a->src_time * (size_t)(total + 1));
    a->src_chunk = malloc(sizeof *a->src_chunk * (size_t)(nu + 1));
    if (!a->src_time || !a->src_chunk || total > 1000000000L) {
        free(uniq);
        return px_error("latency: out of memory");
    }
    a->src_time[0] = 0;
    a->src_chunk[0] = 0;
    int t = 0;
    for (int c = 0; c < nu; c++) {
        double q, r;
        py_divmod(uniq[c] - (c ? uniq[c - 1] : 0), ATD_SRC_TOKEN, &q, &r);
        long whole = q > 0 ? (long)q : 0;
        for (long k = 0; k < whole; k++, t++) a->src_time[t + 1] = a->src_time[t] + ATD_SRC_TOKEN;
        if (r != 0) {
            a->src_time[t + 1] = a->src_time[t] + r;
            t++;
        }
        a->src_chunk[c + 1] = (int)(whole + (r != 0));
    }
    a->n_src_tok = t;
    a->n_src_chunk = nu;
    free(uniq);
    return 0;
}

/* The target side: chunks of equal consecutive delays; each token starts when its source is read
 * and the previous token has ended, and lasts ATD_TGT_TOKEN plus its computing time. */
static int atd_target(Atd *a, const double *d, const double *elapsed, int n) {
    a->tgt_chunk = malloc(sizeof *a->tgt_chunk * (size_t)(n + 1));
    a->tok_chunk = malloc(sizeof *a->tok_chunk * (size_t)(n + 1));
    a->tgt_time = malloc(sizeof *a->tgt_time * (size_t)(n + 1));
    if (!a->tgt_chunk || !a->tok_chunk || !a->tgt_time) return px_error("latency: out of memory");
    a->tgt_chunk[0] = a->tok_chunk[0] = 0;
    int nc = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || d[i] != d[i - 1]) a->tgt_chunk[++nc] = 0;
        a->tgt_chunk[nc]++;
        a->tok_chunk[i + 1] = nc;
    }
    a->n_tgt_chunk = nc;
    int all_zero = 1;
    for (int i = 0; elapsed && i < n; i++) all_zero &= elapsed[i] == 0;
    a->tgt_time[0] = 0;
    for (int i = 0; i < n; i++) {
        double compute = 0; /* the increase of (elapsed - delay): this token's computing time */
        if (elapsed && !all_zero) compute = (elapsed[i] - d[i]) - (i ? elapsed[i - 1] - d[i - 1] : 0);
        double start = d[i] > a->tgt_time[i] ? d[i] : a->tgt_time[i];
        a->tgt_time[i + 1] = start + ATD_TGT_TOKEN + compute;
    }
    return 0;
}

/* sum(sizes[:k]) for k = 0 .. m + 1 (Python slices past the end take everything). */
static long *prefix_sums(const int *sizes, int m) {
    long *p = malloc(sizeof *p * (size_t)(m + 2));
    if (!p) return NULL;
    p[0] = 0;
    for (int k = 1; k <= m + 1; k++) p[k] = p[k - 1] + sizes[k - 1];
    return p;
}

static long prefix_at(const long *p, int m, int k) { return p[k <= m + 1 ? k : m + 1]; }

int latency_atd(const double *delays, const double *elapsed, int n, double *out) {
    if (n <= 0) return px_error("latency: no delays (nothing was written)");
    Atd a = {0};
    int rc = atd_source(&a, delays, n);
    if (rc == 0) rc = atd_target(&a, delays, elapsed, n);
    if (rc == 0) {
        a.src_prefix = prefix_sums(a.src_chunk, a.n_src_chunk);
        a.tgt_prefix = prefix_sums(a.tgt_chunk, a.n_tgt_chunk);
        if (!a.src_prefix || !a.tgt_prefix) rc = px_error("latency: out of memory");
    }
    double sum = 0, c = 0; /* compensated: SimulEval's statistics.mean sums exactly */
    for (int t = 1; t <= n && rc == 0; t++) {
        int chunk = a.tok_chunk[t];
        long acc_x = prefix_at(a.src_prefix, a.n_src_chunk, chunk);
        long acc_y = prefix_at(a.tgt_prefix, a.n_tgt_chunk, chunk);
        long s = t - (acc_y - acc_x > 0 ? acc_y - acc_x : 0);
        long current = prefix_at(a.src_prefix, a.n_src_chunk, chunk + 1);
        if (s >= current) s = current;
        if (s < 0 || s > a.n_src_tok) rc = px_error("latency: ATD: delays out of order (token %d)", t);
        else {
            double x = a.tgt_time[t] - a.src_time[s], y = sum + x;
            c += fabs(sum) >= fabs(x) ? (sum - y) + x : (x - y) + sum;
            sum = y;
        }
    }
    if (rc == 0) *out = (sum + c) / n;
    atd_free(&a);
    return rc;
}
