/*
 * All-to-all and all-to-allv, pairwise exchange. In step i (1..K-1) rank r sends its block for
 * rank r+i while it receives the block from rank r-i; step 0 is the local copy. Every pair of
 * ranks exchanges exactly once and each step is a permutation, so no rank is ever the target of
 * two senders at once.
 *
 * Cost (K ranks, block b bytes): K-1 messages and (K-1) b bytes sent per rank; time
 * (K-1)(alpha + b beta), which is optimal in bytes. Limits: K-1 latency terms (Bruck's
 * all-to-all would pay log2 K at the price of forwarding data). In place (send overlapping recv)
 * stages the input in scratch 0 first. The v form always sends (zero-byte blocks too), so counts
 * that disagree between a sender and its receiver are reported as a desync, not a hang.
 *
 * Trace, 4 ranks (x_ij = rank i's block for rank j):
 *   step 0: every rank copies x_rr
 *   step 1: r0 -> r1 x01, r1 -> r2 x12, r2 -> r3 x23, r3 -> r0 x30
 *   step 2: r0 <-> r2 (x02, x20), r1 <-> r3 (x13, x31)
 *   step 3: r0 -> r3 x03, r1 -> r0 x10, r2 -> r1 x21, r3 -> r2 x32
 */
#include "coll_internal.h"

static int overlaps(const void *a, size_t an, const void *b, size_t bn) {
    const char *x = a, *y = b;
    return an && bn && x < y + bn && y < x + an;
}

int so__alltoall_pairwise(so_comm *c, const void *send, void *recv, size_t block) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t total = (size_t)k * block;
    const char *sb = send;
    char *rb = recv;
    if (overlaps(send, total, recv, total)) {
        char *tmp = so__scratch(c, 0, total);
        if (!tmp) {
            return SO_ENOMEM;
        }
        memcpy(tmp, send, total);
        sb = tmp;
    }
    memcpy(rb + (size_t)r * block, sb + (size_t)r * block, block);
    for (int i = 1; i < k; i++) {
        int to = so__mod(r + i, k), from = so__mod(r - i, k);
        SO_TRY(so__sendrecv(c, to, sb + (size_t)to * block, block, from, rb + (size_t)from * block,
                            block));
    }
    return SO_OK;
}

int so__alltoallv_pairwise(so_comm *c, const void *send, const size_t *sendcounts,
                           const size_t *sdispls, void *recv, const size_t *recvcounts,
                           const size_t *rdispls, size_t es) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t send_end = 0, recv_end = 0;
    for (int p = 0; p < k; p++) {
        if (sendcounts[p] && sdispls[p] + sendcounts[p] > send_end) {
            send_end = sdispls[p] + sendcounts[p];
        }
        if (recvcounts[p] && rdispls[p] + recvcounts[p] > recv_end) {
            recv_end = rdispls[p] + recvcounts[p];
        }
    }
    const char *sb = send;
    char *rb = recv;
    if (overlaps(send, send_end * es, recv, recv_end * es)) {
        char *tmp = so__scratch(c, 0, send_end * es);
        if (!tmp) {
            return SO_ENOMEM;
        }
        memcpy(tmp, send, send_end * es);
        sb = tmp;
    }
    if (sendcounts[r] != recvcounts[r]) {
        return so__fail(SO_EINVAL,
                        "alltoallv: rank %d sends %zu elements to itself but expects %zu", r,
                        sendcounts[r], recvcounts[r]);
    }
    if (sendcounts[r]) {
        memcpy(rb + rdispls[r] * es, sb + sdispls[r] * es, sendcounts[r] * es);
    }
    for (int i = 1; i < k; i++) {
        int to = so__mod(r + i, k), from = so__mod(r - i, k);
        SO_TRY(so__sendrecv(c, to, sb + sdispls[to] * es, sendcounts[to] * es, from,
                            rb + rdispls[from] * es, recvcounts[from] * es));
    }
    return SO_OK;
}
