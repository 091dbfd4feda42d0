/* train.c — `proact train`: ProactiveLLM training, data-parallel over MPI ranks (docs/design.md §2, §4).
 *
 * This command parses the options, opens the data, the model and the checkpoints (io/), and
 * hands the loop to the trainer (src/train/trainer.h: batches, steps, validation, agreed stops),
 * whose hooks it wires back to io/ and stdout here: checkpoints, the progress line,
 * metrics.jsonl. On SIGUSR1/SIGTERM all ranks agree at the next step boundary, write a
 * checkpoint and exit 75. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/dataset.h"
#include "io/files.h"
#include "io/hf_model.h"
#include "io/proact_json.h"
#include "io/tokenizer_json.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "mpi/watchdog.h"
#include "mpi/world.h"
#include "src/base/common.h"
#include "src/base/fault.h"
#include "src/model/model.h"
#include "src/text/tokenizer.h"
#include "src/train/batch_source.h"
#include "src/train/schedule.h"
#include "src/train/trainer.h"

/* Exit status after a checkpoint taken on SIGUSR1/SIGTERM: Slurm scripts requeue on it
 * (EX_TEMPFAIL of sysexits.h). */
#define TRAIN_EXIT_PREEMPTED 75
/* Exit status when a checkpoint could not be written (disk full, I/O error) and
 * checkpoint.on_error = stop: sysexits' EX_IOERR. The previous checkpoint is intact. */
#define TRAIN_EXIT_CHECKPOINT 74

static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

/* ---------------------------------------------------------------- data */

typedef struct {
    int pairs; /* data.source = pairs */
    Dataset train, valid;
    int has_valid;
} TrainData;

static int open_one(const ProactConfig *cfg, const World *w, const char *path, Dataset *d) {
    long shown = w->rank == 0 ? 0 : 1 << 30; /* rank 0 reports malformed lines, once */
    if (dataset_open(path, cfg->data.tokenizer, cfg->data.template_name, cfg->data.max_tokens, d, job_print_skip,
                     &shown))
        return -1;
    if (w->rank == 0) {
        if (shown > 20) fprintf(stderr, "%s: ... %ld more skipped lines not shown\n", path, shown - 20);
        printf("data: %s: %lld pairs, template '%s', %s->%s%s", path, (long long)d->n_examples, d->template_name,
               d->src_lang, d->tgt_lang, d->file ? " (token shards, read by hyperslab)" : "");
        if (pairs_skipped(&d->tsv_stats)) printf(" (%ld malformed lines skipped)", pairs_skipped(&d->tsv_stats));
        printf("\n");
    }
    return 0;
}

static int open_data(const ProactConfig *cfg, const World *w, TrainData *td) {
    memset(td, 0, sizeof *td);
    td->pairs = strcmp(cfg->data.source, "pairs") == 0;
    if (!td->pairs) return 0;
    if (open_one(cfg, w, cfg->data.train, &td->train)) return -1;
    if (cfg->data.valid[0]) {
        if (open_one(cfg, w, cfg->data.valid, &td->valid)) return -1;
        td->has_valid = 1;
        if (td->valid.tokenizer_fingerprint != td->train.tokenizer_fingerprint)
            return px_error("%s: made with another tokenizer than %s (fingerprints %016llx and %016llx)",
                            cfg->data.valid, cfg->data.train, (unsigned long long)td->valid.tokenizer_fingerprint,
                            (unsigned long long)td->train.tokenizer_fingerprint);
    }
    return 0;
}

/* model.init names a model that carries its tokenizer (a proact export, --init-from): the data must
 * be tokenized with it, or every id would mean another token to the loaded embeddings. */
