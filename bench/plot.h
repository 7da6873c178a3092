/*
 * Line plots through gnuplot, for the benchmarks and demos (bench/plot.c): write the numbers as
 * CSV, then draw every column after the first against the first.
 *
 *   const char *cols[] = {"bytes", "ring", "tree"};
 *   double rows[] = {1024, 0.5, 0.7,  2048, 0.9, 1.1};
 *   so_plot_write_csv("ar.csv", cols, 3, rows, 2);
 *   int rc = so_plot_lines("ar.csv", "ar.png", "all-reduce", "size", "busbw (GB/s)",
 *                          SO_PLOT_LOGX | SO_PLOT_XBYTES);
 *   if (rc == SO_ENOTSUP) ... gnuplot is missing; the CSV is still there
 */
#ifndef SO_BENCH_PLOT_H
#define SO_BENCH_PLOT_H

enum {
    SO_PLOT_LOGX = 1,     /* logarithmic x axis (base 2) */
    SO_PLOT_LOGY = 2,     /* logarithmic y axis (base 10) */
    SO_PLOT_XBYTES = 4,   /* x tick labels as sizes: 1k, 64k, 1M */
    SO_PLOT_YPERCENT = 8, /* y axis 0..100 */
    SO_PLOT_XDATA = 16    /* one x tic at each data point, labelled with its x */
};

/* Writes path atomically: a header line with the ncols column names, then nrows rows of ncols
 * values from vals (row-major). NaN is written as "NaN", which gnuplot leaves out of a line. */
int so_plot_write_csv(const char *path, const char *const *cols, int ncols, const double *vals,
                      int nrows);
/* Runs gnuplot on csv (as so_plot_write_csv writes it) to draw png: one line per column after
 * the first, titled by the header. Uses the pngcairo terminal when gnuplot has it, else png.
 * Returns SO_ENOTSUP with a sentence when gnuplot is not installed, SO_EIO if it failed (its
 * stderr passes through), SO_ETIMEDOUT after 60 s. The PNG appears atomically. */
int so_plot_lines(const char *csv, const char *png, const char *title, const char *xlabel,
                  const char *ylabel, int flags);

#endif
