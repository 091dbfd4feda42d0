#include "world.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "../src/common.h"

int world_init(int *argc, char ***argv, World *w) {
    int initialized = 0, provided = 0;
    MPI_Initialized(&initialized);
    if (!initialized && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return px_error("MPI_Init failed");
    /* errors come back as codes, so that every failure ends in world_agree, not an abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    return 0;
}

void world_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

int world_agree(const World *w, int local_status) {
    int mine = local_status ? w->rank : w->size, first = w->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        return px_error("MPI_Allreduce failed while agreeing on errors");
    if (first == w->size) return 0;
    char msg[1024];
    if (w->rank == first) snprintf(msg, sizeof msg, "%s", px_error_message());
    if (MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD) != MPI_SUCCESS)
        return px_error("MPI_Bcast failed while agreeing on errors");
    msg[sizeof msg - 1] = '\0';
    if (w->size == 1) return px_error("%s", msg);
    return px_error("rank %d: %s", first, msg);
}
