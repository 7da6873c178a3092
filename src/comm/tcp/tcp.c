/*
 * The tcp transport: a full mesh of TCP connections between the ranks it serves, driven by
 * posted transfers and a poll() loop.
 *
 * Setup (bounded by the open deadline): every rank listens on SO_TCP_BIND_ADDR (port 0) and
 * publishes "<prefix>/tcp/<rank>" = "host port" (host = SO_TCP_ADVERTISE_ADDR, else the bind
 * address, else the local address of the route to MASTER_ADDR, else 127.0.0.1). A rank connects
 * to every lower-ranked peer (retrying refused connects with backoff until the deadline) and
 * sends a hello {magic, its rank, the group prefix}; then it accepts one connection from every
 * higher-ranked peer, and answers a hello whose prefix and rank check out with an ack. Anything
 * else on the listening socket is logged and closed. Lower ranks reach their accept phase before
 * higher ranks need them, so the sequential order cannot deadlock.
 *
 * Data: per peer a send queue and a receive queue. A send writes header and payload with one
 * sendmsg of two iovecs straight from the user buffer (no copy); a receive reads the 40-byte
 * header, compares it with the expected one (SO_EDESYNC on mismatch, xfer->got filled), then
 * reads the payload straight into the destination, or for a receive-reduce into a bounce buffer
 * of SO_TCP_REDUCE_PIECE bytes (256 KiB: it stays in L2) that is combined into the destination
 * piece by piece. Sends and receives on all peers advance in the same loop, so a ring step never
 * deadlocks for any size. EOF or a reset fails every transfer to or from that peer with
 * SO_ECONNRESET.
 *
 * Waiting: progress first spins for up to SO_TCP_SPIN_NS (20 us), each pass a sched_yield and a
 * nonblocking read/write of every busy socket, so a reply that comes soon costs no sleep and no
 * wake-up (8 B loopback ping-pong: 7-10 us median instead of 12-58 us; a spin without the yield
 * made it worse, 33 us, because the peer that would answer could not run). When the group has
 * more ranks than this process has CPUs there is no spin. Then it blocks in ppoll on the sockets
 * that have posted work, plus an eventfd that interrupt() writes.
 *
 * Cost: per message one header (40 B) and ~len/64KiB..len/4MiB system calls; loopback is two
 * kernel copies per byte (sender into the socket, receiver out of it), which is most of the
 * time (docs/design/comm.md, "tcp performance"). Limits: after a desync the stream position is
 * lost, so the peer's connection is marked failed (the group is poisoned anyway).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../net.h"
#include "../transport.h"

#define HELLO_MAGIC 0x534f4831u /* "SOH1" */
#define BOUNCE_MAX (1u << 20)

typedef struct hello {
    uint32_t magic;
    int32_t rank;
    char prefix[200]; /* the group prefix (so_comm keeps it shorter than this) */
} hello;

typedef struct tcp_peer {
    int rank;
    int fd;
    so__xfer *sq, *sq_tail; /* posted sends, oldest first */
    so__xfer *rq, *rq_tail; /* posted receives */
    size_t s_hdr;           /* header bytes of sq's head already written */
    size_t r_hdr;           /* header bytes of the incoming message read so far */
    so__msg_hdr in_hdr;
    int r_checked; /* the incoming header was compared with rq's head */
    char *bounce;
    size_t bounce_cap;  /* receive-reduce piece size (SO_TCP_REDUCE_PIECE) */
    size_t fill;        /* received bytes in bounce not yet reduced */
    int failed;         /* SO_E* once the connection is unusable */
    so__msg_hdr notice; /* the peer's abort notice, if has_notice */
    int has_notice;
} tcp_peer;

typedef struct tcp_tp {
    so__transport base;
    int rank;
    int npeers;
    tcp_peer *peers;
    int *index; /* rank -> peer index or -1 */
    int efd;
    struct pollfd *pfd;
    int *pfd_peer;
    int64_t spin_ns; /* SO_TCP_SPIN_NS, 0 when ranks outnumber CPUs */
} tcp_tp;

