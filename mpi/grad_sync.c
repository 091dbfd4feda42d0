#include "mpi/grad_sync.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "src/base/common.h"

/* A contiguous range of the gradient buffer, final once backward reaches `ready_stage`. */
typedef struct {
    size_t lo, hi;
    int ready_stage; /* the stage whose hook completes it */
    int started;
    MPI_Request req;
} Bucket;

struct GradSync {
    World world;
    Model *m;
    int zero;
    int n_buckets, cap;
    Bucket *buckets;
    /* ZeRO-1 */
    size_t shard, padded; /* elements per rank, total padded length */
    float *flat;          /* [padded]: gradient in, then parameters for the allgather */
    float *shard_grad;    /* [shard] */
};

/* Order in which stages finish: head (n_layers), L-1, ..., 0, end (-1). Lower = earlier. */
static int stage_order(const Model *m, int stage) {
    return stage == m->cfg.n_layers ? 0 : stage < 0 ? m->cfg.n_layers + 1 : m->cfg.n_layers - stage;
}

static int add_bucket(GradSync *gs, size_t lo, size_t hi, int stage) {
    if (gs->n_buckets == gs->cap) {
        int cap = gs->cap ? 2 * gs->cap : 16;
        Bucket *b = realloc(gs->buckets, sizeof *b * cap);
        if (!b) return px_error("out of memory for gradient buckets");
        gs->buckets = b;
        gs->cap = cap;
    }
    gs->buckets[gs->n_buckets++] = (Bucket){.lo = lo, .hi = hi, .ready_stage = stage, .req = MPI_REQUEST_NULL};
    return 0;
}

typedef struct {
    size_t lo, hi;
    int stage;
} Range;

/* Walks the parameter ranges in backward order, merging neighbours up to bucket_elems; a
 * bucket is ready when its last-finishing range is. Ranges: [norm | lm_head] (head), each
 * layer, the embedding (end); they go down the buffer contiguously. */
static int build_buckets(GradSync *gs, size_t bucket_elems) {
    const Model *m = gs->m;
    const int L = m->cfg.n_layers;
    Range *ranges = px_calloc((size_t)L + 2, sizeof *ranges, "gradient ranges");
    if (!ranges) return -1;
    int n = 0;
    ranges[n++] = (Range){m->layer_begin[L], m->n_params, L};
    for (int l = L - 1; l >= 0; l--) ranges[n++] = (Range){m->layer_begin[l], m->layer_begin[l + 1], l};
    ranges[n++] = (Range){0, m->layer_begin[0], -1};
    Range cur = ranges[0];
    int rc = 0;
    for (int i = 1; i < n && rc == 0; i++) {
        if (cur.hi - cur.lo + ranges[i].hi - ranges[i].lo <= bucket_elems) {
            cur.lo = ranges[i].lo; /* merged: ready when the later range is */
            cur.stage = ranges[i].stage;
            continue;
        }
        rc = add_bucket(gs, cur.lo, cur.hi, cur.stage);
        cur = ranges[i];
    }
    if (rc == 0) rc = add_bucket(gs, cur.lo, cur.hi, cur.stage);
    free(ranges);
    return rc;
}

GradSync *grad_sync_new(const World *w, Model *m, double bucket_mb, int zero) {
    GradSync *gs = px_calloc(1, sizeof *gs, "gradient sync");
    if (!gs) return NULL;
    gs->world = *w;
    gs->m = m;
    gs->zero = zero && w->size > 1;
    if (gs->zero) {
        gs->shard = (m->n_params + w->size - 1) / w->size;
        gs->padded = gs->shard * w->size;
        gs->flat = px_calloc(gs->padded, sizeof(float), "ZeRO-1 flat buffer");
        gs->shard_grad = px_calloc(gs->shard, sizeof(float), "ZeRO-1 gradient shard");
        if (!gs->flat || !gs->shard_grad) {
            grad_sync_free(gs);
            return NULL;
        }
    } else if (w->size > 1 && build_buckets(gs, (size_t)(bucket_mb * 1e6 / sizeof(float)))) {
        grad_sync_free(gs);
        return NULL;
    }
    return gs;
}

void grad_sync_free(GradSync *gs) {
    if (!gs) return;
    free(gs->buckets);
    free(gs->flat);
    free(gs->shard_grad);
    free(gs);
}

int grad_sync_buckets(const GradSync *gs) { return gs->n_buckets; }

