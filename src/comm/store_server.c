/*
 * The TCP store server: one thread, one poll loop over the listening socket, every client and a
 * wake-up pipe. Each client's bytes accumulate in an input buffer; complete frames
 * (so__store_req + key + value) are executed in order against an in-memory table. A get whose key
 * is missing parks the client (its input is not read meanwhile) until the key is set or the
 * request's own timeout passes (reply SO_ENOENT). A malformed frame (bad magic, unknown op, key
 * or value too long) closes that client's connection with a warning; the server keeps going.
 * Cost: O(keys) per lookup (a linear table; rendezvous uses hundreds of keys, not millions).
 * Limits: values up to 64 MiB, keys up to 1 KiB, everything in memory, nothing persisted.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "store_internal.h"

typedef struct kv {
    char *key;
    char *val;
    size_t len;
} kv;

typedef struct client {
    int fd;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;
    int waiting; /* parked on a get */
    char *wait_key;
    int64_t wait_deadline;
} client;

struct so_store_server {
    int listen_fd, port;
    int wake[2];
    pthread_t thread;
    kv *kvs;
    size_t nkv, cap_kv;
    client **clients;
    size_t nclients, cap_clients;
};

static kv *find(so_store_server *s, const char *key, size_t klen) {
    for (size_t i = 0; i < s->nkv; i++) {
        if (strlen(s->kvs[i].key) == klen && !memcmp(s->kvs[i].key, key, klen)) {
            return &s->kvs[i];
        }
    }
    return NULL;
}

static kv *put(so_store_server *s, const char *key, size_t klen, const void *val, size_t len) {
    kv *e = find(s, key, klen);
    if (!e) {
        if (s->nkv == s->cap_kv) {
            size_t nc = s->cap_kv ? s->cap_kv * 2 : 64;
            kv *n = realloc(s->kvs, nc * sizeof *n);
            if (!n) {
                return NULL;
            }
            s->kvs = n;
            s->cap_kv = nc;
        }
        e = &s->kvs[s->nkv];
        e->key = strndup(key, klen);
        e->val = NULL;
        e->len = 0;
        if (!e->key) {
            return NULL;
        }
        s->nkv++;
    }
    char *v = malloc(len ? len : 1);
    if (!v) {
        return NULL;
    }
    if (len) {
        memcpy(v, val, len);
    }
    free(e->val);
    e->val = v;
    e->len = len;
    return e;
}

