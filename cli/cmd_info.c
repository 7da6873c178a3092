/*
 * `scaleout info`: what this build is and what it found — version, build type, sanitizer,
 * transports, optional dependencies, CPUs — and every environment knob with its current value
 * (from the one table in src/core/param.c, so a knob that exists is a knob that is listed).
 */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void info_usage(FILE *f) {
    fprintf(f, "usage: scaleout info [--knobs-only]\n\n"
               "Prints the version, build, transports, optional dependencies, CPUs and every\n"
               "environment knob (SO_*) with its default and current value.\n");
}

static int cmd_info(int argc, char **argv) {
    int knobs_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            info_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--knobs-only")) {
            knobs_only = 1;
        } else {
            fprintf(stderr, "scaleout info: unknown flag '%s'; see `scaleout info --help`\n", argv[i]);
            return 2;
        }
    }
    if (!knobs_only) {
        cpu_set_t set;
        int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
        printf("scaleout %s\n", SO_VERSION);
        printf("  build         %s%s%s\n", SO_BUILD_TYPE, SO_SANITIZE[0] ? ", sanitizer " : "",
               SO_SANITIZE);
        printf("  sanitizer     %s\n", SO_SANITIZE[0] ? SO_SANITIZE : "none");
        printf("  transports    self shm tcp; mpi: not built\n");
        printf("  OpenBLAS      %s\n", SO_HAVE_OPENBLAS ? "yes (GEMM fast path)" : "no (plain kernels)");
        printf("  Open MPI      %s\n", SO_HAVE_MPI ? "found (peer benchmarks)" : "not found");
        printf("  CPUs          %ld online, %d usable by this process\n",
               sysconf(_SC_NPROCESSORS_ONLN), usable);
        printf("  launcher      scaleout run (torchrun environment, store on node 0)\n");
        printf("  binary        %s\n", so_cli_self());
        printf("\n");
    }
    size_t n;
    const so_param_info *p = so_param_table(&n);
    size_t w = 4;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(p[i].env);
        w = l > w ? l : w;
    }
    printf("knobs (environment; value = what this process sees):\n");
    printf("  %-*s  %-12s  %-12s  %s\n", (int)w, "name", "value", "default", "meaning");
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(p[i].env);
        const char *shown = v && *v ? v : (p[i].dflt[0] ? p[i].dflt : "\"\"");
        printf("  %-*s  %-12s  %-12s  %s\n", (int)w, p[i].env, shown,
               p[i].dflt[0] ? p[i].dflt : "\"\"", p[i].help);
    }
    return 0;
}

SO_CLI_COMMAND(info, "version, build, transports, optional dependencies and knobs", cmd_info)
