/*
 * scaleout ml: neural-network kernels with forward and backward, and models over flat arenas
 * (src/ml/kernels/, src/ml/nn/). Optimizers, schedules and clipping are in scaleout/optim.h.
 *
 * Every model keeps its parameters in ONE flat float array and its gradients in a second array
 * of the same length; a registry of named views (so_param_view) says which slice is which tensor,
 * so an optimizer runs over the flat arrays, a checkpoint saves tensors by name, and a parallel
 * wrapper all-reduces or shards one buffer. Activations live in a third arena sized at create for
 * the largest batch, so a training step allocates nothing.
 *
 *   so_gpt_config c; so_gpt_config_default(&c);          // byte vocab, T=128, d=128, 4 layers
 *   so_gpt *m; SO_TRY(so_gpt_create(&c, 1337, &m));
 *   const so_param_set *ps = so_gpt_params(m);
 *   for (step...) {
 *       float loss;
 *       SO_TRY(so_gpt_forward(m, tokens, targets, B, T, &loss));   // tokens, targets (B,T)
 *       so_gpt_zero_grad(m);
 *       SO_TRY(so_gpt_backward(m));                                 // grads += dloss/dparams
 *       so_optim_step(opt, ps->params, ps->grads);
 *   }
 *
 * Conventions (as in llm.c): B = batch, T = time, C = channels, V = vocabulary, N = rows.
 * Linear weights are stored (OC, C) like torch.nn.Linear, so y = x W^T + b. Backward kernels
 * ACCUMULATE (+=) into every gradient they write, parameter and input gradients alike; callers zero
 * them first. Kernels are single-threaded and take raw pointers (shapes in comments); the models
 * split work over the library's one thread pool (so_ml_set_threads) by batch rows.
 * Thread safety: a model is used by one thread at a time; kernels are reentrant.
 */
#ifndef SCALEOUT_ML_H
#define SCALEOUT_ML_H

#include "scaleout/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================
 * Threads
 * ====================================================================================== */

/* Threads the models use (default: the SO_ML_THREADS knob; 0 = online CPUs divided by the ranks
 * on this host, LOCAL_WORLD_SIZE; at most 64). OpenBLAS is set to one thread, so GEMMs run inside
 * this one pool and two pools never spin against each other. n = 0 restores the default. */
int so_ml_set_threads(int n);
int so_ml_threads(void);

/* ======================================================================================
 * Parameter registry
 * ====================================================================================== */

#define SO_PARAM_NAME_MAX 48

/* One tensor inside a model's flat parameter array (and at the same offset in the gradients). */
typedef struct so_param_view {
    char name[SO_PARAM_NAME_MAX]; /* "wte", "h.0.attn.qkv.w", "lnf.b", "head.w", "fc.0.w" */
    int64_t shape[4];             /* shape[0..ndim) */
    int ndim;
    size_t offset; /* in floats, from the start of the arrays */
    size_t numel;
    int no_decay; /* 1 for biases and norm gains (nanoGPT's no-decay group), 0 otherwise */
} so_param_view;

/* A model's arenas: params and grads have n floats each. views[0..nviews) are in offset order,
 * each starting on a 16-float (64-byte) boundary; the padding between two views (only when a
 * numel is not a multiple of 16) holds zeros with zero gradients. count = sum of numel. */
typedef struct so_param_set {
    float *params;
    float *grads;
    size_t n;
    size_t count;
    const so_param_view *views;
    int nviews;
} so_param_set;

/* The view named `name`, or NULL. */
const so_param_view *so_param_find(const so_param_set *ps, const char *name);
/* grads[0..n) = 0. */
void so_param_zero_grad(const so_param_set *ps);

/* ======================================================================================
 * Kernels: forward and backward. Single-threaded; backward kernels accumulate (+=).
 * ====================================================================================== */

/* C = alpha * op(A) op(B) + beta * C, row-major, op = transpose if trans_* != 0. A is (M,K) or
 * (K,M), B is (K,N) or (N,K), C is (M,N) with leading dimensions lda, ldb, ldc. Uses OpenBLAS
 * cblas_sgemm when built with it, else a blocked C loop; so_sgemm_ref is the plain triple loop
 * (double accumulator) the tests compare both against. */
void so_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void so_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The blocked C loop alone (what so_sgemm does without OpenBLAS), for benchmarks. */
void so_sgemm_c(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

/* Linear layer. out (N,OC) = inp (N,C) . weight^T (OC,C) + bias (OC) (bias may be NULL). */
void so_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                       int C, int OC);
/* dinp (N,C) += dout W; dweight (OC,C) += dout^T inp; dbias (OC) += column sums of dout.
 * Any of dinp, dweight, dbias may be NULL (not computed). */
void so_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int C, int OC);
/* Reference versions (naive loops, double accumulators) for tests. */
void so_matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int C, int OC);
void so_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int C, int OC);

