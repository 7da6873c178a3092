/*
 * Random numbers (src/core/rng.c, src/core/mt19937.c). Two generators with different jobs:
 *
 * so_rng — fast generator for bulk data (xoshiro256**, seeded through splitmix64). Use it to fill
 * tensors, draw batches and shuffle datasets. so_rng_seed_stream(r, seed, k) gives stream k of one
 * seed: the generator jumped k times by 2^128 steps, so per-rank streams never overlap.
 *
 *   so_rng r; so_rng_seed_stream(&r, 42, rank);
 *   so_rng_fill_normal_f32(&r, w, n, 0.0f, 0.02f);
 *
 * so_mt — CPython-compatible Mersenne Twister. With the same integer seed it returns bit for bit
 * what CPython 3.11's `random` module returns for random(), getrandbits(), randrange(), randint(),
 * choice(), shuffle(), sample(), uniform(), gauss(), normalvariate() and expovariate(). The book's
 * programs seeded with random.seed(s) (tag PYR) are reproduced with it exactly.
 *
 *   so_mt m; so_mt_seed(&m, 7);          // random.seed(7)
 *   double u = so_mt_random(&m);         // random.random()
 *   int64_t k = so_mt_randint(&m, 50, 5000);
 *
 * Both are plain values in caller storage: copying the struct saves the state (checkpoints);
 * so_mt_save/so_mt_load give a portable byte form. Thread safety: a generator is not shared
 * between threads without a lock; different generators are independent.
 */
#ifndef SCALEOUT_RNG_H
#define SCALEOUT_RNG_H

#include <stddef.h>
#include <stdint.h>

/* ---- so_rng: xoshiro256** ---- */

typedef struct so_rng {
    uint64_t s[4];
} so_rng;

/* Seeds from a 64-bit seed (the four state words are successive splitmix64 outputs). */
void so_rng_seed(so_rng *r, uint64_t seed);
/* Seeds, then jumps `stream` times by 2^128 steps: stream k of a seed is independent of stream j
 * for 2^128 draws. Cost: O(stream) jumps of 256 steps each (use the rank, not huge numbers). */
void so_rng_seed_stream(so_rng *r, uint64_t seed, uint64_t stream);
/* Advances by 2^128 steps (jump) or 2^192 steps (long jump). */
void so_rng_jump(so_rng *r);
void so_rng_long_jump(so_rng *r);
/* A new generator seeded from this one's output (a cheap fork; streams are independent with very
 * high probability, not by construction like jumps). */
so_rng so_rng_split(so_rng *r);

uint64_t so_rng_u64(so_rng *r);
uint32_t so_rng_u32(so_rng *r);
/* Uniform in [0, 1) with 53 (double) or 24 (float) random bits. */
double so_rng_double(so_rng *r);
float so_rng_float(so_rng *r);
/* Uniform integer in [0, n) without bias (Lemire's multiply-and-reject); n = 0 returns 0. */
uint64_t so_rng_below(so_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call; the pair's second value is discarded). */
double so_rng_normal(so_rng *r);
/* x[i] = mean + std * N(0,1) for n floats; Box-Muller in pairs (30-40M values/s on one loaded
 * core of the build machine; libm logf/sinf/cosf dominate). */
void so_rng_fill_normal_f32(so_rng *r, float *x, size_t n, float mean, float std);
/* x[i] uniform in [lo, hi). */
void so_rng_fill_uniform_f32(so_rng *r, float *x, size_t n, float lo, float hi);
/* Fisher-Yates shuffle of n elements of `size` bytes each (size <= 256). */
void so_rng_shuffle(so_rng *r, void *base, size_t n, size_t size);
/* perm[i] = a uniformly random permutation of 0..n-1. */
void so_rng_permutation(so_rng *r, uint32_t *perm, size_t n);

/* ---- so_mt: CPython-compatible MT19937 ---- */

#define SO_MT_N 624

typedef struct so_mt {
    uint32_t mt[SO_MT_N];
    int mti;
    int has_gauss; /* gauss() caches its second value, like CPython's gauss_next */
    double gauss_next;
} so_mt;

/* random.seed(seed) for an integer seed (CPython takes |seed|; so does so_mt_seed_i64). */
void so_mt_seed(so_mt *m, uint64_t seed);
void so_mt_seed_i64(so_mt *m, int64_t seed);
/* random.seed(n) for an integer of any size given as 32-bit words, least significant first
 * (trailing zero words are ignored; no words or all zero means seed 0). */
void so_mt_seed_words(so_mt *m, const uint32_t *words, size_t nwords);
/* random.seed(n) for n written in decimal ("-340282366920938463463374607431768211297");
 * SO_EINVAL if the text is not an integer or needs more than 4096 bits. */
int so_mt_seed_decimal(so_mt *m, const char *text);

/* The next raw 32-bit output of MT19937 (genrand_uint32). */
uint32_t so_mt_u32(so_mt *m);
/* random.random(): a double in [0, 1) with 53 random bits. */
double so_mt_random(so_mt *m);
/* random.getrandbits(k) for 0 <= k <= 64. */
uint64_t so_mt_getrandbits(so_mt *m, int k);
/* random.getrandbits(k) for any k >= 0 as ceil(k/32) little-endian 32-bit words in out. */
void so_mt_getrandbits_words(so_mt *m, int k, uint32_t *out);
/* random._randbelow(n) for n >= 1: getrandbits(bit_length(n)) until the value is below n. */
uint64_t so_mt_randbelow(so_mt *m, uint64_t n);
/* random.randrange(start, stop, step); step != 0 and the range must be non-empty (asserted). */
int64_t so_mt_randrange(so_mt *m, int64_t start, int64_t stop, int64_t step);
/* random.randint(a, b), a <= b. */
int64_t so_mt_randint(so_mt *m, int64_t a, int64_t b);
/* The index random.choice(seq) takes for len(seq) == n (n >= 1). */
size_t so_mt_choice(so_mt *m, size_t n);
/* random.shuffle(x) of n elements of `size` bytes each (size <= 256), in place. */
void so_mt_shuffle(so_mt *m, void *base, size_t n, size_t size);
/* random.sample(range(n), k) into out[0..k-1] (indices into the population; k <= n), with
 * CPython 3.11's two branches (pool when n is small against k, else a rejection set).
 * SO_EINVAL if k > n, SO_ENOMEM if the scratch allocation fails. */
int so_mt_sample(so_mt *m, size_t n, size_t k, size_t *out);
/* random.uniform(a, b) = a + (b - a) * random(). */
double so_mt_uniform(so_mt *m, double a, double b);
/* random.gauss(mu, sigma): Box-Muller that returns the cosine value and caches the sine value for
 * the next call; seeding clears the cache. */
double so_mt_gauss(so_mt *m, double mu, double sigma);
/* random.normalvariate(mu, sigma): Kinderman-Monahan ratio of uniforms. */
double so_mt_normalvariate(so_mt *m, double mu, double sigma);
/* random.expovariate(lambd) = -log(1 - random()) / lambd. */
double so_mt_expovariate(so_mt *m, double lambd);

/* Portable state (random.getstate()): 624 words, the position and the gauss cache, little-endian,
 * behind a magic number. so_mt_load returns SO_ECORRUPT for a buffer it did not write. */
#define SO_MT_STATE_BYTES (8 + 4 * SO_MT_N + 4 + 4 + 8)
void so_mt_save(const so_mt *m, uint8_t out[SO_MT_STATE_BYTES]);
int so_mt_load(so_mt *m, const uint8_t in[SO_MT_STATE_BYTES]);

#endif
