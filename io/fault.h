/* fault.h — the fault-injection seam for tests: PROACT_FAULT makes one step of a checkpoint write
 * fail on one rank the way a full or broken disk would, so that CI tests what a failing disk does
 * to a collective write deterministically, without mounting anything (docs/reliability.md).
 *
 *   PROACT_FAULT=SITE:WHAT[@QUALIFIER[:QUALIFIER...]]   ('@' or ':' before the first qualifier)
 *   SITE       ckpt_reserve  reserving the file's space (rank 0 does it)
 *              ckpt_write    one dataset's data
 *              ckpt_flush    the metadata flush (the real flush runs, then reports the fault)
 *              ckpt_close    closing the file (the real close runs, then reports the fault)
 *              ckpt_rename   publishing the file (rank 0 does it)
 *   WHAT       ENOSPC | EDQUOT | EIO   the step fails with that errno
 *              hang                    the step never returns (a stuck file system: the watchdog's case)
 *   QUALIFIER  rankR     only on rank R (default: every rank)
 *              datasetN  ckpt_write only: the N-th data write of the checkpoint, from 1 (default: 1)
 *              stepS     only in the checkpoint of step S (default: every checkpoint)
 * e.g. PROACT_FAULT=ckpt_write:ENOSPC@rank1:dataset3. Unset or empty: no fault and no cost. */
#ifndef PROACT_FAULT_H
#define PROACT_FAULT_H

typedef enum { FAULT_CKPT_RESERVE, FAULT_CKPT_WRITE, FAULT_CKPT_FLUSH, FAULT_CKPT_CLOSE, FAULT_CKPT_RENAME } FaultSite;

/* Whether PROACT_FAULT fails this operation: 0 = go ahead; an errno value (ENOSPC, EDQUOT, EIO) = fail
 * as if the disk had returned it; a "hang" fault never returns. `index` is the dataset number for
 * ckpt_write (from 1), else 0. A malformed PROACT_FAULT fails every operation it could mean:
 * -1 with px_error naming it (fault_check_env reports it earlier). */
int fault_injected(FaultSite site, int rank, int step, int index);

/* Checks PROACT_FAULT's syntax: 0, or -1 with px_error saying what is wrong, so that a typo stops a
 * test at once instead of silently injecting nothing. */
int fault_check_env(void);

#endif
