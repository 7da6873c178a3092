/*
 * The scikit-learn toy datasets, read from the CSV files python3-sklearn installs
 * (sklearn/datasets/data), exactly as sklearn's loaders read them:
 *   breast_cancer.csv, iris.csv, wine_data.csv: a header "n,d,class names..." then n rows of d
 *     features and an integer class;
 *   digits.csv.gz: no header, 1797 rows of 64 pixel values (0..16) and the digit;
 *   diabetes_data_raw.csv.gz (442 rows of 10 space-separated raw features) and
 *     diabetes_target.csv.gz (442 targets): sklearn's load_diabetes(scaled=False).
 * Files are read line by line through zlib's gzgets, which also reads uncompressed files. Every
 * row must have the same number of numeric fields; a header's n and d are checked against the
 * rows. Cost: one pass over the file, O(n*d) floats. Limits: lines up to 64 KiB.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "scaleout/data.h"

#if defined(SO_HAVE_ZLIB)
#include <zlib.h>
#endif

enum { LINE_MAX_BYTES = 1 << 16 };

/* A growable array of doubles. */
typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

static int dvec_push(dvec *a, double x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4096;
        double *v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            return so__fail(SO_ENOMEM, "no memory while reading a dataset");
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return SO_OK;
}

/* Reads every numeric row of path into vals (row-major); *cols receives the field count. If
 * header, the first line is returned in hdr (cap bytes) instead of being parsed. */
static int read_table(const char *path, int header, char *hdr, size_t cap, dvec *vals, size_t *rows,
                      size_t *cols) {
    *rows = 0;
    *cols = 0;
#if defined(SO_HAVE_ZLIB)
    gzFile f = gzopen(path, "rb");
    if (!f) {
        return so__fail(errno == ENOENT ? SO_ENOENT : SO_EIO,
                        "cannot open %s: %s (install python3-sklearn: scripts/install-deps.sh, or "
                        "point SO_SKLEARN_DATA_DIR at a copy of sklearn/datasets/data)",
                        path, strerror(errno));
    }
    char *line = malloc(LINE_MAX_BYTES);
    if (!line) {
        gzclose(f);
        return so__fail(SO_ENOMEM, "no memory for a line buffer");
    }
    int rc = SO_OK;
    size_t lineno = 0;
    while (rc == SO_OK && gzgets(f, line, LINE_MAX_BYTES)) {
        lineno++;
        size_t len = strlen(line);
        if (len == LINE_MAX_BYTES - 1 && line[len - 1] != '\n') {
            rc = so__fail(SO_EPROTO, "%s:%zu: line longer than %d bytes", path, lineno,
                          LINE_MAX_BYTES);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) {
            line[--len] = 0;
        }
        if (len == 0) {
            continue;
        }
        if (header && lineno == 1) {
            snprintf(hdr, cap, "%s", line);
            continue;
        }
        size_t fields = 0;
        char *p = line;
        while (*p) {
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            char *end;
            errno = 0;
            double x = strtod(p, &end);
            if (end == p || errno == ERANGE || !isfinite(x)) {
                rc = so__fail(SO_EPROTO, "%s:%zu: field %zu is not a number: '%.20s'", path, lineno,
                              fields + 1, p);
                break;
            }
            if ((rc = dvec_push(vals, x)) < 0) {
                break;
            }
            fields++;
            p = end;
            const char *before = p;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p == ',') {
                p++;
            } else if (*p && p == before) { /* fields are separated by commas or blanks */
                rc = so__fail(SO_EPROTO, "%s:%zu: unexpected '%c' after field %zu", path, lineno,
                              *p, fields);
                break;
            }
        }
        if (rc == SO_OK && *rows > 0 && fields != *cols) {
            rc = so__fail(SO_EPROTO, "%s:%zu: %zu fields, but earlier rows have %zu", path, lineno,
                          fields, *cols);
        }
        *cols = fields;
        (*rows)++;
    }
    int errnum = 0;
    const char *zerr = gzerror(f, &errnum);
    /* A damaged stream explains a malformed last row better than the row does. */
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
        /* zlib's message already starts with the path. */
        rc = so__fail(SO_ECORRUPT, "%s (zlib; truncated or corrupt gzip file?)", zerr);
    }
    free(line);
    gzclose(f);
    return rc;
