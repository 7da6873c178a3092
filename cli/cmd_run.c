/*
 * `scaleout run`: the launcher's command line. Parses scaleout's own flags and torchrun's
 * spellings (--nproc-per-node/--nproc_per_node, --node-rank, --master-addr/--master-port,
 * --rdzv-endpoint, --max-restarts, --standalone; '_' and '-' are the same, `--flag=value` and
 * `--flag value` both work), then hands the program to so_launch_run and turns its result into
 * an exit code: 0, the first failing worker's code, 128 + its signal, 124 on --timeout, 130/143
 * when interrupted, 2 for a bad command line, 127 when the program cannot be executed.
 * A program ending in ".py" runs under python3 -u, as torchrun does (--no-python turns it off).
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "scaleout/launch.h"

static void run_usage(FILE *f) {
    fprintf(
        f,
        "usage: scaleout run -n K [flags] [--] PROGRAM [ARGS...]\n"
        "\n"
        "Starts K workers of PROGRAM on this node with torchrun's environment (RANK LOCAL_RANK\n"
        "WORLD_SIZE LOCAL_WORLD_SIZE GROUP_RANK MASTER_ADDR MASTER_PORT TORCHELASTIC_* ...),\n"
        "hosts the rendezvous store on node 0, prefixes each output line with \"[rank R] \",\n"
        "stops every worker when one fails and reports the first failure.\n"
        "\n"
        "flags:\n"
        "  -n, --nproc-per-node K   workers on this node (also: 'cpu' = one per CPU)   [1]\n"
        "  --nnodes N               nodes in the job                                   [1]\n"
        "  --node-rank R            this node's index, 0..N-1                          [0]\n"
        "  --master HOST:PORT       where node 0 serves the store (several nodes: required)\n"
        "  --master-addr HOST, --master-port PORT, --rdzv-endpoint HOST[:PORT]\n"
        "                           torchrun's spellings of --master\n"
        "  --standalone             single node, store on 127.0.0.1 and a free port\n"
        "  --max-restarts M         restart all workers up to M times after a failure  [0]\n"
        "  --transport shm|tcp|auto SO_TRANSPORT for the workers                       [inherit]\n"
        "  --tag-output             label lines \"[rank R] \"                            [on]\n"
        "  --no-prefix              pass lines through unlabelled\n"
        "  --timeout S              stop the job after S seconds (exit 124)            [none]\n"
        "  --grace S                SIGTERM, then SIGKILL after S seconds              [3]\n"
        "  --run-id, --rdzv-id ID   TORCHELASTIC_RUN_ID                             [so-<pid>-..]\n"
        "  --log-dir DIR            also write each rank's output to\n"
        "                           DIR/attempt_N/RANK/{stdout,stderr}.log\n"
        "  --role NAME              ROLE_NAME for the workers                          [default]\n"
        "  --bind-to core|none      core: pin worker i to CPU i when 2+ workers fit the\n"
        "                           CPUs one each (Open MPI's --bind-to core)          [none]\n"
        "  --restart-early          restart even when ranks failed before the process group\n"
        "                           formed (by default a start-up failure is not restarted)\n"
        "  --no-python              run a .py program directly instead of under python3\n"
        "  --quiet                  no launcher messages about restarts\n"
        "\n"
        "exit code: 0; else the first failing rank's code, or 128 + its signal; 124 after\n"
        "--timeout; 130/143 when interrupted; 2 for a bad command line; 127 if PROGRAM\n"
        "cannot be executed.\n"
        "\n"
        "examples:\n"
        "  scaleout run -n 2 -- env\n"
        "  scaleout run -n 4 --max-restarts 2 -- ./train --epochs 3\n"
        "  scaleout run --nnodes 2 --node-rank 0 --master 10.0.0.1:29500 -n 4 -- ./train\n");
}

static const char *const run_flags[] = {"-n",
                                        "--nproc",
                                        "--nproc-per-node",
                                        "--nnodes",
                                        "--node-rank",
                                        "--master",
                                        "--master-addr",
                                        "--master-port",
                                        "--rdzv-endpoint",
                                        "--rdzv-backend",
                                        "--rdzv-id",
                                        "--standalone",
                                        "--max-restarts",
                                        "--transport",
                                        "--tag-output",
                                        "--no-prefix",
                                        "--timeout",
                                        "--grace",
                                        "--run-id",
                                        "--log-dir",
                                        "--role",
                                        "--monitor-interval",
                                        "--start-method",
                                        "--restart-early",
                                        "--no-python",
                                        "--quiet",
                                        "--bind-to",
                                        "--help"};

/* Levenshtein distance of two short strings (for "did you mean"). */
static int distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) {
        return 99;
    }
    int d[41][41];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = (int)i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = (int)j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    }
    return d[la][lb];
}

