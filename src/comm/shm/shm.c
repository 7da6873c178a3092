/*
 * The shared-memory transport: ranks on one host exchange messages through single-producer
 * single-consumer byte rings in one shared segment (layout in shm_internal.h, setup in shm_seg.c).
 *
 * Algorithm. Each posted transfer sits in a FIFO per (peer, direction). A send writes its 64-byte
 * header record into the ring to the peer (a payload of at most 16 bytes rides inside it, so an
 * 8-byte message is one cache line), then streams the payload in pieces of at most `chunk`
 * bytes, publishing the head counter (seq_cst store) after each piece, so the receiver works on
 * piece k while the sender writes piece k+1. A receive sees the record by its stamp and reads the
 * header straight from the ring, checks magic, tag, length and signature (a mismatch completes it
 * with SO_EDESYNC and leaves the message in the ring), then copies each published piece, or
 * combines it with so_reduce_local (dst = local op ring), directly from the ring into the
 * destination: no staging copy (a plain receive of 8 MiB or more writes with streaming stores: no
 * write-allocate). progress() advances every queue round robin, one piece per direction per pass,
 * so a send and a receive of a ring step move at once and the rings stay cache resident.
 *
 * Waiting. When no posted transfer can move, progress spins with a cpu relax (or, when more local
 * ranks than CPUs share the host, or a peer it waits for last waited on this same CPU, calls
 * sched_yield instead, so that peer runs at once), then raises its doorbell's `sleeping` flag and
 * sleeps on the doorbell futex. The spin budget starts at SO_SHM_SPIN_NS and adapts to the waits
 * that slept: one the budget could have covered had it been up to 8x the knob (the peer's own
 * wake-up latency, when two ranks fall into taking turns sleeping) widens it to cover such waits, a
 * longer one (the peer computes, or is not scheduled) halves it down to 2 us. Publishers read the
 * flag after their counter store, both seq_cst (Dekker: the sleeper raises the flag, then looks at
 * the counters once more, also seq_cst), so the common path makes no system call and no wake-up is
 * lost. A sleeper wakes at least every 50 ms to check the pids of the peers it waits on (a pidfd
 * sees a zombie too): a dead peer completes that peer's transfers with SO_EPEER once the data it
 * left in the ring is consumed.
 *
 * Cost: each byte is copied twice (into the ring, out of it), the second copy from cache; a
 * message costs one header record plus its payload rounded to 64 bytes (none up to 16 bytes) and
 * a few cache-line transfers (head counter, records). Limits: one driving thread per transport
 * (interrupt may come from another); nlocal*(nlocal-1) rings of SO_SHM_RING_BYTES each; Linux only.
 */
#include <sched.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "shm_internal.h"

#define LIVE_CHECK_NS 50000000LL     /* how often a sleeper checks its peers' pids */
#define STREAM_MIN ((size_t)8 << 20) /* receives this large write their destination streaming */
#define CHUNK_MAX (128u << 10)       /* largest piece published at once (a ring holds >= 8) */
/* A header record: the so__msg_hdr, then the record's stamp (its ring counter + 1, stored last
 * with release: the receiver polls it, so a small message costs one cache line to see), then up
 * to INLINE_MAX bytes of payload. */
#define REC_STAMP sizeof(so__msg_hdr)
#define REC_INLINE (REC_STAMP + sizeof(uint64_t))
#define INLINE_MAX (SO__SHM_REC - REC_INLINE)

static inline _Atomic uint64_t *rec_stamp(unsigned char *rec) {
    return (_Atomic uint64_t *)(void *)(rec + REC_STAMP);
}

typedef struct shm_peer {
    int rank;
    int li; /* local index in the segment */
    /* me -> peer ring (this process is the producer) */
    so__shm_ring_ctl *sctl;
    unsigned char *sdata;
    uint64_t shead; /* local head, published after each piece */
    uint64_t stail; /* last tail read */
    /* peer -> me ring (this process is the consumer) */
    so__shm_ring_ctl *rctl;
    unsigned char *rdata;
    uint64_t rtail;     /* local tail, published after each piece */
    uint64_t rhead;     /* last head read (may lag rtail: records are seen by their stamps) */
    so__shm_bell *bell; /* the peer's doorbell */
    so__xfer *sq, *sq_last, *rq, *rq_last;
    so__shm_pid pid;
    int dead;           /* died, closed, or gave up: every transfer fails with SO_EPEER */
    so__msg_hdr notice; /* its abort notice (SO__MSG_ABORT_MAGIC), if has_notice */
    int has_notice;
} shm_peer;

