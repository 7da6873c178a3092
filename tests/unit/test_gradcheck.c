/*
 * Gradient checks: every layer's float backward kernel, and the whole GPT's backward, against
 * central finite differences of a double-precision reference forward written here.
 *
 * Method: for a layer y = f(x, w, ...) the scalar loss is L = sum(R * y) with a fixed random R, so
 * dL/dy = R is the dout fed to the float backward. The numeric gradient of every input element is
 * (L(x + h) - L(x - h)) / 2h in double with h = 1e-5 (truncation and rounding error ~1e-9, far
 * below the float kernels' ~1e-6). The reference forward is first held to the float forward
 * (relative 1e-5 of the output scale), so the check is about the kernels, not just the reference.
 * Tolerance on gradients: |analytic - numeric| <= 1e-4 * (max |numeric| over the tensor) + 1e-6:
 * float accumulation over <= a few hundred terms gives ~1e-6 relative (observed worst errors are
 * 1e-8..3e-7 absolute on gradients of size 0.05..3), so the margin is ~10x.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scaleout/ml.h"
#include "so_test.h"

#define H 1e-5
#define GTOL 1e-4

static uint64_t rs = 12345;
static double urand(void) { /* uniform [-1, 1) */
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
static float *frand(size_t n, double scale) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(scale * urand());
    }
    return p;
}
static double *todouble(const float *x, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) {
        d[i] = x[i];
    }
    return d;
}

/* ---------------------------------------------------------------- double references */

static void d_linear(double *out, const double *in, const double *w, const double *b, int N, int C,
                     int OC) {
    for (int i = 0; i < N; i++) {
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++) {
                s += in[i * C + c] * w[o * C + c];
            }
            out[i * OC + o] = s;
        }
    }
}

static void d_layernorm(double *out, const double *in, const double *w, const double *b, int N,
                        int C) {
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) {
            m += in[i * C + c];
        }
        m /= C;
        for (int c = 0; c < C; c++) {
            v += (in[i * C + c] - m) * (in[i * C + c] - m);
        }
        double r = 1.0 / sqrt(v / C + 1e-5);
        for (int c = 0; c < C; c++) {
            out[i * C + c] = (in[i * C + c] - m) * r * w[c] + (b ? b[c] : 0.0);
        }
    }
}

static void d_rmsnorm(double *out, const double *in, const double *w, int N, int C) {
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int c = 0; c < C; c++) {
            s += in[i * C + c] * in[i * C + c];
        }
        double r = 1.0 / sqrt(s / C + 1e-5);
        for (int c = 0; c < C; c++) {
            out[i * C + c] = in[i * C + c] * r * w[c];
        }
    }
}

static double d_gelu1(double x) {
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}
static double d_silu1(double x) {
    return x / (1.0 + exp(-x));
}

static void d_softmax(double *out, const double *in, int N, int C) {
    for (int i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int c = 0; c < C; c++) {
            m = fmax(m, in[i * C + c]);
        }
        for (int c = 0; c < C; c++) {
            out[i * C + c] = exp(in[i * C + c] - m);
            s += out[i * C + c];
        }
        for (int c = 0; c < C; c++) {
            out[i * C + c] /= s;
        }
    }
}

/* out (B,T,NH*HS) from qkv (B,T,(NH+2KVH)HS), causal, grouped heads. */
static void d_attention(double *out, const double *qkv, int B, int T, int NH, int KVH, int HS) {
    int R = (NH + 2 * KVH) * HS, C = NH * HS;
    double *s = malloc((size_t)T * sizeof *s);
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / KVH);
            for (int t = 0; t < T; t++) {
                const double *q = qkv + (size_t)(b * T + t) * R + h * HS;
                double m = -INFINITY, z = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + (size_t)(b * T + j) * R + (NH + g) * HS;
                    double d = 0;
                    for (int e = 0; e < HS; e++) {
                        d += q[e] * k[e];
                    }
                    s[j] = d / sqrt((double)HS);
                    m = fmax(m, s[j]);
                }
                for (int j = 0; j <= t; j++) {
                    s[j] = exp(s[j] - m);
                    z += s[j];
                }
                double *o = out + (size_t)(b * T + t) * C + h * HS;
                for (int e = 0; e < HS; e++) {
                    o[e] = 0;
                }
                for (int j = 0; j <= t; j++) {
                    const double *v = qkv + (size_t)(b * T + j) * R + (NH + KVH + g) * HS;
                    for (int e = 0; e < HS; e++) {
                        o[e] += s[j] / z * v[e];
                    }
                }
            }
        }
    }
    free(s);
}

