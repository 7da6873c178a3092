/*
 * Tokenizers: byte-level (token = byte) and byte-level BPE (Sennrich, Haddow, Birch 2016, on raw
 * bytes as GPT-2 does, but without GPT-2's regex pre-splitting, so merges may cross spaces).
 *
 * Training: tokens start as the bytes. Each round counts every adjacent pair into a dense
 * vocab x vocab table (only the rows and columns of tokens that exist so far), picks the most
 * frequent pair (ties: the smallest (a, b)), and rewrites the sequence left to right replacing
 * each non-overlapping occurrence by the new token 256+k. Stops at vocab_size or when no pair
 * occurs twice. Encoding replays the merges in order with one pass each, which reproduces the
 * training segmentation exactly; decoding concatenates each token's bytes, so decode(encode(x))
 * == x for every byte string.
 * Cost: training O(merges * (n + V^2)), encoding O(merges * n), decoding O(output).
 * Limits: vocab_size at most 4096 for training (the dense table is V^2 counters; 64 MiB at 4096).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "core/ckpt_internal.h"
#include "scaleout/ckpt.h"
#include "scaleout/data.h"

enum { KIND_BYTE = 0, KIND_BPE = 1, MAX_TRAIN_VOCAB = 4096, MAX_VOCAB = 65536 };

struct so_tokenizer {
    int kind;
    int vocab;
    int nmerges;
    int32_t *merges; /* 2 * nmerges */
    uint8_t *pool;   /* bytes of every token, concatenated */
    size_t *off;     /* token i is pool[off[i], off[i+1]) */
};

void so_tokenizer_destroy(so_tokenizer *t) {
    if (!t) {
        return;
    }
    free(t->merges);
    free(t->pool);
    free(t->off);
    free(t);
}

/* Builds the token byte table from the merges; checks each merge uses only earlier tokens. */
static int build(int kind, const int32_t *pairs, int nmerges, so_tokenizer **out) {
    *out = NULL;
    if (nmerges < 0 || 256 + nmerges > MAX_VOCAB) {
        return so__fail(SO_EINVAL, "%d merges: the vocabulary would exceed %d", nmerges, MAX_VOCAB);
    }
    so_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        return so__fail(SO_ENOMEM, "no memory for a tokenizer");
    }
    t->kind = kind;
    t->nmerges = nmerges;
    t->vocab = 256 + nmerges;
    t->merges = malloc(2 * (size_t)(nmerges ? nmerges : 1) * sizeof *t->merges);
    t->off = malloc(((size_t)t->vocab + 1) * sizeof *t->off);
    size_t total = 256;
    for (int k = 0; k < nmerges; k++) {
        int32_t a = pairs[2 * k], b = pairs[2 * k + 1];
        if (a < 0 || b < 0 || a >= 256 + k || b >= 256 + k) {
            so_tokenizer_destroy(t);
            return so__fail(SO_EINVAL, "merge %d (%d, %d) refers to a token not defined before it",
                            k, a, b);
        }
    }
    if (!t->merges || !t->off) {
        so_tokenizer_destroy(t);
        return so__fail(SO_ENOMEM, "no memory for a tokenizer");
    }
    if (nmerges) {
        memcpy(t->merges, pairs, 2 * (size_t)nmerges * sizeof *pairs);
    }
    /* Lengths first, then bytes. */
    size_t *len = malloc((size_t)t->vocab * sizeof *len);
    if (!len) {
        so_tokenizer_destroy(t);
        return so__fail(SO_ENOMEM, "no memory for a tokenizer");
    }
    for (int i = 0; i < 256; i++) {
        len[i] = 1;
    }
    for (int k = 0; k < nmerges; k++) {
        len[256 + k] = len[pairs[2 * k]] + len[pairs[2 * k + 1]];
        total += len[256 + k];
    }
    t->pool = malloc(total);
    if (!t->pool) {
        free(len);
        so_tokenizer_destroy(t);
        return so__fail(SO_ENOMEM, "no memory for a tokenizer");
    }
    size_t at = 0;
    for (int i = 0; i < t->vocab; i++) {
        t->off[i] = at;
        if (i < 256) {
            t->pool[at] = (uint8_t)i;
        } else {
            int32_t a = t->merges[2 * (i - 256)], b = t->merges[2 * (i - 256) + 1];
            memcpy(t->pool + at, t->pool + t->off[a], len[a]);
            memcpy(t->pool + at + len[a], t->pool + t->off[b], len[b]);
        }
        at += len[i];
    }
    t->off[t->vocab] = at;
    free(len);
    *out = t;
    return SO_OK;
}

