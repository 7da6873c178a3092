/*
 * `scaleout bench gpt-step [--steps 20] [--warmup 3] [--batch 16] [--threads N] [--profile]
 * [--gemm] [--optim lib|local] [--json]`: training throughput of the tiny GPT (vocab 256, T=128,
 * L=4, d=128, 4 heads, AdamW lr 1e-3 betas 0.9/0.95 wd 0.1), the same model, data and step as the
 * PyTorch peer ../shared/peers/src/tiny_gpt_train.py (perf-anchors.md §7: 14,500 tokens/s at its
 * best set-up on this machine kind).
 *
 * A step is forward + cross-entropy + zero_grad + backward + AdamW over the flat arrays, with
 * decay on every tensor like the peer: by default the library's so_optim AdamW (src/ml/optim);
 * --optim local uses a minimal element-wise AdamW split over the ml pool (the same rule). Data:
 * random windows (fixed seed) of the bytes of /usr/share/common-licenses (every file but *.gz),
 * as the peer. Throughput = B*T*steps / wall time of the timed steps, after warm-up steps; model
 * GFLOP/s uses the peer's 6 N_nonembed + 12 L T d flops per token.
 * --profile prints the time per kernel class (SO_ML_PROFILE=1). --gemm adds GEMM GFLOP/s of the
 * ml path (rows split over the ml pool, one OpenBLAS thread each), cblas_sgemm called directly
 * with OpenBLAS's own threads, and the plain C fallback, on the model's shapes and on 1024^3.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ml/kernels/pool.h"
#include "scaleout/ml.h"
#include "scaleout/optim.h"
#if SO_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* The bytes of the files of /usr/share/common-licenses (not *.gz), sorted by name like the peer. */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned char *load_text(size_t *n) {
    const char *dir = "/usr/share/common-licenses";
    DIR *d = opendir(dir);
    char *names[256];
    int k = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && k < 256) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || (l > 3 && !strcmp(e->d_name + l - 3, ".gz"))) {
            continue;
        }
        names[k++] = strdup(e->d_name);
    }
    if (d) {
        closedir(d);
    }
    qsort(names, (size_t)k, sizeof names[0], cmp_str);
    unsigned char *buf = NULL;
    size_t len = 0;
    for (int i = 0; i < k; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            continue;
        }
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (sz > 0) {
            unsigned char *nb = realloc(buf, len + (size_t)sz);
            if (nb) {
                buf = nb;
                len += fread(buf + len, 1, (size_t)sz, f);
            }
        }
        fclose(f);
    }
    *n = len;
    return buf;
}

typedef struct adamw {
    float *m, *v, *p;
    const float *g;
    size_t n;
    int64_t t;
    float lr, b1, b2, eps, wd;
    float step, rb2, decay; /* per-step constants */
} adamw;

/* torch.optim.AdamW's update on elements [lo, hi) of the flat arrays. */
static void adamw_part(void *arg, int tid, int nt) {
    adamw *o = arg;
    size_t chunk = (o->n + (size_t)nt - 1) / (size_t)nt, lo = (size_t)tid * chunk;
    size_t hi = lo + chunk < o->n ? lo + chunk : o->n;
    float *m = o->m, *v = o->v, *p = o->p;
    const float *g = o->g;
    for (size_t i = lo; i < hi; i++) {
        float mi = o->b1 * m[i] + (1.0f - o->b1) * g[i];
        float vi = o->b2 * v[i] + (1.0f - o->b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * o->decay - o->step * mi / (sqrtf(vi) * o->rb2 + o->eps);
    }
}

/* One AdamW step split over the ml pool (element-wise: the same result for any split). */
static void adamw_step(adamw *o, float *p, const float *g) {
    o->t++;
    float bc1 = 1.0f - powf(o->b1, (float)o->t), bc2 = 1.0f - powf(o->b2, (float)o->t);
    o->step = o->lr / bc1;
    o->rb2 = 1.0f / sqrtf(bc2);
    o->decay = 1.0f - o->lr * o->wd;
    o->p = p;
    o->g = g;
    so__ml_parallel(adamw_part, o);
}

/* ---- GEMM comparison ---- */

typedef struct gemm_job {
    int N, K, OC;
    const float *a, *w;
    float *c;
} gemm_job;

static void gemm_rows(void *arg, int tid, int nt) {
    gemm_job *j = arg;
    int lo, hi;
    so__ml_split(j->N, tid, nt, &lo, &hi);
    if (hi > lo) {
        so_matmul_forward(j->c + (size_t)lo * j->OC, j->a + (size_t)lo * j->K, j->w, NULL, hi - lo,
                          j->K, j->OC);
    }
}

static double time_gemm(int which, gemm_job *j) {
    double best = 1e30;
    int reps = 0;
    double t_end = so_now_s() + 0.4;
    while (reps < 3 || (so_now_s() < t_end && reps < 200)) {
        double t0 = so_now_s();
        if (which == 0) {
            so__ml_parallel(gemm_rows, j);
        } else if (which == 1) {
#if SO_HAVE_OPENBLAS
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->N, j->OC, j->K, 1.0f, j->a,
                        j->K, j->w, j->K, 0.0f, j->c, j->OC);
#endif
        } else {
            so_sgemm_c(0, 1, j->N, j->OC, j->K, 1.0f, j->a, j->K, j->w, j->K, 0.0f, j->c, j->OC);
        }
        double dt = so_now_s() - t0;
        best = dt < best ? dt : best;
        reps++;
    }
    return 2.0 * j->N * j->K * j->OC / best * 1e-9;
}

