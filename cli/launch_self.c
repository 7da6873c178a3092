/*
 * Multi-rank demos and benchmarks start themselves: a handler that is not yet a worker calls
 * so_cli_launch_self, which runs `scaleout <its command line>` as nranks workers through the
 * launcher library in this process (no shell, no second `scaleout run` process) and returns
 * the launcher's exit code; in each worker so_cli_is_worker() is then true and the handler goes
 * on as a rank.
 *
 * The handler's argv starts at its own name (argv[0] = "ch04"); the words before it ("demo",
 * "bench") are recovered from this process's command line (/proc/self/cmdline) when argv is
 * its tail, else from the registry (a demo name gets "demo", a benchmark "bench").
 * Output passes through unlabelled (demo lines stay as the demo prints them); a failure is
 * reported with the failing rank as `scaleout run` does.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "scaleout/launch.h"

int so_cli_is_worker(void) {
    static const char *const vars[] = {"RANK", "SO_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            return 1;
        }
    }
    return 0;
}

/* The words of this process's command line; *n receives the count. Static storage. */
static char **self_cmdline(int *n) {
    static char buf[65536];
    static char *words[1024];
    *n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return words;
    }
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) {
        return words;
    }
    buf[len] = '\0';
    for (ssize_t off = 0; off < len && *n < 1024; off += (ssize_t)strlen(buf + off) + 1) {
        words[(*n)++] = buf + off;
    }
    return words;
}

int so_cli_launch_self(int nranks, const char *transport, int argc, char **argv) {
    if (so_cli_is_worker()) {
        return -1;
    }
    if (nranks < 1 || argc < 1) {
        fprintf(stderr, "scaleout: launch-self needs at least one rank and a command\n");
        return 2;
    }
    /* The words between the program and argv[0]: "demo" in `scaleout demo ch04 --quick`. */
    int ncl = 0;
    char **cl = self_cmdline(&ncl);
    const char *prefix[8];
    int np = 0;
    int start = ncl - argc;
    if (start >= 1 && start <= 9 && !strcmp(cl[start], argv[0])) {
        for (int i = 1; i < start; i++) {
            prefix[np++] = cl[i];
        }
    } else if (!so_cli_find(SO_CLI_KIND_COMMAND, argv[0])) {
        if (so_cli_find(SO_CLI_KIND_DEMO, argv[0])) {
            prefix[np++] = "demo";
        } else if (so_cli_find(SO_CLI_KIND_BENCH, argv[0])) {
            prefix[np++] = "bench";
        }
    }
    char **args = calloc((size_t)(1 + np + argc + 1), sizeof *args);
    if (!args) {
        return 1;
    }
    int n = 0;
    args[n++] = (char *)so_cli_self();
    for (int i = 0; i < np; i++) {
        args[n++] = (char *)prefix[i];
    }
    for (int i = 0; i < argc; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    so_launch_config cfg;
    so_launch_config_default(&cfg);
    cfg.nproc = nranks;
    cfg.transport = transport;
    cfg.tag = SO_LAUNCH_TAG_NONE;
    fflush(stdout); /* what the parent printed comes before the workers' lines */
    fflush(stderr);
    so_launch_result res;
    int rc = so_launch_run(&cfg, args, &res);
    free(args);
    if (rc < 0) {
        fprintf(stderr, "scaleout: cannot start %d ranks of %s: %s\n", nranks, argv[0],
                so_last_error());
        return 127;
    }
    so_launch_report(&res, stderr);
    return res.exit_code;
}