int so_tokenizer_create_byte(so_tokenizer **out) {
    return build(KIND_BYTE, NULL, 0, out);
}

int so_tokenizer_from_merges(const int32_t *pairs, int nmerges, so_tokenizer **out) {
    return build(KIND_BPE, pairs, nmerges, out);
}

int so_tokenizer_vocab(const so_tokenizer *t) {
    return t->vocab;
}

const char *so_tokenizer_kind(const so_tokenizer *t) {
    return t->kind == KIND_BPE ? "bpe" : "byte";
}

int so_tokenizer_merges(const so_tokenizer *t, const int32_t **pairs) {
    *pairs = t->nmerges ? t->merges : NULL;
    return t->nmerges;
}

const uint8_t *so_tokenizer_token(const so_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->vocab) {
        *len = 0;
        return NULL;
    }
    *len = t->off[id + 1] - t->off[id];
    return t->pool + t->off[id];
}

/* Replaces every non-overlapping (a, b), left to right, by x; returns the new length. */
static size_t merge_pass(int32_t *ids, size_t n, int32_t a, int32_t b, int32_t x) {
    size_t o = 0, i = 0;
    while (i < n) {
        if (i + 1 < n && ids[i] == a && ids[i + 1] == b) {
            ids[o++] = x;
            i += 2;
        } else {
            ids[o++] = ids[i++];
        }
    }
    return o;
}

int so_tokenizer_train_bpe(const uint8_t *text, size_t n, int vocab_size, so_tokenizer **out) {
    *out = NULL;
    if (vocab_size < 256 || vocab_size > MAX_TRAIN_VOCAB) {
        return so__fail(SO_EINVAL, "BPE vocabulary size %d is not in [256, %d]", vocab_size,
                        MAX_TRAIN_VOCAB);
    }
    const size_t V = (size_t)vocab_size;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    uint32_t *count = calloc(V * V, sizeof *count);
    int32_t *pairs = malloc(2 * (V - 256 + 1) * sizeof *pairs);
    if (!ids || !count || !pairs) {
        free(ids);
        free(count);
        free(pairs);
        return so__fail(SO_ENOMEM, "no memory to train BPE on %zu bytes", n);
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = text[i];
    }
    int nm = 0;
    for (size_t cur = 256; cur < V; cur++) {
        for (size_t a = 0; a < cur; a++) {
            memset(count + a * V, 0, cur * sizeof *count);
        }
        for (size_t i = 0; i + 1 < n; i++) {
            count[(size_t)ids[i] * V + (size_t)ids[i + 1]]++;
        }
        uint32_t best = 0;
        size_t ba = 0, bb = 0;
        for (size_t a = 0; a < cur; a++) {
            const uint32_t *row = count + a * V;
            for (size_t b = 0; b < cur; b++) {
                if (row[b] > best) {
                    best = row[b];
                    ba = a;
                    bb = b;
                }
            }
        }
        if (best < 2) {
            break;
        }
        pairs[2 * nm] = (int32_t)ba;
        pairs[2 * nm + 1] = (int32_t)bb;
        n = merge_pass(ids, n, (int32_t)ba, (int32_t)bb, (int32_t)cur);
        nm++;
    }
    free(ids);
    free(count);
    int rc = build(KIND_BPE, pairs, nm, out);
    free(pairs);
    return rc;
}

int so_tokenizer_encode(const so_tokenizer *t, const uint8_t *text, size_t n, int32_t **ids,
                        size_t *nids) {
    int32_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        return so__fail(SO_ENOMEM, "no memory to encode %zu bytes", n);
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = text[i];
    }
    for (int k = 0; k < t->nmerges && n > 1; k++) {
        n = merge_pass(v, n, t->merges[2 * k], t->merges[2 * k + 1], 256 + k);
    }
    *ids = v;
    *nids = n;
    return SO_OK;
}

