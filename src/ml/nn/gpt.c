/*
 * GPT decoder over flat arenas (after llm.c's train_gpt2.c): token + learned position embedding,
 * L pre-norm blocks x += attn(norm1(x)); x += mlp(norm2(x)), a final norm and an untied linear
 * head with a fused softmax cross-entropy. Attention is causal with optional grouped-query heads;
 * norms are LayerNorm or RMSNorm; the MLP is Linear -> GELU|SiLU -> Linear.
 *
 * Memory: one parameter array, one gradient array, (chunks-1) per-chunk gradient arrays, and one
 * activation arena sized for max_batch x ctx, all allocated at create; forward/backward allocate
 * nothing. The activation arena keeps every tensor backward needs per layer (llm.c's layout) plus
 * per-layer residual gradients, so a pipeline stage can run any block range.
 *
 * Threads: every piece splits the batch into SO_ML_CHUNKS (4) chunks of sequences that the ml
 * pool's threads claim one at a time (so a thread slowed by a foreign process leaves its share to
 * the other), each running the single-threaded kernels (OpenBLAS at one thread) on its rows.
 * Forward needs no reduction (the loss is summed in row order afterwards). In backward, chunk 0
 * accumulates parameter gradients into the model's array and chunk c > 0 into its own array;
 * after each piece, that piece's parameter range is summed into the model's array in chunk order
 * (and re-zeroed) by a second parallel pass over elements. Which thread ran which chunk therefore
 * changes nothing: results are bitwise the same for any thread count. A training step is ~2L+6
 * pool dispatches.
 * Cost: ~6 N + 12 L T C flops per token for a training step (N non-embedding parameters).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "../kernels/kernels_internal.h"
#include "../kernels/pool.h"
#include "nn_internal.h"

#define NONE ((size_t)-1)

enum { P_EMBED, P_NORM, P_MATMUL, P_ATTN, P_ACT, P_RESID, P_HEAD, P_REDUCE, P_COUNT };
static const char *const prof_names[P_COUNT] = {"embed", "norm",     "matmul", "attention",
                                                "act",   "residual", "head",   "reduce"};

typedef struct layer_off { /* offsets of one block's tensors in the flat arrays */
    size_t ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, fc2w, fc2b;
    size_t begin, end;
} layer_off;

typedef struct layer_act { /* one block's saved activations, each sized for max_batch x ctx */
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *mid, *ln2, *ln2_mean, *ln2_rstd, *fch,
        *fch_act;
} layer_act;

struct so_gpt {
    so_gpt_config c;
    int HS, QKV, M; /* head size, qkv width (NH+2KVH)HS, mlp width */
    so_param_set ps;
    size_t wte, wpe, lnfw, lnfb, headw, headb; /* offsets */
    size_t head_begin;                         /* start of lnf..head.b range */
    layer_off *lo;
    int nthr;     /* threads the per-thread scratch (datt) was made for */
    int nchunk;   /* batch chunks: chunk c accumulates gradients into array c */
    float *tgrad; /* (nchunk-1) x n: gradient arrays of chunks 1.. (chunk 0 uses ps.grads) */
    float *act;   /* the activation arena */
    layer_act *la;
    float **res, **dres; /* (L+1) residual streams and their gradients */
    float *lnf, *lnf_mean, *lnf_rstd, *logits, *probs, *losses;
    float *dmid, *dln, *dqkv, *datty, *dfch, *dfch_act, *dlnf; /* backward scratch, per row */
    float *datt;                                               /* (nthr) x T x T */
    int32_t *tokens, *targets;                                 /* copies of the last batch */
    int B, T, has_targets;
    double loss_sum;
    int64_t count;
    int profile;
    double prof[P_COUNT];
    int32_t *gen_buf; /* ctx tokens */
    float *gen_p;     /* V scratch */
    int32_t *gen_i;   /* V scratch */
};

/* ---------------------------------------------------------------- configuration */

void so_gpt_config_default(so_gpt_config *c) {
    memset(c, 0, sizeof *c);
    c->vocab = 256;
    c->ctx = 128;
    c->layers = 4;
    c->dim = 128;
    c->heads = 4;
    c->kv_heads = 4;
    c->mlp_mult = 4;
    c->max_batch = 16;
    c->norm = SO_NORM_LAYER;
    c->act = SO_ACT_GELU;
    c->bias = 1;
}

