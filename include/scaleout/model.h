/*
 * The book's analytical models (chapters 1-5) as plain functions (src/model/). `scaleout model
 * <name>` prints them as the book's tables; tests/golden/test_models_ch01_05.c checks every
 * deterministic number the book prints against them.
 *
 *   double s = so_model_amdahl(0.05, 8);                              // 5.9259
 *   double t = so_model_allreduce_s(SO_AR_RING, 64, 64 << 20, 5e-6, 100e9);
 *
 * Units are SI unless a name says otherwise: seconds, bytes, bytes per second, FLOP per second.
 * Every function is pure (no state, no allocation, no I/O) and safe from any thread.
 */
#ifndef SCALEOUT_MODEL_H
#define SCALEOUT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- speedup laws (3.1, 3.5, 5.2) ---- */

/* Amdahl: S(K) = 1 / (s + (1 - s) / K) for serial fraction s. */
double so_model_amdahl(double serial, double k);
/* Gustafson: scaled speedup S(K) = K - s (K - 1). */
double so_model_gustafson(double serial, double k);
/* Karp-Flatt experimentally determined serial fraction e = (1/S - 1/K) / (1 - 1/K), K > 1. */
double so_model_karp_flatt(double speedup, double k);

/* Step time T(K) = serial + parallel / K + comm * log2(K + log_offset) (3.3.1 uses offset 0,
 * 5.2.1 offset 1). Strong scaling divides fixed work; weak scaling grows the work with K, so its
 * time is serial + parallel + comm * log2(K + log_offset). */
typedef struct so_model_scaling {
    double serial, parallel, comm, log_offset;
} so_model_scaling;
double so_model_scaling_strong_s(const so_model_scaling *m, double k);
double so_model_scaling_weak_s(const so_model_scaling *m, double k);
/* Strong efficiency T(1) / (K T(K)); weak efficiency T(1) / T_weak(K). */
double so_model_scaling_strong_eff(const so_model_scaling *m, double k);
double so_model_scaling_weak_eff(const so_model_scaling *m, double k);

/* ---- scale-up vs scale-out and cost (1.3, 3.2, 3.9, 5.1) ---- */

/* 1.3.1: work W node-seconds on one big node of relative speed `big_speed` costing big_price per
 * hour, or on K commodity nodes (price per hour each) of efficiency 1 / (1 + decay (K - 1)). */
typedef struct so_model_scaleout {
    double work_node_s, big_speed, big_price_h, node_price_h, decay;
} so_model_scaleout;
double so_model_scaleup_hours(const so_model_scaleout *m);
double so_model_scaleup_cost(const so_model_scaleout *m);
double so_model_scaleout_hours(const so_model_scaleout *m, double k);
double so_model_scaleout_cost(const so_model_scaleout *m, double k);

/* 3.2.1: serving `target` req/s. Vertically, one node of size s = target / node_rps costs
 * node_price if s <= 1, else node_price * s^exponent, and cannot exceed max_size (INFINITY).
 * Horizontally, the smallest n with n node_rps / (1 + tau (n - 1)) >= target nodes cost
 * node_price n + fixed_price (a load balancer). */
typedef struct so_model_vertical {
    double node_rps, node_price_h, tau, fixed_price_h, exponent, max_size;
} so_model_vertical;
double so_model_vertical_cost(const so_model_vertical *m, double target_rps);
int so_model_horizontal_nodes(const so_model_vertical *m, double target_rps);
double so_model_horizontal_cost(const so_model_vertical *m, double target_rps);

/* 3.9.1: speedup S(K) = 1 / (serial + (1 - serial) / K + overhead (K - 1)); a job that takes
 * t1_hours on one node takes t1_hours / S(K) and costs (node_price K + fixed_price) per hour. */
typedef struct so_model_costscale {
    double serial, overhead, t1_hours, node_price_h, fixed_price_h;
} so_model_costscale;
double so_model_costscale_speedup(const so_model_costscale *m, double k);
double so_model_costscale_hours(const so_model_costscale *m, double k);
double so_model_costscale_cost(const so_model_costscale *m, double k);
/* The K in 1..kmax with the least cost, and with the least time. */
int so_model_costscale_cheapest(const so_model_costscale *m, int kmax);
int so_model_costscale_fastest(const so_model_costscale *m, int kmax);