/* Mean cross-entropy of logits (N,V) against targets (negative: ignored). */
static double d_ce(const double *z, const int32_t *tg, int N, int V) {
    double tot = 0;
    int cnt = 0;
    for (int i = 0; i < N; i++) {
        if (tg[i] < 0) {
            continue;
        }
        double m = -INFINITY, s = 0;
        for (int c = 0; c < V; c++) {
            m = fmax(m, z[i * V + c]);
        }
        for (int c = 0; c < V; c++) {
            s += exp(z[i * V + c] - m);
        }
        tot += log(s) + m - z[i * V + tg[i]];
        cnt++;
    }
    return cnt ? tot / cnt : 0.0;
}

/* ---------------------------------------------------------------- the checker */

/* A layer under test: x holds every input tensor back to back (double); loss(x) = sum R*f(x). */
typedef struct layer {
    int kind, N, C, OC, B, T, NH, KVH, HS;
    size_t nx, ny;
    double *R;
    int32_t *tok;
} layer;

enum { K_LINEAR, K_LAYERNORM, K_RMSNORM, K_GELU, K_SILU, K_SOFTMAX, K_ATTN, K_EMBED, K_CE };

static void layer_forward(const layer *L, const double *x, double *y) {
    switch (L->kind) {
    case K_LINEAR:
        d_linear(y, x, x + L->N * L->C, x + L->N * L->C + L->OC * L->C, L->N, L->C, L->OC);
        break;
    case K_LAYERNORM:
        d_layernorm(y, x, x + L->N * L->C, x + L->N * L->C + L->C, L->N, L->C);
        break;
    case K_RMSNORM:
        d_rmsnorm(y, x, x + L->N * L->C, L->N, L->C);
        break;
    case K_GELU:
        for (size_t i = 0; i < L->nx; i++) {
            y[i] = d_gelu1(x[i]);
        }
        break;
    case K_SILU:
        for (size_t i = 0; i < L->nx; i++) {
            y[i] = d_silu1(x[i]);
        }
        break;
    case K_SOFTMAX:
        d_softmax(y, x, L->N, L->C);
        break;
    case K_ATTN:
        d_attention(y, x, L->B, L->T, L->NH, L->KVH, L->HS);
        break;
    case K_EMBED: { /* x = wte (V=OC rows) then wpe (T rows) */
        const double *wte = x, *wpe = x + (size_t)L->OC * L->C;
        for (int b = 0; b < L->B; b++) {
            for (int t = 0; t < L->T; t++) {
                for (int c = 0; c < L->C; c++) {
                    y[(b * L->T + t) * L->C + c] =
                        wte[L->tok[b * L->T + t] * L->C + c] + wpe[t * L->C + c];
                }
            }
        }
        break;
    }
    case K_CE:
        y[0] = d_ce(x, L->tok, L->N, L->C);
        break;
    }
}

static double layer_loss(const layer *L, const double *x, double *ybuf) {
    layer_forward(L, x, ybuf);
    double s = 0;
    for (size_t i = 0; i < L->ny; i++) {
        s += L->R[i] * ybuf[i];
    }
    return s;
}

/* Compares the analytic gradient ga (nx floats) with central differences of layer_loss around x,
 * tensor by tensor (segments given by seg_end[], nseg of them). Returns 0 if all are close. */
