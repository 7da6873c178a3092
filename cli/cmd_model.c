/*
 * `scaleout model <name> [flags]`: the book's analytical models (chapters 1-5) as a calculator.
 * Each model prints a table like the book's, with the book's inputs as defaults, so
 * `scaleout model allreduce` reproduces listing 4.4.1 and `--k 4,16 --gbps 25` runs an exercise.
 * `scaleout model list` names them; `scaleout model all` prints every one with its defaults.
 *
 * The formulas live in src/model/ (include/scaleout/model.h) and are golden-tested there; this file
 * parses flags and prints. Flags are table-driven: every model lists its flags with their default
 * values, and --help prints that list. Sizes accept 64KiB/64K/64M/1G (binary) and 25kB/25MB/1GB
 * (decimal), as the book uses both. `model roofline --measure` also probes this machine: a
 * STREAM-triad bandwidth and a single-core FMA loop (about one second in all).
 */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <immintrin.h>

#include "cli.h"
#include "scaleout/model.h"

/* ---- flags ---- */

enum { F_DBL, F_INT, F_SIZE, F_LIST, F_SIZELIST, F_BOOL, F_STR };
enum { LIST_MAX = 64 };

typedef struct dlist {
    double v[LIST_MAX];
    int n;
} dlist;

typedef struct mflag {
    const char *name; /* without the dashes */
    int type;
    void *p;
    const char *help;
} mflag;

/* Parses "64KiB", "25MB", "1e6", "0.5" into bytes (or a plain number). */
static int parse_size(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) {
        return so__fail(SO_EINVAL, "'%s' is not a number or size", s);
    }
    double mult = 1;
    if (*end) {
        char u = (char)toupper((unsigned char)*end);
        const char *rest = end + 1;
        int k = u == 'K' ? 1 : u == 'M' ? 2 : u == 'G' ? 3 : u == 'T' ? 4 : 0;
        if (u == 'B' && !end[1]) {
            k = 0, rest = "";
        } else if (!k) {
            return so__fail(SO_EINVAL, "'%s' has an unknown unit '%s'", s, end);
        }
        if (!strcmp(rest, "B") || !strcmp(rest, "b")) {
            mult = pow(1000.0, k); /* kB, MB, GB: decimal */
        } else if (!*rest || !strcmp(rest, "iB") || !strcmp(rest, "ib")) {
            mult = pow(1024.0, k); /* K, KiB, M, MiB: binary */
        } else {
            return so__fail(SO_EINVAL, "'%s' has an unknown unit '%s'", s, end);
        }
    }
    *out = v * mult;
    return SO_OK;
}

static int parse_list(const char *s, dlist *l, int sizes) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    l->n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (l->n == LIST_MAX) {
            return so__fail(SO_EINVAL, "list '%s' has more than %d entries", s, LIST_MAX);
        }
        if (sizes) {
            SO_TRY(parse_size(t, &l->v[l->n]));
        } else {
            char *end;
            l->v[l->n] = strtod(t, &end);
            if (end == t || *end) {
                return so__fail(SO_EINVAL, "'%s' in list '%s' is not a number", t, s);
            }
        }
        l->n++;
    }
    return l->n ? SO_OK : so__fail(SO_EINVAL, "empty list");
}

static void print_default(const mflag *f, char *buf, size_t cap) {
    switch (f->type) {
    case F_DBL:
    case F_SIZE:
        snprintf(buf, cap, "%g", *(double *)f->p);
        break;
    case F_INT:
        snprintf(buf, cap, "%d", *(int *)f->p);
        break;
    case F_BOOL:
        snprintf(buf, cap, "%s", *(int *)f->p ? "on" : "off");
        break;
    case F_STR:
        snprintf(buf, cap, "%s", *(const char **)f->p ? *(const char **)f->p : "");
        break;
    default: {
        const dlist *l = f->p;
        size_t off = 0;
        buf[0] = '\0';
        for (int i = 0; i < l->n && off + 24 < cap; i++) {
            off += (size_t)snprintf(buf + off, cap - off, "%s%g", i ? "," : "", l->v[i]);
        }
    }
    }
}

/* Returns 0 to go on, 1 if --help was printed, 2 on a bad flag (message printed). */
static int parse_flags(const char *model, const char *about, int argc, char **argv,
                       const mflag *flags, int nflags) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: scaleout model %s [flags]\n\n%s\n\nflags (default):\n", model, about);
            for (int j = 0; j < nflags; j++) {
                char d[256];
                print_default(&flags[j], d, sizeof d);
                printf("  --%-16s %s (%s)\n", flags[j].name, flags[j].help, d);
            }
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "scaleout model %s: unexpected argument '%s'\n", model, a);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const mflag *f = NULL;
        for (int j = 0; j < nflags; j++) {
            if (strlen(flags[j].name) == len && !strncmp(flags[j].name, name, len)) {
                f = &flags[j];
            }
        }
        if (!f) {
            fprintf(stderr, "scaleout model %s: unknown flag '%s'; see --help\n", model, a);
            return 2;
        }
        if (f->type == F_BOOL) {
            *(int *)f->p = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "scaleout model %s: flag --%s needs a value\n", model, f->name);
            return 2;
        }
        int rc = SO_OK;
        char *end = NULL;
        switch (f->type) {
        case F_DBL:
            *(double *)f->p = strtod(v, &end);
            rc = (end == v || *end) ? so__fail(SO_EINVAL, "'%s' is not a number", v) : SO_OK;
            break;
        case F_INT:
            *(int *)f->p = (int)strtol(v, &end, 10);
            rc = (end == v || *end) ? so__fail(SO_EINVAL, "'%s' is not an integer", v) : SO_OK;
            break;
        case F_SIZE:
            rc = parse_size(v, f->p);
            break;
        case F_LIST:
            rc = parse_list(v, f->p, 0);
            break;
        case F_SIZELIST:
            rc = parse_list(v, f->p, 1);
            break;
        case F_STR:
            *(const char **)f->p = v;
            break;
        }
        if (rc < 0) {
            fprintf(stderr, "scaleout model %s: --%s: %s\n", model, f->name, so_last_error());
            return 2;
        }
    }
    return 0;
}

#define NF(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define PARSE(name, about, flags)                                                                  \
    do {                                                                                           \
        int so__p = parse_flags(name, about, argc, argv, flags, NF(flags));                        \
        if (so__p)                                                                                 \
            return so__p == 1 ? 0 : 2;                                                             \
        printf("# %s\n", about);                                                                   \
    } while (0)

static dlist L(int n, const double *v) {
    dlist l;
    l.n = n;
    memcpy(l.v, v, (size_t)n * sizeof *v);
    return l;
}
#define LIST(...) L(NF(((const double[]){__VA_ARGS__})), (const double[]){__VA_ARGS__})

