/*
 * Speedup laws and cost-aware scaling (book chapters 1, 3 and 5): Amdahl, Gustafson, Karp-Flatt,
 * a step-time model for strong and weak scaling, scale-up versus scale-out (1.3.1), vertical
 * versus horizontal serving (3.2.1), cost-optimal node counts (3.9.1) and work-depth with Brent's
 * bound (3.6.1).
 * Each function evaluates a closed form; the searches scan K = 1..kmax. Cost: O(1) or O(kmax).
 * Limits: the models are the book's, not measurements; K is a real number where that makes sense.
 */
#include <math.h>

#include "scaleout/model.h"

double so_model_amdahl(double serial, double k) {
    return 1.0 / (serial + (1.0 - serial) / k);
}

double so_model_gustafson(double serial, double k) {
    return k - serial * (k - 1.0);
}

double so_model_karp_flatt(double speedup, double k) {
    return (1.0 / speedup - 1.0 / k) / (1.0 - 1.0 / k);
}

double so_model_scaling_strong_s(const so_model_scaling *m, double k) {
    return m->serial + m->parallel / k + m->comm * log2(k + m->log_offset);
}

double so_model_scaling_weak_s(const so_model_scaling *m, double k) {
    return m->serial + m->parallel + m->comm * log2(k + m->log_offset);
}

double so_model_scaling_strong_eff(const so_model_scaling *m, double k) {
    return so_model_scaling_strong_s(m, 1) / (k * so_model_scaling_strong_s(m, k));
}

double so_model_scaling_weak_eff(const so_model_scaling *m, double k) {
    return so_model_scaling_weak_s(m, 1) / so_model_scaling_weak_s(m, k);
}

double so_model_scaleup_hours(const so_model_scaleout *m) {
    return m->work_node_s / m->big_speed / 3600.0;
}

double so_model_scaleup_cost(const so_model_scaleout *m) {
    return so_model_scaleup_hours(m) * m->big_price_h;
}

double so_model_scaleout_hours(const so_model_scaleout *m, double k) {
    double eff = 1.0 / (1.0 + m->decay * (k - 1.0));
    return m->work_node_s / (k * eff) / 3600.0;
}

double so_model_scaleout_cost(const so_model_scaleout *m, double k) {
    return k * m->node_price_h * so_model_scaleout_hours(m, k);
}

double so_model_vertical_cost(const so_model_vertical *m, double target_rps) {
    double s = target_rps / m->node_rps;
    if (s > m->max_size) {
        return INFINITY;
    }
    return s <= 1.0 ? m->node_price_h : m->node_price_h * pow(s, m->exponent);
}

int so_model_horizontal_nodes(const so_model_vertical *m, double target_rps) {
    for (int n = 1; n <= 1000000; n++) {
        if (n * m->node_rps / (1.0 + m->tau * (n - 1)) >= target_rps) {
            return n;
        }
    }
    return -1; /* beyond the asymptote node_rps / tau */
}

double so_model_horizontal_cost(const so_model_vertical *m, double target_rps) {
    int n = so_model_horizontal_nodes(m, target_rps);
    return n < 0 ? INFINITY : m->node_price_h * n + m->fixed_price_h;
}

double so_model_costscale_speedup(const so_model_costscale *m, double k) {
    return 1.0 / (m->serial + (1.0 - m->serial) / k + m->overhead * (k - 1.0));
}

double so_model_costscale_hours(const so_model_costscale *m, double k) {
    return m->t1_hours / so_model_costscale_speedup(m, k);
}

double so_model_costscale_cost(const so_model_costscale *m, double k) {
    return (m->node_price_h * k + m->fixed_price_h) * so_model_costscale_hours(m, k);
}

int so_model_costscale_cheapest(const so_model_costscale *m, int kmax) {
    int best = 1;
    for (int k = 2; k <= kmax; k++) {
        if (so_model_costscale_cost(m, k) < so_model_costscale_cost(m, best)) {
            best = k;
        }
    }
    return best;
}

int so_model_costscale_fastest(const so_model_costscale *m, int kmax) {
    int best = 1;
    for (int k = 2; k <= kmax; k++) {
        if (so_model_costscale_hours(m, k) < so_model_costscale_hours(m, best)) {
            best = k;
        }
    }
    return best;
}

double so_model_sum_work(double n) {
    return n - 1.0;
}

int so_model_sum_depth(double n) {
    int d = 0;
    for (double w = 1; w < n; w *= 2) {
        d++;
    }
    return d;
}

double so_model_brent(double work, double depth, double k) {
    return work / k + depth;
}
