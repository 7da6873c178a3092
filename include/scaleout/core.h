/*
 * scaleout core: the error space, logging, environment knobs, clocks, data types and the
 * element-wise reduction kernels every layer above shares.
 *
 *   int rc = so_something(...);
 *   if (rc < 0) fprintf(stderr, "%s: %s\n", so_err_name(rc), so_last_error());
 *
 * Fallible calls return SO_OK (0) or a negative SO_E* code. so__fail() records a sentence of
 * detail in a thread-local buffer that so_last_error() returns until the next failure.
 * Thread safety: everything here is safe to call from any thread.
 */
#ifndef SCALEOUT_CORE_H
#define SCALEOUT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scaleout/so_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors: one space ---- */

/* XX(name, value, message). Values are stable; append only. */
#define SO_ERRNO_MAP(XX)                                                                           \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(ETIMEDOUT, -3, "timed out")                                                                 \
    XX(ECONNRESET, -4, "connection reset by peer")                                                 \
    XX(EPEER, -5, "peer process failed")                                                           \
    XX(EABORTED, -6, "communicator aborted after an earlier error")                                \
    XX(ENOTSUP, -7, "not supported")                                                               \
    XX(EIO, -8, "input/output error")                                                              \
    XX(EPROTO, -9, "protocol or format error")                                                     \
    XX(ESTATE, -10, "invalid state")                                                               \
    XX(EDESYNC, -11, "ranks called different collectives")                                         \
    XX(ENOENT, -12, "not found")                                                                   \
    XX(ECORRUPT, -13, "corrupt data")                                                              \
    XX(ESYS, -14, "system call failed")                                                            \
    XX(EINTR, -15, "interrupted")                                                                  \
    XX(ERANGE, -16, "value out of range")

enum {
    SO_OK = 0,
#define SO__ERR_ENUM(name, val, msg) SO_##name = (val),
    SO_ERRNO_MAP(SO__ERR_ENUM)
#undef SO__ERR_ENUM
};

