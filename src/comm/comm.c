/*
 * The process group's lifecycle: creation over a store, the accessors, abort and destroy.
 *
 * so_comm_create: every rank publishes "<prefix>/info/<rank>" = "pid hostid hostname", where the
 * host id is the host name plus the inode of the network namespace (so ranks in different
 * `ip netns` count as different hosts; SO_HOST_ID overrides it for tests), and reads everyone's
 * record before the deadline (a rank that never arrives is named). Host indexes follow the first
 * rank seen on each host; local rank and size follow. Then it opens the transports: self for
 * itself, shm for peers on the same host (transport "auto" or "shm"), tcp for the rest (or for all
 * peers with "tcp"); when every rank runs under MPI (its record carries its MPI_COMM_WORLD rank),
 * "auto" reaches peers on other hosts over mpi instead of tcp, and "mpi" uses mpi for every peer.
 * With "auto", a shm transport that is not built (SO_ENOTSUP) hands its peers to tcp. Each group,
 * including every split and duplicate, opens its own transport instances under its own prefix, so
 * groups never share a connection or a ring and tearing one down cannot disturb another. Prefix:
 * "<name>" plus "/r<TORCHELASTIC_RESTART_COUNT>" when that is set, so restarts never read a
 * previous incarnation's keys, plus "/g<n>" when a group of that name was created n times before in
 * this store; splits append "/s<n>.<color>" and duplicates "/d<n>".
 *
 * Cost: 1 set + size gets on the store, then each transport's setup (tcp: a connection per
 * pair). Limits: the store must outlive the group if it is split or used for nonblocking
 * collectives (both create new groups through it).
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm_priv.h"

void so_comm_config_default(so_comm_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->local_rank = -1;
    cfg->local_size = -1;
}

static void host_id(char *id, size_t cap, char *name, size_t name_cap) {
    char host[256] = "localhost", ns[64] = "net:?";
    gethostname(host, sizeof host - 1);
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    if (n > 0) {
        ns[n] = 0;
    }
    const char *fake = so_param_str("SO_HOST_ID");
    if (*fake) {
        snprintf(host, sizeof host, "%s", fake);
        snprintf(ns, sizeof ns, "given");
        for (char *p = host; *p; p++) {
            *p = (*p == ' ' || *p == '/') ? '_' : *p;
        }
    }
    snprintf(id, cap, "%s/%s", host, ns);
    snprintf(name, name_cap, "%s", host);
}

static int open_transports(so_comm *c, int64_t deadline) {
    const char *mode = c->transport;
    int all_mpi = 1;
    for (int r = 0; r < c->size; r++) {
        if (c->mpi_ranks[r] < 0) {
            if (!strcmp(mode, "mpi") && c->size > 1) {
                return so__fail(SO_ENOTSUP,
                                "so_comm_create(%s): transport mpi, but MPI is not "
                                "initialised on rank %d (run under mpirun, or MPI_Init first)",
                                c->prefix, r);
            }
            all_mpi = 0;
        }
    }
    int *peers = malloc((size_t)c->size * sizeof *peers);
    if (!peers) {
        return so__fail(SO_ENOMEM, "so_comm_create: out of memory");
    }
    for (int r = 0; r < c->size; r++) {
        int same = c->host_of[r] == c->host;
        c->peer_tp[r] = r == c->rank                                  ? SO__TP_SELF
                        : !strcmp(mode, "mpi")                        ? SO__TP_MPI
                        : (same && strcmp(mode, "tcp"))               ? SO__TP_SHM
                        : (!same && all_mpi && !strcmp(mode, "auto")) ? SO__TP_MPI
                                                                      : SO__TP_TCP;
    }
    so__transport_init in = {.rank = c->rank,
                             .size = c->size,
                             .peers = peers,
                             .pids = c->pids,
                             .store = c->store,
                             .prefix = c->prefix,
                             .deadline_ns = deadline,
                             .mpi_ranks = c->mpi_ranks};
    int rc = so__transport_self_open(&in, &c->tp[SO__TP_SELF]);
    for (int kind = SO__TP_SHM; rc == SO_OK && kind <= SO__TP_MPI; kind++) {
        in.npeers = 0;
        for (int r = 0; r < c->size; r++) {
            if (c->peer_tp[r] == kind) {
                peers[in.npeers++] = r;
            }
        }
        if (!in.npeers) {
            continue;
        }
        rc = kind == SO__TP_SHM   ? so__transport_shm_open(&in, &c->tp[kind])
             : kind == SO__TP_TCP ? so__transport_tcp_open(&in, &c->tp[kind])
                                  : so__transport_mpi_open(&in, &c->tp[kind]);
        if (rc == SO_ENOTSUP && kind == SO__TP_SHM && !strcmp(mode, "auto")) {
            SO_LOGD("group %s: shm not available, same-host peers use tcp", c->prefix);
            for (int r = 0; r < c->size; r++) {
                if (c->peer_tp[r] == SO__TP_SHM) {
                    c->peer_tp[r] = SO__TP_TCP;
                }
            }
            rc = SO_OK;
        }
    }
    free(peers);
    return rc;
}

static int exchange_info(so_comm *c, int64_t deadline) {
    char id[200], name[64], key[300], val[400];
    host_id(id, sizeof id, name, sizeof name);
    int mpi_rank = so__mpi_world_rank();
    char(*ids)[200] = calloc((size_t)c->size, sizeof *ids);
    if (!ids) {
        return so__fail(SO_ENOMEM, "so_comm_create: out of memory");
    }
    int rc = SO_OK;
    if (c->store) {
        snprintf(key, sizeof key, "%s/info/%d", c->prefix, c->rank);
        int n = snprintf(val, sizeof val, "%d %s %s %d", (int)getpid(), id, name, mpi_rank);
        rc = so_store_set(c->store, key, val, (size_t)n);
    } else if (c->size != 1) {
        rc = so__fail(SO_EINVAL, "so_comm_create: a group of %d ranks needs a store", c->size);
    }
    for (int r = 0; rc == SO_OK && r < c->size; r++) {
        size_t len = 0;
        if (c->store) {
            snprintf(key, sizeof key, "%s/info/%d", c->prefix, r);
            rc = so_store_get(c->store, key, val, sizeof val - 1, &len, so__ms_left(deadline));
            if (rc == SO_ETIMEDOUT) {
                rc = so__fail(
                    rc, "so_comm_create(%s): rank %d never joined within %d ms (store key %s)",
                    c->prefix, r, c->timeout_ms, key);
                break;
            }
        } else {
            len =
                (size_t)snprintf(val, sizeof val, "%d %s %s %d", (int)getpid(), id, name, mpi_rank);
        }
        val[len < sizeof val ? len : sizeof val - 1] = 0;
        /* The MPI rank is optional (a record without it is not an MPI process). */
        c->mpi_ranks[r] = -1;
        if (rc < 0 || sscanf(val, "%d %199s %63s %d", &c->pids[r], ids[r], c->hostnames[r],
                             &c->mpi_ranks[r]) < 3) {
            rc = rc < 0
                     ? rc
                     : so__fail(SO_EPROTO, "so_comm_create: bad record '%s' for rank %d", val, r);
            break;
        }
        c->host_of[r] = -1;
        for (int q = 0; q < r; q++) {
            if (!strcmp(ids[q], ids[r])) {
                c->host_of[r] = c->host_of[q];
                break;
            }
        }
        if (c->host_of[r] < 0) {
            c->host_of[r] = c->nhosts++;
        }
    }
    if (rc == SO_OK) {
        c->host = c->host_of[c->rank];
        for (int r = 0; r < c->size; r++) {
            if (c->host_of[r] == c->host) {
                c->local_rank += r < c->rank;
                c->local_size++;
            }
        }
    }
    free(ids);
    return rc;
}

