/*
 * so_allgather: the entry point. The algorithms move bytes only (no arithmetic), so every dtype,
 * bf16 and f16 included, is gathered as is. This rank's block is first copied to
 * recv + rank*sendcount (memmove: send is read before anything is written, so send may overlap
 * recv; in place means send == recv + rank*sendcount and copies nothing).
 */
#include "coll_internal.h"

int so_allgather_ex(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt,
                    const so_coll_opts *opts) {
    SO_TRY(so__check_args(c, "allgather", dt, -1, -1));
    if (sendcount && (!send || !recv)) {
        return so__fail(SO_EINVAL, "allgather: NULL buffer with sendcount %zu", sendcount);
    }
    int k = so_comm_size(c), r = so_comm_rank(c);
    size_t block = sendcount * so_dtype_size(dt);
    so_algo a;
    SO_TRY(so__coll_choose(c, SO__KIND_ALLGATHER, (size_t)k * block, opts, &a));
    so__coll_sig sig = {.kind = SO__KIND_ALLGATHER,
                        .dtype = (uint8_t)dt,
                        .algo = (uint8_t)a,
                        .root = -1,
                        .count = sendcount};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = SO_OK;
    if (block) {
        char *mine = (char *)recv + (size_t)r * block;
        if (mine != (const char *)send) {
            memmove(mine, send, block);
        }
        if (k > 1) {
            rc = (a == SO_ALGO_RING) ? so__allgather_ring(c, recv, block)
                                     : so__allgather_rd(c, recv, block);
        }
    }
    return so__coll_end(c, rc);
}

int so_allgather(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt) {
    return so_allgather_ex(c, send, recv, sendcount, dt, NULL);
}
