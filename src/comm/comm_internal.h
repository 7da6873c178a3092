/*
 * Internal interface of the process group for the layers above it (coll, later parallel):
 * collectives run inside so__coll_begin/so__coll_end, and move data with the so__ primitives
 * below, which stamp every message with the current collective's signature (desync detection),
 * apply the group's deadline, and on failure record an error naming the operation, its sequence
 * number and the peer, then poison the group.
 *
 * A collective is written as:
 *   so__coll_sig sig = {.kind = SO__KIND_ALLREDUCE, .dtype = dt, .op = op, .count = n, .root = -1};
 *   SO_TRY(so__coll_begin(c, &sig));
 *   int rc = ring_allreduce(c, ...);   // calls so__sendrecv_reduce etc.
 *   return so__coll_end(c, rc);
 */
#ifndef SO_COMM_INTERNAL_H
#define SO_COMM_INTERNAL_H

#include "scaleout/comm.h"
#include "transport.h"

/* Starts a collective: fails fast (SO_EABORTED) on a poisoned group, assigns sig->seq. */
int so__coll_begin(so_comm *c, so__coll_sig *sig);
/* Ends it and passes rc through. */
int so__coll_end(so_comm *c, int rc);

/* Blocking primitives inside a collective (tag 0 unless the algorithm needs to tell apart
 * several messages between the same pair in one step). */
int so__send(so_comm *c, int peer, const void *buf, size_t bytes);
int so__recv(so_comm *c, int peer, void *buf, size_t bytes);
int so__sendrecv(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *rbuf,
                 size_t rbytes);
/* Receive count elements from `from` and combine: dst = (local ? local : dst) op incoming. */
int so__recv_reduce(so_comm *c, int from, void *dst, const void *local, size_t count, so_dtype dt,
                    so_op op);
/* Send sbytes to `to` while receive-reducing count elements from `from` into dst. */
int so__sendrecv_reduce(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *dst,
                        const void *local, size_t count, so_dtype dt, so_op op);
/* General form: post the n transfers (peer, buf, len, is_send, reduce fields set by the caller;
 * headers are filled in here), wait for all within the deadline. */
int so__xfer_all(so_comm *c, so__xfer *xs, int n);

/* Scratch memory owned by the group, grown on demand and reused (a collective allocates nothing
 * in steady state). Index 0..3 selects independent buffers. */
void *so__comm_scratch(so_comm *c, int index, size_t bytes);

/* The group's private duplicate and worker for nonblocking collectives: fn(dup, arg) runs on the
 * worker in submission order; the request completes with its return value. Collective: the first
 * call on every rank creates the duplicate. */
int so__comm_submit(so_comm *c, int (*fn)(so_comm *dup, void *arg), void *arg,
                    void (*free_arg)(void *), so_request **req);

/* Per-group slot for the collective layer (its selector's calibration); freed with free(). */
void **so__comm_coll_slot(so_comm *c);

#endif
