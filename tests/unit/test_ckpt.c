/*
 * Checkpoint tests: CRC-32 vector; round trip of tensors of every dtype and metadata; atomic
 * replace (no temp file left, previous kept); rejection with a clear error of every truncation,
 * flipped bytes (the checksum names the tensor), bad magic, unknown version, missing tensor and
 * shape mismatch; a fuzz loop of random flips and cuts that must always fail cleanly; fallback to
 * the previous checkpoint; SIGKILL during repeated saves never leaves an unreadable file; bitwise
 * resume of an Adam run on a noisy quadratic in a fresh process; safetensors round trip, a
 * hand-written file, and its rejection cases.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <ftw.h>
#include <unistd.h>

#include "scaleout/ckpt.h"
#include "scaleout/optim.h"
#include "so_test.h"

static char g_dir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the temporary directory at exit (checkpoints here reach 4 MiB). */
static void rm_tmpdir(void) {
    if (g_dir[0]) {
        nftw(g_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
}

static const char *tmpdir(void) {
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/so_test_ckpt.XXXXXX");
        SO_ASSERT(mkdtemp(g_dir) != NULL);
        atexit(rm_tmpdir);
    }
    return g_dir;
}

static void path_in(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir(), name);
}

static uint64_t rng_state = 42;
static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A small checkpoint with several dtypes in memory: buf, len. */
static float f32a[12];
static double f64a[3] = {1.5, -2.25, 1e300};
static int64_t i64a[2] = {-7, INT64_MAX};
static uint16_t bf16a[5] = {0x3f80, 0xbf80, 0, 0x7fc0, 1};
static uint8_t u8a[7] = {1, 2, 3, 4, 5, 6, 7};
static int32_t scalar = 12345;

static int build(so_ckpt_writer **wo) {
    for (int i = 0; i < 12; i++) {
        f32a[i] = (float)i * 0.5f - 3.0f;
    }
    so_ckpt_writer *w;
    CHECK_OK(so_ckpt_writer_create(&w));
    CHECK_OK(so_ckpt_writer_add(w, "model/w", SO_F32, 2, (int64_t[]){3, 4}, f32a));
    CHECK_OK(so_ckpt_writer_add(w, "f64", SO_F64, 1, (int64_t[]){3}, f64a));
    CHECK_OK(so_ckpt_writer_add(w, "i64", SO_I64, 1, (int64_t[]){2}, i64a));
    CHECK_OK(so_ckpt_writer_add(w, "bf16", SO_BF16, 1, (int64_t[]){5}, bf16a));
    CHECK_OK(so_ckpt_writer_add(w, "rng", SO_U8, 1, (int64_t[]){7}, u8a));
    CHECK_OK(so_ckpt_writer_add(w, "empty", SO_F32, 2, (int64_t[]){0, 5}, NULL)); /* mid-file */
    CHECK_OK(so_ckpt_writer_add(w, "scalar", SO_I32, 0, NULL, &scalar));
    CHECK_OK(so_ckpt_writer_meta(w, "config", "layers=4 dim=128"));
    CHECK_OK(so_ckpt_writer_meta(w, "tokenizer", "byte"));
    *wo = w;
    return 0;
}

static int read_all(const char *path, unsigned char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    size_t got = fread(*buf, 1, *len, f);
    fclose(f);
    return got == *len ? 0 : -1;
}

