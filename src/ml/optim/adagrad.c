/*
 * Adagrad (Duchi, Hazan, Singer 2011) per element as torch.optim.Adagrad (lr_decay 0), and
 * row-wise Adagrad for embedding tables as in TorchRec/FBGEMM's RowWiseAdagrad.
 *
 * Per element: g' = g + wd*w; G += g'^2; w -= lr * g' / (sqrt(G) + eps).
 * Row-wise: one accumulator per row of row_len elements: G_r += mean over the row of g'^2;
 * w -= lr * g' / (sqrt(G_r) + eps). A row whose gradient is all zero (an embedding row no example
 * touched) is skipped entirely, so its accumulator and weights are unchanged, as in sparse updates.
 * Cost: one pass over n floats; state n floats (per element) or one float per row.
 */
#include <math.h>

#include "optim/optim_internal.h"

void so__optim_adagrad(so_optim *o, float *w, const float *g) {
    const float lr = o->c.lr, eps = o->c.eps;
    float *sum = o->state[0];
    for (size_t s = 0; s < o->nsegs; s++) {
        const so_optim_segment *seg = &o->segs[s];
        const float wd = seg->no_decay ? 0.0f : o->c.weight_decay;
        for (size_t i = seg->offset; i < seg->offset + seg->numel; i++) {
            const float gi = wd != 0.0f ? g[i] + wd * w[i] : g[i];
            sum[i] = sum[i] + gi * gi;
            w[i] = w[i] + (-lr) * (gi / (sqrtf(sum[i]) + eps));
        }
    }
}

void so__optim_adagrad_row(so_optim *o, float *w, const float *g) {
    const float lr = o->c.lr, eps = o->c.eps;
    float *acc = o->state[0];
    size_t r = 0;
    for (size_t s = 0; s < o->nsegs; s++) {
        const so_optim_segment *seg = &o->segs[s];
        const float wd = seg->no_decay ? 0.0f : o->c.weight_decay;
        const size_t len = seg->row_len ? seg->row_len : seg->numel;
        const size_t rows = so__seg_rows(seg);
        for (size_t k = 0; k < rows; k++, r++) {
            const size_t lo = seg->offset + k * len;
            double sq = 0;
            int touched = 0;
            for (size_t i = lo; i < lo + len; i++) {
                touched |= g[i] != 0.0f;
                const float gi = g[i] + wd * w[i];
                sq += (double)gi * gi;
            }
            if (!touched) {
                continue;
            }
            acc[r] += (float)(sq / (double)(len ? len : 1));
            const float denom = sqrtf(acc[r]) + eps;
            for (size_t i = lo; i < lo + len; i++) {
                const float gi = g[i] + wd * w[i];
                w[i] -= lr * gi / denom;
            }
        }
    }
}
