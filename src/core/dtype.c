/*
 * Data types and reduction operators: sizes, names, parsing, and the half-precision conversions
 * (bf16 is the top half of an f32; f16 is IEEE binary16). Conversions round to nearest even,
 * as PyTorch and numpy do, so a round trip of a representable value is exact.
 */
#include <string.h>

#include "scaleout/core.h"

static const size_t sizes[SO_DTYPE_COUNT] = {4, 8, 4, 8, 2, 2, 1};
static const char *const dtype_names[SO_DTYPE_COUNT] = {"f32",  "f64", "i32", "i64",
                                                        "bf16", "f16", "u8"};
static const char *const op_names[SO_OP_COUNT] = {"sum", "prod", "min", "max", "avg"};

size_t so_dtype_size(so_dtype dt) {
    return (unsigned)dt < SO_DTYPE_COUNT ? sizes[dt] : 0;
}

const char *so_dtype_name(so_dtype dt) {
    return (unsigned)dt < SO_DTYPE_COUNT ? dtype_names[dt] : "?";
}

const char *so_op_name(so_op op) {
    return (unsigned)op < SO_OP_COUNT ? op_names[op] : "?";
}

int so_dtype_parse(const char *s, so_dtype *out) {
    static const struct {
        const char *name;
        so_dtype dt;
    } aliases[] = {{"f32", SO_F32},       {"float", SO_F32},  {"float32", SO_F32},
                   {"f64", SO_F64},       {"double", SO_F64}, {"float64", SO_F64},
                   {"i32", SO_I32},       {"int32", SO_I32},  {"int", SO_I32},
                   {"i64", SO_I64},       {"int64", SO_I64},  {"bf16", SO_BF16},
                   {"bfloat16", SO_BF16}, {"f16", SO_F16},    {"half", SO_F16},
                   {"float16", SO_F16},   {"u8", SO_U8},      {"uint8", SO_U8}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (!strcmp(s, aliases[i].name)) {
            *out = aliases[i].dt;
            return SO_OK;
        }
    }
    return so__fail(SO_EINVAL,
                    "unknown data type '%s' (expected f32, f64, i32, i64, bf16, f16 or u8)", s);
}

int so_op_parse(const char *s, so_op *out) {
    for (int i = 0; i < SO_OP_COUNT; i++) {
        if (!strcmp(s, op_names[i])) {
            *out = (so_op)i;
            return SO_OK;
        }
    }
    return so__fail(SO_EINVAL, "unknown reduction '%s' (expected sum, prod, min, max or avg)", s);
}

float so_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t so_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    }
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float so_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13); /* inf or NaN */
    } else if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t so_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) {
        return (uint16_t)(sign | 0x7e00u); /* NaN */
    }
    if (absu >= 0x477ff000u) { /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (absu < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (absu < 0x33000000u) {
            return (uint16_t)sign; /* below half the smallest subnormal */
        }
        uint32_t e = absu >> 23;
        uint32_t man = (absu & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 (value = man * 2^(e-150), unit 2^-24) */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) {
            q++;
        }
        return (uint16_t)(sign | q);
    }
    uint32_t r = absu + 0xfffu + ((absu >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | (((r >> 23) - 127 + 15) << 10) | ((r >> 13) & 0x3ffu));
}