static const char *fmt_bytes(double b, char *buf, size_t cap) {
    static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && fmod(b, 1024) == 0 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, cap, "%g %s", b, u[i]);
    return buf;
}

/* ---- chapter 1 ---- */

static int m_devices(int argc, char **argv, const char *about) {
    double dp = 64, tp = 8, pp = 1, rep = 40, shards = 4;
    mflag f[] = {{"dp", F_DBL, &dp, "data-parallel replicas in training"},
                 {"tp", F_DBL, &tp, "model (tensor) parallel degree"},
                 {"pp", F_DBL, &pp, "pipeline stages"},
                 {"replicas", F_DBL, &rep, "serving replicas"},
                 {"shards", F_DBL, &shards, "GPUs per serving replica"}};
    PARSE("devices", about, f);
    printf("training GPUs  %g x %g x %g = %g\n", dp, tp, pp, dp * tp * pp);
    printf("serving GPUs   %g x %g = %g\n", rep, shards, rep * shards);
    return 0;
}

static int m_scaleup(int argc, char **argv, const char *about) {
    so_model_scaleout m = {1e6, 6, 18, 2, 0.04};
    dlist k = LIST(2, 4, 8, 16, 32, 64);
    mflag f[] = {{"work", F_DBL, &m.work_node_s, "work in node-seconds"},
                 {"big-speed", F_DBL, &m.big_speed, "speed of the big node (commodity = 1)"},
                 {"big-price", F_DBL, &m.big_price_h, "price of the big node, $/h"},
                 {"node-price", F_DBL, &m.node_price_h, "price of a commodity node, $/h"},
                 {"decay", F_DBL, &m.decay, "efficiency 1/(1 + decay (K-1))"},
                 {"k", F_LIST, &k, "commodity node counts"}};
    PARSE("scaleup", about, f);
    printf("scale-up: %.2f h, $%.2f\n\n%6s %10s %10s %s\n", so_model_scaleup_hours(&m),
           so_model_scaleup_cost(&m), "K", "time (h)", "cost ($)", "cheaper than scale-up");
    for (int i = 0; i < k.n; i++) {
        double c = so_model_scaleout_cost(&m, k.v[i]);
        printf("%6g %10.2f %10.2f %s\n", k.v[i], so_model_scaleout_hours(&m, k.v[i]), c,
               c < so_model_scaleup_cost(&m) ? "yes" : "no");
    }
    return 0;
}

static int m_gossip(int argc, char **argv, const char *about) {
    double k = 8, w = 0.5, eps = 0.01;
    dlist rounds = LIST(1, 2, 5, 10, 20, 40);
    mflag f[] = {{"k", F_DBL, &k, "peers on the ring"},
                 {"self", F_DBL, &w, "self weight w (neighbours get (1-w)/2 each)"},
                 {"eps", F_DBL, &eps, "target shrink factor of the disagreement"},
                 {"rounds", F_LIST, &rounds, "rounds to tabulate"}};
    PARSE("gossip", about, f);
    double l2 = so_model_gossip_lambda2(k, w);
    printf("lambda2 = w + (1-w) cos(2 pi / K) = %.6f; rounds to shrink %g-fold: %.1f\n\n", l2,
           1 / eps, so_model_gossip_rounds(k, w, eps));
    printf("%6s %14s\n", "round", "lambda2^round");
    for (int i = 0; i < rounds.n; i++) {
        printf("%6g %14.3e\n", rounds.v[i], pow(l2, rounds.v[i]));
    }
    return 0;
}

static int m_tail(int argc, char **argv, const char *about) {
    double med = 40, sigma = 0.35, frac = 0.02, mult = 6, rate = 5000;
    mflag f[] = {{"median-ms", F_DBL, &med, "median latency of a healthy request, ms"},
                 {"sigma", F_DBL, &sigma, "log-normal sigma"},
                 {"straggler-frac", F_DBL, &frac, "fraction of requests that straggle"},
                 {"straggler-mult", F_DBL, &mult, "how much slower a straggler is"},
                 {"rate", F_DBL, &rate, "arrival rate for Little's law, req/s"}};
    PARSE("tail", about, f);
    printf("%-16s %8s %8s %8s %8s %8s\n", "", "p50", "p95", "p99", "p99.9", "mean");
    for (int s = 0; s < 2; s++) {
        double fr = s ? frac : 0;
        printf("%-16s", s ? "with stragglers" : "healthy");
        const double q[4] = {0.5, 0.95, 0.99, 0.999};
        for (int i = 0; i < 4; i++) {
            printf(" %8.1f", so_model_lognormal_mix_quantile(med, sigma, fr, mult, q[i]));
        }
        printf(" %8.2f\n", so_model_lognormal_mix_mean(med, sigma, fr, mult));
    }
    double W = so_model_lognormal_mix_mean(med, sigma, frac, mult);
    printf("\np99 inflation %.2fx; Little's law L = %g/s x %.2f ms = %.1f in flight\n",
           so_model_lognormal_mix_quantile(med, sigma, frac, mult, 0.99) /
               so_model_lognormal_mix_quantile(med, sigma, 0, mult, 0.99),
           rate, W, so_model_little(rate, W / 1e3));
    return 0;
}

static int m_budget(int argc, char **argv, const char *about) {
    double slo = 20, hops = 6, hop = 0.4;
    mflag f[] = {{"slo-ms", F_DBL, &slo, "latency objective, ms"},
                 {"hops", F_DBL, &hops, "network hops on the request path"},
                 {"hop-ms", F_DBL, &hop, "cost per hop, ms"}};
    PARSE("budget", about, f);
    printf("comm tax %g x %g = %.1f ms of a %g ms SLO, leaving %.1f ms (%.0f%%)\n", hops, hop,
           hops * hop, slo, slo - hops * hop, 100 * (slo - hops * hop) / slo);
    return 0;
}

/* ---- chapter 2 ---- */

static int m_shard(int argc, char **argv, const char *about) {
    int n = 1000, world = 6, local = 3;
    mflag f[] = {{"n", F_INT, &n, "items"},
                 {"world", F_INT, &world, "ranks (WORLD_SIZE)"},
                 {"local", F_INT, &local, "ranks per node (LOCAL_WORLD_SIZE)"}};
    PARSE("shard", about, f);
    if (world < 1 || local < 1) {
        fprintf(stderr, "scaleout model shard: --world and --local must be >= 1\n");
        return 2;
    }
    printf("%6s %6s %11s %-12s %8s %s\n", "rank", "node", "local_rank", "range", "count", "role");
    for (int r = 0; r < world; r++) {
        uint64_t s, c;
        so_model_shard((uint64_t)n, world, r, &s, &c);
        char range[32];
        snprintf(range, sizeof range, "[%llu,%llu)", (unsigned long long)s,
                 (unsigned long long)(s + c));
        printf("%6d %6d %11d %-12s %8llu %s\n", r, r / local, r % local, range,
               (unsigned long long)c, r == 0 ? "coordinator" : "worker");
    }
    return 0;
}

