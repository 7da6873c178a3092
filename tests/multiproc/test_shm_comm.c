/*
 * The shm transport under the process group (so_comm over "shm", ranks forked by so_test_ranks):
 * the transport is really chosen, a ring exchange and a ring all-reduce built from
 * so__sendrecv_reduce + so__sendrecv match a serial reference, and the failure model holds over
 * shared memory: a SIGKILLed peer mid-ring gives SO_EPEER naming it, and so_comm_abort from
 * another thread wakes a blocked receive. (A silent peer and a desync over shm are the
 * comm_fault.never_sends_shm and comm_fault.desync_shm cases.)
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_internal.h"
#include "scaleout/comm.h"
#include "so_test.h"

static int uses_shm(so_comm *c) {
    for (int r = 0; r < so_comm_size(c); r++) {
        if (r != so_comm_rank(c) && strcmp(so_comm_transport_name(c, r), "shm") != 0) {
            fprintf(stderr, "rank %d is reached over %s, not shm\n", r,
                    so_comm_transport_name(c, r));
            return 0;
        }
    }
    return 1;
}

/* Ring all-reduce of f32 over the group: reduce-scatter with so__sendrecv_reduce, then
 * all-gather with so__sendrecv, inside one collective (so every message carries its signature). */
static int ring_allreduce(so_comm *c, float *x, size_t count) {
    int n = so_comm_size(c), me = so_comm_rank(c);
    int right = (me + 1) % n, left = (me - 1 + n) % n;
    size_t base = count / (size_t)n, extra = count % (size_t)n;
#define OFF(b) ((size_t)(b)*base + ((size_t)(b) < extra ? (size_t)(b) : extra))
#define LEN(b) (base + ((size_t)(b) < extra ? 1 : 0))
    so__coll_sig sig = {
        .kind = SO__KIND_ALLREDUCE, .dtype = SO_F32, .op = SO_SUM, .root = -1, .count = count};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = SO_OK;
    for (int s = 0; s < n - 1 && rc == SO_OK; s++) {
        int sb = (me - s + n) % n, rb = (me - s - 1 + n) % n;
        rc = so__sendrecv_reduce(c, right, x + OFF(sb), LEN(sb) * 4, left, x + OFF(rb), NULL,
                                 LEN(rb), SO_F32, SO_SUM);
    }
    for (int s = 0; s < n - 1 && rc == SO_OK; s++) {
        int sb = (me + 1 - s + n) % n, rb = (me - s + n) % n;
        rc = so__sendrecv(c, right, x + OFF(sb), LEN(sb) * 4, left, x + OFF(rb), LEN(rb) * 4);
    }
#undef OFF
#undef LEN
    return so__coll_end(c, rc);
}

static int allreduce_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    CHECK(uses_shm(c));
    int n = so_comm_size(c);
    size_t counts[] = {1, 5, 4099, (3u << 20) + 1};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        size_t count = counts[k];
        float *x = malloc(count * 4);
        CHECK(x != NULL);
        for (size_t i = 0; i < count; i++) {
            x[i] = (float)((i + (size_t)rank * 11) % 977);
        }
        CHECK_OK(ring_allreduce(c, x, count));
        for (size_t i = 0; i < count; i++) {
            float want = 0;
            for (int r = 0; r < n; r++) {
                want += (float)((i + (size_t)r * 11) % 977);
            }
            if (x[i] != want) {
                SO_TEST_FAIL_("count %zu: x[%zu] = %g, want %g", count, i, (double)x[i],
                              (double)want);
            }
        }
        free(x);
    }
    /* And a plain exchange around the ring with so_sendrecv. */
    int right = (rank + 1) % n, left = (rank - 1 + n) % n;
    int64_t out[3000], in[3000];
    for (int i = 0; i < 3000; i++) {
        out[i] = rank * 1000000 + i;
    }
    CHECK_OK(so_sendrecv(c, out, sizeof out, right, in, sizeof in, left, 3));
    for (int i = 0; i < 3000; i++) {
        CHECK_EQ_INT(in[i], left * 1000000 + i);
    }
    return 0;
}

static int t_allreduce2(void) {
    return so_test_ranks(2, "shm", allreduce_fn, NULL, 60000);
}
static int t_allreduce3(void) {
    return so_test_ranks(3, "shm", allreduce_fn, NULL, 60000);
}
static int t_allreduce4(void) {
    return so_test_ranks(4, "shm", allreduce_fn, NULL, 60000);
}

/* Rank 2 takes part of a 64 MiB message and dies; rank 0, which receives from it, is told. */
static int killed_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    CHECK(uses_shm(c));
    so_comm_set_timeout_ms(c, 10000);
    int k = so_comm_size(c), right = (rank + 1) % k, left = (rank + k - 1) % k;
    size_t n = 64u << 20;
    char *out = calloc(1, n), *in = calloc(1, n);
    CHECK(out && in);
    CHECK_OK(so_sendrecv(c, out, 1024, right, in, 1024, left, 0));
    if (rank == 2) {
        so_request *r;
        CHECK_OK(so_irecv(c, in, n, left, 1, &r));
        int done = 0;
        for (int i = 0; i < 3 && !done; i++) {
            so_test(r, &done);
            so_sleep_ns(1000000);
        }
        raise(SIGKILL);
    }
    double t0 = so_now_s();
    int rc = so_sendrecv(c, out, n, right, in, n, left, 1);
    double dt = so_now_s() - t0;
    printf("[rank %d] after %.3f s: %s: %s\n", rank, dt, so_err_name(rc), so_comm_last_error(c));
    if (rank == 0) {
        CHECK_EQ_INT(rc, SO_EPEER); /* its left neighbour died */
        CHECK(strstr(so_comm_last_error(c), "rank 2") != NULL);
    } else {
        /* Rank 1 sends to the dead rank (EPEER once the ring fills) and receives from rank 0,
         * which fails first and stops sending (then rank 1 times out or sees it leave). */
        CHECK(rc == SO_EPEER || rc == SO_ETIMEDOUT);
    }
    CHECK(dt < 9.0); /* well before the 10 s deadline for the dead peer itself */
    free(out);
    free(in);
    return 0;
}

static int t_killed(void) {
    return so_test_ranks_ex(3, "shm", killed_fn, NULL, 60000, 1ul << 2);
}

static void *aborter(void *arg) {
    so_sleep_ns(300000000LL);
    so_comm_abort(arg);
    return NULL;
}

static int abort_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    CHECK(uses_shm(c));
    if (rank == 1) {
        so_sleep_ns(1500000000LL); /* never sends */
        return 0;
    }
    so_comm_set_timeout_ms(c, 20000);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, aborter, c), 0);
    int v;
    double t0 = so_now_s();
    int rc = so_recv(c, &v, sizeof v, 1, 0);
    double dt = so_now_s() - t0;
    pthread_join(th, NULL);
    CHECK_EQ_INT(rc, SO_EABORTED);
    CHECK(dt >= 0.25 && dt < 5.0);
    return 0;
}

static int t_abort(void) {
    return so_test_ranks(2, "shm", abort_fn, NULL, 30000);
}

SO_TEST_MAIN({"allreduce2", t_allreduce2}, {"allreduce3", t_allreduce3},
             {"allreduce4", t_allreduce4}, {"killed", t_killed}, {"abort", t_abort})
