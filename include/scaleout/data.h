/*
 * scaleout data: the tabular datasets scikit-learn ships (read from the Debian python3-sklearn
 * package's CSV files, no Python at run time), a text corpus from the Debian fortunes package,
 * byte-level and BPE tokenizers, and deterministic shuffling and batching (src/data/).
 *
 *   so_dataset all, train, test;
 *   SO_TRY(so_dataset_load("digits", &all));             // 1797 x 64, 10 classes
 *   SO_TRY(so_dataset_split(&all, 0.2, seed, &train, &test));
 *   so_scaler sc; so_scaler_fit(&sc, &train); so_scaler_apply(&sc, &train); so_scaler_apply(&sc,
 * &test);
 *
 *   so_bytes text; SO_TRY(so_corpus_load_fortunes(NULL, &text));
 *   so_tokenizer *tok; SO_TRY(so_tokenizer_train_bpe(text.data, n, 512, &tok));
 *   so_lm_batch(ids, n_ids, B, T, seed, step, x, y);     // x = window, y = window shifted by one
 *
 * Everything random takes a seed and is a pure function of it (and of the step or epoch), so a
 * resumed run draws exactly the batches the uninterrupted run would have drawn.
 * Thread safety: objects are used by one thread at a time; functions without one are reentrant.
 */
#ifndef SCALEOUT_DATA_H
#define SCALEOUT_DATA_H

#include "scaleout/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================
 * Tabular datasets
 * ====================================================================================== */

typedef struct so_dataset {
    char name[32];
    size_t n, d;     /* rows, features */
    float *X;        /* (n, d) row-major */
    int32_t *labels; /* (n) class in [0, n_classes) for classification; NULL for regression */
    float *targets;  /* (n) value for regression; NULL for classification */
    int n_classes;   /* 0 for regression */
} so_dataset;

/* Loads one of "digits" (1797 x 64, 10 classes), "breast-cancer" (569 x 30, 2), "iris"
 * (150 x 4, 3), "wine" (178 x 13, 3), "diabetes" (442 x 10, regression) from the directory in
 * the SO_SKLEARN_DATA_DIR knob (default: python3-sklearn's datasets/data). .csv.gz files are read
 * through zlib. SO_ENOENT with a hint (install python3-sklearn, or set the knob) if a file is
 * missing; SO_EPROTO naming file:line for a malformed row. */
int so_dataset_load(const char *name, so_dataset *out);
int so_dataset_load_dir(const char *name, const char *dir, so_dataset *out);
/* "digits, breast-cancer, iris, wine, diabetes" */
const char *so_dataset_names(void);
void so_dataset_deinit(so_dataset *ds);
/* out = rows idx[0..k) of src (a copy). */
int so_dataset_subset(const so_dataset *src, const size_t *idx, size_t k, so_dataset *out);
/* Shuffles rows with seed, then the first round(n * test_frac) rows become test, the rest train. */
int so_dataset_split(const so_dataset *all, double test_frac, uint64_t seed, so_dataset *train,
                     so_dataset *test);

/* Standardization as sklearn's StandardScaler: mean and population standard deviation per
 * feature, fitted on one set and applied to others (a constant feature gets scale 1). */
typedef struct so_scaler {
    size_t d;
    float *mean, *scale;
} so_scaler;
int so_scaler_fit(so_scaler *s, const so_dataset *ds);
void so_scaler_apply(const so_scaler *s, so_dataset *ds);
void so_scaler_deinit(so_scaler *s);

/* perm = a permutation of 0..n-1 drawn from seed (xoshiro256**, Fisher-Yates). */
void so_permutation(size_t n, uint64_t seed, size_t *perm);

/* Mini-batches over n rows: each epoch visits a fresh permutation drawn from (seed, epoch); the
 * last batch of an epoch is short unless drop_last. */
typedef struct so_batcher {
    size_t n, batch, pos;
    uint64_t seed;
    int64_t epoch;
    int drop_last;
    size_t *perm;
} so_batcher;
int so_batcher_init(so_batcher *b, size_t n, size_t batch, uint64_t seed, int drop_last);
/* *idx receives the next batch's row indices (valid until the next call); returns their count. An
 * epoch ends after the call that returns its last rows; so_batcher_epoch counts finished epochs. */
