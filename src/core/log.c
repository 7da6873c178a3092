/*
 * Logging to stderr, one line per call, prefixed with the level and (once set) the rank, so the
 * output of K processes interleaved by the launcher stays readable. The level comes from SO_LOG.
 * Cost: one formatted write per line; lines below the level cost one comparison.
 */
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "scaleout/core.h"

static int log_level = -1;
static int log_rank = -1;

int so_log_level(void) {
    if (log_level < 0) {
        const char *s = so_param_str("SO_LOG");
        int lvl = SO_LOG_WARN;
        if (!strcasecmp(s, "error")) {
            lvl = SO_LOG_ERROR;
        } else if (!strcasecmp(s, "info")) {
            lvl = SO_LOG_INFO;
        } else if (!strcasecmp(s, "debug")) {
            lvl = SO_LOG_DEBUG;
        }
        log_level = lvl;
    }
    return log_level;
}

void so_log_set_rank(int rank) {
    log_rank = rank;
}

void so_log(int level, const char *fmt, ...) {
    if (level > so_log_level()) {
        return;
    }
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[1024];
    int n;
    if (log_rank >= 0) {
        n = snprintf(line, sizeof line, "[rank %d] %s: ", log_rank, names[level]);
    } else {
        n = snprintf(line, sizeof line, "scaleout %s: ", names[level]);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
