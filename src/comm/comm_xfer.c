/*
 * Moving bytes inside a group: headers, waiting, and the failure model.
 *
 * Every transfer is stamped with a header (magic, tag, length, and the running collective's
 * signature with its sequence number), posted on the transport that reaches its peer, and waited
 * for until the deadline of the call (now + the group's timeout). While transfers are pending on
 * more than one transport (shm and tcp peers at once), progress alternates short slices (100 us)
 * among them; with one transport it blocks in that transport for up to 100 ms at a time, and
 * so_comm_abort wakes it through ops->interrupt.
 *
 * On failure the group records one sentence that names the operation, its sequence number and
 * the peer, e.g.
 *   allreduce(algo=ring, count=1000, f32, sum) seq 17: timed out after 2000 ms waiting for rank 3
 * (pid 1234, host h1) desync at seq 5: this rank called allreduce(count=10, f32, sum) but rank 1
 * sent bcast(count=10, u8, root=0) sets so__fail with it, poisons the group (later calls fail fast
 * with SO_EABORTED and this sentence appended) and releases the transports, which completes every
 * still-posted transfer, so nothing keeps a pointer into a caller's stack and peers see the
 * connection close at once.
 *
 * Cost: a few hundred nanoseconds of bookkeeping per transfer on top of the transport.
 */
#include <stdarg.h>
#include <string.h>

#include "comm_priv.h"

static const char *const kind_names[SO__KIND_COUNT] = {
    "p2p",   "allreduce", "reduce_scatter", "allgather", "alltoall", "alltoallv",
    "bcast", "reduce",    "gather",         "scatter",   "barrier",  "internal"};

const char *so__kind_name(int kind) {
    return (kind >= 0 && kind < SO__KIND_COUNT) ? kind_names[kind] : "?";
}

/* Names of coll.h's so_algo values (comm cannot call the coll layer). */
static const char *algo_name(int a) {
    static const char *const names[] = {"auto", "naive",    "tree",          "ring", "hd",
                                        "rd",   "pairwise", "dissemination", "hier"};
    return (a >= 0 && a < (int)(sizeof names / sizeof names[0])) ? names[a] : "?";
}

void so__sig_describe(const so__coll_sig *s, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "%s(", so__kind_name(s->kind));
    const char *sep = "";
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < cap) {                                                                             \
            n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);                                  \
        }                                                                                          \
    } while (0)
    if (s->algo) {
        ADD("algo=%s", algo_name(s->algo));
        sep = ", ";
    }
    if (s->kind != SO__KIND_BARRIER) {
        ADD("%scount=%llu, %s", sep, (unsigned long long)s->count,
            so_dtype_name((so_dtype)s->dtype));
        sep = ", ";
    }
    if (s->kind == SO__KIND_ALLREDUCE || s->kind == SO__KIND_REDUCE_SCATTER ||
        s->kind == SO__KIND_REDUCE) {
        ADD("%s%s", sep, so_op_name((so_op)s->op));
    }
    if (s->root >= 0) {
        ADD("%sroot=%d", sep, (int)s->root);
    }
    ADD(")");
#undef ADD
}

/* What this rank is doing, for messages: "allreduce(...) seq 17" or the p2p description. */
static void describe_op(so_comm *c, const char *what, char *out, size_t cap) {
    if (c->in_coll) {
        char sig[160];
        so__sig_describe(&c->cur, sig, sizeof sig);
        snprintf(out, cap, "%s seq %llu", sig, (unsigned long long)c->cur.seq);
    } else {
        snprintf(out, cap, "%s", what ? what : "p2p");
    }
}

