/*
 * Element-wise reduction kernels: dst = a (op) b for every dtype and operator. These are the
 * inner loops of every collective, so they are written to let gcc vectorise them (restrict-free
 * aliasing is allowed: dst may equal a or b, which the loops tolerate because each element is read
 * before it is written). Cost: memory bound, one read of a and b and one write of dst.
 * bf16 and f16 are widened to f32, combined, and rounded back once per element.
 */
#include "scaleout/core.h"

#define SO__DEF_LOOPS(T, suffix)                                                                   \
    static void sum_##suffix(T *d, const T *a, const T *b, size_t n) {                             \
        for (size_t i = 0; i < n; i++)                                                             \
            d[i] = a[i] + b[i];                                                                    \
    }                                                                                              \
    static void prod_##suffix(T *d, const T *a, const T *b, size_t n) {                            \
        for (size_t i = 0; i < n; i++)                                                             \
            d[i] = a[i] * b[i];                                                                    \
    }                                                                                              \
    static void min_##suffix(T *d, const T *a, const T *b, size_t n) {                             \
        for (size_t i = 0; i < n; i++)                                                             \
            d[i] = b[i] < a[i] ? b[i] : a[i];                                                      \
    }                                                                                              \
    static void max_##suffix(T *d, const T *a, const T *b, size_t n) {                             \
        for (size_t i = 0; i < n; i++)                                                             \
            d[i] = b[i] > a[i] ? b[i] : a[i];                                                      \
    }                                                                                              \
    static void reduce_##suffix(so_op op, T *d, const T *a, const T *b, size_t n) {                \
        switch (op) {                                                                              \
        case SO_SUM:                                                                               \
        case SO_AVG:                                                                               \
            sum_##suffix(d, a, b, n);                                                              \
            break;                                                                                 \
        case SO_PROD:                                                                              \
            prod_##suffix(d, a, b, n);                                                             \
            break;                                                                                 \
        case SO_MIN:                                                                               \
            min_##suffix(d, a, b, n);                                                              \
            break;                                                                                 \
        case SO_MAX:                                                                               \
            max_##suffix(d, a, b, n);                                                              \
            break;                                                                                 \
        default:                                                                                   \
            SO_ASSERT(0 && "bad reduction op");                                                    \
        }                                                                                          \
    }

SO__DEF_LOOPS(float, f32)
SO__DEF_LOOPS(double, f64)
SO__DEF_LOOPS(int32_t, i32)
SO__DEF_LOOPS(int64_t, i64)
SO__DEF_LOOPS(uint8_t, u8)

/* Half types: widen a block to f32, reduce, narrow. The block keeps the stack small. */
static void reduce_half(so_op op, int is_bf16, uint16_t *d, const uint16_t *a, const uint16_t *b,
                        size_t n) {
    float fa[256], fb[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        for (size_t j = 0; j < m; j++) {
            fa[j] = is_bf16 ? so_bf16_to_f32(a[i + j]) : so_f16_to_f32(a[i + j]);
            fb[j] = is_bf16 ? so_bf16_to_f32(b[i + j]) : so_f16_to_f32(b[i + j]);
        }
        reduce_f32(op, fa, fa, fb, m);
        for (size_t j = 0; j < m; j++) {
            d[i + j] = is_bf16 ? so_f32_to_bf16(fa[j]) : so_f32_to_f16(fa[j]);
        }
    }
}

void so_reduce_local(so_op op, so_dtype dt, void *dst, const void *a, const void *b, size_t n) {
    switch (dt) {
    case SO_F32:
        reduce_f32(op, dst, a, b, n);
        break;
    case SO_F64:
        reduce_f64(op, dst, a, b, n);
        break;
    case SO_I32:
        reduce_i32(op, dst, a, b, n);
        break;
    case SO_I64:
        reduce_i64(op, dst, a, b, n);
        break;
    case SO_U8:
        reduce_u8(op, dst, a, b, n);
        break;
    case SO_BF16:
        reduce_half(op, 1, dst, a, b, n);
        break;
    case SO_F16:
        reduce_half(op, 0, dst, a, b, n);
        break;
    default:
        SO_ASSERT(0 && "bad dtype");
    }
}

void so_scale_avg(so_dtype dt, void *x, size_t n, int k) {
    switch (dt) {
    case SO_F32: {
        /* Divide, not multiply by 1/k: the quotient is then correctly rounded, as numpy's and
         * PyTorch's means are (book 4.8.1 prints 5/3 in f32 as 1.6666666269302368). */
        float *p = x, fk = (float)k;
        for (size_t i = 0; i < n; i++)
            p[i] /= fk;
        break;
    }
    case SO_F64: {
        double *p = x, dk = (double)k;
        for (size_t i = 0; i < n; i++)
            p[i] /= dk;
        break;
    }
    case SO_I32: {
        int32_t *p = x;
        for (size_t i = 0; i < n; i++)
            p[i] /= k;
        break;
    }
    case SO_I64: {
        int64_t *p = x;
        for (size_t i = 0; i < n; i++)
            p[i] /= k;
        break;
    }
    case SO_U8: {
        uint8_t *p = x;
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(p[i] / k);
        break;
    }
    case SO_BF16:
    case SO_F16: {
        uint16_t *p = x;
        int bf = dt == SO_BF16;
        for (size_t i = 0; i < n; i++) {
            float f = (bf ? so_bf16_to_f32(p[i]) : so_f16_to_f32(p[i])) / (float)k;
            p[i] = bf ? so_f32_to_bf16(f) : so_f32_to_f16(f);
        }
        break;
    }
    default:
        SO_ASSERT(0 && "bad dtype");
    }
}
