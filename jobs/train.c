/* train.c — `proact train`: causal language-model training on one process.
 * Recipe: parse config -> load or create the model -> load the data -> loop (batch, forward,
 * loss, backward, AdamW; validation loss every train.eval_every steps) -> save the model.
 * Pairs are trained as full-view sequences (prompt source | target); the streaming layouts,
 * self-distillation and MPI come with the ProactiveLLM trainer. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/hf_model.h"
#include "jobs.h"
#include "src/batch.h"
#include "src/common.h"
#include "src/loss.h"
#include "src/model.h"
#include "src/optim.h"
#include "src/pairs.h"
#include "src/step.h"

static void usage(FILE *out) {
    fprintf(out, "usage: proact train --config FILE [--set section.key=value ...] [--print-config]\n\n"
                 "Trains the model of the config ([model], or a Hugging Face directory in model.init) for\n"
                 "train.steps AdamW steps of train.global_batch sequences, printing a progress line every\n"
                 "train.log_every steps and the validation loss every train.eval_every steps, and writes the\n"
                 "result to RUN_DIR/model (run.dir) with the data's tokenizer.json. Data (data.source):\n"
                 "  pairs   data.train (and data.valid): token shards (.h5) or a TSV with data.tokenizer\n"
                 "  random  uniform random tokens of train.seq_len\n"
                 "  copy    a random first half repeated in the second half (a learnable task)\n"
                 "--print-config prints every key with its resolved value and exits.\n");
}

typedef struct {
    int pairs; /* data.source = pairs */
    Dataset train, valid;
    int has_valid;
    PairSampler sampler;
} TrainData;

static void print_skip(void *ctx, const char *path, long line, const char *why) {
    long *shown = ctx;
    if ((*shown)++ < 20) fprintf(stderr, "%s:%ld: skipped: %s\n", path, line, why);
}

static int load_one(const ProactConfig *cfg, const char *path, Dataset *d, int vocab) {
    long shown = 0;
    if (dataset_load(path, cfg->data.tokenizer, cfg->data.template_name, cfg->data.max_tokens, d, print_skip, &shown))
        return -1;
    if (shown > 20) fprintf(stderr, "%s: ... %ld more skipped lines not shown\n", path, shown - 20);
    int max_id = pair_set_max_token(&d->pairs, &d->template_tokens);
    if (max_id >= vocab)
        return px_error("%s: token id %d does not fit the model's vocabulary of %d (model.vocab_size must cover "
                        "the tokenizer)", path, max_id, vocab);
    printf("data: %s: %lld pairs, template '%s', %s->%s", path, (long long)d->pairs.count, d->template_name,
           d->src_lang, d->tgt_lang);
    if (pairs_skipped(&d->tsv_stats)) printf(" (%ld malformed lines skipped)", pairs_skipped(&d->tsv_stats));
    printf("\n");
    return 0;
}

static int load_data(const ProactConfig *cfg, TrainData *td, int vocab) {
    memset(td, 0, sizeof *td);
    td->pairs = strcmp(cfg->data.source, "pairs") == 0;
    if (!td->pairs) return 0;
    if (load_one(cfg, cfg->data.train, &td->train, vocab)) return -1;
    if (cfg->data.valid[0]) {
        if (load_one(cfg, cfg->data.valid, &td->valid, vocab)) return -1;
        td->has_valid = 1;
        if (td->valid.tokenizer_fingerprint != td->train.tokenizer_fingerprint)
            return px_error("%s: made with another tokenizer than %s (fingerprints %016llx and %016llx)",
                            cfg->data.valid, cfg->data.train, (unsigned long long)td->valid.tokenizer_fingerprint,
                            (unsigned long long)td->train.tokenizer_fingerprint);
    }
    return pair_sampler_init(&td->sampler, td->train.pairs.count, (uint64_t)cfg->train.seed * 31u + 7u);
}

static void free_data(TrainData *td) {
    dataset_free(&td->train);
    dataset_free(&td->valid);
    pair_sampler_free(&td->sampler);
}

static int fill_batch(const ProactConfig *cfg, TrainData *td, PackedBatch *b, int vocab, Rng *rng) {
    if (!td->pairs)
        return packed_batch_fill_synthetic(b, cfg->data.source, cfg->train.global_batch, cfg->train.seq_len, vocab,
                                           rng);
    packed_batch_clear(b);
    for (int i = 0; i < cfg->train.global_batch; i++)
        if (pair_batch_add(b, &td->train.pairs, &td->train.template_tokens, pair_sampler_next(&td->sampler)))
            return -1;
    return 0;
}

/* Mean cross-entropy over the target tokens of every validation pair (forward only). */
static int evaluate(Model *m, Activations *a, PackedBatch *b, const Dataset *d, int batch, double *loss) {
    double sum = 0;
    long count = 0;
    for (int64_t e0 = 0; e0 < d->pairs.count; e0 += batch) {
        packed_batch_clear(b);
        for (int64_t e = e0; e < e0 + batch && e < d->pairs.count; e++)
            if (pair_batch_add(b, &d->pairs, &d->template_tokens, e)) return -1;
        const AttnLayout *lay = packed_batch_layout(b);
        if (model_forward(m, a, b->tokens, lay)) return -1;
        int n;
        sum += cross_entropy_forward(a->logits, b->targets, lay->n_rows, m->cfg.vocab_size, &n);
        count += n;
    }
    *loss = count ? sum / count : NAN;
    return 0;
}

