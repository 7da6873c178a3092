/* Internal structures shared by the two checkpoint formats (ckpt.c, safetensors.c). */
#ifndef SO_CKPT_INTERNAL_H
#define SO_CKPT_INTERNAL_H

#include "scaleout/ckpt.h"

typedef struct so__ckpt_entry {
    char *name;
    so_dtype dtype;
    int ndim;
    int64_t shape[SO_CKPT_MAX_DIMS];
    uint64_t nbytes;
    const void *data;
} so__ckpt_entry;

struct so_ckpt_writer {
    so__ckpt_entry *e;
    int n, cap;
    char **keys, **vals;
    int nmeta, capmeta;
};

struct so_ckpt {
    unsigned char *buf; /* the whole file */
    size_t len;
    uint64_t step;
    so_ckpt_tensor *t;
    int n;
    char **keys, **vals;
    int nmeta;
};

/* One piece of a file being written. */
typedef struct so__chunk {
    const void *p;
    size_t n;
} so__chunk;

/* Writes the chunks to path atomically (tmp in the same directory, fsync, rename, fsync dir);
 * keep_previous first hard-links an existing path to path.prev. */
int so__write_atomic(const char *path, const so__chunk *chunks, int n, int keep_previous);
/* Reads a whole file into a malloc'ed buffer. */
int so__read_file(const char *path, unsigned char **buf, size_t *len);
/* An empty reader owning buf. */
so_ckpt *so__ckpt_new(unsigned char *buf, size_t len);
/* Appends a tensor (name copied) or a metadata pair to a reader. */
int so__ckpt_push(so_ckpt *ck, const char *name, size_t name_len, so_dtype dt, int ndim,
                  const int64_t *shape, uint64_t nbytes, const void *data);
int so__ckpt_push_meta(so_ckpt *ck, const char *key, size_t klen, const char *val, size_t vlen);
/* Product of shape[0..ndim) times the dtype size, or SO_ERANGE on overflow or a negative dim. */
int so__shape_bytes(so_dtype dt, int ndim, const int64_t *shape, uint64_t *out);
/* "(3, 4)" into buf. */
const char *so__shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

#endif
