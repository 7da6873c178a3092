/*
 * Tests of `scaleout run` from the outside: each case starts the real scaleout binary with
 * launch_worker (tests/multiproc/launch_worker.c) as the program, captures the launcher's
 * stdout and stderr separately, and checks the environment contract, output labelling, fate
 * sharing (exit code, the report naming the first failing rank, every worker gone), restarts,
 * signal forwarding, the timeout and the command-line errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "so_test.h"

#ifndef SO_SCALEOUT_EXE
#error "SO_SCALEOUT_EXE must name the scaleout binary"
#endif
#ifndef SO_LAUNCH_WORKER_EXE
#error "SO_LAUNCH_WORKER_EXE must name the launch_worker binary"
#endif

enum { CAP = 1 << 18 };

typedef struct proc {
    pid_t pid;
    int out_fd, err_fd;
    char out[CAP], err[CAP];
    size_t nout, nerr;
    int status;
} proc;

static proc P;                 /* one run at a time; large buffers stay off the stack */
static int start_ignoring_hup; /* start the launcher as nohup would: SIGHUP ignored */

static int start(char *const argv[]) {
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
        return -1;
    }
    memset(&P, 0, sizeof P);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        if (start_ignoring_hup) {
            signal(SIGHUP, SIG_IGN);
        }
        execv(argv[0], argv);
        _exit(126);
    }
    close(po[1]);
    close(pe[1]);
    P.pid = pid;
    P.out_fd = po[0];
    P.err_fd = pe[0];
    return 0;
}

/* Collects output until both pipes close, then reaps; SIGKILL after timeout_s. Returns 0 if the
 * launcher ended by itself. */
static int finish(double timeout_s) {
    int64_t deadline = so_deadline_after_ms((int64_t)(timeout_s * 1000));
    int killed = 0;
    while (P.out_fd >= 0 || P.err_fd >= 0) {
        struct pollfd pf[2] = {{.fd = P.out_fd, .events = POLLIN},
                               {.fd = P.err_fd, .events = POLLIN}};
        int64_t left = (deadline - so_now_ns()) / 1000000;
        int r = poll(pf, 2, left > 0 ? (int)left : 0);
        if (r == 0 && so_now_ns() >= deadline) {
            kill(P.pid, SIGKILL);
            killed = 1;
            deadline = so_deadline_after_ms(5000);
        }
        for (int i = 0; i < 2; i++) {
            if (!pf[i].revents) {
                continue;
            }
            char *buf = i == 0 ? P.out : P.err;
            size_t *n = i == 0 ? &P.nout : &P.nerr;
            int *fd = i == 0 ? &P.out_fd : &P.err_fd;
            ssize_t got = read(*fd, buf + *n, CAP - 1 - *n);
            if (got > 0) {
                *n += (size_t)got;
                buf[*n] = '\0';
            } else if (got == 0 || errno != EINTR) {
                close(*fd);
                *fd = -1;
            }
        }
    }
    while (waitpid(P.pid, &P.status, 0) < 0 && errno == EINTR) {
    }
    if (killed) {
        fprintf(stderr, "the launcher did not end within %.0f s\nstdout:\n%s\nstderr:\n%s\n",
                timeout_s, P.out, P.err);
    }
    return killed ? -1 : 0;
}

static int exit_code(void) {
    return WIFEXITED(P.status) ? WEXITSTATUS(P.status) : 128 + WTERMSIG(P.status);
}

/* Runs scaleout with the given words (NULL-terminated) and waits. */
static int run(const char *const *words) {
    char *argv[64];
    int n = 0;
    argv[n++] = SO_SCALEOUT_EXE;
    for (; words[n - 1] && n < 63; n++) {
        argv[n] = (char *)words[n - 1];
    }
    argv[n] = NULL;
    if (start(argv) < 0) {
        return -1;
    }
    return finish(30);
}

#define RUN(...) CHECK(run((const char *const[]){__VA_ARGS__, NULL}) == 0)
#define W SO_LAUNCH_WORKER_EXE
#define HAS(hay, needle)                                                                           \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            SO_TEST_FAIL_("expected \"%s\" in %s:\n%s", (needle), #hay, (hay));                    \
    } while (0)
