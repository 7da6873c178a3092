/*
 * `scaleout demo ch03`: chapter 3, scalability and performance models, measured.
 *
 * The demo runs one real distributed job several times, as K = 1, 2 (and 4 without --quick)
 * processes, each run a separate launch like a real scaling study:
 *  (a) strong scaling: a fixed total of N items, each rank sums f(i) over its contiguous shard,
 *      one all-reduce; rank 0 first does a serial setup of s N items (--serial, 0.05 as the
 *      book's 3.1.1); weak scaling: N items per rank. Each time is the median of barrier-aligned
 *      trials (max over ranks); the sums are exact integers and must equal the serial ones.
 *  (b) speedup, efficiency and Karp-Flatt from the measurements, a least-squares Amdahl fit, and
 *      the fitted model extrapolated beyond the machine (K = 8 ... 1024).
 *  (c) a ping-pong between two ranks fitted to t = alpha + beta n (the alpha-beta model).
 *  (d) the chapter's deterministic tables from the model API (3.1.1, 3.3.1, 3.5.1, 3.8.1, 3.9.1)
 *      checked against the book.
 *  (e) 3.4.2 static batch queue simulated (p50/p95/p99, W, Little's law) beside the book's.
 *  (f) --plot FILE.png: speedup vs K, measured and model, drawn by gnuplot if it is installed.
 * Ends with `ch03 OK key=value ...` or `ch03 FAIL reason` (exit 1).
 * Cost with --quick: about 3-5 s on 2 cores (two launches).
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "scaleout/so.h"

enum { CH03_MAX_K = 8, CH03_PP_SIZES = 6 };

typedef struct ch03_cfg {
    int quick, maxk, trials, phase;
    long items;
    double serial;
    const char *out, *plot, *transport;
} ch03_cfg;

/* One phase's measurements, written by rank 0 for the parent. */
typedef struct ch03_meas {
    int k;
    double t_strong, t_weak;
    unsigned long long sum_strong, sum_weak;
    int have_pp;
    double pp_n[CH03_PP_SIZES], pp_t[CH03_PP_SIZES];
    double ar_a, ar_b; /* ring all-reduce fit t = a + b n (n bytes per rank) */
} ch03_meas;

/* The work: an exact integer function of i, a few ns each. */
static unsigned long long ch03_sum(unsigned long long lo, unsigned long long n) {
    unsigned long long acc = 0;
    for (unsigned long long i = lo; i < lo + n; i++) {
        acc += (i * i + 7 * i) % 1000003ULL;
    }
    return acc;
}

typedef struct ch03_job {
    so_comm *c;
    const ch03_cfg *cfg;
    int weak;
    unsigned long long result;
} ch03_job;

static void ch03_job_run(void *arg) {
    ch03_job *j = arg;
    int r = so_comm_rank(j->c), k = so_comm_size(j->c);
    unsigned long long n = (unsigned long long)j->cfg->items, acc = 0;
    unsigned long long total = j->weak ? n * (unsigned long long)k : n;
    if (r == 0) { /* the serial part: only rank 0 works, the others wait at the all-reduce */
        acc += ch03_sum(total, (unsigned long long)(j->cfg->serial * (double)n));
    }
    uint64_t lo, cnt;
    so_part_contiguous(total, k, r, &lo, &cnt);
    acc += ch03_sum(lo, cnt);
    int64_t v = (int64_t)acc;
    SO_CHECK(so_allreduce(j->c, &v, &v, 1, SO_I64, SO_SUM));
    j->result = (unsigned long long)v;
}

/* Median one-way time of a ping-pong of n bytes between ranks 0 and 1 (ranks 2.. idle). */
static double ch03_pingpong(so_comm *c, size_t n, int iters) {
    int r = so_comm_rank(c);
    char *buf = calloc(n ? n : 1, 1);
    double t[64];
    SO_ASSERT(buf);
    iters = iters > 64 ? 64 : iters;
    for (int i = -2; i < iters; i++) {
        double t0 = so_now_s();
        if (r == 0) {
            SO_CHECK(so_send(c, buf, n, 1, 31));
            SO_CHECK(so_recv(c, buf, n, 1, 32));
        } else if (r == 1) {
            SO_CHECK(so_recv(c, buf, n, 0, 31));
            SO_CHECK(so_send(c, buf, n, 0, 32));
        }
        if (i >= 0) {
            t[i] = (so_now_s() - t0) / 2;
        }
    }
    free(buf);
    return so_stats_median(t, (size_t)iters);
}

