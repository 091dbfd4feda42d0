/* watchdog.h — the last line of defence against a collective that never returns (a rank stuck in
 * a file system call, or ranks left in different collectives by a failure no agreement caught):
 * a thread per rank that calls MPI_Abort, naming the phase, when a phase runs past its limit.
 * Without it a stuck job burns its whole allocation; with it, it ends with one message and exit
 * status WATCHDOG_EXIT (docs/reliability.md).
 *
 * Phases are kinds (a training step, a validation, a checkpoint, a resume) that the caller enters
 * and leaves. The limit of a phase is fixed (train.watchdog_s = SECONDS) or derived from what this
 * run has measured ("auto"): WATCHDOG_AUTO_FACTOR times the slowest phase of its kind so far, at
 * least WATCHDOG_AUTO_MIN_S; WATCHDOG_AUTO_FIRST_S before the first of its kind has ended. */
#ifndef PROACT_WATCHDOG_H
#define PROACT_WATCHDOG_H

#include "mpi/world.h"

#define WATCHDOG_EXIT 70 /* sysexits' EX_SOFTWARE: the job did not fail by itself, it was stopped */
#define WATCHDOG_AUTO_FACTOR 20.0
#define WATCHDOG_AUTO_MIN_S 600.0
#define WATCHDOG_AUTO_FIRST_S 3600.0
#define WATCHDOG_KINDS 8

/* Starts the watchdog thread: limit_s > 0 is a fixed limit for every phase, 0 is "auto", < 0
 * starts nothing (every other call is then a no-op). 0, or -1 with px_error. */
int watchdog_start(const World *w, double limit_s);

/* Phase `kind` (0 .. WATCHDOG_KINDS-1, the caller's numbering) starts; `name` says what it is in
 * the abort message ("the checkpoint of step 100"). Phases do not nest: entering ends the last. */
void watchdog_enter(int kind, const char *name);
/* The current phase has ended: its time counts towards the auto limit of its kind. */
void watchdog_leave(void);

/* Stops and joins the thread. */
void watchdog_stop(void);

#endif
