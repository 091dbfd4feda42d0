/* heads.c — decision-head specs and rules (heads.h). */
#include "src/stream/heads.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/stream/probe_features.h"

const char *head_spec_help(void) {
    return "entropy:TAU, maxprob:P, attn:W:TAU, probe:P, waitk:K, chunk:C, offline, each optionally "
           "followed by /min-lag=L (a floor: target word j is never written before L+j-1 source words are "
           "read) and /max-lag=L (a ceiling: it is written once L+j-1 are read), e.g. "
           "probe:0.7/min-lag=1/max-lag=3";
}

static int parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}

static int parse_positive_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 1 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

/* Splits s at sep into at most max fields (in place). Returns the count. */
static int split_fields(char *s, char sep, char **fields, int max) {
    int n = 0;
    fields[n++] = s;
    for (char *p = s; *p; p++)
        if (*p == sep) {
            if (n == max) return max + 1;
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

int head_parse(const char *spec, HeadSpec *out) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) return px_error("empty decision head spec; expected one of %s", head_spec_help());
    if (strlen(spec) >= sizeof out->spec) return px_error("decision head spec '%.40s...' is too long", spec);
    char buf[sizeof out->spec];
    snprintf(buf, sizeof buf, "%s", spec);
    snprintf(out->spec, sizeof out->spec, "%s", spec);

    /* options after '/' */
    char *opts = strchr(buf, '/');
    if (opts) *opts++ = '\0';
    while (opts) { /* every '/' starts an option: an empty one ("waitk:3/") is a bad option too */
        char *next = strchr(opts, '/');
        if (next) *next++ = '\0';
        char *eq = strchr(opts, '=');
        int *slot = NULL;
        if (eq) {
            *eq = '\0';
            if (!strcmp(opts, "min-lag")) slot = &out->min_lag;
            else if (!strcmp(opts, "max-lag")) slot = &out->max_lag;
        }
        if (!slot || parse_positive_int(eq + 1, slot))
            return px_error("decision head '%s': bad option '%s'%s; expected /min-lag=L or /max-lag=L (L >= 1)", spec,
                            opts, eq ? "=..." : "");
        opts = next;
    }
    if (out->min_lag && out->max_lag && out->min_lag > out->max_lag)
        return px_error("decision head '%s': min-lag %d is larger than max-lag %d", spec, out->min_lag, out->max_lag);

    char *f[4];
    int nf = split_fields(buf, ':', f, 3);
    const char *name = f[0];
    struct {
        const char *name;
        HeadKind kind;
        int fields; /* arguments after the name */
        const char *usage;
    } table[] = {{"entropy", HEAD_ENTROPY, 1, "entropy:TAU (TAU >= 0, nats)"},
                 {"maxprob", HEAD_MAXPROB, 1, "maxprob:P (0 <= P <= 1)"},
                 {"attn", HEAD_ATTN, 2, "attn:W:TAU (W >= 1 tokens, 0 <= TAU <= 1)"},
                 {"probe", HEAD_PROBE, 1, "probe:P (0 <= P <= 1)"},
                 {"waitk", HEAD_WAITK, 1, "waitk:K (K >= 1)"},
                 {"chunk", HEAD_CHUNK, 1, "chunk:C (C >= 1)"},
                 {"offline", HEAD_OFFLINE, 0, "offline"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name)) continue;
        out->kind = table[i].kind;
        int ok = nf == table[i].fields + 1;
        switch (out->kind) {
            case HEAD_ENTROPY: ok = ok && !parse_float(f[1], &out->threshold) && out->threshold >= 0; break;
            case HEAD_MAXPROB:
            case HEAD_PROBE:
                ok = ok && !parse_float(f[1], &out->threshold) && out->threshold >= 0 && out->threshold <= 1;
                break;
            case HEAD_ATTN:
                ok = ok && !parse_positive_int(f[1], &out->k) && !parse_float(f[2], &out->threshold) &&
                     out->threshold >= 0 && out->threshold <= 1;
                break;
            case HEAD_WAITK:
            case HEAD_CHUNK: ok = ok && !parse_positive_int(f[1], &out->k); break;
            case HEAD_OFFLINE: break;
        }
        if (!ok) return px_error("decision head '%s': expected %s", spec, table[i].usage);
        return 0;
    }
    return px_error("unknown decision head '%s'; expected one of %s", spec, head_spec_help());
}

int head_uses_cues(const HeadSpec *h) {
    return h->kind == HEAD_ENTROPY || h->kind == HEAD_MAXPROB || h->kind == HEAD_ATTN || h->kind == HEAD_PROBE;
}

void probe_free(Probe *p) {
    free(p->w);
    free(p->mean);
    free(p->scale);
    memset(p, 0, sizeof *p);
}

double probe_score(const Probe *p, const Cues *c) {
    const int d = p->dim - PROBE_EXTRA_FEATURES;
    double z = p->bias;
    for (int i = 0; i < d; i++) z += p->w[i] * ((c->hidden[i] - p->mean[i]) / p->scale[i]);
    float extra[PROBE_EXTRA_FEATURES];
    probe_extra_features(c, extra);
    for (int i = 0; i < PROBE_EXTRA_FEATURES; i++) z += p->w[d + i] * ((extra[i] - p->mean[d + i]) / p->scale[d + i]);
    return 1.0 / (1.0 + exp(-z));
}

int head_decide(const HeadSpec *h, const Probe *probe, const Cues *c, const HeadState *st) {
    if (st->source_done) return 1;
    const int j = st->word_index, g = st->units_read;
    /* the floor and the ceiling come before the head's own rule */
    if (h->min_lag && g < h->min_lag + j - 1) return 0;
    if (h->max_lag && g >= h->max_lag + j - 1) return 1;
    switch (h->kind) {
        case HEAD_ENTROPY: return c->entropy <= h->threshold;
        case HEAD_MAXPROB: return c->maxprob >= h->threshold;
        case HEAD_ATTN: return !(c->attn_front > h->threshold);
        case HEAD_PROBE: return probe && probe_score(probe, c) >= h->threshold;
        case HEAD_WAITK: return g >= h->k + j - 1;
        case HEAD_CHUNK: return g >= h->k * ((j + h->k - 1) / h->k);
        case HEAD_OFFLINE: return 0;
    }
    return 1;
}

int head_forced_write(const HeadSpec *h, const HeadState *st) {
    if (h->max_lag && st->units_read >= h->max_lag + st->word_index - 1) return 1;
    return !head_uses_cues(h);
}
