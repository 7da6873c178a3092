/*
 * scaleout: one command-line tool for the launcher, the benchmarks, the analytical models, the
 * chapter demos and the services. main() dispatches to the subcommand registered under argv[1].
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define SO_CLI_MAX 256

static so_cli_entry entries[SO_CLI_KIND_COUNT][SO_CLI_MAX];
static int counts[SO_CLI_KIND_COUNT];
static int sorted[SO_CLI_KIND_COUNT];
static char self_path[PATH_MAX];

void so_cli_register(int kind, const char *name, const char *summary, so_cli_fn fn) {
    SO_ASSERT(kind >= 0 && kind < SO_CLI_KIND_COUNT && counts[kind] < SO_CLI_MAX);
    entries[kind][counts[kind]++] = (so_cli_entry){name, summary, fn};
    sorted[kind] = 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const so_cli_entry *)a)->name, ((const so_cli_entry *)b)->name);
}

const so_cli_entry *so_cli_entries(int kind, int *n) {
    if (!sorted[kind]) {
        qsort(entries[kind], (size_t)counts[kind], sizeof(so_cli_entry), by_name);
        sorted[kind] = 1;
    }
    *n = counts[kind];
    return entries[kind];
}

const so_cli_entry *so_cli_find(int kind, const char *name) {
    int n;
    const so_cli_entry *e = so_cli_entries(kind, &n);
    for (int i = 0; i < n; i++) {
        if (!strcmp(e[i].name, name)) {
            return &e[i];
        }
    }
    return NULL;
}

const char *so_cli_self(void) {
    return self_path;
}

static void usage(FILE *f) {
    int n;
    const so_cli_entry *e = so_cli_entries(SO_CLI_KIND_COMMAND, &n);
    fprintf(f, "usage: scaleout <command> [flags]   (scaleout <command> --help for its flags)\n\n"
               "commands:\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %-10s %s\n", e[i].name, e[i].summary);
    }
    fprintf(f, "\nscaleout %s: the system of \"Building Scalable AI\", in C11.\n", SO_VERSION);
}

int main(int argc, char **argv) {
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (len > 0) {
        self_path[len] = '\0';
    } else {
        snprintf(self_path, sizeof self_path, "%s", argv[0]);
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("scaleout %s\n", SO_VERSION);
        return 0;
    }
    const so_cli_entry *e = so_cli_find(SO_CLI_KIND_COMMAND, argv[1]);
    if (!e) {
        fprintf(stderr, "scaleout: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return e->fn(argc - 1, argv + 1);
}