static void xcomplete(so__xfer *x, int status) {
    x->status = status;
    x->complete = 1;
}

static void peer_fail(tcp_peer *p, int status) {
    if (!p->failed) {
        p->failed = status;
        SO_LOGD("tcp: connection to rank %d failed: %s", p->rank, so_strerror(status));
    }
    for (so__xfer *x = p->sq; x; x = x->next) {
        if (p->has_notice) {
            x->got = p->notice;
        }
        xcomplete(x, status);
    }
    for (so__xfer *x = p->rq; x; x = x->next) {
        if (p->has_notice) {
            x->got = p->notice;
        }
        xcomplete(x, status);
    }
    p->sq = p->sq_tail = p->rq = p->rq_tail = NULL;
}

static int is_reset(int e) {
    return e == ECONNRESET || e == EPIPE || e == ENOTCONN || e == ETIMEDOUT || e == EHOSTUNREACH;
}

/* Writes as much of the send queue as the socket takes. */
static void pump_send(tcp_peer *p) {
    while (p->sq) {
        so__xfer *x = p->sq;
        struct iovec iov[2];
        int n = 0;
        if (p->s_hdr < sizeof x->hdr) {
            iov[n++] = (struct iovec){(char *)&x->hdr + p->s_hdr, sizeof x->hdr - p->s_hdr};
        }
        if (x->done < x->len) {
            iov[n++] = (struct iovec){(char *)x->buf + x->done, x->len - x->done};
        }
        ssize_t w = 0;
        if (n) {
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            w = sendmsg(p->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    return;
                }
                peer_fail(p, is_reset(errno) ? SO_ECONNRESET : SO_EIO);
                return;
            }
        }
        size_t ww = (size_t)w, h = sizeof x->hdr - p->s_hdr;
        if (ww >= h) {
            p->s_hdr = sizeof x->hdr;
            x->done += ww - h;
        } else {
            p->s_hdr += ww;
        }
        if (p->s_hdr < sizeof x->hdr || x->done < x->len) {
            continue; /* partial write: try again until EAGAIN */
        }
        p->sq = x->next;
        p->s_hdr = 0;
        xcomplete(x, SO_OK);
    }
}

/* Reduces the whole elements in the bounce buffer into x's destination. */
static void drain_bounce(tcp_peer *p, so__xfer *x) {
    size_t es = so_dtype_size(x->dtype), nel = p->fill / es, bytes = nel * es;
    if (nel) {
        char *dst = (char *)x->buf + x->done;
        const char *a = x->reduce_src ? (const char *)x->reduce_src + x->done : dst;
        so_reduce_local(x->op, x->dtype, dst, a, p->bounce, nel);
        x->done += bytes;
        p->fill -= bytes;
        if (p->fill) {
            memmove(p->bounce, p->bounce + bytes, p->fill);
        }
    }
}

