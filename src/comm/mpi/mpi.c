/*
 * The mpi transport: a group's bytes over MPI point to point (MPI_Isend/MPI_Irecv), used under
 * mpirun for peers on other hosts, or for every peer with SO_TRANSPORT=mpi. Also the few MPI
 * calls the rest of comm needs (initialise under mpirun, world rank, broadcast, finalize).
 *
 * Communicator: every scaleout group (world, each split, each duplicate of nonblocking
 * collectives) gets its own communicator, made with MPI_Comm_create_group over MPI_COMM_WORLD
 * from the group's members in group-rank order, so its rank numbering equals the group's and
 * its traffic can never match the application's own MPI messages or another group's. Errors on
 * it return codes (MPI_ERRORS_RETURN) instead of aborting the job.
 *
 * Wire: the 40-byte so__msg_hdr travels as its own message (tag HDR) so the receiver can always
 * read it whatever the sender's length, and compare it with what it expects (SO_EDESYNC on a
 * mismatch) before any payload lands. A payload of up to 8 KiB rides inside that message
 * (header + payload copied into one staging buffer: one message per small transfer, which keeps
 * the 8-byte latency at one MPI message); a larger one follows as 1 MiB chunks (tag DATA), at
 * most 4 in flight per transfer, received straight into the destination, or for a receive-reduce
 * into 4 bounce slots combined with so_reduce_local as each lands (memory bounded at 4 MiB per
 * transfer, reduction overlapped with the next chunks). MPI keeps messages of one (source, tag,
 * communicator) in order, and a transfer posts its chunks only after every earlier transfer to
 * (from) that peer posted all of its own, so headers and chunks pair up in FIFO order. The
 * receiver pre-posts the header receive of every queued transfer; its chunks are posted once
 * the header arrived and matched.
 *
 * Progress: MPI_Testsome over every outstanding request, posting newly allowed chunks between
 * rounds; when nothing moves it spins 16 rounds, then yields for up to 1 ms, then sleeps 50 us
 * per round (oversubscribed ranks need the CPU back). MPI has no deadlines: at the deadline
 * progress returns SO_ETIMEDOUT and the transfers stay posted; the group is poisoned and closed
 * anyway. interrupt() sets an
 * atomic flag that the loop checks every round. notify() sends the abort notice as a header
 * message, which the peer's pre-posted header receive takes (SO_EPEER with the notice).
 * close() cancels what is still posted, waits up to 100 ms for the cancellations, and leaks
 * (rather than frees) any staging buffer MPI may still write into.
 *
 * Thread level: initialised by us with MPI_THREAD_MULTIPLE (Debian's Open MPI 4.1 provides it),
 * because the worker thread of nonblocking collectives drives its own duplicate group. With
 * MPI_THREAD_SERIALIZED (an application's choice) our MPI calls take one process-wide mutex
 * (the application must then not call MPI itself while a nonblocking collective runs); below
 * that only the main thread may open or post on an mpi transport (others get SO_ENOTSUP).
 *
 * Cost: per transfer one header message (+ len/1 MiB chunk messages above 8 KiB), one staging
 * copy for inline payloads. Limits: a dead peer is noticed by mpirun (which kills the job), not
 * by us; a transfer cancelled after it matched may still be written by MPI after close.
 */
#include "scaleout/so_config.h"

#if SO_HAVE_MPI

#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "../comm_priv.h"
#include "../transport.h"

#define EAGER_BYTES 8192u
#define CHUNK_BYTES (1u << 20)
#define WINDOW 4
#define SPIN_ROUNDS 16 /* idle rounds before yielding */
#define TAG_HDR 1
#define TAG_DATA 2
#define HDR_BYTES ((int)sizeof(so__msg_hdr))

static int g_we_init;   /* MPI_Init_thread was ours: finalize at the world group's destroy */
static int g_serialize; /* provided == MPI_THREAD_SERIALIZED: one mutex around our MPI calls */
static int g_level = -1;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void mpi_lock(void) {
    if (g_serialize) {
        pthread_mutex_lock(&g_mu);
    }
}

static void mpi_unlock(void) {
    if (g_serialize) {
        pthread_mutex_unlock(&g_mu);
    }
}

/* Below MPI_THREAD_SERIALIZED only the main thread may call MPI. */
static int may_call(void) {
    int is_main = 0;
    if (g_level >= MPI_THREAD_SERIALIZED) {
        return 1;
    }
    MPI_Is_thread_main(&is_main);
    return is_main;
}

