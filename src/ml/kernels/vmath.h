/*
 * Vectorisable float exp and erf for the kernels (internal). glibc's expf/erff are scalar calls
 * that stop gcc from vectorising a loop; these are branch-free inline functions that it turns into
 * AVX-512/AVX2 code at -O3.
 *
 * so__expf: exp(x) = 2^n * e^r with n = round(x / ln 2), |r| <= ln2/2, e^r by its degree-6 Taylor
 * polynomial (truncation error < 1.3e-7 relative); 2^n is built in the exponent bits. Relative
 * error about 2 ulp over [-87, 88]; below -87.3 it returns 0 and above 88.7 it saturates (no inf).
 * so__erff: Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, plus float rounding < 1e-7).
 * so__causal_softmax_rows: softmax of each row t of a (T,T) score matrix over columns 0..t, zeros
 * above the diagonal (the causal mask), in place. so__causal_softmax_rows_backward: its backward,
 * dS = P * (dP - rowsum(P * dP)) over the same triangle, in place in dp.
 */
#ifndef SO_ML_VMATH_H
#define SO_ML_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float so__expf(float x) {
    float xc = x < -87.3f ? -87.3f : x;
    xc = xc > 88.7f ? 88.7f : xc;
    /* n = round(xc * log2(e)) by the 1.5*2^23 trick (exact for |n| < 2^22). */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693145751953125f; /* ln 2 split in a high part with few bits */
    r = r - n * 1.428606765330187e-06f;    /* and the rest */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return x < -87.3f ? 0.0f : p * s;
}

static inline float so__erff(float x) {
    float ax = x < 0.0f ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float y = 1.061405429f;
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    y = 1.0f - y * t * so__expf(-ax * ax);
    return x < 0.0f ? -y : y;
}

static inline void so__causal_softmax_rows(float *p, int T) {
    for (int t = 0; t < T; t++) {
        float *row = p + (size_t)t * T;
        float m = -INFINITY;
#pragma omp simd reduction(max : m)
        for (int s = 0; s <= t; s++) {
            m = row[s] > m ? row[s] : m;
        }
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int s = 0; s <= t; s++) {
            float e = so__expf(row[s] - m);
            row[s] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
#pragma omp simd
        for (int s = 0; s <= t; s++) {
            row[s] *= inv;
        }
        for (int s = t + 1; s < T; s++) {
            row[s] = 0.0f;
        }
    }
}

static inline void so__causal_softmax_rows_backward(const float *p, float *dp, int T) {
    for (int t = 0; t < T; t++) {
        const float *pr = p + (size_t)t * T;
        float *dr = dp + (size_t)t * T;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j <= t; j++) {
            s += pr[j] * dr[j];
        }
#pragma omp simd
        for (int j = 0; j <= t; j++) {
            dr[j] = pr[j] * (dr[j] - s);
        }
        for (int j = t + 1; j < T; j++) {
            dr[j] = 0.0f;
        }
    }
}

#endif
