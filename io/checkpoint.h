/* checkpoint.h — training checkpoints: one HDF5 file per checkpoint, written collectively by
 * all ranks through the MPI-IO driver (each rank writes a hyperslab slice of every dataset; no
 * gather to rank 0), published atomically (step-N.h5.tmp, close, rename, then `latest`).
 *
 *   /model/<hf name>               float32, the parameters
 *   /optim/exp_avg/<hf name>       float32, AdamW first moments (one logical dataset per tensor,
 *   /optim/exp_avg_sq/<hf name>    whatever the rank count or ZeRO sharding)
 *   /state/sampler_order           int64 [n examples], the current epoch's order (pairs data)
 * Every dataset carries a `checksum` attribute (16 hex digits). Root attributes: format
 * ("proact-checkpoint"), format_version, step, tokens, adam_t, sampler_next, sampler_epoch,
 * sampler_rng (4 x u64 as hex), world_size, model (the model shape as text, compared on resume),
 * model_config (the model's Hugging Face config.json: export rebuilds the model from it), config
 * (the resolved training config). This file is the one place outside mpi/ that names MPI: parallel HDF5 needs the
 * communicator. */
#ifndef PROACT_CHECKPOINT_H
#define PROACT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "mpi/world.h"
#include "src/model/model.h"
#include "src/model/optim.h"
#include "src/train/pairs.h"

#define CHECKPOINT_FORMAT "proact-checkpoint"
#define CHECKPOINT_FORMAT_VERSION 1

typedef struct {
    int step;           /* steps done */
    double tokens;      /* target tokens trained on */
    const char *config; /* the resolved config (INI text, every key), saved for reference */
    int rank, size;
} CheckpointMeta;

/* Collective: every rank calls it with the same arguments (its own optimizer shard). Writes
 * DIR/checkpoints/step-NNNNNNNN.h5 and points DIR/checkpoints/latest at it; keeps the newest
 * `keep`. On failure nothing replaces the previous checkpoint, and px_error says why (the same
 * on every rank is the caller's agreement). */
int checkpoint_save(const World *w, const char *run_dir, const Model *m, const AdamW *opt, const PairSampler *sampler,
                    const CheckpointMeta *meta, int keep);

/* The model config stored in a checkpoint (no MPI needed: for export). */
int checkpoint_model_config(const char *path, ModelConfig *cfg);

/* Path of the newest complete checkpoint of a run (from `latest`), or -1. */
int checkpoint_latest(const char *run_dir, char *path, size_t size);
/* Steps of the published checkpoints of a run, newest first (at most max); the count. */
int checkpoint_list(const char *run_dir, int *steps, int max);

/* Reads a checkpoint into an already created model (same shape: else an error naming the
 * difference), the optimizer (its shard [opt->base, +n) of every moment) and the sampler.
 * Verifies every checksum. Returns 0, -1 for an unreadable or corrupt file (an older checkpoint
 * may do), or CHECKPOINT_INCOMPATIBLE for one that can never fit (another model, another format
 * version). Collective. */
#define CHECKPOINT_INCOMPATIBLE (-2)
int checkpoint_load(const World *w, const char *path, Model *m, AdamW *opt, PairSampler *sampler, CheckpointMeta *meta);

/* Collective: loads the newest checkpoint of run_dir that reads back whole (checkpoint_load) into
 * m, opt and sampler; *path receives its file and meta its attributes. An unreadable or corrupt
 * one goes to skipped(ctx, its px_error message, whether an older one is left) and the previous
 * one is tried; an incompatible one ends the search (an older one of the run would not fit
 * either). 0, or -1 on every rank with the same message. */
typedef void (*CheckpointSkipped)(void *ctx, const char *why, int older_left);
int checkpoint_resume(const World *w, const char *run_dir, Model *m, AdamW *opt, PairSampler *sampler,
                      CheckpointMeta *meta, char *path, size_t size, CheckpointSkipped skipped, void *ctx);

#endif
