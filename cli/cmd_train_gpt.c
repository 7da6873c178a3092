/*
 * `scaleout train gpt`: trains the library's GPT (scaleout/ml.h) as a language model on the
 * fortunes corpus (or any text file), nanoGPT-style.
 *
 * Data: the corpus bytes are split into a training head and a validation tail (--val-frac), the
 * tokenizer is bytes or BPE trained on (a prefix of) the training head, and each step draws
 * --batch random windows of --ctx+1 tokens from a pure function of (seed, step), so a resumed run
 * sees exactly the batches of an uninterrupted one. Step: forward, mean cross-entropy, backward,
 * global-norm clip, AdamW (no decay on biases and norm gains) at a warmup + cosine learning rate.
 * Validation loss is the mean over --eval-batches fixed windows of the tail.
 * Checkpoints (scaleout/ckpt.h) hold every parameter tensor by name, the optimizer state, the
 * step, the batch generator's seed and step, the BPE merges and the configuration; --resume checks
 * the configuration and continues bit for bit (same flags, same machine).
 * Output: a header, progress lines (step, loss, lr, tokens/s, ETA), validation lines, the final
 * validation loss beside the unigram entropy of the training tokens (nats and bits per token), a
 * sample, and a machine-readable "result ..." line.
 */
#include <libgen.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "scaleout/ckpt.h"
#include "scaleout/data.h"
#include "scaleout/ml.h"
#include "scaleout/optim.h"
#include "train.h"

typedef struct gpt_opts {
    const char *data, *tokenizer, *ckpt, *resume, *optim, *prompt, *export_st;
    int layers, dim, heads, kv_heads, ctx, batch, steps, warmup, vocab, bpe_bytes, eval_every,
        eval_batches, ckpt_every, sample_len, top_k, seed, log_every, threads, stop_at, max_bytes,
        quiet, lr_base_batch;
    double lr, min_lr, wd, beta2, clip, val_frac, temperature;
} gpt_opts;

typedef struct gpt_run {
    gpt_opts o;
    so_tokenizer *tok;
    int32_t *train, *val;
    size_t ntrain, nval, val_bytes;
    so_gpt *m;
    const so_param_set *ps;
    so_optim *opt;
    so_lr_schedule sched;
    char config[256], train_meta[512];
} gpt_run;

/* ---- checkpoints ---- */

static int save_ckpt(gpt_run *r, const char *path, int64_t step) {
    so_ckpt_writer *w;
    SO_TRY(so_ckpt_writer_create(&w));
    int rc = SO_OK;
    char name[SO_PARAM_NAME_MAX + 16];
    for (int i = 0; i < r->ps->nviews && rc == SO_OK; i++) {
        const so_param_view *v = &r->ps->views[i];
        snprintf(name, sizeof name, "model/%s", v->name);
        rc = so_ckpt_writer_add(w, name, SO_F32, v->ndim, v->shape, r->ps->params + v->offset);
    }
    for (int i = 0; i < so_optim_state_count(r->opt) && rc == SO_OK; i++) {
        const char *sn;
        float *d;
        size_t n;
        so_optim_state(r->opt, i, &sn, &d, &n);
        snprintf(name, sizeof name, "optim/%s", sn);
        rc = so_ckpt_writer_add(w, name, SO_F32, 1, (int64_t[]){(int64_t)n}, d);
    }
    const int32_t *pairs;
    int nm = so_tokenizer_merges(r->tok, &pairs);
    if (nm && rc == SO_OK) {
        rc = so_ckpt_writer_add(w, "tokenizer/merges", SO_I32, 2, (int64_t[]){nm, 2}, pairs);
    }
    uint64_t rng[2] = {(uint64_t)r->o.seed, (uint64_t)step};
    if (rc == SO_OK) {
        rc = so_ckpt_writer_add(w, "rng", SO_U8, 1, (int64_t[]){16}, rng);
    }
    char osteps[32];
    snprintf(osteps, sizeof osteps, "%lld", (long long)so_optim_steps(r->opt));
    if (rc == SO_OK) {
        rc = so_ckpt_writer_meta(w, "model", "gpt");
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_meta(w, "config", r->config);
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_meta(w, "train", r->train_meta);
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_meta(w, "optim_steps", osteps);
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_save(w, path, (uint64_t)step, 1);
    }
    so_ckpt_writer_destroy(w);
    return rc;
}