static int m_failure(int argc, char **argv, const char *about) {
    double p = 0.01;
    dlist k = LIST(1, 10, 100, 1000, 10000);
    mflag f[] = {{"p", F_DBL, &p, "failure probability of one component"},
                 {"k", F_LIST, &k, "component counts"}};
    PARSE("failure", about, f);
    printf("%8s %12s %12s\n", "K", "P(>=1 fail)", "E[failures]");
    for (int i = 0; i < k.n; i++) {
        printf("%8g %12.6f %12g\n", k.v[i], so_model_any_failure(p, k.v[i]), p * k.v[i]);
    }
    return 0;
}

static int m_checkpoint(int argc, char **argv, const char *about) {
    double c = 30, mtbf_h = 6;
    dlist t = LIST(120, 300, 0, 1200, 3600);
    mflag f[] = {{"ckpt-s", F_DBL, &c, "time to write one checkpoint, s"},
                 {"mtbf-h", F_DBL, &mtbf_h, "mean time between failures, hours"},
                 {"intervals", F_LIST, &t, "intervals to price, s (0 = Young's optimum)"}};
    PARSE("checkpoint", about, f);
    double M = mtbf_h * 3600, y = so_model_young_s(c, M);
    printf("Young T* = sqrt(2 C M) = %.0f s (%.1f min); Daly %.0f s\n\n", y, y / 60,
           so_model_daly_s(c, M));
    printf("%10s %12s\n", "T (s)", "overhead %");
    for (int i = 0; i < t.n; i++) {
        double T = t.v[i] > 0 ? t.v[i] : round(y);
        printf("%10g %12.3f\n", T, 100 * so_model_ckpt_overhead(T, c, M));
    }
    return 0;
}

static int m_straggler(int argc, char **argv, const char *about) {
    double off = 1, mu = -0.7, sigma = 0.9;
    int copies = 2;
    dlist k = LIST(1, 2, 4, 16, 64, 256, 1024);
    mflag f[] = {{"offset", F_DBL, &off, "fixed part of a task's time"},
                 {"mu", F_DBL, &mu, "log-normal mu of the random part"},
                 {"sigma", F_DBL, &sigma, "log-normal sigma"},
                 {"copies", F_INT, &copies, "copies per task with backups (fastest wins)"},
                 {"k", F_LIST, &k, "workers at the barrier"}};
    PARSE("straggler", about, f);
    printf("%8s %10s %14s %8s\n", "K", "E[max]", "with backups", "faster");
    for (int i = 0; i < k.n; i++) {
        double a = so_model_straggler_max(k.v[i], off, mu, sigma, 1);
        double b = so_model_straggler_max(k.v[i], off, mu, sigma, copies);
        printf("%8g %10.3f %14.3f %7.1f%%\n", k.v[i], a, b, 100 * (1 - b / a));
    }
    return 0;
}

static int m_locality(int argc, char **argv, const char *about) {
    double data = 256 * 1048576.0, task = 4096, lan = 1.25, wan = 0.125;
    mflag f[] = {{"data", F_SIZE, &data, "bytes to ship if the data moves"},
                 {"task", F_SIZE, &task, "bytes to ship if the task moves"},
                 {"lan-gbps", F_DBL, &lan, "local network, GB/s"},
                 {"wan-gbps", F_DBL, &wan, "wide-area network, GB/s"}};
    PARSE("locality", about, f);
    printf("%-6s %14s %14s\n", "link", "data (ms)", "task (ms)");
    printf("%-6s %14.1f %14.3f\n", "LAN", 1e3 * data / (lan * 1e9), 1e3 * task / (lan * 1e9));
    printf("%-6s %14.1f %14.3f\n", "WAN", 1e3 * data / (wan * 1e9), 1e3 * task / (wan * 1e9));
    printf("\nmoving the task is %.0fx cheaper\n", data / task);
    return 0;
}

/* ---- chapter 3 ---- */

static int m_amdahl(int argc, char **argv, const char *about) {
    dlist s = LIST(0.05), k = LIST(2, 8, 64, 256, 512);
    mflag f[] = {{"serial", F_LIST, &s, "serial fractions"}, {"k", F_LIST, &k, "worker counts"}};
    PARSE("amdahl", about, f);
    printf("%8s %8s %10s %8s %12s %12s\n", "serial", "K", "Amdahl S", "E", "% of 1/s", "Gustafson");
    for (int i = 0; i < s.n; i++) {
        for (int j = 0; j < k.n; j++) {
            double a = so_model_amdahl(s.v[i], k.v[j]);
            printf("%8g %8g %10.4f %8.4f %12.1f %12.2f\n", s.v[i], k.v[j], a, a / k.v[j],
                   100 * a * s.v[i], so_model_gustafson(s.v[i], k.v[j]));
        }
    }
    return 0;
}

static int m_vertical(int argc, char **argv, const char *about) {
    so_model_vertical m = {1000, 2, 0.03, 1.5, 1.9, 8};
    double from = 1000, to = 16000, step = 1000;
    mflag f[] = {{"node-rps", F_DBL, &m.node_rps, "requests/s one node serves"},
                 {"node-price", F_DBL, &m.node_price_h, "$/h of one node"},
                 {"tau", F_DBL, &m.tau, "coordination overhead per extra node"},
                 {"lb-price", F_DBL, &m.fixed_price_h, "$/h of the load balancer"},
                 {"exponent", F_DBL, &m.exponent, "vertical price grows as size^exponent"},
                 {"max-size", F_DBL, &m.max_size, "largest vertical node (x a node)"},
                 {"from", F_DBL, &from, "first target, req/s"},
                 {"to", F_DBL, &to, "last target, req/s"},
                 {"step", F_DBL, &step, "target step, req/s"}};
    PARSE("vertical", about, f);
    printf("%14s %14s %16s %8s %s\n", "target (req/s)", "vertical $/h", "horizontal $/h", "nodes",
           "cheaper");
    for (double t = from; t <= to + 1e-9 && step > 0; t += step) {
        double v = so_model_vertical_cost(&m, t), h = so_model_horizontal_cost(&m, t);
        printf("%14g %14.2f %16.2f %8d %s\n", t, v, h, so_model_horizontal_nodes(&m, t),
               v <= h ? "vertical" : "horizontal");
    }
    return 0;
}

