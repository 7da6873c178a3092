/*
 * All-reduce, two-level hierarchical (chapter 4.9; NCCL's and Horovod's hierarchical all-reduce):
 * a ring reduce-scatter inside each node over the fast link (shm), then L rings across nodes at
 * once, ring i joining the ranks that own block i in their node, over the slow link (tcp), then
 * a ring all-gather inside each node. Each rank sends only 2(H-1)/H * n/L bytes across nodes,
 * and all L local ranks use the network at the same time, instead of one leader carrying the
 * whole vector.
 *
 * Nodes are the group's hosts (so_comm_host_of), or, with SO_COLL_NODE_SIZE = S > 0, blocks of
 * S consecutive ranks, so one machine can stand in for several nodes. The selector picks this
 * algorithm by itself when the group spans several hosts with more than one rank on some host.
 *
 * Cost (K = H nodes x L ranks, n bytes): inside a node 2(L-1) messages and 2(L-1)/L n bytes
 * (alpha_l, beta_l); across nodes 2(H-1) messages and 2(H-1)/H n/L bytes (alpha_g, beta_g):
 * time 2(L-1) alpha_l + 2(L-1)/L n beta_l + 2(H-1) alpha_g + 2(H-1)/(H L) n beta_g.
 * Limits: nodes must have equal rank counts; otherwise the book's 4.9.2 variant runs (binomial
 * reduce to each node's leader, a ring among leaders, binomial broadcast), which moves whole
 * vectors inside nodes. An out-of-place call first copies send to recv (one extra pass).
 * Bitwise identity: every element is finished once, by its owner in the cross-node ring; the
 * ring all-gathers only copy.
 *
 * Trace, 4 ranks on 2 nodes {0,1} {2,3}, inputs a b c d cut into halves x = [x0 x1]:
 *   intra RS:      r0 holds a0+b0, r1 holds a1+b1, r2 holds c0+d0, r3 holds c1+d1
 *   cross rings:   {r0, r2} reduce half 0, {r1, r3} half 1: r0, r2 hold s0; r1, r3 hold s1
 *   intra AG:      r0 <-> r1, r2 <-> r3                     everyone: [s0 s1]
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

/* Ring reduce-scatter in place over m[0..nm) (the block schedule of allreduce_ring.c): on return
 * block `me` of buf (of nm near-equal blocks) holds the reduction over the list. */
static int list_rs(so_comm *c, const int *m, int nm, int me, void *buf, size_t count, so_dtype dt,
                   so_op op) {
    size_t es = so_dtype_size(dt);
    char *b = buf;
    int right = m[(me + 1) % nm], left = m[(me + nm - 1) % nm];
    for (int s = 0; s < nm - 1; s++) {
        int sb = so__mod(me - s - 1, nm), rb = so__mod(me - s - 2, nm);
        SO_TRY(so__xchg_reduce(
            c, right, b + so__blk_off(count, nm, sb) * es, so__blk_len(count, nm, sb) * es, left,
            b + so__blk_off(count, nm, rb) * es, NULL, so__blk_len(count, nm, rb), dt, op));
    }
    return SO_OK;
}

/* Ring all-gather in place over m[0..nm): block `me` of buf goes to every member. */
static int list_ag(so_comm *c, const int *m, int nm, int me, void *buf, size_t count, size_t es) {
    char *b = buf;
    int right = m[(me + 1) % nm], left = m[(me + nm - 1) % nm];
    for (int s = 0; s < nm - 1; s++) {
        int sb = so__mod(me - s, nm), rb = so__mod(me - s - 1, nm);
        SO_TRY(so__xchg(c, right, b + so__blk_off(count, nm, sb) * es,
                        so__blk_len(count, nm, sb) * es, left, b + so__blk_off(count, nm, rb) * es,
                        so__blk_len(count, nm, rb) * es));
    }
    return SO_OK;
}

/* Ring all-reduce in place over m[0..nm). */
static int list_ring(so_comm *c, const int *m, int nm, int me, void *buf, size_t count, so_dtype dt,
                     so_op op) {
    SO_TRY(list_rs(c, m, nm, me, buf, count, dt, op));
    return list_ag(c, m, nm, me, buf, count, so_dtype_size(dt));
}

int so__allreduce_hier(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    /* m: this node's members; leaders: each node's lowest rank; first: node index of rank q's
     * node among the nodes in order of first appearance; pos: q's index inside its node. */
    int *m = so__scratch(c, 1, 4 * (size_t)k * sizeof *m);
    if (!m) {
        return SO_ENOMEM;
    }
    int *leaders = m + k, *nodeidx = m + 2 * k, *pos = m + 3 * k;
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
        int lead = -1; /* index of q's node among the leaders so far */
        for (int i = 0; i < nl && lead < 0; i++) {
            lead = node_of(c, leaders[i], l) == nq ? i : -1;
        }
        if (lead < 0) {
            if (q == r) {
                lme = nl;
            }
            lead = nl;
            leaders[nl++] = q;
            pos[q] = 0;
        } else {
            int members = 0;
            for (int p = 0; p < q; p++) {
                members += nodeidx[p] == lead;
            }
            pos[q] = members;
        }
        nodeidx[q] = lead;
    }
    int uniform = nl > 1 && nm > 1;
    for (int i = 0; i < nl && uniform; i++) {
        int members = 0;
        for (int q = 0; q < k; q++) {
            members += nodeidx[q] == i;
        }
        uniform = members == nm;
    }
    size_t es = so_dtype_size(dt);
    if (uniform) {
        /* Every node has nm ranks: reduce-scatter inside the node, a ring across nodes among the
         * ranks holding the same block, all-gather inside the node. */
        if (send != recv) {
            memcpy(recv, send, count * es);
        }
        SO_TRY(list_rs(c, m, nm, me, recv, count, dt, op));
        int *peers = leaders; /* reuse: the ranks at position `me` of every node, by node */
        for (int q = 0; q < k; q++) {
            if (pos[q] == me) {
                peers[nodeidx[q]] = q;
            }
        }
        size_t off = so__blk_off(count, nm, me), len = so__blk_len(count, nm, me);
        if (len) {
            SO_TRY(list_ring(c, peers, nl, nodeidx[r], (char *)recv + off * es, len, dt, op));
        }
        return list_ag(c, m, nm, me, recv, count, es);
    }
    /* Nodes of different sizes: reduce to each node's leader, ring among leaders, broadcast. */
    SO_TRY(list_reduce(c, m, nm, me, send, recv, count, dt, op));
    if (lme >= 0 && nl > 1) {
        SO_TRY(list_ring(c, leaders, nl, lme, recv, count, dt, op));
    }
    return list_bcast(c, m, nm, me, recv, count * es);
}
