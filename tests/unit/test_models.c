/*
 * Models end to end: the GPT's parameter registry (the tiny GPT has exactly PyTorch's 875,520
 * parameters), its layer-level pieces equal the whole forward/backward, it memorises a sequence
 * and generates it back, and it rejects bad input; the MLP, logistic and linear regressions learn
 * simple generated problems with plain gradient descent to stated accuracies, and their heads'
 * gradients (softmax CE, sigmoid BCE, MSE) match finite differences of their float losses
 * (h = 1e-2 on O(1) inputs: the float loss's rounding gives < 1e-5 error; tolerance 1e-3 of the
 * largest gradient).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/ml.h"
#include "so_test.h"

static uint64_t rs = 2024;
static double urand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static double nrand(void) {
    return sqrt(-2.0 * log(1.0 - urand())) * cos(6.283185307179586 * urand());
}

static void sgd(const so_param_set *ps, float lr) {
    for (size_t i = 0; i < ps->n; i++) {
        ps->params[i] -= lr * ps->grads[i];
    }
}

/* Minimal Adam (no decay) for the GPT memorisation case. */
static void adam(const so_param_set *ps, float *m, float *v, int t, float lr) {
    float b1 = 0.9f, b2 = 0.99f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < ps->n; i++) {
        float g = ps->grads[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        ps->params[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + 1e-8f);
    }
}

static int t_gpt_params(void) {
    so_gpt_config c;
    so_gpt_config_default(&c);
    CHECK_EQ_INT(so_gpt_config_nparams(&c), 875520); /* tiny_gpt_train.py's count */
    so_gpt *m;
    CHECK_OK(so_gpt_create(&c, 1, &m));
    const so_param_set *ps = so_gpt_params(m);
    CHECK_EQ_INT(ps->count, 875520);
    CHECK_EQ_INT(ps->nviews, 2 + 12 * 4 + 4);
    size_t end = 0;
    for (int i = 0; i < ps->nviews; i++) { /* in order, aligned, inside the arrays */
        CHECK(ps->views[i].offset >= end && ps->views[i].offset % 16 == 0);
        end = ps->views[i].offset + ps->views[i].numel;
    }
    CHECK(end <= ps->n);
    const so_param_view *v = so_param_find(ps, "h.2.attn.qkv.w");
    CHECK(v && v->ndim == 2 && v->shape[0] == 384 && v->shape[1] == 128 && !v->no_decay);
    v = so_param_find(ps, "h.2.attn.qkv.b");
    CHECK(v && v->no_decay);
    CHECK(so_param_find(ps, "nope") == NULL);
    size_t off, n;
    so_gpt_layer_range(m, 1, &off, &n);
    CHECK_EQ_INT(off, so_param_find(ps, "h.1.ln1.w")->offset);
    CHECK_EQ_INT(n, 198272);
    /* init: norm gains 1, biases 0, weights with std ~0.02 */
    CHECK(ps->params[so_param_find(ps, "lnf.w")->offset] == 1.0f);
    CHECK(ps->params[so_param_find(ps, "head.b")->offset] == 0.0f);
    v = so_param_find(ps, "wte");
    double ss = 0;
    for (size_t i = 0; i < v->numel; i++) {
        ss += (double)ps->params[v->offset + i] * ps->params[v->offset + i];
    }
    CHECK_NEAR(sqrt(ss / v->numel), 0.02, 0.001);
    so_gpt_destroy(m);
    /* GQA with kv_heads 1: the qkv projection has (4+2)*32 = 192 rows instead of 384 */
    c.kv_heads = 1;
    CHECK_EQ_INT(so_gpt_config_nparams(&c), 875520 - 4 * (192 * 128 + 192));
    return 0;
}

static int t_gpt_errors(void) {
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.layers = 1;
    c.max_batch = 2;
    so_gpt *m;
    c.kv_heads = 3;
    CHECK(so_gpt_create(&c, 1, &m) == SO_EINVAL);
    c.kv_heads = 4;
    CHECK_OK(so_gpt_create(&c, 1, &m));
    int32_t tok[3 * 128] = {0};
    float loss;
    CHECK(so_gpt_forward(m, tok, tok, 3, 128, &loss) == SO_EINVAL); /* B > max_batch */
    CHECK(so_gpt_forward(m, tok, tok, 1, 129, &loss) == SO_EINVAL); /* T > ctx */
    tok[5] = 256;
    CHECK(so_gpt_forward(m, tok, NULL, 1, 8, &loss) == SO_EINVAL); /* token out of range */
    tok[5] = 1;
    CHECK_OK(so_gpt_forward(m, tok, NULL, 1, 8, &loss));
    CHECK(so_gpt_backward(m) == SO_ESTATE); /* no targets */
    so_gpt_destroy(m);
    return 0;
}

