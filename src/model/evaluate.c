/*
 * Evaluation arithmetic (book chapters 1, 2 and 5): exposed communication and the
 * comm-to-compute ratio, MFU with price and energy per token, mixture-of-experts load imbalance
 * and capacity drops, contiguous sharding, and ring-gossip convergence.
 * All closed forms, O(1) except the expert scans (O(E)). Limits: energy counts only device power
 * times PUE; carbon uses one grid intensity.
 */
#include <math.h>

#include "scaleout/model.h"

double so_model_exposed_comm_s(double comm_s, double overlap, double compression) {
    return comm_s * (1.0 - overlap) / compression;
}

double so_model_comm_ratio(double compute_s, double exposed_s) {
    return exposed_s / compute_s;
}

double so_model_comm_efficiency(double compute_s, double exposed_s) {
    return compute_s / (compute_s + exposed_s);
}

double so_model_mfu(const so_model_train *m) {
    return m->flops_per_param_token * m->params * m->tokens_per_s / (m->devices * m->peak_flops);
}

double so_model_mfu_cost_h(const so_model_train *m) {
    return m->devices * m->price_dev_h;
}

double so_model_mfu_cost_per_mtok(const so_model_train *m) {
    return so_model_mfu_cost_h(m) / (m->tokens_per_s * 3600.0) * 1e6;
}

double so_model_mfu_joules_per_token(const so_model_train *m) {
    return m->devices * m->watts * m->pue / m->tokens_per_s;
}

double so_model_mfu_gco2_per_mtok(const so_model_train *m) {
    return so_model_mfu_joules_per_token(m) * 1e6 / 3.6e6 * m->g_co2_per_kwh;
}

double so_model_moe_lif(const double *counts, int experts) {
    double total = 0, max = 0;
    for (int e = 0; e < experts; e++) {
        total += counts[e];
        max = counts[e] > max ? counts[e] : max;
    }
    return total > 0 ? experts * max / total : 0.0;
}

double so_model_moe_drop(const double *counts, int experts, int e, double cf) {
    double total = 0;
    for (int i = 0; i < experts; i++) {
        total += counts[i];
    }
    double cap = floor(cf * total / experts);
    return counts[e] > cap ? counts[e] - cap : 0.0;
}

void so_model_shard(uint64_t n, int world, int rank, uint64_t *start, uint64_t *count) {
    uint64_t base = n / (uint64_t)world, extra = n % (uint64_t)world, r = (uint64_t)rank;
    *start = r * base + (r < extra ? r : extra);
    *count = base + (r < extra ? 1 : 0);
}

double so_model_gossip_lambda2(double k, double self_weight) {
    return self_weight + (1.0 - self_weight) * cos(2.0 * M_PI / k);
}

double so_model_gossip_rounds(double k, double self_weight, double eps) {
    return log(eps) / log(so_model_gossip_lambda2(k, self_weight));
}