static int mpi_ready(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin && g_level < 0) {
        MPI_Query_thread(&g_level);
        g_serialize = g_level == MPI_THREAD_SERIALIZED;
    }
    return init && !fin;
}

typedef struct mpi_op {
    so__xfer *x; /* the caller's; not touched once the op failed */
    int peer;
    struct mpi_op *next;
    MPI_Request hreq;         /* header (+ inline payload) */
    MPI_Request dreq[WINDOW]; /* data chunks in flight */
    size_t doff[WINDOW];      /* payload offset of each in-flight chunk */
    char *stage;              /* header + inline payload, EAGER_BYTES + 40 */
    char *bounce;             /* receive-reduce: WINDOW chunk slots */
    int hdr_done;
    int inflight;
    size_t posted; /* payload bytes whose chunk was posted */
    int failed;    /* completed with an error; requests may still be outstanding */
} mpi_op;

typedef struct mpi_peer {
    mpi_op *sq, *sq_tail, *rq, *rq_tail;
    int failed;
    so__msg_hdr notice;
    int has_notice;
} mpi_peer;

typedef struct mpi_tp {
    so__transport base;
    MPI_Comm comm;
    int rank, size;
    mpi_peer *peers; /* by group rank */
    mpi_op *dead;    /* failed ops whose requests are still outstanding */
    atomic_int interrupted;
    /* Scratch for Testsome, grown as needed. */
    MPI_Request *reqs;
    mpi_op **owner;
    int *slot;
    int *idx;
    MPI_Status *st;
    int cap;
} mpi_tp;

static void xcomplete(so__xfer *x, int status) {
    x->status = status;
    x->complete = 1;
}

static int op_has_requests(const mpi_op *o) {
    if (o->hreq != MPI_REQUEST_NULL) {
        return 1;
    }
    for (int i = 0; i < WINDOW; i++) {
        if (o->dreq[i] != MPI_REQUEST_NULL) {
            return 1;
        }
    }
    return 0;
}

static void op_free(mpi_op *o) {
    free(o->stage);
    so_free_aligned(o->bounce);
    free(o);
}

/* Cancels what the op still has posted and parks it on the dead list; pump frees it once MPI
 * reports its requests done (never here, so a pointer held by the current round stays valid). */
static void op_retire(mpi_tp *t, mpi_op *o) {
    if (o->hreq != MPI_REQUEST_NULL) {
        MPI_Cancel(&o->hreq);
    }
    for (int i = 0; i < WINDOW; i++) {
        if (o->dreq[i] != MPI_REQUEST_NULL) {
            MPI_Cancel(&o->dreq[i]);
        }
    }
    o->failed = 1;
    o->next = t->dead;
    t->dead = o;
}

/* Fails every queued transfer with that peer (after a desync, a notice or an MPI error). */
static void peer_fail(mpi_tp *t, int r, int status) {
    mpi_peer *p = &t->peers[r];
    if (!p->failed) {
        p->failed = status;
        SO_LOGD("mpi: transfers with rank %d failed: %s", r, so_strerror(status));
    }
    mpi_op *lists[2] = {p->sq, p->rq};
    p->sq = p->sq_tail = p->rq = p->rq_tail = NULL;
    for (int l = 0; l < 2; l++) {
        for (mpi_op *o = lists[l], *nx; o; o = nx) {
            nx = o->next;
            if (p->has_notice) {
                o->x->got = p->notice;
            }
            xcomplete(o->x, status);
            op_retire(t, o);
        }
    }
}

