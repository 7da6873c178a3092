/*
 * so_comm_split: every rank sends (color, key, rank) to every other rank (an all-gather built
 * from point-to-point transfers inside an SO__KIND_INTERNAL collective, so a rank that calls
 * something else is caught as a desync), then the ranks of each color sort themselves by
 * (key, old rank) and create a new group under the prefix "<parent>/s<n>.<color>", where n counts
 * the parent's splits (the same on every rank because split is collective).
 * Cost: 2(k-1) messages of 12 bytes per rank, then a group creation over the store.
 */
#include <string.h>

#include "comm_priv.h"

int so_comm_split(so_comm *c, int color, int key, so_comm **out) {
    *out = NULL;
    int k = c->size;
    int32_t mine[3] = {color, key, c->rank};
    int32_t *all = malloc((size_t)k * sizeof mine);
    so__xfer *xs = calloc((size_t)(2 * k), sizeof *xs);
    if (!all || !xs) {
        free(all);
        free(xs);
        return so__fail(SO_ENOMEM, "so_comm_split: out of memory");
    }
    memcpy(all + 3 * c->rank, mine, sizeof mine);
    int n = 0;
    for (int r = 0; r < k; r++) {
        if (r != c->rank) {
            xs[n++] = (so__xfer){.peer = r, .is_send = 1, .buf = mine, .len = sizeof mine};
            xs[n++] = (so__xfer){.peer = r, .buf = all + 3 * r, .len = sizeof mine};
        }
    }
    so__coll_sig sig = {.kind = SO__KIND_INTERNAL, .dtype = SO_I32, .root = -1, .count = 3};
    int rc = so__coll_begin(c, &sig);
    if (rc == SO_OK) {
        rc = so__coll_end(c, so__xfer_all(c, xs, n));
    }
    free(xs);
    uint64_t nsplit = ++c->nsplit;
    if (rc < 0 || color < 0) {
        free(all);
        return rc;
    }
    /* Members of my color in (key, rank) order: insertion sort, k is small. */
    int *mem = malloc((size_t)k * sizeof *mem), m = 0, me = -1;
    if (!mem) {
        free(all);
        return so__fail(SO_ENOMEM, "so_comm_split: out of memory");
    }
    for (int r = 0; r < k; r++) {
        if (all[3 * r] != color) {
            continue;
        }
        int j = m++;
        while (j > 0 && (all[3 * mem[j - 1] + 1] > all[3 * r + 1] ||
                         (all[3 * mem[j - 1] + 1] == all[3 * r + 1] && mem[j - 1] > r))) {
            mem[j] = mem[j - 1];
            j--;
        }
        mem[j] = r;
    }
    for (int i = 0; i < m; i++) {
        if (mem[i] == c->rank) {
            me = i;
        }
    }
    free(all);
    free(mem);
    char prefix[240];
    snprintf(prefix, sizeof prefix, "%s/s%llu.%d", c->prefix, (unsigned long long)nsplit, color);
    return so__comm_create_prefixed(me, m, c->transport, c->timeout_ms, c->store, prefix, out);
}
