/*
 * Line plots through gnuplot (plot.h), shared by the benchmarks and demos.
 *
 * so_plot_write_csv writes a header and rows to a temporary file, fsyncs it and renames it into
 * place. so_plot_lines counts the CSV's columns from its header, writes a gnuplot script next to
 * the PNG, and runs `gnuplot script` as a child (posix_spawnp, so a missing gnuplot is ENOENT
 * and becomes SO_ENOTSUP); the script draws to a temporary PNG that is renamed into place only
 * if gnuplot succeeded. The terminal is pngcairo when GPVAL_TERMINALS lists it (gnuplot-nox may
 * lack it), else the libgd png terminal. The child is polled with a 60 s deadline and killed
 * past it.
 * Cost: one process start (about 50 ms). Limits: labels are passed without gnuplot's enhanced
 * text mode, and single quotes in them are replaced by spaces.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"
#include "scaleout/core.h"

extern char **environ;

static int plot_close_synced(FILE *f, const char *tmp, const char *path) {
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return so__fail(SO_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return SO_OK;
}

int so_plot_write_csv(const char *path, const char *const *cols, int ncols, const double *vals,
                      int nrows) {
    if (!path || !cols || ncols < 1 || nrows < 0 || (nrows > 0 && !vals)) {
        return so__fail(SO_EINVAL, "plot: bad CSV arguments for %s", path ? path : "(null)");
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return so__fail(SO_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    for (int c = 0; c < ncols; c++) {
        fprintf(f, "%s%s", c ? "," : "", cols[c]);
    }
    fputc('\n', f);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            double v = vals[(size_t)r * (size_t)ncols + (size_t)c];
            if (isnan(v)) {
                fprintf(f, "%sNaN", c ? "," : "");
            } else {
                fprintf(f, "%s%.9g", c ? "," : "", v);
            }
        }
        fputc('\n', f);
    }
    return plot_close_synced(f, tmp, path);
}

/* Number of comma-separated fields on the CSV's first line. */
static int plot_columns(const char *csv, int *n) {
    FILE *f = fopen(csv, "r");
    if (!f) {
        return so__fail(SO_ENOENT, "plot: cannot open %s: %s", csv, strerror(errno));
    }
    int ch, cols = 1, any = 0;
    while ((ch = fgetc(f)) != EOF && ch != '\n') {
        any = 1;
        cols += ch == ',';
    }
    fclose(f);
    if (!any) {
        return so__fail(SO_EPROTO, "plot: %s has no header line", csv);
    }
    *n = cols;
    return SO_OK;
}

/* Smallest and largest positive x (first field) of the CSV's rows; 0 if none. */
static void plot_xrange(const char *csv, double *lo, double *hi) {
    *lo = *hi = 0;
    FILE *f = fopen(csv, "r");
    if (!f) {
        return;
    }
    char line[4096];
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        double x = strtod(line, NULL);
        if (!first && x > 0) {
            *lo = *lo == 0 || x < *lo ? x : *lo;
            *hi = x > *hi ? x : *hi;
        }
        first = 0;
    }
    fclose(f);
}

/* x tics at powers of two labelled in binary units (1K = 1024), at most about 10 of them. */
static void plot_byte_tics(FILE *f, const char *csv) {
    double lo, hi;
    plot_xrange(csv, &lo, &hi);
    if (lo <= 0) {
        return;
    }
    int a = (int)ceil(log2(lo) - 1e-9), b = (int)floor(log2(hi) + 1e-9);
    int step = (b - a) / 10 + 1;
    static const char *unit[] = {"", "K", "M", "G", "T"};
    fprintf(f, "set xtics (");
    for (int e = a; e <= b; e += step) {
        int u = e >= 0 ? e / 10 : 0;
        u = u > 4 ? 4 : u;
        fprintf(f, "%s'%.0f%s' %.17g", e == a ? "" : ", ", ldexp(1.0, e - 10 * u), unit[u],
                ldexp(1.0, e));
    }
    fprintf(f, ")\n");
}

