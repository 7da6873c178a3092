/*
 * The failure model (reliability note, tests 1-6) over real processes:
 *   killed_mid_transfer  a rank SIGKILLs itself in the middle of a 64 MiB exchange: the
 *                        survivors fail (no hang) and rank 0's error names the dead rank.
 *   never_sends          a rank that never sends: SO_ETIMEDOUT naming it, after the timeout.
 *   desync               rank 0 runs an all-reduce, rank 1 a broadcast: both get SO_EDESYNC
 *                        naming both collectives.
 *   poisoned_fast        after an error every later call fails at once with SO_EABORTED and
 *                        carries the original detail.
 *   abort_then_regroup   a watchdog thread aborts a blocked receive; the survivors then build a
 *                        new group (another store prefix) and it works.
 *   init_from_env_torchrun  ranks started with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT meet
 *                        through a TCP store server and exchange.
 * Each case bounds itself with so_test_ranks' deadline, so a hang fails instead of blocking.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comm/comm_internal.h"
#include "scaleout/comm.h"
#include "so_test.h"

static int killed_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    so_comm_set_timeout_ms(c, 2000);
    int k = so_comm_size(c), right = (rank + 1) % k, left = (rank + k - 1) % k;
    size_t n = 64u << 20;
    char *out = calloc(1, n), *in = calloc(1, n);
    /* One good round so every connection is up. */
    CHECK_OK(so_sendrecv(c, out, 1024, right, in, 1024, left, 0));
    if (rank == 2) {
        /* Die while rank 1 is pushing 64 MiB at us: far more than the socket buffers or shm
         * rings hold, so that transfer is certainly in the middle. */
        so_sleep_ns(100000000);
        raise(SIGKILL);
    }
    double t0 = so_now_s();
    int rc = so_sendrecv(c, out, n, right, in, n, left, 1);
    double dt = so_now_s() - t0;
    printf("[rank %d] after %.3f s: %s: %s\n", rank, dt, so_err_name(rc), so_comm_last_error(c));
    CHECK(rc == SO_ECONNRESET || rc == SO_EPEER || rc == SO_ETIMEDOUT);
    CHECK(dt < 10.0); /* failed within the deadline (2 s) plus slack, not a hang */
    const char *e = so_comm_last_error(c);
    CHECK(strstr(e, "sendrecv") != NULL);
    /* Rank 0 receives from the dead rank, rank 1 sends to it (or hears from rank 0, whose
     * abort notice passes the blame on): both name rank 2. */
    CHECK(strstr(e, "rank 2") != NULL);
    free(out);
    free(in);
    return 0;
}
static int t_killed_mid_transfer(void) {
    return so_test_ranks_ex(3, "tcp", killed_fn, NULL, 60000, 1ul << 2);
}
static int t_killed_mid_transfer_shm(void) {
    return so_test_ranks_ex(3, "shm", killed_fn, NULL, 60000, 1ul << 2);
}

static int never_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    so_comm_set_timeout_ms(c, 1000);
    if (rank == 1) {
        so_sleep_ns(2500000000LL); /* alive, but never sends */
        return 0;
    }
    int v;
    double t0 = so_now_s();
    int rc = so_recv(c, &v, sizeof v, 1, 0);
    double dt = so_now_s() - t0;
    printf("[rank 0] %s after %.3f s: %s\n", so_err_name(rc), dt, so_comm_last_error(c));
    CHECK_EQ_INT(rc, SO_ETIMEDOUT);
    CHECK(dt >= 0.99);
    const char *e = so_comm_last_error(c);
    CHECK(strstr(e, "timed out after 1000 ms waiting for rank 1") != NULL);
    CHECK(strstr(e, "recv(4 B, tag 0) from rank 1") != NULL);
    CHECK_STR_EQ(so_last_error(), e);
    return 0;
}
static int t_never_sends(void) {
    return so_test_ranks(2, "tcp", never_fn, NULL, 30000);
}
static int t_never_sends_shm(void) {
    return so_test_ranks(2, "shm", never_fn, NULL, 30000);
}

