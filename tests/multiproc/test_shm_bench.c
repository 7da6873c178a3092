/*
 * Throwaway measurements of the shm transport (not a test; not run by CTest): memcpy bandwidth
 * for reference, 2-rank ping-pong latency, 8-byte exchange-reduce latency, unidirectional and
 * bidirectional bandwidth, and a 2-rank ring all-reduce (reduce-scatter + all-gather) with its
 * bus bandwidth, first on the bare transport, then ("comm") through so_comm with
 * so__sendrecv_reduce + so__sendrecv and through coll's so_allreduce.
 * Usage: shm_bench [ranks] | shm_bench comm [ranks]. Medians over repetitions; a few seconds.
 */
#include <stdlib.h>
#include <string.h>

#include "comm/comm_internal.h"
#include "scaleout/coll.h"
#include "so_test.h"
#include "test_shm_harness.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static void bench_memcpy(void) {
    size_t n = 64u << 20;
    char *a = malloc(n), *b = malloc(n);
    memset(a, 1, n);
    memset(b, 2, n);
    double t[9];
    for (int i = 0; i < 9; i++) {
        int64_t t0 = so_now_ns();
        memcpy(b, a, n);
        t[i] = (double)(so_now_ns() - t0) * 1e-9;
        a[i] = b[n - 1 - (size_t)i];
    }
    printf("memcpy 64MiB 1 thread: %.2f GB/s (bytes copied / s, median of 9)\n",
           (double)n / median(t, 9) * 1e-9);
    free(a);
    free(b);
}

static int xchg(shm_rank *r, int to, const void *s, size_t sn, int from, void *d, size_t dn,
                int reduce) {
    so__xfer x[2];
    shm_set_send(&x[0], to, s, sn, 0);
    shm_set_recv(&x[1], from, d, dn, 0);
    if (reduce) {
        x[1].reduce = 1;
        x[1].op = SO_SUM;
        x[1].dtype = SO_F32;
    }
    return shm_xfer(r, x, 2, 30000);
}

static int one(shm_rank *r, int peer, void *b, size_t n, int send) {
    so__xfer x;
    if (send) {
        shm_set_send(&x, peer, b, n, 0);
    } else {
        shm_set_recv(&x, peer, b, n, 0);
    }
    return shm_xfer(r, &x, 1, 30000);
}

static void pingpong(shm_rank *r) {
    char b[8] = {0};
    int peer = 1 - r->rank;
    double t[5];
    int iters = 20000;
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = so_now_ns();
        for (int i = 0; i < iters; i++) {
            if (r->rank == 0) {
                one(r, peer, b, 8, 1);
                one(r, peer, b, 8, 0);
            } else if (r->rank == 1) {
                one(r, peer, b, 8, 0);
                one(r, peer, b, 8, 1);
            }
        }
        t[rep] = (double)(so_now_ns() - t0) / iters / 2 * 1e-3;
    }
    if (r->rank == 0) {
        printf("ping-pong 8B: %.3f us one way (median of 5 x %d round trips)\n", median(t, 5),
               iters);
    }
    float f[2] = {1, 2}, g[2];
    for (int rep = 0; rep < 5; rep++) {
        int64_t t0 = so_now_ns();
        for (int i = 0; i < iters; i++) {
            memcpy(g, f, 8);
            xchg(r, peer, f, 8, peer, g, 8, 1);
        }
        t[rep] = (double)(so_now_ns() - t0) / iters * 1e-3;
    }
    if (r->rank == 0) {
        printf("exchange-reduce 8B f32 (a 2-rank all-reduce step): %.3f us\n", median(t, 5));
    }
}

static void bandwidth(shm_rank *r, size_t n, int reps) {
    int peer = 1 - r->rank;
    char *s = malloc(n), *d = malloc(n);
    memset(s, 3, n);
    memset(d, 4, n);
    char ack[8];
    double t[7];
    for (int k = 0; k < 7; k++) {
        int64_t t0 = so_now_ns();
        for (int i = 0; i < reps; i++) {
            one(r, peer, r->rank == 0 ? s : d, n, r->rank == 0);
        }
        one(r, peer, ack, 8, r->rank == 1);
        t[k] = (double)(so_now_ns() - t0) / reps;
    }
    double uni = (double)n / median(t, 7);
    for (int k = 0; k < 7; k++) {
        int64_t t0 = so_now_ns();
        for (int i = 0; i < reps; i++) {
            xchg(r, peer, s, n, peer, d, n, 0);
        }
        t[k] = (double)(so_now_ns() - t0) / reps;
    }
    double bi = 2.0 * (double)n / median(t, 7);
    if (r->rank == 0) {
        char sz[32];
        printf(
            "%-6s unidirectional %.2f GB/s, bidirectional %.2f GB/s total (%.2f per direction)\n",
            so_format_size(n, sz, sizeof sz), uni, bi, bi / 2);
    }
    free(s);
    free(d);
}

