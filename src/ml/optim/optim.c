/*
 * The optimizer object: configuration defaults, segment validation, the state arenas and the
 * dispatch of a step to the update rule of its kind (sgd.c, adam.c, adagrad.c).
 *
 * Segments are copied, sorted by offset, checked for range and overlap, and the gaps between them
 * are filled with plain segments, so every rule walks one exact cover of [0, n). State buffers are
 * allocated once here (64-byte aligned, zeroed or set to Adagrad's initial accumulator).
 * Cost of create: O(n + s log s) for s segments. Limits: at most two state buffers per kind.
 */
#include <math.h>
#include <string.h>

#include "optim/optim_internal.h"

static const char *const kind_names[SO_OPTIM_KIND_COUNT] = {
    "sgd", "adam", "adamw", "adagrad", "adagrad-row", "lars", "lamb",
};

const char *so_optim_kind_name(so_optim_kind kind) {
    return (unsigned)kind < SO_OPTIM_KIND_COUNT ? kind_names[kind] : "?";
}

int so_optim_kind_parse(const char *s, so_optim_kind *out) {
    for (int k = 0; k < SO_OPTIM_KIND_COUNT; k++) {
        if (s && !strcmp(s, kind_names[k])) {
            *out = (so_optim_kind)k;
            return SO_OK;
        }
    }
    return so__fail(SO_EINVAL,
                    "unknown optimizer '%s' (expected sgd, adam, adamw, adagrad, "
                    "adagrad-row, lars or lamb)",
                    s ? s : "");
}

void so_optim_config_default(so_optim_kind kind, so_optim_config *c) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->trust_coef = 0.001f;
    switch (kind) {
    case SO_OPTIM_SGD:
        c->lr = 0.01f;
        break;
    case SO_OPTIM_ADAM:
        c->lr = 1e-3f;
        break;
    case SO_OPTIM_ADAMW:
        c->lr = 1e-3f;
        c->weight_decay = 0.01f;
        break;
    case SO_OPTIM_ADAGRAD:
    case SO_OPTIM_ADAGRAD_ROW:
        c->lr = 0.01f;
        c->eps = 1e-10f;
        break;
    case SO_OPTIM_LARS:
        c->lr = 0.1f;
        c->momentum = 0.9f;
        break;
    case SO_OPTIM_LAMB:
        c->lr = 1e-3f;
        c->weight_decay = 0.01f;
        c->eps = 1e-6f;
        break;
    default:
        break;
    }
}

static int check_config(const so_optim_config *c) {
    if ((unsigned)c->kind >= SO_OPTIM_KIND_COUNT) {
        return so__fail(SO_EINVAL, "optimizer kind %d is not one of so_optim_kind", (int)c->kind);
    }
    if (!(c->lr >= 0) || !(c->weight_decay >= 0) || !(c->eps >= 0)) {
        return so__fail(SO_EINVAL,
                        "optimizer lr, weight_decay and eps must be >= 0 (got %g, %g, %g)", c->lr,
                        c->weight_decay, c->eps);
    }
    if (!(c->momentum >= 0 && c->momentum < 1) || !(c->beta1 >= 0 && c->beta1 < 1) ||
        !(c->beta2 >= 0 && c->beta2 < 1)) {
        return so__fail(SO_EINVAL, "momentum and betas must be in [0, 1) (got %g, %g, %g)",
                        c->momentum, c->beta1, c->beta2);
    }
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
        return so__fail(SO_EINVAL, "Nesterov momentum needs momentum > 0 and dampening 0");
    }
    return SO_OK;
}

