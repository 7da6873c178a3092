/*
 * Tests of `scaleout tour` (cli/cmd_tour.c) with fake demos: this program plays the scaleout
 * binary — it provides the CLI registry with four demos and, when started as
 * `<self> demo NAME [--quick]`, behaves as that demo: ch01 passes, ch02 fails with a verdict
 * line, ch03 hangs past the timeout, ch04 exits 0 without a verdict. The tour must report each
 * correctly, summarise and exit 1.
 */
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "so_test.h"

static so_cli_entry commands[8];
static int ncommands;

void so_cli_register(int kind, const char *name, const char *summary, so_cli_fn fn) {
    if (kind == SO_CLI_KIND_COMMAND && ncommands < 8) {
        commands[ncommands++] = (so_cli_entry){name, summary, fn};
    }
}

static int fake_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static const so_cli_entry demos[] = {{"ch01", "passes", fake_demo},
                                     {"ch02", "fails", fake_demo},
                                     {"ch03", "hangs", fake_demo},
                                     {"ch04", "no verdict", fake_demo}};

const so_cli_entry *so_cli_entries(int kind, int *n) {
    if (kind == SO_CLI_KIND_DEMO) {
        *n = 4;
        return demos;
    }
    *n = kind == SO_CLI_KIND_COMMAND ? ncommands : 0;
    return commands;
}

const so_cli_entry *so_cli_find(int kind, const char *name) {
    int n;
    const so_cli_entry *e = so_cli_entries(kind, &n);
    for (int i = 0; i < n; i++) {
        if (!strcmp(e[i].name, name)) {
            return &e[i];
        }
    }
    return NULL;
}

const char *so_cli_self(void) {
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    return path;
}

/* `<self> demo NAME [--quick]`. */
static int play_demo(int argc, char **argv) {
    const char *name = argv[2];
    int quick = argc > 3 && !strcmp(argv[3], "--quick");
    printf("%s: some output\n", name);
    if (!strcmp(name, "ch01")) {
        printf("ch01 OK quick=%d\n", quick);
        return 0;
    }
    if (!strcmp(name, "ch02")) {
        printf("ch02 FAIL wrong answer\n");
        return 1;
    }
    if (!strcmp(name, "ch03")) {
        fflush(stdout);
        sleep(30);
        return 0;
    }
    return 0;
}

static char out[65536];

static int tour(const char *const *words) {
    const so_cli_entry *t = so_cli_find(SO_CLI_KIND_COMMAND, "tour");
    SO_ASSERT(t != NULL);
    char *argv[16];
    int argc = 0;
    argv[argc++] = "tour";
    for (; words[argc - 1]; argc++) {
        argv[argc] = (char *)words[argc - 1];
    }
    argv[argc] = NULL;
    char path[] = "/tmp/so-tour-test-XXXXXX";
    int fd = mkstemp(path);
    SO_ASSERT(fd >= 0);
    fflush(stdout);
    int save = dup(1);
    dup2(fd, 1);
    int rc = t->fn(argc, argv);
    fflush(stdout);
    dup2(save, 1);
    close(save);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    printf("%s", out);
    return rc;
}

#define HAS(needle) CHECK(strstr(out, (needle)) != NULL)

static int t_all(void) {
    CHECK_EQ_INT(tour((const char *const[]){"--timeout", "1", NULL}), 1);
    HAS("ch01             ok");
    HAS("ch01 OK quick=1");
    HAS("ch02             FAIL");
    HAS("ch02 FAIL wrong answer");
    HAS("ch03             FAIL");
    HAS("timed out after 1 s");
    HAS("ch04             FAIL");
    HAS("exited 0 without a verdict line");
    HAS("1 ok, 3 failed");
    return 0;
}

static int t_only_full(void) {
    CHECK_EQ_INT(tour((const char *const[]){"--only", "ch01", "--full", NULL}), 0);
    HAS("ch01 OK quick=0");
    HAS("1 ok, 0 failed");
    CHECK(strstr(out, "ch02") == NULL);
    CHECK_EQ_INT(tour((const char *const[]){"--timeout", "zero", NULL}), 2);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "demo")) {
        return play_demo(argc, argv);
    }
    static const so_test_case cases[] = {{"all", t_all}, {"only_full", t_only_full}};
    return so_test_main(argc, argv, cases, 2);
}
