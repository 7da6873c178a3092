/*
 * Chrome-trace JSON writer (trace.h). Events are formatted into one growing text buffer as they
 * come (names JSON-escaped, times in microseconds as the format wants), and written in one go to
 * a temporary file that is fsynced and renamed into place.
 * Cost: about 100 bytes of memory per event. Limits: complete and metadata events only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scaleout/core.h"
#include "trace.h"

struct so_trace {
    char *buf;
    size_t len, cap;
    int n;
};

int so_trace_create(so_trace **out) {
    *out = calloc(1, sizeof **out);
    return *out ? SO_OK : so__fail(SO_ENOMEM, "trace: no memory");
}

void so_trace_destroy(so_trace *t) {
    if (t) {
        free(t->buf);
        free(t);
    }
}

static int tr_printf(so_trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tr_printf(so_trace *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return so__fail(SO_EINVAL, "trace: cannot format an event");
        }
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return SO_OK;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1) {
            cap *= 2;
        }
        char *b = realloc(t->buf, cap);
        if (!b) {
            return so__fail(SO_ENOMEM, "trace: no memory for %zu bytes", cap);
        }
        t->buf = b;
        t->cap = cap;
    }
}

/* name as a JSON string body: quotes, backslashes and control characters escaped. */
static int tr_name(so_trace *t, const char *name) {
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        int rc = (*p == '"' || *p == '\\') ? tr_printf(t, "\\%c", *p)
                 : *p < 0x20               ? tr_printf(t, "\\u%04x", *p)
                                           : tr_printf(t, "%c", *p);
        if (rc < 0) {
            return rc;
        }
    }
    return SO_OK;
}

static int tr_begin(so_trace *t) {
    return tr_printf(t, "%s\n  {\"name\": \"", t->n++ ? "," : "");
}

int so_trace_complete(so_trace *t, const char *name, int pid, int tid, double start_s,
                      double dur_s) {
    SO_TRY(tr_begin(t));
    SO_TRY(tr_name(t, name));
    return tr_printf(t, "\", \"ph\": \"X\", \"pid\": %d, \"tid\": %d, \"ts\": %.3f, \"dur\": %.3f}",
                     pid, tid, start_s * 1e6, dur_s > 0 ? dur_s * 1e6 : 0.0);
}

int so_trace_name_process(so_trace *t, int pid, const char *name) {
    SO_TRY(tr_begin(t));
    SO_TRY(
        tr_printf(t, "process_name\", \"ph\": \"M\", \"pid\": %d, \"args\": {\"name\": \"", pid));
    SO_TRY(tr_name(t, name));
    SO_TRY(tr_printf(t, "\"}}"));
    /* Keep processes in the order they were named. */
    SO_TRY(tr_begin(t));
    return tr_printf(t,
                     "process_sort_index\", \"ph\": \"M\", \"pid\": %d, \"args\": "
                     "{\"sort_index\": %d}}",
                     pid, pid);
}

int so_trace_name_thread(so_trace *t, int pid, int tid, const char *name) {
    SO_TRY(tr_begin(t));
    SO_TRY(tr_printf(t,
                     "thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": %d, \"args\": "
                     "{\"name\": \"",
                     pid, tid));
    SO_TRY(tr_name(t, name));
    SO_TRY(tr_printf(t, "\"}}"));
    SO_TRY(tr_begin(t));
    return tr_printf(t,
                     "thread_sort_index\", \"ph\": \"M\", \"pid\": %d, \"tid\": %d, \"args\": "
                     "{\"sort_index\": %d}}",
                     pid, tid, tid);
}

int so_trace_write(const so_trace *t, const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return so__fail(SO_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [");
    if (t->len) {
        fwrite(t->buf, 1, t->len, f);
    }
    fprintf(f, "\n]}\n");
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return so__fail(SO_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return SO_OK;
}