#else
    (void)header;
    (void)hdr;
    (void)cap;
    (void)vals;
    return so__fail(SO_ENOTSUP, "cannot read %s: scaleout was built without zlib (zlib1g-dev)",
                    path);
#endif
}

typedef struct spec {
    const char *name;
    const char *file;
    const char *target_file; /* diabetes only */
    int header;
    size_t n, d;
    int classes; /* 0: regression */
} spec;

static const spec specs[] = {
    {"digits", "digits.csv.gz", NULL, 0, 1797, 64, 10},
    {"breast-cancer", "breast_cancer.csv", NULL, 1, 569, 30, 2},
    {"iris", "iris.csv", NULL, 1, 150, 4, 3},
    {"wine", "wine_data.csv", NULL, 1, 178, 13, 3},
    {"diabetes", "diabetes_data_raw.csv.gz", "diabetes_target.csv.gz", 0, 442, 10, 0},
};

const char *so_dataset_names(void) {
    return "digits, breast-cancer, iris, wine, diabetes";
}

void so_dataset_deinit(so_dataset *ds) {
    if (!ds) {
        return;
    }
    so_free_aligned(ds->X);
    free(ds->labels);
    free(ds->targets);
    memset(ds, 0, sizeof *ds);
}

static int alloc_ds(so_dataset *ds, const char *name, size_t n, size_t d, int classes) {
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->n = n;
    ds->d = d;
    ds->n_classes = classes;
    ds->X = so_malloc_aligned((n * d + 1) * sizeof(float));
    if (classes) {
        ds->labels = malloc((n ? n : 1) * sizeof(int32_t));
    } else {
        ds->targets = malloc((n ? n : 1) * sizeof(float));
    }
    if (!ds->X || (classes ? !ds->labels : !ds->targets)) {
        so_dataset_deinit(ds);
        return so__fail(SO_ENOMEM, "no memory for dataset %s (%zu x %zu)", name, n, d);
    }
    return SO_OK;
}

int so_dataset_load_dir(const char *name, const char *dir, so_dataset *out) {
    memset(out, 0, sizeof *out);
    const spec *s = NULL;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        if (name && !strcmp(name, specs[i].name)) {
            s = &specs[i];
        }
    }
    if (!s && name && !strcmp(name, "breast_cancer")) {
        s = &specs[1];
    }
    if (!s) {
        return so__fail(SO_EINVAL, "unknown dataset '%s' (expected one of: %s)", name ? name : "",
                        so_dataset_names());
    }
    char path[4096], hdr[512] = "";
    snprintf(path, sizeof path, "%s/%s", dir, s->file);
    dvec vals = {0};
    size_t rows, cols;
    int rc = read_table(path, s->header, hdr, sizeof hdr, &vals, &rows, &cols);
    if (rc < 0) {
        free(vals.v);
        return rc;
    }
    const size_t want_cols = s->d + (s->classes ? 1 : 0);
    if (cols != want_cols || rows != s->n) {
        free(vals.v);
        return so__fail(SO_EPROTO, "%s has %zu rows of %zu fields; expected %zu rows of %zu", path,
                        rows, cols, s->n, want_cols);
    }
    if (s->header) {
        unsigned long hn = 0, hd = 0;
        if (sscanf(hdr, "%lu,%lu", &hn, &hd) != 2 || hn != rows || hd != s->d) {
            free(vals.v);
            return so__fail(SO_EPROTO, "%s: header '%.40s' does not match %zu rows of %zu features",
                            path, hdr, rows, s->d);
        }
    }
    rc = alloc_ds(out, s->name, rows, s->d, s->classes);
    if (rc < 0) {
        free(vals.v);
        return rc;
    }
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < s->d; j++) {
            out->X[i * s->d + j] = (float)vals.v[i * cols + j];
        }
        if (s->classes) {
            double y = vals.v[i * cols + s->d];
            if (y != floor(y) || y < 0 || y >= s->classes) {
                free(vals.v);
                so_dataset_deinit(out);
                return so__fail(SO_EPROTO, "%s: row %zu has class %g, not in [0, %d)", path, i + 1,
                                y, s->classes);
            }
            out->labels[i] = (int32_t)y;
        }
    }
    free(vals.v);
    if (s->target_file) {
        snprintf(path, sizeof path, "%s/%s", dir, s->target_file);
        dvec t = {0};
        rc = read_table(path, 0, NULL, 0, &t, &rows, &cols);
        if (rc == SO_OK && (rows != s->n || cols != 1)) {
            rc = so__fail(SO_EPROTO, "%s has %zu rows of %zu fields; expected %zu rows of 1", path,
                          rows, cols, s->n);
        }
        for (size_t i = 0; rc == SO_OK && i < rows; i++) {
            out->targets[i] = (float)t.v[i];
        }
        free(t.v);
        if (rc < 0) {
            so_dataset_deinit(out);
            return rc;
        }
    }
    return SO_OK;
}

