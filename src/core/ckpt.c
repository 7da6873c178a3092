/*
 * The scaleout checkpoint format (docs/design/checkpoint.md): a 32-byte preamble (magic, version,
 * header length, header CRC, preamble CRC), a header (step, file length, metadata pairs, and per
 * tensor its name, dtype, shape, offset, byte length and CRC-32), then the tensor bytes at
 * 64-byte-aligned offsets. All integers are little-endian.
 *
 * Saving lays out the file, checksums each tensor, and writes it atomically (temp file in the same
 * directory, fsync, rename, fsync of the directory), so a crash leaves either the old file or the
 * new one, never a torn one. Loading reads the whole file and verifies, in order: size >= preamble,
 * magic, version, preamble CRC, header within the file, header CRC, the recorded file length (a
 * truncated file is reported as such), every tensor in bounds and its CRC. Nothing is trusted
 * before it is checked, so a corrupt file gives an error, never a crash.
 * Cost: one write or read of the file plus one CRC pass. Limits: the whole file is held in memory
 * while loaded; big-endian hosts are not supported (checked).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_internal.h"

static const unsigned char MAGIC[8] = {'S', 'O', 'C', 'K', 'P', 'T', '\r', '\n'};
enum { PREAMBLE = 32 };

/* ---- shared helpers ---- */

int so__shape_bytes(so_dtype dt, int ndim, const int64_t *shape, uint64_t *out) {
    if ((unsigned)dt >= SO_DTYPE_COUNT) {
        return so__fail(SO_EINVAL, "unknown dtype %d", (int)dt);
    }
    if (ndim < 0 || ndim > SO_CKPT_MAX_DIMS) {
        return so__fail(SO_ERANGE, "%d dimensions (at most %d)", ndim, SO_CKPT_MAX_DIMS);
    }
    uint64_t n = so_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && n > UINT64_MAX / (uint64_t)shape[i])) {
            return so__fail(SO_ERANGE, "dimension %d of size %lld is negative or overflows", i,
                            (long long)shape[i]);
        }
        n *= (uint64_t)shape[i];
    }
    *out = n;
    return SO_OK;
}

const char *so__shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, cap - at, "(");
    for (int i = 0; i < ndim && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, i ? ", %lld" : "%lld", (long long)shape[i]);
    }
    if (at < cap) {
        snprintf(buf + at, cap - at, ")");
    }
    return buf;
}

static int write_all(int fd, const void *p, size_t n, const char *path) {
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return so__fail(SO_EIO, "cannot write %s: %s", path, strerror(errno));
        }
        c += k;
        n -= (size_t)k;
    }
    return SO_OK;
}

static int fsync_dir_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) {
        return so__fail(SO_ENOMEM, "no memory for a path");
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0) {
        return so__fail(SO_EIO, "cannot open the directory of %s to fsync it: %s", path,
                        strerror(errno));
    }
    int rc = fsync(fd) == 0 ? SO_OK
                            : so__fail(SO_EIO, "fsync of the directory of %s failed: %s", path,
                                       strerror(errno));
    close(fd);
    return rc;
}