/* Reads what the socket has for the receive queue. */
static void pump_recv(tcp_peer *p) {
    while (p->rq) {
        so__xfer *x = p->rq;
        ssize_t r;
        size_t to_payload = 0; /* bytes of r that went past the header into x->buf */
        if (p->r_hdr < sizeof p->in_hdr && !x->reduce && x->len > 0) {
            /* Header and payload in one call (a small message costs one system call). If the
             * header turns out wrong, the bytes in x->buf are garbage of a failed receive. */
            struct iovec iov[2] = {{(char *)&p->in_hdr + p->r_hdr, sizeof p->in_hdr - p->r_hdr},
                                   {(char *)x->buf + x->done, x->len - x->done}};
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
            r = recvmsg(p->fd, &mh, MSG_DONTWAIT);
            if (r > (ssize_t)iov[0].iov_len) {
                to_payload = (size_t)r - iov[0].iov_len;
                r = (ssize_t)iov[0].iov_len;
            }
        } else if (p->r_hdr < sizeof p->in_hdr) {
            r = recv(p->fd, (char *)&p->in_hdr + p->r_hdr, sizeof p->in_hdr - p->r_hdr,
                     MSG_DONTWAIT);
        } else if (!x->reduce) {
            r = recv(p->fd, (char *)x->buf + x->done, x->len - x->done, MSG_DONTWAIT);
        } else {
            size_t want = x->len - x->done - p->fill;
            if (want > p->bounce_cap - p->fill) {
                want = p->bounce_cap - p->fill;
            }
            r = recv(p->fd, p->bounce + p->fill, want, MSG_DONTWAIT);
        }
        if (r == 0) {
            peer_fail(p, SO_ECONNRESET);
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                return;
            }
            peer_fail(p, is_reset(errno) ? SO_ECONNRESET : SO_EIO);
            return;
        }
        if (p->r_hdr < sizeof p->in_hdr) {
            p->r_hdr += (size_t)r;
            if (p->r_hdr < sizeof p->in_hdr) {
                continue;
            }
            x->got = p->in_hdr;
            x->done += to_payload;
            if (p->in_hdr.magic == SO__MSG_ABORT_MAGIC) {
                p->notice = p->in_hdr;
                p->has_notice = 1;
                peer_fail(p, SO_EPEER);
                return;
            }
            if (!so__hdr_matches(&x->hdr, &p->in_hdr)) {
                /* The rest of the stream cannot be trusted: fail this transfer with what came,
                 * and the peer's later ones with the same code. */
                p->rq = x->next;
                xcomplete(x, SO_EDESYNC);
                peer_fail(p, SO_EDESYNC);
                return;
            }
            if (x->reduce && !p->bounce) {
                p->bounce = malloc(p->bounce_cap);
                if (!p->bounce) {
                    peer_fail(p, SO_ENOMEM);
                    return;
                }
            }
        } else if (!x->reduce) {
            x->done += (size_t)r;
        } else {
            p->fill += (size_t)r;
            drain_bounce(p, x);
        }
        if (p->r_hdr == sizeof p->in_hdr && x->done == x->len) {
            p->rq = x->next;
            p->r_hdr = 0;
            p->fill = 0;
            xcomplete(x, SO_OK);
        }
    }
}