typedef struct so__shm {
    so__transport base;
    int rank, size;
    int nlocal, me;
    so__shm_seg seg;
    so__shm_bell *bell; /* mine */
    shm_peer *peers;
    int npeers;
    int *peer_of_rank; /* size entries: index into peers or -1 */
    uint64_t cap, mask;
    size_t chunk;
    int64_t spin_ns;  /* SO_SHM_SPIN_NS */
    int64_t spin_cur; /* the current budget, adapted by adapt_spin within [spin_min, spin_max] */
    int64_t spin_min, spin_max;
    int oversub; /* more local ranks than CPUs: yield instead of spinning */
    int64_t last_live_check;
    _Atomic int interrupted;
} so__shm;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Copy for the receive side of large messages: streaming stores, so the destination is written
 * without being read first (no write-allocate), which DRAM-bound transfers save a third on. */
static void copy_out(void *dst, const void *src, size_t n, int stream) {
#if defined(__SSE2__)
    if (stream && n >= 256) {
        unsigned char *d = dst;
        const unsigned char *s = src;
        size_t head = (16 - ((uintptr_t)d & 15)) & 15;
        memcpy(d, s, head);
        d += head;
        s += head;
        n -= head;
        size_t body = n & ~(size_t)63;
        for (size_t i = 0; i < body; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 32));
            __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 48));
            _mm_stream_si128((__m128i *)(void *)(d + i), a);
            _mm_stream_si128((__m128i *)(void *)(d + i + 16), b);
            _mm_stream_si128((__m128i *)(void *)(d + i + 32), c);
            _mm_stream_si128((__m128i *)(void *)(d + i + 48), e);
        }
        memcpy(d + body, s + body, n - body);
        return;
    }
#endif
    (void)stream;
    memcpy(dst, src, n);
}

static inline size_t min_sz(size_t a, size_t b) {
    return a < b ? a : b;
}

static inline uint64_t rec_round(uint64_t x) {
    return (x + SO__SHM_REC - 1) & ~(uint64_t)(SO__SHM_REC - 1);
}

/* Publishes a counter and wakes the owner of bell if it announced that it sleeps. The store and
 * the load are seq_cst, as are the sleeper's flag store and its last look at the counters
 * (can_advance), so either the sleeper sees the new counter or the publisher sees the flag. */
static inline void publish(_Atomic uint64_t *counter, uint64_t v, so__shm_bell *b) {
    atomic_store_explicit(counter, v, memory_order_seq_cst);
    if (atomic_load_explicit(&b->sleeping, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&b->seq, 1, memory_order_release);
        so__shm_futex_wake(&b->seq);
    }
}

static void finish(so__xfer *x, int status) {
    x->status = status;
    x->complete = 1;
}

/* ---- one step of the transfer at the head of a queue ---- */

/* Bytes the sender may write now (0 if the ring is full). */
static inline uint64_t send_room(const so__shm *t, const shm_peer *p) {
    uint64_t lim = p->stail + t->cap;
    return p->shead < lim ? lim - p->shead : 0;
}

static int send_step(so__shm *t, shm_peer *p, so__xfer *x) {
    int moved = 0;
    if (!x->tp_priv[0]) {
        if (send_room(t, p) < SO__SHM_REC) {
            p->stail = atomic_load_explicit(&p->sctl->tail, memory_order_acquire);
            if (send_room(t, p) < SO__SHM_REC) {
                return 0;
            }
        }
        so__msg_hdr h = x->hdr;
        h.magic = SO__MSG_MAGIC;
        h.len = x->len;
        unsigned char *rec = p->sdata + (p->shead & t->mask);
        memcpy(rec, &h, sizeof h);
        if (x->len <= INLINE_MAX) { /* a small payload rides in the header record's spare bytes */
            if (x->len) {
                memcpy(rec + REC_INLINE, x->buf, x->len);
            }
            x->done = x->len;
        }
        atomic_store_explicit(rec_stamp(rec), p->shead + 1, memory_order_release);
        p->shead += SO__SHM_REC;
        x->tp_priv[0] = 1;
        moved = 1;
    }
    size_t budget = t->chunk;
    while (x->done < x->len && budget > 0) {
        size_t want = min_sz(x->len - x->done, budget);
        uint64_t room = send_room(t, p);
        if (room < want) {
            p->stail = atomic_load_explicit(&p->sctl->tail, memory_order_acquire);
            room = send_room(t, p);
            if (room == 0) {
                break;
            }
        }
        size_t pos = (size_t)(p->shead & t->mask);
        size_t n = min_sz(min_sz(want, (size_t)room), (size_t)t->cap - pos);
        memcpy(p->sdata + pos, (const unsigned char *)x->buf + x->done, n);
        p->shead += n;
        x->done += n;
        budget -= n;
        moved = 1;
    }
    if (x->done == x->len) {
        p->shead = rec_round(p->shead);
        finish(x, SO_OK);
    }
    if (moved) {
        publish(&p->sctl->head, p->shead, p->bell);
    }
    return moved;
}

