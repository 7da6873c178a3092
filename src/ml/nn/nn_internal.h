/* Internal helpers shared by the models of src/ml/nn (not installed). */
#ifndef SO_ML_NN_INTERNAL_H
#define SO_ML_NN_INTERNAL_H

#include "scaleout/ml.h"

/* Collects named views while a model lays out its parameters; offsets are assigned in order,
 * each tensor starting on a 16-float (64-byte) boundary so SIMD loads of a row start aligned. */
typedef struct so__param_builder {
    so_param_view *views;
    int n, cap;
    size_t total;
} so__param_builder;

/* Appends a tensor of shape (d0[,d1]) (d1 <= 0: one dimension); returns its offset via *off. */
int so__pb_add(so__param_builder *pb, const char *name, int64_t d0, int64_t d1, int no_decay,
               size_t *off);
/* Allocates params and grads (zeroed, 64-byte aligned) for the collected views and moves the
 * views into ps; on failure frees everything. */
int so__pb_finish(so__param_builder *pb, so_param_set *ps);
void so__pb_abandon(so__param_builder *pb);
void so__param_set_free(so_param_set *ps);

/* splitmix64: the small deterministic generator the models use for initialisation and sampling
 * (so a model's weights depend only on its seed). */
static inline uint64_t so__sm64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0,1) with 53 bits. */
static inline double so__sm64_unit(uint64_t *s) {
    return (double)(so__sm64(s) >> 11) * (1.0 / 9007199254740992.0);
}
/* x[i] = std * N(0,1) (Box-Muller). */
void so__fill_normal(uint64_t *s, float *x, size_t n, float std);
/* x[i] uniform in [-a, a). */
void so__fill_uniform(uint64_t *s, float *x, size_t n, float a);

#endif