int so__ms_left(int64_t deadline_ns) {
    int64_t left = deadline_ns - so_now_ns();
    if (left <= 0) {
        return 0;
    }
    left = (left + 999999) / 1000000;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

int so__comm_create_prefixed(int rank, int size, const char *transport, int timeout_ms,
                             so_store *store, const char *prefix, so_comm **out) {
    *out = NULL;
    if (size < 1 || rank < 0 || rank >= size) {
        return so__fail(SO_EINVAL, "so_comm_create: rank %d is not in a group of %d", rank, size);
    }
    if (!transport || !*transport) {
        transport = so_param_str("SO_TRANSPORT");
    }
    if (strcmp(transport, "auto") && strcmp(transport, "shm") && strcmp(transport, "tcp") &&
        strcmp(transport, "mpi")) {
        return so__fail(SO_EINVAL, "so_comm_create: unknown transport '%s' (auto, shm, tcp, mpi)",
                        transport);
    }
    if (strlen(prefix) >= sizeof(((so_comm *)0)->prefix) - 24) {
        return so__fail(SO_EINVAL, "so_comm_create: group name '%s' is too long", prefix);
    }
    so_comm *c = calloc(1, sizeof *c);
    if (!c) {
        return so__fail(SO_ENOMEM, "so_comm_create: out of memory");
    }
    c->rank = rank;
    c->size = size;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : (int)so_param_int("SO_TIMEOUT_MS");
    c->store = store;
    snprintf(c->transport, sizeof c->transport, "%s", transport);
    snprintf(c->prefix, sizeof c->prefix, "%s", prefix);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    atomic_init(&c->aborted, 0);
    c->cur.kind = SO__KIND_P2P;
    c->cur.root = -1;
    c->blame = -1;
    c->host_of = calloc((size_t)size, sizeof *c->host_of);
    c->pids = calloc((size_t)size, sizeof *c->pids);
    c->mpi_ranks = calloc((size_t)size, sizeof *c->mpi_ranks);
    c->hostnames = calloc((size_t)size, sizeof *c->hostnames);
    c->peer_tp = calloc((size_t)size, 1);
    c->peer_counters = calloc((size_t)size, sizeof *c->peer_counters);
    if (!c->host_of || !c->pids || !c->mpi_ranks || !c->hostnames || !c->peer_tp ||
        !c->peer_counters) {
        so_comm_destroy(c);
        return so__fail(SO_ENOMEM, "so_comm_create: out of memory");
    }
    int64_t deadline = so_deadline_after_ms(c->timeout_ms);
    int rc = exchange_info(c, deadline);
    if (rc == SO_OK) {
        rc = open_transports(c, deadline);
    }
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", so_last_error());
        so_comm_destroy(c);
        return so__fail(rc, "%s", why);
    }
    SO_LOGD("group %s: rank %d of %d, host %d of %d, local %d of %d", c->prefix, rank, size,
            c->host, c->nhosts, c->local_rank, c->local_size);
    *out = c;
    return SO_OK;
}

