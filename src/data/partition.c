/*
 * Partitioners of chapter 2: contiguous shards (2.1.2), stable hash mod M and a consistent-hash
 * ring with virtual nodes (2.3.1), with the book's md5 placement so its exact numbers reproduce.
 *
 * The ring keeps its points sorted by (position, node); the owner of a position is found by a
 * binary search for the first point strictly greater (bisect_right), wrapping to the first point.
 * Adding a node inserts its vnodes points and re-sorts. Cost: O(P log P) per add/remove for P
 * points, O(log P) per lookup, 16 bytes per point. Limits: node ids 0 .. 2^31-1, md5 labels
 * `node-{n}-vn-{v}` (Python's f-string), positions modulo 2^32.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/core.h"
#include "scaleout/dist.h"

void so_part_contiguous(uint64_t n, int world, int rank, uint64_t *start, uint64_t *count) {
    uint64_t w = world > 0 ? (uint64_t)world : 1, r = (uint64_t)rank;
    uint64_t base = n / w, extra = n % w;
    *start = r * base + (r < extra ? r : extra);
    *count = base + (r < extra ? 1 : 0);
}

uint64_t so_part_md5_mod(const char *key, uint64_t m) {
    uint8_t d[16];
    so_md5(key, strlen(key), d);
    if (m == 0) {
        return 0;
    }
    /* Horner over the big-endian bytes; r < m <= 2^64 - 1 so r * 256 + b fits in 128 bits. */
    __extension__ typedef unsigned __int128 u128;
    u128 r = 0;
    for (int i = 0; i < 16; i++) {
        r = ((r << 8) | d[i]) % m;
    }
    return (uint64_t)r;
}

typedef struct ring_point {
    uint32_t pos;
    int node;
} ring_point;

struct so_hash_ring {
    int vnodes;
    ring_point *pts;
    size_t n, cap;
    int nodes;
};

static int ring_cmp(const void *a, const void *b) {
    const ring_point *x = a, *y = b;
    if (x->pos != y->pos) {
        return x->pos < y->pos ? -1 : 1;
    }
    return (x->node > y->node) - (x->node < y->node);
}

int so_hash_ring_create(int vnodes, so_hash_ring **out) {
    *out = NULL;
    if (vnodes < 1) {
        return so__fail(SO_EINVAL, "a hash ring needs at least one virtual node per node, got %d",
                        vnodes);
    }
    so_hash_ring *r = calloc(1, sizeof *r);
    if (!r) {
        return so__fail(SO_ENOMEM, "out of memory for a hash ring");
    }
    r->vnodes = vnodes;
    *out = r;
    return SO_OK;
}

void so_hash_ring_destroy(so_hash_ring *r) {
    if (r) {
        free(r->pts);
        free(r);
    }
}

static int ring_has(const so_hash_ring *r, int node) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->pts[i].node == node) {
            return 1;
        }
    }
    return 0;
}

int so_hash_ring_add(so_hash_ring *r, int node) {
    if (node < 0 || ring_has(r, node)) {
        return so__fail(SO_EINVAL, "node %d is negative or already on the ring", node);
    }
    if (r->n + (size_t)r->vnodes > r->cap) {
        size_t cap = (r->cap ? r->cap * 2 : 256) + (size_t)r->vnodes;
        ring_point *p = realloc(r->pts, cap * sizeof *p);
        if (!p) {
            return so__fail(SO_ENOMEM, "out of memory growing the hash ring");
        }
        r->pts = p, r->cap = cap;
    }
    char label[64];
    for (int v = 0; v < r->vnodes; v++) {
        snprintf(label, sizeof label, "node-%d-vn-%d", node, v);
        r->pts[r->n++] = (ring_point){(uint32_t)so_part_md5_mod(label, (uint64_t)1 << 32), node};
    }
    qsort(r->pts, r->n, sizeof *r->pts, ring_cmp);
    r->nodes++;
    return SO_OK;
}

int so_hash_ring_remove(so_hash_ring *r, int node) {
    if (!ring_has(r, node)) {
        return so__fail(SO_EINVAL, "node %d is not on the ring", node);
    }
    size_t j = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->pts[i].node != node) {
            r->pts[j++] = r->pts[i];
        }
    }
    r->n = j;
    r->nodes--;
    return SO_OK;
}

int so_hash_ring_owner(const so_hash_ring *r, uint64_t pos) {
    if (r->n == 0) {
        return -1;
    }
    size_t lo = 0, hi = r->n; /* first point with pos > p */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint64_t)r->pts[mid].pos <= pos) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return r->pts[lo % r->n].node;
}

int so_hash_ring_nodes(const so_hash_ring *r) {
    return r->nodes;
}
