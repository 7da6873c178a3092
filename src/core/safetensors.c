/*
 * safetensors (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "value"}}, then the tensor bytes; offsets count from the byte after the
 * header.
 *
 * Writing builds the JSON by hand (names escaped), pads it with spaces so the data starts 8-byte
 * aligned, packs tensors in insertion order and writes the file atomically. Reading follows the
 * reference implementation's checks: N <= 100,000,000 and within the file, a JSON object (parsed by
 * jansson, duplicate keys rejected), each tensor with a known dtype, non-negative shape, begin <=
 * end and end - begin == numel * dtype size, and the tensors, sorted by offset, tiling the data
 * section exactly (no gap, no overlap, nothing past the end). Cost: one read, one JSON parse, a
 * sort of the tensors. Limits: dtypes without a so_dtype (I8, BOOL, F8...) are SO_ENOTSUP.
 */
#include <string.h>

#include "ckpt_internal.h"

#if defined(SO_HAVE_JANSSON)
#include <jansson.h>
#endif

static const struct {
    const char *name;
    int dtype; /* -1: a safetensors dtype with no so_dtype */
} st_dtypes[] = {
    {"F32", SO_F32}, {"F64", SO_F64}, {"I32", SO_I32}, {"I64", SO_I64}, {"BF16", SO_BF16},
    {"F16", SO_F16}, {"U8", SO_U8},   {"I8", -1},      {"I16", -1},     {"U16", -1},
    {"U32", -1},     {"U64", -1},     {"BOOL", -1},    {"F8_E4M3", -1}, {"F8_E5M2", -1},
};

static const char *st_name(so_dtype dt) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (st_dtypes[i].dtype == (int)dt) {
            return st_dtypes[i].name;
        }
    }
    return NULL;
}

/* ---- writing ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sput(sbuf *b, const char *s, size_t n) {
    if (b->oom) {
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sputs(sbuf *b, const char *s) {
    sput(b, s, strlen(s));
}

static void sprintf_(sbuf *b, const char *fmt, unsigned long long v) {
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, fmt, v);
    sput(b, tmp, (size_t)k);
}

/* A JSON string literal: quotes, backslashes and control bytes escaped; other bytes as is. */
static void sput_json_str(sbuf *b, const char *s) {
    sputs(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sput(b, e, 2);
        } else if (*p < 0x20) {
            sprintf_(b, "\\u%04llx", *p);
        } else {
            sput(b, (const char *)p, 1);
        }
    }
    sputs(b, "\"");
}

int so_ckpt_writer_save_safetensors(so_ckpt_writer *w, const char *path, uint64_t step) {
    sbuf h = {0};
    sputs(&h, "{\"__metadata__\":{");
    sputs(&h, "\"step\":");
    char stepbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "%llu", (unsigned long long)step);
    sput_json_str(&h, stepbuf);
    for (int i = 0; i < w->nmeta; i++) {
        if (!strcmp(w->keys[i], "step")) {
            continue;
        }
        sputs(&h, ",");
        sput_json_str(&h, w->keys[i]);
        sputs(&h, ":");
        sput_json_str(&h, w->vals[i]);
    }
    sputs(&h, "}");
    uint64_t at = 0;
    for (int i = 0; i < w->n; i++) {
        const so__ckpt_entry *e = &w->e[i];
        const char *dn = st_name(e->dtype);
        if (!dn) {
            free(h.p);
            return so__fail(SO_ENOTSUP, "dtype %s has no safetensors name",
                            so_dtype_name(e->dtype));
        }
        sputs(&h, ",");
        sput_json_str(&h, e->name);
        sputs(&h, ":{\"dtype\":\"");
        sputs(&h, dn);
        sputs(&h, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            sprintf_(&h, d ? ",%llu" : "%llu", (unsigned long long)e->shape[d]);
        }
        sprintf_(&h, "],\"data_offsets\":[%llu,", (unsigned long long)at);
        at += e->nbytes;
        sprintf_(&h, "%llu]}", (unsigned long long)at);
    }
    sputs(&h, "}");
    while (!h.oom && (8 + h.n) % 8) {
        sputs(&h, " ");
    }
    if (h.oom) {
        free(h.p);
        return so__fail(SO_ENOMEM, "no memory for a safetensors header");
    }
    uint64_t hlen = h.n;
    so__chunk *ch = calloc(2 + (size_t)w->n, sizeof *ch);
    if (!ch) {
        free(h.p);
        return so__fail(SO_ENOMEM, "no memory for a safetensors layout");
    }
    int nc = 0;
    ch[nc++] = (so__chunk){&hlen, 8};
    ch[nc++] = (so__chunk){h.p, h.n};
    for (int i = 0; i < w->n; i++) {
        ch[nc++] = (so__chunk){w->e[i].data, (size_t)w->e[i].nbytes};
    }
    int rc = so__write_atomic(path, ch, nc, 0);
    free(ch);
    free(h.p);
    return rc;
}