/* Writes s into a gnuplot single-quoted string (single quotes become spaces). */
static void plot_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; s && *s; s++) {
        fputc(*s == '\'' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

static int plot_script(const char *script, const char *csv, const char *out, int ncols,
                       const char *title, const char *xlabel, const char *ylabel, int flags) {
    FILE *f = fopen(script, "w");
    if (!f) {
        return so__fail(SO_EIO, "cannot create %s: %s", script, strerror(errno));
    }
    fprintf(f, "set datafile separator ','\n"
               "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) {\n"
               "  set terminal pngcairo size 960,600 noenhanced font 'Sans,11'\n"
               "} else {\n"
               "  set terminal png size 960,600 noenhanced\n"
               "}\n");
    fprintf(f, "set output ");
    plot_quoted(f, out);
    fprintf(f, "\nset title ");
    plot_quoted(f, title);
    fprintf(f, "\nset xlabel ");
    plot_quoted(f, xlabel);
    fprintf(f, "\nset ylabel ");
    plot_quoted(f, ylabel);
    fprintf(f, "\nset grid\nset key below box\nset bmargin 6\n");
    if (flags & SO_PLOT_LOGX) {
        fprintf(f, "set logscale x 2\n");
    }
    if (flags & SO_PLOT_LOGY) {
        fprintf(f, "set logscale y 10\n");
    }
    if (flags & SO_PLOT_XBYTES) {
        plot_byte_tics(f, csv);
    }
    if (flags & SO_PLOT_YPERCENT) {
        fprintf(f, "set yrange [0:100]\n");
    }
    fprintf(f, "plot for [i=2:%d] ", ncols);
    plot_quoted(f, csv);
    fprintf(f, " using 1:i%s with linespoints lw 2 pt 7 ps 1 title columnheader(i)\n",
            (flags & SO_PLOT_XDATA) ? ":xtic(1)" : "");
    int bad = fclose(f) != 0;
    return bad ? so__fail(SO_EIO, "cannot write %s", script) : SO_OK;
}

/* Runs `gnuplot script`, waiting at most 60 s. */
static int plot_run(const char *script) {
    pid_t pid;
    char *argv[] = {"gnuplot", (char *)script, NULL};
    int e = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (e == ENOENT) {
        return so__fail(SO_ENOTSUP, "gnuplot is not installed (apt-get install gnuplot-nox)");
    }
    if (e != 0) {
        return so__fail(SO_ESYS, "cannot start gnuplot: %s", strerror(e));
    }
    double deadline = so_now_s() + 60.0;
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                return SO_OK;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
                return so__fail(SO_ENOTSUP, "gnuplot is not installed");
            }
            return so__fail(SO_EIO, "gnuplot failed on %s (status %d)", script, status);
        }
        if (w < 0 && errno != EINTR) {
            return so__fail(SO_ESYS, "waiting for gnuplot: %s", strerror(errno));
        }
        if (so_now_s() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return so__fail(SO_ETIMEDOUT, "gnuplot took more than 60 s on %s", script);
        }
        so_sleep_ns(5000000);
    }
}

int so_plot_lines(const char *csv, const char *png, const char *title, const char *xlabel,
                  const char *ylabel, int flags) {
    if (!csv || !png) {
        return so__fail(SO_EINVAL, "plot: CSV and PNG paths are required");
    }
    int ncols = 0;
    SO_TRY(plot_columns(csv, &ncols));
    if (ncols < 2) {
        return so__fail(SO_EPROTO, "plot: %s has no column to draw besides x", csv);
    }
    char script[4096], tmp[4096];
    snprintf(script, sizeof script, "%s.gp", png);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld.png", png, (long)getpid());
    int rc = plot_script(script, csv, tmp, ncols, title ? title : "", xlabel ? xlabel : "",
                         ylabel ? ylabel : "", flags);
    if (rc == SO_OK) {
        rc = plot_run(script);
    }
    if (rc == SO_OK && rename(tmp, png) != 0) {
        rc = so__fail(SO_EIO, "cannot rename %s to %s: %s", tmp, png, strerror(errno));
    }
    if (rc < 0) {
        unlink(tmp);
    }
    return rc;
}
