/*
 * The alpha-beta model and the algorithm selector.
 *
 * Model: sending an n-byte message costs alpha + n*beta. so_coll_calibrate measures it: ranks
 * pair up (0-1, 2-3, ...; all pairs at once, so the fit sees the contention a collective sees),
 * ping-pong messages of 8 B ... 1 MiB, take the best of three batches per size, and fit
 * t = alpha + n*beta by least squares; the pairs' fits are averaged with a tree all-reduce, so
 * every rank stores the same numbers. Without calibration the model comes from SO_ALPHA_BETA
 * ("alpha_us,GBps") or from a default for the transport in use (shm or tcp).
 *
 * Selection: each algorithm's time is predicted with the book's formulas (chapter 4.4) and the
 * cheapest wins; ties go to the earlier of tree, ring, hd, naive (so K = 2, where the ring and
 * halving-doubling are the same exchange, runs the ring, whose chunks pipeline).
 * All-reduce, K ranks, n bytes, L = ceil(log2 K):
 *   naive  2(K-1)(alpha + n beta)
 *   tree   2L(alpha + n beta)
 *   ring   2(K-1) alpha + 2(K-1)/K n beta
 *   hd     2 log2 K alpha + 2(K-1)/K n beta, for K a power of two; otherwise, with P the
 *          largest power of two below K, 2 log2 P alpha + 2(P-1)/P n beta + 2(alpha + n beta)
 *          (the fold and the unfold)
 *   rd     log2 P (alpha + n beta) (+ 2(alpha + n beta) off powers of two); recursive doubling
 *          reduces the whole vector every round, a cost the model leaves out, so it is a
 *          candidate only up to SO_RD_MAX_BYTES
 * So small vectors go to hd or the tree, and large ones to hd on powers of two and the ring
 * otherwise. (The model cannot see that the ring talks only to neighbours; on a real switched
 * network set SO_ALGO=ring if that matters.) The choice depends only on the model, K and n, which
 * are the same on every rank, so every rank picks the same algorithm; the algorithm id travels
 * in every message header, so a rank that picked differently is caught as a desync.
 * Overrides: opts->algo, then SO_ALGO (ignored for a collective it does not apply to).
 * Groups that span hosts: the one-link model cannot price shm inside a host against tcp across,
 * so an all-reduce of at least SO_HIER_MIN_BYTES on a group over several hosts with more than one
 * rank on some host runs the two-level algorithm (hier), which keeps most traffic on shm.
 */
#include <math.h>
#include <stdio.h>

#include "coll_internal.h"

/* ---- names ---- */

static const char *const names[SO_ALGO_COUNT] = {
    [SO_ALGO_AUTO] = "auto",
    [SO_ALGO_NAIVE] = "naive",
    [SO_ALGO_TREE] = "tree",
    [SO_ALGO_RING] = "ring",
    [SO_ALGO_HD] = "hd",
    [SO_ALGO_RD] = "rd",
    [SO_ALGO_PAIRWISE] = "pairwise",
    [SO_ALGO_DISSEMINATION] = "dissemination",
    [SO_ALGO_HIER] = "hier",
};

const char *so_algo_name(so_algo a) {
    return ((int)a >= 0 && a < SO_ALGO_COUNT) ? names[a] : "?";
}