typedef struct ch03_ar {
    so_comm *c;
    float *buf;
    size_t n;
} ch03_ar;

static void ch03_ar_run(void *arg) {
    ch03_ar *a = arg;
    so_coll_opts o = {.algo = SO_ALGO_RING};
    SO_CHECK(so_allreduce_ex(a->c, a->buf, a->buf, a->n, SO_F32, SO_SUM, &o));
}

/* Ring all-reduce times at a few sizes, fitted to t = a + b n. */
static void ch03_ring_fit(so_comm *c, const ch03_cfg *cfg, double *a, double *b) {
    const size_t sizes[4] = {65536, 262144, 1048576, 4194304};
    double n[4], t[4], samples[32];
    float *buf = calloc(sizes[3] / 4, sizeof(float));
    SO_ASSERT(buf);
    for (int i = 0; i < 4; i++) {
        ch03_ar ar = {c, buf, sizes[i] / 4};
        so_trials st;
        SO_CHECK(so_harness_trials_comm(c, ch03_ar_run, &ar, 1, cfg->quick ? 3 : 7, samples, &st));
        n[i] = (double)sizes[i], t[i] = st.median;
    }
    so_fit_linear(n, t, 4, a, b, NULL);
    free(buf);
}

static int ch03_phase(const ch03_cfg *cfg) {
    so_comm *c;
    SO_CHECK(so_comm_init_from_env(&c));
    int r = so_comm_rank(c), k = so_comm_size(c);
    ch03_meas m;
    memset(&m, 0, sizeof m);
    m.k = k;
    double samples[32];
    so_trials st;
    for (int weak = 0; weak < 2; weak++) {
        ch03_job j = {c, cfg, weak, 0};
        SO_CHECK(so_harness_trials_comm(c, ch03_job_run, &j, 1, cfg->trials, samples, &st));
        if (weak) {
            m.t_weak = st.median, m.sum_weak = j.result;
        } else {
            m.t_strong = st.median, m.sum_strong = j.result;
        }
    }
    if (k >= 2) {
        const size_t sizes[CH03_PP_SIZES] = {8, 1024, 16384, 65536, 262144, 1048576};
        m.have_pp = 1;
        for (int i = 0; i < CH03_PP_SIZES; i++) {
            m.pp_n[i] = (double)sizes[i];
            m.pp_t[i] = ch03_pingpong(c, sizes[i], cfg->quick ? 10 : 30);
        }
        ch03_ring_fit(c, cfg, &m.ar_a, &m.ar_b);
    }
    if (r == 0) {
        printf("    K=%d: strong %.4f s, weak %.4f s (median of %d barrier-aligned trials)\n", k,
               m.t_strong, m.t_weak, cfg->trials);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", cfg->out);
        FILE *f = fopen(tmp, "wb");
        int ok = f && fwrite(&m, sizeof m, 1, f) == 1;
        if (f) {
            ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
            fclose(f);
        }
        if (!ok || rename(tmp, cfg->out) != 0) {
            fprintf(stderr, "ch03: cannot write %s\n", cfg->out);
            so_comm_destroy(c);
            return 1;
        }
    }
    so_comm_destroy(c);
    return 0;
}

/* ---- the parent: launches, fits, tables ---- */

