/* world.h — MPI world setup and collective agreement. Everything that talks MPI lives in mpi/. */
#ifndef PROACT_WORLD_H
#define PROACT_WORLD_H

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

#endif