static int m_scaling(int argc, char **argv, const char *about) {
    so_model_scaling m = {0.05, 0.95, 0.01, 0};
    dlist k = LIST(1, 2, 4, 8, 16, 32, 64, 128);
    double thr = 0.70;
    mflag f[] = {{"serial", F_DBL, &m.serial, "serial time"},
                 {"parallel", F_DBL, &m.parallel, "parallel time on one worker"},
                 {"comm", F_DBL, &m.comm, "communication coefficient of log2(K + offset)"},
                 {"log-offset", F_DBL, &m.log_offset, "offset (0 in 3.3.1, 1 in 5.2.1)"},
                 {"threshold", F_DBL, &thr, "report the first K whose strong efficiency is below"},
                 {"k", F_LIST, &k, "worker counts"}};
    PARSE("scaling", about, f);
    printf("%6s %10s %8s %8s %10s %8s\n", "K", "strong T", "S", "E %", "weak T", "E %");
    int first = 0;
    for (int i = 0; i < k.n; i++) {
        double t = so_model_scaling_strong_s(&m, k.v[i]);
        double e = so_model_scaling_strong_eff(&m, k.v[i]);
        if (!first && e < thr) {
            first = i + 1;
        }
        printf("%6g %10.4f %8.3f %8.1f %10.4f %8.1f\n", k.v[i], t,
               so_model_scaling_strong_s(&m, 1) / t, 100 * e, so_model_scaling_weak_s(&m, k.v[i]),
               100 * so_model_scaling_weak_eff(&m, k.v[i]));
    }
    if (first) {
        printf("\nfirst K with strong efficiency below %.2f: %g\n", thr, k.v[first - 1]);
    }
    return 0;
}

static int m_little(int argc, char **argv, const char *about) {
    double rate = 800, wait = 32.75;
    mflag f[] = {{"rate", F_DBL, &rate, "arrival rate, per second"},
                 {"wait-ms", F_DBL, &wait, "mean time in the system, ms"}};
    PARSE("little", about, f);
    printf("L = %g/s x %g ms = %.3f in the system\n", rate, wait,
           so_model_little(rate, wait / 1e3));
    return 0;
}

static int m_workdepth(int argc, char **argv, const char *about) {
    dlist n = LIST(16, 1024, 1e6);
    double k = 64;
    mflag f[] = {{"n", F_LIST, &n, "numbers to sum"}, {"k", F_DBL, &k, "processors for Brent"}};
    PARSE("workdepth", about, f);
    printf("%10s %16s %10s %6s %14s %14s\n", "N", "sum 1..N", "work", "depth", "parallelism",
           "Brent T_K");
    for (int i = 0; i < n.n; i++) {
        double w = so_model_sum_work(n.v[i]);
        int d = so_model_sum_depth(n.v[i]);
        printf("%10g %16.0f %10.0f %6d %14.2f %14.1f\n", n.v[i], n.v[i] * (n.v[i] + 1) / 2, w, d,
               d ? w / d : 0, so_model_brent(w, d, k));
    }
    return 0;
}

/* The machine probes for --measure: STREAM triad and an FMA loop on one core. */
static double measure_triad_Bps(void) {
    size_t n = 8u << 20; /* 3 arrays of 64 MiB */
    double *a = so_malloc_aligned(n * 8), *b = so_malloc_aligned(n * 8),
           *c = so_malloc_aligned(n * 8);
    double best = 1e30;
    if (a && b && c) {
        for (size_t i = 0; i < n; i++) {
            a[i] = 0, b[i] = 1, c[i] = 2;
        }
        for (int rep = 0; rep < 5; rep++) {
            double t0 = so_now_s();
            for (size_t i = 0; i < n; i++) {
                a[i] = b[i] + 3.0 * c[i];
            }
            double t = so_now_s() - t0;
            best = t < best ? t : best;
        }
        if (a[n / 2] != 7.0) {
            best = 1e30;
        }
    }
    so_free_aligned(a);
    so_free_aligned(b);
    so_free_aligned(c);
    return 3.0 * 8.0 * (double)n / best;
}

#define FMA_LANES 64
/* Ten independent 8-wide FMA chains in registers: enough to cover the FMA latency. */
__attribute__((target("avx2,fma"))) static void fma_loop_avx2(float *acc, long iters) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    __m256 r0 = _mm256_set1_ps(acc[0]), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0, r6 = r0,
           r7 = r0, r8 = r0, r9 = r0;
    for (long it = 0; it < iters * FMA_LANES / 80; it++) {
        r0 = _mm256_fmadd_ps(r0, m, c);
        r1 = _mm256_fmadd_ps(r1, m, c);
        r2 = _mm256_fmadd_ps(r2, m, c);
        r3 = _mm256_fmadd_ps(r3, m, c);
        r4 = _mm256_fmadd_ps(r4, m, c);
        r5 = _mm256_fmadd_ps(r5, m, c);
        r6 = _mm256_fmadd_ps(r6, m, c);
        r7 = _mm256_fmadd_ps(r7, m, c);
        r8 = _mm256_fmadd_ps(r8, m, c);
        r9 = _mm256_fmadd_ps(r9, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r0, r1), _mm256_add_ps(r2, r3)),
                             _mm256_add_ps(_mm256_add_ps(r4, r5), _mm256_add_ps(r6, r7)));
    acc[0] = _mm256_cvtss_f32(_mm256_add_ps(s, _mm256_add_ps(r8, r9)));
}

static void fma_loop_plain(float *acc, long iters) {
    for (long it = 0; it < iters; it++) {
        for (int j = 0; j < FMA_LANES; j++) {
            acc[j] = acc[j] * 0.999999f + 1e-6f;
        }
    }
}

static double measure_fma_flops(const char **how) {
    float acc[FMA_LANES];
    for (int j = 0; j < FMA_LANES; j++) {
        acc[j] = (float)j;
    }
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    *how = avx2 ? "AVX2+FMA, 1 core, f32" : "baseline SIMD, 1 core, f32";
    long iters = 2000000;
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = so_now_s();
        if (avx2) {
            fma_loop_avx2(acc, iters);
        } else {
            fma_loop_plain(acc, iters);
        }
        double t = so_now_s() - t0;
        best = t < best ? t : best;
    }
    volatile float sink = acc[0];
    (void)sink;
    /* Both loops do FMA_LANES x iters fused multiply-adds (the AVX2 one as 80-wide steps). */
    return 2.0 * (avx2 ? (double)(iters * FMA_LANES / 80 * 80) : FMA_LANES * (double)iters) / best;
}

