/*
 * `scaleout demo`: the chapter demos. `demo list` prints every registered demo with its
 * summary; `demo NAME [flags]` runs the SO_CLI_DEMO entry with argv[0] = its name. NAME may be
 * the exact name or a unique prefix of one ("ch04" finds "ch04_primitives").
 */
#include <string.h>

#include "cli.h"

static void demo_usage(FILE *f) {
    fprintf(f,
            "usage: scaleout demo list\n"
            "       scaleout demo NAME [--quick] [flags]   (scaleout demo NAME --help)\n\n"
            "Runs one chapter's demo. Every demo ends with one line `chNN OK key=value ...`\n"
            "or `chNN FAIL reason`; --quick finishes in seconds. `scaleout tour` runs them all.\n");
}

static int demo_list(FILE *f) {
    int n;
    const so_cli_entry *e = so_cli_entries(SO_CLI_KIND_DEMO, &n);
    if (n == 0) {
        fprintf(f, "no demos are registered in this build\n");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %-16s %s\n", e[i].name, e[i].summary);
    }
    return 0;
}

static const so_cli_entry *demo_find(const char *name, int *ambiguous) {
    const so_cli_entry *e = so_cli_find(SO_CLI_KIND_DEMO, name);
    *ambiguous = 0;
    if (e) {
        return e;
    }
    int n;
    const so_cli_entry *all = so_cli_entries(SO_CLI_KIND_DEMO, &n);
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        if (!strncmp(all[i].name, name, len)) {
            if (e) {
                *ambiguous = 1;
                return NULL;
            }
            e = &all[i];
        }
    }
    return e;
}

static int cmd_demo(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        demo_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "list")) {
        return demo_list(stdout);
    }
    if (argv[1][0] == '-') {
        fprintf(stderr,
                "scaleout demo: unknown flag '%s'; give a demo name first "
                "(scaleout demo list)\n",
                argv[1]);
        return 2;
    }
    int ambiguous;
    const so_cli_entry *e = demo_find(argv[1], &ambiguous);
    if (!e) {
        fprintf(stderr, "scaleout demo: %s demo '%s'; the demos are:\n",
                ambiguous ? "more than one" : "no", argv[1]);
        demo_list(stderr);
        return 2;
    }
    argv[1] = (char *)e->name;
    return e->fn(argc - 1, argv + 1);
}

SO_CLI_COMMAND(demo, "run a chapter demo (demo list shows them)", cmd_demo)