static int t_crc32(void) {
    CHECK_EQ_INT(so_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_EQ_INT(so_crc32(0, "", 0), 0);
    /* Incremental == one shot, across the 4-byte fast path boundary. */
    const char *s = "The quick brown fox jumps over the lazy dog";
    uint32_t one = so_crc32(0, s, strlen(s));
    CHECK_EQ_INT(one, 0x414FA339u);
    CHECK_EQ_INT(so_crc32(so_crc32(0, s, 7), s + 7, strlen(s) - 7), one);
    return 0;
}

static int t_roundtrip(void) {
    so_ckpt_writer *w;
    if (build(&w)) {
        return 1;
    }
    char p[512];
    path_in(p, sizeof p, "rt.ckpt");
    CHECK_OK(so_ckpt_writer_save(w, p, 777, 0));
    so_ckpt_writer_destroy(w);
    so_ckpt *ck;
    CHECK_OK(so_ckpt_open(p, &ck));
    CHECK_EQ_INT(so_ckpt_step(ck), 777);
    CHECK_EQ_INT(so_ckpt_count(ck), 7);
    CHECK_STR_EQ(so_ckpt_meta(ck, "config"), "layers=4 dim=128");
    CHECK_STR_EQ(so_ckpt_meta(ck, "tokenizer"), "byte");
    CHECK(so_ckpt_meta(ck, "nope") == NULL);
    float w2[12];
    CHECK_OK(so_ckpt_read(ck, "model/w", SO_F32, 2, (int64_t[]){3, 4}, w2));
    CHECK_MEM_EQ(w2, f32a, sizeof w2);
    double d[3];
    CHECK_OK(so_ckpt_read(ck, "f64", SO_F64, 1, (int64_t[]){3}, d));
    CHECK_MEM_EQ(d, f64a, sizeof d);
    const so_ckpt_tensor *t = so_ckpt_find(ck, "bf16");
    CHECK(t && t->dtype == SO_BF16 && t->nbytes == 10);
    CHECK_MEM_EQ(t->data, bf16a, 10);
    CHECK(((uintptr_t)t->data - (uintptr_t)so_ckpt_tensor_at(ck, 0)->data) % SO_CKPT_ALIGN == 0);
    int32_t sc = 0;
    CHECK_OK(so_ckpt_read(ck, "scalar", SO_I32, 0, NULL, &sc));
    CHECK_EQ_INT(sc, 12345);
    CHECK_OK(so_ckpt_read(ck, "empty", SO_F32, 2, (int64_t[]){0, 5}, NULL));
    so_ckpt_close(ck);
    return 0;
}

static int t_errors(void) {
    so_ckpt_writer *w;
    if (build(&w)) {
        return 1;
    }
    CHECK_EQ_INT(so_ckpt_writer_add(w, "rng", SO_U8, 1, (int64_t[]){1}, u8a), SO_EINVAL);
    CHECK(strstr(so_last_error(), "twice"));
    char p[512];
    path_in(p, sizeof p, "err.ckpt");
    CHECK_OK(so_ckpt_writer_save(w, p, 1, 0));
    so_ckpt_writer_destroy(w);
    so_ckpt *ck;
    CHECK_OK(so_ckpt_open(p, &ck));
    float buf[12];
    CHECK_EQ_INT(so_ckpt_read(ck, "model/missing", SO_F32, 1, (int64_t[]){12}, buf), SO_ENOENT);
    CHECK(strstr(so_last_error(), "model/missing"));
    CHECK_EQ_INT(so_ckpt_read(ck, "model/w", SO_F32, 2, (int64_t[]){4, 3}, buf), SO_EINVAL);
    CHECK(strstr(so_last_error(), "(3, 4)") && strstr(so_last_error(), "(4, 3)"));
    CHECK_EQ_INT(so_ckpt_read(ck, "model/w", SO_F64, 2, (int64_t[]){3, 4}, buf), SO_EINVAL);
    so_ckpt_close(ck);
    char missing[512];
    path_in(missing, sizeof missing, "does-not-exist.ckpt");
    CHECK_EQ_INT(so_ckpt_open(missing, &ck), SO_ENOENT);
    CHECK(ck == NULL);
    /* Writing into a directory that does not exist names the path. */
    CHECK_EQ_INT(so_ckpt_writer_create(&w), SO_OK);
    CHECK_EQ_INT(so_ckpt_writer_save(w, "/nonexistent-dir/x.ckpt", 0, 0), SO_EIO);
    CHECK(strstr(so_last_error(), "/nonexistent-dir/x.ckpt"));
    so_ckpt_writer_destroy(w);
    return 0;
}

/* The saved bytes of build() at step 5. */
static int saved_bytes(unsigned char **buf, size_t *len) {
    so_ckpt_writer *w;
    if (build(&w)) {
        return 1;
    }
    char p[512];
    path_in(p, sizeof p, "bytes.ckpt");
    CHECK_OK(so_ckpt_writer_save(w, p, 5, 0));
    so_ckpt_writer_destroy(w);
    CHECK(read_all(p, buf, len) == 0);
    return 0;
}

static int t_corrupt(void) {
    unsigned char *b;
    size_t n;
    if (saved_bytes(&b, &n)) {
        return 1;
    }
    so_ckpt *ck;
    CHECK_OK(so_ckpt_parse(b, n, &ck));
    const so_ckpt_tensor *t = so_ckpt_find(ck, "model/w");
    size_t off = (size_t)((const unsigned char *)t->data -
                          (const unsigned char *)so_ckpt_tensor_at(ck, 0)->data);
    so_ckpt_close(ck);
    /* Locate model/w's data in the file: it is the first tensor, at the first aligned offset
     * after the header; find its bytes. */
    unsigned char *at = memmem(b, n, f32a, sizeof f32a);
    CHECK(at != NULL);
    (void)off;
    /* Every truncation is rejected; cuts past the preamble say "truncated". */
    for (size_t cut = 0; cut < n; cut++) {
        int rc = so_ckpt_parse(b, cut, &ck);
        if (rc >= 0) {
            SO_TEST_FAIL_("a checkpoint cut to %zu of %zu bytes was accepted", cut, n);
        }
        if (cut >= 8 && !strstr(so_last_error(), "truncated") &&
            !strstr(so_last_error(), "checksum")) {
            SO_TEST_FAIL_("cut to %zu: unclear error: %s", cut, so_last_error());
        }
    }
    /* A flipped bit in a tensor names the tensor. */
    at[5] ^= 0x10;
    CHECK_EQ_INT(so_ckpt_parse(b, n, &ck), SO_ECORRUPT);
    CHECK(strstr(so_last_error(), "checksum mismatch in tensor 'model/w'"));
    at[5] ^= 0x10;
    /* In the header: the header checksum. */
    b[40] ^= 1;
    CHECK_EQ_INT(so_ckpt_parse(b, n, &ck), SO_ECORRUPT);
    CHECK(strstr(so_last_error(), "header checksum"));
    b[40] ^= 1;
    /* Magic. */
    b[0] = 'X';
    CHECK_EQ_INT(so_ckpt_parse(b, n, &ck), SO_EPROTO);
    CHECK(strstr(so_last_error(), "magic"));
    b[0] = 'S';
    /* An unknown version with a consistent preamble checksum. */
    uint32_t v = 2;
    memcpy(b + 8, &v, 4);
    uint32_t pc = so_crc32(0, b, 28);
    memcpy(b + 28, &pc, 4);
    CHECK_EQ_INT(so_ckpt_parse(b, n, &ck), SO_ENOTSUP);
    CHECK(strstr(so_last_error(), "version 2"));
    v = 1;
    memcpy(b + 8, &v, 4);
    pc = so_crc32(0, b, 28);
    memcpy(b + 28, &pc, 4);
    /* Trailing garbage. */
    unsigned char *longer = calloc(n + 3, 1);
    memcpy(longer, b, n);
    CHECK_EQ_INT(so_ckpt_parse(longer, n + 3, &ck), SO_ECORRUPT);
    free(longer);
    CHECK_OK(so_ckpt_parse(b, n, &ck));
    so_ckpt_close(ck);
    free(b);
    return 0;
}

/* Random flips (1-3 bytes anywhere) and cuts: never a crash, always an error. */
static int t_fuzz(void) {
    unsigned char *b;
    size_t n;
    if (saved_bytes(&b, &n)) {
        return 1;
    }
    unsigned char *m = malloc(n);
    for (int it = 0; it < 3000; it++) {
        memcpy(m, b, n);
        size_t len = n;
        int flips = 1 + (int)(next_u64() % 3);
        for (int k = 0; k < flips; k++) {
            size_t pos = next_u64() % n;
            unsigned char x = (unsigned char)(1 + next_u64() % 255);
            m[pos] ^= x;
        }
        if (next_u64() % 4 == 0) {
            len = next_u64() % n;
        }
        so_ckpt *ck;
        int rc = so_ckpt_parse(m, len, &ck);
        if (rc >= 0) {
            SO_TEST_FAIL_("iteration %d: a corrupted checkpoint was accepted", it);
        }
        CHECK(ck == NULL && so_last_error()[0] != 0);
    }
    free(m);
    free(b);
    return 0;
}

static int count_tmp_files(void) {
    DIR *d = opendir(tmpdir());
    int k = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        k += strstr(e->d_name, ".tmp.") != NULL;
    }
    if (d) {
        closedir(d);
    }
    return k;
}

