/*
 * Starting one worker: fork, then in the child only async-signal-safe calls (the launcher may
 * run the store server's thread): its own process group (so the launcher can signal the
 * worker's whole tree), SIGKILL if the launcher dies (PR_SET_PDEATHSIG), default signal
 * dispositions and an empty mask, the pipes on fds 1 and 2, every other descriptor closed on
 * exec, then execve with an environment the parent built. A close-on-exec pipe reports an exec
 * failure's errno to the parent, which therefore knows "cannot execute" at once instead of
 * seeing exit code 127 later.
 * Cost: one fork + exec per worker, about 0.3-1 ms for a small launcher process.
 * Limits: the program is searched in PATH by the parent (execve does no search).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* Only async-signal-safe calls from here until execve. */
static _Noreturn void child(const char *path, char *const argv[], char *const envp[], int in_fd,
                            int out_fd, int err_fd, int status_fd, pid_t parent) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) { /* the launcher died before prctl took effect */
        _exit(127);
    }
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        signal(sigs[i], SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (in_fd < 0) {
        in_fd = open("/dev/null", O_RDONLY);
    }
    if ((in_fd >= 0 && dup2(in_fd, 0) < 0) || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
        int e = errno;
        (void)!write(status_fd, &e, sizeof e);
        _exit(127);
    }
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC); /* best effort on old kernels */
    execve(path, argv, envp);
    int e = errno;
    (void)!write(status_fd, &e, sizeof e);
    _exit(127);
}

int so__spawn(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd,
              int err_fd, pid_t *pid) {
    int st[2];
    if (pipe2(st, O_CLOEXEC) < 0) {
        return so__fail(SO_ESYS, "pipe2 for starting '%s' failed: %s", path, strerror(errno));
    }
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) {
        int e = errno;
        close(st[0]);
        close(st[1]);
        return so__fail(SO_ESYS, "fork for '%s' failed: %s", path, strerror(e));
    }
    if (p == 0) {
        close(st[0]);
        child(path, argv, envp, in_fd, out_fd, err_fd, st[1], parent);
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
