/*
 * The launcher's supervisor: so_launch_run starts the local workers of one node with torchrun's
 * environment and watches them until they are all gone.
 *
 * Algorithm. Node 0 first starts the TCP rendezvous store (on one node a fresh one per attempt,
 * so keys of a failed attempt never leak into the next; on several, one for the whole run).
 * Each worker gets two pipes (stdout, stderr), is forked into its own process group (spawn.c)
 * and is watched through a pidfd and a death pipe in an epoll set, which tell the order in
 * which workers began to exit (so the first failure is known even when it cascades through the
 * group within a millisecond; see on_events). One poll loop waits on the pipes, the epoll set and
 * a self-pipe carrying SIGINT, SIGTERM and SIGHUP: output is forwarded line by line
 * (output.c); the first worker that exits non-zero or by a signal is the job's failure, and the
 * others get SIGTERM, then SIGKILL after the grace period (fate sharing); SIGINT/SIGTERM/SIGHUP
 * to the launcher are forwarded the same way; the timeout stops the job the same way. After a
 * failure the whole local group is started again, up to max_restarts times, with
 * TORCHELASTIC_RESTART_COUNT counting up — unless the program uses scaleout's process group
 * and some of its ranks never joined it (asked of the store): a start-up failure repeats, so
 * restarting would only bury it (pytorch#60910); restart_early overrides this.
 * Cost: per worker one fork+exec, two pipes and a pidfd; per output line one read share and one
 * write.
 * Start-up has no sleeps: the store listens before the first fork.
 * Limits: restarts are per node (torchelastic's caveat too); on several nodes, every node's
 * launcher sees its own workers fail once the library notices a dead peer, and restarts them.
 * A worker's grandchildren that keep its pipes open are not waited for once it exited.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_internal.h"
#include "scaleout/comm.h"

extern char **environ;

/* Variables the launcher sets; inherited values of these (and of the library's own SO_RANK
 * family, which it reads before RANK) are dropped from the workers' environment. */
static const char *const own_vars[] = {"RANK",
                                       "LOCAL_RANK",
                                       "WORLD_SIZE",
                                       "LOCAL_WORLD_SIZE",
                                       "GROUP_RANK",
                                       "GROUP_WORLD_SIZE",
                                       "ROLE_RANK",
                                       "ROLE_WORLD_SIZE",
                                       "ROLE_NAME",
                                       "MASTER_ADDR",
                                       "MASTER_PORT",
                                       "TORCHELASTIC_RESTART_COUNT",
                                       "TORCHELASTIC_MAX_RESTARTS",
                                       "TORCHELASTIC_RUN_ID",
                                       "TORCHELASTIC_ERROR_FILE",
                                       "SO_RANK",
                                       "SO_WORLD_SIZE",
                                       "SO_LOCAL_RANK",
                                       "SO_LOCAL_WORLD_SIZE",
                                       "SO_LOCAL_SIZE",
                                       "SO_MASTER_ADDR",
                                       "SO_MASTER_PORT"};
enum { OWN_VARS = sizeof own_vars / sizeof own_vars[0], ENV_LINE = 1200 };

typedef struct worker {
    pid_t pid;
    int pidfd; /* readable once the worker exited; -1 without pidfd_open (then we poll) */
    int death; /* read end of its death pipe, hung up as it exits; -1 once seen */
    int running;
    int status; /* wait status once reaped */
    int reaped;
    uint64_t hup_seq;  /* event number at which its death pipe hung up (it began to exit), or 0 */
    uint64_t exit_seq; /* event number at which it was reaped, or 0 */
    int rank;
    so__stream out, err;
    char **envp;
} worker;

typedef struct job {
    const so_launch_config *cfg;
    char *const *argv;
    char path[4096];
    char run_id[128];
    char errdir[256];
    char master_addr[256];
    int master_port;
    worker *w;
    int k;
    int sfd;              /* read end of the self-pipe of SIGINT, SIGTERM, SIGHUP */
    int efd;              /* epoll set of the workers' pidfds and death pipes */
    int death_at;         /* the death pipe's descriptor in the workers, or -1 */
    int stopping;         /* signals were sent to the workers */
    int64_t kill_at_ns;   /* SIGKILL deadline once stopping */
    int64_t end_at_ns;    /* the job's timeout, or INT64_MAX */
    int failed_local;     /* local index of the first failure of this attempt, or -1 */
    int failed_status;    /* its wait status */
    uint64_t seq;         /* numbers the events (pipe hang-ups, exits, stop) in their order */
    uint64_t stop_seq;    /* the event number of stop_job, or 0 */
    int joined;           /* ranks that reached the group's rendezvous in a failed attempt, or -1 */
    so_store_server *srv; /* node 0 of several: the store of the whole run */
    so_launch_result *res;
} job;

