/*
 * What every `scaleout bench` mode shares: the size sweep, the timing method, order statistics,
 * the known-value fill and check of collective buffers, and the three outputs (a table on stdout
 * in nccl-tests' columns, CSV, and JSON lines that ../shared/peers/summarize.py compares).
 *
 *   so_bench_sweep sw;  so_bench_sweep_default(&sw);         // 8 B .. 64 MiB, factor 2
 *   so_bench_out out;   so_bench_out_open(&out, csv, json, rank == 0);
 *   for (size_t s = sw.min; s; s = so_bench_sweep_next(&sw, s)) ...
 *
 * Timing method (the same as the Open MPI peer, bench/mpi_allreduce.c): warm-up calls, then
 * timed calls each preceded by a barrier; the time of a call is the maximum over ranks; the
 * figure is the median over calls, with min and max beside it. The number of calls is chosen
 * from the warm-up so that one size takes about `budget` seconds, clamped to [min_iters,
 * max_iters], unless --iters fixes it.
 */
#ifndef SO_BENCH_COMMON_H
#define SO_BENCH_COMMON_H

#include <stdio.h>

#include "scaleout/so.h"

/* ---- re-running as K ranks (cli/cmd_bench.c) ---- */

/* Remembers the scaleout argv (starting at "bench"), so a mode can re-run itself as ranks. */
void so_bench_set_argv(int argc, char **argv);
/* so_cli_launch_self with the remembered argv: -1 in a worker (go on as a rank), else the
 * launcher's exit code. */
int so_bench_launch(int nranks, const char *transport);

/* ---- sizes ---- */

enum { SO_BENCH_MAX_SIZES = 64 };

typedef struct so_bench_sweep {
    size_t min, max;                  /* bytes */
    double factor;                    /* multiply by this (> 1) ... */
    size_t step;                      /* ... or, if nonzero, add this ... */
    size_t sizes[SO_BENCH_MAX_SIZES]; /* ... or, if nsizes > 0, exactly these */
    int nsizes;
} so_bench_sweep;

void so_bench_sweep_default(so_bench_sweep *sw);
/* The first size, and the size after s (0 past the end). */
size_t so_bench_sweep_first(const so_bench_sweep *sw);
size_t so_bench_sweep_next(const so_bench_sweep *sw, size_t s);
/* Parses a comma-separated list "8,1K,64K,1M" into sw->sizes. */
int so_bench_sweep_parse_list(so_bench_sweep *sw, const char *list);
/* Handles --min --max --factor --step --sizes; same return convention as the flag helpers. */
int so_bench_sweep_flag(so_bench_sweep *sw, int argc, char **argv, int *i);
/* The largest size of the sweep. */
size_t so_bench_sweep_largest(const so_bench_sweep *sw);

/* ---- flags ---- */

/* Flag parsing helpers: if argv[*i] is `name` (or `name=value`), store the value, advance *i
 * and return 1; return 0 if it is another flag; return SO_EINVAL (with detail) if the value is
 * missing or malformed. */
int so_bench_flag_str(int argc, char **argv, int *i, const char *name, const char **out);
int so_bench_flag_int(int argc, char **argv, int *i, const char *name, int *out);
int so_bench_flag_size(int argc, char **argv, int *i, const char *name, size_t *out);
int so_bench_flag_double(int argc, char **argv, int *i, const char *name, double *out);

/* ---- timing ---- */

typedef struct so_bench_timing {
    int iters;     /* fixed number of timed calls, 0 = adaptive */
    int warmup;    /* warm-up calls, -1 = by size (100 small, 10 >= 1 MiB, 3 >= 16 MiB) */
    double budget; /* seconds per size when adaptive */
    int min_iters, max_iters;
} so_bench_timing;

void so_bench_timing_default(so_bench_timing *t);

typedef struct so_bench_stats {
    double med_s, min_s, max_s; /* over timed calls, each the max over ranks */
    int iters;
} so_bench_stats;

/* Times fn(c, arg) with the method above. Collective: every rank calls it with the same
 * timing and bytes. */
int so_bench_time(so_comm *c, int (*fn)(so_comm *c, void *arg), void *arg, size_t bytes,
                  const so_bench_timing *t, so_bench_stats *out);

/* Median of v[0..n) (sorts v). */
double so_bench_median(double *v, int n);

/* ---- known values ---- */

/* The small integer rank r puts at element i of a reduction input (exact in every dtype for
 * up to 63 ranks): (i + 3r) mod 5, or 1 + (i + r) mod 2 for SO_PROD. */
int so_bench_value(so_op op, int r, size_t i);
/* Writes the element as dtype dt. */
void so_bench_put(so_dtype dt, void *buf, size_t i, double v);
double so_bench_get(so_dtype dt, const void *buf, size_t i);
/* Fills n elements with so_bench_value(op, r, first + i). */
void so_bench_fill(so_dtype dt, so_op op, int r, void *buf, size_t first, size_t n);
/* Number of elements of buf (holding global elements first..first+n) that differ from the
 * reduction over k ranks of so_bench_value. Integer types and sums of small integers are
 * exact; AVG on floating types allows a relative 1e-3 (bf16 rounding of the quotient). */
size_t so_bench_check_reduced(so_dtype dt, so_op op, int k, const void *buf, size_t first,
                              size_t n);
/* Fills every byte of buf with 0xA5, so a result left unwritten is caught by the check. */
void so_bench_poison(void *buf, size_t bytes);

/* ---- output ---- */

typedef struct so_bench_out {
    FILE *csv, *json;
    FILE *json2;       /* a second JSON-lines copy (--rows, for a parent process) */
    int root;          /* only the root prints */
    const char *title; /* what the table header names (default: the first row's label) */
    int header_done;
    double load1;     /* 1-minute load average when the run started (JSON "load1") */
    double busbw_sum; /* over printed rows, for nccl-tests' "# Avg bus bandwidth" */
    int nrows;
} so_bench_out;

/* Opens the CSV and JSON-lines files (any may be NULL) on the root. JSON lines are appended. */
int so_bench_out_open(so_bench_out *o, const char *csv_path, const char *json_path,
                      const char *json2_path, int root);
void so_bench_out_close(so_bench_out *o);

/* Handles --iters --warmup --budget; same return convention as the flag helpers. */
int so_bench_timing_flag(so_bench_timing *t, int argc, char **argv, int *i);

/* One row of a collective sweep. */
typedef struct so_bench_row {
    const char *bench; /* JSON "bench", e.g. "ours_coll" */
    const char *label; /* case label, e.g. "ours-shm" */
    const char *op;    /* "allreduce", "reduce_scatter", ... */
    int nranks;
    size_t bytes, count;
    const char *type, *redop, *algo;
    so_bench_stats st;
    double busbw_factor;
    size_t wrong;
    double model_us; /* < 0 if none */
} so_bench_row;

void so_bench_row_print(so_bench_out *o, const so_bench_row *r);
/* Writes one JSON line {"bench","case","metric","unit","value",...} (root only). */
void so_bench_json(so_bench_out *o, const char *bench, const char *cas, const char *metric,
                   const char *unit, double value, const char *extra);
/* "8B", "1KiB", "64MiB" as in the peers' case strings. */
void so_bench_size_label(size_t bytes, char *buf, size_t cap);

/* nccl-tests' bus-bandwidth factor for op on n ranks. */
double so_bench_busbw_factor(const char *op, int n);

#endif
