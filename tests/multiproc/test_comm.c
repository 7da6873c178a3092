/*
 * The process group over real processes: ring exchanges of several sizes at world sizes
 * 1, 2, 3, 4 and 8, self-send, tag mismatch (SO_EDESYNC, then the group is poisoned), a 64 MiB
 * sendrecv in both directions (no deadlock), receive-reduce against a serial sum, many
 * outstanding isend/irecv, split into even and odd ranks, and nonblocking collectives on the
 * worker. Each case name ends in its transport; "shm" cases skip while shm is not built.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_internal.h"
#include "scaleout/comm.h"
#include "so_test.h"

/* Byte i of the message from rank `from` in round `round`. */
static uint8_t pattern(int from, int round, size_t i) {
    return (uint8_t)(from * 31 + round * 7 + (int)(i * 13 % 251));
}

static int ring_fn(so_comm *c, int rank, void *arg) {
    const char *tp = arg;
    int k = so_comm_size(c);
    CHECK_EQ_INT(so_comm_rank(c), rank);
    CHECK_STR_EQ(so_comm_transport_name(c, rank), "self");
    for (int p = 0; p < k; p++) {
        if (p != rank) { /* one host: auto means shm */
            CHECK_STR_EQ(so_comm_transport_name(c, p), strcmp(tp, "tcp") ? "shm" : "tcp");
        }
    }
    CHECK_EQ_INT(so_comm_nhosts(c), 1);
    CHECK_EQ_INT(so_comm_local_rank(c), rank);
    CHECK_EQ_INT(so_comm_local_size(c), k);
    const size_t sizes[] = {0, 1, 1000, (1u << 20) + 3};
    int right = (rank + 1) % k, left = (rank + k - 1) % k;
    for (int round = 0; round < 4; round++) {
        size_t n = sizes[round];
        uint8_t *out = malloc(n + 1), *in = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            out[i] = pattern(rank, round, i);
        }
        memset(in, 0xee, n + 1);
        CHECK_OK(so_sendrecv(c, out, n, right, in, n, left, round));
        for (size_t i = 0; i < n; i++) {
            if (in[i] != pattern(left, round, i)) {
                SO_TEST_FAIL_("rank %d round %d: byte %zu is %d, want %d", rank, round, i, in[i],
                              pattern(left, round, i));
            }
        }
        CHECK_EQ_INT(in[n], 0xee); /* nothing written past the end */
        free(out);
        free(in);
    }
    /* Self-send: a blocking send to oneself, then the receive. */
    char msg[] = "to myself", got[sizeof msg] = {0};
    CHECK_OK(so_send(c, msg, sizeof msg, rank, 9));
    CHECK_OK(so_recv(c, got, sizeof got, rank, 9));
    CHECK_STR_EQ(got, msg);
    so_comm_counters ct;
    so_comm_counters_get(c, &ct);
    CHECK_EQ_INT(ct.msgs_sent, 5);
    CHECK_EQ_INT(ct.bytes_recv, 0 + 1 + 1000 + (1u << 20) + 3 + sizeof msg);
    so_comm_counters_peer(c, rank, &ct);
    CHECK_EQ_INT(ct.msgs_recv, k == 1 ? 5 : 1);
    if (k > 1) {
        so_comm_counters_peer(c, left, &ct);
        CHECK_EQ_INT(ct.msgs_recv, 4);
        CHECK_EQ_INT(ct.bytes_sent, k == 2 ? 0 + 1 + 1000 + (1u << 20) + 3 : 0);
    }
    /* Tag mismatch: rank r sends tag 5 to its right, the right receives with tag 6. */
    if (k > 1) {
        int v = rank, w = -1;
        int rc = so_sendrecv(c, &v, sizeof v, right, &w, sizeof w, left, rank % 2 ? 5 : 6);
        if (k % 2 == 0) {
            CHECK_EQ_INT(rc, SO_EDESYNC);
            CHECK(strstr(so_comm_last_error(c), "desync") != NULL);
            CHECK(strstr(so_comm_last_error(c), "tag") != NULL);
            CHECK(so_comm_poisoned(c));
            double t0 = so_now_s();
            CHECK_EQ_INT(so_send(c, &v, sizeof v, right, 0), SO_EABORTED);
            CHECK(so_now_s() - t0 < 1.0);
            CHECK(strstr(so_last_error(), "desync") != NULL);
        } else if (rc != SO_EDESYNC && rc != SO_OK && rc != SO_ECONNRESET) {
            SO_TEST_FAIL_("odd ring tag mismatch returned %s", so_err_name(rc));
        }
    }
    return 0;
}

