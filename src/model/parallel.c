/* parallel.c — the kernels' thread count (see parallel.h). */
#include "src/model/parallel.h"

static int threads = 0; /* 0: OpenMP's default */

void parallel_set_threads(int n) { threads = n > 0 ? n : 0; }

int par_threads(void) { return threads > 0 ? threads : omp_get_max_threads(); }
