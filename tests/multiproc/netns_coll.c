/*
 * The program the network-namespace tests (tests/netns/) start under `scaleout run` on every
 * namespace "host". It forms the process group from the launcher's environment and then, by mode:
 *
 *   matrix NHOSTS   prints this rank's place (host, local rank, the transport to every peer),
 *                   checks that the group sees NHOSTS hosts and that peers on other hosts are
 *                   reached over tcp and peers on this host over shm (self for itself), then runs
 *                   the collective matrix: all-reduce with every algorithm (naive, tree, ring,
 *                   hd, hier, auto) f32 sum and i32 max, in and out of place; reduce-scatter
 *                   (ring, hd, auto); all-gather (ring, rd, auto); all-to-all; bcast (tree, ring,
 *                   auto) from the first and the last rank; counts 0, 1, 1000, 65539. Every
 *                   result is compared bit for bit with a serial reference that each rank
 *                   computes from every rank's (deterministic) input. Prints "matrix ok".
 *   loop SECONDS    all-reduces of 64 Ki floats, cycling through the algorithms, until SECONDS
 *                   pass or one fails; a failure prints the group's error (which names the peer)
 *                   and exits 3. The fault tests kill or unplug a host during this loop.
 *
 * Inputs are small integers stored in floats, so every summation order gives the same bits and
 * "distributed == serial" can be asserted bitwise. Cost of matrix: about 60 collectives per
 * count; a second or two for 4-6 ranks on two cores. Limits: up to 64 ranks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/coll.h"

enum { MAX_RANKS = 64 };

static int rank_, nfail_, nchecks_;

/* Input of rank r at element i for call `seed`: an integer in [-8, 8]. */
static int ival(int r, size_t i, int seed) {
    uint64_t h = (uint64_t)(r + 1) * 0x9E3779B97F4A7C15ull ^
                 (uint64_t)(i + 3) * 0xC2B2AE3D27D4EB4Full ^
                 (uint64_t)(seed + 5) * 0x165667B19E3779F9ull;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return (int)(h % 17) - 8;
}

static void fill_f32(float *x, size_t n, int r, int seed) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)ival(r, i, seed);
    }
}

static void fill_i32(int32_t *x, size_t n, int r, int seed) {
    for (size_t i = 0; i < n; i++) {
        x[i] = ival(r, i, seed);
    }
}

/* Compares got with want bitwise; on a difference says where and counts a failure. */
static void check(const char *what, const char *algo, size_t count, const void *got,
                  const void *want, size_t bytes) {
    nchecks_++;
    if (bytes == 0 || memcmp(got, want, bytes) == 0) {
        return;
    }
    const unsigned char *g = got, *w = want;
    size_t at = 0;
    while (at < bytes && g[at] == w[at]) {
        at++;
    }
    fprintf(stderr, "rank %d: %s algo %s count %zu differs from the serial reference at byte %zu\n",
            rank_, what, algo, count, at);
    nfail_++;
}

/* Reports a failed call and counts it; returns rc. */
static int failed(so_comm *c, const char *what, const char *algo, size_t count, int rc) {
    if (rc < 0) {
        fprintf(stderr, "rank %d: %s algo %s count %zu failed: %s\n", rank_, what, algo, count,
                so_comm_last_error(c)[0] ? so_comm_last_error(c) : so_last_error());
        nfail_++;
    }
    return rc;
}

/* Prints this rank's view of the group and checks hosts and transports. */
static int check_layout(so_comm *c, int want_hosts) {
    int r = so_comm_rank(c), k = so_comm_size(c), h = so_comm_host(c);
    char line[4096];
    int off = snprintf(line, sizeof line, "rank %d/%d host %d of %d local %d/%d peers:", r, k, h,
                       so_comm_nhosts(c), so_comm_local_rank(c), so_comm_local_size(c));
    int bad = 0;
    for (int p = 0; p < k && off < (int)sizeof line - 32; p++) {
        const char *tp = so_comm_transport_name(c, p);
        const char *want = p == r ? "self" : so_comm_host_of(c, p) == h ? "shm" : "tcp";
        off += snprintf(line + off, sizeof line - (size_t)off, " %d=%s", p, tp);
        if (strcmp(tp, want) != 0) {
            fprintf(stderr, "rank %d: peer %d is reached over %s, expected %s\n", r, p, tp, want);
            bad = 1;
        }
    }
    printf("%s\n", line);
    if (so_comm_nhosts(c) != want_hosts) {
        fprintf(stderr, "rank %d: the group sees %d hosts, expected %d\n", r, so_comm_nhosts(c),
                want_hosts);
        bad = 1;
    }
    return bad;
}