#define HASNT(hay, needle)                                                                         \
    do {                                                                                           \
        if (strstr((hay), (needle)))                                                               \
            SO_TEST_FAIL_("did not expect \"%s\" in %s:\n%s", (needle), #hay, (hay));              \
    } while (0)

/* The value of KEY in the "[rank R] KEY=VALUE" lines of stdout. */
static const char *value_of(int rank, const char *key) {
    static char val[512];
    char pat[128];
    snprintf(pat, sizeof pat, "[rank %d] %s=", rank, key);
    const char *p = strstr(P.out, pat);
    if (!p) {
        return "(missing)";
    }
    p += strlen(pat);
    size_t n = strcspn(p, "\n");
    snprintf(val, sizeof val, "%.*s", (int)n, p);
    return val;
}

static char *tempdir(void) {
    static char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/so-launch-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(dir);
}

static void rmtree(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

/* 0 if every pid recorded in dir/pid.* (ranks 0..n-1) no longer exists. */
static int all_gone(const char *dir, int n) {
    for (int r = 0; r < n; r++) {
        char path[512];
        snprintf(path, sizeof path, "%s/pid.%d", dir, r);
        FILE *f = fopen(path, "r");
        long pid = 0;
        if (!f || fscanf(f, "%ld", &pid) != 1) {
            fprintf(stderr, "rank %d recorded no pid in %s\n", r, path);
            if (f) {
                fclose(f);
            }
            return -1;
        }
        fclose(f);
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
            fprintf(stderr, "worker %d (pid %ld) is still alive\n", r, pid);
            return -1;
        }
    }
    return 0;
}

static int wait_pids(const char *dir, int n) {
    for (int tries = 0; tries < 1000; tries++) {
        int have = 0;
        for (int r = 0; r < n; r++) {
            char path[512];
            snprintf(path, sizeof path, "%s/pid.%d", dir, r);
            have += access(path, F_OK) == 0;
        }
        if (have == n) {
            return 0;
        }
        so_sleep_ns(10000000);
    }
    return -1;
}

static int t_env(void) {
    setenv("SO_RANK", "7", 1); /* must not reach the workers: the library reads it before RANK */
    unsetenv("OMP_NUM_THREADS");
    RUN("run", "-n", "3", "--transport", "tcp", "--", W, "env");
    unsetenv("SO_RANK");
    CHECK_EQ_INT(exit_code(), 0);
    const char *port0 = NULL;
    char port[32], run_id[128], errfile[3][512];
    for (int r = 0; r < 3; r++) {
        char rs[16];
        snprintf(rs, sizeof rs, "%d", r);
        CHECK_STR_EQ(value_of(r, "RANK"), rs);
        CHECK_STR_EQ(value_of(r, "LOCAL_RANK"), rs);
        CHECK_STR_EQ(value_of(r, "ROLE_RANK"), rs);
        CHECK_STR_EQ(value_of(r, "WORLD_SIZE"), "3");
        CHECK_STR_EQ(value_of(r, "LOCAL_WORLD_SIZE"), "3");
        CHECK_STR_EQ(value_of(r, "ROLE_WORLD_SIZE"), "3");
        CHECK_STR_EQ(value_of(r, "GROUP_RANK"), "0");
        CHECK_STR_EQ(value_of(r, "GROUP_WORLD_SIZE"), "1");
        CHECK_STR_EQ(value_of(r, "ROLE_NAME"), "default");
        CHECK_STR_EQ(value_of(r, "MASTER_ADDR"), "127.0.0.1");
        CHECK_STR_EQ(value_of(r, "TORCHELASTIC_RESTART_COUNT"), "0");
        CHECK_STR_EQ(value_of(r, "TORCHELASTIC_MAX_RESTARTS"), "0");
        CHECK_STR_EQ(value_of(r, "SO_TRANSPORT"), "tcp");
        CHECK_STR_EQ(value_of(r, "SO_RANK"), "(unset)");
        CHECK_STR_EQ(value_of(r, "OMP_NUM_THREADS"), "1"); /* torchrun's default for K > 1 */
        if (r == 0) {
            snprintf(port, sizeof port, "%s", value_of(0, "MASTER_PORT"));
            snprintf(run_id, sizeof run_id, "%s", value_of(0, "TORCHELASTIC_RUN_ID"));
            port0 = port;
            CHECK(atoi(port) > 0 && atoi(port) < 65536);
            CHECK(strlen(run_id) > 0 && strcmp(run_id, "(unset)") != 0);
        } else {
            CHECK_STR_EQ(value_of(r, "MASTER_PORT"), port0);
            CHECK_STR_EQ(value_of(r, "TORCHELASTIC_RUN_ID"), run_id);
        }
        snprintf(errfile[r], sizeof errfile[r], "%s", value_of(r, "TORCHELASTIC_ERROR_FILE"));
        CHECK(errfile[r][0] == '/');
    }
    CHECK(strcmp(errfile[0], errfile[1]) != 0 && strcmp(errfile[1], errfile[2]) != 0);
    /* Without --transport the workers inherit the launcher's SO_TRANSPORT. */
    setenv("SO_TRANSPORT", "shm", 1);
    setenv("OMP_NUM_THREADS", "2", 1); /* and a thread count the user chose */
    RUN("run", "-n", "2", "--", W, "env");
    unsetenv("SO_TRANSPORT");
    unsetenv("OMP_NUM_THREADS");
    CHECK_EQ_INT(exit_code(), 0);
    CHECK_STR_EQ(value_of(1, "SO_TRANSPORT"), "shm");
    CHECK_STR_EQ(value_of(1, "OMP_NUM_THREADS"), "2");
    /* torchrun's spellings, and RANK = node_rank * K + local_rank on a second node. */
    RUN("run", "--nproc_per_node=2", "--nnodes", "2", "--node_rank=1", "--master-addr", "127.0.0.1",
        "--master-port", "29999", "--max_restarts=0", W, "env");
    CHECK_EQ_INT(exit_code(), 0);
    CHECK_STR_EQ(value_of(2, "RANK"), "2");
    CHECK_STR_EQ(value_of(2, "LOCAL_RANK"), "0");
    CHECK_STR_EQ(value_of(3, "RANK"), "3");
    CHECK_STR_EQ(value_of(3, "LOCAL_RANK"), "1");
    CHECK_STR_EQ(value_of(3, "WORLD_SIZE"), "4");
    CHECK_STR_EQ(value_of(3, "GROUP_RANK"), "1");
    CHECK_STR_EQ(value_of(3, "GROUP_WORLD_SIZE"), "2");
    CHECK_STR_EQ(value_of(3, "MASTER_PORT"), "29999");
    HASNT(P.out, "[rank 0]");
    return 0;
}

static int t_store(void) {
    RUN("run", "-n", "3", "--", W, "store");
    CHECK_EQ_INT(exit_code(), 0);
    for (int r = 0; r < 3; r++) {
        char want[64];
        snprintf(want, sizeof want, "[rank %d] store ok %d/3\n", r, r);
        HAS(P.out, want);
    }
    return 0;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Two launchers on one host playing two nodes: node 0 serves the store on the given port, the
 * four workers of both nodes exchange keys through it. */
static int t_two_nodes(void) {
    int port = free_port();
    CHECK(port > 0);
    char master[64];
    snprintf(master, sizeof master, "127.0.0.1:%d", port);
    /* --timeout: should a check below fail and leave it unwaited, it still ends. */
    char *node1[] = {
        SO_SCALEOUT_EXE, "run",  "-n",        "2",  "--nnodes", "2", "--node-rank", "1",
        "--master",      master, "--timeout", "60", "--",       W,   "store",       NULL};
    /* Node 1 first: its workers must wait for node 0's store (connect deadline). */
    static proc n1;
    CHECK(start(node1) == 0);
    n1 = P;
    RUN("run", "-n", "2", "--nnodes", "2", "--node-rank", "0", "--master", master, "--", W,
        "store");
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "[rank 0] store ok 0/4\n");
    HAS(P.out, "[rank 1] store ok 1/4\n");
    P = n1;
    CHECK(finish(30) == 0);
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "[rank 2] store ok 2/4\n");
    HAS(P.out, "[rank 3] store ok 3/4\n");
    return 0;
}

