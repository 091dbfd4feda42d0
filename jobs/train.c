/* train.c — `proact train`: ProactiveLLM training, data-parallel over MPI ranks (DESIGN §2, §4).
 *
 * Recipe: parse config -> set up the world -> load or create the model (identical on every
 * rank: same seed) -> open the data -> loop: the step's global batch (the same on any rank
 * count) -> this rank's share, each example with its sampled read schedule in the synchronized
 * [source | student | teacher] layout -> forward -> SPSD loss scaled by the GLOBAL number of
 * target tokens -> backward with the gradient allreduce overlapped -> AdamW -> log -> save.
 * Every decision that ends the run is agreed by all ranks at the step boundary. */
#include <getopt.h>
#include <math.h>
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
#include "jobs/jobs.h"
#include "mpi/grad_sync.h"
#include "mpi/world.h"
#include "src/train/batch.h"
#include "src/base/common.h"
#include "src/model/loss.h"
#include "src/model/model.h"
#include "src/model/optim.h"
#include "src/train/pairs.h"
#include "src/train/schedule.h"

/* Exit status after a checkpoint taken on SIGUSR1/SIGTERM: Slurm scripts requeue on it
 * (EX_TEMPFAIL of sysexits.h). */
#define TRAIN_EXIT_PREEMPTED 75

static void usage(FILE *out) {
    fprintf(out,
            "usage: [mpirun -np N | srun] proact train --config FILE [--set section.key=value ...] [--print-config]\n"
            "       [mpirun -np N | srun] proact train --resume RUN_DIR [--set section.key=value ...]\n\n"
            "Trains the model of the config ([model], or a Hugging Face directory in model.init) for\n"
            "train.steps AdamW steps of train.global_batch examples split over the MPI ranks, and writes\n"
            "RUN_DIR/model (run.dir) with the data's tokenizer.json, and RUN_DIR/metrics.jsonl.\n"
            "Data (data.source):\n"
            "  pairs   data.train (and data.valid): token shards (.h5) or a TSV with data.tokenizer, trained\n"
            "          with the synchronized [source | student | teacher] layout and the loss\n"
            "          CE(student) + alpha CE(teacher) + lambda tau^2 KL (sections [stream], [spsd])\n"
            "  random  uniform random tokens of train.seq_len (plain causal)\n"
            "  copy    a random first half repeated in the second half (plain causal, learnable)\n"
            "--print-config prints every key with its resolved value and exits.\n"
            "Checkpoints go to RUN_DIR/checkpoints every checkpoint.every steps and at the end. --resume continues\n"
            "from the newest one with RUN_DIR/config.ini (plus --set, e.g. train.steps=N). On SIGUSR1 or SIGTERM\n"
            "all ranks agree at the next step boundary, write a checkpoint and exit with status %d.\n",
            TRAIN_EXIT_PREEMPTED);
}


static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

/* ---------------------------------------------------------------- data */

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

static int open_one(const ProactConfig *cfg, const World *w, const char *path, Dataset *d) {
    long shown = w->rank == 0 ? 0 : 1 << 30; /* rank 0 reports malformed lines, once */
    if (dataset_open(path, cfg->data.tokenizer, cfg->data.template_name, cfg->data.max_tokens, d, print_skip, &shown))
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
    return pair_sampler_init(&td->sampler, td->train.n_examples, (uint64_t)cfg->train.seed * 31u + 7u);
}

static void close_data(TrainData *td) {
    dataset_free(&td->train);
    dataset_free(&td->valid);
    pair_sampler_free(&td->sampler);
}

/* ---------------------------------------------------------------- one rank's batch */

typedef struct {
    PackedBatch batch;
    PairSet pairs;            /* this rank's examples of the step */
    int n_examples, cap;
    int *student_first, *teacher_first, *n_copy_rows; /* per example (pairs only) */
    int *g;                   /* schedule scratch */
    int g_cap;
} RankBatch;

static void rank_batch_free(RankBatch *rb) {
    packed_batch_free(&rb->batch);
    pair_set_free(&rb->pairs);
    free(rb->student_first);
    free(rb->teacher_first);
    free(rb->n_copy_rows);
    free(rb->g);
    memset(rb, 0, sizeof *rb);
}

