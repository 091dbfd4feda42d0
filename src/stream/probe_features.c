/* probe_features.c — the probe head's feature vector (probe_features.h). */
#include "src/stream/probe_features.h"

#include <string.h>

void probe_extra_features(const Cues *c, float out[PROBE_EXTRA_FEATURES]) {
#define FILL_(id, name, field) out[id] = c->field;
    PROBE_EXTRA_FEATURE_TABLE(FILL_)
#undef FILL_
}

void probe_features(const Cues *c, int hidden, double *x) {
    float extra[PROBE_EXTRA_FEATURES];
    probe_extra_features(c, extra);
    for (int i = 0; i < hidden; i++) x[i] = c->hidden[i];
    for (int i = 0; i < PROBE_EXTRA_FEATURES; i++) x[hidden + i] = extra[i];
}

void probe_cues_of_features(const double *x, int hidden, float *h, Cues *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < hidden; i++) h[i] = (float)x[i];
    out->hidden = h;
#define SET_(id, name, field) out->field = (float)x[hidden + id];
    PROBE_EXTRA_FEATURE_TABLE(SET_)
#undef SET_
}