/* A failure on node 1 after the group formed: the library fails the ranks on node 0 too (dead
 * peer), both launchers restart their workers once, and the four meet again in node 0's store
 * under the new restart count. */
static int t_two_nodes_restart(void) {
    int port = free_port();
    CHECK(port > 0);
    char master[64];
    snprintf(master, sizeof master, "127.0.0.1:%d", port);
    char *node1[] = {SO_SCALEOUT_EXE,
                     "run",
                     "-n",
                     "2",
                     "--nnodes",
                     "2",
                     "--node-rank",
                     "1",
                     "--master",
                     master,
                     "--max-restarts",
                     "1",
                     "--timeout",
                     "60",
                     "--",
                     W,
                     "group",
                     "3",
                     "1",
                     NULL};
    static proc n1;
    CHECK(start(node1) == 0);
    n1 = P;
    RUN("run", "-n", "2", "--nnodes", "2", "--node-rank", "0", "--master", master, "--max-restarts",
        "1", "--", W, "group", "3", "1");
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "[rank 0] group ok 0/4 count 1\n");
    HAS(P.out, "[rank 1] group ok 1/4 count 1\n");
    HAS(P.err, "restart 1 of 1");
    HASNT(P.err, "[rank 0] [rank 0]"); /* the library's own label is not doubled */
    P = n1;
    CHECK(finish(30) == 0);
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "[rank 2] group ok 2/4 count 1\n");
    HAS(P.out, "[rank 3] group ok 3/4 count 1\n");
    HAS(P.err, "[rank 3] rank 3 leaves the group at restart count 0\n");
    HAS(P.err, "restart 1 of 1");
    return 0;
}

