/*
 * Chapter 4, part (f): gradient bucketing and overlap (book 4.10.1), measured on K real ranks
 * with the library's reducer (include/scaleout/parallel.h), beside the book's model.
 *
 * A fake backward pass of L layers: layer l "computes" for C ms, then its gradient of G bytes
 * (one f32 arena, so buckets are all-reduced in place) is marked ready. Compute is a sleep to an
 * absolute deadline t0 + (l+1) C: sleeping leaves the CPU to the communication worker, which is
 * what a GPU does (its kernels do not need the host core that drives the network), and on this
 * 2-core machine with 4 ranks a busy-wait would measure CPU contention instead of overlap.
 * For each layers-per-bucket b: the no-overlap step (backward, then every bucket's all-reduce)
 * and the overlap step (each bucket starts when its last layer is done), `reps` of each; the
 * median step time (max over ranks) and the reducer's hidden fraction (mean over ranks) are
 * kept. The first step of each b fills the gradients with small integers and checks the average
 * exactly.
 *
 * Beside each row, two predictions from so_model_bucket (src/model/comm.c, the 4.10.1 model):
 * one with the all-reduce of a bucket priced by this group's calibrated alpha-beta model
 * (so_coll_predict_allreduce of the algorithm the selector picks, which is affine in bytes, so
 * it becomes the model's per-bucket alpha and bandwidth), and one "replay" with the per-bucket
 * time measured in the no-overlap run, which separates the schedule from the cost model.
 * G defaults to the size whose all-reduce takes 0.76 C here (the book's 2.28 ms of transfer per
 * 3 ms layer), found by timing two probe sizes.
 * --trace FILE.json: the last step of every (bucket size, mode) as a Chrome-trace timeline
 * (Perfetto): per rank, the backward layers and finish()'s wait on one track and the buckets'
 * all-reduces on the worker's track, gathered to rank 0 (one host: CLOCK_MONOTONIC is shared).
 * Cost: about reps x 2 x (L C + comm) per bucket size; 1-2 s with --quick.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch04.h"
#include "plot.h"
#include "trace.h"

void ch04_overlap_defaults(ch04_overlap_cfg *cfg, int quick) {
    memset(cfg, 0, sizeof *cfg);
    cfg->compute_ms = 3.0;
    if (quick) {
        static const int q[] = {1, 2, 4, 12};
        cfg->layers = 12;
        cfg->reps = 2;
        cfg->nlpb = 4;
        memcpy(cfg->lpb, q, sizeof q);
    } else {
        static const int f[] = {1, 2, 4, 8, 16, 48};
        cfg->layers = 48;
        cfg->reps = 3;
        cfg->nlpb = 6;
        memcpy(cfg->lpb, f, sizeof f);
    }
}

static double ov_median(double *v, int n) {
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i - 1;
        for (; j >= 0 && v[j] > x; j--) {
            v[j + 1] = v[j];
        }
        v[j + 1] = x;
    }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median over 5 calls of an all-reduce of n floats (max over ranks). */
static double ov_time_allreduce(so_comm *c, float *buf, size_t n) {
    double t[5];
    for (int i = 0; i < 5; i++) {
        SO_CHECK(so_barrier(c));
        double t0 = so_now_s();
        SO_CHECK(so_allreduce(c, buf, buf, n, SO_F32, SO_AVG));
        t[i] = so_now_s() - t0;
        SO_CHECK(so_allreduce(c, &t[i], &t[i], 1, SO_F64, SO_MAX));
    }
    return ov_median(t, 5);
}

/* The G whose all-reduce takes about 0.76 C: time a probe, rescale, time again, rescale. */
static size_t ov_auto_grad(so_comm *c, double compute_s) {
    size_t g = 256 * 1024, cap = (size_t)32 << 20;
    float *buf = so_malloc_aligned(cap);
    SO_ASSERT(buf);
    memset(buf, 0, cap);
    for (int it = 0; it < 2; it++) {
        double t = ov_time_allreduce(c, buf, g / 4);
        double want = 0.76 * compute_s, scaled = (double)g * want / (t > 1e-7 ? t : 1e-7);
        scaled = scaled < 4096 ? 4096 : scaled > (double)cap ? (double)cap : scaled;
        g = ((size_t)scaled + 4095) / 4096 * 4096;
    }
    so_free_aligned(buf);
    return g;
}

/* One backward step; returns the step time (max over ranks) and this rank's reducer stats.
 * tl (3 + layers doubles, may be NULL) receives t0, finish() entry, finish() return and the
 * time each layer's backward ended, in seconds of so_now_s. */
