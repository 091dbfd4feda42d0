/* parallel.h — how the kernels, the losses and AdamW use OpenMP threads.
 *
 * The rule: every threaded loop gives each output element exactly the operations, in exactly the
 * order, of the serial loop (kernels_ref.c keeps those loops), so fp32 results are the same bits
 * at any thread count. Loops split over independent rows; where the serial loop sums across rows
 * (RMSNorm's dw, embedding rows of a repeated token), the split is over the other dimension, so
 * that each element still adds its rows in row order; sums that cross rows into one number (a
 * loss total) keep per-row partials and add them serially in row order.
 *
 * The thread count is the process's one setting: jobs/runtime.c runtime_set_threads gives OpenBLAS
 * and these loops the same count (parallel_set_threads, and omp_set_num_threads for any other
 * OpenMP code). It is held here rather than only in OpenMP's per-thread state so that it holds
 * for every thread that runs a kernel (the server's worker threads too). Small loops — decoding
 * runs the same kernels on one row — stay on the calling thread: a parallel region costs
 * microseconds. Every threaded loop says so with
 *     #pragma omp parallel ... if (par_worth(work)) num_threads(par_threads())
 */
#ifndef PROACT_PARALLEL_H
#define PROACT_PARALLEL_H

#include <stddef.h>

#include <omp.h>

/* Threads for the kernels: n > 0 sets the count, 0 returns to OpenMP's default (OMP_NUM_THREADS,
 * else every core). */
void parallel_set_threads(int n);
/* The count in use. */
int par_threads(void);

/* Elements of elementwise work below which a loop is not worth a parallel region. */
#define PAR_MIN_WORK 32768

static inline int par_worth(size_t work) { return work >= PAR_MIN_WORK && par_threads() > 1; }

/* This thread's share [*lo, *hi) of n items split into blocks of `align` items (so that threads
 * writing neighbouring columns do not share cache lines). Call inside a parallel region. */
static inline void par_share(size_t n, size_t align, size_t *lo, size_t *hi) {
    const size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
    const size_t blocks = (n + align - 1) / align;
    size_t b0 = blocks * t / nt, b1 = blocks * (t + 1) / nt;
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}

#endif
