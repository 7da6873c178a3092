/*
 * Distributed-systems building blocks of the book's chapters 1 and 2: stable hashing (md5),
 * partitioners (contiguous, hash mod M, consistent-hash ring with virtual nodes), vector clocks
 * and grow-only counters, ring gossip over a process group, BSP supersteps (real ones on a
 * group, and the 2.2.1 model drawn with the CPython-compatible generator), and Raft (leader
 * election and log replication over a group).
 *
 *   uint64_t start, count; so_part_contiguous(1000, 6, r, &start, &count);   // 2.1.2
 *   so_hash_ring *ring; so_hash_ring_create(200, &ring);
 *   for (int n = 0; n < 9; n++) so_hash_ring_add(ring, n);
 *   int owner = so_hash_ring_owner(ring, so_part_md5_mod("key-42", 1ull << 32));
 *   so_gossip_ring_round(comm, &x, 1, 0.5);                                // 1.4.1, one round
 *
 * Sources: src/core/md5.c, src/data/partition.c, src/data/vclock.c, src/infra/dist_gossip.c,
 * src/infra/dist_bsp.c, src/infra/dist_raft.c. Functions taking a so_comm are collective: every
 * rank calls them in the same order. Nothing here is shared between threads without a lock.
 */
#ifndef SCALEOUT_DIST_H
#define SCALEOUT_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "scaleout/comm.h"
#include "scaleout/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- md5 (RFC 1321; for stable placement only, not security) ---- */

void so_md5(const void *data, size_t n, uint8_t out[16]);
/* Lower-case hex digest, NUL-terminated. */
void so_md5_hex(const void *data, size_t n, char out[33]);

/* ---- partitioners (2.1.2, 2.3.1) ---- */

/* Contiguous shard of `rank` among `world` over n items: base, extra = divmod(n, world);
 * start = rank base + min(rank, extra), count = base + (rank < extra). */
void so_part_contiguous(uint64_t n, int world, int rank, uint64_t *start, uint64_t *count);
/* The md5 digest of the NUL-terminated key read as a big-endian 128-bit integer (Python's
 * int(md5(key).hexdigest(), 16)), modulo m >= 1: the book's stable hash. */
uint64_t so_part_md5_mod(const char *key, uint64_t m);

/* Consistent-hash ring: each node owns `vnodes` points at md5("node-{n}-vn-{v}") mod 2^32 (the
 * book's labels); a key at position p belongs to the first point strictly after p, wrapping
 * around (Python's bisect.bisect(points, p) % len(points)). Adding a node moves only the keys
 * its points capture: about 1/(M+1) of them. */
typedef struct so_hash_ring so_hash_ring;
int so_hash_ring_create(int vnodes, so_hash_ring **out);
void so_hash_ring_destroy(so_hash_ring *r);
/* Add or remove node id (>= 0). SO_EINVAL if it is already there / not there. */
int so_hash_ring_add(so_hash_ring *r, int node);
int so_hash_ring_remove(so_hash_ring *r, int node);
/* Owner of position pos (0 .. 2^32-1); -1 if the ring is empty. O(log points). */
int so_hash_ring_owner(const so_hash_ring *r, uint64_t pos);
int so_hash_ring_nodes(const so_hash_ring *r);

/* ---- vector clocks and grow-only counters (2.5.3) ---- */

#define SO_VCLOCK_MAX 64

typedef struct so_vclock {
    int n;                     /* number of nodes */
    uint64_t c[SO_VCLOCK_MAX]; /* events seen from each node */
} so_vclock;

typedef enum so_vclock_order {
    SO_VC_EQUAL = 0,
    SO_VC_BEFORE,    /* a happened before b: a <= b everywhere, < somewhere */
    SO_VC_AFTER,     /* b happened before a */
    SO_VC_CONCURRENT /* neither: a conflict to reconcile */
} so_vclock_order;

/* n in 1..SO_VCLOCK_MAX (clamped). */
void so_vclock_init(so_vclock *v, int n);
/* A local event at node. */
void so_vclock_tick(so_vclock *v, int node);
/* dst = elementwise max (what receiving src's state does); over ranks this is an all-reduce MAX
 * of the u64 array. */
void so_vclock_merge(so_vclock *dst, const so_vclock *src);
so_vclock_order so_vclock_compare(const so_vclock *a, const so_vclock *b);
/* "{0:1, 1:0, 2:0, 3:1, 4:0}" (the book's print), into buf; returns buf. */
char *so_vclock_format(const so_vclock *v, char *buf, size_t cap);

/* Grow-only counter (a CRDT): each node counts its own increments; merge is the elementwise max,
 * the value is base + the sum. Concurrent increments on both sides of a partition all survive. */
typedef struct so_gcounter {
    int n;
    int64_t base;
    uint64_t inc[SO_VCLOCK_MAX];
} so_gcounter;
void so_gcounter_init(so_gcounter *g, int n, int64_t base);
void so_gcounter_add(so_gcounter *g, int node, uint64_t delta);
void so_gcounter_merge(so_gcounter *dst, const so_gcounter *src);
int64_t so_gcounter_value(const so_gcounter *g);

