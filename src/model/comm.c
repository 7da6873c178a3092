/*
 * Alpha-beta communication costs (book chapters 3 and 4): point-to-point transfers, the four
 * all-reduce algorithms, the ring's latency/bandwidth split and crossovers, the book's two-level
 * hierarchical all-reduce, data-parallel compute versus communication, the roofline, and the
 * gradient-bucketing overlap schedule.
 *
 * A message of n bytes costs alpha + n beta with beta = 1 / bandwidth. Naive (root gathers and
 * broadcasts) pays 2 (K-1) full messages; a binary tree 2 ceil(log2 K); the ring 2 (K-1) steps of
 * n / K bytes; recursive halving-doubling 2 log2 K steps with the ring's volume. The bucket model
 * replays the backward pass: bucket b is ready when its last layer's gradient exists, and one
 * channel sends buckets in order.
 * Cost: O(1) per formula, O(buckets) for the overlap replay. Limits: no contention, no pipelining
 * inside a message, links are symmetric.
 */
#include <math.h>

#include "scaleout/model.h"

double so_model_p2p_s(double bytes, double alpha_s, double bw_Bps) {
    return alpha_s + bytes / bw_Bps;
}

const char *so_model_ar_name(so_model_ar_algo a) {
    static const char *names[SO_AR_COUNT] = {"naive", "tree", "ring", "hd"};
    return (unsigned)a < SO_AR_COUNT ? names[a] : "?";
}

double so_model_ring_latency_s(double k, double alpha_s) {
    return 2.0 * (k - 1.0) * alpha_s;
}

double so_model_ring_bandwidth_s(double k, double bytes, double bw_Bps) {
    return 2.0 * (k - 1.0) / k * bytes / bw_Bps;
}

double so_model_allreduce_s(so_model_ar_algo a, double k, double bytes, double alpha_s,
                            double bw_Bps) {
    double msg = alpha_s + bytes / bw_Bps;
    switch (a) {
    case SO_AR_NAIVE:
        return 2.0 * (k - 1.0) * msg;
    case SO_AR_TREE:
        return 2.0 * ceil(log2(k)) * msg;
    case SO_AR_RING:
        return so_model_ring_latency_s(k, alpha_s) + so_model_ring_bandwidth_s(k, bytes, bw_Bps);
    case SO_AR_HD:
        return 2.0 * log2(k) * alpha_s + so_model_ring_bandwidth_s(k, bytes, bw_Bps);
    default:
        return NAN;
    }
}

double so_model_ring_crossover_bytes(double k, double alpha_s, double bw_Bps) {
    return k * alpha_s * bw_Bps;
}

double so_model_tree_ring_crossover_bytes(double k, double alpha_s, double bw_Bps) {
    /* tree: 2 ceil(log2 K) (alpha + n beta); ring: 2 (K-1) alpha + 2 (K-1)/K n beta. */
    double steps = 2.0 * ceil(log2(k));
    double num = (2.0 * (k - 1.0) - steps) * alpha_s;
    double den = (steps - 2.0 * (k - 1.0) / k) / bw_Bps;
    if (num <= 0 || den <= 0) {
        return 0.0;
    }
    return num / den;
}

double so_model_hier_allreduce_s(double nodes, double per_node, double bytes, double intra_alpha,
                                 double intra_bw, double inter_alpha, double inter_bw) {
    return so_model_allreduce_s(SO_AR_RING, per_node, bytes, intra_alpha, intra_bw) +
           so_model_allreduce_s(SO_AR_RING, nodes, bytes, inter_alpha, inter_bw) +
           so_model_p2p_s(bytes, intra_alpha, intra_bw);
}

double so_model_dp_compute_s(const so_model_dp *m, double k) {
    return m->flops_per_param * m->params * (m->global_batch / k) / m->peak_flops;
}

double so_model_dp_comm_s(const so_model_dp *m, double k) {
    return so_model_ring_bandwidth_s(k, m->params * m->bytes_per_param, m->bw_Bps);
}

double so_model_roofline(double peak_flops, double bw_Bps, double intensity) {
    double mem = intensity * bw_Bps;
    return mem < peak_flops ? mem : peak_flops;
}

double so_model_ridge(double peak_flops, double bw_Bps) {
    return peak_flops / bw_Bps;
}

double so_model_matmul_intensity(double m, double n, double k, double elem) {
    return 2.0 * m * n * k / (elem * (m * k + k * n + m * n));
}

double so_model_add_intensity(double elem) {
    return 1.0 / (3.0 * elem);
}

void so_model_bucket(int layers, double grad_bytes, double bwd_s, double alpha_s, double bw_Bps,
                     int layers_per_bucket, so_model_bucket_result *out) {
    if (layers_per_bucket < 1) {
        layers_per_bucket = 1;
    }
    double free_at = 0.0, comm = 0.0;
    int buckets = 0;
    for (int first = 0; first < layers; first += layers_per_bucket) {
        int last = first + layers_per_bucket < layers ? first + layers_per_bucket : layers;
        double ready = last * bwd_s; /* backward reaches the bucket's last layer */
        double t = alpha_s + (last - first) * grad_bytes / bw_Bps;
        double start = ready > free_at ? ready : free_at;
        free_at = start + t;
        comm += t;
        buckets++;
    }
    out->compute_s = layers * bwd_s;
    out->comm_s = comm;
    out->buckets = buckets;
    out->no_overlap_s = out->compute_s + comm;
    out->overlap_s = free_at > out->compute_s ? free_at : out->compute_s;
    out->hidden = comm > 0 ? 1.0 - (out->overlap_s - out->compute_s) / comm : 1.0;
}
