/*
 * The measurement harness of chapter 5 (src/infra/harness*.c): how to measure a distributed
 * system so the numbers mean something.
 *
 *   double t[25]; so_trials s;
 *   so_harness_trials(step, arg, 5, 25, t, &s);          // warm-up, then timed trials
 *   printf("%.3f ms median, IQR %.3f\n", s.median * 1e3, s.iqr * 1e3);
 *
 *   so_loadgen_cfg lg = {.rate = 400, .requests = 2000, .seed = 1, .slo_s = 0.2};
 *   so_loadgen_result res; so_loadgen_run(&lg, serve, srv, NULL, &res);   // open loop
 *
 * Pieces: warm-up and trials with robust statistics (median, IQR, stdev, best-of-N, the cold
 * first call); barrier-aligned trials on a group (max over ranks); a scaling study (speedup,
 * efficiency, Karp-Flatt, the first K below an efficiency threshold, a least-squares Amdahl fit);
 * a linear fit for alpha-beta; an open-loop Poisson load generator that measures every request
 * from its intended send time (no coordinated omission) and reports goodput at an SLO and the
 * live Little's L, with an M/M/1 discrete-event twin and a static-batching queue (3.4.2);
 * deterministic (fixed-order) vs arrival-order reductions; summation orders; and the environment
 * of a run as JSON. Nothing here is shared between threads.
 */
#ifndef SCALEOUT_HARNESS_H
#define SCALEOUT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "scaleout/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- trials ---- */

typedef struct so_trials {
    size_t n;                       /* timed trials */
    double median, mean, stdev;     /* stdev with ddof 0 (Python's pstdev) */
    double p25, p75, iqr, min, max; /* numpy-style percentiles */
    double cold;                    /* the first call, warm-up or not */
} so_trials;

/* Statistics of n samples (seconds or any unit); cold is set to x[0]. */
void so_trials_summarize(const double *x, size_t n, so_trials *out);
/* Calls fn(arg) `warmup` times untimed, then `trials` times timed (seconds) into samples
 * (caller storage, `trials` doubles); out->cold is the very first call's time. */
int so_harness_trials(void (*fn)(void *), void *arg, int warmup, int trials, double *samples,
                      so_trials *out);
/* The same on a group: a barrier before each call, each sample the max over ranks (the step
 * is as slow as its slowest rank). Collective; every rank gets the same samples. */
int so_harness_trials_comm(so_comm *c, void (*fn)(void *), void *arg, int warmup, int trials,
                           double *samples, so_trials *out);

/* ---- scaling study and fits ---- */

typedef struct so_scaling_row {
    int k;
    double t, speedup, eff, karp_flatt; /* karp_flatt is NaN at K = 1 */
} so_scaling_row;

/* rows[i] for n measured (k[i], t[i]) with k[0] the baseline (usually 1): S = t0 k0 / t... with
 * speedup relative to k[0] scaled so that S(k0) = k0. Returns the index of the first row whose
 * efficiency is below `threshold` (-1 if none). *amdahl_serial receives the least-squares serial
 * fraction s of 1/S = s + (1 - s)/K over the rows (clamped to [0, 1]). weak != 0: t are
 * weak-scaling times (work per rank fixed): efficiency t0 / t, scaled speedup K eff. */
int so_scaling_study(const int *k, const double *t, int n, int weak, double threshold,
                     so_scaling_row *rows, double *amdahl_serial);
/* Least squares y = a + b x over n points (n >= 2); *r2 (if not NULL) the coefficient of
 * determination. */
void so_fit_linear(const double *x, const double *y, int n, double *a, double *b, double *r2);

/* ---- open-loop load generation ---- */

/* A service call: handles request `id` and returns when it is done (0) or failed (< 0). */
typedef int (*so_serve_fn)(void *arg, uint64_t id);

typedef struct so_loadgen_cfg {
    double rate;     /* offered requests per second (Poisson arrivals) */
    size_t requests; /* how many */
    uint64_t seed;   /* of the arrival schedule */
    double slo_s;    /* a request is good if its latency <= slo_s */
    int closed_loop; /* 1: measure from the actual send (coordinated omission, for contrast) */
} so_loadgen_cfg;

