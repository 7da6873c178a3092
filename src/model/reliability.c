/*
 * Reliability models (book chapter 2): the chance that at least one of K components fails,
 * Young's and Daly's checkpoint intervals with the overhead of any interval, and the expected
 * barrier time of K tasks with log-normal stragglers, with and without backup copies.
 *
 * E[max of K] = offset + integral over x > 0 of (1 - G(x)^K), where G is the CDF of one task's
 * time (the fastest of `copies` runs: G = 1 - (1 - F)^copies). The integral is taken over
 * z = (ln x - mu) / sigma in [-12, 12] with Simpson's rule (24,000 panels), using log1p/expm1 so
 * that 1 - G^K keeps its precision when K is large. Cost: about 1 ms per call.
 * Limits: failures are independent with one probability; the Young/Daly formulas assume C << M.
 */
#include <math.h>

#include "scaleout/model.h"

double so_model_any_failure(double p, double k) {
    return -expm1(k * log1p(-p));
}

double so_model_young_s(double ckpt_s, double mtbf_s) {
    return sqrt(2.0 * ckpt_s * mtbf_s);
}

double so_model_daly_s(double ckpt_s, double mtbf_s) {
    if (ckpt_s >= 2.0 * mtbf_s) {
        return mtbf_s;
    }
    double r = ckpt_s / (2.0 * mtbf_s);
    return sqrt(2.0 * ckpt_s * mtbf_s) * (1.0 + sqrt(r) / 3.0 + r / 9.0) - ckpt_s;
}

double so_model_ckpt_overhead(double interval_s, double ckpt_s, double mtbf_s) {
    return ckpt_s / interval_s + interval_s / (2.0 * mtbf_s);
}

/* 1 - G(x)^K at z = (ln x - mu) / sigma. */
static double tail_of_max(double z, double k, int copies) {
    double q = 0.5 * erfc(z / M_SQRT2); /* P(one run is slower) */
    double qc = pow(q, copies);         /* P(every copy is slower) = 1 - G */
    return -expm1(k * log1p(-qc));
}

double so_model_straggler_max(double k, double offset, double mu, double sigma, int copies) {
    if (copies < 1) {
        copies = 1;
    }
    const double lo = -12.0, hi = 12.0;
    const int panels = 24000; /* even */
    double h = (hi - lo) / panels, s = 0.0;
    for (int i = 0; i <= panels; i++) {
        double z = lo + i * h;
        double f = tail_of_max(z, k, copies) * sigma * exp(mu + sigma * z); /* dx = sigma x dz */
        s += f * (i == 0 || i == panels ? 1.0 : (i % 2 ? 4.0 : 2.0));
    }
    return offset + s * h / 3.0;
}