/* Completes every transfer queued on p with status. */
static void fail_peer(shm_peer *p, int status) {
    for (int s = 0; s < 2; s++) {
        so__xfer **q = s ? &p->sq : &p->rq;
        while (*q) {
            so__xfer *x = *q;
            *q = x->next;
            x->next = NULL;
            if (p->has_notice) {
                x->got = p->notice;
            }
            finish(x, status);
        }
    }
    p->sq_last = p->rq_last = NULL;
}

static int hdr_matches(const so__msg_hdr *got, const so__xfer *x) {
    return got->magic == SO__MSG_MAGIC && got->tag == x->hdr.tag && got->len == x->len &&
           memcmp(&got->sig, &x->hdr.sig, sizeof got->sig) == 0;
}

static int recv_step(so__shm *t, shm_peer *p, so__xfer *x) {
    int moved = 0;
    if (!x->tp_priv[0]) {
        /* The record is there once its stamp is this counter + 1 (older laps hold older stamps). */
        unsigned char *rec = p->rdata + (p->rtail & t->mask);
        if (atomic_load_explicit(rec_stamp(rec), memory_order_acquire) != p->rtail + 1) {
            return 0;
        }
        memcpy(&x->got, rec, sizeof x->got);
        if (x->got.magic == SO__MSG_ABORT_MAGIC) {
            /* The peer gave up on the group and said why (the record stays for later receives). */
            p->notice = x->got;
            p->has_notice = 1;
            p->dead = 1;
            fail_peer(p, SO_EPEER);
            return 1;
        }
        if (!hdr_matches(&x->got, x)) {
            /* The message stays in the ring: the stream from this peer is out of step now. */
            finish(x, SO_EDESYNC);
            return 1;
        }
        if (x->len && x->len <= INLINE_MAX) {
            const unsigned char *in = rec + REC_INLINE;
            if (x->reduce) {
                const void *a = x->reduce_src ? x->reduce_src : x->buf;
                so_reduce_local(x->op, x->dtype, x->buf, a, in, x->len / so_dtype_size(x->dtype));
            } else {
                memcpy(x->buf, in, x->len);
            }
            x->done = x->len;
        }
        p->rtail += SO__SHM_REC;
        x->tp_priv[0] = 1;
        moved = 1;
    }
    size_t esz = x->reduce ? so_dtype_size(x->dtype) : 1;
    size_t budget = t->chunk;
    while (x->done < x->len && budget > 0) {
        size_t want = min_sz(x->len - x->done, budget);
        /* rhead may lag behind rtail: headers are seen through their stamps, not the head. */
        uint64_t avail = p->rhead > p->rtail ? p->rhead - p->rtail : 0;
        if (avail < want) {
            p->rhead = atomic_load_explicit(&p->rctl->head, memory_order_acquire);
            avail = p->rhead > p->rtail ? p->rhead - p->rtail : 0;
        }
        size_t pos = (size_t)(p->rtail & t->mask);
        size_t n = min_sz(min_sz(want, (size_t)avail), (size_t)t->cap - pos);
        n -= n % esz; /* whole elements only; records are aligned, so none straddles the wrap */
        if (n == 0) {
            break;
        }
        unsigned char *dst = (unsigned char *)x->buf + x->done;
        if (x->reduce) {
            const unsigned char *a =
                x->reduce_src ? (const unsigned char *)x->reduce_src + x->done : dst;
            so_reduce_local(x->op, x->dtype, dst, a, p->rdata + pos, n / esz);
        } else {
            copy_out(dst, p->rdata + pos, n, x->len >= STREAM_MIN);
        }
        p->rtail += n;
        x->done += n;
        budget -= n;
        moved = 1;
    }
    if (x->done == x->len) {
#if defined(__SSE2__)
        if (!x->reduce && x->len >= STREAM_MIN) {
            _mm_sfence(); /* order the streaming stores before the completion */
        }
#endif
        p->rtail = rec_round(p->rtail);
        finish(x, SO_OK);
    }
    if (moved) {
        publish(&p->rctl->tail, p->rtail, p->bell);
    }
    return moved;
}

