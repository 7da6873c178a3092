/*
 * scaleout checkpoints: named tensors in one file, written atomically and verified on load
 * (src/core/ckpt.c), and the safetensors format for exchange with other tools
 * (src/core/safetensors.c). The format is documented in docs/design/checkpoint.md.
 *
 *   so_ckpt_writer *w;
 *   SO_TRY(so_ckpt_writer_create(&w));
 *   so_ckpt_writer_add(w, "model/wte", SO_F32, 2, (int64_t[]){256, 128}, wte);   // borrowed
 *   so_ckpt_writer_meta(w, "config", "layers=4 dim=128");
 *   rc = so_ckpt_writer_save(w, "run/ckpt.so", step);    // tmp file, fsync, rename, fsync dir
 *   so_ckpt_writer_destroy(w);
 *
 *   so_ckpt *ck;
 *   SO_TRY(so_ckpt_open("run/ckpt.so", &ck));            // every checksum verified here
 *   SO_TRY(so_ckpt_read(ck, "model/wte", SO_F32, 2, (int64_t[]){256, 128}, wte));
 *   so_ckpt_close(ck);
 *
 * A loaded file of either format is a so_ckpt: a list of tensors (name, dtype, shape, bytes) and
 * string metadata. Errors name what is wrong: a truncated file (its size and the size expected), a
 * checksum mismatch (the tensor, or the header), a bad magic or unknown version, a missing tensor,
 * a dtype or shape mismatch (both shapes).
 * Thread safety: a writer or reader is used by one thread at a time; distinct ones are independent.
 */
#ifndef SCALEOUT_CKPT_H
#define SCALEOUT_CKPT_H

#include "scaleout/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SO_CKPT_VERSION = 1,
    SO_CKPT_MAX_DIMS = 8,
    SO_CKPT_NAME_MAX = 1024, /* bytes of a tensor name or metadata key */
    SO_CKPT_ALIGN = 64,      /* tensor data offsets are multiples of this */
};
/* safetensors' MAX_HEADER_SIZE: a larger header is rejected before it is read. */
#define SO_SAFETENSORS_MAX_HEADER 100000000ull

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of n bytes continuing from crc (start
 * with 0). so_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t so_crc32(uint32_t crc, const void *data, size_t n);

/* ---- writing ---- */

typedef struct so_ckpt_writer so_ckpt_writer;

int so_ckpt_writer_create(so_ckpt_writer **out);
void so_ckpt_writer_destroy(so_ckpt_writer *w);
/* Adds a tensor. name is copied; data (numel(shape) * so_dtype_size(dt) bytes) is borrowed until
 * save. ndim may be 0 (a scalar, one element). SO_EINVAL for a duplicate or overlong name. */
int so_ckpt_writer_add(so_ckpt_writer *w, const char *name, so_dtype dt, int ndim,
                       const int64_t *shape, const void *data);
/* Adds a string key/value pair (both copied); a repeated key replaces the value. */
int so_ckpt_writer_meta(so_ckpt_writer *w, const char *key, const char *value);
/* Writes the scaleout format atomically: path.tmp.<pid> in the same directory, fsync, rename over
 * path, fsync the directory. If keep_previous, an existing path is first kept as path.prev (hard
 * link), so so_ckpt_open_fallback can go back one checkpoint. */
int so_ckpt_writer_save(so_ckpt_writer *w, const char *path, uint64_t step, int keep_previous);
/* Writes the same tensors and metadata as safetensors, atomically (the step goes into
 * __metadata__ as "step"). Data offsets are packed in insertion order. */
int so_ckpt_writer_save_safetensors(so_ckpt_writer *w, const char *path, uint64_t step);

/* ---- reading ---- */

typedef struct so_ckpt_tensor {
    const char *name;
    so_dtype dtype;
    int ndim;
    int64_t shape[SO_CKPT_MAX_DIMS];
    uint64_t nbytes;
    const void *data; /* inside the loaded file; valid until so_ckpt_close */
} so_ckpt_tensor;

typedef struct so_ckpt so_ckpt;

/* Reads and verifies a scaleout checkpoint (magic, version, header checksum, size, every tensor's
 * checksum and bounds). Cost: one read and one CRC pass over the file. */
int so_ckpt_open(const char *path, so_ckpt **out);
/* Opens path; if that fails verification, opens path.prev instead (*used_prev = 1) after logging
 * why. Fails (with the first error) if neither verifies. used_prev may be NULL. */
int so_ckpt_open_fallback(const char *path, so_ckpt **out, int *used_prev);
/* The same from bytes in memory (copied); for tests and fuzzing. */
int so_ckpt_parse(const void *buf, size_t len, so_ckpt **out);
/* Reads and validates a safetensors file (header length <= 100 MB and within the file, JSON
 * object, known dtypes, shapes matching byte lengths, offsets in range, contiguous and not
 * overlapping). Tensors unknown to so_dtype (I8, BOOL, F8...) are SO_ENOTSUP. */
int so_safetensors_open(const char *path, so_ckpt **out);
int so_safetensors_parse(const void *buf, size_t len, so_ckpt **out);
void so_ckpt_close(so_ckpt *ck);

/* The step saved (safetensors: __metadata__ "step" if present, else 0). */
uint64_t so_ckpt_step(const so_ckpt *ck);
int so_ckpt_count(const so_ckpt *ck);
const so_ckpt_tensor *so_ckpt_tensor_at(const so_ckpt *ck, int i);
/* The tensor named name, or NULL. */
const so_ckpt_tensor *so_ckpt_find(const so_ckpt *ck, const char *name);
/* Copies tensor name into dst after checking it exists (SO_ENOENT) and has dtype dt and this
 * shape (SO_EINVAL naming both shapes). */
int so_ckpt_read(const so_ckpt *ck, const char *name, so_dtype dt, int ndim, const int64_t *shape,
                 void *dst);
/* Metadata value of key, or NULL. */
const char *so_ckpt_meta(const so_ckpt *ck, const char *key);

#ifdef __cplusplus
}
#endif
#endif