static int check_config(const so_gpt_config *c) {
    if (c->vocab < 1 || c->ctx < 1 || c->layers < 1 || c->dim < 1 || c->heads < 1 ||
        c->mlp_mult < 1 || c->max_batch < 1) {
        return so__fail(SO_EINVAL,
                        "gpt config needs vocab, ctx, layers, dim, heads, mlp_mult and max_batch "
                        "all >= 1 (got %d %d %d %d %d %d %d)",
                        c->vocab, c->ctx, c->layers, c->dim, c->heads, c->mlp_mult, c->max_batch);
    }
    int kvh = c->kv_heads ? c->kv_heads : c->heads;
    if (c->dim % c->heads || kvh < 1 || c->heads % kvh) {
        return so__fail(SO_EINVAL, "gpt dim %d must divide by heads %d, and heads by kv_heads %d",
                        c->dim, c->heads, kvh);
    }
    if ((c->norm != SO_NORM_LAYER && c->norm != SO_NORM_RMS) ||
        (c->act != SO_ACT_GELU && c->act != SO_ACT_SILU)) {
        return so__fail(SO_EINVAL, "gpt norm %d or activation %d is not supported", c->norm,
                        c->act);
    }
    return SO_OK;
}

/* Lays out the parameters (used by create and by so_gpt_config_nparams). */
static int layout(so_gpt *m, so__param_builder *pb) {
    const so_gpt_config *c = &m->c;
    int C = c->dim, V = c->vocab;
    int hasb = c->bias, ln = c->norm == SO_NORM_LAYER;
    char name[SO_PARAM_NAME_MAX];
    SO_TRY(so__pb_add(pb, "wte", V, C, 0, &m->wte));
    SO_TRY(so__pb_add(pb, "wpe", c->ctx, C, 0, &m->wpe));
    for (int l = 0; l < c->layers; l++) {
        layer_off *o = &m->lo[l];
        memset(o, 0xff, sizeof *o);
        o->begin = pb->total;
#define ADD(field, suffix, d0, d1, nd)                                                             \
    snprintf(name, sizeof name, "h.%d.%s", l, suffix);                                             \
    SO_TRY(so__pb_add(pb, name, d0, d1, nd, &o->field))
        ADD(ln1w, "ln1.w", C, 0, 1);
        if (hasb && ln) {
            ADD(ln1b, "ln1.b", C, 0, 1);
        }
        ADD(qkvw, "attn.qkv.w", m->QKV, C, 0);
        if (hasb) {
            ADD(qkvb, "attn.qkv.b", m->QKV, 0, 1);
        }
        ADD(projw, "attn.proj.w", C, C, 0);
        if (hasb) {
            ADD(projb, "attn.proj.b", C, 0, 1);
        }
        ADD(ln2w, "ln2.w", C, 0, 1);
        if (hasb && ln) {
            ADD(ln2b, "ln2.b", C, 0, 1);
        }
        ADD(fcw, "mlp.fc.w", m->M, C, 0);
        if (hasb) {
            ADD(fcb, "mlp.fc.b", m->M, 0, 1);
        }
        ADD(fc2w, "mlp.proj.w", C, m->M, 0);
        if (hasb) {
            ADD(fc2b, "mlp.proj.b", C, 0, 1);
        }
#undef ADD
        o->end = pb->total;
    }
    m->head_begin = pb->total;
    m->lnfb = NONE;
    m->headb = NONE;
    SO_TRY(so__pb_add(pb, "lnf.w", C, 0, 1, &m->lnfw));
    if (hasb && ln) {
        SO_TRY(so__pb_add(pb, "lnf.b", C, 0, 1, &m->lnfb));
    }
    SO_TRY(so__pb_add(pb, "head.w", V, C, 0, &m->headw));
    if (hasb) {
        SO_TRY(so__pb_add(pb, "head.b", V, 0, 1, &m->headb));
    }
    return SO_OK;
}

static void derive(so_gpt *m) {
    const so_gpt_config *c = &m->c;
    m->HS = c->dim / c->heads;
    m->QKV = (c->heads + 2 * c->kv_heads) * m->HS;
    m->M = c->mlp_mult * c->dim;
}

size_t so_gpt_config_nparams(const so_gpt_config *cfg) {
    if (check_config(cfg) < 0) {
        return 0;
    }
    so_gpt m;
    memset(&m, 0, sizeof m);
    m.c = *cfg;
    if (!m.c.kv_heads) {
        m.c.kv_heads = m.c.heads;
    }
    derive(&m);
    m.lo = calloc((size_t)cfg->layers, sizeof *m.lo);
    so__param_builder pb = {0};
    size_t n = 0;
    if (m.lo && layout(&m, &pb) == SO_OK) {
        for (int i = 0; i < pb.n; i++) {
            n += pb.views[i].numel;
        }
    }
    so__pb_abandon(&pb);
    free(m.lo);
    return n;
}

/* ---------------------------------------------------------------- create / destroy */

static float *P(const so_gpt *m, size_t off) { /* parameter pointer or NULL */
    return off == NONE ? NULL : m->ps.params + off;
}
static float *G(float *g, size_t off) { /* gradient pointer in array g, or NULL */
    return off == NONE ? NULL : g + off;
}

