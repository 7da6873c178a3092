/*
 * Tests of the gradient reducer (src/parallel/bucket.c) on real processes.
 *
 * bitwise_<transport>_<K>: for bucket caps from smaller than one gradient to larger than all,
 * for scattered gradients (flattened buckets), one arena (in place) and the arena forced through
 * flat buffers, the reduced gradients equal a plain so_allreduce of each buffer bit for bit: i64
 * with large random values (integer sums are exact in any order), f32 small integers with AVG, and
 * at K = 2 arbitrary f32 (a + b == b + a). Arbitrary floats at K > 2 are not compared: a fused
 * bucket reduces an element in the order its position in the bucket dictates, as in DDP. Ranks
 * mark gradients ready in different orders; two steps run on each reducer.
 * accounting: per-bucket times are ordered, hidden + exposed == comm, and without overlap nothing
 * is hidden; with 20 ms of (sleeping) compute per layer and tiny gradients, overlap hides some
 * (at least one bucket ends before backward does).
 * errors: a count mismatch between ranks (a desync in bucket 0) comes out of finish() naming the
 * bucket; a gradient never marked ready is reported and the next step works; a peer killed
 * between steps makes the next finish() fail naming bucket 0 (peer_dies).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/parallel.h"
#include "so_test.h"

enum { NG = 9 };
static const size_t counts[NG] = {1000, 1, 0, 4097, 300, 2048, 77, 5000, 3};

static uint64_t tp_rng(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = *s;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return x ^ (x >> 29);
}

/* Fills gradient i for (rank, step): kind 0 = arbitrary i64, 1 = small-integer f32, 2 =
 * arbitrary f32. */
static void fill(void *p, size_t n, int kind, int rank, int step, int i) {
    uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(rank + 1) + (uint64_t)step * 7919 + (uint64_t)i;
    for (size_t j = 0; j < n; j++) {
        uint64_t v = tp_rng(&s);
        if (kind == 0) {
            /* Up to 2^59 in magnitude: sums over a few ranks cannot overflow (which is UB). */
            ((int64_t *)p)[j] = (int64_t)(v >> 4) - ((int64_t)1 << 59);
        } else if (kind == 1) {
            ((float *)p)[j] = (float)((int)(v % 2001) - 1000);
        } else {
            ((float *)p)[j] =
                (float)((double)(v >> 11) / 9007199254740992.0 * 2.0 - 1.0) * (float)(1 + (v & 7));
        }
    }
}

