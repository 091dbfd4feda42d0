/* softmax_stats.c — entropy and largest probability of a row of logits (decision cues).
 *
 * This one file is compiled with -ffast-math (CMakeLists.txt) so that expf vectorizes through
 * glibc's libmvec: the entropy over a whole vocabulary at every decision was most of the cue cost
 * (1024 double exp calls: 6.5 us, about the time a tiny model takes to decode a token). The
 * logits are finite, which is all fast-math assumes here; sums are taken per block of 512 in float
 * lanes and across blocks in double. tests/stream/test_runner.c compares with double precision. */
#include "src/stream/decode.h"

#include <math.h>

void softmax_stats(const float *z, int V, float *entropy, float *maxprob) {
    float mx = z[0];
    for (int i = 1; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    double sum = 0, sz = 0; /* sum_i e^(z_i - mx), sum_i e^(z_i - mx) (z_i - mx) */
    for (int b = 0; b < V; b += 512) {
        const int end = b + 512 < V ? b + 512 : V;
        float s = 0, t = 0;
        for (int i = b; i < end; i++) {
            const float d = z[i] - mx, e = expf(d);
            s += e;
            t += e * d;
        }
        sum += s;
        sz += t;
    }
    /* H = log(sum) - E[z - mx];  pmax = e^0 / sum */
    *entropy = (float)(log(sum) - sz / sum);
    *maxprob = (float)(1.0 / sum);
}