static void bench_gemm(int threads) {
    static const int shapes[][3] = {
        {2048, 128, 384}, {2048, 128, 512}, {2048, 512, 128}, {1024, 1024, 1024}};
    printf("\n%-22s %12s %16s %16s %12s\n", "gemm (N x K) x (K x OC)", "ml path", "cblas direct",
           "cblas 1 thread", "C fallback");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        gemm_job j = {shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL};
        float *a = so_malloc_aligned((size_t)j.N * j.K * sizeof(float));
        float *w = so_malloc_aligned((size_t)j.OC * j.K * sizeof(float));
        float *c = so_malloc_aligned((size_t)j.N * j.OC * sizeof(float));
        for (size_t i = 0; i < (size_t)j.N * j.K; i++) {
            a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        }
        for (size_t i = 0; i < (size_t)j.OC * j.K; i++) {
            w[i] = (float)((i * 40503u) % 1000) * 1e-3f - 0.5f;
        }
        j.a = a;
        j.w = w;
        j.c = c;
        double ml = time_gemm(0, &j);
        double direct = 0, direct1 = 0;
#if SO_HAVE_OPENBLAS
        openblas_set_num_threads(threads);
        direct = time_gemm(1, &j);
        openblas_set_num_threads(1);
        direct1 = time_gemm(1, &j);
#endif
        double cf = time_gemm(2, &j);
        char label[64];
        snprintf(label, sizeof label, "%dx%d . %dx%d", j.N, j.K, j.K, j.OC);
        printf("%-22s %9.1f GF %13.1f GF %13.1f GF %9.1f GF\n", label, ml, direct, direct1, cf);
        so_free_aligned(a);
        so_free_aligned(w);
        so_free_aligned(c);
    }
    printf("(ml path: rows split over %d pool threads, one OpenBLAS thread each; cblas direct: "
           "OpenBLAS with %d threads of its own; GFLOP/s = 2NKM / best time)\n",
           threads, threads);
}

