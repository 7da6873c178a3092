/*
 * `scaleout bench allreduce|reducescatter|allgather|alltoall|bcast -n K --transport shm|tcp ...`:
 * the collective sweeps, printed in nccl-tests' columns
 *   size count type redop algo time_us min_us max_us iters algbw busbw #wrong model_us
 *
 * The process started by the user re-runs itself as K ranks under the launcher; each rank
 * builds the group with so_comm_init_from_env and rank 0 prints. Per size and algorithm:
 *  1. one checked call: inputs hold small integers that depend on rank and index
 *     (so_bench_value), outputs are first filled with a poison pattern, and every rank counts
 *     the elements that differ from the value computed in closed form; the counts are summed
 *     over ranks into #wrong;
 *  2. warm-up and timed calls (bench_common.c: a barrier before each, max over ranks, median).
 * Sizes follow nccl-tests: all-reduce S = the vector of each rank; reduce-scatter S = the input
 * of each rank; all-gather S = the gathered result; all-to-all S = the send buffer of each rank;
 * bcast S = the message. busbw = S/t x 2(n-1)/n (all-reduce), (n-1)/n (reduce-scatter,
 * all-gather, all-to-all), 1 (bcast). model_us is the alpha-beta prediction of the all-reduce
 * (so_coll_predict_allreduce with this group's so_coll_calibrate), for all-reduce rows.
 *
 * --plot FILE.png: rank 0 also writes FILE.csv (bytes, then the busbw in GB/s of each algorithm)
 * and draws it with gnuplot (bench/plot.c): busbw against size, log x, one line per algorithm.
 * Without gnuplot the CSV is still written and a line says so.
 *
 * --vs-mpi: after our sweep the same sizes run under mpirun with the Open MPI peer
 * (bench/mpi_allreduce.c, if it was built; f32 sum, one algorithm) and a table of both with the
 * ratio follows.
 *
 * Limits: buffers are separate (out of place) except bcast; sizes that must split across ranks
 * are rounded up to a multiple of K elements; the all-to-all has one algorithm (pairwise), and
 * "auto" rows of the other non-all-reduce collectives do not say which one the selector took.
 */
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "cli.h"
#include "plot.h"

enum { K_ALLREDUCE, K_REDUCESCATTER, K_ALLGATHER, K_ALLTOALL, K_BCAST };

typedef struct coll_kind {
    const char *cmd;  /* the bench name */
    const char *op;   /* the op in JSON case strings, as the peers spell it */
    int reduces;      /* takes --op */
    so_algo algos[6]; /* what --algo all runs, SO_ALGO_AUTO-terminated */
} coll_kind;

static const coll_kind kinds[] = {
    [K_ALLREDUCE] = {"allreduce",
                     "allreduce",
                     1,
                     {SO_ALGO_NAIVE, SO_ALGO_TREE, SO_ALGO_RING, SO_ALGO_HD, SO_ALGO_AUTO}},
    [K_REDUCESCATTER] = {"reducescatter",
                         "reduce_scatter",
                         1,
                         {SO_ALGO_RING, SO_ALGO_HD, SO_ALGO_AUTO}},
    [K_ALLGATHER] = {"allgather", "allgather", 0, {SO_ALGO_RING, SO_ALGO_RD, SO_ALGO_AUTO}},
    [K_ALLTOALL] = {"alltoall", "alltoall", 0, {SO_ALGO_PAIRWISE, SO_ALGO_AUTO}},
    [K_BCAST] = {"bcast", "bcast", 0, {SO_ALGO_TREE, SO_ALGO_RING, SO_ALGO_AUTO}},
};

typedef struct coll_cfg {
    int kind, nranks, model, vs_mpi, all_algos;
    const char *transport, *algo_name, *csv, *json, *rows, *label, *plot;
    so_algo algo;
    so_bench_sweep sw;
    so_bench_timing tm;
    so_dtype dt;
    so_op op;
} coll_cfg;

