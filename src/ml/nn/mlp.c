/*
 * Small models over flat arenas: a multi-layer perceptron (softmax cross-entropy or mean squared
 * error head), binary logistic regression and linear regression. Logistic and linear regression
 * are a one-layer MLP with one output and a sigmoid/identity head, so all three share the layer
 * code here: linear -> activation -> ... -> linear, each layer's weight (out,in) and bias (out)
 * as named views "fc.<i>.w", "fc.<i>.b" over one parameter array.
 *
 * Losses: CE mean over rows of -log softmax(z)[y]; BCE mean of -(y log p + (1-y) log(1-p)) with
 * p = sigmoid(z) computed stably from z; MSE mean over rows and outputs of (z - t)^2 (torch's
 * MSELoss). Backward seeds dz with the loss's gradient and runs the layers in reverse.
 * Cost: 2 * sum(in*out) flops per row forward, twice that backward. Single-threaded (the ml pool
 * pays off only for the GPT's larger matrices). Thread safety: one thread per model.
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

enum { HEAD_SOFTMAX = 0, HEAD_MSE = 1, HEAD_SIGMOID = 2 };

typedef struct net {
    int nlayers; /* linear layers = nhidden + 1 */
    int dims[SO_MLP_MAX_LAYERS + 2];
    size_t w[SO_MLP_MAX_LAYERS + 1], b[SO_MLP_MAX_LAYERS + 1];
    int act, head, max_batch;
    so_param_set ps;
    float *arena;
    float *pre[SO_MLP_MAX_LAYERS + 1];  /* (N, dims[i+1]) pre-activations z_i */
    float *post[SO_MLP_MAX_LAYERS + 1]; /* (N, dims[i+1]) activations (post[last] = output) */
    float *dz, *da;                     /* scratch (N, max dim) */
    const float *x;                     /* last input (borrowed for backward) */
    int32_t *labels;
    float *targets;
    int N, has_loss;
} net;

static int net_create(net *m, int in_dim, const int *hidden, int nhidden, int out_dim, int act,
                      int head, int max_batch, uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (in_dim < 1 || out_dim < 1 || nhidden < 0 || nhidden > SO_MLP_MAX_LAYERS || max_batch < 1) {
        return so__fail(SO_EINVAL,
                        "model needs in_dim, out_dim, max_batch >= 1 and 0..%d hidden "
                        "layers (got %d, %d, %d, %d)",
                        SO_MLP_MAX_LAYERS, in_dim, out_dim, max_batch, nhidden);
    }
    if (act < SO_ACT_GELU || act > SO_ACT_TANH) {
        return so__fail(SO_EINVAL, "unknown activation %d", act);
    }
    m->nlayers = nhidden + 1;
    m->dims[0] = in_dim;
    int maxd = in_dim;
    for (int i = 0; i < nhidden; i++) {
        if (hidden[i] < 1) {
            return so__fail(SO_EINVAL, "hidden layer %d has width %d", i, hidden[i]);
        }
        m->dims[i + 1] = hidden[i];
        maxd = hidden[i] > maxd ? hidden[i] : maxd;
    }
    m->dims[m->nlayers] = out_dim;
    maxd = out_dim > maxd ? out_dim : maxd;
    m->act = act;
    m->head = head;
    m->max_batch = max_batch;
    so__param_builder pb = {0};
    char name[SO_PARAM_NAME_MAX];
    for (int i = 0; i < m->nlayers; i++) {
        snprintf(name, sizeof name, "fc.%d.w", i);
        int rc = so__pb_add(&pb, name, m->dims[i + 1], m->dims[i], 0, &m->w[i]);
        snprintf(name, sizeof name, "fc.%d.b", i);
        if (rc == SO_OK) {
            rc = so__pb_add(&pb, name, m->dims[i + 1], 0, 1, &m->b[i]);
        }
        if (rc < 0) {
            so__pb_abandon(&pb);
            return rc;
        }
    }
    SO_TRY(so__pb_finish(&pb, &m->ps));
    size_t total = 2 * (size_t)max_batch * maxd;
    for (int i = 0; i < m->nlayers; i++) {
        total += 2 * (size_t)max_batch * m->dims[i + 1];
    }
    total += (size_t)max_batch * out_dim; /* targets copy */
    m->arena = calloc(total, sizeof(float));
    m->labels = calloc((size_t)max_batch, sizeof *m->labels);
    if (!m->arena || !m->labels) {
        so__param_set_free(&m->ps);
        free(m->arena);
        free(m->labels);
        return so__fail(SO_ENOMEM, "no memory for model activations");
    }
    float *p = m->arena;
    for (int i = 0; i < m->nlayers; i++) {
        m->pre[i] = p;
        p += (size_t)max_batch * m->dims[i + 1];
        m->post[i] = p;
        p += (size_t)max_batch * m->dims[i + 1];
    }
    m->dz = p;
    p += (size_t)max_batch * maxd;
    m->da = p;
    p += (size_t)max_batch * maxd;
    m->targets = p;
    /* torch.nn.Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias; linear and
     * logistic regression start at zero (sklearn/textbook convention). */
    uint64_t s = seed;
    if (head != HEAD_SIGMOID && !(head == HEAD_MSE && nhidden == 0 && seed == 0)) {
        for (int i = 0; i < m->nlayers; i++) {
            float a = 1.0f / sqrtf((float)m->dims[i]);
            so__fill_uniform(&s, m->ps.params + m->w[i], (size_t)m->dims[i + 1] * m->dims[i], a);
            so__fill_uniform(&s, m->ps.params + m->b[i], (size_t)m->dims[i + 1], a);
        }
    }
    return SO_OK;
}