static int compare(const char *what, const layer *L, double *x, const float *ga,
                   const size_t *seg_end, int nseg) {
    double *y = malloc(L->ny * sizeof *y);
    double *gn = malloc(L->nx * sizeof *gn);
    for (size_t i = 0; i < L->nx; i++) {
        double keep = x[i];
        x[i] = keep + H;
        double lp = layer_loss(L, x, y);
        x[i] = keep - H;
        double lm = layer_loss(L, x, y);
        x[i] = keep;
        gn[i] = (lp - lm) / (2 * H);
    }
    int bad = 0;
    size_t lo = 0;
    for (int s = 0; s < nseg; s++) {
        double mx = 0, worst = 0;
        for (size_t i = lo; i < seg_end[s]; i++) {
            mx = fmax(mx, fabs(gn[i]));
        }
        for (size_t i = lo; i < seg_end[s]; i++) {
            double err = fabs(ga[i] - gn[i]);
            worst = fmax(worst, err);
            if (err > GTOL * mx + 1e-6) {
                if (bad++ < 5) {
                    fprintf(stderr, "%s input %d elem %zu: analytic %.8g numeric %.8g\n", what, s,
                            i - lo, ga[i], gn[i]);
                }
            }
        }
        printf("%s tensor %d: max |grad| %.3g, worst error %.3g\n", what, s, mx, worst);
        lo = seg_end[s];
    }
    free(y);
    free(gn);
    return bad;
}

/* The double forward must match the float forward (same math, so relative 1e-5 of the scale). */
static int forward_matches(const char *what, const layer *L, const double *x, const float *yf) {
    double *y = malloc(L->ny * sizeof *y);
    layer_forward(L, x, y);
    double mx = 0, worst = 0;
    for (size_t i = 0; i < L->ny; i++) {
        mx = fmax(mx, fabs(y[i]));
        worst = fmax(worst, fabs(y[i] - yf[i]));
    }
    free(y);
    printf("%s forward: scale %.3g, max |float - double| %.3g\n", what, mx, worst);
    return worst <= 1e-5 * fmax(mx, 1.0) ? 0 : 1;
}

static float *rtofloat(const double *R, size_t n) {
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)R[i];
    }
    return f;
}

static double *make_r(size_t n) {
    double *R = malloc(n * sizeof *R);
    for (size_t i = 0; i < n; i++) {
        R[i] = urand();
    }
    return R;
}

/* ---------------------------------------------------------------- layer cases */

static int t_linear(void) {
    int N = 5, C = 7, OC = 6;
    layer L = {.kind = K_LINEAR, .N = N, .C = C, .OC = OC};
    L.nx = (size_t)N * C + OC * C + OC;
    L.ny = (size_t)N * OC;
    float *xf = frand(L.nx, 1.0), *y = calloc(L.ny, sizeof *y), *g = calloc(L.nx, sizeof *g);
    L.R = make_r(L.ny);
    float *R = rtofloat(L.R, L.ny);
    so_matmul_forward(y, xf, xf + N * C, xf + N * C + OC * C, N, C, OC);
    so_matmul_backward(g, g + N * C, g + N * C + OC * C, R, xf, xf + N * C, N, C, OC);
    double *x = todouble(xf, L.nx);
    size_t seg[] = {(size_t)N * C, (size_t)N * C + OC * C, L.nx};
    int bad = forward_matches("linear", &L, x, y) + compare("linear", &L, x, g, seg, 3);
    free(xf), free(y), free(g), free(R), free(L.R), free(x);
    return bad ? 1 : 0;
}

