/*
 * scaleout launch: the `scaleout run` launcher as a library call. It starts K workers on this
 * node with torchrun's environment, hosts the rendezvous store (node 0), prefixes and forwards
 * their output, shares fate (one failure stops all), restarts the job, and reports the first
 * failure.
 *
 *   so_launch_config cfg;
 *   so_launch_config_default(&cfg);
 *   cfg.nproc = 4;
 *   so_launch_result res;
 *   int rc = so_launch_run(&cfg, (char *const[]){"./train", "--epochs", "3", NULL}, &res);
 *   if (rc < 0) fprintf(stderr, "%s\n", so_last_error());     // could not launch at all
 *   else if (res.exit_code) so_launch_report(&res, stderr);    // names the first failing rank
 *   return rc < 0 ? 1 : res.exit_code;
 *
 * Environment given to each worker (torchrun's contract): RANK LOCAL_RANK WORLD_SIZE
 * LOCAL_WORLD_SIZE GROUP_RANK GROUP_WORLD_SIZE ROLE_RANK ROLE_WORLD_SIZE ROLE_NAME MASTER_ADDR
 * MASTER_PORT TORCHELASTIC_RESTART_COUNT TORCHELASTIC_MAX_RESTARTS TORCHELASTIC_RUN_ID
 * TORCHELASTIC_ERROR_FILE, plus SO_TRANSPORT when cfg.transport is set, and OMP_NUM_THREADS=1
 * when there are several workers and the launcher's environment does not set it (as torchrun
 * does; OpenBLAS reads it too). RANK is
 * node_rank * nproc + local_rank. SO_RANK/SO_WORLD_SIZE/SO_LOCAL_RANK/SO_LOCAL_WORLD_SIZE
 * inherited from the launcher are removed, since the library reads them before RANK.
 *
 * Signals: while so_launch_run runs it handles SIGINT, SIGTERM and SIGHUP (on whichever thread
 * they land) by forwarding them to the workers; the run then ends with 128 + signal, and the
 * previous handlers are restored. Workers are watched through pidfds, so SIGCHLD and other
 * children of the process are left alone.
 * Thread safety: one so_launch_run per process at a time.
 */
#ifndef SCALEOUT_LAUNCH_H
#define SCALEOUT_LAUNCH_H

#include "scaleout/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How worker output lines are labelled. */
enum {
    SO_LAUNCH_TAG_ALL = 0,  /* "[rank R] " before every line of every worker */
    SO_LAUNCH_TAG_NONE = 1, /* lines pass through unlabelled (still whole lines, never mixed) */
};

typedef struct so_launch_config {
    int nproc;               /* workers on this node (K), >= 1 */
    int nnodes;              /* nodes in the job (default 1) */
    int node_rank;           /* this node, 0..nnodes-1 (default 0) */
    const char *master_addr; /* store host; NULL = 127.0.0.1 (required when nnodes > 1) */
    int master_port;         /* store port; 0 = a free port (single node only) */
    int max_restarts;        /* restarts of the whole local group after a failure (default 0) */
    const char *transport;   /* SO_TRANSPORT for the workers; NULL = inherit */
    int tag;                 /* SO_LAUNCH_TAG_* */
    double timeout_s;        /* kill the job after this many seconds; <= 0 = never */
    double grace_s;          /* SIGTERM, then SIGKILL after this long (default 3 s) */
    const char *run_id;      /* TORCHELASTIC_RUN_ID; NULL = "so-<pid>" */
    const char *role;        /* ROLE_NAME (default "default", as torchrun) */
    int quiet;               /* nonzero: no launcher messages about restarts and timeouts */
    const char *log_dir;     /* also write each rank's output, unlabelled, to
                                log_dir/attempt_<N>/<rank>/{stdout,stderr}.log; NULL = no */
    int bind;                /* SO_LAUNCH_BIND_CORE pins worker i to the i-th CPU this launcher
                                may use (Open MPI's --bind-to core) when there are 2 or more
                                workers and they fit the CPUs one each; NONE (default) never pins */
    int restart_early;       /* restart even a job whose process group never formed (a program
                                using scaleout's group whose ranks failed while joining it);
                                by default such a start-up failure is not restarted */
} so_launch_config;

enum { SO_LAUNCH_BIND_NONE = 0, SO_LAUNCH_BIND_CORE };

enum { SO_LAUNCH_TAIL_LINES = 20 };

typedef struct so_launch_result {
    int exit_code;     /* what a launcher process should exit with: 0, the failing worker's
                          code, 128 + its signal, 124 on --timeout, 128 + signal when interrupted */
    int failed_rank;   /* global rank of the first worker that failed, or -1 */
    int failed_code;   /* its exit code (> 0), or 0 if it died by a signal */
    int failed_signal; /* the signal that killed it, or 0 */
    int restarts;      /* restarts performed */
    int timed_out;     /* nonzero if the timeout ended the job */
    int interrupted;   /* the signal (SIGINT/SIGTERM/SIGHUP) that stopped the launcher, or 0 */
    int early;         /* the failure came before the process group formed (not restarted) */
    double elapsed_s;  /* wall time of the whole run */
    char tail[SO_LAUNCH_TAIL_LINES * 160]; /* last stderr lines of the failing rank */
    char error_file[1024]; /* start of the rank's TORCHELASTIC_ERROR_FILE, if it wrote one */
    char log_path[512];    /* the failing rank's stderr.log under cfg->log_dir, or "" */
} so_launch_result;

void so_launch_config_default(so_launch_config *cfg);
/* Runs argv (argv[0] searched in PATH) as cfg->nproc workers until they all exit, restarting
 * up to cfg->max_restarts times after a failure. Returns SO_OK when the job ran (whatever its
 * outcome: see res->exit_code), or a negative SO_E* when it could not start: a bad config,
 * a program that cannot be executed, no store. Blocks until the workers are gone. */
int so_launch_run(const so_launch_config *cfg, char *const argv[], so_launch_result *res);
/* Prints the outcome of a failed run in a few lines: the first failing rank, its exit code or
 * signal name, restarts, and the tail of its stderr. Nothing for a successful run. */
void so_launch_report(const so_launch_result *res, FILE *f);
/* "SIGKILL" for 9 ..., or "signal N". */
const char *so_launch_signame(int sig);

#ifdef __cplusplus
}
#endif
#endif
