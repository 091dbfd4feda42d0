#include "pairs.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

void pair_set_free(PairSet *s) {
    void *all[] = {s->src_tokens, s->tgt_tokens, s->src_off, s->tgt_off, s->src_word_ends, s->tgt_word_ends,
                   s->src_word_off, s->tgt_word_off, s->src_text, s->tgt_text, s->src_text_off, s->tgt_text_off,
                   s->line};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(s, 0, sizeof *s);
}

static int span_max(const int *ids, int64_t n, int mx) {
    for (int64_t i = 0; i < n; i++) mx = ids[i] > mx ? ids[i] : mx;
    return mx;
}

int pair_set_max_token(const PairSet *s, const TemplatePieces *tp) {
    int mx = span_max(s->src_tokens, s->src_off[s->count], -1);
    mx = span_max(s->tgt_tokens, s->tgt_off[s->count], mx);
    const TokenSpan *pieces[4] = {&tp->prompt, &tp->src_end, &tp->tgt_begin, &tp->tgt_end};
    for (int i = 0; i < 4; i++) mx = span_max(pieces[i]->ids, pieces[i]->n, mx);
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
    const struct { const int *ids; int n, predicted; } parts[] = {
        {tp->prompt.ids, tp->prompt.n, 0}, {src, ns, 0},         {tp->src_end.ids, tp->src_end.n, 0},
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
