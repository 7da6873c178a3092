/*
 * Requests: nonblocking point to point and nonblocking collectives behind one so_request.
 *
 * so_isend/so_irecv stamp and post a transfer held inside the request; so_wait drives the
 * group's progress until it completes (within the group's timeout), so_test makes nonblocking
 * progress once. so__comm_submit queues fn(dup, arg) for the group's worker thread: the first
 * call creates a private duplicate of the group (collective, like a split with one color) and
 * the thread, which runs submitted functions one by one in submission order; the request
 * completes with the function's return value. so_comm_destroy joins the worker.
 *
 * Thread safety: the duplicate is touched only by the worker; the queue and each collective
 * request's done/rc are guarded by the parent's mutex and condition variable.
 * Cost: one allocation per request.
 */
#include <signal.h>
#include <string.h>

#include "comm_priv.h"

static int post_p2p(so_comm *c, void *buf, size_t bytes, int peer, int tag, int is_send,
                    so_request **out) {
    *out = NULL;
    SO_TRY(so__comm_check(c));
    so_request *r = calloc(1, sizeof *r);
    if (!r) {
        return so__fail(SO_ENOMEM, "out of memory for a request");
    }
    r->c = c;
    r->x.peer = peer;
    r->x.is_send = is_send;
    r->x.buf = buf;
    r->x.len = bytes;
    snprintf(r->what, sizeof r->what, "%s(%zu B, tag %d) %s rank %d", is_send ? "isend" : "irecv",
             bytes, tag, is_send ? "to" : "from", peer);
    so__comm_stamp(c, &r->x, (uint32_t)tag);
    int rc = so__comm_post(c, &r->x);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return SO_OK;
}

int so_isend(so_comm *c, const void *buf, size_t bytes, int peer, int tag, so_request **req) {
    return post_p2p(c, (void *)buf, bytes, peer, tag, 1, req);
}

int so_irecv(so_comm *c, void *buf, size_t bytes, int peer, int tag, so_request **req) {
    return post_p2p(c, buf, bytes, peer, tag, 0, req);
}

static int finish_async(so_request *r) {
    int rc = r->rc;
    if (rc < 0) {
        so__fail(rc, "%s", r->err);
    }
    free(r);
    return rc;
}

int so_wait(so_request *req) {
    if (!req) {
        return SO_OK;
    }
    so_comm *c = req->c;
    if (req->async) {
        pthread_mutex_lock(&c->mu);
        while (!req->done) {
            pthread_cond_wait(&c->cv, &c->mu);
        }
        pthread_mutex_unlock(&c->mu);
        return finish_async(req);
    }
    /* A completed transfer goes through the same wait (deadline 0) so its failure is recorded
     * on the group and its bytes are counted. */
    int rc = req->x.complete ? SO_OK : so__comm_check(c);
    if (rc == SO_OK) {
        so__xfer *x = &req->x;
        int64_t deadline = req->x.complete ? 0 : so_deadline_after_ms(c->timeout_ms);
        rc = so__comm_wait(c, &x, 1, deadline, req->what);
    }
    free(req);
    return rc;
}

int so_test(so_request *req, int *done) {
    *done = 0;
    if (!req) {
        *done = 1;
        return SO_OK;
    }
    so_comm *c = req->c;
    if (req->async) {
        pthread_mutex_lock(&c->mu);
        int d = req->done;
        pthread_mutex_unlock(&c->mu);
        if (!d) {
            return SO_OK;
        }
        *done = 1;
        return finish_async(req);
    }
    if (!req->x.complete && !c->closed) {
        so__transport *t = c->tp[c->peer_tp[req->x.peer]];
        int rc = t->ops->progress(t, NULL, 0, 0);
        if (rc < 0 && rc != SO_ETIMEDOUT && rc != SO_EINTR) {
            return rc;
        }
    }
    if (!req->x.complete && !c->closed && !atomic_load(&c->aborted)) {
        return SO_OK;
    }
    *done = 1;
    return so_wait(req);
}

int so_waitall(so_request **reqs, int n) {
    int first = SO_OK;
    char why[512] = "";
    for (int i = 0; i < n; i++) {
        int rc = so_wait(reqs[i]);
        reqs[i] = NULL;
        if (rc < 0 && first == SO_OK) {
            first = rc;
            snprintf(why, sizeof why, "%s", so_last_error());
        }
    }
    return first < 0 ? so__fail(first, "%s", why) : SO_OK;
}

static void *worker_main(void *arg) {
    so_comm *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->jobs && !c->stopping) {
            pthread_cond_wait(&c->cv, &c->mu);
        }
        so_request *r = c->jobs;
        if (!r) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        c->jobs = r->next_job;
        so_comm *dup = c->dup;
        pthread_mutex_unlock(&c->mu);
        int rc = r->fn(dup, r->arg);
        char err[512] = "";
        if (rc < 0) {
            snprintf(err, sizeof err, "%s", so_last_error());
        }
        if (r->free_arg) {
            r->free_arg(r->arg);
        }
        pthread_mutex_lock(&c->mu);
        memcpy(r->err, err, sizeof err);
        r->rc = rc;
        r->done = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

int so__comm_submit(so_comm *c, int (*fn)(so_comm *dup, void *arg), void *arg,
                    void (*free_arg)(void *), so_request **req) {
    *req = NULL;
    int rc = so__comm_check(c);
    if (rc == SO_OK && !c->worker_running) {
        char prefix[240];
        snprintf(prefix, sizeof prefix, "%s/d%llu", c->prefix, (unsigned long long)++c->nsplit);
        so_comm *dup = NULL;
        rc = so__comm_create_prefixed(c->rank, c->size, c->transport, c->timeout_ms, c->store,
                                      prefix, &dup);
        if (rc == SO_OK) {
            pthread_mutex_lock(&c->mu);
            c->dup = dup;
            pthread_mutex_unlock(&c->mu);
            /* The worker blocks every signal (signals stay with the caller's threads). */
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &old);
            int prc = pthread_create(&c->worker, NULL, worker_main, c);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            if (prc != 0) {
                rc = so__fail(SO_ESYS, "cannot start the worker thread of group %s", c->prefix);
            } else {
                c->worker_running = 1;
            }
        }
    }
    so_request *r = rc == SO_OK ? calloc(1, sizeof *r) : NULL;
    if (rc == SO_OK && !r) {
        rc = so__fail(SO_ENOMEM, "out of memory for a request");
    }
    if (rc < 0) {
        if (free_arg) {
            free_arg(arg);
        }
        return rc;
    }
    r->c = c;
    r->async = 1;
    r->fn = fn;
    r->arg = arg;
    r->free_arg = free_arg;
    pthread_mutex_lock(&c->mu);
    if (c->jobs) {
        c->jobs_tail->next_job = r;
    } else {
        c->jobs = r;
    }
    c->jobs_tail = r;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    *req = r;
    return SO_OK;
}

void so__comm_worker_stop(so_comm *c) {
    if (c->worker_running) {
        pthread_mutex_lock(&c->mu);
        c->stopping = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->worker, NULL);
        c->worker_running = 0;
    }
    pthread_mutex_lock(&c->mu);
    so_comm *dup = c->dup;
    c->dup = NULL;
    pthread_mutex_unlock(&c->mu);
    so_comm_destroy(dup);
}
