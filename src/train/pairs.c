#include "src/train/pairs.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

void pair_set_free(PairSet *s) {
    void *all[] = {s->src_tokens,    s->tgt_tokens,   s->src_off,      s->tgt_off,  s->src_word_ends,
                   s->tgt_word_ends, s->src_word_off, s->tgt_word_off, s->src_text, s->tgt_text,
                   s->src_text_off,  s->tgt_text_off, s->line};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(s, 0, sizeof *s);
}

/* Copies the ragged rows idx of (off, data) into (*off_out, *data_out). */
static int select_ragged(const int64_t *off, const void *data, size_t elem, const int64_t *idx, int n,
                         int64_t **off_out, void **data_out) {
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += off[idx[k] + 1] - off[idx[k]];
    int64_t *o = malloc(sizeof(int64_t) * ((size_t)n + 1));
    char *d = malloc(elem * (size_t)(total ? total : 1));
    if (!o || !d) {
        free(o);
        free(d);
        return px_error("out of memory selecting %d examples", n);
    }
    o[0] = 0;
    for (int k = 0; k < n; k++) {
        int64_t len = off[idx[k] + 1] - off[idx[k]];
        memcpy(d + elem * (size_t)o[k], (const char *)data + elem * (size_t)off[idx[k]], elem * (size_t)len);
        o[k + 1] = o[k] + len;
    }
    *off_out = o;
    *data_out = d;
    return 0;
}

int pair_set_select(const PairSet *src, const int64_t *idx, int n, PairSet *out) {
    memset(out, 0, sizeof *out);
    out->first = -1;
    out->count = n;
    for (int k = 0; k < n; k++)
        if (idx[k] < 0 || idx[k] >= src->count)
            return px_error("example %lld is out of range (the set has %lld)", (long long)idx[k],
                            (long long)src->count);
    int rc =
        select_ragged(src->src_off, src->src_tokens, sizeof(int), idx, n, &out->src_off, (void **)&out->src_tokens) ||
                select_ragged(src->tgt_off, src->tgt_tokens, sizeof(int), idx, n, &out->tgt_off,
                              (void **)&out->tgt_tokens) ||
                select_ragged(src->src_word_off, src->src_word_ends, sizeof(int), idx, n, &out->src_word_off,
                              (void **)&out->src_word_ends) ||
                select_ragged(src->tgt_word_off, src->tgt_word_ends, sizeof(int), idx, n, &out->tgt_word_off,
                              (void **)&out->tgt_word_ends) ||
                select_ragged(src->src_text_off, src->src_text, 1, idx, n, &out->src_text_off,
                              (void **)&out->src_text) ||
                select_ragged(src->tgt_text_off, src->tgt_text, 1, idx, n, &out->tgt_text_off, (void **)&out->tgt_text)
            ? -1
            : 0;
    if (rc == 0) {
        out->line = malloc(sizeof(int64_t) * ((size_t)n + 1));
        if (!out->line) rc = px_error("out of memory selecting %d examples", n);
        else
            for (int k = 0; k < n; k++) out->line[k] = src->line[idx[k]];
    }
    if (rc) pair_set_free(out);
    return rc;
}

static int span_max(const int *ids, int64_t n, int mx) {
    for (int64_t i = 0; i < n; i++) mx = ids[i] > mx ? ids[i] : mx;
    return mx;
}

int pair_set_max_token(const PairSet *s, const TemplatePieces *tp) {
    int mx = span_max(s->src_tokens, s->src_off[s->count], -1);
    mx = span_max(s->tgt_tokens, s->tgt_off[s->count], mx);
    for (int i = 0; i < TEMPLATE_PIECES; i++) {
        const IdVec *p = template_piece_const(tp, i);
        mx = span_max(p->ids, p->n, mx);
    }
    return mx;
}

int pair_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e) {
    const int *src = s->src_tokens + s->src_off[e], *tgt = s->tgt_tokens + s->tgt_off[e];
    int ns = (int)(s->src_off[e + 1] - s->src_off[e]), nt = (int)(s->tgt_off[e + 1] - s->tgt_off[e]);
    int len = tp->prompt.n + ns + tp->src_end.n + tp->tgt_begin.n + nt + tp->tgt_end.n;
    int *seq = malloc(sizeof(int) * (size_t)len);
    unsigned char *predict = calloc((size_t)len, 1);
    if (!seq || !predict) {
        free(seq);
        free(predict);
        return px_error("out of memory building a sequence of %d tokens", len);
    }
    int k = 0;
    const struct {
        const int *ids;
        int n, predicted;
    } parts[] = {{tp->prompt.ids, tp->prompt.n, 0},       {src, ns, 0}, {tp->src_end.ids, tp->src_end.n, 0},
                 {tp->tgt_begin.ids, tp->tgt_begin.n, 0}, {tgt, nt, 1}, {tp->tgt_end.ids, tp->tgt_end.n, 1}};
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        memcpy(seq + k, parts[p].ids, sizeof(int) * (size_t)parts[p].n);
        memset(predict + k, parts[p].predicted, (size_t)parts[p].n);
        k += parts[p].n;
    }
    int rc = packed_batch_add_causal(b, seq, predict, len);
    free(seq);
    free(predict);
    return rc;
}

typedef struct {
    double cost;
    int index;
} Job;

static int by_cost_desc(const void *a, const void *b) {
    const Job *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
    return x->index - y->index; /* stable: the same order on every rank */
}

void split_range(int64_t n, int rank, int size, int64_t *first, int64_t *count) {
    /* the first n % size ranks get one extra example */
    int64_t base = n / size, extra = n % size;
    *first = rank * base + (rank < extra ? rank : extra);
    *count = base + (rank < extra ? 1 : 0);
}

int balance_by_cost(const double *cost, int n, int size, int *owner) {
    Job *jobs = malloc(sizeof *jobs * (size_t)(n ? n : 1));
    double *load = calloc((size_t)size, sizeof *load);
    if (!jobs || !load) {
        free(jobs);
        free(load);
        return px_error("out of memory balancing %d examples", n);
    }
    for (int k = 0; k < n; k++) jobs[k] = (Job){cost[k], k};
    qsort(jobs, (size_t)n, sizeof *jobs, by_cost_desc);
    for (int k = 0; k < n; k++) {
        int best = 0;
        for (int r = 1; r < size; r++)
            if (load[r] < load[best]) best = r;
        owner[jobs[k].index] = best;
        load[best] += jobs[k].cost;
    }
    free(jobs);
    free(load);
    return 0;
}

static void shuffle(PairSampler *ps) {
    for (int64_t i = ps->n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(&ps->rng, (uint64_t)i + 1), t = ps->order[i];
        ps->order[i] = ps->order[j];
        ps->order[j] = t;
    }
}

int pair_sampler_init(PairSampler *ps, int64_t n, uint64_t seed) {
    memset(ps, 0, sizeof *ps);
    if (n <= 0) return px_error("no examples to sample from");
    ps->order = px_calloc((size_t)n, sizeof(int64_t), "sampling order");
    if (!ps->order) return -1;
    ps->n = n;
    for (int64_t i = 0; i < n; i++) ps->order[i] = i;
    rng_seed(&ps->rng, seed);
    shuffle(ps);
    return 0;
}

int64_t pair_sampler_next(PairSampler *ps) {
    if (ps->next == ps->n) {
        ps->next = 0;
        ps->epoch++;
        shuffle(ps);
    }
    return ps->order[ps->next++];
}

void pair_sampler_free(PairSampler *ps) {
    free(ps->order);
    memset(ps, 0, sizeof *ps);
}