static int bench_gpt_step(int argc, char **argv) {
    int steps = 20, warmup = 3, B = 16, threads = 0, profile = 0, gemm = 0, json = 0, use_lib = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            steps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) {
            warmup = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            B = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (!strcmp(argv[i], "--gemm")) {
            gemm = 1;
        } else if (!strcmp(argv[i], "--optim") && i + 1 < argc) {
            use_lib = strcmp(argv[++i], "local") != 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            printf("usage: scaleout bench gpt-step [--steps 20] [--warmup 3] [--batch 16] "
                   "[--threads N] [--profile] [--gemm] [--optim lib|local] [--json]\n"
                   "Training tokens/s of the tiny GPT (forward+backward+AdamW), the workload of\n"
                   "../shared/peers/src/tiny_gpt_train.py; --gemm adds GEMM GFLOP/s.\n");
            return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
        }
    }
    if (profile) {
        setenv("SO_ML_PROFILE", "1", 1);
    }
    SO_CHECK(so_ml_set_threads(threads));
    threads = so_ml_threads();
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.max_batch = B;
    so_gpt *m;
    SO_CHECK(so_gpt_create(&c, 1337, &m));
    const so_param_set *ps = so_gpt_params(m);
    size_t n_nonembed = ps->count - (size_t)c.vocab * c.dim - (size_t)c.ctx * c.dim;
    double flops_tok = 6.0 * n_nonembed + 12.0 * c.layers * c.ctx * c.dim;

    size_t len;
    unsigned char *text = load_text(&len);
    if (!text || len < (size_t)c.ctx + 2) {
        fprintf(stderr, "gpt-step: no text in /usr/share/common-licenses\n");
        return 1;
    }
    int T = c.ctx, nsteps = warmup + steps;
    int32_t *x = malloc(sizeof(int32_t) * B * T * nsteps);
    int32_t *y = malloc(sizeof(int32_t) * B * T * nsteps);
    uint64_t rs = 0;
    for (int s = 0; s < nsteps * B; s++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        size_t off = (size_t)((rs >> 17) % (len - T - 1));
        for (int t = 0; t < T; t++) {
            x[(size_t)s * T + t] = text[off + t];
            y[(size_t)s * T + t] = text[off + t + 1];
        }
    }
    adamw opt = {.m = calloc(ps->n, sizeof(float)),
                 .v = calloc(ps->n, sizeof(float)),
                 .n = ps->n,
                 .lr = 1e-3f,
                 .b1 = 0.9f,
                 .b2 = 0.95f,
                 .eps = 1e-8f,
                 .wd = 0.1f};
    so_optim *lib = NULL; /* the library's AdamW (src/ml/optim) unless --optim local */
    if (use_lib) {
        so_optim_config oc;
        so_optim_config_default(SO_OPTIM_ADAMW, &oc);
        oc.lr = 1e-3f;
        oc.beta1 = 0.9f;
        oc.beta2 = 0.95f;
        oc.weight_decay = 0.1f;
        SO_CHECK(so_optim_create(&oc, ps->n, NULL, 0, &lib));
    }
    double t0 = 0, tf = 0, tb = 0, to = 0;
    float first = 0, last = 0;
    for (int s = 0; s < nsteps; s++) {
        if (s == warmup) {
            t0 = so_now_s();
            tf = tb = to = 0;
            so_gpt_profile_reset(m);
        }
        float loss;
        double a = so_now_s();
        SO_CHECK(so_gpt_forward(m, x + (size_t)s * B * T, y + (size_t)s * B * T, B, T, &loss));
        double b = so_now_s();
        so_gpt_zero_grad(m);
        SO_CHECK(so_gpt_backward(m));
        double cc = so_now_s();
        if (lib) {
            SO_CHECK(so_optim_step(lib, ps->params, ps->grads));
        } else {
            adamw_step(&opt, ps->params, ps->grads);
        }
        double d = so_now_s();
        tf += b - a;
        tb += cc - b;
        to += d - cc;
        if (s == 0) {
            first = loss;
        }
        last = loss;
    }
    double dt = so_now_s() - t0;
    double tok_s = (double)B * T * steps / dt;
    printf("gpt L=%d d=%d h=%d T=%d B=%d threads=%d params=%zu: %.0f tokens/s, %.1f ms/step "
           "(forward %.1f, backward %.1f, adamw %.1f), model %.1f GFLOP/s, loss %.4f -> %.4f\n",
           c.layers, c.dim, c.heads, T, B, threads, ps->count, tok_s, dt / steps * 1e3,
           tf / steps * 1e3, tb / steps * 1e3, to / steps * 1e3, tok_s * flops_tok * 1e-9, first,
           last);
    if (json) {
        printf("{\"bench\": \"ours_gpt\", "
               "\"case\": \"gpt L=4 d=128 h=4 T=128 B=%d threads=%d ml\", "
               "\"metric\": \"tokens_per_s\", \"unit\": \"tokens/s\", \"value\": %.1f}\n",
               B, threads, tok_s);
    }
    if (profile) {
        const char *names[16];
        double secs[16];
        int k = so_gpt_profile(m, names, secs, 16);
        printf("per step, thread 0:");
        for (int i = 0; i < k; i++) {
            printf(" %s %.2f ms", names[i], secs[i] / steps * 1e3);
        }
        printf("\n");
    }
    if (gemm) {
        bench_gemm(threads);
    }
    so_optim_destroy(lib);
    free(opt.m);
    free(opt.v);
    free(x);
    free(y);
    free(text);
    so_gpt_destroy(m);
    return 0;
}

__attribute__((constructor)) static void register_gpt_step(void) {
    so_cli_register(SO_CLI_KIND_BENCH, "gpt-step",
                    "training tokens/s of the tiny GPT vs PyTorch's figure; --gemm GFLOP/s",
                    bench_gpt_step);
}