static int out_append(client *c, const void *p, size_t n) {
    if (!n) {
        return 0;
    }
    if (c->out_len + n > c->out_cap) {
        size_t nc = (c->out_len + n) * 2;
        char *b = realloc(c->out, nc);
        if (!b) {
            return -1;
        }
        c->out = b;
        c->out_cap = nc;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static int reply(client *c, int status, const void *val, size_t len) {
    so__store_rep rep = {SO__STORE_MAGIC, status, len};
    if (out_append(c, &rep, sizeof rep) || out_append(c, val, len)) {
        return -1;
    }
    return 0;
}

static void client_free(client *c) {
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c->wait_key);
    free(c);
}

/* Executes every complete frame in c->in. Returns -1 to drop the client. */
static int process(so_store_server *s, client *c) {
    while (!c->waiting && c->in_len >= sizeof(so__store_req)) {
        so__store_req req;
        memcpy(&req, c->in, sizeof req);
        const char *why = NULL;
        if (req.magic != SO__STORE_MAGIC) {
            why = "bad magic";
        } else if (req.op < SO__STORE_SET || req.op > SO__STORE_CHECK) {
            why = "unknown operation";
        } else if (req.keylen == 0 || req.keylen > SO__STORE_MAX_KEY) {
            why = "key length out of range";
        } else if (req.vallen > SO__STORE_MAX_VAL) {
            why = "value too long";
        } else if ((req.op == SO__STORE_ADD) != (req.vallen == 8) && req.op != SO__STORE_SET) {
            why = "value length does not fit the operation";
        }
        if (why) {
            SO_LOGW("store server: malformed frame from client fd %d (%s); closing its connection",
                    c->fd, why);
            return -1;
        }
        size_t need = sizeof req + req.keylen + (size_t)req.vallen;
        if (c->in_len < need) {
            if (need > c->in_cap) {
                char *b = realloc(c->in, need);
                if (!b) {
                    return -1;
                }
                c->in = b;
                c->in_cap = need;
            }
            return 0;
        }
        const char *key = c->in + sizeof req, *val = key + req.keylen;
        int rc = 0;
        kv *e;
        switch (req.op) {
        case SO__STORE_SET:
            rc = put(s, key, req.keylen, val, (size_t)req.vallen) ? reply(c, SO_OK, NULL, 0) : -1;
            break;
        case SO__STORE_GET:
            e = find(s, key, req.keylen);
            if (e) {
                rc = reply(c, SO_OK, e->val, e->len);
            } else {
                c->waiting = 1;
                c->wait_key = strndup(key, req.keylen);
                c->wait_deadline = so_deadline_after_ms(req.timeout_ms);
                rc = c->wait_key ? 0 : -1;
            }
            break;
        case SO__STORE_ADD: {
            int64_t delta, v = 0;
            memcpy(&delta, val, 8);
            e = find(s, key, req.keylen);
            if (e) {
                char txt[32];
                size_t n = e->len < 31 ? e->len : 31;
                memcpy(txt, e->val, n);
                txt[n] = 0;
                v = strtoll(txt, NULL, 10);
            }
            v += delta;
            char txt[32];
            int n = snprintf(txt, sizeof txt, "%lld", (long long)v);
            rc = put(s, key, req.keylen, txt, (size_t)n) ? reply(c, SO_OK, &v, sizeof v) : -1;
            break;
        }
        case SO__STORE_CHECK:
            rc = reply(c, find(s, key, req.keylen) ? SO_OK : SO_ENOENT, NULL, 0);
            break;
        }
        if (rc) {
            return -1;
        }
        memmove(c->in, c->in + need, c->in_len - need);
        c->in_len -= need;
    }
    return 0;
}

/* Answers parked gets whose key appeared or whose timeout passed. */
static void serve_waiters(so_store_server *s, int64_t now) {
    for (size_t i = 0; i < s->nclients; i++) {
        client *c = s->clients[i];
        if (!c->waiting) {
            continue;
        }
        kv *e = find(s, c->wait_key, strlen(c->wait_key));
        if (e || now >= c->wait_deadline) {
            reply(c, e ? SO_OK : SO_ENOENT, e ? e->val : NULL, e ? e->len : 0);
            c->waiting = 0;
            free(c->wait_key);
            c->wait_key = NULL;
        }
    }
}

static void drop(so_store_server *s, size_t i) {
    client_free(s->clients[i]);
    s->clients[i] = s->clients[--s->nclients];
}

static void accept_clients(so_store_server *s) {
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        so__net_tune(fd, 0);
        client *c = calloc(1, sizeof *c);
        if (s->nclients == s->cap_clients) {
            size_t nc = s->cap_clients ? s->cap_clients * 2 : 16;
            client **n = realloc(s->clients, nc * sizeof *n);
            if (!n) {
                free(c);
                close(fd);
                return;
            }
            s->clients = n;
            s->cap_clients = nc;
        }
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        s->clients[s->nclients++] = c;
    }
}