static int desync_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    so_comm_set_timeout_ms(c, 5000);
    so__coll_sig sig =
        rank == 0 ? (so__coll_sig){.kind = SO__KIND_ALLREDUCE,
                                   .dtype = SO_F32,
                                   .op = SO_SUM,
                                   .root = -1,
                                   .count = 10}
                  : (so__coll_sig){.kind = SO__KIND_BCAST, .dtype = SO_F32, .root = 0, .count = 10};
    float out[10] = {0}, in[10];
    CHECK_OK(so__coll_begin(c, &sig));
    int rc = so__coll_end(c, so__sendrecv(c, 1 - rank, out, sizeof out, 1 - rank, in, sizeof in));
    const char *e = so_comm_last_error(c);
    printf("[rank %d] %s: %s\n", rank, so_err_name(rc), e);
    CHECK_EQ_INT(rc, SO_EDESYNC);
    CHECK(strstr(e, "desync at seq 1") != NULL);
    if (rank == 0) {
        CHECK(strstr(e, "this rank called allreduce(count=10, f32, sum) but rank 1 sent "
                        "bcast(count=10, f32, root=0)") != NULL);
    } else {
        CHECK(strstr(e, "this rank called bcast(count=10, f32, root=0) but rank 0 sent "
                        "allreduce(count=10, f32, sum)") != NULL);
    }
    return 0;
}
static int t_desync(void) {
    return so_test_ranks(2, "tcp", desync_fn, NULL, 30000);
}
static int t_desync_shm(void) {
    return so_test_ranks(2, "shm", desync_fn, NULL, 30000);
}

static int poisoned_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    so_comm_set_timeout_ms(c, 500);
    int v = 0;
    if (rank == 0) {
        CHECK_EQ_INT(so_recv(c, &v, sizeof v, 1, 7), SO_ETIMEDOUT);
        CHECK(so_comm_poisoned(c));
        char first[512];
        snprintf(first, sizeof first, "%s", so_comm_last_error(c));
        /* Every later call fails at once, with the first error appended. */
        so_comm_set_timeout_ms(c, 20000);
        double t0 = so_now_s();
        CHECK_EQ_INT(so_send(c, &v, sizeof v, 1, 0), SO_EABORTED);
        CHECK(strstr(so_last_error(), first) != NULL);
        CHECK_EQ_INT(so_recv(c, &v, sizeof v, 0, 0), SO_EABORTED);
        so_request *r = NULL;
        CHECK_EQ_INT(so_irecv(c, &v, sizeof v, 1, 0, &r), SO_EABORTED);
        CHECK(r == NULL);
        so__coll_sig sig = {.kind = SO__KIND_BARRIER, .root = -1};
        CHECK_EQ_INT(so__coll_begin(c, &sig), SO_EABORTED);
        CHECK(so_now_s() - t0 < 1.0);
        CHECK_STR_EQ(so_comm_last_error(c), first); /* the group keeps the original detail */
    } else {
        so_sleep_ns(1500000000LL);
    }
    return 0;
}
static int t_poisoned_fast(void) {
    return so_test_ranks(2, "tcp", poisoned_fn, NULL, 30000);
}

typedef struct watchdog {
    so_comm *c;
    int64_t after_ns;
} watchdog;
static void *watchdog_main(void *p) {
    watchdog *w = p;
    so_sleep_ns(w->after_ns);
    so_comm_abort(w->c);
    return NULL;
}

typedef struct regroup {
    char dir[64];
    const char *transport;
} regroup;

