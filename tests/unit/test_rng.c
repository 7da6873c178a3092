/* Tests of the random number generators: so_mt against vectors written by CPython 3.11 (every
 * method, seven seeds, bit for bit), the live generator diffed with the committed vectors, state
 * save/restore, and so_rng's range, bias, stream independence and normal moments. */
#include <errno.h>
#include <inttypes.h>

#include "so_test.h"

#ifndef SO_GOLDEN_DIR
#define SO_GOLDEN_DIR "tests/golden"
#endif

#define VEC_FILE SO_GOLDEN_DIR "/mt_vectors.txt"

/* Compares one produced value, as text in the generator's format, with the expected token. */
static int same_double(const char *tok, double got) {
    double want = strtod(tok, NULL);
    return memcmp(&want, &got, sizeof got) == 0;
}

static int same_int(const char *tok, long long got) {
    return strtoll(tok, NULL, 10) == got;
}

/* Hex of a multi-word little-endian integer, without leading zeros (Python's "%x"). */
static void words_hex(const uint32_t *w, int nw, char *buf) {
    int top = nw - 1;
    while (top > 0 && w[top] == 0) {
        top--;
    }
    int off = sprintf(buf, "%" PRIx32, w[top]);
    for (int i = top - 1; i >= 0; i--) {
        off += sprintf(buf + off, "%08" PRIx32, w[i]);
    }
}

/* Replays case `name` on a freshly seeded m; tok[0..ntok-1] are the expected values. Returns the
 * number of values checked, or -1 (with a message) on the first mismatch. */
static int replay(so_mt *m, const char *seed, const char *name, char **tok, int ntok) {
#define EXPECT_D(i, v)                                                                             \
    do {                                                                                           \
        double so__v = (v);                                                                        \
        if ((i) >= ntok || !same_double(tok[i], so__v)) {                                          \
            fprintf(stderr, "seed %s %s[%d]: want %s got %.17g\n", seed, name, (int)(i),           \
                    (i) < ntok ? tok[i] : "(none)", so__v);                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
#define EXPECT_I(i, v)                                                                             \
    do {                                                                                           \
        long long so__v = (long long)(v);                                                          \
        if ((i) >= ntok || !same_int(tok[i], so__v)) {                                             \
            fprintf(stderr, "seed %s %s[%d]: want %s got %lld\n", seed, name, (int)(i),            \
                    (i) < ntok ? tok[i] : "(none)", so__v);                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    int k, i;
    double a, b;
    long long x, y, z;
    if (!strcmp(name, "random")) {
        for (i = 0; i < ntok; i++) {
            EXPECT_D(i, so_mt_random(m));
        }
    } else if (sscanf(name, "getrandbits%d", &k) == 1) {
        for (i = 0; i < ntok; i++) {
            uint32_t w[8];
            char hex[80];
            so_mt_getrandbits_words(m, k, w);
            words_hex(w, (k + 31) / 32, hex);
            if (strcmp(hex, tok[i]) != 0) {
                fprintf(stderr, "seed %s %s[%d]: want %s got %s\n", seed, name, i, tok[i], hex);
                return -1;
            }
        }
        if (k <= 64) { /* the scalar form agrees with the word form */
            so_mt_seed_decimal(m, seed);
            for (i = 0; i < ntok; i++) {
                char hex[32];
                snprintf(hex, sizeof hex, "%" PRIx64, so_mt_getrandbits(m, k));
                if (strcmp(hex, tok[i]) != 0) {
                    fprintf(stderr, "seed %s %s[%d] (scalar): want %s got %s\n", seed, name, i,
                            tok[i], hex);
                    return -1;
                }
            }
        }
    } else if (!strcmp(name, "randrange_10")) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_randrange(m, 0, 10, 1));
        }
    } else if (sscanf(name, "randrange_%lld_%lld_%lld", &x, &y, &z) == 3) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_randrange(m, x, y, z));
        }
    } else if (!strcmp(name, "randrange_0_2p40")) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_randrange(m, 0, 1ll << 40, 1));
        }
    } else if (!strcmp(name, "randrange_0_2p62p3")) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_randrange(m, 0, (1ll << 62) + 3, 1));
        }
    } else if (sscanf(name, "randrange_%lld_%lld", &x, &y) == 2) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_randrange(m, x, y, 1));
        }
    } else if (sscanf(name, "randint_%lld_%lld", &x, &y) == 2) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_randint(m, x, y));
        }
    } else if (sscanf(name, "choice_%lld", &x) == 1) {
        for (i = 0; i < ntok; i++) {
            EXPECT_I(i, so_mt_choice(m, (size_t)x));
        }
    } else if (sscanf(name, "shuffle_%lld", &x) == 1) {
        int v[128];
        for (i = 0; i < x; i++) {
            v[i] = i;
        }
        so_mt_shuffle(m, v, (size_t)x, sizeof v[0]);
        for (i = 0; i < x; i++) {
            EXPECT_I(i, v[i]);
        }
    } else if (sscanf(name, "sample_%lld_%lld", &x, &y) == 2) {
        size_t out[64];
        if (so_mt_sample(m, (size_t)x, (size_t)y, out) < 0) {
            return -1;
        }
        for (i = 0; i < y; i++) {
            EXPECT_I(i, out[i]);
        }
    } else if (sscanf(name, "uniform_%lf_%lf", &a, &b) == 2) {
        for (i = 0; i < ntok; i++) {
            EXPECT_D(i, so_mt_uniform(m, a, b));
        }
    } else if (sscanf(name, "gauss_%lf_%lf", &a, &b) == 2) {
        for (i = 0; i < ntok; i++) {
            EXPECT_D(i, so_mt_gauss(m, a, b));
        }
    } else if (sscanf(name, "normalvariate_%lf_%lf", &a, &b) == 2) {
        for (i = 0; i < ntok; i++) {
            EXPECT_D(i, so_mt_normalvariate(m, a, b));
        }
    } else if (sscanf(name, "expovariate_%lf", &a) == 1) {
        for (i = 0; i < ntok; i++) {
            EXPECT_D(i, so_mt_expovariate(m, a));
        }
    } else if (!strcmp(name, "mixed")) {
        EXPECT_D(0, so_mt_random(m));
        EXPECT_D(1, so_mt_gauss(m, 0, 1));
        EXPECT_I(2, so_mt_randint(m, 1, 100));
        EXPECT_D(3, so_mt_gauss(m, 0, 1));
        EXPECT_D(4, so_mt_gauss(m, 0, 1));
        EXPECT_D(5, so_mt_uniform(m, 2, 3));
        EXPECT_I(6, so_mt_choice(m, 5));
        i = 7;
    } else {
        fprintf(stderr, "unknown case '%s' in %s\n", name, VEC_FILE);
        return -1;
    }
    if (i != ntok) {
        fprintf(stderr, "seed %s %s: checked %d of %d values\n", seed, name, i, ntok);
        return -1;
    }
    return i;
