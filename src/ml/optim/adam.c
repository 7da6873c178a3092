/*
 * Adam and AdamW (torch.optim.Adam / AdamW, Kingma & Ba 2015; Loshchilov & Hutter 2019) and LAMB
 * (You et al. 2019: "Large Batch Optimization for Deep Learning").
 *
 * Adam per element at step t (1-based): g' = g + wd*w (Adam only); AdamW first does
 * w *= 1 - lr*wd; then m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
 * w -= (lr / (1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Bias corrections are computed in
 * double and applied as float, in the same order as PyTorch's single-tensor kernel.
 * LAMB per segment: the same moments, u = m^/(sqrt(v^)+eps) + wd*w with m^, v^ bias-corrected,
 * trust = |w|/|u| (1 if either is 0), w -= lr*trust*u. u is computed twice (norm pass, update
 * pass) instead of stored, so LAMB needs no third buffer.
 * Cost: one pass over n floats (LAMB two), two state floats per parameter.
 */
#include <math.h>

#include "optim/optim_internal.h"

void so__optim_adam(so_optim *o, float *w, const float *g) {
    const int64_t t = o->steps + 1;
    const float b1 = o->c.beta1, b2 = o->c.beta2, eps = o->c.eps;
    const float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
    const double bc1 = 1.0 - pow((double)b1, (double)t);
    const double bc2 = 1.0 - pow((double)b2, (double)t);
    const float step_size = (float)(o->c.lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const int decoupled = o->c.kind == SO_OPTIM_ADAMW;
    float *m = o->state[0], *v = o->state[1];
    for (size_t s = 0; s < o->nsegs; s++) {
        const so_optim_segment *seg = &o->segs[s];
        const float wd = seg->no_decay ? 0.0f : o->c.weight_decay;
        const float shrink = 1.0f - o->c.lr * wd;
        for (size_t i = seg->offset; i < seg->offset + seg->numel; i++) {
            float gi = g[i];
            if (decoupled) {
                w[i] *= shrink;
            } else if (wd != 0.0f) {
                gi = gi + wd * w[i];
            }
            m[i] = m[i] * b1 + one_b1 * gi;
            v[i] = v[i] * b2 + one_b2 * (gi * gi);
            const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
            w[i] = w[i] + (-step_size) * (m[i] / denom);
        }
    }
}

void so__optim_lamb(so_optim *o, float *w, const float *g) {
    const int64_t t = o->steps + 1;
    const float b1 = o->c.beta1, b2 = o->c.beta2, eps = o->c.eps;
    const float bc1 = (float)(1.0 - pow((double)b1, (double)t));
    const float bc2 = (float)(1.0 - pow((double)b2, (double)t));
    float *m = o->state[0], *v = o->state[1];
    for (size_t s = 0; s < o->nsegs; s++) {
        const so_optim_segment *seg = &o->segs[s];
        const float wd = seg->no_decay ? 0.0f : o->c.weight_decay;
        const size_t lo = seg->offset, hi = seg->offset + seg->numel;
        double wn = 0, un = 0;
        for (size_t i = lo; i < hi; i++) {
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            const float u = (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps) + wd * w[i];
            wn += (double)w[i] * w[i];
            un += (double)u * u;
        }
        wn = sqrt(wn);
        un = sqrt(un);
        const float trust = (wn > 0 && un > 0) ? (float)(wn / un) : 1.0f;
        const float rate = o->c.lr * trust;
        for (size_t i = lo; i < hi; i++) {
            const float u = (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps) + wd * w[i];
            w[i] -= rate * u;
        }
    }
}