static int run_matrix(so_comm *c) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    static const size_t counts[] = {0, 1, 1000, 65539};
    const size_t maxn = 65539;
    float *in = malloc(maxn * k * 4 + 4), *out = malloc(maxn * k * 4 + 4);
    float *ref = malloc(maxn * k * 4 + 4), *tmp = malloc(maxn * k * 4 + 4);
    if (!in || !out || !ref || !tmp) {
        fprintf(stderr, "rank %d: out of memory\n", r);
        return 1;
    }
    int seed = 0;
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        size_t n = counts[ci];
        /* All-reduce, f32 sum, every algorithm, out of place and in place. */
        static const so_algo ar[] = {SO_ALGO_NAIVE, SO_ALGO_TREE, SO_ALGO_RING,
                                     SO_ALGO_HD,    SO_ALGO_HIER, SO_ALGO_AUTO};
        for (size_t a = 0; a < sizeof ar / sizeof ar[0]; a++) {
            for (int inplace = 0; inplace < 2; inplace++) {
                so_coll_opts o = {.algo = ar[a]};
                seed++;
                fill_f32(in, n, r, seed);
                fill_f32(ref, n, 0, seed);
                for (int q = 1; q < k; q++) {
                    fill_f32(tmp, n, q, seed);
                    so_reduce_local(SO_SUM, SO_F32, ref, ref, tmp, n);
                }
                memset(out, 0xff, maxn * 4);
                if (inplace) {
                    memcpy(out, in, n * 4);
                }
                int rc = so_allreduce_ex(c, inplace ? out : in, out, n, SO_F32, SO_SUM, &o);
                const char *what = inplace ? "allreduce in place" : "allreduce";
                if (failed(c, what, so_algo_name(ar[a]), n, rc) < 0) {
                    goto out;
                }
                check("allreduce f32 sum", so_algo_name(ar[a]), n, out, ref, n * 4);
            }
            /* i32 max through the same algorithm. */
            seed++;
            so_coll_opts o = {.algo = ar[a]};
            int32_t *ii = (int32_t *)in, *io = (int32_t *)out;
            int32_t *ir = (int32_t *)ref, *it = (int32_t *)tmp;
            fill_i32(ii, n, r, seed);
            fill_i32(ir, n, 0, seed);
            for (int q = 1; q < k; q++) {
                fill_i32(it, n, q, seed);
                so_reduce_local(SO_MAX, SO_I32, ir, ir, it, n);
            }
            int rc = so_allreduce_ex(c, ii, io, n, SO_I32, SO_MAX, &o);
            if (failed(c, "allreduce i32 max", so_algo_name(ar[a]), n, rc) < 0) {
                goto out;
            }
            check("allreduce i32 max", so_algo_name(ar[a]), n, io, ir, n * 4);
        }
        /* Reduce-scatter: rank r's input holds k blocks of n; it keeps block r of the sum. */
        static const so_algo rs[] = {SO_ALGO_RING, SO_ALGO_HD, SO_ALGO_AUTO};
        for (size_t a = 0; a < sizeof rs / sizeof rs[0]; a++) {
            so_coll_opts o = {.algo = rs[a]};
            seed++;
            fill_f32(in, n * k, r, seed);
            fill_f32(ref, n * k, 0, seed);
            for (int q = 1; q < k; q++) {
                fill_f32(tmp, n * k, q, seed);
                so_reduce_local(SO_SUM, SO_F32, ref, ref, tmp, n * k);
            }
            memset(out, 0xff, maxn * 4);
            int rc = so_reduce_scatter_ex(c, in, out, n, SO_F32, SO_SUM, &o);
            if (failed(c, "reduce_scatter", so_algo_name(rs[a]), n, rc) < 0) {
                goto out;
            }
            check("reduce_scatter", so_algo_name(rs[a]), n, out, ref + (size_t)r * n, n * 4);
        }
        /* All-gather: block q of the result is rank q's input. */
        static const so_algo ag[] = {SO_ALGO_RING, SO_ALGO_RD, SO_ALGO_AUTO};
        for (size_t a = 0; a < sizeof ag / sizeof ag[0]; a++) {
            so_coll_opts o = {.algo = ag[a]};
            seed++;
            fill_f32(in, n, r, seed);
            for (int q = 0; q < k; q++) {
                fill_f32(ref + (size_t)q * n, n, q, seed);
            }
            memset(out, 0xff, maxn * k * 4);
            int rc = so_allgather_ex(c, in, out, n, SO_F32, &o);
            if (failed(c, "allgather", so_algo_name(ag[a]), n, rc) < 0) {
                goto out;
            }
            check("allgather", so_algo_name(ag[a]), n, out, ref, n * k * 4);
        }
        /* All-to-all: block j of rank q's input is filled with seed' = seed*64 + j; rank r
         * receives block r of every rank q. */
        seed++;
        for (int j = 0; j < k; j++) {
            fill_f32(in + (size_t)j * n, n, r, seed * MAX_RANKS + j);
        }
        for (int q = 0; q < k; q++) {
            fill_f32(ref + (size_t)q * n, n, q, seed * MAX_RANKS + r);
        }
        memset(out, 0xff, maxn * k * 4);
        int rc = so_alltoall(c, in, out, n, SO_F32);
        if (failed(c, "alltoall", "pairwise", n, rc) < 0) {
            goto out;
        }
        check("alltoall", "pairwise", n, out, ref, n * k * 4);
        /* Bcast from the first and the last rank (the last one lives on another host). */
        static const so_algo bc[] = {SO_ALGO_TREE, SO_ALGO_RING, SO_ALGO_AUTO};
        for (size_t a = 0; a < sizeof bc / sizeof bc[0]; a++) {
            for (int root = 0; root<k; root += k - 1> 0 ? k - 1 : 1) {
                so_coll_opts o = {.algo = bc[a]};
                seed++;
                fill_f32(ref, n, root, seed);
                if (r == root) {
                    memcpy(out, ref, n * 4);
                } else {
                    memset(out, 0xff, maxn * 4);
                }
                rc = so_bcast_ex(c, out, n, SO_F32, root, &o);
                if (failed(c, "bcast", so_algo_name(bc[a]), n, rc) < 0) {
                    goto out;
                }
                check("bcast", so_algo_name(bc[a]), n, out, ref, n * 4);
            }
        }
    }