static int alloc_acts(so_gpt *m) {
    const so_gpt_config *c = &m->c;
    size_t BT = (size_t)c->max_batch * c->ctx, C = c->dim, L = c->layers;
    size_t per_layer = BT * (5 * C + 4 + m->QKV + 2 * (size_t)m->M) +
                       (size_t)c->max_batch * c->heads * c->ctx * c->ctx;
    size_t total = L * per_layer + (L + 1) * BT * C * 2 /* res, dres */ + BT * (C + 3) /* lnf */ +
                   2 * BT * c->vocab + BT /* losses */ +
                   BT * (3 * C + m->QKV + 2 * (size_t)m->M) /* backward scratch */ +
                   (size_t)m->nthr * c->ctx * c->ctx + 16 * (L * 12 + 32);
    m->act = so_malloc_aligned(total * sizeof(float));
    m->la = calloc(L, sizeof *m->la);
    m->res = calloc(L + 1, sizeof *m->res);
    m->dres = calloc(L + 1, sizeof *m->dres);
    if (!m->act || !m->la || !m->res || !m->dres) {
        return so__fail(SO_ENOMEM, "no memory for %zu MiB of gpt activations",
                        total * sizeof(float) >> 20);
    }
    memset(m->act, 0, total * sizeof(float));
    float *p = m->act;
#define TAKE(n) (p += (((size_t)(n) + 15) & ~(size_t)15), p - (((size_t)(n) + 15) & ~(size_t)15))
    for (size_t l = 0; l < L; l++) {
        layer_act *a = &m->la[l];
        a->ln1 = TAKE(BT * C);
        a->ln1_mean = TAKE(BT);
        a->ln1_rstd = TAKE(BT);
        a->qkv = TAKE(BT * m->QKV);
        a->att = TAKE((size_t)c->max_batch * c->heads * c->ctx * c->ctx);
        a->atty = TAKE(BT * C);
        a->mid = TAKE(BT * C);
        a->ln2 = TAKE(BT * C);
        a->ln2_mean = TAKE(BT);
        a->ln2_rstd = TAKE(BT);
        a->fch = TAKE(BT * m->M);
        a->fch_act = TAKE(BT * m->M);
    }
    for (size_t l = 0; l <= L; l++) {
        m->res[l] = TAKE(BT * C);
        m->dres[l] = TAKE(BT * C);
    }
    m->lnf = TAKE(BT * C);
    m->lnf_mean = TAKE(BT);
    m->lnf_rstd = TAKE(BT);
    m->logits = TAKE(BT * c->vocab);
    m->probs = TAKE(BT * c->vocab);
    m->losses = TAKE(BT);
    m->dmid = TAKE(BT * C);
    m->dln = TAKE(BT * C);
    m->datty = TAKE(BT * C);
    m->dqkv = TAKE(BT * m->QKV);
    m->dfch = TAKE(BT * m->M);
    m->dfch_act = TAKE(BT * m->M);
    m->dlnf = m->dln;
    m->datt = TAKE((size_t)m->nthr * c->ctx * c->ctx);
#undef TAKE
    SO_ASSERT((size_t)(p - m->act) <= total);
    return SO_OK;
}

static void init_weights(so_gpt *m, uint64_t seed) {
    const so_gpt_config *c = &m->c;
    uint64_t s = seed;
    float std = 0.02f, std_res = 0.02f / sqrtf(2.0f * (float)c->layers);
    for (int i = 0; i < m->ps.nviews; i++) {
        const so_param_view *v = &m->ps.views[i];
        float *w = m->ps.params + v->offset;
        const char *dot = strrchr(v->name, '.');
        int is_bias = dot && !strcmp(dot, ".b");
        int is_norm = strstr(v->name, "ln") != NULL;
        if (is_bias) {
            memset(w, 0, v->numel * sizeof(float));
        } else if (is_norm) {
            for (size_t k = 0; k < v->numel; k++) {
                w[k] = 1.0f;
            }
        } else {
            int resid = strstr(v->name, "attn.proj.w") || strstr(v->name, "mlp.proj.w");
            so__fill_normal(&s, w, v->numel, resid ? std_res : std);
        }
    }
}