/* The weights alone, named by the registry, with the configuration as metadata. */
static int export_safetensors(gpt_run *r, const char *path, int64_t step) {
    so_ckpt_writer *w;
    SO_TRY(so_ckpt_writer_create(&w));
    int rc = SO_OK;
    for (int i = 0; i < r->ps->nviews && rc == SO_OK; i++) {
        const so_param_view *v = &r->ps->views[i];
        rc = so_ckpt_writer_add(w, v->name, SO_F32, v->ndim, v->shape, r->ps->params + v->offset);
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_meta(w, "config", r->config);
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_meta(w, "format", "scaleout-gpt");
    }
    if (rc == SO_OK) {
        rc = so_ckpt_writer_save_safetensors(w, path, (uint64_t)step);
    }
    so_ckpt_writer_destroy(w);
    return rc;
}

/* Reads the merges of a checkpoint (or makes a byte tokenizer) before the model exists. */
static int resume_tokenizer(const so_ckpt *ck, so_tokenizer **out) {
    const so_ckpt_tensor *t = so_ckpt_find(ck, "tokenizer/merges");
    if (!t) {
        return so_tokenizer_create_byte(out);
    }
    if (t->dtype != SO_I32 || t->ndim != 2 || t->shape[1] != 2) {
        return so__fail(SO_ECORRUPT, "tensor tokenizer/merges is not an (n, 2) int32 table");
    }
    return so_tokenizer_from_merges((const int32_t *)t->data, (int)t->shape[0], out);
}

static int load_state(gpt_run *r, const so_ckpt *ck, int64_t *step) {
    char name[SO_PARAM_NAME_MAX + 16];
    memset(r->ps->params, 0, r->ps->n * sizeof(float));
    for (int i = 0; i < r->ps->nviews; i++) {
        const so_param_view *v = &r->ps->views[i];
        snprintf(name, sizeof name, "model/%s", v->name);
        SO_TRY(so_ckpt_read(ck, name, SO_F32, v->ndim, v->shape, r->ps->params + v->offset));
    }
    for (int i = 0; i < so_optim_state_count(r->opt); i++) {
        const char *sn;
        float *d;
        size_t n;
        so_optim_state(r->opt, i, &sn, &d, &n);
        snprintf(name, sizeof name, "optim/%s", sn);
        SO_TRY(so_ckpt_read(ck, name, SO_F32, 1, (int64_t[]){(int64_t)n}, d));
    }
    const char *os = so_ckpt_meta(ck, "optim_steps");
    so_optim_set_steps(r->opt, os ? strtoll(os, NULL, 10) : (int64_t)so_ckpt_step(ck));
    *step = (int64_t)so_ckpt_step(ck);
    return SO_OK;
}

/* ---- evaluation and sampling ---- */

static int eval_val(gpt_run *r, double *loss) {
    const int B = r->o.batch, T = r->o.ctx;
    int32_t *x = malloc((size_t)B * T * sizeof *x), *y = malloc((size_t)B * T * sizeof *y);
    double sum = 0;
    int rc = SO_OK;
    for (int i = 0; i < r->o.eval_batches && rc == SO_OK; i++) {
        rc = so_lm_batch(r->val, r->nval, B, T, (uint64_t)r->o.seed ^ 0x5EEDF00Dull, (uint64_t)i, x,
                         y);
        float l = 0;
        if (rc == SO_OK) {
            rc = so_gpt_forward(r->m, x, y, B, T, &l);
        }
        sum += l;
    }
    free(x);
    free(y);
    *loss = sum / r->o.eval_batches;
    return rc;
}

