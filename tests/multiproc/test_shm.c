/*
 * Tests of the shared-memory transport, driven directly through its vtable by forked ranks
 * (test_shm_harness.c): message sizes around the ring size and far beyond it, FIFO order of many
 * messages, both directions at once, receive-reduce against a serial reference, every pair of
 * 3, 4 and 8 ranks (8 oversubscribes the 2-core machine), desync, a peer SIGKILLed mid-transfer,
 * a peer that never sends, interrupt from another thread, close with transfers pending, a peer
 * that gives up (abort notice) or closes, and the segment setup's deadline (no rank waits
 * forever for a missing peer, no segment name leaks).
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "so_test.h"
#include "test_shm_harness.h"

/* The ring size the transport will use (the knob rounded up to a power of two, at least 4 KiB). */
static size_t ring_bytes(void) {
    int64_t v = so_param_int("SO_SHM_RING_BYTES");
    size_t r = 4096;
    while ((int64_t)r < v) {
        r <<= 1;
    }
    return r;
}

/* A byte pattern that depends on the seed and the position, so misplaced pieces are caught. */
static void fill(unsigned char *b, size_t n, uint64_t seed) {
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (unsigned char)x;
    }
}

static int check_pattern(const unsigned char *b, size_t n, uint64_t seed) {
    unsigned char *want = malloc(n ? n : 1);
    fill(want, n, seed);
    size_t bad = n;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != want[i]) {
            bad = i;
            break;
        }
    }
    free(want);
    if (bad != n) {
        fprintf(stderr, "pattern %llu: first wrong byte at %zu of %zu\n", (unsigned long long)seed,
                bad, n);
        return 1;
    }
    return 0;
}

/* ---- sizes around the inline limit (16), the record (64) and the ring, and 64 MiB + 5; there
 * and back ---- */

static int rank_sizes(shm_rank *r, void *arg) {
    (void)arg;
    size_t ring = ring_bytes();
    size_t sizes[] = {0, 1, 16, 17, 24, 25, 63, 64, ring - 1, ring, ring + 1, (64u << 20) + 5};
    int peer = 1 - r->rank;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *buf = malloc(n + 1);
        CHECK(buf != NULL);
        so__xfer x;
        if (r->rank == 0) {
            fill(buf, n, i);
            shm_set_send(&x, peer, buf, n, (uint32_t)i);
            CHECK_OK(shm_xfer(r, &x, 1, 20000));
            memset(buf, 0, n);
            shm_set_recv(&x, peer, buf, n, (uint32_t)(100 + i));
            CHECK_OK(shm_xfer(r, &x, 1, 20000));
            CHECK_EQ_INT(check_pattern(buf, n, i), 0);
            CHECK_EQ_INT(x.done, n);
        } else {
            shm_set_recv(&x, peer, buf, n, (uint32_t)i);
            CHECK_OK(shm_xfer(r, &x, 1, 20000));
            CHECK_EQ_INT(check_pattern(buf, n, i), 0);
            CHECK_EQ_INT(x.got.len, n);
            CHECK_EQ_INT(x.got.tag, i);
            shm_set_send(&x, peer, buf, n, (uint32_t)(100 + i));
            CHECK_OK(shm_xfer(r, &x, 1, 20000));
        }
        free(buf);
    }
    return 0;
}

static int t_sizes(void) {
    return shm_run(2, rank_sizes, NULL, 60000, 0);
}

static int t_sizes_small_ring(void) {
    setenv("SO_SHM_RING_BYTES", "4096", 1);
    int rc = shm_run(2, rank_sizes, NULL, 60000, 0);
    unsetenv("SO_SHM_RING_BYTES");
    return rc;
}

/* ---- FIFO: 600 messages of varying size posted at once, received in order ---- */

#define FIFO_N 600