/* One call of the collective under test, as so_bench_time wants it. */
typedef struct coll_call {
    int kind;
    void *send, *recv;
    size_t count; /* elements: the per-rank vector, or per block for split collectives */
    so_dtype dt;
    so_op op;
    so_coll_opts opts;
} coll_call;

static int coll_run(so_comm *c, void *arg) {
    coll_call *a = arg;
    switch (a->kind) {
    case K_ALLREDUCE:
        return so_allreduce_ex(c, a->send, a->recv, a->count, a->dt, a->op, &a->opts);
    case K_REDUCESCATTER:
        return so_reduce_scatter_ex(c, a->send, a->recv, a->count, a->dt, a->op, &a->opts);
    case K_ALLGATHER:
        return so_allgather_ex(c, a->send, a->recv, a->count, a->dt, &a->opts);
    case K_ALLTOALL:
        return so_alltoall(c, a->send, a->recv, a->count, a->dt);
    case K_BCAST:
        return so_bcast_ex(c, a->send, a->count, a->dt, 0, &a->opts);
    default:
        return so__fail(SO_EINVAL, "bench: unknown collective %d", a->kind);
    }
}

/* The value rank `src` sends to rank `dst` at element t of their all-to-all block. */
static int a2a_value(int src, int dst, size_t t) {
    return (int)((3 * (size_t)src + 5 * (size_t)dst + t) % 11);
}

/* Sets the element counts of the call for S bytes on k ranks; returns the bytes that row
 * reports (S rounded to whole elements, and to a multiple of k elements where it splits). */
static size_t coll_shape(coll_call *a, size_t S, int k) {
    size_t es = so_dtype_size(a->dt), n = S / es;
    if (a->kind == K_ALLREDUCE || a->kind == K_BCAST) {
        n = n ? n : 1;
        a->count = n;
        return n * es;
    }
    n = (n + (size_t)k - 1) / (size_t)k * (size_t)k;
    n = n ? n : (size_t)k;
    a->count = n / (size_t)k;
    return n * es;
}

/* Fills the inputs and poisons the outputs for the checked call. */
static void coll_fill(const coll_call *a, int r, int k, size_t bytes) {
    size_t n = a->count;
    switch (a->kind) {
    case K_ALLREDUCE:
        so_bench_fill(a->dt, a->op, r, a->send, 0, n);
        so_bench_poison(a->recv, bytes);
        break;
    case K_REDUCESCATTER:
        so_bench_fill(a->dt, a->op, r, a->send, 0, n * (size_t)k);
        so_bench_poison(a->recv, bytes / (size_t)k);
        break;
    case K_ALLGATHER:
        for (size_t j = 0; j < n; j++) {
            so_bench_put(a->dt, a->send, j, so_bench_value(SO_SUM, r, (size_t)r * n + j));
        }
        so_bench_poison(a->recv, bytes);
        break;
    case K_ALLTOALL:
        for (int d = 0; d < k; d++) {
            for (size_t t = 0; t < n; t++) {
                so_bench_put(a->dt, a->send, (size_t)d * n + t, a2a_value(r, d, t));
            }
        }
        so_bench_poison(a->recv, bytes);
        break;
    case K_BCAST:
        if (r == 0) {
            so_bench_fill(a->dt, SO_SUM, 0, a->send, 0, n);
        } else {
            so_bench_poison(a->send, bytes);
        }
        break;
    }
}

