/*
 * All-gather, recursive doubling, with Bruck's algorithm for sizes that are not powers of two.
 *
 * K a power of two: at distance d = 1, 2, 4, ... rank r swaps with r ^ d the d blocks it holds
 * (the aligned range containing its own block), straight into place (the doubling core in
 * util.c). log2 K steps.
 *
 * Otherwise (Bruck): rank r keeps a rotated buffer whose slot i holds the block of rank r+i. At
 * distance d = 1, 2, 4, ... it sends its first min(d, K-d) slots to rank r-d and receives as many
 * into slots d.. from rank r+d. After ceil(log2 K) steps all K slots are full; a final local
 * rotation puts block j at recv + j*block. Needs a K-block buffer (scratch 0).
 *
 * Cost (K ranks, n = K*block bytes): ceil(log2 K) messages and (K-1)/K n bytes sent per rank.
 * Time ceil(log2 K) alpha + (K-1)/K n beta. Limits: partners far apart in rank space; Bruck
 * adds two local copies of n bytes.
 *
 * Trace, 4 ranks, blocks A B C D:
 *   d=1: r0<->r1 swap A,B; r2<->r3 swap C,D       r0,r1: A B   r2,r3: C D
 *   d=2: r0<->r2, r1<->r3 swap pairs              everyone: A B C D
 * Bruck, 3 ranks: d=1: r sends slot 0 to r-1, gets r+1's block into slot 1;
 *                 d=2: r sends slot 0 to r-2 (one slot, K-d = 1), gets r+2's block into slot 2.
 */
#include "coll_internal.h"

static int bruck(so_comm *c, void *recv, size_t block) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    char *rb = recv;
    char *tmp = so__scratch(c, 0, (size_t)k * block);
    if (!tmp) {
        return SO_ENOMEM;
    }
    memcpy(tmp, rb + (size_t)r * block, block);
    for (int d = 1; d < k; d *= 2) {
        int cnt = d < k - d ? d : k - d;
        SO_TRY(so__xchg(c, so__mod(r - d, k), tmp, (size_t)cnt * block, so__mod(r + d, k),
                        tmp + (size_t)d * block, (size_t)cnt * block));
    }
    for (int i = 1; i < k; i++) {
        memcpy(rb + (size_t)so__mod(r + i, k) * block, tmp + (size_t)i * block, block);
    }
    return SO_OK;
}

int so__allgather_rd(so_comm *c, void *recv, size_t block) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    if (so__pof2_floor(k) != k) {
        return bruck(c, recv, block);
    }
    size_t *seg = so__scratch(c, 1, (size_t)(k + 1) * sizeof *seg);
    if (!seg) {
        return SO_ENOMEM;
    }
    for (int v = 0; v <= k; v++) {
        seg[v] = (size_t)v; /* segments of one element of `block` bytes */
    }
    return so__doubling_core(c, r, k, 0, seg, recv, block);
}