/* The read schedule of example e at a step depends only on (seed, step, e): the same on any
 * number of ranks. */
static uint64_t schedule_seed(int seed, int step, int64_t e) {
    return ((uint64_t)seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)(step + 1) << 40) ^ (uint64_t)e;
}

/* Builds the synchronized layout of examples idx[0..n-1] (global indices into d). */
static int build_spsd(RankBatch *rb, Dataset *d, const StreamConfig *sc, const int64_t *idx, int n, int seed,
                      int step) {
    pair_set_free(&rb->pairs);
    packed_batch_clear(&rb->batch);
    if (dataset_get(d, idx, n, &rb->pairs)) return -1;
    if (n > rb->cap) {
        int *a = realloc(rb->student_first, sizeof(int) * n), *b = realloc(rb->teacher_first, sizeof(int) * n);
        int *c = realloc(rb->n_copy_rows, sizeof(int) * n);
        if (a) rb->student_first = a;
        if (b) rb->teacher_first = b;
        if (c) rb->n_copy_rows = c;
        if (!a || !b || !c) return px_error("out of memory for a batch of %d examples", n);
        rb->cap = n;
    }
    rb->n_examples = n;
    for (int k = 0; k < n; k++) {
        int m = pair_tgt_words(&rb->pairs, k);
        if (m > rb->g_cap) {
            int *g = realloc(rb->g, sizeof(int) * m);
            if (!g) return px_error("out of memory for a read schedule");
            rb->g = g;
            rb->g_cap = m;
        }
        Rng rng;
        rng_seed(&rng, schedule_seed(seed, step, idx[k]));
        schedule_sample(sc, pair_src_words(&rb->pairs, k), m, &rng, rb->g);
        SpsdRows rows;
        if (spsd_batch_add(&rb->batch, &rb->pairs, &d->template_tokens, k, rb->g, sc->phi, &rows)) return -1;
        rb->student_first[k] = rows.student_first;
        rb->teacher_first[k] = rows.teacher_first;
        rb->n_copy_rows[k] = rows.n_copy_rows;
    }
    return 0;
}

/* This rank's share of the step's global batch. Synthetic data: all ranks draw the whole
 * global batch from the step's seed and keep their part, so any rank count sees the same data. */
static int build_batch(const ProactConfig *cfg, const World *w, TrainData *td, RankBatch *rb, int vocab, int step,
                       int64_t *global_idx) {
    const int B = cfg->train.global_batch;
    if (!td->pairs) {
        int64_t first, count;
        shards_rank_range(B, w->rank, w->size, &first, &count);
        Rng rng;
        rng_seed(&rng, (uint64_t)cfg->train.seed * 7919u + (uint64_t)step);
        PackedBatch all = {0};
        int rc = packed_batch_fill_synthetic(&all, cfg->data.source, B, cfg->train.seq_len, vocab, &rng);
        packed_batch_clear(&rb->batch);
        for (int64_t s = first; rc == 0 && s < first + count; s++) { /* copy my sequences */
            int r0 = all.seq_start[s], r1 = all.seq_start[s + 1];
            if ((rc = packed_batch_begin_sequence(&rb->batch, r1 - r0))) break;
            for (int r = r0; r < r1; r++)
                packed_batch_push_row(&rb->batch, all.tokens[r], all.targets[r], all.pos[r], 0, 0);
            packed_batch_end_sequence(&rb->batch);
        }
        packed_batch_free(&all);
        return rc;
    }
    for (int k = 0; k < B; k++) global_idx[k] = pair_sampler_next(&td->sampler); /* same on every rank */
    /* deal the global batch by cost (rows of the synchronized layout), so that no rank waits for a
     * slower one; every rank computes the same assignment */
    int n_mine = 0, rc = 0;
    int *src = malloc(sizeof(int) * B), *tgt = malloc(sizeof(int) * B), *owner = malloc(sizeof(int) * B);
    double *cost = malloc(sizeof(double) * B);
    int64_t *mine = malloc(sizeof(int64_t) * B);
    if (!src || !tgt || !owner || !cost || !mine) rc = px_error("out of memory dealing a batch of %d", B);
    if (rc == 0) rc = dataset_lengths(&td->train, global_idx, B, src, tgt);
    for (int k = 0; rc == 0 && k < B; k++) cost[k] = src[k] + 2.0 * tgt[k] + 8.0;
    if (rc == 0) rc = balance_by_cost(cost, B, w->size, owner);
    for (int k = 0; rc == 0 && k < B; k++)
        if (owner[k] == w->rank) mine[n_mine++] = global_idx[k];
    if (rc == 0) rc = build_spsd(rb, &td->train, &cfg->stream, mine, n_mine, cfg->train.seed, step);
    free(src), free(tgt), free(owner), free(cost), free(mine);
    if (rc) return -1;
    int max_id = pair_set_max_token(&rb->pairs, &td->train.template_tokens);
    if (max_id >= vocab)
        return px_error("%s: token id %d does not fit the model's vocabulary of %d (model.vocab_size must cover the "
                        "tokenizer)", td->train.path, max_id, vocab);
    return 0;
}

