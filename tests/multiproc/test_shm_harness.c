/*
 * The fork harness of the shm transport tests and benchmark (see test_shm_harness.h). Ranks meet
 * through so_store_create_file in a mkdtemp directory; each sets "pid/<r>" and reads the others so
 * the transport can watch its peers' liveness. Cost: one fork per rank and a few store files.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_shm_harness.h"

void shm_set_send(so__xfer *x, int peer, const void *buf, size_t len, uint32_t tag) {
    memset(x, 0, sizeof *x);
    x->peer = peer;
    x->is_send = 1;
    x->buf = (void *)buf;
    x->len = len;
    x->hdr.magic = SO__MSG_MAGIC;
    x->hdr.tag = tag;
    x->hdr.len = len;
    x->hdr.sig.kind = SO__KIND_P2P;
}

void shm_set_recv(so__xfer *x, int peer, void *buf, size_t len, uint32_t tag) {
    shm_set_send(x, peer, buf, len, tag);
    x->is_send = 0;
}

int shm_xfer(shm_rank *r, so__xfer *xs, int n, int timeout_ms) {
    so__xfer *w[64];
    if (n > 64) {
        return so__fail(SO_EINVAL, "shm_xfer: at most 64 transfers");
    }
    for (int i = 0; i < n; i++) {
        SO_TRY(r->t->ops->post(r->t, &xs[i]));
        w[i] = &xs[i];
    }
    SO_TRY(r->t->ops->progress(r->t, w, n, so_deadline_after_ms(timeout_ms)));
    for (int i = 0; i < n; i++) {
        if (xs[i].status < 0) {
            return xs[i].status;
        }
    }
    return SO_OK;
}

static int child(int rank, int n, const char *dir, shm_rank_fn fn, void *arg) {
    so_store *st = NULL;
    if (so_store_create_file(dir, &st) < 0) {
        fprintf(stderr, "rank %d: store: %s\n", rank, so_last_error());
        return 3;
    }
    char key[64], val[32];
    snprintf(key, sizeof key, "pid/%d", rank);
    snprintf(val, sizeof val, "%d", (int)getpid());
    int pids[64], peers[64], np = 0;
    if (so_store_set(st, key, val, strlen(val) + 1) < 0) {
        return 3;
    }
    for (int r = 0; r < n; r++) {
        size_t len = 0;
        snprintf(key, sizeof key, "pid/%d", r);
        if (so_store_get(st, key, val, sizeof val - 1, &len, 10000) < 0) {
            fprintf(stderr, "rank %d: %s\n", rank, so_last_error());
            return 3;
        }
        val[len < sizeof val ? len : sizeof val - 1] = 0;
        pids[r] = atoi(val);
        if (r != rank) {
            peers[np++] = r;
        }
    }
    so__transport_init in = {.rank = rank,
                             .size = n,
                             .peers = peers,
                             .npeers = np,
                             .pids = pids,
                             .store = st,
                             .prefix = "test",
                             .deadline_ns = so_deadline_after_ms(10000)};
    shm_rank r = {.rank = rank, .size = n, .store = st};
    if (so__transport_shm_open(&in, &r.t) < 0) {
        fprintf(stderr, "rank %d: open: %s: %s\n", rank, so_err_name(-1), so_last_error());
        return 3;
    }
    int rc = fn(&r, arg);
    if (r.t) { /* a case may close it itself */
        r.t->ops->close(r.t);
    }
    so_store_destroy(st);
    return rc;
}

int shm_run(int n, shm_rank_fn fn, void *arg, int timeout_ms, unsigned killed_ok) {
    char dir[] = "/tmp/so_shm_test.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pids[64];
    for (int r = 0; r < n; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            int rc = child(r, n, dir, fn, arg);
            fflush(stdout);
            fflush(stderr);
            _exit(rc);
        }
    }
    int bad = 0, left = n;
    int64_t deadline = so_deadline_after_ms(timeout_ms);
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) {
            if (so_now_ns() > deadline) {
                fprintf(stderr, "harness: ranks still running after %d ms; killing them\n",
                        timeout_ms);
                for (int r = 0; r < n; r++) {
                    if (pids[r] > 0) {
                        kill(pids[r], SIGKILL);
                    }
                }
                bad = 1;
                deadline = INT64_MAX;
            }
            so_sleep_ns(1000000);
            continue;
        }
        if (pid < 0) {
            break;
        }
        int r = 0;
        while (r < n && pids[r] != pid) {
            r++;
        }
        if (r == n) {
            continue;
        }
        pids[r] = -1;
        left--;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            continue;
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && (killed_ok >> r & 1u)) {
            continue;
        }
        if (WIFEXITED(status)) {
            fprintf(stderr, "harness: rank %d exited with %d\n", r, WEXITSTATUS(status));
        } else {
            fprintf(stderr, "harness: rank %d died of signal %d\n", r, WTERMSIG(status));
        }
        bad = 1;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "harness: could not remove %s\n", dir);
    }
    return bad;
}
