/*
 * `scaleout bench pingpong -n 2 --transport shm|tcp [--min 8 --max 16M]`: point-to-point
 * latency and bandwidth between ranks 0 and 1, and the alpha-beta fit of the link.
 *
 * Method (OSU osu_latency's): rank 0 sends S bytes to rank 1 and waits for S bytes back; the
 * one-way time is half the round trip. Warm-up rounds, then timed rounds (adaptive count, about
 * --budget seconds per size); the row gives the median half round trip, the minimum, and the
 * bandwidth S / t. At the end, t = alpha + S * beta is fitted by least squares weighted by
 * 1/t^2 (a fit of relative error, so the 8 B and the 16 MiB points count alike), and printed as
 * alpha in microseconds and 1/beta in GB/s: the two numbers the book's alpha-beta model needs.
 * With --calibrate, the library's own so_coll_calibrate runs too, for comparison.
 *
 * Cost: about --budget seconds per size. Limits: ranks other than 0 and 1 only wait; the
 * rounds are back to back (no barrier), as in OSU's test.
 */
#include <math.h>
#include <string.h>

#include "bench_common.h"
#include "cli.h"

typedef struct pp_cfg {
    int nranks, calibrate, iters, warmup, osu;
    double budget;
    const char *transport, *json, *label;
    so_bench_sweep sw;
} pp_cfg;

/* One timed or untimed round trip of `bytes`; on rank 0 returns the round-trip time in *rtt. */
static int pp_round(so_comm *c, int r, void *buf, size_t bytes, double *rtt) {
    if (r == 0) {
        double t0 = so_now_s();
        SO_TRY(so_send(c, buf, bytes, 1, 7));
        SO_TRY(so_recv(c, buf, bytes, 1, 7));
        *rtt = so_now_s() - t0;
    } else if (r == 1) {
        SO_TRY(so_recv(c, buf, bytes, 0, 7));
        SO_TRY(so_send(c, buf, bytes, 0, 7));
    }
    return SO_OK;
}

/* Weighted least squares of t = a + b*s with weights 1/t^2; returns 0 if degenerate. */
static int pp_fit(const double *s, const double *t, int n, double *a, double *b) {
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double w = 1.0 / (t[i] * t[i]);
        sw += w;
        sx += w * s[i];
        sy += w * t[i];
        sxx += w * s[i] * s[i];
        sxy += w * s[i] * t[i];
    }
    double det = sw * sxx - sx * sx;
    if (n < 2 || fabs(det) <= 1e-300) {
        return 0;
    }
    *b = (sw * sxy - sx * sy) / det;
    *a = (sy - *b * sx) / sw;
    return 1;
}

