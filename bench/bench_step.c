/* bench_step — time full training steps (train_step of src/train/step.h: forward, loss,
 * backward, AdamW; one process, no MPI) of a config's model on random tokens. Prints one JSON
 * line: tokens/s, ms per step, model GFLOP/s, in the config's train.precision (bf16 where the CPU has it).
 * usage: bench_step --config configs/base.ini [--set k=v ...] [--steps 5] [--warmup 1] [--threads 1]
 * With PROACT_PROFILE=1 in the environment it also times each kind of kernel (src/model/profile.h):
 * a table on stderr, and "profile_ms" (mean ms per timed step by section) in the JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "jobs/jobs.h"
#include "src/base/common.h"
#include "src/model/profile.h"
#include "src/train/step.h"

/* The breakdown: a table on stderr, and the JSON member "profile_ms" (stdout, inside the line). */
static void print_profile(double step_s, int steps) {
    double timed = 0;
    fprintf(stderr, "%-28s %10s %7s %8s\n", "section", "ms/step", "share", "calls");
    for (int i = 0; i < PROF_N; i++) {
        double ms = profile_seconds(i) * 1e3 / steps;
        timed += ms;
        fprintf(stderr, "%-28s %10.2f %6.1f%% %8ld\n", profile_name(i), ms, ms / (step_s * 1e3) * 100,
                profile_calls(i) / steps);
    }
    fprintf(stderr, "%-28s %10.2f %6.1f%%\n", "(untimed rest)", step_s * 1e3 - timed, 100 - timed / (step_s * 10));
    printf(", \"profile_ms\": {");
    for (int i = 0; i < PROF_N; i++)
        printf("%s\"%s\": %.3f", i ? ", " : "", profile_name(i), profile_seconds(i) * 1e3 / steps);
    printf(", \"rest\": %.3f}", step_s * 1e3 - timed);
}

int main(int argc, char **argv) {
    runtime_fix_blas_core(argv);
    const char *config_path = "configs/base.ini", *sets[32];
    int n_sets = 0, steps = 5, warmup = 1, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return job_fail("bench_step: every option takes a value");
        if (!strcmp(argv[i], "--config")) config_path = argv[++i];
        else if (!strcmp(argv[i], "--set") && n_sets < 32) sets[n_sets++] = argv[++i];
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else return job_fail("bench_step: unknown option (see the comment at the top of bench/bench_step.c)");
    }
    ProactConfig cfg;
    if (config_load(&cfg, config_path, sets, n_sets)) return job_fail(px_error_message());
    cfg.optim.total_steps = steps + warmup;
    runtime_set_threads(threads);
    Model m;
    Learner l;           /* no world: this process alone */
    TrainBatch tb = {0}; /* plain next-token cross-entropy */
    if (model_create(&m, &cfg.model) || learner_init(&l, &m, NULL, &cfg.optim, 0, 0, (SpsdWeights){0}))
        return job_fail(px_error_message());
    model_init_random(&m, 1);
    /* train.precision of the config (--set train.precision=fp32|bf16), as proact train does */
    GemmPrecision prec = strcmp(cfg.train.precision, "bf16") == 0 && gemm_bf16_native() ? GEMM_BF16 : GEMM_FP32;
    if (model_set_precision(&m, prec)) return job_fail(px_error_message());
    Rng rng;
    rng_seed(&rng, 2);
    double t0 = 0, loss = 0;
    const char *prof_env = getenv("PROACT_PROFILE");
    profile_enable(prof_env && strcmp(prof_env, "0") != 0);
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) t0 = runtime_now(), profile_reset();
        StepStats st;
        if (packed_batch_fill_synthetic(&tb.batch, "random", cfg.train.global_batch, cfg.train.seq_len,
                                        m.cfg.vocab_size, &rng) ||
            train_step(&l, &tb, s, &st))
            return job_fail(px_error_message());
        loss = st.loss;
    }
    double dt = (runtime_now() - t0) / steps;
    /* FNV-1a of the parameters' bytes: two builds or thread counts ran the same steps bit for bit
     * iff they print the same value */
    uint64_t fnv = 1469598103934665603ull;
    const unsigned char *bytes = (const unsigned char *)m.params;
    for (size_t i = 0; i < m.n_params * sizeof(float); i++) fnv = (fnv ^ bytes[i]) * 1099511628211ull;
    double flops = model_train_flops(&m.cfg, &tb.batch.lay);
    printf("{\"impl\": \"proact\", \"precision\": \"%s\", \"core\": \"%s\", \"threads\": %d, \"tokens_per_s\": %.1f, "
           "\"step_ms\": %.2f, \"gflops\": %.2f, \"params\": %zu, \"last_loss\": %.4f, \"params_fnv\": \"%016llx\"",
           prec == GEMM_BF16 ? "bf16" : "fp32", runtime_blas_core(), threads, tb.batch.n_rows / dt, dt * 1e3,
           flops / dt / 1e9, m.n_params, loss, (unsigned long long)fnv);
    if (profile_on) print_profile(dt, steps);
    printf("}\n");
    train_batch_free(&tb);
    learner_free(&l);
    model_free(&m);
    config_free(&cfg);
    return 0;
}
