/*
 * The file store: a directory shared by every rank of one host, one file per key.
 * set writes "<dir>/.tmp.<pid>.<n>" and renames it onto the key's file, so a reader sees either
 * nothing or the whole value (no fsync: rendezvous data need not survive a power loss, and rename
 * alone gives atomic visibility). get polls for the file with a backoff from 50 us to 5 ms until
 * the deadline. add holds flock on "<dir>/.lock" around read-modify-write.
 * Key names are escaped into file names: [A-Za-z0-9._-] stay, every other byte becomes %XX.
 * Cost: a few system calls per operation. Limits: one host (or a shared file system with
 * working flock and rename), polling latency up to 5 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

typedef struct file_store {
    so_store base;
    char dir[512];
} file_store;

static atomic_uint tmp_counter;

static int key_path(const file_store *f, const char *key, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "%s/k_", f->dir);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (n + 4 >= cap) {
            return so__fail(SO_EINVAL, "store key '%s' is too long for a file name", key);
        }
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-') {
            out[n++] = (char)*p;
        } else {
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
        }
    }
    out[n] = 0;
    return SO_OK;
}

static int write_atomic(const file_store *f, const char *path, const void *val, size_t len) {
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/.tmp.%d.%u", f->dir, (int)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return so__fail(SO_ESYS, "file store: cannot create %s: %s", tmp, strerror(errno));
    }
    const char *p = val;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return so__fail(SO_EIO, "file store: cannot write %s: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return so__fail(SO_ESYS, "file store: cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return SO_OK;
}

/* Reads the whole file: SO_ENOENT if it does not exist. */
static int read_file(const char *path, void *buf, size_t cap, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return SO_ENOENT;
        }
        return so__fail(SO_ESYS, "file store: cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return so__fail(SO_ESYS, "file store: cannot stat %s", path);
    }
    size_t total = (size_t)st.st_size, want = total < cap ? total : cap, got = 0;
    while (got < want) {
        ssize_t r = read(fd, (char *)buf + got, want - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            close(fd);
            return so__fail(SO_EIO, "file store: short read of %s", path);
        }
        got += (size_t)r;
    }
    close(fd);
    *len = total;
    return SO_OK;
}

static int fs_set(so_store *s, const char *key, const void *val, size_t len) {
    file_store *f = (file_store *)s;
    char path[600];
    SO_TRY(key_path(f, key, path, sizeof path));
    return write_atomic(f, path, val, len);
}

static int fs_get(so_store *s, const char *key, void *buf, size_t cap, size_t *len,
                  int64_t deadline_ns) {
    file_store *f = (file_store *)s;
    char path[600];
    SO_TRY(key_path(f, key, path, sizeof path));
    int64_t sleep_ns = 50000;
    for (;;) {
        int rc = read_file(path, buf, cap, len);
        if (rc != SO_ENOENT) {
            return rc;
        }
        int64_t now = so_now_ns();
        if (now >= deadline_ns) {
            return SO_ETIMEDOUT;
        }
        int64_t d = deadline_ns - now < sleep_ns ? deadline_ns - now : sleep_ns;
        so_sleep_ns(d);
        sleep_ns = sleep_ns * 2 > 5000000 ? 5000000 : sleep_ns * 2;
    }
}

static int fs_add(so_store *s, const char *key, int64_t delta, int64_t *out) {
    file_store *f = (file_store *)s;
    char path[600], lock[600];
    SO_TRY(key_path(f, key, path, sizeof path));
    snprintf(lock, sizeof lock, "%s/.lock", f->dir);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) {
        return so__fail(SO_ESYS, "file store: cannot open %s: %s", lock, strerror(errno));
    }
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(lfd);
            return so__fail(SO_ESYS, "file store: flock %s: %s", lock, strerror(errno));
        }
    }
    char txt[32] = {0};
    size_t n = 0;
    int64_t v = 0;
    int rc = read_file(path, txt, sizeof txt - 1, &n);
    if (rc == SO_OK) {
        txt[n < sizeof txt ? n : sizeof txt - 1] = 0;
        v = strtoll(txt, NULL, 10);
    } else if (rc != SO_ENOENT) {
        goto out;
    }
    v += delta;
    n = (size_t)snprintf(txt, sizeof txt, "%lld", (long long)v);
    rc = write_atomic(f, path, txt, n);
    *out = v;
out:
    flock(lfd, LOCK_UN);
    close(lfd);
    return rc;
}

static int fs_check(so_store *s, const char *key, int *exists) {
    file_store *f = (file_store *)s;
    char path[600];
    SO_TRY(key_path(f, key, path, sizeof path));
    *exists = access(path, F_OK) == 0;
    return SO_OK;
}

static void fs_destroy(so_store *s) {
    free(s);
}

static const so__store_ops file_ops = {fs_set, fs_get, fs_add, fs_check, fs_destroy};

int so_store_create_file(const char *dir, so_store **out) {
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return so__fail(SO_EINVAL, "file store: '%s' is not an existing directory",
                        dir ? dir : "(null)");
    }
    if (strlen(dir) >= sizeof(((file_store *)0)->dir)) {
        return so__fail(SO_EINVAL, "file store: directory name '%s' is too long", dir);
    }
    file_store *f = calloc(1, sizeof *f);
    if (!f) {
        return so__fail(SO_ENOMEM, "file store: out of memory");
    }
    f->base.ops = &file_ops;
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    *out = &f->base;
    return SO_OK;
}