void so_launch_config_default(so_launch_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->nproc = 1;
    cfg->nnodes = 1;
    cfg->grace_s = 3.0;
    cfg->role = "default";
    cfg->tag = SO_LAUNCH_TAG_ALL;
}

/* The CPU local worker i is pinned to with --bind-to core (-1: none): the i-th CPU of the
 * launcher's own set, as Open MPI binds ranks to cores, when there are 2 or more workers and
 * they fit the CPUs one each. Threads a worker starts inherit the CPU. Not the default: on the
 * 2-vCPU VM it helped some runs of an 8-byte shm all-reduce (the scheduler otherwise sometimes
 * stacks two ping-ponging ranks on one CPU) but cost others (tcp over loopback 8 B: 23 us
 * unpinned, 75 us pinned; see docs/design/launch.md), so placement stays the scheduler's. */
static int bind_cpu(const so_launch_config *c, int i) {
    cpu_set_t mine;
    if (c->bind == SO_LAUNCH_BIND_NONE || sched_getaffinity(0, sizeof mine, &mine) != 0) {
        return -1;
    }
    int ncpu = CPU_COUNT(&mine);
    if (c->nproc < 2 || c->nproc > ncpu) {
        return -1;
    }
    int want = i % ncpu, seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &mine) && seen++ == want) {
            return cpu;
        }
    }
    return -1;
}

const char *so_launch_signame(int sig) {
    static _Thread_local char buf[32];
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev) {
        snprintf(buf, sizeof buf, "SIG%s", abbrev);
    } else {
        snprintf(buf, sizeof buf, "signal %d", sig);
    }
    return buf;
}

/* Nonzero if kv ("NAME=value") names a variable the launcher sets (SO_TRANSPORT only when it
 * sets one: otherwise the workers inherit it). */
static int is_own_var(const char *kv, int sets_transport) {
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
    if (sets_transport && n == 12 && !strncmp(kv, "SO_TRANSPORT", 12)) {
        return 1;
    }
    for (int i = 0; i < OWN_VARS; i++) {
        if (strlen(own_vars[i]) == n && !strncmp(own_vars[i], kv, n)) {
            return 1;
        }
    }
    return 0;
}

/* envp = the launcher's environment without own_vars, then the contract's variables. One
 * allocation holds the pointer array and the new strings. */
static char **build_env(const job *j, int local, int restart) {
    const so_launch_config *c = j->cfg;
    size_t nenv = 0;
    while (environ[nenv]) {
        nenv++;
    }
    enum { NSET = 17 };
    size_t bytes = (nenv + NSET + 1) * sizeof(char *) + NSET * ENV_LINE;
    char **envp = malloc(bytes);
    if (!envp) {
        return NULL;
    }
    char *text = (char *)(envp + nenv + NSET + 1);
    size_t n = 0;
    for (size_t i = 0; i < nenv; i++) {
        if (!is_own_var(environ[i], c->transport != NULL)) {
            envp[n++] = environ[i];
        }
    }
    int rank = c->node_rank * c->nproc + local, world = c->nnodes * c->nproc;
    int set = 0;
#define SETV(...)                                                                                  \
    do {                                                                                           \
        char *line = text + (size_t)set++ * ENV_LINE;                                              \
        snprintf(line, ENV_LINE, __VA_ARGS__);                                                     \
        envp[n++] = line;                                                                          \
    } while (0)
    SETV("RANK=%d", rank);
    SETV("LOCAL_RANK=%d", local);
    SETV("WORLD_SIZE=%d", world);
    SETV("LOCAL_WORLD_SIZE=%d", c->nproc);
    SETV("GROUP_RANK=%d", c->node_rank);
    SETV("GROUP_WORLD_SIZE=%d", c->nnodes);
    SETV("ROLE_RANK=%d", rank);
    SETV("ROLE_WORLD_SIZE=%d", world);
    SETV("ROLE_NAME=%s", c->role ? c->role : "default");
    SETV("MASTER_ADDR=%s", j->master_addr);
    SETV("MASTER_PORT=%d", j->master_port);
    SETV("TORCHELASTIC_RESTART_COUNT=%d", restart);
    SETV("TORCHELASTIC_MAX_RESTARTS=%d", c->max_restarts);
    SETV("TORCHELASTIC_RUN_ID=%s", j->run_id);
    SETV("TORCHELASTIC_ERROR_FILE=%s/error-%d-%d.json", j->errdir, restart, rank);
    if (c->transport) {
        SETV("SO_TRANSPORT=%s", c->transport);
    }
    if (c->nproc > 1 && !getenv("OMP_NUM_THREADS")) {
        /* As torchrun: K ranks each running a thread per CPU (OpenMP, OpenBLAS) would
         * oversubscribe the host K times. */
        SETV("OMP_NUM_THREADS=1");
    }
#undef SETV
    envp[n] = NULL;
    return envp;
}

