/*
 * The gradient reducer (book 4.10; PyTorch DDP's Reducer): bucketed all-reduce of gradients,
 * overlapped with backward.
 *
 * Layout. Gradients are registered in backward order. A gradient joins the open bucket if the
 * bucket stays within bucket_cap bytes, otherwise it opens a new one (so a gradient larger than
 * the cap is a bucket by itself, and a cap larger than everything gives one bucket). At the first
 * ready() the layout is sealed: a bucket whose gradients tile one contiguous span of memory (in
 * any order, e.g. one parameter arena walked backwards, which is what DDP's gradient_as_bucket_view
 * arranges) is all-reduced in place on that span, since an element-wise reduction does not care
 * where an element sits; any other bucket gets a flat buffer, its gradients are copied in when
 * it starts and copied back in finish(). In-place saves two copies of every byte and the memory
 * of the flat buffer; flattening is what makes scattered tensors one message.
 *
 * Schedule. ready(i) decrements its bucket's pending count; buckets start strictly in bucket
 * order (bucket b waits until 0..b-1 started), so every rank submits the same sequence whatever
 * order it marks gradients in. Starting a bucket submits a job to the group's communication
 * worker (comm_internal.h so__comm_submit, the engine under so_iallreduce) that stamps its own
 * start and end times around a blocking all-reduce on the group's private duplicate; the
 * algorithm is chosen on the calling group, as so_iallreduce does. finish() waits for every job
 * in order, so the first failure reported is the earliest bucket's.
 *
 * Accounting. The worker runs jobs one at a time, so communication time is the sum of the
 * buckets' [start, end] intervals; the part of each interval before finish() was entered is
 * hidden behind backward, the rest exposed.
 *
 * Cost: O(gradients) per step besides the all-reduces; flattened buckets copy their bytes twice.
 * Limits: one step in flight; no "first bucket small" rule (DDP makes the first bucket 1 MB so
 * communication starts sooner); unused gradients are an error, not skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "coll/coll_internal.h"
#include "scaleout/parallel.h"

typedef struct rd_grad {
    char *ptr;
    size_t count, off; /* off: byte offset inside the bucket's flat buffer */
    int bucket, ready;
} rd_grad;

typedef struct rd_bucket {
    so_reducer *owner;
    int first, n, pending, started, in_place, rc;
    size_t bytes, count;
    char *base; /* in place: the span's lowest address; else the flat buffer */
    char *flat;
    so_algo algo;
    so_request *req;
    so_reducer_bucket_times t;
} rd_bucket;

struct so_reducer {
    so_comm *c;
    so_dtype dt;
    size_t es;
    so_reducer_opts o;
    rd_grad *g;
    int ng, capg;
    rd_bucket *b;
    int nb, capb;
    int sealed, next_start, nready, in_step;
    so_reducer_stats st;
};

void so_reducer_opts_default(so_reducer_opts *o) {
    memset(o, 0, sizeof *o);
    o->op = SO_AVG;
    o->overlap = 1;
}

int so_reducer_create(so_comm *c, so_dtype dt, const so_reducer_opts *opts, so_reducer **out) {
    if (!out) {
        return so__fail(SO_EINVAL, "reducer: output pointer is NULL");
    }
    *out = NULL;
    if (!c) {
        return so__fail(SO_EINVAL, "reducer: group is NULL");
    }
    size_t es = so_dtype_size(dt);
    if (es == 0) {
        return so__fail(SO_EINVAL, "reducer: dtype %d has no element size", (int)dt);
    }
    so_reducer *r = calloc(1, sizeof *r);
    if (!r) {
        return so__fail(SO_ENOMEM, "reducer: no memory");
    }
    if (opts) {
        r->o = *opts;
    } else {
        so_reducer_opts_default(&r->o);
    }
    if (r->o.bucket_cap == 0) {
        const char *s = so_param_str("SO_BUCKET_CAP");
        if (so_parse_size(s, &r->o.bucket_cap) < 0 || r->o.bucket_cap == 0) {
            free(r);
            return so__fail(SO_EINVAL, "reducer: SO_BUCKET_CAP=%s is not a positive size", s);
        }
    }
    r->c = c;
    r->dt = dt;
    r->es = es;
    *out = r;
    return SO_OK;
}

