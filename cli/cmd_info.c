/*
 * `scaleout info`: what this build is and what it found — version, build type, sanitizer,
 * transports, optional dependencies, CPUs — and every environment knob with its current value
 * (from the one table in src/core/param.c, so a knob that exists is a knob that is listed).
 */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* From src/comm/mpi/mpi.c (comm's private header is not the CLI's): "Open MPI v4.1.4", or ""
 * when MPI is not built in. */
const char *so__mpi_library(void);

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
            fprintf(stderr, "scaleout info: unknown flag '%s'; see `scaleout info --help`\n",
                    argv[i]);
            return 2;
        }
    }
    if (!knobs_only) {
        cpu_set_t set;
        int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
        /* CMake's option() turns an unset SO_SANITIZE into "OFF". */
        const char *san = SO_SANITIZE;
        if (!san[0] || !strcmp(san, "OFF") || !strcmp(san, "0") || !strcmp(san, "FALSE")) {
            san = "none";
        }
        printf("scaleout %s\n", SO_VERSION);
        printf("  build         %s\n", SO_BUILD_TYPE);
        printf("  sanitizer     %s\n", san);
        if (SO_HAVE_MPI) {
            printf("  transports    self shm tcp; mpi: built in (%s)\n", so__mpi_library());
        } else {
            printf("  transports    self shm tcp; mpi: not built\n");
        }
        printf("  OpenBLAS      %s\n",
               SO_HAVE_OPENBLAS ? "yes (GEMM fast path)" : "no (plain kernels)");
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
    printf("knobs (environment variables; * = set in this environment):\n");
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(p[i].env);
        int set = v && *v;
        const char *shown = set ? v : (p[i].dflt[0] ? p[i].dflt : "\"\"");
        int lead = printf("  %c %-*s = %s", set ? '*' : ' ', (int)w, p[i].env, shown);
        if (set) {
            lead += printf(" (default %s)", p[i].dflt[0] ? p[i].dflt : "\"\"");
        }
        int col = (int)w + 20;
        if (lead > col) {
            printf("\n%*s", col, "");
        } else {
            printf("%*s", col - lead, "");
        }
        printf("  %s\n", p[i].help);
    }
    return 0;
}

SO_CLI_COMMAND(info, "version, build, transports, optional dependencies and knobs", cmd_info)
