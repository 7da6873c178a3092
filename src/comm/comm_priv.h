/*
 * Internal: the layout of so_comm, shared by the files of the comm layer (comm.c lifecycle,
 * comm_xfer.c waiting and errors, comm_env.c, comm_split.c, comm_request.c). Nothing outside
 * src/comm includes this; the layers above use comm_internal.h.
 */
#ifndef SO_COMM_PRIV_H
#define SO_COMM_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "comm_internal.h"

enum { SO__TP_SELF = 0, SO__TP_SHM, SO__TP_TCP, SO__TP_MPI, SO__TP_COUNT };

struct so_comm {
    int rank, size, local_rank, local_size, host, nhosts;
    int *host_of;     /* host index of every rank */
    int *pids;        /* pid of every rank */
    int *mpi_ranks;   /* MPI_COMM_WORLD rank of every rank, -1 where MPI is not initialised */
    int mpi_finalize; /* the world group of so_comm_init_from_env that initialised MPI */
    char (*hostnames)[64];
    int timeout_ms;
    char transport[8]; /* "auto" "shm" "tcp" "mpi" as asked at creation */
    char prefix[200];  /* unique store-key prefix of this group */
    so_store *store;   /* borrowed unless owns_store */
    int owns_store;
    so_store_server *server; /* rank 0's server when it hosts the store itself */
    char cleanup_dir[256];   /* file store directory rank 0 removes at destroy */

    so__transport *tp[SO__TP_COUNT];
    unsigned char *peer_tp; /* SO__TP_* of every rank */
    int closed;             /* transports released after a failure */

    so_comm_counters counters;
    so_comm_counters *peer_counters; /* per peer rank */
    so__coll_sig cur;                /* the running collective (kind P2P when none) */
    int in_coll;
    uint64_t seq;
    uint64_t nsplit; /* splits and duplicates made from this group */

    int poisoned;
    int poison_code;
    int blame; /* the rank the current failure points at, -1 if none (abort notice) */
    char err[512];
    atomic_int aborted;

    void *scratch[4];
    size_t scratch_cap[4];
    void *coll_slot;

    /* Nonblocking collectives: a private duplicate driven by one worker thread. */
    so_comm *dup;
    pthread_t worker;
    int worker_running;
    pthread_mutex_t mu; /* guards tp[] against abort from another thread, dup, the job queue */
    pthread_cond_t cv;
    struct so_request *jobs, *jobs_tail; /* queued, oldest first */
    int stopping;
};

/* Creates a group under an exact store prefix (so_comm_create adds name and restart count). */
int so__comm_create_prefixed(int rank, int size, const char *transport, int timeout_ms,
                             so_store *store, const char *prefix, so_comm **out);
/* Posts xs[0..n) (headers already set) and waits for all within deadline_ns; on failure records
 * the error (naming what, peer, seq) and poisons the group. what describes the operation for
 * messages when no collective runs ("send(1000 B, tag 3)"). */
int so__comm_wait(so_comm *c, so__xfer *const *xs, int n, int64_t deadline_ns, const char *what);
/* Posts one transfer on the transport that reaches x->peer. */
int so__comm_post(so_comm *c, so__xfer *x);
/* Fills the header of x for the current collective (or p2p with tag). */
void so__comm_stamp(so_comm *c, so__xfer *x, uint32_t tag);
/* Fails fast on a poisoned or aborted group. */
int so__comm_check(so_comm *c);
/* Records an error on the group, poisons it, closes its transports; returns code. */
int so__comm_poison(so_comm *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "allreduce(algo=ring, count=1000, f32, sum)" for a signature. */
void so__sig_describe(const so__coll_sig *s, char *out, size_t cap);
/* Milliseconds left until deadline_ns (0 if passed), for calls that take a timeout. */
int so__ms_left(int64_t deadline_ns);
/* Releases the transports (under mu, so abort never interrupts a freed one). */
void so__comm_close_transports(so_comm *c);
/* Stops the worker of nonblocking collectives and frees the duplicate. */
void so__comm_worker_stop(so_comm *c);

/* MPI (mpi/mpi.c; stubs when MPI is not built in). */
int so__mpi_world_rank(void); /* -1 when MPI is not initialised in this process */
/* Under Open MPI's launcher (or after the application's MPI_Init): initialises MPI if nobody
 * did (MPI_THREAD_MULTIPLE) and gives the MPI_COMM_WORLD rank and size; 1 then, 0 when MPI is
 * not in use (SO_MPI=0, not built, not launched by mpirun), or a negative SO_E*. */
int so__mpi_init_from_env(int *rank, int *size);
int so__mpi_bcast(void *buf, int bytes, int root); /* over MPI_COMM_WORLD */
int so__mpi_we_initialised(void);
void so__mpi_finalize(void);       /* only if we initialised MPI */
const char *so__mpi_library(void); /* "Open MPI v4.1.4" or "" */

/* A pending point-to-point transfer or nonblocking collective (comm_request.c). */
struct so_request {
    so_comm *c;
    int async;
    so__xfer x;
    char what[96];
    int (*fn)(so_comm *dup, void *arg);
    void *arg;
    void (*free_arg)(void *);
    int done, rc; /* async: guarded by c->mu */
    char err[512];
    struct so_request *next_job;
};

#endif