int so__write_atomic(const char *path, const so__chunk *chunks, int n, int keep_previous) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        return so__fail(SO_EINVAL, "checkpoint path too long: %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return so__fail(SO_EIO,
                        "cannot create %s: %s (does the directory exist and is it "
                        "writable?)",
                        tmp, strerror(errno));
    }
    int rc = SO_OK;
    for (int i = 0; i < n && rc == SO_OK; i++) {
        rc = write_all(fd, chunks[i].p, chunks[i].n, tmp);
    }
    if (rc == SO_OK && fsync(fd) != 0) {
        rc = so__fail(SO_EIO, "fsync of %s failed: %s", tmp, strerror(errno));
    }
    if (close(fd) != 0 && rc == SO_OK) {
        rc = so__fail(SO_EIO, "close of %s failed: %s", tmp, strerror(errno));
    }
    if (rc == SO_OK && keep_previous && access(path, F_OK) == 0) {
        char prev[4200];
        snprintf(prev, sizeof prev, "%s.prev", path);
        unlink(prev);
        if (link(path, prev) != 0) {
            rc = so__fail(SO_EIO, "cannot keep the previous checkpoint as %s: %s", prev,
                          strerror(errno));
        }
    }
    if (rc == SO_OK && rename(tmp, path) != 0) {
        rc = so__fail(SO_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    return fsync_dir_of(path);
}

int so__read_file(const char *path, unsigned char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return so__fail(errno == ENOENT ? SO_ENOENT : SO_EIO, "cannot open %s: %s", path,
                        strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return so__fail(SO_EIO, "%s is not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) {
        close(fd);
        return so__fail(SO_ENOMEM, "no memory to read %s (%zu bytes)", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        free(b);
        return so__fail(SO_EIO, "short read of %s (%zu of %zu bytes)", path, got, n);
    }
    *buf = b;
    *len = n;
    return SO_OK;
}

/* ---- writer ---- */

int so_ckpt_writer_create(so_ckpt_writer **out) {
    *out = calloc(1, sizeof **out);
    return *out ? SO_OK : so__fail(SO_ENOMEM, "no memory for a checkpoint writer");
}

void so_ckpt_writer_destroy(so_ckpt_writer *w) {
    if (!w) {
        return;
    }
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
    }
    for (int i = 0; i < w->nmeta; i++) {
        free(w->keys[i]);
        free(w->vals[i]);
    }
    free(w->e);
    free(w->keys);
    free(w->vals);
    free(w);
}

int so_ckpt_writer_add(so_ckpt_writer *w, const char *name, so_dtype dt, int ndim,
                       const int64_t *shape, const void *data) {
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > SO_CKPT_NAME_MAX) {
        return so__fail(SO_EINVAL, "tensor name must have 1 to %d bytes", SO_CKPT_NAME_MAX);
    }
    for (int i = 0; i < w->n; i++) {
        if (!strcmp(w->e[i].name, name)) {
            return so__fail(SO_EINVAL, "tensor '%s' added twice to a checkpoint", name);
        }
    }
    uint64_t nbytes;
    SO_TRY(so__shape_bytes(dt, ndim, shape, &nbytes));
    if (nbytes && !data) {
        return so__fail(SO_EINVAL, "tensor '%s' has %llu bytes but NULL data", name,
                        (unsigned long long)nbytes);
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        so__ckpt_entry *e = realloc(w->e, (size_t)cap * sizeof *e);
        if (!e) {
            return so__fail(SO_ENOMEM, "no memory for checkpoint entries");
        }
        w->e = e;
        w->cap = cap;
    }
    so__ckpt_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name) {
        return so__fail(SO_ENOMEM, "no memory for a tensor name");
    }
    e->dtype = dt;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
    }
    e->nbytes = nbytes;
    e->data = data;
    w->n++;
    return SO_OK;
}

int so_ckpt_writer_meta(so_ckpt_writer *w, const char *key, const char *value) {
    if (!key || !*key || strlen(key) > SO_CKPT_NAME_MAX || !value) {
        return so__fail(SO_EINVAL, "metadata key must have 1 to %d bytes and a value",
                        SO_CKPT_NAME_MAX);
    }
    for (int i = 0; i < w->nmeta; i++) {
        if (!strcmp(w->keys[i], key)) {
            char *v = strdup(value);
            if (!v) {
                return so__fail(SO_ENOMEM, "no memory for metadata");
            }
            free(w->vals[i]);
            w->vals[i] = v;
            return SO_OK;
        }
    }
    if (w->nmeta == w->capmeta) {
        int cap = w->capmeta ? 2 * w->capmeta : 8;
        char **k = realloc(w->keys, (size_t)cap * sizeof *k);
        if (!k) {
            return so__fail(SO_ENOMEM, "no memory for metadata");
        }
        w->keys = k;
        char **v = realloc(w->vals, (size_t)cap * sizeof *v);
        if (!v) {
            return so__fail(SO_ENOMEM, "no memory for metadata");
        }
        w->vals = v;
        w->capmeta = cap;
    }
    w->keys[w->nmeta] = strdup(key);
    w->vals[w->nmeta] = strdup(value);
    if (!w->keys[w->nmeta] || !w->vals[w->nmeta]) {
        free(w->keys[w->nmeta]);
        free(w->vals[w->nmeta]);
        return so__fail(SO_ENOMEM, "no memory for metadata");
    }
    w->nmeta++;
    return SO_OK;
}

