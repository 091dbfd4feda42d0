/* eval.h — what `proact eval` (jobs/eval.c) and `proact eval --merge` (jobs/eval_merge.c) share:
 * a head's results, the columns of curve.csv, and the writers of the files across heads. */
#ifndef PROACT_JOBS_EVAL_H
#define PROACT_JOBS_EVAL_H

#include "src/metrics/scoring.h"
#include "src/stream/heads.h"

/* One decision head's scores, as eval computes them or as --merge reads them from curve.csv. */
typedef struct {
    HeadSpec head;
    char dir[128]; /* OUT/<dir>: the spec with ':' and '/' made file-name safe */
    EvalScores scores;
    double ms_per_word; /* computing time per written word */
    LatencyUnit unit;   /* what a delay stands for (--latency-unit) */
} HeadResult;

/* How eval's computation-aware clock turns computing time into elapsed times (--ca-clock). */
typedef enum {
    CLOCK_SIMULEVAL, /* SimulEval's: delay + all computing time of the sentence so far */
    CLOCK_REALTIME   /* a live speaker: computing overlaps the wait for the next source word */
} EvalClock;

/* curve.csv's columns, in order: --merge reads the file back by them. */
enum {
    COL_HEAD,
    COL_KIND,
    COL_DIR,
    COL_BLEU,
    COL_CHRF,
    COL_AL,
    COL_LAAL,
    COL_AP,
    COL_DAL,
    COL_ATD,
    COL_AL_CA,
    COL_LAAL_CA,
    COL_AP_CA,
    COL_DAL_CA,
    COL_ATD_CA,
    COL_MS_PER_WORD,
    COL_N,
    COL_N_NO_OUTPUT,
    COL_LATENCY_UNIT,
    COL_SIGNATURE,
    CURVE_COLUMNS
};
extern const char curve_header[]; /* the column names, comma-separated */

/* --- jobs/eval.c --- */

/* The directory name of a head: the spec with ':' and '/' replaced by '_'. */
void head_dir_name(const char *spec, char *out, size_t size);
const char *kind_name(HeadKind k);
/* Prefixes the recorded error with where it happened; returns -1. */
int error_at(const char *where);
/* summary.txt, curve.csv and curve.svg in out_dir. model_dir may be NULL (the plot's title then
 * omits it). */
int write_summary(const char *out_dir, const HeadResult *hr, int n, const char *model_dir);
/* The table on stdout; word_ms is NAN when not known. */
void print_results(const char *out_dir, const HeadResult *hr, int n, double word_ms);

/* --- jobs/eval_merge.c --- */

/* proact eval --merge: the parts' heads, in order, written to out_dir as one evaluation of them
 * all would have written them. model_dir (may be NULL) only names the model in the plot. */
int merge_evals(const char *out_dir, const char *model_dir, char *const *parts, int n_parts);

#endif
