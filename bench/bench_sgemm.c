/* bench_sgemm — the matrix-product ceilings of this machine: best GFLOP/s over square sizes of
 * cblas_sgemm (fp32) and of the bf16 path (oneDNN, fp32 accumulation) through gemm.h.
 * usage: bench_sgemm [--threads 1] [--seconds 1] ; prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"

int main(int argc, char **argv) {
    runtime_fix_blas_core(argv);
    int threads = 1;
    double seconds = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    }
    runtime_set_threads(threads);
    const int sizes[] = {256, 512, 1024, 2048};
    double best = 0;
    int best_n = 0;
    printf("{\"core\": \"%s\", \"threads\": %d", runtime_blas_core(), threads);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double g = runtime_gemm_gflops(sizes[i], seconds, GEMM_FP32);
        printf(", \"gflops_%d\": %.2f", sizes[i], g);
        if (g > best) best = g, best_n = sizes[i];
    }
    printf(", \"peak_gflops\": %.2f, \"peak_n\": %d", best, best_n);
    /* the bf16 path (oneDNN, fp32 accumulation): the peak that bf16 training's MFU is taken against */
    best = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double g = runtime_gemm_gflops(sizes[i], seconds, GEMM_BF16);
        printf(", \"bf16_gflops_%d\": %.2f", sizes[i], g);
        if (g > best) best = g, best_n = sizes[i];
    }
    printf(", \"bf16_peak_gflops\": %.2f, \"bf16_peak_n\": %d, \"gemm\": \"%s\"}\n", best, best_n, gemm_describe());
    return 0;
}