/* Advances the queue of one direction of one peer: finished transfers are popped and the next
 * one starts in the same call, so a burst of small messages goes out at once. */
static int advance_queue(so__shm *t, shm_peer *p, int is_send) {
    so__xfer **q = is_send ? &p->sq : &p->rq;
    so__xfer **last = is_send ? &p->sq_last : &p->rq_last;
    int moved = 0;
    while (*q) {
        so__xfer *x = *q;
        int m = is_send ? send_step(t, p, x) : recv_step(t, p, x);
        moved |= m;
        if (!x->complete) {
            break;
        }
        *q = x->next;
        x->next = NULL;
        if (!*q) {
            *last = NULL;
        }
    }
    return moved;
}

static int advance_all(so__shm *t) {
    int moved = 0;
    for (int i = 0; i < t->npeers; i++) {
        shm_peer *p = &t->peers[i];
        if (p->sq) {
            moved |= advance_queue(t, p, 1);
        }
        if (p->rq) {
            moved |= advance_queue(t, p, 0);
        }
    }
    return moved;
}

/* The peer's abort notice, if one waits at the next record boundary of its ring to us (the
 * receive at the head of the queue is not inside a message). */
static int peek_notice(so__shm *t, shm_peer *p) {
    if (p->rq && p->rq->tp_priv[0]) {
        return 0;
    }
    unsigned char *rec = p->rdata + (p->rtail & t->mask);
    if (atomic_load_explicit(rec_stamp(rec), memory_order_acquire) != p->rtail + 1) {
        return 0;
    }
    so__msg_hdr h;
    memcpy(&h, rec, sizeof h);
    if (h.magic != SO__MSG_ABORT_MAGIC) {
        return 0;
    }
    p->notice = h;
    p->has_notice = 1;
    return 1;
}

/* Checks the peers with queued transfers: one that died, closed its transport or left an abort
 * notice gets its last data drained, then its remaining transfers fail with SO_EPEER. */
static void check_peers(so__shm *t) {
    for (int i = 0; i < t->npeers; i++) {
        shm_peer *p = &t->peers[i];
        if ((p->sq || p->rq) && (atomic_load_explicit(&p->bell->closed, memory_order_acquire) ||
                                 !so__shm_pid_alive(&p->pid) || peek_notice(t, p))) {
            p->dead = 1;
            if (p->sq) {
                advance_queue(t, p, 1);
            }
            if (p->rq) {
                advance_queue(t, p, 0);
            }
            fail_peer(p, SO_EPEER);
        }
    }
}

/* ---- vtable ---- */

static int shm_post(so__transport *bt, so__xfer *x) {
    so__shm *t = (so__shm *)bt;
    x->done = 0;
    x->complete = 0;
    x->status = SO_OK;
    x->next = NULL;
    memset(x->tp_priv, 0, sizeof x->tp_priv);
    memset(&x->got, 0, sizeof x->got);
    if (x->peer < 0 || x->peer >= t->size || t->peer_of_rank[x->peer] < 0) {
        finish(x, SO_EINVAL);
        return so__fail(SO_EINVAL, "shm transport: rank %d is not a shared-memory peer of rank %d",
                        x->peer, t->rank);
    }
    if (!x->is_send && x->reduce) {
        size_t esz = so_dtype_size(x->dtype);
        if (esz == 0 || x->len % esz != 0 || x->op < 0 || x->op >= SO_OP_COUNT) {
            finish(x, SO_EINVAL);
            return so__fail(SO_EINVAL,
                            "shm transport: receive-reduce of %zu bytes is not a whole number of "
                            "%s elements",
                            x->len, so_dtype_name(x->dtype));
        }
    }
    if (x->len && !x->buf) {
        finish(x, SO_EINVAL);
        return so__fail(SO_EINVAL, "shm transport: NULL buffer for %zu bytes", x->len);
    }
    shm_peer *p = &t->peers[t->peer_of_rank[x->peer]];
    if (p->dead) {
        if (p->has_notice) {
            x->got = p->notice;
        }
        finish(x, SO_EPEER);
        return SO_OK;
    }
    so__xfer **q = x->is_send ? &p->sq : &p->rq;
    so__xfer **last = x->is_send ? &p->sq_last : &p->rq_last;
    if (*last) {
        (*last)->next = x;
    } else {
        *q = x;
    }
    *last = x;
    if (*q == x) {
        advance_queue(t, p, x->is_send); /* small messages leave (or arrive) right here */
    }
    return SO_OK;
}

