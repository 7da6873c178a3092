/*
 * The parameter registry shared by every model: a list of named views over one flat parameter
 * array and one flat gradient array (see so_param_view in scaleout/ml.h), and the deterministic
 * initialisers. Views tile the arrays in order, each padded to 16 floats so rows start aligned.
 * Cost: O(number of tensors) to build, O(n) to zero gradients.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_internal.h"

int so__pb_add(so__param_builder *pb, const char *name, int64_t d0, int64_t d1, int no_decay,
               size_t *off) {
    if (pb->n == pb->cap) {
        int cap = pb->cap ? 2 * pb->cap : 32;
        so_param_view *v = realloc(pb->views, (size_t)cap * sizeof *v);
        if (!v) {
            return so__fail(SO_ENOMEM, "no memory for %d parameter views", cap);
        }
        pb->views = v;
        pb->cap = cap;
    }
    so_param_view *v = &pb->views[pb->n++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->shape[0] = d0;
    v->ndim = 1;
    v->numel = (size_t)d0;
    if (d1 > 0) {
        v->shape[1] = d1;
        v->ndim = 2;
        v->numel *= (size_t)d1;
    }
    v->no_decay = no_decay;
    v->offset = pb->total;
    pb->total += (v->numel + 15) & ~(size_t)15;
    if (off) {
        *off = v->offset;
    }
    return SO_OK;
}

void so__pb_abandon(so__param_builder *pb) {
    free(pb->views);
    memset(pb, 0, sizeof *pb);
}

int so__pb_finish(so__param_builder *pb, so_param_set *ps) {
    memset(ps, 0, sizeof *ps);
    size_t bytes = (pb->total ? pb->total : 16) * sizeof(float);
    ps->params = so_malloc_aligned(bytes);
    ps->grads = so_malloc_aligned(bytes);
    if (!ps->params || !ps->grads) {
        so_free_aligned(ps->params);
        so_free_aligned(ps->grads);
        so__pb_abandon(pb);
        return so__fail(SO_ENOMEM, "no memory for %zu parameters", pb->total);
    }
    memset(ps->params, 0, bytes);
    memset(ps->grads, 0, bytes);
    ps->n = pb->total;
    for (int i = 0; i < pb->n; i++) {
        ps->count += pb->views[i].numel;
    }
    ps->views = pb->views;
    ps->nviews = pb->n;
    memset(pb, 0, sizeof *pb);
    return SO_OK;
}

void so__param_set_free(so_param_set *ps) {
    so_free_aligned(ps->params);
    so_free_aligned(ps->grads);
    free((void *)ps->views);
    memset(ps, 0, sizeof *ps);
}

const so_param_view *so_param_find(const so_param_set *ps, const char *name) {
    for (int i = 0; i < ps->nviews; i++) {
        if (!strcmp(ps->views[i].name, name)) {
            return &ps->views[i];
        }
    }
    return NULL;
}

void so_param_zero_grad(const so_param_set *ps) {
    memset(ps->grads, 0, ps->n * sizeof(float));
}

void so__fill_normal(uint64_t *s, float *x, size_t n, float std) {
    for (size_t i = 0; i < n; i += 2) {
        double u1 = so__sm64_unit(s), u2 = so__sm64_unit(s);
        double r = sqrt(-2.0 * log(1.0 - u1));
        x[i] = (float)(std * r * cos(2.0 * M_PI * u2));
        if (i + 1 < n) {
            x[i + 1] = (float)(std * r * sin(2.0 * M_PI * u2));
        }
    }
}

void so__fill_uniform(uint64_t *s, float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)((2.0 * so__sm64_unit(s) - 1.0) * a);
    }
}
