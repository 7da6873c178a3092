/*
 * All-reduce, recursive doubling (the latency-optimal algorithm for small vectors; MPICH's and
 * Open MPI's choice below a few KiB). In round i (mask = 2^i) each rank swaps its whole partial
 * result with the rank whose index differs in bit i and combines the two, so after log2 K rounds
 * every rank holds the full reduction. K not a power of two: with P the largest power of two
 * below K and R = K - P, ranks 0..2R-1 pair up first (the even one hands its vector to the odd
 * one and waits), P ranks run the rounds, and the odd ranks hand the result back.
 *
 * Cost (K ranks, n bytes): log2 P rounds of one n-byte exchange, plus 2 for the fold:
 * time ceil(log2 K)(alpha + n beta) (+ 2(alpha + n beta) off powers of two), and every rank
 * reduces the whole vector each round. Half the messages of halving-doubling, but n bytes per
 * round instead of shrinking halves, so the selector uses it only for small vectors.
 * Bitwise identity: in each exchange both partners compute lower-rank-data op higher-rank-data
 * from the same two partial results, so they get the same bits (NaN payloads included, which a
 * "mine op theirs" order would not guarantee).
 *
 * Trace, 4 ranks, inputs a b c d:
 *   round 1 (mask 1): 0<->1, 2<->3      r0, r1 hold a+b;  r2, r3 hold c+d
 *   round 2 (mask 2): 0<->2, 1<->3      everyone holds (a+b)+(c+d)
 */
#include "coll_internal.h"

/* dst = (lower rank's vector) op (higher rank's vector); dst is `mine` (may alias). */
static void combine(so_op op, so_dtype dt, void *mine, const void *theirs, int me, int them,
                    size_t count) {
    if (them < me) {
        so_reduce_local(op, dt, mine, theirs, mine, count);
    } else {
        so_reduce_local(op, dt, mine, mine, theirs, count);
    }
}

int so__allreduce_rd(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                     so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t bytes = count * so_dtype_size(dt);
    int p = so__pof2_floor(k), rem = k - p;
    void *tmp = so__scratch(c, 0, bytes);
    if (!tmp) {
        return SO_ENOMEM;
    }
    if (send != recv) {
        memcpy(recv, send, bytes);
    }
    if (r < 2 * rem) { /* fold: even ranks hand their vector to the odd rank above */
        if (!(r & 1)) {
            SO_TRY(so__send(c, r + 1, recv, bytes));
        } else {
            SO_TRY(so__recv(c, r - 1, tmp, bytes));
            combine(op, dt, recv, tmp, r, r - 1, count);
        }
    }
    int v = so__vrank(r, rem);
    for (int mask = 1; v >= 0 && mask < p; mask <<= 1) {
        int pr = so__vreal(v ^ mask, rem);
        SO_TRY(so__sendrecv(c, pr, recv, bytes, pr, tmp, bytes));
        combine(op, dt, recv, tmp, r, pr, count);
    }
    if (r < 2 * rem) { /* unfold */
        if (r & 1) {
            SO_TRY(so__send(c, r - 1, recv, bytes));
        } else {
            SO_TRY(so__recv(c, r + 1, recv, bytes));
        }
    }
    return SO_OK;
}
