/* attn_layouts.c — the long attention layouts of attn_layouts.h. */
#include "tests/support/attn_layouts.h"

static void add_row(LongLayout *l, int pos, int vis, int blk) {
    l->pos[l->n_rows] = pos, l->vis[l->n_rows] = vis, l->blk[l->n_rows] = blk;
    l->n_rows++;
}

static void end_seq(LongLayout *l) { l->seq_start[++l->n_seqs] = l->n_rows; }

static void causal(LongLayout *l, int len) {
    for (int t = 0; t < len; t++) add_row(l, t, 0, 0);
    end_seq(l);
}

/* [source S | student T | teacher T]; the student's row i sees the first vis(i) source keys */
static void spsd(LongLayout *l, int S, int T, int full_from) {
    for (int t = 0; t < S; t++) add_row(l, t, 0, 0);
    for (int i = 0; i < T; i++) add_row(l, S + i, i >= full_from ? S : 3 + (i * (S - 6)) / T, S);
    for (int i = 0; i < T; i++) add_row(l, S + i, S, S + T);
    end_seq(l);
}

void long_layout(LongLayout *l, int k) {
    l->n_rows = l->n_seqs = 0;
    l->seq_start[0] = 0;
    switch (k) {
        case 0:
            l->name = "causal 200 + 77";
            causal(l, 200);
            causal(l, 77);
            break;
        case 1:
            l->name = "spsd 40|50|50 + causal 30";
            spsd(l, 40, 50, 1 << 30);
            causal(l, 30);
            break;
        case 2:
            l->name = "spsd 40|50|50, student reads all from row 20";
            spsd(l, 40, 50, 20);
            break;
        default:
            l->name = "rows seeing later keys";
            for (int t = 0; t < 150; t++) add_row(l, t, t % 3 == 0 ? 150 : (t % 3 == 1 ? t / 2 : 0), t < 90 ? 0 : 90);
            end_seq(l);
            break;
    }
    l->lay = (AttnLayout){.n_rows = l->n_rows,
                          .n_seqs = l->n_seqs,
                          .seq_start = l->seq_start,
                          .pos = l->pos,
                          .vis_prefix = l->vis,
                          .blk_start = l->blk};
}