static int norm_case(int rms) {
    int N = 4, C = 24;
    layer L = {.kind = rms ? K_RMSNORM : K_LAYERNORM, .N = N, .C = C};
    L.nx = (size_t)N * C + C + (rms ? 0 : C);
    L.ny = (size_t)N * C;
    float *xf = frand(L.nx, 1.0), *y = calloc(L.ny, sizeof *y), *g = calloc(L.nx, sizeof *g);
    float mean[4], rstd[4];
    for (int c = 0; c < C; c++) { /* gains near 1 like a trained norm */
        xf[N * C + c] += 1.0f;
    }
    L.R = make_r(L.ny);
    float *R = rtofloat(L.R, L.ny);
    if (rms) {
        so_rmsnorm_forward(y, rstd, xf, xf + N * C, N, C);
        so_rmsnorm_backward(g, g + N * C, R, xf, xf + N * C, rstd, N, C);
    } else {
        so_layernorm_forward(y, mean, rstd, xf, xf + N * C, xf + N * C + C, N, C);
        so_layernorm_backward(g, g + N * C, g + N * C + C, R, xf, xf + N * C, mean, rstd, N, C);
    }
    double *x = todouble(xf, L.nx);
    size_t seg[] = {(size_t)N * C, (size_t)N * C + C, L.nx};
    const char *nm = rms ? "rmsnorm" : "layernorm";
    int bad = forward_matches(nm, &L, x, y) + compare(nm, &L, x, g, seg, rms ? 2 : 3);
    free(xf), free(y), free(g), free(R), free(L.R), free(x);
    return bad ? 1 : 0;
}
static int t_layernorm(void) {
    return norm_case(0);
}
static int t_rmsnorm(void) {
    return norm_case(1);
}

static int act_case(int kind) {
    layer L = {.kind = kind};
    L.nx = L.ny = 200;
    float *xf = frand(L.nx, 4.0), *y = calloc(L.ny, sizeof *y), *g = calloc(L.nx, sizeof *g);
    L.R = make_r(L.ny);
    float *R = rtofloat(L.R, L.ny);
    if (kind == K_GELU) {
        so_gelu_forward(y, xf, L.nx);
        so_gelu_backward(g, xf, R, L.nx);
    } else {
        so_silu_forward(y, xf, L.nx);
        so_silu_backward(g, xf, R, L.nx);
    }
    double *x = todouble(xf, L.nx);
    size_t seg[] = {L.nx};
    const char *nm = kind == K_GELU ? "gelu" : "silu";
    int bad = forward_matches(nm, &L, x, y) + compare(nm, &L, x, g, seg, 1);
    free(xf), free(y), free(g), free(R), free(L.R), free(x);
    return bad ? 1 : 0;
}
static int t_gelu(void) {
    return act_case(K_GELU);
}
static int t_silu(void) {
    return act_case(K_SILU);
}

static int t_softmax(void) {
    int N = 3, C = 17;
    layer L = {.kind = K_SOFTMAX, .N = N, .C = C};
    L.nx = L.ny = (size_t)N * C;
    float *xf = frand(L.nx, 3.0), *y = calloc(L.ny, sizeof *y), *g = calloc(L.nx, sizeof *g);
    L.R = make_r(L.ny);
    float *R = rtofloat(L.R, L.ny);
    so_softmax_forward(y, xf, N, C);
    so_softmax_backward(g, y, R, N, C);
    double *x = todouble(xf, L.nx);
    size_t seg[] = {L.nx};
    int bad = forward_matches("softmax", &L, x, y) + compare("softmax", &L, x, g, seg, 1);
    free(xf), free(y), free(g), free(R), free(L.R), free(x);
    return bad ? 1 : 0;
}

