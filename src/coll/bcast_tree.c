/*
 * Broadcast over a binomial tree. In relative ranks v = (rank - root) mod K, a rank receives from
 * v - 2^j where 2^j is its lowest set bit, then sends to v + 2^i for every i < j (largest first),
 * so the set of ranks holding the data doubles every round.
 *
 * Cost (K ranks, n bytes): ceil(log2 K) rounds; the root sends ceil(log2 K) messages, every other
 * rank receives one and sends at most ceil(log2 K) - 1. Time ceil(log2 K)(alpha + n beta).
 * Limits: every round moves the whole buffer, so for large n the pipelined chain is faster.
 *
 * Trace, 4 ranks, root 0:
 *   round 1: r0 -> r2
 *   round 2: r0 -> r1, r2 -> r3
 */
#include "coll_internal.h"

int so__bcast_tree(so_comm *c, void *buf, size_t bytes, int root) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int v = so__mod(r - root, k);
    int mask = 1;
    while (mask < k) {
        if (v & mask) {
            SO_TRY(so__recv(c, so__mod(v - mask + root, k), buf, bytes));
            break;
        }
        mask <<= 1;
    }
    for (mask >>= 1; mask > 0; mask >>= 1) {
        if (v + mask < k) {
            SO_TRY(so__send(c, so__mod(v + mask + root, k), buf, bytes));
        }
    }
    return SO_OK;
}