#undef EXPECT_D
#undef EXPECT_I
}

static int t_cpython_vectors(void) {
    FILE *f = fopen(VEC_FILE, "r");
    if (!f) {
        SO_TEST_FAIL_("cannot open %s: %s", VEC_FILE, strerror(errno));
    }
    char line[8192];
    int cases = 0, values = 0, seeds_seen = 0;
    char last_seed[64] = "";
    so_mt m;
    while (fgets(line, sizeof line, f)) {
        char *tok[512];
        int ntok = 0;
        for (char *s = strtok(line, " \n"); s && ntok < 512; s = strtok(NULL, " \n")) {
            tok[ntok++] = s;
        }
        if (ntok < 3) {
            continue;
        }
        CHECK_OK(so_mt_seed_decimal(&m, tok[0]));
        if (strcmp(last_seed, tok[0]) != 0) {
            snprintf(last_seed, sizeof last_seed, "%s", tok[0]);
            seeds_seen++;
        }
        int got = replay(&m, tok[0], tok[1], tok + 2, ntok - 2);
        if (got < 0) {
            fclose(f);
            return 1;
        }
        cases++;
        values += got;
    }
    fclose(f);
    printf("%d cases, %d values, %d seeds match CPython bit for bit\n", cases, values, seeds_seen);
    CHECK(seeds_seen == 7);
    CHECK(cases >= 200);
    return 0;
}

static int t_live_python(void) {
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        SKIP("python3 not found");
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 %s/gen_mt_vectors.py | cmp -s - %s", SO_GOLDEN_DIR,
             VEC_FILE);
    int rc = system(cmd);
    if (rc != 0) {
        SO_TEST_FAIL_("CPython's output differs from %s (regenerate with gen_mt_vectors.py and "
                      "look at the diff)",
                      VEC_FILE);
    }
    return 0;
}

