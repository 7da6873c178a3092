/*
 * Causal attention with register-blocked kernels that skip the masked upper triangle (the fast
 * path; attention.c has the GEMM-per-head reference it is tested against). Same math:
 *   S = s Q K^T, P = causal softmax(S), Y = P V;  dP = dY V^T, dS = P (dP - rowsum(dP P)),
 *   dQ += s dS K, dK += s dS^T Q, dV += P^T dY.
 * Three small kernels cover the six products, each computing a 4-row x 16-column tile in
 * registers (gcc vectorises the 16 columns; 8 AVX2 accumulators):
 *   tri_abt: C[t][j] = a * sum_e A[t][e] Bt[e][j] for j <= t        (S and dP; B transposed first)
 *   tri_pb:  C[t][c] (+)= a * sum_{j<=t} P[t][j] B[j][c]             (Y and dQ)
 *   tri_ptb: C[j][c] (+)= a * sum_{t>=j} P[t][j] B[t][c]             (dK and dV)
 * Only tiles touching the lower triangle are computed, so the flops are about (T+4)/(2T) of the
 * full squares that GEMM does: ~0.55x at T=128. A per-thread scratch (K or V transposed, HS x T,
 * grown once and kept) is the only extra memory.
 * Cost: ~2 T^2 HS flops per (b,h) forward, ~4 T^2 HS backward. Limits: single-threaded.
 */
#include <math.h>
#include <string.h>

#include "kernels_internal.h"
#include "vmath.h"

#define TR 4  /* tile rows */
#define TC 16 /* tile columns */

static _Thread_local float *tls_buf;
static _Thread_local size_t tls_cap;

/* A per-thread scratch of n floats, kept between calls (allocated on first use or growth). */
static float *scratch(size_t n) {
    if (n > tls_cap) {
        so_free_aligned(tls_buf);
        tls_buf = so_malloc_aligned(n * sizeof(float));
        SO_ASSERT(tls_buf != NULL);
        tls_cap = n;
    }
    return tls_buf;
}

/* bt (HS, Tp) = transpose of b (T rows of HS, stride ldb), columns T..Tp-1 zero. */
static void transpose(float *bt, const float *b, int ldb, int T, int Tp, int HS) {
    for (int j = 0; j < T; j++) { /* contiguous reads; the HS written rows stay in L1 */
        const float *row = b + (size_t)j * ldb;
        for (int e = 0; e < HS; e++) {
            bt[(size_t)e * Tp + j] = row[e];
        }
    }
    for (int e = 0; e < HS; e++) {
        for (int j = T; j < Tp; j++) {
            bt[(size_t)e * Tp + j] = 0.0f;
        }
    }
}

/* 8-float vectors (GNU vector extension: AVX2 registers here, SSE pairs or scalars elsewhere). */
typedef float v8 __attribute__((vector_size(32)));
static inline v8 ld8(const float *p) {
    v8 x;
    memcpy(&x, p, sizeof x);
    return x;
}
static inline void st8(float *p, v8 x) {
    memcpy(p, &x, sizeof x);
}
static inline v8 bc8(float a) {
    return (v8){a, a, a, a, a, a, a, a};
}

/* Writes a 4 x 16 tile (a * acc) into C rows r0.. (stride ldc), nr rows and nc columns of it;
 * add != 0 accumulates. */
static void put_tile(float *C, int ldc, const v8 acc[8], int nr, int nc, float a, int add) {
    if (nr == TR && nc == TC) {
        v8 va = bc8(a);
        for (int r = 0; r < TR; r++) {
            float *crow = C + (size_t)r * ldc;
            v8 x0 = acc[2 * r] * va, x1 = acc[2 * r + 1] * va;
            if (add) {
                x0 += ld8(crow);
                x1 += ld8(crow + 8);
            }
            st8(crow, x0);
            st8(crow + 8, x1);
        }
        return;
    }
    float tmp[TR][TC];
    for (int r = 0; r < TR; r++) {
        st8(tmp[r], acc[2 * r] * bc8(a));
        st8(tmp[r] + 8, acc[2 * r + 1] * bc8(a));
    }
    for (int r = 0; r < nr; r++) {
        float *crow = C + (size_t)r * ldc;
        if (add) {
            for (int c = 0; c < nc; c++) {
                crow[c] += tmp[r][c];
            }
        } else {
            for (int c = 0; c < nc; c++) {
                crow[c] = tmp[r][c];
            }
        }
    }
}

/* C (T,T) lower triangle (and a few entries above it, which callers overwrite) =
 * a * A (T,K; stride lda) . Bt (K,Tp). */