static int rank_fifo(shm_rank *r, void *arg) {
    (void)arg;
    so__xfer *xs = calloc(FIFO_N, sizeof *xs);
    so__xfer **w = calloc(FIFO_N, sizeof *w);
    unsigned char **bufs = calloc(FIFO_N, sizeof *bufs);
    CHECK(xs && w && bufs);
    for (int i = 0; i < FIFO_N; i++) {
        size_t n = (size_t)(i * 37) % 5000;
        bufs[i] = malloc(n + 1);
        if (r->rank == 0) {
            fill(bufs[i], n, (uint64_t)i + 7);
            shm_set_send(&xs[i], 1, bufs[i], n, (uint32_t)i);
        } else {
            shm_set_recv(&xs[i], 0, bufs[i], n, (uint32_t)i);
        }
        CHECK_OK(r->t->ops->post(r->t, &xs[i]));
        w[i] = &xs[i];
    }
    CHECK_OK(r->t->ops->progress(r->t, w, FIFO_N, so_deadline_after_ms(20000)));
    for (int i = 0; i < FIFO_N; i++) {
        CHECK_EQ_INT(xs[i].status, SO_OK);
        if (r->rank == 1) {
            CHECK_EQ_INT(check_pattern(bufs[i], xs[i].len, (uint64_t)i + 7), 0);
        }
        free(bufs[i]);
    }
    free(xs);
    free(w);
    free(bufs);
    return 0;
}

static int t_fifo(void) {
    return shm_run(2, rank_fifo, NULL, 30000, 0);
}

/* ---- both directions at once: 64 MiB each way must not deadlock ---- */

static int rank_bidir(shm_rank *r, void *arg) {
    (void)arg;
    size_t n = 64u << 20;
    unsigned char *s = malloc(n), *d = malloc(n);
    CHECK(s && d);
    fill(s, n, (uint64_t)r->rank + 40);
    so__xfer x[2];
    shm_set_send(&x[0], 1 - r->rank, s, n, 9);
    shm_set_recv(&x[1], 1 - r->rank, d, n, 9);
    CHECK_OK(shm_xfer(r, x, 2, 30000));
    CHECK_EQ_INT(check_pattern(d, n, (uint64_t)(1 - r->rank) + 40), 0);
    free(s);
    free(d);
    return 0;
}

static int t_bidir(void) {
    return shm_run(2, rank_bidir, NULL, 60000, 0);
}

/* ---- every pair among n ranks, several message sizes, all directions at once per step ---- */

static int rank_pairs(shm_rank *r, void *arg) {
    (void)arg;
    int n = r->size;
    for (int k = 1; k < n; k++) {
        int to = (r->rank + k) % n, from = (r->rank - k + n) % n;
        size_t sn = (size_t)(1000 * k + 17 * r->rank) + (k == 1 ? 300000 : 0);
        size_t rn = (size_t)(1000 * k + 17 * from) + (k == 1 ? 300000 : 0);
        unsigned char *s = malloc(sn), *d = malloc(rn);
        CHECK(s && d);
        fill(s, sn, (uint64_t)(r->rank * 100 + k));
        so__xfer x[2];
        shm_set_send(&x[0], to, s, sn, (uint32_t)k);
        shm_set_recv(&x[1], from, d, rn, (uint32_t)k);
        CHECK_OK(shm_xfer(r, x, 2, 30000));
        CHECK_EQ_INT(check_pattern(d, rn, (uint64_t)(from * 100 + k)), 0);
        free(s);
        free(d);
    }
    return 0;
}

static int t_pairs3(void) {
    return shm_run(3, rank_pairs, NULL, 60000, 0);
}
static int t_pairs4(void) {
    return shm_run(4, rank_pairs, NULL, 60000, 0);
}
static int t_pairs8(void) {
    return shm_run(8, rank_pairs, NULL, 60000, 0);
}

/* ---- receive-reduce against a serial reference ---- */

static float val_f32(int rank, size_t i) {
    return (float)((i * 7 + (size_t)rank * 3) % 1000); /* integers: sums are exact */
}
static int64_t val_i64(int rank, size_t i) {
    return (int64_t)((i * 2654435761u + (size_t)rank * 40503u) % 1000003) - 500000;
}

/* Ring all-reduce (reduce-scatter then all-gather) over the transport, like coll will build it. */
static int ring_allreduce_f32(shm_rank *r, float *x, size_t count) {
    int n = r->size, me = r->rank;
    int right = (me + 1) % n, left = (me - 1 + n) % n;
    size_t base = count / (size_t)n, extra = count % (size_t)n;
#define OFF(b) ((size_t)(b)*base + ((size_t)(b) < extra ? (size_t)(b) : extra))
#define LEN(b) (base + ((size_t)(b) < extra ? 1 : 0))
    for (int s = 0; s < n - 1; s++) {
        int sb = (me - s + n) % n, rb = (me - s - 1 + n) % n;
        so__xfer xx[2];
        shm_set_send(&xx[0], right, x + OFF(sb), LEN(sb) * 4, 1);
        shm_set_recv(&xx[1], left, x + OFF(rb), LEN(rb) * 4, 1);
        xx[1].reduce = 1;
        xx[1].op = SO_SUM;
        xx[1].dtype = SO_F32;
        SO_TRY(shm_xfer(r, xx, 2, 30000));
    }
    for (int s = 0; s < n - 1; s++) {
        int sb = (me + 1 - s + n) % n, rb = (me - s + n) % n;
        so__xfer xx[2];
        shm_set_send(&xx[0], right, x + OFF(sb), LEN(sb) * 4, 2);
        shm_set_recv(&xx[1], left, x + OFF(rb), LEN(rb) * 4, 2);
        SO_TRY(shm_xfer(r, xx, 2, 30000));
    }
#undef OFF
#undef LEN
    return SO_OK;
}

