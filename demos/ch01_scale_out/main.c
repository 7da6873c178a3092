/*
 * `scaleout demo ch01`: chapter 1, what scale-out AI is, on K real processes (default 4).
 *
 *  (a) 1.1.1 data-parallel gradient: MSE at w = 0 over N examples of d features, split into K
 *      contiguous shards; each rank sums its shard's gradient, one all-reduce adds the partial
 *      sums, divide by N. Checked against the single-process gradient (rel <= 1e-13).
 *  (b) 1.4.1 ring gossip on the processes: x = 0.5 x + 0.25 (left + right) by point-to-point
 *      messages. The mean is preserved (to 1e-12) and the per-round contraction of the
 *      disagreement is printed beside lambda2 = 0.5 + 0.5 cos(2 pi / K) (0.853553 at K = 8).
 *  (c) 1.3.1 scale-up vs scale-out cost table from the model API, with the book's numbers.
 *  (d) 1.6.1 straggler tail latency: every rank records lognormal latencies (2% slowed 6x) in a
 *      mergeable histogram, the histograms are all-reduced, and the measured percentiles are
 *      printed beside the analytic ones; Little's law L = lambda W from the measured mean.
 *  (e) 1.5.1 scoring modes on rank 0: one batch, micro-batches, one event at a time; the
 *      per-event time fitted to c0 / b + c1 (the chapter's exercise).
 * Ends with `ch01 OK key=value ...` or `ch01 FAIL reason` (exit 1).
 * Uses only the public headers and the CLI registry; re-runs itself as K ranks under the
 * launcher. Cost with --quick: about 1-2 s on 2 cores at K = 4.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "scaleout/so.h"

typedef struct ch01_cfg {
    int quick, nranks, d, rounds;
    long n, samples, events;
    unsigned long long seed;
    double self_weight, median_ms, sigma, frac, mult, rate;
} ch01_cfg;

static int ch01_fail(char *reason, size_t cap, const char *what) {
    if (!reason[0]) {
        snprintf(reason, cap, "%s", what);
    }
    return 1;
}

/* Row i of the synthetic regression: x ~ N(0,1)^d, y = x . w* + 0.1 N(0,1), from (seed, i) alone
 * so any rank can generate any row. */
static void ch01_row(const ch01_cfg *cfg, long i, double *x, double *y) {
    so_rng g;
    so_rng_seed(&g, cfg->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i);
    double dot = 0;
    for (int j = 0; j < cfg->d; j++) {
        x[j] = so_rng_normal(&g);
        dot += x[j] * (0.5 + 0.01 * j); /* w*_j */
    }
    *y = dot + 0.1 * so_rng_normal(&g);
}

/* Gradient sum of the MSE at w = 0 over rows [lo, lo + cnt): g_j += x_ij (x_i . w - y_i). */
static void ch01_grad_sum(const ch01_cfg *cfg, long lo, long cnt, double *g) {
    double x[512], y;
    memset(g, 0, (size_t)cfg->d * sizeof *g);
    for (long i = lo; i < lo + cnt; i++) {
        ch01_row(cfg, i, x, &y);
        double resid = 0.0 - y; /* x . w - y with w = 0 */
        for (int j = 0; j < cfg->d; j++) {
            g[j] += x[j] * resid;
        }
    }
}

static int part_gradient(so_comm *c, const ch01_cfg *cfg, double *rel_out) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    uint64_t lo, cnt;
    so_part_contiguous((uint64_t)cfg->n, k, r, &lo, &cnt);
    double g[512], ref[512];
    SO_CHECK(so_barrier(c));
    double t0 = so_now_s();
    ch01_grad_sum(cfg, (long)lo, (long)cnt, g);
    SO_CHECK(so_allreduce(c, g, g, (size_t)cfg->d, SO_F64, SO_SUM));
    for (int j = 0; j < cfg->d; j++) {
        g[j] *= 2.0 / (double)cfg->n;
    }
    double t_dist = so_now_s() - t0;
    SO_CHECK(so_allreduce(c, &t_dist, &t_dist, 1, SO_F64, SO_MAX));
    double rel = 0;
    if (r == 0) {
        double t1 = so_now_s();
        ch01_grad_sum(cfg, 0, cfg->n, ref);
        double t_serial = so_now_s() - t1, diff = 0, mag = 0;
        for (int j = 0; j < cfg->d; j++) {
            ref[j] *= 2.0 / (double)cfg->n;
            diff = fmax(diff, fabs(g[j] - ref[j]));
            mag = fmax(mag, fabs(ref[j]));
        }
        rel = diff / mag;
        printf("\n(a) data-parallel gradient, MSE at w=0, N=%ld d=%d on %d processes\n", cfg->n,
               cfg->d, k);
        printf("    rank r owns rows [r*base+min(r,extra), ...): rank 0 has %llu rows\n",
               (unsigned long long)cnt);
        printf("    g[0..2] distributed = % .15f % .15f % .15f\n", g[0], g[1], g[2]);
        printf("    g[0..2] single      = % .15f % .15f % .15f\n", ref[0], ref[1], ref[2]);
        printf("    max abs diff %.2e, rel %.2e (book: 3.91e-14, 6.43e-15; bound 1e-13)\n", diff,
               rel);
        printf("    time: one process %.3f s, %d processes %.3f s (speedup %.2f on this machine)\n",
               t_serial, k, t_dist, t_serial / t_dist);
    }
    SO_CHECK(so_bcast(c, &rel, 1, SO_F64, 0));
    *rel_out = rel;
    return rel <= 1e-13 ? 0 : 1;
}

