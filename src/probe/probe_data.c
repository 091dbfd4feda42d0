/* probe_data.c — features and self-labels for fitting the probe head (probe_data.h). */
#include "src/probe/probe_data.h"

#include <string.h>

#include "src/base/common.h"
#include "src/stream/logits.h"
#include "src/train/schedule.h"

int probe_collector_init(ProbeCollector *pc, const Model *m) {
    memset(pc, 0, sizeof *pc);
    if (kv_cache_init(&pc->student, &m->cfg, 64, 64) || kv_cache_init(&pc->teacher, &m->cfg, 64, 64)) {
        probe_collector_free(pc);
        return -1;
    }
    return 0;
}

void probe_collector_free(ProbeCollector *pc) {
    kv_cache_free(&pc->student);
    kv_cache_free(&pc->teacher);
    decode_scratch_free(&pc->ss);
    decode_scratch_free(&pc->ts);
    memset(pc, 0, sizeof *pc);
}

int probe_encode_source(const Model *m, KvCache *c, DecodeScratch *sc, const TemplatePieces *tp, const int *src,
                        int ns) {
    kv_cache_reset(c);
    return decode_forward(m, c, sc, tp->prompt.ids, tp->prompt.n, DECODE_SOURCE, 0, 0, 0) ||
                   decode_forward(m, c, sc, src, ns, DECODE_SOURCE, 0, 0, 0) ||
                   decode_forward(m, c, sc, tp->src_end.ids, tp->src_end.n, DECODE_SOURCE, 0, 0, 0)
               ? -1
               : 0;
}

int probe_collect_example(ProbeCollector *pc, const Model *m, const StreamFormat *fmt, const PairSet *s, int64_t e,
                          const int *g, int attn_window, double *feat, double *label, int *n_points) {
    const TemplatePieces *tp = &fmt->tp;
    const int *src = s->src_tokens + s->src_off[e], *src_ends = s->src_word_ends + s->src_word_off[e];
    const int *tgt = s->tgt_tokens + s->tgt_off[e], *tgt_ends = s->tgt_word_ends + s->tgt_word_off[e];
    const int ns = (int)(s->src_off[e + 1] - s->src_off[e]), n = pair_src_words(s, e), mw = pair_tgt_words(s, e);
    const int S = tp->prompt.n + ns + tp->src_end.n, d = m->cfg.hidden_size, V = m->cfg.vocab_size, phi = fmt->phi;
    *n_points = 0;
    for (int j = 0; j < mw; j++)
        if (g[j] < 1 || g[j] > n + 1 || (j > 0 && g[j] < g[j - 1]))
            return px_error("example %lld: read schedule g(%d) = %d is not monotone in 1..%d",
                            (long long)(s->first + e), j + 1, g[j], n + 1);
    if (probe_encode_source(m, &pc->student, &pc->ss, tp, src, ns) ||
        probe_encode_source(m, &pc->teacher, &pc->ts, tp, src, ns))
        return -1;
    for (int j = 1; j <= mw; j++) {
        const int gj = g[j - 1], vis = gj > n ? S : tp->prompt.n + src_ends[gj - 1];
        const int w0 = j > 1 ? tgt_ends[j - 2] : 0, w1 = tgt_ends[j - 1]; /* word j's tokens [w0, w1) */
        /* the decision row for word j: tgt_begin (j = 1) or word j-1's last token, popped and refed
         * with the g(j) words read since (pop and refeed, as the runner does) */
        int rc;
        if (j == 1) {
            rc = decode_forward(m, &pc->student, &pc->ss, tp->tgt_begin.ids, tp->tgt_begin.n, DECODE_TARGET, vis, phi,
                                1) ||
                 decode_forward(m, &pc->teacher, &pc->ts, tp->tgt_begin.ids, tp->tgt_begin.n, DECODE_TARGET, S, phi, 1);
        } else {
            kv_cache_pop_target(&pc->student, 1);
            rc = decode_forward(m, &pc->student, &pc->ss, &tgt[w0 - 1], 1, DECODE_TARGET, vis, phi, 1);
        }
        if (rc) return -1;
        if (gj <= n) { /* the source is not finished: a real decision */
            Cues c;
            decode_cues(m, &pc->ss, attn_window, NULL, 0, NULL, 0, &c);
            cues_set_position(&c, gj, j);
            probe_features(&c, d, feat + (size_t)*n_points * (size_t)probe_feature_dim(d));
            label[*n_points] = logits_argmax(pc->ss.logits, V) == logits_argmax(pc->ts.logits, V);
            (*n_points)++;
        }
        /* write word j with the reference tokens: the student sees g(j) words, the teacher all;
         * the teacher's last row predicts word j+1's first token */
        if (decode_forward(m, &pc->student, &pc->ss, tgt + w0, w1 - w0, DECODE_TARGET, vis, phi, 0) ||
            (j < mw && decode_forward(m, &pc->teacher, &pc->ts, tgt + w0, w1 - w0, DECODE_TARGET, S, phi, 1)))
            return -1;
    }
    return 0;
}