/* LayerNorm over the last dimension, eps 1e-5 like torch. out, inp (N,C); weight, bias (C);
 * mean, rstd (N) are saved for backward (may be NULL in forward-only use). */
void so_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int N, int C);
void so_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int N, int C);
/* RMSNorm: out = inp / sqrt(mean(inp^2) + eps) * weight, eps 1e-5; rstd (N) saved. */
void so_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                        int C);
void so_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const float *rstd, int N, int C);

/* GELU, exact erf form (torch.nn.functional.gelu default); |error| < 3e-7 from a vectorisable
 * erf. out, inp, dout, dinp are (n). */
void so_gelu_forward(float *out, const float *inp, size_t n);
void so_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* SiLU (swish): x * sigmoid(x). */
void so_silu_forward(float *out, const float *inp, size_t n);
void so_silu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* ReLU and tanh (for the small MLPs). */
void so_relu_forward(float *out, const float *inp, size_t n);
void so_relu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void so_tanh_forward(float *out, const float *inp, size_t n);
/* Uses the forward output: dinp += dout * (1 - out^2). */
void so_tanh_backward(float *dinp, const float *out, const float *dout, size_t n);

/* Row softmax: out (N,C) = softmax(inp (N,C)) along C. Backward from the output probabilities:
 * dinp += out * (dout - sum(dout * out)). */
void so_softmax_forward(float *out, const float *inp, int N, int C);
void so_softmax_backward(float *dinp, const float *out, const float *dout, int N, int C);

/* Causal self-attention with grouped-query heads. qkv (B,T,(NH+2*KVH)*HS) holds per token the
 * NH query heads, then KVH key heads, then KVH value heads (HS each); query head h reads key/value
 * head h / (NH/KVH) (KVH = NH is plain multi-head attention, KVH = 1 multi-query). att (B,NH,T,T)
 * receives the softmax probabilities (zero above the diagonal) for backward; out is (B,T,NH*HS).
 * Scale 1/sqrt(HS). Cost: 2*B*NH*T*T*HS multiply-adds for scores and values (causal half used). */
void so_attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int KVH,
                          int HS);
/* dqkv (B,T,(NH+2KVH)HS) += gradient; datt is scratch of (T,T) floats (one head at a time). */
void so_attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,
                           const float *att, int B, int T, int NH, int KVH, int HS);
/* Reference versions: one GEMM per (batch, head) on the full T x T square (attention.c). The fast
 * path above (attention_causal.c) computes only the causal triangle with register-blocked tiles. */
void so_attention_forward_ref(float *out, float *att, const float *qkv, int B, int T, int NH,
                              int KVH, int HS);
void so_attention_backward_ref(float *dqkv, float *datt, const float *dout, const float *qkv,
                               const float *att, int B, int T, int NH, int KVH, int HS);

/* Attention of NQ new query rows against Tk cached key/value rows (KV-cache decoding): query row
 * i is absolute position Tk-NQ+i and sees keys 0..Tk-NQ+i. q (NQ, NH*HS; row stride ldq), k and v
 * (Tk, KVH*HS; row stride ldkv), out (NQ, NH*HS; row stride ldo), scratch (Tk floats). Equals the
 * last NQ rows of so_attention_forward over the whole sequence. Forward only. */
void so_attention_cached(float *out, int ldo, const float *q, int ldq, const float *k,
                         const float *v, int ldkv, int NQ, int Tk, int NH, int KVH, int HS,
                         float *scratch);

/* Token + position embedding: out (B,T,C) = wte[tokens[b,t]] + wpe[t] (wpe may be NULL).
 * Tokens out of [0,V) are a caller bug (asserted). */
void so_embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                          int B, int T, int C, int V);
void so_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                           int B, int T, int C);

/* Fused softmax + cross-entropy over rows of logits (N,V): probs (N,V) = softmax, losses (N) =
 * -log probs[target] (0 where target < 0: ignored). Returns the sum of losses (double).
 * Backward: dlogits (N,V) += (probs - onehot(target)) * dloss (dloss is per row, the same for all
 * rows: 1/count for a mean); ignored rows get nothing. dlogits may alias probs (then it is
 * overwritten, not accumulated). */
double so_crossentropy_forward(float *losses, float *probs, const float *logits,
                               const int32_t *targets, int N, int V);
void so_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                              float dloss, int N, int V);

/* Element-wise helpers: out = a + b; acc += x (n). */
void so_add_forward(float *out, const float *a, const float *b, size_t n);
void so_add_inplace(float *acc, const float *x, size_t n);

/* ======================================================================================
 * GPT decoder (pre-norm, learned positions, causal attention with optional GQA, MLP)
 * ====================================================================================== */

