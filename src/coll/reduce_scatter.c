/*
 * so_reduce_scatter: the entry point (see allreduce.c for the common shape). The input holds
 * size*recvcount elements; rank r receives block r of the reduction. In place means
 * recv == send + rank*recvcount; any other overlap of recv with send is staged through scratch.
 * bf16/f16 widen to f32 (scratch 3 holds the input, scratch 2 the f32 block); AVG divides the
 * owned block once at the end.
 */
#include "coll_internal.h"

static int overlaps(const void *a, size_t an, const void *b, size_t bn) {
    const char *x = a, *y = b;
    return an && bn && x < y + bn && y < x + an;
}

static int run(so_comm *c, so_algo a, const void *send, void *recv, size_t rc, so_dtype dt,
               so_op op) {
    int k = so_comm_size(c), r = so_comm_rank(c);
    so_op rop = op == SO_AVG ? SO_SUM : op;
    so_dtype wdt = so__work_dtype(dt);
    size_t es = so_dtype_size(wdt), n = (size_t)k * rc;
    const void *in = send;
    void *out = recv;
    if (so__is_half(dt)) {
        float *w = so__scratch(c, 3, n * sizeof(float));
        float *o = so__scratch(c, 2, rc * sizeof(float));
        if (!w || !o) {
            return SO_ENOMEM;
        }
        so__widen(dt, w, send, n);
        in = w, out = o;
    } else if (recv != (const char *)send + (size_t)r * rc * es &&
               overlaps(send, n * es, recv, rc * es)) {
        out = so__scratch(c, 2, rc * es);
        if (!out) {
            return SO_ENOMEM;
        }
    }
    if (k == 1) {
        memmove(out, in, rc * es);
    } else if (a == SO_ALGO_RING) {
        SO_TRY(so__reduce_scatter_ring(c, in, out, rc, wdt, rop));
    } else {
        SO_TRY(so__reduce_scatter_halving(c, in, out, rc, wdt, rop));
    }
    if (op == SO_AVG) {
        so_scale_avg(wdt, out, rc, k);
    }
    if (so__is_half(dt)) {
        so__narrow(dt, recv, out, rc);
    } else if (out != recv) {
        memcpy(recv, out, rc * es);
    }
    return SO_OK;
}

int so_reduce_scatter_ex(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                         so_op op, const so_coll_opts *opts) {
    SO_TRY(so__check_args(c, "reduce_scatter", dt, (int)op, -1));
    if (recvcount && (!send || !recv)) {
        return so__fail(SO_EINVAL, "reduce_scatter: NULL buffer with recvcount %zu", recvcount);
    }
    size_t bytes = (size_t)so_comm_size(c) * recvcount * so_dtype_size(so__work_dtype(dt));
    so_algo a;
    SO_TRY(so__coll_choose(c, SO__KIND_REDUCE_SCATTER, bytes, opts, &a));
    so__coll_sig sig = {.kind = SO__KIND_REDUCE_SCATTER,
                        .dtype = (uint8_t)dt,
                        .op = (uint8_t)op,
                        .algo = (uint8_t)a,
                        .root = -1,
                        .count = recvcount};
    SO_TRY(so__coll_begin(c, &sig));
    int rc = recvcount ? run(c, a, send, recv, recvcount, dt, op) : SO_OK;
    return so__coll_end(c, rc);
}

int so_reduce_scatter(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                      so_op op) {
    return so_reduce_scatter_ex(c, send, recv, recvcount, dt, op, NULL);
}