static int rank_reduce(shm_rank *r, void *arg) {
    (void)arg;
    size_t counts[] = {1, 3, 1000, 262147, (5u << 20) + 3};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t count = counts[c];
        float *x = malloc(count * 4);
        CHECK(x);
        for (size_t i = 0; i < count; i++) {
            x[i] = val_f32(r->rank, i);
        }
        CHECK_OK(ring_allreduce_f32(r, x, count));
        for (size_t i = 0; i < count; i++) {
            float want = 0;
            for (int k = 0; k < r->size; k++) {
                want += val_f32(k, i);
            }
            if (x[i] != want) {
                SO_TEST_FAIL_("count %zu: x[%zu] = %g, want %g", count, i, (double)x[i],
                              (double)want);
            }
        }
        free(x);
    }
    if (r->size == 2) {
        /* i64 max, in place (reduce_src NULL), and f32 sum into a separate destination. */
        size_t count = 777777;
        int64_t *mine = malloc(count * 8), *acc = malloc(count * 8);
        float *fs = malloc(count * 4), *fd = malloc(count * 4);
        CHECK(mine && acc && fs && fd);
        for (size_t i = 0; i < count; i++) {
            mine[i] = acc[i] = val_i64(r->rank, i);
            fs[i] = val_f32(r->rank, i);
            fd[i] = -1;
        }
        so__xfer xx[2];
        shm_set_send(&xx[0], 1 - r->rank, mine, count * 8, 3);
        shm_set_recv(&xx[1], 1 - r->rank, acc, count * 8, 3);
        xx[1].reduce = 1;
        xx[1].op = SO_MAX;
        xx[1].dtype = SO_I64;
        CHECK_OK(shm_xfer(r, xx, 2, 30000));
        shm_set_send(&xx[0], 1 - r->rank, fs, count * 4, 4);
        shm_set_recv(&xx[1], 1 - r->rank, fd, count * 4, 4);
        xx[1].reduce = 1;
        xx[1].op = SO_SUM;
        xx[1].dtype = SO_F32;
        xx[1].reduce_src = fs;
        CHECK_OK(shm_xfer(r, xx, 2, 30000));
        for (size_t i = 0; i < count; i++) {
            int64_t a = val_i64(0, i), b = val_i64(1, i);
            CHECK_EQ_INT(acc[i], a > b ? a : b);
            CHECK(fd[i] == val_f32(0, i) + val_f32(1, i));
            CHECK(fs[i] == val_f32(r->rank, i)); /* the local source is not modified */
        }
        free(mine);
        free(acc);
        free(fs);
        free(fd);
    }
    return 0;
}

static int t_reduce2(void) {
    return shm_run(2, rank_reduce, NULL, 60000, 0);
}
static int t_reduce3(void) {
    return shm_run(3, rank_reduce, NULL, 60000, 0);
}
static int t_reduce4(void) {
    return shm_run(4, rank_reduce, NULL, 60000, 0);
}

/* ---- desync: the receiver expects another tag, length or signature ---- */

static int wait_key(shm_rank *r, const char *key) {
    char v[8];
    size_t len;
    return so_store_get(r->store, key, v, sizeof v, &len, 20000);
}