static int t_mt_known(void) {
    /* The reference MT19937 test: init_by_array({0x123, 0x234, 0x345, 0x456}), first output. */
    so_mt m;
    uint32_t key[4] = {0x123, 0x234, 0x345, 0x456};
    so_mt_seed_words(&m, key, 4);
    CHECK_EQ_INT(so_mt_u32(&m), 1067595299u);
    CHECK_EQ_INT(so_mt_u32(&m), 955945823u);
    /* seed(0), seed with a zero high word and seed_i64(-s) all equal their |s| seeding. */
    so_mt a, b;
    so_mt_seed(&a, 5);
    so_mt_seed_i64(&b, -5);
    CHECK_EQ_INT(so_mt_u32(&a), so_mt_u32(&b));
    CHECK_EQ_INT(so_mt_seed_decimal(&a, "12x"), SO_EINVAL);
    CHECK_EQ_INT(so_mt_seed_decimal(&a, ""), SO_EINVAL);
    size_t out[4];
    CHECK_EQ_INT(so_mt_sample(&a, 3, 4, out), SO_EINVAL);
    return 0;
}

static int t_mt_state(void) {
    so_mt m, r;
    so_mt_seed(&m, 42);
    for (int i = 0; i < 1000; i++) {
        so_mt_random(&m);
    }
    so_mt_gauss(&m, 0, 1); /* leaves a cached value that must survive the round trip */
    uint8_t buf[SO_MT_STATE_BYTES];
    so_mt_save(&m, buf);
    CHECK_OK(so_mt_load(&r, buf));
    for (int i = 0; i < 700; i++) {
        double x = so_mt_gauss(&m, 0, 1), y = so_mt_gauss(&r, 0, 1);
        CHECK_MEM_EQ(&x, &y, sizeof x);
    }
    buf[0] ^= 1;
    CHECK_EQ_INT(so_mt_load(&r, buf), SO_ECORRUPT);
    /* Reseeding clears the gauss cache (CPython resets gauss_next in seed()). */
    so_mt_seed(&m, 9);
    double g1 = so_mt_gauss(&m, 0, 1);
    so_mt_seed(&m, 9);
    double g2 = so_mt_gauss(&m, 0, 1);
    CHECK_MEM_EQ(&g1, &g2, sizeof g1);
    return 0;
}

static int t_rng_basic(void) {
    so_rng r, s;
    so_rng_seed(&r, 0);
    so_rng_seed(&s, 0);
    CHECK(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
    CHECK_EQ_INT(so_rng_u64(&r), so_rng_u64(&s)); /* deterministic */
    /* Reference output of xoshiro256** from state {1, 2, 3, 4}: 11520, 0, 1509978240. */
    so_rng t = {{1, 2, 3, 4}};
    CHECK_EQ_INT(so_rng_u64(&t), 11520);
    CHECK_EQ_INT(so_rng_u64(&t), 0);
    CHECK_EQ_INT(so_rng_u64(&t), 1509978240);
    for (int i = 0; i < 100000; i++) {
        double d = so_rng_double(&r);
        float f = so_rng_float(&r);
        CHECK(d >= 0.0 && d < 1.0);
        CHECK(f >= 0.0f && f < 1.0f);
        CHECK(so_rng_below(&r, 7) < 7);
    }
    CHECK_EQ_INT(so_rng_below(&r, 0), 0);
    CHECK_EQ_INT(so_rng_below(&r, 1), 0);
    return 0;
}

static int t_rng_unbiased(void) {
    /* n = 3 * 2^62 is where modulo reduction is badly biased (values below 2^62 twice as likely).
     * With rejection each third of the range gets 1/3 of the draws. */
    so_rng r;
    so_rng_seed(&r, 7);
    uint64_t n = 3ull << 62, third = 1ull << 62;
    int cnt[3] = {0, 0, 0};
    const int N = 300000;
    for (int i = 0; i < N; i++) {
        uint64_t v = so_rng_below(&r, n);
        CHECK(v < n);
        cnt[v / third]++;
    }
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(cnt[i], N / 3.0, 5 * sqrt(N * (1.0 / 3) * (2.0 / 3))); /* 5 sigma */
    }
    /* Chi-square of a die: 6 faces, 600k rolls, 5 degrees of freedom; 30 is far in the tail. */
    int die[6] = {0};
    for (int i = 0; i < 600000; i++) {
        die[so_rng_below(&r, 6)]++;
    }
    double chi = 0;
    for (int i = 0; i < 6; i++) {
        chi += (die[i] - 1e5) * (die[i] - 1e5) / 1e5;
    }
    CHECK(chi < 30.0);
    return 0;
}

