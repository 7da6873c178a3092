/*
 * Reduce to a root over a binomial tree. In relative ranks v = (rank - root) mod K, at round
 * j = 0, 1, ... a rank whose bit j is set sends its partial result to v - 2^j and stops; a rank
 * whose bit j is clear receive-reduces the partial result of v + 2^j (if that rank exists). Each
 * rank combines its children in a fixed order (nearest first), so the result is deterministic.
 *
 * Cost (K ranks, n bytes): ceil(log2 K) rounds; the root receives ceil(log2 K) vectors, every
 * other rank sends exactly one. Time ceil(log2 K)(alpha + n beta). Limits: bandwidth-poor for
 * large n (every round moves the whole vector); non-roots with children need a work vector.
 *
 * Trace, 4 ranks, root 0, inputs a b c d:
 *   round 0: r1 -> r0 (r0: a+b), r3 -> r2 (r2: c+d)
 *   round 1: r2 -> r0 (r0: (a+b)+(c+d))
 */
#include "coll_internal.h"

int so__reduce_tree(so_comm *c, const void *send, void *recv, void *work, size_t count, so_dtype dt,
                    so_op op, int root) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int v = so__mod(r - root, k);
    size_t bytes = count * so_dtype_size(dt);
    void *acc = (v == 0) ? recv : work;
    const void *cur = send; /* the partial result so far: send until something is combined */
    for (int mask = 1; mask < k; mask <<= 1) {
        if (v & mask) {
            return so__send(c, so__mod(v - mask + root, k), cur, bytes);
        }
        if (v + mask < k) {
            if (!acc) {
                acc = so__scratch(c, 0, bytes);
                if (!acc) {
                    return SO_ENOMEM;
                }
            }
            SO_TRY(so__recv_reduce(c, so__mod(v + mask + root, k), acc, cur == acc ? NULL : cur,
                                   count, dt, op));
            cur = acc;
        }
    }
    if (cur != recv) { /* only a root without children (K == 1) gets here with cur == send */
        memmove(recv, cur, bytes);
    }
    return SO_OK;
}
