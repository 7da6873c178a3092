/*
 * Nonblocking collectives: so_iallreduce, so_iallgather, so_ireduce_scatter. The arguments are
 * copied into a heap record and handed to the group's worker (so__comm_submit), which runs the
 * blocking collective on the group's private duplicate, in submission order; the request
 * completes with its return value. The algorithm is chosen here, on the calling group (whose
 * calibration the duplicate does not share), and passed down explicitly, so the nonblocking form
 * runs the same algorithm as the blocking one would.
 * Buffers are borrowed until so_wait returns. Cost: one small allocation per call.
 */
#include "coll_internal.h"

typedef struct nb_args {
    int kind;
    const void *send;
    void *recv;
    size_t count;
    so_dtype dt;
    so_op op;
    so_coll_opts opts;
} nb_args;

static int nb_run(so_comm *dup, void *arg) {
    nb_args *a = arg;
    switch (a->kind) {
    case SO__KIND_ALLREDUCE:
        return so_allreduce_ex(dup, a->send, a->recv, a->count, a->dt, a->op, &a->opts);
    case SO__KIND_ALLGATHER:
        return so_allgather_ex(dup, a->send, a->recv, a->count, a->dt, &a->opts);
    default:
        return so_reduce_scatter_ex(dup, a->send, a->recv, a->count, a->dt, a->op, &a->opts);
    }
}

static int submit(so_comm *c, int kind, const void *send, void *recv, size_t count, so_dtype dt,
                  so_op op, size_t model_bytes, so_request **req) {
    if (!req) {
        return so__fail(SO_EINVAL, "%s: request pointer is NULL", so__kind_name(kind));
    }
    *req = NULL;
    SO_TRY(
        so__check_args(c, so__kind_name(kind), dt, kind == SO__KIND_ALLGATHER ? -1 : (int)op, -1));
    nb_args *a = calloc(1, sizeof *a);
    if (!a) {
        return so__fail(SO_ENOMEM, "%s: no memory for the request", so__kind_name(kind));
    }
    *a = (nb_args){.kind = kind, .send = send, .recv = recv, .count = count, .dt = dt, .op = op};
    int rc = so__coll_choose(c, kind, model_bytes, NULL, &a->opts.algo);
    if (rc < 0) {
        free(a);
        return rc;
    }
    return so__comm_submit(c, nb_run, a, free, req);
}

int so_iallreduce(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
                  so_request **req) {
    size_t es = so_dtype_size(so__work_dtype(dt));
    return submit(c, SO__KIND_ALLREDUCE, send, recv, count, dt, op, count * es, req);
}

int so_iallgather(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt,
                  so_request **req) {
    size_t n = c ? (size_t)so_comm_size(c) * sendcount * so_dtype_size(dt) : 0;
    return submit(c, SO__KIND_ALLGATHER, send, recv, sendcount, dt, SO_SUM, n, req);
}

int so_ireduce_scatter(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                       so_op op, so_request **req) {
    size_t n = c ? (size_t)so_comm_size(c) * recvcount * so_dtype_size(so__work_dtype(dt)) : 0;
    return submit(c, SO__KIND_REDUCE_SCATTER, send, recv, recvcount, dt, op, n, req);
}
