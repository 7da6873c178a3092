/*
 * Barrier, dissemination (Hensgen, Finkel and Manber): in round j = 0, 1, ... rank r sends an
 * empty message to r + 2^j and waits for one from r - 2^j. After ceil(log2 K) rounds every rank
 * has heard, directly or through others, from every rank, so none can leave before all arrived.
 * A zero-byte message still carries its header, which is all a barrier needs.
 *
 * Cost (K ranks): ceil(log2 K) messages of zero payload per rank; time ceil(log2 K) alpha.
 * Limits: none; works for any K, with no root.
 *
 * Trace, 4 ranks: round 0: r -> r+1 (r0->r1, r1->r2, r2->r3, r3->r0);
 *                 round 1: r -> r+2 (r0->r2, r1->r3, r2->r0, r3->r1). Now r0 knows of r3 (round 0)
 *                 and of r2, r1 (r2 heard from r1 in round 0, then told r0 in round 1).
 */
#include "coll_internal.h"

int so__barrier_dissemination(so_comm *c) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    char dummy = 0;
    for (int d = 1; d < k; d <<= 1) {
        SO_TRY(so__sendrecv(c, so__mod(r + d, k), &dummy, 0, so__mod(r - d, k), &dummy, 0));
    }
    return SO_OK;
}
