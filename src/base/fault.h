/* fault.h — the fault-injection seam for tests: PROACT_FAULT makes one operation on one rank fail
 * the way a full or broken disk would, or makes the rank die or hang there, so that CI tests what
 * the other ranks do deterministically, without mounting anything or racing a `kill`
 * (docs/reliability.md). Unset or empty: no fault, and no cost but a getenv.
 *
 *   PROACT_FAULT=SITE:WHAT[@QUALIFIER[:QUALIFIER...]]   ('@' or ':' before the first qualifier)
 *   SITE       ckpt_reserve  reserving a checkpoint file's space (rank 0 does it)    io/checkpoint.c
 *              ckpt_write    one dataset's data of a checkpoint
 *              ckpt_flush    its metadata flush (the real flush runs, then the fault)
 *              ckpt_close    closing it (the real close runs, then the fault)
 *              ckpt_rename   publishing it (rank 0 does it)
 *              dist_fit      the first Newton step of a probe fit, between two       mpi/dist_fit.c
 *                            collectives
 *   WHAT       ENOSPC | EDQUOT | EIO   the operation fails with that errno (the ckpt_* sites)
 *              hang    the operation never returns (a stuck file system: the watchdog's case)
 *              kill    the rank sends itself SIGKILL, as `kill -9` would
 *              exit    the rank ends at once with status 3 (no MPI_Finalize, no cleanup)
 *              stop    the rank sends itself SIGSTOP, for the test to kill it from outside
 *   QUALIFIER  rankR     only on rank R (default: every rank)
 *              datasetN  ckpt_write only: the N-th data write of the checkpoint, from 1 (default 1)
 *              stepS     only in the checkpoint of step S (default: every one)
 * e.g. PROACT_FAULT=ckpt_write:ENOSPC@rank1:dataset3. Before acting, the rank prints
 * "proact: PROACT_FAULT: rank R (pid P) <what> at SITE" on stderr. */
#ifndef PROACT_FAULT_H
#define PROACT_FAULT_H

typedef enum {
    FAULT_CKPT_RESERVE,
    FAULT_CKPT_WRITE,
    FAULT_CKPT_FLUSH,
    FAULT_CKPT_CLOSE,
    FAULT_CKPT_RENAME,
    FAULT_DIST_FIT,
} FaultSite;

/* Whether PROACT_FAULT strikes here: 0 = go ahead; an errno value (ENOSPC, EDQUOT, EIO) = fail as
 * if the disk had returned it; hang, kill, exit and stop never return. `step` is the checkpoint's
 * step (-1 where there is none), `index` the dataset number for ckpt_write (from 1), else 0. A
 * malformed PROACT_FAULT strikes nowhere: -1 with px_error (fault_check_env reports it first). */
int fault_injected(FaultSite site, int rank, int step, int index);

/* Checks PROACT_FAULT's syntax: 0, or -1 with px_error saying what is wrong, so that a command
 * refuses a typo at start instead of silently injecting nothing. */
int fault_check_env(void);

#endif
