/* schedule.h — the streaming side of ProactiveLLM training (docs/design.md §2.2–2.4): monotone read
 * schedules, group positions, and the synchronized [source | student | teacher] layout.
 *
 * One training sequence holds the source once and the target twice:
 *
 *   [ prompt x_1..x_n src_end ]  [ tgt_begin y_1..y_m tgt_end ]_student  [ same ]_teacher
 *   positions 0 .. S-1             phi+0 .. phi+T-1 (token positions; the last token of each copy
 *                                  predicts nothing and is not an input row: rows go to phi+T-2)
 *
 * Visibility (AttnLayout: vis_prefix + causal inside the row's own block):
 *   source rows   causal over the source only               vis_prefix 0, blk_start 0
 *   student rows  the source prefix of g(.) words + causal   vis_prefix = visible source tokens,
 *                 over the student copy                      blk_start = start of the student copy
 *   teacher rows  the whole source + causal over the copy    vis_prefix = S, blk_start = teacher start
 * The two copies never see each other. With spsd.teacher = off (student_batch_add) the teacher
 * copy is left out: [source | student], the same student rows. "Shift by one": the row whose
 * NEXT token belongs to target word j carries g(j), so the last token of word j-1 already sees
 * g(j) source words (at inference that token is fed again after the READ — "pop and refeed").
 * Rows whose next token is in tgt_begin see g(1); the rows predicting tgt_end tokens see
 * everything (unit n+1).
 * The last token of each copy (the end of tgt_end) is not an input row: it predicts nothing.
 */
#ifndef PROACT_SCHEDULE_H
#define PROACT_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "src/base/rng.h"
#include "src/train/batch.h"
#include "src/train/pairs.h"

/* The samplers of stream.schedule (docs/method.md "Read schedules"). Lag of target word j: g(j) - (j - 1),
 * source words read minus target words already written (a wait-k schedule has lag k). */
typedef enum { SCHEDULE_RANDOM = 0, SCHEDULE_CUTS, SCHEDULE_WAITK, SCHEDULE_FULL, SCHEDULE_BAND } ScheduleKind;
enum { SCHEDULE_KINDS = SCHEDULE_BAND + 1 };
/* The kinds' names, indexed by ScheduleKind, NULL-ended (the config's stream.schedule choices). */
extern const char *const SCHEDULE_NAMES[SCHEDULE_KINDS + 1];

/* A read schedule and the layout of a training sequence. Zero-initialised fields mean "off"
 * (no lag floor, no drift, the teacher copy present), so that older initialisers keep their
 * meaning. */
typedef struct {
    ScheduleKind kind;    /* stream.schedule */
    int k_min, k_max;     /* random: first read k0 ~ U{k_min..k_max} */
    float mean_step;      /* random: delta ~ Geometric on {0,1,2,..} with this mean */
    float p_full;         /* random, band: probability that a whole example uses the full view */
    int has_lag_floor;    /* random: 1 = lag_floor applies (stream.lag_floor = an integer, not none) */
    int lag_floor;        /* random: g(j) >= lag_floor + j - 1 (clipped to 1..n+1): lag never below it */
    float drift;          /* random: the step's mean is max(mean_step, drift * unread / unwritten) */
    int min_lag, max_lag; /* band: lag(j) in [min_lag, max_lag] (g clipped to 1..n+1) */
    int k;                /* waitk: g(j) = min(k + j - 1, n + 1) */
    int phi;              /* position offset of the target copies (group position encoding) */
    int no_teacher;       /* spsd.teacher = off: sequences are [source | student], no teacher copy */
} StreamConfig;

const char *schedule_name(ScheduleKind k);

/* The schedule fields of c (kind and every sampler parameter) set to their defaults: random,
 * k_min 1, k_max 3, mean_step 1, p_full 0.1, no lag floor, drift 0, min_lag 1, max_lag 3, k 3.
 * phi and no_teacher are left alone. io/config.c's defaults are these (a test checks). */
void schedule_defaults(StreamConfig *c);

/* The first sampler parameter of c that is out of range, as its key name ("k_max"), with a
 * one-line reason in msg; NULL if all are valid. Every parameter is checked, whatever the kind. */