/* ---- work and depth (3.6) ---- */

/* Summing N numbers with a tree: work N - 1 additions, depth ceil(log2 N). */
double so_model_sum_work(double n);
int so_model_sum_depth(double n);
/* Brent's bound: T_K <= W / K + D. */
double so_model_brent(double work, double depth, double k);

/* ---- roofline (3.7) ---- */

/* Attainable FLOP/s = min(peak, intensity * bandwidth); the ridge point is peak / bandwidth. */
double so_model_roofline(double peak_flops, double bw_Bps, double intensity);
double so_model_ridge(double peak_flops, double bw_Bps);
/* Arithmetic intensity of C = A B with A m-by-k, B k-by-n, elements of `elem` bytes, each matrix
 * moved once: 2 m n k / (elem (m k + k n + m n)). */
double so_model_matmul_intensity(double m, double n, double k, double elem);
/* z = x + y elementwise: 1 FLOP per 3 elements moved. */
double so_model_add_intensity(double elem);

/* ---- alpha-beta communication (3.8, 4.1, 4.2, 4.4, 4.9, 4.10) ---- */

/* Point-to-point: alpha + bytes / bw. */
double so_model_p2p_s(double bytes, double alpha_s, double bw_Bps);

typedef enum so_model_ar_algo {
    SO_AR_NAIVE = 0, /* gather to a root and broadcast back: 2 (K-1) (alpha + n beta) */
    SO_AR_TREE,      /* reduce + broadcast on a binary tree: 2 ceil(log2 K) (alpha + n beta) */
    SO_AR_RING,      /* reduce-scatter + all-gather: 2 (K-1) alpha + 2 (K-1)/K n beta */
    SO_AR_HD,        /* recursive halving-doubling: 2 log2(K) alpha + 2 (K-1)/K n beta */
    SO_AR_COUNT
} so_model_ar_algo;
const char *so_model_ar_name(so_model_ar_algo a);
/* All-reduce time of `bytes` per rank over K ranks with beta = 1 / bw_Bps. */
double so_model_allreduce_s(so_model_ar_algo a, double k, double bytes, double alpha_s,
                            double bw_Bps);
/* The ring's two terms: latency 2 (K-1) alpha and bandwidth 2 (K-1)/K n beta. */
double so_model_ring_latency_s(double k, double alpha_s);
double so_model_ring_bandwidth_s(double k, double bytes, double bw_Bps);
/* Message size where the ring's two terms are equal: K alpha / beta. */
double so_model_ring_crossover_bytes(double k, double alpha_s, double bw_Bps);
/* Message size where tree and ring take equal time (bisection on n; 0 if none below 1 TiB). */
double so_model_tree_ring_crossover_bytes(double k, double alpha_s, double bw_Bps);

/* 4.9.2: two-level all-reduce as the book prices it: a ring inside each node (per_node ranks,
 * intra link), a ring among the node leaders (nodes ranks, inter link) and a broadcast inside
 * each node (alpha + n / bw on the intra link). */
double so_model_hier_allreduce_s(double nodes, double per_node, double bytes, double intra_alpha,
                                 double intra_bw, double inter_alpha, double inter_bw);

/* 4.1.1: data-parallel step of `params` parameters (bytes_per_param each), flops_per_param per
 * example, global batch split over K devices of peak FLOP/s; gradients all-reduced by a ring at
 * bw (latency ignored, as the book does). */
typedef struct so_model_dp {
    double params, bytes_per_param, flops_per_param, peak_flops, bw_Bps, global_batch;
} so_model_dp;
double so_model_dp_compute_s(const so_model_dp *m, double k);
double so_model_dp_comm_s(const so_model_dp *m, double k);

/* 4.10.1: backward pass of `layers` layers (bwd_s each, grad_bytes each) with gradients sent in
 * buckets of layers_per_bucket layers (the last may be smaller) over one channel costing
 * alpha + bytes / bw per bucket. Without overlap the step is compute + all communication; with
 * overlap a bucket starts when its last layer finishes and the channel is free. hidden is the
 * fraction of communication time that overlap hides. */
typedef struct so_model_bucket_result {
    double compute_s, comm_s, no_overlap_s, overlap_s, hidden;
    int buckets;
} so_model_bucket_result;
void so_model_bucket(int layers, double grad_bytes, double bwd_s, double alpha_s, double bw_Bps,
                     int layers_per_bucket, so_model_bucket_result *out);

