/* Tests of the statistics: numpy-identical percentiles (copying and in place), Welford moments
 * and their merge, the histogram's layout, merge and bounded percentile error, the summary line
 * and the progress formatter. Expected numpy values were computed with numpy 1.24
 * (np.percentile, np.var) on the same data, which is exact in binary (integers / 7). */
#include "so_test.h"

static void data(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)((i * 7919) % 1013) / 7.0 - 50;
    }
}

static const double qs[10] = {0, 1, 25, 33.3, 50, 62.5, 90, 99, 99.9, 100};

static int t_percentile_numpy(void) {
    double x[101], y[101];
    data(x, 101);
    static const double want101[10] = {-50.0,
                                       -47.714285714285715,
                                       -13.57142857142857,
                                       -1.900000000000003,
                                       22.85714285714286,
                                       41.214285714285715,
                                       79.57142857142858,
                                       92.14285714285714,
                                       93.3,
                                       93.42857142857142};
    static const double want10[10] = {-50.0,
                                      -48.86857142857143,
                                      -7.857142857142858,
                                      1.5337142857142823,
                                      21.714285714285715,
                                      36.66071428571429,
                                      69.54285714285714,
                                      79.72571428571429,
                                      80.74400000000003,
                                      80.85714285714286};
    double got[10];
    CHECK_OK(so_stats_percentiles(x, 101, qs, 10, got));
    for (int i = 0; i < 10; i++) {
        CHECK_NEAR(got[i], want101[i], 0); /* bit-exact */
        memcpy(y, x, sizeof y);
        CHECK_NEAR(so_stats_percentile_inplace(y, 101, qs[i]), want101[i], 0);
        CHECK_NEAR(so_stats_percentile(x, 10, qs[i]), want10[i], 0);
        memcpy(y, x, sizeof y);
        CHECK_NEAR(so_stats_percentile_inplace(y, 10, qs[i]), want10[i], 0);
    }
    /* The copying form leaves the input alone. */
    double before = x[0];
    so_stats_median(x, 101);
    CHECK_NEAR(x[0], before, 0);
    CHECK_NEAR(so_stats_median(x, 10), 21.714285714285715, 0);
    CHECK_NEAR(so_stats_percentile(x, 1, 37), x[0], 0);
    CHECK(isnan(so_stats_percentile(x, 0, 50)));
    return 0;
}

static int t_percentile_inplace_random(void) {
    /* Quickselect agrees with sorting on random arrays with many ties. */
    so_rng r;
    so_rng_seed(&r, 11);
    for (int t = 0; t < 200; t++) {
        size_t n = 1 + so_rng_below(&r, 300);
        double x[300], y[300];
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)so_rng_below(&r, 20);
        }
        double q = so_rng_double(&r) * 100;
        memcpy(y, x, n * sizeof x[0]);
        CHECK_NEAR(so_stats_percentile_inplace(y, n, q), so_stats_percentile(x, n, q), 0);
    }
    return 0;
}

static int t_moments(void) {
    double x[101];
    data(x, 101);
    CHECK_NEAR(so_stats_mean(x, 101), 22.7001414427157, 1e-12);
    CHECK_NEAR(so_stats_var(x, 101, 0), 1771.360478864617, 1e-9);
    CHECK_NEAR(so_stats_var(x, 101, 1), 1789.0740836532632, 1e-9);
    CHECK_NEAR(so_stats_std(x, 101, 1), sqrt(1789.0740836532632), 1e-10);
    CHECK_NEAR(so_stats_min(x, 101), -50.0, 0);
    CHECK_NEAR(so_stats_max(x, 101), 93.42857142857142, 0);
    /* Merging two halves equals one pass over everything. */
    so_welford a, b, all;
    so_welford_init(&a);
    so_welford_init(&b);
    so_welford_init(&all);
    for (int i = 0; i < 101; i++) {
        so_welford_add(i < 37 ? &a : &b, x[i]);
        so_welford_add(&all, x[i]);
    }
    so_welford empty;
    so_welford_init(&empty);
    so_welford_merge(&a, &empty);
    so_welford_merge(&a, &b);
    CHECK_EQ_INT(a.n, 101);
    CHECK_NEAR(a.mean, all.mean, 1e-12);
    CHECK_NEAR(so_welford_var(&a, 1), so_welford_var(&all, 1), 1e-9);
    CHECK_NEAR(a.min, -50.0, 0);
    CHECK_NEAR(a.max, 93.42857142857142, 0);
    /* Welford is stable where the textbook formula cancels: 1e9 + {4, 7, 13, 16} has var 22.5. */
    so_welford w;
    so_welford_init(&w);
    double big[4] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
    for (int i = 0; i < 4; i++) {
        so_welford_add(&w, big[i]);
    }
    CHECK_NEAR(so_welford_var(&w, 0), 22.5, 1e-6);
    CHECK(isnan(so_welford_var(&empty, 1)));
    return 0;
}