static int part_gossip(so_comm *c, const ch01_cfg *cfg, double *mean_err, double *ratio_out) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    so_rng g;
    so_rng_seed_stream(&g, cfg->seed, (uint64_t)r);
    double x = -10.0 + 20.0 * so_rng_double(&g);
    double mean0 = x;
    SO_CHECK(so_allreduce(c, &mean0, &mean0, 1, SO_F64, SO_SUM)); /* central averaging */
    mean0 /= k;
    double lam = so_model_gossip_lambda2(k, cfg->self_weight);
    double dev_prev = 0, dev0 = 0, worst_mean = 0, ratio = NAN;
    if (r == 0) {
        printf("\n(b) ring gossip on %d processes, W = %.2f I + %.3f per neighbour\n", k,
               cfg->self_weight, 0.5 * (1 - cfg->self_weight));
        printf("    central average (one all-reduce) = %.6f\n", mean0);
        printf("    %5s %12s %14s %10s %10s\n", "round", "max|x-mean|", "mean drift", "ratio",
               "lambda2");
    }
    for (int t = 0; t <= cfg->rounds; t++) {
        if (t > 0) {
            SO_CHECK(so_gossip_ring_round(c, &x, 1, cfg->self_weight));
        }
        double v[2] = {x, (x - mean0) * (x - mean0)}, mx = fabs(x - mean0);
        SO_CHECK(so_allreduce(c, v, v, 2, SO_F64, SO_SUM));
        SO_CHECK(so_allreduce(c, &mx, &mx, 1, SO_F64, SO_MAX));
        double drift = fabs(v[0] / k - mean0), dev = sqrt(v[1]);
        worst_mean = fmax(worst_mean, drift);
        if (t == 0) {
            dev0 = dev;
        } else if (dev > 1e-9 * dev0 && dev_prev > 0) {
            ratio = dev / dev_prev; /* L2 disagreement shrinks by lambda2 once other modes die */
        }
        int show = t <= 2 || t == 5 || t == 10 || t == 20 || t == 40 || t == cfg->rounds;
        if (r == 0 && show && t > 0) {
            printf("    %5d %12.3e %14.2e %10.6f %10.6f\n", t, mx, drift,
                   dev_prev > 0 ? dev / dev_prev : 0.0, lam);
        }
        dev_prev = dev;
    }
    if (r == 0) {
        printf("    rank 0 ends at %.6f; mean preserved to %.1e\n", x, worst_mean);
    }
    *mean_err = worst_mean;
    *ratio_out = ratio;
    int ok = worst_mean <= 1e-12;
    if (k >= 3) {
        ok &= fabs(ratio - lam) <= 1e-3;
    }
    return ok ? 0 : 1;
}

static int part_cost(void) {
    so_model_scaleout m = {1e6, 6, 18, 2, 0.04};
    static const struct {
        int k;
        double h, cost;
    } book[] = {{2, 144.44, 577.78}, {4, 77.78, 622.22},   {8, 44.44, 711.11},
                {16, 27.78, 888.89}, {32, 19.44, 1244.44}, {64, 15.28, 1955.56}};
    int ok = fabs(so_model_scaleup_hours(&m) - 46.30) < 0.005 &&
             fabs(so_model_scaleup_cost(&m) - 833.33) < 0.005;
    printf("\n(c) 1.3.1 scale-up vs scale-out, W = 1e6 node-s (model API)\n");
    printf("    scale-up: speed 6 at $18/h: %.2f h, $%.2f\n", so_model_scaleup_hours(&m),
           so_model_scaleup_cost(&m));
    printf("    %4s %10s %10s %10s\n", "K", "time (h)", "cost ($)", "cheaper?");
    for (size_t i = 0; i < sizeof book / sizeof book[0]; i++) {
        double h = so_model_scaleout_hours(&m, book[i].k),
               cost = so_model_scaleout_cost(&m, book[i].k);
        ok &= fabs(h - book[i].h) < 0.005 && fabs(cost - book[i].cost) < 0.005;
        printf("    %4d %10.2f %10.2f %10s\n", book[i].k, h, cost,
               cost < so_model_scaleup_cost(&m) ? "yes" : "no");
    }
    printf("    book's values: %s\n", ok ? "match" : "DIFFER");
    return ok ? 0 : 1;
}