/* ---- reliability (2.4, 2.7) ---- */

/* P(at least one of K components fails) = 1 - (1 - p)^K, computed without cancellation. */
double so_model_any_failure(double p, double k);
/* Young's interval sqrt(2 C M) for checkpoint cost C and mean time between failures M; Daly's
 * refinement; and the overhead fraction C / T + T / (2 M) of an interval T. */
double so_model_young_s(double ckpt_s, double mtbf_s);
double so_model_daly_s(double ckpt_s, double mtbf_s);
double so_model_ckpt_overhead(double interval_s, double ckpt_s, double mtbf_s);

/* 2.7.1: expected barrier time E[max of K] of task times offset + LogNormal(mu, sigma); with
 * backups, each task runs `copies` times and takes the fastest copy. Numerical integration of
 * 1 - F(x)^K (relative error below 1e-6). */
double so_model_straggler_max(double k, double offset, double mu, double sigma, int copies);

/* ---- latency, queues, tails (1.6, 3.4, 5.3) ---- */

/* Standard normal CDF and its inverse (|error| < 1e-12 after one Newton step). */
double so_model_norm_cdf(double z);
double so_model_norm_ppf(double p);
/* Little's law L = lambda W. */
double so_model_little(double rate, double wait_s);
/* 1.6.1: lognormal latency with median m and log-sd sigma, of which a fraction f is slowed by
 * mult. Quantile q (0..1) by bisection on the mixture CDF; mean m e^{sigma^2/2} (1 - f + f mult).
 */
double so_model_lognormal_mix_quantile(double median, double sigma, double frac, double mult,
                                       double q);
double so_model_lognormal_mix_mean(double median, double sigma, double frac, double mult);
/* M/M/1 with arrival rate lambda < service rate mu: response time is exponential with rate
 * mu - lambda; quantile q, mean, and goodput lambda P(T <= slo). */
double so_model_mm1_quantile_s(double lambda, double mu, double q);
double so_model_mm1_mean_s(double lambda, double mu);
double so_model_mm1_goodput(double lambda, double mu, double slo_s);

/* ---- evaluation (5.1, 5.3.3, 5.4, 5.5) ---- */

/* 5.4.1: exposed communication = comm (1 - overlap) / compression; R = exposed / compute;
 * efficiency = compute / (compute + exposed). */
double so_model_exposed_comm_s(double comm_s, double overlap, double compression);
double so_model_comm_ratio(double compute_s, double exposed_s);
double so_model_comm_efficiency(double compute_s, double exposed_s);

/* 5.5.1: model FLOPs utilisation, price and energy of training. */
typedef struct so_model_train {
    double devices, peak_flops, tokens_per_s, params, flops_per_param_token, price_dev_h, watts,
        pue, g_co2_per_kwh;
} so_model_train;
double so_model_mfu(const so_model_train *m);
double so_model_mfu_cost_h(const so_model_train *m);
double so_model_mfu_cost_per_mtok(const so_model_train *m);
double so_model_mfu_joules_per_token(const so_model_train *m);
double so_model_mfu_gco2_per_mtok(const so_model_train *m);

/* 5.3.3: load imbalance factor E max_e f_e of per-expert token counts, and tokens dropped at
 * expert e with capacity factor cf: max(0, count_e - cf total / E) (rounded to whole tokens). */
double so_model_moe_lif(const double *counts, int experts);
double so_model_moe_drop(const double *counts, int experts, int e, double cf);

/* ---- small deterministic helpers (1.2, 1.4, 2.1, 2.8) ---- */

/* 2.1.2: contiguous shard of rank r among W over n items: base, extra = divmod(n, W); start =
 * r base + min(r, extra), count = base + (r < extra). */
void so_model_shard(uint64_t n, int world, int rank, uint64_t *start, uint64_t *count);
/* 1.4.1: second eigenvalue of ring gossip with self weight w and (1 - w) / 2 per neighbour:
 * w + (1 - w) cos(2 pi / K); rounds to shrink the disagreement by a factor eps. */
double so_model_gossip_lambda2(double k, double self_weight);
double so_model_gossip_rounds(double k, double self_weight, double eps);

#ifdef __cplusplus
}
#endif
#endif
