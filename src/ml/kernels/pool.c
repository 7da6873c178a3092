/*
 * The ml thread pool: ONE pool for every kernel of the models, GEMMs included. With more than one
 * thread, OpenBLAS is set to a single thread and each pool thread calls it on its own rows, so
 * two pools never spin against each other on a 2-core machine (the torch pitfall measured in
 * perf-anchors.md: libgomp spinning + OpenBLAS threads cost 2.4x). Nothing here pins threads.
 *
 * Algorithm: nt-1 workers wait for a generation counter to change. A dispatch publishes the task,
 * bumps the generation under a mutex (waking sleepers), runs tid 0 itself, and waits for the
 * pending count to reach zero. Waiting spins for SO_ML_SPIN_NS (default 50 us: the gap between
 * two kernels of a training step) and then sleeps on a condition variable, so idle workers cost
 * nothing. Cost per dispatch: ~1 us when workers are spinning, a futex wake when asleep.
 * Limits: at most 64 threads; nested or concurrent dispatches run serially on the caller. A child
 * of fork() starts its own workers on its first dispatch.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "pool.h"
#include "scaleout/ml.h"
#if SO_HAVE_OPENBLAS
#include <cblas.h>
#endif

#define MAX_THREADS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER; /* held by the dispatching thread */
static atomic_uint_fast64_t gen;
static atomic_int pending;
static int sleepers, done_waiting;
static so__ml_task task_fn;
static void *task_arg;
static int task_nt;
static int nthreads; /* configured size (0 = not yet read) */
static int nstarted; /* workers running (tid 1..nstarted) */
static int64_t spin_ns = -1;

static uint64_t start_gen[MAX_THREADS];
static _Thread_local int in_pool; /* set on workers and on a dispatching caller */

static void pause_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *p) {
    int tid = (int)(intptr_t)p;
    in_pool = 1;
    uint64_t seen = start_gen[tid]; /* the generation before this worker's first task */
    for (;;) {
        int64_t t0 = so_now_ns();
        while (atomic_load_explicit(&gen, memory_order_acquire) == seen &&
               so_now_ns() - t0 < spin_ns) {
            pause_cpu();
        }
        if (atomic_load_explicit(&gen, memory_order_acquire) == seen) {
            pthread_mutex_lock(&mu);
            while (atomic_load(&gen) == seen) {
                sleepers++;
                pthread_cond_wait(&wake_cv, &mu);
                sleepers--;
            }
            pthread_mutex_unlock(&mu);
        }
        seen = atomic_load(&gen);
        if (tid < task_nt) {
            task_fn(task_arg, tid, task_nt);
        }
        if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&mu);
            if (done_waiting) {
                pthread_cond_signal(&done_cv);
            }
            pthread_mutex_unlock(&mu);
        }
    }
    return NULL;
}

/* SO_ML_THREADS, or the online CPUs shared among the ranks of this host when a launcher says how
 * many there are (LOCAL_WORLD_SIZE from scaleout run/torchrun, OMPI_COMM_WORLD_LOCAL_SIZE). */
static int default_threads(void) {
    int64_t n = so_param_int("SO_ML_THREADS");
    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        const char *lws = getenv("LOCAL_WORLD_SIZE");
        if (!lws || !*lws) {
            lws = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        }
        long k = lws && *lws ? strtol(lws, NULL, 10) : 1;
        if (k > 1) {
            n = n / k;
        }
    }
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

int so_ml_set_threads(int n) {
    if (n < 0 || n > MAX_THREADS) {
        return so__fail(SO_EINVAL, "ml threads %d is outside [0, %d]", n, MAX_THREADS);
    }
    pthread_mutex_lock(&busy);
    nthreads = n == 0 ? default_threads() : n;
#if SO_HAVE_OPENBLAS
    openblas_set_num_threads(1);
#endif
    pthread_mutex_unlock(&busy);
    return SO_OK;
}

int so_ml_threads(void) {
    if (nthreads == 0) {
        so_ml_set_threads(0);
    }
    return nthreads;
}

/* In a child after fork() only the forking thread exists: forget the workers (they are started
 * again on the next dispatch) and re-create the locks, which another thread may have held. */
static void after_fork_child(void) {
    nstarted = 0;
    sleepers = 0;
    done_waiting = 0;
    in_pool = 0;
    pthread_mutex_init(&mu, NULL);
    pthread_mutex_init(&busy, NULL);
    pthread_cond_init(&wake_cv, NULL);
    pthread_cond_init(&done_cv, NULL);
}

/* Starts workers up to nthreads-1 (called with `busy` held). Failure to start one just leaves
 * the pool smaller. */
static void ensure_workers(void) {
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, after_fork_child);
        atfork_done = 1;
    }
    if (spin_ns < 0) {
        spin_ns = so_param_int("SO_ML_SPIN_NS");
    }
    while (nstarted < nthreads - 1) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        start_gen[nstarted + 1] = atomic_load(&gen);
        int rc = pthread_create(&th, &at, worker, (void *)(intptr_t)(nstarted + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) {
            break;
        }
        nstarted++;
    }
}

void so__ml_parallel(so__ml_task fn, void *arg) {
    so__ml_parallel_max(fn, arg, MAX_THREADS);
}

void so__ml_parallel_max(so__ml_task fn, void *arg, int max_nt) {
    if (nthreads == 0) {
        so_ml_threads();
    }
    if (in_pool || nthreads <= 1 || max_nt <= 1 || pthread_mutex_trylock(&busy) != 0) {
        fn(arg, 0, 1);
        return;
    }
    ensure_workers();
    int nt = nstarted + 1 < nthreads ? nstarted + 1 : nthreads;
    nt = nt < max_nt ? nt : max_nt;
    if (nt <= 1) {
        pthread_mutex_unlock(&busy);
        fn(arg, 0, 1);
        return;
    }
    in_pool = 1;
    task_fn = fn;
    task_arg = arg;
    task_nt = nt;
    atomic_store(&pending, nstarted); /* every started worker reports, used or not */
    pthread_mutex_lock(&mu);
    atomic_fetch_add_explicit(&gen, 1, memory_order_release);
    if (sleepers > 0) {
        pthread_cond_broadcast(&wake_cv);
    }
    pthread_mutex_unlock(&mu);
    fn(arg, 0, nt);
    int64_t t0 = so_now_ns();
    while (atomic_load_explicit(&pending, memory_order_acquire) > 0 && so_now_ns() - t0 < spin_ns) {
        pause_cpu();
    }
    if (atomic_load(&pending) > 0) {
        pthread_mutex_lock(&mu);
        done_waiting = 1;
        while (atomic_load(&pending) > 0) {
            pthread_cond_wait(&done_cv, &mu);
        }
        done_waiting = 0;
        pthread_mutex_unlock(&mu);
    }
    in_pool = 0;
    pthread_mutex_unlock(&busy);
}
