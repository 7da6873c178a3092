/*
 * A mergeable latency histogram with a fixed log-linear layout (the idea of Gil Tene's
 * HdrHistogram, reduced to one layout): values 0..255 get a bucket each; every power of two
 * [2^e, 2^(e+1)) above is cut into 128 equal buckets, so relative resolution is 1/128 everywhere.
 *
 * Index of v >= 256 with e = floor(log2 v): 256 + (e - 8) * 128 + ((v >> (e - 7)) - 128).
 * Because the layout is fixed, histograms from different ranks or runs merge by adding counts.
 * Percentiles are nearest-rank over buckets, reported as the bucket midpoint (error <= v/256).
 * Cost: record is a count-leading-zeros and an increment; queries scan 4352 buckets.
 * Limits: values >= 2^40 are counted in the last bucket (their percentiles read as ~2^40).
 */
#include <math.h>
#include <string.h>

#include "scaleout/core.h"

void so_hist_init(so_hist *h) {
    memset(h->counts, 0, sizeof h->counts);
}

size_t so_hist_bucket(uint64_t v) {
    if (v < 2 * SO_HIST_SUB) {
        return (size_t)v;
    }
    if (v >> SO_HIST_MAX_LOG2) {
        return SO_HIST_BUCKETS - 1;
    }
    int e = 63 - __builtin_clzll(v);
    return (size_t)(2 * SO_HIST_SUB + (e - 8) * SO_HIST_SUB + (int)((v >> (e - 7)) - SO_HIST_SUB));
}

void so_hist_bucket_range(size_t b, uint64_t *lo, uint64_t *hi) {
    SO_ASSERT(b < SO_HIST_BUCKETS);
    if (b < 2 * SO_HIST_SUB) {
        *lo = *hi = b;
        return;
    }
    size_t e = 8 + (b - 2 * SO_HIST_SUB) / SO_HIST_SUB;
    uint64_t sub = SO_HIST_SUB + (b - 2 * SO_HIST_SUB) % SO_HIST_SUB;
    *lo = sub << (e - 7);
    *hi = *lo + (1ull << (e - 7)) - 1;
}

void so_hist_record_n(so_hist *h, uint64_t value, uint64_t count) {
    h->counts[so_hist_bucket(value)] += count;
}

void so_hist_record(so_hist *h, uint64_t value) {
    h->counts[so_hist_bucket(value)]++;
}

void so_hist_merge(so_hist *dst, const so_hist *src) {
    for (size_t i = 0; i < SO_HIST_BUCKETS; i++) {
        dst->counts[i] += src->counts[i];
    }
}

uint64_t so_hist_count(const so_hist *h) {
    uint64_t n = 0;
    for (size_t i = 0; i < SO_HIST_BUCKETS; i++) {
        n += h->counts[i];
    }
    return n;
}

static uint64_t midpoint(size_t b) {
    uint64_t lo, hi;
    so_hist_bucket_range(b, &lo, &hi);
    return lo + (hi - lo) / 2;
}

uint64_t so_hist_percentile(const so_hist *h, double q) {
    uint64_t n = so_hist_count(h);
    if (n == 0) {
        return 0;
    }
    double r = ceil(q / 100.0 * (double)n);
    uint64_t rank = r < 1.0 ? 1 : (r > (double)n ? n : (uint64_t)r);
    uint64_t seen = 0;
    for (size_t i = 0; i < SO_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            return midpoint(i);
        }
    }
    return midpoint(SO_HIST_BUCKETS - 1);
}

uint64_t so_hist_min(const so_hist *h) {
    for (size_t i = 0; i < SO_HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            uint64_t lo, hi;
            so_hist_bucket_range(i, &lo, &hi);
            return lo;
        }
    }
    return 0;
}

uint64_t so_hist_max(const so_hist *h) {
    for (size_t i = SO_HIST_BUCKETS; i-- > 0;) {
        if (h->counts[i]) {
            uint64_t lo, hi;
            so_hist_bucket_range(i, &lo, &hi);
            return hi;
        }
    }
    return 0;
}

double so_hist_mean(const so_hist *h) {
    double s = 0.0;
    uint64_t n = 0;
    for (size_t i = 0; i < SO_HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            s += (double)h->counts[i] * (double)midpoint(i);
            n += h->counts[i];
        }
    }
    return n ? s / (double)n : 0.0;
}
