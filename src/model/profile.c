/* profile.c — the step breakdown's accumulators (see profile.h). */
#include "src/model/profile.h"

#include <string.h>
#include <time.h>

int profile_on = 0;

static double seconds[PROF_N];
static long calls[PROF_N];

static const char *const names[PROF_N] = {
    [PROF_EMBED_FWD] = "embedding fwd",
    [PROF_RMSNORM_FWD] = "rmsnorm fwd",
    [PROF_MATMUL_FWD] = "matmul fwd (sgemm)",
    [PROF_ROPE_FWD] = "rope fwd",
    [PROF_ATTN_SGEMM_FWD] = "attention fwd: sgemm",
    [PROF_ATTN_SOFTMAX_FWD] = "attention fwd: softmax",
    [PROF_RESIDUAL_FWD] = "residual add fwd",
    [PROF_SWIGLU_FWD] = "swiglu fwd",
    [PROF_LMHEAD_FWD] = "lm head fwd (sgemm)",
    [PROF_LOSS] = "loss",
    [PROF_LMHEAD_BWD] = "lm head bwd (sgemm)",
    [PROF_RMSNORM_BWD] = "rmsnorm bwd",
    [PROF_MATMUL_BWD] = "matmul bwd (sgemm, bias)",
    [PROF_SWIGLU_BWD] = "swiglu bwd",
    [PROF_ATTN_SGEMM_BWD] = "attention bwd: sgemm",
    [PROF_ATTN_SOFTMAX_BWD] = "attention bwd: softmax",
    [PROF_ROPE_BWD] = "rope bwd",
    [PROF_EMBED_BWD] = "embedding bwd",
    [PROF_ZERO] = "zeroing grads/scratch",
    [PROF_GRAD_NORM] = "grad norm",
    [PROF_CLIP] = "clip",
    [PROF_ADAMW] = "adamw",
};

void profile_enable(int on) { profile_on = on != 0; }

void profile_reset(void) {
    memset(seconds, 0, sizeof seconds);
    memset(calls, 0, sizeof calls);
}

double profile_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void profile_add(ProfSection s, double dt) {
    seconds[s] += dt;
    calls[s]++;
}

double profile_seconds(ProfSection s) { return seconds[s]; }
long profile_calls(ProfSection s) { return calls[s]; }
const char *profile_name(ProfSection s) { return names[s]; }
