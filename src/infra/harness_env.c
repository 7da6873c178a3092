/*
 * Environment capture (book 5.7 and MLPerf's system description): what a measurement needs next
 * to it to be reproduced or compared: when, where (host, cpu model, online cores, kernel), how
 * it was built (compiler, build type, git commit) and how busy the machine was (load averages),
 * plus the SO_* knobs set in the environment.
 *
 * Reads /proc/cpuinfo, /proc/loadavg, uname(2) and the source tree's .git (HEAD, then the ref
 * file or packed-refs) without running any program. Cost: a few small file reads. Limits:
 * Linux; the git commit is the source tree's at capture time (the build's if unchanged).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "scaleout/core.h"
#include "scaleout/harness.h"

extern char **environ;

/* First line of a file (without the newline) into buf; "" if unreadable. */
static void env_read_line(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    if (fgets(buf, (int)cap, f)) {
        buf[strcspn(buf, "\n")] = '\0';
    }
    fclose(f);
}

static void env_cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p += p[1] == ' ' ? 2 : 1;
                p[strcspn(p, "\n")] = '\0';
                snprintf(buf, cap, "%s", p);
            }
            break;
        }
    }
    if (f) {
        fclose(f);
    }
}

static void env_git_sha(char *buf, size_t cap) {
    char head[256], path[1024], line[512];
    snprintf(buf, cap, "unknown");
    snprintf(path, sizeof path, "%s/.git/HEAD", SO_SOURCE_DIR);
    env_read_line(path, head, sizeof head);
    if (strncmp(head, "ref: ", 5) != 0) {
        if (head[0]) {
            snprintf(buf, cap, "%.40s", head);
        }
        return;
    }
    snprintf(path, sizeof path, "%s/.git/%s", SO_SOURCE_DIR, head + 5);
    env_read_line(path, line, sizeof line);
    if (line[0]) {
        snprintf(buf, cap, "%.40s", line);
        return;
    }
    snprintf(path, sizeof path, "%s/.git/packed-refs", SO_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (sp && !strcmp(sp + 1, head + 5)) {
            snprintf(buf, cap, "%.40s", line);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
}

typedef struct env_buf {
    char *p;
    size_t cap, len;
} env_buf;

static void env_put(env_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void env_put(env_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + (b->len < b->cap ? b->len : b->cap - 1),
                      b->len < b->cap ? b->cap - b->len : 1, fmt, ap);
    va_end(ap);
    b->len += n > 0 ? (size_t)n : 0;
}

/* "key": "value" with JSON escaping. */
static void env_str(env_buf *b, const char *key, const char *v, int comma) {
    env_put(b, "%s\"%s\": \"", comma ? ", " : "", key);
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (*s == '"' || *s == '\\') {
            env_put(b, "\\%c", *s);
        } else if (*s < 0x20) {
            env_put(b, "\\u%04x", *s);
        } else {
            env_put(b, "%c", *s);
        }
    }
    env_put(b, "\"");
}

int so_env_capture_json(char *buf, size_t cap) {
    if (!buf || cap < 2) {
        return so__fail(SO_EINVAL, "environment capture needs a buffer");
    }
    env_buf b = {buf, cap, 0};
    char cpu[256], sha[64], load[128], host[256] = "", when[64];
    struct utsname u;
    memset(&u, 0, sizeof u);
    uname(&u);
    env_cpu_model(cpu, sizeof cpu);
    env_git_sha(sha, sizeof sha);
    env_read_line("/proc/loadavg", load, sizeof load);
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    double l1 = 0, l5 = 0, l15 = 0;
    sscanf(load, "%lf %lf %lf", &l1, &l5, &l15);
    env_put(&b, "{");
    env_str(&b, "time_utc", when, 0);
    env_str(&b, "host", host, 1);
    env_str(&b, "cpu", cpu, 1);
    env_put(&b, ", \"cores_online\": %ld", sysconf(_SC_NPROCESSORS_ONLN));
    env_str(&b, "kernel", u.release, 1);
    env_str(&b, "machine", u.machine, 1);
#ifdef __VERSION__
    env_str(&b, "compiler", __VERSION__, 1);
#endif
    env_str(&b, "scaleout_version", SO_VERSION, 1);
    env_str(&b, "build_type", SO_BUILD_TYPE, 1);
    env_str(&b, "git_sha", sha, 1);
    env_put(&b, ", \"load_avg\": [%.2f, %.2f, %.2f]", l1, l5, l15);
    env_put(&b, ", \"so_env\": {");
    int first = 1;
    for (char **e = environ; e && *e; e++) {
        if (!strncmp(*e, "SO_", 3)) {
            char key[128];
            const char *eq = strchr(*e, '=');
            if (!eq || (size_t)(eq - *e) >= sizeof key) {
                continue;
            }
            memcpy(key, *e, (size_t)(eq - *e));
            key[eq - *e] = '\0';
            env_str(&b, key, eq + 1, !first);
            first = 0;
        }
    }
    env_put(&b, "}}");
    return (int)(b.len < cap ? b.len : cap - 1);
}

int so_env_write_json(const char *path) {
    char buf[8192], tmp[4096];
    int n = so_env_capture_json(buf, sizeof buf);
    if (n < 0) {
        return n;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return so__fail(SO_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    buf[n] = '\n';
    ssize_t w = write(fd, buf, (size_t)n + 1);
    int ok = w == n + 1 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return so__fail(SO_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return SO_OK;
}
