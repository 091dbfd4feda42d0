/* fault.c — PROACT_FAULT, parsed on every call (it is read a few hundred times per checkpoint at
 * most, and tests change it between runs, never within one). */
#include "io/fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/base/common.h"

#define FAULT_HANG (-2) /* `what` of a fault that never returns */

typedef struct {
    int site;    /* FaultSite */
    int what;    /* an errno value, or FAULT_HANG */
    int rank;    /* -1: every rank */
    int dataset; /* ckpt_write: which data write, from 1 */
    int step;    /* -1: every checkpoint */
} Fault;

static const char *const site_names[] = {
    [FAULT_CKPT_RESERVE] = "ckpt_reserve", [FAULT_CKPT_WRITE] = "ckpt_write",   [FAULT_CKPT_FLUSH] = "ckpt_flush",
    [FAULT_CKPT_CLOSE] = "ckpt_close",     [FAULT_CKPT_RENAME] = "ckpt_rename",
};

static const struct {
    const char *name;
    int value;
} what_names[] = {{"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EIO", EIO}, {"hang", FAULT_HANG}};

/* A qualifier "<prefix><non-negative integer>" into *out; 0 if s has that form. */
static int qualifier(const char *s, size_t len, const char *prefix, int *out) {
    size_t p = strlen(prefix);
    if (len <= p || strncmp(s, prefix, p) != 0) return -1;
    int v = 0;
    for (size_t i = p; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > 100000000) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Parses PROACT_FAULT; 1 with *f filled, 0 when unset or empty, -1 (px_error) when malformed. */
static int fault_parse(Fault *f) {
    const char *env = getenv("PROACT_FAULT");
    if (!env || !*env) return 0;
    *f = (Fault){.site = -1, .what = 0, .rank = -1, .dataset = 1, .step = -1};
    const char *colon = strchr(env, ':');
    for (int i = 0; colon && i < (int)(sizeof site_names / sizeof *site_names); i++)
        if ((size_t)(colon - env) == strlen(site_names[i]) && strncmp(env, site_names[i], colon - env) == 0)
            f->site = i;
    if (f->site < 0)
        return px_error("PROACT_FAULT='%s': expected SITE:WHAT[@rankR][:datasetN][:stepS] with SITE one of "
                        "ckpt_reserve, ckpt_write, ckpt_flush, ckpt_close, ckpt_rename",
                        env);
    const char *what = colon + 1, *at = strchr(what, '@');
    size_t what_len = at ? (size_t)(at - what) : strlen(what);
    for (size_t i = 0; i < sizeof what_names / sizeof *what_names; i++)
        if (what_len == strlen(what_names[i].name) && strncmp(what, what_names[i].name, what_len) == 0)
            f->what = what_names[i].value;
    if (!f->what) return px_error("PROACT_FAULT='%s': WHAT must be ENOSPC, EDQUOT, EIO or hang", env);
    for (const char *q = at ? at + 1 : NULL; q;) {
        const char *end = strchr(q, ':');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (qualifier(q, len, "rank", &f->rank) && qualifier(q, len, "dataset", &f->dataset) &&
            qualifier(q, len, "step", &f->step))
            return px_error("PROACT_FAULT='%s': unknown qualifier '%.*s' (rankR, datasetN or stepS)", env, (int)len, q);
        q = end ? end + 1 : NULL;
    }
    if (f->dataset < 1) return px_error("PROACT_FAULT='%s': datasets count from 1", env);
    return 1;
}

int fault_check_env(void) {
    Fault f;
    return fault_parse(&f) < 0 ? -1 : 0;
}

int fault_injected(FaultSite site, int rank, int step, int index) {
    Fault f;
    int parsed = fault_parse(&f);
    if (parsed <= 0) return parsed;
    if ((int)site != f.site || (f.rank >= 0 && f.rank != rank) || (f.step >= 0 && f.step != step) ||
        (site == FAULT_CKPT_WRITE && index != f.dataset))
        return 0;
    if (f.what == FAULT_HANG) {
        fprintf(stderr, "proact: rank %d: PROACT_FAULT: %s hangs here (a stuck file system)\n", rank, site_names[site]);
        for (;;) pause(); /* only a signal ends it: the watchdog's MPI_Abort, or the test's kill */
    }
    return f.what;
}
