/*
 * Statistics for measurements (src/core/stats.c, src/core/hist.c): streaming mean and variance,
 * exact percentiles of samples, a mergeable latency histogram, and a one-line summary.
 *
 *   so_welford w; so_welford_init(&w);
 *   for (...) so_welford_add(&w, t_ms);
 *   double p99 = so_stats_percentile(samples, n, 99.0);   // numpy.percentile(samples, 99)
 *
 *   so_hist *h = calloc(1, sizeof *h);                    // 36 KiB of counts: heap, not stack
 *   so_hist_record(h, latency_ns);
 *   // across ranks: all-reduce h->counts (SO_HIST_BUCKETS i64, SUM), then query any rank
 *   uint64_t p99_ns = so_hist_percentile(h, 99.0);
 *
 * Thread safety: none of these objects is shared between threads without a lock.
 */
#ifndef SCALEOUT_STATS_H
#define SCALEOUT_STATS_H

#include <stddef.h>
#include <stdint.h>

/* ---- streaming moments (Welford), mergeable (Chan et al.) ---- */

typedef struct so_welford {
    uint64_t n;
    double mean;
    double m2; /* sum of squared deviations from the mean */
    double min, max;
} so_welford;

void so_welford_init(so_welford *w);
void so_welford_add(so_welford *w, double x);
/* dst becomes the moments of the union of both sample sets. */
void so_welford_merge(so_welford *dst, const so_welford *src);
/* Variance with ddof = 0 (population, numpy's default) or 1 (sample); NaN if n <= ddof. */
double so_welford_var(const so_welford *w, int ddof);
double so_welford_std(const so_welford *w, int ddof);

/* ---- whole-array statistics (NaN for n == 0) ---- */

double so_stats_mean(const double *x, size_t n);
/* Variance and standard deviation with ddof 0 or 1, computed by Welford's pass. */
double so_stats_var(const double *x, size_t n, int ddof);
double so_stats_std(const double *x, size_t n, int ddof);
double so_stats_min(const double *x, size_t n);
double so_stats_max(const double *x, size_t n);
/* numpy.percentile(x, q) with the default 'linear' method: position (n-1)*q/100 between the two
 * neighbouring order statistics, interpolated like numpy (so results agree to the last bit).
 * q is in [0, 100]. so_stats_percentile leaves x untouched (it sorts a copy; NaN if the copy cannot
 * be allocated); so_stats_percentile_inplace reorders x (partial selection, O(n)). */
double so_stats_percentile(const double *x, size_t n, double q);
double so_stats_percentile_inplace(double *x, size_t n, double q);
double so_stats_median(const double *x, size_t n);
/* Several percentiles of one array in one sort: out[i] = percentile(x, q[i]). SO_ENOMEM or OK. */
int so_stats_percentiles(const double *x, size_t n, const double *q, size_t nq, double *out);

/* "1.152 [0.951–46.52] n=25": median, min and max with %.4g, into buf (returns buf). */
char *so_stats_summary(const double *x, size_t n, char *buf, size_t cap);

/* ---- mergeable latency histogram (HDR-style, fixed layout) ---- */

/* Values are non-negative integers (nanoseconds by convention). Values below 256 have a bucket
 * each; above, every power of two [2^e, 2^(e+1)) is split into 128 equal buckets, so a bucket's
 * width is at most 1/128 of its lower bound (better than 2 significant digits). The layout covers
 * 0 .. 2^40 - 1 ns (about 18 minutes); larger values are counted in the last bucket. Two histograms
 * merge by adding their count arrays, so ranks combine them with an all-reduce of i64 sums. */
#define SO_HIST_SUB 128
#define SO_HIST_MAX_LOG2 40
#define SO_HIST_BUCKETS (2 * SO_HIST_SUB + (SO_HIST_MAX_LOG2 - 8) * SO_HIST_SUB)

typedef struct so_hist {
    uint64_t counts[SO_HIST_BUCKETS];
} so_hist;

void so_hist_init(so_hist *h);
void so_hist_record(so_hist *h, uint64_t value);
void so_hist_record_n(so_hist *h, uint64_t value, uint64_t count);
/* dst += src, bucket by bucket. */
void so_hist_merge(so_hist *dst, const so_hist *src);
uint64_t so_hist_count(const so_hist *h);
/* The bucket a value falls in, and a bucket's value range [lo, hi] (inclusive). */
size_t so_hist_bucket(uint64_t value);
void so_hist_bucket_range(size_t bucket, uint64_t *lo, uint64_t *hi);
/* The q-th percentile (0 <= q <= 100) by nearest rank: the bucket holding the ceil(q/100*count)-th
 * smallest value (at least the first), reported as that bucket's midpoint. For values that were
 * not clamped, |result - exact nearest-rank value| <= value/256 + 1. Returns 0 if empty. */
uint64_t so_hist_percentile(const so_hist *h, double q);
/* Smallest and largest recorded values, to bucket precision (bucket lo / hi); 0 if empty. */
uint64_t so_hist_min(const so_hist *h);
uint64_t so_hist_max(const so_hist *h);
/* Mean, using bucket midpoints. */
double so_hist_mean(const so_hist *h);

#endif