const char *schedule_invalid(const StreamConfig *c, char *msg, size_t size);

/* The schedule as one spec string: the kind's name, then ':' and its parameters as key=value
 * separated by ',', in a fixed order, e.g.
 *   random:k_min=1,k_max=3,mean_step=1,p_full=0.1,lag_floor=none,drift=0
 *   band:min_lag=1,max_lag=3,p_full=0.1    waitk:k=3    cuts    full
 * Floats in the shortest form that reads back as the same float. -1 with px_error if it does not
 * fit in size bytes (SCHEDULE_SPEC_MAX always fits). */
enum { SCHEDULE_SPEC_MAX = 160 };
int schedule_format(const StreamConfig *c, char *buf, size_t size);

/* Reads a spec string into c: the kind's name alone ("random", as older proact.json files have
 * it) gives that kind with default parameters; given keys (any order, each once, only the
 * kind's own) override them. schedule_parse(schedule_format(c)) gives back c's schedule
 * exactly. phi and no_teacher are left alone; on error c is unchanged and px_error names the
 * key. */
int schedule_parse(const char *spec, StreamConfig *c);

/* Sets one sampler parameter of c from its text, as a spec would ("lag_floor", "none"); -1 with
 * px_error naming the key for an unknown key or a malformed value (ranges: schedule_invalid). */
int schedule_set(StreamConfig *c, const char *key, const char *value);

/* Samples g(1..m) into g[0..m-1] for n source words: monotone, 1 <= g(j) <= n+1 (n+1 = the
 * end-of-source marker, i.e. everything). */
void schedule_sample(const StreamConfig *c, int n, int m, Rng *rng, int *g);

/* Where the student rows of a schedule sit, one count per target word j (the rows that predict
 * its tokens): by lag g(j) - (j - 1) below 0, 0, 1, ..., SCHEDULE_LAG_CAP - 1, at least
 * SCHEDULE_LAG_CAP, or full (g(j) = n + 1: the whole source, whatever the lag). */
enum { SCHEDULE_LAG_CAP = 6, LAG_BUCKETS = SCHEDULE_LAG_CAP + 3 };
typedef struct {
    int64_t words[LAG_BUCKETS]; /* [0] lag < 0, [1 + L] lag L, [LAG_BUCKETS - 2] >= CAP, [LAG_BUCKETS - 1] full */
    int64_t examples;
} LagHistogram;

/* The bucket's label: "<0", "0", ..., "5", ">=6", "full". */
const char *lag_bucket_name(int bucket);
/* Adds the m words of schedule g (n source words) to h. */
void lag_histogram_add(LagHistogram *h, const int *g, int n, int m);
/* The histogram of c's schedules over `count` examples of n[i] source and m[i] target words,
 * example i's schedule drawn from a generator seeded by (seed, i) (h is zeroed first). -1 with
 * px_error when out of memory. */
int schedule_lag_histogram(const StreamConfig *c, const int *n, const int *m, int64_t count, uint64_t seed,
                           LagHistogram *h);

/* Rows of one example inside a packed batch, for the losses. */
typedef struct {
    int student_first, teacher_first; /* first row of each copy in the batch */
    int n_copy_rows;                  /* rows per copy (T - 1) */
} SpsdRows;

/* Appends example e as one synchronized sequence using the schedule g[0..m-1] (m = target
 * words; monotone, each in 1..n+1, else an error). Targets are set on the rows that predict a
 * target token or tgt_end, in both copies.
 * rows (optional) receives where the copies landed. */
int spsd_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                   SpsdRows *rows);
/* The same without the teacher copy (spsd.teacher = off): [source | student], the student rows
 * exactly those of spsd_batch_add; rows->teacher_first is -1. */
int student_batch_add(PackedBatch *b, const PairSet *s, const TemplatePieces *tp, int64_t e, const int *g, int phi,
                      SpsdRows *rows);

/* The number of source words and target words of example e. */
int pair_src_words(const PairSet *s, int64_t e);
int pair_tgt_words(const PairSet *s, int64_t e);

#endif