static int mpi_post(so__transport *tp, so__xfer *x) {
    mpi_tp *t = (mpi_tp *)tp;
    x->done = 0;
    x->complete = 0;
    x->status = SO_OK;
    x->next = NULL;
    if (x->peer < 0 || x->peer >= t->size || x->peer == t->rank) {
        return so__fail(SO_EINVAL, "mpi transport does not serve rank %d", x->peer);
    }
    if (!may_call()) {
        return so__fail(SO_ENOTSUP,
                        "mpi transport: MPI runs at thread level %d, so only the main "
                        "thread may use it; nonblocking collectives over mpi need "
                        "MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE",
                        g_level);
    }
    mpi_peer *p = &t->peers[x->peer];
    if (p->failed) {
        if (p->has_notice) {
            x->got = p->notice;
        }
        xcomplete(x, p->failed);
        return SO_OK;
    }
    mpi_op *o = calloc(1, sizeof *o);
    int inline_payload = x->len <= EAGER_BYTES, staged = !x->is_send || inline_payload;
    if (o && staged) {
        o->stage = malloc((size_t)HDR_BYTES + EAGER_BYTES);
    }
    if (!o || (staged && !o->stage)) {
        if (o) {
            free(o);
        }
        return so__fail(SO_ENOMEM, "mpi transport: out of memory posting %zu bytes", x->len);
    }
    o->x = x;
    o->peer = x->peer;
    o->hreq = MPI_REQUEST_NULL;
    for (int i = 0; i < WINDOW; i++) {
        o->dreq[i] = MPI_REQUEST_NULL;
    }
    int rc;
    mpi_lock();
    if (x->is_send && inline_payload) {
        memcpy(o->stage, &x->hdr, sizeof x->hdr);
        if (x->len) {
            memcpy(o->stage + HDR_BYTES, x->buf, x->len);
        }
        o->posted = x->len;
        rc = MPI_Isend(o->stage, HDR_BYTES + (int)x->len, MPI_BYTE, x->peer, TAG_HDR, t->comm,
                       &o->hreq);
    } else if (x->is_send) {
        rc = MPI_Isend(&x->hdr, HDR_BYTES, MPI_BYTE, x->peer, TAG_HDR, t->comm, &o->hreq);
    } else {
        rc = MPI_Irecv(o->stage, HDR_BYTES + (int)EAGER_BYTES, MPI_BYTE, x->peer, TAG_HDR, t->comm,
                       &o->hreq);
    }
    mpi_unlock();
    if (rc != MPI_SUCCESS) {
        op_free(o);
        return so__fail(SO_EIO,
                        "mpi transport: posting a %s of %zu bytes with rank %d failed (MPI "
                        "error %d)",
                        x->is_send ? "send" : "receive", x->len, x->peer, rc);
    }
    mpi_op **head = x->is_send ? &p->sq : &p->rq, **tail = x->is_send ? &p->sq_tail : &p->rq_tail;
    if (*head) {
        (*tail)->next = o;
    } else {
        *head = o;
    }
    *tail = o;
    return SO_OK;
}

/* Posts the chunks an op may have in flight now. Returns 1 if the op posted all of them. */
static int post_chunks(mpi_tp *t, mpi_op *o, int peer) {
    so__xfer *x = o->x;
    if (!x->is_send && !o->hdr_done) {
        return 0; /* the length is trusted only after the header matched */
    }
    if (!x->is_send && x->reduce && !o->bounce && o->posted < x->len) {
        o->bounce = so_malloc_aligned((size_t)WINDOW * CHUNK_BYTES);
        if (!o->bounce) {
            peer_fail(t, peer, SO_ENOMEM);
            return 0;
        }
    }
    for (int s = 0; s < WINDOW && o->posted < x->len; s++) {
        if (o->dreq[s] != MPI_REQUEST_NULL) {
            continue;
        }
        size_t n = x->len - o->posted < CHUNK_BYTES ? x->len - o->posted : CHUNK_BYTES;
        char *at = (char *)x->buf + o->posted;
        int rc;
        if (x->is_send) {
            rc = MPI_Isend(at, (int)n, MPI_BYTE, peer, TAG_DATA, t->comm, &o->dreq[s]);
        } else {
            rc = MPI_Irecv(x->reduce ? o->bounce + (size_t)s * CHUNK_BYTES : at, (int)n, MPI_BYTE,
                           peer, TAG_DATA, t->comm, &o->dreq[s]);
        }
        if (rc != MPI_SUCCESS) {
            peer_fail(t, peer, SO_EIO);
            return 0;
        }
        o->doff[s] = o->posted;
        o->posted += n;
        o->inflight++;
    }
    return o->posted == x->len;
}