static void signal_workers(job *j, int sig) {
    for (int i = 0; i < j->k; i++) {
        if (j->w[i].running) {
            kill(-j->w[i].pid, sig); /* the worker's process group: its children too */
        }
    }
}

/* Starts stopping the job: sig to every running worker, SIGKILL after the grace period. A
 * second stop request while stopping (a second Ctrl-C) sends SIGKILL at once. */
static void stop_job(job *j, int sig) {
    if (j->stopping) {
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            signal_workers(j, SIGKILL);
        }
        return;
    }
    j->stopping = 1;
    j->stop_seq = ++j->seq;
    signal_workers(j, sig);
    double grace = j->cfg->grace_s > 0 ? j->cfg->grace_s : 0;
    j->kill_at_ns = so_now_ns() + (int64_t)(grace * 1e9);
}

static int failed(int status) {
    return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

/* Tries to reap worker i. The first failure reaped while the job runs stops the others at once;
 * which rank is blamed is decided later (blame). */
static void reap_one(job *j, int i) {
    worker *w = &j->w[i];
    int status = 0;
    if (!w->running) {
        return;
    }
    pid_t p = waitpid(w->pid, &status, WNOHANG);
    if (p == 0 || (p < 0 && errno != ECHILD)) {
        return;
    }
    /* ECHILD: the process ignores SIGCHLD, so the kernel reaped it; its status is lost. */
    w->running = 0;
    w->reaped = p > 0;
    w->status = status;
    w->exit_seq = ++j->seq;
    if (w->pidfd >= 0) {
        close(w->pidfd); /* also leaves the epoll set */
        w->pidfd = -1;
    }
    if (w->reaped && failed(status) && !j->stopping && j->failed_local < 0) {
        j->failed_local = i;
        j->failed_status = status;
        stop_job(j, SIGTERM);
    }
}

/* The epoll set holds every worker's pidfd (readable once it can be reaped) and the read end of
 * its death pipe, registered for no event, so that only its hang-up is reported. The write end
 * sits in the worker on a high descriptor (death_fd). When a process exits, the kernel releases
 * its files last-opened-first, so the highest descriptor goes first: the death pipe hangs up
 * before the worker's sockets or pipes close, i.e. before any other rank can notice that it is
 * gone and fail in turn. epoll keeps its ready list in the order events happened, so numbering
 * the hang-ups orders a cascade of failures by cause. The exits themselves do not: the
 * scheduler often lets the rank woken by the first one's death finish exiting first. */
static void on_events(job *j) {
    struct epoll_event ev[64];
    int n;
    while ((n = epoll_wait(j->efd, ev, 64, 0)) > 0) {
        for (int e = 0; e < n; e++) {
            uint32_t id = ev[e].data.u32;
            if (id < (uint32_t)j->k) {
                reap_one(j, (int)id);
                continue;
            }
            worker *w = &j->w[id - (uint32_t)j->k];
            if (!w->hup_seq) {
                w->hup_seq = ++j->seq;
            }
            if (w->death >= 0) {
                close(w->death); /* leaves the epoll set */
                w->death = -1;
            }
        }
    }
}

/* The descriptor the death pipe gets in the workers: high, so it is released first at exit, yet
 * within the descriptor limit (and not so high that each worker's fd table grows large). */
static int death_fd(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024) {
        return 1023;
    }
    return rl.rlim_cur > 16 ? (int)rl.rlim_cur - 1 : -1;
}