static int abort_fn(so_comm *c, int rank, void *arg) {
    regroup *rg = arg;
    if (rank == 2) {
        so_sleep_ns(3000000000LL); /* hangs: never takes part */
        return 0;
    }
    /* so_test_ranks' default timeout is long; the watchdog must be what unblocks us. */
    so_comm_set_timeout_ms(c, 30000);
    watchdog w = {c, 300000000LL};
    pthread_t th;
    pthread_create(&th, NULL, watchdog_main, &w);
    int v;
    double t0 = so_now_s();
    int rc = so_recv(c, &v, sizeof v, 2, 0);
    double dt = so_now_s() - t0;
    pthread_join(th, NULL);
    printf("[rank %d] %s after %.3f s: %s\n", rank, so_err_name(rc), dt, so_comm_last_error(c));
    CHECK_EQ_INT(rc, SO_EABORTED);
    CHECK(dt < 10.0);
    CHECK(strstr(so_comm_last_error(c), "abort") != NULL);
    /* Rebuild over the survivors through the same directory, under a new name. */
    so_store *st;
    CHECK_OK(so_store_create_file(rg->dir, &st));
    so_comm_config cfg;
    so_comm_config_default(&cfg);
    cfg.rank = rank;
    cfg.size = 2;
    cfg.transport = rg->transport;
    cfg.store = st;
    cfg.name = "survivors";
    cfg.timeout_ms = 10000;
    so_comm *c2;
    CHECK_OK(so_comm_create(&cfg, &c2));
    int64_t out[1000], in[1000];
    for (int i = 0; i < 1000; i++) {
        out[i] = rank * 100000 + i;
    }
    CHECK_OK(so_sendrecv(c2, out, sizeof out, 1 - rank, in, sizeof in, 1 - rank, 0));
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(in[i], (1 - rank) * 100000 + i);
    }
    so_comm_destroy(c2);
    so_store_destroy(st);
    return 0;
}
static int abort_then_regroup(const char *transport) {
    /* The regrouped ranks need the store directory; so_test_ranks makes its own, so this case
     * passes a second one for the new group. */
    regroup rg;
    snprintf(rg.dir, sizeof rg.dir, "/tmp/so-regroup-XXXXXX");
    CHECK(mkdtemp(rg.dir) != NULL);
    rg.transport = transport;
    int rc = so_test_ranks(3, transport, abort_fn, &rg, 60000);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", rg.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", rg.dir);
    }
    return rc;
}

static int t_abort_then_regroup(void) {
    return abort_then_regroup("tcp");
}
static int t_abort_then_regroup_shm(void) {
    return abort_then_regroup("shm");
}

/* torchrun's contract: the parent serves the store, children get RANK etc. */
static int env_child(int rank, int k, int port) {
    char b[32];
    snprintf(b, sizeof b, "%d", rank);
    setenv("RANK", b, 1);
    setenv("LOCAL_RANK", b, 1);
    snprintf(b, sizeof b, "%d", k);
    setenv("WORLD_SIZE", b, 1);
    setenv("LOCAL_WORLD_SIZE", b, 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    snprintf(b, sizeof b, "%d", port);
    setenv("MASTER_PORT", b, 1);
    setenv("TORCHELASTIC_RESTART_COUNT", "1", 1);
    unsetenv("SO_RANK");
    so_comm *c;
    CHECK_OK(so_comm_init_from_env(&c));
    CHECK_EQ_INT(so_comm_rank(c), rank);
    CHECK_EQ_INT(so_comm_size(c), k);
    CHECK_EQ_INT(so_comm_local_size(c), k);
    CHECK_EQ_INT(so_comm_local_rank(c), rank);
    CHECK_EQ_INT(so_comm_nhosts(c), 1);
    int v = rank, w = -1;
    CHECK_OK(so_sendrecv(c, &v, 4, (rank + 1) % k, &w, 4, (rank + k - 1) % k, 0));
    CHECK_EQ_INT(w, (rank + k - 1) % k);
    so_comm *sub;
    CHECK_OK(so_comm_split(c, 0, -rank, &sub));
    CHECK_EQ_INT(so_comm_rank(sub), k - 1 - rank);
    so_comm_destroy(sub);
    so_comm_destroy(c);
    return 0;
}

static int t_init_from_env_torchrun(void) {
    so_store_server *srv;
    CHECK_OK(so_store_server_start("127.0.0.1", 0, &srv));
    int port = so_store_server_port(srv), k = 3, failed = 0;
    pid_t pids[3];
    fflush(stdout);
    for (int r = 0; r < k; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            alarm(60);
            int rc = env_child(r, k, port);
            fflush(stdout);
            _exit(rc);
        }
    }
    for (int r = 0; r < k; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "rank %d failed (status 0x%x)\n", r, st);
            failed = 1;
        }
    }
    so_store_server_stop(srv);
    return failed;
}

/* A rank that dies before joining: creation fails at the deadline and names it. */
static int t_dies_during_create(void) {
    char dir[] = "/tmp/so-create-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        alarm(30);
        so_store *st;
        so_comm *c = NULL;
        so_comm_config cfg;
        so_comm_config_default(&cfg);
        cfg.rank = 0;
        cfg.size = 3;
        cfg.transport = "tcp";
        cfg.timeout_ms = 1000;
        int ok = so_store_create_file(dir, &st) == SO_OK;
        cfg.store = st;
        int rc = ok ? so_comm_create(&cfg, &c) : SO_EINVAL;
        printf("[rank 0] %s: %s\n", so_err_name(rc), so_last_error());
        ok =
            ok && rc == SO_ETIMEDOUT && c == NULL && strstr(so_last_error(), "rank 1 never joined");
        exit(ok ? 0 : 1);
    }
    if (fork() == 0) {
        _exit(0); /* rank 1: dies at once */
    }
    int st, failed = 0;
    waitpid(p, &st, 0);
    failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    while (wait(NULL) > 0) {
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return failed;
}