static int m_roofline(int argc, char **argv, const char *about) {
    double peak = 989, bw = 3.35, mm = 8192, elem = 2;
    int measure = 0;
    mflag f[] = {{"peak-tflops", F_DBL, &peak, "peak compute, TFLOP/s"},
                 {"bw-tbps", F_DBL, &bw, "memory bandwidth, TB/s"},
                 {"matmul", F_DBL, &mm, "square matmul size n (n x n x n)"},
                 {"elem", F_DBL, &elem, "bytes per element (bf16 = 2)"},
                 {"measure", F_BOOL, &measure, "probe this machine (triad bandwidth, FMA loop)"}};
    PARSE("roofline", about, f);
    for (int pass = 0; pass < 1 + measure; pass++) {
        double P = peak * 1e12, B = bw * 1e12;
        if (pass == 1) {
            const char *how;
            B = measure_triad_Bps();
            P = measure_fma_flops(&how);
            printf("\nthis machine: triad %.1f GB/s, FMA loop %.1f GFLOP/s (%s)\n", B / 1e9,
                   P / 1e9, how);
        } else {
            printf("peak %g TFLOP/s, bandwidth %g TB/s\n", peak, bw);
        }
        printf("ridge %.1f FLOP/B\n\n%-24s %12s %14s %8s\n", so_model_ridge(P, B), "kernel",
               "FLOP/B", "attainable", "% peak");
        double im = so_model_matmul_intensity(mm, mm, mm, elem), ia = so_model_add_intensity(elem);
        char name[64];
        snprintf(name, sizeof name, "matmul %g^3", mm);
        const char *unit = pass ? "GF" : "TF";
        double scale = pass ? 1e9 : 1e12;
        printf("%-24s %12.1f %11.1f %s %7.1f%%\n", name, im, so_model_roofline(P, B, im) / scale,
               unit, 100 * so_model_roofline(P, B, im) / P);
        printf("%-24s %12.1f %11.1f %s %7.1f%%\n", "elementwise add", ia,
               so_model_roofline(P, B, ia) / scale, unit, 100 * so_model_roofline(P, B, ia) / P);
    }
    return 0;
}

static int m_ring(int argc, char **argv, const char *about) {
    double alpha = 5, gbps = 100, bytes = 100 * 1048576.0;
    dlist k = LIST(2, 8, 64, 1024);
    mflag f[] = {{"alpha-us", F_DBL, &alpha, "per-message latency, us"},
                 {"gbps", F_DBL, &gbps, "link bandwidth, GB/s"},
                 {"bytes", F_SIZE, &bytes, "message per rank"},
                 {"k", F_LIST, &k, "ranks"}};
    PARSE("ring", about, f);
    char b[32];
    printf("n = %s\n%8s %14s %16s %12s %14s\n", fmt_bytes(bytes, b, sizeof b), "K", "latency (ms)",
           "bandwidth (ms)", "total (ms)", "n* (bytes)");
    for (int i = 0; i < k.n; i++) {
        printf("%8g %14.4f %16.3f %12.3f %14.3g\n", k.v[i],
               1e3 * so_model_ring_latency_s(k.v[i], alpha * 1e-6),
               1e3 * so_model_ring_bandwidth_s(k.v[i], bytes, gbps * 1e9),
               1e3 * so_model_allreduce_s(SO_AR_RING, k.v[i], bytes, alpha * 1e-6, gbps * 1e9),
               so_model_ring_crossover_bytes(k.v[i], alpha * 1e-6, gbps * 1e9));
    }
    printf("\nn* = K alpha / beta: below it latency dominates; the bandwidth term stays < 2 n beta "
           "= %.3f ms\n",
           2e3 * bytes / (gbps * 1e9));
    return 0;
}

static int m_costscale(int argc, char **argv, const char *about) {
    so_model_costscale m = {0.03, 0.0015, 1, 2.10, 9};
    dlist k = LIST(1, 2, 4, 8, 16, 25, 32, 64);
    int kmax = 1024;
    mflag f[] = {{"serial", F_DBL, &m.serial, "serial fraction"},
                 {"overhead", F_DBL, &m.overhead, "coordination cost per extra node"},
                 {"t1-h", F_DBL, &m.t1_hours, "job time on one node, hours"},
                 {"node-price", F_DBL, &m.node_price_h, "$ per node-hour"},
                 {"fixed-price", F_DBL, &m.fixed_price_h, "fixed $/h"},
                 {"k", F_LIST, &k, "node counts to tabulate"},
                 {"kmax", F_INT, &kmax, "search the optimum in 1..kmax"}};
    PARSE("costscale", about, f);
    printf("%6s %8s %8s %10s %10s\n", "K", "S", "E %", "time (h)", "cost ($)");
    for (int i = 0; i < k.n; i++) {
        double s = so_model_costscale_speedup(&m, k.v[i]);
        printf("%6g %8.3f %8.2f %10.3f %10.3f\n", k.v[i], s, 100 * s / k.v[i],
               so_model_costscale_hours(&m, k.v[i]), so_model_costscale_cost(&m, k.v[i]));
    }
    int c = so_model_costscale_cheapest(&m, kmax), t = so_model_costscale_fastest(&m, kmax);
    printf("\ncheapest K = %d ($%.3f, E %.2f%%); fastest K = %d (%.3f h, $%.3f, +$%.3f)\n", c,
           so_model_costscale_cost(&m, c), 100 * so_model_costscale_speedup(&m, c) / c, t,
           so_model_costscale_hours(&m, t), so_model_costscale_cost(&m, t),
           so_model_costscale_cost(&m, t) - so_model_costscale_cost(&m, c));
    return 0;
}

/* ---- chapter 4 ---- */

static int m_commcompute(int argc, char **argv, const char *about) {
    so_model_dp m = {7e9, 2, 6, 312e12, 600e9, 2048};
    double tf = 312, gbps = 600;
    dlist k = LIST(4, 16, 64, 256, 1024);
    mflag f[] = {{"params", F_DBL, &m.params, "parameters"},
                 {"bytes-per-param", F_DBL, &m.bytes_per_param, "gradient bytes per parameter"},
                 {"flops-per-param", F_DBL, &m.flops_per_param, "FLOP per parameter per example"},
                 {"peak-tflops", F_DBL, &tf, "device peak, TFLOP/s"},
                 {"gbps", F_DBL, &gbps, "all-reduce bandwidth, GB/s"},
                 {"batch", F_DBL, &m.global_batch, "global batch (split over K)"},
                 {"k", F_LIST, &k, "devices"}};
    PARSE("commcompute", about, f);
    m.peak_flops = tf * 1e12;
    m.bw_Bps = gbps * 1e9;
    printf("%8s %14s %16s %10s %s\n", "K", "compute (ms)", "all-reduce (ms)", "gamma", "");
    for (int i = 0; i < k.n; i++) {
        double c = so_model_dp_compute_s(&m, k.v[i]), a = so_model_dp_comm_s(&m, k.v[i]);
        printf("%8g %14.2f %16.2f %10.3f %s\n", k.v[i], 1e3 * c, 1e3 * a, a / c,
               a > c ? "comm-bound" : "");
    }
    return 0;
}

