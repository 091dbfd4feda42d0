/* schedule.c — read schedules and the synchronized SPSD layout (see schedule.h). */
#include "src/train/schedule.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

const char *const SCHEDULE_NAMES[SCHEDULE_KINDS + 1] = {
    [SCHEDULE_RANDOM] = "random", [SCHEDULE_CUTS] = "cuts", [SCHEDULE_WAITK] = "waitk",
    [SCHEDULE_FULL] = "full",     [SCHEDULE_BAND] = "band", NULL,
};

const char *schedule_name(ScheduleKind k) { return (unsigned)k < SCHEDULE_KINDS ? SCHEDULE_NAMES[k] : "?"; }

/* ---------------------------------------------------------------- parameters */

/* Bound of the integer parameters, far beyond any sentence: lag + j stays inside an int. */
#define PARAM_LIMIT 1000000

typedef enum { PARAM_INT, PARAM_FLOAT, PARAM_LAG_FLOOR } ParamType;

/* The sampler parameters, in the order a spec lists them; kinds: the kinds that read them. */
typedef struct {
    const char *key;
    ParamType type;
    size_t offset;
    unsigned kinds;
} Param;

#define KIND(k) (1u << (k))
static const Param params[] = {
    {"k_min", PARAM_INT, offsetof(StreamConfig, k_min), KIND(SCHEDULE_RANDOM)},
    {"k_max", PARAM_INT, offsetof(StreamConfig, k_max), KIND(SCHEDULE_RANDOM)},
    {"mean_step", PARAM_FLOAT, offsetof(StreamConfig, mean_step), KIND(SCHEDULE_RANDOM)},
    {"min_lag", PARAM_INT, offsetof(StreamConfig, min_lag), KIND(SCHEDULE_BAND)},
    {"max_lag", PARAM_INT, offsetof(StreamConfig, max_lag), KIND(SCHEDULE_BAND)},
    {"p_full", PARAM_FLOAT, offsetof(StreamConfig, p_full), KIND(SCHEDULE_RANDOM) | KIND(SCHEDULE_BAND)},
    {"lag_floor", PARAM_LAG_FLOOR, offsetof(StreamConfig, lag_floor), KIND(SCHEDULE_RANDOM)},
    {"drift", PARAM_FLOAT, offsetof(StreamConfig, drift), KIND(SCHEDULE_RANDOM)},
    {"k", PARAM_INT, offsetof(StreamConfig, k), KIND(SCHEDULE_WAITK)},
};
enum { N_PARAMS = (int)(sizeof params / sizeof params[0]) };

static const Param *find_param(const char *key, size_t len) {
    for (int i = 0; i < N_PARAMS; i++)
        if (strlen(params[i].key) == len && memcmp(params[i].key, key, len) == 0) return &params[i];
    return NULL;
}

void schedule_defaults(StreamConfig *c) {
    c->kind = SCHEDULE_RANDOM;
    c->k_min = 1;
    c->k_max = 3;
    c->mean_step = 1.0f;
    c->p_full = 0.1f;
    c->has_lag_floor = 0;
    c->lag_floor = 0;
    c->drift = 0.0f;
    c->min_lag = 1;
    c->max_lag = 3;
    c->k = 3;
}