/* Elements of this rank's output that differ from the expected values. */
static size_t coll_check(const coll_call *a, int r, int k) {
    size_t n = a->count, wrong = 0;
    switch (a->kind) {
    case K_ALLREDUCE:
        return so_bench_check_reduced(a->dt, a->op, k, a->recv, 0, n);
    case K_REDUCESCATTER:
        return so_bench_check_reduced(a->dt, a->op, k, a->recv, (size_t)r * n, n);
    case K_ALLGATHER:
        for (size_t i = 0; i < n * (size_t)k; i++) {
            wrong += so_bench_get(a->dt, a->recv, i) != so_bench_value(SO_SUM, (int)(i / n), i);
        }
        return wrong;
    case K_ALLTOALL:
        for (int s = 0; s < k; s++) {
            for (size_t t = 0; t < n; t++) {
                wrong += so_bench_get(a->dt, a->recv, (size_t)s * n + t) != a2a_value(s, r, t);
            }
        }
        return wrong;
    case K_BCAST:
        for (size_t i = 0; i < n; i++) {
            wrong += so_bench_get(a->dt, a->send, i) != so_bench_value(SO_SUM, 0, i);
        }
        return wrong;
    }
    return wrong;
}

static void coll_usage(const char *cmd) {
    printf(
        "usage: scaleout bench %s [-n K (2)] [--transport shm|tcp (shm)] [--algo NAME|all]\n"
        "         [--min SIZE (8)] [--max SIZE (64M)] [--factor F (2) | --step S | --sizes LIST]\n"
        "         [--iters N (adaptive) --warmup W --budget SECONDS (0.5)]\n"
        "         [--dtype f32] [--op sum] [--csv FILE] [--json FILE] [--label TEXT]\n"
        "         [--plot FILE.png (busbw vs size per algorithm; FILE.csv beside it)]\n"
        "         [--no-model] [--vs-mpi]\n"
        "Runs itself as K ranks and prints nccl-tests' columns; #wrong counts elements that\n"
        "differ from the expected result (summed over ranks). JSON lines carry bench\n"
        "\"ours_coll\" and case \"<label> np=K <op> <size>\" (label ours-<transport>[-algo]),\n"
        "metrics lat_us lat_us_min busbw_GBps algbw_GBps, for ../shared/peers/summarize.py.\n"
        "Algorithms: naive tree ring hd rd pairwise hier (what the collective has), all, auto.\n",
        cmd);
}

static int coll_parse(coll_cfg *cfg, int kind, int argc, char **argv) {
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->nranks = 2;
    cfg->transport = "shm";
    cfg->model = kind == K_ALLREDUCE;
    cfg->dt = SO_F32;
    cfg->op = SO_SUM;
    so_bench_sweep_default(&cfg->sw);
    so_bench_timing_default(&cfg->tm);
    for (int i = 1; i < argc; i++) {
        int rc;
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            coll_usage(argv[0]);
            return 1;
        }
        if (!strcmp(argv[i], "--no-model")) {
            cfg->model = 0;
            continue;
        }
        if (!strcmp(argv[i], "--vs-mpi")) {
            cfg->vs_mpi = 1;
            continue;
        }
        if ((rc = so_bench_flag_int(argc, argv, &i, "-n", &cfg->nranks)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--transport", &cfg->transport)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--algo", &cfg->algo_name)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--csv", &cfg->csv)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--json", &cfg->json)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--rows", &cfg->rows)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--label", &cfg->label)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--plot", &cfg->plot)) ||
            (rc = so_bench_sweep_flag(&cfg->sw, argc, argv, &i)) ||
            (rc = so_bench_timing_flag(&cfg->tm, argc, argv, &i))) {
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if ((rc = so_bench_flag_str(argc, argv, &i, "--dtype", &v)) > 0) {
            SO_TRY(so_dtype_parse(v, &cfg->dt));
            continue;
        }
        if ((rc = so_bench_flag_str(argc, argv, &i, "--op", &v)) > 0) {
            SO_TRY(so_op_parse(v, &cfg->op));
            if (!kinds[kind].reduces) {
                return so__fail(SO_EINVAL, "--op applies to reductions, not %s", argv[0]);
            }
            continue;
        }
        SO_TRY(rc);
        return so__fail(SO_EINVAL, "unknown flag '%s' (see --help)", argv[i]);
    }
    if (cfg->nranks < 1 || cfg->nranks > 63) {
        return so__fail(SO_EINVAL, "-n wants 1..63 ranks, got %d", cfg->nranks);
    }
    if (strcmp(cfg->transport, "shm") && strcmp(cfg->transport, "tcp") &&
        strcmp(cfg->transport, "auto")) {
        return so__fail(SO_EINVAL, "--transport wants shm, tcp or auto, got '%s'", cfg->transport);
    }
    cfg->algo = SO_ALGO_AUTO;
    if (cfg->algo_name && !strcmp(cfg->algo_name, "all")) {
        cfg->all_algos = 1;
    } else if (cfg->algo_name) {
        SO_TRY(so_algo_parse(cfg->algo_name, &cfg->algo));
    }
    if (cfg->vs_mpi && (cfg->all_algos || cfg->dt != SO_F32 || cfg->op != SO_SUM)) {
        return so__fail(SO_EINVAL, "--vs-mpi wants one algorithm (not --algo all), f32 and sum, "
                                   "as the Open MPI peer runs");
    }
    return 0;
}