/* Lognormal latencies recorded into a histogram (ns), merged over ranks. */
static double ch01_latencies(so_comm *c, const ch01_cfg *cfg, double frac, so_hist *h) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    so_rng g;
    so_rng_seed_stream(&g, cfg->seed + 16, (uint64_t)r);
    uint64_t lo, cnt;
    so_part_contiguous((uint64_t)cfg->samples, k, r, &lo, &cnt);
    so_hist_init(h);
    double sum = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        double ms = cfg->median_ms * exp(cfg->sigma * so_rng_normal(&g));
        if (so_rng_double(&g) < frac) {
            ms *= cfg->mult;
        }
        sum += ms;
        so_hist_record(h, (uint64_t)(ms * 1e6));
    }
    SO_CHECK(so_allreduce(c, h->counts, h->counts, SO_HIST_BUCKETS, SO_I64, SO_SUM));
    SO_CHECK(so_allreduce(c, &sum, &sum, 1, SO_F64, SO_SUM));
    return sum / (double)cfg->samples;
}

static int part_tail(so_comm *c, const ch01_cfg *cfg, double *p99_out) {
    int r = so_comm_rank(c), ok = 1;
    so_hist *h = malloc(sizeof *h), *hh = malloc(sizeof *hh);
    SO_ASSERT(h && hh);
    double mean = ch01_latencies(c, cfg, cfg->frac, h);
    ch01_latencies(c, cfg, 0.0, hh);
    static const double qs[3] = {50, 95, 99};
    if (r == 0) {
        printf("\n(d) 1.6.1 tail latency: lognormal median %.0f ms, sigma %.2f, %.0f%% of requests "
               "%.0fx slower; %ld samples over %d ranks, merged histograms\n",
               cfg->median_ms, cfg->sigma, cfg->frac * 100, cfg->mult, cfg->samples,
               so_comm_size(c));
        printf("    %-16s %10s %10s %10s %10s %10s %10s\n", "", "p50 meas", "p50 model", "p95 meas",
               "p95 model", "p99 meas", "p99 model");
    }
    double p99[2] = {0, 0};
    for (int v = 0; v < 2; v++) {
        so_hist *hv = v ? hh : h;
        double f = v ? 0.0 : cfg->frac;
        if (r == 0) {
            printf("    %-16s", v ? "healthy" : "with stragglers");
        }
        for (int q = 0; q < 3; q++) {
            double meas = (double)so_hist_percentile(hv, qs[q]) / 1e6;
            double mod = so_model_lognormal_mix_quantile(cfg->median_ms, cfg->sigma, f, cfg->mult,
                                                         qs[q] / 100);
            ok &= fabs(meas - mod) <= 0.03 * mod;
            if (r == 0) {
                printf(" %10.1f %10.1f", meas, mod);
            }
            p99[v] = meas;
        }
        if (r == 0) {
            printf("\n");
        }
    }
    double mmean = so_model_lognormal_mix_mean(cfg->median_ms, cfg->sigma, cfg->frac, cfg->mult);
    ok &= fabs(mean - mmean) <= 0.02 * mmean;
    if (r == 0) {
        printf("    p99 inflates %.2fx (book 2.63x); mean %.2f ms (model %.2f)\n", p99[0] / p99[1],
               mean, mmean);
        printf("    Little's law: L = lambda W = %.0f/s x %.2f ms = %.1f in flight (model %.1f)\n",
               cfg->rate, mean, so_model_little(cfg->rate, mean / 1e3),
               so_model_little(cfg->rate, mmean / 1e3));
    }
    *p99_out = p99[0];
    free(h);
    free(hh);
    return ok ? 0 : 1;
}

/* Scores rows [0, n) of x (16 features each) into out: sigmoid(w . x + b). One call = one
 * request of the serving loop; its fixed cost is the call, the setup and the output write. */
