/*
 * All-gather, ring. Rank r's block is already in place at recv + r*block. In step s (0..K-2)
 * rank r sends block r-s to its right neighbour and receives block r-s-1 from its left one,
 * straight into place; after K-1 steps every rank holds every block.
 *
 * Cost (K ranks, n = K*block bytes of output): K-1 messages and (K-1)/K n bytes sent per rank.
 * Time (K-1) alpha + (K-1)/K n beta. Limits: K-1 latency terms (recursive doubling has log2 K).
 *
 * Trace, 4 ranks, blocks A B C D (rank r starts with its own):
 *   step 0: r0 A -> r1, r1 B -> r2, r2 C -> r3, r3 D -> r0
 *   step 1: r0 D -> r1, r1 A -> r2, r2 B -> r3, r3 C -> r0
 *   step 2: r0 C -> r1, r1 D -> r2, r2 A -> r3, r3 B -> r0      everyone: A B C D
 */
#include "coll_internal.h"

int so__allgather_ring(so_comm *c, void *recv, size_t block) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    int right = so__mod(r + 1, k), left = so__mod(r - 1, k);
    char *rb = recv;
    for (int s = 0; s <= k - 2; s++) {
        int sblk = so__mod(r - s, k), rblk = so__mod(r - s - 1, k);
        SO_TRY(so__xchg(c, right, rb + (size_t)sblk * block, block, left, rb + (size_t)rblk * block,
                        block));
    }
    return SO_OK;
}