int so_comm_create(const so_comm_config *cfg, so_comm **out) {
    if (!cfg || !out) {
        return so__fail(SO_EINVAL, "so_comm_create: NULL argument");
    }
    char prefix[200];
    const char *name = cfg->name && *cfg->name ? cfg->name : "world";
    const char *restart = getenv("TORCHELASTIC_RESTART_COUNT");
    if (restart && *restart) {
        snprintf(prefix, sizeof prefix, "%s/r%s", name, restart);
    } else {
        snprintf(prefix, sizeof prefix, "%s", name);
    }
    /* Incarnation: every rank adds 1 to "<prefix>/incarnation" before publishing anything, so
     * the n-th creation of a group with this name sees values in (n-1)*size+1 .. n*size and all
     * its ranks compute the same n, while stale keys of an earlier group of the same name stay
     * out of the way. (Every rank of one incarnation adds before any rank can start the next,
     * because creation waits for everyone's record.) */
    if (cfg->store && cfg->size > 1 && strlen(prefix) < sizeof prefix - 40) {
        char key[240];
        int64_t v = 0;
        snprintf(key, sizeof key, "%s/incarnation", prefix);
        SO_TRY(so_store_add(cfg->store, key, 1, &v));
        int64_t inc = (v - 1) / cfg->size;
        if (inc > 0) {
            size_t n = strlen(prefix);
            snprintf(prefix + n, sizeof prefix - n, "/g%lld", (long long)inc);
        }
    }
    SO_TRY(so__comm_create_prefixed(cfg->rank, cfg->size, cfg->transport, cfg->timeout_ms,
                                    cfg->store, prefix, out));
    /* A launcher's LOCAL_RANK/LOCAL_WORLD_SIZE win over the derived ones (users index devices
     * with them); a disagreement is worth a line in the log. */
    so_comm *c = *out;
    if (cfg->local_rank >= 0 && cfg->local_size > cfg->local_rank) {
        if (cfg->local_rank != c->local_rank || cfg->local_size != c->local_size) {
            SO_LOGI("group %s: local rank %d of %d given, %d of %d derived from host ids",
                    c->prefix, cfg->local_rank, cfg->local_size, c->local_rank, c->local_size);
        }
        c->local_rank = cfg->local_rank;
        c->local_size = cfg->local_size;
    }
    return SO_OK;
}

static void close_transports(so_comm *c) {
    pthread_mutex_lock(&c->mu);
    for (int k = 0; k < SO__TP_COUNT; k++) {
        if (c->tp[k]) {
            c->tp[k]->ops->close(c->tp[k]);
            c->tp[k] = NULL;
        }
    }
    c->closed = 1;
    pthread_mutex_unlock(&c->mu);
}

void so__comm_close_transports(so_comm *c) {
    close_transports(c);
}

void so_comm_abort(so_comm *c) {
    if (!c) {
        return;
    }
    atomic_store(&c->aborted, 1);
    pthread_mutex_lock(&c->mu);
    for (int k = 0; k < SO__TP_COUNT; k++) {
        if (c->tp[k]) {
            c->tp[k]->ops->interrupt(c->tp[k]);
        }
    }
    so_comm *dup = c->dup;
    pthread_mutex_unlock(&c->mu);
    if (dup) {
        so_comm_abort(dup);
    }
}

