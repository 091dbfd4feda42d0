/* bench_spsd — the cost of synchronized self-distillation: one training step (forward, loss,
 * backward, AdamW) on the same examples laid out (a) as plain full-view sequences with
 * cross-entropy and (b) in the synchronized [source | student | teacher] layout with the SPSD
 * loss. docs/design.md §2.4 expects about (S + 2T)/(S + T) of a plain step. Prints one JSON line.
 * usage: bench_spsd --config configs/small.ini --data pairs.h5|.tsv [--set k=v ...] [--steps 5] [--threads 1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/dataset.h"
#include "jobs/jobs.h"
#include "src/base/common.h"
#include "src/model/loss.h"
#include "src/train/pairs.h"
#include "src/train/step.h"
#include "src/train/schedule.h"

/* Seconds per step, averaged over `steps` after one warm-up, of forward + loss + backward + AdamW. */
static double time_steps(Model *m, Activations *a, AdamW *opt, PackedBatch *b, const SpsdRows *rows, int n_ex,
                         const ProactConfig *cfg, int steps) {
    int sf[256], tf[256], nr[256];
    for (int k = 0; rows && k < n_ex; k++)
        sf[k] = rows[k].student_first, tf[k] = rows[k].teacher_first, nr[k] = rows[k].n_copy_rows;
    double t0 = 0;
    for (int s = 0; s <= steps; s++) {
        if (s == 1) t0 = runtime_now();
        const AttnLayout *lay = packed_batch_layout(b);
        model_zero_grads(m);
        if (model_forward(m, a, b->tokens, lay)) return -1;
        int count = packed_batch_count_targets(b);
        if (rows) {
            SpsdLoss l;
            spsd_loss_forward_backward(a->logits, b->targets, b->n_rows, m->cfg.vocab_size, sf, tf, nr, n_ex,
                                       cfg->spsd.alpha, cfg->spsd.lambda, cfg->spsd.tau, 2.0f / count, &l);
        } else {
            cross_entropy_forward_backward(a->logits, b->targets, b->n_rows, m->cfg.vocab_size, 1.0f / count, &count);
        }
        model_backward(m, a, b->tokens, lay);
        adamw_step_model(opt, m, s);
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
    AdamW opt;
    if (!data) return job_fail("bench_spsd: --data is required");
    if (config_load(&cfg, config, sets, n_sets) || model_create(&m, &cfg.model) || model_alloc_grads(&m) ||
        adamw_create(&opt, &cfg.optim, m.n_params) ||
        dataset_open(data, cfg.data.tokenizer, cfg.data.template_name, cfg.data.max_tokens, &d, NULL, NULL))
        return job_fail(px_error_message());
    runtime_set_threads(threads);
    model_init_random(&m, 1);
    const int n = cfg.train.global_batch > 256 ? 256 : cfg.train.global_batch;
    int64_t idx[256];
    for (int k = 0; k < n; k++) idx[k] = k % d.n_examples;
    PairSet ps;
    if (dataset_get(&d, idx, n, &ps)) return job_fail(px_error_message());
    PackedBatch plain = {0}, spsd = {0};
    SpsdRows rows[256];
    Rng rng;
    rng_seed(&rng, 3);
    long src_tokens = 0, tgt_tokens = 0;
    for (int k = 0; k < n; k++) {
        int g[512], mw = pair_tgt_words(&ps, k);
        if (mw > 512) return job_fail("bench_spsd: a target longer than 512 words");
        schedule_sample(&cfg.stream, pair_src_words(&ps, k), mw, &rng, g);
        if (pair_batch_add(&plain, &ps, &d.template_tokens, k) ||
            spsd_batch_add(&spsd, &ps, &d.template_tokens, k, g, cfg.stream.phi, &rows[k]))
            return job_fail(px_error_message());
        src_tokens += ps.src_off[k + 1] - ps.src_off[k];
        tgt_tokens += ps.tgt_off[k + 1] - ps.tgt_off[k];
    }
    Activations a = {0};
    double t_plain = time_steps(&m, &a, &opt, &plain, NULL, n, &cfg, steps);
    double t_spsd = time_steps(&m, &a, &opt, &spsd, rows, n, &cfg, steps);
    printf("{\"examples\": %d, \"plain_rows\": %d, \"spsd_rows\": %d, \"row_ratio\": %.3f, \"plain_step_ms\": %.2f, "
           "\"spsd_step_ms\": %.2f, \"spsd_overhead\": %.3f, \"src_tokens\": %ld, \"tgt_tokens\": %ld}\n",
           n, plain.n_rows, spsd.n_rows, (double)spsd.n_rows / plain.n_rows, t_plain * 1e3, t_spsd * 1e3,
           t_spsd / t_plain, src_tokens, tgt_tokens);
    return 0;
}
