/*
 * Internal interface of the collective layer: the algorithms (one per file), the helpers they
 * share, and the contract between the public entry points and the algorithms.
 *
 * Contract. An entry point (allreduce.c, reduce_scatter.c, ...) checks the arguments, handles
 * the edge cases (count 0, a group of one), widens bf16/f16 into f32 scratch, turns AVG into SUM,
 * picks the algorithm, opens the collective with so__coll_begin and then calls one algorithm
 * below. So an algorithm may assume: size >= 2, count >= 1, an arithmetic dtype (f32, f64, i32,
 * i64, u8), an op that is SUM, PROD, MIN or MAX, and that it runs inside so__coll_begin/end.
 *
 * Scratch buffers of the group (so__comm_scratch) are shared by index; each index has one user
 * at a time:
 *   0  the algorithm's data temporary (ring RS double buffer, halving work vector, Bruck buffer,
 *      reduce accumulator, all-to-all staging copy, calibration buffer)
 *   1  the algorithm's small metadata (segment tables, transfer arrays)
 *   2  an entry point's f32 output when it widened (reduce-scatter, reduce), or its staging copy
 *   3  an entry point's widened f32 input (bf16/f16)
 */
#ifndef SO_COLL_INTERNAL_H
#define SO_COLL_INTERNAL_H

#include <string.h>

#include "comm/comm_internal.h"
#include "scaleout/coll.h"

/* ---- partitions ---- */

/* Block b of n elements cut into k near-equal blocks: the first n % k blocks get one extra. */
static inline size_t so__blk_off(size_t n, int k, int b) {
    size_t q = n / (size_t)k, r = n % (size_t)k;
    return (size_t)b * q + ((size_t)b < r ? (size_t)b : r);
}
static inline size_t so__blk_len(size_t n, int k, int b) {
    return n / (size_t)k + ((size_t)b < n % (size_t)k ? 1 : 0);
}
static inline int so__mod(int a, int k) {
    return ((a % k) + k) % k;
}
/* Largest power of two <= k (k >= 1). */
static inline int so__pof2_floor(int k) {
    int p = 1;
    while (p * 2 <= k) {
        p *= 2;
    }
    return p;
}
/* ceil(log2 k) for k >= 1. */
static inline int so__log2_ceil(int k) {
    int l = 0;
    while ((1 << l) < k) {
        l++;
    }
    return l;
}

/* Non-power-of-two fold (halving-doubling): with k = pof2 + rem, ranks 0..2rem-1 pair up;
 * the even rank of each pair hands its data to the odd one and sits out, so pof2 "virtual" ranks
 * remain. vrank of a real rank (-1 for a folded-out even rank) and the real rank of a vrank. */
static inline int so__vrank(int r, int rem) {
    return r < 2 * rem ? ((r & 1) ? r / 2 : -1) : r - rem;
}
static inline int so__vreal(int v, int rem) {
    return v < rem ? 2 * v + 1 : v + rem;
}

/* ---- transfers that skip empty sides ---- */

/* Sends sbytes to `to` while receiving rbytes from `from`; a side with zero bytes is not sent at
 * all (both ends compute the same lengths from the same partition, so they agree). */
int so__xchg(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *rbuf,
             size_t rbytes);
/* The same with a receive-reduce of count elements: dst = (local ? local : dst) op incoming. */
int so__xchg_reduce(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *dst,
                    const void *local, size_t count, so_dtype dt, so_op op);

/* Scratch buffer `index` of at least `bytes` (never NULL for bytes == 0), or NULL with so__fail. */
void *so__scratch(so_comm *c, int index, size_t bytes);

/* Chunk size of pipelined algorithms (SO_COLL_CHUNK_BYTES), read once. */
size_t so__coll_chunk_bytes(void);
/* Chunk size of the ring all-reduce on group c: SO_COLL_CHUNK_BYTES when it is set, else
 * SO_COLL_TCP_CHUNK_BYTES (256 KiB) if any peer of the group is reached over tcp (the copies
 * through the loopback kernel then stay in L2: 2.1 vs 1.1 GB/s at 64 MiB, np 2), else 1 MiB. */
