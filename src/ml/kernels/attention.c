/*
 * Reference causal self-attention with grouped-query heads, forward and backward, as GEMMs per
 * (batch, head); the fast path (attention_causal.c) is tested against it.
 * For query head h (key/value head g = h / (NH/KVH)), with Q, K, V the (T,HS) strided slices of
 * qkv and s = 1/sqrt(HS):
 *   forward:  S = s Q K^T;  P = causal row softmax of S (zero above the diagonal);  Y = P V
 *   backward: dP = dY V^T;  dV += P^T dY;  dS = P (dP - rowsum(dP P));
 *             dQ += s dS K;  dK += s dS^T Q
 * The GEMMs run on the full T x T square (the zero upper triangle of P and dS makes them exact).
 * The softmax exponentials use the vectorised exp of vmath.h.
 * Cost: 4 T^2 HS flops per (b,h) forward, 8 T^2 HS backward; memory: P is kept, (B,NH,T,T).
 */
#include <math.h>

#include "scaleout/ml.h"
#include "vmath.h"

/* out (B,T,NH*HS), att (B,NH,T,T), qkv (B,T,(NH+2*KVH)*HS). */
void so_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int NH,
                              int KVH, int HS) {
    int R = (NH + 2 * KVH) * HS; /* row stride of qkv */
    int C = NH * HS;             /* row stride of out */
    int group = NH / KVH;
    float scale = 1.0f / sqrtf((float)HS);
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * R;
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            const float *q = base + h * HS;
            const float *k = base + (NH + g) * HS;
            const float *v = base + (NH + KVH + g) * HS;
            float *p = att + ((size_t)b * NH + h) * T * T;
            so_sgemm(0, 1, T, T, HS, scale, q, R, k, R, 0.0f, p, T);
            so__causal_softmax_rows(p, T);
            so_sgemm(0, 0, T, HS, T, 1.0f, p, T, v, R, 0.0f, out + (size_t)b * T * C + h * HS, C);
        }
    }
}

/* dqkv (B,T,(NH+2KVH)HS) accumulated; datt scratch (T,T); dout (B,T,NH*HS); qkv, att as above. */
void so_attention_backward_ref(float *dqkv, float *datt, const float *dout, const float *qkv,
                               const float *att, int B, int T, int NH, int KVH, int HS) {
    int R = (NH + 2 * KVH) * HS;
    int C = NH * HS;
    int group = NH / KVH;
    float scale = 1.0f / sqrtf((float)HS);
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * R;
        float *dbase = dqkv + (size_t)b * T * R;
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            const float *q = base + h * HS;
            const float *k = base + (NH + g) * HS;
            const float *v = base + (NH + KVH + g) * HS;
            float *dq = dbase + h * HS;
            float *dk = dbase + (NH + g) * HS;
            float *dv = dbase + (NH + KVH + g) * HS;
            const float *p = att + ((size_t)b * NH + h) * T * T;
            const float *dy = dout + (size_t)b * T * C + h * HS;
            so_sgemm(0, 1, T, T, HS, 1.0f, dy, C, v, R, 0.0f, datt, T);  /* dP */
            so_sgemm(1, 0, T, HS, T, 1.0f, p, T, dy, C, 1.0f, dv, R);    /* dV += P^T dY */
            so__causal_softmax_rows_backward(p, datt, T);                /* dS */
            so_sgemm(0, 0, T, HS, T, scale, datt, T, k, R, 1.0f, dq, R); /* dQ += s dS K */
            so_sgemm(1, 0, T, HS, T, scale, datt, T, q, R, 1.0f, dk, R); /* dK += s dS^T Q */
        }
    }
}