static void tri_abt(float *C, const float *A, int lda, const float *Bt, int Tp, int T, int K,
                    float a) {
    for (int t0 = 0; t0 < T; t0 += TR) {
        int nr = T - t0 < TR ? T - t0 : TR;
        const float *a0 = A + (size_t)t0 * lda; /* missing rows of a last tile repeat row t0 */
        const float *a1 = nr > 1 ? a0 + lda : a0, *a2 = nr > 2 ? a0 + 2 * (size_t)lda : a0;
        const float *a3 = nr > 3 ? a0 + 3 * (size_t)lda : a0;
        for (int j0 = 0; j0 < t0 + nr; j0 += TC) {
            v8 acc[8] = {0};
            const float *b = Bt + j0;
            for (int e = 0; e < K; e++, b += Tp) {
                v8 b0 = ld8(b), b1 = ld8(b + 8);
                v8 x0 = bc8(a0[e]), x1 = bc8(a1[e]), x2 = bc8(a2[e]), x3 = bc8(a3[e]);
                acc[0] += x0 * b0;
                acc[1] += x0 * b1;
                acc[2] += x1 * b0;
                acc[3] += x1 * b1;
                acc[4] += x2 * b0;
                acc[5] += x2 * b1;
                acc[6] += x3 * b0;
                acc[7] += x3 * b1;
            }
            int nc = T - j0 < TC ? T - j0 : TC;
            put_tile(C + (size_t)t0 * T + j0, T, acc, nr, nc, a, 0);
        }
    }
}

/* 4 x 16 tile of sum_k p_r[k * ps] * B[k][c0..c0+16) for k in [k0, k1), rows via row pointers.
 * Always inlined: as a call, acc lives in memory and the kernel runs ~1.6x slower. */
static inline __attribute__((always_inline)) void tile_pb(v8 acc[8], const float *p0,
                                                          const float *p1, const float *p2,
                                                          const float *p3, int ps, const float *B,
                                                          int ldb, int k0, int k1) {
    for (int k = k0; k < k1; k++) {
        const float *b = B + (size_t)k * ldb;
        v8 b0 = ld8(b), b1 = ld8(b + 8);
        size_t o = (size_t)k * ps;
        v8 x0 = bc8(p0[o]), x1 = bc8(p1[o]), x2 = bc8(p2[o]), x3 = bc8(p3[o]);
        acc[0] += x0 * b0;
        acc[1] += x0 * b1;
        acc[2] += x1 * b0;
        acc[3] += x1 * b1;
        acc[4] += x2 * b0;
        acc[5] += x2 * b1;
        acc[6] += x3 * b0;
        acc[7] += x3 * b1;
    }
}

/* Scalar tile for column remainders (N not a multiple of 16). */
static void tile_tail(float *C, int ldc, const float *P, int prow, int pcol, const float *B,
                      int ldb, int nr, int nc, int k0, int k1, float a, int add) {
    for (int r = 0; r < nr; r++) {
        for (int c = 0; c < nc; c++) {
            float s = 0.0f;
            for (int k = k0; k < k1; k++) {
                s += P[(size_t)r * prow + (size_t)k * pcol] * B[(size_t)k * ldb + c];
            }
            C[(size_t)r * ldc + c] = (add ? C[(size_t)r * ldc + c] : 0.0f) + a * s;
        }
    }
}

/* C (T,N; stride ldc) += a * P (T,T; zero above the diagonal) . B (T,N; stride ldb). */
static void tri_pb(float *C, int ldc, const float *P, const float *B, int ldb, int T, int N,
                   float a, int add) {
    for (int t0 = 0; t0 < T; t0 += TR) {
        int nr = T - t0 < TR ? T - t0 : TR;
        const float *p0 = P + (size_t)t0 * T;
        const float *p1 = nr > 1 ? p0 + T : p0, *p2 = nr > 2 ? p0 + 2 * (size_t)T : p0;
        const float *p3 = nr > 3 ? p0 + 3 * (size_t)T : p0;
        int c0 = 0;
        for (; c0 + TC <= N; c0 += TC) {
            v8 acc[8] = {0};
            tile_pb(acc, p0, p1, p2, p3, 1, B + c0, ldb, 0, t0 + nr);
            put_tile(C + (size_t)t0 * ldc + c0, ldc, acc, nr, TC, a, add);
        }
        if (c0 < N) {
            tile_tail(C + (size_t)t0 * ldc + c0, ldc, p0, T, 1, B + c0, ldb, nr, N - c0, 0, t0 + nr,
                      a, add);
        }
    }
}

