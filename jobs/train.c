/* train.c — `proact train`: causal language-model training on one process.
 * Recipe: parse config -> load or create the model -> loop (batch, forward, loss, backward,
 * AdamW) -> save the final model. Data: synthetic sequences (data.source) until token shards
 * arrive; the streaming layouts and MPI come with the ProactiveLLM trainer. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/hf_model.h"
#include "jobs.h"
#include "src/batch.h"
#include "src/common.h"
#include "src/model.h"
#include "src/optim.h"
#include "src/step.h"
#include "src/rng.h"

static void usage(FILE *out) {
    fprintf(out, "usage: proact train --config FILE [--set section.key=value ...]\n\n"
                 "Trains the model of the config ([model], or a Hugging Face directory in model.init) for\n"
                 "train.steps AdamW steps of train.global_batch sequences of train.seq_len tokens, printing\n"
                 "a progress line every train.log_every steps, and writes the result to RUN_DIR/model\n"
                 "(run.dir). Data (data.source): 'random' = uniform random tokens; 'copy' = a random first\n"
                 "half repeated in the second half, a learnable task whose loss visibly falls.\n");
}

static void format_duration(char *buf, size_t size, double seconds) {
    int s = (int)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, size, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, size, "%d:%02d", s / 60, s % 60);
}

int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *config_path = NULL, *sets[64];
    int n_sets = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's':
            if (n_sets == 64) return job_fail("too many --set options (at most 64)");
            sets[n_sets++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || optind < argc) {
        usage(stderr);
        return 2;
    }

    ProactConfig cfg;
    if (config_load(&cfg, config_path, sets, n_sets)) return job_fail(px_error_message());
    int threads = runtime_set_threads(cfg.run.threads);
    runtime_report_blas();

    int status = 0;
    Model m = {0};
    AdamW opt = {0};
    CausalBatch batch = {0};
    Activations acts = {0};
    char out_dir[PX_PATH_MAX + 16];
    if (cfg.model_init[0]) {
        if (hf_load_model(cfg.model_init, &m)) goto fail;
        printf("model: %s from %s\n", model_arch_hf_class(m.cfg.arch), cfg.model_init);
    } else {
        if (model_create(&m, &cfg.model)) goto fail;
        model_init_random(&m, (uint64_t)cfg.train.seed);
        printf("model: %s from scratch (seed %d)\n", model_arch_hf_class(m.cfg.arch), cfg.train.seed);
    }
    printf("model: %.2fM parameters, %d layers, d=%d, heads %d/%d, vocab %d\n", m.n_params / 1e6, m.cfg.n_layers,
           m.cfg.hidden_size, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.vocab_size);
    if (cfg.train.seq_len > m.cfg.max_seq_len) {
        px_error("train.seq_len=%d exceeds the model's max_seq_len=%d", cfg.train.seq_len, m.cfg.max_seq_len);
        goto fail;
    }
    if (model_alloc_grads(&m) || adamw_create(&opt, &cfg.optim, m.n_params)) goto fail;
    if (causal_batch_alloc(&batch, cfg.train.global_batch, cfg.train.seq_len)) goto fail;
    if (activations_reserve(&acts, &m.cfg, &batch.lay)) goto fail;

    const double flops_per_step = model_train_flops(&m.cfg, &batch.lay);
    const double peak = runtime_sgemm_gflops(512, 0.3) * 1e9;
    printf("train: %d steps x %d sequences x %d tokens, data '%s', %d BLAS thread%s, sgemm peak %.1f GFLOP/s\n",
           cfg.train.steps, batch.B, batch.T, cfg.data.source, threads, threads == 1 ? "" : "s", peak / 1e9);

    Rng data_rng;
    rng_seed(&data_rng, (uint64_t)cfg.train.seed * 7919u + 17u);
    const double t_start = runtime_now();
    double window_t0 = t_start, window_tokens = 0;
    for (int step = 0; step < cfg.train.steps; step++) {
        if (causal_batch_fill_synthetic(&batch, cfg.data.source, m.cfg.vocab_size, &data_rng)) goto fail;
        StepStats st;
        if (lm_train_step(&m, &acts, &opt, batch.tokens, batch.targets, &batch.lay, step, &st)) goto fail;
        const int N = batch.lay.n_rows;
        window_tokens += N;
        int last = step + 1 == cfg.train.steps;
        if ((step + 1) % cfg.train.log_every == 0 || step == 0 || last) {
            double now = runtime_now(), dt = now - window_t0;
            double tok_s = window_tokens / dt;
            double mfu = flops_per_step * (window_tokens / N) / dt / peak;
            char eta[32];
            format_duration(eta, sizeof eta, (now - t_start) / (step + 1) * (cfg.train.steps - step - 1));
            printf("step %5d/%d | loss %.4f | lr %.2e | grad-norm %.3f | %.0f tok/s | MFU %.1f%% | ETA %s\n",
                   step + 1, cfg.train.steps, st.loss, st.lr, st.grad_norm, tok_s, 100.0 * mfu, eta);
            fflush(stdout);
            window_t0 = now;
            window_tokens = 0;
        }
    }
    snprintf(out_dir, sizeof out_dir, "%s/model", cfg.run.dir);
    if (hf_save_model(out_dir, &m, 0)) goto fail;
    printf("saved %s (%.1f s)\n", out_dir, runtime_now() - t_start);
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    activations_free(&acts);
    causal_batch_free(&batch);
    adamw_free(&opt);
    model_free(&m);
    config_free(&cfg);
    return status;
}