int so_tokenizer_decode(const so_tokenizer *t, const int32_t *ids, size_t n, uint8_t **out,
                        size_t *nout) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab) {
            return so__fail(SO_EINVAL, "token %d at position %zu is outside the vocabulary of %d",
                            ids[i], i, t->vocab);
        }
        total += t->off[ids[i] + 1] - t->off[ids[i]];
    }
    uint8_t *o = malloc(total ? total : 1);
    if (!o) {
        return so__fail(SO_ENOMEM, "no memory to decode %zu tokens", n);
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = t->off[ids[i] + 1] - t->off[ids[i]];
        memcpy(o + at, t->pool + t->off[ids[i]], len);
        at += len;
    }
    *out = o;
    *nout = total;
    return SO_OK;
}

/* ---- files ---- */

int so_tokenizer_save(const so_tokenizer *t, const char *path) {
    size_t cap = 64 + (size_t)t->nmerges * 24;
    char *body = malloc(cap);
    if (!body) {
        return so__fail(SO_ENOMEM, "no memory to save a tokenizer");
    }
    size_t at = 0;
    for (int k = 0; k < t->nmerges; k++) {
        at += (size_t)snprintf(body + at, cap - at, "%d %d\n", t->merges[2 * k],
                               t->merges[2 * k + 1]);
    }
    char head[128];
    int hn = snprintf(head, sizeof head, "scaleout-tokenizer 1 %s %d %d %08x\n",
                      so_tokenizer_kind(t), t->vocab, t->nmerges, so_crc32(0, body, at));
    so__chunk ch[2] = {{head, (size_t)hn}, {body, at}};
    int rc = so__write_atomic(path, ch, 2, 0);
    free(body);
    return rc;
}

int so_tokenizer_load(const char *path, so_tokenizer **out) {
    *out = NULL;
    unsigned char *buf;
    size_t len;
    SO_TRY(so__read_file(path, &buf, &len));
    char kind[16] = "";
    int version = 0, vocab = 0, nm = -1, used = 0;
    unsigned crc = 0;
    char *nl = memchr(buf, '\n', len);
    if (!nl || sscanf((char *)buf, "scaleout-tokenizer %d %15s %d %d %x%n", &version, kind, &vocab,
                      &nm, &crc, &used) != 5) {
        free(buf);
        return so__fail(SO_EPROTO, "%s is not a scaleout tokenizer file (bad first line)", path);
    }
    if (version != 1) {
        free(buf);
        return so__fail(SO_ENOTSUP, "%s has tokenizer format version %d; this build reads 1", path,
                        version);
    }
    const unsigned char *body = (unsigned char *)nl + 1;
    size_t blen = len - (size_t)(body - buf);
    if (so_crc32(0, body, blen) != crc) {
        free(buf);
        return so__fail(SO_ECORRUPT,
                        "%s: the merges checksum does not match (corrupt or "
                        "truncated file)",
                        path);
    }
    if (nm < 0 || nm > MAX_VOCAB - 256 || vocab != 256 + nm ||
        (strcmp(kind, "bpe") && strcmp(kind, "byte")) || (!strcmp(kind, "byte") && nm)) {
        free(buf);
        return so__fail(SO_EPROTO, "%s: inconsistent header (kind %s, vocab %d, %d merges)", path,
                        kind, vocab, nm);
    }
    int32_t *pairs = malloc(2 * (size_t)(nm ? nm : 1) * sizeof *pairs);
    if (!pairs) {
        free(buf);
        return so__fail(SO_ENOMEM, "no memory to load a tokenizer");
    }
    char *text = malloc(blen + 1); /* NUL-terminated, so strtol cannot run off the end */
    if (!text) {
        free(pairs);
        free(buf);
        return so__fail(SO_ENOMEM, "no memory to load a tokenizer");
    }
    memcpy(text, body, blen);
    text[blen] = 0;
    const char *p = text, *end = text + blen;
    int rc = SO_OK;
    for (int k = 0; k < nm && rc == SO_OK; k++) {
        long v[2];
        for (int j = 0; j < 2 && rc == SO_OK; j++) {
            char *e;
            if (p >= end || !isdigit((unsigned char)*p)) {
                rc = so__fail(SO_EPROTO, "%s: merge %d is malformed", path, k);
                break;
            }
            v[j] = strtol(p, &e, 10);
            p = e + 1; /* the space or newline */
        }
        if (rc == SO_OK) {
            pairs[2 * k] = (int32_t)v[0];
            pairs[2 * k + 1] = (int32_t)v[1];
        }
    }
    if (rc == SO_OK) {
        rc = build(!strcmp(kind, "bpe") ? KIND_BPE : KIND_BYTE, pairs, nm, out);
    }
    free(text);
    free(pairs);
    free(buf);
    return rc;
}