static int run_ring(int n, const char *tp) {
    return so_test_ranks(n, tp, ring_fn, (void *)tp, 60000);
}
static int t_ring1_tcp(void) {
    return run_ring(1, "tcp");
}
static int t_ring2_tcp(void) {
    return run_ring(2, "tcp");
}
static int t_ring3_tcp(void) {
    return run_ring(3, "tcp");
}
static int t_ring4_tcp(void) {
    return run_ring(4, "tcp");
}
static int t_ring8_tcp(void) {
    return run_ring(8, "tcp");
}
static int t_ring2_shm(void) {
    return run_ring(2, "shm");
}
static int t_ring4_shm(void) {
    return run_ring(4, "shm");
}
static int t_ring3_auto(void) {
    return run_ring(3, "auto");
}

/* 64 MiB each way between two ranks at once; both directions must progress together. */
static int big_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    size_t n = 64u << 20;
    uint64_t *out = malloc(n), *in = malloc(n);
    for (size_t i = 0; i < n / 8; i++) {
        out[i] = (uint64_t)rank << 40 | i;
    }
    int peer = 1 - rank;
    CHECK_OK(so_sendrecv(c, out, n, peer, in, n, peer, 0)); /* warm-up */
    double t0 = so_now_s();
    int iters = 3;
    for (int it = 0; it < iters; it++) {
        CHECK_OK(so_sendrecv(c, out, n, peer, in, n, peer, 0));
    }
    double dt = (so_now_s() - t0) / iters;
    for (size_t i = 0; i < n / 8; i++) {
        if (in[i] != ((uint64_t)peer << 40 | i)) {
            SO_TEST_FAIL_("rank %d: word %zu wrong", rank, i);
        }
    }
    if (rank == 0) {
        printf("64 MiB sendrecv over %s: %.1f ms, %.2f GB/s per direction\n",
               so_comm_transport_name(c, peer), dt * 1e3, (double)n / dt / 1e9);
    }
    free(out);
    free(in);
    return 0;
}
static int t_big_tcp(void) {
    return so_test_ranks(2, "tcp", big_fn, NULL, 90000);
}
static int t_big_shm(void) {
    return so_test_ranks(2, "shm", big_fn, NULL, 90000);
}

/* Receive-reduce: a ring all-reduce by hand (k-1 steps of sendrecv_reduce on the whole
 * vector, then compare with the serial sum) for f64 with a count that splits the 256 KiB
 * bounce buffer at odd places, and i32 max with a local source. */
