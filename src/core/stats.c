/*
 * Statistics of measured samples: Welford's streaming mean and variance (mergeable with Chan's
 * pairwise formula), whole-array mean/variance/min/max, numpy-compatible percentiles and a
 * one-line summary.
 *
 * Percentiles follow numpy.percentile's default 'linear' method: the virtual index is
 * (n-1)*(q/100); with i = floor of it and g its fractional part, the result is lerp(x[i], x[i+1],
 * g) computed as numpy's _lerp does (a + (b-a)*g, or b - (b-a)*(1-g) when g >= 0.5), so the results
 * agree with numpy bit for bit. The copying form sorts a copy (O(n log n)); the in-place form
 * selects the two order statistics with quickselect (O(n) expected) and reorders the input. Limits:
 * NaN inputs give unspecified order; n == 0 returns NaN.
 */
#include <math.h>
#include <string.h>

#include "scaleout/core.h"

void so_welford_init(so_welford *w) {
    w->n = 0;
    w->mean = 0.0;
    w->m2 = 0.0;
    w->min = INFINITY;
    w->max = -INFINITY;
}

void so_welford_add(so_welford *w, double x) {
    w->n++;
    double d = x - w->mean;
    w->mean += d / (double)w->n;
    w->m2 += d * (x - w->mean);
    if (x < w->min) {
        w->min = x;
    }
    if (x > w->max) {
        w->max = x;
    }
}

void so_welford_merge(so_welford *dst, const so_welford *src) {
    if (src->n == 0) {
        return;
    }
    if (dst->n == 0) {
        *dst = *src;
        return;
    }
    double na = (double)dst->n, nb = (double)src->n, n = na + nb;
    double d = src->mean - dst->mean;
    dst->mean += d * nb / n;
    dst->m2 += src->m2 + d * d * na * nb / n;
    dst->n += src->n;
    dst->min = fmin(dst->min, src->min);
    dst->max = fmax(dst->max, src->max);
}

double so_welford_var(const so_welford *w, int ddof) {
    if (w->n <= (uint64_t)ddof) {
        return NAN;
    }
    return w->m2 / (double)(w->n - (uint64_t)ddof);
}

double so_welford_std(const so_welford *w, int ddof) {
    return sqrt(so_welford_var(w, ddof));
}

double so_stats_mean(const double *x, size_t n) {
    if (n == 0) {
        return NAN;
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
    }
    return s / (double)n;
}

double so_stats_var(const double *x, size_t n, int ddof) {
    so_welford w;
    so_welford_init(&w);
    for (size_t i = 0; i < n; i++) {
        so_welford_add(&w, x[i]);
    }
    return so_welford_var(&w, ddof);
}

double so_stats_std(const double *x, size_t n, int ddof) {
    return sqrt(so_stats_var(x, n, ddof));
}

double so_stats_min(const double *x, size_t n) {
    double m = n ? x[0] : NAN;
    for (size_t i = 1; i < n; i++) {
        m = x[i] < m ? x[i] : m;
    }
    return m;
}

double so_stats_max(const double *x, size_t n) {
    double m = n ? x[0] : NAN;
    for (size_t i = 1; i < n; i++) {
        m = x[i] > m ? x[i] : m;
    }
    return m;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's _lerp: exact at both ends and monotonic. */
static double lerp(double a, double b, double g) {
    double d = b - a;
    return g >= 0.5 ? b - d * (1.0 - g) : a + d * g;
}

static void virtual_index(size_t n, double q, size_t *lo, double *g) {
    double vi = (double)(n - 1) * (q / 100.0);
    double f = floor(vi);
    if (f < 0) {
        f = 0;
    }
    if (f > (double)(n - 1)) {
        f = (double)(n - 1);
    }
    *lo = (size_t)f;
    *g = vi - f;
}

static double percentile_sorted(const double *s, size_t n, double q) {
    size_t lo;
    double g;
    virtual_index(n, q, &lo, &g);
    size_t hi = lo + 1 < n ? lo + 1 : n - 1;
    return lerp(s[lo], s[hi], g);
}

/* Hoare-style quickselect: afterwards x[k] is the k-th smallest, smaller ones before it. */
static void select_kth(double *x, size_t n, size_t k) {
    size_t l = 0, r = n - 1;
    while (l < r) {
        double pivot = x[l + (r - l) / 2];
        size_t i = l, j = r;
        while (i <= j) {
            while (x[i] < pivot) {
                i++;
            }
            while (x[j] > pivot) {
                j--;
            }
            if (i <= j) {
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
                i++;
                if (j == 0) {
                    break;
                }
                j--;
            }
        }
        if (k <= j) {
            r = j;
        } else if (k >= i) {
            l = i;
        } else {
            return;
        }
    }
}

double so_stats_percentile_inplace(double *x, size_t n, double q) {
    if (n == 0) {
        return NAN;
    }
    size_t lo;
    double g;
    virtual_index(n, q, &lo, &g);
    select_kth(x, n, lo);
    double a = x[lo], b = a;
    if (lo + 1 < n) {
        b = so_stats_min(x + lo + 1, n - lo - 1); /* the next order statistic */
    }
    return lerp(a, b, g);
}

int so_stats_percentiles(const double *x, size_t n, const double *q, size_t nq, double *out) {
    if (n == 0) {
        for (size_t i = 0; i < nq; i++) {
            out[i] = NAN;
        }
        return SO_OK;
    }
    double *s = malloc(n * sizeof *s);
    if (!s) {
        return so__fail(SO_ENOMEM, "percentile copy of %zu doubles", n);
    }
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    for (size_t i = 0; i < nq; i++) {
        out[i] = percentile_sorted(s, n, q[i]);
    }
    free(s);
    return SO_OK;
}

double so_stats_percentile(const double *x, size_t n, double q) {
    double v;
    if (so_stats_percentiles(x, n, &q, 1, &v) < 0) {
        return NAN;
    }
    return v;
}

double so_stats_median(const double *x, size_t n) {
    return so_stats_percentile(x, n, 50.0);
}

char *so_stats_summary(const double *x, size_t n, char *buf, size_t cap) {
    if (n == 0) {
        snprintf(buf, cap, "- n=0");
        return buf;
    }
    snprintf(buf, cap, "%.4g [%.4g\xe2\x80\x93%.4g] n=%zu", so_stats_median(x, n),
             so_stats_min(x, n), so_stats_max(x, n), n);
    return buf;
}