static void format_duration(char *buf, size_t size, double seconds) {
    int s = (int)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, size, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, size, "%d:%02d", s / 60, s % 60);
}

static int save_model(const ProactConfig *cfg, const Model *m, const TrainData *td) {
    char dir[PX_PATH_MAX + 16], path[PX_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/model", cfg->run.dir);
    if (hf_save_model(dir, m, 0)) return -1;
    if (td->pairs) { /* the model directory carries the tokenizer it was trained with */
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (atomic_write_buffer(path, td->train.tokenizer_json, td->train.tokenizer_json_len)) return -1;
    }
    printf("saved %s\n", dir);
    return 0;
}

int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
                                         {"print-config", no_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *config_path = NULL, *sets[64];
    int n_sets = 0, print_config = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:ph", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'p': print_config = 1; break;
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
    if (print_config) { /* every key with its resolved value, as INI that loads back */
        size_t size = config_dump_size(&cfg);
        char *text = malloc(size);
        int rc = text && config_dump(&cfg, text, size) == 0 ? (fputs(text, stdout), 0) : job_fail("cannot print the config");
        free(text);
        config_free(&cfg);
        return rc;
    }
    int threads = runtime_set_threads(cfg.run.threads);
    runtime_report_blas();

    int status = 0;
    Model m = {0};
    AdamW opt = {0};
    PackedBatch batch = {0};
    Activations acts = {0};
    TrainData td = {0};
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
    if (!strcmp(cfg.data.source, "pairs") ? 0 : cfg.train.seq_len > m.cfg.max_seq_len) {
        px_error("train.seq_len=%d exceeds the model's max_seq_len=%d", cfg.train.seq_len, m.cfg.max_seq_len);
        goto fail;
    }
    if (load_data(&cfg, &td, m.cfg.vocab_size)) goto fail;
    if (model_alloc_grads(&m) || adamw_create(&opt, &cfg.optim, m.n_params)) goto fail;

    const double peak = runtime_sgemm_gflops(512, 0.3) * 1e9;
    printf("train: %d steps x %d sequences, data '%s', %d BLAS thread%s, sgemm peak %.1f GFLOP/s\n", cfg.train.steps,
           cfg.train.global_batch, cfg.data.source, threads, threads == 1 ? "" : "s", peak / 1e9);

    Rng data_rng;
    rng_seed(&data_rng, (uint64_t)cfg.train.seed * 7919u + 17u);
    const double t_start = runtime_now();
    double window_t0 = t_start, window_tokens = 0, window_flops = 0;
    for (int step = 0; step < cfg.train.steps; step++) {
        if (fill_batch(&cfg, &td, &batch, m.cfg.vocab_size, &data_rng)) goto fail;
        const AttnLayout *lay = packed_batch_layout(&batch);
        if (lay->n_rows > m.cfg.max_seq_len * batch.n_seqs) { /* some sequence is too long */
            for (int s = 0; s < lay->n_seqs; s++)
                if (lay->seq_start[s + 1] - lay->seq_start[s] > m.cfg.max_seq_len) {
                    px_error("a training sequence of %d tokens exceeds the model's max_seq_len=%d (lower "
                             "data.max_tokens)", lay->seq_start[s + 1] - lay->seq_start[s], m.cfg.max_seq_len);
                    goto fail;
                }
        }
        StepStats st;
        if (lm_train_step(&m, &acts, &opt, batch.tokens, batch.targets, lay, step, &st)) goto fail;
        window_tokens += lay->n_rows;
        window_flops += model_train_flops(&m.cfg, lay);
        const int last = step + 1 == cfg.train.steps;
        if ((step + 1) % cfg.train.log_every == 0 || step == 0 || last) {
            double now = runtime_now(), dt = now - window_t0;
            char eta[32];
            format_duration(eta, sizeof eta, (now - t_start) / (step + 1) * (cfg.train.steps - step - 1));
            printf("step %5d/%d | loss %.4f | lr %.2e | grad-norm %.3f | %.0f tok/s | MFU %.1f%% | ETA %s\n",
                   step + 1, cfg.train.steps, st.loss, st.lr, st.grad_norm, window_tokens / dt,
                   100.0 * window_flops / dt / peak, eta);
            fflush(stdout);
            window_t0 = now;
            window_tokens = window_flops = 0;
        }
        if (td.has_valid && ((cfg.train.eval_every && (step + 1) % cfg.train.eval_every == 0) || last)) {
            double t0 = runtime_now(), vloss;
            if (evaluate(&m, &acts, &batch, &td.valid, cfg.train.global_batch, &vloss)) goto fail;
            printf("eval  %5d/%d | val loss %.4f | ppl %.2f | %lld pairs | %.1f s\n", step + 1, cfg.train.steps, vloss,
                   exp(vloss), (long long)td.valid.pairs.count, runtime_now() - t0);
            fflush(stdout);
            window_t0 += runtime_now() - t0; /* evaluation time is not training throughput */
        }
    }
    if (save_model(&cfg, &m, &td)) goto fail;
    printf("done in %.1f s\n", runtime_now() - t_start);
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    free_data(&td);
    activations_free(&acts);
    packed_batch_free(&batch);
    adamw_free(&opt);
    model_free(&m);
    config_free(&cfg);
    return status;
}