out:
    free(in);
    free(out);
    free(ref);
    free(tmp);
    return nfail_ != 0;
}

static int run_loop(so_comm *c, double seconds) {
    static const so_algo algos[] = {SO_ALGO_RING, SO_ALGO_TREE, SO_ALGO_HD, SO_ALGO_HIER};
    const size_t n = 65536;
    float *x = malloc(n * 4);
    if (!x) {
        return 1;
    }
    fill_f32(x, n, so_comm_rank(c), 1);
    double t0 = so_now_s();
    long calls = 0;
    int rc = 0;
    printf("loop started\n");
    fflush(stdout);
    while (so_now_s() - t0 < seconds) {
        so_coll_opts o = {.algo = algos[calls % 4]};
        memset(x, 0, n * 4); /* zeros stay zeros: the values need no rescaling */
        rc = so_allreduce_ex(c, x, x, n, SO_F32, SO_SUM, &o);
        if (rc < 0) {
            fprintf(stderr, "rank %d: allreduce %ld failed after %.2f s: %s\n", rank_, calls,
                    so_now_s() - t0, so_comm_last_error(c));
            free(x);
            return 3;
        }
        calls++;
    }
    printf("loop done: %ld all-reduces\n", calls);
    free(x);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "matrix") != 0 && strcmp(argv[1], "loop") != 0)) {
        fprintf(stderr, "usage: netns_coll matrix NHOSTS | loop SECONDS  (under scaleout run)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    so_comm *c;
    if (so_comm_init_from_env(&c) < 0) {
        fprintf(stderr, "netns_coll: cannot form the group: %s\n", so_last_error());
        return 1;
    }
    rank_ = so_comm_rank(c);
    if (so_comm_size(c) > MAX_RANKS) {
        fprintf(stderr, "netns_coll: at most %d ranks\n", MAX_RANKS);
        so_comm_destroy(c);
        return 2;
    }
    int rc;
    if (!strcmp(argv[1], "matrix")) {
        rc = check_layout(c, atoi(argv[2]));
        rc |= run_matrix(c);
        if (rc == 0) {
            printf("matrix ok: %d checks bitwise equal to the serial reference\n", nchecks_);
        }
    } else {
        rc = run_loop(c, atof(argv[2]));
    }
    so_comm_destroy(c);
    return rc;
}
