/*
 * Attention of new query rows against a key/value cache, for incremental decoding (the serving
 * layer's KV cache stores K and V per layer; this is the kernel it runs on them). Query row i of
 * NQ is absolute position p = Tk - NQ + i and sees keys 0..p (causal), with grouped-query heads as
 * in so_attention_forward. Each (row, head) is one pass: scores by dot products, a max-subtracted
 * softmax in a scratch row, then the weighted sum of values.
 * Cost: 4 Tk HS flops per (row, head). Limits: forward only (inference); single-threaded.
 */
#include <math.h>

#include "scaleout/ml.h"
#include "vmath.h"

/* out (NQ, NH*HS; stride ldo), q (NQ, NH*HS; stride ldq), k, v (Tk, KVH*HS; stride ldkv),
 * scratch (Tk). */
void so_attention_cached(float *out, int ldo, const float *q, int ldq, const float *k,
                         const float *v, int ldkv, int NQ, int Tk, int NH, int KVH, int HS,
                         float *scratch) {
    SO_ASSERT(NQ <= Tk && NH % KVH == 0);
    int group = NH / KVH;
    float scale = 1.0f / sqrtf((float)HS);
    for (int i = 0; i < NQ; i++) {
        int pos = Tk - NQ + i;
        for (int h = 0; h < NH; h++) {
            const float *qh = q + (size_t)i * ldq + h * HS;
            int g = h / group;
            float m = -INFINITY;
            for (int j = 0; j <= pos; j++) {
                const float *kj = k + (size_t)j * ldkv + g * HS;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int e = 0; e < HS; e++) {
                    s += qh[e] * kj[e];
                }
                s *= scale;
                scratch[j] = s;
                m = s > m ? s : m;
            }
            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j <= pos; j++) {
                float e = so__expf(scratch[j] - m);
                scratch[j] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            float *o = out + (size_t)i * ldo + h * HS;
            for (int e = 0; e < HS; e++) {
                o[e] = 0.0f;
            }
            for (int j = 0; j <= pos; j++) {
                const float *vj = v + (size_t)j * ldkv + g * HS;
                float w = scratch[j] * inv;
#pragma omp simd
                for (int e = 0; e < HS; e++) {
                    o[e] += w * vj[e];
                }
            }
        }
    }
}
