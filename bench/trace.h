/*
 * Timelines as Chrome-trace JSON (bench/trace.c), for the demos and benchmarks: open the file in
 * Perfetto (ui.perfetto.dev) or chrome://tracing to see what ran when.
 *
 *   so_trace *t;  so_trace_create(&t);
 *   so_trace_name_process(t, 1, "overlap, 8 layers per bucket");
 *   so_trace_name_thread(t, 1, 0, "rank 0 backward");
 *   so_trace_complete(t, "layer 47", 1, 0, 0.000, 0.003);     // seconds from any origin
 *   so_trace_write(t, "overlap.json");  so_trace_destroy(t);
 */
#ifndef SO_BENCH_TRACE_H
#define SO_BENCH_TRACE_H

typedef struct so_trace so_trace;

int so_trace_create(so_trace **out);
void so_trace_destroy(so_trace *t);
/* A span ("complete" event, ph X) named `name` on thread tid of process pid. */
int so_trace_complete(so_trace *t, const char *name, int pid, int tid, double start_s,
                      double dur_s);
/* Display names of a process and of a thread (metadata events). */
int so_trace_name_process(so_trace *t, int pid, const char *name);
int so_trace_name_thread(so_trace *t, int pid, int tid, const char *name);
/* Writes {"traceEvents": [...], "displayTimeUnit": "ms"} atomically (temp, fsync, rename). */
int so_trace_write(const so_trace *t, const char *path);

#endif