static int check_init_tokenizer(const ProactConfig *cfg, const TrainData *td) {
    char path[PX_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", cfg->model_init);
    if (!cfg->model_init[0] || !td->pairs || !file_exists(path)) return 0;
    Tokenizer *t = NULL;
    if (tokenizer_load(path, &t)) return -1;
    uint64_t fp = tokenizer_fingerprint(t);
    tokenizer_free(t);
    if (fp != td->train.tokenizer_fingerprint)
        return px_error("%s: made with another tokenizer than the base model's %s (fingerprints %016llx and %016llx): "
                        "prepare the data with the base's tokenizer",
                        cfg->data.train, path, (unsigned long long)td->train.tokenizer_fingerprint,
                        (unsigned long long)fp);
    return 0;
}

static void close_data(TrainData *td) {
    dataset_free(&td->train);
    dataset_free(&td->valid);
}

/* RUN_DIR/tokenizer.json and RUN_DIR/proact.json: what `proact export` puts beside the weights so
 * that the exported directory can stream (template, languages, phi, a default decision head). */
static int write_run_streaming_files(const ProactConfig *cfg, const TrainData *td) {
    char path[PX_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", cfg->run.dir);
    if (atomic_write_buffer(path, td->train.tokenizer_json, td->train.tokenizer_json_len)) return -1;
    ProactJson pj;
    proact_json_init(&pj);
    snprintf(pj.template_name, sizeof pj.template_name, "%s", td->train.template_name);
    snprintf(pj.src_lang, sizeof pj.src_lang, "%s", td->train.src_lang);
    snprintf(pj.tgt_lang, sizeof pj.tgt_lang, "%s", td->train.tgt_lang);
    if (schedule_format(&cfg->stream, pj.schedule, sizeof pj.schedule)) return -1;
    snprintf(pj.default_head, sizeof pj.default_head, "waitk:%d", cfg->stream.k);
    pj.phi = cfg->stream.phi;
    pj.tokens = td->train.template_tokens; /* lent: proact_json_write only reads it */
    snprintf(path, sizeof path, "%s/proact.json", cfg->run.dir);
    return proact_json_write(path, &pj);
}

/* ---------------------------------------------------------------- output */

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

static int print_config(const ProactConfig *cfg) {
    size_t size = config_dump_size(cfg);
    char *text = malloc(size);
    int rc = text && config_dump(cfg, text, size) == 0 ? (fputs(text, stdout), 0) : job_fail("cannot print the config");
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- the trainer's hooks */

/* What the hooks need: the run's objects, and the progress window on rank 0 (throughput and MFU
 * are measured between two progress lines, without validation and checkpoint time). */
typedef struct {
    const ProactConfig *cfg;
    const World *w;
    Learner *l;
    BatchSource *bs;
    const TrainData *td;
    const char *resolved; /* the resolved config, saved in checkpoints */
    JsonLog *log;
    double peak; /* sgemm FLOP/s over all ranks */
    double t_start, window_t0, window_tokens, window_flops, window_wait, checkpoint_t0;
    int checkpoint_failed;  /* a checkpoint could not be written, and that ends the run (exit 74) */
    int checkpoint_skipped; /* the last one could not be written, and training went on (on_error) */
} Run;

static int hook_stop_requested(void *ctx) {
    (void)ctx;
    return stop_requested != 0;
}

static int hook_save_checkpoint(void *ctx, int steps, double tokens) {
    Run *r = ctx;
    r->checkpoint_t0 = runtime_now();
    CheckpointMeta meta = {steps, tokens, r->resolved, r->w->rank, r->w->size};
    int rc = checkpoint_save(r->w, r->cfg->run.dir, r->l->model, &r->l->opt, batch_source_sampler(r->bs), &meta,
                             r->cfg->checkpoint.keep);
    r->checkpoint_skipped = 0; /* every rank agrees on rc: checkpoint_save agreed it */
    if (rc == 0) return 0;
    if (r->cfg->checkpoint.on_error != CHECKPOINT_ON_ERROR_CONTINUE) {
        r->checkpoint_failed = 1;
        return rc;
    }
    r->checkpoint_skipped = 1;
    if (r->w->rank == 0)
        fprintf(stderr, "proact: warning: %s; training goes on (checkpoint.on_error = continue)\n", px_error_message());
    return 0;
}

static int hook_on_checkpoint(void *ctx, int steps) {
    Run *r = ctx;
    if (r->w->rank == 0 && !r->checkpoint_skipped)
        printf("checkpoint: step %d (%.2f s)\n", steps, runtime_now() - r->checkpoint_t0);
    r->window_t0 += runtime_now() - r->checkpoint_t0;
    return 0;
}

/* The watchdog's phases: the trainer's, and the resume. */
enum { PHASE_RESUME = TRAINER_PHASE_CHECKPOINT + 1 };

static void hook_phase_begin(void *ctx, TrainerPhase phase, int steps) {
    (void)ctx;
    char name[64];
    if (phase == TRAINER_PHASE_STEP) snprintf(name, sizeof name, "step %d", steps + 1);
    else if (phase == TRAINER_PHASE_VALIDATION) snprintf(name, sizeof name, "the validation after step %d", steps);
    else snprintf(name, sizeof name, "the checkpoint of step %d", steps);
    watchdog_enter((int)phase, name);
}

static void hook_phase_end(void *ctx) {
    (void)ctx;
    watchdog_leave();
}

/* The progress line (every train.log_every steps, the first and the last) and metrics.jsonl. */
static int hook_on_step(void *ctx, int steps, const StepStats *s) {
    Run *r = ctx;
    const ProactConfig *cfg = r->cfg;
    r->window_tokens += s->rows;
    r->window_flops += s->flops;
    r->window_wait += s->allreduce_wait_s;
    if (r->w->rank != 0 || !(steps % cfg->train.log_every == 0 || steps == 1 || steps == cfg->train.steps)) return 0;
    double now = runtime_now(), dt = now - r->window_t0;
    char eta[32], line[512];
    format_duration(eta, sizeof eta, (now - r->t_start) / steps * (cfg->train.steps - steps));
    const int pairs = r->td->pairs;
    char parts[96] = ""; /* the SPSD loss's terms */
    if (pairs)
        snprintf(parts, sizeof parts, " (student %.4f teacher %.4f kl %.4f)", s->ce_student, s->ce_teacher, s->kl);
    printf("step %5d/%d | loss %.4f%s | lr %.2e | grad-norm %.3f | %.0f tok/s | MFU %.1f%% | ETA %s\n", steps,
           cfg->train.steps, s->loss, parts, s->lr, s->grad_norm, r->window_tokens / dt,
           100.0 * r->window_flops / dt / r->peak, eta);
    fflush(stdout);
    snprintf(line, sizeof line,
             "{\"step\": %d, \"loss\": %.6f, \"loss_student\": %.6f, \"loss_teacher\": %.6f, \"kl\": %.6f, "
             "\"tokens\": %.0f, \"tokens_per_s\": %.1f, \"lr\": %.6g, \"grad_norm\": %.6f, \"ranks\": %d, "
             "\"allreduce_wait_s\": %.6f, \"elapsed_s\": %.3f}",
             steps, s->loss, s->ce_student, pairs ? s->ce_teacher : 0.0, pairs ? s->kl : 0.0, s->rows,
             r->window_tokens / dt, s->lr, s->grad_norm, r->w->size, r->window_wait, now - r->t_start);
    r->window_t0 = now;
    r->window_tokens = r->window_flops = r->window_wait = 0;
    return json_log_line(r->log, line);
}

/* Validation, printed and logged by rank 0; the one before the first step starts the clock. */
static int hook_on_eval(void *ctx, int steps, const EvalStats *v) {
    Run *r = ctx;
    int rc = 0;
    if (r->w->rank == 0) {
        char line[256];
        printf("eval  %5d/%d | val loss student %.4f teacher %.4f kl %.4f | %lld pairs | %.1f s\n", steps,
               r->cfg->train.steps, v->ce_student, v->ce_teacher, v->kl, (long long)r->td->valid.n_examples,
               v->seconds);
        fflush(stdout);
        snprintf(line, sizeof line,
                 "{\"step\": %d, \"val_loss_student\": %.6f, \"val_loss_teacher\": %.6f, \"val_kl\": %.6f}", steps,
                 v->ce_student, v->ce_teacher, v->kl);
        rc = json_log_line(r->log, line);
    }
    if (steps == 0) r->t_start = r->window_t0 = runtime_now();
    else r->window_t0 += v->seconds; /* evaluation time is not training throughput */
    return rc;
}

/* A checkpoint --resume could not read (rank 0 reports it). */
static void warn_skipped(void *ctx, const char *why, int older_left) {
    if (*(const int *)ctx == 0)
        fprintf(stderr, "proact: warning: %s%s\n", why, older_left ? "; trying the previous checkpoint" : "");
}

/* ---------------------------------------------------------------- the job */

int cmd_train(int argc, char **argv) {
    const char *config_path = NULL, *set_items[66], *resume = NULL, *init_from = NULL;
    OptList sets = {set_items, 0, 64}; /* two more slots below: --resume's run.dir, --init-from's model.init */
    int want_print = 0, opt_status;
    char resume_config[PX_PATH_MAX + 16], resume_dir_set[PX_PATH_MAX + 16];
    const Opt table[] = {
        OPT("config", 'c', OPT_STRING, &config_path, "FILE", "the config (.ini); with --resume: RUN_DIR/config.ini"),
        OPT("set", 's', OPT_LIST, &sets, "section.key=value", "override a config value (repeatable, at most 64)"),
        OPT("print-config", 'p', OPT_FLAG, &want_print, NULL, "print every key with its resolved value and exit"),
        OPT("resume", 0, OPT_STRING, &resume, "RUN_DIR", "continue a run from its newest checkpoint"),
        OPT("init-from", 0, OPT_STRING, &init_from, "DIR",
            "fine-tune: start from the weights of an exported model\n"
            "(config.json, model.safetensors; = --set model.init=DIR)\n"
            "with a fresh optimizer and step count; the data must be\n"
            "tokenized with DIR/tokenizer.json"),
        {0}};
    Opts o = {.command = "train", .opts = table};
    o.usage = "[mpirun -np N | srun] proact train --config FILE [--init-from DIR] [--set section.key=value ...]\n"
              "       [--print-config]\n"
              "       [mpirun -np N | srun] proact train --resume RUN_DIR [--set section.key=value ...]";
    o.about = "Trains the model of the config ([model], or a Hugging Face directory in model.init) for\n"
              "train.steps AdamW steps of train.global_batch examples split over the MPI ranks, and writes\n"
              "RUN_DIR/model (run.dir) with the data's tokenizer.json, and RUN_DIR/metrics.jsonl.\n"
              "Data (data.source):\n"
              "  pairs   data.train (and data.valid): token shards (.h5) or a TSV with data.tokenizer, trained\n"
              "          with the synchronized [source | student | teacher] layout and the loss\n"
              "          CE(student) + alpha CE(teacher) + lambda tau^2 KL (sections [stream], [spsd])\n"
              "  random  uniform random tokens of train.seq_len (plain causal)\n"
              "  copy    a random first half repeated in the second half (plain causal, learnable)\n";
    o.notes = "Checkpoints go to RUN_DIR/checkpoints every checkpoint.every steps and at the end. --resume continues\n"
              "from the newest one with RUN_DIR/config.ini (plus --set, e.g. train.steps=N). On SIGUSR1 or SIGTERM\n"
              "all ranks agree at the next step boundary, write a checkpoint and exit with status 75.\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    if (resume) { /* the run's own config, with run.dir kept and the --set options on top */
        snprintf(resume_config, sizeof resume_config, "%s/config.ini", resume);
        snprintf(resume_dir_set, sizeof resume_dir_set, "run.dir=%s", resume);
        if (!config_path) config_path = resume_config;
        set_items[sets.n++] = resume_dir_set;
    }
    char init_set[PX_PATH_MAX + 16];
    if (init_from) { /* after the --set options: --init-from wins, and config.ini records it for --resume */
        if (resume) return opts_usage_error(&o, "--init-from starts a run; --resume continues one (its model.init)");
        snprintf(init_set, sizeof init_set, "model.init=%s", init_from);
        set_items[sets.n++] = init_set;
    }
    if (!config_path) {
        fprintf(stderr, "proact train: error: --config FILE or --resume RUN_DIR is required (see --help)\n");
        return 2;
    }
    ProactConfig cfg = {0};
    int config_rc = config_load(&cfg, config_path, sets.items, sets.n);
    if (config_rc == 0) config_rc = fault_check_env();
    if (want_print || (config_rc && !world_launched())) { /* a lone process: nobody to agree with */
        int rc = config_rc ? job_fail(px_error_message()) : print_config(&cfg);
        config_free(&cfg);
        return rc;
    }

    World w;
    if (world_init(NULL, NULL, &w)) {
        config_free(&cfg);
        return job_fail(px_error_message());
    }
    const int root = w.rank == 0;
    int status = 0, rc = 0;
    Model m = {0};
    Learner learner = {0};
    TrainData td = {0};
    BatchSource bs = {0};
    JsonLog log = {0};
    char *resolved = NULL;
    Run run = {.cfg = &cfg, .w = &w, .l = &learner, .bs = &bs, .td = &td, .log = &log};
    /* from here on every error is agreed by all ranks: rank 0 prints it, once */
    if (world_agree(&w, config_rc)) goto fail;
    if (world_agree(&w, watchdog_start(&w, cfg.train.watchdog_s))) goto fail;
    /* one BLAS thread per rank unless asked otherwise: ranks already fill the cores */
    int threads = runtime_set_threads(cfg.run.threads ? cfg.run.threads : (w.size > 1 ? 1 : 0));
    runtime_report_blas();

    if (cfg.model_init[0]) rc = hf_load_model(cfg.model_init, &m);
    else if ((rc = model_create(&m, &cfg.model)) == 0) model_init_random(&m, (uint64_t)cfg.train.seed);
    if (world_agree(&w, rc)) goto fail;
    if (root) {
        printf("model: %s from %s, %.2fM parameters, %d layers, d=%d, heads %d/%d, vocab %d\n",
               model_arch_hf_class(m.cfg.arch), cfg.model_init[0] ? cfg.model_init : "scratch", m.n_params / 1e6,
               m.cfg.n_layers, m.cfg.hidden_size, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.vocab_size);
    }
    ExampleSource train_examples = {0}, valid_examples = {0};
    rc = open_data(&cfg, &w, &td);
    if (rc == 0) rc = check_init_tokenizer(&cfg, &td);
    if (rc == 0 && td.pairs) train_examples = dataset_examples(&td.train);
    if (rc == 0 && td.has_valid) valid_examples = dataset_examples(&td.valid);
    BatchConfig bc = {td.pairs ? NULL : cfg.data.source, cfg.train.global_batch, cfg.train.seq_len, cfg.train.seed,
                      cfg.stream};
    if (rc == 0) rc = batch_source_init(&bs, &bc, td.pairs ? &train_examples : NULL, &m.cfg);
    SpsdWeights spsd = {cfg.spsd.alpha, cfg.spsd.lambda, cfg.spsd.tau};
    if (rc == 0) rc = learner_init(&learner, &m, &w, &cfg.optim, cfg.mpi.bucket_mb, cfg.mpi.zero, spsd);
    if (rc == 0 && root) rc = json_log_open(&log, cfg.run.dir, "metrics.jsonl");
    /* the resolved config (every key, --set included): checkpoints carry it and --resume reads it back */
    size_t resolved_size = config_dump_size(&cfg);
    if (rc == 0 && (!(resolved = malloc(resolved_size)) || config_dump(&cfg, resolved, resolved_size)))
        rc = px_error("out of memory");
    if (rc == 0 && root && !resume) {
        char path[PX_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/config.ini", cfg.run.dir);
        rc = atomic_write_buffer(path, resolved, strlen(resolved));
        if (rc == 0 && td.pairs) rc = write_run_streaming_files(&cfg, &td);
    }
    if (world_agree(&w, rc)) goto fail;
    TrainerConfig tc = {.steps = cfg.train.steps,
                        .eval_every = cfg.train.eval_every,
                        .checkpoint_every = cfg.checkpoint.every,
                        .eval_at_start = !resume,
                        .eval_batch = cfg.train.global_batch,
                        .eval_seed = cfg.train.seed + 1};
    if (resume) { /* the newest checkpoint that reads back whole; a corrupt one is reported and skipped */
        char ckpt[PX_PATH_MAX + 64];
        CheckpointMeta got;
        watchdog_enter(PHASE_RESUME, "the resume");
        rc = checkpoint_resume(&w, resume, &m, &learner.opt, batch_source_sampler(&bs), &got, ckpt, sizeof ckpt,
                               warn_skipped, &w.rank);
        watchdog_leave();
        if (rc) goto fail;
        tc.first_step = got.step;
        if (root) printf("resume: %s at step %d\n", ckpt, got.step);
        /* the steps after the checkpoint are trained and logged again: log each step once */
        if (world_agree(&w, root ? json_log_keep_steps(&log, got.step) : 0)) goto fail;
    }
    signal(SIGUSR1, on_stop_signal);
    signal(SIGTERM, on_stop_signal);

    /* the precision of the matrix products; the bf16 weights are made from the (loaded) fp32 ones */
    GemmPrecision prec = strcmp(cfg.train.precision, "bf16") == 0 ? GEMM_BF16 : GEMM_FP32;
    if (prec == GEMM_BF16 && !gemm_bf16_native()) {
        if (root) printf("precision: train.precision = bf16, but this CPU has no AVX-512 BF16: training in fp32\n");
        prec = GEMM_FP32;
    }
    if (world_agree(&w, model_set_precision(&m, prec))) goto fail;
    if (root)
        printf("precision: %s matrix products (%s)\n", prec == GEMM_BF16 ? "bf16" : "fp32",
               prec == GEMM_BF16 ? gemm_describe() : "OpenBLAS sgemm");

    char spec[SCHEDULE_SPEC_MAX] = "";
    if (td.pairs && schedule_format(&cfg.stream, spec, sizeof spec)) goto fail; /* the same on every rank */
    run.resolved = resolved;
    run.peak = runtime_gemm_gflops(512, 0.3, prec) * 1e9 * w.size;
    if (root)
        printf("train: %d steps x %d examples on %d rank%s (%d thread%s each), data '%s'%s%s%s, %s matmul peak "
               "%.1f GFLOP/s\n",
               cfg.train.steps, cfg.train.global_batch, w.size, w.size == 1 ? "" : "s", threads,
               threads == 1 ? "" : "s", cfg.data.source, td.pairs ? ", schedule " : "", spec,
               td.pairs && cfg.stream.no_teacher ? ", no teacher copy (student CE only)" : "",
               prec == GEMM_BF16 ? "bf16" : "fp32", run.peak / 1e9);
    TrainerHooks hooks = {.ctx = &run,
                          .now = runtime_now,
                          .stop_requested = hook_stop_requested,
                          .save_checkpoint = hook_save_checkpoint,
                          .on_checkpoint = hook_on_checkpoint,
                          .on_step = hook_on_step,
                          .on_eval = hook_on_eval,
                          .phase_begin = hook_phase_begin,
                          .phase_end = hook_phase_end};
    TrainerResult res;
    run.t_start = run.window_t0 = runtime_now();
    rc = trainer_run(&learner, &bs, td.has_valid ? &valid_examples : NULL, &tc, &hooks, &res);
    if (rc == TRAINER_STOPPED && run.checkpoint_skipped) { /* on_error = continue, and the last one failed */
        if (root)
            printf("stop: signal received; the checkpoint of step %d could not be written (see the warning); "
                   "resume with: proact train --resume %s\n",
                   res.steps_done, cfg.run.dir);
        status = TRAIN_EXIT_CHECKPOINT;
        goto done;
    }
    if (rc == TRAINER_STOPPED) {
        if (root)
            printf("stop: signal received; checkpoint at step %d written; resume with: proact train --resume %s\n",
                   res.steps_done, cfg.run.dir);
        status = TRAIN_EXIT_PREEMPTED;
        goto done;
    }
    /* every rank holds the same parameters; rank 0 writes them */
    if (rc < 0 || world_agree(&w, root ? save_model(&cfg, &m, &td) : 0)) goto fail;
    if (root) printf("done in %.1f s\n", runtime_now() - run.t_start);
    goto done;
fail:
    if (root) job_fail(px_error_message());
    status = run.checkpoint_failed ? TRAIN_EXIT_CHECKPOINT : 1;
done:
    watchdog_stop();
    json_log_close(&log);
    free(resolved);
    learner_free(&learner);
    batch_source_free(&bs);
    close_data(&td);
    model_free(&m);
    config_free(&cfg);
    world_finalize();
    return status;
}
