/* world.h — MPI world setup and collective agreement. Everything that talks MPI lives in mpi/. */
#ifndef PROACT_WORLD_H
#define PROACT_WORLD_H

#include <stddef.h>

typedef struct {
    int rank, size;
} World;

/* MPI_Init (thread level funneled) and rank/size. Safe to call once per process. */
int world_init(int *argc, char ***argv, World *w);
void world_finalize(void);

/* Collective: every rank passes its local status (0 = fine). Returns 0 on every rank if all
 * are fine; otherwise -1 on every rank, and every rank's px_error message becomes the one of
 * the lowest failing rank, prefixed with "rank R: ", so all ranks print the same line. */
int world_agree(const World *w, int local_status);

/* Collective: concatenates every rank's bytes on rank 0, in rank order. On rank 0 *all is a new
 * buffer (free it) of *all_len bytes; elsewhere *all is NULL. Errors (a rank's buffer over 2 GiB,
 * out of memory, MPI) are agreed: -1 on every rank. */
int world_gather_bytes(const World *w, const void *mine, size_t len, void **all, size_t *all_len);

#endif