/* A header message arrived for receive op o. */
static void header_arrived(mpi_tp *t, mpi_op *o, int peer, const MPI_Status *st) {
    so__xfer *x = o->x;
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    if (count < HDR_BYTES) {
        memset(&x->got, 0, sizeof x->got);
        xcomplete(x, SO_EDESYNC);
        peer_fail(t, peer, SO_EDESYNC);
        return;
    }
    memcpy(&x->got, o->stage, sizeof x->got);
    if (x->got.magic == SO__MSG_ABORT_MAGIC) {
        t->peers[peer].notice = x->got;
        t->peers[peer].has_notice = 1;
        peer_fail(t, peer, SO_EPEER);
        return;
    }
    size_t inl = (size_t)count - (size_t)HDR_BYTES;
    if (!so__hdr_matches(&x->hdr, &x->got) || (x->len <= EAGER_BYTES ? inl != x->len : inl != 0)) {
        /* Fail this transfer with what came (x->got) and every other one with that peer too,
         * as tcp does: the pairing of later headers and chunks cannot be trusted any more. */
        xcomplete(x, SO_EDESYNC);
        peer_fail(t, peer, SO_EDESYNC);
        return;
    }
    o->hdr_done = 1;
    if (x->len <= EAGER_BYTES) {
        if (x->reduce && x->len) {
            const void *a = x->reduce_src ? x->reduce_src : x->buf;
            so_reduce_local(x->op, x->dtype, x->buf, a, o->stage + HDR_BYTES,
                            x->len / so_dtype_size(x->dtype));
        } else if (x->len) {
            memcpy(x->buf, o->stage + HDR_BYTES, x->len);
        }
        o->posted = x->done = x->len;
    }
}

/* A data chunk in slot s of op o finished. */
static void chunk_arrived(mpi_op *o, int s, const MPI_Status *st) {
    so__xfer *x = o->x;
    size_t off = o->doff[s];
    size_t n = x->len - off < CHUNK_BYTES ? x->len - off : CHUNK_BYTES;
    if (!x->is_send && x->reduce) {
        char *dst = (char *)x->buf + off;
        const char *a = x->reduce_src ? (const char *)x->reduce_src + off : dst;
        so_reduce_local(x->op, x->dtype, dst, a, o->bounce + (size_t)s * CHUNK_BYTES,
                        n / so_dtype_size(x->dtype));
    }
    x->done += n;
    o->inflight--;
}

static int grow(mpi_tp *t, int need) {
    if (need <= t->cap) {
        return SO_OK;
    }
    int cap = need * 2;
    MPI_Request *reqs = realloc(t->reqs, (size_t)cap * sizeof *reqs);
    t->reqs = reqs ? reqs : t->reqs;
    mpi_op **owner = realloc(t->owner, (size_t)cap * sizeof *owner);
    t->owner = owner ? owner : t->owner;
    int *slot = realloc(t->slot, (size_t)cap * sizeof *slot);
    t->slot = slot ? slot : t->slot;
    int *idx = realloc(t->idx, (size_t)cap * sizeof *idx);
    t->idx = idx ? idx : t->idx;
    MPI_Status *st = realloc(t->st, (size_t)cap * sizeof *st);
    t->st = st ? st : t->st;
    if (!reqs || !owner || !slot || !idx || !st) {
        return so__fail(SO_ENOMEM, "mpi transport: out of memory for %d requests", need);
    }
    t->cap = cap;
    return SO_OK;
}

static void gather(mpi_tp *t, mpi_op *o, int *n) {
    if (o->hreq != MPI_REQUEST_NULL) {
        t->reqs[*n] = o->hreq;
        t->owner[*n] = o;
        t->slot[(*n)++] = -1;
    }
    for (int s = 0; s < WINDOW; s++) {
        if (o->dreq[s] != MPI_REQUEST_NULL) {
            t->reqs[*n] = o->dreq[s];
            t->owner[*n] = o;
            t->slot[(*n)++] = s;
        }
    }
}

/* One round: post allowed chunks, test everything outstanding, handle what finished, complete
 * finished transfers in FIFO order. *moved counts events. Called with the MPI lock held. */
