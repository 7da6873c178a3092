/*
 * so_test_ranks: runs a test case on n forked processes that form one group. The parent makes
 * a fresh file-store directory (mkdtemp), forks n children into one process group (each also
 * dies with the parent), and each child builds the group over the requested transport, runs
 * fn(comm, rank, arg) and exits with its return value. The parent waits until all exit or the
 * deadline passes, then kills the whole process group, prints each failing rank (exit code or
 * signal) and removes the directory.
 * A transport that is not built (so_comm_create returns SO_ENOTSUP) makes the ranks exit 77,
 * and the whole call returns SO_TEST_SKIP. With SO_TEST_HOSTS=h in the environment the ranks
 * pretend to sit on h hosts (consecutive blocks, through SO_HOST_ID), so multi-host paths (shm
 * inside a host, tcp across) run on one machine.
 */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scaleout/comm.h"
#include "so_test.h"

static int child(int rank, int n, const char *dir, const char *transport, so_test_rank_fn fn,
                 void *arg) {
    so_log_set_rank(rank);
    /* SO_TEST_HOSTS=h pretends the ranks run on h hosts (consecutive blocks of ranks). */
    const char *hosts = getenv("SO_TEST_HOSTS");
    if (hosts && atoi(hosts) > 1) {
        char id[32];
        snprintf(id, sizeof id, "testhost%d", rank * atoi(hosts) / n);
        setenv("SO_HOST_ID", id, 1);
    }
    so_store *store = NULL;
    int rc = so_store_create_file(dir, &store);
    if (rc < 0) {
        fprintf(stderr, "[rank %d] so_store_create_file: %s\n", rank, so_last_error());
        return 1;
    }
    so_comm_config cfg;
    so_comm_config_default(&cfg);
    cfg.rank = rank;
    cfg.size = n;
    cfg.transport = transport;
    cfg.store = store;
    cfg.name = "test";
    so_comm *c = NULL;
    rc = so_comm_create(&cfg, &c);
    if (rc == SO_ENOTSUP) {
        printf("[rank %d] SKIP: transport %s: %s\n", rank, transport, so_last_error());
        so_store_destroy(store);
        return SO_TEST_SKIP;
    }
    if (rc < 0) {
        fprintf(stderr, "[rank %d] so_comm_create(%s): %s: %s\n", rank, transport, so_err_name(rc),
                so_last_error());
        so_store_destroy(store);
        return 1;
    }
    int res = fn(c, rank, arg);
    so_comm_destroy(c);
    so_store_destroy(store);
    return res;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

int so_test_ranks_ex(int n, const char *transport, so_test_rank_fn fn, void *arg, int timeout_ms,
                     unsigned long killed_ok) {
    char dir[] = "/tmp/so-test-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "so_test_ranks: mkdtemp failed\n");
        return 1;
    }
    if (timeout_ms <= 0) {
        timeout_ms = 60000;
    }
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int *status = calloc((size_t)n, sizeof *status);
    int *done = calloc((size_t)n, sizeof *done);
    if (!pids || !status || !done) {
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pgid = 0;
    for (int r = 0; r < n; r++) {
        pid_t p = fork();
        if (p < 0) {
            fprintf(stderr, "so_test_ranks: fork failed\n");
            n = r;
            break;
        }
        if (p == 0) {
            setpgid(0, pgid);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) {
                _exit(1);
            }
            int rc = child(r, n, dir, transport, fn, arg);
            exit(rc); /* exit, not _exit: sanitizers report and set the code at exit */
        }
        setpgid(p, pgid);
        if (!pgid) {
            pgid = p;
        }
        pids[r] = p;
    }
    int64_t deadline = so_deadline_after_ms(timeout_ms);
    int left = n, timed_out = 0;
    while (left > 0) {
        for (int r = 0; r < n; r++) {
            if (!done[r] && waitpid(pids[r], &status[r], WNOHANG) == pids[r]) {
                done[r] = 1;
                left--;
            }
        }
        if (left && so_now_ns() > deadline) {
            timed_out = 1;
            break;
        }
        if (left) {
            so_sleep_ns(2000000);
        }
    }
    if (timed_out) {
        kill(-pgid, SIGKILL);
        for (int r = 0; r < n; r++) {
            if (!done[r]) {
                kill(pids[r], SIGKILL);
                waitpid(pids[r], &status[r], 0);
            }
        }
    } else if (pgid) {
        kill(-pgid, SIGKILL); /* anything a rank left behind */
    }
    int failed = 0, skipped = 0;
    for (int r = 0; r < n; r++) {
        int st = status[r];
        if (!done[r]) {
            fprintf(stderr, "so_test_ranks: rank %d did not finish within %d ms (killed)\n", r,
                    timeout_ms);
            failed++;
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == SO_TEST_SKIP) {
            skipped++;
        } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && (killed_ok >> r & 1)) {
        } else if (WIFEXITED(st)) {
            fprintf(stderr, "so_test_ranks: rank %d exited with code %d\n", r, WEXITSTATUS(st));
            failed++;
        } else if (WIFSIGNALED(st)) {
            fprintf(stderr, "so_test_ranks: rank %d was killed by signal %d (%s)\n", r,
                    WTERMSIG(st), strsignal(WTERMSIG(st)));
            failed++;
        }
    }
    remove_dir(dir);
    free(pids);
    free(status);
    free(done);
    if (failed) {
        return 1;
    }
    return skipped ? SO_TEST_SKIP : 0;
}

int so_test_ranks(int n, const char *transport, so_test_rank_fn fn, void *arg, int timeout_ms) {
    return so_test_ranks_ex(n, transport, fn, arg, timeout_ms, 0);
}