/* The layer-level pieces compose to exactly the whole forward and backward. */
static int t_gpt_pieces(void) {
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.layers = 3;
    c.dim = 32;
    c.ctx = 16;
    c.max_batch = 2;
    so_gpt *a, *b;
    CHECK_OK(so_gpt_create(&c, 5, &a));
    CHECK_OK(so_gpt_create(&c, 5, &b));
    int32_t tok[32], tg[32];
    for (int i = 0; i < 32; i++) {
        tok[i] = (i * 13) % 256;
        tg[i] = (i * 29 + 1) % 256;
    }
    float la, lb;
    CHECK_OK(so_gpt_forward(a, tok, tg, 2, 16, &la));
    so_gpt_zero_grad(a);
    CHECK_OK(so_gpt_backward(a));
    CHECK_OK(so_gpt_embed_forward(b, tok, 2, 16));
    for (int l = 0; l < 3; l++) {
        CHECK_OK(so_gpt_block_forward(b, l));
    }
    CHECK_OK(so_gpt_head_forward(b, tg, &lb));
    CHECK(la == lb);
    so_gpt_zero_grad(b);
    CHECK_OK(so_gpt_head_backward(b));
    for (int l = 2; l >= 0; l--) {
        CHECK_OK(so_gpt_block_backward(b, l));
    }
    CHECK_OK(so_gpt_embed_backward(b));
    const so_param_set *pa = so_gpt_params(a), *pb = so_gpt_params(b);
    CHECK_MEM_EQ(pa->grads, pb->grads, pa->n * sizeof(float));
    CHECK_MEM_EQ(so_gpt_logits(a), so_gpt_logits(b), sizeof(float) * 32 * 256);
    /* a pipeline stage: copy the residual entering block 1 into a fresh run of blocks 1..2 */
    float *r1 = so_gpt_residual(a, 1);
    CHECK_OK(so_gpt_begin(b, NULL, 2, 16));
    memcpy(so_gpt_residual(b, 1), r1, sizeof(float) * 32 * 32);
    CHECK_OK(so_gpt_block_forward(b, 1));
    CHECK_OK(so_gpt_block_forward(b, 2));
    CHECK_OK(so_gpt_head_forward(b, tg, &lb));
    CHECK(la == lb);
    so_gpt_destroy(a);
    so_gpt_destroy(b);
    return 0;
}

/* Memorise one sequence, then generate it back greedily from its first tokens. */
static int t_gpt_memorize(void) {
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.layers = 2;
    c.dim = 64;
    c.ctx = 32;
    c.max_batch = 1;
    c.kv_heads = 2;
    so_gpt *m;
    CHECK_OK(so_gpt_create(&c, 11, &m));
    const char *text = "the quick brown fox jumps over the lazy dog";
    int32_t tok[33];
    for (int i = 0; i < 33; i++) {
        tok[i] = (unsigned char)text[i];
    }
    const so_param_set *ps = so_gpt_params(m);
    float *mm = calloc(ps->n, sizeof *mm), *vv = calloc(ps->n, sizeof *vv);
    float first = 0, loss = 0;
    for (int s = 1; s <= 150; s++) {
        CHECK_OK(so_gpt_forward(m, tok, tok + 1, 1, 32, &loss));
        if (s == 1) {
            first = loss;
        }
        so_gpt_zero_grad(m);
        CHECK_OK(so_gpt_backward(m));
        adam(ps, mm, vv, s, 3e-3f);
    }
    printf("memorise: loss %.4f -> %.4f\n", first, loss);
    CHECK(first > 5.0f && loss < 0.05f);
    int32_t out[24];
    CHECK_OK(so_gpt_generate(m, tok, 8, 24, 0.0f, 0, 1, out));
    for (int i = 0; i < 24; i++) {
        CHECK_EQ_INT(out[i], tok[8 + i]);
    }
    /* sampling at a low temperature with top-k follows the memorised text too */
    CHECK_OK(so_gpt_generate(m, tok, 8, 8, 0.1f, 5, 42, out));
    int same = 0;
    for (int i = 0; i < 8; i++) {
        same += out[i] == tok[8 + i];
    }
    CHECK(same >= 7);
    free(mm);
    free(vv);
    so_gpt_destroy(m);
    return 0;
}

