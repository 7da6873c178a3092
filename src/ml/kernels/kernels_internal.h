/* Internal kernel variants for the models (not installed): backward kernels that OVERWRITE the
 * input gradient instead of accumulating into it, which saves the models a memset and a read of
 * a large scratch buffer per layer. Same arguments as the public kernels in scaleout/ml.h. */
#ifndef SO_ML_KERNELS_INTERNAL_H
#define SO_ML_KERNELS_INTERNAL_H

#include "scaleout/ml.h"

/* dinp = dout W (overwritten); dweight, dbias accumulate as in so_matmul_backward. */
void so__matmul_backward_set(float *dinp, float *dweight, float *dbias, const float *dout,
                             const float *inp, const float *weight, int N, int C, int OC);
/* dinp = gelu'(inp) * dout, silu'(inp) * dout (overwritten). */
void so__gelu_backward_set(float *dinp, const float *inp, const float *dout, size_t n);
void so__silu_backward_set(float *dinp, const float *inp, const float *dout, size_t n);
/* dqkv = gradient (overwritten: every element of the B,T rows is written). */
void so__attention_backward_set(float *dqkv, float *datt, const float *dout, const float *qkv,
                                const float *att, int B, int T, int NH, int KVH, int HS);

#endif
