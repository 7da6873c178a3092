/*
 * Internal: the transport vtable. A transport moves bytes between this rank and a set of peers
 * of one group. It is driven by posted transfers (so__xfer) and a progress call, so a rank can
 * have a send and a receive in flight at once (a ring step) and nonblocking p2p needs no thread.
 *
 * Every message starts with a so__msg_hdr. The receiver compares the header it expects (set by
 * the caller in xfer->hdr) with the one that arrives: tag, length and the collective signature
 * must all match, else the transfer fails with SO_EDESYNC and xfer->got holds what came, so the
 * comm layer can say "rank 3 called broadcast(count=10) seq 7, this rank allreduce(...)".
 *
 * Per ordered pair (me -> peer) messages are FIFO, and transfers to (from) one peer complete in
 * the order they were posted. Transfers to different peers progress independently.
 *
 * Thread safety: a transport is driven by one thread at a time.
 */
#ifndef SO_COMM_TRANSPORT_H
#define SO_COMM_TRANSPORT_H

#include "scaleout/comm.h"

/* What a message belongs to. For p2p, kind = SO__KIND_P2P and the rest is zero but tag/len. */
typedef struct so__coll_sig {
    uint8_t kind;   /* SO__KIND_* (collective or p2p) */
    uint8_t dtype;  /* so_dtype */
    uint8_t op;     /* so_op */
    uint8_t algo;   /* algorithm id (coll.h so_algo) */
    int32_t root;   /* root rank or -1 */
    uint64_t count; /* element count as the caller passed it */
    uint64_t seq;   /* collective sequence number on this group, from 1 */
} so__coll_sig;

enum {
    SO__KIND_P2P = 0,
    SO__KIND_ALLREDUCE,
    SO__KIND_REDUCE_SCATTER,
    SO__KIND_ALLGATHER,
    SO__KIND_ALLTOALL,
    SO__KIND_ALLTOALLV,
    SO__KIND_BCAST,
    SO__KIND_REDUCE,
    SO__KIND_GATHER,
    SO__KIND_SCATTER,
    SO__KIND_BARRIER,
    SO__KIND_INTERNAL, /* group bookkeeping (split, calibration) */
    SO__KIND_COUNT
};
const char *so__kind_name(int kind);

#define SO__MSG_MAGIC 0x534f4d31u /* "SOM1" */
/* A rank that gave up on the group: tag = -(its SO_E* code), len = 1 + the rank it blames
 * (0 = none), sig = the operation it was in. No payload follows. */
#define SO__MSG_ABORT_MAGIC 0x534f4d58u /* "SOMX" */

typedef struct so__msg_hdr {
    uint32_t magic;
    uint32_t tag;
    uint64_t len; /* payload bytes that follow */
    so__coll_sig sig;
} so__msg_hdr; /* 40 bytes */

typedef struct so__transport so__transport;

typedef struct so__xfer {
    /* Set by the caller before post: */
    int peer;        /* rank in the group */
    int is_send;     /* 1 send, 0 receive */
    void *buf;       /* send: source (read only); receive: destination */
    size_t len;      /* payload bytes */
    so__msg_hdr hdr; /* send: header to write; receive: header expected */
    /* Receive-reduce: if reduce is set, arriving elements are combined instead of copied:
     * buf[i] = (reduce_src ? reduce_src[i] : buf[i]) op incoming[i], for len/size(dtype)
     * elements, as soon as each piece arrives (no staging copy when the transport can avoid it). */
    int reduce;
    so_op op;
    so_dtype dtype;
    const void *reduce_src;
    /* Set by the transport: */
    size_t done;           /* payload bytes moved so far */
    int complete;          /* 1 once finished (successfully or not) */
    int status;            /* SO_OK or an SO_E* once complete */
    so__msg_hdr got;       /* receive: the header that arrived (valid once the header was read) */
    struct so__xfer *next; /* transport's queue link */
    uint64_t tp_priv[4];   /* transport's per-transfer state */
} so__xfer;

typedef struct so__transport_ops {
    const char *name; /* "self" "shm" "tcp" "mpi" */
    /* Queue a transfer. Never blocks. May make progress immediately. */
    int (*post)(so__transport *t, so__xfer *x);
    /* Advance posted transfers. Returns when every transfer in wait[0..n) is complete, or when
     * deadline_ns (absolute, so_now_ns) passes: SO_ETIMEDOUT, the late transfers stay posted.
     * With n == 0 it makes whatever progress is possible without blocking and returns SO_OK.
     * A failed peer completes its transfers with an error (SO_EPEER, SO_ECONNRESET, SO_EDESYNC);
     * progress returns SO_OK in that case: the caller reads each xfer's status.
     * After ops->interrupt it returns SO_EINTR soon (the caller then checks why: abort). */
    int (*progress)(so__transport *t, so__xfer *const *wait, int n, int64_t deadline_ns);
    /* Wake a thread blocked in progress (used by abort). May be called from another thread. */
    void (*interrupt)(so__transport *t);
    /* Release everything. Pending transfers are completed with SO_EABORTED. Cannot fail. */
    void (*close)(so__transport *t);
    /* Optional (NULL = not supported): called just before close when the group gives up, to
     * tell every peer why (best effort, never blocks): send `notice` (magic SO__MSG_ABORT_MAGIC)
     * on each connection that sits at a message boundary. A receiver that reads such a header
     * fails that peer's transfers with SO_EPEER and copies the notice into xfer->got. */
    void (*notify)(so__transport *t, const so__msg_hdr *notice);
} so__transport_ops;

struct so__transport {
    const so__transport_ops *ops;
};

/* What a transport needs to connect its part of a group. */
typedef struct so__transport_init {
    int rank, size;
    const int *peers; /* ranks this transport serves (sorted); npeers of them */
    int npeers;
    const int *pids; /* pid of every rank (liveness checks), size entries */
    so_store *store;
    const char *prefix; /* unique store-key prefix of this group, e.g. "world/3" */
    int64_t deadline_ns;
    const int *mpi_ranks; /* MPI_COMM_WORLD rank of every rank (size entries); mpi transport only */
} so__transport_init;

/* 1 if a received header matches the expected one (magic, tag, len and every signature field). */
int so__hdr_matches(const so__msg_hdr *want, const so__msg_hdr *got);

/* Every open is collective over the transport's peers and bounded by in->deadline_ns.
 * A transport that cannot work here returns SO_ENOTSUP; with transport "auto" the group then
 * reaches those peers over tcp. */
int so__transport_self_open(const so__transport_init *in, so__transport **out);
int so__transport_shm_open(const so__transport_init *in, so__transport **out);
int so__transport_tcp_open(const so__transport_init *in, so__transport **out);
/* Over MPI (src/comm/mpi/mpi.c): SO_ENOTSUP when MPI is not built in or not initialised. */
int so__transport_mpi_open(const so__transport_init *in, so__transport **out);

#endif