/* The rank to blame for a failed attempt: of the workers that failed by themselves (before the
 * launcher began stopping the job), the one whose exit showed first. */
static void blame(job *j) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < j->k; i++) {
        worker *w = &j->w[i];
        if (!w->reaped || !failed(w->status)) {
            continue;
        }
        uint64_t when = w->hup_seq && w->hup_seq < w->exit_seq ? w->hup_seq : w->exit_seq;
        if (when < j->stop_seq && when < best) {
            best = when;
            j->failed_local = i;
            j->failed_status = w->status;
        }
    }
}

static int any_running(const job *j) {
    for (int i = 0; i < j->k; i++) {
        if (j->w[i].running) {
            return 1;
        }
    }
    return 0;
}

/* Nonzero if some running worker has no pidfd (a kernel before 5.3): then the loop polls. */
static int any_without_pidfd(const job *j) {
    for (int i = 0; i < j->k; i++) {
        if (j->w[i].running && j->w[i].pidfd < 0) {
            return 1;
        }
    }
    return 0;
}

/* SIGINT, SIGTERM and SIGHUP reach the launcher through a self-pipe: a handler (which may run
 * on any thread of the process: OpenBLAS and others start threads we do not control, so masking
 * the signals in ours would not catch them) writes the signal number to it. */
static int sig_pipe[2] = {-1, -1};
static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};

static void on_stop_signal(int sig) {
    int e = errno;
    unsigned char b = (unsigned char)sig;
    (void)!write(sig_pipe[1], &b, 1);
    errno = e;
}

/* Catches the three signals, except one the process ignores (nohup ignores SIGHUP, a shell's
 * background job SIGINT): those stay ignored, by the launcher and, through exec, the workers. */
static int catch_signals(struct sigaction old[3]) {
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        return so__fail(SO_ESYS, "pipe2 for the launcher's signals failed: %s", strerror(errno));
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) {
        sigaddset(&sa.sa_mask, stop_signals[i]);
    }
    for (int i = 0; i < 3; i++) {
        sigaction(stop_signals[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN) {
            sigaction(stop_signals[i], &sa, NULL);
        }
    }
    return sig_pipe[0];
}

static void release_signals(const struct sigaction old[3]) {
    for (int i = 0; i < 3; i++) {
        sigaction(stop_signals[i], &old[i], NULL);
    }
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
}

static void on_signals(job *j) {
    unsigned char b;
    while (read(j->sfd, &b, 1) == 1) {
        int sig = b;
        if (!j->res->interrupted) {
            j->res->interrupted = sig;
        }
        stop_job(j, sig);
    }
}