/* C (T,N; stride ldc) += a * P^T . B, P (T,T) zero above the diagonal, B (T,N; stride ldb). */
static void tri_ptb(float *C, int ldc, const float *P, const float *B, int ldb, int T, int N,
                    float a, int add) {
    for (int j0 = 0; j0 < T; j0 += TR) {
        int nr = T - j0 < TR ? T - j0 : TR;
        /* row r of P^T is column j0+r of P: stride T between k (= t) steps */
        const float *p0 = P + j0;
        const float *p1 = nr > 1 ? p0 + 1 : p0, *p2 = nr > 2 ? p0 + 2 : p0;
        const float *p3 = nr > 3 ? p0 + 3 : p0;
        int c0 = 0;
        for (; c0 + TC <= N; c0 += TC) {
            v8 acc[8] = {0};
            tile_pb(acc, p0, p1, p2, p3, T, B + c0, ldb, j0, T);
            put_tile(C + (size_t)j0 * ldc + c0, ldc, acc, nr, TC, a, add);
        }
        if (c0 < N) {
            tile_tail(C + (size_t)j0 * ldc + c0, ldc, p0, 1, T, B + c0, ldb, nr, N - c0, j0, T, a,
                      add);
        }
    }
}

/* out (B,T,NH*HS), att (B,NH,T,T), qkv (B,T,(NH+2*KVH)*HS). */
void so_attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int KVH,
                          int HS) {
    int R = (NH + 2 * KVH) * HS, C = NH * HS, group = NH / KVH;
    int Tp = (T + TC - 1) / TC * TC;
    float scale = 1.0f / sqrtf((float)HS);
    float *kt = scratch((size_t)HS * Tp);
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * R;
        for (int g = 0; g < KVH; g++) {
            transpose(kt, base + (NH + g) * HS, R, T, Tp, HS);
            const float *v = base + (NH + KVH + g) * HS;
            for (int h = g * group; h < (g + 1) * group; h++) {
                float *p = att + ((size_t)b * NH + h) * T * T;
                tri_abt(p, base + h * HS, R, kt, Tp, T, HS, scale);
                so__causal_softmax_rows(p, T);
                float *y = out + (size_t)b * T * C + h * HS;
                tri_pb(y, C, p, v, R, T, HS, 1.0f, 0); /* every row of y is written */
            }
        }
    }
}

/* dqkv (B,T,(NH+2KVH)HS) accumulated (add) or overwritten; datt scratch (T,T); dout (B,T,NH*HS). */
static void backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                     const float *att, int B, int T, int NH, int KVH, int HS, int add) {
    int R = (NH + 2 * KVH) * HS, C = NH * HS, group = NH / KVH;
    int Tp = (T + TC - 1) / TC * TC;
    float scale = 1.0f / sqrtf((float)HS);
    float *vt = scratch((size_t)HS * Tp);
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * R;
        float *dbase = dqkv + (size_t)b * T * R;
        for (int g = 0; g < KVH; g++) {
            const float *k = base + (NH + g) * HS;
            transpose(vt, base + (NH + KVH + g) * HS, R, T, Tp, HS);
            float *dk = dbase + (NH + g) * HS, *dv = dbase + (NH + KVH + g) * HS;
            for (int h = g * group; h < (g + 1) * group; h++) {
                const float *q = base + h * HS;
                float *dq = dbase + h * HS;
                const float *p = att + ((size_t)b * NH + h) * T * T;
                const float *dy = dout + (size_t)b * T * C + h * HS;
                tri_abt(datt, dy, C, vt, Tp, T, HS, 1.0f); /* dP */
                int add_kv = add || h != g * group; /* the group's first head may set dK, dV */
                tri_ptb(dv, R, p, dy, C, T, HS, 1.0f, add_kv);    /* dV += P^T dY */
                so__causal_softmax_rows_backward(p, datt, T);     /* dS */
                tri_pb(dq, R, datt, k, R, T, HS, scale, add);     /* dQ += s dS K */
                tri_ptb(dk, R, datt, q, R, T, HS, scale, add_kv); /* dK += s dS^T Q */
            }
        }
    }
}

void so_attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                           const float *att, int B, int T, int NH, int KVH, int HS) {
    backward(dqkv, datt, dout, qkv, att, B, T, NH, KVH, HS, 1);
}

void so__attention_backward_set(float *dqkv, float *datt, const float *dout, const float *qkv,
                                const float *att, int B, int T, int NH, int KVH, int HS) {
    backward(dqkv, datt, dout, qkv, att, B, T, NH, KVH, HS, 0);
}
