/*
 * Latency and queueing models (book chapters 1, 3 and 5): the normal distribution, Little's law,
 * quantiles and mean of a log-normal latency with a straggling fraction, and the M/M/1 queue's
 * response-time quantiles and goodput at an SLO.
 *
 * The normal quantile starts from Acklam's rational approximation and takes one Halley step on
 * erfc, which gives about 1e-15 relative accuracy. The mixture quantile bisects its CDF in log
 * space (200 steps). Cost: microseconds. Limits: M/M/1 needs lambda < mu.
 */
#include <math.h>

#include "scaleout/model.h"

double so_model_norm_cdf(double z) {
    return 0.5 * erfc(-z / M_SQRT2);
}

double so_model_norm_ppf(double p) {
    if (p <= 0.0) {
        return -INFINITY;
    }
    if (p >= 1.0) {
        return INFINITY;
    }
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    /* One Halley step: e = Phi(x) - p. */
    double e = so_model_norm_cdf(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

double so_model_little(double rate, double wait_s) {
    return rate * wait_s;
}

static double mix_cdf(double x, double median, double sigma, double frac, double mult) {
    double z1 = (log(x) - log(median)) / sigma, z2 = (log(x / mult) - log(median)) / sigma;
    return (1.0 - frac) * so_model_norm_cdf(z1) + frac * so_model_norm_cdf(z2);
}

double so_model_lognormal_mix_quantile(double median, double sigma, double frac, double mult,
                                       double q) {
    if (frac <= 0.0) {
        return median * exp(sigma * so_model_norm_ppf(q));
    }
    double lo = log(median) - 40 * sigma, hi = log(median * (mult > 1 ? mult : 1)) + 40 * sigma;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mix_cdf(exp(mid), median, sigma, frac, mult) < q) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return exp(0.5 * (lo + hi));
}

double so_model_lognormal_mix_mean(double median, double sigma, double frac, double mult) {
    return median * exp(sigma * sigma / 2.0) * (1.0 - frac + frac * mult);
}

double so_model_mm1_quantile_s(double lambda, double mu, double q) {
    return -log1p(-q) / (mu - lambda);
}

double so_model_mm1_mean_s(double lambda, double mu) {
    return 1.0 / (mu - lambda);
}

double so_model_mm1_goodput(double lambda, double mu, double slo_s) {
    return lambda * -expm1(-(mu - lambda) * slo_s);
}