/* A growable byte buffer for the header. */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
    if (b->oom) {
        return;
    }
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) {
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u8(bytes *b, uint8_t v) {
    put(b, &v, 1);
}
static void put_u16(bytes *b, uint16_t v) {
    put(b, &v, 2);
}
static void put_u32(bytes *b, uint32_t v) {
    put(b, &v, 4);
}
static void put_u64(bytes *b, uint64_t v) {
    put(b, &v, 8);
}

static uint64_t align_up(uint64_t x) {
    return (x + SO_CKPT_ALIGN - 1) / SO_CKPT_ALIGN * SO_CKPT_ALIGN;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* Header size for a writer (entries' offsets depend on it). */
static size_t header_size(const so_ckpt_writer *w) {
    size_t n = 8 + 8 + 4 + 4;
    for (int i = 0; i < w->nmeta; i++) {
        n += 4 + strlen(w->keys[i]) + 4 + strlen(w->vals[i]);
    }
    for (int i = 0; i < w->n; i++) {
        n += 2 + strlen(w->e[i].name) + 1 + 1 + 2 + 8 * (size_t)w->e[i].ndim + 8 + 8 + 4;
    }
    return n;
}

int so_ckpt_writer_save(so_ckpt_writer *w, const char *path, uint64_t step, int keep_previous) {
    if (!host_is_little_endian()) {
        return so__fail(SO_ENOTSUP, "checkpoints are little-endian; this host is not");
    }
    const size_t hlen = header_size(w);
    uint64_t at = align_up(PREAMBLE + hlen);
    uint64_t *offs = calloc((size_t)w->n + 1, sizeof *offs);
    if (!offs) {
        return so__fail(SO_ENOMEM, "no memory to lay out a checkpoint");
    }
    for (int i = 0; i < w->n; i++) {
        offs[i] = at;
        at = align_up(at + w->e[i].nbytes);
    }
    const uint64_t file_len = at;
    bytes h = {0};
    put_u64(&h, step);
    put_u64(&h, file_len);
    put_u32(&h, (uint32_t)w->nmeta);
    put_u32(&h, (uint32_t)w->n);
    for (int i = 0; i < w->nmeta; i++) {
        uint32_t kl = (uint32_t)strlen(w->keys[i]), vl = (uint32_t)strlen(w->vals[i]);
        put_u32(&h, kl);
        put(&h, w->keys[i], kl);
        put_u32(&h, vl);
        put(&h, w->vals[i], vl);
    }
    for (int i = 0; i < w->n; i++) {
        const so__ckpt_entry *e = &w->e[i];
        uint16_t nl = (uint16_t)strlen(e->name);
        put_u16(&h, nl);
        put(&h, e->name, nl);
        put_u8(&h, (uint8_t)e->dtype);
        put_u8(&h, (uint8_t)e->ndim);
        put_u16(&h, 0);
        for (int d = 0; d < e->ndim; d++) {
            put_u64(&h, (uint64_t)e->shape[d]);
        }
        put_u64(&h, offs[i]);
        put_u64(&h, e->nbytes);
        put_u32(&h, so_crc32(0, e->data, e->nbytes));
    }
    if (h.oom || h.n != hlen) {
        free(h.p);
        free(offs);
        return so__fail(SO_ENOMEM, "no memory for a checkpoint header");
    }
    unsigned char pre[PREAMBLE];
    memcpy(pre, MAGIC, 8);
    uint32_t version = SO_CKPT_VERSION, flags = 0;
    uint64_t hlen64 = hlen;
    uint32_t hcrc = so_crc32(0, h.p, h.n);
    memcpy(pre + 8, &version, 4);
    memcpy(pre + 12, &flags, 4);
    memcpy(pre + 16, &hlen64, 8);
    memcpy(pre + 24, &hcrc, 4);
    uint32_t pcrc = so_crc32(0, pre, 28);
    memcpy(pre + 28, &pcrc, 4);

    static const unsigned char zeros[SO_CKPT_ALIGN];
    so__chunk *ch = calloc(3 + 2 * (size_t)w->n, sizeof *ch);
    if (!ch) {
        free(h.p);
        free(offs);
        return so__fail(SO_ENOMEM, "no memory for a checkpoint layout");
    }
    int nc = 0;
    ch[nc++] = (so__chunk){pre, PREAMBLE};
    ch[nc++] = (so__chunk){h.p, h.n};
    uint64_t pos = PREAMBLE + hlen;
    for (int i = 0; i < w->n; i++) {
        ch[nc++] = (so__chunk){zeros, (size_t)(offs[i] - pos)};
        ch[nc++] = (so__chunk){w->e[i].data, (size_t)w->e[i].nbytes};
        pos = offs[i] + w->e[i].nbytes;
    }
    ch[nc++] = (so__chunk){zeros, (size_t)(file_len - pos)};
    int rc = so__write_atomic(path, ch, nc, keep_previous);
    free(ch);
    free(h.p);
    free(offs);
    return rc;
}

/* ---- reader ---- */

so_ckpt *so__ckpt_new(unsigned char *buf, size_t len) {
    so_ckpt *ck = calloc(1, sizeof *ck);
    if (ck) {
        ck->buf = buf;
        ck->len = len;
    }
    return ck;
}

int so__ckpt_push(so_ckpt *ck, const char *name, size_t name_len, so_dtype dt, int ndim,
                  const int64_t *shape, uint64_t nbytes, const void *data) {
    so_ckpt_tensor *t = realloc(ck->t, ((size_t)ck->n + 1) * sizeof *t);
    if (!t) {
        return so__fail(SO_ENOMEM, "no memory for checkpoint tensors");
    }
    ck->t = t;
    char *nm = malloc(name_len + 1);
    if (!nm) {
        return so__fail(SO_ENOMEM, "no memory for a tensor name");
    }
    memcpy(nm, name, name_len);
    nm[name_len] = 0;
    so_ckpt_tensor *x = &ck->t[ck->n++];
    memset(x, 0, sizeof *x);
    x->name = nm;
    x->dtype = dt;
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        x->shape[i] = shape[i];
    }
    x->nbytes = nbytes;
    x->data = data;
    return SO_OK;
}

int so__ckpt_push_meta(so_ckpt *ck, const char *key, size_t klen, const char *val, size_t vlen) {
    char **k = realloc(ck->keys, ((size_t)ck->nmeta + 1) * sizeof *k);
    if (!k) {
        return so__fail(SO_ENOMEM, "no memory for metadata");
    }
    ck->keys = k;
    char **v = realloc(ck->vals, ((size_t)ck->nmeta + 1) * sizeof *v);
    if (!v) {
        return so__fail(SO_ENOMEM, "no memory for metadata");
    }
    ck->vals = v;
    char *kk = malloc(klen + 1), *vv = malloc(vlen + 1);
    if (!kk || !vv) {
        free(kk);
        free(vv);
        return so__fail(SO_ENOMEM, "no memory for metadata");
    }
    memcpy(kk, key, klen);
    kk[klen] = 0;
    memcpy(vv, val, vlen);
    vv[vlen] = 0;
    ck->keys[ck->nmeta] = kk;
    ck->vals[ck->nmeta] = vv;
    ck->nmeta++;
    return SO_OK;
}

void so_ckpt_close(so_ckpt *ck) {
    if (!ck) {
        return;
    }
    for (int i = 0; i < ck->n; i++) {
        free((char *)ck->t[i].name);
    }
    for (int i = 0; i < ck->nmeta; i++) {
        free(ck->keys[i]);
        free(ck->vals[i]);
    }
    free(ck->t);
    free(ck->keys);
    free(ck->vals);
    free(ck->buf);
    free(ck);
}

/* A bounds-checked cursor over the header. */
typedef struct cursor {
    const unsigned char *p;
    size_t n, at;
    int bad;
} cursor;

static const void *take(cursor *c, size_t n) {
    if (c->bad || n > c->n - c->at) {
        c->bad = 1;
        return NULL;
    }
    const void *r = c->p + c->at;
    c->at += n;
    return r;
}
static uint64_t get_u(cursor *c, size_t n) {
    const void *p = take(c, n);
    uint64_t v = 0;
    if (p) {
        memcpy(&v, p, n); /* little-endian host */
    }
    return v;
}

static int cmp_tensor_pos(const void *a, const void *b) {
    const so_ckpt_tensor *x = *(const so_ckpt_tensor *const *)a,
                         *y = *(const so_ckpt_tensor *const *)b;
    if (x->data != y->data) {
        return (const char *)x->data < (const char *)y->data ? -1 : 1;
    }
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes); /* empty tensors first */
}

/* Bytes outside the preamble, header and tensors are padding the writer zeroed; anything else
 * there (or tensors overlapping) means the file was altered. */
static int check_padding(const so_ckpt *ck, size_t start, const char *what) {
    const so_ckpt_tensor **order = calloc((size_t)ck->n + 1, sizeof *order);
    if (!order) {
        return so__fail(SO_ENOMEM, "no memory to check a checkpoint");
    }
    for (int i = 0; i < ck->n; i++) {
        order[i] = &ck->t[i];
    }
    qsort(order, (size_t)ck->n, sizeof *order, cmp_tensor_pos);
    size_t at = start;
    int rc = SO_OK;
    for (int i = 0; i <= ck->n && rc == SO_OK; i++) {
        size_t end =
            i < ck->n ? (size_t)((const unsigned char *)order[i]->data - ck->buf) : ck->len;
        if (end < at) {
            rc = so__fail(SO_ECORRUPT, "%s: tensor '%s' overlaps another tensor or the header",
                          what, order[i]->name);
            break;
        }
        for (size_t j = at; j < end; j++) {
            if (ck->buf[j] != 0) {
                rc = so__fail(SO_ECORRUPT,
                              "%s: nonzero byte at offset %zu in padding (the file is "
                              "corrupt)",
                              what, j);
                break;
            }
        }
        if (i < ck->n) {
            at = end + (size_t)order[i]->nbytes;
        }
    }
    free(order);
    return rc;
}

/* Parses a verified-size buffer it takes ownership of. */
static int parse_owned(unsigned char *buf, size_t len, const char *what, so_ckpt **out) {
    *out = NULL;
    if (!host_is_little_endian()) {
        free(buf);
        return so__fail(SO_ENOTSUP, "checkpoints are little-endian; this host is not");
    }
    so_ckpt *ck = so__ckpt_new(buf, len);
    if (!ck) {
        free(buf);
        return so__fail(SO_ENOMEM, "no memory for a checkpoint");
    }
    int rc = SO_OK;
    if (len >= 8 && memcmp(buf, MAGIC, 8) != 0) {
        rc = so__fail(SO_EPROTO,
                      "%s is not a scaleout checkpoint (bad magic; a safetensors file "
                      "is read with so_safetensors_open)",
                      what);
        goto fail;
    }
    if (len < PREAMBLE) {
        rc = so__fail(SO_ECORRUPT, "%s is truncated: %zu bytes, smaller than the %d-byte preamble",
                      what, len, PREAMBLE);
        goto fail;
    }
    uint32_t version, hcrc, pcrc;
    uint64_t hlen;
    memcpy(&version, buf + 8, 4);
    memcpy(&hlen, buf + 16, 8);
    memcpy(&hcrc, buf + 24, 4);
    memcpy(&pcrc, buf + 28, 4);
    if (so_crc32(0, buf, 28) != pcrc) {
        rc = so__fail(SO_ECORRUPT, "%s: the preamble checksum does not match (corrupt file)", what);
        goto fail;
    }
    if (version != SO_CKPT_VERSION) {
        rc = so__fail(SO_ENOTSUP,
                      "%s has checkpoint format version %u; this build reads version "
                      "%d",
                      what, version, SO_CKPT_VERSION);
        goto fail;
    }
    if (hlen > len - PREAMBLE) {
        rc = so__fail(SO_ECORRUPT, "%s is truncated: %zu bytes, but its header alone needs %llu",
                      what, len, (unsigned long long)(hlen + PREAMBLE));
        goto fail;
    }
    if (so_crc32(0, buf + PREAMBLE, (size_t)hlen) != hcrc) {
        rc = so__fail(SO_ECORRUPT, "%s: the header checksum does not match (corrupt file)", what);
        goto fail;
    }
    cursor c = {buf + PREAMBLE, (size_t)hlen, 0, 0};
    ck->step = get_u(&c, 8);
    uint64_t file_len = get_u(&c, 8);
    uint32_t nmeta = (uint32_t)get_u(&c, 4), nt = (uint32_t)get_u(&c, 4);
    if (!c.bad && file_len != len) {
        rc = so__fail(SO_ECORRUPT, "%s is %s: %zu bytes, but its header says %llu", what,
                      len < file_len ? "truncated" : "longer than written", len,
                      (unsigned long long)file_len);
        goto fail;
    }
    for (uint32_t i = 0; i < nmeta && !c.bad; i++) {
        uint32_t kl = (uint32_t)get_u(&c, 4);
        const char *k = take(&c, kl);
        uint32_t vl = (uint32_t)get_u(&c, 4);
        const char *v = take(&c, vl);
        if (!c.bad) {
            SO_TRY_GOTO(so__ckpt_push_meta(ck, k, kl, v, vl), rc, fail);
        }
    }
    for (uint32_t i = 0; i < nt && !c.bad; i++) {
        uint16_t nl = (uint16_t)get_u(&c, 2);
        const char *name = take(&c, nl);
        uint8_t dt = (uint8_t)get_u(&c, 1), nd = (uint8_t)get_u(&c, 1);
        (void)get_u(&c, 2);
        if (c.bad) {
            break;
        }
        if (dt >= SO_DTYPE_COUNT || nd > SO_CKPT_MAX_DIMS) {
            rc = so__fail(SO_ECORRUPT,
                          "%s: tensor '%.*s' has dtype %u or %u dimensions, not "
                          "readable",
                          what, (int)nl, name, dt, nd);
            goto fail;
        }
        int64_t shape[SO_CKPT_MAX_DIMS];
        for (int d = 0; d < nd; d++) {
            shape[d] = (int64_t)get_u(&c, 8);
        }
        uint64_t off = get_u(&c, 8), nbytes = get_u(&c, 8);
        uint32_t crc = (uint32_t)get_u(&c, 4);
        if (c.bad) {
            break;
        }
        uint64_t want;
        if (so__shape_bytes((so_dtype)dt, nd, shape, &want) < 0 || want != nbytes) {
            rc = so__fail(SO_ECORRUPT,
                          "%s: tensor '%.*s' has %llu bytes, which does not match "
                          "its shape and dtype",
                          what, (int)nl, name, (unsigned long long)nbytes);
            goto fail;
        }
        if (off < PREAMBLE + hlen || off > len || nbytes > len - off) {
            rc = so__fail(SO_ECORRUPT,
                          "%s: tensor '%.*s' at [%llu, +%llu) lies outside the %zu-byte"
                          " file",
                          what, (int)nl, name, (unsigned long long)off, (unsigned long long)nbytes,
                          len);
            goto fail;
        }
        if (so_crc32(0, buf + off, (size_t)nbytes) != crc) {
            rc = so__fail(SO_ECORRUPT,
                          "%s: checksum mismatch in tensor '%.*s' (the file is "
                          "corrupt)",
                          what, (int)nl, name);
            goto fail;
        }
        SO_TRY_GOTO(so__ckpt_push(ck, name, nl, (so_dtype)dt, nd, shape, nbytes, buf + off), rc,
                    fail);
    }
    if (c.bad || c.at != c.n) {
        rc = so__fail(SO_ECORRUPT,
                      "%s: the header is malformed (its records do not fill its %llu "
                      "bytes exactly)",
                      what, (unsigned long long)hlen);
        goto fail;
    }
    SO_TRY_GOTO(check_padding(ck, PREAMBLE + (size_t)hlen, what), rc, fail);
    *out = ck;
    return SO_OK;
fail:
    so_ckpt_close(ck);
    return rc;
}

int so_ckpt_parse(const void *buf, size_t len, so_ckpt **out) {
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        return so__fail(SO_ENOMEM, "no memory for a checkpoint copy");
    }
    if (len) {
        memcpy(copy, buf, len);
    }
    return parse_owned(copy, len, "checkpoint", out);
}

