/* The ml thread pool (internal; pool.c). so__ml_parallel(fn, arg) runs fn(arg, tid, nt) for
 * tid = 0..nt-1 on the pool (tid 0 on the caller) and returns when all are done. A call made
 * while the pool is busy (from a worker, or from a second application thread) runs serially with
 * nt = 1, so it is always safe. */
#ifndef SO_ML_POOL_H
#define SO_ML_POOL_H

typedef void (*so__ml_task)(void *arg, int tid, int nt);
void so__ml_parallel(so__ml_task fn, void *arg);
/* The same with at most max_nt threads (a model sized its per-thread buffers for max_nt). */
void so__ml_parallel_max(so__ml_task fn, void *arg, int max_nt);
/* The [lo, hi) share of n items for thread tid of nt (contiguous, sizes differ by at most 1). */
static inline void so__ml_split(int n, int tid, int nt, int *lo, int *hi) {
    int q = n / nt, r = n % nt;
    *lo = tid * q + (tid < r ? tid : r);
    *hi = *lo + q + (tid < r ? 1 : 0);
}

#endif