int so_dataset_load(const char *name, so_dataset *out) {
    return so_dataset_load_dir(name, so_param_str("SO_SKLEARN_DATA_DIR"), out);
}

int so_dataset_subset(const so_dataset *src, const size_t *idx, size_t k, so_dataset *out) {
    SO_TRY(alloc_ds(out, src->name, k, src->d, src->n_classes));
    for (size_t i = 0; i < k; i++) {
        if (idx[i] >= src->n) {
            so_dataset_deinit(out);
            return so__fail(SO_ERANGE, "row %zu is outside dataset %s of %zu rows", idx[i],
                            src->name, src->n);
        }
    }
    so_dataset_gather(src, idx, k, out->X, out->labels, out->targets);
    return SO_OK;
}

void so_dataset_gather(const so_dataset *ds, const size_t *idx, size_t k, float *X, int32_t *labels,
                       float *targets) {
    for (size_t i = 0; i < k; i++) {
        const size_t r = idx[i];
        if (X) {
            memcpy(X + i * ds->d, ds->X + r * ds->d, ds->d * sizeof(float));
        }
        if (labels && ds->labels) {
            labels[i] = ds->labels[r];
        }
        if (targets && ds->targets) {
            targets[i] = ds->targets[r];
        }
    }
}

int so_dataset_split(const so_dataset *all, double test_frac, uint64_t seed, so_dataset *train,
                     so_dataset *test) {
    if (!(test_frac > 0 && test_frac < 1)) {
        return so__fail(SO_EINVAL, "test fraction %g is not in (0, 1)", test_frac);
    }
    size_t *perm = malloc((all->n ? all->n : 1) * sizeof *perm);
    if (!perm) {
        return so__fail(SO_ENOMEM, "no memory to split %s", all->name);
    }
    so_permutation(all->n, seed, perm);
    size_t nt = (size_t)llround((double)all->n * test_frac);
    int rc = so_dataset_subset(all, perm, nt, test);
    if (rc == SO_OK) {
        rc = so_dataset_subset(all, perm + nt, all->n - nt, train);
        if (rc < 0) {
            so_dataset_deinit(test);
        }
    }
    free(perm);
    return rc;
}

int so_scaler_fit(so_scaler *s, const so_dataset *ds) {
    s->d = ds->d;
    s->mean = malloc((ds->d ? ds->d : 1) * sizeof(float));
    s->scale = malloc((ds->d ? ds->d : 1) * sizeof(float));
    if (!s->mean || !s->scale) {
        so_scaler_deinit(s);
        return so__fail(SO_ENOMEM, "no memory for a scaler of %zu features", ds->d);
    }
    for (size_t j = 0; j < ds->d; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < ds->n; i++) {
            m += ds->X[i * ds->d + j];
        }
        m /= (double)(ds->n ? ds->n : 1);
        for (size_t i = 0; i < ds->n; i++) {
            double e = ds->X[i * ds->d + j] - m;
            v += e * e;
        }
        v /= (double)(ds->n ? ds->n : 1);
        s->mean[j] = (float)m;
        s->scale[j] = v > 1e-24 ? (float)sqrt(v) : 1.0f;
    }
    return SO_OK;
}

void so_scaler_apply(const so_scaler *s, so_dataset *ds) {
    SO_ASSERT(s->d == ds->d);
    for (size_t i = 0; i < ds->n; i++) {
        for (size_t j = 0; j < ds->d; j++) {
            float *x = &ds->X[i * ds->d + j];
            *x = (*x - s->mean[j]) / s->scale[j];
        }
    }
}

void so_scaler_deinit(so_scaler *s) {
    free(s->mean);
    free(s->scale);
    s->mean = s->scale = NULL;
    s->d = 0;
}