static int pump(mpi_tp *t, int *moved) {
    *moved = 0;
    for (int r = 0; r < t->size; r++) {
        mpi_peer *p = &t->peers[r];
        for (int l = 0; l < 2 && !p->failed; l++) {
            for (mpi_op *o = l ? p->rq : p->sq; o; o = o->next) {
                if (o->posted < o->x->len && !post_chunks(t, o, r)) {
                    break; /* later transfers wait until this one posted all its chunks */
                }
            }
        }
    }
    int total = 0;
    for (int r = 0; r < t->size; r++) {
        for (int l = 0; l < 2; l++) {
            for (mpi_op *o = l ? t->peers[r].rq : t->peers[r].sq; o; o = o->next) {
                total += 1 + WINDOW;
            }
        }
    }
    for (mpi_op *o = t->dead; o; o = o->next) {
        total += 1 + WINDOW;
    }
    SO_TRY(grow(t, total + 1));
    int n = 0;
    for (int r = 0; r < t->size; r++) {
        for (mpi_op *o = t->peers[r].sq; o; o = o->next) {
            gather(t, o, &n);
        }
        for (mpi_op *o = t->peers[r].rq; o; o = o->next) {
            gather(t, o, &n);
        }
    }
    for (mpi_op *o = t->dead; o; o = o->next) {
        gather(t, o, &n);
    }
    if (n) {
        int outcount = 0;
        int rc = MPI_Testsome(n, t->reqs, &outcount, t->idx, t->st);
        if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS) {
            return so__fail(SO_EIO, "mpi transport: MPI_Testsome failed (MPI error %d)", rc);
        }
        if (outcount == MPI_UNDEFINED) {
            outcount = 0;
        }
        /* First mark every finished request gone, so a retirement below never cancels one. */
        for (int k = 0; k < outcount; k++) {
            int i = t->idx[k];
            if (t->slot[i] < 0) {
                t->owner[i]->hreq = MPI_REQUEST_NULL;
            } else {
                t->owner[i]->dreq[t->slot[i]] = MPI_REQUEST_NULL;
            }
        }
        for (int k = 0; k < outcount; k++) {
            int i = t->idx[k];
            mpi_op *o = t->owner[i];
            int s = t->slot[i];
            (*moved)++;
            if (o->failed) {
                continue; /* a retired op: only its requests matter */
            }
            int peer = o->peer;
            if (rc == MPI_ERR_IN_STATUS && t->st[k].MPI_ERROR != MPI_SUCCESS) {
                o->failed = 1;
                peer_fail(t, peer, SO_ECONNRESET);
                continue;
            }
            if (s >= 0) {
                chunk_arrived(o, s, &t->st[k]);
            } else if (o->x->is_send) {
                o->hdr_done = 1;
                if (o->x->len <= EAGER_BYTES) {
                    o->x->done = o->x->len;
                }
            } else {
                header_arrived(t, o, peer, &t->st[k]);
            }
        }
    }
    /* Free retired ops whose requests all finished (cancelled or done). */
    for (mpi_op **pp = &t->dead; *pp;) {
        mpi_op *o = *pp;
        if (!op_has_requests(o)) {
            *pp = o->next;
            op_free(o);
        } else {
            pp = &o->next;
        }
    }
    /* Complete finished transfers in posting order. */
    for (int r = 0; r < t->size; r++) {
        mpi_peer *p = &t->peers[r];
        for (int l = 0; l < 2; l++) {
            mpi_op **head = l ? &p->rq : &p->sq, **tail = l ? &p->rq_tail : &p->sq_tail;
            while (*head && (*head)->hdr_done && (*head)->x->done == (*head)->x->len &&
                   !op_has_requests(*head)) {
                mpi_op *o = *head;
                *head = o->next;
                if (!*head) {
                    *tail = NULL;
                }
                xcomplete(o->x, SO_OK);
                op_free(o);
                (*moved)++;
            }
        }
    }
    return SO_OK;
}

static int all_done(so__xfer *const *wait, int n) {
    for (int i = 0; i < n; i++) {
        if (!wait[i]->complete) {
            return 0;
        }
    }
    return 1;
}

static int mpi_progress(so__transport *tp, so__xfer *const *wait, int n, int64_t deadline_ns) {
    mpi_tp *t = (mpi_tp *)tp;
    int idle = 0;
    int64_t idle_since = 0;
    for (;;) {
        int moved = 0;
        mpi_lock();
        int rc = pump(t, &moved);
        mpi_unlock();
        if (rc < 0) {
            return rc;
        }
        if (n == 0 || all_done(wait, n)) {
            return SO_OK;
        }
        if (atomic_exchange(&t->interrupted, 0)) {
            return SO_EINTR;
        }
        if (so_now_ns() >= deadline_ns) {
            return SO_ETIMEDOUT; /* MPI has no deadlines: the transfers stay posted */
        }
        if (moved) {
            idle = 0;
            idle_since = 0;
        } else if (++idle > SPIN_ROUNDS) {
            /* Yield for the first millisecond without progress (an oversubscribed peer gets
             * the CPU back at once), then sleep 50 us per round. */
            int64_t now = so_now_ns();
            if (!idle_since) {
                idle_since = now;
            }
            if (now - idle_since < 1000000) {
                sched_yield();
            } else {
                so_sleep_ns(50000);
            }
        }
    }
}

