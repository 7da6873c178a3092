/*
 * Open-loop Poisson load generator (book 5.3): offered load that does not slow down when the
 * system does, and latencies measured from when each request SHOULD have been sent.
 *
 * The whole arrival schedule (exponential gaps at the offered rate, from the seed) is drawn
 * before the run, so it never depends on completions. Each request is sent at its scheduled time
 * or, if the previous call is still running, right after it; its latency counts from the
 * scheduled time, so a stall is charged to every request it delayed (no coordinated omission,
 * the correction wrk2 makes). With closed_loop = 1 latency counts from the actual send instead,
 * which is what a naive closed-loop tester reports. One call is outstanding at a time, so
 * against a FIFO server this is a single-server queue; so_loadgen_simulate_mm1 runs the same
 * schedule against a virtual exponential server. Cost: 8 bytes per request for the schedule and
 * the latencies; sleeping via so_sleep_ns (tens of microseconds of wake-up jitter).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/core.h"
#include "scaleout/harness.h"

static int lg_check(const so_loadgen_cfg *cfg) {
    if (!cfg || !(cfg->rate > 0) || cfg->requests < 1 || !(cfg->slo_s > 0)) {
        return so__fail(SO_EINVAL, "a load needs rate > 0, requests >= 1 and an SLO > 0");
    }
    return SO_OK;
}

/* Arrival offsets (seconds from the start) of a Poisson process. */
static double *lg_schedule(const so_loadgen_cfg *cfg) {
    double *at = malloc(cfg->requests * sizeof *at);
    if (!at) {
        return NULL;
    }
    so_rng g;
    so_rng_seed(&g, cfg->seed);
    double t = 0;
    for (size_t i = 0; i < cfg->requests; i++) {
        t += -log(1.0 - so_rng_double(&g)) / cfg->rate;
        at[i] = t;
    }
    return at;
}

static void lg_finish(const so_loadgen_cfg *cfg, double *lat, size_t n, double duration,
                      so_loadgen_result *out) {
    out->n = n;
    out->duration_s = duration;
    out->good = 0;
    for (size_t i = 0; i < n; i++) {
        out->good += lat[i] <= cfg->slo_s;
    }
    out->throughput = duration > 0 ? (double)(n - out->failed) / duration : 0;
    out->goodput = duration > 0 ? (double)out->good / duration : 0;
    static const double q[4] = {50, 95, 99, 99.9};
    double p[4] = {0, 0, 0, 0};
    so_stats_percentiles(lat, n, q, 4, p);
    out->p50_s = p[0], out->p95_s = p[1], out->p99_s = p[2], out->p999_s = p[3];
    out->mean_s = so_stats_mean(lat, n);
    out->max_s = so_stats_max(lat, n);
}

int so_loadgen_run(const so_loadgen_cfg *cfg, so_serve_fn serve, void *arg, double *lat_s,
                   so_loadgen_result *out) {
    memset(out, 0, sizeof *out);
    SO_TRY(lg_check(cfg));
    if (!serve) {
        return so__fail(SO_EINVAL, "a load needs a service function");
    }
    double *at = lg_schedule(cfg), *lat = lat_s ? lat_s : malloc(cfg->requests * sizeof *lat);
    if (!at || !lat) {
        free(at);
        if (!lat_s) {
            free(lat);
        }
        return so__fail(SO_ENOMEM, "out of memory for a schedule of %zu requests", cfg->requests);
    }
    double t0 = so_now_s();
    for (size_t i = 0; i < cfg->requests; i++) {
        double due = t0 + at[i], now = so_now_s();
        if (now < due) {
            so_sleep_ns((int64_t)((due - now) * 1e9));
            now = so_now_s();
        }
        out->max_send_lag_s = fmax(out->max_send_lag_s, now - due);
        int rc = serve(arg, (uint64_t)i);
        double done = so_now_s();
        out->failed += rc < 0;
        lat[i] = done - (cfg->closed_loop ? now : due);
    }
    lg_finish(cfg, lat, cfg->requests, so_now_s() - t0, out);
    free(at);
    if (!lat_s) {
        free(lat);
    }
    return SO_OK;
}

