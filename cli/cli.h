/*
 * The scaleout command-line tool's registry. Subcommands, demos and benchmarks register
 * themselves from their own files with a constructor, so adding one edits no shared table:
 *
 *   static int cmd_info(int argc, char **argv) { ... }
 *   SO_CLI_COMMAND(info, "version, transports and optional dependencies", cmd_info)
 *   SO_CLI_DEMO(ch04, "communication primitives", demo_ch04)     // `scaleout demo ch04`
 *   SO_CLI_BENCH(allreduce, "all-reduce sweep, nccl-tests columns", bench_allreduce)
 *
 * Handlers get argv with argv[0] = the subcommand (or demo/bench) name and return the process
 * exit code. They parse their own flags and answer --help.
 */
#ifndef SO_CLI_H
#define SO_CLI_H

#include "scaleout/so.h"

typedef int (*so_cli_fn)(int argc, char **argv);

typedef struct so_cli_entry {
    const char *name;
    const char *summary;
    so_cli_fn fn;
} so_cli_entry;

enum { SO_CLI_KIND_COMMAND = 0, SO_CLI_KIND_DEMO, SO_CLI_KIND_BENCH, SO_CLI_KIND_COUNT };

void so_cli_register(int kind, const char *name, const char *summary, so_cli_fn fn);
/* Entries of a kind, sorted by name; *n receives the count. */
const so_cli_entry *so_cli_entries(int kind, int *n);
const so_cli_entry *so_cli_find(int kind, const char *name);
/* Path of the running scaleout executable (for re-running itself under the launcher). */
const char *so_cli_self(void);

/* Multi-rank demos and benchmarks run themselves under the launcher (cli/launch_self.c):
 * if this process is already a worker (RANK/WORLD_SIZE or SO_RANK set), returns -1 and the caller
 * goes on as a rank; otherwise starts `scaleout <argv...>` as nranks workers through the launcher
 * (the same as `scaleout run -n nranks -- scaleout argv...`, with SO_TRANSPORT=transport unless
 * transport is NULL), waits, and returns the exit code the launcher would. */
int so_cli_launch_self(int nranks, const char *transport, int argc, char **argv);
/* Nonzero if this process runs as a rank under a launcher (RANK or SO_RANK set). */
int so_cli_is_worker(void);

#define SO__CLI_REG(kind, name, summary, fn)                                                       \
    __attribute__((constructor)) static void so__cli_reg_##name(void) {                            \
        so_cli_register(kind, #name, summary, fn);                                                 \
    }
#define SO_CLI_COMMAND(name, summary, fn) SO__CLI_REG(SO_CLI_KIND_COMMAND, name, summary, fn)
#define SO_CLI_DEMO(name, summary, fn) SO__CLI_REG(SO_CLI_KIND_DEMO, name, summary, fn)
#define SO_CLI_BENCH(name, summary, fn) SO__CLI_REG(SO_CLI_KIND_BENCH, name, summary, fn)

#endif
