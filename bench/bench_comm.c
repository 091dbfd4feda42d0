/* bench_comm — under mpirun -np 2 (or more): the message costs the scaling model needs.
 *   ping-pong between ranks 0 and 1: one-way time of a message of B bytes, B = 8 B .. 64 MiB
 *   MPI_Allreduce (sum, in place) of N floats over all ranks, N = 1 .. 16 Mi
 * Each size: the best of several repetitions after a warm-up (the least-disturbed run is the
 * closest to the wire's cost). Prints one JSON object on rank 0.
 * usage: mpirun -np 2 bench_comm [--max-mib 64] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* repetitions for a message of `bytes`: many for small ones, where one is a few microseconds */
static int reps_for(size_t bytes) { return bytes <= 65536 ? 200 : bytes <= (4u << 20) ? 20 : 5; }

/* One-way time of `bytes` between ranks 0 and 1: half the best round trip. */
static double ping_pong(char *buf, size_t bytes, int rank) {
    double best = 1e30;
    int reps = reps_for(bytes);
    for (int r = -2; r < reps; r++) { /* two warm-up round trips */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
        double dt = MPI_Wtime() - t0;
        if (r >= 0 && dt < best) best = dt;
    }
    return best / 2;
}

/* The best time of an in-place sum allreduce of n floats; every rank agrees on the maximum. */
static double allreduce(float *buf, size_t n) {
    double best = 1e30;
    int reps = reps_for(n * sizeof(float));
    for (int r = -2; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0, slowest;
        MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0 && slowest < best) best = slowest;
    }
    return best;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t max_bytes = (size_t)64 << 20;
    if (argc == 3 && strcmp(argv[1], "--max-mib") == 0) max_bytes = (size_t)atol(argv[2]) << 20;
    if (size < 2 || max_bytes < 8) {
        if (rank == 0) fprintf(stderr, "bench_comm: run under mpirun -np 2 (or more); --max-mib >= 1\n");
        MPI_Finalize();
        return 2;
    }
    char *buf = calloc(max_bytes, 1);
    if (!buf) MPI_Abort(MPI_COMM_WORLD, 1);
    if (rank == 0) printf("{\"ranks\": %d, \"ping_pong\": [", size);
    int first = 1;
    for (size_t b = 8; b <= max_bytes; b *= 4) {
        double t = ping_pong(buf, b, rank);
        if (rank == 0) printf("%s{\"bytes\": %zu, \"one_way_s\": %.9f}", first ? "" : ", ", b, t);
        first = 0;
    }
    if (rank == 0) printf("], \"allreduce\": [");
    first = 1;
    for (size_t n = 1; n * sizeof(float) <= max_bytes / 4; n *= 4) {
        double t = allreduce((float *)buf, n);
        if (rank == 0) printf("%s{\"floats\": %zu, \"seconds\": %.9f}", first ? "" : ", ", n, t);
        first = 0;
    }
    if (rank == 0) printf("]}\n");
    free(buf);
    MPI_Finalize();
    return 0;
}
