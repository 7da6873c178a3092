/*
 * scaleout coll: collectives over a process group, one algorithm per file (src/coll/).
 *
 *   float g[N];                                  // this rank's gradient
 *   SO_CHECK(so_allreduce(c, g, g, N, SO_F32, SO_AVG));   // in place: send == recv
 *
 * Signatures follow MPI/NCCL: counts are elements; send == recv means in place. Results are
 * bitwise identical on every rank. Ops sum/prod/min/max/avg on every dtype; bf16/f16 are reduced
 * in f32 and rounded once; avg divides once at the end (integers truncate). The algorithm comes
 * from a selector driven by an alpha-beta model (so_coll_calibrate, SO_ALPHA_BETA or a default
 * for the transport), unless opts->algo or SO_ALGO names one (docs/design/coll.md).
 * Errors and deadlines are those of the group (comm.h): a failure names the collective, its
 * sequence number and the peer, and poisons the group.
 */
#ifndef SCALEOUT_COLL_H
#define SCALEOUT_COLL_H

#include "scaleout/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum so_algo {
    SO_ALGO_AUTO = 0,
    SO_ALGO_NAIVE,         /* everything through rank 0 (or the root) */
    SO_ALGO_TREE,          /* binary/binomial tree (reduce + broadcast for all-reduce) */
    SO_ALGO_RING,          /* ring: reduce-scatter + all-gather; pipelined chain for bcast */
    SO_ALGO_HD,            /* recursive halving-doubling (Rabenseifner), any world size */
    SO_ALGO_RD,            /* recursive doubling (all-gather) */
    SO_ALGO_PAIRWISE,      /* pairwise exchange (all-to-all) */
    SO_ALGO_DISSEMINATION, /* barrier */
    SO_ALGO_HIER,          /* two-level all-reduce: within nodes (hosts, or SO_COLL_NODE_SIZE
                            * ranks), then a ring among node leaders; never auto-selected */
    SO_ALGO_COUNT
} so_algo;

const char *so_algo_name(so_algo a);
int so_algo_parse(const char *s, so_algo *out);

typedef struct so_coll_opts {
    so_algo algo; /* SO_ALGO_AUTO: SO_ALGO, else the selector; one the collective lacks:
                   * SO_ENOTSUP */
} so_coll_opts;

int so_allreduce(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op);
int so_allreduce_ex(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
                    const so_coll_opts *opts);
/* send holds size*recvcount elements; this rank receives block `rank` of the reduction.
 * In place: recv == send + rank*recvcount (recv == send also works, through a staging copy). */
int so_reduce_scatter(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                      so_op op);
int so_reduce_scatter_ex(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                         so_op op, const so_coll_opts *opts);
/* recv holds size*sendcount elements, block r from rank r. send is read before recv is
 * written, so in place is send == recv + rank*sendcount (and any overlap is safe). */
int so_allgather(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt);
int so_allgather_ex(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt,
                    const so_coll_opts *opts);
/* Block j of send goes to rank j; block i of recv came from rank i; count elements per block.
 * send may equal recv. */
int so_alltoall(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt);
/* Variable blocks: counts and displacements in elements, one per rank. recvcounts[i] must
 * equal rank i's sendcounts[rank]; a mismatch fails with SO_EDESYNC. */
int so_alltoallv(so_comm *c, const void *send, const size_t *sendcounts, const size_t *sdispls,
                 void *recv, const size_t *recvcounts, const size_t *rdispls, so_dtype dt);
int so_bcast(so_comm *c, void *buf, size_t count, so_dtype dt, int root);
int so_bcast_ex(so_comm *c, void *buf, size_t count, so_dtype dt, int root,
                const so_coll_opts *opts);
/* recv is used on the root only (may be NULL elsewhere). */
int so_reduce(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
              int root);
/* recv (root only) holds size*sendcount elements. */
int so_gather(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt, int root);
/* send (root only) holds size*recvcount elements. */
int so_scatter(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt, int root);
int so_barrier(so_comm *c);

/* Nonblocking forms: buffers are borrowed until so_wait(req) returns. They run in submission
 * order on the group's worker; every rank must submit the same sequence. */
int so_iallreduce(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op,
                  so_request **req);
int so_iallgather(so_comm *c, const void *send, void *recv, size_t sendcount, so_dtype dt,
                  so_request **req);
int so_ireduce_scatter(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                       so_op op, so_request **req);

/* ---- the alpha-beta model and the selector ---- */

typedef struct so_alpha_beta {
    double alpha_s;      /* per-message latency, seconds */
    double beta_s_per_b; /* per-byte time, seconds (1 / bandwidth) */
} so_alpha_beta;

/* Collective: ping-pong between rank pairs over a range of sizes, least-squares fit of
 * t = alpha + n*beta. The result is cached on the group and used by the selector. */
int so_coll_calibrate(so_comm *c, so_alpha_beta *out);
/* The model's time for an all-reduce of `bytes` per rank on k ranks with algorithm a. */
double so_coll_predict_allreduce(so_algo a, int k, size_t bytes, const so_alpha_beta *ab);
/* What the selector would pick for an all-reduce of `bytes` on this group. */
so_algo so_coll_select_allreduce(so_comm *c, size_t bytes);
/* Sets the group's model by hand (what calibration would store). Local: call it on every rank
 * with the same numbers, or ranks may pick different algorithms (caught as SO_EDESYNC). */
int so_coll_set_alpha_beta(so_comm *c, const so_alpha_beta *ab);
/* The model the selector uses: returns 0 if calibrated or set on the group, 1 if it came from
 * SO_ALPHA_BETA ("alpha_us,GBps"), 2 if it is the default for the group's transport. */
int so_coll_get_alpha_beta(so_comm *c, so_alpha_beta *out);

#ifdef __cplusplus
}
#endif
#endif