enum { SO_NORM_LAYER = 0, SO_NORM_RMS = 1 };
enum { SO_ACT_GELU = 0, SO_ACT_SILU = 1, SO_ACT_RELU = 2, SO_ACT_TANH = 3 };

typedef struct so_gpt_config {
    int vocab;     /* V (256: bytes) */
    int ctx;       /* maximum T (positions table size) */
    int layers;    /* L */
    int dim;       /* C */
    int heads;     /* NH; dim % heads == 0 */
    int kv_heads;  /* KVH; heads % kv_heads == 0 (0 means = heads) */
    int mlp_mult;  /* hidden = mlp_mult * dim (4) */
    int max_batch; /* activations are sized for B <= max_batch, T <= ctx */
    int norm;      /* SO_NORM_LAYER or SO_NORM_RMS */
    int act;       /* SO_ACT_GELU or SO_ACT_SILU (plain, not gated) */
    int bias;      /* 1: linear layers and LayerNorm have biases (GPT-2), 0: none */
} so_gpt_config;

/* The tiny GPT: vocab 256, ctx 128, 4 layers, dim 128, 4 heads (kv 4), mlp x4, max_batch 16,
 * LayerNorm, GELU, biases on (875,520 parameters). */
void so_gpt_config_default(so_gpt_config *c);
/* Parameter count of a config (without creating it); 0 if the config is invalid. */
size_t so_gpt_config_nparams(const so_gpt_config *c);

typedef struct so_gpt so_gpt;

/* Allocates the three arenas and initialises weights like GPT-2/nanoGPT from seed: N(0, 0.02) for
 * embeddings and linear weights, N(0, 0.02/sqrt(2L)) for the two residual projections, zero
 * biases, unit norm gains. SO_EINVAL names a bad config. The model uses at most the ml thread
 * count of the time of create (so_ml_set_threads first); results do not depend on it. */
int so_gpt_create(const so_gpt_config *c, uint64_t seed, so_gpt **out);
void so_gpt_destroy(so_gpt *m);
const so_gpt_config *so_gpt_get_config(const so_gpt *m);
/* The parameter/gradient arenas and the named views: wte (V,C), wpe (ctx,C), then per layer l
 * h.l.ln1.w, h.l.ln1.b, h.l.attn.qkv.w ((NH+2KVH)HS, C), h.l.attn.qkv.b, h.l.attn.proj.w (C,C),
 * h.l.attn.proj.b, h.l.ln2.w, h.l.ln2.b, h.l.mlp.fc.w (mC,C), h.l.mlp.fc.b, h.l.mlp.proj.w (C,mC),
 * h.l.mlp.proj.b, then lnf.w, lnf.b, head.w (V,C), head.b (V). Without bias the .b views are
 * absent. Each layer's tensors are contiguous ([so_gpt_layer_range]). */
const so_param_set *so_gpt_params(const so_gpt *m);
/* [*offset, *offset + *numel) of layer l's parameters in the flat arrays. */
void so_gpt_layer_range(const so_gpt *m, int l, size_t *offset, size_t *numel);

/* Whole forward: tokens, targets (B,T) int32 (targets NULL: no loss, *loss = 0; target < 0:
 * ignored). *loss is the mean cross-entropy over counted positions. Afterwards so_gpt_logits gives
 * the (B,T,V) logits. SO_EINVAL if B > max_batch, T > ctx or a token is out of range. */
int so_gpt_forward(so_gpt *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                   float *loss);
/* Backward of the last forward (which must have had targets): grads += d(mean loss)/d(params). */
int so_gpt_backward(so_gpt *m);
void so_gpt_zero_grad(so_gpt *m);
/* Logits of the last forward, (B,T,V) with the B,T of that call. */
const float *so_gpt_logits(const so_gpt *m);

/* Layer-level pieces (for pipeline/tensor-parallel wrappers and KV-cache serving). A full forward
 * is embed, block 0..L-1, head; a full backward is head, block L-1..0, embed, each with the same
 * B,T. so_gpt_residual(m, l) is the (B,T,C) residual stream entering block l (l = L: entering the
 * final norm); so_gpt_dresidual is its gradient, valid during backward. A pipeline stage writes a
 * received activation into so_gpt_residual(m, first) before running its blocks, and a received
 * gradient into so_gpt_dresidual(m, last+1) before running their backward. */
int so_gpt_embed_forward(so_gpt *m, const int32_t *tokens, int B, int T);
/* Sets B,T (and the tokens, NULL allowed, used by embed backward) without computing the
 * embedding: for a pipeline stage that starts at a later block. */
int so_gpt_begin(so_gpt *m, const int32_t *tokens, int B, int T);
int so_gpt_block_forward(so_gpt *m, int l);
int so_gpt_head_forward(so_gpt *m, const int32_t *targets, float *loss);
int so_gpt_head_backward(so_gpt *m);
int so_gpt_block_backward(so_gpt *m, int l);
int so_gpt_embed_backward(so_gpt *m);
float *so_gpt_residual(so_gpt *m, int l);
float *so_gpt_dresidual(so_gpt *m, int l);