static int rank_desync(shm_rank *r, void *arg) {
    (void)arg;
    char buf[100] = {0};
    so__xfer x;
    if (r->rank == 0) {
        shm_set_send(&x, 1, buf, sizeof buf, 5);
        x.hdr.sig.kind = SO__KIND_BCAST;
        x.hdr.sig.seq = 7;
        CHECK_OK(shm_xfer(r, &x, 1, 10000));
        CHECK_OK(wait_key(r, "desync/done"));
        return 0;
    }
    shm_set_recv(&x, 0, buf, sizeof buf, 6); /* wrong tag */
    x.hdr.sig.kind = SO__KIND_ALLREDUCE;
    CHECK_EQ_INT(shm_xfer(r, &x, 1, 10000), SO_EDESYNC);
    CHECK_EQ_INT(x.status, SO_EDESYNC);
    CHECK_EQ_INT(x.got.tag, 5);
    CHECK_EQ_INT(x.got.len, 100);
    CHECK_EQ_INT(x.got.sig.kind, SO__KIND_BCAST);
    CHECK_EQ_INT(x.got.sig.seq, 7);
    shm_set_recv(&x, 0, buf, sizeof buf - 1, 5); /* right tag, wrong length */
    x.hdr.sig.kind = SO__KIND_BCAST;
    x.hdr.sig.seq = 7;
    CHECK_EQ_INT(shm_xfer(r, &x, 1, 10000), SO_EDESYNC);
    CHECK_EQ_INT(x.got.len, 100);
    shm_set_recv(&x, 0, buf, sizeof buf, 5); /* right tag and length, wrong signature */
    x.hdr.sig.kind = SO__KIND_BCAST;
    x.hdr.sig.seq = 8;
    CHECK_EQ_INT(shm_xfer(r, &x, 1, 10000), SO_EDESYNC);
    CHECK_EQ_INT(x.got.sig.seq, 7);
    CHECK_OK(so_store_set(r->store, "desync/done", "1", 1));
    return 0;
}

static int t_desync(void) {
    return shm_run(2, rank_desync, NULL, 30000, 0);
}

/* ---- a peer SIGKILLed mid-transfer: the survivor gets SO_EPEER well before its deadline ---- */

static int rank_killed(shm_rank *r, void *arg) {
    int victim = *(const int *)arg;
    size_t n = 64u << 20;
    unsigned char *b = malloc(n);
    CHECK(b);
    memset(b, 1, n);
    so__xfer x;
    if (r->rank == 0) {
        shm_set_send(&x, 1, b, n, 1);
    } else {
        shm_set_recv(&x, 0, b, n, 1);
    }
    CHECK_OK(r->t->ops->post(r->t, &x));
    if (r->rank == victim) {
        while (x.done < (8u << 20)) {
            CHECK_OK(r->t->ops->progress(r->t, NULL, 0, 0));
        }
        raise(SIGKILL);
    }
    so__xfer *w = &x;
    int64_t t0 = so_now_ns();
    CHECK_OK(r->t->ops->progress(r->t, &w, 1, so_deadline_after_ms(20000)));
    double waited = (double)(so_now_ns() - t0) * 1e-9;
    CHECK_EQ_INT(x.status, SO_EPEER);
    CHECK(x.done > 0 && x.done < n);
    CHECK(waited < 5.0);
    free(b);
    return 0;
}

static int t_killed_sender(void) {
    int victim = 0;
    return shm_run(2, rank_killed, &victim, 30000, 1u << 0);
}

static int t_killed_receiver(void) {
    int victim = 1;
    return shm_run(2, rank_killed, &victim, 30000, 1u << 1);
}

/* ---- a peer that never sends: SO_ETIMEDOUT at the deadline, the transfer stays posted, and
 * close completes it with SO_EABORTED ---- */

static int rank_timeout(shm_rank *r, void *arg) {
    (void)arg;
    if (r->rank == 0) {
        return wait_key(r, "timeout/done") < 0;
    }
    char buf[8];
    so__xfer x;
    shm_set_recv(&x, 0, buf, sizeof buf, 1);
    CHECK_OK(r->t->ops->post(r->t, &x));
    so__xfer *w = &x;
    int64_t t0 = so_now_ns();
    CHECK_EQ_INT(r->t->ops->progress(r->t, &w, 1, so_deadline_after_ms(300)), SO_ETIMEDOUT);
    double waited = (double)(so_now_ns() - t0) * 1e-9;
    CHECK(waited >= 0.29 && waited < 5.0);
    CHECK_EQ_INT(x.complete, 0);
    r->t->ops->close(r->t);
    r->t = NULL;
    CHECK_EQ_INT(x.complete, 1);
    CHECK_EQ_INT(x.status, SO_EABORTED);
    CHECK_OK(so_store_set(r->store, "timeout/done", "1", 1));
    return 0;
}

static int t_timeout(void) {
    return shm_run(2, rank_timeout, NULL, 30000, 0);
}

/* ---- interrupt from another thread wakes a blocked progress ---- */

