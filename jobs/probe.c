/* probe.c — `proact probe`: fit the probe decision head (docs/design.md §2.5) on the model's own signals.
 * Recipe: parse options -> world -> load the model and the training data -> choose the examples
 * (a seeded order, until about --samples decision points) and deal them to the ranks -> each rank
 * collects features and self-labels, on-policy (the runner under a policy, src/probe/probe_policy.h)
 * or under a training schedule (teacher forcing, src/probe/probe_data.h) -> standardize, fit ridge
 * and logistic (IRLS) with ScaLAPACK over all ranks (mpi/dist_fit.h) -> accuracies and AUC -> rank 0
 * writes the probe into proact.json.
 *
 * Which examples, which read schedule and which points are used depends only on --seed, never on
 * the number of ranks, so 1 and N ranks fit the same probe (up to summation order). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset.h"
#include "io/files.h"
#include "io/proact_json.h"
#include "io/stream_model.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "mpi/dist_fit.h"
#include "mpi/grad_sync.h"
#include "mpi/world.h"
#include "src/base/common.h"
#include "src/base/fault.h"
#include "src/base/rng.h"
#include "src/probe/diagnose.h"
#include "src/probe/probe_data.h"
#include "src/probe/probe_policy.h"
#include "src/train/schedule.h"

typedef enum { STATES_POLICY = 0, STATES_SCHEDULE } ProbeStates;

typedef struct {
    const char *model_dir, *data, *out_dir, *policy, *label_name, *schedule;
    StreamConfig sched; /* --states schedule: the read schedule (resolved after the model is loaded) */
    int64_t samples;
    double lambda, holdout;
    int attn_window, threads;
    uint64_t seed;
    ProbeStates states;
    ProbeLabel label;
} ProbeArgs;

/* --states: policy | schedule */
static int parse_states(const char *name, const char *arg, void *dest) {
    if (strcmp(arg, "policy") == 0) *(ProbeStates *)dest = STATES_POLICY;
    else if (strcmp(arg, "schedule") == 0) *(ProbeStates *)dest = STATES_SCHEDULE;
    else return px_error("%s: expected policy or schedule, got '%s'", name, arg);
    return 0;
}

/* --label: agree | p-teacher | kl */
static int parse_label(const char *name, const char *arg, void *dest) {
    if (probe_label_parse(arg, (ProbeLabel *)dest))
        return px_error("%s: expected agree, p-teacher or kl, got '%s'", name, arg);
    return 0;
}

/* --lambda: a penalty, or 'auto' (-1) */
static int parse_lambda(const char *name, const char *arg, void *dest) {
    if (strcmp(arg, "auto") == 0) {
        *(double *)dest = -1;
        return 0;
    }
    return parse_double_opt(name, arg, 0, 1e12, dest);
}

/* --holdout: a fraction in [0, 0.9) */
static int parse_holdout(const char *name, const char *arg, void *dest) {
    if (parse_double_opt(name, arg, 0, 0.9, dest) || *(double *)dest == 0.9)
        return px_error("%s: expected a fraction in [0, 0.9), got '%s'", name, arg);
    return 0;
}

