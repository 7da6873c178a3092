/*
 * LayerNorm and RMSNorm over the last dimension, forward and backward (llm.c's layernorm, plus
 * RMSNorm as in LLaMA). Forward keeps the per-row mean and 1/std for backward. Backward of
 * LayerNorm with n = (x - mean) rstd and g = w * dout:
 *   dx += rstd (g - mean(g) - n mean(g n)),  dw += dout n,  db += dout,
 * and of RMSNorm with n = x rstd:  dx += rstd (g - n mean(g n)),  dw += dout n.
 * Rows are reduced with OpenMP simd reductions (vectorised, fixed order per build).
 * Cost: ~8 flops per element forward, ~12 backward; one pass over the row each way. eps = 1e-5.
 */
#include <math.h>

#include "scaleout/ml.h"

#define EPS 1e-5f

/* out, inp (N,C); mean, rstd (N) or NULL; weight, bias (C) (bias may be NULL). */
void so_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) {
            s += x[c];
        }
        float m = s / (float)C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) {
            float d = x[c] - m;
            v += d * d;
        }
        float r = 1.0f / sqrtf(v / (float)C + EPS);
        if (bias) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                y[c] = (x[c] - m) * r * weight[c] + bias[c];
            }
        } else {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                y[c] = (x[c] - m) * r * weight[c];
            }
        }
        if (mean) {
            mean[i] = m;
        }
        if (rstd) {
            rstd[i] = r;
        }
    }
}

/* dinp, dout, inp (N,C); dweight, dbias, weight (C); mean, rstd (N). dweight/dbias may be NULL. */
void so_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        const float *dy = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], r = rstd[i];
        float sg = 0.0f, sgn = 0.0f;
#pragma omp simd reduction(+ : sg, sgn)
        for (int c = 0; c < C; c++) {
            float n = (x[c] - m) * r;
            float g = weight[c] * dy[c];
            sg += g;
            sgn += g * n;
        }
        sg /= (float)C;
        sgn /= (float)C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            float n = (x[c] - m) * r;
            dx[c] += r * (weight[c] * dy[c] - sg - n * sgn);
        }
        if (dweight) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                dweight[c] += dy[c] * (x[c] - m) * r;
            }
        }
        if (dbias) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                dbias[c] += dy[c];
            }
        }
    }
}

/* out, inp (N,C); rstd (N) or NULL; weight (C). */
void so_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                        int C) {
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) {
            s += x[c] * x[c];
        }
        float r = 1.0f / sqrtf(s / (float)C + EPS);
#pragma omp simd
        for (int c = 0; c < C; c++) {
            y[c] = x[c] * r * weight[c];
        }
        if (rstd) {
            rstd[i] = r;
        }
    }
}

/* dinp, dout, inp (N,C); dweight (C) or NULL, weight (C); rstd (N). */
void so_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const float *rstd, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        const float *dy = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float r = rstd[i];
        float sgn = 0.0f;
#pragma omp simd reduction(+ : sgn)
        for (int c = 0; c < C; c++) {
            sgn += weight[c] * dy[c] * x[c] * r;
        }
        sgn /= (float)C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            dx[c] += r * (weight[c] * dy[c] - x[c] * r * sgn);
        }
        if (dweight) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                dweight[c] += dy[c] * x[c] * r;
            }
        }
    }
}
