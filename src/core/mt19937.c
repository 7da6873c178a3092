/*
 * A Mersenne Twister that is bit-compatible with CPython 3.11's `random` module, so programs from
 * the book seeded with random.seed(s) give the same numbers in C.
 *
 * Algorithm: MT19937 (Matsumoto and Nishimura) with CPython's choices on top of it:
 * - seed(n) runs init_by_array over the 32-bit words of |n|, least significant first; n = 0 uses
 *   the key [0].
 * - random() = ((a >> 5) * 2^26 + (b >> 6)) / 2^53 from two outputs.
 * - getrandbits(k) takes k <= 32 bits from the top of one output; longer requests fill 32-bit words
 *   least significant first and shift the last word right to keep k bits.
 * - _randbelow(n) redraws getrandbits(bit_length(n)) until the value is below n; randrange,
 *   randint, choice, shuffle and sample are built on it exactly as random.py builds them.
 * - gauss caches its second value; normalvariate is Kinderman-Monahan; both use libm's log, sqrt,
 *   sin and cos like CPython does, so results match bit for bit on the same libm.
 * Cost: one 624-word regeneration every 624 outputs; random() (two outputs) took 17-19 ns on the
 * loaded build machine. Limits: integer arguments are 64-bit (CPython's are unbounded); sample()
 * needs O(n) scratch in its pool branch.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "scaleout/core.h"

__extension__ typedef __int128 so__i128;

#define MT_M 397
#define MATRIX_A 0x9908b0dfu
#define UPPER_MASK 0x80000000u
#define LOWER_MASK 0x7fffffffu

static void init_genrand(so_mt *m, uint32_t s) {
    m->mt[0] = s;
    for (int i = 1; i < SO_MT_N; i++) {
        m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
    }
    m->mti = SO_MT_N;
}

static void init_by_array(so_mt *m, const uint32_t *key, size_t len) {
    init_genrand(m, 19650218u);
    size_t i = 1, j = 0;
    size_t k = SO_MT_N > len ? SO_MT_N : len;
    for (; k; k--) {
        m->mt[i] =
            (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= SO_MT_N) {
            m->mt[0] = m->mt[SO_MT_N - 1];
            i = 1;
        }
        if (j >= len) {
            j = 0;
        }
    }
    for (k = SO_MT_N - 1; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= SO_MT_N) {
            m->mt[0] = m->mt[SO_MT_N - 1];
            i = 1;
        }
    }
    m->mt[0] = 0x80000000u; /* the most significant bit is 1: a non-zero initial state */
}

void so_mt_seed_words(so_mt *m, const uint32_t *words, size_t nwords) {
    while (nwords > 0 && words[nwords - 1] == 0) {
        nwords--;
    }
    static const uint32_t zero = 0;
    if (nwords == 0) {
        init_by_array(m, &zero, 1);
    } else {
        init_by_array(m, words, nwords);
    }
    m->has_gauss = 0;
    m->gauss_next = 0.0;
}

void so_mt_seed(so_mt *m, uint64_t seed) {
    uint32_t w[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    so_mt_seed_words(m, w, 2);
}

void so_mt_seed_i64(so_mt *m, int64_t seed) {
    uint64_t mag = seed < 0 ? 0 - (uint64_t)seed : (uint64_t)seed;
    so_mt_seed(m, mag);
}

int so_mt_seed_decimal(so_mt *m, const char *text) {
    enum { MAXW = 128 }; /* 4096 bits */
    uint32_t w[MAXW] = {0};
    size_t nw = 1;
    const char *p = text;
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return so__fail(SO_EINVAL, "seed '%s' is not a decimal integer", text);
    }
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return so__fail(SO_EINVAL, "seed '%s' is not a decimal integer", text);
        }
        uint64_t carry = (uint64_t)(*p - '0');
        for (size_t i = 0; i < nw; i++) { /* w = w * 10 + digit */
            uint64_t v = (uint64_t)w[i] * 10u + carry;
            w[i] = (uint32_t)v;
            carry = v >> 32;
        }
        if (carry) {
            if (nw == MAXW) {
                return so__fail(SO_EINVAL, "seed '%s' needs more than 4096 bits", text);
            }
            w[nw++] = (uint32_t)carry;
        }
    }
    so_mt_seed_words(m, w, nw);
    return SO_OK;
}

