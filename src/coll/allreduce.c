/*
 * so_allreduce: the entry point. Checks the arguments, settles the edge cases (count 0, a group
 * of one), picks the algorithm (opts, SO_ALGO or the selector), and runs it inside one collective
 * (so__coll_begin/end, which stamps every message with kind, dtype, op, count and algorithm, so
 * ranks that disagree get SO_EDESYNC instead of garbage).
 *
 * bf16/f16 are widened into an f32 scratch vector, reduced in f32, and narrowed once (widen.c
 * says why). AVG runs as SUM and is divided once at the very end, on every rank, after the
 * algorithm's final copy step, so every rank applies the same division to the same bits and the
 * results stay bitwise identical.
 * Cost: that of the algorithm, plus one pass over n for widening or AVG.
 */
#include "coll_internal.h"

typedef int (*allreduce_fn)(so_comm *, const void *, void *, size_t, so_dtype, so_op);

static allreduce_fn algorithm(so_algo a) {
    switch (a) {
    case SO_ALGO_NAIVE:
        return so__allreduce_naive;
    case SO_ALGO_TREE:
        return so__allreduce_tree;
    case SO_ALGO_RING:
        return so__allreduce_ring;
    case SO_ALGO_HIER:
        return so__allreduce_hier;
    case SO_ALGO_RD:
        return so__allreduce_rd;
    default:
        return so__allreduce_hd;
    }
}

static int run(so_comm *c, so_algo a, const void *send, void *recv, size_t count, so_dtype dt,
               so_op op) {
    int k = so_comm_size(c);
    so_op rop = op == SO_AVG ? SO_SUM : op;
    if (so__is_half(dt)) {
        float *w = so__scratch(c, 3, count * sizeof(float));
        if (!w) {
            return SO_ENOMEM;
        }
        so__widen(dt, w, send, count);
        if (k > 1) {
            SO_TRY(algorithm(a)(c, w, w, count, SO_F32, rop));
        }
        if (op == SO_AVG) {
            so_scale_avg(SO_F32, w, count, k);
        }
        so__narrow(dt, recv, w, count);
        return SO_OK;
    }
    if (k == 1) {
        if (send != recv) {
            memmove(recv, send, count * so_dtype_size(dt));
        }
    } else {
        SO_TRY(algorithm(a)(c, send, recv, count, dt, rop));
    }
    if (op == SO_AVG) {
        so_scale_avg(dt, recv, count, k);
    }
    return SO_OK;
}

int so_allreduce_ex(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
                    const so_coll_opts *opts) {
    SO_TRY(so__check_args(c, "allreduce", dt, (int)op, -1));
    if (count && (!send || !recv)) {
        return so__fail(SO_EINVAL, "allreduce: NULL buffer with count %zu", count);
    }
    so_algo a;
    SO_TRY(so__coll_choose(c, SO__KIND_ALLREDUCE, count * so_dtype_size(so__work_dtype(dt)), opts,
                           &a));
    so__coll_sig sig = {.kind = SO__KIND_ALLREDUCE,
                        .dtype = (uint8_t)dt,
                        .op = (uint8_t)op,
                        .algo = (uint8_t)a,
                        .root = -1,
                        .count = count};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = count ? run(c, a, send, recv, count, dt, op) : SO_OK;
    return so__coll_end(c, rc);
}

int so_allreduce(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op) {
    return so_allreduce_ex(c, send, recv, count, dt, op, NULL);
}