static int t_rng_streams(void) {
    /* Stream k equals seed + k jumps; different streams do not share a prefix. */
    so_rng a, b, c;
    so_rng_seed_stream(&a, 42, 2);
    so_rng_seed(&b, 42);
    so_rng_jump(&b);
    so_rng_jump(&b);
    CHECK_MEM_EQ(a.s, b.s, sizeof a.s);
    so_rng_seed_stream(&c, 42, 3);
    uint64_t xa[64], xc[64];
    for (int i = 0; i < 64; i++) {
        xa[i] = so_rng_u64(&a);
        xc[i] = so_rng_u64(&c);
    }
    for (int i = 0; i < 64; i++) {
        for (int j = 0; j < 64; j++) {
            CHECK(xa[i] != xc[j]);
        }
    }
    so_rng d;
    so_rng_seed(&d, 42);
    so_rng e = d;
    so_rng_long_jump(&e);
    CHECK(memcmp(d.s, e.s, sizeof d.s) != 0);
    so_rng f = so_rng_split(&d);
    CHECK(so_rng_u64(&f) != so_rng_u64(&d));
    return 0;
}

static int t_rng_normal(void) {
    so_rng r;
    so_rng_seed(&r, 1);
    size_t n = 1000001; /* odd: the last value comes from a half-used pair */
    float *x = malloc(n * sizeof *x);
    CHECK(x != NULL);
    so_rng_fill_normal_f32(&r, x, n, 3.0f, 2.0f);
    so_welford w;
    so_welford_init(&w);
    size_t within1 = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(isfinite(x[i]));
        so_welford_add(&w, x[i]);
        within1 += fabsf(x[i] - 3.0f) < 2.0f;
    }
    free(x);
    CHECK_NEAR(w.mean, 3.0, 0.01); /* sd of the mean is 0.002 */
    CHECK_NEAR(so_welford_std(&w, 0), 2.0, 0.01);
    CHECK_NEAR((double)within1 / (double)n, 0.682689, 0.003); /* P(|z| < 1) */
    double s = 0, s2 = 0;
    for (int i = 0; i < 200000; i++) {
        double z = so_rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    CHECK_NEAR(s / 200000, 0.0, 0.015);
    CHECK_NEAR(s2 / 200000, 1.0, 0.02);
    float u[1000];
    so_rng_fill_uniform_f32(&r, u, 1000, -2.0f, 5.0f);
    for (int i = 0; i < 1000; i++) {
        CHECK(u[i] >= -2.0f && u[i] < 5.0f);
    }
    return 0;
}

static int t_rng_shuffle(void) {
    so_rng r;
    so_rng_seed(&r, 3);
    /* Each of the 6 orders of 3 items appears about 1/6 of the time. */
    int hits[6] = {0};
    for (int t = 0; t < 60000; t++) {
        int v[3] = {0, 1, 2};
        so_rng_shuffle(&r, v, 3, sizeof v[0]);
        hits[v[0] * 2 + (v[1] > v[2])]++;
    }
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(hits[i], 10000, 500);
    }
    uint32_t p[1000];
    int seen[1000] = {0};
    so_rng_permutation(&r, p, 1000);
    for (int i = 0; i < 1000; i++) {
        CHECK(p[i] < 1000 && !seen[p[i]]);
        seen[p[i]] = 1;
    }
    return 0;
}

static int t_book_bsp(void) {
    /* Book 2.2.1 (PYR, seed 7): base compute [20, 22, 21, 38] ms plus uniform(-2, 2) jitter per
     * worker and step, then 6 ms of communication; supersteps 42.29 / 44.03 / 42.36 ms, total
     * 128.68 ms. The draws are taken worker by worker, step by step, as the listing does. */
    static const double base[4] = {20, 22, 21, 38};
    static const char *want[3] = {"42.29", "44.03", "42.36"};
    so_mt m;
    so_mt_seed(&m, 7);
    double total = 0;
    char buf[32];
    for (int step = 0; step < 3; step++) {
        double mx = 0;
        for (int w = 0; w < 4; w++) {
            double t = base[w] + so_mt_uniform(&m, -2, 2);
            mx = t > mx ? t : mx;
        }
        snprintf(buf, sizeof buf, "%.2f", mx + 6);
        CHECK_STR_EQ(buf, want[step]);
        total += mx + 6;
    }
    snprintf(buf, sizeof buf, "%.2f", total);
    CHECK_STR_EQ(buf, "128.68");
    return 0;
}

SO_TEST_MAIN({"cpython_vectors", t_cpython_vectors}, {"live_python", t_live_python},
             {"mt_known", t_mt_known}, {"mt_state", t_mt_state}, {"rng_basic", t_rng_basic},
             {"rng_unbiased", t_rng_unbiased}, {"rng_streams", t_rng_streams},
             {"rng_normal", t_rng_normal}, {"rng_shuffle", t_rng_shuffle}, {"book_bsp", t_book_bsp})