size_t so_batcher_next(so_batcher *b, const size_t **idx);
int64_t so_batcher_epoch(const so_batcher *b);
void so_batcher_deinit(so_batcher *b);
/* Copies rows idx[0..k) into X (k, d) and labels (k) or targets (k) (either may be NULL). */
void so_dataset_gather(const so_dataset *ds, const size_t *idx, size_t k, float *X, int32_t *labels,
                       float *targets);

/* ======================================================================================
 * Text corpus
 * ====================================================================================== */

typedef struct so_bytes {
    uint8_t *data;
    size_t n;
} so_bytes;

/* Concatenates the fortune files of dir (NULL: the SO_FORTUNES_DIR knob, default
 * /usr/share/games/fortunes) in byte order of their names: regular files only, skipping the
 * strfile indexes (*.dat) and the *.u8 links. About 2.6 MB with the Debian fortunes package. */
int so_corpus_load_fortunes(const char *dir, so_bytes *out);
/* A whole file. */
int so_bytes_load_file(const char *path, so_bytes *out);
void so_bytes_deinit(so_bytes *b);
/* The train/validation boundary: the first n - round(n * val_frac) elements train, the rest
 * validate (a contiguous tail, as nanoGPT, so no window straddles both). */
size_t so_split_point(size_t n, double val_frac);

/* ======================================================================================
 * Tokenizers
 * ====================================================================================== */

typedef struct so_tokenizer so_tokenizer;

/* Byte-level: token i is byte i, vocabulary 256. */
int so_tokenizer_create_byte(so_tokenizer **out);
/* Byte-level BPE (Sennrich et al. 2016 on raw bytes, no pre-splitting): starting from the 256
 * bytes, repeatedly merge the most frequent adjacent pair (ties: the smallest pair) until
 * vocab_size tokens or no pair occurs twice. vocab_size in [256, 65536]. Cost per merge: one pass
 * over the text. */
int so_tokenizer_train_bpe(const uint8_t *text, size_t n, int vocab_size, so_tokenizer **out);
/* A BPE tokenizer from its merges: pairs[2k], pairs[2k+1] make token 256+k. */
int so_tokenizer_from_merges(const int32_t *pairs, int nmerges, so_tokenizer **out);
void so_tokenizer_destroy(so_tokenizer *t);
int so_tokenizer_vocab(const so_tokenizer *t);
/* "byte" or "bpe". */
const char *so_tokenizer_kind(const so_tokenizer *t);
/* The merges (NULL, 0 for byte-level); pairs stays owned by t. */
int so_tokenizer_merges(const so_tokenizer *t, const int32_t **pairs);
/* Encodes n bytes (any values) into *ids (malloc'ed, *nids tokens); the caller frees. BPE applies
 * the merges in training order, so encode(text) reproduces the training segmentation. */
int so_tokenizer_encode(const so_tokenizer *t, const uint8_t *text, size_t n, int32_t **ids,
                        size_t *nids);
/* Decodes ids into *out (malloc'ed, *nout bytes). SO_EINVAL names an id outside the vocabulary.
 * decode(encode(x)) == x for every byte string x. */
int so_tokenizer_decode(const so_tokenizer *t, const int32_t *ids, size_t n, uint8_t **out,
                        size_t *nout);
/* The bytes of one token (*len of them), pointing into t. */
const uint8_t *so_tokenizer_token(const so_tokenizer *t, int32_t id, size_t *len);
/* Text file "scaleout-tokenizer 1 <kind> <vocab> <nmerges> <crc32>\n" then one "a b" line per
 * merge; written atomically, checked on load. */
int so_tokenizer_save(const so_tokenizer *t, const char *path);
int so_tokenizer_load(const char *path, so_tokenizer **out);

/* ======================================================================================
 * Language-model batches
 * ====================================================================================== */

/* B windows of T+1 tokens at starts drawn from (seed, step, b) uniformly in [0, n - T - 1]:
 * x (B,T) = window[0..T), y (B,T) = window[1..T+1). A pure function of its arguments. Needs
 * n > T. */
int so_lm_batch(const int32_t *tokens, size_t n, int B, int T, uint64_t seed, uint64_t step,
                int32_t *x, int32_t *y);
/* Entropy of the unigram distribution of tokens, in nats per token: the loss of the best model
 * that ignores context (a trained LM should go below it). */
double so_unigram_entropy(const int32_t *tokens, size_t n, int vocab);

#ifdef __cplusplus
}
#endif
#endif