/* Open MPI's variables and a job id: the ranks meet in a file store under /dev/shm, which
 * rank 0 removes at destroy; with nothing set, a group of one. */
static int t_init_from_env_mpi(void) {
    char job[64];
    snprintf(job, sizeof job, "test-%d", (int)getpid());
    fflush(stdout);
    pid_t pids[2];
    for (int r = 0; r < 2; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            alarm(60);
            char b[16];
            snprintf(b, sizeof b, "%d", r);
            setenv("OMPI_COMM_WORLD_RANK", b, 1);
            setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
            snprintf(b, sizeof b, "%d", 1 - r); /* the launcher's local rank wins */
            setenv("OMPI_COMM_WORLD_LOCAL_RANK", b, 1);
            setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
            setenv("SO_JOB_ID", job, 1);
            unsetenv("MASTER_ADDR");
            unsetenv("RANK");
            unsetenv("SO_RANK");
            so_comm *c;
            int rc = so_comm_init_from_env(&c);
            if (rc < 0) {
                fprintf(stderr, "rank %d: %s\n", r, so_last_error());
                exit(1);
            }
            int v = r, w = -1;
            if (so_comm_local_rank(c) != 1 - r || so_comm_local_size(c) != 2) {
                fprintf(stderr, "rank %d: local rank %d, want %d\n", r, so_comm_local_rank(c),
                        1 - r);
                exit(1);
            }
            rc = so_sendrecv(c, &v, 4, 1 - r, &w, 4, 1 - r, 0);
            so_comm_destroy(c);
            exit(rc == SO_OK && w == 1 - r ? 0 : 1);
        }
    }
    int failed = 0;
    for (int r = 0; r < 2; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    char dir[128];
    snprintf(dir, sizeof dir, "/dev/shm/scaleout-%s", job);
    CHECK(access(dir, F_OK) != 0); /* rank 0 cleaned up */
    /* Nothing set: a group of one that can talk to itself. */
    const char *vars[] = {"SO_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (int i = 0; i < 5; i++) {
        unsetenv(vars[i]);
    }
    so_comm *c;
    CHECK_OK(so_comm_init_from_env(&c));
    CHECK_EQ_INT(so_comm_size(c), 1);
    int v = 42, w = 0;
    CHECK_OK(so_sendrecv(c, &v, 4, 0, &w, 4, 0, 0));
    CHECK_EQ_INT(w, 42);
    so_comm_destroy(c);
    return failed;
}

/* A stranger connects to rank 0's tcp listener during setup and sends a bad hello: rank 0 drops
 * it, and the group still forms when rank 1 arrives. */
static int stray_rank(const char *dir, int rank) {
    alarm(30);
    so_store *st;
    so_comm *c;
    so_comm_config cfg;
    so_comm_config_default(&cfg);
    cfg.rank = rank;
    cfg.size = 2;
    cfg.transport = "tcp";
    cfg.timeout_ms = 10000;
    cfg.name = "stray";
    if (so_store_create_file(dir, &st) < 0) {
        return 1;
    }
    cfg.store = st;
    if (so_comm_create(&cfg, &c) < 0) {
        fprintf(stderr, "rank %d: %s\n", rank, so_last_error());
        return 1;
    }
    int v = rank, w = -1;
    int rc = so_sendrecv(c, &v, 4, 1 - rank, &w, 4, 1 - rank, 0);
    so_comm_destroy(c);
    so_store_destroy(st);
    return rc == SO_OK && w == 1 - rank ? 0 : 1;
}

