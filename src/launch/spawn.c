/*
 * Starting one worker: a fork done by a bare clone(), after which the child runs raw system
 * calls only (the launcher may run the store server's thread, and neither glibc's fork handlers
 * nor sanitizer interceptors run in between):
 * its own process group (so the launcher can signal the worker's whole tree), SIGKILL if the
 * launcher dies (PR_SET_PDEATHSIG), default signal dispositions and an empty mask, the pipes on
 * fds 1 and 2, every other descriptor closed on exec except the death pipe on a high fd (see
 * launch.c), then execve with an environment the parent
 * built. A close-on-exec pipe reports an exec failure's errno to the parent, which therefore
 * knows "cannot execute" at once instead of seeing exit code 127 later.
 * Cost: one clone + exec per worker, about 0.3-1 ms for a small launcher process.
 * Limits: the program is searched in PATH by the parent (execve does no search).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int is_executable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int so__resolve_program(const char *name, char *out, size_t cap) {
    if (!name || !*name) {
        return so__fail(SO_EINVAL, "no program given to run");
    }
    if (strchr(name, '/')) {
        if (!is_executable(name)) {
            return so__fail(SO_ENOENT, "cannot execute '%s': %s", name,
                            access(name, F_OK) ? "no such file" : "not an executable file");
        }
        snprintf(out, cap, "%s", name);
        return SO_OK;
    }
    const char *path = getenv("PATH");
    if (!path || !*path) {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        int w = dlen ? snprintf(out, cap, "%.*s/%s", (int)dlen, p, name)
                     : snprintf(out, cap, "./%s", name);
        if (w > 0 && (size_t)w < cap && is_executable(out)) {
            return SO_OK;
        }
        if (!colon) {
            break;
        }
        p = colon + 1;
    }
    return so__fail(SO_ENOENT, "cannot find program '%s' in PATH", name);
}

/* The child between clone and execve: raw system calls only. It is a copy of a launcher that
 * may run other threads (the store server) and it was made by a bare clone, not glibc's fork,
 * so no library function (with locks, or sanitizer interceptors) may run here. */
static void child_put(int fd, int target, int status_fd) {
    long rc = fd == target ? syscall(SYS_fcntl, fd, F_SETFD, 0) /* keep it across exec */
                           : syscall(SYS_dup3, fd, target, 0);
    if (rc < 0) {
        int e = errno;
        syscall(SYS_write, status_fd, &e, sizeof e);
        syscall(SYS_exit_group, 127);
    }
}

static _Noreturn void child(const char *path, char *const argv[], char *const envp[],
                            const so__spawn_fds *fds, int status_fd, pid_t parent) {
    int in_fd = fds->in;
    syscall(SYS_setpgid, 0, 0);
    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (syscall(SYS_getppid) != parent) { /* the launcher died before prctl took effect */
        syscall(SYS_exit_group, 127);
    }
    /* Default dispositions for the signals a host program may have ignored or caught (an
     * ignored one survives exec); SIGINT, SIGTERM, SIGHUP and SIGQUIT stay ignored if they
     * were (nohup, background jobs), else they get the default too. SIG_DFL is 0 and SIG_IGN 1,
     * so an all-zero kernel sigaction is "default, no flags, empty mask" on every architecture. */
    static const int reset[] = {SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2};
    static const int keep_ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    unsigned long ksa[4] = {0, 0, 0, 0}, cur[4];
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++) {
        syscall(SYS_rt_sigaction, reset[i], ksa, NULL, 8);
    }
    for (size_t i = 0; i < sizeof keep_ignored / sizeof keep_ignored[0]; i++) {
        cur[0] = 0;
        syscall(SYS_rt_sigaction, keep_ignored[i], NULL, cur, 8);
        if (cur[0] != (unsigned long)(uintptr_t)SIG_IGN) {
            syscall(SYS_rt_sigaction, keep_ignored[i], ksa, NULL, 8);
        }
    }
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
    if (fds->cpu >= 0 && fds->cpu < 1024) { /* pinned before exec, so every thread inherits it */
        unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {0};
        mask[fds->cpu / (8 * sizeof(unsigned long))] = 1UL
                                                       << (fds->cpu % (8 * sizeof(unsigned long)));
        syscall(SYS_sched_setaffinity, 0, sizeof mask, mask);
    }
    if (in_fd < 0) {
        in_fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
    }
    if (in_fd >= 0) {
        child_put(in_fd, 0, status_fd);
    }
    child_put(fds->out, 1, status_fd);
    child_put(fds->err, 2, status_fd);
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC); /* best effort on old kernels */
    if (fds->death >= 0) { /* after close_range, so it stays open across exec */
        child_put(fds->death, fds->death_at, status_fd);
    }
    syscall(SYS_execve, path, argv, envp);
    int e = errno;
    syscall(SYS_write, status_fd, &e, sizeof e);
    syscall(SYS_exit_group, 127);
    for (;;) {
    }
}

int so__spawn(const char *path, char *const argv[], char *const envp[], const so__spawn_fds *fds,
              pid_t *pid) {
    int st[2];
    if (pipe2(st, O_CLOEXEC) < 0) {
        return so__fail(SO_ESYS, "pipe2 for starting '%s' failed: %s", path, strerror(errno));
    }
    pid_t parent = getpid();
    /* What fork does, minus glibc's bookkeeping that the child does not need. (clone with
     * CLONE_VM | CLONE_VFORK, as posix_spawn does, saved about 0.3 ms per worker of the full
     * scaleout binary, but ThreadSanitizer takes it for a fork of a threaded process and stops
     * the launcher when it next starts a thread; a different exit signal would not survive the
     * child's execve.) */
    pid_t p = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);
    if (p < 0) {
        int e = errno;
        close(st[0]);
        close(st[1]);
        return so__fail(SO_ESYS, "clone for '%s' failed: %s", path, strerror(e));
    }
    if (p == 0) {
        syscall(SYS_close, st[0]);
        child(path, argv, envp, fds, st[1], parent);
    }
    close(st[1]);
    int child_errno = 0;
    ssize_t r;
    do {
        r = read(st[0], &child_errno, sizeof child_errno);
    } while (r < 0 && errno == EINTR);
    close(st[0]);
    if (r == (ssize_t)sizeof child_errno) { /* exec failed: reap the child now */
        while (waitpid(p, NULL, 0) < 0 && errno == EINTR) {
        }
        return so__fail(SO_ESYS, "cannot execute '%s': %s", path, strerror(child_errno));
    }
    *pid = p;
    return SO_OK;
}
