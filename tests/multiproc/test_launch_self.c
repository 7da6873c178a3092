/*
 * Tests of so_cli_launch_self (cli/launch_self.c), the way multi-rank demos and benchmarks start
 * themselves: this program plays the scaleout binary (it provides so_cli_self and an empty
 * registry), launches itself as 3 ranks, and checks the workers' environment, the unlabelled
 * output, the exit code of a failing rank and that a worker does not launch again.
 */
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "so_test.h"

const char *so_cli_self(void) {
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    return path;
}

const so_cli_entry *so_cli_find(int kind, const char *name) {
    (void)kind;
    (void)name;
    return NULL;
}

/* Worker side: argv = {exe, "worker", mode}. */
static int worker(int argc, char **argv) {
    const char *mode = argc > 2 ? argv[2] : "";
    const char *t = getenv("SO_TRANSPORT");
    int rank = atoi(getenv("RANK")), world = atoi(getenv("WORLD_SIZE"));
    if (so_cli_launch_self(2, NULL, argc - 1, argv + 1) != -1) { /* a worker never launches */
        printf("worker %d launched again\n", rank);
        return 9;
    }
    if (!strcmp(mode, "fail") && rank == 1) {
        fprintf(stderr, "rank 1 gives up\n");
        return 5;
    }
    printf("hello %d of %d over %s\n", rank, world, t ? t : "(unset)");
    return 0;
}

static char captured_out[65536], captured_err[65536];

/* Calls so_cli_launch_self with the workers' fds 1 and 2 going to files, then reads them. */
static int launch_captured(int nranks, const char *transport, const char *mode) {
    char *args[] = {"worker", (char *)mode, NULL};
    char out_path[] = "/tmp/so-launch-self-out-XXXXXX",
         err_path[] = "/tmp/so-launch-self-err-XXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    SO_ASSERT(fo >= 0 && fe >= 0);
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = so_cli_launch_self(nranks, transport, 2, args);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(save_out);
    close(save_err);
    char *bufs[2] = {captured_out, captured_err};
    int fds[2] = {fo, fe};
    for (int i = 0; i < 2; i++) {
        ssize_t n = pread(fds[i], bufs[i], sizeof captured_out - 1, 0);
        bufs[i][n > 0 ? n : 0] = '\0';
        close(fds[i]);
    }
    unlink(out_path);
    unlink(err_path);
    return rc;
}

static int t_hello(void) {
    int rc = launch_captured(3, "tcp", "hello");
    if (rc != 0) {
        fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", captured_out, captured_err);
    }
    CHECK_EQ_INT(rc, 0);
    for (int r = 0; r < 3; r++) {
        char want[64];
        snprintf(want, sizeof want, "hello %d of 3 over tcp\n", r);
        CHECK(strstr(captured_out, want) != NULL);
    }
    CHECK(strstr(captured_out, "[rank") == NULL); /* demo lines pass through unlabelled */
    return 0;
}

static int t_fail(void) {
    int rc = launch_captured(3, NULL, "fail");
    CHECK_EQ_INT(rc, 5);
    CHECK(strstr(captured_err, "rank 1 exited with code 5") != NULL);
    CHECK(strstr(captured_err, "rank 1 gives up") != NULL);
    return 0;
}

static int t_is_worker(void) {
    CHECK(!so_cli_is_worker());
    setenv("RANK", "0", 1);
    CHECK(so_cli_is_worker());
    char *args[] = {"worker", "hello", NULL};
    CHECK_EQ_INT(so_cli_launch_self(2, NULL, 2, args), -1);
    unsetenv("RANK");
    setenv("SO_RANK", "1", 1);
    CHECK(so_cli_is_worker());
    unsetenv("SO_RANK");
    return 0;
}

int main(int argc, char **argv) {
    if (so_cli_is_worker()) {
        return worker(argc, argv);
    }
    static const so_test_case cases[] = {
        {"hello", t_hello}, {"fail", t_fail}, {"is_worker", t_is_worker}};
    return so_test_main(argc, argv, cases, 3);
}
