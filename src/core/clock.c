/*
 * Monotonic clocks and deadlines. Every blocking call in scaleout takes an absolute deadline in
 * nanoseconds from so_now_ns(), so a chain of calls shares one budget instead of each restarting
 * it. Cost: one clock_gettime (vDSO, ~20 ns).
 */
#include <errno.h>
#include <time.h>

#include "scaleout/core.h"

int64_t so_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double so_now_s(void) {
    return (double)so_now_ns() * 1e-9;
}

int64_t so_deadline_after_ms(int64_t timeout_ms) {
    if (timeout_ms < 0) {
        return INT64_MAX;
    }
    return so_now_ns() + timeout_ms * 1000000LL;
}

void so_sleep_ns(int64_t ns) {
    struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