int so_loadgen_run_async(const so_loadgen_cfg *cfg, const so_loadgen_ops *ops, void *arg,
                         double *lat_s, so_loadgen_result *out) {
    memset(out, 0, sizeof *out);
    SO_TRY(lg_check(cfg));
    if (!ops || !ops->send || !ops->poll) {
        return so__fail(SO_EINVAL, "an asynchronous load needs send and poll functions");
    }
    size_t n = cfg->requests, sent = 0, done = 0;
    double *at = lg_schedule(cfg), *lat = lat_s ? lat_s : malloc(n * sizeof *lat);
    double *started = malloc(n * sizeof *started);
    int rc = SO_OK;
    if (!at || !lat || !started) {
        rc = so__fail(SO_ENOMEM, "out of memory for a schedule of %zu requests", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        lat[i] = NAN;
    }
    double t0 = so_now_s(), t_prev = t0, area = 0;
    size_t arrived = 0;
    while (done < n && rc == SO_OK) {
        double now = so_now_s();
        /* Little's L, sampled: requests whose scheduled time has passed and that are not done,
         * integrated over time between loop iterations (~50 us apart); a request that arrived
         * since the last look is counted from its scheduled time. */
        area += (double)(arrived - done) * (now - t_prev);
        t_prev = now;
        while (arrived < n && t0 + at[arrived] <= now) {
            area += now - (t0 + at[arrived]);
            arrived++;
        }
        if (sent < n && now >= t0 + at[sent]) {
            out->max_send_lag_s = fmax(out->max_send_lag_s, now - (t0 + at[sent]));
            started[sent] = now;
            rc = ops->send(arg, (uint64_t)sent, t0 + at[sent]);
            sent++;
            continue;
        }
        uint64_t id = 0;
        int got = 0;
        rc = ops->poll(arg, &id, &got);
        if (rc == SO_OK && got) {
            if (id >= sent || !isnan(lat[id])) {
                rc = so__fail(SO_EPROTO, "completion of request %llu that is not outstanding",
                              (unsigned long long)id);
                break;
            }
            double fin = so_now_s();
            lat[id] = fin - (cfg->closed_loop ? started[id] : t0 + at[id]);
            done++;
            continue;
        }
        double wait = sent < n ? t0 + at[sent] - so_now_s() : 50e-6;
        if (rc == SO_OK && wait > 0) {
            so_sleep_ns((int64_t)(fmin(wait, 50e-6) * 1e9));
        }
    }
    if (rc == SO_OK) {
        double end = so_now_s();
        area += (double)(arrived - done) * (end - t_prev);
        lg_finish(cfg, lat, n, end - t0, out);
        out->in_system = end > t0 ? area / (end - t0) : 0;
    }
out:
    free(at);
    free(started);
    if (!lat_s) {
        free(lat);
    }
    return rc;
}

int so_loadgen_simulate_mm1(const so_loadgen_cfg *cfg, double mu, so_loadgen_result *out) {
    memset(out, 0, sizeof *out);
    SO_TRY(lg_check(cfg));
    if (!(mu > 0)) {
        return so__fail(SO_EINVAL, "a simulated server needs a service rate > 0");
    }
    double *at = lg_schedule(cfg), *lat = malloc(cfg->requests * sizeof *lat);
    if (!at || !lat) {
        free(at);
        free(lat);
        return so__fail(SO_ENOMEM, "out of memory for a schedule of %zu requests", cfg->requests);
    }
    so_rng g;
    so_rng_seed(&g, cfg->seed ^ 0x5EB71CE5ULL);
    double free_at = 0, end = 0;
    for (size_t i = 0; i < cfg->requests; i++) {
        double start = fmax(at[i], free_at), svc = -log(1.0 - so_rng_double(&g)) / mu;
        free_at = start + svc;
        out->max_send_lag_s = fmax(out->max_send_lag_s, start - at[i]);
        lat[i] = free_at - (cfg->closed_loop ? start : at[i]);
        end = free_at;
    }
    lg_finish(cfg, lat, cfg->requests, end, out);
    free(at);
    free(lat);
    return SO_OK;
}

int so_batchq_simulate(double rate, int batch, double fixed_s, double per_item_s, size_t requests,
                       uint64_t seed, so_loadgen_result *out) {
    memset(out, 0, sizeof *out);
    so_loadgen_cfg cfg = {rate, requests, seed, 1e300, 0};
    SO_TRY(lg_check(&cfg));
    if (batch < 1 || fixed_s < 0 || per_item_s < 0) {
        return so__fail(SO_EINVAL, "a batch queue needs batch >= 1 and non-negative service times");
    }
    size_t n = requests / (size_t)batch * (size_t)batch; /* whole batches only */
    if (n == 0) {
        return so__fail(SO_EINVAL, "fewer requests (%zu) than one batch (%d)", requests, batch);
    }
    cfg.requests = n;
    double *at = lg_schedule(&cfg), *lat = malloc(n * sizeof *lat);
    if (!at || !lat) {
        free(at);
        free(lat);
        return so__fail(SO_ENOMEM, "out of memory for %zu requests", n);
    }
    double free_at = 0, area = 0;
    for (size_t i = 0; i < n; i += (size_t)batch) {
        double start = fmax(at[i + (size_t)batch - 1], free_at);
        free_at = start + fixed_s + per_item_s * batch;
        for (size_t j = i; j < i + (size_t)batch; j++) {
            lat[j] = free_at - at[j];
            area += lat[j]; /* each request is in the system from arrival to completion */
        }
    }
    cfg.slo_s = 1e300;
    lg_finish(&cfg, lat, n, free_at, out);
    out->in_system = area / free_at;
    free(at);
    free(lat);
    return SO_OK;
}
