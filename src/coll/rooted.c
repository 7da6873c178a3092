/*
 * so_gather and so_scatter: the entry points of the linear algorithms (gather_linear.c).
 * recv (gather) and send (scatter) matter on the root only. Bytes only, any dtype. In place on
 * the root: send == recv + root*count (gather), recv == send + root*count (scatter).
 */
#include "coll_internal.h"

int so_gather(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt, int root) {
    SO_TRY(so__check_args(c, "gather", dt, -1, root));
    if (sendcount && (!send || (so_comm_rank(c) == root && !recv))) {
        return so__fail(SO_EINVAL, "gather: NULL buffer with sendcount %zu", sendcount);
    }
    so__coll_sig sig = {.kind = SO__KIND_GATHER,
                        .dtype = (uint8_t)dt,
                        .algo = SO_ALGO_NAIVE,
                        .root = root,
                        .count = sendcount};
    SO_TRY(so__coll_begin(c, &sig));
    size_t block = sendcount * so_dtype_size(dt);
    int rc = block ? so__gather_linear(c, send, recv, block, root) : SO_OK;
    return so__coll_end(c, rc);
}

int so_scatter(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt, int root) {
    SO_TRY(so__check_args(c, "scatter", dt, -1, root));
    if (recvcount && (!recv || (so_comm_rank(c) == root && !send))) {
        return so__fail(SO_EINVAL, "scatter: NULL buffer with recvcount %zu", recvcount);
    }
    so__coll_sig sig = {.kind = SO__KIND_SCATTER,
                        .dtype = (uint8_t)dt,
                        .algo = SO_ALGO_NAIVE,
                        .root = root,
                        .count = recvcount};
    SO_TRY(so__coll_begin(c, &sig));
    size_t block = recvcount * so_dtype_size(dt);
    int rc = block ? so__scatter_linear(c, send, recv, block, root) : SO_OK;
    return so__coll_end(c, rc);
}
