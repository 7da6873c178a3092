/*
 * All-reduce over a binomial tree: reduce to rank 0 up the tree (reduce_tree.c), then broadcast
 * the result back down the same tree (bcast_tree.c).
 *
 * Cost (K ranks, n bytes): 2 ceil(log2 K) rounds of whole vectors. Rank 0 receives and sends
 * ceil(log2 K) vectors; a leaf sends one and receives one. Time 2 ceil(log2 K)(alpha + n beta):
 * few messages, so it wins for small vectors; every round carries all n bytes, so it loses to
 * the ring and halving-doubling for large ones. Limits: none (any K, any count).
 * Bitwise identity: only rank 0 holds the final sum; the broadcast copies its bytes.
 *
 * Trace, 4 ranks, inputs a b c d:
 *   up 1:   r1 -> r0 (a+b), r3 -> r2 (c+d)
 *   up 2:   r2 -> r0 (a+b+c+d)
 *   down 1: r0 -> r2
 *   down 2: r0 -> r1, r2 -> r3          everyone: a+b+c+d
 */
#include "coll_internal.h"

int so__allreduce_tree(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op) {
    SO_TRY(so__reduce_tree(c, send, recv, recv, count, dt, op, 0));
    return so__bcast_tree(c, recv, count * so_dtype_size(dt), 0);
}