/* 0 to go on, else the exit status to return at once (0 after --help). */
static int parse_args(int argc, char **argv, ProbeArgs *a, int *status) {
    *a = (ProbeArgs){
        .samples = 4000, .lambda = -1 /* auto */, .holdout = 0.2, .attn_window = 4, .threads = 1, .seed = 1};
    const Opt table[] = {
        OPT("model", 'm', OPT_STRING, &a->model_dir, "DIR", "exported model directory", .flags = OPT_REQUIRED),
        OPT("data", 'd', OPT_STRING, &a->data, "train.h5|train.tsv", "the training data", .flags = OPT_REQUIRED),
        OPT("samples", 'n', OPT_I64, &a->samples, "N",
            "decision points to collect (default 4000; fewer if the\n"
            "data runs out)",
            .min = 10, .max = LONG_MAX),
        OPT("out", 'o', OPT_STRING, &a->out_dir, "DIR",
            "write the model with its probe to DIR (default: into\n"
            "--model itself)"),
        OPT("lambda", 'l', OPT_CUSTOM, &a->lambda, "L",
            "L2 penalty of both fits, or 'auto' (default): the one of\n"
            "0.1, 1, 10, 100, 1000 whose logistic probe has the\nlowest log-loss on the held-out examples",
            .parse = parse_lambda),
        OPT("holdout", 'f', OPT_CUSTOM, &a->holdout, "F",
            "fraction of the examples held out to measure accuracy\n"
            "(default 0.2)",
            .parse = parse_holdout),
        OPT("attn-window", 'w', OPT_INT, &a->attn_window, "W", "W of the A_front feature (default 4 tokens)", .min = 1,
            .max = INT_MAX),
        OPT("states", 'S', OPT_CUSTOM, &a->states, "policy|schedule",
            "where the decision points come from: 'policy' (default):\n"
            "the streaming runner translates each sentence with its\n"
            "own words under --policy and every decision before the\n"
            "source ends is a point; 'schedule': the reference target\n"
            "read under the training schedule (teacher forcing)",
            .parse = parse_states),
        OPT("policy", 'P', OPT_STRING, &a->policy, "band:A:B|HEAD",
            "the runner's policy for --states policy: band:A:B draws\n"
            "each word's lag from A..B (a random floored runner), or\n"
            "a head spec such as waitk:3. Default: the band of the\n"
            "schedule in proact.json (band:1:3 if it has none)"),
        OPT("schedule", 0, OPT_STRING, &a->schedule, "SPEC",
            "the read schedule for --states schedule (a spec as\n"
            "stream.schedule's, e.g. random:k_min=1,k_max=3).\n"
            "Default: the one in proact.json, else\n"
            "random:k_min=1,k_max=3,mean_step=1,p_full=0"),
        OPT("label", 'L', OPT_CUSTOM, &a->label, "agree|p-teacher|kl",
            "what the probe is fitted to: agree (default; the\n"
            "student's next token is the teacher's), p-teacher (the\n"
            "student's probability of the teacher's token) or kl\n"
            "(exp(-KL(teacher||student))); p-teacher and kl need\n"
            "--states policy",
            .parse = parse_label),
        OPT("seed", 's', OPT_U64, &a->seed, "S", "which examples, schedules and points (default 1)"),
        OPT("threads", 't', OPT_INT, &a->threads, "N", "BLAS threads per rank (default 1)", .min = 1, .max = 1024),
        {0}};
    Opts o = {.command = "probe", .opts = table};
    o.about = "Fits the probe decision head (probe:P) on the model's own sufficiency signal: at the decision\n"
              "points a streaming runner visits on training sentences (or under the training schedule), the\n"
              "features are the student's cues [h; H; pmax; A_front; words read; lag] and the\n"
              "label says whether its next token already equals the full-context teacher's (or how close\n"
              "its distribution is). Ridge and logistic (IRLS) probes are solved with ScaLAPACK over all\n"
              "ranks (mpirun/srun); the logistic one is written into proact.json for probe:P.\n";
    if (opts_parse(&o, argc, argv, status)) return 1;
    if (a->states == STATES_SCHEDULE && a->label != PROBE_LABEL_AGREE) {
        *status = opts_usage_error(&o, "--label p-teacher and kl need --states policy");
        return 1;
    }
    if (a->states == STATES_SCHEDULE && a->policy) {
        *status = opts_usage_error(&o, "--policy is for --states policy");
        return 1;
    }
    if (a->states == STATES_POLICY && a->schedule) {
        *status = opts_usage_error(&o, "--schedule is for --states schedule");
        return 1;
    }
    if (a->lambda < 0 && a->holdout <= 0) {
        *status = opts_usage_error(&o, "--lambda auto needs held-out examples (--holdout > 0)");
        return 1;
    }
    return 0;
}