static int t_prefix(void) {
    RUN("run", "-n", "2", "--", W, "lines");
    CHECK_EQ_INT(exit_code(), 0);
    for (int r = 0; r < 2; r++) {
        char want[64];
        snprintf(want, sizeof want, "[rank %d] out one %d\n", r, r);
        HAS(P.out, want);
        snprintf(want, sizeof want, "[rank %d] out two %d\n", r, r);
        HAS(P.out, want);
        snprintf(want, sizeof want, "[rank %d] partial %d\n", r, r);
        HAS(P.out, want);
        snprintf(want, sizeof want, "[rank %d] err one %d\n", r, r);
        HAS(P.err, want);
    }
    HASNT(P.out, "err one");
    HASNT(P.err, "out one");
    RUN("run", "-n", "2", "--no-prefix", "--", W, "lines");
    CHECK_EQ_INT(exit_code(), 0);
    HASNT(P.out, "[rank");
    HAS(P.out, "out one 1\n");
    HAS(P.out, "partial 1\n");
    HAS(P.err, "err one 0\n");
    /* Any program works: two sets of env lines, labelled by rank. */
    RUN("run", "-n", "2", "--", "/usr/bin/env");
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "[rank 0] RANK=0\n");
    HAS(P.out, "[rank 1] RANK=1\n");
    return 0;
}

static int t_fate(void) {
    char *dir = tempdir();
    CHECK(dir);
    RUN("run", "-n", "3", "--", W, "fail", dir, "1", "3");
    CHECK_EQ_INT(exit_code(), 3);
    HAS(P.err, "rank 1 exited with code 3");
    HAS(P.err, "rank 1 is about to fail"); /* the stderr tail */
    HASNT(P.err, "rank 0 exited");
    CHECK(all_gone(dir, 3) == 0);
    rmtree(dir);
    return 0;
}

/* Rank 1 exits 3; rank 0 notices at once (a FIFO only rank 1 held open hangs up) and exits 4.
 * The scheduler often lets rank 0 finish exiting before rank 1 does, so the exit order would
 * blame rank 0; the death pipes order them by cause. Repeated, since a race is what is tested. */
static int t_cascade(void) {
    int cascades = 0, rounds = 0;
    for (; rounds < 40 && cascades < 5; rounds++) {
        char *dir = tempdir();
        CHECK(dir);
        RUN("run", "-n", "3", "--", W, "cascade", dir);
        CHECK_EQ_INT(exit_code(), 3);
        HAS(P.err, "rank 1 exited with code 3");
        HASNT(P.err, "rank 0 exited with code 4");
        /* Rank 0 failing on its own (rather than being stopped by the launcher first) is the
         * race under test; count how often it happened. */
        cascades += strstr(P.err, "[rank 0] rank 0 saw rank 1 go and exits 4") != NULL;
        rmtree(dir);
    }
    printf("rank 0 failed in turn in %d of %d rounds; rank 1 was blamed every time\n", cascades,
           rounds);
    CHECK(cascades > 0);
    return 0;
}

static int t_sigkill(void) {
    char *dir = tempdir();
    CHECK(dir);
    RUN("run", "-n", "2", "--", W, "sigkill", dir, "0");
    CHECK_EQ_INT(exit_code(), 128 + SIGKILL);
    HAS(P.err, "rank 0 was killed by SIGKILL");
    CHECK(all_gone(dir, 2) == 0);
    rmtree(dir);
    return 0;
}

