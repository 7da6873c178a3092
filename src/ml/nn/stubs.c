/* Temporary stubs: every ml.h function returns SO_ENOTSUP (or does nothing) until written. */
#include "scaleout/ml.h"

int so_ml_set_threads(int n) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_ml_threads(void) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
const so_param_view *so_param_find(const so_param_set *ps, const char *name) { return NULL; }
void so_param_zero_grad(const so_param_set *ps) { }
void so_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,               const float *B, int ldb, float beta, float *C, int ldc) { }
void so_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,                   int lda, const float *B, int ldb, float beta, float *C, int ldc) { }
void so_sgemm_c(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,                 const float *B, int ldb, float beta, float *C, int ldc) { }
void so_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N,                        int C, int OC) { }
void so_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,                         const float *inp, const float *weight, int N, int C, int OC) { }
void so_matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,                            int N, int C, int OC) { }
void so_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,                             const float *inp, const float *weight, int N, int C, int OC) { }
void so_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,                           const float *weight, const float *bias, int N, int C) { }
void so_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,                            const float *inp, const float *weight, const float *mean,                            const float *rstd, int N, int C) { }
void so_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,                         int C) { }
void so_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,                          const float *weight, const float *rstd, int N, int C) { }
void so_gelu_forward(float *out, const float *inp, size_t n) { }
void so_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) { }
void so_silu_forward(float *out, const float *inp, size_t n) { }
void so_silu_backward(float *dinp, const float *inp, const float *dout, size_t n) { }
void so_relu_forward(float *out, const float *inp, size_t n) { }
void so_relu_backward(float *dinp, const float *inp, const float *dout, size_t n) { }
void so_tanh_forward(float *out, const float *inp, size_t n) { }
void so_tanh_backward(float *dinp, const float *out, const float *dout, size_t n) { }
void so_softmax_forward(float *out, const float *inp, int N, int C) { }
void so_softmax_backward(float *dinp, const float *out, const float *dout, int N, int C) { }
void so_attention_forward(float *out, float *att, const float *qkv, int B, int T, int NH, int KVH,                           int HS) { }
void so_attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv,                            const float *att, int B, int T, int NH, int KVH, int HS) { }
void so_embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,                           int B, int T, int C, int V) { }
void so_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,                            int B, int T, int C) { }
double so_crossentropy_forward(float *losses, float *probs, const float *logits,                                const int32_t *targets, int N, int V) { return 0; }
void so_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,                               float dloss, int N, int V) { }
void so_add_forward(float *out, const float *a, const float *b, size_t n) { }
void so_add_inplace(float *acc, const float *x, size_t n) { }
void so_gpt_config_default(so_gpt_config *c) { }
size_t so_gpt_config_nparams(const so_gpt_config *c) { return 0; }
int so_gpt_create(const so_gpt_config *c, uint64_t seed, so_gpt **out) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
void so_gpt_destroy(so_gpt *m) { }
const so_gpt_config *so_gpt_get_config(const so_gpt *m) { return NULL; }
const so_param_set *so_gpt_params(const so_gpt *m) { return NULL; }
void so_gpt_layer_range(const so_gpt *m, int l, size_t *offset, size_t *numel) { }
int so_gpt_forward(so_gpt *m, const int32_t *tokens, const int32_t *targets, int B, int T,                    float *loss) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_backward(so_gpt *m) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
void so_gpt_zero_grad(so_gpt *m) { }
const float *so_gpt_logits(const so_gpt *m) { return NULL; }
int so_gpt_embed_forward(so_gpt *m, const int32_t *tokens, int B, int T) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_block_forward(so_gpt *m, int l) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_head_forward(so_gpt *m, const int32_t *targets, float *loss) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_head_backward(so_gpt *m) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_block_backward(so_gpt *m, int l) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_embed_backward(so_gpt *m) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
float *so_gpt_residual(so_gpt *m, int l) { return NULL; }
float *so_gpt_dresidual(so_gpt *m, int l) { return NULL; }
int so_gpt_generate(so_gpt *m, const int32_t *prompt, int n_prompt, int n_new, float temperature,                     int top_k, uint64_t seed, int32_t *out) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_gpt_profile(const so_gpt *m, const char **names, double *seconds, int cap) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
void so_gpt_profile_reset(so_gpt *m) { }
int so_linreg_create(int in_dim, int max_batch, so_linreg **out) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
void so_linreg_destroy(so_linreg *m) { }
const so_param_set *so_linreg_params(const so_linreg *m) { return NULL; }
int so_linreg_forward(so_linreg *m, const float *x, const float *y, int N, float *loss) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_linreg_backward(so_linreg *m) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
const float *so_linreg_output(const so_linreg *m) { return NULL; }
int so_logreg_create(int in_dim, int max_batch, so_logreg **out) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
void so_logreg_destroy(so_logreg *m) { }
const so_param_set *so_logreg_params(const so_logreg *m) { return NULL; }
int so_logreg_forward(so_logreg *m, const float *x, const int32_t *y, int N, float *loss) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_logreg_backward(so_logreg *m) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
const float *so_logreg_output(const so_logreg *m) { return NULL; }
int so_logreg_accuracy(so_logreg *m, const float *x, const int32_t *y, int N, double *acc) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_mlp_create(const so_mlp_config *c, uint64_t seed, so_mlp **out) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
void so_mlp_destroy(so_mlp *m) { }
const so_param_set *so_mlp_params(const so_mlp *m) { return NULL; }
int so_mlp_forward(so_mlp *m, const float *x, const int32_t *labels, const float *targets, int N,                    float *loss) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
int so_mlp_backward(so_mlp *m) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
const float *so_mlp_output(const so_mlp *m) { return NULL; }
int so_mlp_accuracy(so_mlp *m, const float *x, const int32_t *labels, int N, double *acc) { return so__fail(SO_ENOTSUP, "%s is not written yet", __func__); }