/* --- which examples: the same choice on every rank -------------------------------------------- */

/* The read schedule of example e for --states schedule, seeded by e alone. */
static void example_schedule(const ProbeArgs *a, int64_t e, int n, int m, int *g) {
    Rng rng;
    rng_seed(&rng, a->seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(e + 1)));
    schedule_sample(&a->sched, n, m, &rng, g);
}

/* --states schedule's schedule: --schedule, else proact.json's, else the sampler probes used to
 * be fitted with (random k0 in 1..3, mean step 1, never full). */
static int resolve_schedule(ProbeArgs *a, const StreamModel *sm) {
    const char *spec = a->schedule ? a->schedule : sm->schedule[0] ? sm->schedule : NULL;
    if (spec) {
        if (schedule_parse(spec, &a->sched)) return -1;
        return 0;
    }
    return schedule_parse("random:k_min=1,k_max=3,mean_step=1,p_full=0", &a->sched);
}

typedef struct {
    int64_t n;        /* examples chosen */
    int64_t *example; /* [n] data-set index, in the chosen order */
    int *points;      /* [n] decision points to take from it (the last one may be cut short) */
    int64_t total;    /* sum of points */
} Choice;

/* The decision points example k of ps gives: under the schedule, its words read before the source
 * is finished; on-policy (not known before the runner has run), one per target word. */
static int example_points(const ProbeArgs *a, const PairSet *ps, int k, int64_t index, int *points) {
    int ns = pair_src_words(ps, k), m = pair_tgt_words(ps, k);
    *points = 0;
    if (ns == 0 || m == 0) return 0;
    if (a->states == STATES_POLICY) {
        *points = m;
        return 0;
    }
    int *g = px_calloc((size_t)m + 1, sizeof *g, "schedule");
    if (!g) return -1;
    example_schedule(a, index, ns, m, g);
    for (int j = 0; j < m; j++) *points += g[j] <= ns;
    free(g);
    return 0;
}

/* Visits the examples in a seeded random order, counting each one's decision points, until
 * `samples` points. Reads only lengths and word boundaries, in chunks. */
