/*
 * The collective matrix under mpirun: every rank calls so_comm_init_from_env (which initialises
 * MPI and takes rank and size from MPI_COMM_WORLD), checks that each peer is reached over the
 * transport the environment asks for (SO_TRANSPORT=mpi: "mpi"; default on one host: "shm"), then
 * runs all-reduce with every algorithm, reduce-scatter, all-gather, all-to-all and broadcast over
 * counts 0, 1, 1000 and 65539 (plus a 4 MiB+ all-reduce, several chunks per message over mpi),
 * a nonblocking all-reduce (the worker thread's duplicate group) and a split, comparing every
 * result bit for bit with a serial reference. Inputs are small integers in f32, so sums are
 * exact in any order. Prints one line per rank and exits 0 when everything matched.
 *
 *   mpirun -np 4 build/tests/mpi_coll_matrix [expect-transport]
 *   mpirun -np 4 build/tests/mpi_coll_matrix fault     (rank 1 exits abruptly mid-run)
 *   mpirun -np 4 build/tests/mpi_coll_matrix desync    (rank 0 calls another collective)
 *   mpirun -np 3 build/tests/mpi_coll_matrix appinit   (the program calls MPI_Init itself)
 *   mpirun ... -H a:2,b:2 build/tests/mpi_coll_matrix mixed   (two hosts: shm within, mpi across)
 *
 * Not a CTest executable by itself: tests/multiproc/mpi_run.sh runs it under mpirun.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "scaleout/coll.h"

static int g_fails;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[rank %d] %s:%d: ", g_rank, __FILE__, __LINE__);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            g_fails++;                                                                             \
        }                                                                                          \
    } while (0)

static int g_rank;

/* Input of rank r at element i: a small integer, exact in f32. */
static float val(int r, size_t i, int seed) {
    return (float)((int)((r * 7 + i * 13 + (size_t)seed * 5) % 11) - 5);
}

static void fill(float *b, size_t n, int r, int seed) {
    for (size_t i = 0; i < n; i++) {
        b[i] = val(r, i, seed);
    }
}

static int same(const float *a, const float *b, size_t n) {
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

static void check_rc(int rc, const char *what, size_t count) {
    EXPECT(rc == SO_OK, "%s(count=%zu) failed: %s", what, count, so_last_error());
}

static void run_matrix(so_comm *c, size_t count, int *checks) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t big = count * (size_t)k + 1;
    float *in = malloc(big * sizeof *in), *out = malloc(big * sizeof *out);
    float *ref = malloc(big * sizeof *ref), *tmp = malloc(big * sizeof *tmp);
    if (!in || !out || !ref || !tmp) {
        EXPECT(0, "out of memory");
        goto done;
    }
    /* All-reduce, every algorithm. */
    static const so_algo algos[] = {SO_ALGO_NAIVE, SO_ALGO_TREE, SO_ALGO_RING,
                                    SO_ALGO_HD,    SO_ALGO_HIER, SO_ALGO_AUTO};
    memset(ref, 0, count * sizeof *ref);
    for (int q = 0; q < k; q++) {
        fill(tmp, count, q, 1);
        for (size_t i = 0; i < count; i++) {
            ref[i] += tmp[i];
        }
    }
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        fill(in, count, r, 1);
        memset(out, 0x7f, count * sizeof *out);
        so_coll_opts o = {.algo = algos[a]};
        int rc = so_allreduce_ex(c, in, out, count, SO_F32, SO_SUM, &o);
        check_rc(rc, "allreduce", count);
        EXPECT(rc != SO_OK || same(out, ref, count), "allreduce algo %d count %zu differs", (int)a,
               count);
        (*checks)++;
    }
    /* Reduce-scatter: block r of the sum of every rank's k*count input. */
    fill(in, count * (size_t)k, r, 2);
    memset(ref, 0, count * sizeof *ref);
    for (int q = 0; q < k; q++) {
        fill(tmp, count * (size_t)k, q, 2);
        for (size_t i = 0; i < count; i++) {
            ref[i] += tmp[(size_t)r * count + i];
        }
    }
    check_rc(so_reduce_scatter(c, in, out, count, SO_F32, SO_SUM), "reduce_scatter", count);
    EXPECT(same(out, ref, count), "reduce_scatter count %zu differs", count);
    (*checks)++;
    /* All-gather. */
    fill(in, count, r, 3);
    for (int q = 0; q < k; q++) {
        fill(ref + (size_t)q * count, count, q, 3);
    }
    check_rc(so_allgather(c, in, out, count, SO_F32), "allgather", count);
    EXPECT(same(out, ref, count * (size_t)k), "allgather count %zu differs", count);
    (*checks)++;
    /* All-to-all: block q of rank r's input goes to rank q. */
    fill(in, count * (size_t)k, r, 4);
    for (int q = 0; q < k; q++) {
        fill(tmp, count * (size_t)k, q, 4);
        memcpy(ref + (size_t)q * count, tmp + (size_t)r * count, count * sizeof *ref);
    }
    check_rc(so_alltoall(c, in, out, count, SO_F32), "alltoall", count);
    EXPECT(same(out, ref, count * (size_t)k), "alltoall count %zu differs", count);
    (*checks)++;
    /* Broadcast from the last rank. */
    fill(ref, count, k - 1, 5);
    if (r == k - 1) {
        memcpy(out, ref, count * sizeof *out);
    } else {
        memset(out, 0, count * sizeof *out);
    }
    check_rc(so_bcast(c, out, count, SO_F32, k - 1), "bcast", count);
    EXPECT(same(out, ref, count), "bcast count %zu differs", count);
    (*checks)++;
