/*
 * scaleout parallel: data-parallel training machinery on top of the collectives (src/parallel/).
 *
 * The gradient reducer (book 4.10, PyTorch DDP's Reducer): gradients are registered once, in the
 * order backward produces them, and packed into buckets of at most bucket_cap bytes. Each step,
 * backward marks a gradient ready as soon as it is computed; when the last gradient of a bucket is
 * ready the bucket's all-reduce starts on the group's communication worker while backward goes on
 * computing the next layers; finish() waits for the rest. Communication that ran while backward
 * was still computing is hidden; what finish() has to wait for is exposed.
 *
 *   so_reducer *rd;
 *   so_reducer_opts o;  so_reducer_opts_default(&o);          // 25 MiB buckets, SO_AVG, overlap
 *   SO_CHECK(so_reducer_create(comm, SO_F32, &o, &rd));
 *   for (int l = nlayers - 1; l >= 0; l--) so_reducer_add(rd, grad[l], n[l]);  // backward order
 *   ... each step:
 *   for (int i = 0; i < nlayers; i++) {                        // backward: last layer first
 *       backward(nlayers - 1 - i);
 *       SO_CHECK(so_reducer_ready(rd, i));                     // may start a bucket
 *   }
 *   SO_CHECK(so_reducer_finish(rd));      // every gradient now holds the average over ranks
 *   so_reducer_stats st;  so_reducer_stats_get(rd, &st);        // st.hidden_frac ...
 *   so_reducer_destroy(rd);
 *
 * Buffers are borrowed: a gradient must not be read or written from the moment its bucket starts
 * (the ready() call that completes the bucket) until finish() returns. Buckets start strictly in
 * bucket order, so every rank submits the same sequence of all-reduces whatever order it marks
 * gradients in. Thread safety: one thread drives a reducer; the all-reduces run on the group's
 * worker (coll.h, nonblocking forms), so the group must not be destroyed before the reducer.
 */
#ifndef SCALEOUT_PARALLEL_H
#define SCALEOUT_PARALLEL_H

#include "scaleout/coll.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct so_reducer so_reducer;

typedef struct so_reducer_opts {
    size_t bucket_cap; /* bytes per bucket (DDP's bucket_cap_mb); 0 = SO_BUCKET_CAP (25M). A
                          gradient larger than the cap gets a bucket of its own. */
    so_op op;          /* SO_AVG (what DDP does) or SO_SUM; any reduction op works */
    int overlap;       /* 1: start each bucket as soon as it is complete; 0: start all of them
                          in finish(), after backward (the no-overlap baseline) */
    int force_flatten; /* 1: always copy through a bucket buffer, even when the bucket's
                          gradients are contiguous in memory (tests both paths) */
} so_reducer_opts;

void so_reducer_opts_default(so_reducer_opts *o);
/* Local (no communication): the all-reduces are collective, creation is not. opts NULL =
 * defaults. dt is the gradients' dtype. */
int so_reducer_create(so_comm *c, so_dtype dt, const so_reducer_opts *opts, so_reducer **out);
/* Registers a gradient of count elements; returns its index (0, 1, ... in call order, which
 * should be the order backward produces gradients) or a negative error. Only before the first
 * ready() call. Every rank must register the same counts in the same order. */
int so_reducer_add(so_reducer *r, void *grad, size_t count);
/* Gradient `index` is computed for this step. Completing a bucket starts its all-reduce (with
 * overlap on) once every earlier bucket has started. Marking a gradient twice in a step fails. */
int so_reducer_ready(so_reducer *r, int index);
/* Ends the step: starts what has not started, waits for every bucket, copies flattened buckets
 * back. Every gradient must have been marked ready (else SO_EINVAL naming the first one, after
 * the started buckets completed). A failed all-reduce is returned with detail naming the bucket
 * and the collective's error. The reducer is then ready for the next step. */
int so_reducer_finish(so_reducer *r);
void so_reducer_destroy(so_reducer *r);

int so_reducer_nbuckets(const so_reducer *r);
/* Bucket b: its first gradient index and gradient count, its bytes, and whether it is
 * all-reduced in place (its gradients are contiguous in memory) rather than flattened. */
int so_reducer_bucket_info(const so_reducer *r, int b, int *first, int *ngrads, size_t *bytes,
                           int *in_place);

/* Times of the last finished step, in seconds of so_now_s(). */
typedef struct so_reducer_bucket_times {
    double ready_s;  /* its last gradient was marked ready */
    double submit_s; /* its all-reduce was handed to the worker */
    double start_s;  /* the worker began it */
    double end_s;    /* the worker finished it */
} so_reducer_bucket_times;
int so_reducer_bucket_times_get(const so_reducer *r, int b, so_reducer_bucket_times *out);

/* Accounting of the last finished step. Communication time is the union of the buckets'
 * [start, end] intervals on the worker (they run one after another). The part of it before
 * finish() was called (backward still computing) is hidden, the rest is exposed; so
 * hidden_s + exposed_s == comm_s exactly, and hidden_frac = hidden_s / comm_s (1 when comm_s is
 * 0, as in the model). wait_s is the wall time finish() took (exposed communication plus the
 * copies back and the wake-up). */
typedef struct so_reducer_stats {
    int buckets;
    size_t bytes;                           /* gradient bytes all-reduced per step */
    double first_ready_s, finish_s, done_s; /* step's first ready(), finish() entry and return */
    double comm_s, hidden_s, exposed_s, hidden_frac, wait_s;
} so_reducer_stats;
int so_reducer_stats_get(const so_reducer *r, so_reducer_stats *out);

#ifdef __cplusplus
}
#endif
#endif
