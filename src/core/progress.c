/*
 * Progress lines on stderr for long loops: label, percentage, count, rate, ETA and caller text.
 * The rate is the mean since start (done / elapsed), the ETA is (total - done) / rate. Printing is
 * throttled to one line per SO_PROGRESS_MS; on a terminal the line is rewritten in place with '\r'.
 * Cost: one clock read per update. Limits: the rate is an average, so it lags sudden changes.
 */
#include <string.h>
#include <unistd.h>

#include "scaleout/core.h"
#include "scaleout/progress.h"

void so_progress_start(so_progress *p, uint64_t total, const char *label) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "progress");
    p->total = total;
    p->start_ns = so_now_ns();
    p->last_ns = p->start_ns;
    p->interval_ns = so_param_int("SO_PROGRESS_MS") * 1000000;
    const char *mode = so_param_str("SO_PROGRESS");
    p->tty = isatty(STDERR_FILENO);
    if (!strcmp(mode, "1")) {
        p->enabled = 1;
    } else if (!strcmp(mode, "0")) {
        p->enabled = 0;
    } else {
        p->enabled = p->tty;
    }
}

static void format_hms(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 359999) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) {
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    } else {
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
    }
}

char *so_progress_format(const so_progress *p, int64_t now_ns, const char *extra, char *buf,
                         size_t cap) {
    double el = (double)(now_ns - p->start_ns) * 1e-9;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    char eta[32] = "?";
    if (p->total && rate > 0) {
        format_hms((double)(p->total - (p->done < p->total ? p->done : p->total)) / rate, eta,
                   sizeof eta);
    }
    const char *sep = extra && *extra ? " " : "";
    if (p->total) {
        snprintf(buf, cap, "%s: %d%% (%llu/%llu) %.1f it/s ETA %s%s%s", p->label,
                 (int)(100.0 * (double)p->done / (double)p->total), (unsigned long long)p->done,
                 (unsigned long long)p->total, rate, eta, sep, extra ? extra : "");
    } else {
        snprintf(buf, cap, "%s: %llu %.1f it/s%s%s", p->label, (unsigned long long)p->done, rate,
                 sep, extra ? extra : "");
    }
    return buf;
}

static void emit(so_progress *p, int64_t now, const char *extra) {
    char line[256];
    so_progress_format(p, now, extra, line, sizeof line);
    if (p->tty) {
        fprintf(stderr, "\r%s\x1b[K", line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    p->printed = p->tty;
    p->last_ns = now;
}

void so_progress_update(so_progress *p, uint64_t done, const char *extra) {
    p->done = done;
    if (!p->enabled) {
        return;
    }
    int64_t now = so_now_ns();
    if (now - p->last_ns >= p->interval_ns) {
        emit(p, now, extra);
    }
}

void so_progress_finish(so_progress *p) {
    if (!p->enabled) {
        return;
    }
    int64_t now = so_now_ns();
    char took[32], extra[48];
    format_hms((double)(now - p->start_ns) * 1e-9, took, sizeof took);
    snprintf(extra, sizeof extra, "done in %s", took);
    emit(p, now, extra);
    if (p->printed) {
        fputc('\n', stderr);
    }
    p->printed = 0;
}
