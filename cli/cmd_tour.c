/*
 * `scaleout tour`: every registered demo, one after another, each as its own process
 * (`scaleout demo NAME --quick`, or without --quick with --full) in its own process group with
 * a per-demo timeout. Prints one line per demo — its name, OK/FAIL, the time taken and the
 * demo's own final `chNN OK ...` / `chNN FAIL ...` line — then a summary, and exits 1 if any
 * demo failed. A demo that ends without such a line, exits non-zero or times out fails; the last
 * lines of its output are shown under it.
 * Cost: the demos' own; the tour adds a pipe and a poll loop per demo.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

enum { TOUR_KEEP = 1 << 16 };

static void tour_usage(FILE *f) {
    fprintf(f, "usage: scaleout tour [--full] [--timeout S] [--only PREFIX]\n\n"
               "Runs every demo (`scaleout demo NAME --quick`) as its own process and prints one\n"
               "line each, then a summary; exits 1 if any demo failed.\n\n"
               "  --full        run the demos without --quick\n"
               "  --timeout S   stop a demo after S seconds and count it failed   [60]\n"
               "  --only PREFIX only the demos whose name starts with PREFIX\n");
}

/* Output of one demo: the last TOUR_KEEP bytes. */
typedef struct capture {
    char buf[TOUR_KEEP];
    size_t len;
} capture;

static void keep(capture *c, const char *p, size_t n) {
    if (n >= TOUR_KEEP) {
        p += n - TOUR_KEEP / 2;
        n = TOUR_KEEP / 2;
    }
    if (c->len + n > TOUR_KEEP) {
        size_t drop = c->len + n - TOUR_KEEP;
        memmove(c->buf, c->buf + drop, c->len - drop);
        c->len -= drop;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

/* The demo's verdict line: the last line whose first word starts with "ch" and whose second
 * word is OK or FAIL (a "[rank R] " label is skipped). Copies it into out; 1 = OK, 0 = FAIL,
 * -1 = none. */
static int verdict(const capture *c, char *out, size_t cap) {
    size_t end = c->len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && c->buf[start - 1] != '\n') {
            start--;
        }
        char line[512];
        size_t n = end - start < sizeof line - 1 ? end - start : sizeof line - 1;
        memcpy(line, c->buf + start, n);
        line[n] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        char *l = line;
        if (!strncmp(l, "[rank ", 6) && strchr(l, ']')) {
            l = strchr(l, ']') + 1;
            l += strspn(l, " ");
        }
        char w1[64], w2[16];
        if (!strncmp(l, "ch", 2) && sscanf(l, "%63s %15s", w1, w2) == 2 &&
            (!strcmp(w2, "OK") || !strcmp(w2, "FAIL"))) {
            snprintf(out, cap, "%s", l);
            return !strcmp(w2, "OK");
        }
        end = start > 0 ? start - 1 : 0;
    }
    return -1;
}

/* Runs one demo; returns its wait status, or -1 if it could not start. */
static int run_demo(const char *name, int full, double timeout_s, capture *cap, int *timed_out) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    char *args[] = {(char *)so_cli_self(), "demo", (char *)name, full ? NULL : "--quick", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, so_cli_self(), &fa, &at, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        errno = rc;
        return -1;
    }
    int64_t deadline = so_now_ns() + (int64_t)(timeout_s * 1e9), kill_at = INT64_MAX;
    *timed_out = 0;
    int open_fd = 1;
    while (open_fd) {
        int64_t now = so_now_ns(), wake = kill_at < deadline ? kill_at : deadline;
        if (*timed_out) {
            wake = kill_at;
        }
        int ms = wake == INT64_MAX ? -1 : (int)((wake > now ? wake - now : 0) / 1000000 + 1);
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int r = poll(&pf, 1, ms);
        if (r > 0) {
            char b[8192];
            ssize_t got = read(p[0], b, sizeof b);
            if (got > 0) {
                keep(cap, b, (size_t)got);
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                open_fd = 0;
            }
        }
        now = so_now_ns();
        if (!*timed_out && now >= deadline) {
            *timed_out = 1;
            kill(-pid, SIGTERM);
            kill_at = now + 3000000000LL;
        } else if (*timed_out && now >= kill_at) {
            kill(-pid, SIGKILL);
            kill_at = INT64_MAX;
        }
    }
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

