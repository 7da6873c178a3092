/*
 * The error space: names and messages of the SO_E* codes, the thread-local detail of the last
 * failure, and the two ways a program stops (an invariant broken, a checked call failed).
 * Cost: so__fail formats into a 512-byte thread-local buffer; nothing allocates.
 */
#include <stdarg.h>
#include <string.h>

#include "scaleout/core.h"

static _Thread_local char last_error[512];

const char *so_strerror(int code) {
    if (code == SO_OK) {
        return "success";
    }
#define SO__ERR_MSG(name, val, msg)                                                                \
    if (code == (val)) {                                                                           \
        return msg;                                                                                \
    }
    SO_ERRNO_MAP(SO__ERR_MSG)
#undef SO__ERR_MSG
    return "unknown error";
}

const char *so_err_name(int code) {
    if (code == SO_OK) {
        return "SO_OK";
    }
#define SO__ERR_NAME(name, val, msg)                                                               \
    if (code == (val)) {                                                                           \
        return "SO_" #name;                                                                        \
    }
    SO_ERRNO_MAP(SO__ERR_NAME)
#undef SO__ERR_NAME
    return "SO_E?";
}

const char *so_last_error(void) {
    return last_error;
}

int so__fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    SO_LOGD("fail %s: %s", so_err_name(code), last_error);
    return code;
}

_Noreturn void so__panic(const char *file, int line, const char *what) {
    fprintf(stderr, "scaleout: invariant failed at %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

_Noreturn void so__check_failed(const char *file, int line, const char *what, int rc) {
    fprintf(stderr, "error: %s failed at %s:%d: %s (%s)%s%s\n", what, file, line, so_strerror(rc),
            so_err_name(rc), last_error[0] ? ": " : "", last_error);
    fflush(stderr);
    exit(1);
}