static void allreduce(shm_rank *r, size_t bytes, int reps) {
    size_t count = bytes / 4;
    float *x = malloc(bytes);
    for (size_t i = 0; i < count; i++) {
        x[i] = (float)(i % 100);
    }
    int n = r->size, me = r->rank, right = (me + 1) % n, left = (me - 1 + n) % n;
    size_t blk = count / (size_t)n; /* bench sizes divide evenly */
    double t[10];
    for (int k = -1; k < reps; k++) { /* k = -1 warms up */
        int64_t t0 = so_now_ns();
        for (int s = 0; s < n - 1; s++) {
            int sb = (me - s + n) % n, rb = (me - s - 1 + n) % n;
            xchg(r, right, x + (size_t)sb * blk, blk * 4, left, x + (size_t)rb * blk, blk * 4, 1);
        }
        for (int s = 0; s < n - 1; s++) {
            int sb = (me + 1 - s + n) % n, rb = (me - s + n) % n;
            xchg(r, right, x + (size_t)sb * blk, blk * 4, left, x + (size_t)rb * blk, blk * 4, 0);
        }
        if (k >= 0) {
            t[k] = (double)(so_now_ns() - t0) * 1e-9;
        }
    }
    double tm = median(t, reps);
    if (r->rank == 0) {
        char sz[32];
        printf("ring all-reduce np=%d %-6s: %.1f us, busbw %.2f GB/s\n", n,
               so_format_size(bytes, sz, sizeof sz), tm * 1e6,
               2.0 * (n - 1) / n * (double)bytes / tm * 1e-9);
    }
    free(x);
}

static int rank_main(shm_rank *r, void *arg) {
    (void)arg;
    if (r->size == 2 && getenv("LAT_ONLY")) {
        pingpong(r);
        allreduce(r, 8, 9);
        return 0;
    }
    if (r->size == 2 && !getenv("QUICK")) {
        pingpong(r);
        bandwidth(r, 1u << 20, 50);
        bandwidth(r, 64u << 20, 2);
    }
    if (!getenv("QUICK")) {
        allreduce(r, 8, 9);
    }
    allreduce(r, 64u << 10, 9);
    allreduce(r, 1u << 20, 9);
    allreduce(r, 16u << 20, 9);
    allreduce(r, 64u << 20, 9);
    return 0;
}

/* ---- through so_comm ---- */

static int comm_ring(so_comm *c, float *x, size_t count) {
    int n = so_comm_size(c), me = so_comm_rank(c), right = (me + 1) % n, left = (me - 1 + n) % n;
    size_t blk = count / (size_t)n;
    so__coll_sig sig = {
        .kind = SO__KIND_ALLREDUCE, .dtype = SO_F32, .op = SO_SUM, .root = -1, .count = count};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = SO_OK;
    for (int s = 0; s < n - 1 && rc == SO_OK; s++) {
        int sb = (me - s + n) % n, rb = (me - s - 1 + n) % n;
        rc = so__sendrecv_reduce(c, right, x + (size_t)sb * blk, blk * 4, left,
                                 x + (size_t)rb * blk, NULL, blk, SO_F32, SO_SUM);
    }
    for (int s = 0; s < n - 1 && rc == SO_OK; s++) {
        int sb = (me + 1 - s + n) % n, rb = (me - s + n) % n;
        rc = so__sendrecv(c, right, x + (size_t)sb * blk, blk * 4, left, x + (size_t)rb * blk,
                          blk * 4);
    }
    return so__coll_end(c, rc);
}

static int comm_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    int n = so_comm_size(c);
    size_t sizes[] = {8, 64u << 10, 1u << 20, 16u << 20, 64u << 20};
    for (int which = 0; which < 2; which++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t bytes = sizes[k], count = bytes / 4;
            if (getenv("SHM_BENCH_MAX") && bytes > (size_t)atoll(getenv("SHM_BENCH_MAX"))) {
                continue;
            }
            float *x = malloc(bytes), *y = malloc(bytes);
            for (size_t i = 0; i < count; i++) {
                x[i] = (float)(i % 100);
            }
            int reps = bytes <= (1u << 20) ? 2000 : 9;
            if (bytes >= (16u << 20)) {
                reps = 9;
            } else if (bytes > 4096) {
                reps = 200;
            }
            double t[5];
            for (int m = -1; m < 5; m++) {
                int64_t t0 = so_now_ns();
                for (int i = 0; i < reps; i++) {
                    if (which == 0) {
                        SO_CHECK(comm_ring(c, x, count));
                    } else {
                        SO_CHECK(so_allreduce(c, x, y, count, SO_F32, SO_SUM));
                    }
                }
                if (m >= 0) {
                    t[m] = (double)(so_now_ns() - t0) * 1e-9 / reps;
                }
            }
            double tm = median(t, 5);
            if (rank == 0) {
                char sz[32];
                printf("%-34s np=%d %-6s: %10.2f us, busbw %.2f GB/s\n",
                       which == 0 ? "so_comm ring (sendrecv_reduce)" : "coll so_allreduce", n,
                       so_format_size(bytes, sz, sizeof sz), tm * 1e6,
                       2.0 * (n - 1) / n * (double)bytes / tm * 1e-9);
                fflush(stdout);
            }
            free(x);
            free(y);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "comm")) {
        int n = argc > 2 ? atoi(argv[2]) : 2;
        return so_test_ranks(n, "shm", comm_fn, NULL, 600000);
    }
    int n = argc > 1 ? atoi(argv[1]) : 2;
    bench_memcpy();
    fflush(stdout);
    return shm_run(n, rank_main, NULL, 300000, 0);
}