size_t so__coll_ring_chunk_bytes(so_comm *c);

/* ---- halving-doubling cores shared by reduce-scatter, all-gather and all-reduce ---- */

/* Recursive halving over pof2 virtual ranks: seg[0..pof2] are element offsets of the pof2
 * segments. `in` is this rank's input (full vector), `w` a full-size work vector (may equal in).
 * On return w holds, in segment vrank, the reduction over all virtual ranks of that segment. */
int so__halving_core(so_comm *c, int vrank, int pof2, int rem, const size_t *seg, const void *in,
                     void *w, so_dtype dt, so_op op);
/* Recursive doubling over pof2 virtual ranks: on entry w holds segment vrank (bytes from seg[]
 * times es); on return every segment. */
int so__doubling_core(so_comm *c, int vrank, int pof2, int rem, const size_t *seg, void *w,
                      size_t es);

/* ---- algorithms (see each file's opening comment) ---- */

int so__allreduce_naive(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                        so_op op);
int so__allreduce_tree(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op);
int so__allreduce_ring(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op);
int so__allreduce_hd(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op);
int so__allreduce_rd(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt, so_op op);
int so__allreduce_hier(so_comm *c, const void *send, void *recv, size_t count, so_dtype dt,
                       so_op op);

/* recv must not overlap send except at send + rank*recvcount (the entry point stages others). */
int so__reduce_scatter_ring(so_comm *c, const void *send, void *recv, size_t recvcount, so_dtype dt,
                            so_op op);
int so__reduce_scatter_halving(so_comm *c, const void *send, void *recv, size_t recvcount,
                               so_dtype dt, so_op op);

/* All-gather on bytes: this rank's block is already at recv + rank*block. */
int so__allgather_ring(so_comm *c, void *recv, size_t block);
int so__allgather_rd(so_comm *c, void *recv, size_t block);

int so__bcast_tree(so_comm *c, void *buf, size_t bytes, int root);
int so__bcast_chain(so_comm *c, void *buf, size_t bytes, int root);

/* Binomial-tree reduce to root. recv is used on the root; non-roots accumulate in `work` when
 * given (count elements), else in scratch 0. */
int so__reduce_tree(so_comm *c, const void *send, void *recv, void *work, size_t count, so_dtype dt,
                    so_op op, int root);

int so__gather_linear(so_comm *c, const void *send, void *recv, size_t block, int root);
int so__scatter_linear(so_comm *c, const void *send, void *recv, size_t block, int root);

int so__alltoall_pairwise(so_comm *c, const void *send, void *recv, size_t block);
int so__alltoallv_pairwise(so_comm *c, const void *send, const size_t *sendcounts,
                           const size_t *sdispls, void *recv, const size_t *recvcounts,
                           const size_t *rdispls, size_t es);

int so__barrier_dissemination(so_comm *c);

/* ---- selection (select.c) ---- */

/* The algorithm for a collective of `kind` moving `bytes` per rank (all-reduce: the vector;
 * reduce-scatter and all-gather: the full vector of size*block; bcast: the buffer): opts->algo,
 * else SO_ALGO if it applies to kind, else the model's minimum. Identical on every rank. */
int so__coll_choose(so_comm *c, int kind, size_t bytes, const so_coll_opts *opts, so_algo *out);

/* ---- dtype helpers (widen.c) ---- */

/* 1 for bf16/f16 (storage-only types that the collectives widen to f32). */
int so__is_half(so_dtype dt);
/* The dtype the algorithms run on (f32 for the half types) and its element size. */
so_dtype so__work_dtype(so_dtype dt);
void so__widen(so_dtype dt, float *dst, const void *src, size_t n);
void so__narrow(so_dtype dt, void *dst, const float *src, size_t n);
/* Argument checks shared by every entry point; a sentence naming the collective on failure. */
int so__check_args(so_comm *c, const char *what, so_dtype dt, int op, int root);

#endif
