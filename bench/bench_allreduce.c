/* bench_allreduce — under mpirun: the time of one blocking MPI_Allreduce (sum, in place) of N
 * floats, best of several, for comparing with the part of the gradient allreduce that training
 * could not hide behind backward. usage: mpirun -np 2 bench_allreduce N ; prints one JSON line. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long n = argc > 1 ? atol(argv[1]) : 1 << 22;
    float *buf = calloc((size_t)n, sizeof(float));
    if (!buf) MPI_Abort(MPI_COMM_WORLD, 1);
    double best = 1e30;
    for (int it = 0; it < 10; it++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0;
        if (it > 0 && dt < best) best = dt;
    }
    if (rank == 0)
        printf("{\"ranks\": %d, \"floats\": %ld, \"allreduce_s\": %.6f, \"gb_s\": %.3f}\n", size, n, best,
               n * 4.0 / best / 1e9);
    free(buf);
    MPI_Finalize();
    return 0;
}