int so_ckpt_open(const char *path, so_ckpt **out) {
    unsigned char *buf;
    size_t len;
    *out = NULL;
    SO_TRY(so__read_file(path, &buf, &len));
    return parse_owned(buf, len, path, out);
}

int so_ckpt_open_fallback(const char *path, so_ckpt **out, int *used_prev) {
    if (used_prev) {
        *used_prev = 0;
    }
    int rc = so_ckpt_open(path, out);
    if (rc == SO_OK) {
        return rc;
    }
    char first[512];
    snprintf(first, sizeof first, "%s", so_last_error());
    char prev[4200];
    snprintf(prev, sizeof prev, "%s.prev", path);
    if (so_ckpt_open(prev, out) == SO_OK) {
        SO_LOGW("checkpoint %s is unusable (%s); using the previous one, %s", path, first, prev);
        if (used_prev) {
            *used_prev = 1;
        }
        return SO_OK;
    }
    return so__fail(rc, "%s", first);
}

uint64_t so_ckpt_step(const so_ckpt *ck) {
    return ck->step;
}

int so_ckpt_count(const so_ckpt *ck) {
    return ck->n;
}

const so_ckpt_tensor *so_ckpt_tensor_at(const so_ckpt *ck, int i) {
    return (i >= 0 && i < ck->n) ? &ck->t[i] : NULL;
}