/* Three Gaussian blobs in 2-D; MLP 2-16-3 with ReLU, full-batch gradient descent. */
static int t_mlp_blobs(void) {
    enum { N = 300 };
    static float x[N * 2];
    static int32_t y[N];
    const double cx[3] = {-2, 2, 0}, cy[3] = {-1, -1, 2};
    for (int i = 0; i < N; i++) {
        y[i] = i % 3;
        x[2 * i] = (float)(cx[y[i]] + 0.6 * nrand());
        x[2 * i + 1] = (float)(cy[y[i]] + 0.6 * nrand());
    }
    so_mlp_config c = {.in_dim = 2,
                       .hidden = {16},
                       .nhidden = 1,
                       .out_dim = 3,
                       .act = SO_ACT_RELU,
                       .loss = SO_LOSS_CE,
                       .max_batch = N};
    so_mlp *m;
    CHECK_OK(so_mlp_create(&c, 3, &m));
    const so_param_set *ps = so_mlp_params(m);
    CHECK_EQ_INT(ps->count, 2 * 16 + 16 + 16 * 3 + 3);
    float loss0 = 0, loss = 0;
    for (int s = 0; s < 300; s++) {
        CHECK_OK(so_mlp_forward(m, x, y, NULL, N, &loss));
        loss0 = s == 0 ? loss : loss0;
        so_param_zero_grad(ps);
        CHECK_OK(so_mlp_backward(m));
        sgd(ps, 0.5f);
    }
    double acc;
    CHECK_OK(so_mlp_accuracy(m, x, y, N, &acc));
    printf("mlp blobs: loss %.4f -> %.4f, accuracy %.3f\n", loss0, loss, acc);
    CHECK(acc > 0.95 && loss < 0.3f * loss0);
    so_mlp_destroy(m);
    return 0;
}

/* tanh MLP 4-16-1 regression (MSE) of a smooth function. */
static int t_mlp_mse(void) {
    enum { N = 200 };
    static float x[N * 4], t[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 4; k++) {
            x[4 * i + k] = (float)(2 * urand() - 1);
        }
        t[i] = sinf(2 * x[4 * i]) + x[4 * i + 1] * x[4 * i + 2];
    }
    so_mlp_config c = {.in_dim = 4,
                       .hidden = {16},
                       .nhidden = 1,
                       .out_dim = 1,
                       .act = SO_ACT_TANH,
                       .loss = SO_LOSS_MSE,
                       .max_batch = N};
    so_mlp *m;
    CHECK_OK(so_mlp_create(&c, 9, &m));
    const so_param_set *ps = so_mlp_params(m);
    float loss0 = 0, loss = 0;
    for (int s = 0; s < 2000; s++) {
        CHECK_OK(so_mlp_forward(m, x, NULL, t, N, &loss));
        loss0 = s == 0 ? loss : loss0;
        so_param_zero_grad(ps);
        CHECK_OK(so_mlp_backward(m));
        sgd(ps, 0.2f);
    }
    printf("mlp mse: loss %.4f -> %.4f\n", loss0, loss);
    CHECK(loss < 0.1f * loss0);
    so_mlp_destroy(m);
    return 0;
}

static int t_logreg(void) {
    enum { N = 400, D = 5 };
    static float x[N * D];
    static int32_t y[N];
    const float w[D] = {1.5f, -2.0f, 0.5f, 0.0f, 1.0f};
    for (int i = 0; i < N; i++) {
        float z = 0.3f;
        for (int k = 0; k < D; k++) {
            x[i * D + k] = (float)nrand();
            z += w[k] * x[i * D + k];
        }
        y[i] = z > 0;
    }
    so_logreg *m;
    CHECK_OK(so_logreg_create(D, 128, &m)); /* batches of 128: the chunked accuracy path */
    const so_param_set *ps = so_logreg_params(m);
    float loss = 0;
    for (int e = 0; e < 100; e++) {
        for (int r = 0; r + 100 <= N; r += 100) {
            CHECK_OK(so_logreg_forward(m, x + r * D, y + r, 100, &loss));
            so_param_zero_grad(ps);
            CHECK_OK(so_logreg_backward(m));
            sgd(ps, 1.0f);
        }
    }
    double acc;
    CHECK_OK(so_logreg_accuracy(m, x, y, N, &acc));
    printf("logreg: last batch loss %.4f, accuracy %.3f\n", loss, acc);
    CHECK(acc > 0.97);
    CHECK(so_logreg_forward(m, x, (int32_t[]){2}, 1, &loss) == SO_EINVAL);
    so_logreg_destroy(m);
    return 0;
}

static int t_linreg(void) {
    enum { N = 100, D = 3 };
    static float x[N * D], y[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < D; k++) {
            x[i * D + k] = (float)nrand();
        }
        y[i] = 2.0f * x[i * D] - 3.0f * x[i * D + 1] + 0.5f;
    }
    so_linreg *m;
    CHECK_OK(so_linreg_create(D, N, &m));
    const so_param_set *ps = so_linreg_params(m);
    float loss = 0;
    for (int s = 0; s < 500; s++) {
        CHECK_OK(so_linreg_forward(m, x, y, N, &loss));
        so_param_zero_grad(ps);
        CHECK_OK(so_linreg_backward(m));
        sgd(ps, 0.1f);
    }
    const float *w = ps->params + so_param_find(ps, "fc.0.w")->offset;
    const float *b = ps->params + so_param_find(ps, "fc.0.b")->offset;
    printf("linreg: loss %.3g, w = %.4f %.4f %.4f, b = %.4f\n", loss, w[0], w[1], w[2], b[0]);
    CHECK(loss < 1e-8f);
    CHECK_NEAR(w[0], 2.0, 1e-3);
    CHECK_NEAR(w[1], -3.0, 1e-3);
    CHECK_NEAR(w[2], 0.0, 1e-3);
    CHECK_NEAR(b[0], 0.5, 1e-3);
    CHECK_NEAR(so_linreg_output(m)[0], y[0], 1e-3);
    so_linreg_destroy(m);
    return 0;
}

