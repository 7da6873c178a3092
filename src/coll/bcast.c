/*
 * so_bcast: the entry point. Binomial tree (bcast_tree.c) or pipelined chain (bcast_chain.c),
 * chosen by opts, SO_ALGO (tree, or ring for the chain) or the selector. Bytes only, any dtype.
 */
#include "coll_internal.h"

int so_bcast_ex(so_comm *c, void *buf, size_t count, so_dtype dt, int root,
                const so_coll_opts *opts) {
    SO_TRY(so__check_args(c, "bcast", dt, -1, root));
    if (count && !buf) {
        return so__fail(SO_EINVAL, "bcast: NULL buffer with count %zu", count);
    }
    size_t bytes = count * so_dtype_size(dt);
    so_algo a;
    SO_TRY(so__coll_choose(c, SO__KIND_BCAST, bytes, opts, &a));
    so__coll_sig sig = {.kind = SO__KIND_BCAST,
                        .dtype = (uint8_t)dt,
                        .algo = (uint8_t)a,
                        .root = root,
                        .count = count};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = SO_OK;
    if (bytes && so_comm_size(c) > 1) {
        rc = (a == SO_ALGO_RING) ? so__bcast_chain(c, buf, bytes, root)
                                 : so__bcast_tree(c, buf, bytes, root);
    }
    return so__coll_end(c, rc);
}

int so_bcast(so_comm *c, void *buf, size_t count, so_dtype dt, int root) {
    return so_bcast_ex(c, buf, count, dt, root, NULL);
}