static int tcp_post(so__transport *tp, so__xfer *x) {
    tcp_tp *t = (tcp_tp *)tp;
    x->done = 0;
    x->complete = 0;
    x->status = SO_OK;
    x->next = NULL;
    int i = (x->peer >= 0) ? t->index[x->peer] : -1;
    if (i < 0) {
        return so__fail(SO_EINVAL, "tcp transport does not serve rank %d", x->peer);
    }
    tcp_peer *p = &t->peers[i];
    if (p->failed) {
        if (p->has_notice) {
            x->got = p->notice;
        }
        xcomplete(x, p->failed);
        return SO_OK;
    }
    if (x->is_send) {
        if (p->sq) {
            p->sq_tail->next = x;
        } else {
            p->sq = x;
        }
        p->sq_tail = x;
        if (p->sq == x) {
            pump_send(p);
        }
    } else {
        if (p->rq) {
            p->rq_tail->next = x;
        } else {
            p->rq = x;
        }
        p->rq_tail = x;
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

/* One nonblocking pass over every peer with posted work. */
static void pump_all(tcp_tp *t) {
    for (int i = 0; i < t->npeers; i++) {
        tcp_peer *p = &t->peers[i];
        if (p->sq) {
            pump_send(p);
        }
        if (p->rq) {
            pump_recv(p);
        }
    }
}

static int tcp_progress(so__transport *tp, so__xfer *const *wait, int n, int64_t deadline_ns) {
    tcp_tp *t = (tcp_tp *)tp;
    pump_all(t);
    if (n > 0 && t->spin_ns > 0 && !all_done(wait, n)) {
        /* A short busy wait first: a reply that comes within spin_ns costs no sleep and no
         * wake-up (poll's wake-up latency on a busy host is tens of microseconds). */
        int64_t stop = so_now_ns() + t->spin_ns;
        if (stop > deadline_ns) {
            stop = deadline_ns;
        }
        do {
            sched_yield(); /* a peer that shares this CPU runs now, not after our slice */
            pump_all(t);
        } while (!all_done(wait, n) && so_now_ns() < stop);
    }
    for (;;) {
        if (all_done(wait, n) || n == 0) {
            return SO_OK;
        }
        int64_t now = so_now_ns();
        if (now >= deadline_ns) {
            return SO_ETIMEDOUT;
        }
        int np = 0;
        t->pfd[np++] = (struct pollfd){.fd = t->efd, .events = POLLIN};
        for (int i = 0; i < t->npeers; i++) {
            tcp_peer *p = &t->peers[i];
            short ev = (short)((p->sq ? POLLOUT : 0) | (p->rq ? POLLIN : 0));
            if (ev) {
                t->pfd_peer[np] = i;
                t->pfd[np++] = (struct pollfd){.fd = p->fd, .events = ev};
            }
        }
        int64_t left = deadline_ns - now;
        struct timespec ts = {.tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL};
        int r = ppoll(t->pfd, (nfds_t)np, &ts, NULL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return so__fail(SO_ESYS, "tcp transport: poll failed: %s", strerror(errno));
        }
        if (t->pfd[0].revents & POLLIN) {
            uint64_t v;
            if (read(t->efd, &v, sizeof v) < 0) {
                /* Nothing to do: the counter is reset either way. */
            }
            return SO_EINTR;
        }
        for (int k = 1; k < np; k++) {
            short re = t->pfd[k].revents;
            tcp_peer *p = &t->peers[t->pfd_peer[k]];
            if (re & (POLLOUT | POLLERR | POLLHUP)) {
                if (p->sq) {
                    pump_send(p);
                }
            }
            if (re & (POLLIN | POLLERR | POLLHUP)) {
                if (p->rq) {
                    pump_recv(p);
                }
            }
        }
    }
}

static void tcp_interrupt(so__transport *tp) {
    tcp_tp *t = (tcp_tp *)tp;
    uint64_t one = 1;
    if (write(t->efd, &one, sizeof one) < 0) {
        /* The counter is saturated: a wake-up is already pending. */
    }
}

static void tcp_notify(so__transport *tp, const so__msg_hdr *notice) {
    tcp_tp *t = (tcp_tp *)tp;
    for (int i = 0; i < t->npeers; i++) {
        tcp_peer *p = &t->peers[i];
        /* Only between messages: inside one the notice would be read as payload. */
        if (p->fd >= 0 && !p->failed && p->s_hdr == 0 && (!p->sq || p->sq->done == 0)) {
            if (send(p->fd, notice, sizeof *notice, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                /* Best effort: the peer will see the connection close instead. */
            }
        }
    }
}

static void tcp_close(so__transport *tp) {
    tcp_tp *t = (tcp_tp *)tp;
    if (!t) {
        return;
    }
    char sink[65536];
    for (int i = 0; i < t->npeers; i++) {
        tcp_peer *p = &t->peers[i];
        peer_fail(p, SO_EABORTED);
        if (p->fd >= 0) {
            /* Read what is already here (up to 16 MiB), so the close sends FIN rather than a
             * reset that could discard the notice we just wrote before the peer reads it. */
            shutdown(p->fd, SHUT_WR);
            for (int k = 0; k < 256 && recv(p->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; k++) {
            }
            close(p->fd);
        }
        free(p->bounce);
    }
    if (t->efd >= 0) {
        close(t->efd);
    }
    free(t->peers);
    free(t->index);
    free(t->pfd);
    free(t->pfd_peer);
    free(t);
}

static const so__transport_ops tcp_ops = {
    .name = "tcp",
    .post = tcp_post,
    .progress = tcp_progress,
    .interrupt = tcp_interrupt,
    .close = tcp_close,
    .notify = tcp_notify,
};

/* The address other ranks use to reach this one. */
static void advertise_addr(const char *bind, char *out, size_t cap) {
    const char *adv = so_param_str("SO_TCP_ADVERTISE_ADDR");
    if (*adv) {
        snprintf(out, cap, "%s", adv);
        return;
    }
    if (*bind && strcmp(bind, "0.0.0.0") != 0 && strcmp(bind, "::") != 0) {
        snprintf(out, cap, "%s", bind);
        return;
    }
    snprintf(out, cap, "127.0.0.1");
    const char *master = getenv("MASTER_ADDR");
    if (!master || !*master) {
        return;
    }
    /* The local address of the route to MASTER_ADDR: connect a UDP socket (sends nothing). */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(master, "9", &hints, &res) != 0) {
        return;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
            inet_ntop(AF_INET, &sa.sin_addr, out, (socklen_t)cap);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(res);
}

static int connect_peer(tcp_tp *t, const so__transport_init *in, tcp_peer *p, int sockbuf) {
    char key[300], val[300];
    size_t n = 0;
    snprintf(key, sizeof key, "%s/tcp/%d", in->prefix, p->rank);
    int timeout_ms = so__ms_until(in->deadline_ns, 1 << 30);
    int rc = so_store_get(in->store, key, val, sizeof val - 1, &n, timeout_ms);
    char why[512];
    if (rc < 0) {
        snprintf(why, sizeof why, "%s", so_last_error());
        return so__fail(rc, "tcp transport: rank %d never published its address (%s)", p->rank,
                        why);
    }
    val[n < sizeof val ? n : sizeof val - 1] = 0;
    char host[256];
    int port = 0;
    if (sscanf(val, "%255s %d", host, &port) != 2) {
        return so__fail(SO_EPROTO, "tcp transport: bad address '%s' under %s", val, key);
    }
    rc = so__net_connect(host, port, sockbuf, in->deadline_ns, &p->fd);
    if (rc < 0) {
        snprintf(why, sizeof why, "%s", so_last_error());
        return so__fail(rc, "tcp transport: cannot reach rank %d: %s", p->rank, why);
    }
    hello h = {HELLO_MAGIC, t->rank, {0}};
    snprintf(h.prefix, sizeof h.prefix, "%s", in->prefix);
    rc = so__net_write_all(p->fd, &h, sizeof h, in->deadline_ns);
    hello ack;
    if (rc == SO_OK) {
        rc = so__net_read_all(p->fd, &ack, sizeof ack, in->deadline_ns);
    }
    if (rc == SO_OK && (ack.magic != HELLO_MAGIC || ack.rank != p->rank)) {
        rc = SO_EPROTO;
    }
    if (rc < 0) {
        return so__fail(rc, "tcp transport: handshake with rank %d at %s:%d failed (%s)", p->rank,
                        host, port, so_strerror(rc));
    }
    return SO_OK;
}

/* Accepts one connection per higher-ranked peer; rejects strangers. */
static int accept_peers(tcp_tp *t, const so__transport_init *in, int lfd, int want) {
    while (want > 0) {
        int rc = so__net_wait(lfd, POLLIN, in->deadline_ns);
        if (rc < 0) {
            char missing[256] = "";
            size_t m = 0;
            for (int i = 0; i < t->npeers && m + 12 < sizeof missing; i++) {
                if (t->peers[i].rank > t->rank && t->peers[i].fd < 0) {
                    m += (size_t)snprintf(missing + m, sizeof missing - m, " %d", t->peers[i].rank);
                }
            }
            return so__fail(SO_ETIMEDOUT, "tcp transport: rank(s)%s never connected to rank %d",
                            missing, t->rank);
        }
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        hello h;
        int64_t dl = so_now_ns() + 2000000000LL;
        rc = so__net_read_all(fd, &h, sizeof h, dl < in->deadline_ns ? dl : in->deadline_ns);
        h.prefix[sizeof h.prefix - 1] = 0;
        int i = (rc == SO_OK && h.rank >= 0 && h.rank < in->size) ? t->index[h.rank] : -1;
        if (rc < 0 || h.magic != HELLO_MAGIC ||
            strncmp(h.prefix, in->prefix, sizeof h.prefix - 1) || i < 0 || h.rank <= t->rank ||
            t->peers[i].fd >= 0) {
            SO_LOGW("tcp transport: rejected a connection to rank %d of group '%s' (bad hello)",
                    t->rank, in->prefix);
            close(fd);
            continue;
        }
        hello ack = {HELLO_MAGIC, t->rank, {0}};
        if (so__net_write_all(fd, &ack, sizeof ack, in->deadline_ns) < 0) {
            close(fd);
            continue;
        }
        t->peers[i].fd = fd;
        want--;
    }
    return SO_OK;
}

/* CPUs this process may run on. */
static int cpus_usable(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        return CPU_COUNT(&set);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int so__transport_tcp_open(const so__transport_init *in, so__transport **out) {
    tcp_tp *t = calloc(1, sizeof *t);
    if (!t) {
        return so__fail(SO_ENOMEM, "tcp transport: out of memory");
    }
    t->base.ops = &tcp_ops;
    t->rank = in->rank;
    t->npeers = in->npeers;
    t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    t->peers = calloc((size_t)in->npeers + 1, sizeof *t->peers);
    t->index = malloc((size_t)in->size * sizeof *t->index);
    t->pfd = calloc((size_t)in->npeers + 1, sizeof *t->pfd);
    t->pfd_peer = calloc((size_t)in->npeers + 1, sizeof *t->pfd_peer);
    if (t->efd < 0 || !t->peers || !t->index || !t->pfd || !t->pfd_peer) {
        tcp_close(&t->base);
        return so__fail(SO_ENOMEM, "tcp transport: out of memory");
    }
    for (int r = 0; r < in->size; r++) {
        t->index[r] = -1;
    }
    int higher = 0;
    for (int i = 0; i < in->npeers; i++) {
        t->peers[i].rank = in->peers[i];
        t->peers[i].fd = -1;
        t->index[in->peers[i]] = i;
        higher += in->peers[i] > in->rank;
    }
    t->spin_ns = so_param_int("SO_TCP_SPIN_NS");
    if (in->size > cpus_usable()) {
        t->spin_ns = 0; /* spinning would take the CPU a peer on this host needs */
    }
    size_t piece = (size_t)so_param_int("SO_TCP_REDUCE_PIECE");
    piece = piece < 4096 ? 4096 : piece > BOUNCE_MAX ? BOUNCE_MAX : piece;
    for (int i = 0; i < in->npeers; i++) {
        t->peers[i].bounce_cap = piece & ~(size_t)63;
    }
    int sockbuf = (int)so_param_int("SO_TCP_SOCKBUF");
    const char *bind = so_param_str("SO_TCP_BIND_ADDR");
    int lfd = -1, port = 0, rc = SO_OK;
    if (higher) {
        SO_TRY_GOTO(so__net_listen(bind, 0, sockbuf, &lfd, &port), rc, fail);
        char host[256], val[300], key[300];
        advertise_addr(bind, host, sizeof host);
        snprintf(val, sizeof val, "%s %d", host, port);
        snprintf(key, sizeof key, "%s/tcp/%d", in->prefix, in->rank);
        SO_TRY_GOTO(so_store_set(in->store, key, val, strlen(val)), rc, fail);
    }
    for (int i = 0; i < in->npeers; i++) {
        if (t->peers[i].rank < in->rank) {
            SO_TRY_GOTO(connect_peer(t, in, &t->peers[i], sockbuf), rc, fail);
        }
    }
    if (higher) {
        SO_TRY_GOTO(accept_peers(t, in, lfd, higher), rc, fail);
        close(lfd);
        lfd = -1;
    }
    *out = &t->base;
    return SO_OK;
fail:
    if (lfd >= 0) {
        close(lfd);
    }
    tcp_close(&t->base);
    return rc;
}
