/*
 * All-reduce, recursive halving-doubling (Rabenseifner): a recursive-halving reduce-scatter
 * followed by a recursive-doubling all-gather (the cores are in util.c).
 *
 * For K not a power of two, K = pof2 + rem: first the 2*rem lowest ranks fold in pairs — the even
 * rank of each pair sends its whole vector to the odd one, which reduces it into its own — so
 * pof2 ranks remain; they run halving-doubling on pof2 segments; at the end each odd rank sends
 * the result back to its even partner (the unfold).
 *
 * Cost (K ranks, n bytes), K a power of two: 2 log2 K messages and 2(K-1)/K n bytes per rank.
 * Time 2 log2 K alpha + 2(K-1)/K n beta: the ring's bandwidth with the tree's message count.
 * Otherwise add the fold and unfold: 2(alpha + n beta) more on the 2*rem ranks involved.
 * Limits: partners are far apart in rank space (rank r talks to r^1, r^2, r^4, ...), which costs
 * more than neighbour traffic on real topologies; count < pof2 leaves some segments empty.
 * Bitwise identity: every segment is reduced once, by the one virtual rank that owns it after
 * halving; doubling and unfolding only copy.
 *
 * Trace, 4 ranks, segments A B C D of each rank's vector:
 *   halving d=2: r0<->r2, r1<->r3: r0,r1 keep A B (2 ranks' worth), r2,r3 keep C D
 *   halving d=1: r0<->r1, r2<->r3: r0 holds A, r1 B, r2 C, r3 D, each summed over 4 ranks
 *   doubling d=1: r0<->r1, r2<->r3 swap: r0,r1 hold A B; r2,r3 hold C D
 *   doubling d=2: r0<->r2, r1<->r3 swap: everyone holds A B C D
 * With 5 ranks, r0 first sends everything to r1 (r1 = x0 + x1), the four ranks 1..4 run the above
 * and r1 finally sends the result to r0.
 */
#include "coll_internal.h"

int so__allreduce_hd(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                     so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int pof2 = so__pof2_floor(k), rem = k - pof2;
    size_t bytes = count * so_dtype_size(dt);
    const void *in = send;
    if (r < 2 * rem) {
        if ((r & 1) == 0) { /* folded out: hand over, then wait for the answer */
            SO_TRY(so__send(c, r + 1, send, bytes));
            return so__recv(c, r + 1, recv, bytes);
        }
        SO_TRY(so__recv_reduce(c, r - 1, recv, send == recv ? NULL : send, count, dt, op));
        in = recv;
    }
    size_t *seg = so__scratch(c, 1, (size_t)(pof2 + 1) * sizeof *seg);
    if (!seg) {
        return SO_ENOMEM;
    }
    for (int v = 0; v <= pof2; v++) {
        seg[v] = so__blk_off(count, pof2, v);
    }
    int vr = so__vrank(r, rem);
    SO_TRY(so__halving_core(c, vr, pof2, rem, seg, in, recv, dt, op));
    SO_TRY(so__doubling_core(c, vr, pof2, rem, seg, recv, so_dtype_size(dt)));
    if (r < 2 * rem) {
        return so__send(c, r - 1, recv, bytes);
    }
    return SO_OK;
}