int so_reducer_add(so_reducer *r, void *grad, size_t count) {
    if (!r) {
        return so__fail(SO_EINVAL, "reducer_add: reducer is NULL");
    }
    if (r->sealed) {
        return so__fail(SO_EINVAL,
                        "reducer_add: gradients are registered before the first ready()");
    }
    if (!grad && count) {
        return so__fail(SO_EINVAL, "reducer_add: gradient %d is NULL with %zu elements", r->ng,
                        count);
    }
    if (r->ng == r->capg) {
        int cap = r->capg ? 2 * r->capg : 16;
        rd_grad *g = realloc(r->g, (size_t)cap * sizeof *g);
        if (!g) {
            return so__fail(SO_ENOMEM, "reducer_add: no memory for %d gradients", cap);
        }
        r->g = g;
        r->capg = cap;
    }
    size_t bytes = count * r->es;
    rd_bucket *open = r->nb ? &r->b[r->nb - 1] : NULL;
    if (!open || (open->n > 0 && open->bytes + bytes > r->o.bucket_cap)) {
        if (r->nb == r->capb) {
            int cap = r->capb ? 2 * r->capb : 8;
            rd_bucket *b = realloc(r->b, (size_t)cap * sizeof *b);
            if (!b) {
                return so__fail(SO_ENOMEM, "reducer_add: no memory for %d buckets", cap);
            }
            r->b = b;
            r->capb = cap;
        }
        open = &r->b[r->nb++];
        memset(open, 0, sizeof *open);
        open->owner = r;
        open->first = r->ng;
    }
    rd_grad *g = &r->g[r->ng];
    *g = (rd_grad){.ptr = grad, .count = count, .off = open->bytes, .bucket = r->nb - 1};
    open->n++;
    open->bytes += bytes;
    open->count += count;
    return r->ng++;
}

static int rd_cmp_ptr(const void *a, const void *b) {
    const rd_grad *x = *(const rd_grad *const *)a, *y = *(const rd_grad *const *)b;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr;
}

/* 1 if the bucket's non-empty gradients, sorted by address, tile one span with no gap and no
 * overlap (empty ones hold no bytes and are ignored). */
static int rd_contiguous(so_reducer *r, rd_bucket *b, rd_grad **tmp) {
    int n = 0;
    for (int i = 0; i < b->n; i++) {
        if (r->g[b->first + i].count) {
            tmp[n++] = &r->g[b->first + i];
        }
    }
    qsort(tmp, (size_t)n, sizeof *tmp, rd_cmp_ptr);
    for (int i = 0; i + 1 < n; i++) {
        if (tmp[i]->ptr + tmp[i]->count * r->es != tmp[i + 1]->ptr) {
            return 0;
        }
    }
    b->base = n ? tmp[0]->ptr : NULL;
    return 1;
}

static int rd_seal(so_reducer *r) {
    if (r->sealed) {
        return SO_OK;
    }
    rd_grad **tmp = malloc((size_t)(r->ng ? r->ng : 1) * sizeof *tmp);
    if (!tmp) {
        return so__fail(SO_ENOMEM, "reducer: no memory to seal %d gradients", r->ng);
    }
    int rc = SO_OK;
    for (int i = 0; i < r->nb && rc == SO_OK; i++) {
        rd_bucket *b = &r->b[i];
        b->in_place = !r->o.force_flatten && rd_contiguous(r, b, tmp);
        if (!b->in_place) {
            b->flat = so_malloc_aligned(b->bytes ? b->bytes : 1);
            if (!b->flat) {
                rc = so__fail(SO_ENOMEM, "reducer: no memory for bucket %d (%zu bytes)", i,
                              b->bytes);
            }
            b->base = b->flat;
        }
        b->pending = b->n;
    }
    free(tmp);
    if (rc == SO_OK) {
        r->sealed = 1;
    }
    return rc;
}