void grad_sync_on_backward(void *ctx, int stage) {
    GradSync *gs = ctx;
    if (gs->world.size == 1 || gs->zero) return;
    if (stage == BACKWARD_PROGRESS) { /* only progress what is in flight */
        for (int i = 0; i < gs->n_buckets; i++)
            if (gs->buckets[i].started && gs->buckets[i].req != MPI_REQUEST_NULL) {
                int done;
                MPI_Test(&gs->buckets[i].req, &done, MPI_STATUS_IGNORE);
            }
        return;
    }
    const int order = stage_order(gs->m, stage);
    for (int i = 0; i < gs->n_buckets; i++) {
        Bucket *b = &gs->buckets[i];
        if (b->started) {
            if (b->req != MPI_REQUEST_NULL) {
                int done;
                MPI_Test(&b->req, &done, MPI_STATUS_IGNORE);
            }
        } else if (stage_order(gs->m, b->ready_stage) <= order) {
            b->started = 1;
            MPI_Iallreduce(MPI_IN_PLACE, gs->m->grads + b->lo, (int)(b->hi - b->lo), MPI_FLOAT, MPI_SUM,
                           world_comm(&gs->world), &b->req);
        }
    }
}

int grad_sync_finish(GradSync *gs, double *wait_s) {
    double t0 = MPI_Wtime();
    int rc = 0;
    if (gs->world.size > 1 && !gs->zero) {
        for (int i = 0; i < gs->n_buckets; i++) {
            Bucket *b = &gs->buckets[i];
            if (!b->started) rc = px_error("gradient bucket %d was never started (backward did not finish)", i);
            else if (b->req != MPI_REQUEST_NULL && MPI_Wait(&b->req, MPI_STATUS_IGNORE) != MPI_SUCCESS)
                rc = px_error("MPI_Wait on gradient bucket %d failed", i);
            b->started = 0;
        }
    } else if (gs->zero) {
        memcpy(gs->flat, gs->m->grads, sizeof(float) * gs->m->n_params);
        memset(gs->flat + gs->m->n_params, 0, sizeof(float) * (gs->padded - gs->m->n_params));
        if (MPI_Reduce_scatter_block(gs->flat, gs->shard_grad, (int)gs->shard, MPI_FLOAT, MPI_SUM,
                                     world_comm(&gs->world)) != MPI_SUCCESS)
            rc = px_error("MPI_Reduce_scatter_block of the gradients failed");
    }
    if (wait_s) *wait_s = MPI_Wtime() - t0;
    return rc;
}

int grad_sync_optimizer_create(GradSync *gs, AdamW *opt, const OptimConfig *cfg) {
    if (!gs->zero) return adamw_create(opt, cfg, gs->m->n_params);
    size_t lo = gs->shard * (size_t)gs->world.rank, hi = PX_MIN(lo + gs->shard, gs->m->n_params);
    return adamw_create_shard(opt, cfg, lo, hi > lo ? hi - lo : 0);
}

double grad_sync_optimizer_step(GradSync *gs, AdamW *opt, int step) {
    Model *m = gs->m;
    if (!gs->zero) return adamw_step_model(opt, m, step); /* every rank holds the summed gradient */
    /* ZeRO-1: this rank owns params [lo, hi); its summed gradient is shard_grad */
    size_t lo = gs->shard * (size_t)gs->world.rank, hi = PX_MIN(lo + gs->shard, m->n_params);
    double sq = 0.0;
    for (size_t i = lo; i < hi; i++) sq += (double)gs->shard_grad[i - lo] * gs->shard_grad[i - lo];
    if (world_sum(&gs->world, &sq, 1)) return -1.0;
    double norm = sqrt(sq);
    float coef = clip_coefficient(norm, opt->cfg.grad_clip);
    /* the shard's gradient, placed at its global indices in flat, so AdamW can index globally */
    for (size_t i = lo; i < hi; i++) gs->flat[i] = gs->shard_grad[i - lo] * (coef < 1.0f ? coef : 1.0f);
    float lr = lr_at_step(&opt->cfg, step);
    opt->t++;
    if (hi > lo) adamw_update_model_range(opt, m, gs->flat, lo, hi, lr);
    /* gather every rank's updated parameters */
    memcpy(gs->flat + lo, m->params + lo, sizeof(float) * (hi > lo ? hi - lo : 0));
    if (MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, gs->flat, (int)gs->shard, MPI_FLOAT,
                      world_comm(&gs->world)) != MPI_SUCCESS) {
        px_error("MPI_Allgather of the parameters failed");
        return -1.0;
    }
    memcpy(m->params, gs->flat, sizeof(float) * m->n_params);
    return norm;
}
