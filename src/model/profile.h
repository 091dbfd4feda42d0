/* profile.h — an optional wall-clock breakdown of a training step by kernel.
 *
 * Off by default. When off, each timed call costs one test of a global flag; when on
 * (profile_enable(1), which bench_step does when PROACT_PROFILE=1), every PROFILE(section, call)
 * adds the call's wall time to its section. The sections are coarse on purpose: one per kind of
 * kernel and direction, summed over layers, so that a step's time splits into a short table.
 * Times are wall time of the calling thread, so a threaded kernel counts once. Not thread-safe:
 * only the thread that runs the step may time (every timed call is outside parallel regions).
 */
#ifndef PROACT_PROFILE_H
#define PROACT_PROFILE_H

typedef enum {
    PROF_EMBED_FWD,
    PROF_RMSNORM_FWD,
    PROF_MATMUL_FWD, /* the q/k/v, o, gate/up and down projections */
    PROF_ROPE_FWD,
    PROF_ATTN_SGEMM_FWD, /* the score and P V products inside attention_forward */
    PROF_ATTN_SOFTMAX_FWD,
    PROF_RESIDUAL_FWD,
    PROF_SWIGLU_FWD,
    PROF_LMHEAD_FWD,
    PROF_LOSS,
    PROF_LMHEAD_BWD,
    PROF_RMSNORM_BWD,
    PROF_MATMUL_BWD,
    PROF_SWIGLU_BWD,
    PROF_ATTN_SGEMM_BWD,
    PROF_ATTN_SOFTMAX_BWD,
    PROF_ROPE_BWD,
    PROF_EMBED_BWD,
    PROF_ZERO, /* zeroing gradients and backward scratch */
    PROF_GRAD_NORM,
    PROF_CLIP,
    PROF_ADAMW,
    PROF_N
} ProfSection;

extern int profile_on;

void profile_enable(int on);
void profile_reset(void);
double profile_clock(void);
void profile_add(ProfSection s, double seconds);
/* Accumulated seconds and number of timed calls of a section since the last reset. */
double profile_seconds(ProfSection s);
long profile_calls(ProfSection s);
const char *profile_name(ProfSection s);

/* Times one statement into a section when profiling is on. */
#define PROFILE(section, call)                                               \
    do {                                                                     \
        double profile_t0_ = profile_on ? profile_clock() : 0.0;             \
        call;                                                                \
        if (profile_on) profile_add(section, profile_clock() - profile_t0_); \
    } while (0)

#endif
