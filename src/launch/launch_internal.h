/*
 * Internals of the launcher shared by its files: the per-worker output streams (output.c) and
 * the process spawning with an exact environment (spawn.c). launch.c supervises.
 */
#ifndef SO_LAUNCH_INTERNAL_H
#define SO_LAUNCH_INTERNAL_H

#include <sys/types.h>

#include "scaleout/launch.h"

enum { SO__STREAM_CAP = 65536, SO__TAIL_COLS = 160 };

/* One pipe from a worker (its stdout or stderr) to the launcher's fd 1 or 2. */
typedef struct so__stream {
    int fd;        /* read end, nonblocking; -1 once closed */
    int out_fd;    /* where lines go: 1 or 2 */
    int rank;      /* global rank for the "[rank R] " label */
    int tag;       /* SO_LAUNCH_TAG_* */
    int mid_line;  /* the last bytes written did not end a line */
    int keep_tail; /* remember the last lines (stderr) */
    int log_fd;    /* a copy of the output, unlabelled, goes here too; -1 = none */
    size_t len;    /* bytes buffered in buf (a partial line) */
    char *buf;     /* SO__STREAM_CAP bytes */
    int tail_n, tail_next;
    char tail[SO_LAUNCH_TAIL_LINES][SO__TAIL_COLS];
} so__stream;

int so__stream_init(so__stream *s, int fd, int out_fd, int rank, int tag, int keep_tail);
/* Also writes everything (unlabelled) to a new file at path. */
int so__stream_log_to(so__stream *s, const char *path);
/* Reads what is available and forwards complete lines. Returns 1 at end of file (the partial
 * last line is forwarded with a newline and fd is closed), else 0. */
int so__stream_pump(so__stream *s);
/* Forwards what is left and closes the stream (a worker whose pipe a grandchild keeps open). */
void so__stream_close(so__stream *s);
void so__stream_deinit(so__stream *s);
/* The remembered lines, oldest first, each ending with a newline. */
void so__stream_tail(const so__stream *s, char *out, size_t cap);

/* Finds an executable for name: as given if it contains '/', else along PATH. */
int so__resolve_program(const char *name, char *out, size_t cap);
/* The descriptors a worker starts with: in (-1 = /dev/null) on 0, out on 1, err on 2, and
 * death (-1 = none) on death_at, left open across exec; and the CPU it is pinned to before
 * exec (cpu < 0 = not pinned). */
typedef struct so__spawn_fds {
    int in, out, err, death, death_at;
    int cpu;
} so__spawn_fds;

/* Starts path with argv and envp in its own process group with those descriptors (every other
 * one closed), and SIGKILL when the launcher dies. Waits only until exec succeeded or failed
 * (SO_ESYS naming errno then). */
int so__spawn(const char *path, char *const argv[], char *const envp[], const so__spawn_fds *fds,
              pid_t *pid);

#endif