/* The message of a code ("timed out"); never NULL. */
const char *so_strerror(int code);
/* The symbolic name of a code ("SO_ETIMEDOUT"); never NULL. */
const char *so_err_name(int code);
/* Detail of the last failure recorded on this thread by so__fail ("" if none). */
const char *so_last_error(void);
/* Records printf-style detail for so_last_error() and returns code (so `return so__fail(...)`). */
int so__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Invariant check that stays on in release builds: prints file:line and aborts. */
#define SO_ASSERT(x)                                                                               \
    do {                                                                                           \
        if (!(x))                                                                                  \
            so__panic(__FILE__, __LINE__, #x);                                                     \
    } while (0)
_Noreturn void so__panic(const char *file, int line, const char *what);

/* Propagate a negative status to the caller. */
#define SO_TRY(expr)                                                                               \
    do {                                                                                           \
        int so__rc = (expr);                                                                       \
        if (so__rc < 0)                                                                            \
            return so__rc;                                                                         \
    } while (0)
/* Jump to one cleanup label with the status in rc. */
#define SO_TRY_GOTO(expr, rc, label)                                                               \
    do {                                                                                           \
        (rc) = (expr);                                                                             \
        if ((rc) < 0)                                                                              \
            goto label;                                                                            \
    } while (0)

/* Programs only (cli, demos, bench, tests): on failure print the call, file:line, the error and
 * its detail, then exit(1). The library itself never exits. */
#define SO_CHECK(expr)                                                                             \
    do {                                                                                           \
        int so__rc = (expr);                                                                       \
        if (so__rc < 0)                                                                            \
            so__check_failed(__FILE__, __LINE__, #expr, so__rc);                                   \
    } while (0)
_Noreturn void so__check_failed(const char *file, int line, const char *what, int rc);

/* ---- logging ---- */

enum { SO_LOG_ERROR = 0, SO_LOG_WARN = 1, SO_LOG_INFO = 2, SO_LOG_DEBUG = 3 };
/* Level from SO_LOG=error|warn|info|debug (default warn), read once. */
int so_log_level(void);
/* Prefix every later line of this process with "[rank R]" (R < 0 removes the prefix). */
void so_log_set_rank(int rank);
void so_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define SO_LOGE(...) so_log(SO_LOG_ERROR, __VA_ARGS__)
#define SO_LOGW(...) so_log(SO_LOG_WARN, __VA_ARGS__)
#define SO_LOGI(...) (so_log_level() >= SO_LOG_INFO ? so_log(SO_LOG_INFO, __VA_ARGS__) : (void)0)
#define SO_LOGD(...) (so_log_level() >= SO_LOG_DEBUG ? so_log(SO_LOG_DEBUG, __VA_ARGS__) : (void)0)

/* ---- environment knobs: every tunable lives in one table (src/core/param.c) ---- */

typedef struct so_param_info {
    const char *env;  /* "SO_TIMEOUT_MS" */
    const char *dflt; /* default as text */
    const char *help; /* one sentence */
} so_param_info;
/* The value of a knob: the environment if set and non-empty, else the table default.
 * Asserts that env is in the table, so every knob is documented. */
const char *so_param_str(const char *env);
int64_t so_param_int(const char *env);
double so_param_double(const char *env);
/* The whole table, for `scaleout info`; *n receives its length. */
const so_param_info *so_param_table(size_t *n);

/* ---- clocks ---- */

/* Monotonic time in nanoseconds. */
int64_t so_now_ns(void);
/* Seconds since an arbitrary epoch, as a double (for measurements). */
double so_now_s(void);
/* Absolute deadline timeout_ms from now; timeout_ms < 0 means never (INT64_MAX). */
int64_t so_deadline_after_ms(int64_t timeout_ms);
/* Sleep for ns nanoseconds (restarts on EINTR). */
void so_sleep_ns(int64_t ns);

/* ---- data types and reductions ---- */

typedef enum so_dtype {
    SO_F32 = 0,
    SO_F64,
    SO_I32,
    SO_I64,
    SO_BF16, /* storage only; arithmetic accumulates in f32 */
    SO_F16,  /* IEEE half; storage only; arithmetic accumulates in f32 */
    SO_U8,
    SO_DTYPE_COUNT
} so_dtype;

typedef enum so_op { SO_SUM = 0, SO_PROD, SO_MIN, SO_MAX, SO_AVG, SO_OP_COUNT } so_op;

size_t so_dtype_size(so_dtype dt);
const char *so_dtype_name(so_dtype dt); /* "f32" ... ; "?" if out of range */
const char *so_op_name(so_op op);       /* "sum" ... */
/* Parses "f32|float|float32|f64|double|i32|int32|i64|int64|bf16|f16|half|u8"; SO_EINVAL if not. */
int so_dtype_parse(const char *s, so_dtype *out);
int so_op_parse(const char *s, so_op *out);

/* dst[i] = a[i] op b[i] for n elements; dst may alias a or b. AVG reduces as SUM (the caller
 * divides once at the end, see so_scale_avg). bf16/f16 are widened to f32, combined and rounded
 * to nearest even. Cost: one pass over 3n elements, vectorised by the compiler. */
void so_reduce_local(so_op op, so_dtype dt, void *dst, const void *a, const void *b, size_t n);
/* x[i] /= k, for the AVG op (integer types divide truncating toward zero). */
void so_scale_avg(so_dtype dt, void *x, size_t n, int k);

float so_bf16_to_f32(uint16_t h);
uint16_t so_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
float so_f16_to_f32(uint16_t h);
uint16_t so_f32_to_f16(float f); /* round to nearest even; overflow gives inf */

/* ---- memory ---- */

/* 64-byte aligned allocation (cache line, AVX-512); free with so_free_aligned. NULL on failure. */
void *so_malloc_aligned(size_t bytes);
void so_free_aligned(void *p);

/* Parses sizes like "8", "64K", "1M", "64MiB", "2G" into bytes; SO_EINVAL names the bad text. */
int so_parse_size(const char *s, size_t *out);
/* Formats bytes as "8B", "64KiB", "1MiB" into buf (returns buf). */
char *so_format_size(size_t bytes, char *buf, size_t cap);

#include "scaleout/rng.h"
#include "scaleout/stats.h"
#include "scaleout/progress.h"

#ifdef __cplusplus
}
#endif
#endif
