/*
 * The TCP store client: one connection to the server (store_server.c), one request in flight
 * at a time (a mutex serialises threads). A get carries its remaining timeout, the server holds
 * it until the key appears or the timeout passes, so waiting costs no polling traffic.
 * Cost: one round trip per operation. Limits: no reconnect; a broken connection makes every
 * later call fail with SO_ECONNRESET (the store is for rendezvous, which is short).
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "store_internal.h"

typedef struct tcp_store {
    so_store base;
    int fd;
    int broken;
    pthread_mutex_t mu;
    char where[300];
} tcp_store;

/* Grace on top of the server-side timeout before the client gives up on a reply. */
#define REPLY_GRACE_NS (5LL * 1000000000LL)

static int roundtrip(tcp_store *t, uint32_t op, const char *key, const void *val, size_t vlen,
                     uint32_t timeout_ms, int64_t deadline_ns, void *buf, size_t cap, size_t *len,
                     int *status) {
    if (t->broken) {
        return so__fail(SO_ECONNRESET, "store connection to %s was lost earlier", t->where);
    }
    size_t klen = strlen(key);
    so__store_req req = {SO__STORE_MAGIC, op, (uint32_t)klen, timeout_ms, vlen};
    int rc = so__net_write_all(t->fd, &req, sizeof req, deadline_ns);
    if (rc == SO_OK) {
        rc = so__net_write_all(t->fd, key, klen, deadline_ns);
    }
    if (rc == SO_OK && vlen) {
        rc = so__net_write_all(t->fd, val, vlen, deadline_ns);
    }
    so__store_rep rep;
    if (rc == SO_OK) {
        rc = so__net_read_all(t->fd, &rep, sizeof rep, deadline_ns + REPLY_GRACE_NS);
    }
    if (rc == SO_OK && (rep.magic != SO__STORE_MAGIC || rep.vallen > SO__STORE_MAX_VAL)) {
        rc = SO_EPROTO;
    }
    if (rc == SO_OK) {
        size_t take = rep.vallen < cap ? (size_t)rep.vallen : cap;
        rc = so__net_read_all(t->fd, buf, take, deadline_ns + REPLY_GRACE_NS);
        char sink[4096];
        for (size_t left = (size_t)rep.vallen - take; rc == SO_OK && left;) {
            size_t n = left < sizeof sink ? left : sizeof sink;
            rc = so__net_read_all(t->fd, sink, n, deadline_ns + REPLY_GRACE_NS);
            left -= n;
        }
        if (len) {
            *len = (size_t)rep.vallen;
        }
        *status = rep.status;
    }
    if (rc < 0) {
        t->broken = 1;
        return so__fail(rc == SO_EPROTO ? SO_EPROTO : SO_ECONNRESET,
                        "store connection to %s failed during key '%s' (%s)", t->where, key,
                        so_strerror(rc));
    }
    return SO_OK;
}

static int ts_set(so_store *s, const char *key, const void *val, size_t len) {
    tcp_store *t = (tcp_store *)s;
    int st = SO_OK;
    pthread_mutex_lock(&t->mu);
    int rc = roundtrip(t, SO__STORE_SET, key, val, len, 0, so_deadline_after_ms(30000), NULL, 0,
                       NULL, &st);
    pthread_mutex_unlock(&t->mu);
    SO_TRY(rc);
    return st == SO_OK ? SO_OK : so__fail(st, "store server refused set of '%s'", key);
}

static int ts_get(so_store *s, const char *key, void *buf, size_t cap, size_t *len,
                  int64_t deadline_ns) {
    tcp_store *t = (tcp_store *)s;
    int64_t left_ms = (deadline_ns - so_now_ns()) / 1000000;
    if (left_ms < 0) {
        left_ms = 0;
    }
    if (left_ms > 0x7fffffff) {
        left_ms = 0x7fffffff;
    }
    int st = SO_OK;
    pthread_mutex_lock(&t->mu);
    int rc = roundtrip(t, SO__STORE_GET, key, NULL, 0, (uint32_t)left_ms, deadline_ns, buf, cap,
                       len, &st);
    pthread_mutex_unlock(&t->mu);
    SO_TRY(rc);
    if (st == SO_ENOENT) {
        return SO_ETIMEDOUT;
    }
    return st == SO_OK ? SO_OK : so__fail(st, "store server refused get of '%s'", key);
}

static int ts_add(so_store *s, const char *key, int64_t delta, int64_t *out) {
    tcp_store *t = (tcp_store *)s;
    int st = SO_OK;
    int64_t v = 0;
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    int rc = roundtrip(t, SO__STORE_ADD, key, &delta, sizeof delta, 0, so_deadline_after_ms(30000),
                       &v, sizeof v, &n, &st);
    pthread_mutex_unlock(&t->mu);
    SO_TRY(rc);
    if (st != SO_OK || n != sizeof v) {
        return so__fail(SO_EPROTO, "store server refused add on '%s'", key);
    }
    *out = v;
    return SO_OK;
}

static int ts_check(so_store *s, const char *key, int *exists) {
    tcp_store *t = (tcp_store *)s;
    int st = SO_OK;
    pthread_mutex_lock(&t->mu);
    int rc = roundtrip(t, SO__STORE_CHECK, key, NULL, 0, 0, so_deadline_after_ms(30000), NULL, 0,
                       NULL, &st);
    pthread_mutex_unlock(&t->mu);
    SO_TRY(rc);
    *exists = st == SO_OK;
    return SO_OK;
}

static void ts_destroy(so_store *s) {
    tcp_store *t = (tcp_store *)s;
    close(t->fd);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static const so__store_ops tcp_ops = {ts_set, ts_get, ts_add, ts_check, ts_destroy};

int so_store_create_tcp(const char *host, int port, int timeout_ms, so_store **out) {
    if (!host || port <= 0 || port > 65535) {
        return so__fail(SO_EINVAL, "tcp store: bad address %s:%d", host ? host : "(null)", port);
    }
    int fd;
    SO_TRY(so__net_connect(host, port, 0, so_deadline_after_ms(timeout_ms), &fd));
    tcp_store *t = calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        return so__fail(SO_ENOMEM, "tcp store: out of memory");
    }
    t->base.ops = &tcp_ops;
    t->fd = fd;
    pthread_mutex_init(&t->mu, NULL);
    snprintf(t->where, sizeof t->where, "%s:%d", host, port);
    *out = &t->base;
    return SO_OK;
}