int so_gpt_create(const so_gpt_config *cfg, uint64_t seed, so_gpt **out) {
    *out = NULL;
    SO_TRY(check_config(cfg));
    so_gpt *m = calloc(1, sizeof *m);
    if (!m) {
        return so__fail(SO_ENOMEM, "no memory for a gpt");
    }
    m->c = *cfg;
    if (!m->c.kv_heads) {
        m->c.kv_heads = m->c.heads;
    }
    derive(m);
    m->nthr = so_ml_threads();
    int64_t nch = so_param_int("SO_ML_CHUNKS");
    m->nchunk = nch < 1 ? 1 : nch > m->c.max_batch ? m->c.max_batch : (int)nch;
    m->profile = (int)so_param_int("SO_ML_PROFILE");
    int rc;
    so__param_builder pb = {0};
    m->lo = calloc((size_t)m->c.layers, sizeof *m->lo);
    if (!m->lo) {
        rc = so__fail(SO_ENOMEM, "no memory for gpt layer table");
        goto fail;
    }
    rc = layout(m, &pb);
    if (rc < 0) {
        so__pb_abandon(&pb);
        goto fail;
    }
    SO_TRY_GOTO(so__pb_finish(&pb, &m->ps), rc, fail);
    if (m->nchunk > 1) {
        size_t bytes = (size_t)(m->nchunk - 1) * m->ps.n * sizeof(float);
        m->tgrad = so_malloc_aligned(bytes);
        if (!m->tgrad) {
            rc = so__fail(SO_ENOMEM, "no memory for per-chunk gradients");
            goto fail;
        }
        memset(m->tgrad, 0, bytes);
    }
    SO_TRY_GOTO(alloc_acts(m), rc, fail);
    size_t BT = (size_t)m->c.max_batch * m->c.ctx;
    m->tokens = calloc(BT, sizeof *m->tokens);
    m->targets = calloc(BT, sizeof *m->targets);
    m->gen_buf = calloc((size_t)m->c.ctx, sizeof *m->gen_buf);
    m->gen_p = calloc((size_t)m->c.vocab, sizeof *m->gen_p);
    m->gen_i = calloc((size_t)m->c.vocab, sizeof *m->gen_i);
    if (!m->tokens || !m->targets || !m->gen_buf || !m->gen_p || !m->gen_i) {
        rc = so__fail(SO_ENOMEM, "no memory for gpt token buffers");
        goto fail;
    }
    init_weights(m, seed);
    *out = m;
    return SO_OK;
fail:
    so_gpt_destroy(m);
    return rc;
}

void so_gpt_destroy(so_gpt *m) {
    if (!m) {
        return;
    }
    so__param_set_free(&m->ps);
    so_free_aligned(m->tgrad);
    so_free_aligned(m->act);
    free(m->la);
    free(m->res);
    free(m->dres);
    free(m->lo);
    free(m->tokens);
    free(m->targets);
    free(m->gen_buf);
    free(m->gen_p);
    free(m->gen_i);
    free(m);
}

const so_gpt_config *so_gpt_get_config(const so_gpt *m) {
    return &m->c;
}
const so_param_set *so_gpt_params(const so_gpt *m) {
    return &m->ps;
}
void so_gpt_zero_grad(so_gpt *m) {
    so_param_zero_grad(&m->ps);
}
const float *so_gpt_logits(const so_gpt *m) {
    return m->logits;
}

void so_gpt_layer_range(const so_gpt *m, int l, size_t *offset, size_t *numel) {
    SO_ASSERT(l >= 0 && l < m->c.layers);
    *offset = m->lo[l].begin;
    *numel = m->lo[l].end - m->lo[l].begin;
}

float *so_gpt_residual(so_gpt *m, int l) {
    return l >= 0 && l <= m->c.layers ? m->res[l] : NULL;
}
float *so_gpt_dresidual(so_gpt *m, int l) {
    return l >= 0 && l <= m->c.layers ? m->dres[l] : NULL;
}

/* ---------------------------------------------------------------- profiling */

#define PROF(m, tid, cls, stmt)                                                                    \
    do {                                                                                           \
        if ((m)->profile && (tid) == 0) {                                                          \
            int64_t so__t0 = so_now_ns();                                                          \
            stmt;                                                                                  \
            (m)->prof[cls] += (double)(so_now_ns() - so__t0) * 1e-9;                               \
        } else {                                                                                   \
            stmt;                                                                                  \
        }                                                                                          \
    } while (0)

int so_gpt_profile(const so_gpt *m, const char **names, double *seconds, int cap) {
    int n = cap < P_COUNT ? cap : P_COUNT;
    for (int i = 0; i < n; i++) {
        names[i] = prof_names[i];
        seconds[i] = m->prof[i];
    }
    return n;
}

void so_gpt_profile_reset(so_gpt *m) {
    memset(m->prof, 0, sizeof m->prof);
    m->profile = (int)so_param_int("SO_ML_PROFILE");
}

/* ---------------------------------------------------------------- pieces run per thread */

typedef struct task task;
/* Runs one chunk: batch rows [b0, b1), parameter gradients into g, thread tid. */
typedef void (*chunk_fn)(so_gpt *m, task *k, int tid, float *g, int b0, int b1);
struct task {
    so_gpt *m;
    int l;
    chunk_fn fn;
    int nch;
    atomic_int next;
};

/* Gradient array of chunk c. */
static float *cgrads(so_gpt *m, int c) {
    return c == 0 ? m->ps.grads : m->tgrad + (size_t)(c - 1) * m->ps.n;
}

/* Pool body: threads claim chunks until none is left. Which thread runs a chunk does not change
 * any result (a chunk always writes the same rows and the same gradient array). */
