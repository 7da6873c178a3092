/*
 * Gather and scatter, linear: the root exchanges one block with every other rank. It posts all
 * K-1 transfers at once (so__xfer_all), so they progress together and no slow rank holds up
 * the others; every other rank does one send (gather) or one receive (scatter).
 *
 * Cost (K ranks, block b bytes): the root moves (K-1) b bytes in K-1 messages, the others b in
 * one. Time (K-1)(alpha + b beta) at the root, which is optimal in bytes (everything must reach
 * or leave the root) and fine for the actor-learner sizes the book uses.
 * Limits: K-1 latency terms at the root (a binomial tree would pay ceil(log2 K)).
 *
 * Trace, 4 ranks, root 0, gather: r1, r2, r3 send B, C, D at once; r0 copies A and receives
 * them into slots 1, 2, 3. Scatter is the same with the arrows reversed.
 */
#include "coll_internal.h"

static int linear(so_comm *c, char *rootbuf, char *mine, size_t block, int root, int to_root) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    if (r != root) {
        return to_root ? so__send(c, root, mine, block) : so__recv(c, root, mine, block);
    }
    if (mine != rootbuf + (size_t)r * block) {
        if (to_root) {
            memmove(rootbuf + (size_t)r * block, mine, block);
        } else {
            memmove(mine, rootbuf + (size_t)r * block, block);
        }
    }
    so__xfer *xs = so__scratch(c, 1, (size_t)(k - 1) * sizeof *xs);
    if (!xs) {
        return SO_ENOMEM;
    }
    int nx = 0;
    for (int p = 0; p < k; p++) {
        if (p == r) {
            continue;
        }
        so__xfer *x = &xs[nx++];
        memset(x, 0, sizeof *x);
        x->peer = p;
        x->is_send = !to_root;
        x->buf = rootbuf + (size_t)p * block;
        x->len = block;
    }
    return so__xfer_all(c, xs, nx);
}

int so__gather_linear(so_comm *c, const void *send, void *recv, size_t block, int root) {
    return linear(c, recv, (char *)send, block, root, 1);
}

int so__scatter_linear(so_comm *c, const void *send, void *recv, size_t block, int root) {
    return linear(c, (char *)send, recv, block, root, 0);
}
