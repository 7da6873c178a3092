/*
 * Measurement harness, part 1 (book 5.2, 5.6, 3.3): warm-up and timed trials with robust
 * statistics, barrier-aligned trials on a group, a scaling study with Karp-Flatt and an Amdahl
 * fit, and a least-squares line (alpha-beta fits).
 *
 * Trials report the median and IQR (robust to the cold first call and to preemption), the mean
 * and population stdev for comparison, best-of-N (which understates) and the cold call. On a
 * group each sample is the max over ranks after a barrier, since a step ends when its slowest
 * rank does. Cost: O(trials log trials) for the statistics; the group version adds one barrier
 * and one 8-byte all-reduce per trial. Limits: wall-clock timing (so_now_s); a single scalar per
 * call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/coll.h"
#include "scaleout/core.h"
#include "scaleout/harness.h"

void so_trials_summarize(const double *x, size_t n, so_trials *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0) {
        return;
    }
    static const double q[3] = {25, 50, 75};
    double p[3];
    if (so_stats_percentiles(x, n, q, 3, p) != SO_OK) {
        p[0] = p[1] = p[2] = NAN;
    }
    out->p25 = p[0], out->median = p[1], out->p75 = p[2], out->iqr = p[2] - p[0];
    out->mean = so_stats_mean(x, n);
    out->stdev = so_stats_std(x, n, 0);
    out->min = so_stats_min(x, n);
    out->max = so_stats_max(x, n);
    out->cold = x[0];
}

int so_harness_trials(void (*fn)(void *), void *arg, int warmup, int trials, double *samples,
                      so_trials *out) {
    if (!fn || trials < 1 || warmup < 0 || !samples) {
        return so__fail(SO_EINVAL, "trials need a function, trials >= 1 and warmup >= 0");
    }
    double cold = 0;
    for (int i = 0; i < warmup; i++) {
        double t0 = so_now_s();
        fn(arg);
        if (i == 0) {
            cold = so_now_s() - t0;
        }
    }
    for (int i = 0; i < trials; i++) {
        double t0 = so_now_s();
        fn(arg);
        samples[i] = so_now_s() - t0;
    }
    so_trials_summarize(samples, (size_t)trials, out);
    if (warmup > 0) {
        out->cold = cold;
    }
    return SO_OK;
}

int so_harness_trials_comm(so_comm *c, void (*fn)(void *), void *arg, int warmup, int trials,
                           double *samples, so_trials *out) {
    if (!fn || trials < 1 || warmup < 0 || !samples) {
        return so__fail(SO_EINVAL, "trials need a function, trials >= 1 and warmup >= 0");
    }
    double cold = 0;
    for (int i = 0; i < warmup + trials; i++) {
        SO_TRY(so_barrier(c));
        double t0 = so_now_s();
        fn(arg);
        double t = so_now_s() - t0;
        SO_TRY(so_allreduce(c, &t, &t, 1, SO_F64, SO_MAX));
        if (i == 0) {
            cold = t;
        }
        if (i >= warmup) {
            samples[i - warmup] = t;
        }
    }
    so_trials_summarize(samples, (size_t)trials, out);
    out->cold = cold;
    return SO_OK;
}

int so_scaling_study(const int *k, const double *t, int n, int weak, double threshold,
                     so_scaling_row *rows, double *amdahl_serial) {
    int first = -1;
    double sab = 0, saa = 0;
    for (int i = 0; i < n; i++) {
        so_scaling_row *r = &rows[i];
        r->k = k[i];
        r->t = t[i];
        if (weak) {
            r->eff = t[0] / t[i];
            r->speedup = r->eff * k[i];
        } else {
            r->speedup = (double)k[0] * t[0] / t[i];
            r->eff = r->speedup / k[i];
        }
        r->karp_flatt = NAN;
        if (k[i] > 1) {
            double invk = 1.0 / k[i];
            r->karp_flatt = (1.0 / r->speedup - invk) / (1.0 - invk);
            double a = 1.0 - invk, b = 1.0 / r->speedup - invk;
            sab += a * b, saa += a * a;
        }
        if (first < 0 && r->eff < threshold) {
            first = i;
        }
    }
    if (amdahl_serial) {
        double s = saa > 0 ? sab / saa : 0.0;
        *amdahl_serial = s < 0 ? 0 : s > 1 ? 1 : s;
    }
    return first;
}

void so_fit_linear(const double *x, const double *y, int n, double *a, double *b, double *r2) {
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i], my += y[i];
    }
    mx /= n, my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    *b = sxx > 0 ? sxy / sxx : 0.0;
    *a = my - *b * mx;
    if (r2) {
        *r2 = sxx > 0 && syy > 0 ? sxy * sxy / (sxx * syy) : 1.0;
    }
}