static void regenerate(so_mt *m) {
    static const uint32_t mag01[2] = {0u, MATRIX_A};
    uint32_t *mt = m->mt;
    int kk;
    for (kk = 0; kk < SO_MT_N - MT_M; kk++) {
        uint32_t y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1u];
    }
    for (; kk < SO_MT_N - 1; kk++) {
        uint32_t y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + (MT_M - SO_MT_N)] ^ (y >> 1) ^ mag01[y & 1u];
    }
    uint32_t y = (mt[SO_MT_N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
    mt[SO_MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1u];
    m->mti = 0;
}

uint32_t so_mt_u32(so_mt *m) {
    if (m->mti >= SO_MT_N) {
        regenerate(m);
    }
    uint32_t y = m->mt[m->mti++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

double so_mt_random(so_mt *m) {
    uint32_t a = so_mt_u32(m) >> 5, b = so_mt_u32(m) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

void so_mt_getrandbits_words(so_mt *m, int k, uint32_t *out) {
    SO_ASSERT(k >= 0);
    if (k == 0) {
        return;
    }
    int words = (k - 1) / 32 + 1;
    for (int i = 0; i < words; i++, k -= 32) {
        uint32_t r = so_mt_u32(m);
        if (k < 32) {
            r >>= (32 - k);
        }
        out[i] = r;
    }
}

uint64_t so_mt_getrandbits(so_mt *m, int k) {
    SO_ASSERT(k >= 0 && k <= 64);
    if (k == 0) {
        return 0;
    }
    if (k <= 32) {
        return so_mt_u32(m) >> (32 - k);
    }
    uint32_t w[2];
    so_mt_getrandbits_words(m, k, w);
    return (uint64_t)w[0] | ((uint64_t)w[1] << 32);
}

static int bit_length(uint64_t n) {
    return n ? 64 - __builtin_clzll(n) : 0;
}

uint64_t so_mt_randbelow(so_mt *m, uint64_t n) {
    SO_ASSERT(n >= 1);
    int k = bit_length(n);
    uint64_t r = so_mt_getrandbits(m, k);
    while (r >= n) {
        r = so_mt_getrandbits(m, k);
    }
    return r;
}

int64_t so_mt_randrange(so_mt *m, int64_t start, int64_t stop, int64_t step) {
    SO_ASSERT(step != 0);
    /* Python's floor division on exact integers; widths fit in 128 bits. */
    so__i128 width = (so__i128)stop - start, n;
    if (step == 1) {
        SO_ASSERT(width > 0);
        return (int64_t)(start + (so__i128)so_mt_randbelow(m, (uint64_t)width));
    }
    so__i128 num = step > 0 ? width + step - 1 : width + step + 1;
    n = num / step;
    if ((num % step != 0) && ((num < 0) != (step < 0))) {
        n -= 1; /* C truncates toward zero; Python floors */
    }
    SO_ASSERT(n > 0);
    return (int64_t)(start + (so__i128)step * (so__i128)so_mt_randbelow(m, (uint64_t)n));
}

int64_t so_mt_randint(so_mt *m, int64_t a, int64_t b) {
    SO_ASSERT(a <= b && b < INT64_MAX);
    return so_mt_randrange(m, a, b + 1, 1);
}

size_t so_mt_choice(so_mt *m, size_t n) {
    return (size_t)so_mt_randbelow(m, n);
}

void so_mt_shuffle(so_mt *m, void *base, size_t n, size_t size) {
    SO_ASSERT(size <= 256);
    unsigned char tmp[256], *b = base;
    for (size_t i = n > 0 ? n - 1 : 0; i >= 1; i--) {
        size_t j = (size_t)so_mt_randbelow(m, i + 1);
        memcpy(tmp, b + i * size, size);
        memcpy(b + i * size, b + j * size, size);
        memcpy(b + j * size, tmp, size);
    }
}

int so_mt_sample(so_mt *m, size_t n, size_t k, size_t *out) {
    if (k > n) {
        return so__fail(SO_EINVAL, "sample of %zu from a population of %zu", k, n);
    }
    /* random.py: setsize = 21, plus 4 ** ceil(log(3k, 4)) when k > 5; the pool branch is taken
     * when n <= setsize. math.log(x, 4) is log(x) / log(4) in double precision. */
    double setsize = 21;
    if (k > 5) {
        setsize += pow(4.0, ceil(log((double)(k * 3)) / log(4.0)));
    }
    if ((double)n <= setsize) {
        size_t *pool = malloc((n ? n : 1) * sizeof *pool);
        if (!pool) {
            return so__fail(SO_ENOMEM, "sample pool of %zu entries", n);
        }
        for (size_t i = 0; i < n; i++) {
            pool[i] = i;
        }
        for (size_t i = 0; i < k; i++) {
            size_t j = (size_t)so_mt_randbelow(m, n - i);
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
        return SO_OK;
    }
    /* Rejection with a set of the chosen indices: an open-addressing table of 4k slots. */
    size_t cap = 16;
    while (cap < 4 * k) {
        cap *= 2;
    }
    size_t *set = malloc(cap * sizeof *set);
    if (!set) {
        return so__fail(SO_ENOMEM, "sample set of %zu slots", cap);
    }
    for (size_t i = 0; i < cap; i++) {
        set[i] = SIZE_MAX;
    }
    for (size_t i = 0; i < k; i++) {
        for (;;) {
            size_t j = (size_t)so_mt_randbelow(m, n);
            size_t h = (j * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (set[h] != SIZE_MAX && set[h] != j) {
                h = (h + 1) & (cap - 1);
            }
            if (set[h] == j) {
                continue; /* already chosen: draw again */
            }
            set[h] = j;
            out[i] = j;
            break;
        }
    }
    free(set);
    return SO_OK;
}

double so_mt_uniform(so_mt *m, double a, double b) {
    return a + (b - a) * so_mt_random(m);
}

double so_mt_gauss(so_mt *m, double mu, double sigma) {
    double z;
    if (m->has_gauss) {
        z = m->gauss_next;
        m->has_gauss = 0;
    } else {
        const double twopi = 0x1.921fb54442d18p+2; /* random.TWOPI */
        double x2pi = so_mt_random(m) * twopi;
        double g2rad = sqrt(-2.0 * log(1.0 - so_mt_random(m)));
        z = cos(x2pi) * g2rad;
        m->gauss_next = sin(x2pi) * g2rad;
        m->has_gauss = 1;
    }
    return mu + z * sigma;
}

double so_mt_normalvariate(so_mt *m, double mu, double sigma) {
    const double nv_magic = 0x1.b72cd3f331398p+0; /* random.NV_MAGICCONST = 4 e^-0.5 / sqrt 2 */
    double z;
    for (;;) {
        double u1 = so_mt_random(m);
        double u2 = 1.0 - so_mt_random(m);
        z = nv_magic * (u1 - 0.5) / u2;
        double zz = z * z / 4.0;
        if (zz <= -log(u2)) {
            break;
        }
    }
    return mu + z * sigma;
}

double so_mt_expovariate(so_mt *m, double lambd) {
    return -log(1.0 - so_mt_random(m)) / lambd;
}

#define SO_MT_MAGIC 0x31544d4f53ull /* "SOMT1" */

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void so_mt_save(const so_mt *m, uint8_t out[SO_MT_STATE_BYTES]) {
    uint8_t *p = out;
    put64(p, SO_MT_MAGIC);
    p += 8;
    for (int i = 0; i < SO_MT_N; i++, p += 4) {
        put32(p, m->mt[i]);
    }
    put32(p, (uint32_t)m->mti);
    put32(p + 4, (uint32_t)m->has_gauss);
    uint64_t g;
    memcpy(&g, &m->gauss_next, 8);
    put64(p + 8, g);
}

int so_mt_load(so_mt *m, const uint8_t in[SO_MT_STATE_BYTES]) {
    const uint8_t *p = in;
    if (get64(p) != SO_MT_MAGIC) {
        return so__fail(SO_ECORRUPT, "Mersenne Twister state has a bad magic number");
    }
    p += 8;
    uint32_t mti = get32(p + 4 * SO_MT_N), hg = get32(p + 4 * SO_MT_N + 4);
    if (mti > SO_MT_N || hg > 1) {
        return so__fail(SO_ECORRUPT, "Mersenne Twister state has position %u (at most %d)", mti,
                        SO_MT_N);
    }
    for (int i = 0; i < SO_MT_N; i++, p += 4) {
        m->mt[i] = get32(p);
    }
    m->mti = (int)mti;
    m->has_gauss = (int)hg;
    uint64_t g = get64(p + 8);
    memcpy(&m->gauss_next, &g, 8);
    return SO_OK;
}