int so_algo_parse(const char *s, so_algo *out) {
    static const struct {
        const char *alias;
        so_algo a;
    } aliases[] = {{"halving-doubling", SO_ALGO_HD},
                   {"rabenseifner", SO_ALGO_HD},
                   {"recursive-doubling", SO_ALGO_RD},
                   {"bruck", SO_ALGO_RD},
                   {"chain", SO_ALGO_RING},
                   {"binomial", SO_ALGO_TREE},
                   {"linear", SO_ALGO_NAIVE}};
    if (!s) {
        return so__fail(SO_EINVAL, "algorithm name is NULL");
    }
    for (int i = 0; i < SO_ALGO_COUNT; i++) {
        if (!strcmp(s, names[i])) {
            *out = (so_algo)i;
            return SO_OK;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (!strcmp(s, aliases[i].alias)) {
            *out = aliases[i].a;
            return SO_OK;
        }
    }
    return so__fail(SO_EINVAL,
                    "'%s' is not an algorithm (auto naive tree ring hd rd pairwise dissemination)",
                    s);
}

/* ---- the model ---- */

typedef struct coll_state {
    int have; /* 1 once calibrated or set */
    so_alpha_beta ab;
    int have_dflt; /* the transport default, computed once (it scans every peer) */
    so_alpha_beta dflt;
} coll_state;

static coll_state *state(so_comm *c, int create) {
    void **slot = so__comm_coll_slot(c);
    if (!slot) {
        return NULL;
    }
    if (!*slot && create) {
        *slot = calloc(1, sizeof(coll_state));
    }
    return *slot;
}

int so_coll_set_alpha_beta(so_comm *c, const so_alpha_beta *ab) {
    if (!c || !ab || !(ab->alpha_s >= 0) || !(ab->beta_s_per_b >= 0)) {
        return so__fail(SO_EINVAL, "so_coll_set_alpha_beta: need a group and alpha, beta >= 0");
    }
    coll_state *st = state(c, 1);
    if (!st) {
        return so__fail(SO_ENOMEM, "so_coll_set_alpha_beta: no memory for the model");
    }
    st->have = 1;
    st->ab = *ab;
    return SO_OK;
}

/* Parses "alpha_us,GBps". */
static int parse_knob(const char *s, so_alpha_beta *out) {
    double a_us, gbps;
    if (!s || !*s || sscanf(s, "%lf,%lf", &a_us, &gbps) != 2 || !(a_us >= 0) || !(gbps > 0)) {
        return SO_EINVAL;
    }
    out->alpha_s = a_us * 1e-6;
    out->beta_s_per_b = 1.0 / (gbps * 1e9);
    return SO_OK;
}

int so_coll_get_alpha_beta(so_comm *c, so_alpha_beta *out) {
    coll_state *st = c ? state(c, 0) : NULL;
    if (st && st->have) {
        *out = st->ab;
        return 0;
    }
    if (parse_knob(so_param_str("SO_ALPHA_BETA"), out) == SO_OK) {
        return 1;
    }
    if (st && st->have_dflt) {
        *out = st->dflt;
        return 2;
    }
    /* Defaults measured on one host (2 cores): tcp loopback and shared memory rings; mpi, which
     * carries traffic between hosts, is priced like tcp. Every rank of a group that spans hosts
     * has such a peer, so all ranks pick the same default. */
    int tcp = 0;
    for (int p = 0; c && p < so_comm_size(c); p++) {
        const char *name = so_comm_transport_name(c, p);
        if (!strcmp(name, "tcp") || !strcmp(name, "mpi")) {
            tcp = 1;
        }
    }
    out->alpha_s = tcp ? 30e-6 : 5e-6;
    out->beta_s_per_b = 1.0 / (tcp ? 1.5e9 : 4e9);
    st = c ? state(c, 1) : NULL;
    if (st) {
        st->have_dflt = 1;
        st->dflt = *out;
    }
    return 2;
}

double so_coll_predict_allreduce(so_algo a, int k, size_t bytes, const so_alpha_beta *ab) {
    if (k <= 1) {
        return 0.0;
    }
    double al = ab->alpha_s, n = (double)bytes * ab->beta_s_per_b, kk = k;
    int l = so__log2_ceil(k), p = so__pof2_floor(k);
    switch (a) {
    case SO_ALGO_NAIVE:
        return 2 * (kk - 1) * (al + n);
    case SO_ALGO_TREE:
        return 2 * l * (al + n);
    case SO_ALGO_RING:
        return 2 * (kk - 1) * al + 2 * (kk - 1) / kk * n;
    case SO_ALGO_HD: {
        double t = 2 * so__log2_ceil(p) * al + 2.0 * (p - 1) / p * n;
        return p == k ? t : t + 2 * (al + n);
    }
    case SO_ALGO_RD: {
        double t = so__log2_ceil(p) * (al + n);
        return p == k ? t : t + 2 * (al + n);
    }
    default:
        return -1.0;
    }
}

static so_algo pick_allreduce(int k, size_t bytes, const so_alpha_beta *ab) {
    static const so_algo order[] = {SO_ALGO_TREE, SO_ALGO_RING, SO_ALGO_HD, SO_ALGO_NAIVE,
                                    SO_ALGO_RD};
    /* The model has no term for reduction arithmetic, which recursive doubling repeats on the
     * whole vector every round; so it competes only below SO_RD_MAX_BYTES. */
    size_t norder = bytes <= (size_t)so_param_int("SO_RD_MAX_BYTES") ? 5 : 4;
    so_algo best = order[0];
    double bt = so_coll_predict_allreduce(best, k, bytes, ab);
    for (size_t i = 1; i < norder; i++) {
        double t = so_coll_predict_allreduce(order[i], k, bytes, ab);
        if (t < bt) {
            best = order[i], bt = t;
        }
    }
    return best;
}

so_algo so_coll_select_allreduce(so_comm *c, size_t bytes) {
    so_algo a = SO_ALGO_RING;
    return so__coll_choose(c, SO__KIND_ALLREDUCE, bytes, NULL, &a) < 0 ? SO_ALGO_RING : a;
}

/* The cheaper of two algorithms for the other collectives, by the same model. n is the full
 * vector (reduce-scatter input, all-gather output) or the buffer (bcast). */
static so_algo pick_other(int kind, int k, size_t bytes, const so_alpha_beta *ab) {
    double al = ab->alpha_s, n = (double)bytes * ab->beta_s_per_b, kk = k;
    int p = so__pof2_floor(k);
    double lg = so__log2_ceil(k);
    switch (kind) {
    case SO__KIND_REDUCE_SCATTER: {
        double ring = (kk - 1) * al + (kk - 1) / kk * n;
        double hd = so__log2_ceil(p) * al + (kk - 1) / kk * n;
        if (p != k) {
            hd += 2 * al + n + n / kk;
        }
        return hd < ring ? SO_ALGO_HD : SO_ALGO_RING;
    }
    case SO__KIND_ALLGATHER: {
        double ring = (kk - 1) * al + (kk - 1) / kk * n;
        double rd = lg * al + (kk - 1) / kk * n;
        return rd < ring ? SO_ALGO_RD : SO_ALGO_RING;
    }
    default: { /* bcast */
        double chunk = (double)so__coll_chunk_bytes();
        double m = ceil((double)bytes / chunk);
        if (m < 1) {
            m = 1;
        }
        double tree = lg * (al + n);
        double chain = (kk + m - 2) * (al + n / m);
        return chain < tree ? SO_ALGO_RING : SO_ALGO_TREE;
    }
    }
}

/* The algorithm `want` means for collective `kind`, or SO_ALGO_AUTO if it has no such one. */
static so_algo applies(int kind, so_algo want) {
    switch (kind) {
    case SO__KIND_ALLREDUCE:
        return (want == SO_ALGO_NAIVE || want == SO_ALGO_TREE || want == SO_ALGO_RING ||
                want == SO_ALGO_HD || want == SO_ALGO_RD || want == SO_ALGO_HIER)
                   ? want
                   : SO_ALGO_AUTO;
    case SO__KIND_REDUCE_SCATTER:
        return (want == SO_ALGO_RING || want == SO_ALGO_HD) ? want : SO_ALGO_AUTO;
    case SO__KIND_ALLGATHER:
        return want == SO_ALGO_RING                         ? want
               : (want == SO_ALGO_RD || want == SO_ALGO_HD) ? SO_ALGO_RD
                                                            : SO_ALGO_AUTO;
    case SO__KIND_BCAST:
        return (want == SO_ALGO_RING || want == SO_ALGO_TREE) ? want : SO_ALGO_AUTO;
    default:
        return SO_ALGO_AUTO;
    }
}

int so__coll_choose(so_comm *c, int kind, size_t bytes, const so_coll_opts *opts, so_algo *out) {
    so_algo want = opts ? opts->algo : SO_ALGO_AUTO;
    if ((int)want < 0 || want >= SO_ALGO_COUNT) {
        return so__fail(SO_EINVAL, "%s: unknown algorithm id %d", so__kind_name(kind), (int)want);
    }
    if (want != SO_ALGO_AUTO) {
        so_algo a = applies(kind, want);
        if (a == SO_ALGO_AUTO) {
            return so__fail(SO_ENOTSUP, "%s has no algorithm '%s'", so__kind_name(kind),
                            so_algo_name(want));
        }
        *out = a;
        return SO_OK;
    }
    const char *env = so_param_str("SO_ALGO");
    if (strcmp(env, "auto") != 0) {
        if (so_algo_parse(env, &want) < 0) {
            return so__fail(SO_EINVAL, "SO_ALGO=%s is not an algorithm name", env);
        }
        so_algo a = applies(kind, want);
        if (a != SO_ALGO_AUTO) {
            *out = a;
            return SO_OK;
        }
    }
    int k = so_comm_size(c);
    if (kind == SO__KIND_ALLREDUCE && so_comm_nhosts(c) > 1 && so_comm_nhosts(c) < k &&
        bytes >= (size_t)so_param_int("SO_HIER_MIN_BYTES")) {
        *out = SO_ALGO_HIER;
        return SO_OK;
    }
    so_alpha_beta ab;
    so_coll_get_alpha_beta(c, &ab);
    *out = kind == SO__KIND_ALLREDUCE ? pick_allreduce(k, bytes, &ab)
                                      : pick_other(kind, k, bytes, &ab);
    return SO_OK;
}

/* ---- calibration ---- */

/* Mean one-way time of `reps` round trips of n bytes with peer, best of three batches. */
static int pingpong(so_comm *c, int peer, int first, char *buf, size_t n, int reps, double *t) {
    double best = INFINITY;
    for (int batch = 0; batch < 3; batch++) {
        double t0 = so_now_s();
        for (int i = 0; i < reps; i++) {
            if (first) {
                SO_TRY(so__send(c, peer, buf, n));
                SO_TRY(so__recv(c, peer, buf, n));
            } else {
                SO_TRY(so__recv(c, peer, buf, n));
                SO_TRY(so__send(c, peer, buf, n));
            }
        }
        double dt = (so_now_s() - t0) / (2.0 * reps);
        if (dt < best) {
            best = dt;
        }
    }
    *t = best;
    return SO_OK;
}

static int measure(so_comm *c, double fit[3]) {
    static const size_t sizes[] = {8, 64, 512, 4096, 32768, 262144, 1048576};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    int k = so_comm_size(c), r = so_comm_rank(c);
    int peer = (r & 1) ? r - 1 : r + 1;
    fit[0] = fit[1] = fit[2] = 0;
    if (peer >= k) {
        return SO_OK; /* the odd rank out: no partner, no vote */
    }
    char *buf = so__scratch(c, 0, sizes[NS - 1]);
    if (!buf) {
        return SO_ENOMEM;
    }
    memset(buf, 0x5a, sizes[NS - 1]);
    double x[NS], y[NS];
    for (int i = 0; i < NS; i++) {
        int reps = sizes[i] >= 262144 ? 4 : 16;
        SO_TRY(pingpong(c, peer, (r & 1) == 0, buf, sizes[i], 1, &y[i])); /* warm-up */
        SO_TRY(pingpong(c, peer, (r & 1) == 0, buf, sizes[i], reps, &y[i]));
        x[i] = (double)sizes[i];
    }
    /* Least squares t = alpha + n beta. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < NS; i++) {
        sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
    }
    double beta = (NS * sxy - sx * sy) / (NS * sxx - sx * sx);
    double alpha = (sy - beta * sx) / NS;
    fit[0] = alpha > 1e-7 ? alpha : 1e-7; /* a fit below 0.1 us is noise */
    fit[1] = beta > 1e-12 ? beta : 1e-12; /* and above 1 TB/s too */
    fit[2] = 1;
    return SO_OK;
}

int so_coll_calibrate(so_comm *c, so_alpha_beta *out) {
    if (!c) {
        return so__fail(SO_EINVAL, "so_coll_calibrate: the group is NULL");
    }
    so_alpha_beta ab;
    if (so_comm_size(c) == 1) {
        so_coll_get_alpha_beta(c, &ab);
    } else {
        double fit[3];
        so__coll_sig sig = {.kind = SO__KIND_INTERNAL, .root = -1};
        SO_TRY(so__coll_begin(c, &sig));
        SO_TRY(so__coll_end(c, measure(c, fit)));
        so_coll_opts tree = {.algo = SO_ALGO_TREE};
        SO_TRY(so_allreduce_ex(c, fit, fit, 3, SO_F64, SO_SUM, &tree));
        ab.alpha_s = fit[0] / fit[2];
        ab.beta_s_per_b = fit[1] / fit[2];
    }
    SO_TRY(so_coll_set_alpha_beta(c, &ab));
    if (out) {
        *out = ab;
    }
    return SO_OK;
}