static double ov_step(so_comm *c, so_reducer *rd, int layers, double compute_s,
                      so_reducer_stats *st, double *tl) {
    SO_CHECK(so_barrier(c));
    int64_t t0 = so_now_ns();
    for (int l = 0; l < layers; l++) {
        int64_t until = t0 + (int64_t)((l + 1) * compute_s * 1e9), now = so_now_ns();
        if (until > now) {
            so_sleep_ns(until - now);
        }
        if (tl) {
            tl[3 + l] = so_now_s();
        }
        SO_CHECK(so_reducer_ready(rd, l));
    }
    SO_CHECK(so_reducer_finish(rd));
    double t = (double)(so_now_ns() - t0) * 1e-9;
    SO_CHECK(so_reducer_stats_get(rd, st));
    if (tl) {
        tl[0] = (double)t0 * 1e-9;
        tl[1] = st->finish_s;
        tl[2] = st->done_s;
    }
    SO_CHECK(so_allreduce(c, &t, &t, 1, SO_F64, SO_MAX));
    return t;
}

/* Adds the last step of one (bucket size, mode) to the trace: every rank's timeline (tl from
 * ov_step, then the buckets' start and end) gathered to rank 0. Collective. */
static void ov_trace_step(so_comm *c, so_trace *tr, int pid, const char *what, int layers,
                          so_reducer *rd, double *tl) {
    int r = so_comm_rank(c), k = so_comm_size(c), nb = so_reducer_nbuckets(rd);
    size_t per = 3 + 3 * (size_t)layers;
    for (int b = 0; b < nb; b++) {
        so_reducer_bucket_times bt;
        SO_CHECK(so_reducer_bucket_times_get(rd, b, &bt));
        tl[3 + layers + 2 * b] = bt.start_s;
        tl[3 + layers + 2 * b + 1] = bt.end_s;
    }
    double *all = r == 0 ? malloc(per * (size_t)k * sizeof *all) : NULL;
    SO_ASSERT(r != 0 || all);
    SO_CHECK(so_gather(c, tl, all, per, SO_F64, 0));
    if (r != 0) {
        return;
    }
    double origin = all[0];
    so_trace_name_process(tr, pid, what);
    for (int q = 0; q < k; q++) {
        const double *v = all + per * (size_t)q;
        char name[64];
        snprintf(name, sizeof name, "rank %d backward", q);
        so_trace_name_thread(tr, pid, 2 * q, name);
        snprintf(name, sizeof name, "rank %d all-reduce worker", q);
        so_trace_name_thread(tr, pid, 2 * q + 1, name);
        for (int l = 0; l < layers; l++) {
            double s0 = l ? v[3 + l - 1] : v[0];
            snprintf(name, sizeof name, "layer %d", layers - 1 - l);
            so_trace_complete(tr, name, pid, 2 * q, s0 - origin, v[3 + l] - s0);
        }
        so_trace_complete(tr, "finish(): exposed wait", pid, 2 * q, v[1] - origin, v[2] - v[1]);
        for (int b = 0; b < nb; b++) {
            snprintf(name, sizeof name, "bucket %d all-reduce", b);
            double bs = v[3 + layers + 2 * b], be = v[3 + layers + 2 * b + 1];
            so_trace_complete(tr, name, pid, 2 * q + 1, bs - origin, be - bs);
        }
    }
    free(all);
}

/* Small integers (rank + position mod 7), so every average is exact; returns wrong elements. */
static void ov_fill(float *g, size_t n, int rank) {
    for (size_t i = 0; i < n; i++) {
        g[i] = (float)(rank + (int)(i % 7));
    }
}
static int ov_check(const float *g, size_t n, int k) {
    int wrong = 0;
    for (size_t i = 0; i < n; i++) {
        float want = (float)((double)(i % 7) + (k - 1) / 2.0);
        wrong += g[i] != want;
    }
    return wrong;
}

/* The 4.10.1 model for bucket size `lpb` with this group's alpha-beta all-reduce cost. */
static void ov_model_ab(so_comm *c, const so_alpha_beta *ab, int layers, size_t grad,
                        double compute_s, int lpb, so_model_bucket_result *m) {
    int k = so_comm_size(c);
    size_t bytes = (size_t)lpb * grad;
    so_algo a = so_coll_select_allreduce(c, bytes);
    double t0 = so_coll_predict_allreduce(a, k, 0, ab);
    double t1 = so_coll_predict_allreduce(a, k, bytes, ab);
    double bw = t1 > t0 ? (double)bytes / (t1 - t0) : INFINITY;
    so_model_bucket(layers, (double)grad, compute_s, t0, bw, lpb, m);
}