static int attn_case(int NH, int KVH) {
    int B = 2, T = 6, HS = 4;
    layer L = {.kind = K_ATTN, .B = B, .T = T, .NH = NH, .KVH = KVH, .HS = HS};
    L.nx = (size_t)B * T * (NH + 2 * KVH) * HS;
    L.ny = (size_t)B * T * NH * HS;
    float *xf = frand(L.nx, 1.5), *y = calloc(L.ny, sizeof *y), *g = calloc(L.nx, sizeof *g);
    float *att = calloc((size_t)B * NH * T * T, sizeof *att), *datt = calloc((size_t)T * T, 4);
    L.R = make_r(L.ny);
    float *R = rtofloat(L.R, L.ny);
    so_attention_forward(y, att, xf, B, T, NH, KVH, HS);
    so_attention_backward(g, datt, R, xf, att, B, T, NH, KVH, HS);
    double *x = todouble(xf, L.nx);
    size_t seg[] = {L.nx};
    char nm[64];
    snprintf(nm, sizeof nm, "attention NH=%d KVH=%d", NH, KVH);
    int bad = forward_matches(nm, &L, x, y) + compare(nm, &L, x, g, seg, 1);
    /* causal: probabilities above the diagonal are exactly zero, rows sum to 1 */
    for (int r = 0; r < B * NH * T && !bad; r++) {
        int t = r % T;
        double s = 0;
        for (int j = 0; j < T; j++) {
            s += att[(size_t)r * T + j];
            if (j > t && att[(size_t)r * T + j] != 0.0f) {
                bad++;
            }
        }
        bad += fabs(s - 1.0) > 1e-5;
    }
    free(xf), free(y), free(g), free(att), free(datt), free(R), free(L.R), free(x);
    return bad ? 1 : 0;
}
static int t_attention(void) {
    return attn_case(4, 4);
}
static int t_attention_gqa(void) {
    return attn_case(4, 2) + attn_case(4, 1) ? 1 : 0;
}

static int t_embedding(void) {
    int B = 2, T = 5, C = 6, V = 7;
    int32_t tok[10] = {1, 3, 3, 0, 6, 2, 1, 1, 5, 3};
    layer L = {.kind = K_EMBED, .B = B, .T = T, .C = C, .OC = V, .tok = tok};
    L.nx = (size_t)V * C + (size_t)T * C;
    L.ny = (size_t)B * T * C;
    float *xf = frand(L.nx, 1.0), *y = calloc(L.ny, sizeof *y), *g = calloc(L.nx, sizeof *g);
    L.R = make_r(L.ny);
    float *R = rtofloat(L.R, L.ny);
    so_embedding_forward(y, tok, xf, xf + V * C, B, T, C, V);
    so_embedding_backward(g, g + V * C, R, tok, B, T, C);
    double *x = todouble(xf, L.nx);
    size_t seg[] = {(size_t)V * C, L.nx};
    int bad = forward_matches("embedding", &L, x, y) + compare("embedding", &L, x, g, seg, 2);
    free(xf), free(y), free(g), free(R), free(L.R), free(x);
    return bad ? 1 : 0;
}

static int t_crossentropy(void) {
    int N = 6, V = 9;
    int32_t tg[6] = {0, 8, 3, -1, 3, 5}; /* one ignored row */
    layer L = {.kind = K_CE, .N = N, .C = V, .tok = tg};
    L.nx = (size_t)N * V;
    L.ny = 1;
    double r1 = 1.0;
    L.R = &r1;
    float *xf = frand(L.nx, 3.0), *probs = calloc(L.nx, sizeof *probs), *g = calloc(L.nx, 4);
    float losses[6];
    double sum = so_crossentropy_forward(losses, probs, xf, tg, N, V);
    so_crossentropy_backward(g, probs, tg, 1.0f / 5, N, V); /* mean over 5 counted rows */
    float mean = (float)(sum / 5);
    double *x = todouble(xf, L.nx);
    size_t seg[] = {L.nx};
    int bad =
        forward_matches("cross-entropy", &L, x, &mean) + compare("cross-entropy", &L, x, g, seg, 1);
    bad += losses[3] != 0.0f;
    /* in-place form (dlogits aliases probs) gives the same gradient */
    so_crossentropy_backward(probs, probs, tg, 1.0f / 5, N, V);
    for (size_t i = 0; i < L.nx; i++) {
        bad += fabsf(probs[i] - g[i]) > 1e-7f;
    }
    free(xf), free(probs), free(g), free(x);
    return bad ? 1 : 0;
}

/* ---------------------------------------------------------------- whole GPT */

typedef struct gptref {
    const so_gpt_config *c;
    const so_param_set *ps;
    const int32_t *tok, *tg;
    int B, T;
} gptref;

