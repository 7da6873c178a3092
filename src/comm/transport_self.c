/*
 * The self transport: messages from a rank to itself. A send is copied at post time into a
 * queued message (eager), so a blocking send to oneself followed by a receive works; a receive
 * matches the oldest queued message, checks its header like any transport (SO_EDESYNC on a
 * mismatch) and copies or reduces it into place.
 * Cost: one malloc and one copy per message. Limits: a receive with no message ever sent waits
 * until its deadline (a program error on one thread).
 */
#include <stdatomic.h>
#include <string.h>

#include "transport.h"

typedef struct self_msg {
    so__msg_hdr hdr;
    struct self_msg *next;
    char data[];
} self_msg;

typedef struct self_tp {
    so__transport base;
    self_msg *msgs, *msgs_tail;
    so__xfer *recvs, *recvs_tail;
    atomic_int interrupted;
} self_tp;

int so__hdr_matches(const so__msg_hdr *want, const so__msg_hdr *got) {
    return want->magic == got->magic && want->tag == got->tag && want->len == got->len &&
           want->sig.kind == got->sig.kind && want->sig.dtype == got->sig.dtype &&
           want->sig.op == got->sig.op && want->sig.algo == got->sig.algo &&
           want->sig.root == got->sig.root && want->sig.count == got->sig.count &&
           want->sig.seq == got->sig.seq;
}

static void complete(so__xfer *x, int status) {
    x->status = status;
    x->complete = 1;
}

static void match(self_tp *t) {
    while (t->msgs && t->recvs) {
        self_msg *m = t->msgs;
        so__xfer *x = t->recvs;
        t->msgs = m->next;
        t->recvs = x->next;
        x->got = m->hdr;
        if (!so__hdr_matches(&x->hdr, &m->hdr)) {
            complete(x, SO_EDESYNC);
        } else {
            if (x->reduce) {
                size_t es = so_dtype_size(x->dtype);
                so_reduce_local(x->op, x->dtype, x->buf, x->reduce_src ? x->reduce_src : x->buf,
                                m->data, x->len / es);
            } else if (x->len) {
                memcpy(x->buf, m->data, x->len);
            }
            x->done = x->len;
            complete(x, SO_OK);
        }
        free(m);
    }
}

static int self_post(so__transport *tp, so__xfer *x) {
    self_tp *t = (self_tp *)tp;
    x->done = 0;
    x->complete = 0;
    x->status = SO_OK;
    x->next = NULL;
    if (x->is_send) {
        self_msg *m = malloc(sizeof *m + x->len);
        if (!m) {
            return so__fail(SO_ENOMEM, "self transport: cannot queue a %zu-byte message", x->len);
        }
        m->hdr = x->hdr;
        m->next = NULL;
        if (x->len) {
            memcpy(m->data, x->buf, x->len);
        }
        if (t->msgs_tail && t->msgs) {
            t->msgs_tail->next = m;
        } else {
            t->msgs = m;
        }
        t->msgs_tail = m;
        x->done = x->len;
        complete(x, SO_OK);
    } else {
        if (t->recvs_tail && t->recvs) {
            t->recvs_tail->next = x;
        } else {
            t->recvs = x;
        }
        t->recvs_tail = x;
    }
    match(t);
    return SO_OK;
}

static int self_progress(so__transport *tp, so__xfer *const *wait, int n, int64_t deadline_ns) {
    self_tp *t = (self_tp *)tp;
    for (;;) {
        match(t);
        int all = 1;
        for (int i = 0; i < n; i++) {
            all &= wait[i]->complete;
        }
        if (all) {
            return SO_OK;
        }
        if (atomic_exchange(&t->interrupted, 0)) {
            return SO_EINTR;
        }
        int64_t now = so_now_ns();
        if (now >= deadline_ns) {
            return SO_ETIMEDOUT;
        }
        so_sleep_ns(deadline_ns - now < 1000000 ? deadline_ns - now : 1000000);
    }
}

static void self_interrupt(so__transport *tp) {
    atomic_store(&((self_tp *)tp)->interrupted, 1);
}

static void self_close(so__transport *tp) {
    self_tp *t = (self_tp *)tp;
    for (so__xfer *x = t->recvs; x;) {
        so__xfer *nx = x->next;
        complete(x, SO_EABORTED);
        x = nx;
    }
    for (self_msg *m = t->msgs; m;) {
        self_msg *nm = m->next;
        free(m);
        m = nm;
    }
    free(t);
}

static const so__transport_ops self_ops = {
    .name = "self",
    .post = self_post,
    .progress = self_progress,
    .interrupt = self_interrupt,
    .close = self_close,
};

int so__transport_self_open(const so__transport_init *in, so__transport **out) {
    self_tp *t = calloc(1, sizeof *t);
    if (!t) {
        return so__fail(SO_ENOMEM, "self transport: out of memory");
    }
    t->base.ops = &self_ops;
    *out = &t->base;
    return SO_OK;
}