static int m_links(int argc, char **argv, const char *about) {
    double bytes = 256 * 1048576.0;
    mflag f[] = {{"bytes", F_SIZE, &bytes, "bytes per transfer"}};
    PARSE("links", about, f);
    static const struct {
        const char *name;
        double alpha_us, gbps;
    } l[] = {{"NVLink", 1, 300}, {"PCIe", 2, 25}, {"IB NDR", 3, 50}, {"25G Ethernet", 30, 3.1}};
    double base = so_model_p2p_s(bytes, l[0].alpha_us * 1e-6, l[0].gbps * 1e9);
    printf("%-14s %10s %8s %10s %8s\n", "link", "alpha us", "GB/s", "time (ms)", "vs first");
    for (int i = 0; i < 4; i++) {
        double t = so_model_p2p_s(bytes, l[i].alpha_us * 1e-6, l[i].gbps * 1e9);
        printf("%-14s %10g %8g %10.2f %7.1fx\n", l[i].name, l[i].alpha_us, l[i].gbps, 1e3 * t,
               t / base);
    }
    return 0;
}

static int m_allreduce(int argc, char **argv, const char *about) {
    double alpha = 5, gbps = 100, bytes = 64 * 1048576.0, atk = 64;
    dlist k = LIST(2, 8, 32, 128, 512, 1024);
    dlist sizes = LIST(256, 65536, 1048576, 16777216, 268435456);
    mflag f[] = {{"alpha-us", F_DBL, &alpha, "per-message latency, us"},
                 {"gbps", F_DBL, &gbps, "link bandwidth, GB/s"},
                 {"bytes", F_SIZE, &bytes, "message of the fixed-size table"},
                 {"k", F_LIST, &k, "ranks of the fixed-size table"},
                 {"at-k", F_DBL, &atk, "ranks of the fixed-K table"},
                 {"sizes", F_SIZELIST, &sizes, "sizes of the fixed-K table"}};
    PARSE("allreduce", about, f);
    double a = alpha * 1e-6, bw = gbps * 1e9;
    char b[32];
    printf("fixed n = %s\n%8s %12s %10s %10s %10s %s\n", fmt_bytes(bytes, b, sizeof b), "K",
           "naive", "tree", "ring", "hd", "best");
    for (int i = 0; i < k.n; i++) {
        double t[SO_AR_COUNT];
        int best = 0;
        for (int g = 0; g < SO_AR_COUNT; g++) {
            t[g] = so_model_allreduce_s((so_model_ar_algo)g, k.v[i], bytes, a, bw);
            best = t[g] < t[best] ? g : best;
        }
        printf("%8g %12.3f %10.3f %10.3f %10.3f %s\n", k.v[i], 1e3 * t[0], 1e3 * t[1], 1e3 * t[2],
               1e3 * t[3], so_model_ar_name((so_model_ar_algo)best));
    }
    printf("\nfixed K = %g\n%10s %12s %10s %10s %10s %s\n", atk, "size", "naive", "tree", "ring",
           "hd", "tree vs ring");
    for (int i = 0; i < sizes.n; i++) {
        double t[SO_AR_COUNT];
        for (int g = 0; g < SO_AR_COUNT; g++) {
            t[g] = so_model_allreduce_s((so_model_ar_algo)g, atk, sizes.v[i], a, bw);
        }
        printf("%10s %12.3f %10.3f %10.3f %10.3f %s\n", fmt_bytes(sizes.v[i], b, sizeof b),
               1e3 * t[0], 1e3 * t[1], 1e3 * t[2], 1e3 * t[3],
               t[SO_AR_TREE] < t[SO_AR_RING] ? "tree" : "ring");
    }
    printf("\ntree/ring crossover at K = %g: %.3g bytes\n", atk,
           so_model_tree_ring_crossover_bytes(atk, a, bw));
    return 0;
}

static int m_placement(int argc, char **argv, const char *about) {
    double n = 8, bytes = 1073741824.0, ia = 1, ig = 300, xa = 5, xg = 12.5;
    mflag f[] = {{"ranks", F_DBL, &n, "ranks in the ring"},
                 {"bytes", F_SIZE, &bytes, "message per rank"},
                 {"intra-alpha-us", F_DBL, &ia, "NVLink latency, us"},
                 {"intra-gbps", F_DBL, &ig, "NVLink bandwidth, GB/s"},
                 {"inter-alpha-us", F_DBL, &xa, "network latency, us"},
                 {"inter-gbps", F_DBL, &xg, "network bandwidth, GB/s"}};
    PARSE("placement", about, f);
    double a = so_model_allreduce_s(SO_AR_RING, n, bytes, ia * 1e-6, ig * 1e9);
    double b = so_model_allreduce_s(SO_AR_RING, n, bytes, xa * 1e-6, xg * 1e9);
    printf("%-12s %10s\n%-12s %10.2f\n%-12s %10.2f\n\ncross-node is %.1fx slower\n", "placement",
           "time (ms)", "NVLink", 1e3 * a, "cross-node", 1e3 * b, b / a);
    return 0;
}

static int m_hierarchical(int argc, char **argv, const char *about) {
    double nodes = 4, per = 8, bytes = 1073741824.0, ia = 1, ig = 300, xa = 5, xg = 12.5;
    mflag f[] = {{"nodes", F_DBL, &nodes, "nodes"},
                 {"per-node", F_DBL, &per, "ranks per node"},
                 {"bytes", F_SIZE, &bytes, "message per rank"},
                 {"intra-alpha-us", F_DBL, &ia, "NVLink latency, us"},
                 {"intra-gbps", F_DBL, &ig, "NVLink bandwidth, GB/s"},
                 {"inter-alpha-us", F_DBL, &xa, "network latency, us"},
                 {"inter-gbps", F_DBL, &xg, "network bandwidth, GB/s"}};
    PARSE("hierarchical", about, f);
    double flat = so_model_allreduce_s(SO_AR_RING, nodes * per, bytes, xa * 1e-6, xg * 1e9);
    double intra = so_model_allreduce_s(SO_AR_RING, per, bytes, ia * 1e-6, ig * 1e9);
    double lead = so_model_allreduce_s(SO_AR_RING, nodes, bytes, xa * 1e-6, xg * 1e9);
    double bc = so_model_p2p_s(bytes, ia * 1e-6, ig * 1e9);
    double h =
        so_model_hier_allreduce_s(nodes, per, bytes, ia * 1e-6, ig * 1e9, xa * 1e-6, xg * 1e9);
    printf("%-34s %10s\n", "phase", "time (ms)");
    printf("%-34s %10.2f\n", "flat ring over the network", 1e3 * flat);
    printf("%-34s %10.2f\n", "  1. ring inside each node", 1e3 * intra);
    printf("%-34s %10.2f\n", "  2. ring among node leaders", 1e3 * lead);
    printf("%-34s %10.2f\n", "  3. broadcast inside each node", 1e3 * bc);
    printf("%-34s %10.2f\n\nhierarchical is %.2fx faster\n", "hierarchical total", 1e3 * h,
           flat / h);
    return 0;
}