static int reduce_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    int k = so_comm_size(c), right = (rank + 1) % k, left = (rank + k - 1) % k;
    size_t n = 100003;
    double *acc = malloc(n * 8), *msg = malloc(n * 8), *got = malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        acc[i] = msg[i] = (double)(rank + 1) * 0.5 + (double)i;
    }
    so__coll_sig sig = {
        .kind = SO__KIND_ALLREDUCE, .dtype = SO_F64, .op = SO_SUM, .root = -1, .count = n};
    CHECK_OK(so__coll_begin(c, &sig));
    /* Pass the original vectors around the ring, accumulating each arrival into acc. */
    for (int step = 0; step < k - 1; step++) {
        CHECK_OK(so__sendrecv(c, right, msg, n * 8, left, got, n * 8));
        memcpy(msg, got, n * 8);
        so_reduce_local(SO_SUM, SO_F64, acc, acc, got, n);
    }
    CHECK_OK(so__coll_end(c, SO_OK));
    /* The same with receive-reduce: acc2 = own + sum of arrivals, straight from the socket. */
    double *acc2 = malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        msg[i] = (double)(rank + 1) * 0.5 + (double)i;
    }
    sig.seq = 0;
    CHECK_OK(so__coll_begin(c, &sig));
    if (k > 1) {
        /* Each rank receive-reduces its left neighbour's vector onto its own (local source). */
        CHECK_OK(so__sendrecv_reduce(c, right, msg, n * 8, left, acc2, msg, n, SO_F64, SO_SUM));
    } else {
        memcpy(acc2, msg, n * 8);
    }
    CHECK_OK(so__coll_end(c, SO_OK));
    for (size_t i = 0; i < n; i++) {
        double want = (double)(rank + 1) * 0.5 + (double)i +
                      (k > 1 ? (double)(left + 1) * 0.5 + (double)i : 0);
        if (acc2[i] != want) {
            SO_TEST_FAIL_("rank %d: recv_reduce element %zu is %g, want %g", rank, i, acc2[i],
                          want);
        }
        double sum = 0;
        for (int r = 0; r < k; r++) {
            sum += (double)(r + 1) * 0.5 + (double)i;
        }
        CHECK_NEAR(acc[i], sum, 1e-9);
    }
    /* i32 max, in place (no local source), odd count. */
    size_t m = 77777;
    int32_t *a = malloc(m * 4), *b = malloc(m * 4);
    for (size_t i = 0; i < m; i++) {
        a[i] = (int32_t)((i * 2654435761u + (size_t)rank * 40503u) % 100000);
        b[i] = a[i];
    }
    so__coll_sig s2 = {
        .kind = SO__KIND_ALLREDUCE, .dtype = SO_I32, .op = SO_MAX, .root = -1, .count = m};
    CHECK_OK(so__coll_begin(c, &s2));
    CHECK_OK(so__sendrecv_reduce(c, right, a, m * 4, left, b, NULL, m, SO_I32, SO_MAX));
    CHECK_OK(so__coll_end(c, SO_OK));
    for (size_t i = 0; i < m; i++) {
        int32_t mine = (int32_t)((i * 2654435761u + (size_t)rank * 40503u) % 100000);
        int32_t theirs = (int32_t)((i * 2654435761u + (size_t)left * 40503u) % 100000);
        CHECK_EQ_INT(b[i], mine > theirs ? mine : theirs);
    }
    free(acc);
    free(acc2);
    free(msg);
    free(got);
    free(a);
    free(b);
    return 0;
}
static int t_reduce_tcp(void) {
    return so_test_ranks(3, "tcp", reduce_fn, NULL, 60000);
}
static int t_reduce_shm(void) {
    return so_test_ranks(3, "shm", reduce_fn, NULL, 60000);
}

/* 32 outstanding isends and irecvs with every peer, distinct tags, then waitall. */
static int many_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    int k = so_comm_size(c), per = 32, nreq = 2 * per * k;
    so_request **reqs = calloc((size_t)nreq, sizeof *reqs);
    int64_t *out = malloc((size_t)(per * k) * 8 * 100), *in = malloc((size_t)(per * k) * 8 * 100);
    int q = 0;
    for (int p = 0; p < k; p++) {
        for (int j = 0; j < per; j++) {
            CHECK_OK(so_irecv(c, in + (p * per + j) * 100, 800, p, j, &reqs[q++]));
        }
    }
    for (int p = 0; p < k; p++) {
        for (int j = 0; j < per; j++) {
            int64_t *o = out + (p * per + j) * 100;
            for (int e = 0; e < 100; e++) {
                o[e] = rank * 1000000 + p * 10000 + j * 100 + e;
            }
            CHECK_OK(so_isend(c, o, 800, p, j, &reqs[q++]));
        }
    }
    int done = 0;
    CHECK_OK(so_test(reqs[0], &done)); /* may or may not be done; must not fail */
    if (done) {
        reqs[0] = NULL;
    }
    CHECK_OK(so_waitall(reqs, q));
    for (int p = 0; p < k; p++) {
        for (int j = 0; j < per; j++) {
            for (int e = 0; e < 100; e++) {
                CHECK_EQ_INT(in[(p * per + j) * 100 + e], p * 1000000 + rank * 10000 + j * 100 + e);
            }
        }
    }
    free(reqs);
    free(out);
    free(in);
    return 0;
}
static int t_many_tcp(void) {
    return so_test_ranks(4, "tcp", many_fn, NULL, 60000);
}
static int t_many_shm(void) {
    return so_test_ranks(4, "shm", many_fn, NULL, 60000);
}