static void print_sample(gpt_run *r) {
    const char *p = r->o.prompt;
    int32_t *prompt;
    size_t np;
    SO_CHECK(so_tokenizer_encode(r->tok, (const uint8_t *)p, strlen(p), &prompt, &np));
    if (np == 0) {
        free(prompt);
        return;
    }
    int32_t *out = malloc((size_t)r->o.sample_len * sizeof *out);
    int rc = so_gpt_generate(r->m, prompt, (int)np, r->o.sample_len, (float)r->o.temperature,
                             r->o.top_k, (uint64_t)r->o.seed, out);
    if (rc < 0) {
        fprintf(stderr, "sample: %s\n", so_last_error());
        free(out);
        free(prompt);
        return;
    }
    uint8_t *text;
    size_t nt;
    SO_CHECK(so_tokenizer_decode(r->tok, out, (size_t)r->o.sample_len, &text, &nt));
    printf("--- sample (%d tokens, temperature %g, top-k %d, prompt \"", r->o.sample_len,
           r->o.temperature, r->o.top_k);
    for (const char *c = p; *c; c++) {
        if (*c == '\n') {
            printf("\\n");
        } else {
            putchar(*c);
        }
    }
    printf("\") ---\n%s", p);
    for (size_t i = 0; i < nt; i++) {
        unsigned c = text[i];
        if (c == '\n' || c == '\t' || (c >= 32 && c < 127) || c >= 128) {
            putchar((int)c);
        } else {
            printf("\\x%02x", c);
        }
    }
    printf("\n--- end of sample ---\n");
    free(text);
    free(out);
    free(prompt);
}

/* ---- setup ---- */

static int load_data(gpt_run *r) {
    so_bytes text;
    int rc;
    if (!strcmp(r->o.data, "fortunes")) {
        rc = so_corpus_load_fortunes(NULL, &text);
        if (rc < 0) {
            return so__train_fail(
                "loading the fortunes corpus", rc,
                "install the Debian package 'fortunes' (scripts/install-deps.sh), "
                "set SO_FORTUNES_DIR, or pass --data PATH to a text file");
        }
    } else if ((rc = so_bytes_load_file(r->o.data, &text)) < 0) {
        return so__train_fail("loading --data", rc,
                              "--data takes 'fortunes' or a path to a text file");
    }
    if (r->o.max_bytes > 0 && text.n > (size_t)r->o.max_bytes) {
        text.n = (size_t)r->o.max_bytes;
    }
    const size_t split = so_split_point(text.n, r->o.val_frac);
    double t0 = so_now_s();
    if (!r->tok) {
        if (!strcmp(r->o.tokenizer, "bpe")) {
            size_t nb = split < (size_t)r->o.bpe_bytes ? split : (size_t)r->o.bpe_bytes;
            rc = so_tokenizer_train_bpe(text.data, nb, r->o.vocab, &r->tok);
        } else {
            rc = so_tokenizer_create_byte(&r->tok);
        }
        if (rc < 0) {
            so_bytes_deinit(&text);
            return so__train_fail("building the tokenizer", rc,
                                  "--tokenizer byte|bpe, --vocab 256..4096");
        }
    }
    SO_CHECK(so_tokenizer_encode(r->tok, text.data, split, &r->train, &r->ntrain));
    SO_CHECK(so_tokenizer_encode(r->tok, text.data + split, text.n - split, &r->val, &r->nval));
    r->val_bytes = text.n - split;
    if (!r->o.quiet) {
        printf("data: %s, %zu bytes -> %zu train + %zu val tokens (%s tokenizer, vocab %d, "
               "%.2f bytes/token, %.2fs)\n",
               r->o.data, text.n, r->ntrain, r->nval, so_tokenizer_kind(r->tok),
               so_tokenizer_vocab(r->tok), (double)split / (double)(r->ntrain ? r->ntrain : 1),
               so_now_s() - t0);
    }
    so_bytes_deinit(&text);
    if (r->ntrain <= (size_t)r->o.ctx + 1 || r->nval <= (size_t)r->o.ctx + 1) {
        fprintf(stderr,
                "scaleout train gpt: the corpus is too small for --ctx %d (%zu train, %zu "
                "val tokens)\nhint: lower --ctx or --val-frac, or raise --max-bytes\n",
                r->o.ctx, r->ntrain, r->nval);
        return 2;
    }
    return 0;
}