static void run_chunks(void *arg, int tid, int nt) {
    task *k = arg;
    (void)nt;
    for (;;) {
        int c = atomic_fetch_add_explicit(&k->next, 1, memory_order_relaxed);
        if (c >= k->nch) {
            return;
        }
        int b0, b1;
        so__ml_split(k->m->B, c, k->nch, &b0, &b1);
        if (b1 > b0) {
            k->fn(k->m, k, tid, cgrads(k->m, c), b0, b1);
        }
    }
}

static void norm_fwd(const so_gpt *m, float *out, float *mean, float *rstd, const float *x,
                     size_t w, size_t b, int N) {
    if (m->c.norm == SO_NORM_LAYER) {
        so_layernorm_forward(out, mean, rstd, x, P(m, w), P(m, b), N, m->c.dim);
    } else {
        so_rmsnorm_forward(out, rstd, x, P(m, w), N, m->c.dim);
    }
}

static void norm_bwd(const so_gpt *m, float *g, float *dx, const float *dy, const float *x,
                     size_t w, size_t b, const float *mean, const float *rstd, int N) {
    if (m->c.norm == SO_NORM_LAYER) {
        so_layernorm_backward(dx, G(g, w), G(g, b), dy, x, P(m, w), mean, rstd, N, m->c.dim);
    } else {
        so_rmsnorm_backward(dx, G(g, w), dy, x, P(m, w), rstd, N, m->c.dim);
    }
}

static void embed_task(so_gpt *m, task *k, int tid, float *g, int b0, int b1) {
    int T = m->T, C = m->c.dim;
    if (b1 > b0) {
        PROF(m, tid, P_EMBED,
             so_embedding_forward(m->res[0] + (size_t)b0 * T * C, m->tokens + (size_t)b0 * T,
                                  P(m, m->wte), P(m, m->wpe), b1 - b0, T, C, m->c.vocab));
    }
}

static void block_fwd_task(so_gpt *m, task *k, int tid, float *g, int b0, int b1) {
    const layer_off *o = &m->lo[k->l];
    const layer_act *a = &m->la[k->l];
    int T = m->T, C = m->c.dim;
    int nb = b1 - b0, N = nb * T;
    if (nb <= 0) {
        return;
    }
    size_t r = (size_t)b0 * T; /* first row */
    const float *x = m->res[k->l] + r * C;
    float *ln1 = a->ln1 + r * C, *qkv = a->qkv + r * m->QKV, *atty = a->atty + r * C;
    float *mid = a->mid + r * C, *ln2 = a->ln2 + r * C, *fch = a->fch + r * m->M;
    float *fcha = a->fch_act + r * m->M, *y = m->res[k->l + 1] + r * C;
    float *att = a->att + (size_t)b0 * m->c.heads * T * T;
    PROF(m, tid, P_NORM,
         norm_fwd(m, ln1, a->ln1_mean + r, a->ln1_rstd + r, x, o->ln1w, o->ln1b, N));
    PROF(m, tid, P_MATMUL, so_matmul_forward(qkv, ln1, P(m, o->qkvw), P(m, o->qkvb), N, C, m->QKV));
    PROF(m, tid, P_ATTN,
         so_attention_forward(atty, att, qkv, nb, T, m->c.heads, m->c.kv_heads, m->HS));
    PROF(m, tid, P_MATMUL, so_matmul_forward(mid, atty, P(m, o->projw), P(m, o->projb), N, C, C));
    PROF(m, tid, P_RESID, so_add_inplace(mid, x, (size_t)N * C));
    PROF(m, tid, P_NORM,
         norm_fwd(m, ln2, a->ln2_mean + r, a->ln2_rstd + r, mid, o->ln2w, o->ln2b, N));
    PROF(m, tid, P_MATMUL, so_matmul_forward(fch, ln2, P(m, o->fcw), P(m, o->fcb), N, C, m->M));
    if (m->c.act == SO_ACT_GELU) {
        PROF(m, tid, P_ACT, so_gelu_forward(fcha, fch, (size_t)N * m->M));
    } else {
        PROF(m, tid, P_ACT, so_silu_forward(fcha, fch, (size_t)N * m->M));
    }
    PROF(m, tid, P_MATMUL, so_matmul_forward(y, fcha, P(m, o->fc2w), P(m, o->fc2b), N, m->M, C));
    PROF(m, tid, P_RESID, so_add_inplace(y, mid, (size_t)N * C));
}

static void head_fwd_task(so_gpt *m, task *k, int tid, float *g, int b0, int b1) {
    int T = m->T, C = m->c.dim, V = m->c.vocab, L = m->c.layers;
    int N = (b1 - b0) * T;
    if (N <= 0) {
        return;
    }
    size_t r = (size_t)b0 * T;
    PROF(m, tid, P_NORM,
         norm_fwd(m, m->lnf + r * C, m->lnf_mean + r, m->lnf_rstd + r, m->res[L] + r * C, m->lnfw,
                  m->lnfb, N));
    PROF(m, tid, P_MATMUL,
         so_matmul_forward(m->logits + r * V, m->lnf + r * C, P(m, m->headw), P(m, m->headb), N, C,
                           V));
    if (m->has_targets) {
        PROF(m, tid, P_HEAD,
             so_crossentropy_forward(m->losses + r, m->probs + r * V, m->logits + r * V,
                                     m->targets + r, N, V));
    }
}

