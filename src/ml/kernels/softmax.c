/*
 * Row softmax with backward, and the fused softmax + cross-entropy of a language-model head.
 * Softmax subtracts the row maximum before exponentiating (no overflow); the loss is computed as
 * log(sum e^(z - max)) + max - z[target], which stays accurate when the target's probability
 * underflows. Backward of softmax from its output p: dx += p (dy - sum(dy p)); of the fused loss:
 * dz += (p - onehot(target)) dloss. Cost: one exp per element, three passes over the row.
 */
#include <math.h>

#include "scaleout/ml.h"
#include "vmath.h"

/* Writes softmax(x) into p (C elements) and returns the log of the normaliser plus the maximum
 * (the log-sum-exp of x). */
static float softmax_row(float *p, const float *x, int C) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int c = 0; c < C; c++) {
        m = x[c] > m ? x[c] : m;
    }
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < C; c++) {
        float e = so__expf(x[c] - m);
        p[c] = e;
        s += e;
    }
    float inv = 1.0f / s;
#pragma omp simd
    for (int c = 0; c < C; c++) {
        p[c] *= inv;
    }
    return logf(s) + m;
}

/* out, inp (N,C); out may alias inp. */
void so_softmax_forward(float *out, const float *inp, int N, int C) {
    for (int i = 0; i < N; i++) {
        softmax_row(out + (size_t)i * C, inp + (size_t)i * C, C);
    }
}

/* dinp, out, dout (N,C). */
void so_softmax_backward(float *dinp, const float *out, const float *dout, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *p = out + (size_t)i * C;
        const float *dy = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) {
            s += dy[c] * p[c];
        }
#pragma omp simd
        for (int c = 0; c < C; c++) {
            dx[c] += p[c] * (dy[c] - s);
        }
    }
}

/* losses (N), probs (N,V), logits (N,V), targets (N); probs may alias logits. */
double so_crossentropy_forward(float *losses, float *probs, const float *logits,
                               const int32_t *targets, int N, int V) {
    double total = 0.0;
    for (int i = 0; i < N; i++) {
        const float *z = logits + (size_t)i * V;
        int t = targets ? targets[i] : -1;
        float zt = t >= 0 && t < V ? z[t] : 0.0f; /* read before probs may overwrite z */
        float lse = softmax_row(probs + (size_t)i * V, z, V);
        float l = t >= 0 && t < V ? lse - zt : 0.0f;
        if (losses) {
            losses[i] = l;
        }
        total += l;
    }
    return total;
}

/* dlogits, probs (N,V), targets (N). */
void so_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                              float dloss, int N, int V) {
    for (int i = 0; i < N; i++) {
        const float *p = probs + (size_t)i * V;
        float *dz = dlogits + (size_t)i * V;
        int t = targets[i];
        if (t < 0 || t >= V) {
            if (dlogits == probs) {
                for (int c = 0; c < V; c++) {
                    dz[c] = 0.0f;
                }
            }
            continue;
        }
        if (dlogits == probs) {
#pragma omp simd
            for (int c = 0; c < V; c++) {
                dz[c] = p[c] * dloss;
            }
        } else {
#pragma omp simd
            for (int c = 0; c < V; c++) {
                dz[c] += p[c] * dloss;
            }
        }
        dz[t] -= dloss;
    }
}