static int all_complete(so__xfer *const *wait, int n) {
    for (int i = 0; i < n; i++) {
        if (!wait[i]->complete) {
            return 0;
        }
    }
    return 1;
}

/* Whether a blocked transfer may move now (seq_cst loads: the second half of the handshake in
 * publish): a sender's peer freed room since the tail was last read, or a receiver's ring holds
 * bytes not consumed yet. A transfer that could move without that would have moved in advance_all.
 */
static int can_advance(so__shm *t) {
    for (int i = 0; i < t->npeers; i++) {
        shm_peer *p = &t->peers[i];
        if (p->sq && atomic_load_explicit(&p->sctl->tail, memory_order_seq_cst) != p->stail) {
            return 1;
        }
        if (p->rq && atomic_load_explicit(&p->rctl->head, memory_order_seq_cst) != p->rtail) {
            return 1;
        }
    }
    return atomic_load_explicit(&t->interrupted, memory_order_seq_cst) != 0;
}

/* Sleeps until a peer rings, the next liveness check is due, or the deadline. */
static void block(so__shm *t, int64_t now, int64_t deadline_ns) {
    if (!t->bell) { /* no peers: nothing can arrive */
        so_sleep_ns(deadline_ns - now < 1000000 ? deadline_ns - now : 1000000);
        return;
    }
    uint32_t seq = atomic_load_explicit(&t->bell->seq, memory_order_acquire);
    atomic_store_explicit(&t->bell->sleeping, 1, memory_order_seq_cst);
    if (!can_advance(t)) {
        int64_t wait = t->last_live_check + LIVE_CHECK_NS - now;
        if (deadline_ns - now < wait) {
            wait = deadline_ns - now;
        }
        so__shm_futex_wait(&t->bell->seq, seq, wait);
    }
    atomic_store_explicit(&t->bell->sleeping, 0, memory_order_relaxed);
}

/* After a wait that slept lasted wait_ns: a wait that a spin of at most spin_max would have
 * covered (typically the peer's own wake-up latency, when both sides took turns sleeping) makes
 * the budget cover it next time; a longer one (the peer computes, or is not scheduled) halves the
 * budget, down to spin_min. Waits that the spin covered leave it alone. */
static void adapt_spin(so__shm *t, int64_t wait_ns) {
    if (wait_ns <= t->spin_max) {
        int64_t want = 2 * (wait_ns > t->spin_cur ? wait_ns : t->spin_cur);
        t->spin_cur = want < t->spin_max ? want : t->spin_max;
    } else {
        t->spin_cur = t->spin_cur / 2 > t->spin_min ? t->spin_cur / 2 : t->spin_min;
    }
}

/* Publishes the CPU this rank waits on and tells whether a peer it waits for last waited on the
 * same one: spinning there would only keep that peer off the CPU, so the wait yields instead
 * (two ranks on one core happen when other processes load the machine). Costs a sched_getcpu
 * (rseq or vDSO) and one cache line per awaited peer, once per wait. */
static int shares_cpu(so__shm *t) {
    if (!t->bell) {
        return 0;
    }
    int cpu = sched_getcpu() + 1;
    if (atomic_load_explicit(&t->bell->cpu, memory_order_relaxed) != cpu) {
        atomic_store_explicit(&t->bell->cpu, cpu, memory_order_relaxed);
    }
    for (int i = 0; cpu > 0 && i < t->npeers; i++) {
        shm_peer *p = &t->peers[i];
        if ((p->sq || p->rq) && atomic_load_explicit(&p->bell->cpu, memory_order_relaxed) == cpu) {
            return 1;
        }
    }
    return 0;
}