/* ---- the ranks ---- */

/* --plot FILE.png: FILE.csv and, with gnuplot, the picture. Failures are reported, not fatal. */
static void coll_plot(const coll_cfg *cfg, int k, const so_algo *algos, int nalgos,
                      const double *rows, int nrows) {
    char csv[4096];
    size_t len = strlen(cfg->plot);
    int has_png = len > 4 && !strcmp(cfg->plot + len - 4, ".png");
    snprintf(csv, sizeof csv, "%.*s.csv", (int)(has_png ? len - 4 : len), cfg->plot);
    const char *cols[7] = {"bytes"};
    for (int i = 0; i < nalgos; i++) {
        cols[i + 1] = algos[i] == SO_ALGO_AUTO ? "auto (selector)" : so_algo_name(algos[i]);
    }
    int rc = so_plot_write_csv(csv, cols, nalgos + 1, rows, nrows);
    if (rc == SO_OK) {
        char title[256];
        snprintf(title, sizeof title, "%s bus bandwidth, %d ranks over %s (median of timed calls)",
                 kinds[cfg->kind].cmd, k, cfg->transport);
        rc = so_plot_lines(csv, cfg->plot, title, "message size (bytes per rank)", "busbw (GB/s)",
                           SO_PLOT_LOGX | SO_PLOT_XBYTES);
    }
    if (rc == SO_ENOTSUP) {
        printf("# --plot: %s; the numbers are in %s\n", so_last_error(), csv);
    } else if (rc < 0) {
        printf("# --plot failed: %s\n", so_last_error());
    } else {
        printf("# plot: %s (data %s)\n", cfg->plot, csv);
    }
}