done:
    free(in);
    free(out);
    free(ref);
    free(tmp);
}

/* A nonblocking all-reduce (worker thread, duplicate group) and a split into even/odd ranks. */
static void run_extras(so_comm *c, int *checks) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t n = 70000;
    float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    float *ref = calloc(n, sizeof *ref);
    float *tmp = malloc(n * sizeof *tmp);
    if (!in || !out || !ref || !tmp) {
        EXPECT(0, "out of memory");
        goto done;
    }
    for (int q = 0; q < k; q++) {
        fill(tmp, n, q, 6);
        for (size_t i = 0; i < n; i++) {
            ref[i] += tmp[i];
        }
    }
    fill(in, n, r, 6);
    so_request *req = NULL;
    int rc = so_iallreduce(c, in, out, n, SO_F32, SO_SUM, &req);
    if (rc == SO_OK) {
        rc = so_wait(req);
    }
    check_rc(rc, "iallreduce", n);
    EXPECT(rc != SO_OK || same(out, ref, n), "iallreduce differs");
    (*checks)++;
    so_comm *half = NULL;
    rc = so_comm_split(c, r % 2, r, &half);
    check_rc(rc, "split", 0);
    if (rc == SO_OK && half) {
        int v = r, sum = 0, want = 0;
        for (int q = r % 2; q < k; q += 2) {
            want += q;
        }
        check_rc(so_allreduce(half, &v, &sum, 1, SO_I32, SO_SUM), "allreduce on a split", 1);
        EXPECT(sum == want, "split all-reduce %d, want %d", sum, want);
        (*checks)++;
        so_comm_destroy(half);
    }
done:
    free(in);
    free(out);
    free(ref);
    free(tmp);
}

/* Rank 1 leaves without a word in the middle of a stream of all-reduces. */
static int run_fault(so_comm *c) {
    float x[1000] = {0}, y[1000];
    for (int it = 0; it < 1000000; it++) {
        if (so_comm_rank(c) == 1 && it == 20) {
            fprintf(stderr, "[rank 1] exiting abruptly at iteration %d\n", it);
            _exit(3);
        }
        if (so_allreduce(c, x, y, 1000, SO_F32, SO_SUM) < 0) {
            fprintf(stderr, "[rank %d] all-reduce failed at iteration %d: %s\n", so_comm_rank(c),
                    it, so_last_error());
            return 1;
        }
    }
    return 0;
}

/* Rank 0 calls a broadcast while the others call an all-reduce: every rank but 0 must fail
 * within the deadline with a desync or the notice of a peer that saw one (never time out), and
 * name it; rank 0 (a root whose sends may all have completed) may succeed. Prints DESYNC-OK. */
static int run_desync(so_comm *c) {
    float x[10] = {0}, y[10];
    so_comm_set_timeout_ms(c, 20000);
    int64_t t0 = so_now_ns();
    int rc =
        g_rank == 0 ? so_bcast(c, x, 10, SO_F32, 0) : so_allreduce(c, x, y, 10, SO_F32, SO_SUM);
    double ms = (double)(so_now_ns() - t0) / 1e6;
    const char *err = so_comm_last_error(c);
    int ok = g_rank == 0 ? 1
                         : (rc == SO_EDESYNC || rc == SO_EPEER) &&
                               (strstr(err, "desync") || strstr(err, "gave up"));
    printf("[rank %d] %s in %.0f ms: %s %s\n", g_rank, ok ? "DESYNC-OK" : "DESYNC-BAD", ms,
           so_err_name(rc), err);
    fflush(stdout);
    return ok ? 0 : 1;
}