typedef struct so_loadgen_result {
    size_t n, good, failed;
    double duration_s, throughput, goodput; /* completions and good completions per second */
    double mean_s, p50_s, p95_s, p99_s, p999_s, max_s;
    double max_send_lag_s; /* worst lateness of a send behind its schedule */
    double in_system;      /* time-averaged requests in the system (arrived by schedule, not yet
                              complete), sampled while running: Little's L, to set beside
                              throughput x mean latency (so_loadgen_run_async only; else 0) */
} so_loadgen_result;

/* Schedules `requests` Poisson arrivals at cfg->rate from cfg->seed before starting (the
 * schedule never depends on completions), sends each at its time (or as soon as the previous
 * call returns, if late) and measures its latency from the scheduled time. lat_s (optional,
 * `requests` doubles) receives each latency. One outstanding call at a time: with a FIFO service
 * this is a single-server queue. SO_EINVAL for a bad configuration, SO_ENOMEM. */
int so_loadgen_run(const so_loadgen_cfg *cfg, so_serve_fn serve, void *arg, double *lat_s,
                   so_loadgen_result *out);
/* Truly open loop with many requests outstanding: send(arg, id) starts request id without
 * waiting for it, poll(arg, &id, &got) reports one completed request (got = 1) or none. Requests
 * are started at their scheduled times whatever is outstanding; between events the generator
 * sleeps at most 50 us. Latency counts from the scheduled time (or, with closed_loop, from the
 * actual start). This is what a load balancer in front of a queueing server sees. */
typedef struct so_loadgen_ops {
    int (*send)(void *arg, uint64_t id, double scheduled_s);
    int (*poll)(void *arg, uint64_t *id, int *got);
} so_loadgen_ops;
int so_loadgen_run_async(const so_loadgen_cfg *cfg, const so_loadgen_ops *ops, void *arg,
                         double *lat_s, so_loadgen_result *out);
/* The same arrival schedule against a simulated single FIFO server with exponential service
 * times of rate mu (an M/M/1 queue in virtual time): what so_loadgen_run would measure against
 * an ideal server. Deterministic for a seed. */
int so_loadgen_simulate_mm1(const so_loadgen_cfg *cfg, double mu, so_loadgen_result *out);

/* 3.4.2: a static batching server in virtual time: Poisson arrivals at `rate`, a batch starts
 * when `batch` requests are waiting and the server is free, and takes fixed_s + per_item_s *
 * batch. Latency is completion minus arrival. out->in_system is the time-averaged number in the
 * system over the run (Little's L, to compare with rate x mean latency). Deterministic per seed. */
int so_batchq_simulate(double rate, int batch, double fixed_s, double per_item_s, size_t requests,
                       uint64_t seed, so_loadgen_result *out);

/* ---- reproducibility ---- */

/* Sum of n f64 vectors from every rank at root, adding the ranks' vectors in the order they
 * ARRIVE (nondeterministic bits) or in rank order 0, 1, ..., K-1 (deterministic: bitwise the same
 * every run whatever the arrival order). out is needed at root only. Collective. */
int so_reduce_arrival_order(so_comm *c, const double *x, double *out, size_t n, int root);
int so_reduce_fixed_order(so_comm *c, const double *x, double *out, size_t n, int root);
/* Summation orders of one array (5.7.1): left to right, right to left, pairwise (blocks of 8
 * summed left to right, then halves recursively), Kahan compensated. */
double so_sum_forward(const double *x, size_t n);
double so_sum_reverse(const double *x, size_t n);
double so_sum_pairwise(const double *x, size_t n);
double so_sum_kahan(const double *x, size_t n);

/* The environment of this run as one JSON object: time, host, cpu model, online cores, kernel,
 * compiler, build type, git commit (read from the source tree's .git), load averages and the
 * SO_* variables set. Returns the length written (truncated to cap - 1), or a negative error. */
int so_env_capture_json(char *buf, size_t cap);
/* The same into a file, written atomically (temp file, fsync, rename). */
int so_env_write_json(const char *path);

#ifdef __cplusplus
}
#endif
#endif