const char *schedule_invalid(const StreamConfig *c, char *msg, size_t size) {
#define INVALID(cond, key, ...)               \
    do {                                      \
        if (cond) {                           \
            snprintf(msg, size, __VA_ARGS__); \
            return key;                       \
        }                                     \
    } while (0)
    const int L = PARAM_LIMIT;
    INVALID(c->k_min < 1 || c->k_min > L, "k_min", "must be in 1..%d, got %d", L, c->k_min);
    INVALID(c->k_max < c->k_min || c->k_max > L, "k_max", "must be in k_min = %d..%d, got %d", c->k_min, L, c->k_max);
    INVALID(!(c->mean_step >= 0 && c->mean_step <= L), "mean_step", "must be in 0..%d, got %g", L,
            (double)c->mean_step);
    INVALID(!(c->p_full >= 0 && c->p_full <= 1), "p_full", "must be in [0, 1], got %g", (double)c->p_full);
    INVALID(c->has_lag_floor && (c->lag_floor < -L || c->lag_floor > L), "lag_floor",
            "must be none or in -%d..%d, got %d", L, L, c->lag_floor);
    INVALID(!(c->drift >= 0 && c->drift <= L), "drift", "must be in 0..%d, got %g", L, (double)c->drift);
    INVALID(c->min_lag < -L || c->min_lag > L, "min_lag", "must be in -%d..%d, got %d", L, L, c->min_lag);
    INVALID(c->max_lag < c->min_lag || c->max_lag > L, "max_lag", "must be in min_lag = %d..%d, got %d", c->min_lag, L,
            c->max_lag);
    INVALID(c->k < 1 || c->k > L, "k", "must be in 1..%d, got %d", L, c->k);
#undef INVALID
    return NULL;
}

int schedule_set(StreamConfig *c, const char *key, const char *value) {
    const Param *p = find_param(key, strlen(key));
    if (!p) return px_error("unknown schedule parameter '%s'", key);
    char *at = (char *)c + p->offset, *end = NULL;
    if (p->type == PARAM_LAG_FLOOR && strcmp(value, "none") == 0) {
        c->has_lag_floor = 0;
        c->lag_floor = 0;
        return 0;
    }
    errno = 0;
    if (p->type == PARAM_FLOAT) {
        double v = strtod(value, &end);
        if (end == value || *end || isspace((unsigned char)value[0]) || errno == ERANGE || !isfinite(v) ||
            fabs(v) > FLT_MAX)
            return px_error("%s: expected a number, got '%s'", key, value);
        float f = (float)v;
        memcpy(at, &f, sizeof f);
        return 0;
    }
    long v = strtol(value, &end, 10);
    if (end == value || *end || isspace((unsigned char)value[0]) || errno == ERANGE || v < INT_MIN || v > INT_MAX)
        return px_error("%s: expected %s, got '%s'", key,
                        p->type == PARAM_LAG_FLOOR ? "none or an integer" : "an integer", value);
    int i = (int)v;
    memcpy(at, &i, sizeof i);
    if (p->type == PARAM_LAG_FLOOR) c->has_lag_floor = 1;
    return 0;
}

int schedule_format(const StreamConfig *c, char *buf, size_t size) {
    if ((unsigned)c->kind >= SCHEDULE_KINDS) return px_error("schedule kind %d is not one of the kinds", (int)c->kind);
    int w = snprintf(buf, size, "%s", SCHEDULE_NAMES[c->kind]);
    size_t len = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < N_PARAMS && w >= 0 && len < size; i++) {
        const Param *p = &params[i];
        if (!(p->kinds & KIND(c->kind))) continue;
        const char *at = (const char *)c + p->offset;
        char value[40];
        int iv;
        float fv;
        if (p->type == PARAM_FLOAT) {
            memcpy(&fv, at, sizeof fv);
            px_format_float(fv, value, sizeof value);
        } else if (p->type == PARAM_LAG_FLOOR && !c->has_lag_floor) {
            snprintf(value, sizeof value, "none");
        } else {
            memcpy(&iv, at, sizeof iv);
            snprintf(value, sizeof value, "%d", iv);
        }
        const int first = len == strlen(SCHEDULE_NAMES[c->kind]);
        w = snprintf(buf + len, size - len, "%s%s=%s", first ? ":" : ",", p->key, value);
        if (w > 0) len += (size_t)w;
    }
    if (w < 0 || len >= size)
        return px_error("the schedule spec of %s does not fit %zu bytes", SCHEDULE_NAMES[c->kind], size);
    return 0;
}