/* The application initialised MPI itself, at MPI_THREAD_FUNNELED: the group takes rank and size
 * from MPI_COMM_WORLD, blocking collectives work over mpi, a nonblocking one (the worker thread
 * would call MPI) fails with SO_ENOTSUP, and so_comm_destroy leaves MPI_Finalize to us. */
static int run_appinit(void) {
    int provided = -1, wr = -1;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &wr);
    g_rank = wr;
    so_comm *c = NULL;
    if (so_comm_init_from_env(&c) < 0) {
        fprintf(stderr, "so_comm_init_from_env: %s\n", so_last_error());
        return 1;
    }
    EXPECT(so_comm_rank(c) == wr, "group rank %d, MPI rank %d", so_comm_rank(c), wr);
    int k = so_comm_size(c), v = wr + 1, sum = 0;
    check_rc(so_allreduce(c, &v, &sum, 1, SO_I32, SO_SUM), "allreduce", 1);
    EXPECT(sum == k * (k + 1) / 2, "all-reduce %d, want %d", sum, k * (k + 1) / 2);
    if (provided < MPI_THREAD_SERIALIZED) {
        so_request *req = NULL;
        int rc = so_iallreduce(c, &v, &sum, 1, SO_I32, SO_SUM, &req);
        if (rc == SO_OK) {
            rc = so_wait(req);
        }
        EXPECT(rc == SO_ENOTSUP, "a nonblocking all-reduce at thread level %d returned %s: %s",
               provided, so_err_name(rc), so_last_error());
    }
    so_comm_destroy(c);
    int fin = 1;
    MPI_Finalized(&fin);
    EXPECT(!fin, "so_comm_destroy finalized MPI that the application initialised");
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    printf("[rank %d] appinit (thread level %d): %d failed\n", wr, provided, g_fails);
    return g_fails ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "appinit")) {
        return run_appinit();
    }
    so_comm *c = NULL;
    if (so_comm_init_from_env(&c) < 0) {
        fprintf(stderr, "so_comm_init_from_env: %s\n", so_last_error());
        return 1;
    }
    g_rank = so_comm_rank(c);
    int k = so_comm_size(c);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "fault")) {
        int rc = run_fault(c);
        so_comm_destroy(c);
        return rc;
    }
    if (!strcmp(mode, "desync")) {
        int rc = run_desync(c);
        so_comm_destroy(c);
        return rc;
    }
    if (!strcmp(mode, "mixed")) {
        /* Several hosts: shm within a host, mpi across (the auto choice under mpirun). */
        EXPECT(so_comm_nhosts(c) > 1, "expected several hosts, found %d", so_comm_nhosts(c));
        for (int p = 0; p < k; p++) {
            const char *want = p == g_rank                                ? "self"
                               : so_comm_host_of(c, p) == so_comm_host(c) ? "shm"
                                                                          : "mpi";
            EXPECT(!strcmp(so_comm_transport_name(c, p), want),
                   "peer %d (host %d) is reached "
                   "over %s, not %s",
                   p, so_comm_host_of(c, p), so_comm_transport_name(c, p), want);
        }
    } else if (*mode) {
        for (int p = 0; p < k; p++) {
            if (p != g_rank) {
                EXPECT(!strcmp(so_comm_transport_name(c, p), mode),
                       "peer %d is reached over %s, "
                       "not %s",
                       p, so_comm_transport_name(c, p), mode);
            }
        }
    }
    int checks = 0;
    static const size_t counts[] = {0, 1, 1000, 65539};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        run_matrix(c, counts[i], &checks);
    }
    /* Several 1 MiB chunks per message over mpi, receive-reduce through the bounce window. */
    size_t n = (1u << 20) + 3;
    float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    float *ref = calloc(n, sizeof *ref);
    float *tmp = malloc(n * sizeof *tmp);
    if (in && out && ref && tmp) {
        for (int q = 0; q < k; q++) {
            fill(tmp, n, q, 7);
            for (size_t i = 0; i < n; i++) {
                ref[i] += tmp[i];
            }
        }
        fill(in, n, g_rank, 7);
        so_coll_opts o = {.algo = SO_ALGO_RING};
        check_rc(so_allreduce_ex(c, in, out, n, SO_F32, SO_SUM, &o), "allreduce ring", n);
        EXPECT(same(out, ref, n), "allreduce ring count %zu differs", n);
        checks++;
    }
    free(in);
    free(out);
    free(ref);
    free(tmp);
    run_extras(c, &checks);
    printf("[rank %d of %d] transport to rank %d: %s; %d checks, %d failed\n", g_rank, k,
           (g_rank + 1) % k, so_comm_transport_name(c, (g_rank + 1) % k), checks, g_fails);
    fflush(stdout);
    so_comm_destroy(c);
    return g_fails ? 1 : 0;
}