static int t_atomic(void) {
    char p[512], prev[600];
    path_in(p, sizeof p, "atomic.ckpt");
    snprintf(prev, sizeof prev, "%s.prev", p);
    float a[4] = {1, 2, 3, 4};
    for (uint64_t step = 1; step <= 3; step++) {
        so_ckpt_writer *w;
        CHECK_OK(so_ckpt_writer_create(&w));
        a[0] = (float)step;
        CHECK_OK(so_ckpt_writer_add(w, "a", SO_F32, 1, (int64_t[]){4}, a));
        CHECK_OK(so_ckpt_writer_save(w, p, step, 1));
        so_ckpt_writer_destroy(w);
    }
    CHECK_EQ_INT(count_tmp_files(), 0);
    so_ckpt *ck;
    CHECK_OK(so_ckpt_open(p, &ck));
    CHECK_EQ_INT(so_ckpt_step(ck), 3);
    so_ckpt_close(ck);
    CHECK_OK(so_ckpt_open(prev, &ck));
    CHECK_EQ_INT(so_ckpt_step(ck), 2);
    so_ckpt_close(ck);
    /* Corrupt the newest: the fallback opens the previous one. */
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    fseek(f, -70, SEEK_END);
    fputc(0x55, f);
    fclose(f);
    CHECK(so_ckpt_open(p, &ck) < 0);
    int used_prev = 0;
    setenv("SO_LOG", "error", 1);
    CHECK_OK(so_ckpt_open_fallback(p, &ck, &used_prev));
    CHECK_EQ_INT(used_prev, 1);
    CHECK_EQ_INT(so_ckpt_step(ck), 2);
    so_ckpt_close(ck);
    unlink(prev);
    CHECK(so_ckpt_open_fallback(p, &ck, &used_prev) < 0);
    return 0;
}

