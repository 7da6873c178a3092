/*
 * Learning-rate schedules (linear warmup, cosine decay, the linear scaling rule) and global-norm
 * gradient clipping.
 *
 * Warmup as nanoGPT and Goyal et al.: lr*(step+1)/warmup for step < warmup. Cosine (Loshchilov &
 * Hutter 2017, no restarts): min + (lr-min)*(1+cos(pi*p))/2 with p the fraction of decay done.
 * Clipping matches torch.nn.utils.clip_grad_norm_ (coefficient max/(norm+1e-6), applied only when
 * below 1). Cost: O(1) per schedule lookup, two passes over n floats to clip.
 */
#include <math.h>

#include "scaleout/optim.h"

float so_lr_at(const so_lr_schedule *s, int64_t step) {
    if (step < 0) {
        step = 0;
    }
    if (step < s->warmup) {
        return s->lr * (float)(step + 1) / (float)s->warmup;
    }
    if (s->decay_steps <= 0) {
        return s->lr;
    }
    const int64_t done = step - s->warmup;
    if (done >= s->decay_steps) {
        return s->min_lr;
    }
    const double p = (double)done / (double)s->decay_steps;
    return (float)(s->min_lr + 0.5 * (1.0 + cos(M_PI * p)) * (s->lr - s->min_lr));
}

float so_lr_scale_linear(float base_lr, int64_t base_batch, int64_t batch) {
    if (base_batch <= 0) {
        return base_lr;
    }
    return (float)((double)base_lr * (double)batch / (double)base_batch);
}

double so_grad_norm(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)g[i] * g[i];
    }
    return sqrt(s);
}

double so_clip_grad_norm(float *g, size_t n, double max_norm) {
    const double norm = so_grad_norm(g, n);
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        for (size_t i = 0; i < n; i++) {
            g[i] *= c;
        }
    }
    return norm;
}
