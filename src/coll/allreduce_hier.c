/*
 * All-reduce, two-level hierarchical (chapter 4.9.2): reduce inside each node to its leader (the
 * node's lowest rank) over a binomial tree, all-reduce among the leaders over a ring, broadcast
 * inside each node from the leader over a binomial tree. Slow links between nodes then carry
 * only the leaders' ring traffic, 2(H-1)/H n bytes per leader, instead of a flat ring's K-1
 * hops of which many cross nodes.
 *
 * Nodes are the group's hosts (so_comm_host_of), or, with SO_COLL_NODE_SIZE = L > 0, blocks of
 * L consecutive ranks, so one machine can stand in for several nodes.
 *
 * Cost (K ranks on H nodes of up to L ranks, n bytes): inside a node 2 ceil(log2 L) rounds of
 * whole vectors on the fast link, among leaders 2(H-1) messages of n/H bytes on the slow link:
 * time 2 ceil(log2 L)(alpha_l + n beta_l) + 2(H-1) alpha_g + 2(H-1)/H n beta_g.
 * Limits: the intra-node phases move whole vectors (a tree), so within a node this is the tree's
 * bandwidth, not the ring's; non-leaders idle during the leaders' ring. The selector never picks
 * it (its one-link model cannot price two kinds of link); ask for it with SO_ALGO=hier.
 * Bitwise identity: every element is finished once, by the ring owner among the leaders; the
 * ring's all-gather and the node broadcasts only copy.
 *
 * Trace, 4 ranks on 2 nodes {0,1} {2,3}, inputs a b c d:
 *   intra reduce:  r1 -> r0 (a+b), r3 -> r2 (c+d)
 *   leader ring:   r0, r2 run a 2-rank ring on their halves: both hold a+b+c+d
 *   intra bcast:   r0 -> r1, r2 -> r3                       everyone: a+b+c+d
 */
#include "coll_internal.h"

/* Node of rank r, given SO_COLL_NODE_SIZE = l. */
static int node_of(so_comm *c, int r, int64_t l) {
    return l > 0 ? (int)(r / l) : so_comm_host_of(c, r);
}

/* Binomial reduce to m[0] over the ranks m[0..nm), this rank being m[me]. acc holds this rank's
 * partial result on return (it starts as `in`). */
static int list_reduce(so_comm *c, const int *m, int nm, int me, const void *in, void *acc,
                       size_t count, so_dtype dt, so_op op) {
    const void *cur = in;
    for (int mask = 1; mask < nm; mask <<= 1) {
        if (me & mask) {
            return so__send(c, m[me - mask], cur, count * so_dtype_size(dt));
        }
        if (me + mask < nm) {
            SO_TRY(so__recv_reduce(c, m[me + mask], acc, cur == acc ? NULL : cur, count, dt, op));
            cur = acc;
        }
    }
    if (cur != acc) {
        memmove(acc, cur, count * so_dtype_size(dt));
    }
    return SO_OK;
}

/* Binomial broadcast from m[0] over m[0..nm). */
static int list_bcast(so_comm *c, const int *m, int nm, int me, void *buf, size_t bytes) {
    int mask = 1;
    while (mask < nm) {
        if (me & mask) {
            SO_TRY(so__recv(c, m[me - mask], buf, bytes));
            break;
        }
        mask <<= 1;
    }
    for (mask >>= 1; mask > 0; mask >>= 1) {
        if (me + mask < nm) {
            SO_TRY(so__send(c, m[me + mask], buf, bytes));
        }
    }
    return SO_OK;
}

/* Ring all-reduce in place over m[0..nm) (the same block schedule as allreduce_ring.c). */
static int list_ring(so_comm *c, const int *m, int nm, int me, void *buf, size_t count,
                     so_dtype dt, so_op op) {
    size_t es = so_dtype_size(dt);
    char *b = buf;
    int right = m[(me + 1) % nm], left = m[(me + nm - 1) % nm];
    for (int s = 0; s < nm - 1; s++) {
        int sb = so__mod(me - s - 1, nm), rb = so__mod(me - s - 2, nm);
        SO_TRY(so__xchg_reduce(c, right, b + so__blk_off(count, nm, sb) * es,
                               so__blk_len(count, nm, sb) * es, left,
                               b + so__blk_off(count, nm, rb) * es, NULL,
                               so__blk_len(count, nm, rb), dt, op));
    }
    for (int s = 0; s < nm - 1; s++) {
        int sb = so__mod(me - s, nm), rb = so__mod(me - s - 1, nm);
        SO_TRY(so__xchg(c, right, b + so__blk_off(count, nm, sb) * es,
                        so__blk_len(count, nm, sb) * es, left,
                        b + so__blk_off(count, nm, rb) * es, so__blk_len(count, nm, rb) * es));
    }
    return SO_OK;
}

int so__allreduce_hier(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int *m = so__scratch(c, 1, 2 * (size_t)k * sizeof *m);
    if (!m) {
        return SO_ENOMEM;
    }
    int *leaders = m + k;
    int64_t l = so_param_int("SO_COLL_NODE_SIZE");
    int nm = 0, me = 0, nl = 0, lme = -1, mine = node_of(c, r, l);
    for (int q = 0; q < k; q++) {
        int nq = node_of(c, q, l);
        if (nq == mine) {
            if (q == r) {
                me = nm;
            }
            m[nm++] = q;
        }
        int first = 1; /* q leads its node if no lower rank shares it */
        for (int p = 0; p < q && first; p++) {
            first = node_of(c, p, l) != nq;
        }
        if (first) {
            if (q == r) {
                lme = nl;
            }
            leaders[nl++] = q;
        }
    }
    SO_TRY(list_reduce(c, m, nm, me, send, recv, count, dt, op));
    if (lme >= 0 && nl > 1) {
        SO_TRY(list_ring(c, leaders, nl, lme, recv, count, dt, op));
    }
    return list_bcast(c, m, nm, me, recv, count * so_dtype_size(dt));
}