static int shm_progress(so__transport *bt, so__xfer *const *wait, int n, int64_t deadline_ns) {
    so__shm *t = (so__shm *)bt;
    int idle = 0, slept = 0, share_cpu = 0;
    int64_t idle_since = 0;
    for (;;) {
        int moved = advance_all(t);
        if (all_complete(wait, n)) {
            return SO_OK;
        }
        if (n == 0) {
            if (moved) {
                continue;
            }
            return SO_OK;
        }
        if (atomic_exchange_explicit(&t->interrupted, 0, memory_order_acq_rel)) {
            return so__fail(SO_EINTR, "shm transport: interrupted");
        }
        if (moved) {
            if (slept && t->spin_ns > 0) {
                adapt_spin(t, so_now_ns() - idle_since);
            }
            idle = 0;
            slept = 0;
            continue;
        }
        if (idle == 0) {
            idle_since = so_now_ns();
            share_cpu = shares_cpu(t);
        }
        idle++;
        if (t->spin_cur > 0) {
            /* Pause, or give the CPU to a rank that may be the one we wait for; the clock is read
             * at every yield (a syscall anyway) and every 64th pause. */
            int yield = t->oversub || share_cpu;
            if (!yield && (idle & 63) != 0) {
                cpu_relax();
                continue;
            }
            int64_t nw = so_now_ns();
            if (nw - idle_since < t->spin_cur && nw < deadline_ns) {
                if (yield) {
                    sched_yield();
                } else {
                    cpu_relax();
                }
                continue;
            }
        }
        int64_t now = so_now_ns();
        if (now >= deadline_ns) {
            return so__fail(SO_ETIMEDOUT, "shm transport: deadline passed with transfers pending");
        }
        if (now - t->last_live_check >= LIVE_CHECK_NS) {
            t->last_live_check = now;
            check_peers(t);
            continue;
        }
        block(t, now, deadline_ns);
        slept = 1;
    }
}

static void shm_interrupt(so__transport *bt) {
    so__shm *t = (so__shm *)bt;
    atomic_store_explicit(&t->interrupted, 1, memory_order_release);
    atomic_fetch_add_explicit(&t->bell->seq, 1, memory_order_release);
    so__shm_futex_wake(&t->bell->seq);
}

/* Best effort, never blocks: an abort record on every ring to a peer that sits at a message
 * boundary (no send half written) and has room for it. */
static void shm_notify(so__transport *bt, const so__msg_hdr *notice) {
    so__shm *t = (so__shm *)bt;
    for (int i = 0; i < t->npeers; i++) {
        shm_peer *p = &t->peers[i];
        if (p->sq && p->sq->tp_priv[0]) {
            continue; /* inside a message: the notice would be read as payload */
        }
        p->stail = atomic_load_explicit(&p->sctl->tail, memory_order_acquire);
        if (send_room(t, p) < SO__SHM_REC) {
            continue;
        }
        unsigned char *rec = p->sdata + (p->shead & t->mask);
        so__msg_hdr h = *notice;
        h.magic = SO__MSG_ABORT_MAGIC;
        memcpy(rec, &h, sizeof h);
        atomic_store_explicit(rec_stamp(rec), p->shead + 1, memory_order_release);
        p->shead += SO__SHM_REC;
        publish(&p->sctl->head, p->shead, p->bell);
    }
}

static void shm_close(so__transport *bt) {
    so__shm *t = (so__shm *)bt;
    if (!t) {
        return;
    }
    if (t->bell) { /* peers waiting on us see it at their next liveness check: wake them */
        atomic_store_explicit(&t->bell->closed, 1, memory_order_release);
        for (int i = 0; i < t->npeers; i++) {
            atomic_fetch_add_explicit(&t->peers[i].bell->seq, 1, memory_order_release);
            so__shm_futex_wake(&t->peers[i].bell->seq);
        }
    }
    for (int i = 0; i < t->npeers; i++) {
        fail_peer(&t->peers[i], SO_EABORTED);
        so__shm_pid_close(&t->peers[i].pid);
    }
    so__shm_seg_close(&t->seg);
    free(t->peers);
    free(t->peer_of_rank);
    free(t);
}

static const so__transport_ops shm_ops = {
    .name = "shm",
    .post = shm_post,
    .progress = shm_progress,
    .interrupt = shm_interrupt,
    .close = shm_close,
    .notify = shm_notify,
};

/* ---- open ---- */

