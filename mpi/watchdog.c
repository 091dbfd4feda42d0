/* watchdog.c — see watchdog.h. The state is shared with the thread under one mutex; the thread
 * wakes twice a second, so an abort comes at most half a second after the limit. */
#include "mpi/watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/comm.h"
#include "src/base/common.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stopping;
    int rank;
    MPI_Comm comm;
    double fixed_s;                 /* > 0: the limit of every phase; 0: auto */
    double slowest[WATCHDOG_KINDS]; /* per kind, the longest phase that ended (s); 0 = none yet */
    int kind;                       /* the current phase's kind, -1 = none */
    char name[256];                 /* and what it is */
    double since;                   /* when it started */
} dog = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .kind = -1};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The limit of a phase of `kind` (under the lock). */
static double limit_of(int kind) {
    if (dog.fixed_s > 0) return dog.fixed_s;
    if (dog.slowest[kind] <= 0) return WATCHDOG_AUTO_FIRST_S;
    return PX_MAX(WATCHDOG_AUTO_MIN_S, WATCHDOG_AUTO_FACTOR * dog.slowest[kind]);
}

static void *watch(void *arg) {
    (void)arg;
    pthread_mutex_lock(&dog.lock);
    while (!dog.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 500000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&dog.wake, &dog.lock, &until);
        if (dog.stopping || dog.kind < 0) continue;
        double ran = now_s() - dog.since, limit = limit_of(dog.kind);
        if (ran <= limit) continue;
        fprintf(stderr,
                "proact: error: rank %d: watchdog: %s has run for %.0f s, past its limit of %.0f s "
                "(train.watchdog_s = %s): a collective operation is stuck; aborting every rank\n",
                dog.rank, dog.name, ran, limit, dog.fixed_s > 0 ? "a fixed limit" : "auto");
        fflush(stderr);
        /* The main thread is stuck inside MPI, so this thread makes the one call that ends the job;
         * should MPI_Abort return, the process ends anyway (the launcher then ends the others). */
        MPI_Abort(dog.comm, WATCHDOG_EXIT);
        _exit(WATCHDOG_EXIT);
    }
    pthread_mutex_unlock(&dog.lock);
    return NULL;
}

int watchdog_start(const World *w, double limit_s) {
    if (limit_s < 0 || dog.running) return 0;
    dog.rank = w->rank;
    dog.comm = world_comm(w);
    dog.fixed_s = limit_s;
    dog.stopping = 0;
    dog.kind = -1;
    memset(dog.slowest, 0, sizeof dog.slowest);
    int err = pthread_create(&dog.thread, NULL, watch, NULL);
    if (err) return px_error("watchdog: cannot start its thread: %s", strerror(err));
    dog.running = 1;
    return 0;
}

void watchdog_enter(int kind, const char *name) {
    if (!dog.running || kind < 0 || kind >= WATCHDOG_KINDS) return;
    pthread_mutex_lock(&dog.lock);
    dog.kind = kind;
    snprintf(dog.name, sizeof dog.name, "%s", name);
    dog.since = now_s();
    pthread_mutex_unlock(&dog.lock);
}

void watchdog_leave(void) {
    if (!dog.running) return;
    pthread_mutex_lock(&dog.lock);
    if (dog.kind >= 0) dog.slowest[dog.kind] = PX_MAX(dog.slowest[dog.kind], now_s() - dog.since);
    dog.kind = -1;
    pthread_mutex_unlock(&dog.lock);
}

void watchdog_stop(void) {
    if (!dog.running) return;
    pthread_mutex_lock(&dog.lock);
    dog.stopping = 1;
    pthread_cond_signal(&dog.wake);
    pthread_mutex_unlock(&dog.lock);
    pthread_join(dog.thread, NULL);
    dog.running = 0;
}
