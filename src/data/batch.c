/*
 * Deterministic shuffling and batching: permutations (Fisher-Yates over xoshiro256**), an epoch
 * batcher over table rows, and random windows for language-model training.
 *
 * Every draw is a pure function of (seed, epoch) or (seed, step): the generator is seeded afresh
 * from a splitmix64 mix of those numbers, so a run resumed at step s draws the same batches as a
 * run that never stopped, with no generator state to save. Cost: O(n) per permutation, O(B) per LM
 * batch plus the B*T copy. Limits: windows are drawn with replacement (as nanoGPT's get_batch).
 */
#include <math.h>
#include <string.h>

#include "scaleout/data.h"

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t mix2(uint64_t a, uint64_t b) {
    return mix64(a ^ mix64(b ^ 0x5851F42D4C957F2Dull));
}

void so_permutation(size_t n, uint64_t seed, size_t *perm) {
    so_rng r;
    so_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)so_rng_below(&r, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

int so_batcher_init(so_batcher *b, size_t n, size_t batch, uint64_t seed, int drop_last) {
    memset(b, 0, sizeof *b);
    if (batch == 0 || n == 0 || (drop_last && batch > n)) {
        return so__fail(SO_EINVAL, "batch of %zu over %zu rows%s gives no batches", batch, n,
                        drop_last ? " with drop_last" : "");
    }
    b->perm = malloc(n * sizeof *b->perm);
    if (!b->perm) {
        return so__fail(SO_ENOMEM, "no memory for a batcher over %zu rows", n);
    }
    b->n = n;
    b->batch = batch;
    b->seed = seed;
    b->drop_last = drop_last;
    so_permutation(n, mix2(seed, 0), b->perm);
    return SO_OK;
}

size_t so_batcher_next(so_batcher *b, const size_t **idx) {
    size_t left = b->n - b->pos;
    if (left == 0 || (b->drop_last && left < b->batch)) {
        b->epoch++;
        b->pos = 0;
        so_permutation(b->n, mix2(b->seed, (uint64_t)b->epoch), b->perm);
        left = b->n;
    }
    size_t k = left < b->batch ? left : b->batch;
    *idx = b->perm + b->pos;
    b->pos += k;
    return k;
}

int64_t so_batcher_epoch(const so_batcher *b) {
    size_t left = b->n - b->pos;
    return b->epoch + ((left == 0 || (b->drop_last && left < b->batch)) ? 1 : 0);
}

void so_batcher_deinit(so_batcher *b) {
    free(b->perm);
    memset(b, 0, sizeof *b);
}

int so_lm_batch(const int32_t *tokens, size_t n, int B, int T, uint64_t seed, uint64_t step,
                int32_t *x, int32_t *y) {
    if (B <= 0 || T <= 0 || n <= (size_t)T) {
        return so__fail(SO_EINVAL, "cannot draw windows of %d+1 tokens from %zu tokens", T, n);
    }
    so_rng r;
    so_rng_seed(&r, mix2(seed, step));
    const uint64_t starts = n - (size_t)T; /* start in [0, n-T-1] so start+T < n */
    for (int b = 0; b < B; b++) {
        size_t s = (size_t)so_rng_below(&r, starts);
        memcpy(x + (size_t)b * T, tokens + s, (size_t)T * sizeof *x);
        memcpy(y + (size_t)b * T, tokens + s + 1, (size_t)T * sizeof *y);
    }
    return SO_OK;
}

double so_unigram_entropy(const int32_t *tokens, size_t n, int vocab) {
    if (n == 0 || vocab <= 0) {
        return 0;
    }
    size_t *count = calloc((size_t)vocab, sizeof *count);
    if (!count) {
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] >= 0 && tokens[i] < vocab) {
            count[tokens[i]]++;
        }
    }
    double h = 0;
    for (int v = 0; v < vocab; v++) {
        if (count[v]) {
            double p = (double)count[v] / (double)n;
            h -= p * log(p);
        }
    }
    free(count);
    return h;
}