static int pp_rank_main(const pp_cfg *cfg) {
    so_comm *c;
    int irc = so_comm_init_from_env(&c);
    if (irc < 0) {
        fprintf(stderr, "scaleout bench %s: cannot build the group: %s: %s\n", "pingpong",
                so_err_name(irc), so_last_error());
        return irc;
    }
    int r = so_comm_rank(c), k = so_comm_size(c), rc = SO_OK;
    double *sizes = NULL, *halfs = NULL, *times = NULL;
    void *buf = NULL;
    so_bench_out out;
    memset(&out, 0, sizeof out);
    if (k < 2) {
        rc = so__fail(SO_EINVAL, "pingpong needs at least 2 ranks (-n 2)");
        goto done;
    }
    char label[96];
    snprintf(label, sizeof label, "%s", cfg->label ? cfg->label : "");
    if (!cfg->label) {
        snprintf(label, sizeof label, "ours-%s", cfg->transport);
    }
    SO_TRY_GOTO(so_bench_out_open(&out, NULL, cfg->json, NULL, r == 0), rc, done);
    size_t maxb = so_bench_sweep_largest(&cfg->sw);
    enum { MAXN = 64, MAXIT = 100000 };
    buf = so_malloc_aligned(maxb);
    sizes = calloc(MAXN, sizeof(double));
    halfs = calloc(MAXN, sizeof(double));
    times = malloc(sizeof(double) * MAXIT);
    if (!buf || !sizes || !halfs || !times) {
        rc = so__fail(SO_ENOMEM, "pingpong: cannot allocate %zu bytes", maxb);
        goto done;
    }
    memset(buf, 1, maxb);
    if (r == 0 && cfg->osu) {
        /* The layout of OSU's osu_latency, which scripts that parse it expect. */
        printf(
            "# OSU MPI Latency Test (scaleout bench pingpong, %s)\n# Size          Latency (us)\n",
            so_comm_transport_name(c, 1));
    } else if (r == 0) {
        printf("# ping-pong rank 0 <-> rank 1 (%s, %s): one-way time = half the round trip\n",
               label, so_comm_transport_name(c, 1));
        printf("#%11s %10s %10s %8s %12s\n", "size(B)", "lat_us", "min_us", "iters", "bw(GB/s)");
    }
    int npts = 0;
    for (size_t S = so_bench_sweep_first(&cfg->sw); S && npts < MAXN;
         S = so_bench_sweep_next(&cfg->sw, S)) {
        double rtt = 0;
        int warm = cfg->warmup >= 0 ? cfg->warmup : S >= ((size_t)1 << 20) ? 5 : 50;
        SO_TRY_GOTO(so_barrier(c), rc, done);
        double t0 = so_now_s();
        for (int i = 0; i < warm; i++) {
            SO_TRY_GOTO(pp_round(c, r, buf, S, &rtt), rc, done);
        }
        double est = warm ? (so_now_s() - t0) / warm : 1e-3;
        int iters = cfg->iters;
        if (iters <= 0) {
            double n = cfg->budget / (est + 1e-6);
            iters = n < 5 ? 5 : n > 20000 ? 20000 : (int)n;
        }
        /* Rank 0's estimate decides, so both sides run the same number of rounds. */
        SO_TRY_GOTO(so_bcast(c, &iters, 1, SO_I32, 0), rc, done);
        for (int i = 0; i < iters; i++) {
            SO_TRY_GOTO(pp_round(c, r, buf, S, &times[i]), rc, done);
        }
        if (r == 0) {
            double med = so_bench_median(times, iters) / 2, mn = times[0] / 2;
            sizes[npts] = (double)S;
            halfs[npts] = med;
            if (cfg->osu) {
                printf("%-10zu%18.2f\n", S, med * 1e6);
            } else {
                printf(" %11zu %10.2f %10.2f %8d %12.4f\n", S, med * 1e6, mn * 1e6, iters,
                       (double)S / med / 1e9);
            }
            fflush(stdout);
            char sz[32], cas[160], extra[64];
            so_bench_size_label(S, sz, sizeof sz);
            snprintf(cas, sizeof cas, "%s pingpong %s", label, sz);
            snprintf(extra, sizeof extra, "\"iters\":%d", iters);
            so_bench_json(&out, "ours_p2p", cas, "lat_us", "us", med * 1e6, extra);
            so_bench_json(&out, "ours_p2p", cas, "lat_us_min", "us", mn * 1e6, extra);
            so_bench_json(&out, "ours_p2p", cas, "bw_GBps", "GB/s", (double)S / med / 1e9, extra);
        }
        npts++;
    }
    if (r == 0) {
        double a, b;
        if (pp_fit(sizes, halfs, npts, &a, &b)) {
            double worst = 0;
            for (int i = 0; i < npts; i++) {
                double e = fabs(a + b * sizes[i] - halfs[i]) / halfs[i];
                worst = e > worst ? e : worst;
            }
            printf("# fit t = alpha + S*beta (weights 1/t^2): alpha %.3f us, 1/beta %.3f GB/s, "
                   "worst relative residual %.0f%%\n",
                   a * 1e6, b > 0 ? 1e-9 / b : 0.0, worst * 100);
            char cas[128];
            snprintf(cas, sizeof cas, "%s pingpong fit", label);
            so_bench_json(&out, "ours_p2p", cas, "alpha_us", "us", a * 1e6, NULL);
            so_bench_json(&out, "ours_p2p", cas, "inv_beta_GBps", "GB/s", b > 0 ? 1e-9 / b : 0.0,
                          NULL);
        } else {
            printf("# fit: need at least two sizes\n");
        }
    }
    if (cfg->calibrate) {
        so_alpha_beta ab;
        SO_TRY_GOTO(so_coll_calibrate(c, &ab), rc, done);
        if (r == 0) {
            printf("# so_coll_calibrate: alpha %.3f us, 1/beta %.3f GB/s\n", ab.alpha_s * 1e6,
                   ab.beta_s_per_b > 0 ? 1e-9 / ab.beta_s_per_b : 0.0);
        }
    }
done:
    so_bench_out_close(&out);
    so_free_aligned(buf);
    free(sizes);
    free(halfs);
    free(times);
    if (rc < 0) {
        fprintf(stderr, "[rank %d] scaleout bench pingpong: %s: %s\n", r, so_err_name(rc),
                so_comm_last_error(c)[0] ? so_comm_last_error(c) : so_last_error());
        so_comm_abort(c);
    }
    so_comm_destroy(c);
    return rc;
}

