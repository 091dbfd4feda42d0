/* schedule.c — read schedules and the synchronized SPSD layout (see schedule.h). */
#include "src/train/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

const char *schedule_name(ScheduleKind k) {
    static const char *const names[] = {"random", "cuts", "waitk", "full"};
    return names[k];
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Geometric on {0, 1, 2, ...} with the given mean: P(k) = (1-p)^k p, p = 1/(1+mean); capped
 * at `cap` (a draw from the far tail would overflow an int). */
static int geometric(Rng *rng, double mean, int cap) {
    if (mean <= 0) return 0;
    double u = 1.0 - rng_uniform(rng); /* (0, 1] */
    double k = floor(log(u) / log(1.0 - 1.0 / (1.0 + mean)));
    return k < cap ? (int)k : cap;
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
            if (rng_uniform(rng) < c->p_full) {
                for (int j = 0; j < m; j++) g[j] = all;
                return;
            }
            int k0 = c->k_min + (int)rng_below(rng, (uint64_t)(c->k_max - c->k_min + 1));
            g[0] = PX_MAX(1, PX_MIN(k0, all));
            for (int j = 1; j < m; j++) {
                int step = geometric(rng, c->mean_step, all); /* drawn once: PX_MIN evaluates twice */
                g[j] = PX_MIN(all, g[j - 1] + step);
            }
            return;
    }
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

int spsd_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                   SpsdRows *rows) {
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
    if (packed_batch_begin_sequence(b, S + 2 * (T - 1))) return -1;
    /* source rows: causal over the source; they predict nothing */
    for (int t = 0; t < S; t++) {
        int tok = t < tp->prompt.n        ? tp->prompt.ids[t]
                  : t < tp->prompt.n + ns ? src[t - tp->prompt.n]
                                          : tp->src_end.ids[t - tp->prompt.n - ns];
        packed_batch_push_row(b, tok, -1, t, 0, 0);
    }
    /* the student copy, then the teacher copy */
    const int predicted_from = tp->tgt_begin.n; /* copy tokens from here on are predicted */
    for (int copy = 0; copy < 2; copy++) {
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