/* Poll until every worker exited and its pipes are drained. */
static void supervise(job *j) {
    const so_launch_config *c = j->cfg;
    struct pollfd *pfd = malloc(sizeof *pfd * (size_t)(2 * j->k + 2));
    so__stream **who = malloc(sizeof *who * (size_t)(2 * j->k + 2));
    SO_ASSERT(pfd && who);
    for (;;) {
        if (!any_running(j)) {
            /* Every worker is gone: forward what their pipes still hold, then close them even
             * if a grandchild keeps the write end open. */
            on_events(j);
            for (int i = 0; i < j->k; i++) {
                so__stream_pump(&j->w[i].out);
                so__stream_pump(&j->w[i].err);
                so__stream_close(&j->w[i].out);
                so__stream_close(&j->w[i].err);
            }
            break;
        }
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = j->sfd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = j->efd, .events = POLLIN};
        for (int i = 0; i < j->k; i++) {
            so__stream *ss[2] = {&j->w[i].out, &j->w[i].err};
            for (int s = 0; s < 2; s++) {
                if (ss[s]->fd >= 0) {
                    who[n] = ss[s];
                    pfd[n++] = (struct pollfd){.fd = ss[s]->fd, .events = POLLIN};
                }
            }
        }
        int64_t now = so_now_ns(), wake = j->end_at_ns;
        if (j->stopping && j->kill_at_ns < wake) {
            wake = j->kill_at_ns;
        }
        int timeout_ms = -1;
        if (wake != INT64_MAX) {
            int64_t ms = wake > now ? (wake - now + 999999) / 1000000 : 0;
            timeout_ms = ms > 1000000 ? 1000000 : (int)ms;
        }
        int polling = any_without_pidfd(j);
        if (polling && (timeout_ms < 0 || timeout_ms > 10)) {
            timeout_ms = 10;
        }
        int r = poll(pfd, (nfds_t)n, timeout_ms);
        if (r < 0 && errno != EINTR) {
            SO_LOGE("scaleout run: poll failed: %s", strerror(errno));
            stop_job(j, SIGKILL);
        }
        on_events(j); /* before a pipe closes on its own end of file, which drops it from epoll */
        for (int i = 2; r > 0 && i < n; i++) {
            if (pfd[i].revents) {
                so__stream_pump(who[i]);
            }
        }
        if (polling) {
            for (int i = 0; i < j->k; i++) {
                reap_one(j, i);
            }
        }
        if (r > 0 && pfd[0].revents) {
            on_signals(j);
        }
        now = so_now_ns();
        if (now >= j->end_at_ns && !j->res->timed_out && any_running(j)) {
            j->res->timed_out = 1;
            if (!c->quiet) {
                fprintf(stderr,
                        "scaleout run: timeout: the job ran for %.1f s (--timeout %g); "
                        "stopping its workers\n",
                        c->timeout_s, c->timeout_s);
            }
            stop_job(j, SIGTERM);
        }
        if (j->stopping && now >= j->kill_at_ns) {
            signal_workers(j, SIGKILL);
            j->kill_at_ns = INT64_MAX; /* once is enough; their pidfds will tell */
        }
    }
    free(pfd);
    free(who);
}

static void free_workers(job *j) {
    for (int i = 0; i < j->k; i++) {
        if (j->w[i].pidfd >= 0) {
            close(j->w[i].pidfd);
            j->w[i].pidfd = -1;
        }
        if (j->w[i].death >= 0) {
            close(j->w[i].death);
            j->w[i].death = -1;
        }
        so__stream_deinit(&j->w[i].out);
        so__stream_deinit(&j->w[i].err);
        free(j->w[i].envp);
        j->w[i].envp = NULL;
    }
}

/* Kills and reaps what was started when starting the rest failed. */
static void abort_start(job *j) {
    signal_workers(j, SIGKILL);
    for (int i = 0; i < j->k; i++) {
        if (j->w[i].running) {
            while (waitpid(j->w[i].pid, NULL, 0) < 0 && errno == EINTR) {
            }
            j->w[i].running = 0;
        }
    }
}

/* mkdir -p. */
static int make_dirs(const char *path) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf) {
        return so__fail(SO_EINVAL, "log directory path too long: %s", path);
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
                return so__fail(SO_ESYS, "cannot create the log directory %s: %s", buf,
                                strerror(errno));
            }
            *p = c;
            if (!c) {
                return SO_OK;
            }
        }
    }
}

static int open_logs(job *j, worker *w, int restart) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/attempt_%d/%d", j->cfg->log_dir, restart, w->rank);
    SO_TRY(make_dirs(dir));
    snprintf(path, sizeof path, "%s/stdout.log", dir);
    SO_TRY(so__stream_log_to(&w->out, path));
    snprintf(path, sizeof path, "%s/stderr.log", dir);
    return so__stream_log_to(&w->err, path);
}

