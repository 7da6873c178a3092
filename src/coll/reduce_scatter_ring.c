/*
 * Reduce-scatter, ring. The input holds K blocks of recvcount elements; rank r must end with
 * block r reduced over all ranks. In step s (0..K-2) rank r sends its partial block r-s-1 to its
 * right neighbour and receive-reduces block r-s-2 from its left one, combining it with its own
 * input block; the last step (s = K-2) delivers block r, reduced straight into recv.
 * Partial blocks live in a double buffer (scratch 0, two blocks), so the input is never written.
 *
 * Cost (K ranks, n = K*recvcount elements of input): K-1 messages and (K-1)/K n bytes sent per
 * rank. Time (K-1) alpha + (K-1)/K n beta. Limits: K-1 latency terms; recv may equal
 * send + rank*recvcount (in place), other overlaps are staged by the entry point.
 * Bitwise identity: each block is reduced once, along the ring, in the same order as the ring
 * all-reduce's first half (allreduce_ring.c), so RS followed by AG equals that all-reduce.
 *
 * Trace, 4 ranks, blocks 0..3 (sets = ranks summed so far):
 *   step 0: r0 sends blk3 -> r1 (r1 blk3 {0,1}); r1 blk0 -> r2; r2 blk1 -> r3; r3 blk2 -> r0
 *   step 1: r1 sends blk3 {0,1} -> r2 (r2 blk3 {0,1,2}); ...
 *   step 2: r2 sends blk3 {0,1,2} -> r3: r3 recv = blk3 {0,1,2,3}; likewise r0 gets blk0, ...
 */
#include "coll_internal.h"

int so__reduce_scatter_ring(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                            so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int right = so__mod(r + 1, k), left = so__mod(r - 1, k);
    size_t es = so_dtype_size(dt), bb = recvcount * es;
    const char *sb = send;
    char *tmp = NULL;
    if (k > 2) {
        tmp = so__scratch(c, 0, 2 * bb);
        if (!tmp) {
            return SO_ENOMEM;
        }
    }
    for (int s = 0; s <= k - 2; s++) {
        int sblk = so__mod(r - s - 1, k), rblk = so__mod(r - s - 2, k);
        const void *sbuf = (s == 0) ? sb + (size_t)sblk * bb : tmp + (size_t)((s - 1) % 2) * bb;
        void *dst = (s == k - 2) ? recv : tmp + (size_t)(s % 2) * bb;
        SO_TRY(so__sendrecv_reduce(c, right, sbuf, bb, left, dst, sb + (size_t)rblk * bb, recvcount,
                                   dt, op));
    }
    return SO_OK;
}
