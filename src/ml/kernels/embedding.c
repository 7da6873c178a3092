/*
 * Token and position embeddings: out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]. Backward scatters
 * dout rows back into the two tables (rows of a repeated token add up). Cost: one pass over
 * (B,T,C). Token ids are validated by the models before calling (asserted here).
 */
#include "scaleout/ml.h"

/* out (B,T,C), tokens (B,T), wte (V,C), wpe (>=T,C) or NULL. */
void so_embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                          int B, int T, int C, int V) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            int32_t id = tokens[b * T + t];
            SO_ASSERT(id >= 0 && id < V);
            float *o = out + ((size_t)b * T + t) * C;
            const float *e = wte + (size_t)id * C;
            if (wpe) {
                const float *p = wpe + (size_t)t * C;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    o[c] = e[c] + p[c];
                }
            } else {
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    o[c] = e[c];
                }
            }
        }
    }
}

/* dwte (V,C) or NULL, dwpe (>=T,C) or NULL, dout (B,T,C), tokens (B,T). */
void so_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                           int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            if (dwte) {
                float *e = dwte + (size_t)tokens[b * T + t] * C;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    e[c] += d[c];
                }
            }
            if (dwpe) {
                float *p = dwpe + (size_t)t * C;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    p[c] += d[c];
                }
            }
        }
    }
}