/* Split 5 ranks: even ranks in reverse order (key = -rank), odd ranks ordered by rank, and rank
 * 4 stays out (color -1). Then a ring exchange inside each child. */
static int split_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    int color = rank == 4 ? -1 : rank % 2;
    so_comm *sub = NULL;
    CHECK_OK(so_comm_split(c, color, color == 0 ? -rank : rank, &sub));
    if (color < 0) {
        CHECK(sub == NULL);
        return 0;
    }
    CHECK(sub != NULL);
    CHECK_EQ_INT(so_comm_size(sub), 2);
    int want = color == 0 ? (rank == 2 ? 0 : 1) : (rank == 1 ? 0 : 1);
    CHECK_EQ_INT(so_comm_rank(sub), want);
    int sr = so_comm_rank(sub), v = rank, w = -1;
    CHECK_OK(so_sendrecv(sub, &v, sizeof v, 1 - sr, &w, sizeof w, 1 - sr, 3));
    int partner = color == 0 ? 2 - rank : 4 - rank; /* 0<->2, 1<->3 */
    CHECK_EQ_INT(w, partner);
    /* The parent still works while the child exists. */
    int k = so_comm_size(c), x = rank, y = -1;
    CHECK_OK(so_sendrecv(c, &x, sizeof x, (rank + 1) % 4, &y, sizeof y, (rank + 3) % 4, 1));
    CHECK_EQ_INT(y, (rank + 3) % 4);
    (void)k;
    so_comm_destroy(sub);
    return 0;
}
static int split_outer(so_comm *c, int rank, void *arg) {
    /* Rank 4 joins the split but not the 4-rank ring above. */
    if (rank == 4) {
        so_comm *sub = NULL;
        CHECK_OK(so_comm_split(c, -1, 0, &sub));
        CHECK(sub == NULL);
        return 0;
    }
    return split_fn(c, rank, arg);
}
static int t_split_tcp(void) {
    return so_test_ranks(5, "tcp", split_outer, NULL, 60000);
}

/* Nonblocking collectives: the worker runs a neighbour exchange on the duplicate while the
 * caller does point-to-point on the group itself. */
typedef struct async_arg {
    int rank, k;
    int out, in;
} async_arg;
static int async_job(so_comm *dup, void *p) {
    async_arg *a = p;
    so__coll_sig sig = {.kind = SO__KIND_ALLGATHER, .dtype = SO_I32, .root = -1, .count = 1};
    SO_TRY(so__coll_begin(dup, &sig));
    return so__coll_end(dup, so__sendrecv(dup, (a->rank + 1) % a->k, &a->out, 4,
                                          (a->rank + a->k - 1) % a->k, &a->in, 4));
}
static int async_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    int k = so_comm_size(c);
    async_arg aa[3];
    so_request *req[3];
    for (int i = 0; i < 3; i++) {
        aa[i] = (async_arg){rank, k, rank * 10 + i, -1};
        CHECK_OK(so__comm_submit(c, async_job, &aa[i], NULL, &req[i]));
    }
    int v = rank, w = -1;
    CHECK_OK(so_sendrecv(c, &v, 4, (rank + 1) % k, &w, 4, (rank + k - 1) % k, 0));
    CHECK_EQ_INT(w, (rank + k - 1) % k);
    CHECK_OK(so_waitall(req, 3));
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(aa[i].in, ((rank + k - 1) % k) * 10 + i);
    }
    return 0;
}
static int t_async_tcp(void) {
    return so_test_ranks(3, "tcp", async_fn, NULL, 60000);
}

