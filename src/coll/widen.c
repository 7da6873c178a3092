/*
 * bf16/f16 support and the argument checks every collective entry point shares.
 *
 * bf16 and f16 are storage types: the collectives widen the input into an f32 scratch vector,
 * run the f32 algorithm, and narrow once at the end. Rounding every partial sum back to 16 bits
 * at every hop would lose accuracy (bf16 keeps 8 significant bits, so adding 64 ranks' values
 * hop by hop rounds 63 times) and would make the result depend on the algorithm (a ring and a
 * tree round different partial sums). Widening rounds once, so every algorithm returns the
 * correctly rounded f32 result. The price is twice the bytes on the wire.
 * Cost: one pass over n elements each way.
 */
#include "coll_internal.h"

int so__is_half(so_dtype dt) {
    return dt == SO_BF16 || dt == SO_F16;
}

so_dtype so__work_dtype(so_dtype dt) {
    return so__is_half(dt) ? SO_F32 : dt;
}

void so__widen(so_dtype dt, float *dst, const void *src, size_t n) {
    const uint16_t *s = src;
    if (dt == SO_BF16) {
        for (size_t i = 0; i < n; i++) {
            dst[i] = so_bf16_to_f32(s[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            dst[i] = so_f16_to_f32(s[i]);
        }
    }
}

void so__narrow(so_dtype dt, void *dst, const float *src, size_t n) {
    uint16_t *d = dst;
    if (dt == SO_BF16) {
        for (size_t i = 0; i < n; i++) {
            d[i] = so_f32_to_bf16(src[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            d[i] = so_f32_to_f16(src[i]);
        }
    }
}

int so__check_args(so_comm *c, const char *what, so_dtype dt, int op, int root) {
    if (!c) {
        return so__fail(SO_EINVAL, "%s: the group is NULL", what);
    }
    if ((int)dt < 0 || dt >= SO_DTYPE_COUNT) {
        return so__fail(SO_EINVAL, "%s: unknown dtype %d", what, (int)dt);
    }
    if (op != -1 && (op < 0 || op >= SO_OP_COUNT)) {
        return so__fail(SO_EINVAL, "%s: unknown op %d", what, op);
    }
    if (root != -1 && (root < 0 || root >= so_comm_size(c))) {
        return so__fail(SO_EINVAL, "%s: root %d is not a rank of a group of %d", what, root,
                        so_comm_size(c));
    }
    return SO_OK;
}