static int bad_flag(const char *flag) {
    const char *best = NULL;
    int bd = 4;
    for (size_t i = 0; i < sizeof run_flags / sizeof run_flags[0]; i++) {
        int dd = distance(flag, run_flags[i]);
        if (dd < bd) {
            bd = dd;
            best = run_flags[i];
        }
    }
    fprintf(stderr, "scaleout run: unknown flag '%s'", flag);
    if (best) {
        fprintf(stderr, " (did you mean %s?)", best);
    }
    fprintf(stderr, "; see `scaleout run --help`\n");
    return 2;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || x < lo || x > hi) {
        fprintf(stderr, "scaleout run: %s needs an integer in %d..%d, not '%s'\n", flag, lo, hi,
                v ? v : "(nothing)");
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_seconds(const char *flag, const char *v, double *out) {
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || !(x >= 0)) {
        fprintf(stderr, "scaleout run: %s needs a number of seconds, not '%s'\n", flag,
                v ? v : "(nothing)");
        return -1;
    }
    *out = x;
    return 0;
}

/* "HOST:PORT" or "HOST" (then *port is left alone). */
static int parse_endpoint(const char *flag, const char *v, char *host, size_t cap, int *port) {
    if (!v || !*v) {
        fprintf(stderr, "scaleout run: %s needs HOST[:PORT]\n", flag);
        return -1;
    }
    const char *colon = strrchr(v, ':');
    if (colon && !strchr(colon, ']') && colon != v) {
        snprintf(host, cap, "%.*s", (int)(colon - v), v);
        return parse_int(flag, colon + 1, 0, 65535, port);
    }
    snprintf(host, cap, "%s", v);
    return 0;
}