static void pp_usage(void) {
    printf("usage: scaleout bench pingpong [-n 2] [--transport shm|tcp (shm)] [--min 8]\n"
           "         [--max 16M] [--factor 4 | --step S | --sizes LIST] [--iters N] [--warmup W]\n"
           "         [--budget SECONDS (0.3)] [--calibrate] [--osu] [--json FILE] [--label TEXT]\n"
           "Half round-trip latency and bandwidth between ranks 0 and 1 per size, then the\n"
           "least-squares alpha (us) and 1/beta (GB/s) of t = alpha + S*beta. --osu prints the\n"
           "table in osu_latency's layout.\n");
}

static int bench_pingpong(int argc, char **argv) {
    pp_cfg cfg = {.nranks = 2, .iters = 0, .warmup = -1, .budget = 0.3, .transport = "shm"};
    so_bench_sweep_default(&cfg.sw);
    cfg.sw.max = (size_t)16 << 20;
    cfg.sw.factor = 4;
    for (int i = 1; i < argc; i++) {
        int rc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            pp_usage();
            return 0;
        }
        if (!strcmp(argv[i], "--calibrate")) {
            cfg.calibrate = 1;
            continue;
        }
        if (!strcmp(argv[i], "--osu")) {
            cfg.osu = 1;
            continue;
        }
        if ((rc = so_bench_flag_int(argc, argv, &i, "-n", &cfg.nranks)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--transport", &cfg.transport)) ||
            (rc = so_bench_flag_int(argc, argv, &i, "--iters", &cfg.iters)) ||
            (rc = so_bench_flag_int(argc, argv, &i, "--warmup", &cfg.warmup)) ||
            (rc = so_bench_flag_double(argc, argv, &i, "--budget", &cfg.budget)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--json", &cfg.json)) ||
            (rc = so_bench_flag_str(argc, argv, &i, "--label", &cfg.label)) ||
            (rc = so_bench_sweep_flag(&cfg.sw, argc, argv, &i))) {
            if (rc < 0) {
                fprintf(stderr, "scaleout bench pingpong: %s\n", so_last_error());
                return 2;
            }
            continue;
        }
        fprintf(stderr, "scaleout bench pingpong: unknown flag '%s'\n", argv[i]);
        pp_usage();
        return 2;
    }
    if (cfg.nranks < 2) {
        fprintf(stderr, "scaleout bench pingpong: needs -n 2 or more\n");
        return 2;
    }
    if (so_cli_is_worker()) {
        return pp_rank_main(&cfg) < 0 ? 1 : 0;
    }
    return so_bench_launch(cfg.nranks, cfg.transport);
}

SO_CLI_BENCH(pingpong, "point-to-point latency/bandwidth and the fitted alpha-beta", bench_pingpong)
