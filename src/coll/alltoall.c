/*
 * so_alltoall, so_alltoallv and so_barrier: the entry points of the pairwise exchange
 * (alltoall_pairwise.c) and the dissemination barrier (barrier_dissemination.c). Bytes only.
 * The v form's signature carries count 0, since counts legitimately differ between ranks; a
 * sender and receiver that disagree on a block's length fail with SO_EDESYNC on the length check.
 */
#include "coll_internal.h"

int so_alltoall(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt) {
    SO_TRY(so__check_args(c, "alltoall", dt, -1, -1));
    if (count && (!send || !recv)) {
        return so__fail(SO_EINVAL, "alltoall: NULL buffer with count %zu", count);
    }
    so__coll_sig sig = {.kind = SO__KIND_ALLTOALL,
                        .dtype = (uint8_t)dt,
                        .algo = SO_ALGO_PAIRWISE,
                        .root = -1,
                        .count = count};
    SO_TRY(so__coll_begin(c, &sig));
    size_t block = count * so_dtype_size(dt);
    int rc = block ? so__alltoall_pairwise(c, send, recv, block) : SO_OK;
    return so__coll_end(c, rc);
}

int so_alltoallv(so_comm *c, const void *send, const size_t *sendcounts, const size_t *sdispls,
                 void *recv, const size_t *recvcounts, const size_t *rdispls, so_dtype dt) {
    SO_TRY(so__check_args(c, "alltoallv", dt, -1, -1));
    if (!sendcounts || !sdispls || !recvcounts || !rdispls) {
        return so__fail(SO_EINVAL, "alltoallv: NULL count or displacement array");
    }
    so__coll_sig sig = {.kind = SO__KIND_ALLTOALLV,
                        .dtype = (uint8_t)dt,
                        .algo = SO_ALGO_PAIRWISE,
                        .root = -1,
                        .count = 0};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = so__alltoallv_pairwise(c, send, sendcounts, sdispls, recv, recvcounts, rdispls,
                                    so_dtype_size(dt));
    return so__coll_end(c, rc);
}

int so_barrier(so_comm *c) {
    if (!c) {
        return so__fail(SO_EINVAL, "barrier: the group is NULL");
    }
    so__coll_sig sig = {.kind = SO__KIND_BARRIER, .algo = SO_ALGO_DISSEMINATION, .root = -1};
    SO_TRY(so__coll_begin(c, &sig));
    return so__coll_end(c, so__barrier_dissemination(c));
}