static int cmp_seg(const void *a, const void *b) {
    const so_optim_segment *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Copies, sorts and validates segs, then fills gaps so the result covers [0, n). */
static int build_segments(so_optim *o, size_t n, const so_optim_segment *segs, size_t nsegs) {
    so_optim_segment *tmp = calloc(nsegs ? nsegs : 1, sizeof *tmp);
    so_optim_segment *cover = calloc(2 * nsegs + 1, sizeof *cover);
    if (!tmp || !cover) {
        free(tmp);
        free(cover);
        return so__fail(SO_ENOMEM, "no memory for %zu optimizer segments", nsegs);
    }
    if (nsegs) {
        memcpy(tmp, segs, nsegs * sizeof *tmp);
    }
    qsort(tmp, nsegs, sizeof *tmp, cmp_seg);
    size_t at = 0, k = 0;
    for (size_t i = 0; i < nsegs; i++) {
        const so_optim_segment *s = &tmp[i];
        const size_t off = s->offset, numel = s->numel, row = s->row_len;
        int rc = SO_OK;
        if (off > n || numel > n - off) {
            rc = so__fail(SO_EINVAL, "optimizer segment [%zu, %zu) is outside the %zu parameters",
                          off, off + numel, n);
        } else if (off < at) {
            rc = so__fail(SO_EINVAL, "optimizer segments overlap at element %zu", off);
        } else if (row && numel % row) {
            rc = so__fail(SO_EINVAL,
                          "optimizer segment of %zu elements is not a whole number of "
                          "rows of %zu",
                          numel, row);
        }
        if (rc < 0) {
            free(tmp);
            free(cover);
            return rc;
        }
        if (s->offset > at) {
            cover[k++] = (so_optim_segment){.offset = at, .numel = s->offset - at};
        }
        if (s->numel) {
            cover[k++] = *s;
        }
        at = s->offset + s->numel;
    }
    if (at < n || k == 0) {
        cover[k++] = (so_optim_segment){.offset = at, .numel = n - at};
    }
    free(tmp);
    o->segs = cover;
    o->nsegs = k;
    o->nrows = 0;
    for (size_t i = 0; i < k; i++) {
        o->nrows += so__seg_rows(&cover[i]);
    }
    return SO_OK;
}

static int add_state(so_optim *o, const char *name, size_t len) {
    float *p = so_malloc_aligned((len ? len : 1) * sizeof(float));
    if (!p) {
        return so__fail(SO_ENOMEM, "no memory for optimizer state '%s' (%zu floats)", name, len);
    }
    o->state_name[o->nstate] = name;
    o->state[o->nstate] = p;
    o->state_len[o->nstate] = len;
    o->nstate++;
    return SO_OK;
}

void so_optim_reset(so_optim *o) {
    o->steps = 0;
    for (int i = 0; i < o->nstate; i++) {
        int adagrad = o->c.kind == SO_OPTIM_ADAGRAD || o->c.kind == SO_OPTIM_ADAGRAD_ROW;
        for (size_t j = 0; j < o->state_len[i]; j++) {
            o->state[i][j] = adagrad ? o->c.initial_accumulator : 0.0f;
        }
    }
}

int so_optim_create(const so_optim_config *c, size_t n, const so_optim_segment *segs, size_t nsegs,
                    so_optim **out) {
    *out = NULL;
    SO_TRY(check_config(c));
    if (nsegs && !segs) {
        return so__fail(SO_EINVAL, "%zu optimizer segments but a NULL array", nsegs);
    }
    so_optim *o = calloc(1, sizeof *o);
    if (!o) {
        return so__fail(SO_ENOMEM, "no memory for an optimizer");
    }
    o->c = *c;
    o->n = n;
    int rc = build_segments(o, n, segs, nsegs);
    if (rc < 0) {
        free(o);
        return rc;
    }
    switch (c->kind) {
    case SO_OPTIM_SGD:
    case SO_OPTIM_LARS:
        if (c->momentum > 0) {
            rc = add_state(o, "momentum_buffer", n);
        }
        break;
    case SO_OPTIM_ADAM:
    case SO_OPTIM_ADAMW:
    case SO_OPTIM_LAMB:
        rc = add_state(o, "exp_avg", n);
        if (rc == SO_OK) {
            rc = add_state(o, "exp_avg_sq", n);
        }
        break;
    case SO_OPTIM_ADAGRAD:
        rc = add_state(o, "sum", n);
        break;
    case SO_OPTIM_ADAGRAD_ROW:
        rc = add_state(o, "row_sum", o->nrows);
        break;
    default:
        break;
    }
    if (rc < 0) {
        so_optim_destroy(o);
        return rc;
    }
    so_optim_reset(o);
    *out = o;
    return SO_OK;
}

void so_optim_destroy(so_optim *o) {
    if (!o) {
        return;
    }
    for (int i = 0; i < o->nstate; i++) {
        so_free_aligned(o->state[i]);
    }
    free(o->segs);
    free(o);
}

int so_optim_step(so_optim *o, float *params, const float *grads) {
    if (!o || (o->n && (!params || !grads))) {
        return so__fail(SO_EINVAL, "so_optim_step needs an optimizer, parameters and gradients");
    }
    switch (o->c.kind) {
    case SO_OPTIM_SGD:
        so__optim_sgd(o, params, grads);
        break;
    case SO_OPTIM_LARS:
        so__optim_lars(o, params, grads);
        break;
    case SO_OPTIM_ADAM:
    case SO_OPTIM_ADAMW:
        so__optim_adam(o, params, grads);
        break;
    case SO_OPTIM_LAMB:
        so__optim_lamb(o, params, grads);
        break;
    case SO_OPTIM_ADAGRAD:
        so__optim_adagrad(o, params, grads);
        break;
    case SO_OPTIM_ADAGRAD_ROW:
        so__optim_adagrad_row(o, params, grads);
        break;
    default:
        return so__fail(SO_ESTATE, "optimizer has an unknown kind");
    }
    o->steps++;
    return SO_OK;
}

void so_optim_set_lr(so_optim *o, float lr) {
    o->c.lr = lr;
}

float so_optim_lr(const so_optim *o) {
    return o->c.lr;
}

const so_optim_config *so_optim_get_config(const so_optim *o) {
    return &o->c;
}

int64_t so_optim_steps(const so_optim *o) {
    return o->steps;
}

void so_optim_set_steps(so_optim *o, int64_t steps) {
    o->steps = steps;
}

int so_optim_state_count(const so_optim *o) {
    return o->nstate;
}

int so_optim_state(so_optim *o, int i, const char **name, float **data, size_t *n) {
    if (i < 0 || i >= o->nstate) {
        return so__fail(SO_ERANGE, "optimizer state index %d is not in [0, %d)", i, o->nstate);
    }
    *name = o->state_name[i];
    *data = o->state[i];
    *n = o->state_len[i];
    return SO_OK;
}