/* ---- reading ---- */

#if defined(SO_HAVE_JANSSON)

typedef struct pending {
    const char *name;
    so_dtype dt;
    int ndim;
    int64_t shape[SO_CKPT_MAX_DIMS];
    uint64_t begin, end;
} pending;

static int cmp_pending(const void *a, const void *b) {
    const pending *x = a, *y = b;
    if (x->begin != y->begin) {
        return x->begin < y->begin ? -1 : 1;
    }
    return (x->end > y->end) - (x->end < y->end);
}

/* Reads one tensor entry into p; the error names the tensor. */
static int parse_entry(const char *name, json_t *v, uint64_t data_len, pending *p) {
    if (!json_is_object(v)) {
        return so__fail(SO_EPROTO, "safetensors: entry '%s' is not an object", name);
    }
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
        json_array_size(offs) != 2) {
        return so__fail(SO_EPROTO,
                        "safetensors: tensor '%s' needs a dtype string, a shape array "
                        "and two data_offsets",
                        name);
    }
    int found = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (!strcmp(json_string_value(dt), st_dtypes[i].name)) {
            if (st_dtypes[i].dtype < 0) {
                return so__fail(SO_ENOTSUP,
                                "safetensors: tensor '%s' has dtype %s, which "
                                "scaleout does not support",
                                name, st_dtypes[i].name);
            }
            p->dt = (so_dtype)st_dtypes[i].dtype;
            found = 1;
        }
    }
    if (!found) {
        return so__fail(SO_EPROTO, "safetensors: tensor '%s' has unknown dtype '%s'", name,
                        json_string_value(dt));
    }
    size_t nd = json_array_size(shape);
    if (nd > SO_CKPT_MAX_DIMS) {
        return so__fail(SO_ENOTSUP, "safetensors: tensor '%s' has %zu dimensions (at most %d)",
                        name, nd, SO_CKPT_MAX_DIMS);
    }
    p->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) {
            return so__fail(SO_EPROTO, "safetensors: tensor '%s' has a bad shape entry", name);
        }
        p->shape[i] = (int64_t)json_integer_value(d);
    }
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b)) {
        return so__fail(SO_EPROTO, "safetensors: tensor '%s' has bad data_offsets", name);
    }
    p->begin = (uint64_t)json_integer_value(b);
    p->end = (uint64_t)json_integer_value(e);
    if (p->end > data_len) {
        return so__fail(SO_EPROTO,
                        "safetensors: tensor '%s' ends at %llu, past the %llu data "
                        "bytes (truncated file?)",
                        name, (unsigned long long)p->end, (unsigned long long)data_len);
    }
    uint64_t want;
    if (so__shape_bytes(p->dt, p->ndim, p->shape, &want) < 0 || want != p->end - p->begin) {
        return so__fail(SO_EPROTO,
                        "safetensors: tensor '%s' has %llu bytes of data but its shape "
                        "and dtype need %llu",
                        name, (unsigned long long)(p->end - p->begin), (unsigned long long)want);
    }
    p->name = name;
    return SO_OK;
}

