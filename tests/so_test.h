/*
 * The in-house test harness: an explicit table of cases per test program, checks that print
 * file:line and both values, and a main that runs one named case (CTest runs each case as its
 * own process, with a timeout) or all of them.
 *
 *   static int t_sum(void) { CHECK_EQ_INT(1 + 1, 2); return 0; }
 *   SO_TEST_MAIN({"sum", t_sum})
 *
 * A case returns 0 (pass), 1 (fail) or SO_TEST_SKIP (77, with a printed reason).
 */
#ifndef SO_TEST_H
#define SO_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scaleout/core.h"

#define SO_TEST_SKIP 77

typedef struct so_test_case {
    const char *name;
    int (*fn)(void);
} so_test_case;

int so_test_main(int argc, char **argv, const so_test_case *cases, int n);

#define SO_TEST_MAIN(...)                                                                          \
    int main(int argc, char **argv) {                                                              \
        static const so_test_case cases[] = {__VA_ARGS__};                                         \
        return so_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));             \
    }

#define SO_TEST_FAIL_(...)                                                                         \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return 1;                                                                                  \
    } while (0)

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            SO_TEST_FAIL_("CHECK(%s) failed", #x);                                                 \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long so__a = (long long)(a), so__b = (long long)(b);                                  \
        if (so__a != so__b)                                                                        \
            SO_TEST_FAIL_("%s == %s failed: %lld vs %lld", #a, #b, so__a, so__b);                  \
    } while (0)
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        int so__rc = (expr);                                                                       \
        if (so__rc < 0)                                                                            \
            SO_TEST_FAIL_("%s returned %s: %s", #expr, so_err_name(so__rc), so_last_error());      \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double so__a = (double)(a), so__b = (double)(b);                                           \
        if (!(fabs(so__a - so__b) <= (tol)))                                                       \
            SO_TEST_FAIL_("|%s - %s| <= %g failed: %.17g vs %.17g", #a, #b, (double)(tol), so__a,  \
                          so__b);                                                                  \
    } while (0)
#define CHECK_MEM_EQ(a, b, n)                                                                      \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            SO_TEST_FAIL_("memory %s and %s differ (%zu bytes)", #a, #b, (size_t)(n));             \
    } while (0)
#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *so__a = (a), *so__b = (b);                                                     \
        if (strcmp(so__a, so__b) != 0)                                                             \
            SO_TEST_FAIL_("%s == %s failed: \"%s\" vs \"%s\"", #a, #b, so__a, so__b);              \
    } while (0)
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        printf("SKIP: ");                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        return SO_TEST_SKIP;                                                                       \
    } while (0)

/* Multi-process cases (tests/so_test_ranks.c, link so_comm): fork n ranks that meet through a
 * file store in a fresh temporary directory and build a group over `transport` ("shm", "tcp",
 * "auto"); each runs fn(comm, rank, arg) and its return value (0 pass) is its exit code. The
 * parent waits up to timeout_ms, kills every rank on expiry, and returns 0 only if all passed;
 * it prints which rank failed and how. */
struct so_comm;
typedef int (*so_test_rank_fn)(struct so_comm *c, int rank, void *arg);
int so_test_ranks(int n, const char *transport, so_test_rank_fn fn, void *arg, int timeout_ms);
/* The same, but a rank whose bit is set in killed_ok may end by SIGKILL without failing the
 * test (fault tests kill a rank on purpose). */
int so_test_ranks_ex(int n, const char *transport, so_test_rank_fn fn, void *arg, int timeout_ms,
                     unsigned long killed_ok);

#endif
