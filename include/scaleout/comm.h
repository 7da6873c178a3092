/*
 * scaleout comm: the process group. K ranked processes that exchange bytes point to point;
 * the collectives (coll.h) are written on top of it.
 *
 *   so_comm *c;
 *   SO_CHECK(so_comm_init_from_env(&c));          // under `scaleout run`, mpirun or srun
 *   int r = so_comm_rank(c), k = so_comm_size(c);
 *   SO_CHECK(so_sendrecv(c, out, n, (r + 1) % k, in, n, (r + k - 1) % k, 0));
 *   so_comm_destroy(c);
 *
 * Failure model: every blocking call has a deadline (SO_TIMEOUT_MS, default 30 s). A timeout,
 * a dead peer or a desync returns an error whose detail (so_comm_last_error) names the
 * operation, its sequence number and the peer; the group is then poisoned: every later call
 * fails fast with SO_EABORTED until so_comm_abort/so_comm_destroy.
 *
 * Thread safety: one so_comm is used by one thread at a time. Nonblocking collectives run on
 * the group's own worker thread (over a private duplicate of the group), so the caller may keep
 * using the group for point-to-point work meanwhile.
 */
#ifndef SCALEOUT_COMM_H
#define SCALEOUT_COMM_H

#include "scaleout/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rendezvous store: set/get/add/wait with deadlines ---- */

typedef struct so_store so_store;

/* A store in a directory shared by all ranks (one host, tests). The directory must exist. */
int so_store_create_file(const char *dir, so_store **out);
/* A client of the TCP store served at host:port, connecting within timeout_ms. */
int so_store_create_tcp(const char *host, int port, int timeout_ms, so_store **out);
void so_store_destroy(so_store *s);

int so_store_set(so_store *s, const char *key, const void *val, size_t len);
/* Waits until key exists (or timeout_ms passes: SO_ETIMEDOUT naming the key), then copies up to
 * cap bytes into buf; *len receives the full value length. */
int so_store_get(so_store *s, const char *key, void *buf, size_t cap, size_t *len, int timeout_ms);
/* Atomically adds delta to the integer stored at key (missing = 0); *out receives the new value. */
int so_store_add(so_store *s, const char *key, int64_t delta, int64_t *out);
/* Waits until every key exists. */
int so_store_wait(so_store *s, const char *const *keys, int nkeys, int timeout_ms);

/* The TCP store server. The launcher runs one; so does rank 0 when nothing else does.
 * port 0 picks a free port; so_store_server_port tells which. It serves from its own thread. */
typedef struct so_store_server so_store_server;
int so_store_server_start(const char *bind_addr, int port, so_store_server **out);
int so_store_server_port(const so_store_server *srv);
void so_store_server_stop(so_store_server *srv);

/* ---- process group: lifecycle ---- */

typedef struct so_comm so_comm;

typedef struct so_comm_config {
    int rank;              /* 0..size-1 */
    int size;              /* number of ranks */
    int local_rank;        /* rank among the ranks on this host, or -1 to derive via the store */
    int local_size;        /* ranks on this host, or -1 to derive */
    const char *transport; /* "auto" (shm within a host, tcp across, or mpi across when every rank
                              runs under MPI), "shm", "tcp", "mpi"; NULL = SO_TRANSPORT */
    int timeout_ms;        /* deadline of each blocking call; 0 = SO_TIMEOUT_MS */
    so_store *store;       /* borrowed rendezvous store; must outlive so_comm_create, and the
                              group itself if it is split or runs nonblocking collectives */
    const char *name;      /* prefix that keeps this group's store keys apart; NULL = "world" */
} so_comm_config;

