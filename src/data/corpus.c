/*
 * Text corpora: the fortune files of the Debian fortunes package concatenated into one byte
 * string, whole files, and the train/validation boundary.
 *
 * The fortune directory holds, per collection, the text (fortunes separated by "%" lines), its
 * strfile index (.dat) and a .u8 symlink to the text; only regular files without those suffixes
 * are read, sorted by name with strcmp, so every machine with the same package builds the same
 * corpus. Cost: one read of each file (about 2.6 MB). Limits: subdirectories (off/) are skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "scaleout/data.h"

void so_bytes_deinit(so_bytes *b) {
    if (b) {
        free(b->data);
        b->data = NULL;
        b->n = 0;
    }
}

/* Appends the file at path to out. */
static int append_file(const char *path, so_bytes *out) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return so__fail(errno == ENOENT ? SO_ENOENT : SO_EIO, "cannot open %s: %s", path,
                        strerror(errno));
    }
    int rc = SO_OK;
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = so__fail(SO_EIO, "cannot seek in %s", path);
    }
    long len = rc == SO_OK ? ftell(f) : -1;
    if (rc == SO_OK && len < 0) {
        rc = so__fail(SO_EIO, "cannot size %s", path);
    }
    if (rc == SO_OK) {
        rewind(f);
        uint8_t *p = realloc(out->data, out->n + (size_t)len + 1);
        if (!p) {
            rc = so__fail(SO_ENOMEM, "no memory to read %s", path);
        } else {
            out->data = p;
            if (fread(p + out->n, 1, (size_t)len, f) != (size_t)len) {
                rc = so__fail(SO_EIO, "short read of %s", path);
            } else {
                out->n += (size_t)len;
            }
        }
    }
    fclose(f);
    return rc;
}

int so_bytes_load_file(const char *path, so_bytes *out) {
    out->data = NULL;
    out->n = 0;
    int rc = append_file(path, out);
    if (rc < 0) {
        so_bytes_deinit(out);
    }
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

int so_corpus_load_fortunes(const char *dir, so_bytes *out) {
    out->data = NULL;
    out->n = 0;
    if (!dir) {
        dir = so_param_str("SO_FORTUNES_DIR");
    }
    DIR *d = opendir(dir);
    if (!d) {
        return so__fail(SO_ENOENT,
                        "cannot open the fortunes directory %s: %s (install the Debian "
                        "package 'fortunes': scripts/install-deps.sh, or set SO_FORTUNES_DIR)",
                        dir, strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SO_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || has_suffix(e->d_name, ".dat") || has_suffix(e->d_name, ".u8")) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = so__fail(SO_ENOMEM, "no memory for file names");
                break;
            }
            names = nn;
        }
        names[n] = strdup(path);
        if (!names[n]) {
            rc = so__fail(SO_ENOMEM, "no memory for file names");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == SO_OK && n == 0) {
        rc = so__fail(SO_ENOENT, "no fortune files in %s (install the Debian package 'fortunes')",
                      dir);
    }
    if (rc == SO_OK) {
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n && rc == SO_OK; i++) {
            rc = append_file(names[i], out);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    if (rc < 0) {
        so_bytes_deinit(out);
    }
    return rc;
}

size_t so_split_point(size_t n, double val_frac) {
    if (!(val_frac > 0)) {
        return n;
    }
    if (val_frac >= 1) {
        return 0;
    }
    return n - (size_t)llround((double)n * val_frac);
}