static int coll_rank_main(const coll_cfg *cfg) {
    const coll_kind *kd = &kinds[cfg->kind];
    so_comm *c;
    int irc = so_comm_init_from_env(&c);
    if (irc < 0) {
        fprintf(stderr, "scaleout bench %s: cannot build the group: %s: %s\n", kd->cmd,
                so_err_name(irc), so_last_error());
        return irc;
    }
    int r = so_comm_rank(c), k = so_comm_size(c), rc = SO_OK;
    so_bench_out out;
    char label[96];
    if (cfg->label) {
        snprintf(label, sizeof label, "%s", cfg->label);
    } else if (cfg->algo != SO_ALGO_AUTO) {
        snprintf(label, sizeof label, "ours-%s-%s", cfg->transport, so_algo_name(cfg->algo));
    } else {
        snprintf(label, sizeof label, "ours-%s", cfg->transport);
    }
    SO_TRY_GOTO(so_bench_out_open(&out, cfg->csv, cfg->json, cfg->rows, r == 0), rc, done_comm);
    char title[160];
    snprintf(title, sizeof title, "%s, transport in use: %s", label,
             k > 1 ? so_comm_transport_name(c, (r + 1) % k) : "self");
    out.title = title;

    so_alpha_beta ab = {0, 0};
    int have_model = 0;
    if (cfg->model && k > 1) {
        SO_TRY_GOTO(so_coll_calibrate(c, &ab), rc, done_out);
        have_model = ab.beta_s_per_b > 0;
        if (r == 0) {
            printf("# calibrated alpha-beta model: alpha %.2f us, 1/beta %.3f GB/s (model_us "
                   "column)\n",
                   ab.alpha_s * 1e6, ab.beta_s_per_b > 0 ? 1e-9 / ab.beta_s_per_b : 0.0);
        }
    }

    /* Buffers for the largest size (rounded up to whole blocks), touched once. */
    size_t es = so_dtype_size(cfg->dt);
    size_t cap = so_bench_sweep_largest(&cfg->sw) + (size_t)k * es + es;
    void *send = so_malloc_aligned(cap), *recv = so_malloc_aligned(cap);
    if (!send || !recv) {
        rc = so__fail(SO_ENOMEM, "bench: cannot allocate 2 x %zu bytes", cap);
        goto done_buf;
    }
    memset(send, 0, cap);
    memset(recv, 0, cap);

    /* The algorithms of this run: the one asked for, or every one the collective has. */
    so_algo algos[6] = {cfg->algo};
    int nalgos = 1;
    if (cfg->all_algos) {
        for (nalgos = 0; nalgos < 6 && kd->algos[nalgos] != SO_ALGO_AUTO; nalgos++) {
            algos[nalgos] = kd->algos[nalgos];
        }
    }
    int skipped[SO_ALGO_COUNT] = {0};
    size_t total_wrong = 0, prev_bytes = 0;
    /* --plot: one row per size, bytes then the busbw of each algorithm (NaN where none). */
    double plot_rows[SO_BENCH_MAX_SIZES * 7];
    int plot_n = 0;
    for (size_t S = so_bench_sweep_first(&cfg->sw); S; S = so_bench_sweep_next(&cfg->sw, S)) {
        coll_call a = {.kind = cfg->kind, .send = send, .recv = recv, .dt = cfg->dt, .op = cfg->op};
        size_t bytes = coll_shape(&a, S, k);
        if (bytes == prev_bytes) {
            continue; /* rounding made this size equal to the last one */
        }
        prev_bytes = bytes;
        double *prow = plot_n < SO_BENCH_MAX_SIZES ? &plot_rows[plot_n++ * (nalgos + 1)] : NULL;
        for (int ai = 0; prow && ai <= nalgos; ai++) {
            prow[ai] = ai ? NAN : (double)bytes;
        }
        for (int ai = 0; ai < nalgos; ai++) {
            so_algo al = algos[ai];
            if (skipped[al]) {
                continue;
            }
            a.opts.algo = al;
            coll_fill(&a, r, k, bytes);
            int crc = coll_run(c, &a);
            if (crc == SO_ENOTSUP && !so_comm_poisoned(c)) {
                if (r == 0) {
                    printf("# %s: algorithm %s skipped: %s\n", kd->cmd, so_algo_name(al),
                           so_last_error());
                }
                skipped[al] = 1;
                continue;
            }
            SO_TRY_GOTO(crc, rc, done_buf);
            int64_t wrong = (int64_t)coll_check(&a, r, k);
            SO_TRY_GOTO(so_allreduce(c, &wrong, &wrong, 1, SO_I64, SO_SUM), rc, done_buf);
            /* With --algo all, each algorithm gets its own case label (ours-shm-ring ...). */
            char rowlabel[128];
            snprintf(rowlabel, sizeof rowlabel, "%s%s%s", label, cfg->all_algos ? "-" : "",
                     cfg->all_algos ? so_algo_name(al) : "");
            so_bench_row row = {.bench = "ours_coll",
                                .label = rowlabel,
                                .op = kd->op,
                                .nranks = k,
                                .bytes = bytes,
                                .type = so_dtype_name(cfg->dt),
                                .redop = kd->reduces ? so_op_name(cfg->op) : "none",
                                .busbw_factor = so_bench_busbw_factor(kd->op, k),
                                .wrong = (size_t)wrong,
                                .model_us = -1.0};
            row.count =
                (cfg->kind == K_ALLREDUCE || cfg->kind == K_BCAST) ? a.count : a.count * (size_t)k;
            so_algo shown = al;
            if (al == SO_ALGO_AUTO && cfg->kind == K_ALLREDUCE) {
                shown = so_coll_select_allreduce(c, bytes);
            }
            if (cfg->kind == K_ALLTOALL) {
                shown = SO_ALGO_PAIRWISE; /* the only one so_alltoall has */
            }
            row.algo = shown == SO_ALGO_AUTO ? "auto" : so_algo_name(shown);
            if (have_model && cfg->kind == K_ALLREDUCE && shown != SO_ALGO_AUTO) {
                double p = so_coll_predict_allreduce(shown, k, bytes, &ab);
                row.model_us = (isfinite(p) && p > 0) ? p * 1e6 : -1.0;
            }
            SO_TRY_GOTO(so_bench_time(c, coll_run, &a, bytes, &cfg->tm, &row.st), rc, done_buf);
            so_bench_row_print(&out, &row);
            total_wrong += (size_t)wrong;
            if (prow && row.st.med_s > 0) {
                prow[ai + 1] = (double)bytes / row.st.med_s * row.busbw_factor / 1e9;
            }
        }
    }
    if (r == 0) {
        printf("# Avg bus bandwidth    : %g GB/s\n", out.nrows ? out.busbw_sum / out.nrows : 0.0);
        printf("# %s: %s wrong elements in all\n", kd->cmd, total_wrong ? "SOME" : "no");
        if (cfg->plot) {
            coll_plot(cfg, k, algos, nalgos, plot_rows, plot_n);
        }
    }
    if (total_wrong) {
        rc = so__fail(SO_ECORRUPT, "bench %s: %zu wrong elements", kd->cmd, total_wrong);
    }
done_buf:
    so_free_aligned(send);
    so_free_aligned(recv);
done_out:
    so_bench_out_close(&out);
done_comm:
    if (rc < 0) {
        fprintf(stderr, "[rank %d] scaleout bench %s: %s: %s\n", r, kd->cmd, so_err_name(rc),
                so_comm_last_error(c)[0] ? so_comm_last_error(c) : so_last_error());
        so_comm_abort(c);
    }
    so_comm_destroy(c);
    return rc;
}

