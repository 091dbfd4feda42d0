/* test_shard_slices — under mpirun -np N: rank 0 writes a token shard of 101 synthetic
 * examples; every rank reads its slice by hyperslab; rank 0 checks that the slices are
 * disjoint, cover every example exactly once, and equal a full single-process read. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/shards.h"
#include "mpi/world.h"
#include "src/base/common.h"

enum { N_EXAMPLES = 101 };

/* Example i: i%7+1 source words of 2 tokens, i%5+1 target words of 1 token; token values
 * encode (i, position) so that any misplacement shows. */
static int write_shard(const char *path) {
    ShardWriter *w = shard_writer_new();
    if (!w) return -1;
    for (int i = 0; i < N_EXAMPLES; i++) {
        int ns = i % 7 + 1, nt = i % 5 + 1, src[16], tgt[8], se[8], te[8];
        for (int k = 0; k < 2 * ns; k++) src[k] = i * 100 + k;
        for (int k = 0; k < nt; k++) tgt[k] = -(i * 100 + k) - 1;
        for (int k = 0; k < ns; k++) se[k] = 2 * (k + 1);
        for (int k = 0; k < nt; k++) te[k] = k + 1;
        char st[32], tt[32];
        int sl = snprintf(st, sizeof st, "source %d", i), tl = snprintf(tt, sizeof tt, "target %d", i);
        ShardExample ex = {src, tgt, 2 * ns, nt, se, te, ns, nt, st, tt, (size_t)sl, (size_t)tl, i + 1};
        if (shard_writer_add(w, &ex)) return -1;
    }
    ShardInfo info = {.n_examples = N_EXAMPLES, .tokenizer_fingerprint = 0x0123456789abcdefULL};
    snprintf(info.source, sizeof info.source, "synthetic");
    snprintf(info.template_name, sizeof info.template_name, "plain");
    return shard_writer_finish(w, path, &info, "{}", 2);
}

/* Checks that a slice holds exactly examples [first, first+count) as write_shard made them. */
static int check_slice(const ShardSlice *s) {
    for (int64_t e = 0; e < s->count; e++) {
        int i = (int)(s->first + e), ns = i % 7 + 1, nt = i % 5 + 1;
        if (s->line[e] != i + 1) return px_error("example %d: line %lld", i, (long long)s->line[e]);
        if (s->src_off[e + 1] - s->src_off[e] != 2 * ns || s->tgt_off[e + 1] - s->tgt_off[e] != nt)
            return px_error("example %d: wrong token counts", i);
        for (int k = 0; k < 2 * ns; k++)
            if (s->src_tokens[s->src_off[e] + k] != i * 100 + k) return px_error("example %d: source token %d", i, k);
        for (int k = 0; k < nt; k++)
            if (s->tgt_tokens[s->tgt_off[e] + k] != -(i * 100 + k) - 1) return px_error("example %d: target token", i);
        if (s->src_word_off[e + 1] - s->src_word_off[e] != ns ||
            s->src_word_ends[s->src_word_off[e] + ns - 1] != 2 * ns)
            return px_error("example %d: source word ends", i);
        char want[32];
        int wl = snprintf(want, sizeof want, "source %d", i);
        if (s->src_text_off[e + 1] - s->src_text_off[e] != wl || memcmp(s->src_text + s->src_text_off[e], want, wl))
            return px_error("example %d: source text", i);
    }
    return 0;
}

int main(int argc, char **argv) {
    World w;
    if (world_init(&argc, &argv, &w)) return 1;
    const char *path = argc > 1 ? argv[1] : "slices.h5";
    int rc = w.rank == 0 ? write_shard(path) : 0;
    if (world_agree(&w, rc)) goto fail;

    ShardInfo info;
    ShardSlice s = {0};
    int64_t first, count;
    rc = shards_read_info(path, &info);
    if (rc == 0) {
        split_range(info.n_examples, w.rank, w.size, &first, &count);
        rc = shards_read_slice(path, first, count, &s) || check_slice(&s);
        shard_info_free(&info);
    }
    if (world_agree(&w, rc)) goto fail;

    /* coverage: every example index claimed by exactly one rank */
    int64_t mine[2] = {first, count}, *all = malloc(sizeof(int64_t) * 2 * w.size);
    MPI_Gather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    long tokens = s.src_off[s.count], total = 0;
    MPI_Reduce(&tokens, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    rc = 0;
    if (w.rank == 0) {
        int seen[N_EXAMPLES] = {0};
        for (int r = 0; r < w.size; r++)
            for (int64_t i = all[2 * r]; i < all[2 * r] + all[2 * r + 1]; i++)
                if (i < 0 || i >= N_EXAMPLES || seen[i]++)
                    rc = px_error("example %lld read twice or out of range", (long long)i);
        for (int i = 0; i < N_EXAMPLES; i++)
            if (!seen[i]) rc = px_error("example %d read by no rank", i);
        ShardSlice whole;
        if (rc == 0 && (shards_read_slice(path, 0, N_EXAMPLES, &whole) || check_slice(&whole))) rc = -1;
        if (rc == 0 && whole.src_off[N_EXAMPLES] != total)
            rc = px_error("slices hold %ld source tokens, the file %lld", total, (long long)whole.src_off[N_EXAMPLES]);
        if (rc == 0) shard_slice_free(&whole);
        if (rc == 0) {
            printf("%d ranks:", w.size);
            for (int r = 0; r < w.size; r++) printf(" [%lld,+%lld)", (long long)all[2 * r], (long long)all[2 * r + 1]);
            printf(" disjoint, cover %d examples, %ld source tokens\n", N_EXAMPLES, total);
        }
    }
    free(all);
    shard_slice_free(&s);
    if (world_agree(&w, rc)) goto fail;
    if (w.rank == 0) printf("1 passed, 0 failed\n");
    world_finalize();
    return 0;
fail:
    fprintf(stderr, "test_shard_slices (rank %d): %s\n", w.rank, px_error_message());
    world_finalize();
    return 1;
}