int ch04_overlap_run(so_comm *c, const ch04_overlap_cfg *cfg, ch04_overlap_result *out) {
    int r = so_comm_rank(c), k = so_comm_size(c), L = cfg->layers;
    double C = cfg->compute_ms * 1e-3;
    memset(out, 0, sizeof *out);
    so_alpha_beta ab;
    if (so_coll_get_alpha_beta(c, &ab) != 0) {
        SO_CHECK(so_coll_calibrate(c, &ab));
    }
    size_t G = cfg->grad ? (cfg->grad + 3) / 4 * 4 : ov_auto_grad(c, C);
    size_t n = G / 4;
    float *arena = so_malloc_aligned((size_t)L * G);
    SO_ASSERT(arena);
    memset(arena, 0, (size_t)L * G);
    if (r == 0) {
        printf("\n(f) bucketing and overlap (book 4.10.1) on %d ranks over %s\n", k,
               so_comm_transport_name(c, (r + 1) % k));
        printf("    %d layers x %.1f KiB gradient, %.2f ms backward per layer (sleep), "
               "ideal %.1f ms%s\n",
               L, (double)G / 1024, cfg->compute_ms, L * cfg->compute_ms,
               cfg->grad ? "" : "; G sized so one layer's all-reduce takes ~0.76 of its compute");
        printf("    alpha-beta of this group: alpha %.2f us, 1/beta %.3f GB/s; median of %d "
               "steps each\n",
               ab.alpha_s * 1e6, ab.beta_s_per_b > 0 ? 1e-9 / ab.beta_s_per_b : 0.0, cfg->reps);
        printf("    %-7s %4s | %-29s | %-29s | %-16s\n", "", "", "measured", "model (alpha-beta)",
               "model (replay)");
        printf("    %-7s %4s | %9s %9s %9s | %9s %9s %9s | %7s %8s\n", "lay/bkt", "bkts",
               "no-ov ms", "overlap", "hidden", "no-ov ms", "overlap", "hidden", "overlap",
               "hidden");
    }
    double plot_rows[CH04_MAX_LPB * 4];
    int nplot = 0;
    so_trace *tr = NULL;
    double *tl = NULL;
    if (cfg->trace) {
        SO_CHECK(so_trace_create(&tr));
        tl = calloc(3 + 3 * (size_t)L, sizeof *tl);
        SO_ASSERT(tl);
    }
    out->speedup_best = 0;
    for (int bi = 0; bi < cfg->nlpb; bi++) {
        int lpb = cfg->lpb[bi] < 1 ? 1 : cfg->lpb[bi] > L ? L : cfg->lpb[bi];
        double t_mode[2][16], h_mode[2][16], comm_per_bucket = 0;
        int nb = 0, reps = cfg->reps < 1 ? 1 : cfg->reps > 16 ? 16 : cfg->reps;
        for (int mode = 0; mode < 2; mode++) {
            so_reducer_opts o;
            so_reducer_opts_default(&o);
            o.bucket_cap = (size_t)lpb * G;
            o.overlap = mode;
            so_reducer *rd;
            SO_CHECK(so_reducer_create(c, SO_F32, &o, &rd));
            for (int l = 0; l < L; l++) {
                /* Backward meets the last layer first: gradient l is layer L-1-l's. */
                so_reducer_add(rd, arena + (size_t)(L - 1 - l) * n, n);
            }
            nb = so_reducer_nbuckets(rd);
            double comm = 0;
            for (int rep = 0; rep < reps; rep++) {
                if (rep == 0) {
                    ov_fill(arena, (size_t)L * n, r);
                }
                so_reducer_stats st;
                t_mode[mode][rep] = ov_step(c, rd, L, C, &st, tl);
                if (rep == 0) {
                    out->wrong += ov_check(arena, (size_t)L * n, k);
                }
                double h = st.hidden_frac;
                SO_CHECK(so_allreduce(c, &h, &h, 1, SO_F64, SO_SUM));
                h_mode[mode][rep] = h / k;
                comm += st.comm_s;
            }
            if (mode == 0) {
                comm_per_bucket = comm / reps / nb;
            }
            if (tr) {
                char what[96];
                snprintf(what, sizeof what, "%s, %d layers per bucket (%d buckets)",
                         mode ? "overlap" : "no overlap", lpb, nb);
                ov_trace_step(c, tr, 1 + 2 * bi + mode, what, L, rd, tl);
            }
            so_reducer_destroy(rd);
        }
        double tn = ov_median(t_mode[0], reps), to = ov_median(t_mode[1], reps);
        double ho = ov_median(h_mode[1], reps);
        SO_CHECK(so_allreduce(c, &comm_per_bucket, &comm_per_bucket, 1, SO_F64, SO_MAX));
        so_model_bucket_result mab, mrp;
        ov_model_ab(c, &ab, L, G, C, lpb, &mab);
        so_model_bucket(L, (double)G, C, comm_per_bucket, INFINITY, lpb, &mrp);
        if (bi == 0) {
            out->hidden_best = ho;
        }
        if (tn / to > out->speedup_best) {
            out->speedup_best = tn / to;
            out->lpb_best = lpb;
        }
        /* One bucket hides nothing; keep rounding from printing -0.0%. */
        mab.hidden = fabs(mab.hidden) < 1e-9 ? 0 : mab.hidden;
        mrp.hidden = fabs(mrp.hidden) < 1e-9 ? 0 : mrp.hidden;
        if (r == 0) {
            printf("    %-7d %4d | %9.1f %9.1f %8.1f%% | %9.1f %9.1f %8.1f%% | %7.1f %7.1f%%\n",
                   lpb, nb, tn * 1e3, to * 1e3, 100 * ho, mab.no_overlap_s * 1e3,
                   mab.overlap_s * 1e3, 100 * mab.hidden, mrp.overlap_s * 1e3, 100 * mrp.hidden);
        }
        plot_rows[nplot * 4 + 0] = lpb;
        plot_rows[nplot * 4 + 1] = 100 * ho;
        plot_rows[nplot * 4 + 2] = 100 * mab.hidden;
        plot_rows[nplot * 4 + 3] = 100 * mrp.hidden;
        nplot++;
    }
    SO_CHECK(so_allreduce(c, &out->wrong, &out->wrong, 1, SO_I32, SO_SUM));
    if (r == 0) {
        so_model_bucket_result bk;
        printf("    book (48 x 25 MB, 3 ms, 200 us, 12 GB/s), model hidden:");
        const int book_lpb[] = {1, 2, 4, 8, 16, 48};
        for (int i = 0; i < 6; i++) {
            so_model_bucket(48, 25e6, 3e-3, 200e-6, 12e9, book_lpb[i], &bk);
            printf(" %d:%.1f%%", book_lpb[i], 100 * bk.hidden);
        }
        printf("\n    hidden = communication that ran while backward was still computing, over "
               "all communication;\n    best overlap speedup %.2fx at %d layers per bucket; "
               "gradients checked: %d wrong\n",
               out->speedup_best, out->lpb_best, out->wrong);
        if (cfg->plot) {
            char csv[4096];
            size_t len = strlen(cfg->plot);
            int png = len > 4 && !strcmp(cfg->plot + len - 4, ".png");
            snprintf(csv, sizeof csv, "%.*s.csv", (int)(png ? len - 4 : len), cfg->plot);
            const char *cols[] = {"layers_per_bucket", "measured", "model (alpha-beta)",
                                  "model (replay of measured bucket times)"};
            int rc = so_plot_write_csv(csv, cols, 4, plot_rows, nplot);
            char title[200];
            snprintf(title, sizeof title,
                     "hidden communication vs bucket size: %d ranks, %d layers x %.0f KiB, %.1f ms "
                     "per layer",
                     k, L, (double)G / 1024, cfg->compute_ms);
            if (rc == SO_OK) {
                rc = so_plot_lines(csv, cfg->plot, title, "layers per bucket",
                                   "hidden fraction of communication (%)",
                                   SO_PLOT_LOGX | SO_PLOT_YPERCENT | SO_PLOT_XDATA);
            }
            if (rc == SO_ENOTSUP) {
                printf("    --plot: %s; the numbers are in %s\n", so_last_error(), csv);
            } else if (rc < 0) {
                printf("    --plot failed: %s\n", so_last_error());
            } else {
                printf("    plot: %s (data %s)\n", cfg->plot, csv);
            }
        }
    }
    if (tr && r == 0) {
        if (so_trace_write(tr, cfg->trace) == SO_OK) {
            printf("    trace: %s (open in ui.perfetto.dev or chrome://tracing)\n", cfg->trace);
        } else {
            printf("    --trace failed: %s\n", so_last_error());
        }
    }
    so_trace_destroy(tr);
    free(tl);
    so_free_aligned(arena);
    return 0;
}
