/*
 * `scaleout bench <what> [flags]`: dispatches to the benchmarks registered with SO_CLI_BENCH
 * (the files of bench/). `scaleout bench` or `scaleout bench list` lists them. The full argv is
 * remembered first, so a multi-rank benchmark can re-run itself as K ranks under the launcher.
 */
#include <string.h>

#include "bench_common.h"
#include "cli.h"

#define SO_BENCH_MAX_ARGS 128
static char *saved_argv[SO_BENCH_MAX_ARGS + 1];
static int saved_argc;

void so_bench_set_argv(int argc, char **argv) {
    saved_argc = argc < SO_BENCH_MAX_ARGS ? argc : SO_BENCH_MAX_ARGS;
    for (int i = 0; i < saved_argc; i++) {
        saved_argv[i] = argv[i];
    }
    saved_argv[saved_argc] = NULL;
}

int so_bench_launch(int nranks, const char *transport) {
    if (so_cli_is_worker()) {
        return -1;
    }
    return so_cli_launch_self(nranks, transport, saved_argc, saved_argv);
}

static void bench_usage(FILE *f) {
    int n;
    const so_cli_entry *e = so_cli_entries(SO_CLI_KIND_BENCH, &n);
    fprintf(f, "usage: scaleout bench <what> [flags]   (scaleout bench <what> --help)\n\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %-14s %s\n", e[i].name, e[i].summary);
    }
    fprintf(f,
            "\nCollectives print nccl-tests' columns; --csv FILE and --json FILE (JSON lines for\n"
            "../shared/peers/summarize.py) write the rows too. Benchmarks are not tests.\n");
}

static int cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "list")) {
        bench_usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        bench_usage(stdout);
        return 0;
    }
    const so_cli_entry *e = so_cli_find(SO_CLI_KIND_BENCH, argv[1]);
    if (!e) {
        fprintf(stderr, "scaleout bench: unknown benchmark '%s'\n", argv[1]);
        bench_usage(stderr);
        return 2;
    }
    so_bench_set_argv(argc, argv);
    return e->fn(argc - 1, argv + 1);
}

SO_CLI_COMMAND(bench, "collective, ping-pong and memcpy benchmarks (nccl-tests columns)", cmd_bench)