static int online_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) {
            return n;
        }
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The ring size: SO_SHM_RING_BYTES rounded up to a power of two (4 KiB .. 1 GiB), shrunk for
 * large local groups so the m*(m-1) rings stay within SEG_BUDGET (but not below 64 KiB). Every
 * rank of a host computes the same value from the same knob and m (the attach checks it). */
#define SEG_BUDGET ((uint64_t)256 << 20)
static uint64_t ring_bytes_for(int nlocal) {
    int64_t v = so_param_int("SO_SHM_RING_BYTES");
    uint64_t r = SO__SHM_RING_MIN;
    while (r < (uint64_t)(v > 0 ? v : 0) && r < SO__SHM_RING_MAX) {
        r <<= 1;
    }
    uint64_t rings = (uint64_t)nlocal * (uint64_t)(nlocal > 1 ? nlocal - 1 : 1);
    while (r > ((uint64_t)64 << 10) && r * rings > SEG_BUDGET) {
        r >>= 1;
    }
    return r;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int so__transport_shm_open(const so__transport_init *in, so__transport **out) {
    *out = NULL;
    if (!in || in->rank < 0 || in->rank >= in->size || in->npeers < 0 || !in->store) {
        return so__fail(SO_EINVAL, "shm transport: bad init arguments");
    }
    int nlocal = in->npeers + 1;
    int *members = malloc(sizeof(int) * (size_t)nlocal);
    so__shm *t = calloc(1, sizeof *t);
    if (!members || !t) {
        free(members);
        free(t);
        return so__fail(SO_ENOMEM, "shm transport: out of memory");
    }
    members[0] = in->rank;
    for (int i = 0; i < in->npeers; i++) {
        int r = in->peers[i];
        if (r < 0 || r >= in->size || r == in->rank) {
            free(members);
            free(t);
            return so__fail(SO_EINVAL, "shm transport: bad peer rank %d", r);
        }
        members[i + 1] = r;
    }
    qsort(members, (size_t)nlocal, sizeof(int), cmp_int);
    t->base.ops = &shm_ops;
    t->rank = in->rank;
    t->size = in->size;
    t->nlocal = nlocal;
    t->cap = ring_bytes_for(nlocal);
    t->mask = t->cap - 1;
    t->chunk = (size_t)(t->cap / 8 < CHUNK_MAX ? t->cap / 8 : CHUNK_MAX);
    t->last_live_check = so_now_ns();
    int oversub = nlocal > online_cpus();
    t->oversub = oversub;
    t->spin_ns = so_param_int("SO_SHM_SPIN_NS");
    t->spin_cur = t->spin_ns;
    t->spin_min = t->spin_ns < 2000 ? t->spin_ns : 2000;
    t->spin_max = 8 * t->spin_ns;
    t->peer_of_rank = malloc(sizeof(int) * (size_t)in->size);
    t->peers = calloc((size_t)(in->npeers ? in->npeers : 1), sizeof(shm_peer));
    int rc = SO_OK;
    if (!t->peer_of_rank || !t->peers) {
        rc = so__fail(SO_ENOMEM, "shm transport: out of memory");
        goto fail;
    }
    for (int r = 0; r < in->size; r++) {
        t->peer_of_rank[r] = -1;
    }
    if (nlocal > 1) {
        SO_TRY_GOTO(so__shm_seg_open(in, members, nlocal, t->cap, &t->seg), rc, fail);
    }
    for (int i = 0; i < nlocal; i++) {
        if (members[i] == in->rank) {
            t->me = i;
        }
    }
    if (nlocal > 1) {
        t->bell = &t->seg.bells[t->me];
    }
    for (int i = 0; i < nlocal; i++) {
        if (i == t->me) {
            continue;
        }
        shm_peer *p = &t->peers[t->npeers];
        p->rank = members[i];
        p->li = i;
        p->sctl = so__shm_seg_ctl(&t->seg, t->me, i);
        p->sdata = so__shm_seg_ring(&t->seg, t->me, i);
        p->rctl = so__shm_seg_ctl(&t->seg, i, t->me);
        p->rdata = so__shm_seg_ring(&t->seg, i, t->me);
        p->bell = &t->seg.bells[i];
        so__shm_pid_open(&p->pid, in->pids ? (pid_t)in->pids[members[i]] : 0);
        t->peer_of_rank[members[i]] = t->npeers;
        t->npeers++;
    }
    free(members);
    *out = &t->base;
    return SO_OK;
fail:
    free(members);
    shm_close(&t->base);
    return rc;
}
