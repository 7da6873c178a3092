/*
 * The harness's main: runs the case named by argv[1] ("all" or nothing runs every case) and
 * prints a one-line summary. Exit 0 all passed, 1 a failure, 77 every run case skipped.
 */
#include "so_test.h"

int so_test_main(int argc, char **argv, const so_test_case *cases, int n) {
    const char *want = argc > 1 ? argv[1] : "all";
    int passed = 0, failed = 0, skipped = 0, ran = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(want, "all") != 0 && strcmp(want, cases[i].name) != 0) {
            continue;
        }
        ran++;
        double t0 = so_now_s();
        int rc = cases[i].fn();
        double dt = so_now_s() - t0;
        if (rc == 0) {
            passed++;
            printf("ok   %s (%.3f s)\n", cases[i].name, dt);
        } else if (rc == SO_TEST_SKIP) {
            skipped++;
            printf("skip %s\n", cases[i].name);
        } else {
            failed++;
            printf("FAIL %s (%.3f s)\n", cases[i].name, dt);
        }
        fflush(stdout);
    }
    if (!ran) {
        fprintf(stderr, "no test case named '%s'; cases:", want);
        for (int i = 0; i < n; i++) {
            fprintf(stderr, " %s", cases[i].name);
        }
        fprintf(stderr, "\n");
        return 2;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed) {
        return 1;
    }
    return (skipped && !passed) ? SO_TEST_SKIP : 0;
}
