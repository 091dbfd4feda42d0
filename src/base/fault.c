/* fault.c — PROACT_FAULT, parsed on every call (a few hundred calls per checkpoint at most; tests
 * change it between runs, never within one). */
#include "src/base/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/base/common.h"

enum { ACT_HANG = -2, ACT_KILL = -3, ACT_EXIT = -4, ACT_STOP = -5 }; /* WHATs that are not errno values */

typedef struct {
    int site;    /* FaultSite */
    int what;    /* an errno value, or ACT_* */
    int rank;    /* -1: every rank */
    int dataset; /* ckpt_write: which data write, from 1 */
    int step;    /* -1: every checkpoint */
} Fault;

static const char *const site_names[] = {
    [FAULT_CKPT_RESERVE] = "ckpt_reserve", [FAULT_CKPT_WRITE] = "ckpt_write",   [FAULT_CKPT_FLUSH] = "ckpt_flush",
    [FAULT_CKPT_CLOSE] = "ckpt_close",     [FAULT_CKPT_RENAME] = "ckpt_rename", [FAULT_DIST_FIT] = "dist_fit",
};
enum { N_SITES = (int)(sizeof site_names / sizeof *site_names) };

static const struct {
    const char *name, *doing; /* doing: for the message before acting */
    int value;
} whats[] = {
    {"ENOSPC", "fails with ENOSPC", ENOSPC},
    {"EDQUOT", "fails with EDQUOT", EDQUOT},
    {"EIO", "fails with EIO", EIO},
    {"hang", "hangs", ACT_HANG},
    {"kill", "kills itself", ACT_KILL},
    {"exit", "exits", ACT_EXIT},
    {"stop", "stops", ACT_STOP},
};
enum { N_WHATS = (int)(sizeof whats / sizeof *whats) };

/* A qualifier "<prefix><non-negative integer>" into *out; 0 if s[0..len) has that form. */
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
    size_t site_len = strcspn(env, ":");
    for (int i = 0; i < N_SITES; i++)
        if (site_len == strlen(site_names[i]) && strncmp(env, site_names[i], site_len) == 0) f->site = i;
    if (f->site < 0 || !env[site_len])
        return px_error("PROACT_FAULT='%s': expected SITE:WHAT[@rankR][:datasetN][:stepS], SITE one of ckpt_reserve, "
                        "ckpt_write, ckpt_flush, ckpt_close, ckpt_rename, dist_fit",
                        env);
    const char *what = env + site_len + 1;
    size_t what_len = strcspn(what, "@:");
    for (int i = 0; i < N_WHATS; i++)
        if (what_len == strlen(whats[i].name) && strncmp(what, whats[i].name, what_len) == 0) f->what = i + 1;
    if (!f->what)
        return px_error("PROACT_FAULT='%s': unknown WHAT '%.*s' (ENOSPC, EDQUOT, EIO, hang, kill, exit or stop)", env,
                        (int)what_len, what);
    for (const char *q = what[what_len] ? what + what_len + 1 : NULL; q;) {
        size_t len = strcspn(q, ":");
        if (qualifier(q, len, "rank", &f->rank) && qualifier(q, len, "dataset", &f->dataset) &&
            qualifier(q, len, "step", &f->step))
            return px_error("PROACT_FAULT='%s': unknown qualifier '%.*s' (rankR, datasetN or stepS)", env, (int)len, q);
        q = q[len] ? q + len + 1 : NULL;
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
    int what = whats[f.what - 1].value;
    fprintf(stderr, "proact: PROACT_FAULT: rank %d (pid %ld) %s at %s\n", rank, (long)getpid(), whats[f.what - 1].doing,
            site_names[site]);
    fflush(stderr);
    switch (what) {
        case ACT_HANG:
            for (;;) pause(); /* only a signal that ends the process ends it: the watchdog's abort, a kill */
        case ACT_KILL: raise(SIGKILL); break;
        case ACT_EXIT: _exit(3);
        case ACT_STOP: raise(SIGSTOP); return 0; /* continued by SIGCONT: go ahead */
        default: break;
    }
    return what;
}
