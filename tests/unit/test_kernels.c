/*
 * Fast kernels against their plain references: so_sgemm (OpenBLAS when built with it) and the
 * blocked C fallback against the double-accumulating triple loop for every transpose combination,
 * odd sizes that cross the C loop's 64 x 256 blocking, alpha/beta; the linear layer's forward and
 * backward against its naive version; the vectorised exp/erf inside GELU/softmax against libm.
 * Tolerance: relative 1e-4 of the output's scale (float sums of K <= 300 products carry ~1e-6).
 */
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scaleout/ml.h"
#include "so_test.h"

static uint64_t rs = 99;
static float *frand(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(rs >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    return p;
}

/* max |a - b| / max(max |b|, 1) over n */
static double relerr(const float *a, const float *b, size_t n) {
    double mx = 1.0, e = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(b[i]));
        e = fmax(e, fabs((double)a[i] - b[i]));
    }
    return e / mx;
}

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static int gemm_vs_ref(gemm_fn f, const char *name) {
    static const int sizes[][3] = {
        {1, 1, 1}, {5, 7, 3}, {33, 300, 70}, {130, 17, 257}, {64, 64, 64}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                float *A = frand((size_t)(ta ? K : M) * lda);
                float *Bm = frand((size_t)(tb ? N : K) * ldb);
                float *C1 = frand((size_t)M * ldc), *C2 = malloc((size_t)M * ldc * sizeof(float));
                for (size_t i = 0; i < (size_t)M * ldc; i++) {
                    C2[i] = C1[i];
                }
                float alpha = 0.75f, beta = s % 2 ? 0.0f : 0.5f;
                f(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C1, ldc);
                so_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C2, ldc);
                double e = relerr(C1, C2, (size_t)M * ldc);
                if (e > 1e-4) {
                    SO_TEST_FAIL_("%s M=%d N=%d K=%d ta=%d tb=%d: relative error %.3g", name, M, N,
                                  K, ta, tb, e);
                }
                free(A), free(Bm), free(C1), free(C2);
            }
        }
    }
    return 0;
}

static int t_sgemm(void) {
    printf("so_sgemm uses %s\n", SO_HAVE_OPENBLAS ? "OpenBLAS" : "the C loop");
    return gemm_vs_ref(so_sgemm, "so_sgemm");
}
static int t_sgemm_c(void) {
    return gemm_vs_ref(so_sgemm_c, "so_sgemm_c");
}

static int t_matmul(void) {
    int N = 37, C = 45, OC = 29;
    float *x = frand((size_t)N * C), *w = frand((size_t)OC * C), *b = frand(OC);
    float *y1 = malloc(sizeof(float) * N * OC), *y2 = malloc(sizeof(float) * N * OC);
    so_matmul_forward(y1, x, w, b, N, C, OC);
    so_matmul_forward_ref(y2, x, w, b, N, C, OC);
    CHECK(relerr(y1, y2, (size_t)N * OC) < 1e-4);
    so_matmul_forward(y1, x, w, NULL, N, C, OC);
    so_matmul_forward_ref(y2, x, w, NULL, N, C, OC);
    CHECK(relerr(y1, y2, (size_t)N * OC) < 1e-4);
    float *dy = frand((size_t)N * OC);
    float *dx1 = frand((size_t)N * C), *dw1 = frand((size_t)OC * C), *db1 = frand(OC);
    float *dx2 = malloc(sizeof(float) * N * C), *dw2 = malloc(sizeof(float) * OC * C),
          *db2 = malloc(sizeof(float) * OC);
    for (int i = 0; i < N * C; i++) {
        dx2[i] = dx1[i]; /* accumulation onto the same non-zero start */
    }
    for (int i = 0; i < OC * C; i++) {
        dw2[i] = dw1[i];
    }
    for (int i = 0; i < OC; i++) {
        db2[i] = db1[i];
    }
    so_matmul_backward(dx1, dw1, db1, dy, x, w, N, C, OC);
    so_matmul_backward_ref(dx2, dw2, db2, dy, x, w, N, C, OC);
    CHECK(relerr(dx1, dx2, (size_t)N * C) < 1e-4);
    CHECK(relerr(dw1, dw2, (size_t)OC * C) < 1e-4);
    CHECK(relerr(db1, db2, OC) < 1e-4);
    free(x), free(w), free(b), free(y1), free(y2), free(dy), free(dx1), free(dw1), free(db1);
    free(dx2), free(dw2), free(db2);
    return 0;
}