static void ch01_score(const float *x, size_t n, float *out) {
    static const float w[16] = {.1f,  -.2f, .3f,  .05f, -.1f, .2f,   .15f, -.05f,
                                .07f, .01f, -.3f, .25f, .12f, -.08f, .02f, .04f};
    for (size_t i = 0; i < n; i++) {
        float z = 0.1f;
        for (int j = 0; j < 16; j++) {
            z += w[j] * x[16 * i + (size_t)j];
        }
        out[i] = 1.0f / (1.0f + expf(-z));
    }
}

/* 1.5.1: the same events scored as one batch, in micro-batches and one at a time; per-event
 * time fitted to c0 / b + c1 over batch sizes b. Rank 0 only: this is about one node. */
static void part_batch(const ch01_cfg *cfg) {
    size_t n = (size_t)cfg->events;
    float *x = malloc(n * 16 * sizeof(float)), *out = malloc(n * sizeof(float));
    SO_ASSERT(x && out);
    so_rng g;
    so_rng_seed(&g, cfg->seed + 15);
    so_rng_fill_normal_f32(&g, x, n * 16, 0.0f, 1.0f);
    const size_t bs[6] = {1, 10, 100, 1000, 10000, n};
    double inv_b[6], per[6];
    printf("\n(e) 1.5.1 scoring %zu events x 16 features: batch size vs throughput and latency\n",
           n);
    printf("    %10s %14s %14s\n", "batch", "events/s", "us per event");
    for (int i = 0; i < 6; i++) {
        size_t b = bs[i] < n ? bs[i] : n, todo = b == 1 ? (n < 2000 ? n : 2000) : n;
        double t0 = so_now_s();
        for (size_t off = 0; off < todo; off += b) {
            ch01_score(x + 16 * off, off + b <= todo ? b : todo - off, out + off);
        }
        double t = so_now_s() - t0;
        per[i] = t / (double)todo, inv_b[i] = 1.0 / (double)b;
        printf("    %10zu %14.0f %14.4f%s\n", b, (double)todo / t, per[i] * 1e6,
               b == 1   ? "  (one at a time, 2000 calls)"
               : b == n ? "  (one batch)"
                        : "");
    }
    double c1, c0;
    so_fit_linear(inv_b, per, 6, &c1, &c0, NULL);
    printf("    fit per-event time = c0 / b + c1: c0 = %.3f us per call, c1 = %.4f us per event\n"
           "    (the book's Python: 65.9M / 61.7M / 0.78M events/s: there a call costs ~1 us; in C "
           "it costs\n    nanoseconds, so batching matters only once a real request path "
           "(network, queue) adds to c0)\n",
           c0 * 1e6, c1 * 1e6);
    free(x);
    free(out);
}

static int ch01_rank_main(const ch01_cfg *cfg) {
    double t0 = so_now_s();
    so_comm *c;
    SO_CHECK(so_comm_init_from_env(&c));
    int r = so_comm_rank(c), k = so_comm_size(c);
    char reason[160] = "";
    if (r == 0) {
        printf("Chapter 1: scale-out AI on %d processes%s\n", k, cfg->quick ? " (quick)" : "");
    }
    double rel = 0, mean_err = 0, ratio = 0, p99 = 0;
    int bad = 0;
    if (part_gradient(c, cfg, &rel)) {
        bad = ch01_fail(reason, sizeof reason, "distributed gradient differs from the single one");
    }
    if (part_gossip(c, cfg, &mean_err, &ratio)) {
        bad = ch01_fail(reason, sizeof reason,
                        "gossip lost the mean or does not contract by lambda2");
    }
    if (r == 0 && part_cost()) {
        bad = ch01_fail(reason, sizeof reason, "the cost model does not reproduce table 1.3.1");
    }
    if (part_tail(c, cfg, &p99)) {
        bad =
            ch01_fail(reason, sizeof reason, "measured percentiles are far from the analytic ones");
    }
    if (r == 0 && cfg->events > 0) {
        part_batch(cfg);
    }
    int64_t f = bad;
    SO_CHECK(so_allreduce(c, &f, &f, 1, SO_I64, SO_MAX));
    if (r == 0) {
        if (f) {
            printf("ch01 FAIL %s\n", reason[0] ? reason : "a check failed on another rank");
        } else {
            char meas[32];
            snprintf(meas, sizeof meas, isnan(ratio) ? "n/a" : "%.6f", ratio);
            printf("\nch01 OK ranks=%d grad_rel=%.1e gossip_mean_err=%.1e lambda2_meas=%s "
                   "lambda2_pred=%.6f cost131=match p99_ms=%.1f seconds=%.1f\n",
                   k, rel, mean_err, meas, so_model_gossip_lambda2(k, cfg->self_weight), p99,
                   so_now_s() - t0);
        }
        fflush(stdout);
    }
    so_comm_destroy(c);
    return f ? 1 : 0;
}

