/*
 * `scaleout bench memcpy [--threads 1|2] [--min 1M --max 256M]`: this machine's copy bandwidth,
 * the physical limit of a shared-memory collective (every byte a shm transport moves is copied
 * at least once, and a reduction reads two inputs and writes one).
 *
 * Method (that of ../shared/peers/src/memcpy_bw.c, so the figures compare with perf-anchors §1):
 * for each power-of-two size S, a source and a destination of S bytes are touched first; with T
 * threads each copies its own S/T slice with glibc memcpy (one copy of S bytes in all). A sample
 * times a batch of copies lasting >= 2 ms between two thread barriers; there are >= 15 samples
 * and >= 0.25 s per size. The figure is bytes copied per second, S / (time per copy): DRAM
 * traffic is about twice that. Sizes that fit the caches are reported on purpose, they show
 * where a collective falls off the cache.
 *
 * Cost: about 0.3 s per size. Limits: threads are not pinned; the machine is shared.
 */
#include <pthread.h>
#include <string.h>

#include "bench_common.h"
#include "cli.h"

enum { MEMCPY_MAX_SAMPLES = 400, MEMCPY_MAX_THREADS = 64 };

typedef struct memcpy_job {
    char *src, *dst;
    size_t chunk;
    int nthreads, batch, nsamp;
    pthread_barrier_t bar;
    double samples[MEMCPY_MAX_SAMPLES];
    double tstart;
} memcpy_job;

typedef struct memcpy_arg {
    memcpy_job *job;
    int tid;
} memcpy_arg;

static void *memcpy_worker(void *p) {
    memcpy_arg *a = p;
    memcpy_job *j = a->job;
    char *s = j->src + (size_t)a->tid * j->chunk, *d = j->dst + (size_t)a->tid * j->chunk;
    memset(s, a->tid + 1, j->chunk); /* first touch by the thread that copies */
    memset(d, 0, j->chunk);
    for (int w = 0; w < 2; w++) {
        memcpy(d, s, j->chunk);
    }
    for (int k = 0; k < j->nsamp; k++) {
        pthread_barrier_wait(&j->bar);
        if (a->tid == 0) {
            j->tstart = so_now_s();
        }
        pthread_barrier_wait(&j->bar);
        for (int b = 0; b < j->batch; b++) {
            memcpy(d, s, j->chunk);
        }
        pthread_barrier_wait(&j->bar);
        if (a->tid == 0) {
            j->samples[k] = (so_now_s() - j->tstart) / j->batch;
        }
    }
    return NULL;
}

static int run_size(size_t S, int nt, double *med, double *best, int *nsamp, int *batch) {
    memcpy_job *j = calloc(1, sizeof *j);
    if (!j) {
        return so__fail(SO_ENOMEM, "memcpy bench: no memory");
    }
    j->src = so_malloc_aligned(S);
    j->dst = so_malloc_aligned(S);
    if (!j->src || !j->dst) {
        so_free_aligned(j->src);
        so_free_aligned(j->dst);
        free(j);
        return so__fail(SO_ENOMEM, "memcpy bench: cannot allocate 2 x %zu bytes", S);
    }
    j->chunk = S / (size_t)nt;
    j->nthreads = nt;
    /* Calibrate: copies per sample so that a sample lasts >= 2 ms; samples for >= 0.25 s. */
    memset(j->src, 1, S);
    memset(j->dst, 0, S);
    double t0 = so_now_s();
    memcpy(j->dst, j->src, S);
    double one = so_now_s() - t0;
    j->batch = (int)(2e-3 / (one / nt + 1e-9)) + 1;
    j->nsamp = (int)(0.25 / (j->batch * one / nt + 1e-9)) + 1;
    j->nsamp = j->nsamp < 15 ? 15 : j->nsamp > MEMCPY_MAX_SAMPLES ? MEMCPY_MAX_SAMPLES : j->nsamp;
    pthread_barrier_init(&j->bar, NULL, (unsigned)nt);
    pthread_t th[MEMCPY_MAX_THREADS];
    memcpy_arg args[MEMCPY_MAX_THREADS];
    int started = 0, rc = SO_OK;
    for (int t = 1; t < nt; t++) {
        args[t] = (memcpy_arg){j, t};
        if (pthread_create(&th[t], NULL, memcpy_worker, &args[t]) != 0) {
            rc = so__fail(SO_ESYS, "memcpy bench: cannot start thread %d", t);
            break;
        }
        started++;
    }
    if (rc == SO_OK) {
        args[0] = (memcpy_arg){j, 0};
        memcpy_worker(&args[0]);
    }
    for (int t = 1; t <= started; t++) {
        pthread_join(th[t], NULL);
    }
    if (rc == SO_OK) {
        *med = (double)S / so_bench_median(j->samples, j->nsamp) / 1e9;
        *best = (double)S / j->samples[0] / 1e9;
        *nsamp = j->nsamp;
        *batch = j->batch;
    }
    pthread_barrier_destroy(&j->bar);
    so_free_aligned(j->src);
    so_free_aligned(j->dst);
    free(j);
    return rc;
}