/* The vectorised exp (inside softmax) and erf (inside GELU) against libm over a wide range. */
static int t_vmath(void) {
    enum { N = 4001 };
    static float x[N], y[N];
    double worst_exp = 0, worst_gelu = 0;
    for (int i = 0; i < N; i++) { /* two-element rows: softmax = 1/(1+e^(b-a)) */
        x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    }
    for (int i = 0; i < N; i++) {
        float row[2] = {0.0f, x[i]}, p[2];
        so_softmax_forward(p, row, 1, 2);
        double ref = 1.0 / (1.0 + exp(-(double)x[i]));
        worst_exp = fmax(worst_exp, fabs(p[1] - ref) / ref);
    }
    so_gelu_forward(y, x, N);
    for (int i = 0; i < N; i++) {
        double ref = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
        worst_gelu = fmax(worst_gelu, fabs(y[i] - ref));
    }
    printf("softmax relative error %.3g, gelu absolute error %.3g\n", worst_exp, worst_gelu);
    CHECK(worst_exp < 2e-6);         /* a few float ulps */
    CHECK(worst_gelu < 20.0 * 4e-7); /* |x| <= 20 times erf's 3e-7 bound, plus rounding */
    /* exp underflow: far-negative logits give exact zeros, not NaN */
    float row[3] = {0.0f, -200.0f, -1e30f}, p[3];
    so_softmax_forward(p, row, 1, 3);
    CHECK(p[0] == 1.0f && p[1] == 0.0f && p[2] == 0.0f);
    return 0;
}

/* The causal tile kernels against the GEMM-per-head reference: the model's shape (T=128, HS=32)
 * and odd ones that exercise partial tiles (T=37, HS=12 and 20) with grouped heads. */
static int attn_vs_ref(int B, int T, int NH, int KVH, int HS) {
    int R = (NH + 2 * KVH) * HS, C = NH * HS;
    size_t nq = (size_t)B * T * R, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = frand(nq), *dout = frand(no);
    float *o1 = malloc(no * 4), *o2 = malloc(no * 4), *a1 = malloc(na * 4), *a2 = malloc(na * 4);
    float *d1 = frand(nq), *d2 = malloc(nq * 4), *datt = malloc((size_t)T * T * 4);
    for (size_t i = 0; i < nq; i++) {
        d2[i] = d1[i];
    }
    so_attention_forward(o1, a1, qkv, B, T, NH, KVH, HS);
    so_attention_forward_ref(o2, a2, qkv, B, T, NH, KVH, HS);
    so_attention_backward(d1, datt, dout, qkv, a1, B, T, NH, KVH, HS);
    so_attention_backward_ref(d2, datt, dout, qkv, a2, B, T, NH, KVH, HS);
    double eo = relerr(o1, o2, no), ea = relerr(a1, a2, na), ed = relerr(d1, d2, nq);
    printf("attention B=%d T=%d NH=%d KVH=%d HS=%d: out %.2g att %.2g dqkv %.2g\n", B, T, NH, KVH,
           HS, eo, ea, ed);
    free(qkv), free(dout), free(o1), free(o2), free(a1), free(a2), free(d1), free(d2), free(datt);
    return eo < 1e-5 && ea < 1e-5 && ed < 1e-5 ? 0 : 1;
}

static int t_attention_fast(void) {
    CHECK(attn_vs_ref(2, 128, 4, 4, 32) == 0);
    CHECK(attn_vs_ref(2, 37, 6, 2, 12) == 0);
    CHECK(attn_vs_ref(1, 37, 4, 1, 20) == 0);
    CHECK(attn_vs_ref(3, 1, 2, 2, 16) == 0);
    return 0;
}

/* KV-cache attention: decoding the last rows one or several at a time against the cache equals
 * the full causal forward's last rows (keys and values read straight from the qkv rows). */