static int m_bucket(int argc, char **argv, const char *about) {
    int layers = 48;
    double gb = 25e6, bwd = 3, alpha = 200, gbps = 12;
    dlist per = LIST(1, 2, 4, 8, 16, 48);
    mflag f[] = {{"layers", F_INT, &layers, "layers"},
                 {"layer-bytes", F_SIZE, &gb, "gradient bytes per layer (25MB = 25e6)"},
                 {"bwd-ms", F_DBL, &bwd, "backward time per layer, ms"},
                 {"alpha-us", F_DBL, &alpha, "per-bucket latency, us"},
                 {"gbps", F_DBL, &gbps, "all-reduce bandwidth, GB/s"},
                 {"per-bucket", F_LIST, &per, "layers per bucket"}};
    PARSE("bucket", about, f);
    printf("%14s %16s %14s %8s\n", "layers/bucket", "no-overlap (ms)", "overlap (ms)", "hidden");
    so_model_bucket_result r, naive;
    so_model_bucket(layers, gb, bwd * 1e-3, alpha * 1e-6, gbps * 1e9, 1, &naive);
    double best = INFINITY, best_per = 1;
    for (int i = 0; i < per.n; i++) {
        so_model_bucket(layers, gb, bwd * 1e-3, alpha * 1e-6, gbps * 1e9, (int)per.v[i], &r);
        printf("%14g %16.1f %14.1f %7.1f%%\n", per.v[i], 1e3 * r.no_overlap_s, 1e3 * r.overlap_s,
               100 * r.hidden);
        if (r.overlap_s < best) {
            best = r.overlap_s, best_per = per.v[i];
        }
    }
    so_model_bucket(layers, gb, bwd * 1e-3, alpha * 1e-6, gbps * 1e9, 8, &r);
    printf(
        "\nideal (compute only) %.1f ms; best %g layers/bucket; 8-layer buckets are %.2fx faster "
        "than no overlap with 1-layer buckets\n",
        1e3 * naive.compute_s, best_per, naive.no_overlap_s / r.overlap_s);
    return 0;
}

/* ---- chapter 5 ---- */

static int m_speedup(int argc, char **argv, const char *about) {
    const char *times = "1:10,2:7.69,4:5,8:3.85";
    double price = 0.02;
    mflag f[] = {{"times", F_STR, &times, "K:step_time pairs (the first is the baseline)"},
                 {"price", F_DBL, &price, "$ per node-second"}};
    PARSE("speedup", about, f);
    double k[LIST_MAX], t[LIST_MAX];
    int n = 0;
    for (const char *p = times; *p && n < LIST_MAX;) {
        char *end;
        k[n] = strtod(p, &end);
        if (*end != ':') {
            fprintf(stderr, "scaleout model speedup: --times wants K:T pairs, got '%s'\n", times);
            return 2;
        }
        t[n] = strtod(end + 1, &end);
        n++;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            fprintf(stderr, "scaleout model speedup: --times wants K:T pairs, got '%s'\n", times);
            return 2;
        }
    }
    printf("%6s %10s %8s %8s %12s %12s\n", "K", "step (s)", "S", "E %", "Karp-Flatt", "$ / step");
    for (int i = 0; i < n; i++) {
        double s = t[0] * k[0] / t[i]; /* speedup relative to a 1-node baseline */
        double kk = k[i] / k[0];
        printf("%6g %10.2f %8.2f %8.0f", k[i], t[i], t[0] / t[i], 100 * s / k[i]);
        if (kk > 1) {
            printf(" %12.3f", so_model_karp_flatt(t[0] / t[i], kk));
        } else {
            printf(" %12s", "-");
        }
        printf(" %12.4f\n", k[i] * t[i] * price);
    }
    return 0;
}

static int m_mm1(int argc, char **argv, const char *about) {
    double mu = 500, slo = 200;
    dlist lambda = LIST(100, 200, 300, 400, 450, 480, 490);
    mflag f[] = {{"mu", F_DBL, &mu, "service rate, per second"},
                 {"slo-ms", F_DBL, &slo, "latency objective, ms"},
                 {"lambda", F_LIST, &lambda, "arrival rates, per second"}};
    PARSE("mm1", about, f);
    printf("%8s %10s %10s %10s %10s %10s\n", "lambda", "mean ms", "p50 ms", "p99 ms", "util %",
           "goodput");
    for (int i = 0; i < lambda.n; i++) {
        double l = lambda.v[i];
        if (l >= mu) {
            printf("%8g  unstable (lambda >= mu): the queue grows without bound\n", l);
            continue;
        }
        printf("%8g %10.2f %10.2f %10.2f %10.1f %10.1f\n", l, 1e3 * so_model_mm1_mean_s(l, mu),
               1e3 * so_model_mm1_quantile_s(l, mu, 0.5),
               1e3 * so_model_mm1_quantile_s(l, mu, 0.99), 100 * l / mu,
               so_model_mm1_goodput(l, mu, slo / 1e3));
    }
    return 0;
}

static int m_moe(int argc, char **argv, const char *about) {
    dlist c = LIST(3276, 1638, 819, 819, 409, 409, 409, 413);
    double cf = 1.25;
    mflag f[] = {{"counts", F_LIST, &c, "tokens routed to each expert"},
                 {"cf", F_DBL, &cf, "capacity factor"}};
    PARSE("moe", about, f);
    double total = 0;
    for (int e = 0; e < c.n; e++) {
        total += c.v[e];
    }
    printf("LIF %.3f; capacity %.0f tokens per expert\n\n%8s %8s %8s %8s\n",
           so_model_moe_lif(c.v, c.n), floor(cf * total / c.n), "expert", "tokens", "share",
           "dropped");
    for (int e = 0; e < c.n; e++) {
        printf("%8d %8.0f %8.3f %8.0f\n", e, c.v[e], c.v[e] / total,
               so_model_moe_drop(c.v, c.n, e, cf));
    }
    return 0;
}

static int m_overlap(int argc, char **argv, const char *about) {
    double comp = 180, comm = 120, ov = 0.7, cx = 4;
    mflag f[] = {{"compute-ms", F_DBL, &comp, "compute per step, ms"},
                 {"comm-ms", F_DBL, &comm, "communication per step, ms"},
                 {"overlap", F_DBL, &ov, "fraction of communication hidden"},
                 {"compression", F_DBL, &cx, "gradient compression factor"}};
    PARSE("overlap", about, f);
    printf("%-24s %12s %8s %10s\n", "", "exposed ms", "R", "eff %");
    const char *name[3] = {"base", "with overlap", "overlap + compression"};
    double e[3] = {so_model_exposed_comm_s(comm, 0, 1), so_model_exposed_comm_s(comm, ov, 1),
                   so_model_exposed_comm_s(comm, ov, cx)};
    for (int i = 0; i < 3; i++) {
        printf("%-24s %12.1f %8.3f %10.1f\n", name[i], e[i], so_model_comm_ratio(comp, e[i]),
               100 * so_model_comm_efficiency(comp, e[i]));
    }
    return 0;
}

