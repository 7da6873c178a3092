/*
 * Broadcast, pipelined chain. The ranks form a chain in relative order root, root+1, ...,
 * root+K-1; the buffer is cut into m chunks of at most SO_COLL_CHUNK_BYTES. In tick j each rank
 * receives chunk j from its predecessor while it forwards chunk j-1 to its successor, so all
 * links are busy at once and a large buffer streams down the chain.
 *
 * Cost (K ranks, n bytes, m chunks): every rank but the last sends n bytes in m messages; the
 * whole takes K-1+m-1 ticks: time (K+m-2)(alpha + n/m beta), which for large n approaches
 * n beta — independent of K, where the binomial tree pays ceil(log2 K) n beta.
 * Limits: for small n the K-1 latency terms lose to the tree.
 *
 * Trace, 4 ranks, root 0, 3 chunks x y z:
 *   tick 0: r0 -> r1 x
 *   tick 1: r0 -> r1 y, r1 -> r2 x
 *   tick 2: r0 -> r1 z, r1 -> r2 y, r2 -> r3 x
 *   tick 3: r1 -> r2 z, r2 -> r3 y
 *   tick 4: r2 -> r3 z
 */
#include "coll_internal.h"

int so__bcast_chain(so_comm *c, void *buf, size_t bytes, int root) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int v = so__mod(r - root, k);
    int prev = so__mod(r - 1, k), next = so__mod(r + 1, k);
    size_t chunk = so__coll_chunk_bytes();
    size_t m = (bytes + chunk - 1) / chunk;
    char *b = buf;
    /* Ticks are counted from this rank's point of view: it receives chunk j in tick j and
     * forwards it in tick j+1. */
    for (size_t j = 0; j <= m; j++) {
        size_t rlo = j * chunk, slo = (j - 1) * chunk;
        size_t rn = (v > 0 && j < m) ? (bytes - rlo < chunk ? bytes - rlo : chunk) : 0;
        size_t sn = (v < k - 1 && j >= 1) ? (bytes - slo < chunk ? bytes - slo : chunk) : 0;
        SO_TRY(so__xchg(c, next, sn ? b + slo : NULL, sn, prev, rn ? b + rlo : NULL, rn));
    }
    return SO_OK;
}