static int ch03_tables(void) {
    int ok = 1;
    printf("\n(d) the chapter's models (model API), checked against the book\n");
    const int ks[5] = {2, 8, 64, 256, 512};
    const double s311[5] = {1.9048, 5.9259, 15.4217, 18.6182, 19.2844};
    printf("    3.1.1 Amdahl f=0.05:");
    for (int i = 0; i < 5; i++) {
        double s = so_model_amdahl(0.05, ks[i]);
        ok &= fabs(s - s311[i]) < 5e-5;
        printf(" K=%d S=%.4f E=%.4f", ks[i], s, s / ks[i]);
    }
    so_model_scaling m = {0.05, 0.95, 0.01, 0};
    printf("\n    3.3.1 T = 0.05 + 0.95/K + 0.01 log2 K: strong K=8 T %.4f S %.3f E %.1f%%; K=64 T "
           "%.4f; weak K=128 T %.4f E %.1f%%\n",
           so_model_scaling_strong_s(&m, 8),
           so_model_scaling_strong_s(&m, 1) / so_model_scaling_strong_s(&m, 8),
           100 * so_model_scaling_strong_eff(&m, 8), so_model_scaling_strong_s(&m, 64),
           so_model_scaling_weak_s(&m, 128), 100 * so_model_scaling_weak_eff(&m, 128));
    ok &= fabs(so_model_scaling_strong_s(&m, 8) - 0.1988) < 5e-5 &&
          fabs(so_model_scaling_weak_s(&m, 128) - 1.0700) < 5e-5;
    printf("    3.5.1 K=1024 Amdahl / Gustafson, s = .5 .1 .02: %.2f %.2f %.2f / %.2f %.2f %.2f\n",
           so_model_amdahl(0.5, 1024), so_model_amdahl(0.1, 1024), so_model_amdahl(0.02, 1024),
           so_model_gustafson(0.5, 1024), so_model_gustafson(0.1, 1024),
           so_model_gustafson(0.02, 1024));
    ok &= fabs(so_model_amdahl(0.02, 1024) - 47.72) < 0.005 &&
          fabs(so_model_gustafson(0.1, 1024) - 921.70) < 0.005;
    double r8 = so_model_allreduce_s(SO_AR_RING, 8, 100.0 * (1 << 20), 5e-6, 100e9) * 1e3,
           r1024 = so_model_allreduce_s(SO_AR_RING, 1024, 100.0 * (1 << 20), 5e-6, 100e9) * 1e3;
    printf("    3.8.1 ring, 100 MiB, alpha 5 us, 100 GB/s: K=8 %.3f ms, K=1024 %.3f ms\n", r8,
           r1024);
    ok &= fabs(r8 - 1.905) < 0.0005 && fabs(r1024 - 12.325) < 0.0005;
    so_model_costscale cs = {0.03, 0.0015, 1.0, 2.10, 9.0};
    int best = so_model_costscale_cheapest(&cs, 1024), fast = so_model_costscale_fastest(&cs, 1024);
    printf("    3.9.1 cheapest K=%d ($%.3f per job), fastest K=%d\n", best,
           so_model_costscale_cost(&cs, best), fast);
    ok &= best == 8 && fast == 25;
    printf("    book's values: %s\n", ok ? "match" : "DIFFER");
    return ok;
}

/* 3.4.2 (SEED): a static batch queue simulated; the book's numbers within a few percent. */
static int ch03_batchq(void) {
    so_loadgen_result q;
    SO_CHECK(so_batchq_simulate(800, 16, 0.004, 0.0009, 1000000, 7, &q));
    double lw = 800 * q.mean_s;
    printf(
        "\n(e) 3.4.2 static batch queue (Poisson 800/s, batch 16, service 4 ms + 0.9 ms x B), "
        "simulated, 10^6 requests\n"
        "    p50 / p95 / p99 = %.2f / %.2f / %.2f ms, W = %.2f ms (book, its own draws: 32.17 / "
        "48.27 / 59.50, 32.75)\n"
        "    Little's law: lambda W = %.3f vs L measured %.3f (gap %.2e; book 26.209 vs 26.207)\n",
        q.p50_s * 1e3, q.p95_s * 1e3, q.p99_s * 1e3, q.mean_s * 1e3, lw, q.in_system,
        fabs(lw - q.in_system));
    /* Statistical (the book drew with numpy): across seeds p50 and W vary by under 1%, p99 by
     * about 4%. */
    return fabs(q.p50_s - 0.03217) <= 0.02 * 0.03217 &&
           fabs(q.mean_s - 0.03275) <= 0.02 * 0.03275 &&
           fabs(q.p99_s - 0.05950) <= 0.06 * 0.05950 && fabs(lw - q.in_system) <= 0.01 * lw;
}