void so_comm_config_default(so_comm_config *cfg);
/* Collective over cfg->size processes: every rank calls it with the same store and name. */
int so_comm_create(const so_comm_config *cfg, so_comm **out);
/* Reads the rank and size from, first hit wins: SO_RANK/SO_WORLD_SIZE, torchrun's RANK/WORLD_SIZE/
 * LOCAL_RANK/LOCAL_WORLD_SIZE/MASTER_ADDR/MASTER_PORT, Open MPI's OMPI_COMM_WORLD_*, PMI_RANK/
 * PMI_SIZE, Slurm's SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID; connects to the store and creates
 * the group. With none of them set it makes a group of one. Under Open MPI's mpirun (MPI built
 * in, SO_MPI not 0) it initialises MPI if the program has not, takes rank and size from
 * MPI_COMM_WORLD, and so_comm_destroy of this group finalizes MPI if it initialised it. */
int so_comm_init_from_env(so_comm **out);
/* Collective: ranks with the same color form a new group, ordered by (key, old rank).
 * color < 0 takes part without joining (*out = NULL). */
int so_comm_split(so_comm *c, int color, int key, so_comm **out);
/* Stops the group: wakes and fails every pending call on it (they return SO_EABORTED) and
 * poisons it; the transports are released by the group's own thread at its next call or at
 * so_comm_destroy. The one call that may come from another thread (a watchdog).
 * Safe on a poisoned group; so_comm_destroy is still needed to free it. */
void so_comm_abort(so_comm *c);
void so_comm_destroy(so_comm *c);

int so_comm_rank(const so_comm *c);
int so_comm_size(const so_comm *c);
int so_comm_local_rank(const so_comm *c);
int so_comm_local_size(const so_comm *c);
/* Index of this rank's host among the hosts of the group (0..nhosts-1), and the host count. */
int so_comm_host(const so_comm *c);
int so_comm_nhosts(const so_comm *c);
/* Host index of any rank. */
int so_comm_host_of(const so_comm *c, int rank);
int so_comm_timeout_ms(const so_comm *c);
void so_comm_set_timeout_ms(so_comm *c, int timeout_ms);
/* The transport used to reach peer ("self", "shm", "tcp", "mpi"). */
const char *so_comm_transport_name(const so_comm *c, int peer);
/* Detail of the last error on this group ("" if none). */
const char *so_comm_last_error(const so_comm *c);
/* Nonzero once an error poisoned the group. */
int so_comm_poisoned(const so_comm *c);

/* Bytes and messages this rank sent and received on this group since creation or the last reset. */
typedef struct so_comm_counters {
    uint64_t msgs_sent, bytes_sent, msgs_recv, bytes_recv;
} so_comm_counters;
void so_comm_counters_get(const so_comm *c, so_comm_counters *out);
/* The same, for the traffic with one peer rank only. */
void so_comm_counters_peer(const so_comm *c, int peer, so_comm_counters *out);
void so_comm_counters_reset(so_comm *c);

/* ---- point to point (bytes, FIFO per ordered pair of ranks, tags checked) ---- */

/* Messages between two ranks arrive in the order they were sent; a receive whose tag or length
 * does not match the next message from that peer fails with SO_EDESYNC. peer == own rank works. */
int so_send(so_comm *c, const void *buf, size_t bytes, int peer, int tag);
int so_recv(so_comm *c, void *buf, size_t bytes, int peer, int tag);
/* Sends to dst while receiving from src (what a ring step needs; never deadlocks on itself). */
int so_sendrecv(so_comm *c, const void *sbuf, size_t sbytes, int dst, void *rbuf, size_t rbytes,
                int src, int tag);

typedef struct so_request so_request;
/* Start a transfer; the buffer is borrowed until so_wait/so_test reports completion. */
int so_isend(so_comm *c, const void *buf, size_t bytes, int peer, int tag, so_request **req);
int so_irecv(so_comm *c, void *buf, size_t bytes, int peer, int tag, so_request **req);
/* Waits for completion (within the group's deadline), frees the request, returns its status. */
int so_wait(so_request *req);
/* *done = 1 and the request is freed once it completed; returns its status then. */
int so_test(so_request *req, int *done);
/* Waits for all; returns the first failure. Every request is freed. */
int so_waitall(so_request **reqs, int n);

#ifdef __cplusplus
}
#endif
#endif
