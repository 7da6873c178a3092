/*
 * Helpers every collective algorithm shares: exchanges that skip an empty side, scratch lookup
 * with an error, the pipelining chunk size, and the halving-doubling cores that reduce-scatter,
 * all-gather and all-reduce all build on.
 *
 * Recursive halving (so__halving_core), for pof2 virtual ranks and a vector cut into pof2
 * segments: at distance d = pof2/2, pof2/4, ..., 1 each rank pairs with vrank ^ d, keeps the half
 * of its current segment range that contains its own segment, sends the other half to the
 * partner and receive-reduces the partner's copy of the half it keeps. After log2(pof2) steps
 * segment v is reduced over all ranks and lives on vrank v. Cost: log2(pof2) messages and
 * (pof2-1)/pof2 * n bytes per rank. Recursive doubling (so__doubling_core) is the mirror image:
 * at d = 1, 2, ..., pof2/2 partners swap the d segments each holds, so after log2(pof2) steps
 * every rank holds every segment; same cost, no arithmetic.
 * Trace, 4 ranks, segments A B C D (capital = fully reduced):
 *   halving d=2: r0,r1 keep ab, send cd to r2,r3 (and get theirs); r2,r3 keep cd
 *   halving d=1: r0 keeps a, r1 b, r2 c, r3 d           -> r0:A r1:B r2:C r3:D
 *   doubling d=1: r0<->r1 swap A,B; r2<->r3 swap C,D     -> r0,r1:AB r2,r3:CD
 *   doubling d=2: r0<->r2, r1<->r3 swap halves           -> everyone ABCD
 * Segments may be empty (count < pof2): both partners see the same empty range and skip it.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "coll_internal.h"

int so__xchg(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *rbuf,
             size_t rbytes) {
    if (sbytes && rbytes) {
        return so__sendrecv(c, to, sbuf, sbytes, from, rbuf, rbytes);
    }
    if (sbytes) {
        return so__send(c, to, sbuf, sbytes);
    }
    if (rbytes) {
        return so__recv(c, from, rbuf, rbytes);
    }
    return SO_OK;
}

int so__xchg_reduce(so_comm *c, int to, const void *sbuf, size_t sbytes, int from, void *dst,
                    const void *local, size_t count, so_dtype dt, so_op op) {
    if (sbytes && count) {
        return so__sendrecv_reduce(c, to, sbuf, sbytes, from, dst, local, count, dt, op);
    }
    if (sbytes) {
        return so__send(c, to, sbuf, sbytes);
    }
    if (count) {
        return so__recv_reduce(c, from, dst, local, count, dt, op);
    }
    return SO_OK;
}

void *so__scratch(so_comm *c, int index, size_t bytes) {
    void *p = so__comm_scratch(c, index, bytes ? bytes : 1);
    if (!p) {
        so__fail(SO_ENOMEM, "collective scratch buffer %d of %zu bytes could not be allocated",
                 index, bytes);
    }
    return p;
}

size_t so__coll_chunk_bytes(void) {
    static _Atomic size_t cached; /* every thread computes the same value */
    size_t v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!v) {
        if (so_parse_size(so_param_str("SO_COLL_CHUNK_BYTES"), &v) < 0 || v < 64) {
            v = 1u << 20;
        }
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

/* The tcp ring chunk (SO_COLL_TCP_CHUNK_BYTES), read once. */
static size_t tcp_chunk_bytes(void) {
    static _Atomic size_t cached;
    size_t v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!v) {
        if (so_parse_size(so_param_str("SO_COLL_TCP_CHUNK_BYTES"), &v) < 0 || v < 64) {
            v = 256u << 10;
        }
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

size_t so__coll_ring_chunk_bytes(so_comm *c) {
    const char *set = getenv("SO_COLL_CHUNK_BYTES");
    if (set && *set) {
        return so__coll_chunk_bytes();
    }
    /* Every rank must cut the same chunks, so the test is group-wide: in a group that spans
     * hosts every rank has some tcp peer (or none, under mpi), on one host all or none do. */
    int k = so_comm_size(c);
    for (int p = 0; p < k; p++) {
        if (strcmp(so_comm_transport_name(c, p), "tcp") == 0) {
            return tcp_chunk_bytes();
        }
    }
    return so__coll_chunk_bytes();
}

int so__halving_core(so_comm *c, int vrank, int pof2, int rem, const size_t *seg, const void *in,
                     void *w, so_dtype dt, so_op op) {
    size_t es = so_dtype_size(dt);
    const char *src = in;
    char *wb = w;
    int glo = 0, ghi = pof2;
    for (int d = pof2 / 2; d >= 1; d /= 2) {
        int peer = so__vreal(vrank ^ d, rem);
        int mid = glo + d;
        int klo, khi, slo, shi; /* kept and sent segment ranges */
        if (vrank < mid) {
            klo = glo, khi = mid, slo = mid, shi = ghi;
        } else {
            klo = mid, khi = ghi, slo = glo, shi = mid;
        }
        size_t koff = seg[klo], kn = seg[khi] - seg[klo];
        size_t soff = seg[slo], sn = seg[shi] - seg[slo];
        const void *local = (src == wb) ? NULL : src + koff * es;
        SO_TRY(so__xchg_reduce(c, peer, src + soff * es, sn * es, peer, wb + koff * es, local, kn,
                               dt, op));
        src = wb;
        glo = klo, ghi = khi;
    }
    if (src != wb) { /* pof2 == 1: nothing to reduce, the input is the result */
        memmove(wb + seg[vrank] * es, src + seg[vrank] * es, (seg[vrank + 1] - seg[vrank]) * es);
    }
    return SO_OK;
}

int so__doubling_core(so_comm *c, int vrank, int pof2, int rem, const size_t *seg, void *w,
                      size_t es) {
    char *wb = w;
    for (int d = 1; d < pof2; d *= 2) {
        int pv = vrank ^ d;
        int peer = so__vreal(pv, rem);
        int mlo = vrank & ~(d - 1), plo = pv & ~(d - 1);
        size_t moff = seg[mlo], mn = seg[mlo + d] - moff;
        size_t poff = seg[plo], pn = seg[plo + d] - poff;
        SO_TRY(so__xchg(c, peer, wb + moff * es, mn * es, peer, wb + poff * es, pn * es));
    }
    return SO_OK;
}
