/*
 * All-reduce, naive: every rank sends its vector to rank 0, rank 0 reduces them in rank order
 * and sends the result back to everyone.
 *
 * Cost (K ranks, n bytes): rank 0 receives K-1 vectors and sends K-1, so it moves 2(K-1) n bytes
 * in 2(K-1) messages; the others send one and receive one. Time 2(K-1)(alpha + n beta): the root
 * serialises everything. It is the reference the book starts from, and the fastest choice only
 * for tiny groups. Limits: none (any K, any count); the root needs no extra memory.
 * Bitwise identity: only rank 0 computes; the others receive a copy of its bytes.
 *
 * Trace, 4 ranks, inputs a b c d:
 *   step 1: r1, r2, r3 send b, c, d to r0     r0: a+b, then +c, then +d (rank order)
 *   step 2: r0 sends a+b+c+d to r1, r2, r3    everyone: a+b+c+d
 */
#include "coll_internal.h"

int so__allreduce_naive(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                        so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t bytes = count * so_dtype_size(dt);
    if (r != 0) {
        SO_TRY(so__send(c, 0, send, bytes));
        return so__recv(c, 0, recv, bytes);
    }
    /* The first receive combines with send directly, so out of place needs no copy. */
    SO_TRY(so__recv_reduce(c, 1, recv, send == recv ? NULL : send, count, dt, op));
    for (int p = 2; p < k; p++) {
        SO_TRY(so__recv_reduce(c, p, recv, NULL, count, dt, op));
    }
    for (int p = 1; p < k; p++) {
        SO_TRY(so__send(c, p, recv, bytes));
    }
    return SO_OK;
}