/* Runs on the group's worker: the bucket's blocking all-reduce on the private duplicate. */
static int rd_run(so_comm *dup, void *arg) {
    rd_bucket *b = arg;
    so_reducer *r = b->owner;
    so_coll_opts opts = {.algo = b->algo};
    b->t.start_s = so_now_s();
    int rc = so_allreduce_ex(dup, b->base, b->base, b->count, r->dt, r->o.op, &opts);
    b->t.end_s = so_now_s();
    return rc;
}

static int rd_start(so_reducer *r, int bi) {
    rd_bucket *b = &r->b[bi];
    b->started = 1;
    if (!b->in_place) {
        for (int i = 0; i < b->n; i++) {
            rd_grad *g = &r->g[b->first + i];
            if (g->count) {
                memcpy(b->flat + g->off, g->ptr, g->count * r->es);
            }
        }
    }
    size_t model_bytes = b->count * so_dtype_size(so__work_dtype(r->dt));
    int rc = so__coll_choose(r->c, SO__KIND_ALLREDUCE, model_bytes, NULL, &b->algo);
    b->t.submit_s = so_now_s();
    if (rc == SO_OK) {
        rc = so__comm_submit(r->c, rd_run, b, NULL, &b->req);
    }
    if (rc < 0) {
        b->rc = so__fail(rc, "reducer: cannot start bucket %d (%zu bytes): %s", bi, b->bytes,
                         so_last_error());
    }
    return rc;
}

/* Starts every complete bucket whose predecessors all started. */
static int rd_start_ready(so_reducer *r) {
    int rc = SO_OK;
    while (r->next_start < r->nb && r->b[r->next_start].pending == 0) {
        int e = rd_start(r, r->next_start++);
        if (e < 0 && rc == SO_OK) {
            rc = e;
        }
    }
    return rc;
}

/* A step begins at its first ready() (or at finish() if there was none): no job of the previous
 * step is running any more, so the bucket times can be cleared. */
static void rd_begin_step(so_reducer *r, double now) {
    r->in_step = 1;
    r->st.first_ready_s = now;
    for (int i = 0; i < r->nb; i++) {
        r->b[i].t = (so_reducer_bucket_times){0, 0, 0, 0};
    }
}

int so_reducer_ready(so_reducer *r, int index) {
    if (!r) {
        return so__fail(SO_EINVAL, "reducer_ready: reducer is NULL");
    }
    SO_TRY(rd_seal(r));
    if (index < 0 || index >= r->ng) {
        return so__fail(SO_EINVAL, "reducer_ready: gradient %d out of range (0..%d)", index,
                        r->ng - 1);
    }
    rd_grad *g = &r->g[index];
    if (g->ready) {
        return so__fail(SO_EINVAL, "reducer_ready: gradient %d marked ready twice in one step",
                        index);
    }
    double now = so_now_s();
    if (!r->in_step) {
        rd_begin_step(r, now);
    }
    g->ready = 1;
    r->nready++;
    rd_bucket *b = &r->b[g->bucket];
    if (--b->pending == 0) {
        b->t.ready_s = now;
    }
    return r->o.overlap ? rd_start_ready(r) : SO_OK;
}

/* Forgets this step's marks and times; keeps the layout. */
static void rd_reset(so_reducer *r) {
    for (int i = 0; i < r->ng; i++) {
        r->g[i].ready = 0;
    }
    for (int i = 0; i < r->nb; i++) {
        rd_bucket *b = &r->b[i];
        b->pending = b->n;
        b->started = 0;
        b->rc = SO_OK;
        b->req = NULL;
    }
    r->next_start = 0;
    r->nready = 0;
    r->in_step = 0;
}

static void rd_account(so_reducer *r) {
    so_reducer_stats *s = &r->st;
    s->buckets = r->nb;
    s->bytes = 0;
    s->comm_s = s->hidden_s = s->exposed_s = 0;
    for (int i = 0; i < r->nb; i++) {
        rd_bucket *b = &r->b[i];
        s->bytes += b->bytes;
        if (!b->started || b->t.end_s < b->t.start_s) {
            continue;
        }
        double d = b->t.end_s - b->t.start_s;
        double before = (b->t.end_s < s->finish_s ? b->t.end_s : s->finish_s) - b->t.start_s;
        double after = b->t.end_s - (b->t.start_s > s->finish_s ? b->t.start_s : s->finish_s);
        s->comm_s += d;
        s->hidden_s += before > 0 ? before : 0;
        s->exposed_s += after > 0 ? after : 0;
    }
    s->hidden_frac = s->comm_s > 0 ? s->hidden_s / s->comm_s : 1.0;
    s->wait_s = s->done_s - s->finish_s;
}