/* SIGKILL a process that saves a 4 MiB checkpoint in a loop: the file is always loadable. */
static int t_kill_during_save(void) {
    char p[512];
    path_in(p, sizeof p, "kill.ckpt");
    size_t n = 1 << 20;
    float *big = malloc(n * sizeof *big);
    for (size_t i = 0; i < n; i++) {
        big[i] = (float)i;
    }
    so_ckpt_writer *w;
    CHECK_OK(so_ckpt_writer_create(&w));
    CHECK_OK(so_ckpt_writer_add(w, "big", SO_F32, 1, (int64_t[]){(int64_t)n}, big));
    CHECK_OK(so_ckpt_writer_save(w, p, 0, 0));
    for (int round = 0; round < 4; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (uint64_t s = 1;; s++) {
                big[0] = (float)s;
                if (so_ckpt_writer_save(w, p, s, 0) < 0) {
                    _exit(3);
                }
            }
        }
        so_sleep_ns((int64_t)(30 + 17 * round) * 1000000);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st));
        so_ckpt *ck;
        CHECK_OK(so_ckpt_open(p, &ck));
        const so_ckpt_tensor *t = so_ckpt_find(ck, "big");
        float first;
        memcpy(&first, t->data, 4);
        CHECK_EQ_INT((uint64_t)first, so_ckpt_step(ck));
        so_ckpt_close(ck);
    }
    so_ckpt_writer_destroy(w);
    free(big);
    /* The killed writers may leave their temp files; they are never mistaken for checkpoints. */
    return 0;
}

/* ---- bitwise resume: Adam on a noisy quadratic, 40 steps vs 20 + save + fresh process + 20 ----
 */

enum { RN = 257, RSTEPS = 40 };

