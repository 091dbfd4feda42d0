/* world.h — the MPI world a job runs in, and the collectives the rest of proact may use.
 * Everything that talks MPI lives in mpi/: this header needs no mpi.h, so src/, io/ and jobs/
 * call these functions without ever naming an MPI type. */
#ifndef PROACT_WORLD_H
#define PROACT_WORLD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;
    int comm; /* the communicator, as its Fortran handle (MPI_Comm_c2f): portable, and no mpi.h here */
} World;

/* MPI_Init (thread level funneled), then the world of every process (MPI_COMM_WORLD).
 * Safe to call once per process. */
int world_init(int *argc, char ***argv, World *w);
void world_finalize(void);

/* 1 if a launcher (mpirun, srun) started this process as one of several ranks, from its
 * environment, without initializing MPI: a lone process can report an error before MPI_Init. */
int world_launched(void);

/* Collective: every rank passes its local status (0 = fine). Returns 0 on every rank if all
 * are fine; otherwise -1 on every rank, and every rank's px_error message becomes the one of
 * the lowest failing rank, prefixed with "rank R: " (once: a message that names a rank already, an
 * error agreed before and passed on, keeps its prefix), so all ranks print the same line. */
int world_agree(const World *w, int local_status);

/* Collective: 1 on every rank if any rank passed a non-zero flag, else 0 (-1 on an MPI error).
 * For decisions that need no message (world_agree carries one). */
int world_any(const World *w, int local_flag);

/* Collective sums over all ranks, in place: n doubles, or n unsigned 64-bit integers (which
 * wrap modulo 2^64, as checksums want). 0, or -1 on an MPI error. */
int world_sum(const World *w, double *values, int n);
int world_sum_u64(const World *w, uint64_t *values, int n);

/* Collective: concatenates every rank's bytes on rank 0, in rank order. On rank 0 *all is a new
 * buffer (free it) of *all_len bytes; elsewhere *all is NULL. Errors (a rank's buffer over 2 GiB,
 * out of memory, MPI) are agreed: -1 on every rank. */
int world_gather_bytes(const World *w, const void *mine, size_t len, void **all, size_t *all_len);

#endif