const so_ckpt_tensor *so_ckpt_find(const so_ckpt *ck, const char *name) {
    for (int i = 0; i < ck->n; i++) {
        if (!strcmp(ck->t[i].name, name)) {
            return &ck->t[i];
        }
    }
    return NULL;
}

int so_ckpt_read(const so_ckpt *ck, const char *name, so_dtype dt, int ndim, const int64_t *shape,
                 void *dst) {
    const so_ckpt_tensor *t = so_ckpt_find(ck, name);
    if (!t) {
        return so__fail(SO_ENOENT,
                        "the checkpoint has no tensor '%s' (was it saved by a different "
                        "model or configuration?)",
                        name);
    }
    char a[160], b[160];
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) {
        same = t->shape[i] == shape[i];
    }
    if (t->dtype != dt || !same) {
        return so__fail(SO_EINVAL, "tensor '%s' is %s %s in the checkpoint but %s %s here", name,
                        so_dtype_name(t->dtype), so__shape_str(t->ndim, t->shape, a, sizeof a),
                        so_dtype_name(dt), so__shape_str(ndim, shape, b, sizeof b));
    }
    if (t->nbytes) {
        memcpy(dst, t->data, (size_t)t->nbytes);
    }
    return SO_OK;
}

const char *so_ckpt_meta(const so_ckpt *ck, const char *key) {
    for (int i = 0; i < ck->nmeta; i++) {
        if (!strcmp(ck->keys[i], key)) {
            return ck->vals[i];
        }
    }
    return NULL;
}
