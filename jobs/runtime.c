/* runtime.c — process-level setup shared by the commands: OpenBLAS core, BLAS and OpenMP threads,
 * clocks, and error printing. */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs/jobs.h"
#include "src/base/common.h"
#include "src/model/gemm.h"
#include "src/model/gemv.h"
#include "src/model/parallel.h"

char *openblas_get_corename(void);

/* OpenBLAS cores with AVX2-or-better kernels: anything else on an AVX2 CPU is the slow
 * generic fallback that some virtual machines trigger. */
static const char *const fast_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"};

static int core_is_fast(const char *core) {
    for (size_t i = 0; i < sizeof fast_cores / sizeof fast_cores[0]; i++)
        if (strcasecmp(core, fast_cores[i]) == 0) return 1;
    return 0;
}

/* The OpenBLAS core this CPU deserves, or NULL if it has no AVX2. */
static const char *best_core_for_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

/* Print once across ranks: before MPI_Init, the launcher's environment tells the rank. */
static int is_first_process(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v) return atoi(v) == 0;
    }
    return 1;
}

/* The OpenBLAS core to switch to (setting OPENBLAS_CORETYPE), or NULL to keep the current one. */
static const char *blas_core_switch(const char *core) {
    const char *previous = getenv("PROACT_BLAS_REEXEC");
    if (previous) {
        if (is_first_process())
            fprintf(stderr,
                    "proact: OpenBLAS chose the generic core '%s' for this CPU; switched to '%s' "
                    "(OPENBLAS_CORETYPE). Set PROACT_BLAS_CORE=keep to prevent this.\n",
                    previous, core);
        unsetenv("PROACT_BLAS_REEXEC");
        return NULL;
    }
    const char *best = best_core_for_cpu();
    if (!best || core_is_fast(core)) return NULL;
    const char *policy = getenv("PROACT_BLAS_CORE");
    if (policy && strcmp(policy, "keep") == 0) {
        if (is_first_process())
            fprintf(stderr,
                    "proact: warning: OpenBLAS runs the generic core '%s' although this CPU supports "
                    "'%s' (kept because PROACT_BLAS_CORE=keep); matrix work will be several times slower.\n",
                    core, best);
        return NULL;
    }
    if (setenv("OPENBLAS_CORETYPE", best, 1) || setenv("PROACT_BLAS_REEXEC", core, 1)) return NULL;
    return best;
}

/* OpenMP's threads take turns with OpenBLAS's on the same cores. By default libgomp's idle threads
 * spin for a while after each parallel region, and there are hundreds of short regions per step:
 * the spinning thread takes a core from OpenBLAS's next product (on a loaded machine, 2 threads
 * ran a step 1.9x slower than before OpenMP). They should wait passively; libgomp reads that only
 * from the environment at start-up, so set it and re-execute, unless the user chose a policy. */
static int omp_wait_policy_unset(void) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return 0;
    return setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
}

void runtime_fix_blas_core(char **argv) {
    const char *core = openblas_get_corename();
    const char *best = blas_core_switch(core);
    const int omp_env = omp_wait_policy_unset();
    if (!best && !omp_env) return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on, and say so if it was for the core */
    if (best)
        fprintf(stderr,
                "proact: warning: could not re-execute with OPENBLAS_CORETYPE=%s (%s); running on the "
                "slow generic core '%s'\n",
                best, strerror(errno), core);
    unsetenv("PROACT_BLAS_REEXEC");
}

const char *runtime_blas_core(void) { return openblas_get_corename(); }

void runtime_report_blas(void) {
    if (!is_first_process() || getenv("PROACT_QUIET_BLAS")) return;
    fprintf(stderr, "proact: OpenBLAS core %s, %d thread%s (OpenMP kernels: %d)\n", openblas_get_corename(),
            openblas_get_num_threads(), openblas_get_num_threads() == 1 ? "" : "s", par_threads());
}

/* One setting for both thread pools: the sgemm products (OpenBLAS) and the elementwise kernels
 * (OpenMP, src/model/parallel.h) take turns within a step, never run at once. */
int runtime_set_threads(int n) {
    if (n > 0) openblas_set_num_threads(n);
    const int used = openblas_get_num_threads();
    parallel_set_threads(used);
    omp_set_num_threads(used);
    gemm_set_threads(used);
    gemv_set_threads(used); /* the bf16/int8 decode products (src/model/gemv.c) */
    return used;
}

double runtime_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double runtime_gemm_gflops(int n, double seconds, GemmPrecision prec) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    double best = 0.0;
    if (a && b && c) {
        for (int i = 0; i < n * n; i++) {
            a[i] = (float)((i * 7) % 13) / 13.0f;
            b[i] = (float)((i * 5) % 11) / 11.0f;
        }
        gemm_ff(prec, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up (and oneDNN's primitive) */
        double start = runtime_now();
        do {
            double t0 = runtime_now();
            gemm_ff(prec, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double rate = 2.0 * n * (double)n * n / (runtime_now() - t0) / 1e9;
            if (rate > best) best = rate;
        } while (runtime_now() - start < seconds);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int job_fail(const char *msg) {
    fprintf(stderr, "proact: error: %s\n", msg);
    return 1;
}

void job_print_skip(void *ctx, const char *path, long line, const char *why) {
    long *shown = ctx;
    if ((*shown)++ < 20) fprintf(stderr, "%s:%ld: skipped: %s\n", path, line, why);
}

int parse_dtype_option(const char *arg, int *bf16) {
    if (strcmp(arg, "bf16") == 0) *bf16 = 1;
    else if (strcmp(arg, "f32") == 0) *bf16 = 0;
    else return px_error("--dtype: expected f32 or bf16, got '%s'", arg);
    return 0;
}

int parse_int_list(const char *s, int **out, const char *what) {
    int cap = 16, n = 0;
    int *v = malloc(sizeof(int) * cap);
    if (!v) return px_error("out of memory parsing %s", what);
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < INT_MIN || x > INT_MAX || (*end && *end != ',')) {
            free(v);
            return px_error("%s: '%s' is not a comma-separated list of integers", what, s);
        }
        if (n == cap) {
            int *bigger = realloc(v, sizeof(int) * (cap *= 2));
            if (!bigger) {
                free(v);
                return px_error("out of memory parsing %s", what);
            }
            v = bigger;
        }
        v[n++] = (int)x;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) {
            free(v);
            return px_error("%s: '%s' ends with a comma", what, s);
        }
    }
    if (n == 0) {
        free(v);
        return px_error("%s: empty list", what);
    }
    *out = v;
    return n;
}

int parse_long_opt(const char *name, const char *arg, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || errno || v < lo || v > hi)
        return px_error("%s: expected an integer in %ld..%ld, got '%s'", name, lo, hi, arg);
    *out = v;
    return 0;
}

int parse_double_opt(const char *name, const char *arg, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end || errno || !(v >= lo && v <= hi))
        return px_error("%s: expected a number in %g..%g, got '%s'", name, lo, hi, arg);
    *out = v;
    return 0;
}

int parse_u64_opt(const char *name, const char *arg, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || *end || errno || arg[0] == '-')
        return px_error("%s: expected a non-negative integer, got '%s'", name, arg);
    *out = v;
    return 0;
}

int decode_weights_for(DecodeWeights *dw, const Model *m, DecodeWeightType t, RunnerOptions *ro) {
    memset(dw, 0, sizeof *dw);
    ro->weights = NULL;
    if (t == DECODE_FP32) return 0;
    if (decode_weights_make(dw, m, t)) return -1;
    ro->weights = dw;
    return 0;
}
