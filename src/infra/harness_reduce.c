/*
 * Reproducible reductions (book 5.7): floating-point addition is not associative, so a sum whose
 * order follows message arrival changes its last bits from run to run. Fixing the order makes it
 * bitwise reproducible at the same cost.
 *
 * Both functions gather every rank's vector at root with point-to-point messages (one irecv per
 * peer posted at once). The arrival-order version polls the receives and adds each vector the
 * moment it lands; the fixed-order version waits for all of them and adds rank 0, 1, ..., K-1.
 * Also four summation orders of one array: forward, reverse, pairwise and Kahan. Cost: K - 1
 * messages of 8 n bytes into root and K n doubles of memory there; the arrival version spins on
 * so_test. Limits: a linear gather, meant for demonstrations and checks, not as a fast collective.
 */
#include <stdlib.h>
#include <string.h>

#include "scaleout/core.h"
#include "scaleout/harness.h"

enum { RED_TAG = 0x5ED };

static int red_gather(so_comm *c, const double *x, double *out, size_t n, int root, int arrival) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    if (root < 0 || root >= k) {
        return so__fail(SO_EINVAL, "reduce root %d outside a group of %d", root, k);
    }
    if (r != root) {
        return so_send(c, x, n * sizeof(double), root, RED_TAG);
    }
    double *bufs = malloc((size_t)k * n * sizeof(double) + 1);
    so_request **req = calloc((size_t)k, sizeof *req);
    char *done = calloc((size_t)k, 1);
    int rc = SO_OK;
    if (!bufs || !req || !done) {
        rc = so__fail(SO_ENOMEM, "out of memory gathering %d vectors of %zu doubles", k, n);
        goto out;
    }
    for (int q = 0; q < k && rc == SO_OK; q++) {
        if (q != root) {
            rc = so_irecv(c, bufs + (size_t)q * n, n * sizeof(double), q, RED_TAG, &req[q]);
        }
    }
    memcpy(out, x, n * sizeof(double)); /* arrival order: root's own vector first */
    if (!arrival) {
        if (rc == SO_OK) {
            memcpy(bufs + (size_t)root * n, x, n * sizeof(double));
        }
        for (int q = 0; q < k && rc == SO_OK; q++) {
            if (q != root) {
                rc = so_wait(req[q]);
                req[q] = NULL;
            }
        }
        if (rc == SO_OK) {
            memcpy(out, bufs, n * sizeof(double));
            for (int q = 1; q < k; q++) {
                const double *v = bufs + (size_t)q * n;
                for (size_t i = 0; i < n; i++) {
                    out[i] += v[i];
                }
            }
        }
        goto out;
    }
    for (int left = k - 1; left > 0 && rc == SO_OK;) {
        for (int q = 0; q < k && rc == SO_OK; q++) {
            if (q == root || done[q]) {
                continue;
            }
            int fin = 0;
            rc = so_test(req[q], &fin);
            if (rc == SO_OK && fin) {
                req[q] = NULL;
                done[q] = 1;
                left--;
                const double *v = bufs + (size_t)q * n;
                for (size_t i = 0; i < n; i++) {
                    out[i] += v[i];
                }
            } else if (rc != SO_OK) {
                req[q] = NULL;
            }
        }
    }
out:
    for (int q = 0; req && q < k; q++) {
        if (req[q]) {
            so_wait(req[q]); /* the group is poisoned after a failure; this only frees */
        }
    }
    free(bufs);
    free(req);
    free(done);
    return rc;
}

int so_reduce_arrival_order(so_comm *c, const double *x, double *out, size_t n, int root) {
    return red_gather(c, x, out, n, root, 1);
}

int so_reduce_fixed_order(so_comm *c, const double *x, double *out, size_t n, int root) {
    return red_gather(c, x, out, n, root, 0);
}

double so_sum_forward(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
    }
    return s;
}

double so_sum_reverse(const double *x, size_t n) {
    double s = 0;
    for (size_t i = n; i > 0; i--) {
        s += x[i - 1];
    }
    return s;
}

double so_sum_pairwise(const double *x, size_t n) {
    if (n <= 8) {
        return so_sum_forward(x, n);
    }
    size_t h = n / 2;
    return so_sum_pairwise(x, h) + so_sum_pairwise(x + h, n - h);
}

double so_sum_kahan(const double *x, size_t n) {
    double s = 0, comp = 0;
    for (size_t i = 0; i < n; i++) {
        double y = x[i] - comp, t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    return s;
}