static int cmd_run(int argc, char **argv) {
    so_launch_config cfg;
    so_launch_config_default(&cfg);
    static char master_host[256], run_id[128], transport[32];
    int port = -1, standalone = 0, no_python = 0, i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-') {
            break; /* the program */
        }
        /* Normalize: --nproc_per_node=4 -> name "--nproc-per-node", value "4". */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) {
            return bad_flag(a);
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        for (char *p = name + 2; p < name + nlen && name[1] == '-'; p++) {
            if (*p == '_') {
                *p = '-';
            }
        }
        if (eq) {
            val = eq + 1;
        } else if (!strncmp(name, "-n", 2) && name[2] != '\0' && name[1] != '-') {
            val = name + 2; /* -n4 */
            name[2] = '\0';
        }
#define NEED_VAL()                                                                                 \
    do {                                                                                           \
        if (!val) {                                                                                \
            if (i + 1 >= argc) {                                                                   \
                fprintf(stderr, "scaleout run: %s needs a value; see `scaleout run --help`\n",     \
                        name);                                                                     \
                return 2;                                                                          \
            }                                                                                      \
            val = argv[++i];                                                                       \
        }                                                                                          \
    } while (0)
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            run_usage(stdout);
            return 0;
        } else if (!strcmp(name, "-n") || !strcmp(name, "--nproc-per-node") ||
                   !strcmp(name, "--nproc")) {
            NEED_VAL();
            if (!strcmp(val, "cpu") || !strcmp(val, "auto")) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                cfg.nproc = n > 0 ? (int)n : 1;
            } else if (parse_int(name, val, 1, 4096, &cfg.nproc) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--nnodes")) {
            NEED_VAL();
            const char *colon = strchr(val, ':');
            char lo[32];
            snprintf(lo, sizeof lo, "%.*s", colon ? (int)(colon - val) : (int)strlen(val), val);
            if (colon && strcmp(lo, colon + 1) != 0) {
                fprintf(stderr,
                        "scaleout run: --nnodes %s: elastic MIN:MAX node counts are not "
                        "supported; give one number\n",
                        val);
                return 2;
            }
            if (parse_int(name, lo, 1, 65536, &cfg.nnodes) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--node-rank")) {
            NEED_VAL();
            if (parse_int(name, val, 0, 65535, &cfg.node_rank) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--master") || !strcmp(name, "--rdzv-endpoint")) {
            NEED_VAL();
            if (parse_endpoint(name, val, master_host, sizeof master_host, &port) < 0) {
                return 2;
            }
            if (port < 0 && !strcmp(name, "--rdzv-endpoint")) {
                port = 29400; /* torchrun's default rendezvous port */
            }
        } else if (!strcmp(name, "--master-addr")) {
            NEED_VAL();
            snprintf(master_host, sizeof master_host, "%s", val);
        } else if (!strcmp(name, "--master-port")) {
            NEED_VAL();
            if (parse_int(name, val, 0, 65535, &port) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--rdzv-backend")) {
            NEED_VAL(); /* c10d or static: our store serves either way */
        } else if (!strcmp(name, "--rdzv-id") || !strcmp(name, "--run-id")) {
            NEED_VAL();
            snprintf(run_id, sizeof run_id, "%s", val);
            cfg.run_id = run_id;
        } else if (!strcmp(name, "--standalone")) {
            standalone = 1;
        } else if (!strcmp(name, "--max-restarts")) {
            NEED_VAL();
            if (parse_int(name, val, 0, 1000000, &cfg.max_restarts) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--transport")) {
            NEED_VAL();
            if (strcmp(val, "shm") && strcmp(val, "tcp") && strcmp(val, "auto") &&
                strcmp(val, "self") && strcmp(val, "mpi")) {
                fprintf(stderr, "scaleout run: --transport must be shm, tcp or auto, not '%s'\n",
                        val);
                return 2;
            }
            snprintf(transport, sizeof transport, "%s", val);
            cfg.transport = transport;
        } else if (!strcmp(name, "--tag-output")) {
            cfg.tag = SO_LAUNCH_TAG_ALL;
        } else if (!strcmp(name, "--no-prefix")) {
            cfg.tag = SO_LAUNCH_TAG_NONE;
        } else if (!strcmp(name, "--timeout")) {
            NEED_VAL();
            if (parse_seconds(name, val, &cfg.timeout_s) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--grace")) {
            NEED_VAL();
            if (parse_seconds(name, val, &cfg.grace_s) < 0) {
                return 2;
            }
        } else if (!strcmp(name, "--log-dir")) {
            NEED_VAL();
            cfg.log_dir = val;
        } else if (!strcmp(name, "--role")) {
            NEED_VAL();
            cfg.role = val;
        } else if (!strcmp(name, "--monitor-interval") || !strcmp(name, "--start-method")) {
            NEED_VAL(); /* torchrun's; our loop is event driven and we always fork+exec */
        } else if (!strcmp(name, "--bind-to")) {
            NEED_VAL();
            if (!strcmp(val, "core")) {
                cfg.bind = SO_LAUNCH_BIND_CORE;
            } else if (!strcmp(val, "none")) {
                cfg.bind = SO_LAUNCH_BIND_NONE;
            } else {
                fprintf(stderr, "scaleout run: --bind-to must be core or none, not '%s'\n", val);
                return 2;
            }
        } else if (!strcmp(name, "--restart-early")) {
            cfg.restart_early = 1;
        } else if (!strcmp(name, "--no-python")) {
            no_python = 1;
        } else if (!strcmp(name, "--quiet")) {
            cfg.quiet = 1;
        } else {
            return bad_flag(name);
        }
#undef NEED_VAL
    }
    if (i >= argc) {
        fprintf(stderr,
                "scaleout run: no program given; usage: scaleout run -n K -- PROGRAM [ARGS...]\n");
        return 2;
    }
    if (standalone && (cfg.nnodes > 1 || master_host[0])) {
        fprintf(stderr, "scaleout run: --standalone is one node with a local store; it does not "
                        "combine with --nnodes > 1 or --master\n");
        return 2;
    }
    if (master_host[0]) {
        cfg.master_addr = master_host;
    }
    if (port >= 0) {
        cfg.master_port = port;
    } else if (cfg.nnodes > 1) {
        cfg.master_port = 29500; /* torchrun's MASTER_PORT convention */
    }
    if (cfg.nnodes > 1 && !cfg.master_addr) {
        fprintf(stderr,
                "scaleout run: a job on %d nodes needs --master HOST:PORT (node 0's "
                "address, reachable from every node)\n",
                cfg.nnodes);
        return 2;
    }
    char **prog = argv + i;
    char **py = NULL;
    size_t plen = strlen(prog[0]);
    if (!no_python && plen > 3 && !strcmp(prog[0] + plen - 3, ".py")) {
        int n = argc - i;
        py = calloc((size_t)n + 3, sizeof *py);
        if (!py) {
            return 1;
        }
        py[0] = "/usr/bin/python3";
        py[1] = "-u";
        memcpy(py + 2, prog, sizeof *py * (size_t)n);
        prog = py;
    }
    so_launch_result res;
    int rc = so_launch_run(&cfg, prog, &res);
    free(py);
    if (rc < 0) {
        fprintf(stderr, "scaleout run: %s\n", so_last_error());
        return rc == SO_EINVAL ? 2 : 127;
    }
    so_launch_report(&res, stderr);
    return res.exit_code;
}

SO_CLI_COMMAND(run, "start K workers with torchrun's environment (fate sharing, restarts)", cmd_run)
