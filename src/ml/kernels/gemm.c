/*
 * Single-precision GEMM, C = alpha op(A) op(B) + beta C, row-major: the fast path is OpenBLAS
 * cblas_sgemm (its Cooperlake AVX-512 kernels reach ~100 GFLOP/s per core here); without OpenBLAS,
 * a blocked C loop (pack a KB x NB tile of op(B) contiguously, then i-k-j with the j loop
 * vectorised by gcc, ~30-40 GFLOP/s per core). so_sgemm_ref is the plain triple loop with a double
 * accumulator that the tests hold both to (relative 1e-4). Cost: 2MNK flops. Not threaded: callers
 * split rows over the ml pool.
 */
#include "scaleout/ml.h"
#if SO_HAVE_OPENBLAS
#include <cblas.h>
#endif

#define KB 64
#define NB 256

static void scale_c(int M, int N, float beta, float *C, int ldc) {
    if (beta == 1.0f) {
        return;
    }
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) {
            c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        }
    }
}

void so_sgemm_c(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc) {
    scale_c(M, N, beta, C, ldc);
    if (alpha == 0.0f || K == 0) {
        return;
    }
    float bp[KB * NB]; /* op(B)[k0:k0+kb, j0:j0+nb], row-major with stride nb */
    for (int j0 = 0; j0 < N; j0 += NB) {
        int nb = N - j0 < NB ? N - j0 : NB;
        for (int k0 = 0; k0 < K; k0 += KB) {
            int kb = K - k0 < KB ? K - k0 : KB;
            for (int k = 0; k < kb; k++) {
                for (int j = 0; j < nb; j++) {
                    bp[k * nb + j] = trans_b ? B[(size_t)(j0 + j) * ldb + k0 + k]
                                             : B[(size_t)(k0 + k) * ldb + j0 + j];
                }
            }
            for (int i = 0; i < M; i++) {
                float *c = C + (size_t)i * ldc + j0;
                for (int k = 0; k < kb; k++) {
                    float a = alpha * (trans_a ? A[(size_t)(k0 + k) * lda + i]
                                               : A[(size_t)i * lda + k0 + k]);
                    const float *b = bp + k * nb;
                    for (int j = 0; j < nb; j++) {
                        c[j] += a * b[j];
                    }
                }
            }
        }
    }
}

void so_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) {
        return;
    }
#if SO_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    so_sgemm_c(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void so_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            float *c = C + (size_t)i * ldc + j;
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}
