/*
 * The fast generator for bulk data: xoshiro256** (Blackman and Vigna, 2018) seeded through
 * splitmix64, so any 64-bit seed, including 0, gives a well-mixed non-zero state.
 *
 * Algorithm: the state is four 64-bit words updated by shifts, xors and one rotation; the output
 * is rotl(s1 * 5, 7) * 9. Jumps apply a precomputed polynomial (256 steps with xors) that moves
 * the state 2^128 (jump) or 2^192 (long jump) steps ahead, which is how per-rank streams are cut
 * from one seed. Integers below n use Lemire's multiply-high with rejection (no modulo bias);
 * normals use Box-Muller on pairs.
 * Cost: a few shifts and xors per 64-bit output (about 8 ns per call measured on the loaded build
 * machine, call overhead included); a jump costs 256 steps. Limits: not cryptographic; the
 * period is 2^256 - 1.
 */
#include <math.h>
#include <string.h>

#include "scaleout/core.h"

__extension__ typedef unsigned __int128 so__u128;

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void so_rng_seed(so_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

uint64_t so_rng_u64(so_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static void jump_by(so_rng *r, const uint64_t poly[4]) {
    uint64_t t[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) {
            if (poly[i] & (1ull << b)) {
                for (int w = 0; w < 4; w++) {
                    t[w] ^= r->s[w];
                }
            }
            so_rng_u64(r);
        }
    }
    memcpy(r->s, t, sizeof t);
}

void so_rng_jump(so_rng *r) {
    static const uint64_t poly[4] = {0x180ec6d33cfd0abaull, 0xd5a61266f0c9392cull,
                                     0xa9582618e03fc9aaull, 0x39abdc4529b1661cull};
    jump_by(r, poly);
}

void so_rng_long_jump(so_rng *r) {
    static const uint64_t poly[4] = {0x76e15d3efefdcbbfull, 0xc5004e441c522fb3ull,
                                     0x77710069854ee241ull, 0x39109bb02acbe635ull};
    jump_by(r, poly);
}

void so_rng_seed_stream(so_rng *r, uint64_t seed, uint64_t stream) {
    so_rng_seed(r, seed);
    for (uint64_t i = 0; i < stream; i++) {
        so_rng_jump(r);
    }
}

so_rng so_rng_split(so_rng *r) {
    so_rng child;
    so_rng_seed(&child, so_rng_u64(r) ^ rotl(so_rng_u64(r), 32));
    return child;
}

uint32_t so_rng_u32(so_rng *r) {
    return (uint32_t)(so_rng_u64(r) >> 32);
}

double so_rng_double(so_rng *r) {
    return (double)(so_rng_u64(r) >> 11) * 0x1.0p-53;
}

float so_rng_float(so_rng *r) {
    return (float)(so_rng_u64(r) >> 40) * 0x1.0p-24f;
}

uint64_t so_rng_below(so_rng *r, uint64_t n) {
    if (n == 0) {
        return 0;
    }
    so__u128 m = (so__u128)so_rng_u64(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
        while (low < threshold) {
            m = (so__u128)so_rng_u64(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double so_rng_normal(so_rng *r) {
    double u1 = 1.0 - so_rng_double(r); /* (0, 1]: log stays finite */
    double u2 = so_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void so_rng_fill_normal_f32(so_rng *r, float *x, size_t n, float mean, float std) {
    /* Blocks of 64 pairs: draw the uniforms first, then run the math in a loop the compiler can
     * vectorise (logf/sincosf through libmvec when available). */
    enum { B = 64 };
    float u1[B], u2[B];
    size_t i = 0;
    while (i < n) {
        size_t pairs = (n - i + 1) / 2;
        if (pairs > B) {
            pairs = B;
        }
        for (size_t j = 0; j < pairs; j++) {
            uint64_t v = so_rng_u64(r);
            u1[j] = ((float)(v >> 40) + 1.0f) * 0x1.0p-24f; /* (0, 1] */
            u2[j] = (float)((v >> 8) & 0xffffff) * 0x1.0p-24f;
        }
        for (size_t j = 0; j < pairs; j++) {
            float rad = sqrtf(-2.0f * logf(u1[j])) * std;
            float ang = 6.28318530717958647692f * u2[j];
            float c = cosf(ang), s = sinf(ang);
            x[i + 2 * j] = mean + rad * c;
            if (i + 2 * j + 1 < n) {
                x[i + 2 * j + 1] = mean + rad * s;
            }
        }
        i += 2 * pairs;
    }
}

void so_rng_fill_uniform_f32(so_rng *r, float *x, size_t n, float lo, float hi) {
    float w = hi - lo;
    for (size_t i = 0; i < n; i++) {
        x[i] = lo + w * so_rng_float(r);
    }
}

void so_rng_shuffle(so_rng *r, void *base, size_t n, size_t size) {
    SO_ASSERT(size <= 256);
    unsigned char tmp[256], *b = base;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)so_rng_below(r, i);
        if (j != i - 1) {
            memcpy(tmp, b + j * size, size);
            memcpy(b + j * size, b + (i - 1) * size, size);
            memcpy(b + (i - 1) * size, tmp, size);
        }
    }
}

void so_rng_permutation(so_rng *r, uint32_t *perm, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)so_rng_below(r, i + 1); /* inside-out Fisher-Yates */
        perm[i] = perm[j];
        perm[j] = (uint32_t)i;
    }
}