static int parse_owned(unsigned char *buf, size_t len, const char *what, so_ckpt **out) {
    *out = NULL;
    so_ckpt *ck = so__ckpt_new(buf, len);
    if (!ck) {
        free(buf);
        return so__fail(SO_ENOMEM, "no memory for a safetensors file");
    }
    json_t *root = NULL;
    pending *ps = NULL;
    int rc = SO_OK;
    uint64_t hlen = 0;
    if (len < 8) {
        rc = so__fail(SO_EPROTO, "%s is truncated: %zu bytes, less than the 8-byte header length",
                      what, len);
        goto done;
    }
    memcpy(&hlen, buf, 8);
    if (hlen > SO_SAFETENSORS_MAX_HEADER) {
        rc = so__fail(SO_EPROTO, "%s: safetensors header of %llu bytes exceeds the %llu-byte limit",
                      what, (unsigned long long)hlen, SO_SAFETENSORS_MAX_HEADER);
        goto done;
    }
    if (hlen > len - 8) {
        rc = so__fail(SO_EPROTO, "%s is truncated: header of %llu bytes but only %zu bytes follow",
                      what, (unsigned long long)hlen, len - 8);
        goto done;
    }
    json_error_t err;
    root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        rc = so__fail(SO_EPROTO, "%s: safetensors header is not a JSON object (%s)", what,
                      root ? "other JSON value" : err.text);
        goto done;
    }
    const uint64_t data_len = len - 8 - hlen;
    const unsigned char *data = buf + 8 + hlen;
    size_t np = 0;
    ps = calloc(json_object_size(root) + 1, sizeof *ps);
    if (!ps) {
        rc = so__fail(SO_ENOMEM, "no memory for safetensors entries");
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                rc = so__fail(SO_EPROTO, "%s: __metadata__ is not an object", what);
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = so__fail(SO_EPROTO, "%s: __metadata__ value of '%s' is not a string", what,
                                  mk);
                    goto done;
                }
                SO_TRY_GOTO(so__ckpt_push_meta(ck, mk, strlen(mk), json_string_value(mv),
                                               json_string_length(mv)),
                            rc, done);
            }
            continue;
        }
        SO_TRY_GOTO(parse_entry(key, val, data_len, &ps[np]), rc, done);
        np++;
    }
    qsort(ps, np, sizeof *ps, cmp_pending);
    uint64_t at = 0;
    for (size_t i = 0; i < np; i++) {
        if (ps[i].begin != at) {
            rc = so__fail(SO_EPROTO,
                          "%s: tensor '%s' starts at %llu but the previous tensor ends "
                          "at %llu (%s)",
                          what, ps[i].name, (unsigned long long)ps[i].begin, (unsigned long long)at,
                          ps[i].begin < at ? "overlap" : "gap");
            goto done;
        }
        at = ps[i].end;
    }
    if (at != data_len) {
        rc = so__fail(SO_EPROTO, "%s: the tensors cover %llu bytes but the data section has %llu",
                      what, (unsigned long long)at, (unsigned long long)data_len);
        goto done;
    }
    for (size_t i = 0; i < np; i++) {
        SO_TRY_GOTO(so__ckpt_push(ck, ps[i].name, strlen(ps[i].name), ps[i].dt, ps[i].ndim,
                                  ps[i].shape, ps[i].end - ps[i].begin, data + ps[i].begin),
                    rc, done);
    }
    const char *step = so_ckpt_meta(ck, "step");
    ck->step = step ? strtoull(step, NULL, 10) : 0;
done:
    free(ps);
    json_decref(root);
    if (rc < 0) {
        so_ckpt_close(ck);
        return rc;
    }
    *out = ck;
    return SO_OK;
}

#else

static int parse_owned(unsigned char *buf, size_t len, const char *what, so_ckpt **out) {
    (void)len;
    free(buf);
    *out = NULL;
    return so__fail(SO_ENOTSUP,
                    "%s: reading safetensors needs jansson (libjansson-dev), which "
                    "this build did not find",
                    what);
}

#endif

int so_safetensors_parse(const void *buf, size_t len, so_ckpt **out) {
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        return so__fail(SO_ENOMEM, "no memory for a safetensors copy");
    }
    if (len) {
        memcpy(copy, buf, len);
    }
    return parse_owned(copy, len, "safetensors buffer", out);
}

int so_safetensors_open(const char *path, so_ckpt **out) {
    unsigned char *buf;
    size_t len;
    *out = NULL;
    SO_TRY(so__read_file(path, &buf, &len));
    return parse_owned(buf, len, path, out);
}