int so_reducer_finish(so_reducer *r) {
    if (!r) {
        return so__fail(SO_EINVAL, "reducer_finish: reducer is NULL");
    }
    SO_TRY(rd_seal(r));
    so_reducer_stats *s = &r->st;
    s->finish_s = so_now_s();
    if (!r->in_step) {
        rd_begin_step(r, s->finish_s);
    }
    rd_start_ready(r); /* failures are kept in the bucket and reported below */
    int rc = SO_OK;
    char detail[512] = "";
    for (int i = 0; i < r->nb; i++) {
        rd_bucket *b = &r->b[i];
        int e = b->rc;
        if (b->started && b->req) {
            e = so_wait(b->req);
            b->req = NULL;
        }
        if (e < 0 && rc == SO_OK) {
            rc = e;
            snprintf(detail, sizeof detail,
                     "reducer: all-reduce of bucket %d (gradients %d..%d, %zu bytes) failed: %s", i,
                     b->first, b->first + b->n - 1, b->bytes, so_last_error());
        }
        if (e == SO_OK && b->started && !b->in_place) {
            for (int j = 0; j < b->n; j++) {
                rd_grad *g = &r->g[b->first + j];
                if (g->count) {
                    memcpy(g->ptr, b->flat + g->off, g->count * r->es);
                }
            }
        }
    }
    s->done_s = so_now_s();
    rd_account(r);
    int unready = -1;
    for (int i = 0; i < r->ng && unready < 0; i++) {
        if (!r->g[i].ready) {
            unready = i;
        }
    }
    rd_reset(r);
    if (rc < 0) {
        return so__fail(rc, "%s", detail);
    }
    if (unready >= 0) {
        return so__fail(SO_EINVAL,
                        "reducer_finish: gradient %d was not marked ready this step (its bucket "
                        "and the later ones were not reduced)",
                        unready);
    }
    return SO_OK;
}

void so_reducer_destroy(so_reducer *r) {
    if (!r) {
        return;
    }
    for (int i = 0; i < r->nb; i++) {
        if (r->b[i].req) {
            so_wait(r->b[i].req); /* the worker still uses the bucket */
        }
        so_free_aligned(r->b[i].flat);
    }
    free(r->b);
    free(r->g);
    free(r);
}

int so_reducer_nbuckets(const so_reducer *r) {
    return r ? r->nb : 0;
}

int so_reducer_bucket_info(const so_reducer *r, int b, int *first, int *ngrads, size_t *bytes,
                           int *in_place) {
    if (!r || b < 0 || b >= r->nb) {
        return so__fail(SO_EINVAL, "reducer: no bucket %d", b);
    }
    const rd_bucket *k = &r->b[b];
    if (first) {
        *first = k->first;
    }
    if (ngrads) {
        *ngrads = k->n;
    }
    if (bytes) {
        *bytes = k->bytes;
    }
    if (in_place) {
        /* Before sealing, what sealing would decide is not known yet: report flattened. */
        *in_place = r->sealed ? k->in_place : 0;
    }
    return SO_OK;
}

int so_reducer_bucket_times_get(const so_reducer *r, int b, so_reducer_bucket_times *out) {
    if (!r || !out || b < 0 || b >= r->nb) {
        return so__fail(SO_EINVAL, "reducer: no bucket %d", b);
    }
    *out = r->b[b].t;
    return SO_OK;
}

int so_reducer_stats_get(const so_reducer *r, so_reducer_stats *out) {
    if (!r || !out) {
        return so__fail(SO_EINVAL, "reducer_stats_get: NULL argument");
    }
    *out = r->st;
    return SO_OK;
}