/* ---- gossip (1.4.1) ---- */

/* One synchronous round of ring gossip on the group: every rank sends x to both neighbours and
 * sets x = w x + (1 - w) / 2 (x_left + x_right). The mixing matrix is doubly stochastic, so the
 * mean over ranks is preserved (up to rounding) and the disagreement shrinks by the second
 * eigenvalue w + (1 - w) cos(2 pi / K) per round (so_model_gossip_lambda2). Collective; two
 * sendrecvs of n doubles per round. With one rank it does nothing. */
int so_gossip_ring_round(so_comm *c, double *x, size_t n, double self_weight);

/* ---- BSP supersteps (2.2.1) ---- */

/* The 2.2.1 draws: compute[s * workers + w] = base[w % nbase] + uniform(-jitter, jitter) in the
 * listing's order (step by step, worker by worker) from random.seed(seed), in ms. */
void so_bsp_draw(uint64_t seed, const double *base, int nbase, int workers, int steps,
                 double jitter, double *compute);
/* The BSP model of one superstep: max over workers of compute, plus comm; *idle receives the
 * barrier idle time summed over workers (sum of max - compute). */
double so_bsp_model_step(const double *compute, int workers, double comm, double *idle);

/* A real superstep on the group: every rank works (sleeps) compute_s, waits at a barrier, then
 * communicates: a sum all-reduce of `comm_bytes` (0: none) and, if comm_s > 0, a sleep of comm_s
 * standing for the book's fixed communication cost. Times are measured on each rank from a
 * common start (an entry barrier); step_s and compute_max_s are the max over ranks. */
typedef struct so_bsp_step {
    double compute_s;     /* this rank's compute phase, measured */
    double wait_s;        /* this rank's time at the barrier */
    double step_s;        /* superstep time (max over ranks) */
    double compute_max_s; /* slowest rank's compute (max over ranks) */
    double idle_sum_s;    /* barrier idle summed over ranks */
    int barrier_held;     /* 1 if no rank left the barrier before the last one arrived (the
                             clocks are the machine's monotonic clock, so this is checked only
                             when all ranks share one host) */
} so_bsp_step;
int so_bsp_superstep(so_comm *c, double compute_s, size_t comm_bytes, double comm_s,
                     so_bsp_step *out);

/* ---- Raft (2.6): leader election and log replication over a group ---- */

/* Every rank of the group is one Raft node; messages are point-to-point. The replicated state
 * machine is a counter: a committed entry adds its value. A node can be made silent (a
 * crash-stop that keeps the process, so the run can end cleanly): it neither reads nor sends
 * until made live again, then catches up. Not persistent (terms and logs live in memory), at most
 * SO_RAFT_MAX_LOG entries. Single-threaded: drive it with so_raft_step. */
#define SO_RAFT_MAX_LOG 256

typedef struct so_raft_cfg {
    int election_min_ms, election_max_ms; /* randomised election timeout */
    int heartbeat_ms;                     /* leader's AppendEntries period */
    uint64_t seed;                        /* of the timeouts (rank added) */
} so_raft_cfg;

typedef struct so_raft so_raft;
int so_raft_create(so_comm *c, const so_raft_cfg *cfg, so_raft **out);
/* Handles messages and timers for about `ms` milliseconds. */
int so_raft_step(so_raft *r, int ms);
/* Leader only: appends value to the log (SO_ESTATE if not the leader). *index receives its
 * index (1-based); it is committed once a majority stores it. */
int so_raft_propose(so_raft *r, int64_t value, int *index);
int so_raft_is_leader(const so_raft *r);
int so_raft_leader(const so_raft *r); /* the leader this node follows, -1 if none known */
int64_t so_raft_term(const so_raft *r);
int so_raft_commit_index(const so_raft *r);
int so_raft_log_length(const so_raft *r);
/* The log entry at index (1-based): its term and value; SO_ERANGE outside the log. */
int so_raft_entry(const so_raft *r, int index, int64_t *term, int64_t *value);
/* The state machine: the sum of the applied (committed) entries. */
int64_t so_raft_state(const so_raft *r);
/* Leader only: 1 when the whole log is committed and every peer stores it and has acknowledged
 * that it is committed (so every state machine has applied it). */
int so_raft_all_replicated(const so_raft *r);
void so_raft_set_silent(so_raft *r, int silent);
/* Terms in which this node became leader (up to 64), for the one-leader-per-term check. */
int so_raft_led_terms(const so_raft *r, int64_t *terms, int cap);
/* 1 once any peer started shutting down. */
int so_raft_stopping(const so_raft *r);
/* Ends the protocol: tells every peer, waits (up to timeout_ms) until every peer has said so
 * too, draining their messages. Collective. Then destroy. */
int so_raft_shutdown(so_raft *r, int timeout_ms);
void so_raft_destroy(so_raft *r);

#ifdef __cplusplus
}
#endif
#endif