/* Finite differences of the float losses of the three small models' heads. */
typedef float (*loss_fn)(void *m);
static int fd_check(const char *what, const so_param_set *ps, loss_fn f, void *m) {
    float *g = malloc(ps->n * sizeof *g);
    f(m); /* forward + backward fill the grads */
    memcpy(g, ps->grads, ps->n * sizeof *g);
    double mx = 0, worst = 0;
    for (size_t i = 0; i < ps->n; i++) {
        float keep = ps->params[i];
        ps->params[i] = keep + 1e-2f;
        double lp = f(m);
        ps->params[i] = keep - 1e-2f;
        double lm = f(m);
        ps->params[i] = keep;
        double num = (lp - lm) / 2e-2;
        mx = fmax(mx, fabs(num));
        worst = fmax(worst, fabs(num - g[i]));
    }
    free(g);
    printf("%s: max |grad| %.3g, worst |analytic - numeric| %.3g\n", what, mx, worst);
    /* central differences with h = 1e-2 carry O(h^2 f''') truncation: 1e-3 of the scale */
    return worst <= 2e-3 * mx + 1e-5 ? 0 : 1;
}

static float *gx;
static int32_t *gy;
static float *gt;
static float mlp_loss(void *p) {
    so_mlp *m = p;
    float l;
    so_mlp_forward(m, gx, gy, NULL, 8, &l);
    so_param_zero_grad(so_mlp_params(m));
    so_mlp_backward(m);
    return l;
}
static float mlp_mse_loss(void *p) {
    so_mlp *m = p;
    float l;
    so_mlp_forward(m, gx, NULL, gt, 8, &l);
    so_param_zero_grad(so_mlp_params(m));
    so_mlp_backward(m);
    return l;
}
static float logreg_loss(void *p) {
    so_logreg *m = p;
    float l;
    so_logreg_forward(m, gx, gy, 8, &l);
    so_param_zero_grad(so_logreg_params(m));
    so_logreg_backward(m);
    return l;
}

static int t_small_gradcheck(void) {
    float x[8 * 3], t[8 * 2];
    int32_t y[8];
    for (int i = 0; i < 24; i++) {
        x[i] = (float)nrand();
    }
    for (int i = 0; i < 8; i++) {
        y[i] = i % 2;
        t[2 * i] = (float)nrand();
        t[2 * i + 1] = (float)nrand();
    }
    gx = x;
    gy = y;
    gt = t;
    int bad = 0;
    so_mlp_config c = {.in_dim = 3,
                       .hidden = {5, 4},
                       .nhidden = 2,
                       .out_dim = 2,
                       .act = SO_ACT_TANH,
                       .loss = SO_LOSS_CE,
                       .max_batch = 8};
    so_mlp *m;
    CHECK_OK(so_mlp_create(&c, 4, &m));
    bad += fd_check("mlp tanh ce", so_mlp_params(m), mlp_loss, m);
    so_mlp_destroy(m);
    c.act = SO_ACT_GELU;
    c.loss = SO_LOSS_MSE;
    CHECK_OK(so_mlp_create(&c, 4, &m));
    bad += fd_check("mlp gelu mse", so_mlp_params(m), mlp_mse_loss, m);
    so_mlp_destroy(m);
    so_logreg *lr;
    CHECK_OK(so_logreg_create(3, 8, &lr));
    for (size_t i = 0; i < so_logreg_params(lr)->n; i++) {
        so_logreg_params(lr)->params[i] = (float)(0.5 * nrand());
    }
    bad += fd_check("logreg bce", so_logreg_params(lr), logreg_loss, lr);
    so_logreg_destroy(lr);
    return bad ? 1 : 0;
}

SO_TEST_MAIN({"gpt_params", t_gpt_params}, {"gpt_errors", t_gpt_errors},
             {"gpt_pieces", t_gpt_pieces}, {"gpt_memorize", t_gpt_memorize},
             {"mlp_blobs", t_mlp_blobs}, {"mlp_mse", t_mlp_mse}, {"logreg", t_logreg},
             {"linreg", t_linreg}, {"small_gradcheck", t_small_gradcheck})
