/*
 * Reduce-scatter, recursive halving. With K a power of two, the halving core (util.c) runs on
 * the K blocks directly: at distance K/2, K/4, ..., 1 each rank keeps the half of its block range
 * that contains its own block, sends the other half to rank ^ d and receive-reduces the half it
 * keeps. After log2 K steps rank r holds block r.
 *
 * K not a power of two, K = pof2 + rem: the 2*rem lowest ranks fold in pairs (the even rank sends
 * its whole input to the odd one, which reduces it into a work vector). The pof2 remaining
 * virtual ranks halve over pof2 segments, where the segment of a virtual rank standing for a pair
 * covers both ranks' blocks (2v, 2v+1) and the segment of any other rank just its own block; so
 * segments are contiguous and in order. At the end each odd rank sends block 2v to its even
 * partner.
 *
 * Cost (K ranks, n = K*recvcount elements of input), K a power of two: log2 K messages and
 * (K-1)/K n bytes sent per rank; time log2 K alpha + (K-1)/K n beta. Otherwise the folding pairs
 * add alpha + n beta (fold) and alpha + n/K beta (delivery). Work vector: n elements (scratch 0).
 * Limits: partners far apart in rank space.
 * Bitwise identity: each block is reduced once, on its owner.
 *
 * Trace, 4 ranks, blocks 0..3:
 *   d=2: r0<->r2, r1<->r3; r0,r1 keep blocks 0,1 (reduced over 2 ranks), r2,r3 keep 2,3
 *   d=1: r0<->r1, r2<->r3; r0 keeps block 0, r1 block 1, ... (reduced over 4 ranks)
 */
#include "coll_internal.h"

int so__reduce_scatter_halving(so_comm *c, const void *send, void *recv, size_t recvcount,
                               so_dtype dt, so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int pof2 = so__pof2_floor(k), rem = k - pof2;
    size_t es = so_dtype_size(dt), bb = recvcount * es, n = (size_t)k * recvcount;
    if (r < 2 * rem && (r & 1) == 0) {
        SO_TRY(so__send(c, r + 1, send, n * es));
        return so__recv(c, r + 1, recv, bb);
    }
    char *w = so__scratch(c, 0, n * es);
    size_t *seg = so__scratch(c, 1, (size_t)(pof2 + 1) * sizeof *seg);
    if (!w || !seg) {
        return SO_ENOMEM;
    }
    const void *in = send;
    if (r < 2 * rem) {
        SO_TRY(so__recv_reduce(c, r - 1, w, send, n, dt, op));
        in = w;
    }
    for (int v = 0; v <= pof2; v++) {
        int first_blk = v < rem ? 2 * v : v + rem;
        seg[v] = (size_t)first_blk * recvcount;
    }
    int vr = so__vrank(r, rem);
    SO_TRY(so__halving_core(c, vr, pof2, rem, seg, in, w, dt, op));
    if (r < 2 * rem) {
        SO_TRY(so__send(c, r - 1, w + (size_t)(r - 1) * bb, bb));
    }
    memcpy(recv, w + (size_t)r * bb, bb);
    return SO_OK;
}