/* Ranks of a group that owns its store meet once more so rank 0 does not remove the store (or
 * stop its server) while another rank still reads it. Skipped on a failed group. */
static void store_farewell(so_comm *c) {
    if (!c->store || c->poisoned || atomic_load(&c->aborted)) {
        return;
    }
    char key[260];
    snprintf(key, sizeof key, "%s/exit", c->prefix);
    int64_t v = 0;
    if (so_store_add(c->store, key, 1, &v) < 0 || c->rank != 0) {
        return;
    }
    int64_t deadline = so_deadline_after_ms(c->timeout_ms < 10000 ? c->timeout_ms : 10000);
    while (v < c->size && so_now_ns() < deadline && so_store_add(c->store, key, 0, &v) == SO_OK) {
        so_sleep_ns(1000000);
    }
}

static void remove_dir(const char *dir) {
    char cmd[300];
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(cmd, sizeof cmd, "%s/%s", dir, e->d_name);
            unlink(cmd);
        }
    }
    closedir(d);
    rmdir(dir);
}

void so_comm_destroy(so_comm *c) {
    if (!c) {
        return;
    }
    so__comm_worker_stop(c);
    if (c->owns_store) {
        store_farewell(c);
    }
    close_transports(c);
    for (int i = 0; i < 4; i++) {
        so_free_aligned(c->scratch[i]);
    }
    free(c->coll_slot);
    if (c->owns_store) {
        so_store_destroy(c->store);
    }
    so_store_server_stop(c->server);
    if (c->cleanup_dir[0] && c->rank == 0) {
        remove_dir(c->cleanup_dir);
    }
    free(c->host_of);
    free(c->pids);
    free(c->mpi_ranks);
    free(c->hostnames);
    free(c->peer_tp);
    free(c->peer_counters);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    /* MPI_Finalize waits for every rank; after a failure a peer may never come, so a poisoned
     * world leaves MPI as it is (mpirun then reports the job as failed). */
    int finalize = c->mpi_finalize && !c->poisoned && !atomic_load(&c->aborted);
    free(c);
    if (finalize) {
        so__mpi_finalize();
    }
}

int so_comm_rank(const so_comm *c) {
    return c->rank;
}
int so_comm_size(const so_comm *c) {
    return c->size;
}
int so_comm_local_rank(const so_comm *c) {
    return c->local_rank;
}
int so_comm_local_size(const so_comm *c) {
    return c->local_size;
}
int so_comm_host(const so_comm *c) {
    return c->host;
}
int so_comm_nhosts(const so_comm *c) {
    return c->nhosts;
}
int so_comm_timeout_ms(const so_comm *c) {
    return c->timeout_ms;
}

int so_comm_host_of(const so_comm *c, int rank) {
    return (rank >= 0 && rank < c->size) ? c->host_of[rank] : -1;
}

void so_comm_set_timeout_ms(so_comm *c, int timeout_ms) {
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : (int)so_param_int("SO_TIMEOUT_MS");
}

const char *so_comm_transport_name(const so_comm *c, int peer) {
    if (peer < 0 || peer >= c->size) {
        return "?";
    }
    static const char *const names[SO__TP_COUNT] = {"self", "shm", "tcp", "mpi"};
    return names[c->peer_tp[peer]];
}

const char *so_comm_last_error(const so_comm *c) {
    return c->err;
}

int so_comm_poisoned(const so_comm *c) {
    return c->poisoned || atomic_load(&((so_comm *)c)->aborted);
}

void so_comm_counters_get(const so_comm *c, so_comm_counters *out) {
    *out = c->counters;
}

void so_comm_counters_peer(const so_comm *c, int peer, so_comm_counters *out) {
    if (peer >= 0 && peer < c->size) {
        *out = c->peer_counters[peer];
    } else {
        memset(out, 0, sizeof *out);
    }
}

void so_comm_counters_reset(so_comm *c) {
    memset(&c->counters, 0, sizeof c->counters);
    memset(c->peer_counters, 0, (size_t)c->size * sizeof *c->peer_counters);
}

void *so__comm_scratch(so_comm *c, int index, size_t bytes) {
    SO_ASSERT(index >= 0 && index < 4);
    if (bytes > c->scratch_cap[index]) {
        size_t cap = bytes < 4096 ? 4096 : bytes + bytes / 4;
        void *p = so_malloc_aligned(cap);
        if (!p) {
            return NULL;
        }
        so_free_aligned(c->scratch[index]);
        c->scratch[index] = p;
        c->scratch_cap[index] = cap;
    }
    return c->scratch[index];
}

void **so__comm_coll_slot(so_comm *c) {
    return &c->coll_slot;
}