static void mpi_interrupt(so__transport *tp) {
    atomic_store(&((mpi_tp *)tp)->interrupted, 1);
}

static void mpi_notify(so__transport *tp, const so__msg_hdr *notice) {
    mpi_tp *t = (mpi_tp *)tp;
    if (!may_call()) {
        return;
    }
    mpi_lock();
    for (int r = 0; r < t->size; r++) {
        if (r == t->rank || t->peers[r].failed) {
            continue;
        }
        /* MPI may read the buffer after we return; 40 bytes per peer are left to it on purpose. */
        so__msg_hdr *copy = malloc(sizeof *copy);
        MPI_Request req;
        if (copy) {
            *copy = *notice;
            if (MPI_Isend(copy, HDR_BYTES, MPI_BYTE, r, TAG_HDR, t->comm, &req) == MPI_SUCCESS) {
                MPI_Request_free(&req);
            }
        }
    }
    mpi_unlock();
}

static void mpi_close(so__transport *tp) {
    mpi_tp *t = (mpi_tp *)tp;
    if (!t) {
        return;
    }
    /* Not on a thread that may not call MPI (the communicator is leaked then). */
    int live = mpi_ready() && may_call();
    if (live) {
        mpi_lock();
    }
    for (int r = 0; t->peers && r < t->size; r++) {
        if (live) {
            peer_fail(t, r, SO_EABORTED);
        } else {
            t->peers[r].sq = t->peers[r].rq = NULL; /* MPI is gone: nothing left to cancel */
        }
    }
    /* Give the cancellations up to 100 ms; whatever MPI still holds is leaked, not freed. */
    int64_t until = so_now_ns() + 100000000LL;
    while (live && t->dead && so_now_ns() < until) {
        int moved = 0;
        if (pump(t, &moved) < 0) {
            break;
        }
    }
    for (mpi_op *o = t->dead, *nx; o; o = nx) {
        nx = o->next;
        for (int i = 0; live && i < 1 + WINDOW; i++) {
            MPI_Request *rq = i ? &o->dreq[i - 1] : &o->hreq;
            if (*rq != MPI_REQUEST_NULL) {
                MPI_Request_free(rq);
            }
        }
        SO_LOGD("mpi: a cancelled transfer with rank %d was still held by MPI at close", o->peer);
        /* o, its staging and bounce buffers are leaked: MPI may still write into them. */
    }
    if (live && t->comm != MPI_COMM_NULL) {
        MPI_Comm_free(&t->comm);
    }
    if (live) {
        mpi_unlock();
    }
    free(t->peers);
    free(t->reqs);
    free(t->owner);
    free(t->slot);
    free(t->idx);
    free(t->st);
    free(t);
}

static const so__transport_ops mpi_ops = {
    .name = "mpi",
    .post = mpi_post,
    .progress = mpi_progress,
    .interrupt = mpi_interrupt,
    .close = mpi_close,
    .notify = mpi_notify,
};

/* A tag for MPI_Comm_create_group from the group prefix, so concurrent creations (the worker's
 * duplicate while the caller splits) do not pair up with each other. */