/* Positions beyond what the model allows, as an error. (Rows may exceed max_seq_len: the two
 * target copies share their positions.) */
static int check_lengths(const PackedBatch *b, int max_len) {
    for (int r = 0; r < b->n_rows; r++)
        if (b->pos[r] >= max_len)
            return px_error("a training sequence reaches position %d, beyond the model's max_seq_len=%d (lower "
                            "data.max_tokens or raise model.max_seq_len)", b->pos[r], max_len);
    return 0;
}

/* Loss and dlogits for this rank's rows; sums[] += ce_student, ce_teacher, kl, count. */
static int rank_loss(const ProactConfig *cfg, const TrainData *td, RankBatch *rb, float *logits, int vocab,
                     double global_count, double sums[4]) {
    const float scale = (float)(1.0 / global_count);
    if (!td->pairs) {
        int n;
        sums[0] += cross_entropy_forward_backward(logits, rb->batch.targets, rb->batch.n_rows, vocab, scale, &n);
        sums[3] += n;
        return 0;
    }
    SpsdLoss l;
    if (spsd_loss_forward_backward(logits, rb->batch.targets, rb->batch.n_rows, vocab, rb->student_first,
                                   rb->teacher_first, rb->n_copy_rows, rb->n_examples, cfg->spsd.alpha,
                                   cfg->spsd.lambda, cfg->spsd.tau, scale, &l))
        return -1;
    sums[0] += l.ce_student;
    sums[1] += l.ce_teacher;
    sums[2] += l.kl;
    sums[3] += l.count;
    return 0;
}

/* Student predicted rows of this rank's batch (for pairs) or rows with targets (synthetic). */
static double rank_target_count(const TrainData *td, const RankBatch *rb) {
    if (!td->pairs) return packed_batch_count_targets(&rb->batch);
    double n = 0;
    for (int k = 0; k < rb->n_examples; k++)
        for (int i = 0; i < rb->n_copy_rows[k]; i++) n += rb->batch.targets[rb->student_first[k] + i] >= 0;
    return n;
}

/* Validation: every pair once (split over the ranks), the schedule of a fixed seed; returns
 * the global means of the student CE, the teacher CE and the KL. */
static int evaluate(const ProactConfig *cfg, const World *w, TrainData *td, Model *m, Activations *a,
                    RankBatch *rb, double out[3]) {
    int64_t first, count;
    shards_rank_range(td->valid.n_examples, w->rank, w->size, &first, &count);
    double sums[4] = {0, 0, 0, 0};
    int rc = 0;
    const int B = cfg->train.global_batch;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)B);
    if (!idx) rc = px_error("out of memory for validation");
    for (int64_t e0 = first; rc == 0 && e0 < first + count; e0 += B) {
        int n = (int)PX_MIN((int64_t)B, first + count - e0);
        for (int k = 0; k < n; k++) idx[k] = e0 + k;
        if (build_spsd(rb, &td->valid, &cfg->stream, idx, n, cfg->train.seed + 1, -1) ||
            check_lengths(&rb->batch, m->cfg.max_seq_len) ||
            model_forward(m, a, rb->batch.tokens, packed_batch_layout(&rb->batch)) ||
            rank_loss(cfg, td, rb, a->logits, m->cfg.vocab_size, 1.0, sums))
            rc = -1;
    }
    free(idx);
    if (world_agree(w, rc) || world_sum(w, sums, 4)) return -1;
    for (int i = 0; i < 3; i++) out[i] = sums[3] > 0 ? sums[i] / sums[3] : NAN;
    return 0;
}

