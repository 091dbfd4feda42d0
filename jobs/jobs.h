/* jobs.h — the subcommands of the proact binary and the runtime they share. */
#ifndef PROACT_JOBS_H
#define PROACT_JOBS_H

#include "src/model/gemm.h"
#include "src/stream/runner.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit status */
    const char *summary;
} Command;

int cmd_init(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);  /* jobs/tokenize.c */
int cmd_tokenizer(int argc, char **argv); /* jobs/tokenizer_train.c: `proact tokenizer train` */
int cmd_prepare(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_run(int argc, char **argv);      /* jobs/run.c: stream stdin through the runner */
int cmd_serve(int argc, char **argv);    /* jobs/serve/: HTTP server (SimulEval remote protocol, sessions) */
int cmd_eval(int argc, char **argv);     /* jobs/eval.c: streaming evaluation of decision heads (MPI) */
int cmd_probe(int argc, char **argv);    /* jobs/probe.c: fit the probe head with ScaLAPACK */
int cmd_score(int argc, char **argv);    /* jobs/score.c: BLEU/chrF and latency of a translation or instances.log */
int cmd_schedule(int argc, char **argv); /* jobs/schedule.c: lag histogram of a read schedule on the data */
int cmd_diagnose(int argc, char **argv); /* jobs/diagnose.c: student-teacher gap per lag, cue AUCs */

/* --- runtime.c ------------------------------------------------------------------------ */

/* Must run first in main(), before any BLAS call or MPI_Init: if OpenBLAS chose a generic
 * core (e.g. Prescott) on a CPU with AVX2/AVX-512, sets OPENBLAS_CORETYPE (PROACT_BLAS_CORE=keep
 * disables it); unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, sets OMP_WAIT_POLICY=PASSIVE (idle
 * OpenMP threads must not spin on the cores OpenBLAS computes on). Then re-executes the program
 * once, since both libraries read these only at start-up. */
void runtime_fix_blas_core(char **argv);
/* Prints, once per process group, the OpenBLAS core and thread count (stderr). */
void runtime_report_blas(void);
/* Threads of the BLAS and of the OpenMP kernels (the same count): n > 0 sets it; 0 keeps
 * OpenBLAS's choice (OPENBLAS_NUM_THREADS, else every core). Returns the count in use. */
int runtime_set_threads(int n);
const char *runtime_blas_core(void);
double runtime_now(void);
/* Measured speed (GFLOP/s) of gemm() (src/model/gemm.h) in that precision on n x n matrices,
 * the best of the products run in about `seconds`. */
double runtime_gemm_gflops(int n, double seconds, GemmPrecision prec);

/* Prints "proact: error: <msg>" to stderr and returns 1 (the exit status). */
int job_fail(const char *msg);
/* A data set's skip callback (io/dataset.h): "PATH:LINE: skipped: WHY" on stderr for the first 20
 * skipped lines; ctx is a long counting them (start it at a huge value to print none). */
void job_print_skip(void *ctx, const char *path, long line, const char *why);
/* --dtype f32|bf16 -> *bf16; -1 with px_error otherwise. */
int parse_dtype_option(const char *arg, int *bf16);
/* Parses "a,b,c" into ints; returns count or -1 with px_error naming `what`. */
int parse_int_list(const char *s, int **out, const char *what);
/* An option's value as a number in [lo, hi]; -1 with px_error "NAME: expected ..., got 'ARG'". */
int parse_long_opt(const char *name, const char *arg, long lo, long hi, long *out);
int parse_double_opt(const char *name, const char *arg, double lo, double hi, double *out);
int parse_u64_opt(const char *name, const char *arg, uint64_t *out);
/* The runner options that proact run and proact eval share, as entries of their option tables
 * (jobs/options.h), writing into the RunnerOptions ro (needs <limits.h>). */
#define RUNNER_OPTS(ro)                                                                                                \
    OPT("temperature", 'p', OPT_FLOAT, &(ro).temperature, "T", "0 = greedy (default); > 0 samples (seeded by --seed)", \
        .lo = 0, .hi = 1e9),                                                                                           \
        OPT("top-p", 'P', OPT_FLOAT, &(ro).top_p, "P", "nucleus mass when sampling (default 1)", .lo = 1e-6, .hi = 1), \
        OPT("seed", 's', OPT_U64, &(ro).seed, "S", "sampling seed"),                                                   \
        OPT("attn-window", 'w', OPT_INT, &(ro).attn_window, "W",                                                       \
            "W of the attention cue when the head does not give it\n"                                                  \
            "(default 4 tokens)",                                                                                      \
            .min = 1, .max = INT_MAX)

/* The precision decoding runs at, for proact run, serve and eval (entries of their option
 * tables): --weights into a DecodeWeightType (the copy is made once after loading, see
 * decode_weights_for), --kv-cache into an int (RunnerOptions.kv_bf16). */
#define DECODE_OPTS(wtype, kv_bf16)                                    \
    OPT("weights", 0, OPT_CUSTOM, &(wtype), "fp32|bf16|int8",          \
        "weight matrices for decoding (default fp32): bf16 halves\n"   \
        "and int8 (per-row scales, weight-only) quarters the bytes\n"  \
        "each token reads; see docs/serving.md",                       \
        .parse = opt_parse_decode_weights),                            \
        OPT("kv-cache", 0, OPT_CUSTOM, &(kv_bf16), "fp32|bf16",        \
            "key/value cache storage (default fp32); attention math\n" \
            "stays fp32",                                              \
            .parse = opt_parse_kv_cache)

/* Makes the decode weights of type t for m and points ro->weights at them (fp32: NULL, the
 * model's own). 0, or -1 with px_error. Free with decode_weights_free. */
int decode_weights_for(DecodeWeights *dw, const Model *m, DecodeWeightType t, RunnerOptions *ro);

#endif