static void ch03_plot(const ch03_cfg *cfg, const so_scaling_row *rows, int n, double s_fit) {
    char csv[] = "/tmp/so-ch03-plotXXXXXX";
    int fd = mkstemp(csv);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        printf("    --plot: cannot write a temporary file\n");
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d %.6f\n", rows[i].k, rows[i].speedup);
    }
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "gnuplot -e \"set terminal pngcairo size 800,500; set output '%s'; set logscale xy 2; "
             "set xlabel 'processes K'; set ylabel 'speedup'; set key left top; set grid; "
             "set title 'strong scaling: measured and Amdahl'; "
             "plot [1:64] '%s' using 1:2 with linespoints lw 2 pt 7 title 'measured', "
             "1/(%g+(1-%g)/x) title 'Amdahl fit s=%.3f', "
             "1/(%g+(1-%g)/x) title 'Amdahl configured s=%.2f', x title 'ideal' dt 2\" 2>/dev/null",
             cfg->plot, csv, s_fit, s_fit, s_fit, cfg->serial, cfg->serial, cfg->serial);
    int rc = system(cmd);
    unlink(csv);
    printf("    --plot: %s\n", rc == 0 ? cfg->plot : "gnuplot not available or failed (skipped)");
}

static int ch03_parent(const ch03_cfg *cfg, int argc, char **argv) {
    double t0 = so_now_s();
    int ks[CH03_MAX_K], nk = 0, bad = 0;
    char reason[160] = "";
    for (int k = 1; k <= cfg->maxk && nk < CH03_MAX_K; k *= 2) {
        ks[nk++] = k;
    }
    char dir[] = "/tmp/so-ch03-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("ch03 FAIL cannot make a temporary directory\n");
        return 1;
    }
    printf("Chapter 3: scaling measured at K = 1..%d%s (%ld items, serial fraction %.2f)\n",
           cfg->maxk, cfg->quick ? " (quick)" : "", cfg->items, cfg->serial);
    printf("\n(a) one real job per K, each a separate launch\n");
    ch03_meas m[CH03_MAX_K];
    for (int i = 0; i < nk; i++) {
        char path[256], kbuf[16];
        snprintf(path, sizeof path, "%s/k%d", dir, ks[i]);
        snprintf(kbuf, sizeof kbuf, "%d", ks[i]);
        char **av = calloc((size_t)argc + 5, sizeof *av);
        SO_ASSERT(av);
        for (int a = 0; a < argc; a++) {
            av[a] = argv[a];
        }
        av[argc] = "--phase", av[argc + 1] = kbuf, av[argc + 2] = "--out", av[argc + 3] = path;
        fflush(stdout);
        int rc = so_cli_launch_self(ks[i], cfg->transport, argc + 4, av);
        free(av);
        FILE *f = fopen(path, "rb");
        int got = f && fread(&m[i], sizeof m[i], 1, f) == 1;
        if (f) {
            fclose(f);
            unlink(path);
        }
        if (rc != 0 || !got) {
            rmdir(dir);
            printf("ch03 FAIL the K=%d run exited with code %d\n", ks[i], rc);
            return 1;
        }
    }
    rmdir(dir);
    for (int i = 1; i < nk; i++) {
        if (m[i].sum_strong != m[0].sum_strong) {
            snprintf(reason, sizeof reason, "the K=%d strong-scaling sum differs from K=1", ks[i]);
            bad = 1;
        }
    }
    printf("    the strong-scaling sums agree at every K: %s (%llu)\n", bad ? "NO" : "yes",
           m[0].sum_strong);
    double ts[CH03_MAX_K], tw[CH03_MAX_K], s_fit, s_weak;
    for (int i = 0; i < nk; i++) {
        ts[i] = m[i].t_strong, tw[i] = m[i].t_weak;
    }
    so_scaling_row rs[CH03_MAX_K], rw[CH03_MAX_K];
    so_scaling_study(ks, ts, nk, 0, 0.7, rs, &s_fit);
    so_scaling_study(ks, tw, nk, 1, 0.7, rw, &s_weak);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load[1] = {0};
    if (getloadavg(load, 1) < 1) {
        load[0] = NAN;
    }
    printf("\n(b) %4s %10s %8s %7s %11s %11s | %10s %8s %10s\n", "K", "strong s", "speedup", "eff",
           "Karp-Flatt", "Amdahl(.05)", "weak s", "eff", "Gustafson");
    for (int i = 0; i < nk; i++) {
        printf("    %4d %10.4f %8.3f %7.3f %11.4f %11.3f | %10.4f %8.3f %10.3f\n", ks[i], rs[i].t,
               rs[i].speedup, rs[i].eff, rs[i].karp_flatt, so_model_amdahl(cfg->serial, ks[i]),
               rw[i].t, rw[i].eff, so_model_gustafson(cfg->serial, ks[i]));
    }
    printf(
        "    Amdahl fit to the measurements: serial fraction %.3f (configured %.3f; the rest is\n"
        "    communication and scheduling: %ld cores, load average %.1f while this ran)\n",
        s_fit, cfg->serial, cores, load[0]);
    printf("    fitted model beyond the machine: ");
    const int ext[5] = {8, 16, 64, 256, 1024};
    for (int i = 0; i < 5; i++) {
        printf("K=%d S=%.2f  ", ext[i], so_model_amdahl(s_fit, ext[i]));
    }
    printf("ceiling %.1f\n", s_fit > 0 ? 1 / s_fit : INFINITY);
    double alpha = 0, beta = 0, r2 = 0;
    for (int i = 0; i < nk; i++) {
        if (m[i].have_pp) {
            /* A least-squares line over 8 B .. 1 MiB is dominated by the large sizes and can put
             * alpha below zero; fit beta where bandwidth dominates (>= 16 KiB) and read alpha at
             * the smallest size, as the bench does. */
            double a_fit;
            so_fit_linear(m[i].pp_n + 2, m[i].pp_t + 2, CH03_PP_SIZES - 2, &a_fit, &beta, &r2);
            alpha = m[i].pp_t[0];
            printf("\n(c) ping-pong between 2 ranks over %s (K=%d run), one-way median:\n    ",
                   cfg->transport, ks[i]);
            for (int j = 0; j < CH03_PP_SIZES; j++) {
                printf("%.0f B %.1f us  ", m[i].pp_n[j], m[i].pp_t[j] * 1e6);
            }
            printf("\n    t = alpha + beta n: alpha = t(8 B) = %.2f us; beta fitted over 16 KiB .. "
                   "1 MiB: "
                   "1/beta = %.2f GB/s (r^2 %.3f)\n",
                   alpha * 1e6, beta > 0 ? 1e-9 / beta : 0.0, r2);
            break;
        }
    }
    printf(
        "    ring all-reduce, fit t = a + b n over 64 KiB .. 4 MiB; the book's claim: b ~ 2(K-1)/K "
        "beta (+-20%%)\n");
    for (int i = 0; i < nk; i++) {
        if (m[i].have_pp && beta > 0) {
            double want = 2.0 * (ks[i] - 1) / ks[i] * beta;
            printf(
                "    K=%d: a = %.1f us, b = %.3f ns/B; 2(K-1)/K beta = %.3f ns/B; ratio %.2f%s\n",
                ks[i], m[i].ar_a * 1e6, m[i].ar_b * 1e9, want * 1e9, m[i].ar_b / want,
                fabs(m[i].ar_b / want - 1) <= 0.2 ? " (within 20%)"
                                                  : " (outside 20%: a reduction costs compute "
                                                    "too, and the cores are shared)");
        }
    }
    if (!ch03_tables() && !bad) {
        snprintf(reason, sizeof reason, "a model table differs from the book");
        bad = 1;
    }
    if (!ch03_batchq() && !bad) {
        snprintf(reason, sizeof reason, "the 3.4.2 batch queue is off the book's numbers");
        bad = 1;
    }
    if (cfg->plot) {
        ch03_plot(cfg, rs, nk, s_fit);
    }
    if (bad) {
        printf("ch03 FAIL %s\n", reason);
        return 1;
    }
    printf("\nch03 OK ks=1..%d speedup_k%d=%.2f eff_k%d=%.2f weak_eff_k%d=%.2f amdahl_fit=%.3f "
           "alpha_us=%.1f bw_GBps=%.2f tables=match seconds=%.1f\n",
           ks[nk - 1], ks[nk - 1], rs[nk - 1].speedup, ks[nk - 1], rs[nk - 1].eff, ks[nk - 1],
           rw[nk - 1].eff, s_fit, alpha * 1e6, beta > 0 ? 1e-9 / beta : 0.0, so_now_s() - t0);
    return 0;
}

