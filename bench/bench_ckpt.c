/* bench_ckpt — under mpirun: write and read one checkpoint of a config's model (parameters and
 * both AdamW moments) with proact's collective parallel HDF5 path; prints one JSON line with the
 * bytes and seconds (the best of 3). `bytes` counts the file once, although without ZeRO every rank
 * reads all of it (each holds a full copy). Compared with dd on the same number of bytes by
 * scripts/bench.sh; bench/ckpt_floor.py gives the page cache's floors under the read
 * (docs/performance.md). usage: mpirun -np N bench_ckpt --config configs/base.ini --dir DIR */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/config.h"
#include "jobs/jobs.h"
#include "mpi/world.h"
#include "src/base/common.h"

int main(int argc, char **argv) {
    const char *config = "configs/base.ini", *dir = "/tmp/proact-bench-ckpt";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--config")) config = argv[i + 1];
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    World w;
    ProactConfig cfg;
    Model m;
    AdamW opt;
    if (world_init(&argc, &argv, &w) || config_load(&cfg, config, NULL, 0) || model_create(&m, &cfg.model) ||
        adamw_create(&opt, &cfg.optim, m.n_params))
        return job_fail(px_error_message());
    model_init_random(&m, 1);
    for (size_t i = 0; i < m.n_params; i++) opt.m[i] = m.params[i] * 0.5f, opt.v[i] = m.params[i] * m.params[i];
    double best_w = 1e30, best_r = 1e30;
    char path[4200];
    for (int it = 0; it < 3; it++) {
        CheckpointMeta meta = {it + 1, 0, "", w.rank, w.size};
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (world_agree(&w, checkpoint_save(&w, dir, &m, &opt, NULL, &meta, 1))) return job_fail(px_error_message());
        double tw = MPI_Wtime() - t0;
        snprintf(path, sizeof path, "%s/checkpoints/step-%08d.h5", dir, it + 1);
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        CheckpointMeta got;
        if (world_agree(&w, checkpoint_load(&w, path, &m, &opt, NULL, &got))) return job_fail(px_error_message());
        double tr = MPI_Wtime() - t0;
        if (tw < best_w) best_w = tw;
        if (tr < best_r) best_r = tr;
    }
    double bytes = 3.0 * 4.0 * m.n_params;
    if (w.rank == 0)
        printf("{\"ranks\": %d, \"bytes\": %.0f, \"write_s\": %.4f, \"read_s\": %.4f, \"write_gb_s\": %.3f, "
               "\"read_gb_s\": %.3f}\n",
               w.size, bytes, best_w, best_r, bytes / best_w / 1e9, bytes / best_r / 1e9);
    world_finalize();
    return 0;
}