static const double *V_(const gptref *g, const double *p, const char *name) {
    const so_param_view *v = so_param_find(g->ps, name);
    return v ? p + v->offset : NULL;
}

/* Mean loss of the GPT in double from the flat parameters p (same layout as the model). */
static double gpt_loss(const gptref *g, const double *p) {
    const so_gpt_config *c = g->c;
    int B = g->B, T = g->T, C = c->dim, V = c->vocab, N = B * T, NH = c->heads, KVH = c->kv_heads;
    int HS = C / NH, Q = (NH + 2 * KVH) * HS, M = c->mlp_mult * C;
    double *x = malloc(sizeof(double) * N * C), *h = malloc(sizeof(double) * N * C);
    double *qkv = malloc(sizeof(double) * N * Q), *a = malloc(sizeof(double) * N * C);
    double *o = malloc(sizeof(double) * N * C), *f = malloc(sizeof(double) * N * M);
    double *z = malloc(sizeof(double) * N * V);
    const double *wte = V_(g, p, "wte"), *wpe = V_(g, p, "wpe");
    for (int i = 0; i < N; i++) {
        for (int e = 0; e < C; e++) {
            x[i * C + e] = wte[g->tok[i] * C + e] + wpe[(i % T) * C + e];
        }
    }
    char nm[64];
#define PV(fmt, l) (snprintf(nm, sizeof nm, fmt, l), V_(g, p, nm))
    for (int l = 0; l < c->layers; l++) {
        if (c->norm == SO_NORM_LAYER) {
            d_layernorm(h, x, PV("h.%d.ln1.w", l), PV("h.%d.ln1.b", l), N, C);
        } else {
            d_rmsnorm(h, x, PV("h.%d.ln1.w", l), N, C);
        }
        d_linear(qkv, h, PV("h.%d.attn.qkv.w", l), PV("h.%d.attn.qkv.b", l), N, C, Q);
        d_attention(a, qkv, B, T, NH, KVH, HS);
        d_linear(o, a, PV("h.%d.attn.proj.w", l), PV("h.%d.attn.proj.b", l), N, C, C);
        for (int i = 0; i < N * C; i++) {
            x[i] += o[i];
        }
        if (c->norm == SO_NORM_LAYER) {
            d_layernorm(h, x, PV("h.%d.ln2.w", l), PV("h.%d.ln2.b", l), N, C);
        } else {
            d_rmsnorm(h, x, PV("h.%d.ln2.w", l), N, C);
        }
        d_linear(f, h, PV("h.%d.mlp.fc.w", l), PV("h.%d.mlp.fc.b", l), N, C, M);
        for (int i = 0; i < N * M; i++) {
            f[i] = c->act == SO_ACT_GELU ? d_gelu1(f[i]) : d_silu1(f[i]);
        }
        d_linear(o, f, PV("h.%d.mlp.proj.w", l), PV("h.%d.mlp.proj.b", l), N, M, C);
        for (int i = 0; i < N * C; i++) {
            x[i] += o[i];
        }
    }
#undef PV
    if (c->norm == SO_NORM_LAYER) {
        d_layernorm(h, x, V_(g, p, "lnf.w"), V_(g, p, "lnf.b"), N, C);
    } else {
        d_rmsnorm(h, x, V_(g, p, "lnf.w"), N, C);
    }
    d_linear(z, h, V_(g, p, "head.w"), V_(g, p, "head.b"), N, C, V);
    double loss = d_ce(z, g->tg, N, V);
    free(x), free(h), free(qkv), free(a), free(o), free(f), free(z);
    return loss;
}

