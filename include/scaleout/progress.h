/*
 * Progress lines for long work (src/core/progress.c), written to stderr:
 *
 *   so_progress p; so_progress_start(&p, 1000, "shards");
 *   for (i = 0; i < 1000; i++) { ...; so_progress_update(&p, i + 1, NULL); }
 *   so_progress_finish(&p);
 *
 * prints, at most every SO_PROGRESS_MS milliseconds, one rewritten line
 * "shards: 35% (350/1000) 12.3 it/s ETA 0:53 extra". It is on only when stderr is a terminal,
 * unless SO_PROGRESS=1 forces it (lines then end in '\n' instead of '\r'); SO_PROGRESS=0 turns it
 * off. This is the one place the library prints without an error: callers opt in by using it.
 * Thread safety: one so_progress per thread.
 */
#ifndef SCALEOUT_PROGRESS_H
#define SCALEOUT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct so_progress {
    char label[48];
    uint64_t total; /* 0 = unknown: no percentage or ETA */
    uint64_t done;
    int64_t start_ns, last_ns, interval_ns;
    int enabled; /* print at all */
    int tty;     /* rewrite one line with '\r' */
    int printed; /* a line is pending a final newline */
} so_progress;

void so_progress_start(so_progress *p, uint64_t total, const char *label);
/* Records `done` units; prints if enabled and the interval has passed. extra may be NULL. */
void so_progress_update(so_progress *p, uint64_t done, const char *extra);
/* Prints the final line (with the total time) if anything was printed or forced, and a newline. */
void so_progress_finish(so_progress *p);
/* Formats the line for the given state into buf without printing (used by tests). */
char *so_progress_format(const so_progress *p, int64_t now_ns, const char *extra, char *buf,
                         size_t cap);

#endif