static int choose_examples(Dataset *d, const ProbeArgs *a, Choice *ch) {
    memset(ch, 0, sizeof *ch);
    const int64_t N = d->n_examples, samples = a->samples;
    int64_t *order = px_calloc((size_t)N, sizeof *order, "example order");
    ch->example = px_calloc((size_t)N, sizeof *ch->example, "examples");
    ch->points = px_calloc((size_t)N, sizeof *ch->points, "points");
    if (!order || !ch->example || !ch->points) {
        free(order);
        return -1;
    }
    Rng rng;
    rng_seed(&rng, a->seed);
    for (int64_t i = 0; i < N; i++) order[i] = i;
    for (int64_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)rng_below(&rng, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int rc = 0;
    enum { CHUNK = 256 };
    for (int64_t at = 0; at < N && ch->total < samples && rc == 0; at += CHUNK) {
        int n = (int)PX_MIN((int64_t)CHUNK, N - at);
        PairSet ps = {0};
        if (dataset_get(d, order + at, n, &ps)) {
            rc = -1;
            break;
        }
        for (int k = 0; k < n && ch->total < samples; k++) {
            int p;
            if ((rc = example_points(a, &ps, k, order[at + k], &p))) break;
            if (p == 0) continue;
            if (a->states == STATES_SCHEDULE) p = (int)PX_MIN((int64_t)p, samples - ch->total);
            ch->example[ch->n] = order[at + k];
            ch->points[ch->n++] = p;
            ch->total += p;
        }
        pair_set_free(&ps);
    }
    free(order);
    if (rc == 0 && ch->total < 10)
        rc = px_error("%s: too few decision points (%lld) to fit a probe", d->path, (long long)ch->total);
    return rc;
}

/* --- this rank's features ---------------------------------------------------------------------- */

/* Example k of the choice goes to rank k % size; every 1/holdout-th example is held out. */
static int is_holdout(int64_t k, double holdout) {
    if (holdout <= 0) return 0;
    int64_t every = (int64_t)llround(1.0 / holdout);
    return every >= 2 && k % every == every - 1;
}

/* The points of one example under the training schedule (teacher forcing): the first `keep`. */
static int collect_scheduled(ProbeCollector *pc, const StreamModel *sm, const PairSet *ps, int64_t index, int keep,
                             const ProbeArgs *a, ProbePoints *dst) {
    const int m = pair_tgt_words(ps, 0), dim = dst->dim;
    int *g = px_calloc((size_t)m + 1, sizeof *g, "schedule"), got = 0, rc = -1;
    double *label = px_calloc((size_t)m + 1, sizeof *label, "labels");
    ProbePoints tmp = {.dim = dim};
    if (g && label && (tmp.x = px_calloc((size_t)m + 1, (size_t)dim * sizeof(double), "probe features"))) {
        example_schedule(a, index, pair_src_words(ps, 0), m, g);
        rc = probe_collect_example(pc, &sm->model, &sm->format, ps, 0, g, a->attn_window, tmp.x, label, &got);
    }
    got = PX_MIN(got, keep); /* the choice's cut of the last example */
    for (int i = 0; rc == 0 && i < got; i++) {
        if ((rc = probe_points_push(dst, tmp.x + (size_t)i * dim, label[i], label[i]))) break;
    }
    free(g);
    free(label);
    probe_points_free(&tmp);
    return rc;
}

static int collect(const World *w, const StreamModel *sm, Dataset *d, const Choice *ch, const ProbeArgs *a,
                   const ProbePolicy *pol, ProbePoints *fit, ProbePoints *held) {
    fit->dim = held->dim = probe_feature_dim(sm->model.cfg.hidden_size);
    ProbeCollector pc;
    PolicyCollector pol_c;
    memset(&pol_c, 0, sizeof pol_c);
    if (probe_collector_init(&pc, &sm->model)) return -1;
    int rc =
        a->states == STATES_POLICY ? policy_collector_init(&pol_c, &sm->model, sm->tokenizer, &sm->format, pol) : 0;
    int64_t mine = 0, done = 0;
    for (int64_t k = w->rank; k < ch->n; k += w->size) mine++;
    double t0 = runtime_now(), last = t0;
    for (int64_t k = w->rank; k < ch->n && rc == 0; k += w->size) {
        PairSet ps = {0};
        if (dataset_get(d, &ch->example[k], 1, &ps)) {
            rc = -1;
            break;
        }
        ProbePoints *dst = is_holdout(k, a->holdout) ? held : fit;
        rc = a->states == STATES_POLICY ? probe_collect_on_policy(&pol_c, &ps, 0, ch->example[k], dst)
                                        : collect_scheduled(&pc, sm, &ps, ch->example[k], ch->points[k], a, dst);
        if (rc) {
            char msg[900];
            snprintf(msg, sizeof msg, "%s", px_error_message());
            px_error("%s: example %lld: %s", d->path, (long long)ch->example[k] + 1, msg);
        }
        pair_set_free(&ps);
        done++;
        if (w->rank == 0 && (runtime_now() - last > 5 || done == mine)) {
            last = runtime_now();
            fprintf(stderr, "proact probe: rank 0 collected %lld/%lld examples (%.1f s)\n", (long long)done,
                    (long long)mine, last - t0);
        }
    }
    policy_collector_free(&pol_c);
    probe_collector_free(&pc);
    return rc;
}

/* --- the policy ------------------------------------------------------------------------------- */

/* The default policy: the band of the schedule the model was trained with (band:A:B for
 * band:min_lag=A,max_lag=B; band:K:K for waitk:k=K), else band:1:3. */
static int policy_of_schedule(const char *schedule, char *out, size_t cap) {
    StreamConfig c;
    int lo = 1, hi = 3;
    if (schedule[0] && schedule_parse(schedule, &c)) return -1;
    if (schedule[0] && c.kind == SCHEDULE_BAND) lo = c.min_lag, hi = c.max_lag;
    if (schedule[0] && c.kind == SCHEDULE_WAITK) lo = hi = c.k;
    snprintf(out, cap, "band:%d:%d", lo, hi);
    return 0;
}

/* band:A:B or a head spec for the runner. */
static int parse_policy(const char *spec, const StreamModel *sm, ProbePolicy *pol, HeadSpec *head) {
    int lo, hi, used = 0;
    if (strncmp(spec, "band:", 5) == 0) {
        if (sscanf(spec + 5, "%d:%d%n", &lo, &hi, &used) != 2 || spec[5 + used] || lo < 1 || hi < lo)
            return px_error("--policy %s: expected band:A:B with 1 <= A <= B", spec);
        pol->min_lag = lo;
        pol->max_lag = hi;
        return 0;
    }
    if (stream_model_head(sm, spec, head)) return -1;
    pol->head = head;
    pol->probe = sm->has_probe ? &sm->probe : NULL;
    return 0;
}

/* --- fitting and measuring --------------------------------------------------------------------- */

/* (x - mean) / scale in place, with the fit's statistics (for the held-out rows). */
static void standardize_with(ProbePoints *r, const double *mean, const double *scale) {
    for (int64_t i = 0; i < r->n; i++)
        for (int k = 0; k < r->dim; k++) r->x[i * r->dim + k] = (r->x[i * r->dim + k] - mean[k]) / scale[k];
}

static double score_of(const ProbePoints *r, int64_t i, const double *coef) {
    double z = coef[r->dim];
    for (int k = 0; k < r->dim; k++) z += coef[k] * r->x[i * r->dim + k];
    return z;
}

/* Accuracy over all ranks of the rule score(x) >= cut for the agree label, score = coef . [x; 1]
 * (a logistic probe's z >= 0, ridge's fitted value >= 0.5). */
static int accuracy(const World *w, const ProbePoints *r, const double *coef, double cut, double *acc) {
    double counts[2] = {0, (double)r->n};
    for (int64_t i = 0; i < r->n; i++) counts[0] += (score_of(r, i, coef) >= cut) == (r->agree[i] > 0.5);
    if (world_sum(w, counts, 2)) return -1;
    *acc = counts[1] > 0 ? counts[0] / counts[1] : NAN;
    return 0;
}

/* Mean negative log-likelihood (cross-entropy for a soft label y) over all ranks of the logistic
 * probe coef on r. */
static int log_loss(const World *w, const ProbePoints *r, const double *coef, double *loss) {
    double sums[2] = {0, (double)r->n};
    for (int64_t i = 0; i < r->n; i++) {
        double z = score_of(r, i, coef);
        /* log(1 + e^z) - y z, without overflow */
        sums[0] += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - r->y[i] * z;
    }
    if (world_sum(w, sums, 2)) return -1;
    *loss = sums[1] > 0 ? sums[0] / sums[1] : NAN;
    return 0;
}

/* --lambda auto: the penalty whose logistic probe predicts the held-out points best. */
/* AUC of the logistic probe's score for the agree label on the held-out points of all ranks:
 * each rank's (score, label) pairs are gathered on rank 0, which computes it exactly with
 * proact diagnose's Mann-Whitney AUC (diag_auc); NaN on the other ranks (only rank 0 reports). */
static int held_auc(const World *w, const ProbePoints *r, const double *coef, double *auc) {
    *auc = NAN;
    double *mine = px_calloc((size_t)r->n * 2 + 1, sizeof *mine, "AUC points"); /* [i] score, label */
    int rc = mine ? 0 : -1;
    for (int64_t i = 0; rc == 0 && i < r->n; i++) {
        mine[2 * i] = score_of(r, i, coef);
        mine[2 * i + 1] = r->agree[i];
    }
    void *all = NULL;
    size_t all_len = 0;
    if (world_agree(w, rc) || world_gather_bytes(w, mine, (size_t)r->n * 2 * sizeof *mine, &all, &all_len)) {
        free(mine);
        return -1;
    }
    free(mine);
    if (w->rank != 0) return 0;
    const int64_t n = (int64_t)(all_len / (2 * sizeof(double)));
    const double *pts = all;
    double *score = px_calloc((size_t)n + 1, sizeof *score, "AUC scores");
    unsigned char *label = px_calloc((size_t)n + 1, 1, "AUC labels");
    for (int64_t i = 0; score && label && i < n; i++) {
        score[i] = pts[2 * i];
        label[i] = pts[2 * i + 1] > 0.5;
    }
    if (score && label) *auc = diag_auc(score, label, n); /* NaN if a class is empty */
    free(score);
    free(label);
    free(all);
    return 0;
}

static int choose_lambda(const World *w, const ProbePoints *fit, const ProbePoints *held, int dim, double *coef,
                         double *best) {
    static const double grid[] = {0.1, 1, 10, 100, 1000};
    double best_loss = INFINITY;
    *best = grid[0];
    for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++) {
        double loss;
        if (dist_logistic_fit(w, fit->x, fit->y, fit->n, dim, grid[i], 100, 1e-10, coef, NULL) ||
            log_loss(w, held, coef, &loss))
            return -1;
        if (w->rank == 0) fprintf(stderr, "proact probe: lambda %-6g held-out log-loss %.4f\n", grid[i], loss);
        if (loss < best_loss) {
            best_loss = loss;
            *best = grid[i];
        }
    }
    return 0;
}