static void net_destroy(net *m) {
    so__param_set_free(&m->ps);
    free(m->arena);
    free(m->labels);
}

static void act_fwd(int act, float *out, const float *in, size_t n) {
    switch (act) {
    case SO_ACT_RELU:
        so_relu_forward(out, in, n);
        break;
    case SO_ACT_TANH:
        so_tanh_forward(out, in, n);
        break;
    case SO_ACT_SILU:
        so_silu_forward(out, in, n);
        break;
    default:
        so_gelu_forward(out, in, n);
        break;
    }
}

static void act_bwd(int act, float *din, const float *in, const float *out, const float *dout,
                    size_t n) {
    switch (act) {
    case SO_ACT_RELU:
        so_relu_backward(din, in, dout, n);
        break;
    case SO_ACT_TANH:
        so_tanh_backward(din, out, dout, n);
        break;
    case SO_ACT_SILU:
        so_silu_backward(din, in, dout, n);
        break;
    default:
        so_gelu_backward(din, in, dout, n);
        break;
    }
}

static float sigmoidf(float z) {
    return z >= 0 ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

/* Forward over N rows; labels (CE/BCE) or targets (MSE) may be NULL for no loss. */
static int net_forward(net *m, const float *x, const int32_t *labels, const float *targets, int N,
                       float *loss) {
    if (N < 1 || N > m->max_batch || !x) {
        return so__fail(SO_EINVAL, "batch of %d rows is outside 1..%d", N, m->max_batch);
    }
    int out = m->dims[m->nlayers];
    const float *a = x;
    const float *P = m->ps.params;
    for (int i = 0; i < m->nlayers; i++) {
        so_matmul_forward(m->pre[i], a, P + m->w[i], P + m->b[i], N, m->dims[i], m->dims[i + 1]);
        size_t n = (size_t)N * m->dims[i + 1];
        if (i < m->nlayers - 1) {
            act_fwd(m->act, m->post[i], m->pre[i], n);
        }
        a = m->post[i];
    }
    float *z = m->pre[m->nlayers - 1], *y = m->post[m->nlayers - 1];
    m->x = x;
    m->N = N;
    m->has_loss = 0;
    double total = 0.0;
    if (m->head == HEAD_SOFTMAX) {
        if (labels) {
            for (int r = 0; r < N; r++) {
                if (labels[r] < 0 || labels[r] >= out) {
                    return so__fail(SO_EINVAL, "label %d of row %d is outside [0, %d)", labels[r],
                                    r, out);
                }
            }
            memcpy(m->labels, labels, (size_t)N * sizeof *labels);
        }
        total = so_crossentropy_forward(NULL, y, z, labels, N, out);
        m->has_loss = labels != NULL;
        total /= N;
    } else if (m->head == HEAD_SIGMOID) {
        for (int r = 0; r < N; r++) {
            y[r] = sigmoidf(z[r]);
            if (labels) {
                if (labels[r] != 0 && labels[r] != 1) {
                    return so__fail(SO_EINVAL, "label %d of row %d is not 0 or 1", labels[r], r);
                }
                /* -log p = softplus(-z), -log(1-p) = softplus(z), computed stably */
                double zz = labels[r] ? -z[r] : z[r];
                total += zz > 0 ? zz + log1p(exp(-zz)) : log1p(exp(zz));
                m->labels[r] = labels[r];
            }
        }
        m->has_loss = labels != NULL;
        total /= N;
    } else {
        memcpy(y, z, (size_t)N * out * sizeof(float));
        if (targets) {
            for (size_t i = 0; i < (size_t)N * out; i++) {
                double d = (double)z[i] - targets[i];
                total += d * d;
            }
            memcpy(m->targets, targets, (size_t)N * out * sizeof(float));
            total /= (double)N * out;
        }
        m->has_loss = targets != NULL;
    }
    if (loss) {
        *loss = (float)total;
    }
    return SO_OK;
}

static int net_backward(net *m) {
    if (!m->has_loss) {
        return so__fail(SO_ESTATE, "backward needs a forward with labels or targets");
    }
    int N = m->N, L = m->nlayers, out = m->dims[L];
    float *dz = m->dz;
    const float *y = m->post[L - 1];
    if (m->head == HEAD_SOFTMAX) {
        memcpy(dz, y, (size_t)N * out * sizeof(float));
        so_crossentropy_backward(dz, dz, m->labels, 1.0f / (float)N, N, out);
    } else if (m->head == HEAD_SIGMOID) {
        for (int r = 0; r < N; r++) {
            dz[r] = (y[r] - (float)m->labels[r]) / (float)N;
        }
    } else {
        float k = 2.0f / ((float)N * out);
        for (size_t i = 0; i < (size_t)N * out; i++) {
            dz[i] = k * (m->pre[L - 1][i] - m->targets[i]);
        }
    }
    float *G = m->ps.grads;
    const float *P = m->ps.params;
    for (int i = L - 1; i >= 0; i--) {
        const float *a = i == 0 ? m->x : m->post[i - 1];
        size_t nin = (size_t)N * m->dims[i];
        float *da = i > 0 ? m->da : NULL;
        if (da) {
            memset(da, 0, nin * sizeof(float));
        }
        so_matmul_backward(da, G + m->w[i], G + m->b[i], dz, a, P + m->w[i], N, m->dims[i],
                           m->dims[i + 1]);
        if (i > 0) { /* dz of layer i-1 = act'(pre) * da */
            memset(dz, 0, nin * sizeof(float));
            act_bwd(m->act, dz, m->pre[i - 1], m->post[i - 1], da, nin);
        }
    }
    return SO_OK;
}

/* ---------------------------------------------------------------- MLP */

struct so_mlp {
    net n;
};

int so_mlp_create(const so_mlp_config *c, uint64_t seed, so_mlp **out) {
    *out = NULL;
    if (c->loss != SO_LOSS_CE && c->loss != SO_LOSS_MSE) {
        return so__fail(SO_EINVAL, "unknown mlp loss %d", c->loss);
    }
    so_mlp *m = calloc(1, sizeof *m);
    if (!m) {
        return so__fail(SO_ENOMEM, "no memory for an mlp");
    }
    int rc =
        net_create(&m->n, c->in_dim, c->hidden, c->nhidden, c->out_dim, c->act,
                   c->loss == SO_LOSS_CE ? HEAD_SOFTMAX : HEAD_MSE, c->max_batch, seed ? seed : 1);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return SO_OK;
}

void so_mlp_destroy(so_mlp *m) {
    if (m) {
        net_destroy(&m->n);
        free(m);
    }
}

const so_param_set *so_mlp_params(const so_mlp *m) {
    return &m->n.ps;
}
int so_mlp_forward(so_mlp *m, const float *x, const int32_t *labels, const float *targets, int N,
                   float *loss) {
    return net_forward(&m->n, x, labels, targets, N, loss);
}
int so_mlp_backward(so_mlp *m) {
    return net_backward(&m->n);
}
const float *so_mlp_output(const so_mlp *m) {
    return m->n.post[m->n.nlayers - 1];
}

int so_mlp_accuracy(so_mlp *m, const float *x, const int32_t *labels, int N, double *acc) {
    net *n = &m->n;
    int out = n->dims[n->nlayers];
    if (n->head != HEAD_SOFTMAX) {
        return so__fail(SO_EINVAL, "accuracy needs a classifier (CE loss)");
    }
    int64_t right = 0;
    for (int r0 = 0; r0 < N; r0 += n->max_batch) {
        int k = N - r0 < n->max_batch ? N - r0 : n->max_batch;
        SO_TRY(net_forward(n, x + (size_t)r0 * n->dims[0], NULL, NULL, k, NULL));
        const float *p = n->post[n->nlayers - 1];
        for (int r = 0; r < k; r++) {
            int best = 0;
            for (int j = 1; j < out; j++) {
                best = p[(size_t)r * out + j] > p[(size_t)r * out + best] ? j : best;
            }
            right += best == labels[r0 + r];
        }
    }
    *acc = N > 0 ? (double)right / N : 0.0;
    return SO_OK;
}

/* ---------------------------------------------------------------- logistic regression */

struct so_logreg {
    net n;
};

int so_logreg_create(int in_dim, int max_batch, so_logreg **out) {
    *out = NULL;
    so_logreg *m = calloc(1, sizeof *m);
    if (!m) {
        return so__fail(SO_ENOMEM, "no memory for a logistic regression");
    }
    int rc = net_create(&m->n, in_dim, NULL, 0, 1, SO_ACT_RELU, HEAD_SIGMOID, max_batch, 0);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return SO_OK;
}

void so_logreg_destroy(so_logreg *m) {
    if (m) {
        net_destroy(&m->n);
        free(m);
    }
}

const so_param_set *so_logreg_params(const so_logreg *m) {
    return &m->n.ps;
}
int so_logreg_forward(so_logreg *m, const float *x, const int32_t *y, int N, float *loss) {
    return net_forward(&m->n, x, y, NULL, N, loss);
}
int so_logreg_backward(so_logreg *m) {
    return net_backward(&m->n);
}
const float *so_logreg_output(const so_logreg *m) {
    return m->n.post[0];
}

int so_logreg_accuracy(so_logreg *m, const float *x, const int32_t *y, int N, double *acc) {
    net *n = &m->n;
    int64_t right = 0;
    for (int r0 = 0; r0 < N; r0 += n->max_batch) {
        int k = N - r0 < n->max_batch ? N - r0 : n->max_batch;
        SO_TRY(net_forward(n, x + (size_t)r0 * n->dims[0], NULL, NULL, k, NULL));
        for (int r = 0; r < k; r++) {
            right += (n->post[0][r] >= 0.5f) == (y[r0 + r] != 0);
        }
    }
    *acc = N > 0 ? (double)right / N : 0.0;
    return SO_OK;
}

/* ---------------------------------------------------------------- linear regression */

struct so_linreg {
    net n;
};

int so_linreg_create(int in_dim, int max_batch, so_linreg **out) {
    *out = NULL;
    so_linreg *m = calloc(1, sizeof *m);
    if (!m) {
        return so__fail(SO_ENOMEM, "no memory for a linear regression");
    }
    int rc = net_create(&m->n, in_dim, NULL, 0, 1, SO_ACT_RELU, HEAD_MSE, max_batch, 0);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return SO_OK;
}

void so_linreg_destroy(so_linreg *m) {
    if (m) {
        net_destroy(&m->n);
        free(m);
    }
}

const so_param_set *so_linreg_params(const so_linreg *m) {
    return &m->n.ps;
}
int so_linreg_forward(so_linreg *m, const float *x, const float *y, int N, float *loss) {
    return net_forward(&m->n, x, NULL, y, N, loss);
}
int so_linreg_backward(so_linreg *m) {
    return net_backward(&m->n);
}
const float *so_linreg_output(const so_linreg *m) {
    return m->n.post[0];
}