static int t_restart(void) {
    RUN("run", "-n", "2", "--max-restarts", "2", "--", W, "restart", "2");
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "[rank 1] restart count 0\n");
    HAS(P.out, "[rank 1] restart count 1\n");
    HAS(P.out, "[rank 1] restart count 2\n");
    HAS(P.err, "restart 1 of 2");
    HAS(P.err, "restart 2 of 2");
    /* Too few restarts: the third attempt never comes and the failure is reported. */
    RUN("run", "-n", "2", "--max-restarts", "1", "--", W, "restart", "2");
    CHECK_EQ_INT(exit_code(), 1);
    HASNT(P.out, "restart count 2");
    HAS(P.err, "rank 1 exited with code 1 after 1 restart");
    HAS(P.err, "rank 1 fails at restart count 1");
    return 0;
}

static int file_has_q(const char *path, const char *needle, int quiet) {
    static char buf[65536];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 0;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    if (!strstr(buf, needle)) {
        if (!quiet) {
            fprintf(stderr, "expected \"%s\" in %s:\n%s\n", needle, path, buf);
        }
        return 0;
    }
    return 1;
}

static int file_has(const char *path, const char *needle) {
    return file_has_q(path, needle, 0);
}

static int t_log_dir(void) {
    char *dir = tempdir();
    CHECK(dir);
    char logs[300], path[400];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    RUN("run", "-n", "2", "--log-dir", logs, "--max-restarts", "1", "--", W, "restart", "1");
    CHECK_EQ_INT(exit_code(), 0);
    snprintf(path, sizeof path, "%s/attempt_0/1/stderr.log", logs);
    CHECK(file_has(path, "rank 1 fails at restart count 0\n"));
    snprintf(path, sizeof path, "%s/attempt_1/1/stdout.log", logs);
    CHECK(file_has(path, "restart count 1\n"));
    CHECK(!file_has_q(path, "[rank", 1)); /* the files are unlabelled */
    snprintf(path, sizeof path, "%s/attempt_1/0/stdout.log", logs);
    CHECK(file_has(path, "restart count 1\n"));
    RUN("run", "-n", "2", "--log-dir", logs, "--", W, "restart", "1");
    CHECK_EQ_INT(exit_code(), 1);
    snprintf(path, sizeof path, "rank 1's whole stderr: %s/attempt_0/1/stderr.log", logs);
    HAS(P.err, path);
    rmtree(dir);
    return 0;
}

static int t_restart_exhausted(void) {
    char *dir = tempdir();
    CHECK(dir);
    RUN("run", "-n", "1", "--max-restarts", "1", "--", W, "always", dir);
    CHECK_EQ_INT(exit_code(), 1);
    char path[512];
    snprintf(path, sizeof path, "%s/launches.0", dir);
    FILE *f = fopen(path, "r");
    CHECK(f);
    int lines = 0;
    for (int c; (c = fgetc(f)) != EOF;) {
        lines += c == '\n';
    }
    fclose(f);
    CHECK_EQ_INT(lines, 2); /* launched twice: the first run and one restart */
    HAS(P.err, "rank 0 exited with code 1 after 1 restart");
    HAS(P.err, "attempt 1 failed");
    rmtree(dir);
    return 0;
}

/* A start-up failure (a rank fails while the group forms) is not restarted unless asked. */
static int t_early(void) {
    RUN("run", "-n", "3", "--max-restarts", "2", "--", W, "early", "1");
    CHECK_EQ_INT(exit_code(), 1);
    HAS(P.err, "rank 1 fails at start-up (rank 0 joined)");
    HAS(P.err, "rank 1 exited with code 1 before the process group formed");
    HAS(P.err, "not restarting");
    HASNT(P.out, "early attempt 1");
    RUN("run", "-n", "3", "--max-restarts", "2", "--restart-early", "--", W, "early", "1");
    CHECK_EQ_INT(exit_code(), 1);
    HAS(P.out, "[rank 1] early attempt 1\n");
    HAS(P.out, "[rank 1] early attempt 2\n");
    HAS(P.err, "rank 1 exited with code 1 after 2 restarts");
    return 0;
}

static int signal_case(int sig) {
    char *dir = tempdir();
    CHECK(dir);
    char *argv[] = {SO_SCALEOUT_EXE, "run", "-n", "3", "--", W, "sleep", dir, NULL};
    CHECK(start(argv) == 0);
    CHECK(wait_pids(dir, 3) == 0);
    kill(P.pid, sig);
    CHECK(finish(30) == 0);
    CHECK_EQ_INT(exit_code(), 128 + sig);
    CHECK(all_gone(dir, 3) == 0);
    rmtree(dir);
    return 0;
}