static int m_mfu(int argc, char **argv, const char *about) {
    so_model_train m = {256, 989e12, 2.45e6, 7e9, 6, 2.50, 700, 1.12, 380};
    double tf = 989;
    mflag f[] = {
        {"devices", F_DBL, &m.devices, "accelerators"},
        {"peak-tflops", F_DBL, &tf, "peak per device, TFLOP/s"},
        {"tokens-per-s", F_DBL, &m.tokens_per_s, "training throughput"},
        {"params", F_DBL, &m.params, "parameters N"},
        {"flops-per-param", F_DBL, &m.flops_per_param_token, "FLOP per parameter per token"},
        {"price", F_DBL, &m.price_dev_h, "$ per device-hour"},
        {"watts", F_DBL, &m.watts, "power per device, W"},
        {"pue", F_DBL, &m.pue, "power usage effectiveness"},
        {"grid", F_DBL, &m.g_co2_per_kwh, "grid carbon intensity, gCO2e/kWh"}};
    PARSE("mfu", about, f);
    m.peak_flops = tf * 1e12;
    printf("MFU                 %.1f%%\n", 100 * so_model_mfu(&m));
    printf("cost                $%.0f/h\n", so_model_mfu_cost_h(&m));
    printf("cost per 1M tokens  $%.4f\n", so_model_mfu_cost_per_mtok(&m));
    printf("energy per token    %.3f J\n", so_model_mfu_joules_per_token(&m));
    printf("carbon per 1M tok   %.1f gCO2e\n", so_model_mfu_gco2_per_mtok(&m));
    return 0;
}

/* ---- dispatch ---- */

typedef struct model_entry {
    const char *name, *about; /* about starts with the book's section number */
    int (*fn)(int argc, char **argv, const char *about);
} model_entry;

static const model_entry models[] = {
    {"devices", "1.2.1 device counts: training dp x tp x pp, serving replicas x shards", m_devices},
    {"scaleup", "1.3.1 scale-up (one big node) vs scale-out (K commodity nodes)", m_scaleup},
    {"gossip", "1.4.1 ring gossip averaging: contraction per round tends to lambda2", m_gossip},
    {"tail", "1.6.1 log-normal latency with stragglers: quantiles, mean, Little's law", m_tail},
    {"budget", "1.8.1 communication tax of a request path against its SLO", m_budget},
    {"shard", "2.1.1-2.1.2 SPMD ranks and divmod contiguous sharding", m_shard},
    {"failure", "2.4.1 probability that at least one of K components fails: 1-(1-p)^K", m_failure},
    {"checkpoint", "2.4.2 Young/Daly checkpoint interval and overhead C/T + T/(2M)", m_checkpoint},
    {"straggler", "2.7.1-2.7.2 expected barrier time E[max of K tasks], with backups", m_straggler},
    {"locality", "2.8.1 move the data or move the computation", m_locality},
    {"amdahl", "3.1.1 / 3.5.1 Amdahl (fixed work) and Gustafson (scaled work)", m_amdahl},
    {"vertical", "3.2.1 vertical vs horizontal scaling of a service", m_vertical},
    {"scaling", "3.3.1 / 5.2.1 strong and weak scaling of T = s + p/K + c log2(K + o)", m_scaling},
    {"little", "3.4.2 Little's law: L = lambda W", m_little},
    {"workdepth", "3.6.1 work and depth of a tree sum, and Brent's bound W/K + D", m_workdepth},
    {"roofline", "3.7.1 roofline: attainable = min(peak, intensity x bandwidth)", m_roofline},
    {"ring", "3.8.1 ring all-reduce: latency 2(K-1) alpha + bandwidth 2(K-1)/K n beta", m_ring},
    {"costscale", "3.9.1 cost-aware scaling: S = 1/(s + (1-s)/K + o(K-1))", m_costscale},
    {"commcompute", "4.1.1 data-parallel step: compute vs ring all-reduce, gamma = comm/compute",
     m_commcompute},
    {"links", "4.2.3 one transfer over typical links: alpha + n / bandwidth", m_links},
    {"allreduce", "4.4.1 all-reduce algorithms under alpha-beta (times in ms)", m_allreduce},
    {"placement", "4.9.1 the same ring inside a node vs across nodes: 2(n-1)(alpha + B/n/bw)",
     m_placement},
    {"hierarchical", "4.9.2 flat network ring vs two-level (node ring + leader ring + broadcast)",
     m_hierarchical},
    {"bucket", "4.10.1 gradient bucketing with and without overlap of the backward pass", m_bucket},
    {"speedup", "5.1.1 speedup, efficiency, Karp-Flatt and cost per step from step times",
     m_speedup},
    {"mm1", "5.3.1 M/M/1: response time ~ Exp(mu - lambda); goodput within the SLO", m_mm1},
    {"moe", "5.3.3 expert load imbalance (LIF = E max f) and capacity drops", m_moe},
    {"overlap", "5.4.1 communication-to-computation ratio R and efficiency", m_overlap},
    {"mfu", "5.5.1 MFU, cost and energy of training", m_mfu},
};

static void model_usage(FILE *f) {
    fprintf(f, "usage: scaleout model <name> [flags]   (scaleout model <name> --help)\n"
               "       scaleout model list | all\n\n"
               "The book's analytical models (chapters 1-5); defaults are the book's inputs.\n\n");
    for (int i = 0; i < NF(models); i++) {
        fprintf(f, "  %-13s %s\n", models[i].name, models[i].about);
    }
}

static int cmd_model(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        model_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "list")) {
        for (int i = 0; i < NF(models); i++) {
            printf("  %-13s %s\n", models[i].name, models[i].about);
        }
        return 0;
    }
    if (!strcmp(argv[1], "all")) {
        int rc = 0;
        for (int i = 0; i < NF(models); i++) {
            char *one[1] = {(char *)models[i].name};
            printf("== scaleout model %s\n", models[i].name);
            rc |= models[i].fn(1, one, models[i].about);
            printf("\n");
        }
        return rc;
    }
    for (int i = 0; i < NF(models); i++) {
        size_t sl = strcspn(models[i].about, " ");
        if (!strcmp(argv[1], models[i].name) ||
            (strlen(argv[1]) == sl && !strncmp(argv[1], models[i].about, sl))) {
            return models[i].fn(argc - 1, argv + 1, models[i].about);
        }
    }
    fprintf(stderr, "scaleout model: unknown model '%s'\n\n", argv[1]);
    model_usage(stderr);
    return 2;
}

SO_CLI_COMMAND(model, "the book's analytical models as tables (chapters 1-5)", cmd_model)