/* Two pretend hosts of two ranks each with transport auto: shm inside a host, tcp across.
 * A ring step then has one peer on each transport, so the wait alternates between them. */
static int mixed_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    int k = so_comm_size(c), right = (rank + 1) % k, left = (rank + k - 1) % k;
    CHECK_EQ_INT(so_comm_nhosts(c), 2);
    CHECK_EQ_INT(so_comm_host(c), rank / 2);
    CHECK_EQ_INT(so_comm_local_rank(c), rank % 2);
    CHECK_EQ_INT(so_comm_local_size(c), 2);
    CHECK_EQ_INT(so_comm_host_of(c, 3), 1);
    CHECK_STR_EQ(so_comm_transport_name(c, rank ^ 1), "shm");
    CHECK_STR_EQ(so_comm_transport_name(c, (rank + 2) % 4), "tcp");
    size_t n = (8u << 20) + 5;
    uint8_t *out = malloc(n), *in = malloc(n);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++) {
            out[i] = pattern(rank, round, i);
        }
        /* Alternate directions so both transports carry sends and receives. */
        int to = round % 2 ? left : right, from = round % 2 ? right : left;
        CHECK_OK(so_sendrecv(c, out, n, to, in, n, from, round));
        for (size_t i = 0; i < n; i++) {
            if (in[i] != pattern(from, round, i)) {
                SO_TEST_FAIL_("rank %d round %d: byte %zu wrong", rank, round, i);
            }
        }
    }
    free(out);
    free(in);
    return 0;
}
static int t_mixed_auto(void) {
    setenv("SO_TEST_HOSTS", "2", 1);
    int rc = so_test_ranks(4, "auto", mixed_fn, NULL, 60000);
    unsetenv("SO_TEST_HOSTS");
    return rc;
}

/* The same name three times over one store: each creation must find its own ranks, not the
 * stale addresses of the group before. */
static int recreate_fn(so_comm *c, int rank, void *arg) {
    const char *dir = arg;
    int k = so_comm_size(c);
    so_store *st;
    CHECK_OK(so_store_create_file(dir, &st));
    for (int round = 0; round < 3; round++) {
        so_comm_config cfg;
        so_comm_config_default(&cfg);
        cfg.rank = rank;
        cfg.size = k;
        cfg.transport = "tcp";
        cfg.store = st;
        cfg.name = "again";
        cfg.timeout_ms = 10000;
        so_comm *g;
        CHECK_OK(so_comm_create(&cfg, &g));
        int v = rank * 10 + round, w = -1;
        CHECK_OK(so_sendrecv(g, &v, 4, (rank + 1) % k, &w, 4, (rank + k - 1) % k, round));
        CHECK_EQ_INT(w, ((rank + k - 1) % k) * 10 + round);
        so_comm_destroy(g);
        if (rank == 0) {
            so_sleep_ns(20000000); /* let the others race ahead into the next round */
        }
    }
    so_store_destroy(st);
    return 0;
}
static int t_recreate_tcp(void) {
    char dir[] = "/tmp/so-recreate-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int rc = so_test_ranks(3, "tcp", recreate_fn, dir, 60000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}

SO_TEST_MAIN({"recreate_tcp", t_recreate_tcp}, {"mixed_auto", t_mixed_auto},
             {"ring1_tcp", t_ring1_tcp}, {"ring2_tcp", t_ring2_tcp}, {"ring3_tcp", t_ring3_tcp},
             {"ring4_tcp", t_ring4_tcp}, {"ring8_tcp", t_ring8_tcp}, {"ring2_shm", t_ring2_shm},
             {"ring4_shm", t_ring4_shm}, {"ring3_auto", t_ring3_auto}, {"big_tcp", t_big_tcp},
             {"big_shm", t_big_shm}, {"reduce_tcp", t_reduce_tcp}, {"reduce_shm", t_reduce_shm},
             {"many_tcp", t_many_tcp}, {"many_shm", t_many_shm}, {"split_tcp", t_split_tcp},
             {"async_tcp", t_async_tcp})
