/*
 * All-reduce, ring: a ring reduce-scatter followed by a ring all-gather (Patarasuk and Yuan;
 * Baidu's "ring all-reduce"). The vector is cut into K blocks. In reduce-scatter step s
 * (0..K-2) rank r sends block r-s-1 to its right neighbour and receive-reduces block r-s-2 from
 * its left one straight into place (the transport combines each piece as it lands, no staging
 * copy); after K-1 steps rank r owns block r fully reduced. In all-gather step s rank r sends
 * block r-s and receives block r-s-1, so after K-1 more steps everyone holds everything.
 * Rank r ends reduce-scatter owning block r, exactly like so_reduce_scatter's ring, so
 * reduce-scatter followed by all-gather equals this all-reduce bit for bit.
 *
 * Pipelining: a block larger than the chunk size (so__coll_ring_chunk_bytes: SO_COLL_CHUNK_BYTES,
 * or SO_COLL_TCP_CHUNK_BYTES when the group uses tcp) is cut into m chunks, and chunk c of step
 * s goes out as soon as chunk c of step s-1 has arrived (a wavefront: at tick t every chunk c
 * with s = t - c in range moves), so large buffers stream through the ring instead of waiting
 * for whole blocks; the ring takes 2(K-1) + m - 1 ticks.
 *
 * Cost (K ranks, n bytes): 2(K-1) messages (times m when chunked) and 2(K-1)/K n bytes sent
 * per rank, the same received. Time 2(K-1) alpha + 2(K-1)/K n beta: bandwidth-optimal, but the
 * latency term grows with K. Limits: count < K leaves some blocks empty (they are skipped, the
 * result is still right, the selector just avoids the ring there).
 * Bitwise identity: block b is reduced once, along the ring, ending on rank b; the all-gather
 * only copies.
 *
 * Trace, 4 ranks, blocks 0..3, x_r = rank r's piece, sums written as rank lists:
 *   RS step 0: r0 sends blk3 to r1, r1 blk0 -> r2, r2 blk1 -> r3, r3 blk2 -> r0
 *              r1 blk3 = {0,1}, r2 blk0 = {1,2}, r3 blk1 = {2,3}, r0 blk2 = {3,0}
 *   RS step 1: r1 blk3 -> r2 = {0,1,2}, r2 blk0 -> r3 = {1,2,3}, ...
 *   RS step 2: r2 blk3 -> r3 = {0,1,2,3} ... now r0 owns blk0, r1 blk1, r2 blk2, r3 blk3
 *   AG steps 0..2: r sends the block it just got to r+1; after 3 steps all hold blk0..3
 */
#include "coll_internal.h"

int so__allreduce_ring(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int right = so__mod(r + 1, k), left = so__mod(r - 1, k);
    size_t es = so_dtype_size(dt);
    const char *sb = send;
    char *rb = recv;
    int in_place = (send == recv);

    size_t maxlen = so__blk_len(count, k, 0);
    size_t chunk_elems = so__coll_ring_chunk_bytes(c) / es;
    if (chunk_elems == 0) {
        chunk_elems = 1;
    }
    size_t m = (maxlen + chunk_elems - 1) / chunk_elems;
    size_t cl = (maxlen + m - 1) / m; /* equal chunks, at most chunk_elems each */
    long steps = 2L * (k - 1);
    size_t inflight = (size_t)(m < (size_t)steps ? m : (size_t)steps);
    so__xfer *xs = so__scratch(c, 1, 2 * inflight * sizeof(so__xfer));
    if (!xs) {
        return SO_ENOMEM;
    }
    for (long t = 0; t < steps + (long)m - 1; t++) {
        int nx = 0;
        for (size_t ch = 0; ch < m; ch++) {
            long s = t - (long)ch;
            if (s < 0) {
                break;
            }
            if (s >= steps) {
                continue;
            }
            int reduce = s < k - 1;
            int a = reduce ? (int)s + 1 : (int)s - (k - 1); /* send block r - a */
            int sblk = so__mod(r - a, k), rblk = so__mod(r - a - 1, k);
            size_t slen = so__blk_len(count, k, sblk), rlen = so__blk_len(count, k, rblk);
            size_t lo = ch * cl;
            size_t sn = lo < slen ? (slen - lo < cl ? slen - lo : cl) : 0;
            size_t rn = lo < rlen ? (rlen - lo < cl ? rlen - lo : cl) : 0;
            size_t soff = (so__blk_off(count, k, sblk) + lo) * es;
            size_t roff = (so__blk_off(count, k, rblk) + lo) * es;
            if (sn) {
                so__xfer *x = &xs[nx++];
                memset(x, 0, sizeof *x);
                x->peer = right;
                x->is_send = 1;
                /* Step 0 sends this rank's own input; later steps send what arrived before. */
                x->buf = (void *)(s == 0 ? sb + soff : rb + soff);
                x->len = sn * es;
            }
            if (rn) {
                so__xfer *x = &xs[nx++];
                memset(x, 0, sizeof *x);
                x->peer = left;
                x->is_send = 0;
                x->buf = rb + roff;
                x->len = rn * es;
                if (reduce) {
                    x->reduce = 1;
                    x->op = op;
                    x->dtype = dt;
                    x->reduce_src = in_place ? NULL : sb + roff;
                }
            }
        }
        if (nx) {
            SO_TRY(so__xfer_all(c, xs, nx));
        }
    }
    return SO_OK;
}