static void ch03_usage(void) {
    printf(
        "usage: scaleout demo ch03 [--quick] [--max-k K (4; 2 with --quick)]\n"
        "         [--items N (150000000; 40000000 quick)] [--serial S (0.05)] [--trials T (5; 3 "
        "quick)]\n"
        "         [--transport shm|tcp (shm)] [--plot FILE.png]\n"
        "Chapter 3 measured: strong and weak scaling of a K-process reduction at K = 1, 2, 4..,\n"
        "speedup, efficiency, Karp-Flatt, an Amdahl fit extrapolated; a ping-pong alpha-beta\n"
        "fit; the chapter's model tables.\n");
}

static int demo_ch03(int argc, char **argv) {
    ch03_cfg cfg = {
        .maxk = 0, .trials = 0, .phase = 0, .items = 0, .serial = 0.05, .transport = "shm"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ch03_usage();
            return 0;
        } else if (!strcmp(a, "--quick")) {
            cfg.quick = 1;
        } else if (v && (!strcmp(a, "--max-k") || !strcmp(a, "-n"))) {
            cfg.maxk = atoi(v), i++;
        } else if (v && !strcmp(a, "--items")) {
            cfg.items = atol(v), i++;
        } else if (v && !strcmp(a, "--serial")) {
            cfg.serial = atof(v), i++;
        } else if (v && !strcmp(a, "--trials")) {
            cfg.trials = atoi(v), i++;
        } else if (v && !strcmp(a, "--transport")) {
            cfg.transport = v, i++;
        } else if (v && !strcmp(a, "--plot")) {
            cfg.plot = v, i++;
        } else if (v && !strcmp(a, "--phase")) {
            cfg.phase = atoi(v), i++;
        } else if (v && !strcmp(a, "--out")) {
            cfg.out = v, i++;
        } else {
            fprintf(stderr, "ch03: unknown flag '%s'\n", a);
            ch03_usage();
            return 2;
        }
    }
    cfg.maxk = cfg.maxk > 0 ? cfg.maxk : cfg.quick ? 2 : 4;
    cfg.items = cfg.items > 0 ? cfg.items : cfg.quick ? 40000000 : 150000000;
    cfg.trials = cfg.trials > 0 ? cfg.trials : cfg.quick ? 3 : 5;
    if (cfg.maxk < 2 || cfg.maxk > 64 || cfg.items < 1000 || cfg.serial < 0 || cfg.serial > 1 ||
        cfg.trials > 32) {
        fprintf(stderr, "ch03: wants 2 <= --max-k <= 64, --items >= 1000, 0 <= --serial <= 1, "
                        "--trials <= 32\n");
        return 2;
    }
    if (so_cli_is_worker()) {
        if (!cfg.out) {
            fprintf(stderr, "ch03: a worker needs --phase K --out FILE (the demo adds them)\n");
            return 2;
        }
        return ch03_phase(&cfg);
    }
    return ch03_parent(&cfg, argc, argv);
}

SO_CLI_DEMO(ch03,
            "scalability measured: strong/weak scaling at K = 1, 2, 4, Amdahl and "
            "Karp-Flatt fits, ping-pong alpha-beta, the chapter's models",
            demo_ch03)