static void *interrupter(void *arg) {
    so__transport *t = arg;
    so_sleep_ns(200000000);
    t->ops->interrupt(t);
    return NULL;
}

static int rank_interrupt(shm_rank *r, void *arg) {
    (void)arg;
    if (r->rank == 0) {
        return wait_key(r, "intr/done") < 0;
    }
    char buf[8];
    so__xfer x;
    shm_set_recv(&x, 0, buf, sizeof buf, 1);
    CHECK_OK(r->t->ops->post(r->t, &x));
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, interrupter, r->t), 0);
    so__xfer *w = &x;
    int64_t t0 = so_now_ns();
    int rc = r->t->ops->progress(r->t, &w, 1, so_deadline_after_ms(20000));
    double waited = (double)(so_now_ns() - t0) * 1e-9;
    pthread_join(th, NULL);
    CHECK_EQ_INT(rc, SO_EINTR);
    CHECK(waited >= 0.15 && waited < 5.0);
    CHECK_EQ_INT(x.complete, 0);
    /* The interrupt is consumed: a later progress waits again (here until its short deadline). */
    CHECK_EQ_INT(r->t->ops->progress(r->t, &w, 1, so_deadline_after_ms(50)), SO_ETIMEDOUT);
    r->t->ops->close(r->t); /* x lives on this stack: close before returning */
    r->t = NULL;
    CHECK_EQ_INT(x.status, SO_EABORTED);
    CHECK_OK(so_store_set(r->store, "intr/done", "1", 1));
    return 0;
}

static int t_interrupt(void) {
    return shm_run(2, rank_interrupt, NULL, 30000, 0);
}

/* ---- a peer that gives up tells us why (notify), or just closes: SO_EPEER long before the
 * deadline, for a blocked receive and for a send blocked on a full ring ---- */

static int rank_notify(shm_rank *r, void *arg) {
    int how = *(const int *)arg; /* 0 notify, 1 close without a word */
    size_t n = 16u << 20;
    unsigned char *b = calloc(1, n);
    CHECK(b);
    if (r->rank == 0) {
        CHECK_OK(wait_key(r, "notify/ready")); /* both of rank 1's transfers are posted */
        so_sleep_ns(100000000);
        if (how == 0) {
            so__msg_hdr notice = {.tag = (uint32_t)-SO_ETIMEDOUT, .len = 1 + 2};
            notice.sig.kind = SO__KIND_ALLREDUCE;
            notice.sig.seq = 42;
            r->t->ops->notify(r->t, &notice);
        } else {
            r->t->ops->close(r->t);
            r->t = NULL;
        }
        CHECK_OK(wait_key(r, "notify/done"));
        free(b);
        return 0;
    }
    so__xfer x[2];
    shm_set_send(&x[0], 0, b, n, 1); /* rank 0 never receives: the ring fills */
    shm_set_recv(&x[1], 0, b, 8, 1);
    so__xfer *w[2] = {&x[0], &x[1]};
    CHECK_OK(r->t->ops->post(r->t, &x[0]));
    CHECK_OK(r->t->ops->post(r->t, &x[1]));
    CHECK_OK(so_store_set(r->store, "notify/ready", "1", 1));
    int64_t t0 = so_now_ns();
    CHECK_OK(r->t->ops->progress(r->t, w, 2, so_deadline_after_ms(20000)));
    double waited = (double)(so_now_ns() - t0) * 1e-9;
    CHECK(waited < 5.0);
    CHECK_EQ_INT(x[0].status, SO_EPEER);
    CHECK_EQ_INT(x[1].status, SO_EPEER);
    if (how == 0) {
        for (int i = 0; i < 2; i++) {
            CHECK_EQ_INT(x[i].got.magic, SO__MSG_ABORT_MAGIC);
            CHECK_EQ_INT(x[i].got.tag, (uint32_t)-SO_ETIMEDOUT);
            CHECK_EQ_INT(x[i].got.len, 3);
            CHECK_EQ_INT(x[i].got.sig.seq, 42);
        }
        /* A later transfer with that peer fails at once and carries the notice too. */
        shm_set_recv(&x[1], 0, b, 8, 2);
        CHECK_OK(r->t->ops->post(r->t, &x[1]));
        CHECK_EQ_INT(x[1].complete, 1);
        CHECK_EQ_INT(x[1].status, SO_EPEER);
        CHECK_EQ_INT(x[1].got.magic, SO__MSG_ABORT_MAGIC);
    }
    CHECK_OK(so_store_set(r->store, "notify/done", "1", 1));
    free(b);
    return 0;
}