static int t_hist_layout(void) {
    /* Buckets are contiguous, cover every value once and are at most 1/128 of their value wide. */
    uint64_t prev_hi = 0;
    for (size_t b = 0; b < SO_HIST_BUCKETS; b++) {
        uint64_t lo, hi;
        so_hist_bucket_range(b, &lo, &hi);
        CHECK(b == 0 ? lo == 0 : lo == prev_hi + 1);
        CHECK(hi >= lo);
        CHECK(lo < 256 || (double)(hi - lo + 1) <= (double)lo / 128.0);
        CHECK_EQ_INT(so_hist_bucket(lo), b);
        CHECK_EQ_INT(so_hist_bucket(hi), b);
        prev_hi = hi;
    }
    CHECK_EQ_INT(prev_hi, (1ull << SO_HIST_MAX_LOG2) - 1);
    CHECK_EQ_INT(so_hist_bucket(UINT64_MAX), SO_HIST_BUCKETS - 1);
    CHECK_EQ_INT(so_hist_bucket(255), 255);
    CHECK_EQ_INT(so_hist_bucket(256), 256);
    CHECK_EQ_INT(so_hist_bucket(257), 256); /* width 2 from 256 */
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int t_hist_percentiles(void) {
    /* Log-normal latencies from 1 us to seconds; the histogram's percentiles are within the
     * promised 1/256 (+1) of the exact nearest-rank values, and two halves merge exactly. */
    enum { N = 200000 };
    so_hist *h = malloc(sizeof *h), *h1 = malloc(sizeof *h1), *h2 = malloc(sizeof *h2);
    uint64_t *v = malloc(N * sizeof *v);
    CHECK(h && h1 && h2 && v);
    so_hist_init(h);
    so_hist_init(h1);
    so_hist_init(h2);
    so_rng r;
    so_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        v[i] = (uint64_t)(40e6 * exp(1.5 * so_rng_normal(&r))); /* median 40 ms */
        so_hist_record(h, v[i]);
        so_hist_record(i % 2 ? h1 : h2, v[i]);
    }
    so_hist_merge(h1, h2);
    CHECK_MEM_EQ(h1->counts, h->counts, sizeof h->counts);
    CHECK_EQ_INT(so_hist_count(h), N);
    qsort(v, N, sizeof v[0], cmp_u64);
    const double q[] = {0, 0.1, 1, 10, 50, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        double rk = ceil(q[i] / 100.0 * N);
        size_t rank = rk < 1 ? 1 : (size_t)rk;
        double exact = (double)v[rank - 1], got = (double)so_hist_percentile(h, q[i]);
        CHECK_NEAR(got, exact, exact / 256.0 + 1.0);
    }
    CHECK_NEAR((double)so_hist_min(h), (double)v[0], (double)v[0] / 128.0 + 1);
    CHECK_NEAR((double)so_hist_max(h), (double)v[N - 1], (double)v[N - 1] / 128.0 + 1);
    double mean = 0;
    for (int i = 0; i < N; i++) {
        mean += (double)v[i] / N;
    }
    CHECK_NEAR(so_hist_mean(h), mean, mean / 256.0);
    /* Small exact values are exact; an empty histogram answers 0. */
    so_hist_init(h2);
    for (uint64_t x = 1; x <= 100; x++) {
        so_hist_record(h2, x);
    }
    CHECK_EQ_INT(so_hist_percentile(h2, 50), 50);
    CHECK_EQ_INT(so_hist_percentile(h2, 99), 99);
    CHECK_EQ_INT(so_hist_percentile(h2, 0), 1);
    so_hist_init(h2);
    CHECK_EQ_INT(so_hist_percentile(h2, 50), 0);
    so_hist_record_n(h2, 1000, 3);
    CHECK_EQ_INT(so_hist_count(h2), 3);
    free(h);
    free(h1);
    free(h2);
    free(v);
    return 0;
}

static int t_summary(void) {
    double x[5] = {3.0, 1.152, 0.951, 46.517, 1.2};
    char buf[64];
    CHECK_STR_EQ(so_stats_summary(x, 5, buf, sizeof buf), "1.2 [0.951\xe2\x80\x93"
                                                          "46.52] n=5");
    CHECK_STR_EQ(so_stats_summary(x, 0, buf, sizeof buf), "- n=0");
    return 0;
}

static int t_progress_format(void) {
    so_progress p;
    so_progress_start(&p, 1000, "shards");
    p.done = 350;
    char buf[128];
    /* 350 in 28.5 s: 12.3 it/s, 650 left -> 52.9 s -> 0:53. */
    so_progress_format(&p, p.start_ns + 28500000000ll, "loss 0.31", buf, sizeof buf);
    CHECK_STR_EQ(buf, "shards: 35% (350/1000) 12.3 it/s ETA 0:53 loss 0.31");
    p.total = 0;
    so_progress_format(&p, p.start_ns + 1000000000ll, NULL, buf, sizeof buf);
    CHECK_STR_EQ(buf, "shards: 350 350.0 it/s");
    /* Updating and finishing a disabled progress prints nothing and keeps the count. */
    p.enabled = 0;
    so_progress_update(&p, 400, "x");
    so_progress_finish(&p);
    CHECK_EQ_INT(p.done, 400);
    return 0;
}

SO_TEST_MAIN({"percentile_numpy", t_percentile_numpy},
             {"percentile_inplace_random", t_percentile_inplace_random}, {"moments", t_moments},
             {"hist_layout", t_hist_layout}, {"hist_percentiles", t_hist_percentiles},
             {"summary", t_summary}, {"progress_format", t_progress_format})