/* Gradient of 0.5*sum(c_i (w_i - 1)^2) plus noise from the rng, whose state is part of the run. */
static void quad_grad(const float *w, float *g, uint64_t *rng) {
    for (int i = 0; i < RN; i++) {
        uint64_t z = (*rng += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float noise = (float)((double)(z >> 11) / 9007199254740992.0 - 0.5) * 0.1f;
        g[i] = (1.0f + (float)(i % 7)) * (w[i] - 1.0f) + noise;
    }
}

typedef struct run {
    float w[RN], g[RN];
    uint64_t rng;
    so_optim *o;
} run;

static int run_init(run *r) {
    for (int i = 0; i < RN; i++) {
        r->w[i] = (float)(i % 13) * 0.25f - 1.5f;
    }
    r->rng = 7;
    so_optim_config c;
    so_optim_config_default(SO_OPTIM_ADAMW, &c);
    c.lr = 0.05f;
    c.weight_decay = 0.1f;
    return so_optim_create(&c, RN, NULL, 0, &r->o);
}

static void run_steps(run *r, int k) {
    so_lr_schedule s = {.lr = 0.05f, .min_lr = 0.005f, .warmup = 5, .decay_steps = RSTEPS - 5};
    for (int i = 0; i < k; i++) {
        quad_grad(r->w, r->g, &r->rng);
        so_clip_grad_norm(r->g, RN, 5.0);
        so_optim_set_lr(r->o, so_lr_at(&s, so_optim_steps(r->o)));
        so_optim_step(r->o, r->w, r->g);
    }
}

static int run_save(run *r, const char *path) {
    so_ckpt_writer *w;
    SO_TRY(so_ckpt_writer_create(&w));
    so_ckpt_writer_add(w, "w", SO_F32, 1, (int64_t[]){RN}, r->w);
    so_ckpt_writer_add(w, "rng", SO_U8, 1, (int64_t[]){8}, &r->rng);
    for (int i = 0; i < so_optim_state_count(r->o); i++) {
        const char *name;
        float *d;
        size_t n;
        so_optim_state(r->o, i, &name, &d, &n);
        char full[128];
        snprintf(full, sizeof full, "optim/%s", name);
        so_ckpt_writer_add(w, full, SO_F32, 1, (int64_t[]){(int64_t)n}, d);
    }
    int rc = so_ckpt_writer_save(w, path, (uint64_t)so_optim_steps(r->o), 0);
    so_ckpt_writer_destroy(w);
    return rc;
}

static int run_load(run *r, const char *path) {
    so_ckpt *ck;
    SO_TRY(so_ckpt_open(path, &ck));
    int rc = so_ckpt_read(ck, "w", SO_F32, 1, (int64_t[]){RN}, r->w);
    if (rc == SO_OK) {
        rc = so_ckpt_read(ck, "rng", SO_U8, 1, (int64_t[]){8}, &r->rng);
    }
    for (int i = 0; i < so_optim_state_count(r->o) && rc == SO_OK; i++) {
        const char *name;
        float *d;
        size_t n;
        so_optim_state(r->o, i, &name, &d, &n);
        char full[128];
        snprintf(full, sizeof full, "optim/%s", name);
        rc = so_ckpt_read(ck, full, SO_F32, 1, (int64_t[]){(int64_t)n}, d);
    }
    so_optim_set_steps(r->o, (int64_t)so_ckpt_step(ck));
    so_ckpt_close(ck);
    return rc;
}

/* Child: a fresh process loads the half-way checkpoint, runs the second half, saves. */
static int t_resume_child(void) {
    const char *half = getenv("SO_TEST_RESUME_HALF"), *fin = getenv("SO_TEST_RESUME_FINAL");
    if (!half || !fin) {
        SKIP("run by the resume case");
    }
    run r;
    CHECK_OK(run_init(&r));
    for (int i = 0; i < RN; i++) {
        r.w[i] = 1e9f; /* anything not loaded would show */
    }
    CHECK_OK(run_load(&r, half));
    run_steps(&r, RSTEPS / 2);
    CHECK_OK(run_save(&r, fin));
    so_optim_destroy(r.o);
    return 0;
}

static int t_resume(void) {
    char half[512], fin[512], straight[512];
    path_in(half, sizeof half, "half.ckpt");
    path_in(fin, sizeof fin, "final.ckpt");
    path_in(straight, sizeof straight, "straight.ckpt");
    run a, b;
    CHECK_OK(run_init(&a));
    run_steps(&a, RSTEPS);
    CHECK_OK(run_save(&a, straight));
    CHECK_OK(run_init(&b));
    run_steps(&b, RSTEPS / 2);
    CHECK_OK(run_save(&b, half));
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SO_TEST_RESUME_HALF", half, 1);
        setenv("SO_TEST_RESUME_FINAL", fin, 1);
        execl("/proc/self/exe", "test_ckpt", "resume_child", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    so_ckpt *x, *y;
    CHECK_OK(so_ckpt_open(straight, &x));
    CHECK_OK(so_ckpt_open(fin, &y));
    CHECK_EQ_INT(so_ckpt_step(x), RSTEPS);
    CHECK_EQ_INT(so_ckpt_step(y), RSTEPS);
    CHECK_EQ_INT(so_ckpt_count(x), so_ckpt_count(y));
    for (int i = 0; i < so_ckpt_count(x); i++) {
        const so_ckpt_tensor *tx = so_ckpt_tensor_at(x, i), *ty = so_ckpt_find(y, tx->name);
        CHECK(ty != NULL && ty->nbytes == tx->nbytes);
        if (memcmp(tx->data, ty->data, (size_t)tx->nbytes) != 0) {
            SO_TEST_FAIL_("tensor '%s' differs between the straight and the resumed run", tx->name);
        }
    }
    /* And the run did move: w is not where it started. */
    CHECK(fabsf(a.w[0] - (-1.5f)) > 0.1f);
    so_ckpt_close(x);
    so_ckpt_close(y);
    so_optim_destroy(a.o);
    so_optim_destroy(b.o);
    return 0;
}

/* ---- safetensors ---- */

static int have_jansson(void) {
    so_ckpt *ck;
    return so_safetensors_parse("\x02\0\0\0\0\0\0\0{}", 10, &ck) == SO_OK ? (so_ckpt_close(ck), 1)
                                                                          : 0;
}

static int t_st_roundtrip(void) {
    if (!have_jansson()) {
        SKIP("built without jansson");
    }
    so_ckpt_writer *w;
    if (build(&w)) {
        return 1;
    }
    CHECK_OK(so_ckpt_writer_meta(w, "quote\"key", "tab\tvalue\\"));
    char p[512];
    path_in(p, sizeof p, "rt.safetensors");
    CHECK_OK(so_ckpt_writer_save_safetensors(w, p, 99));
    so_ckpt_writer_destroy(w);
    unsigned char *b;
    size_t n;
    CHECK(read_all(p, &b, &n) == 0);
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    CHECK_EQ_INT((8 + hlen) % 8, 0);
    CHECK(b[8] == '{');
    free(b);
    so_ckpt *ck;
    CHECK_OK(so_safetensors_open(p, &ck));
    CHECK_EQ_INT(so_ckpt_step(ck), 99);
    CHECK_EQ_INT(so_ckpt_count(ck), 7);
    CHECK_STR_EQ(so_ckpt_meta(ck, "config"), "layers=4 dim=128");
    CHECK_STR_EQ(so_ckpt_meta(ck, "quote\"key"), "tab\tvalue\\");
    float w2[12];
    CHECK_OK(so_ckpt_read(ck, "model/w", SO_F32, 2, (int64_t[]){3, 4}, w2));
    CHECK_MEM_EQ(w2, f32a, sizeof w2);
    int64_t i2[2];
    CHECK_OK(so_ckpt_read(ck, "i64", SO_I64, 1, (int64_t[]){2}, i2));
    CHECK_MEM_EQ(i2, i64a, sizeof i2);
    int32_t sc;
    CHECK_OK(so_ckpt_read(ck, "scalar", SO_I32, 0, NULL, &sc));
    CHECK_EQ_INT(sc, 12345);
    so_ckpt_close(ck);
    /* The scaleout reader refuses a safetensors file by its magic. */
    CHECK_EQ_INT(so_ckpt_open(p, &ck), SO_EPROTO);
    return 0;
}

/* A file as the reference library writes it: header, then data. */
static size_t make_st(unsigned char *out, const char *json, const void *data, size_t dn) {
    uint64_t h = strlen(json);
    memcpy(out, &h, 8);
    memcpy(out + 8, json, h);
    memcpy(out + 8 + h, data, dn);
    return 8 + h + dn;
}

static int expect_reject(const char *json, size_t dn, const char *needle) {
    static unsigned char buf[4096];
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t n = make_st(buf, json, data, dn);
    so_ckpt *ck = NULL;
    int rc = so_safetensors_parse(buf, n, &ck);
    if (rc >= 0) {
        so_ckpt_close(ck);
        SO_TEST_FAIL_("accepted: %s", json);
    }
    if (needle && !strstr(so_last_error(), needle)) {
        SO_TEST_FAIL_("error for %s does not mention '%s': %s", json, needle, so_last_error());
    }
    return 0;
}

static int t_st_reject(void) {
    if (!have_jansson()) {
        SKIP("built without jansson");
    }
    unsigned char buf[512];
    float data[6] = {1, 2, 3, 4, 5, 6};
    /* A valid hand-written file first. */
    size_t n = make_st(buf,
                       "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                       "\"__metadata__\":{\"format\":\"pt\"}}",
                       data, 24);
    so_ckpt *ck;
    CHECK_OK(so_safetensors_parse(buf, n, &ck));
    CHECK_EQ_INT(so_ckpt_count(ck), 2);
    CHECK_STR_EQ(so_ckpt_tensor_at(ck, 0)->name, "a");
    float b2[2];
    CHECK_OK(so_ckpt_read(ck, "b", SO_F32, 1, (int64_t[]){2}, b2));
    CHECK(b2[0] == 5 && b2[1] == 6);
    CHECK_STR_EQ(so_ckpt_meta(ck, "format"), "pt");
    so_ckpt_close(ck);

    /* Header length over 100 MB, and past the end of the file. */
    uint64_t huge = 100000001ull;
    memcpy(buf, &huge, 8);
    CHECK_EQ_INT(so_safetensors_parse(buf, n, &ck), SO_EPROTO);
    CHECK(strstr(so_last_error(), "limit"));
    huge = 1000;
    memcpy(buf, &huge, 8);
    CHECK_EQ_INT(so_safetensors_parse(buf, n, &ck), SO_EPROTO);
    CHECK(strstr(so_last_error(), "truncated"));
    CHECK_EQ_INT(so_safetensors_parse(buf, 5, &ck), SO_EPROTO);

    int f = 0;
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                       12, "overlap");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                       20, "gap");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                       "past");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                       "need");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                       "data_offsets");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
                       "cover");
    f |= expect_reject("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                       "unknown dtype");
    f |= expect_reject("{\"a\":{\"dtype\":\"BOOL\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8,
                       "BOOL");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                       "shape");
    f |= expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                       8, NULL);
    f |= expect_reject("[1,2,3]", 0, "not a JSON object");
    f |= expect_reject("{\"a\":", 0, "not a JSON object");
    f |= expect_reject("{\"__metadata__\":{\"k\":3}}", 0, "not a string");
    return f;
}