static void head_bwd_task(so_gpt *m, task *k, int tid, float *g, int b0, int b1) {
    int T = m->T, C = m->c.dim, V = m->c.vocab, L = m->c.layers;
    int N = (b1 - b0) * T;
    if (N <= 0) {
        return;
    }
    size_t r = (size_t)b0 * T;
    float *dlogits = m->probs + r * V; /* overwritten in place */
    PROF(m, tid, P_HEAD,
         so_crossentropy_backward(dlogits, dlogits, m->targets + r, 1.0f / (float)m->count, N, V));
    float *dlnf = m->dlnf + r * C, *dx = m->dres[L] + r * C;
    PROF(m, tid, P_MATMUL,
         so__matmul_backward_set(dlnf, G(g, m->headw), G(g, m->headb), dlogits, m->lnf + r * C,
                                 P(m, m->headw), N, C, V));
    memset(dx, 0, (size_t)N * C * sizeof(float));
    PROF(m, tid, P_NORM,
         norm_bwd(m, g, dx, dlnf, m->res[L] + r * C, m->lnfw, m->lnfb, m->lnf_mean + r,
                  m->lnf_rstd + r, N));
}

static void block_bwd_task(so_gpt *m, task *k, int tid, float *g, int b0, int b1) {
    const layer_off *o = &m->lo[k->l];
    const layer_act *a = &m->la[k->l];
    int T = m->T, C = m->c.dim, M = m->M, Q = m->QKV;
    int nb = b1 - b0, N = nb * T;
    if (nb <= 0) {
        return;
    }
    size_t r = (size_t)b0 * T;
    const float *dy = m->dres[k->l + 1] + r * C;
    float *dx = m->dres[k->l] + r * C;
    float *dmid = m->dmid + r * C, *dln = m->dln + r * C, *datty = m->datty + r * C;
    float *dqkv = m->dqkv + r * Q, *dfch = m->dfch + r * M, *dfcha = m->dfch_act + r * M;
    const float *x = m->res[k->l] + r * C, *ln1 = a->ln1 + r * C, *qkv = a->qkv + r * Q;
    const float *atty = a->atty + r * C, *mid = a->mid + r * C, *ln2 = a->ln2 + r * C;
    const float *fch = a->fch + r * M, *fcha = a->fch_act + r * M;
    const float *att = a->att + (size_t)b0 * m->c.heads * T * T;
    float *datt = m->datt + (size_t)tid * T * T;
    size_t nC = (size_t)N * C * sizeof(float);
    /* MLP: y = mid + fc2(act(fc(ln2(mid)))); input gradients are overwritten, not accumulated */
    PROF(m, tid, P_MATMUL,
         so__matmul_backward_set(dfcha, G(g, o->fc2w), G(g, o->fc2b), dy, fcha, P(m, o->fc2w), N, M,
                                 C));
    if (m->c.act == SO_ACT_GELU) {
        PROF(m, tid, P_ACT, so__gelu_backward_set(dfch, fch, dfcha, (size_t)N * M));
    } else {
        PROF(m, tid, P_ACT, so__silu_backward_set(dfch, fch, dfcha, (size_t)N * M));
    }
    PROF(
        m, tid, P_MATMUL,
        so__matmul_backward_set(dln, G(g, o->fcw), G(g, o->fcb), dfch, ln2, P(m, o->fcw), N, C, M));
    memcpy(dmid, dy, nC);
    PROF(m, tid, P_NORM,
         norm_bwd(m, g, dmid, dln, mid, o->ln2w, o->ln2b, a->ln2_mean + r, a->ln2_rstd + r, N));
    /* attention: mid = x + proj(attn(qkv(ln1(x)))) */
    PROF(m, tid, P_MATMUL,
         so__matmul_backward_set(datty, G(g, o->projw), G(g, o->projb), dmid, atty, P(m, o->projw),
                                 N, C, C));
    PROF(m, tid, P_ATTN,
         so__attention_backward_set(dqkv, datt, datty, qkv, att, nb, T, m->c.heads, m->c.kv_heads,
                                    m->HS));
    PROF(m, tid, P_MATMUL,
         so__matmul_backward_set(dln, G(g, o->qkvw), G(g, o->qkvb), dqkv, ln1, P(m, o->qkvw), N, C,
                                 Q));
    memcpy(dx, dmid, nC);
    PROF(m, tid, P_NORM,
         norm_bwd(m, g, dx, dln, x, o->ln1w, o->ln1b, a->ln1_mean + r, a->ln1_rstd + r, N));
}