/* Validation at `step` (0 = before training): printed and logged by rank 0. */
static int run_eval(const ProactConfig *cfg, const World *w, TrainData *td, Model *m, Activations *a, RankBatch *rb,
                    JsonLog *log, int step) {
    double t0 = runtime_now(), v[3];
    if (evaluate(cfg, w, td, m, a, rb, v)) return -1;
    int rc = 0;
    if (w->rank == 0) {
        char line[256];
        printf("eval  %5d/%d | val loss student %.4f teacher %.4f kl %.4f | %lld pairs | %.1f s\n", step,
               cfg->train.steps, v[0], v[1], v[2], (long long)td->valid.n_examples, runtime_now() - t0);
        fflush(stdout);
        snprintf(line, sizeof line,
                 "{\"step\": %d, \"val_loss_student\": %.6f, \"val_loss_teacher\": %.6f, \"val_kl\": %.6f}", step,
                 v[0], v[1], v[2]);
        rc = json_log_line(log, line);
    }
    return world_agree(w, rc);
}

/* RUN_DIR/tokenizer.json and RUN_DIR/proact.json: what `proact export` puts beside the weights so
 * that the exported directory can stream (template, languages, phi, a default decision head). */
static int write_run_streaming_files(const ProactConfig *cfg, const TrainData *td) {
    char path[PX_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", cfg->run.dir);
    if (atomic_write_buffer(path, td->train.tokenizer_json, td->train.tokenizer_json_len)) return -1;
    const TemplatePieces *tp = &td->train.template_tokens;
    const IdVec *spans[4] = {&tp->prompt, &tp->src_end, &tp->tgt_begin, &tp->tgt_end};
    const char *names[4] = {"prompt", "src_end", "tgt_begin", "tgt_end"};
    size_t cap = 4096, len = 0;
    for (int i = 0; i < 4; i++) cap += 12 * (size_t)spans[i]->n;
    char *json = malloc(cap);
    if (!json) return px_error("out of memory");
    len += (size_t)snprintf(json + len, cap - len,
                            "{\n  \"format\": \"proact\",\n  \"template\": \"%s\",\n  \"src_lang\": \"%s\",\n"
                            "  \"tgt_lang\": \"%s\",\n  \"phi\": %d,\n  \"schedule\": \"%s\",\n"
                            "  \"default_head\": \"waitk:%d\",\n  \"template_tokens\": {",
                            td->train.template_name, td->train.src_lang, td->train.tgt_lang, cfg->stream.phi,
                            schedule_name(cfg->stream.kind), cfg->stream.k);
    for (int i = 0; i < 4; i++) {
        len += (size_t)snprintf(json + len, cap - len, "%s\n    \"%s\": [", i ? "," : "", names[i]);
        for (int k = 0; k < spans[i]->n; k++)
            len += (size_t)snprintf(json + len, cap - len, "%s%d", k ? ", " : "", spans[i]->ids[k]);
        len += (size_t)snprintf(json + len, cap - len, "]");
    }
    len += (size_t)snprintf(json + len, cap - len, "\n  }\n}\n");
    snprintf(path, sizeof path, "%s/proact.json", cfg->run.dir);
    int rc = atomic_write_buffer(path, json, len);
    free(json);
    return rc;
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

/* ---------------------------------------------------------------- the job */

int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
                                         {"print-config", no_argument, 0, 'p'}, {"resume", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *config_path = NULL, *sets[66], *resume = NULL;
    int n_sets = 0, want_print = 0, c;
    char resume_config[PX_PATH_MAX + 16], resume_dir_set[PX_PATH_MAX + 16];
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:ph", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'p': want_print = 1; break;
        case 'r': resume = optarg; break;
        case 's':
            if (n_sets == 64) return job_fail("too many --set options (at most 64)");
            sets[n_sets++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (resume) { /* the run's own config, with run.dir kept and the --set options on top */
        snprintf(resume_config, sizeof resume_config, "%s/config.ini", resume);
        snprintf(resume_dir_set, sizeof resume_dir_set, "run.dir=%s", resume);
        if (!config_path) config_path = resume_config;
        sets[n_sets++] = resume_dir_set;
    }
    if (!config_path || optind < argc) {
        usage(stderr);
        return 2;
    }
    ProactConfig cfg;
    if (config_load(&cfg, config_path, sets, n_sets)) return job_fail(px_error_message());
    if (want_print) {
        int rc = print_config(&cfg);
        config_free(&cfg);
        return rc;
    }

    World w;
    if (world_init(NULL, NULL, &w)) {
        config_free(&cfg);
        return job_fail(px_error_message());
    }
    const int root = w.rank == 0;
    /* one BLAS thread per rank unless asked otherwise: ranks already fill the cores */
    int threads = runtime_set_threads(cfg.run.threads ? cfg.run.threads : (w.size > 1 ? 1 : 0));
    runtime_report_blas();

    int status = 0, rc = 0;
    Model m = {0};
    AdamW opt = {0};
    Activations acts = {0};
    TrainData td = {0};
    RankBatch rb = {0};
    GradSync *gs = NULL;
    JsonLog log = {0};
    int64_t *global_idx = NULL;
    char *resolved = NULL;

    if (cfg.model_init[0]) rc = hf_load_model(cfg.model_init, &m);
    else if ((rc = model_create(&m, &cfg.model)) == 0) model_init_random(&m, (uint64_t)cfg.train.seed);
    if (world_agree(&w, rc)) goto fail;
    if (root) {
        printf("model: %s from %s, %.2fM parameters, %d layers, d=%d, heads %d/%d, vocab %d\n",
               model_arch_hf_class(m.cfg.arch), cfg.model_init[0] ? cfg.model_init : "scratch", m.n_params / 1e6,
               m.cfg.n_layers, m.cfg.hidden_size, m.cfg.n_heads, m.cfg.n_kv_heads, m.cfg.vocab_size);
    }
    rc = open_data(&cfg, &w, &td);
    if (rc == 0 && !td.pairs && cfg.train.seq_len > m.cfg.max_seq_len)
        rc = px_error("train.seq_len=%d exceeds the model's max_seq_len=%d", cfg.train.seq_len, m.cfg.max_seq_len);
    if (rc == 0) rc = model_alloc_grads(&m);
    if (rc == 0 && !(gs = grad_sync_new(&w, &m, cfg.mpi.bucket_mb, cfg.mpi.zero))) rc = -1;
    if (rc == 0) rc = grad_sync_optimizer_create(gs, &opt, &cfg.optim);
    if (rc == 0 && !(global_idx = malloc(sizeof(int64_t) * (size_t)cfg.train.global_batch)))
        rc = px_error("out of memory");
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
    int first_step = 0;
    double tokens_done = 0;
    if (resume) { /* the newest checkpoint that reads back whole; a corrupt one is reported and skipped */
        char ckpt[PX_PATH_MAX + 64];
        int steps[64], n = checkpoint_list(resume, steps, 64), loaded = 0;
        if (n == 0) {
            px_error("%s: no checkpoint to resume from (%s/checkpoints is empty or missing)", resume, resume);
            goto fail;
        }
        for (int i = 0; i < n && !loaded; i++) {
            CheckpointMeta got = {0};
            snprintf(ckpt, sizeof ckpt, "%s/checkpoints/step-%08d.h5", resume, steps[i]);
            int r = checkpoint_load(&w, ckpt, &m, &opt, td.pairs ? &td.sampler : NULL, &got);
            double incompatible[1] = {r == CHECKPOINT_INCOMPATIBLE};
            if (world_sum(&w, incompatible, 1)) goto fail;
            if (world_agree(&w, r) == 0) {
                loaded = 1;
                first_step = got.step;
                if (root) printf("resume: %s at step %d\n", ckpt, first_step);
            } else if (incompatible[0] > 0) {
                goto fail; /* another model or format: an older checkpoint of the run would not fit either */
            } else if (root) {
                fprintf(stderr, "proact: warning: %s%s\n", px_error_message(),
                        i + 1 < n ? "; trying the previous checkpoint" : "");
            }
        }
        if (!loaded) {
            px_error("%s: none of its %d checkpoints could be read (see the warnings above)", resume, n);
            goto fail;
        }
    }
    signal(SIGUSR1, on_stop_signal);
    signal(SIGTERM, on_stop_signal);

    const double peak = runtime_sgemm_gflops(512, 0.3) * 1e9 * w.size;
    if (root)
        printf("train: %d steps x %d examples on %d rank%s (%d BLAS thread%s each), data '%s'%s%s, sgemm peak %.1f "
               "GFLOP/s\n",
               cfg.train.steps, cfg.train.global_batch, w.size, w.size == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
               cfg.data.source, td.pairs ? ", schedule " : "", td.pairs ? schedule_name(cfg.stream.kind) : "",
               peak / 1e9);

    if (td.has_valid && !resume && run_eval(&cfg, &w, &td, &m, &acts, &rb, &log, 0)) goto fail; /* the start */
    const double t_start = runtime_now();
    double window_t0 = t_start, window_tokens = 0, window_flops = 0, window_wait = 0;
    for (int step = first_step; step < cfg.train.steps; step++) {
        /* 0. a stop signal on any rank stops all of them here, after a checkpoint */
        double stop[1] = {stop_requested};
        if (world_sum(&w, stop, 1)) goto fail;
        if (stop[0] > 0) {
            CheckpointMeta meta = {step, tokens_done, resolved, w.rank, w.size};
            if (world_agree(&w, checkpoint_save(&w, cfg.run.dir, &m, &opt, td.pairs ? &td.sampler : NULL, &meta,
                                                cfg.checkpoint.keep)))
                goto fail;
            if (root)
                printf("stop: signal received; checkpoint at step %d written; resume with: proact train --resume %s\n",
                       step, cfg.run.dir);
            status = TRAIN_EXIT_PREEMPTED;
            goto done;
        }
        /* 1. this rank's batch; all ranks agree before any collective */
        rc = build_batch(&cfg, &w, &td, &rb, m.cfg.vocab_size, step, global_idx);
        if (rc == 0) rc = check_lengths(&rb.batch, m.cfg.max_seq_len);
        if (world_agree(&w, rc)) goto fail;
        double counts[1] = {rank_target_count(&td, &rb)};
        if (world_sum(&w, counts, 1)) goto fail;
        if (counts[0] == 0) {
            px_error("step %d: the global batch has no target tokens", step + 1);
            goto fail;
        }
        /* 2. forward and loss (scaled by the global target count) */
        const AttnLayout *lay = packed_batch_layout(&rb.batch);
        double sums[5] = {0, 0, 0, 0, lay->n_rows};
        rc = model_forward(&m, &acts, rb.batch.tokens, lay);
        if (rc == 0) rc = rank_loss(&cfg, &td, &rb, acts.logits, m.cfg.vocab_size, counts[0], sums);
        if (world_agree(&w, rc)) goto fail;
        /* 3. backward, with the gradient allreduce started bucket by bucket */
        model_zero_grads(&m);
        double wait_s = 0;
        model_backward_hooked(&m, &acts, rb.batch.tokens, lay, grad_sync_on_backward, gs);
        if (grad_sync_finish(gs, &wait_s)) goto fail;
        /* 4. the same statistics on every rank; a diverged loss stops everyone */
        if (world_sum(&w, sums, 5)) goto fail;
        const double ce_s = sums[0] / sums[3], ce_t = sums[1] / sums[3], kl = sums[2] / sums[3];
        const double loss = td.pairs ? ce_s + cfg.spsd.alpha * ce_t + cfg.spsd.lambda * cfg.spsd.tau * cfg.spsd.tau * kl
                                     : ce_s;
        if (!isfinite(loss)) {
            px_error("loss is %g at step %d: training diverged (lower optim.lr?)", loss, step + 1);
            goto fail;
        }
        double grad_norm = grad_sync_optimizer_step(gs, &opt, step);
        if (grad_norm < 0) goto fail;
        window_tokens += sums[4];
        tokens_done += sums[3];
        window_flops += model_train_flops(&m.cfg, lay) * w.size; /* about: ranks have similar batches */
        window_wait += wait_s;
        const int last = step + 1 == cfg.train.steps;
        if (root && ((step + 1) % cfg.train.log_every == 0 || step == 0 || last)) {
            double now = runtime_now(), dt = now - window_t0;
            char eta[32], line[512];
            format_duration(eta, sizeof eta, (now - t_start) / (step + 1) * (cfg.train.steps - step - 1));
            float lr = lr_at_step(&cfg.optim, step);
            if (td.pairs)
                printf("step %5d/%d | loss %.4f (student %.4f teacher %.4f kl %.4f) | lr %.2e | grad-norm %.3f | %.0f "
                       "tok/s | MFU %.1f%% | ETA %s\n",
                       step + 1, cfg.train.steps, loss, ce_s, ce_t, kl, lr, grad_norm, window_tokens / dt,
                       100.0 * window_flops / dt / peak, eta);
            else
                printf("step %5d/%d | loss %.4f | lr %.2e | grad-norm %.3f | %.0f tok/s | MFU %.1f%% | ETA %s\n",
                       step + 1, cfg.train.steps, loss, lr, grad_norm, window_tokens / dt,
                       100.0 * window_flops / dt / peak, eta);
            fflush(stdout);
            snprintf(line, sizeof line,
                     "{\"step\": %d, \"loss\": %.6f, \"loss_student\": %.6f, \"loss_teacher\": %.6f, \"kl\": %.6f, "
                     "\"tokens\": %.0f, \"tokens_per_s\": %.1f, \"lr\": %.6g, \"grad_norm\": %.6f, \"ranks\": %d, "
                     "\"allreduce_wait_s\": %.6f, \"elapsed_s\": %.3f}",
                     step + 1, loss, ce_s, td.pairs ? ce_t : 0.0, td.pairs ? kl : 0.0, sums[4], window_tokens / dt, lr,
                     grad_norm, w.size, window_wait, now - t_start);
            rc = json_log_line(&log, line);
            window_t0 = now;
            window_tokens = window_flops = window_wait = 0;
        }
        if (world_agree(&w, root ? rc : 0)) goto fail;
        if (td.has_valid && ((cfg.train.eval_every && (step + 1) % cfg.train.eval_every == 0) || last)) {
            double t0 = runtime_now();
            if (run_eval(&cfg, &w, &td, &m, &acts, &rb, &log, step + 1)) goto fail;
            window_t0 += runtime_now() - t0; /* evaluation time is not training throughput */
        }
        if ((cfg.checkpoint.every && (step + 1) % cfg.checkpoint.every == 0) || last) {
            double t0 = runtime_now();
            CheckpointMeta meta = {step + 1, tokens_done, resolved, w.rank, w.size};
            if (world_agree(&w, checkpoint_save(&w, cfg.run.dir, &m, &opt, td.pairs ? &td.sampler : NULL, &meta,
                                                cfg.checkpoint.keep)))
                goto fail;
            if (root) printf("checkpoint: step %d (%.2f s)\n", step + 1, runtime_now() - t0);
            window_t0 += runtime_now() - t0;
        }
    }
    /* every rank holds the same parameters; rank 0 writes them */
    rc = root ? save_model(&cfg, &m, &td) : 0;
    if (world_agree(&w, rc)) goto fail;
    if (root) printf("done in %.1f s\n", runtime_now() - t_start);
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    json_log_close(&log);
    free(resolved);
    free(global_idx);
    grad_sync_free(gs);
    rank_batch_free(&rb);
    close_data(&td);
    activations_free(&acts);
    adamw_free(&opt);
    model_free(&m);
    config_free(&cfg);
    world_finalize();
    return status;
}
