/* Internal layout of so_optim, shared by the update rules in this folder. */
#ifndef SO_OPTIM_INTERNAL_H
#define SO_OPTIM_INTERNAL_H

#include "scaleout/optim.h"

enum { SO__OPTIM_MAX_STATE = 2 };

struct so_optim {
    so_optim_config c;
    size_t n;
    so_optim_segment *segs; /* sorted, covering [0, n) exactly */
    size_t nsegs;
    size_t nrows; /* row-wise Adagrad: total rows over all segments */
    int64_t steps;
    int nstate;
    const char *state_name[SO__OPTIM_MAX_STATE];
    float *state[SO__OPTIM_MAX_STATE];
    size_t state_len[SO__OPTIM_MAX_STATE];
};

/* Rows of a segment for row-wise Adagrad. */
static inline size_t so__seg_rows(const so_optim_segment *s) {
    return s->row_len ? s->numel / s->row_len : 1;
}

void so__optim_sgd(so_optim *o, float *w, const float *g);
void so__optim_lars(so_optim *o, float *w, const float *g);
void so__optim_adam(so_optim *o, float *w, const float *g);
void so__optim_lamb(so_optim *o, float *w, const float *g);
void so__optim_adagrad(so_optim *o, float *w, const float *g);
void so__optim_adagrad_row(so_optim *o, float *w, const float *g);

#endif