/* One (kind, cap, layout) configuration; 0 on success. */
static int one_config(so_comm *c, int rank, int kind, size_t cap, int layout) {
    so_dtype dt = kind == 0 ? SO_I64 : SO_F32;
    so_op op = kind == 0 ? SO_SUM : SO_AVG;
    size_t es = so_dtype_size(dt), total = 0;
    for (int i = 0; i < NG; i++) {
        total += counts[i];
    }
    char *arena = malloc(total * es + 1);
    char *grad[NG], *ref[NG];
    size_t off = 0;
    for (int i = 0; i < NG; i++) {
        /* The arena holds gradient 0 at the highest address: registration walks it backwards. */
        off += counts[i];
        grad[i] = layout ? arena + (total - off) * es : malloc(counts[i] * es + 1);
        ref[i] = malloc(counts[i] * es + 1);
    }
    so_reducer_opts o;
    so_reducer_opts_default(&o);
    o.bucket_cap = cap;
    o.op = op;
    o.force_flatten = layout == 2;
    so_reducer *rd = NULL;
    CHECK_OK(so_reducer_create(c, dt, &o, &rd));
    for (int i = 0; i < NG; i++) {
        CHECK_EQ_INT(so_reducer_add(rd, grad[i], counts[i]), i);
    }
    int nb = so_reducer_nbuckets(rd);
    if (cap < es) {
        CHECK_EQ_INT(nb, NG - 0); /* every gradient alone, the empty one included */
    }
    if (cap >= total * es) {
        CHECK_EQ_INT(nb, 1);
    }
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < NG; i++) {
            fill(grad[i], counts[i], kind, rank, step, i);
            memcpy(ref[i], grad[i], counts[i] * es);
        }
        /* Rank-dependent ready order: odd ranks go backwards. */
        for (int j = 0; j < NG; j++) {
            CHECK_OK(so_reducer_ready(rd, rank % 2 ? NG - 1 - j : j));
        }
        CHECK_OK(so_reducer_finish(rd));
        for (int i = 0; i < NG; i++) {
            CHECK_OK(so_allreduce(c, ref[i], ref[i], counts[i], dt, op));
            if (memcmp(ref[i], grad[i], counts[i] * es) != 0) {
                fprintf(stderr, "kind %d cap %zu layout %d step %d: gradient %d differs\n", kind,
                        cap, layout, step, i);
                return 1;
            }
        }
    }
    for (int b = 0; b < nb; b++) {
        int in_place = -1, first = -1, n = -1;
        size_t bytes = 0;
        CHECK_OK(so_reducer_bucket_info(rd, b, &first, &n, &bytes, &in_place));
        CHECK(bytes <= cap || n == 1);
        int nonempty = 0;
        for (int i = first; i < first + n; i++) {
            nonempty += counts[i] > 0;
        }
        /* Scattered gradients are flattened unless the bucket holds at most one with bytes. */
        CHECK_EQ_INT(in_place, layout == 1 || (layout == 0 && nonempty <= 1));
    }
    so_reducer_destroy(rd);
    for (int i = 0; i < NG; i++) {
        if (!layout) {
            free(grad[i]);
        }
        free(ref[i]);
    }
    free(arena);
    return 0;
}