int schedule_parse(const char *spec, StreamConfig *c) {
    StreamConfig t = *c;
    schedule_defaults(&t);
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    int kind = -1;
    for (int k = 0; k < SCHEDULE_KINDS && kind < 0; k++)
        if (strlen(SCHEDULE_NAMES[k]) == name_len && memcmp(SCHEDULE_NAMES[k], spec, name_len) == 0) kind = k;
    if (kind < 0)
        return px_error("schedule '%s': unknown kind '%.*s' (expected random, band, cuts, waitk or full)", spec,
                        (int)name_len, spec);
    t.kind = (ScheduleKind)kind;
    unsigned seen = 0;
    for (const char *item = colon ? colon + 1 : NULL; item;) {
        const char *comma = strchr(item, ','), *item_end = comma ? comma : item + strlen(item);
        const char *eq = memchr(item, '=', (size_t)(item_end - item));
        if (!eq) return px_error("schedule '%s': expected key=value, got '%.*s'", spec, (int)(item_end - item), item);
        const Param *p = find_param(item, (size_t)(eq - item));
        if (!p || !(p->kinds & KIND(kind))) {
            char keys[128] = "";
            for (int i = 0; i < N_PARAMS; i++)
                if (params[i].kinds & KIND(kind))
                    snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", keys[0] ? ", " : "",
                             params[i].key);
            return px_error("schedule '%s': unknown key '%.*s' for %s (%s%s)", spec, (int)(eq - item), item,
                            SCHEDULE_NAMES[kind], keys[0] ? "expected: " : "it takes none", keys);
        }
        const unsigned bit = 1u << (p - params);
        if (seen & bit) return px_error("schedule '%s': %s given twice", spec, p->key);
        seen |= bit;
        char value[64];
        if ((size_t)(item_end - eq - 1) >= sizeof value)
            return px_error("schedule '%s': %s: value too long", spec, p->key);
        snprintf(value, sizeof value, "%.*s", (int)(item_end - eq - 1), eq + 1);
        if (schedule_set(&t, p->key, value)) {
            char why[256];
            snprintf(why, sizeof why, "%s", px_error_message()); /* px_error overwrites it */
            return px_error("schedule '%s': %s", spec, why);
        }
        item = comma ? comma + 1 : NULL;
    }
    char msg[160];
    const char *bad = schedule_invalid(&t, msg, sizeof msg);
    if (bad) return px_error("schedule '%s': %s %s", spec, bad, msg);
    *c = t;
    return 0;
}

/* ---------------------------------------------------------------- samplers */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Geometric on {0, 1, 2, ...} with the given mean: P(k) = (1-p)^k p, p = 1/(1+mean); capped
 * at `cap` (a draw from the far tail would overflow an int). */
static int geometric(Rng *rng, double mean, int cap) {
    if (mean <= 0) return 0;
    double u = 1.0 - rng_uniform(rng); /* (0, 1] */
    double k = floor(log(u) / log(1.0 - 1.0 / (1.0 + mean)));
    return k < cap ? (int)k : cap;
}