static void ch01_usage(void) {
    printf(
        "usage: scaleout demo ch01 [--quick] [-n K (4)] [--examples N (100000)] [--dim D (50)]\n"
        "         [--rounds R (40)] [--self-weight W (0.5)] [--samples S (1000000; 200000 quick)]\n"
        "         [--median MS (40)] [--sigma S (0.35)] [--straggler-frac F (0.02)]\n"
        "         [--straggler-mult M (6)] [--rate R (5000)] [--events N (1000000; 200000 quick;\n"
        "         0 skips 1.5.1)] [--seed S (1)]\n"
        "Chapter 1 on K processes: data-parallel gradient = single gradient, ring gossip vs\n"
        "lambda2, the 1.3.1 cost table, straggler tail latency vs the analytic quantiles, batch\n"
        "size vs throughput (1.5.1).\n");
}

static int demo_ch01(int argc, char **argv) {
    ch01_cfg cfg = {.nranks = 4,
                    .d = 50,
                    .rounds = 40,
                    .n = 100000,
                    .samples = 0,
                    .seed = 1,
                    .self_weight = 0.5,
                    .median_ms = 40,
                    .sigma = 0.35,
                    .frac = 0.02,
                    .mult = 6,
                    .rate = 5000,
                    .events = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ch01_usage();
            return 0;
        } else if (!strcmp(a, "--quick")) {
            cfg.quick = 1;
        } else if (v && (!strcmp(a, "-n") || !strcmp(a, "--ranks"))) {
            cfg.nranks = atoi(v), i++;
        } else if (v && !strcmp(a, "--examples")) {
            cfg.n = atol(v), i++;
        } else if (v && !strcmp(a, "--dim")) {
            cfg.d = atoi(v), i++;
        } else if (v && !strcmp(a, "--rounds")) {
            cfg.rounds = atoi(v), i++;
        } else if (v && !strcmp(a, "--self-weight")) {
            cfg.self_weight = atof(v), i++;
        } else if (v && !strcmp(a, "--samples")) {
            cfg.samples = atol(v), i++;
        } else if (v && !strcmp(a, "--median")) {
            cfg.median_ms = atof(v), i++;
        } else if (v && !strcmp(a, "--sigma")) {
            cfg.sigma = atof(v), i++;
        } else if (v && !strcmp(a, "--straggler-frac")) {
            cfg.frac = atof(v), i++;
        } else if (v && !strcmp(a, "--straggler-mult")) {
            cfg.mult = atof(v), i++;
        } else if (v && !strcmp(a, "--events")) {
            cfg.events = atol(v), i++;
        } else if (v && !strcmp(a, "--rate")) {
            cfg.rate = atof(v), i++;
        } else if (v && !strcmp(a, "--seed")) {
            cfg.seed = strtoull(v, NULL, 10), i++;
        } else {
            fprintf(stderr, "ch01: unknown flag '%s'\n", a);
            ch01_usage();
            return 2;
        }
    }
    if (cfg.nranks < 1 || cfg.nranks > 64 || cfg.d < 1 || cfg.d > 512 || cfg.n < cfg.nranks ||
        cfg.rounds < 1 || cfg.self_weight < 0 || cfg.self_weight > 1) {
        fprintf(stderr, "ch01: wants 1 <= -n <= 64, 1 <= --dim <= 512, --examples >= ranks, "
                        "--rounds >= 1, 0 <= --self-weight <= 1\n");
        return 2;
    }
    cfg.samples = cfg.samples > 0 ? cfg.samples : cfg.quick ? 200000 : 1000000;
    cfg.events = cfg.events >= 0 ? cfg.events : cfg.quick ? 200000 : 1000000;
    if (!so_cli_is_worker()) {
        int rc = so_cli_launch_self(cfg.nranks, "shm", argc, argv);
        if (rc != 0) {
            printf("ch01 FAIL a rank exited with code %d\n", rc);
            return 1;
        }
        return 0;
    }
    return ch01_rank_main(&cfg);
}

SO_CLI_DEMO(ch01,
            "scale-out AI: data-parallel gradient, ring gossip vs lambda2, cost table, "
            "straggler tail latency",
            demo_ch01)