static void embed_bwd_task(so_gpt *m, task *k, int tid, float *g, int b0, int b1) {
    int T = m->T, C = m->c.dim;
    if (b1 <= b0) {
        return;
    }
    PROF(m, tid, P_EMBED,
         so_embedding_backward(g + m->wte, g + m->wpe, m->dres[0] + (size_t)b0 * T * C,
                               m->tokens + (size_t)b0 * T, b1 - b0, T, C));
}

/* Sums the gradient arrays of chunks 1..nch-1, in chunk order, into the model's over [lo, hi)
 * and re-zeroes them; threads split the element range, so the sums do not depend on threads. */
typedef struct reduce_task {
    so_gpt *m;
    int nch;
    size_t lo, hi;
} reduce_task;

static void reduce_fn(void *arg, int tid, int nt) {
    reduce_task *k = arg;
    so_gpt *m = k->m;
    size_t n = k->hi - k->lo, chunk = (n + (size_t)nt - 1) / (size_t)nt;
    chunk = (chunk + 15) & ~(size_t)15;
    size_t a = k->lo + (size_t)tid * chunk, b = a + chunk;
    if (a >= k->hi) {
        return;
    }
    if (b > k->hi) {
        b = k->hi;
    }
    int64_t t0 = so_now_ns();
    for (int c = 1; c < k->nch; c++) {
        float *src = cgrads(m, c);
        so_add_inplace(m->ps.grads + a, src + a, b - a);
        memset(src + a, 0, (b - a) * sizeof(float));
    }
    if (m->profile && tid == 0) {
        m->prof[P_REDUCE] += (double)(so_now_ns() - t0) * 1e-9;
    }
}

/* Runs fn over the batch in chunks on the pool (a forward piece when lo == hi). */
static void run_piece(so_gpt *m, chunk_fn fn, int l, size_t lo, size_t hi) {
    task k = {.m = m, .l = l, .fn = fn, .nch = m->B < m->nchunk ? m->B : m->nchunk};
    atomic_init(&k.next, 0);
    so__ml_parallel_max(run_chunks, &k, m->nthr);
    if (k.nch > 1 && hi > lo) {
        reduce_task r = {m, k.nch, lo, hi};
        so__ml_parallel_max(reduce_fn, &r, m->nthr);
    }
}

/* ---------------------------------------------------------------- public pieces */

static int check_shape(const so_gpt *m, int B, int T) {
    if (B < 1 || B > m->c.max_batch || T < 1 || T > m->c.ctx) {
        return so__fail(SO_EINVAL, "gpt batch %dx%d is outside 1..%d x 1..%d (max_batch x ctx)", B,
                        T, m->c.max_batch, m->c.ctx);
    }
    return SO_OK;
}

int so_gpt_begin(so_gpt *m, const int32_t *tokens, int B, int T) {
    SO_TRY(check_shape(m, B, T));
    m->B = B;
    m->T = T;
    m->has_targets = 0;
    if (tokens) {
        for (int i = 0; i < B * T; i++) {
            if (tokens[i] < 0 || tokens[i] >= m->c.vocab) {
                return so__fail(SO_EINVAL, "token %d at position %d is outside [0, %d)", tokens[i],
                                i, m->c.vocab);
            }
        }
        memcpy(m->tokens, tokens, (size_t)B * T * sizeof *tokens);
    }
    return SO_OK;
}

int so_gpt_embed_forward(so_gpt *m, const int32_t *tokens, int B, int T) {
    if (!tokens) {
        return so__fail(SO_EINVAL, "gpt embed needs tokens");
    }
    SO_TRY(so_gpt_begin(m, tokens, B, T));
    run_piece(m, embed_task, 0, 0, 0);
    return SO_OK;
}

int so_gpt_block_forward(so_gpt *m, int l) {
    if (l < 0 || l >= m->c.layers || m->B == 0) {
        return so__fail(SO_EINVAL, "gpt block %d of %d (or no batch begun)", l, m->c.layers);
    }
    run_piece(m, block_fwd_task, l, 0, 0);
    return SO_OK;
}

int so_gpt_head_forward(so_gpt *m, const int32_t *targets, float *loss) {
    if (m->B == 0) {
        return so__fail(SO_ESTATE, "gpt head forward before a batch was begun");
    }
    int n = m->B * m->T;
    m->count = 0;
    m->has_targets = targets != NULL;
    if (targets) {
        for (int i = 0; i < n; i++) {
            if (targets[i] >= m->c.vocab) {
                return so__fail(SO_EINVAL, "target %d at position %d is outside [0, %d)",
                                targets[i], i, m->c.vocab);
            }
            m->count += targets[i] >= 0;
        }
        memcpy(m->targets, targets, (size_t)n * sizeof *targets);
    }
    run_piece(m, head_fwd_task, 0, 0, 0);
    double s = 0.0; /* in row order, so the loss does not depend on threads */
    for (int i = 0; targets && i < n; i++) {
        s += m->losses[i];
    }
    m->loss_sum = s;
    if (loss) {
        *loss = m->count ? (float)(s / (double)m->count) : 0.0f;
    }
    return SO_OK;
}

