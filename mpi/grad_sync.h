/* grad_sync.h — summing gradients over ranks (docs/design.md §4).
 *
 * Plain data parallelism: the gradient buffer is cut into buckets in the order backward
 * finishes it (LM head and final norm, layer L-1 ... layer 0, embedding). A bucket's
 * MPI_Iallreduce starts as soon as its last part is final (from model_backward_hooked) while
 * backward goes on, and outstanding requests are progressed with MPI_Test at every later stage
 * (Open MPI does not progress them in the background). All ranks start the same buckets in the
 * same order. grad_sync_finish waits for the rest.
 *
 * ZeRO-1 (mpi.zero = 1): no allreduce during backward; instead MPI_Reduce_scatter_block hands
 * each rank the summed gradient of its shard, AdamW updates that shard with shard-sized
 * moments, and MPI_Allgather brings every rank the full updated parameters. */
#ifndef PROACT_GRAD_SYNC_H
#define PROACT_GRAD_SYNC_H

#include "mpi/world.h"
#include "src/model/model.h"
#include "src/model/optim.h"

typedef struct GradSync GradSync;

GradSync *grad_sync_new(const World *w, Model *m, double bucket_mb, int zero);
void grad_sync_free(GradSync *gs);

/* The BackwardHook to pass to model_backward_hooked (ctx = the GradSync). Starts the buckets
 * that became complete (not in ZeRO mode) and tests the outstanding ones. */
void grad_sync_on_backward(void *ctx, int stage);

/* Completes the reduction (waits, or reduce-scatters in ZeRO mode). Returns 0 or -1. Seconds
 * spent blocked in MPI after backward go to *wait_s (the part not hidden behind backward). */
int grad_sync_finish(GradSync *gs, double *wait_s);

/* The optimizer step on the summed gradients: global-norm clipping (the norm summed over
 * ranks in ZeRO mode), AdamW on the whole model or on this rank's shard (+ allgather).
 * Returns the global gradient norm before clipping (or a negative value on an MPI error). */
double grad_sync_optimizer_step(GradSync *gs, AdamW *opt, int step);
/* Creates the optimizer: full moments, or this rank's shard in ZeRO mode. */
int grad_sync_optimizer_create(GradSync *gs, AdamW *opt, const OptimConfig *cfg);

int grad_sync_buckets(const GradSync *gs);

#endif
