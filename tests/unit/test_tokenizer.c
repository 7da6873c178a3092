/*
 * Tokenizer tests: byte-level round trip of every byte value and of random binary data; BPE on
 * the textbook example "aaabdaaabac" (merges aa, ab, then (aa)(ab), worked by hand below); BPE
 * trained on a fortunes prefix round-trips arbitrary binary input and compresses text; save/load
 * reproduces the encoding and rejects corrupt files; invalid merges are refused.
 */
#include <string.h>
#include <unistd.h>

#include "scaleout/data.h"
#include "so_test.h"

static uint64_t rs = 12345;
static uint8_t rnd_byte(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(rs >> 56);
}

static int roundtrip(const so_tokenizer *t, const uint8_t *x, size_t n, size_t *ntok) {
    int32_t *ids;
    size_t k;
    CHECK_OK(so_tokenizer_encode(t, x, n, &ids, &k));
    for (size_t i = 0; i < k; i++) {
        CHECK(ids[i] >= 0 && ids[i] < so_tokenizer_vocab(t));
    }
    uint8_t *y;
    size_t m;
    CHECK_OK(so_tokenizer_decode(t, ids, k, &y, &m));
    CHECK_EQ_INT(m, n);
    CHECK_MEM_EQ(x, y, n);
    free(ids);
    free(y);
    if (ntok) {
        *ntok = k;
    }
    return 0;
}

static int t_byte(void) {
    so_tokenizer *t;
    CHECK_OK(so_tokenizer_create_byte(&t));
    CHECK_EQ_INT(so_tokenizer_vocab(t), 256);
    CHECK_STR_EQ(so_tokenizer_kind(t), "byte");
    uint8_t all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (uint8_t)i;
    }
    size_t k;
    if (roundtrip(t, all, 256, &k)) {
        return 1;
    }
    CHECK_EQ_INT(k, 256);
    uint8_t r[5000];
    for (size_t i = 0; i < sizeof r; i++) {
        r[i] = rnd_byte();
    }
    if (roundtrip(t, r, sizeof r, NULL) || roundtrip(t, r, 0, NULL)) {
        return 1;
    }
    int32_t bad[2] = {65, 256};
    uint8_t *y;
    size_t m;
    CHECK_EQ_INT(so_tokenizer_decode(t, bad, 2, &y, &m), SO_EINVAL);
    CHECK(strstr(so_last_error(), "256"));
    so_tokenizer_destroy(t);
    return 0;
}

/* "aaabdaaabac": pair counts aa 4 (overlapping), ab 2, others 1 -> merge aa = 256, giving
 * [256 a b d 256 a b a c]; then (256,a) and (a,b) both occur twice, the smaller pair (97,98) wins
 * -> 257, giving [256 257 d 256 257 a c]; then (256,257) twice -> 258, giving [258 d 258 a c];
 * then no pair occurs twice, so training stops at vocabulary 259 even though 300 was asked. */
static int t_bpe_known(void) {
    const char *s = "aaabdaaabac";
    so_tokenizer *t;
    CHECK_OK(so_tokenizer_train_bpe((const uint8_t *)s, strlen(s), 300, &t));
    CHECK_EQ_INT(so_tokenizer_vocab(t), 259);
    const int32_t *pairs;
    CHECK_EQ_INT(so_tokenizer_merges(t, &pairs), 3);
    const int32_t want[6] = {'a', 'a', 'a', 'b', 256, 257};
    CHECK_MEM_EQ(pairs, want, sizeof want);
    int32_t *ids;
    size_t k;
    CHECK_OK(so_tokenizer_encode(t, (const uint8_t *)s, strlen(s), &ids, &k));
    const int32_t enc[5] = {258, 'd', 258, 'a', 'c'};
    CHECK_EQ_INT(k, 5);
    CHECK_MEM_EQ(ids, enc, sizeof enc);
    free(ids);
    size_t len;
    const uint8_t *tok = so_tokenizer_token(t, 258, &len);
    CHECK_EQ_INT(len, 4);
    CHECK(memcmp(tok, "aaab", 4) == 0);
    so_tokenizer_destroy(t);
    CHECK_EQ_INT(so_tokenizer_train_bpe((const uint8_t *)s, 3, 100, &t), SO_EINVAL);
    return 0;
}

static int t_bpe_fortunes(void) {
    so_bytes text;
    if (so_corpus_load_fortunes(NULL, &text) < 0) {
        SKIP("the fortunes package is not installed");
    }
    size_t n = text.n < 200000 ? text.n : 200000;
    so_tokenizer *t;
    CHECK_OK(so_tokenizer_train_bpe(text.data, n, 512, &t));
    CHECK_EQ_INT(so_tokenizer_vocab(t), 512);
    size_t k;
    /* Held-out text (after the training prefix) compresses, and round-trips. */
    size_t m = text.n - n < 100000 ? text.n - n : 100000;
    if (roundtrip(t, text.data + n, m, &k)) {
        return 1;
    }
    printf("bpe 512: %zu bytes -> %zu tokens (%.2f bytes/token)\n", m, k, (double)m / (double)k);
    CHECK(k < m * 6 / 10);
    /* Arbitrary binary input, including bytes the training text never had. */
    uint8_t r[20000];
    for (size_t i = 0; i < sizeof r; i++) {
        r[i] = rnd_byte();
    }
    if (roundtrip(t, r, sizeof r, NULL)) {
        return 1;
    }
    for (int i = 0; i < 50; i++) {
        size_t len = rnd_byte() % 64, off = (size_t)rnd_byte() * 37;
        if (roundtrip(t, text.data + off, len, NULL)) {
            return 1;
        }
    }
    so_tokenizer_destroy(t);
    so_bytes_deinit(&text);
    return 0;
}