static int gpt_case(int norm, int act, int bias, int kvh, int threads) {
    so_gpt_config c;
    so_gpt_config_default(&c);
    c.vocab = 11;
    c.ctx = 8;
    c.layers = 2;
    c.dim = 16;
    c.heads = 4;
    c.kv_heads = kvh;
    c.mlp_mult = 2;
    c.max_batch = 3;
    c.norm = norm;
    c.act = act;
    c.bias = bias;
    CHECK_OK(so_ml_set_threads(threads));
    so_gpt *m;
    CHECK_OK(so_gpt_create(&c, 7, &m));
    const so_param_set *ps = so_gpt_params(m);
    /* larger weights than the 0.02 init, so every gradient is well above rounding noise */
    for (int i = 0; i < ps->nviews; i++) {
        const so_param_view *v = &ps->views[i];
        int gain = strstr(v->name, "ln") != NULL && v->name[strlen(v->name) - 1] == 'w';
        for (size_t k = 0; k < v->numel; k++) {
            ps->params[v->offset + k] = (float)((gain ? 1.0 : 0.0) + 0.3 * urand());
        }
    }
    int B = 3, T = 7;
    int32_t tok[21], tg[21];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)((i * 7 + 3) % c.vocab);
        tg[i] = i == 4 ? -1 : (int32_t)((i * 5 + 1) % c.vocab);
    }
    float loss;
    CHECK_OK(so_gpt_forward(m, tok, tg, B, T, &loss));
    so_gpt_zero_grad(m);
    CHECK_OK(so_gpt_backward(m));
    gptref g = {&c, ps, tok, tg, B, T};
    double *p = todouble(ps->params, ps->n);
    double dl = gpt_loss(&g, p);
    printf("gpt norm=%d act=%d bias=%d kvh=%d threads=%d: loss float %.7f double %.7f\n", norm, act,
           bias, kvh, threads, loss, dl);
    CHECK(fabs(loss - dl) <= 1e-5 * fabs(dl));
    int bad = 0;
    for (int i = 0; i < ps->nviews; i++) {
        const so_param_view *v = &ps->views[i];
        double mx = 0, worst = 0;
        double *gn = malloc(v->numel * sizeof *gn);
        for (size_t k = 0; k < v->numel; k++) {
            double *q = &p[v->offset + k], keep = *q;
            *q = keep + H;
            double lp = gpt_loss(&g, p);
            *q = keep - H;
            double lm = gpt_loss(&g, p);
            *q = keep;
            gn[k] = (lp - lm) / (2 * H);
            mx = fmax(mx, fabs(gn[k]));
        }
        for (size_t k = 0; k < v->numel; k++) {
            double err = fabs(ps->grads[v->offset + k] - gn[k]);
            worst = fmax(worst, err);
            if (err > GTOL * mx + 1e-6 && bad++ < 5) {
                fprintf(stderr, "%s[%zu]: analytic %.8g numeric %.8g\n", v->name, k,
                        ps->grads[v->offset + k], gn[k]);
            }
        }
        if (strstr(v->name, "wpe") && mx == 0) {
            bad++; /* positions 0..T-1 are used, so their gradient cannot be all zero */
        }
        printf("  %-18s max |grad| %.3g worst error %.3g\n", v->name, mx, worst);
        free(gn);
    }
    free(p);
    so_gpt_destroy(m);
    return bad ? 1 : 0;
}

static int t_gpt(void) {
    return gpt_case(SO_NORM_LAYER, SO_ACT_GELU, 1, 4, 1);
}
static int t_gpt_gqa_rms(void) {
    return gpt_case(SO_NORM_RMS, SO_ACT_SILU, 0, 2, 1);
}
static int t_gpt_threads(void) {
    return gpt_case(SO_NORM_LAYER, SO_ACT_GELU, 1, 1, 2);
}

SO_TEST_MAIN({"linear", t_linear}, {"layernorm", t_layernorm}, {"rmsnorm", t_rmsnorm},
             {"gelu", t_gelu}, {"silu", t_silu}, {"softmax", t_softmax}, {"attention", t_attention},
             {"attention_gqa", t_attention_gqa}, {"embedding", t_embedding},
             {"crossentropy", t_crossentropy}, {"gpt", t_gpt}, {"gpt_gqa_rms", t_gpt_gqa_rms},
             {"gpt_threads", t_gpt_threads})