static int t_attention_cached(void) {
    int T = 23, NH = 6, KVH = 2, HS = 8, R = (NH + 2 * KVH) * HS, C = NH * HS;
    float *qkv = frand((size_t)T * R), *full = malloc(sizeof(float) * T * C);
    float *att = malloc(sizeof(float) * NH * T * T), *out = malloc(sizeof(float) * T * C);
    float scratch[32];
    so_attention_forward(full, att, qkv, 1, T, NH, KVH, HS);
    for (int Tk = 1; Tk <= T; Tk++) { /* one new row per step */
        so_attention_cached(out, C, qkv + (size_t)(Tk - 1) * R, R, qkv + NH * HS,
                            qkv + (NH + KVH) * HS, R, 1, Tk, NH, KVH, HS, scratch);
        CHECK(relerr(out, full + (size_t)(Tk - 1) * C, C) < 1e-5);
    }
    /* a prefill of 9 rows after a cached prefix of 14 */
    so_attention_cached(out, C, qkv + (size_t)14 * R, R, qkv + NH * HS, qkv + (NH + KVH) * HS, R, 9,
                        T, NH, KVH, HS, scratch);
    CHECK(relerr(out, full + (size_t)14 * C, (size_t)9 * C) < 1e-5);
    free(qkv), free(full), free(att), free(out);
    return 0;
}

/* The thread pool: a GPT step on 1 and on 2 threads gives bitwise the same loss and gradients
 * (chunks of the batch own their gradient arrays, summed in chunk order, whoever ran them). */
static int t_pool_determinism(void) {
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.layers = 2;
    c.dim = 32;
    c.max_batch = 4;
    c.ctx = 16;
    int32_t tok[64], tg[64];
    for (int i = 0; i < 64; i++) {
        tok[i] = (i * 37) % 256;
        tg[i] = (i * 91 + 5) % 256;
    }
    float loss[2];
    float *g0 = NULL;
    double worst = 0, mx = 0;
    for (int r = 0; r < 2; r++) {
        CHECK_OK(so_ml_set_threads(r + 1));
        so_gpt *m;
        CHECK_OK(so_gpt_create(&c, 3, &m));
        CHECK_OK(so_gpt_forward(m, tok, tg, 4, 16, &loss[r]));
        so_gpt_zero_grad(m);
        CHECK_OK(so_gpt_backward(m));
        const so_param_set *ps = so_gpt_params(m);
        if (r == 0) {
            g0 = malloc(ps->n * sizeof *g0);
            for (size_t i = 0; i < ps->n; i++) {
                g0[i] = ps->grads[i];
            }
        } else {
            for (size_t i = 0; i < ps->n; i++) {
                mx = fmax(mx, fabs(g0[i]));
                worst = fmax(worst, fabs(g0[i] - ps->grads[i]));
            }
        }
        so_gpt_destroy(m);
    }
    free(g0);
    printf("loss 1 thread %.8f, 2 threads %.8f; gradient difference %.3g of %.3g\n", loss[0],
           loss[1], worst, mx);
    CHECK(loss[0] == loss[1]);
    CHECK(worst == 0.0);
    return 0;
}

/* A child forked after the pool started (as so_test_ranks and the launcher's workers do) runs
 * models without hanging on the parent's workers, and computes the same loss. */
static int t_pool_fork(void) {
    CHECK_OK(so_ml_set_threads(2));
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.layers = 1;
    c.dim = 32;
    c.ctx = 16;
    c.max_batch = 4;
    so_gpt *m;
    CHECK_OK(so_gpt_create(&c, 1, &m));
    int32_t tok[64];
    for (int i = 0; i < 64; i++) {
        tok[i] = (i * 5) % 256;
    }
    float l0, l1;
    CHECK_OK(so_gpt_forward(m, tok, tok, 4, 16, &l0)); /* the pool is running now */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int ok = so_gpt_forward(m, tok, tok, 4, 16, &l1) == SO_OK && l1 == l0 &&
                 so_gpt_backward(m) == SO_OK;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    so_gpt_destroy(m);
    return 0;
}

SO_TEST_MAIN({"sgemm", t_sgemm}, {"sgemm_c", t_sgemm_c}, {"matmul", t_matmul}, {"vmath", t_vmath},
             {"attention_fast", t_attention_fast}, {"attention_cached", t_attention_cached},
             {"pool_determinism", t_pool_determinism}, {"pool_fork", t_pool_fork})