static int t_stray_connection(void) {
    char dir[] = "/tmp/so-stray-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    /* A placeholder record lets rank 0 finish the info exchange and wait in accept for rank 1
     * (the real rank 1 overwrites it later; rank 0 has read it by then). */
    so_store *st;
    CHECK_OK(so_store_create_file(dir, &st));
    CHECK_OK(so_store_set(st, "stray/info/1", "1 elsewhere/net:0 elsewhere", 27));
    fflush(stdout);
    pid_t p0 = fork();
    if (p0 == 0) {
        exit(stray_rank(dir, 0));
    }
    /* Rank 0 published its address; play the stranger. */
    char val[128] = {0};
    size_t len;
    CHECK_OK(so_store_get(st, "stray/tcp/0", val, sizeof val - 1, &len, 10000));
    char host[64];
    int port;
    CHECK_EQ_INT(sscanf(val, "%63s %d", host, &port), 2);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    CHECK_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char junk[208];                 /* sizeof the hello in src/comm/tcp/tcp.c */
    memset(junk, 'x', sizeof junk); /* right size for a hello, wrong magic and prefix */
    CHECK_EQ_INT(write(fd, junk, sizeof junk), (long long)sizeof junk);
    char b;
    CHECK_EQ_INT(read(fd, &b, 1), 0); /* rejected: closed without an ack */
    close(fd);
    pid_t p1 = fork();
    if (p1 == 0) {
        exit(stray_rank(dir, 1));
    }
    int s0, s1;
    waitpid(p0, &s0, 0);
    waitpid(p1, &s1, 0);
    so_store_destroy(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    CHECK(WIFEXITED(s0) && WEXITSTATUS(s0) == 0);
    CHECK(WIFEXITED(s1) && WEXITSTATUS(s1) == 0);
    return 0;
}

/* Reliability test 2: rank 3 hangs (alive, never enters). Rank 0, waiting for it, times out;
 * the ranks waiting for rank 0 or 1 learn from the abort notice why, and every survivor's error
 * names rank 3, not its own neighbour. */
static int hang_fn(so_comm *c, int rank, void *arg) {
    (void)arg;
    /* Rank 0 gives up first; the others would wait longer, so the notice reaches them first
     * (with equal timeouts whoever times out first is a race). */
    so_comm_set_timeout_ms(c, rank == 0 ? 1000 : 5000);
    if (rank == 3) {
        so_sleep_ns(3000000000LL);
        return 0;
    }
    int k = so_comm_size(c), v = rank, w;
    so__coll_sig sig = {
        .kind = SO__KIND_ALLREDUCE, .dtype = SO_I32, .op = SO_SUM, .root = -1, .count = 1};
    CHECK_OK(so__coll_begin(c, &sig));
    double t0 = so_now_s();
    /* A ring all-gather: each step forwards what arrived, so everyone ends up waiting on 3. */
    int rc = SO_OK;
    for (int step = 0; step < k - 1 && rc == SO_OK; step++) {
        rc = so__sendrecv(c, (rank + 1) % k, &v, 4, (rank + k - 1) % k, &w, 4);
        v = w;
    }
    rc = so__coll_end(c, rc);
    double dt = so_now_s() - t0;
    const char *e = so_comm_last_error(c);
    printf("[rank %d] %s after %.3f s: %s\n", rank, so_err_name(rc), dt, e);
    CHECK(rc == (rank == 0 ? SO_ETIMEDOUT : SO_EPEER));
    CHECK(strstr(e, "allreduce(count=1, i32, sum) seq 1") != NULL);
    CHECK(strstr(e, rank == 0 ? "waiting for rank 3" : "involving rank 3") != NULL);
    CHECK(dt < 10.0);
    return 0;
}
static int t_hang_names_culprit(void) {
    return so_test_ranks(4, "tcp", hang_fn, NULL, 30000);
}

SO_TEST_MAIN({"hang_names_culprit", t_hang_names_culprit}, {"stray_connection", t_stray_connection},
             {"dies_during_create", t_dies_during_create},
             {"init_from_env_mpi", t_init_from_env_mpi},
             {"killed_mid_transfer", t_killed_mid_transfer}, {"never_sends", t_never_sends},
             {"desync", t_desync}, {"poisoned_fast", t_poisoned_fast},
             {"abort_then_regroup", t_abort_then_regroup},
             {"killed_mid_transfer_shm", t_killed_mid_transfer_shm},
             {"never_sends_shm", t_never_sends_shm}, {"desync_shm", t_desync_shm},
             {"abort_then_regroup_shm", t_abort_then_regroup_shm},
             {"init_from_env_torchrun", t_init_from_env_torchrun})