static int clip(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* random: k0 ~ U{k_min..k_max}, then geometric steps; the floor and the drift only when set,
 * so that the defaults draw exactly what they always drew (the same generator calls). */
static void sample_random(const StreamConfig *c, int n, int m, Rng *rng, int *g) {
    const int all = n + 1;
    int k0 = c->k_min + (int)rng_below(rng, (uint64_t)(c->k_max - c->k_min + 1));
    g[0] = PX_MAX(1, PX_MIN(k0, all));
    if (c->has_lag_floor) g[0] = PX_MAX(g[0], clip(c->lag_floor, 1, all));
    for (int j = 1; j < m; j++) {
        double mean = c->mean_step;
        if (c->drift > 0) /* spread the unread source over the words still to write */
            mean = PX_MAX(mean, (double)c->drift * (all - g[j - 1]) / (m - j));
        int step = geometric(rng, mean, all); /* drawn once: PX_MIN evaluates twice */
        g[j] = PX_MIN(all, g[j - 1] + step);
        if (c->has_lag_floor) g[j] = PX_MAX(g[j], clip(c->lag_floor + j, 1, all)); /* word j+1: lag_floor + j */
    }
}

/* band: the lag walks inside [min_lag, max_lag]: lag(1) ~ U{min_lag..max_lag}, then
 * lag(j+1) = lag(j) - 1 + delta with delta uniform on {0, 1, 2}, clipped to the band (a lazy
 * symmetric walk: in the long run every lag of the band is equally likely). g(j) = lag(j) + j - 1
 * clipped to 1..n+1; monotone because the lag falls by at most 1 per word. */
static void sample_band(const StreamConfig *c, int n, int m, Rng *rng, int *g) {
    const int all = n + 1;
    int lag = c->min_lag + (int)rng_below(rng, (uint64_t)((int64_t)c->max_lag - c->min_lag + 1));
    for (int j = 0; j < m; j++) {
        if (j > 0) lag = clip(lag - 1 + (int)rng_below(rng, 3), c->min_lag, c->max_lag);
        g[j] = clip(lag + j, 1, all);
    }
}

void schedule_sample(const StreamConfig *c, int n, int m, Rng *rng, int *g) {
    const int all = n + 1;
    switch (c->kind) {
        case SCHEDULE_FULL:
            for (int j = 0; j < m; j++) g[j] = all;
            return;
        case SCHEDULE_WAITK:
            for (int j = 0; j < m; j++) g[j] = PX_MIN(c->k + j, all);
            return;
        case SCHEDULE_CUTS:
            for (int j = 0; j < m; j++) g[j] = 1 + (int)rng_below(rng, (uint64_t)all);
            qsort(g, (size_t)m, sizeof *g, cmp_int);
            return;
        case SCHEDULE_RANDOM:
        case SCHEDULE_BAND:
            if (rng_uniform(rng) < c->p_full) {
                for (int j = 0; j < m; j++) g[j] = all;
                return;
            }
            if (c->kind == SCHEDULE_RANDOM) sample_random(c, n, m, rng, g);
            else sample_band(c, n, m, rng, g);
            return;
    }
}

/* ---------------------------------------------------------------- lag histogram */

const char *lag_bucket_name(int bucket) {
    static const char *const names[LAG_BUCKETS] = {"<0", "0", "1", "2", "3", "4", "5", ">=6", "full"};
    _Static_assert(LAG_BUCKETS == 9, "the bucket names follow SCHEDULE_LAG_CAP");
    return bucket >= 0 && bucket < LAG_BUCKETS ? names[bucket] : "?";
}

void lag_histogram_add(LagHistogram *h, const int *g, int n, int m) {
    for (int j = 0; j < m; j++) {
        const int lag = g[j] - j; /* word j+1: g - (j+1 - 1) */
        const int b = g[j] > n ? LAG_BUCKETS - 1 : lag < 0 ? 0 : 1 + PX_MIN(lag, SCHEDULE_LAG_CAP);
        h->words[b]++;
    }
    h->examples++;
}

int schedule_lag_histogram(const StreamConfig *c, const int *n, const int *m, int64_t count, uint64_t seed,
                           LagHistogram *h) {
    memset(h, 0, sizeof *h);
    int max_m = 1;
    for (int64_t i = 0; i < count; i++) max_m = PX_MAX(max_m, m[i]);
    int *g = px_calloc((size_t)max_m, sizeof *g, "a read schedule");
    if (!g) return -1;
    for (int64_t i = 0; i < count; i++) {
        Rng rng;
        rng_seed(&rng, seed * 0x9e3779b97f4a7c15ULL ^ (uint64_t)i);
        schedule_sample(c, n[i], m[i], &rng, g);
        lag_histogram_add(h, g, n[i], m[i]);
    }
    free(g);
    return 0;
}

int pair_src_words(const PairSet *s, int64_t e) { return (int)(s->src_word_off[e + 1] - s->src_word_off[e]); }
int pair_tgt_words(const PairSet *s, int64_t e) { return (int)(s->tgt_word_off[e + 1] - s->tgt_word_off[e]); }

/* One copy of the target: tgt_begin, the target tokens, tgt_end. */
typedef struct {
    const int *tokens;    /* target tokens of the example */
    const int *word_ends; /* per target word: end token index */
    int nt, m;            /* target tokens, target words */
    const TemplatePieces *tp;
} Copy;

static int copy_len(const Copy *c) { return c->tp->tgt_begin.n + c->nt + c->tp->tgt_end.n; }

static int copy_token(const Copy *c, int k) {
    int tb = c->tp->tgt_begin.n;
    if (k < tb) return c->tp->tgt_begin.ids[k];
    if (k < tb + c->nt) return c->tokens[k - tb];
    return c->tp->tgt_end.ids[k - tb - c->nt];
}

/* Target word (1..m) that copy token k belongs to; tgt_begin counts as word 1 (it is written
 * with the first word), tgt_end as m+1 (written when everything has been read). */
static int copy_word(const Copy *c, int k) {
    int tb = c->tp->tgt_begin.n;
    if (k < tb) return 1;
    if (k >= tb + c->nt) return c->m + 1;
    int j = 0;
    while (c->word_ends[j] <= k - tb) j++;
    return j + 1;
}

/* [source | student] and, with copies = 2, [teacher] after it. */
static int layout_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                      int copies, SpsdRows *rows) {
    const int *src = s->src_tokens + s->src_off[e];
    const int *src_ends = s->src_word_ends + s->src_word_off[e];
    const int ns = (int)(s->src_off[e + 1] - s->src_off[e]), n = pair_src_words(s, e);
    const int S = tp->prompt.n + ns + tp->src_end.n;
    Copy c = {s->tgt_tokens + s->tgt_off[e], s->tgt_word_ends + s->tgt_word_off[e],
              (int)(s->tgt_off[e + 1] - s->tgt_off[e]), pair_tgt_words(s, e), tp};
    const int T = copy_len(&c);
    for (int j = 0; j < c.m; j++) /* a bad schedule would index outside the source word ends */
        if (g[j] < 1 || g[j] > n + 1 || (j > 0 && g[j] < g[j - 1]))
            return px_error("example %lld: read schedule g(%d) = %d is not monotone in 1..%d",
                            (long long)(s->first + e), j + 1, g[j], n + 1);
    if (T < 2) return px_error("example %lld: the target copy has fewer than 2 tokens", (long long)(s->first + e));
    if (packed_batch_begin_sequence(b, S + copies * (T - 1))) return -1;
    /* source rows: causal over the source; they predict nothing */
    for (int t = 0; t < S; t++) {
        int tok = t < tp->prompt.n        ? tp->prompt.ids[t]
                  : t < tp->prompt.n + ns ? src[t - tp->prompt.n]
                                          : tp->src_end.ids[t - tp->prompt.n - ns];
        packed_batch_push_row(b, tok, -1, t, 0, 0);
    }
    /* the student copy, then (copies = 2) the teacher copy */
    const int predicted_from = tp->tgt_begin.n; /* copy tokens from here on are predicted */
    if (rows) rows->teacher_first = -1;
    for (int copy = 0; copy < copies; copy++) {
        int start = packed_batch_sequence_rows(b);
        if (rows) *(copy == 0 ? &rows->student_first : &rows->teacher_first) = b->n_rows;
        for (int i = 0; i + 1 < T; i++) {
            int vis = S;
            if (copy == 0) {
                int j = copy_word(&c, i + 1); /* shift by one: the NEXT token's word */
                int gj = j <= c.m ? g[j - 1] : n + 1;
                vis = gj > n ? S : tp->prompt.n + src_ends[gj - 1];
            }
            int target = i + 1 >= predicted_from ? copy_token(&c, i + 1) : -1;
            packed_batch_push_row(b, copy_token(&c, i), target, phi + i, vis, start);
        }
    }
    if (rows) rows->n_copy_rows = T - 1;
    packed_batch_end_sequence(b);
    return 0;
}

int spsd_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                   SpsdRows *rows) {
    return layout_add(b, s, tp, e, g, phi, 2, rows);
}

int student_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                      SpsdRows *rows) {
    return layout_add(b, s, tp, e, g, phi, 1, rows);
}