int so_gpt_head_backward(so_gpt *m) {
    if (!m->has_targets) {
        return so__fail(SO_ESTATE, "gpt backward needs a forward with targets");
    }
    if (m->count == 0) { /* every target ignored: the loss is constant */
        memset(m->dres[m->c.layers], 0, (size_t)m->B * m->T * m->c.dim * sizeof(float));
        return SO_OK;
    }
    run_piece(m, head_bwd_task, 0, m->head_begin, m->ps.n);
    return SO_OK;
}

int so_gpt_block_backward(so_gpt *m, int l) {
    if (l < 0 || l >= m->c.layers || m->B == 0) {
        return so__fail(SO_EINVAL, "gpt block %d of %d (or no batch begun)", l, m->c.layers);
    }
    run_piece(m, block_bwd_task, l, m->lo[l].begin, m->lo[l].end);
    return SO_OK;
}

int so_gpt_embed_backward(so_gpt *m) {
    if (m->B == 0) {
        return so__fail(SO_ESTATE, "gpt embed backward before a batch was begun");
    }
    run_piece(m, embed_bwd_task, 0, 0, m->lo[0].begin);
    return SO_OK;
}

int so_gpt_forward(so_gpt *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                   float *loss) {
    SO_TRY(so_gpt_embed_forward(m, tokens, B, T));
    for (int l = 0; l < m->c.layers; l++) {
        SO_TRY(so_gpt_block_forward(m, l));
    }
    float lv = 0.0f;
    SO_TRY(so_gpt_head_forward(m, targets, &lv));
    if (loss) {
        *loss = lv;
    }
    return SO_OK;
}

int so_gpt_backward(so_gpt *m) {
    SO_TRY(so_gpt_head_backward(m));
    for (int l = m->c.layers - 1; l >= 0; l--) {
        SO_TRY(so_gpt_block_backward(m, l));
    }
    return so_gpt_embed_backward(m);
}

/* ---------------------------------------------------------------- generation */

int so_gpt_generate(so_gpt *m, const int32_t *prompt, int n_prompt, int n_new, float temperature,
                    int top_k, uint64_t seed, int32_t *out) {
    if (n_prompt < 1 || n_new < 0 || !prompt || (n_new > 0 && !out)) {
        return so__fail(SO_EINVAL, "generate needs a prompt of >= 1 tokens and an output");
    }
    int ctx = m->c.ctx, V = m->c.vocab, len = n_prompt < ctx ? n_prompt : ctx;
    memcpy(m->gen_buf, prompt + (n_prompt - len), (size_t)len * sizeof *prompt);
    uint64_t s = seed;
    for (int i = 0; i < n_new; i++) {
        SO_TRY(so_gpt_forward(m, m->gen_buf, NULL, 1, len, NULL));
        const float *z = m->logits + (size_t)(len - 1) * V;
        int next = 0;
        if (temperature <= 0.0f) {
            for (int v = 1; v < V; v++) {
                next = z[v] > z[next] ? v : next;
            }
        } else {
            /* keep the top_k largest logits (or all), softmax at the temperature, sample */
            int k = top_k > 0 && top_k < V ? top_k : V;
            for (int v = 0; v < V; v++) {
                m->gen_i[v] = v;
            }
            for (int a = 0; a < k && k < V; a++) { /* partial selection sort: O(kV) */
                int best = a;
                for (int b = a + 1; b < V; b++) {
                    best = z[m->gen_i[b]] > z[m->gen_i[best]] ? b : best;
                }
                int32_t t = m->gen_i[a];
                m->gen_i[a] = m->gen_i[best];
                m->gen_i[best] = t;
            }
            float mx = -INFINITY;
            for (int a = 0; a < k; a++) {
                mx = z[m->gen_i[a]] > mx ? z[m->gen_i[a]] : mx;
            }
            double sum = 0.0;
            for (int a = 0; a < k; a++) {
                m->gen_p[a] = expf((z[m->gen_i[a]] - mx) / temperature);
                sum += m->gen_p[a];
            }
            double u = so__sm64_unit(&s) * sum, acc = 0.0;
            next = m->gen_i[k - 1];
            for (int a = 0; a < k; a++) {
                acc += m->gen_p[a];
                if (u < acc) {
                    next = m->gen_i[a];
                    break;
                }
            }
        }
        out[i] = next;
        if (len < ctx) {
            m->gen_buf[len++] = next;
        } else {
            memmove(m->gen_buf, m->gen_buf + 1, (size_t)(ctx - 1) * sizeof *m->gen_buf);
            m->gen_buf[ctx - 1] = next;
        }
    }
    return SO_OK;
}
