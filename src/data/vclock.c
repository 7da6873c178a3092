/*
 * Vector clocks and grow-only counters (book 2.5.3): how an AP system notices that two sides of
 * a partition wrote concurrently and merges their updates without losing any.
 *
 * A vector clock counts the events seen from each node; merging takes the elementwise max, and
 * two clocks are ordered only if one is <= the other everywhere (else concurrent). A grow-only
 * counter keeps each node's own increments, merges by max and reads as base + sum, so concurrent
 * increments on both sides all survive the merge. Cost: O(n) per operation for n nodes; fixed
 * storage of SO_VCLOCK_MAX (64) entries. Limits: at most 64 nodes.
 */
#include <stdio.h>
#include <string.h>

#include "scaleout/dist.h"

static int vc_clamp(int n) {
    return n < 1 ? 1 : n > SO_VCLOCK_MAX ? SO_VCLOCK_MAX : n;
}

void so_vclock_init(so_vclock *v, int n) {
    memset(v, 0, sizeof *v);
    v->n = vc_clamp(n);
}

void so_vclock_tick(so_vclock *v, int node) {
    if (node >= 0 && node < v->n) {
        v->c[node]++;
    }
}

void so_vclock_merge(so_vclock *dst, const so_vclock *src) {
    int n = dst->n > src->n ? dst->n : src->n;
    for (int i = 0; i < n; i++) {
        dst->c[i] = dst->c[i] > src->c[i] ? dst->c[i] : src->c[i];
    }
    dst->n = n;
}

so_vclock_order so_vclock_compare(const so_vclock *a, const so_vclock *b) {
    int n = a->n > b->n ? a->n : b->n, less = 0, more = 0;
    for (int i = 0; i < n; i++) {
        less |= a->c[i] < b->c[i];
        more |= a->c[i] > b->c[i];
    }
    return less && more ? SO_VC_CONCURRENT : less ? SO_VC_BEFORE : more ? SO_VC_AFTER : SO_VC_EQUAL;
}

char *so_vclock_format(const so_vclock *v, char *buf, size_t cap) {
    size_t off = 0;
    if (cap == 0) {
        return buf;
    }
    buf[0] = '\0';
    off += (size_t)snprintf(buf, cap, "{");
    for (int i = 0; i < v->n && off < cap; i++) {
        off += (size_t)snprintf(buf + off, cap - off, "%s%d:%llu", i ? ", " : "", i,
                                (unsigned long long)v->c[i]);
    }
    if (off < cap) {
        snprintf(buf + off, cap - off, "}");
    }
    return buf;
}

void so_gcounter_init(so_gcounter *g, int n, int64_t base) {
    memset(g, 0, sizeof *g);
    g->n = vc_clamp(n);
    g->base = base;
}

void so_gcounter_add(so_gcounter *g, int node, uint64_t delta) {
    if (node >= 0 && node < g->n) {
        g->inc[node] += delta;
    }
}

void so_gcounter_merge(so_gcounter *dst, const so_gcounter *src) {
    int n = dst->n > src->n ? dst->n : src->n;
    for (int i = 0; i < n; i++) {
        dst->inc[i] = dst->inc[i] > src->inc[i] ? dst->inc[i] : src->inc[i];
    }
    dst->n = n;
}

int64_t so_gcounter_value(const so_gcounter *g) {
    int64_t v = g->base;
    for (int i = 0; i < g->n; i++) {
        v += (int64_t)g->inc[i];
    }
    return v;
}