static void show_tail(const capture *c, int lines) {
    size_t start = c->len;
    int seen = 0;
    while (start > 0 && seen <= lines) {
        start--;
        if (c->buf[start] == '\n' && start + 1 < c->len) {
            seen++;
        }
    }
    if (seen > lines) {
        start++;
    }
    fprintf(stdout, "      | ");
    for (size_t i = start; i < c->len; i++) {
        fputc(c->buf[i], stdout);
        if (c->buf[i] == '\n' && i + 1 < c->len) {
            fprintf(stdout, "      | ");
        }
    }
    if (c->len && c->buf[c->len - 1] != '\n') {
        fputc('\n', stdout);
    }
}

static int cmd_tour(int argc, char **argv) {
    int full = 0;
    double timeout_s = 60;
    const char *only = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tour_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--full")) {
            full = 1;
        } else if (!strcmp(argv[i], "--timeout") || !strcmp(argv[i], "--only")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "scaleout tour: %s needs a value; see `scaleout tour --help`\n",
                        argv[i]);
                return 2;
            }
            if (!strcmp(argv[i], "--only")) {
                only = argv[++i];
                continue;
            }
            char *end;
            timeout_s = strtod(argv[++i], &end);
            if (*end || !(timeout_s > 0)) {
                fprintf(stderr,
                        "scaleout tour: --timeout needs a positive number of seconds, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "scaleout tour: unknown flag '%s'; see `scaleout tour --help`\n",
                    argv[i]);
            return 2;
        }
    }
    int n;
    const so_cli_entry *e = so_cli_entries(SO_CLI_KIND_DEMO, &n);
    if (n == 0) {
        printf("scaleout tour: no demos are registered in this build yet\n");
        return 0;
    }
    /* The demos start their own workers; a tour run under a launcher must not look like a rank. */
    static const char *const rank_vars[] = {"RANK",          "SO_RANK",    "WORLD_SIZE",
                                            "SO_WORLD_SIZE", "LOCAL_RANK", "OMPI_COMM_WORLD_RANK",
                                            "PMI_RANK"};
    for (size_t i = 0; i < sizeof rank_vars / sizeof rank_vars[0]; i++) {
        unsetenv(rank_vars[i]);
    }
    capture *cap = malloc(sizeof *cap);
    if (!cap) {
        return 1;
    }
    int ok = 0, bad = 0;
    double t_all = so_now_s();
    printf("scaleout tour: %s mode, timeout %g s per demo\n", full ? "full" : "quick", timeout_s);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        if (strncmp(e[i].name, only, strlen(only)) != 0) {
            continue;
        }
        cap->len = 0;
        int timed_out = 0;
        double t0 = so_now_s();
        int status = run_demo(e[i].name, full, timeout_s, cap, &timed_out);
        double dt = so_now_s() - t0;
        char line[512] = "";
        int v = verdict(cap, line, sizeof line);
        int good =
            status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && v == 1 && !timed_out;
        if (!line[0]) {
            if (status < 0) {
                snprintf(line, sizeof line, "could not start: %s", strerror(errno));
            } else if (timed_out) {
                snprintf(line, sizeof line, "timed out after %g s", timeout_s);
            } else if (WIFSIGNALED(status)) {
                snprintf(line, sizeof line, "killed by signal %d without a verdict line",
                         WTERMSIG(status));
            } else {
                snprintf(line, sizeof line, "exited %d without a verdict line",
                         WEXITSTATUS(status));
            }
        } else if (!good && timed_out) {
            snprintf(line + strlen(line), sizeof line - strlen(line), " (timed out)");
        } else if (!good && v == 1) {
            snprintf(line + strlen(line), sizeof line - strlen(line), " (but exited %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        printf("  %-16s %-4s %6.1f s  %s\n", e[i].name, good ? "ok" : "FAIL", dt, line);
        if (!good) {
            show_tail(cap, 5);
        }
        fflush(stdout);
        good ? ok++ : bad++;
    }
    free(cap);
    printf("scaleout tour: %d ok, %d failed (%.1f s)\n", ok, bad, so_now_s() - t_all);
    return bad ? 1 : 0;
}

SO_CLI_COMMAND(tour, "run every demo in quick mode, one line each, then a summary", cmd_tour)