static int t_signals(void) {
    CHECK_EQ_INT(signal_case(SIGTERM), 0);
    HAS(P.err, "stopped by SIGTERM");
    CHECK_EQ_INT(signal_case(SIGINT), 0);
    HAS(P.err, "stopped by SIGINT");
    return 0;
}

/* Under nohup (SIGHUP ignored) a hang-up neither stops the launcher nor reaches the workers. */
static int t_nohup(void) {
    char *dir = tempdir();
    CHECK(dir);
    char *argv[] = {SO_SCALEOUT_EXE, "run", "-n", "2", "--", W, "sleep", dir, NULL};
    start_ignoring_hup = 1;
    int rc = start(argv);
    start_ignoring_hup = 0;
    CHECK(rc == 0);
    CHECK(wait_pids(dir, 2) == 0);
    kill(P.pid, SIGHUP);
    char path[512];
    snprintf(path, sizeof path, "%s/pid.1", dir);
    FILE *f = fopen(path, "r");
    long wpid = 0;
    CHECK(f && fscanf(f, "%ld", &wpid) == 1);
    fclose(f);
    kill((pid_t)wpid, SIGHUP); /* the worker inherited the ignored SIGHUP */
    so_sleep_ns(200000000);
    int status;
    CHECK_EQ_INT(waitpid(P.pid, &status, WNOHANG), 0); /* the launcher still runs */
    CHECK_EQ_INT(kill((pid_t)wpid, 0), 0);             /* and so does the worker */
    kill(P.pid, SIGTERM);
    CHECK(finish(30) == 0);
    CHECK_EQ_INT(exit_code(), 128 + SIGTERM);
    CHECK(all_gone(dir, 2) == 0);
    rmtree(dir);
    return 0;
}

static int t_timeout(void) {
    char *dir = tempdir();
    CHECK(dir);
    RUN("run", "-n", "2", "--timeout", "0.5", "--", W, "sleep", dir);
    CHECK_EQ_INT(exit_code(), 124);
    HAS(P.err, "timeout");
    CHECK(all_gone(dir, 2) == 0);
    rmtree(dir);
    return 0;
}

static int t_bad_flags(void) {
    RUN("run", "--bogus", "-n", "2", "--", "true");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "'--bogus'");
    RUN("run", "--nproc-per-nod", "2", "--", "true");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "did you mean --nproc-per-node");
    RUN("run", "-n", "0", "--", "true");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "-n");
    RUN("run", "-n", "2");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "no program");
    RUN("run", "--nnodes", "2", "-n", "1", "--", "true");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "--master");
    RUN("run", "-n", "2", "--", "/nonexistent/program");
    CHECK_EQ_INT(exit_code(), 127);
    HAS(P.err, "cannot execute '/nonexistent/program'");
    RUN("run", "--help");
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "usage: scaleout run");
    RUN("info", "--bogus");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "'--bogus'");
    RUN("demo", "--bogus");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "'--bogus'");
    RUN("demo", "no-such-demo");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "no-such-demo");
    RUN("tour", "--bogus");
    CHECK_EQ_INT(exit_code(), 2);
    HAS(P.err, "'--bogus'");
    return 0;
}

static int t_info(void) {
    RUN("info");
    CHECK_EQ_INT(exit_code(), 0);
    HAS(P.out, "scaleout ");
    HAS(P.out, "transports");
    HAS(P.out, "OpenBLAS");
    HAS(P.out, "SO_TIMEOUT_MS");
    const char *cmds[] = {"info", "demo", "tour", "run"};
    for (int i = 0; i < 4; i++) {
        RUN(cmds[i], "--help");
        CHECK_EQ_INT(exit_code(), 0);
        HAS(P.out, "usage: scaleout");
    }
    return 0;
}

SO_TEST_MAIN({"env", t_env}, {"store", t_store}, {"two_nodes", t_two_nodes},
             {"two_nodes_restart", t_two_nodes_restart}, {"prefix", t_prefix}, {"fate", t_fate},
             {"cascade", t_cascade}, {"sigkill", t_sigkill}, {"restart", t_restart},
             {"restart_exhausted", t_restart_exhausted}, {"early", t_early}, {"log_dir", t_log_dir},
             {"signals", t_signals}, {"nohup", t_nohup}, {"timeout", t_timeout},
             {"bad_flags", t_bad_flags}, {"info", t_info})
