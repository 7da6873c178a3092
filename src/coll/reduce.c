/*
 * so_reduce: the entry point of reduce-to-root (binomial tree, reduce_tree.c). recv is used on
 * the root only. bf16/f16 widen to f32 (scratch 3 input, scratch 2 the root's f32 result); AVG
 * divides once, on the root.
 */
#include "coll_internal.h"

static int run(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
               int root) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    so_op rop = op == SO_AVG ? SO_SUM : op;
    so_dtype wdt = so__work_dtype(dt);
    const void *in = send;
    void *out = recv;
    if (so__is_half(dt)) {
        float *w = so__scratch(c, 3, count * sizeof(float));
        float *o = so__scratch(c, 2, count * sizeof(float));
        if (!w || !o) {
            return SO_ENOMEM;
        }
        so__widen(dt, w, send, count);
        in = w, out = o;
    }
    if (k == 1) {
        memmove(out, in, count * so_dtype_size(wdt));
    } else {
        SO_TRY(so__reduce_tree(c, in, r == root ? out : NULL, NULL, count, wdt, rop, root));
    }
    if (r == root) {
        if (op == SO_AVG) {
            so_scale_avg(wdt, out, count, k);
        }
        if (so__is_half(dt)) {
            so__narrow(dt, recv, out, count);
        }
    }
    return SO_OK;
}

int so_reduce(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
              int root) {
    SO_TRY(so__check_args(c, "reduce", dt, (int)op, root));
    if (count && (!send || (so_comm_rank(c) == root && !recv))) {
        return so__fail(SO_EINVAL, "reduce: NULL buffer with count %zu", count);
    }
    so__coll_sig sig = {.kind = SO__KIND_REDUCE,
                        .dtype = (uint8_t)dt,
                        .op = (uint8_t)op,
                        .algo = SO_ALGO_TREE,
                        .root = root,
                        .count = count};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = count ? run(c, send, recv, count, dt, op, root) : SO_OK;
    return so__coll_end(c, rc);
}