static int t_save_load(void) {
    const char *s = "the cat sat on the mat; the cat ate the rat. the end, the end!";
    so_tokenizer *t, *u;
    CHECK_OK(so_tokenizer_train_bpe((const uint8_t *)s, strlen(s), 280, &t));
    char dir[] = "/tmp/so_test_tok.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/tok.txt", dir);
    CHECK_OK(so_tokenizer_save(t, p));
    CHECK_OK(so_tokenizer_load(p, &u));
    CHECK_EQ_INT(so_tokenizer_vocab(u), so_tokenizer_vocab(t));
    CHECK_STR_EQ(so_tokenizer_kind(u), "bpe");
    const int32_t *pa, *pb;
    int na = so_tokenizer_merges(t, &pa), nb = so_tokenizer_merges(u, &pb);
    CHECK_EQ_INT(na, nb);
    CHECK_MEM_EQ(pa, pb, 2 * (size_t)na * sizeof *pa);
    so_tokenizer_destroy(u);
    /* A flipped digit in the merges: checksum error. */
    FILE *f = fopen(p, "r+");
    fseek(f, -3, SEEK_END);
    int c = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(c == '1' ? '2' : '1', f);
    fclose(f);
    CHECK_EQ_INT(so_tokenizer_load(p, &u), SO_ECORRUPT);
    f = fopen(p, "w");
    fprintf(f, "scaleout-tokenizer 2 bpe 256 0 00000000\n");
    fclose(f);
    CHECK_EQ_INT(so_tokenizer_load(p, &u), SO_ENOTSUP);
    f = fopen(p, "w");
    fprintf(f, "hello\n");
    fclose(f);
    CHECK_EQ_INT(so_tokenizer_load(p, &u), SO_EPROTO);
    /* The byte tokenizer saves and loads too. */
    so_tokenizer *b;
    CHECK_OK(so_tokenizer_create_byte(&b));
    CHECK_OK(so_tokenizer_save(b, p));
    CHECK_OK(so_tokenizer_load(p, &u));
    CHECK_STR_EQ(so_tokenizer_kind(u), "byte");
    CHECK_EQ_INT(so_tokenizer_vocab(u), 256);
    so_tokenizer_destroy(u);
    so_tokenizer_destroy(b);
    so_tokenizer_destroy(t);
    unlink(p);
    rmdir(dir);
    /* Merges that refer to tokens not yet defined. */
    int32_t bad[4] = {97, 98, 300, 1};
    CHECK_EQ_INT(so_tokenizer_from_merges(bad, 2, &u), SO_EINVAL);
    return 0;
}

/* Random flips and cuts of a saved tokenizer: load fails cleanly or yields a usable tokenizer. */
static int t_load_fuzz(void) {
    const char *s = "she sells sea shells by the sea shore; the shells she sells are sea shells";
    so_tokenizer *t, *u;
    CHECK_OK(so_tokenizer_train_bpe((const uint8_t *)s, strlen(s), 300, &t));
    char dir[] = "/tmp/so_test_tok.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/tok.txt", dir);
    CHECK_OK(so_tokenizer_save(t, p));
    FILE *f = fopen(p, "rb");
    unsigned char good[4096];
    size_t n = fread(good, 1, sizeof good, f);
    fclose(f);
    int rejected = 0;
    for (int it = 0; it < 500; it++) {
        unsigned char m[4096];
        memcpy(m, good, n);
        size_t len = n;
        m[rnd_byte() % n] ^= (unsigned char)(1 + rnd_byte() % 255);
        if (it % 3 == 0) {
            len = (size_t)rnd_byte() * n / 256;
        }
        f = fopen(p, "wb");
        fwrite(m, 1, len, f);
        fclose(f);
        if (so_tokenizer_load(p, &u) == SO_OK) {
            if (roundtrip(u, (const uint8_t *)s, strlen(s), NULL)) { /* still a valid tokenizer */
                return 1;
            }
            so_tokenizer_destroy(u);
        } else {
            rejected++;
        }
    }
    CHECK(rejected > 450);
    unlink(p);
    rmdir(dir);
    so_tokenizer_destroy(t);
    return 0;
}

SO_TEST_MAIN({"byte", t_byte}, {"load_fuzz", t_load_fuzz}, {"bpe_known", t_bpe_known},
             {"bpe_fortunes", t_bpe_fortunes}, {"save_load", t_save_load})
