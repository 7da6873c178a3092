/*
 * BSP supersteps (book 2.2.1): compute, barrier, communicate. The superstep takes as long as
 * its slowest worker plus the communication, and everyone else idles at the barrier.
 *
 * so_bsp_draw reproduces the listing's random draws (random.seed(seed), uniform jitter worker by
 * worker, step by step) with so_mt; so_bsp_model_step prices one step. so_bsp_superstep runs a
 * real one on the group: an entry barrier gives a common start, each rank sleeps its compute
 * time, meets the others at a barrier, then all-reduces comm_bytes and sleeps comm_s (the book's
 * fixed communication cost); the times are all-reduced (MAX and SUM) so every rank knows them.
 * Cost: 2 barriers, 2 small all-reduces plus the payload. Limits: sleeping is not computing (the
 * point is the barrier); timing resolution is the scheduler's (tens of microseconds).
 */
#include <stdlib.h>
#include <string.h>

#include "scaleout/coll.h"
#include "scaleout/core.h"
#include "scaleout/dist.h"

void so_bsp_draw(uint64_t seed, const double *base, int nbase, int workers, int steps,
                 double jitter, double *compute) {
    so_mt m;
    so_mt_seed(&m, seed);
    for (int s = 0; s < steps; s++) {
        for (int w = 0; w < workers; w++) {
            compute[(size_t)s * (size_t)workers + (size_t)w] =
                base[w % nbase] + so_mt_uniform(&m, -jitter, jitter);
        }
    }
}

double so_bsp_model_step(const double *compute, int workers, double comm, double *idle) {
    double mx = compute[0];
    for (int w = 1; w < workers; w++) {
        mx = compute[w] > mx ? compute[w] : mx;
    }
    if (idle) {
        double s = 0;
        for (int w = 0; w < workers; w++) {
            s += mx - compute[w];
        }
        *idle = s;
    }
    return mx + comm;
}

int so_bsp_superstep(so_comm *c, double compute_s, size_t comm_bytes, double comm_s,
                     so_bsp_step *out) {
    memset(out, 0, sizeof *out);
    SO_TRY(so_barrier(c));
    double t0 = so_now_s();
    if (compute_s > 0) {
        so_sleep_ns((int64_t)(compute_s * 1e9));
    }
    double t1 = so_now_s();
    SO_TRY(so_barrier(c));
    double t2 = so_now_s();
    if (comm_bytes >= sizeof(float)) {
        size_t n = comm_bytes / sizeof(float);
        float *g = calloc(n, sizeof(float));
        if (!g) {
            return so__fail(SO_ENOMEM, "out of memory for a %zu-byte superstep payload",
                            comm_bytes);
        }
        int rc = so_allreduce(c, g, g, n, SO_F32, SO_SUM);
        free(g);
        SO_TRY(rc);
    }
    if (comm_s > 0) {
        so_sleep_ns((int64_t)(comm_s * 1e9));
    }
    double t3 = so_now_s();
    out->compute_s = t1 - t0;
    out->wait_s = t2 - t1;
    /* [2] latest arrival at the barrier, [3] minus the earliest exit from it. */
    double mx[4] = {t3 - t0, t1 - t0, t1, -t2}, idle = t2 - t1;
    SO_TRY(so_allreduce(c, mx, mx, 4, SO_F64, SO_MAX));
    out->barrier_held = so_comm_nhosts(c) > 1 || -mx[3] >= mx[2];
    SO_TRY(so_allreduce(c, &idle, &idle, 1, SO_F64, SO_SUM));
    out->step_s = mx[0];
    out->compute_max_s = mx[1];
    out->idle_sum_s = idle;
    return SO_OK;
}
