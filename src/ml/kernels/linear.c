/*
 * Linear layer forward and backward over GEMM (llm.c's matmul_forward/backward, with the weight
 * stored (OC, C) like torch.nn.Linear). Forward: out = inp W^T + b is one GEMM with the bias rows
 * preloaded into out. Backward: dinp += dout W and dW += dout^T inp are two GEMMs (beta 1), db is
 * the column sum of dout. Cost: 2*N*C*OC flops forward, twice that backward.
 * The _ref versions are naive loops with double accumulators for the tests.
 */
#include <string.h>

#include "kernels_internal.h"

/* out (N,OC), inp (N,C), weight (OC,C), bias (OC) or NULL. */
void so_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC) {
    if (bias) {
        for (int i = 0; i < N; i++) {
            memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof(float));
        }
    }
    so_sgemm(0, 1, N, OC, C, 1.0f, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC);
}

/* dinp (N,C), dweight (OC,C), dbias (OC), dout (N,OC), inp (N,C), weight (OC,C); dinp is
 * scaled by beta_in first (1: accumulate, 0: overwrite). */
static void backward(float *dinp, float beta_in, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int C, int OC) {
    if (dinp) {
        so_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, beta_in, dinp, C);
    }
    if (dweight) {
        so_sgemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    }
    if (dbias) {
        for (int i = 0; i < N; i++) {
            const float *d = dout + (size_t)i * OC;
            for (int o = 0; o < OC; o++) {
                dbias[o] += d[o];
            }
        }
    }
}

void so_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C, int OC) {
    backward(dinp, 1.0f, dweight, dbias, dout, inp, weight, N, C, OC);
}

void so__matmul_backward_set(float *dinp, float *dweight, float *dbias, const float *dout,
                             const float *inp, const float *weight, int N, int C, int OC) {
    backward(dinp, 0.0f, dweight, dbias, dout, inp, weight, N, C, OC);
}

void so_matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int C, int OC) {
    for (int i = 0; i < N; i++) {
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) {
                s += (double)inp[(size_t)i * C + c] * weight[(size_t)o * C + c];
            }
            out[(size_t)i * OC + o] = (float)s;
        }
    }
}

void so_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int C, int OC) {
    if (dinp) {
        for (int i = 0; i < N; i++) {
            for (int c = 0; c < C; c++) {
                double s = 0.0;
                for (int o = 0; o < OC; o++) {
                    s += (double)dout[(size_t)i * OC + o] * weight[(size_t)o * C + c];
                }
                dinp[(size_t)i * C + c] += (float)s;
            }
        }
    }
    if (dweight) {
        for (int o = 0; o < OC; o++) {
            for (int c = 0; c < C; c++) {
                double s = 0.0;
                for (int i = 0; i < N; i++) {
                    s += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * C + c];
                }
                dweight[(size_t)o * C + c] += (float)s;
            }
        }
    }
    if (dbias) {
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int i = 0; i < N; i++) {
                s += dout[(size_t)i * OC + o];
            }
            dbias[o] += (float)s;
        }
    }
}