static int t_st_fuzz(void) {
    if (!have_jansson()) {
        SKIP("built without jansson");
    }
    so_ckpt_writer *w;
    if (build(&w)) {
        return 1;
    }
    char p[512];
    path_in(p, sizeof p, "fuzz.safetensors");
    CHECK_OK(so_ckpt_writer_save_safetensors(w, p, 1));
    so_ckpt_writer_destroy(w);
    unsigned char *b;
    size_t n;
    CHECK(read_all(p, &b, &n) == 0);
    unsigned char *m = malloc(n);
    int accepted_flips = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, b, n);
        size_t pos = next_u64() % n;
        m[pos] ^= (unsigned char)(1 + next_u64() % 255);
        so_ckpt *ck = NULL;
        if (so_safetensors_parse(m, n, &ck) == SO_OK) {
            /* safetensors has no checksums: a flip in the data section goes unseen. */
            accepted_flips++;
            so_ckpt_close(ck);
        }
        size_t cut = next_u64() % n;
        CHECK(so_safetensors_parse(b, cut, &ck) < 0); /* every truncation is caught */
    }
    CHECK(accepted_flips < 3000);
    free(m);
    free(b);
    return 0;
}

SO_TEST_MAIN({"crc32", t_crc32}, {"roundtrip", t_roundtrip}, {"errors", t_errors},
             {"corrupt", t_corrupt}, {"fuzz", t_fuzz}, {"atomic", t_atomic},
             {"kill_during_save", t_kill_during_save}, {"resume", t_resume},
             {"resume_child", t_resume_child}, {"st_roundtrip", t_st_roundtrip},
             {"st_reject", t_st_reject}, {"st_fuzz", t_st_fuzz})