static int start_workers(job *j, int restart) {
    const so_launch_config *c = j->cfg;
    memset(j->w, 0, sizeof *j->w * (size_t)j->k);
    for (int i = 0; i < j->k; i++) {
        j->w[i].out.fd = j->w[i].err.fd = j->w[i].pidfd = j->w[i].death = -1;
    }
    int rc = SO_OK;
    for (int i = 0; i < j->k; i++) {
        worker *w = &j->w[i];
        w->rank = c->node_rank * c->nproc + i;
        int po[2], pe[2];
        if (pipe2(po, O_CLOEXEC) < 0) {
            rc = so__fail(SO_ESYS, "pipe for rank %d failed: %s", w->rank, strerror(errno));
            break;
        }
        if (pipe2(pe, O_CLOEXEC) < 0) {
            close(po[0]);
            close(po[1]);
            rc = so__fail(SO_ESYS, "pipe for rank %d failed: %s", w->rank, strerror(errno));
            break;
        }
        fcntl(po[0], F_SETFL, O_NONBLOCK);
        fcntl(pe[0], F_SETFL, O_NONBLOCK);
        rc = so__stream_init(&w->out, po[0], 1, w->rank, c->tag, 0);
        if (rc < 0) {
            close(po[0]);
            close(pe[0]);
        } else if ((rc = so__stream_init(&w->err, pe[0], 2, w->rank, c->tag, 1)) < 0) {
            close(pe[0]);
        }
        if (rc == SO_OK && c->log_dir) {
            rc = open_logs(j, w, restart);
        }
        w->envp = rc == SO_OK ? build_env(j, i, restart) : NULL;
        if (rc == SO_OK && !w->envp) {
            rc = so__fail(SO_ENOMEM, "cannot build the environment of rank %d", w->rank);
        }
        if (rc == SO_OK) {
            /* A terminal stays with the launcher (a background worker reading it would stop);
             * piped input goes to local rank 0, as mpirun gives it to rank 0. */
            so__spawn_fds fds = {.in = (i == 0 && !isatty(0)) ? 0 : -1,
                                 .out = po[1],
                                 .err = pe[1],
                                 .death = -1,
                                 .death_at = j->death_at,
                                 .cpu = bind_cpu(c, i)};
            int pd[2] = {-1, -1};
            if (j->death_at >= 0 && pipe2(pd, O_CLOEXEC) == 0) {
                fds.death = pd[1];
                struct epoll_event hup = {.events = 0, .data.u32 = (uint32_t)(j->k + i)};
                if (epoll_ctl(j->efd, EPOLL_CTL_ADD, pd[0], &hup) < 0) {
                    close(pd[0]);
                    close(pd[1]);
                    pd[0] = pd[1] = fds.death = -1;
                }
            }
            rc = so__spawn(j->path, j->argv, w->envp, &fds, &w->pid);
            w->death = pd[0];
            if (pd[1] >= 0) {
                close(pd[1]);
            }
        }
        close(po[1]);
        close(pe[1]);
        if (rc < 0) {
            break;
        }
        w->running = 1;
        w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (w->pidfd >= 0 && epoll_ctl(j->efd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) {
            close(w->pidfd);
            w->pidfd = -1; /* reaped by polling instead */
        }
    }
    if (rc < 0) {
        abort_start(j);
    }
    return rc;
}

static void read_error_file(job *j, int restart, int rank) {
    char path[512];
    snprintf(path, sizeof path, "%s/error-%d-%d.json", j->errdir, restart, rank);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t r = read(fd, j->res->error_file, sizeof j->res->error_file - 1);
    j->res->error_file[r > 0 ? r : 0] = '\0';
    close(fd);
}

static void remove_errdir(job *j, int attempts) {
    for (int a = 0; a < attempts; a++) {
        for (int i = 0; i < j->k; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/error-%d-%d.json", j->errdir, a,
                     j->cfg->node_rank * j->cfg->nproc + i);
            unlink(path);
        }
    }
    if (rmdir(j->errdir) < 0 && errno == ENOTEMPTY) {
        SO_LOGW("scaleout run: left %s (workers wrote more files there)", j->errdir);
    }
}

static int check_config(const so_launch_config *c) {
    if (c->nproc < 1 || c->nproc > 4096) {
        return so__fail(SO_EINVAL, "the number of workers per node must be 1..4096, not %d",
                        c->nproc);
    }
    if (c->nnodes < 1 || c->node_rank < 0 || c->node_rank >= c->nnodes) {
        return so__fail(SO_EINVAL, "node rank %d is not in 0..%d", c->node_rank, c->nnodes - 1);
    }
    if (c->nnodes > 1 && (!c->master_addr || c->master_port <= 0)) {
        return so__fail(SO_EINVAL,
                        "a job on %d nodes needs the master address and port "
                        "(--master HOST:PORT) that every node can reach",
                        c->nnodes);
    }
    if (c->master_port < 0 || c->master_port > 65535 || c->max_restarts < 0) {
        return so__fail(SO_EINVAL, "port %d or max restarts %d out of range", c->master_port,
                        c->max_restarts);
    }
    return SO_OK;
}

/* How many ranks of this attempt reached the process group's rendezvous: the library
 * (src/comm/comm.c, exchange_info) sets "world/r<restart>/info/<rank>" in the store as each rank
 * joins. Asked of our own store after a failure, before it stops. -1 if the store cannot be
 * asked. */