static int rank_bitwise(so_comm *c, int rank, void *arg) {
    (void)arg;
    const size_t caps[] = {4, 1024, 8192, 20000, (size_t)1 << 30};
    int k = so_comm_size(c);
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 2 && k != 2) {
            continue;
        }
        for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
            for (int layout = 0; layout < 3; layout++) {
                if (one_config(c, rank, kind, caps[ci], layout)) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

static int run_bitwise(const char *tp, int k) {
    return so_test_ranks(k, tp, rank_bitwise, NULL, 90000);
}

static int t_bitwise_tcp_2(void) {
    return run_bitwise("tcp", 2);
}
static int t_bitwise_tcp_3(void) {
    return run_bitwise("tcp", 3);
}
static int t_bitwise_tcp_4(void) {
    return run_bitwise("tcp", 4);
}
static int t_bitwise_shm_2(void) {
    return run_bitwise("shm", 2);
}
static int t_bitwise_shm_3(void) {
    return run_bitwise("shm", 3);
}
static int t_bitwise_shm_4(void) {
    return run_bitwise("shm", 4);
}

/* One step of `layers` layers of `ms` milliseconds (sleep) with `n` floats each. */
static int timed_step(so_comm *c, int overlap, int layers, int ms, size_t n, so_reducer_stats *st,
                      so_reducer **keep) {
    float *g = calloc((size_t)layers * n, sizeof *g);
    so_reducer_opts o;
    so_reducer_opts_default(&o);
    o.overlap = overlap;
    o.bucket_cap = n * sizeof(float); /* one layer per bucket */
    so_reducer *rd = NULL;
    CHECK_OK(so_reducer_create(c, SO_F32, &o, &rd));
    for (int l = 0; l < layers; l++) {
        CHECK_EQ_INT(so_reducer_add(rd, g + (size_t)l * n, n), l);
    }
    CHECK_OK(so_barrier(c));
    for (int l = 0; l < layers; l++) {
        so_sleep_ns((int64_t)ms * 1000000);
        CHECK_OK(so_reducer_ready(rd, l));
    }
    CHECK_OK(so_reducer_finish(rd));
    CHECK_OK(so_reducer_stats_get(rd, st));
    CHECK_EQ_INT(st->buckets, layers);
    CHECK_EQ_INT(st->bytes, (size_t)layers * n * sizeof(float));
    double prev_end = 0;
    for (int b = 0; b < layers; b++) {
        so_reducer_bucket_times t;
        CHECK_OK(so_reducer_bucket_times_get(rd, b, &t));
        CHECK(t.ready_s >= st->first_ready_s);
        CHECK(t.submit_s >= t.ready_s);
        CHECK(t.start_s >= t.submit_s);
        CHECK(t.end_s >= t.start_s);
        CHECK(t.start_s >= prev_end); /* one worker: buckets do not overlap each other */
        CHECK(t.end_s <= st->done_s);
        if (!overlap) {
            CHECK(t.submit_s >= st->finish_s);
        }
        prev_end = t.end_s;
    }
    CHECK(st->comm_s > 0);
    CHECK_NEAR(st->hidden_s + st->exposed_s, st->comm_s, 1e-9);
    CHECK(st->hidden_frac >= 0 && st->hidden_frac <= 1);
    CHECK(st->wait_s >= 0);
    *keep = rd;
    free(g);
    return 0;
}

static int rank_accounting(so_comm *c, int rank, void *arg) {
    (void)rank;
    (void)arg;
    so_reducer_stats off, on;
    so_reducer *a = NULL, *b = NULL;
    if (timed_step(c, 0, 8, 20, 16, &off, &a) || timed_step(c, 1, 8, 20, 16, &on, &b)) {
        return 1;
    }
    CHECK(off.hidden_s == 0);
    CHECK(off.hidden_frac == 0);
    CHECK_NEAR(off.exposed_s, off.comm_s, 1e-12);
    /* Buckets 0..6 start 140..20 ms before backward ends, so with overlap at least the first
     * one finishes while backward still computes. (A threshold on hidden_frac is not robust:
     * with tiny gradients the last bucket's time is mostly waiting for the slowest rank's last
     * layer, which a loaded machine stretches to milliseconds.) */
    int whole = 0;
    for (int i = 0; i < 8; i++) {
        so_reducer_bucket_times t;
        CHECK_OK(so_reducer_bucket_times_get(b, i, &t));
        whole += t.end_s < on.finish_s;
    }
    if (!(whole >= 1 && on.hidden_s > 0 && on.hidden_frac > off.hidden_frac)) {
        fprintf(stderr, "overlap hid %.1f%% of %.3f ms (%d buckets wholly hidden)\n",
                100 * on.hidden_frac, 1e3 * on.comm_s, whole);
        return 1;
    }
    so_reducer_destroy(a);
    so_reducer_destroy(b);
    return 0;
}

static int t_accounting(void) {
    return so_test_ranks(2, "auto", rank_accounting, NULL, 60000);
}

static int rank_errors(so_comm *c, int rank, void *arg) {
    (void)arg;
    so_comm_set_timeout_ms(c, 5000);
    float g[64] = {0};
    /* A gradient never marked ready: no bucket starts (one bucket), nothing is exchanged. */
    so_reducer *rd = NULL;
    CHECK_OK(so_reducer_create(c, SO_F32, NULL, &rd));
    CHECK_EQ_INT(so_reducer_add(rd, g, 10), 0);
    CHECK_EQ_INT(so_reducer_add(rd, g + 10, 10), 1);
    CHECK(so_reducer_add(NULL, g, 1) == SO_EINVAL);
    CHECK_OK(so_reducer_ready(rd, 0));
    CHECK(so_reducer_ready(rd, 0) == SO_EINVAL);  /* twice */
    CHECK(so_reducer_ready(rd, 5) == SO_EINVAL);  /* out of range */
    CHECK(so_reducer_add(rd, g, 1) == SO_EINVAL); /* after sealing */
    CHECK(so_reducer_finish(rd) == SO_EINVAL);
    CHECK(strstr(so_last_error(), "gradient 1 was not marked ready") != NULL);
    for (int i = 0; i < 20; i++) {
        g[i] = (float)(rank + 1);
    }
    CHECK_OK(so_reducer_ready(rd, 1));
    CHECK_OK(so_reducer_ready(rd, 0));
    CHECK_OK(so_reducer_finish(rd));
    CHECK(g[0] == 1.5f && g[19] == 1.5f);
    so_reducer_destroy(rd);
    /* Rank 1 registers one element more: the bucket's all-reduce desyncs. */
    so_reducer_opts o;
    so_reducer_opts_default(&o);
    o.bucket_cap = 16;
    CHECK_OK(so_reducer_create(c, SO_F32, &o, &rd));
    CHECK_EQ_INT(so_reducer_add(rd, g, rank ? 5 : 4), 0);
    CHECK_OK(so_reducer_ready(rd, 0));
    int rc = so_reducer_finish(rd);
    if (rc >= 0) {
        fprintf(stderr, "rank %d: a desynced bucket finished with %d\n", rank, rc);
        return 1;
    }
    const char *e = so_last_error();
    if (!strstr(e, "all-reduce of bucket 0 (gradients 0..0")) {
        fprintf(stderr, "rank %d: detail does not name the bucket: %s\n", rank, e);
        return 1;
    }
    printf("rank %d: %s: %s\n", rank, so_err_name(rc), e);
    so_reducer_destroy(rd);
    return 0;
}

static int t_errors(void) {
    return so_test_ranks(2, "tcp", rank_errors, NULL, 30000);
}

/* After one good step (the worker's duplicate group exists), rank 1 dies; rank 0's next
 * finish() reports the failed bucket instead of hanging. */
static int rank_peer_dies(so_comm *c, int rank, void *arg) {
    (void)arg;
    so_comm_set_timeout_ms(c, 3000);
    float g[256];
    for (int i = 0; i < 256; i++) {
        g[i] = 1.0f;
    }
    so_reducer_opts o;
    so_reducer_opts_default(&o);
    o.bucket_cap = 512;
    so_reducer *rd = NULL;
    CHECK_OK(so_reducer_create(c, SO_F32, &o, &rd));
    CHECK_EQ_INT(so_reducer_add(rd, g, 128), 0);
    CHECK_EQ_INT(so_reducer_add(rd, g + 128, 128), 1);
    CHECK_OK(so_reducer_ready(rd, 0));
    CHECK_OK(so_reducer_ready(rd, 1));
    CHECK_OK(so_reducer_finish(rd));
    CHECK_OK(so_barrier(c));
    if (rank == 1) {
        raise(SIGKILL);
    }
    so_sleep_ns(100 * 1000000);
    int rc = so_reducer_ready(rd, 0);
    if (rc == SO_OK) {
        so_reducer_ready(rd, 1);
        rc = so_reducer_finish(rd);
    }
    if (rc >= 0) {
        fprintf(stderr, "a step with a dead peer succeeded\n");
        return 1;
    }
    printf("rank 0: %s: %s\n", so_err_name(rc), so_last_error());
    CHECK(strstr(so_last_error(), "bucket 0") != NULL);
    so_reducer_destroy(rd);
    return 0;
}

static int t_peer_dies(void) {
    return so_test_ranks_ex(2, "tcp", rank_peer_dies, NULL, 30000, 1ul << 1);
}

SO_TEST_MAIN({"bitwise_tcp_2", t_bitwise_tcp_2}, {"bitwise_tcp_3", t_bitwise_tcp_3},
             {"bitwise_tcp_4", t_bitwise_tcp_4}, {"bitwise_shm_2", t_bitwise_shm_2},
             {"bitwise_shm_3", t_bitwise_shm_3}, {"bitwise_shm_4", t_bitwise_shm_4},
             {"accounting", t_accounting}, {"errors", t_errors}, {"peer_dies", t_peer_dies})