/* Samples n_new tokens after prompt (n_prompt >= 1) into out[0..n_new), recomputing the forward
 * over the last ctx tokens each step (no KV cache; the serving layer has one). temperature <= 0
 * means greedy; top_k <= 0 means the whole vocabulary. Deterministic for a seed. */
int so_gpt_generate(so_gpt *m, const int32_t *prompt, int n_prompt, int n_new, float temperature,
                    int top_k, uint64_t seed, int32_t *out);

/* Time spent per kernel class over the forwards/backwards since the last reset (seconds), for
 * profiling: names "embed", "norm", "matmul", "attention", "act", "residual", "head", "reduce".
 * Timing is on when the SO_ML_PROFILE knob is 1. Returns the number of entries written. */
int so_gpt_profile(const so_gpt *m, const char **names, double *seconds, int cap);
void so_gpt_profile_reset(so_gpt *m);

/* ======================================================================================
 * Small models: linear regression, logistic regression, MLP classifier/regressor
 * ====================================================================================== */

/* Linear regression pred = x w + b (one output) with the mean squared error loss. */
typedef struct so_linreg so_linreg;
/* in_dim features, activations for up to max_batch rows; weights start at zero. */
int so_linreg_create(int in_dim, int max_batch, so_linreg **out);
void so_linreg_destroy(so_linreg *m);
const so_param_set *so_linreg_params(const so_linreg *m);
/* x (N,D), y (N) targets or NULL. *loss = mean of (pred - y)^2 (torch MSELoss). Predictions of
 * the last forward: so_linreg_output (N). */
int so_linreg_forward(so_linreg *m, const float *x, const float *y, int N, float *loss);
int so_linreg_backward(so_linreg *m);
const float *so_linreg_output(const so_linreg *m);

/* Binary logistic regression p = sigmoid(x w + b), loss = mean binary cross-entropy. */
typedef struct so_logreg so_logreg;
/* Weights start at zero. */
int so_logreg_create(int in_dim, int max_batch, so_logreg **out);
void so_logreg_destroy(so_logreg *m);
const so_param_set *so_logreg_params(const so_logreg *m);
/* x (N,D), y (N) labels in {0,1} or NULL. */
int so_logreg_forward(so_logreg *m, const float *x, const int32_t *y, int N, float *loss);
int so_logreg_backward(so_logreg *m);
/* Probabilities of class 1 of the last forward, (N). */
const float *so_logreg_output(const so_logreg *m);
/* Fraction of rows with (p >= 0.5) == y, over any number of rows (runs forwards in chunks). */
int so_logreg_accuracy(so_logreg *m, const float *x, const int32_t *y, int N, double *acc);

/* Multi-layer perceptron: in -> hidden[0] -> ... -> out, activation between layers, and either a
 * softmax cross-entropy head (classes = out_dim, labels int32) or a mean-squared-error head. */
#define SO_MLP_MAX_LAYERS 8
enum { SO_LOSS_CE = 0, SO_LOSS_MSE = 1 };
typedef struct so_mlp_config {
    int in_dim;
    int hidden[SO_MLP_MAX_LAYERS];
    int nhidden; /* number of hidden layers (0: softmax regression) */
    int out_dim;
    int act;  /* SO_ACT_RELU, SO_ACT_TANH, SO_ACT_GELU, SO_ACT_SILU */
    int loss; /* SO_LOSS_CE or SO_LOSS_MSE */
    int max_batch;
} so_mlp_config;
typedef struct so_mlp so_mlp;
/* Views "fc.0.w" (hidden[0], in_dim), "fc.0.b", ..., "fc.<nhidden>.w" (out_dim, ...). Init like
 * torch.nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, from seed. */
int so_mlp_create(const so_mlp_config *c, uint64_t seed, so_mlp **out);
void so_mlp_destroy(so_mlp *m);
const so_param_set *so_mlp_params(const so_mlp *m);
/* x (N,in_dim). CE: labels (N) int32 in [0,out_dim); MSE: targets (N,out_dim) float. Pass the
 * one that matches the loss and NULL for the other (both NULL: no loss). */
int so_mlp_forward(so_mlp *m, const float *x, const int32_t *labels, const float *targets, int N,
                   float *loss);
int so_mlp_backward(so_mlp *m);
/* Output of the last forward (N,out_dim): probabilities (CE) or predictions (MSE). */
const float *so_mlp_output(const so_mlp *m);
/* Fraction of rows whose argmax equals the label (CE models), any N. */
int so_mlp_accuracy(so_mlp *m, const float *x, const int32_t *labels, int N, double *acc);

#ifdef __cplusplus
}
#endif
#endif