static int ranks_joined(job *j, int restart) {
    so_store *st;
    if (so_store_create_tcp(j->master_addr, j->master_port, 1000, &st) < 0) {
        return -1;
    }
    int joined = 0, world = j->cfg->nnodes * j->cfg->nproc;
    for (int r = 0; r < world; r++) {
        char key[96], val[512];
        size_t len;
        snprintf(key, sizeof key, "world/r%d/info/%d", restart, r);
        joined += so_store_get(st, key, val, sizeof val, &len, 0) == SO_OK;
    }
    so_store_destroy(st);
    return joined;
}

/* One attempt: store, workers, supervision. Returns SO_OK when the workers ran.
 * On one node each attempt gets a fresh store (nothing of a failed attempt survives). On several
 * nodes node 0 keeps one store for the whole run (j->srv): the other nodes restart on their own
 * schedule and must find it; the library keeps attempts apart by prefixing its keys with
 * TORCHELASTIC_RESTART_COUNT. */
static int run_attempt(job *j, int restart) {
    const so_launch_config *c = j->cfg;
    so_store_server *srv = NULL;
    if (c->node_rank == 0 && !j->srv) {
        SO_TRY(so_store_server_start(j->master_addr, c->master_port, &srv));
        j->master_port = so_store_server_port(srv);
    }
    j->stopping = 0;
    j->kill_at_ns = INT64_MAX;
    j->failed_local = -1;
    j->seq = j->stop_seq = 0;
    int rc = start_workers(j, restart);
    if (rc == SO_OK) {
        supervise(j);
        if (j->failed_local >= 0) {
            blame(j);
        }
    }
    j->joined = -1;
    if (rc == SO_OK && srv && j->failed_local >= 0 && !c->restart_early &&
        restart < c->max_restarts) {
        j->joined = ranks_joined(j, restart);
    }
    free_workers(j);
    so_store_server_stop(srv);
    return rc;
}