static void usage_head(char *buf, size_t cap) {
    snprintf(
        buf, cap,
        "usage: scaleout train gpt [flags]\n\n"
        "Trains a GPT language model (pre-norm decoder, learned positions, AdamW, warmup +\n"
        "cosine) on the fortunes corpus; prints progress, validation loss against the unigram\n"
        "entropy of the corpus, and a sample. --ckpt/--resume continue bit for bit.\n"
        "example: scaleout train gpt --data fortunes --layers 4 --dim 128 --heads 4 --ctx 128 "
        "--batch 16 --steps 200");
}

int so__train_gpt(int argc, char **argv) {
    gpt_run r;
    memset(&r, 0, sizeof r);
    gpt_opts *o = &r.o;
    *o = (gpt_opts){.data = "fortunes",
                    .tokenizer = "byte",
                    .optim = "adamw",
                    .prompt = "\n",
                    .layers = 4,
                    .dim = 128,
                    .heads = 4,
                    .kv_heads = 0,
                    .ctx = 128,
                    .batch = 16,
                    .steps = 200,
                    .warmup = -1,
                    .vocab = 512,
                    .bpe_bytes = 1000000,
                    .eval_every = -1,
                    .eval_batches = 8,
                    .ckpt_every = 0,
                    .sample_len = 200,
                    .top_k = 40,
                    .seed = 1337,
                    .log_every = -1,
                    .threads = 0,
                    .stop_at = 0,
                    .max_bytes = 0,
                    .lr = 1e-3,
                    .min_lr = -1,
                    .wd = 0.1,
                    .beta2 = 0.95,
                    .clip = 1.0,
                    .val_frac = 0.1,
                    .temperature = 0.8};
    const so_train_flag flags[] = {
        {"data", SO_TF_STR, &o->data, "'fortunes' or a path to a text file"},
        {"layers", SO_TF_INT, &o->layers, "transformer blocks"},
        {"dim", SO_TF_INT, &o->dim, "model width"},
        {"heads", SO_TF_INT, &o->heads, "attention heads"},
        {"kv-heads", SO_TF_INT, &o->kv_heads, "key/value heads (grouped-query; 0 = heads)"},
        {"ctx", SO_TF_INT, &o->ctx, "context length in tokens (training window)"},
        {"batch", SO_TF_INT, &o->batch, "sequences per step"},
        {"steps", SO_TF_INT, &o->steps, "optimizer steps"},
        {"lr", SO_TF_DBL, &o->lr, "peak learning rate"},
        {"lr-base-batch", SO_TF_INT, &o->lr_base_batch,
         "linear scaling: lr (and min-lr) x batch / this (0 = off)"},
        {"min-lr", SO_TF_DBL, &o->min_lr, "final learning rate of the cosine (default lr/10)"},
        {"warmup", SO_TF_INT, &o->warmup, "linear warmup steps (default min(100, steps/10))"},
        {"wd", SO_TF_DBL, &o->wd, "AdamW weight decay (not on biases and norm gains)"},
        {"beta2", SO_TF_DBL, &o->beta2, "Adam beta2"},
        {"clip", SO_TF_DBL, &o->clip, "global gradient-norm clip (0 = off)"},
        {"optim", SO_TF_STR, &o->optim, "optimizer: adamw, adam, sgd, lamb, lars, adagrad"},
        {"seed", SO_TF_INT, &o->seed, "seed of the weights, the batches and the sample"},
        {"tokenizer", SO_TF_STR, &o->tokenizer, "byte or bpe"},
        {"vocab", SO_TF_INT, &o->vocab, "BPE vocabulary size"},
        {"bpe-bytes", SO_TF_INT, &o->bpe_bytes, "train BPE on this many bytes of the train split"},
        {"val-frac", SO_TF_DBL, &o->val_frac, "fraction of the corpus (its tail) for validation"},
        {"max-bytes", SO_TF_INT, &o->max_bytes,
         "use only the first N bytes of the corpus (0 = all)"},
        {"eval-every", SO_TF_INT, &o->eval_every,
         "validation every N steps (default steps/5; 0 = end only)"},
        {"eval-batches", SO_TF_INT, &o->eval_batches, "batches per validation"},
        {"log-every", SO_TF_INT, &o->log_every, "progress line every N steps (default steps/20)"},
        {"ckpt", SO_TF_STR, &o->ckpt,
         "checkpoint path (written at the end, and every --ckpt-every)"},
        {"safetensors", SO_TF_STR, &o->export_st,
         "also write the final weights as safetensors here"},
        {"ckpt-every", SO_TF_INT, &o->ckpt_every, "checkpoint every N steps (0 = end only)"},
        {"resume", SO_TF_STR, &o->resume, "continue from this checkpoint"},
        {"stop-at", SO_TF_INT, &o->stop_at,
         "stop after this step (simulates an interruption; 0 = off)"},
        {"sample-len", SO_TF_INT, &o->sample_len, "tokens to generate at the end (0 = none)"},
        {"temperature", SO_TF_DBL, &o->temperature, "sampling temperature"},
        {"top-k", SO_TF_INT, &o->top_k, "sample from the k most likely tokens"},
        {"prompt", SO_TF_STR, &o->prompt, "text the sample starts from"},
        {"threads", SO_TF_INT, &o->threads, "model threads (0 = SO_ML_THREADS)"},
        {"quiet", SO_TF_BOOL, &o->quiet, "no header or progress lines"},
    };
    char head[1024];
    usage_head(head, sizeof head);
    int prc = so__train_parse(argc, argv, flags, (int)(sizeof flags / sizeof flags[0]), head);
    if (prc) {
        return prc == 1 ? 0 : 2;
    }
    if (o->layers < 1 || o->dim < 1 || o->heads < 1 || o->ctx < 2 || o->batch < 1 || o->steps < 1 ||
        o->eval_batches < 1 || o->sample_len < 0 || !(o->lr > 0) ||
        !(o->val_frac > 0 && o->val_frac < 1) || o->dim % o->heads) {
        fprintf(stderr,
                "scaleout train gpt: bad sizes: need layers, dim, heads, batch, steps >= 1, "
                "ctx >= 2, dim divisible by heads, lr > 0, val-frac in (0, 1)\nhint: see "
                "'scaleout train gpt --help'\n");
        return 2;
    }
    if (strcmp(o->tokenizer, "byte") && strcmp(o->tokenizer, "bpe")) {
        fprintf(stderr, "scaleout train gpt: --tokenizer must be byte or bpe, not '%s'\n",
                o->tokenizer);
        return 2;
    }
    so_optim_kind okind;
    if (so_optim_kind_parse(o->optim, &okind) < 0) {
        return so__train_fail("--optim", SO_EINVAL, "use adamw, adam, sgd, lamb, lars or adagrad");
    }
    if (o->min_lr < 0) {
        o->min_lr = o->lr / 10;
    }
    if (o->lr_base_batch > 0) { /* Goyal et al.: the rate grows with the batch */
        o->lr = so_lr_scale_linear((float)o->lr, o->lr_base_batch, o->batch);
        o->min_lr = so_lr_scale_linear((float)o->min_lr, o->lr_base_batch, o->batch);
    }
    if (o->warmup < 0) {
        o->warmup = o->steps / 10 < 100 ? o->steps / 10 : 100;
    }
    if (o->eval_every < 0) {
        o->eval_every = o->steps >= 5 ? o->steps / 5 : 0;
    }
    if (o->log_every < 0) {
        o->log_every = o->steps >= 20 ? o->steps / 20 : 1;
    }
    if (o->threads > 0) {
        so_ml_set_threads(o->threads);
    }

    if (o->ckpt) { /* fail now, not after the training, if the checkpoint cannot be written */
        char *copy = strdup(o->ckpt);
        const char *dir = dirname(copy);
        int ok = access(dir, W_OK) == 0;
        if (!ok) {
            fprintf(stderr,
                    "scaleout train gpt: cannot write checkpoints into '%s' (--ckpt %s)\n"
                    "hint: create the directory or choose another --ckpt path\n",
                    dir, o->ckpt);
        }
        free(copy);
        if (!ok) {
            return 2;
        }
    }
    so_ckpt *ck = NULL;
    if (o->resume) {
        int rc = so_ckpt_open_fallback(o->resume, &ck, NULL);
        if (rc < 0) {
            return so__train_fail(
                "reading the --resume checkpoint", rc,
                rc == SO_ENOENT ? "check the path given to --resume"
                                : "the file is damaged or not a scaleout checkpoint; start without "
                                  "--resume or point it at an intact checkpoint");
        }
        const char *mk = so_ckpt_meta(ck, "model");
        if (!mk || strcmp(mk, "gpt")) {
            so_ckpt_close(ck);
            fprintf(stderr, "scaleout train gpt: %s is not a GPT training checkpoint\n", o->resume);
            return 1;
        }
        if (resume_tokenizer(ck, &r.tok) < 0) {
            so_ckpt_close(ck);
            return so__train_fail("reading the tokenizer from the checkpoint", SO_ECORRUPT, NULL);
        }
    }
    int lrc = load_data(&r);
    if (lrc) {
        so_ckpt_close(ck);
        return lrc;
    }
    so_gpt_config gc;
    so_gpt_config_default(&gc);
    gc.vocab = so_tokenizer_vocab(r.tok);
    gc.ctx = o->ctx;
    gc.layers = o->layers;
    gc.dim = o->dim;
    gc.heads = o->heads;
    gc.kv_heads = o->kv_heads ? o->kv_heads : o->heads;
    gc.max_batch = o->batch;
    snprintf(r.config, sizeof r.config,
             "vocab=%d ctx=%d layers=%d dim=%d heads=%d kv_heads=%d "
             "mlp_mult=%d norm=%d act=%d bias=%d tokenizer=%s",
             gc.vocab, gc.ctx, gc.layers, gc.dim, gc.heads, gc.kv_heads, gc.mlp_mult, gc.norm,
             gc.act, gc.bias, so_tokenizer_kind(r.tok));
    snprintf(r.train_meta, sizeof r.train_meta,
             "data=%s max_bytes=%d val_frac=%g batch=%d "
             "steps=%d lr=%g min_lr=%g warmup=%d wd=%g beta2=%g clip=%g optim=%s seed=%d",
             o->data, o->max_bytes, o->val_frac, o->batch, o->steps, o->lr, o->min_lr, o->warmup,
             o->wd, o->beta2, o->clip, o->optim, o->seed);
    if (ck) {
        const char *cc = so_ckpt_meta(ck, "config"), *tm = so_ckpt_meta(ck, "train");
        if (!cc || strcmp(cc, r.config)) {
            fprintf(stderr,
                    "scaleout train gpt: the checkpoint's model does not match the flags\n"
                    "  checkpoint: %s\n  flags:      %s\nhint: pass the same --layers --dim "
                    "--heads --kv-heads --ctx --tokenizer as the run that wrote it\n",
                    cc ? cc : "(none)", r.config);
            so_ckpt_close(ck);
            return 2;
        }
        if (!tm || strcmp(tm, r.train_meta)) {
            fprintf(stderr,
                    "warning: training flags differ from the checkpoint's; the run will not "
                    "repeat the original bit for bit\n  checkpoint: %s\n  flags:      %s\n",
                    tm ? tm : "(none)", r.train_meta);
        }
    }
    int rc = so_gpt_create(&gc, (uint64_t)o->seed, &r.m);
    if (rc < 0) {
        so_ckpt_close(ck);
        return so__train_fail("creating the GPT", rc, "check --dim/--heads/--kv-heads/--ctx");
    }
    r.ps = so_gpt_params(r.m);
    so_optim_config oc;
    so_optim_config_default(okind, &oc);
    oc.lr = (float)o->lr;
    oc.weight_decay = (float)o->wd;
    if (okind == SO_OPTIM_ADAM || okind == SO_OPTIM_ADAMW || okind == SO_OPTIM_LAMB) {
        oc.beta2 = (float)o->beta2;
    }
    if (okind == SO_OPTIM_SGD) {
        oc.momentum = 0.9f;
    }
    so_optim_segment *segs = calloc((size_t)r.ps->nviews + 1, sizeof *segs);
    for (int i = 0; i < r.ps->nviews; i++) {
        const so_param_view *v = &r.ps->views[i];
        segs[i] = (so_optim_segment){.offset = v->offset,
                                     .numel = v->numel,
                                     .row_len = v->ndim == 2 ? (size_t)v->shape[1] : 0,
                                     .no_decay = v->no_decay};
    }
    SO_CHECK(so_optim_create(&oc, r.ps->n, segs, (size_t)r.ps->nviews, &r.opt));
    free(segs);
    r.sched = (so_lr_schedule){.lr = (float)o->lr,
                               .min_lr = (float)o->min_lr,
                               .warmup = o->warmup,
                               .decay_steps = o->steps - o->warmup};
    int64_t step = 0;
    if (ck) {
        rc = load_state(&r, ck, &step);
        so_ckpt_close(ck);
        if (rc < 0) {
            return so__train_fail("restoring the checkpoint", rc,
                                  "the checkpoint was written by a different model or optimizer");
        }
    }
    const double h_nats = so_unigram_entropy(r.train, r.ntrain, gc.vocab);
    if (!o->quiet) {
        printf("model: GPT %d layers, dim %d, %d heads (%d kv), ctx %d, vocab %d, %zu parameters\n",
               gc.layers, gc.dim, gc.heads, gc.kv_heads, gc.ctx, gc.vocab, r.ps->count);
        printf("train: %d steps x %d x %d tokens, %s lr %g -> %g (warmup %d, cosine), wd %g, clip "
               "%g, seed %d, %d threads\n",
               o->steps, o->batch, o->ctx, o->optim, o->lr, o->min_lr, o->warmup, o->wd, o->clip,
               o->seed, so_ml_threads());
        if (step) {
            printf("resume: continuing from step %lld of %s\n", (long long)step, o->resume);
        }
        printf("unigram entropy of the train tokens: %.4f nats/token (%.4f bits/token)\n", h_nats,
               h_nats / log(2));
    }

    const int B = o->batch, T = o->ctx;
    int32_t *x = malloc((size_t)B * T * sizeof *x), *y = malloc((size_t)B * T * sizeof *y);
    const int64_t end = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    double train_time = 0, window_loss = 0, tok_s = 0;
    int window = 0;
    int64_t window_start = step;
    const int64_t first_step = step;
    double wt0 = so_now_s();
    float loss = 0;
    double val = NAN;
    char eta[32];
    for (; step < end; step++) {
        const double t0 = so_now_s();
        so_optim_set_lr(r.opt, so_lr_at(&r.sched, step));
        SO_CHECK(so_lm_batch(r.train, r.ntrain, B, T, (uint64_t)o->seed, (uint64_t)step, x, y));
        rc = so_gpt_forward(r.m, x, y, B, T, &loss);
        if (rc == SO_OK) {
            so_gpt_zero_grad(r.m);
            rc = so_gpt_backward(r.m);
        }
        if (rc < 0) {
            return so__train_fail(
                "a training step", rc,
                rc == SO_ENOTSUP ? "this build's GPT is a stub; rebuild with src/ml/nn" : NULL);
        }
        if (o->clip > 0) {
            so_clip_grad_norm(r.ps->grads, r.ps->n, o->clip);
        }
        SO_CHECK(so_optim_step(r.opt, r.ps->params, r.ps->grads));
        train_time += so_now_s() - t0;
        window_loss += loss;
        window++;
        const int64_t done = step + 1;
        if (!o->quiet && (done % o->log_every == 0 || done == end)) {
            const double dt = so_now_s() - wt0;
            tok_s = (double)(done - window_start) * B * T / (dt > 0 ? dt : 1e-9);
            printf("step %5lld/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %s\n", (long long)done,
                   o->steps, window_loss / window, so_lr_at(&r.sched, step), tok_s,
                   so__train_hms((double)(o->steps - done) * B * T / tok_s, eta, sizeof eta));
            fflush(stdout);
            window_loss = 0;
            window = 0;
        }
        if ((o->eval_every > 0 && done % o->eval_every == 0) || done == o->steps) {
            SO_CHECK(eval_val(&r, &val));
            if (!o->quiet) {
                printf("step %5lld/%d | val loss %.4f nats/token (%.4f bits/token)\n",
                       (long long)done, o->steps, val, val / log(2));
            }
        }
        if (o->ckpt && ((o->ckpt_every > 0 && done % o->ckpt_every == 0) || done == end)) {
            rc = save_ckpt(&r, o->ckpt, done);
            if (rc < 0) {
                return so__train_fail("writing the checkpoint", rc,
                                      "check that --ckpt's directory exists and is writable");
            }
            if (!o->quiet) {
                printf("checkpoint: step %lld -> %s\n", (long long)done, o->ckpt);
            }
        }
        if (done % o->log_every == 0) {
            wt0 = so_now_s();
            window_start = done;
        }
    }
    const double mean_tok_s = train_time > 0 ? (double)(step - first_step) * B * T / train_time : 0;
    if (step < o->steps) {
        printf("stopped at step %lld of %d (--stop-at); resume with --resume %s\n", (long long)step,
               o->steps, o->ckpt ? o->ckpt : "<ckpt>");
    } else {
        if (isnan(val)) {
            SO_CHECK(eval_val(&r, &val));
        }
        const double bpb = val * (double)r.nval / (double)r.val_bytes / log(2);
        printf("final: val loss %.4f nats/token (%.4f bits/token, %.4f bits/byte) vs unigram "
               "entropy %.4f nats/token (%.4f bits/token)\n",
               val, val / log(2), bpb, h_nats, h_nats / log(2));
        if (o->sample_len > 0) {
            print_sample(&r);
        }
        if (o->export_st) {
            rc = export_safetensors(&r, o->export_st, step);
            if (rc < 0) {
                return so__train_fail("writing --safetensors", rc, "check the path");
            }
            printf("safetensors: %d tensors -> %s\n", r.ps->nviews, o->export_st);
        }
    }
    printf("result model=gpt data=%s tokenizer=%s step=%lld train_loss=%.4f val_loss=%.4f "
           "unigram_entropy=%.4f tokens_per_s=%.0f train_seconds=%.2f\n",
           o->data, so_tokenizer_kind(r.tok), (long long)step, loss, val, h_nats, mean_tok_s,
           train_time);
    free(x);
    free(y);
    so_optim_destroy(r.opt);
    so_gpt_destroy(r.m);
    so_tokenizer_destroy(r.tok);
    free(r.train);
    free(r.val);
    return 0;
}