/* ---- the parent: --vs-mpi ---- */

#ifndef SO_MPI_PEER
#define SO_MPI_PEER ""
#endif

/* Reads the JSON lines of file into (case, metric) -> value lookups, by a plain scan. */
static int json_lookup(const char *path, const char *cas, const char *metric, double *out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    char line[1024], key[400];
    int found = 0;
    snprintf(key, sizeof key, "\"case\":\"%s\",\"metric\":\"%s\"", cas, metric);
    while (fgets(line, sizeof line, f)) {
        const char *v;
        if (strstr(line, key) && (v = strstr(line, "\"value\":"))) {
            *out = strtod(v + 8, NULL);
            found = 1; /* the last one wins */
        }
    }
    fclose(f);
    return found;
}

/* The peer next to our own executable's build tree, or SO_MPI_PEER from the build, or the
 * environment's SO_MPI_ALLREDUCE. */
static const char *mpi_peer_path(void) {
    const char *e = getenv("SO_MPI_ALLREDUCE");
    if (e && *e) {
        return e;
    }
    if (SO_MPI_PEER[0] && access(SO_MPI_PEER, X_OK) == 0) {
        return SO_MPI_PEER;
    }
    return NULL;
}

static int run_vs_mpi(const coll_cfg *cfg, const char *ours_rows) {
    const char *peer = mpi_peer_path();
    if (!peer) {
        fprintf(stderr, "scaleout bench --vs-mpi: the Open MPI peer was not built "
                        "(needs Open MPI; or set SO_MPI_ALLREDUCE=path)\n");
        return 2;
    }
    char mpi_rows[] = "/tmp/so-bench-mpi-XXXXXX";
    int fd = mkstemp(mpi_rows);
    if (fd < 0) {
        return 2;
    }
    close(fd);
    char np[16], lab[64], iters[16], warm[16], budget[32], sizes[1024] = "";
    snprintf(np, sizeof np, "%d", cfg->nranks);
    snprintf(lab, sizeof lab, "ompi-%s", cfg->transport);
    snprintf(iters, sizeof iters, "%d", cfg->tm.iters);
    snprintf(warm, sizeof warm, "%d", cfg->tm.warmup);
    snprintf(budget, sizeof budget, "%g", cfg->tm.budget);
    size_t used = 0;
    for (size_t S = so_bench_sweep_first(&cfg->sw); S && used + 24 < sizeof sizes;
         S = so_bench_sweep_next(&cfg->sw, S)) {
        used += (size_t)snprintf(sizes + used, sizeof sizes - used, "%s%zu", used ? "," : "", S);
    }
    const char *args[48];
    int n = 0;
    args[n++] = "mpirun";
    args[n++] = "--allow-run-as-root";
    args[n++] = "--oversubscribe";
    args[n++] = "-np";
    args[n++] = np;
    args[n++] = "--mca";
    args[n++] = "oob_tcp_if_include";
    args[n++] = "lo";
    if (!strcmp(cfg->transport, "tcp")) {
        const char *tcp[] = {
            "--mca", "pml", "ob1", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"};
        for (size_t i = 0; i < sizeof tcp / sizeof tcp[0]; i++) {
            args[n++] = tcp[i];
        }
    }
    args[n++] = peer;
    args[n++] = "--op";
    args[n++] = kinds[cfg->kind].op;
    args[n++] = "--label";
    args[n++] = lab;
    args[n++] = "--sizes";
    args[n++] = sizes;
    args[n++] = "--iters";
    args[n++] = iters;
    args[n++] = "--warmup";
    args[n++] = warm;
    args[n++] = "--budget";
    args[n++] = budget;
    args[n++] = "--json";
    args[n++] = mpi_rows;
    if (cfg->json) {
        args[n++] = "--json";
        args[n++] = cfg->json;
    }
    args[n] = NULL;
    printf("\n# Open MPI peer, same sizes and method:");
    for (int i = 0; i < n; i++) {
        printf(" %s", args[i]);
    }
    printf("\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execvp("mpirun", (char *const *)args);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "scaleout bench --vs-mpi: mpirun failed (status %d)\n", status);
        unlink(mpi_rows);
        return 1;
    }
    printf("\n# ours vs Open MPI, %s, np=%d, %s: median time and bus bandwidth, ratio ours/MPI\n",
           kinds[cfg->kind].op, cfg->nranks, cfg->transport);
    printf("#%11s %12s %12s %12s %12s %10s %10s\n", "size", "ours_us", "mpi_us", "ours_GB/s",
           "mpi_GB/s", "busbw o/m", "time m/o");
    char olab[96];
    snprintf(olab, sizeof olab, "%s", cfg->label ? cfg->label : "");
    if (!cfg->label) {
        if (cfg->algo != SO_ALGO_AUTO) {
            snprintf(olab, sizeof olab, "ours-%s-%s", cfg->transport, so_algo_name(cfg->algo));
        } else {
            snprintf(olab, sizeof olab, "ours-%s", cfg->transport);
        }
    }
    for (size_t S = so_bench_sweep_first(&cfg->sw); S; S = so_bench_sweep_next(&cfg->sw, S)) {
        coll_call shape = {.kind = cfg->kind, .dt = cfg->dt};
        size_t bytes = coll_shape(&shape, S, cfg->nranks); /* the peer rounds the same way */
        char sz[32], oc[160], mc[160];
        so_bench_size_label(bytes, sz, sizeof sz);
        snprintf(oc, sizeof oc, "%s np=%d %s %s", olab, cfg->nranks, kinds[cfg->kind].op, sz);
        snprintf(mc, sizeof mc, "ompi-%s np=%d %s %s", cfg->transport, cfg->nranks,
                 kinds[cfg->kind].op, sz);
        double ot, mt, ob, mb;
        if (json_lookup(ours_rows, oc, "lat_us", &ot) && json_lookup(mpi_rows, mc, "lat_us", &mt) &&
            json_lookup(ours_rows, oc, "busbw_GBps", &ob) &&
            json_lookup(mpi_rows, mc, "busbw_GBps", &mb)) {
            printf(" %11s %12.2f %12.2f %12.3f %12.3f %10.2f %10.2f\n", sz, ot, mt, ob, mb,
                   mb > 0 ? ob / mb : 0.0, ot > 0 ? mt / ot : 0.0);
        }
    }
    printf("# one run each; the machine is shared: differences under ~10%% are noise "
           "(bench/run-allreduce-vs-mpi.sh repeats and interleaves)\n");
    unlink(mpi_rows);
    return 0;
}

/* ---- entry points ---- */

static int bench_coll(int kind, int argc, char **argv) {
    coll_cfg cfg;
    int rc = coll_parse(&cfg, kind, argc, argv);
    if (rc != 0) {
        if (rc < 0) {
            fprintf(stderr, "scaleout bench %s: %s\n", argv[0], so_last_error());
            return 2;
        }
        return 0;
    }
    if (so_cli_is_worker()) {
        return coll_rank_main(&cfg) < 0 ? 1 : 0;
    }
    if (!cfg.vs_mpi) {
        return so_bench_launch(cfg.nranks, cfg.transport);
    }
    /* --vs-mpi: our ranks also write their rows to a temporary file for the comparison. */
    char rows[] = "/tmp/so-bench-ours-XXXXXX";
    int fd = mkstemp(rows);
    if (fd < 0) {
        fprintf(stderr, "scaleout bench: cannot create a temporary file\n");
        return 2;
    }
    close(fd);
    int argc2 = 0;
    char *argv2[160];
    argv2[argc2++] = "bench";
    for (int i = 0; i < argc && argc2 < 156; i++) {
        argv2[argc2++] = argv[i];
    }
    argv2[argc2++] = "--rows";
    argv2[argc2++] = rows;
    argv2[argc2] = NULL;
    rc = so_cli_launch_self(cfg.nranks, cfg.transport, argc2, argv2);
    if (rc == 0) {
        rc = run_vs_mpi(&cfg, rows);
    }
    unlink(rows);
    return rc;
}

static int bench_allreduce(int argc, char **argv) {
    return bench_coll(K_ALLREDUCE, argc, argv);
}
static int bench_reducescatter(int argc, char **argv) {
    return bench_coll(K_REDUCESCATTER, argc, argv);
}
static int bench_allgather(int argc, char **argv) {
    return bench_coll(K_ALLGATHER, argc, argv);
}
static int bench_alltoall(int argc, char **argv) {
    return bench_coll(K_ALLTOALL, argc, argv);
}
static int bench_bcast(int argc, char **argv) {
    return bench_coll(K_BCAST, argc, argv);
}

SO_CLI_BENCH(allreduce, "all-reduce sweep, nccl-tests columns (--algo all, --vs-mpi)",
             bench_allreduce)
SO_CLI_BENCH(reducescatter, "reduce-scatter sweep, nccl-tests columns (--vs-mpi)",
             bench_reducescatter)
SO_CLI_BENCH(allgather, "all-gather sweep, nccl-tests columns (--vs-mpi)", bench_allgather)
SO_CLI_BENCH(alltoall, "all-to-all sweep, nccl-tests columns (--vs-mpi)", bench_alltoall)
SO_CLI_BENCH(bcast, "broadcast sweep from rank 0, nccl-tests columns (--vs-mpi)", bench_bcast)