int so_launch_run(const so_launch_config *cfg, char *const argv[], so_launch_result *res) {
    memset(res, 0, sizeof *res);
    res->failed_rank = -1;
    SO_TRY(check_config(cfg));
    job j = {.cfg = cfg, .argv = argv, .k = cfg->nproc, .sfd = -1, .efd = -1, .res = res};
    SO_TRY(so__resolve_program(argv ? argv[0] : NULL, j.path, sizeof j.path));
    double t0 = so_now_s();
    snprintf(j.master_addr, sizeof j.master_addr, "%s",
             cfg->master_addr ? cfg->master_addr : "127.0.0.1");
    if (cfg->run_id) {
        snprintf(j.run_id, sizeof j.run_id, "%s", cfg->run_id);
    } else {
        snprintf(j.run_id, sizeof j.run_id, "so-%ld-%lld", (long)getpid(),
                 (long long)(so_now_ns() / 1000000 % 100000000));
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(j.errdir, sizeof j.errdir, "%s/scaleout-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(j.errdir)) {
        return so__fail(SO_ESYS, "cannot create a directory for the workers' error files (%s): %s",
                        j.errdir, strerror(errno));
    }
    j.w = calloc((size_t)j.k, sizeof *j.w);
    if (!j.w) {
        rmdir(j.errdir);
        return so__fail(SO_ENOMEM, "cannot allocate %d workers", j.k);
    }
    struct sigaction old_actions[3];
    j.sfd = catch_signals(old_actions);
    if (j.sfd < 0) {
        free(j.w);
        rmdir(j.errdir);
        return j.sfd;
    }
    j.efd = epoll_create1(EPOLL_CLOEXEC);
    j.death_at = death_fd();
    int rc = SO_OK, attempts = 0;
    if (j.efd < 0) {
        rc = so__fail(SO_ESYS, "epoll_create1 failed: %s", strerror(errno));
    }
    j.master_port = cfg->master_port;
    if (rc == SO_OK && cfg->nnodes > 1 && cfg->node_rank == 0) {
        /* Listen on every interface: MASTER_ADDR is how the other nodes reach this one. */
        rc = so_store_server_start("0.0.0.0", cfg->master_port, &j.srv);
    }
    j.end_at_ns = cfg->timeout_s > 0 ? so_now_ns() + (int64_t)(cfg->timeout_s * 1e9) : INT64_MAX;
    for (int restart = 0; rc == SO_OK; restart++) {
        attempts = restart + 1;
        rc = run_attempt(&j, restart);
        if (rc < 0 || j.failed_local < 0 || res->interrupted || res->timed_out) {
            break;
        }
        int st = j.failed_status;
        res->failed_rank = cfg->node_rank * cfg->nproc + j.failed_local;
        res->failed_code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
        res->failed_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        so__stream_tail(&j.w[j.failed_local].err, res->tail, sizeof res->tail);
        res->error_file[0] = '\0';
        read_error_file(&j, restart, res->failed_rank);
        res->log_path[0] = '\0';
        if (cfg->log_dir) {
            snprintf(res->log_path, sizeof res->log_path, "%s/attempt_%d/%d/stderr.log",
                     cfg->log_dir, restart, res->failed_rank);
        }
        if (restart >= cfg->max_restarts) {
            break;
        }
        if (j.joined > 0 && j.joined < cfg->nproc) {
            /* The program uses the process group, but the group never formed: a failure at
             * start-up (bad arguments, a missing file) repeats, so restarting only hides it. */
            res->early = 1;
            if (!cfg->quiet) {
                fprintf(stderr,
                        "scaleout run: rank %d failed before the process group formed "
                        "(%d of %d ranks joined); not restarting, since a start-up "
                        "failure repeats (--restart-early restarts anyway)\n",
                        res->failed_rank, j.joined, cfg->nproc);
            }
            break;
        }
        res->restarts = restart + 1;
        if (!cfg->quiet) {
            char how[64];
            if (res->failed_signal) {
                snprintf(how, sizeof how, "was killed by %s",
                         so_launch_signame(res->failed_signal));
            } else {
                snprintf(how, sizeof how, "exited with code %d", res->failed_code);
            }
            fprintf(stderr,
                    "scaleout run: rank %d %s; restarting all %d workers (restart %d of %d)\n",
                    res->failed_rank, how, j.k, restart + 1, cfg->max_restarts);
        }
        res->failed_rank = -1;
        res->failed_code = res->failed_signal = 0;
    }
    so_store_server_stop(j.srv);
    if (j.efd >= 0) {
        close(j.efd);
    }
    release_signals(old_actions);
    remove_errdir(&j, attempts);
    free(j.w);
    res->elapsed_s = so_now_s() - t0;
    if (rc < 0) {
        return rc;
    }
    if (res->interrupted) {
        res->exit_code = 128 + res->interrupted;
    } else if (res->timed_out) {
        res->exit_code = 124;
    } else if (res->failed_rank >= 0) {
        res->exit_code = res->failed_signal ? 128 + res->failed_signal : res->failed_code;
    }
    return SO_OK;
}

void so_launch_report(const so_launch_result *res, FILE *f) {
    if (res->exit_code == 0) {
        return;
    }
    if (res->interrupted) {
        fprintf(f, "scaleout run: stopped by %s; workers were stopped\n",
                so_launch_signame(res->interrupted));
        return;
    }
    if (res->timed_out) {
        fprintf(f, "scaleout run: the job exceeded its timeout and was stopped (exit 124)\n");
        return;
    }
    if (res->failed_rank < 0) {
        return;
    }
    if (res->failed_signal) {
        fprintf(f, "scaleout run: rank %d was killed by %s", res->failed_rank,
                so_launch_signame(res->failed_signal));
    } else {
        fprintf(f, "scaleout run: rank %d exited with code %d", res->failed_rank, res->failed_code);
    }
    if (res->restarts) {
        fprintf(f, " after %d restart%s", res->restarts, res->restarts == 1 ? "" : "s");
    }
    if (res->early) {
        fprintf(f, " before the process group formed");
    }
    fprintf(f, "; the other workers were stopped\n");
    if (res->tail[0]) {
        fprintf(f, "scaleout run: last lines of rank %d's stderr:\n", res->failed_rank);
        for (const char *p = res->tail; *p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "  | %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
    }
    if (res->error_file[0]) {
        fprintf(f, "scaleout run: rank %d's error file: %s\n", res->failed_rank, res->error_file);
    }
    if (res->log_path[0]) {
        fprintf(f, "scaleout run: rank %d's whole stderr: %s\n", res->failed_rank, res->log_path);
    }
}