int so__comm_poison(so_comm *c, int code, const char *fmt, ...) {
    if (!c->poisoned) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof c->err, fmt, ap);
        va_end(ap);
        c->poisoned = 1;
        c->poison_code = code;
        SO_LOGW("group %s poisoned: %s", c->prefix, c->err);
        /* Tell the peers why before the connections close, so each of them can name the rank
         * at the root of the failure instead of only "rank X closed the group". */
        so__msg_hdr notice = {
            .magic = SO__MSG_ABORT_MAGIC, .tag = (uint32_t)-code, .len = (uint64_t)(c->blame + 1)};
        if (c->in_coll) {
            notice.sig = c->cur;
        } else {
            notice.sig.kind = SO__KIND_P2P;
            notice.sig.root = -1;
        }
        pthread_mutex_lock(&c->mu);
        for (int k = 0; k < SO__TP_COUNT; k++) {
            if (c->tp[k] && c->tp[k]->ops->notify) {
                c->tp[k]->ops->notify(c->tp[k], &notice);
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    so__comm_close_transports(c);
    return so__fail(code, "%s", c->err);
}

int so__comm_check(so_comm *c) {
    if (!c->poisoned && atomic_load(&c->aborted)) {
        so__comm_poison(c, SO_EABORTED, "group %s was aborted by so_comm_abort", c->prefix);
    }
    if (c->poisoned) {
        return so__fail(SO_EABORTED, "group %s is unusable after an earlier error: %s", c->prefix,
                        c->err);
    }
    return SO_OK;
}

void so__comm_stamp(so_comm *c, so__xfer *x, uint32_t tag) {
    memset(&x->hdr, 0, sizeof x->hdr);
    x->hdr.magic = SO__MSG_MAGIC;
    x->hdr.tag = tag;
    x->hdr.len = x->len;
    if (c->in_coll) {
        x->hdr.sig = c->cur;
    } else {
        x->hdr.sig.kind = SO__KIND_P2P;
        x->hdr.sig.root = -1;
    }
}

int so__comm_post(so_comm *c, so__xfer *x) {
    SO_TRY(so__comm_check(c));
    if (x->peer < 0 || x->peer >= c->size) {
        return so__fail(SO_EINVAL, "peer rank %d is not in this group of %d", x->peer, c->size);
    }
    if (x->reduce &&
        (x->dtype >= SO_DTYPE_COUNT || x->op >= SO_OP_COUNT || x->len % so_dtype_size(x->dtype))) {
        return so__fail(SO_EINVAL, "receive-reduce of %zu bytes does not fit dtype %s op %d",
                        x->len, so_dtype_name(x->dtype), (int)x->op);
    }
    so__transport *t = c->tp[c->peer_tp[x->peer]];
    int rc = t->ops->post(t, x);
    if (rc < 0) {
        char op[200];
        describe_op(c, NULL, op, sizeof op);
        return so__comm_poison(c, rc, "%s: cannot post a transfer to rank %d: %s", op, x->peer,
                               so_last_error());
    }
    return SO_OK;
}

static void describe_p2p(const so__msg_hdr *h, char *out, size_t cap) {
    snprintf(out, cap, "p2p(tag %u, %llu B)", h->tag, (unsigned long long)h->len);
}

/* The sentence for a transfer that completed with an error. */
static int fail_xfer(so_comm *c, const so__xfer *x, const char *what) {
    char op[200];
    describe_op(c, what, op, sizeof op);
    int p = x->peer;
    switch (x->status) {
    case SO_EDESYNC: {
        char mine[160], theirs[160];
        const so__msg_hdr *w = &x->hdr, *g = &x->got;
        if (g->magic != SO__MSG_MAGIC) {
            return so__comm_poison(c, SO_EDESYNC,
                                   "%s: rank %d sent bytes that are not a scaleout message (magic "
                                   "0x%08x)",
                                   op, p, g->magic);
        }
        if (w->sig.kind == SO__KIND_P2P) {
            describe_p2p(w, mine, sizeof mine);
        } else {
            so__sig_describe(&w->sig, mine, sizeof mine);
        }
        if (g->sig.kind == SO__KIND_P2P) {
            describe_p2p(g, theirs, sizeof theirs);
        } else {
            so__sig_describe(&g->sig, theirs, sizeof theirs);
        }
        if (w->sig.kind == SO__KIND_P2P && g->sig.kind == SO__KIND_P2P) {
            return so__comm_poison(c, SO_EDESYNC,
                                   "desync: this rank expected %s but rank %d sent %s", mine, p,
                                   theirs);
        }
        if (!strcmp(mine, theirs) && w->sig.seq == g->sig.seq) {
            return so__comm_poison(
                c, SO_EDESYNC,
                "desync at seq %llu: %s expected a %llu-byte message (tag %u) but "
                "rank %d sent %llu bytes (tag %u)",
                (unsigned long long)w->sig.seq, mine, (unsigned long long)w->len, w->tag, p,
                (unsigned long long)g->len, g->tag);
        }
        return so__comm_poison(c, SO_EDESYNC,
                               "desync at seq %llu: this rank called %s but rank %d sent %s (its "
                               "seq %llu)",
                               (unsigned long long)w->sig.seq, mine, p, theirs,
                               (unsigned long long)g->sig.seq);
    }
    case SO_ECONNRESET:
    case SO_EPEER:
        if (x->got.magic == SO__MSG_ABORT_MAGIC) {
            /* The peer gave up first and said why; pass its blame on. */
            char theirs[200] = "point-to-point traffic";
            if (x->got.sig.kind != SO__KIND_P2P) {
                char sig[160];
                so__sig_describe(&x->got.sig, sig, sizeof sig);
                snprintf(theirs, sizeof theirs, "%s seq %llu", sig,
                         (unsigned long long)x->got.sig.seq);
            }
            int code = -(int)x->got.tag, b = (int)x->got.len - 1;
            char blamed[64] = "";
            if (b >= 0 && b < c->size) {
                snprintf(blamed, sizeof blamed, " involving rank %d", b);
            }
            c->blame = b >= 0 && b < c->size ? b : p;
            return so__comm_poison(c, SO_EPEER,
                                   "%s: rank %d gave up on the group: it failed with "
                                   "%s in %s%s",
                                   op, p, so_err_name(code), theirs, blamed);
        }
        c->blame = p;
        return so__comm_poison(c, x->status,
                               "%s: rank %d (pid %d, host %s) died or closed the group (%s)", op, p,
                               c->pids[p], c->hostnames[p],
                               x->status == SO_EPEER ? "process gone" : "connection reset");
    case SO_EABORTED:
        return so__comm_poison(c, SO_EABORTED, "%s: aborted while exchanging with rank %d", op, p);
    default:
        return so__comm_poison(c, x->status, "%s: transfer with rank %d failed: %s", op, p,
                               so_strerror(x->status));
    }
}

int so__comm_wait(so_comm *c, so__xfer *const *xs, int n, int64_t deadline_ns, const char *what) {
    so__xfer *byt[SO__TP_COUNT][64];
    so__xfer **heap = NULL;
    so__xfer **lists[SO__TP_COUNT];
    if (n > 64) {
        heap = malloc((size_t)SO__TP_COUNT * (size_t)n * sizeof *heap);
        if (!heap) {
            return so__comm_poison(c, SO_ENOMEM, "out of memory while waiting for %d transfers", n);
        }
    }
    for (int k = 0; k < SO__TP_COUNT; k++) {
        lists[k] = heap ? heap + (size_t)k * (size_t)n : byt[k];
    }
    int rc = SO_OK;
    for (;;) {
        int cnt[SO__TP_COUNT] = {0}, active = 0;
        for (int i = 0; i < n; i++) {
            if (!xs[i]->complete) {
                int k = c->peer_tp[xs[i]->peer];
                lists[k][cnt[k]++] = xs[i];
            }
        }
        for (int k = 0; k < SO__TP_COUNT; k++) {
            active += cnt[k] > 0;
        }
        if (!active) {
            break;
        }
        if (atomic_load(&c->aborted) || c->closed) {
            char op[200];
            describe_op(c, what, op, sizeof op);
            int p = -1;
            for (int k = 0; k < SO__TP_COUNT && p < 0; k++) {
                p = cnt[k] ? lists[k][0]->peer : -1;
            }
            rc = so__comm_poison(c, SO_EABORTED,
                                 "%s: aborted by so_comm_abort while waiting for rank %d", op, p);
            goto out;
        }
        int64_t now = so_now_ns();
        if (now >= deadline_ns) {
            char op[200];
            describe_op(c, what, op, sizeof op);
            int p = -1;
            for (int k = 0; k < SO__TP_COUNT && p < 0; k++) {
                p = cnt[k] ? lists[k][0]->peer : -1;
            }
            c->blame = p;
            rc = so__comm_poison(c, SO_ETIMEDOUT,
                                 "%s: timed out after %d ms waiting for rank %d (pid %d, host %s)",
                                 op, c->timeout_ms, p, c->pids[p], c->hostnames[p]);
            goto out;
        }
        int64_t slice = now + (active > 1 ? 100000 : 100000000);
        if (slice > deadline_ns) {
            slice = deadline_ns;
        }
        for (int k = 0; k < SO__TP_COUNT; k++) {
            if (!cnt[k]) {
                continue;
            }
            int prc = c->tp[k]->ops->progress(c->tp[k], lists[k], cnt[k], slice);
            if (prc < 0 && prc != SO_ETIMEDOUT && prc != SO_EINTR) {
                char op[200];
                describe_op(c, what, op, sizeof op);
                rc = so__comm_poison(c, prc, "%s: transport %s failed: %s", op, c->tp[k]->ops->name,
                                     so_last_error());
                goto out;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (xs[i]->status < 0) {
            rc = fail_xfer(c, xs[i], what);
            goto out;
        }
    }
    for (int i = 0; i < n; i++) {
        so_comm_counters *pc = &c->peer_counters[xs[i]->peer];
        if (xs[i]->is_send) {
            c->counters.msgs_sent++;
            c->counters.bytes_sent += xs[i]->len;
            pc->msgs_sent++;
            pc->bytes_sent += xs[i]->len;
        } else {
            c->counters.msgs_recv++;
            c->counters.bytes_recv += xs[i]->len;
            pc->msgs_recv++;
            pc->bytes_recv += xs[i]->len;
        }
    }
out:
    free(heap);
    return rc;
}

/* Stamps, posts and waits for n transfers; what names the operation outside collectives. */
static int run(so_comm *c, so__xfer *xs, int n, uint32_t tag, const char *what) {
    SO_TRY(so__comm_check(c));
    so__xfer *ptrs[8];
    so__xfer **pp = n <= 8 ? ptrs : malloc((size_t)n * sizeof *pp);
    if (!pp) {
        return so__comm_poison(c, SO_ENOMEM, "out of memory posting %d transfers", n);
    }
    int rc = SO_OK;
    for (int i = 0; i < n && rc == SO_OK; i++) {
        so__comm_stamp(c, &xs[i], tag ? tag : xs[i].hdr.tag);
        pp[i] = &xs[i];
        rc = so__comm_post(c, &xs[i]);
    }
    if (rc == SO_OK) {
        rc = so__comm_wait(c, pp, n, so_deadline_after_ms(c->timeout_ms), what);
    }
    if (pp != ptrs) {
        free(pp);
    }
    return rc;
}

int so__coll_begin(so_comm *c, so__coll_sig *sig) {
    SO_TRY(so__comm_check(c));
    SO_ASSERT(!c->in_coll && "so__coll_begin inside a collective");
    sig->seq = ++c->seq;
    c->cur = *sig;
    c->in_coll = 1;
    return SO_OK;
}

int so__coll_end(so_comm *c, int rc) {
    c->in_coll = 0;
    c->cur.kind = SO__KIND_P2P;
    if (rc < 0 && !c->poisoned) {
        /* A failure the collective found itself (bad argument, no memory): keep its detail. */
        char why[512];
        snprintf(why, sizeof why, "%s", so_last_error());
        so__fail(rc, "%s", why);
    }
    return rc;
}

int so__send(so_comm *c, int peer, const void *buf, size_t bytes) {
    so__xfer x = {.peer = peer, .is_send = 1, .buf = (void *)buf, .len = bytes};
    return run(c, &x, 1, 0, "send");
}

int so__recv(so_comm *c, int peer, void *buf, size_t bytes) {
    so__xfer x = {.peer = peer, .buf = buf, .len = bytes};
    return run(c, &x, 1, 0, "recv");
}

int so__sendrecv(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *rbuf,
                 size_t rbytes) {
    so__xfer x[2] = {{.peer = to, .is_send = 1, .buf = (void *)sbuf, .len = sbytes},
                     {.peer = from, .buf = rbuf, .len = rbytes}};
    return run(c, x, 2, 0, "sendrecv");
}

int so__recv_reduce(so_comm *c, int from, void *dst, const void *local, size_t count, so_dtype dt,
                    so_op op) {
    so__xfer x = {.peer = from,
                  .buf = dst,
                  .len = count * so_dtype_size(dt),
                  .reduce = 1,
                  .op = op,
                  .dtype = dt,
                  .reduce_src = local};
    return run(c, &x, 1, 0, "recv_reduce");
}

int so__sendrecv_reduce(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *dst,
                        const void *local, size_t count, so_dtype dt, so_op op) {
    so__xfer x[2] = {{.peer = to, .is_send = 1, .buf = (void *)sbuf, .len = sbytes},
                     {.peer = from,
                      .buf = dst,
                      .len = count * so_dtype_size(dt),
                      .reduce = 1,
                      .op = op,
                      .dtype = dt,
                      .reduce_src = local}};
    return run(c, x, 2, 0, "sendrecv_reduce");
}

int so__xfer_all(so_comm *c, so__xfer *xs, int n) {
    return run(c, xs, n, 0, "xfer_all");
}

/* ---- public blocking point to point ---- */

int so_send(so_comm *c, const void *buf, size_t bytes, int peer, int tag) {
    char what[96];
    snprintf(what, sizeof what, "send(%zu B, tag %d) to rank %d", bytes, tag, peer);
    so__xfer x = {.peer = peer, .is_send = 1, .buf = (void *)buf, .len = bytes};
    x.hdr.tag = (uint32_t)tag;
    return run(c, &x, 1, 0, what);
}

int so_recv(so_comm *c, void *buf, size_t bytes, int peer, int tag) {
    char what[96];
    snprintf(what, sizeof what, "recv(%zu B, tag %d) from rank %d", bytes, tag, peer);
    so__xfer x = {.peer = peer, .buf = buf, .len = bytes};
    x.hdr.tag = (uint32_t)tag;
    return run(c, &x, 1, 0, what);
}

int so_sendrecv(so_comm *c, const void *sbuf, size_t sbytes, int dst, void *rbuf, size_t rbytes,
                int src, int tag) {
    char what[128];
    snprintf(what, sizeof what, "sendrecv(%zu B to rank %d, %zu B from rank %d, tag %d)", sbytes,
             dst, rbytes, src, tag);
    so__xfer x[2] = {{.peer = dst, .is_send = 1, .buf = (void *)sbuf, .len = sbytes},
                     {.peer = src, .buf = rbuf, .len = rbytes}};
    x[0].hdr.tag = x[1].hdr.tag = (uint32_t)tag;
    return run(c, x, 2, 0, what);
}
