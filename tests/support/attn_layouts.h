/* attn_layouts.h — packed attention layouts long enough to cross the attention kernel's row tiles
 * (kernels.c: 64 rows, cut at block starts), for the attention tests. */
#ifndef PROACT_TEST_ATTN_LAYOUTS_H
#define PROACT_TEST_ATTN_LAYOUTS_H

#include "src/model/model.h"

typedef struct {
    int n_rows, n_seqs;
    int seq_start[8];
    int pos[1024], vis[1024], blk[1024];
    AttnLayout lay;
    const char *name;
} LongLayout;

enum { N_LONG_LAYOUTS = 4 };

/* Layout k < N_LONG_LAYOUTS:
 *   0: two causal sequences of 200 and 77 rows;
 *   1: a synchronized SPSD sequence [source 40 | student 50 | teacher 50], the student reading a
 *      growing source prefix (3..37), then a causal sequence of 30 rows;
 *   2: the same with a student that reads the whole source from its 20th row on (one key range);
 *   3: rows that see keys after themselves (a visible prefix longer than the row index). */
void long_layout(LongLayout *l, int k);

#endif
