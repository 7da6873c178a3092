/*
 * Ring gossip on a process group (book 1.4.1): decentralised averaging without an all-reduce.
 *
 * One round: every rank exchanges its vector with both ring neighbours (two sendrecvs, one per
 * direction) and mixes x = w x + (1 - w) / 2 (x_left + x_right). The mixing matrix is symmetric
 * and doubly stochastic, so the mean is preserved and the disagreement contracts by its second
 * eigenvalue w + (1 - w) cos(2 pi / K) per round. Cost per round: 2 messages of 8 n bytes per
 * rank, 2 alpha + 16 n beta; O(n) extra memory. Limits: the ring is the rank order.
 */
#include <stdlib.h>

#include "scaleout/coll.h"
#include "scaleout/core.h"
#include "scaleout/dist.h"

enum { GOSSIP_TAG_RIGHT = 0x60551, GOSSIP_TAG_LEFT = 0x60552 };

int so_gossip_ring_round(so_comm *c, double *x, size_t n, double self_weight) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    if (k < 2 || n == 0) {
        return SO_OK;
    }
    int right = (r + 1) % k, left = (r + k - 1) % k;
    double *from_left = malloc(2 * n * sizeof(double));
    if (!from_left) {
        return so__fail(SO_ENOMEM, "out of memory for a gossip round of %zu doubles", n);
    }
    double *from_right = from_left + n;
    /* Send right / receive from the left, then send left / receive from the right. */
    int rc = so_sendrecv(c, x, n * sizeof(double), right, from_left, n * sizeof(double), left,
                         GOSSIP_TAG_RIGHT);
    if (rc == SO_OK) {
        rc = so_sendrecv(c, x, n * sizeof(double), left, from_right, n * sizeof(double), right,
                         GOSSIP_TAG_LEFT);
    }
    if (rc == SO_OK) {
        double side = 0.5 * (1.0 - self_weight);
        for (size_t i = 0; i < n; i++) {
            x[i] = self_weight * x[i] + side * (from_left[i] + from_right[i]);
        }
    }
    free(from_left);
    return rc;
}