/* The probe of heads.h from the fit: weights on standardized features, the statistics, the bias. */
static int make_probe(const double *coef, const double *mean, const double *scale, int dim, int window, Probe *p) {
    memset(p, 0, sizeof *p);
    p->dim = dim;
    p->attn_window = window;
    p->w = px_calloc((size_t)dim, sizeof(float), "probe");
    p->mean = px_calloc((size_t)dim, sizeof(float), "probe");
    p->scale = px_calloc((size_t)dim, sizeof(float), "probe");
    if (!p->w || !p->mean || !p->scale) return -1;
    for (int k = 0; k < dim; k++) {
        p->w[k] = (float)coef[k];
        p->mean[k] = (float)mean[k];
        p->scale[k] = (float)scale[k];
    }
    p->bias = (float)coef[dim];
    return 0;
}

/* -o DIR: the model's files beside the new proact.json, which is written after them (with the
 * probe, straight from the model's own), so that a run killed half-way leaves no DIR/proact.json
 * rather than one without the probe: each file is published atomically, the directory is not. */
static int copy_model(const char *from, const char *to) {
    static const char *files[] = {"config.json", "model.safetensors", "tokenizer.json"};
    if (file_mkdirs(to)) return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char src[PX_PATH_MAX + 32], dst[PX_PATH_MAX + 32];
        snprintf(src, sizeof src, "%s/%s", from, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", to, files[i]);
        if (file_copy(src, dst)) return -1;
    }
    return 0;
}

