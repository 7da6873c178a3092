/*
 * Worker output forwarding: each worker's stdout and stderr arrive on their own pipe; the
 * launcher reads whatever is available and writes complete lines to its own stdout or stderr,
 * each labelled "[rank R] " (or not, with SO_LAUNCH_TAG_NONE; nor when the worker already began
 * the line with its own label, as the library's log does). A line is written with one
 * write() so lines of different ranks never mix. A line longer than the 64 KiB buffer is
 * forwarded in pieces (the label only on the first). At end of file a last line without a
 * newline is forwarded with one. For stderr the last SO_LAUNCH_TAIL_LINES lines (cut at 159
 * characters) are kept in a ring for the failure report. With a log file the same bytes, without
 * labels, are also written there.
 * Cost: one read per wakeup and one copy plus one write per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "launch_internal.h"

int so__stream_init(so__stream *s, int fd, int out_fd, int rank, int tag, int keep_tail) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->log_fd = -1;
    s->buf = malloc(SO__STREAM_CAP);
    if (!s->buf) {
        return so__fail(SO_ENOMEM, "cannot allocate the output buffer of rank %d", rank);
    }
    s->fd = fd;
    s->out_fd = out_fd;
    s->rank = rank;
    s->tag = tag;
    s->keep_tail = keep_tail;
    return SO_OK;
}

int so__stream_log_to(so__stream *s, const char *path) {
    s->log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->log_fd < 0) {
        return so__fail(SO_ESYS, "cannot create the log file %s: %s", path, strerror(errno));
    }
    return SO_OK;
}

void so__stream_deinit(so__stream *s) {
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->log_fd >= 0) {
        close(s->log_fd);
        s->log_fd = -1;
    }
    free(s->buf);
    s->buf = NULL;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* a closed terminal or pipe: the output is lost, the job goes on */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void remember(so__stream *s, const char *p, size_t n) {
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) {
        n--;
    }
    if (n >= SO__TAIL_COLS) {
        n = SO__TAIL_COLS - 1;
    }
    memcpy(s->tail[s->tail_next], p, n);
    s->tail[s->tail_next][n] = '\0';
    s->tail_next = (s->tail_next + 1) % SO_LAUNCH_TAIL_LINES;
    if (s->tail_n < SO_LAUNCH_TAIL_LINES) {
        s->tail_n++;
    }
}

/* Writes n bytes that either end a line (end = 1, a newline is added if missing) or not. */
static void emit(so__stream *s, const char *p, size_t n, int end) {
    char label[32];
    size_t lab = 0;
    if (!s->mid_line) {
        if (s->tag == SO_LAUNCH_TAG_ALL) {
            lab = (size_t)snprintf(label, sizeof label, "[rank %d] ", s->rank);
            if (n >= lab && !memcmp(p, label, lab)) {
                lab = 0; /* the worker labelled the line itself (the library's log does) */
            }
        }
        if (s->keep_tail) {
            remember(s, p, n);
        }
    }
    int add_nl = end && (n == 0 || p[n - 1] != '\n');
    if (s->log_fd >= 0) {
        write_all(s->log_fd, p, n);
        if (add_nl) {
            write_all(s->log_fd, "\n", 1);
        }
    }
    size_t total = lab + n + (size_t)add_nl;
    char small[4096];
    char *out = total <= sizeof small ? small : malloc(total);
    if (!out) { /* no memory for the copy: write the pieces separately */
        write_all(s->out_fd, label, lab);
        write_all(s->out_fd, p, n);
        if (add_nl) {
            write_all(s->out_fd, "\n", 1);
        }
    } else {
        memcpy(out, label, lab);
        memcpy(out + lab, p, n);
        if (add_nl) {
            out[lab + n] = '\n';
        }
        write_all(s->out_fd, out, total);
        if (out != small) {
            free(out);
        }
    }
    s->mid_line = !end;
}

/* Forwards every complete line in buf and keeps the partial rest at the front. */
static void forward_lines(so__stream *s) {
    size_t start = 0;
    for (;;) {
        char *nl = memchr(s->buf + start, '\n', s->len - start);
        if (!nl) {
            break;
        }
        size_t end = (size_t)(nl - s->buf) + 1;
        emit(s, s->buf + start, end - start, 1);
        start = end;
    }
    if (start == 0 && s->len == SO__STREAM_CAP) { /* a line longer than the buffer */
        emit(s, s->buf, s->len, 0);
        s->len = 0;
        return;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
}

void so__stream_close(so__stream *s) {
    if (s->fd < 0) {
        return;
    }
    if (s->len > 0) {
        emit(s, s->buf, s->len, 1);
        s->len = 0;
    } else if (s->mid_line) {
        emit(s, "", 0, 1);
    }
    close(s->fd);
    s->fd = -1;
}

int so__stream_pump(so__stream *s) {
    if (s->fd < 0) {
        return 1;
    }
    for (int reads = 0; reads < 16;
         reads++) { /* bounded, so one chatty rank cannot starve others */
        ssize_t r = read(s->fd, s->buf + s->len, SO__STREAM_CAP - s->len);
        if (r > 0) {
            s->len += (size_t)r;
            forward_lines(s);
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        so__stream_close(s); /* end of file, or an error that ends the pipe just the same */
        return 1;
    }
    return 0;
}

void so__stream_tail(const so__stream *s, char *out, size_t cap) {
    size_t used = 0;
    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    int first = (s->tail_next - s->tail_n + SO_LAUNCH_TAIL_LINES) % SO_LAUNCH_TAIL_LINES;
    for (int i = 0; i < s->tail_n; i++) {
        const char *line = s->tail[(first + i) % SO_LAUNCH_TAIL_LINES];
        int w = snprintf(out + used, cap - used, "%s\n", line);
        if (w < 0 || (size_t)w >= cap - used) {
            break;
        }
        used += (size_t)w;
    }
}
