#include "mpi/world.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "src/base/common.h"

int world_init(int *argc, char ***argv, World *w) {
    int initialized = 0, provided = 0;
    MPI_Initialized(&initialized);
    if (!initialized && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return px_error("MPI_Init failed");
    /* errors come back as codes, so that every failure ends in world_agree, not an abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    w->comm = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    return 0;
}

void world_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

/* Whether msg is already an agreed message ("rank R: ..."), passed on (perhaps with more words
 * after it) to an outer agreement: it keeps its one prefix. */
static int names_a_rank(const char *msg) {
    if (strncmp(msg, "rank ", 5) != 0) return 0;
    const char *p = msg + 5;
    while (*p >= '0' && *p <= '9') p++;
    return p > msg + 5 && p[0] == ':' && p[1] == ' ';
}

int world_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int world_agree(const World *w, int local_status) {
    int mine = local_status ? w->rank : w->size, first = w->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world_comm(w)) != MPI_SUCCESS)
        return px_error("MPI_Allreduce failed while agreeing on errors");
    if (first == w->size) return 0;
    char msg[1024];
    if (w->rank == first) snprintf(msg, sizeof msg, "%s", px_error_message());
    if (MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, world_comm(w)) != MPI_SUCCESS)
        return px_error("MPI_Bcast failed while agreeing on errors");
    msg[sizeof msg - 1] = '\0';
    if (w->size == 1 || names_a_rank(msg)) return px_error("%s", msg);
    return px_error("rank %d: %s", first, msg);
}

int world_any(const World *w, int local_flag) {
    int mine = local_flag != 0, any = mine;
    if (MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, world_comm(w)) != MPI_SUCCESS)
        return px_error("MPI_Allreduce failed while agreeing on a decision");
    return any;
}

int world_sum(const World *w, double *values, int n) {
    if (MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, world_comm(w)) != MPI_SUCCESS)
        return px_error("MPI_Allreduce of %d values failed", n);
    return 0;
}

int world_sum_u64(const World *w, uint64_t *values, int n) {
    if (MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_UINT64_T, MPI_SUM, world_comm(w)) != MPI_SUCCESS)
        return px_error("MPI_Allreduce of %d integers failed", n);
    return 0;
}

int world_gather_bytes(const World *w, const void *mine, size_t len, void **all, size_t *all_len) {
    *all = NULL;
    *all_len = 0;
    int my_len = len > (size_t)INT_MAX ? -1 : (int)len; /* MPI counts are ints */
    int *lens = NULL, *offs = NULL, status = 0;
    char *buf = NULL;
    if (w->rank == 0) {
        lens = px_calloc((size_t)w->size, sizeof(int), "gather lengths");
        offs = px_calloc((size_t)w->size, sizeof(int), "gather offsets");
        if (!lens || !offs) status = -1;
    }
    /* everyone learns whether rank 0 can receive before anyone sends */
    if (world_agree(w, status) || MPI_Gather(&my_len, 1, MPI_INT, lens, 1, MPI_INT, 0, world_comm(w)) != MPI_SUCCESS) {
        status = -1;
        goto done;
    }
    if (w->rank == 0) {
        size_t total = 0;
        for (int r = 0; r < w->size && status == 0; r++) {
            if (lens[r] < 0 || total + (size_t)lens[r] > (size_t)INT_MAX)
                status = px_error("gathering results: more than 2 GiB on rank 0 (rank %d)", r);
            else {
                offs[r] = (int)total;
                total += (size_t)lens[r];
            }
        }
        if (status == 0 && !(buf = px_calloc(total ? total : 1, 1, "gathered results"))) status = -1;
        *all_len = total;
    }
    if (world_agree(w, status)) {
        status = -1;
        goto done;
    }
    if (MPI_Gatherv(mine, my_len, MPI_BYTE, buf, lens, offs, MPI_BYTE, 0, world_comm(w)) != MPI_SUCCESS)
        status = px_error("MPI_Gatherv failed while gathering results");
    if (world_agree(w, status)) status = -1;
done:
    free(lens);
    free(offs);
    if (status) {
        free(buf);
        *all_len = 0;
    } else {
        *all = buf;
    }
    return status;
}