int cmd_probe(int argc, char **argv) {
    ProbeArgs a;
    int opt_status;
    if (parse_args(argc, argv, &a, &opt_status)) return opt_status;
    if (fault_check_env()) return job_fail(px_error_message()); /* a typo in a test switch: before MPI */
    World w;
    if (world_init(NULL, NULL, &w)) return job_fail(px_error_message());
    runtime_set_threads(a.threads);
    runtime_report_blas();

    StreamModel sm;
    Dataset d = {0};
    Choice ch = {0};
    ProbePoints fit = {0}, held = {0};
    Probe probe = {0};
    HeadSpec policy_head;
    ProbePolicy pol = {.seed = a.seed, .attn_window = a.attn_window, .label = a.label};
    char policy[128], states[192];
    int status = 0, iters = 0, dim = 0;
    double *mean = NULL, *scale = NULL, *logit = NULL, *ridge = NULL;
    char tok_path[PX_PATH_MAX + 32];
    int rc = stream_model_load(a.model_dir, &sm);
    if (rc == 0) {
        snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", a.model_dir);
        rc = dataset_open(a.data, tok_path, sm.template_name, sm.model.cfg.max_seq_len, &d, NULL, NULL);
    }
    if (rc == 0 && a.states == STATES_POLICY) {
        if (a.policy) snprintf(policy, sizeof policy, "%s", a.policy);
        else rc = policy_of_schedule(sm.schedule, policy, sizeof policy);
        if (rc == 0) rc = parse_policy(policy, &sm, &pol, &policy_head);
        snprintf(states, sizeof states, "on-policy %s", policy);
    } else if (rc == 0) {
        char spec[160] = "";
        rc = resolve_schedule(&a, &sm) || schedule_format(&a.sched, spec, sizeof spec) ? -1 : 0;
        snprintf(states, sizeof states, "schedule %s (teacher forcing)", spec);
    }
    if (rc == 0) rc = choose_examples(&d, &a, &ch);
    if (world_agree(&w, rc)) goto fail;
    if (w.rank == 0)
        fprintf(stderr, "proact probe: %s points from %lld examples of %s on %d rank%s\n", states, (long long)ch.n,
                a.data, w.size, w.size == 1 ? "" : "s");
    if (world_agree(&w, collect(&w, &sm, &d, &ch, &a, &pol, &fit, &held))) goto fail;

    /* a label that never varies leaves nothing to fit (the logistic weights would run off) */
    double ysum[3] = {0, 0, (double)fit.n};
    for (int64_t i = 0; i < fit.n; i++) ysum[0] += fit.y[i], ysum[1] += fit.y[i] * fit.y[i];
    if (world_sum(&w, ysum, 3)) goto fail;
    if (ysum[2] > 0 && ysum[1] / ysum[2] - (ysum[0] / ysum[2]) * (ysum[0] / ysum[2]) < 1e-12) {
        if (w.rank == 0)
            px_error(
                "all %.0f points to fit have the label %s = %g: nothing to fit a probe to (more --samples, another "
                "--policy or --states schedule)",
                ysum[2], probe_label_name(a.label), ysum[0] / ysum[2]);
        world_agree(&w, w.rank == 0 ? -1 : 0);
        goto fail;
    }

    dim = probe_feature_dim(sm.model.cfg.hidden_size);
    mean = px_calloc((size_t)dim, sizeof *mean, "probe");
    scale = px_calloc((size_t)dim, sizeof *scale, "probe");
    logit = px_calloc((size_t)dim + 1, sizeof *logit, "probe");
    ridge = px_calloc((size_t)dim + 1, sizeof *ridge, "probe");
    if (world_agree(&w, mean && scale && logit && ridge ? 0 : -1)) goto fail;
    double t0 = runtime_now();
    if (dist_standardize(&w, fit.x, fit.n, dim, mean, scale)) goto fail;
    standardize_with(&held, mean, scale);
    if (a.lambda < 0 && choose_lambda(&w, &fit, &held, dim, logit, &a.lambda)) goto fail;
    if (dist_ridge_fit(&w, fit.x, fit.y, fit.n, dim, a.lambda, ridge) ||
        dist_logistic_fit(&w, fit.x, fit.y, fit.n, dim, a.lambda, 100, 1e-10, logit, &iters))
        goto fail;
    double fit_s = runtime_now() - t0;

    /* points to fit and held out, and the agreeing points among each */
    double counts[4] = {(double)fit.n, (double)held.n, 0, 0}, acc[6], auc = NAN;
    for (int64_t i = 0; i < fit.n; i++) counts[2] += fit.agree[i];
    for (int64_t i = 0; i < held.n; i++) counts[3] += held.agree[i];
    if (world_sum(&w, counts, 4) || accuracy(&w, &fit, logit, 0, &acc[0]) || accuracy(&w, &held, logit, 0, &acc[1]) ||
        accuracy(&w, &fit, ridge, 0.5, &acc[2]) || accuracy(&w, &held, ridge, 0.5, &acc[3]) ||
        held_auc(&w, &held, logit, &auc))
        goto fail;
    /* the baseline: always answer the label that is most frequent in the fitted points */
    const double rate = counts[2] / counts[0], held_rate = counts[1] > 0 ? counts[3] / counts[1] : NAN;
    acc[4] = PX_MAX(rate, 1 - rate);
    acc[5] = rate >= 0.5 ? held_rate : 1 - held_rate;
    rc = 0;
    if (w.rank == 0) {
        const char *dir = a.out_dir ? a.out_dir : a.model_dir;
        ProbeFitInfo info = {.method = "logistic regression (IRLS, ScaLAPACK)",
                             .data = a.data,
                             .states = states,
                             .label = probe_label_name(a.label),
                             .holdout_auc = auc,
                             .samples = (int64_t)counts[0],
                             .holdout = (int64_t)counts[1],
                             .lambda = a.lambda,
                             .positive_rate = rate,
                             .iterations = iters,
                             .train_accuracy = acc[0],
                             .holdout_accuracy = acc[1],
                             .ridge_train_accuracy = acc[2],
                             .ridge_holdout_accuracy = acc[3],
                             .ranks = w.size};
        char pj_from[PX_PATH_MAX + 32], pj_to[PX_PATH_MAX + 32];
        snprintf(pj_from, sizeof pj_from, "%s/proact.json", a.model_dir);
        snprintf(pj_to, sizeof pj_to, "%s/proact.json", dir);
        rc = make_probe(logit, mean, scale, dim, a.attn_window, &probe);
        if (rc == 0 && a.out_dir && strcmp(a.out_dir, a.model_dir) != 0) rc = copy_model(a.model_dir, a.out_dir);
        if (rc == 0) rc = proact_json_set_probe(pj_from, pj_to, &probe, &info);
        if (rc == 0) {
            static const char *rows[] = {"logistic (IRLS), the probe head's", "ridge regression",
                                         "always the majority label"};
            printf("probe fitted on %lld decision points (%lld held out), %d rank%s, lambda %g, ScaLAPACK %.2f s\n",
                   (long long)counts[0], (long long)counts[1], w.size, w.size == 1 ? "" : "s", a.lambda, fit_s);
            printf("  points: %s; fitted to the label '%s'\n", states, probe_label_name(a.label));
            printf("  agree = 1 (student's next token already the teacher's): %.1f%% of the points\n", 100 * rate);
            printf("  %-34s %9s %9s\n", "accuracy", "train", "held out");
            for (int r = 0; r < 3; r++) {
                char held_pct[32];
                if (isfinite(acc[2 * r + 1])) snprintf(held_pct, sizeof held_pct, "%.1f%%", 100 * acc[2 * r + 1]);
                else snprintf(held_pct, sizeof held_pct, "-");
                printf("  %-34s %8.1f%% %9s\n", rows[r], 100 * acc[2 * r], held_pct);
            }
            if (isfinite(auc)) printf("  held-out AUC of the probe for agree: %.3f\n", auc);
            printf("wrote the probe into %s/proact.json: use --head probe:P (P = the WRITE probability, e.g. 0.5)\n",
                   dir);
        }
    }
    if (world_agree(&w, rc)) goto fail;
    goto done;
fail:
    status = job_fail(px_error_message());
done:
    probe_free(&probe);
    free(mean);
    free(scale);
    free(logit);
    free(ridge);
    probe_points_free(&fit);
    probe_points_free(&held);
    free(ch.example);
    free(ch.points);
    dataset_free(&d);
    stream_model_free(&sm);
    world_finalize();
    return status;
}
