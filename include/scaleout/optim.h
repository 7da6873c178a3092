/*
 * scaleout optimizers, learning-rate schedules and gradient clipping (src/ml/optim/).
 *
 * An optimizer updates one flat float array of parameters from a flat array of gradients of the
 * same length. It allocates its state (momentum, Adam moments, Adagrad sums) once, at create, so a
 * step allocates nothing. Optimizers that act per tensor (LARS and LAMB trust ratios, row-wise
 * Adagrad, no-decay tensors) see the tensor boundaries as an array of segments; with no segments
 * the whole array is one tensor.
 *
 *   so_optim_config c;
 *   so_optim_config_default(SO_OPTIM_ADAMW, &c);
 *   c.lr = 1e-3f; c.weight_decay = 0.1f;
 *   so_optim *opt;
 *   SO_TRY(so_optim_create(&c, n, segs, nsegs, &opt));
 *   for (step...) { ...grads...; so_optim_set_lr(opt, so_lr_at(&sched, step)); so_optim_step(opt,
 * w, g); } so_optim_destroy(opt);
 *
 * The update rules follow PyTorch's torch.optim (SGD, Adam, AdamW, Adagrad) to float rounding;
 * LARS and LAMB follow the papers (You et al. 2017, 2019), see docs/design/data.md. Arithmetic is
 * serial and in a fixed order, so the same inputs give bitwise the same outputs on every run.
 * Thread safety: an optimizer is used by one thread at a time; distinct optimizers are independent.
 */
#ifndef SCALEOUT_OPTIM_H
#define SCALEOUT_OPTIM_H

#include "scaleout/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum so_optim_kind {
    SO_OPTIM_SGD = 0,     /* momentum, Nesterov, L2 weight decay added to the gradient */
    SO_OPTIM_ADAM,        /* Adam with L2 weight decay added to the gradient (torch.optim.Adam) */
    SO_OPTIM_ADAMW,       /* Adam with decoupled weight decay (torch.optim.AdamW) */
    SO_OPTIM_ADAGRAD,     /* per-element Adagrad (torch.optim.Adagrad, no lr decay) */
    SO_OPTIM_ADAGRAD_ROW, /* row-wise Adagrad: one accumulator per row (embeddings) */
    SO_OPTIM_LARS,        /* SGD momentum with a per-tensor trust ratio */
    SO_OPTIM_LAMB,        /* Adam moments with a per-tensor trust ratio */
    SO_OPTIM_KIND_COUNT
} so_optim_kind;

typedef struct so_optim_config {
    so_optim_kind kind;
    float lr;                  /* base learning rate (so_optim_set_lr changes it between steps) */
    float weight_decay;        /* L2 (SGD, Adam, Adagrad, LARS) or decoupled (AdamW, LAMB) */
    float momentum;            /* SGD, LARS: 0 = plain SGD */
    float dampening;           /* SGD: buf = momentum*buf + (1-dampening)*g (torch default 0) */
    int nesterov;              /* SGD: 1 = Nesterov momentum (needs momentum > 0, dampening 0) */
    float beta1, beta2;        /* Adam, AdamW, LAMB */
    float eps;                 /* Adam family and Adagrad: added to the root of the second moment */
    float trust_coef;          /* LARS eta (default 0.001); LAMB ignores it */
    float initial_accumulator; /* Adagrad: starting value of the sum of squares */
} so_optim_config;

/* One tensor inside the flat array: elements [offset, offset+numel). row_len is the length of a
 * row for row-wise Adagrad (an embedding of dimension d has row_len d; 0 means one row). no_decay
 * excludes the tensor from weight decay (biases, norms). Segments must not overlap; elements in no
 * segment are updated as one extra tensor (trust ratio over them all). */
typedef struct so_optim_segment {
    size_t offset, numel, row_len;
    int no_decay;
} so_optim_segment;

/* Defaults of PyTorch for kind (SGD lr 0.01; Adam lr 1e-3, betas 0.9/0.999, eps 1e-8; AdamW wd
 * 0.01; Adagrad lr 0.01, eps 1e-10; LARS lr 0.1, momentum 0.9, eta 0.001; LAMB lr 1e-3, wd 0.01,
 * eps 1e-6). */
void so_optim_config_default(so_optim_kind kind, so_optim_config *c);
/* "sgd", "adam", "adamw", "adagrad", "adagrad-row", "lars", "lamb". */
const char *so_optim_kind_name(so_optim_kind kind);
int so_optim_kind_parse(const char *s, so_optim_kind *out);

typedef struct so_optim so_optim;

/* An optimizer for n parameters split into nsegs segments (segs may be NULL when nsegs is 0; it
 * is copied). SO_EINVAL names a bad config or a segment out of range or overlapping. */
int so_optim_create(const so_optim_config *c, size_t n, const so_optim_segment *segs, size_t nsegs,
                    so_optim **out);
void so_optim_destroy(so_optim *o);

/* One update: params[i] changes by the rule of the kind, from grads[i] (not modified).
 * Cost: one to three passes over n floats; LARS/LAMB add a norm pass per segment. */
int so_optim_step(so_optim *o, float *params, const float *grads);
void so_optim_set_lr(so_optim *o, float lr);
float so_optim_lr(const so_optim *o);
const so_optim_config *so_optim_get_config(const so_optim *o);
/* Number of completed steps (Adam bias correction uses it); set it when restoring a checkpoint. */
int64_t so_optim_steps(const so_optim *o);
void so_optim_set_steps(so_optim *o, int64_t steps);
/* Resets every state buffer and the step count to the state right after create. */
void so_optim_reset(so_optim *o);

/* The state buffers, for checkpoints: index i in [0, so_optim_state_count) gives a stable name
 * ("exp_avg", "exp_avg_sq", "momentum_buffer", "sum", "row_sum"), the buffer and its length.
 * Writing into the buffer (then so_optim_set_steps) restores a saved state. */
int so_optim_state_count(const so_optim *o);
int so_optim_state(so_optim *o, int i, const char **name, float **data, size_t *n);

/* ---- learning-rate schedules ---- */

/* Linear warmup from lr/warmup to lr over `warmup` steps, then (if decay_steps > 0) cosine decay
 * from lr to min_lr ending at step warmup+decay_steps, then min_lr; with decay_steps 0 the rate
 * stays at lr after warmup. Step numbers start at 0. */
typedef struct so_lr_schedule {
    float lr, min_lr;
    int64_t warmup, decay_steps;
} so_lr_schedule;
float so_lr_at(const so_lr_schedule *s, int64_t step);
/* Linear scaling rule (Goyal et al. 2017): base_lr * batch / base_batch. */
float so_lr_scale_linear(float base_lr, int64_t base_batch, int64_t batch);

/* ---- gradient clipping ---- */

/* The L2 norm of g (accumulated in double, serial order). */
double so_grad_norm(const float *g, size_t n);
/* Global-norm clipping like torch.nn.utils.clip_grad_norm_: if the norm exceeds max_norm, scales g
 * by max_norm / (norm + 1e-6). Returns the norm before clipping. */
double so_clip_grad_norm(float *g, size_t n, double max_norm);

#ifdef __cplusplus
}
#endif
#endif
