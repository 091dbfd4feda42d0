/* config.h — proact's INI configuration (libinih), with --set section.key=value overrides.
 *
 * Every key is declared in one table (io/config.c) with its type, default and help; an
 * unknown section or key, a malformed value or an inconsistent model shape is an error
 * that names the file, the line and the key. */
#ifndef PROACT_CONFIG_H
#define PROACT_CONFIG_H

#include "src/model/model.h"
#include "src/model/optim.h"
#include "src/train/schedule.h"

/* [checkpoint] on_error: what a checkpoint that cannot be written does to the run */
enum { CHECKPOINT_ON_ERROR_STOP, CHECKPOINT_ON_ERROR_CONTINUE };

typedef struct {
    ModelConfig model;
    char model_init[4096]; /* [model] init: "" = from scratch, or a Hugging Face model dir */
    struct {
        int steps;         /* [train] steps */
        int global_batch;  /* [train] global_batch: sequences per step over all ranks */
        int seq_len;       /* [train] seq_len: tokens per sequence (synthetic data) */
        int seed;          /* [train] seed */
        int log_every;     /* [train] log_every */
        int eval_every;    /* [train] eval_every: validation loss every N steps (0 = only at the end) */
        char watchdog[32]; /* [train] watchdog_s: "auto", "off" or seconds (watchdog_seconds) */
        double watchdog_s; /* its value: > 0 a fixed limit, 0 auto, < 0 off (mpi/watchdog.h) */
        char precision[8]; /* [train] precision: "bf16" or "fp32" (of the matrix products) */
    } train;
    OptimConfig optim; /* [optim] lr, min_lr_ratio, warmup_steps, beta1, beta2, eps,
                                 weight_decay, grad_clip; total_steps = train.steps */
    struct {
        char source[32];        /* [data] source: pairs | random | copy */
        char train[4096];       /* [data] train: token shards (.h5) or pairs (.tsv) */
        char valid[4096];       /* [data] valid: the same, for the validation loss ("" = none) */
        char tokenizer[4096];   /* [data] tokenizer: tokenizer.json for .tsv data */
        char template_name[64]; /* [data] template: for .tsv data (plain, chatml, llama3) */
        int max_tokens;         /* [data] max_tokens: longer pairs (.tsv) are skipped */
    } data;
    StreamConfig stream;       /* [stream] schedule, k_min, k_max, mean_step, p_full, drift, min_lag, max_lag, k,
                                phi; [spsd] teacher (stream.no_teacher: the layout of a sequence) */
    char stream_lag_floor[16]; /* [stream] lag_floor as written: none or an integer (into stream.lag_floor) */
    struct {
        float alpha;  /* [spsd] alpha: weight of the teacher's cross-entropy */
        float lambda; /* [spsd] lambda: weight of the distillation KL (0 = masking only) */
        float tau;    /* [spsd] tau: distillation temperature */
    } spsd;
    struct {
        int zero;        /* [mpi] zero: 1 = ZeRO-1 (optimizer state sharded over ranks) */
        float bucket_mb; /* [mpi] bucket_mb: gradient allreduce bucket size */
    } mpi;
    struct {
        int every;    /* [checkpoint] every: steps between checkpoints (0 = only at the end) */
        int keep;     /* [checkpoint] keep: how many to keep */
        int on_error; /* [checkpoint] on_error: CHECKPOINT_ON_ERROR_STOP | _CONTINUE */
    } checkpoint;
    struct {
        char dir[4096]; /* [run] dir */
        int threads;    /* [run] threads: BLAS threads, 0 = all cores */
    } run;
    char path[4096]; /* the file it came from */
    char *text;      /* the file text plus overrides (owned), for checkpoints */
} ProactConfig;

/* Fills defaults, parses `path` (may be NULL: defaults only), then applies the
 * `n_overrides` strings "section.key=value" in order, then validates. */
int config_load(ProactConfig *c, const char *path, const char *const *overrides, int n_overrides);
void config_free(ProactConfig *c);
/* Writes every key with its current value as INI (for --print-config and checkpoints). */
int config_dump(const ProactConfig *c, char *buf, size_t size);
/* Bytes config_dump needs for c, including the terminating NUL. */
size_t config_dump_size(const ProactConfig *c);

#endif