static void *serve(void *arg) {
    so_store_server *s = arg;
    struct pollfd *pf = NULL;
    size_t pf_cap = 0;
    for (;;) {
        size_t n = s->nclients + 2;
        if (n > pf_cap) {
            struct pollfd *np = realloc(pf, n * 2 * sizeof *np);
            if (!np) {
                so_sleep_ns(10000000);
                continue;
            }
            pf = np;
            pf_cap = n * 2;
        }
        int64_t next = INT64_MAX;
        pf[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < s->nclients; i++) {
            client *c = s->clients[i];
            short ev = 0;
            if (!c->waiting) {
                ev |= POLLIN;
            } else {
                ev |= POLLRDHUP; /* a parked client that hangs up is dropped at once */
                if (c->wait_deadline < next) {
                    next = c->wait_deadline;
                }
            }
            if (c->out_len > c->out_off) {
                ev |= POLLOUT;
            }
            pf[i + 2] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        int ms = next == INT64_MAX ? -1 : so__ms_until(next, 1 << 30);
        int r = poll(pf, n, ms);
        if (r < 0 && errno != EINTR) {
            SO_LOGE("store server: poll failed: %s", strerror(errno));
            break;
        }
        if (r > 0 && (pf[0].revents & POLLIN)) {
            break;
        }
        size_t nc = s->nclients; /* clients accepted below are polled next round */
        if (r > 0 && (pf[1].revents & POLLIN)) {
            accept_clients(s);
        }
        for (size_t i = nc; i-- > 0;) {
            client *c = s->clients[i];
            short re = r > 0 ? pf[i + 2].revents : 0;
            int bad = 0;
            if (c->waiting && (re & (POLLRDHUP | POLLHUP | POLLERR))) {
                drop(s, i);
                continue;
            }
            if (re & (POLLIN | POLLHUP | POLLERR)) {
                if (c->in_cap - c->in_len < 65536) {
                    size_t cap =
                        c->in_cap * 2 > c->in_len + 65536 ? c->in_cap * 2 : c->in_len + 65536;
                    char *b = realloc(c->in, cap);
                    if (!b) {
                        bad = 1;
                    } else {
                        c->in = b;
                        c->in_cap = cap;
                    }
                }
                ssize_t got = bad ? -1 : recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
                if (got > 0) {
                    c->in_len += (size_t)got;
                    bad = process(s, c);
                } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                    bad = 1;
                }
            }
            if (!bad && (re & POLLOUT)) {
                ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
                if (w > 0) {
                    c->out_off += (size_t)w;
                    if (c->out_off == c->out_len) {
                        c->out_off = c->out_len = 0;
                    }
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    bad = 1;
                }
            }
            if (bad) {
                drop(s, i);
            }
        }
        serve_waiters(s, so_now_ns());
        /* A client that was parked may have complete frames queued behind its get. */
        for (size_t i = s->nclients; i-- > 0;) {
            if (!s->clients[i]->waiting && s->clients[i]->in_len && process(s, s->clients[i])) {
                drop(s, i);
            }
        }
    }
    free(pf);
    return NULL;
}

int so_store_server_start(const char *bind_addr, int port, so_store_server **out) {
    so_store_server *s = calloc(1, sizeof *s);
    if (!s) {
        return so__fail(SO_ENOMEM, "store server: out of memory");
    }
    int rc = so__net_listen(bind_addr, port, 0, &s->listen_fd, &s->port);
    if (rc < 0) {
        free(s);
        return rc;
    }
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        close(s->listen_fd);
        free(s);
        return so__fail(SO_ESYS, "store server: pipe: %s", strerror(errno));
    }
    /* The thread blocks every signal, so a caller that waits for signals (a launcher's signalfd
     * for SIGCHLD) still receives them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&s->thread, NULL, serve, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        close(s->wake[0]);
        close(s->wake[1]);
        close(s->listen_fd);
        free(s);
        return so__fail(SO_ESYS, "store server: cannot start its thread");
    }
    SO_LOGI("store server listening on %s:%d", bind_addr && *bind_addr ? bind_addr : "*", s->port);
    *out = s;
    return SO_OK;
}

int so_store_server_port(const so_store_server *srv) {
    return srv->port;
}

void so_store_server_stop(so_store_server *srv) {
    if (!srv) {
        return;
    }
    char b = 1;
    while (write(srv->wake[1], &b, 1) < 0 && errno == EINTR) {
    }
    pthread_join(srv->thread, NULL);
    for (size_t i = 0; i < srv->nclients; i++) {
        client_free(srv->clients[i]);
    }
    free(srv->clients);
    for (size_t i = 0; i < srv->nkv; i++) {
        free(srv->kvs[i].key);
        free(srv->kvs[i].val);
    }
    free(srv->kvs);
    close(srv->listen_fd);
    close(srv->wake[0]);
    close(srv->wake[1]);
    free(srv);
}
