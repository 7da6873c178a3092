/*
 * SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD), and LARS
 * (You, Gitman, Ginsburg 2017: "Large Batch Training of Convolutional Networks").
 *
 * SGD per element: d = g + wd*w; on the first step buf = d, later buf = m*buf + (1-damp)*d;
 * d = Nesterov ? d + m*buf : buf; w -= lr*d. All scalars are float, as in PyTorch's float kernels.
 * LARS per segment: trust = eta*|w| / (|g| + wd*|w|) (1 if either norm is 0, or for no-decay
 * segments, which LARS implementations exclude from adaptation); then per element
 * v = m*v + lr*trust*(g + wd*w); w -= v (plain w -= lr*trust*(g + wd*w) with momentum 0).
 * Cost: one pass over n floats (LARS: plus a norm pass). Norms accumulate in double.
 */
#include <math.h>

#include "optim/optim_internal.h"

void so__optim_sgd(so_optim *o, float *w, const float *g) {
    const float lr = o->c.lr, m = o->c.momentum, damp1 = 1.0f - o->c.dampening;
    float *buf = o->nstate ? o->state[0] : NULL;
    const int first = o->steps == 0;
    for (size_t s = 0; s < o->nsegs; s++) {
        const so_optim_segment *seg = &o->segs[s];
        const float wd = seg->no_decay ? 0.0f : o->c.weight_decay;
        for (size_t i = seg->offset; i < seg->offset + seg->numel; i++) {
            float d = wd != 0.0f ? g[i] + wd * w[i] : g[i];
            if (buf) {
                buf[i] = first ? d : buf[i] * m + damp1 * d;
                d = o->c.nesterov ? d + m * buf[i] : buf[i];
            }
            w[i] = w[i] + (-lr) * d;
        }
    }
}

void so__optim_lars(so_optim *o, float *w, const float *g) {
    const float lr = o->c.lr, m = o->c.momentum, eta = o->c.trust_coef;
    float *buf = o->nstate ? o->state[0] : NULL;
    for (size_t s = 0; s < o->nsegs; s++) {
        const so_optim_segment *seg = &o->segs[s];
        const float wd = seg->no_decay ? 0.0f : o->c.weight_decay;
        double wn = 0, gn = 0;
        for (size_t i = seg->offset; i < seg->offset + seg->numel; i++) {
            wn += (double)w[i] * w[i];
            gn += (double)g[i] * g[i];
        }
        wn = sqrt(wn);
        gn = sqrt(gn);
        double trust = 1.0;
        if (!seg->no_decay && wn > 0 && gn > 0) {
            trust = eta * wn / (gn + wd * wn + o->c.eps);
        }
        const float local_lr = (float)(lr * trust);
        for (size_t i = seg->offset; i < seg->offset + seg->numel; i++) {
            float d = g[i] + wd * w[i];
            if (buf) {
                buf[i] = m * buf[i] + local_lr * d;
                w[i] -= buf[i];
            } else {
                w[i] -= local_lr * d;
            }
        }
    }
}