static void memcpy_usage(void) {
    printf("usage: scaleout bench memcpy [--threads T (1)] [--min SIZE (1M)] [--max SIZE (256M)]\n"
           "                             [--json FILE]\n"
           "Copy bandwidth (bytes copied per second, glibc memcpy, each thread its own slice),\n"
           "power-of-two sizes from --min to --max; the limit of shared-memory collectives.\n");
}

static int bench_memcpy(int argc, char **argv) {
    int nt = 1;
    size_t lo = (size_t)1 << 20, hi = (size_t)256 << 20;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        int rc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            memcpy_usage();
            return 0;
        }
        if ((rc = so_bench_flag_int(argc, argv, &i, "--threads", &nt)) ||
            (rc = so_bench_flag_size(argc, argv, &i, "--min", &lo)) ||
            (rc = so_bench_flag_size(argc, argv, &i, "--max", &hi)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--json", &json))) {
            if (rc < 0) {
                fprintf(stderr, "scaleout bench memcpy: %s\n", so_last_error());
                return 2;
            }
            continue;
        }
        fprintf(stderr, "scaleout bench memcpy: unknown flag '%s'\n", argv[i]);
        memcpy_usage();
        return 2;
    }
    if (nt < 1 || nt > MEMCPY_MAX_THREADS || lo < 4096 || hi < lo) {
        fprintf(stderr,
                "scaleout bench memcpy: want 1 <= --threads <= %d and 4K <= --min <= --max\n",
                MEMCPY_MAX_THREADS);
        return 2;
    }
    so_bench_out out;
    SO_CHECK(so_bench_out_open(&out, NULL, json, NULL, 1));
    printf("# memcpy bandwidth, %d thread%s: bytes copied per second (DRAM traffic is ~2x)\n", nt,
           nt > 1 ? "s" : "");
    printf("#%11s %12s %12s %8s %6s\n", "size", "median_GB/s", "best_GB/s", "samples", "batch");
    for (size_t S = lo; S <= hi; S *= 2) {
        double med = 0.0, best = 0.0;
        int nsamp = 0, batch = 0;
        SO_CHECK(run_size(S, nt, &med, &best, &nsamp, &batch));
        char sz[32], cas[64], extra[64];
        so_bench_size_label(S, sz, sizeof sz);
        printf(" %11s %12.2f %12.2f %8d %6d\n", sz, med, best, nsamp, batch);
        fflush(stdout);
        snprintf(cas, sizeof cas, "%s threads=%d", sz, nt);
        snprintf(extra, sizeof extra, "\"samples\":%d,\"batch\":%d", nsamp, batch);
        so_bench_json(&out, "memcpy", cas, "median_GBps", "GB/s", med, extra);
        so_bench_json(&out, "memcpy", cas, "best_GBps", "GB/s", best, extra);
    }
    so_bench_out_close(&out);
    return 0;
}

SO_CLI_BENCH(memcpy, "copy bandwidth of this machine (the limit for shm collectives)", bench_memcpy)
