/* Shared pieces of `scaleout train` (cli/cmd_train.c, cli/cmd_train_gpt.c). */
#ifndef SO_CLI_TRAIN_H
#define SO_CLI_TRAIN_H

#include "cli.h"

/* One command-line flag: --name VALUE or --name=VALUE (kind INT, DBL, STR) or --name (BOOL). */
enum { SO_TF_INT = 0, SO_TF_DBL, SO_TF_STR, SO_TF_BOOL };
typedef struct so_train_flag {
    const char *name; /* without the leading "--" */
    int kind;
    void *dst;        /* int*, double*, const char**, int* */
    const char *help; /* "number of layers" */
} so_train_flag;

/* Parses argv[1..argc) into the flags. Returns 0 (parsed), 1 (--help printed: exit 0) or 2 (an
 * error was printed with a hint: exit 2). usage_head is printed before the flag list. */
int so__train_parse(int argc, char **argv, const so_train_flag *flags, int n,
                    const char *usage_head);
/* Prints "scaleout train: <what>: <error detail>" and a hint line, returns 1 (the exit code). */
int so__train_fail(const char *what, int rc, const char *hint);
/* "1m02s" into buf. */
const char *so__train_hms(double seconds, char *buf, size_t cap);

int so__train_gpt(int argc, char **argv);

#endif