static int t_notify(void) {
    int how = 0;
    return shm_run(2, rank_notify, &how, 30000, 0);
}

static int t_peer_closed(void) {
    int how = 1;
    return shm_run(2, rank_notify, &how, 30000, 0);
}

/* ---- setup: a peer that never opens, a dead peer, a leader that never publishes ---- */

/* Entries of /dev/shm whose name contains tag. */
static int shm_names_with(const char *tag) {
    DIR *d = opendir("/dev/shm");
    if (!d) {
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strstr(e->d_name, tag) != NULL;
    }
    closedir(d);
    return n;
}

static int t_setup_deadline(void) {
    char dir[] = "/tmp/so_shm_setup.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "shmsetup%d", (int)getpid());
    so_store *st;
    CHECK_OK(so_store_create_file(dir, &st));
    pid_t child = fork();
    if (child == 0) {
        so_sleep_ns(3000000000LL); /* alive, but never opens the transport */
        _exit(0);
    }
    int pids[2] = {(int)getpid(), (int)child};
    int peer1 = 1, peer0 = 0;
    so__transport *t = NULL;
    /* As the leader (rank 0): rank 1 never attaches. */
    so__transport_init in = {.rank = 0,
                             .size = 2,
                             .peers = &peer1,
                             .npeers = 1,
                             .pids = pids,
                             .store = st,
                             .prefix = prefix,
                             .deadline_ns = so_deadline_after_ms(400)};
    int64_t t0 = so_now_ns();
    CHECK_EQ_INT(so__transport_shm_open(&in, &t), SO_ETIMEDOUT);
    double waited = (double)(so_now_ns() - t0) * 1e-9;
    CHECK(waited >= 0.39 && waited < 3.0);
    CHECK(t == NULL);
    CHECK_EQ_INT(shm_names_with(prefix), 0); /* the leader unlinked its segment */
    /* As rank 1: the leader (the child) never publishes the segment name. */
    int pids_b[2] = {(int)child, (int)getpid()};
    so__transport_init in_b = {.rank = 1,
                               .size = 2,
                               .peers = &peer0,
                               .npeers = 1,
                               .pids = pids_b,
                               .store = st,
                               .prefix = "shmsetup-never",
                               .deadline_ns = so_deadline_after_ms(300)};
    t0 = so_now_ns();
    CHECK_EQ_INT(so__transport_shm_open(&in_b, &t), SO_ETIMEDOUT);
    waited = (double)(so_now_ns() - t0) * 1e-9;
    CHECK(waited >= 0.25 && waited < 3.0);
    /* As rank 1 when the leader could not build the segment and said so: SO_ENOTSUP at once. */
    const char *marker = "!no /dev/shm here";
    CHECK_OK(so_store_set(st, "shmsetup-unavail/shm/0", marker, strlen(marker) + 1));
    in_b.prefix = "shmsetup-unavail";
    in_b.deadline_ns = so_deadline_after_ms(5000);
    CHECK_EQ_INT(so__transport_shm_open(&in_b, &t), SO_ENOTSUP);
    CHECK(strstr(so_last_error(), "no /dev/shm here") != NULL);
    /* As the leader again, with rank 1 dead (a zombie: not reaped yet): SO_EPEER long before the
     * deadline. */
    kill(child, SIGKILL);
    so_sleep_ns(50000000);
    in.deadline_ns = so_deadline_after_ms(10000);
    in.prefix = "shmsetup-dead";
    t0 = so_now_ns();
    CHECK_EQ_INT(so__transport_shm_open(&in, &t), SO_EPEER);
    waited = (double)(so_now_ns() - t0) * 1e-9;
    CHECK(waited < 2.0);
    waitpid(child, NULL, 0);
    so_store_destroy(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}

SO_TEST_MAIN({"sizes", t_sizes}, {"sizes_small_ring", t_sizes_small_ring}, {"fifo", t_fifo},
             {"bidir", t_bidir}, {"pairs3", t_pairs3}, {"pairs4", t_pairs4}, {"pairs8", t_pairs8},
             {"reduce2", t_reduce2}, {"reduce3", t_reduce3}, {"reduce4", t_reduce4},
             {"desync", t_desync}, {"killed_sender", t_killed_sender},
             {"killed_receiver", t_killed_receiver}, {"timeout", t_timeout},
             {"interrupt", t_interrupt}, {"notify", t_notify}, {"peer_closed", t_peer_closed},
             {"setup_deadline", t_setup_deadline})
