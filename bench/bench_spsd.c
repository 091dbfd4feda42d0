/* bench_spsd — the cost of synchronized self-distillation: one training step (train_step of
 * src/train/step.h: forward, loss, backward, AdamW; one process, no MPI) on the same examples laid
 * out (a) as plain full-view sequences with cross-entropy and (b) in the synchronized
 * [source | student | teacher] layout with the SPSD loss. docs/design.md §2.4 expects about
 * (S + 2T)/(S + T) of a plain step. Prints one JSON line.
 * usage: bench_spsd --config configs/small.ini --data pairs.h5|.tsv [--set k=v ...] [--steps 5] [--threads 1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/dataset.h"
#include "jobs/jobs.h"
#include "src/base/common.h"
#include "src/train/pairs.h"
#include "src/train/schedule.h"
#include "src/train/step.h"

/* Seconds per step, averaged over `steps` after one warm-up. */
static double time_steps(Learner *l, TrainBatch *b, int steps) {
    double t0 = 0;
    for (int s = 0; s <= steps; s++) {
        if (s == 1) t0 = runtime_now();
        StepStats st;
        if (train_step(l, b, s, &st)) return -1;
    }
    return (runtime_now() - t0) / steps;
}

int main(int argc, char **argv) {
    runtime_fix_blas_core(argv);
    const char *config = "configs/small.ini", *data = NULL, *sets[32];
    int n_sets = 0, steps = 5, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--config")) config = argv[i + 1];
        else if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--set") && n_sets < 32) sets[n_sets++] = argv[i + 1];
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    }
    ProactConfig cfg;
    Dataset d;
    Model m;
    Learner l; /* no world: this process alone */
    if (!data) return job_fail("bench_spsd: --data is required");
    if (config_load(&cfg, config, sets, n_sets) || model_create(&m, &cfg.model) ||
        learner_init(&l, &m, NULL, &cfg.optim, 0, 0, (SpsdWeights){cfg.spsd.alpha, cfg.spsd.lambda, cfg.spsd.tau}) ||
        dataset_open(data, cfg.data.tokenizer, cfg.data.template_name, cfg.data.max_tokens, &d, NULL, NULL))
        return job_fail(px_error_message());
    runtime_set_threads(threads);
    model_init_random(&m, 1);
    const int n = cfg.train.global_batch > 256 ? 256 : cfg.train.global_batch;
    int64_t idx[256];
    for (int k = 0; k < n; k++) idx[k] = k % d.n_examples;
    PairSet ps;
    if (dataset_get(&d, idx, n, &ps)) return job_fail(px_error_message());
    TrainBatch plain = {0}, spsd = {0};
    train_batch_clear(&plain, 0, 0);
    train_batch_clear(&spsd, 1, 1);
    Rng rng;
    rng_seed(&rng, 3);
    long src_tokens = 0, tgt_tokens = 0;
    for (int k = 0; k < n; k++) {
        int g[512], mw = pair_tgt_words(&ps, k);
        if (mw > 512) return job_fail("bench_spsd: a target longer than 512 words");
        schedule_sample(&cfg.stream, pair_src_words(&ps, k), mw, &rng, g);
        if (pair_batch_add(&plain.batch, &ps, &d.template_tokens, k) ||
            train_batch_add_spsd(&spsd, &ps, &d.template_tokens, k, g, cfg.stream.phi))
            return job_fail(px_error_message());
        src_tokens += ps.src_off[k + 1] - ps.src_off[k];
        tgt_tokens += ps.tgt_off[k + 1] - ps.tgt_off[k];
    }
    double t_plain = time_steps(&l, &plain, steps), t_spsd = t_plain < 0 ? -1 : time_steps(&l, &spsd, steps);
    if (t_spsd < 0) return job_fail(px_error_message());
    printf("{\"examples\": %d, \"plain_rows\": %d, \"spsd_rows\": %d, \"row_ratio\": %.3f, \"plain_step_ms\": %.2f, "
           "\"spsd_step_ms\": %.2f, \"spsd_overhead\": %.3f, \"src_tokens\": %ld, \"tgt_tokens\": %ld}\n",
           n, plain.batch.n_rows, spsd.batch.n_rows, (double)spsd.batch.n_rows / plain.batch.n_rows, t_plain * 1e3,
           t_spsd * 1e3, t_spsd / t_plain, src_tokens, tgt_tokens);
    return 0;
}