static int prefix_tag(const char *prefix) {
    uint32_t h = 2166136261u;
    for (const char *p = prefix; *p; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    return (int)(h % 30000u) + 100;
}

int so__transport_mpi_open(const so__transport_init *in, so__transport **out) {
    *out = NULL;
    if (!mpi_ready() || !in->mpi_ranks) {
        return so__fail(SO_ENOTSUP, "mpi transport: MPI is not initialised in this process (run "
                                    "under mpirun, or call MPI_Init before creating the group)");
    }
    if (!may_call()) {
        return so__fail(SO_ENOTSUP,
                        "mpi transport: MPI was initialised with thread level %d, so "
                        "only the main thread may use it (group %s)",
                        g_level, in->prefix);
    }
    mpi_tp *t = calloc(1, sizeof *t);
    if (!t || !(t->peers = calloc((size_t)in->size, sizeof *t->peers))) {
        free(t);
        return so__fail(SO_ENOMEM, "mpi transport: out of memory");
    }
    t->base.ops = &mpi_ops;
    t->rank = in->rank;
    t->size = in->size;
    t->comm = MPI_COMM_NULL;
    atomic_init(&t->interrupted, 0);
    MPI_Group world, mine;
    mpi_lock();
    int rc = MPI_Comm_group(MPI_COMM_WORLD, &world);
    if (rc == MPI_SUCCESS) {
        rc = MPI_Group_incl(world, in->size, in->mpi_ranks, &mine);
        MPI_Group_free(&world);
    }
    if (rc == MPI_SUCCESS) {
        /* Blocks until every member calls it: they all do, having met in the store already. */
        rc = MPI_Comm_create_group(MPI_COMM_WORLD, mine, prefix_tag(in->prefix), &t->comm);
        MPI_Group_free(&mine);
    }
    int crank = -1;
    if (rc == MPI_SUCCESS) {
        MPI_Comm_set_errhandler(t->comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(t->comm, &crank);
    }
    mpi_unlock();
    if (rc != MPI_SUCCESS || crank != in->rank) {
        mpi_close(&t->base);
        return so__fail(SO_EIO,
                        "mpi transport: cannot make the communicator of group %s (MPI "
                        "error %d, rank %d there for group rank %d)",
                        in->prefix, rc, crank, in->rank);
    }
    *out = &t->base;
    return SO_OK;
}

int so__mpi_world_rank(void) {
    if (!mpi_ready()) {
        return -1;
    }
    int r = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int so__mpi_init_from_env(int *rank, int *size) {
    const char *knob = so_param_str("SO_MPI");
    if (!strcmp(knob, "0") || !strcmp(knob, "off")) {
        return 0;
    }
    if (!mpi_ready()) {
        /* Only a process that Open MPI's runtime really started (OMPI_COMM_WORLD_RANK alone is
         * what tests fake): its launcher's contact address is in the environment. */
        const char *rk = getenv("OMPI_COMM_WORLD_RANK");
        int launched = getenv("OMPI_MCA_orte_hnp_uri") || getenv("PMIX_SERVER_URI2") ||
                       getenv("PMIX_SERVER_URI3") || getenv("PMIX_SERVER_URI4");
        if (!rk || !*rk || !launched) {
            return 0;
        }
        int provided = -1;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
            return so__fail(SO_EIO, "so_comm_init_from_env: MPI_Init_thread failed under mpirun");
        }
        g_we_init = 1;
        if (!mpi_ready()) {
            return 0;
        }
        if (provided < MPI_THREAD_MULTIPLE) {
            SO_LOGI("MPI provides thread level %d, not MPI_THREAD_MULTIPLE: the mpi transport "
                    "serialises its calls, or below SERIALIZED keeps them on the main thread",
                    provided);
        }
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 1;
}

int so__mpi_bcast(void *buf, int bytes, int root) {
    mpi_lock();
    int rc = MPI_Bcast(buf, bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    mpi_unlock();
    return rc == MPI_SUCCESS ? SO_OK : so__fail(SO_EIO, "MPI_Bcast of %d bytes failed", bytes);
}

int so__mpi_we_initialised(void) {
    return g_we_init;
}

void so__mpi_finalize(void) {
    if (g_we_init && mpi_ready()) {
        MPI_Finalize();
    }
}

const char *so__mpi_library(void) {
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!v[0] && MPI_Get_library_version(v, &len) == MPI_SUCCESS) {
        char *nl = strpbrk(v, ",\n");
        if (nl) {
            *nl = 0;
        }
    }
    return v;
}

#else /* no MPI in this build: the entry points say so */

#include "../comm_priv.h"
#include "../transport.h"

int so__transport_mpi_open(const so__transport_init *in, so__transport **out) {
    *out = NULL;
    return so__fail(SO_ENOTSUP, "mpi transport: this build of scaleout has no MPI (group %s)",
                    in->prefix);
}

int so__mpi_world_rank(void) {
    return -1;
}
int so__mpi_init_from_env(int *rank, int *size) {
    return 0;
}
int so__mpi_bcast(void *buf, int bytes, int root) {
    return so__fail(SO_ENOTSUP, "MPI_Bcast: this build of scaleout has no MPI");
}
int so__mpi_we_initialised(void) {
    return 0;
}
void so__mpi_finalize(void) {}
const char *so__mpi_library(void) {
    return "";
}

#endif
