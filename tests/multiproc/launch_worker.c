/*
 * A worker program for the launcher tests: `scaleout run` starts it as K ranks, and it does one
 * thing per mode so the test can check the launcher from outside.
 *   env                     print the launch contract's variables, one KEY=VALUE per line
 *   lines                   two stdout lines, one stderr line, then stdout text without newline
 *   fail DIR R CODE         record its pid in DIR; rank R waits for every pid, then exits CODE;
 *                           the others sleep (the launcher must stop them)
 *   sigkill DIR R           the same, but rank R kills itself with SIGKILL
 *   restart N               print the restart count; rank 1 exits 1 while the count is below N
 *   always DIR              append a line to DIR/launches.RANK, print "attempt" to stderr, exit 1
 *   sleep DIR               record its pid in DIR and sleep
 *   early R                 print the restart count; rank R waits until rank 0 joined the
 *                           process group's rendezvous, then exits 1; the others try to form
 *                           the group (and wait for rank R until the launcher stops them)
 *   group R N               form the process group, pass a barrier; rank R then exits 1 while
 *                           the restart count is below N, the others pass a second barrier
 *                           (which fails when R is gone) and print "group ok"
 *   cascade DIR             rank 1 exits 3; rank 0 exits 4 the moment rank 1 is gone (it reads
 *                           a FIFO that only rank 1 holds open): the launcher must name rank 1
 *   store                   connect to the launcher's store at MASTER_ADDR:MASTER_PORT, set a
 *                           key, read every rank's key, print "store ok"
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scaleout/comm.h"

static int env_int(const char *k) {
    const char *v = getenv(k);
    return v ? atoi(v) : -1;
}

/* Every rank sends a byte to rank 0, which answers each once all arrived. */
static int barrier(so_comm *c) {
    int r = so_comm_rank(c), k = so_comm_size(c), rc = 0;
    char b = 1;
    for (int p = 1; r == 0 && rc == 0 && p < k; p++) {
        rc = so_recv(c, &b, 1, p, 7);
    }
    for (int p = 1; r == 0 && rc == 0 && p < k; p++) {
        rc = so_send(c, &b, 1, p, 8);
    }
    if (r != 0) {
        rc = so_send(c, &b, 1, 0, 7);
        rc = rc == 0 ? so_recv(c, &b, 1, 0, 8) : rc;
    }
    return rc;
}

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void write_pid(const char *dir) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/pid.%d", dir, env_int("RANK"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        exit(90);
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
    rename(tmp, path); /* readers never see a half-written file */
}

static void wait_all_pids(const char *dir) {
    int world = env_int("WORLD_SIZE");
    for (int tries = 0; tries < 500; tries++) {
        int have = 0;
        for (int r = 0; r < world; r++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/pid.%d", dir, r);
            have += access(path, F_OK) == 0;
        }
        if (have == world) {
            return;
        }
        nap_ms(10);
    }
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    int rank = env_int("RANK");
    if (!strcmp(mode, "env")) {
        static const char *const keys[] = {"RANK",
                                           "LOCAL_RANK",
                                           "WORLD_SIZE",
                                           "LOCAL_WORLD_SIZE",
                                           "GROUP_RANK",
                                           "GROUP_WORLD_SIZE",
                                           "ROLE_RANK",
                                           "ROLE_WORLD_SIZE",
                                           "ROLE_NAME",
                                           "MASTER_ADDR",
                                           "MASTER_PORT",
                                           "TORCHELASTIC_RESTART_COUNT",
                                           "TORCHELASTIC_MAX_RESTARTS",
                                           "TORCHELASTIC_RUN_ID",
                                           "TORCHELASTIC_ERROR_FILE",
                                           "SO_TRANSPORT",
                                           "SO_RANK",
                                           "OMP_NUM_THREADS"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const char *v = getenv(keys[i]);
            printf("%s=%s\n", keys[i], v ? v : "(unset)");
        }
        return 0;
    }
    if (!strcmp(mode, "lines")) {
        printf("out one %d\n", rank);
        fflush(stdout);
        fprintf(stderr, "err one %d\n", rank);
        printf("out two %d\n", rank);
        printf("partial %d", rank); /* no newline: the launcher must still forward it */
        return 0;
    }
    if ((!strcmp(mode, "fail") || !strcmp(mode, "sigkill")) && argc >= 4) {
        write_pid(argv[2]);
        if (rank == atoi(argv[3])) {
            wait_all_pids(argv[2]);
            fprintf(stderr, "rank %d is about to fail\n", rank);
            if (!strcmp(mode, "sigkill")) {
                raise(SIGKILL);
            }
            return argc >= 5 ? atoi(argv[4]) : 1;
        }
        sleep(60);
        return 0;
    }
    if (!strcmp(mode, "restart") && argc >= 3) {
        int count = env_int("TORCHELASTIC_RESTART_COUNT");
        printf("restart count %d\n", count);
        fflush(stdout);
        if (rank == 1 && count < atoi(argv[2])) {
            fprintf(stderr, "rank 1 fails at restart count %d\n", count);
            return 1;
        }
        return 0;
    }
    if (!strcmp(mode, "always") && argc >= 3) {
        char path[4096];
        snprintf(path, sizeof path, "%s/launches.%d", argv[2], rank);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            (void)!write(fd, "x\n", 2);
            close(fd);
        }
        fprintf(stderr, "attempt %d failed\n", env_int("TORCHELASTIC_RESTART_COUNT"));
        return 1;
    }
    if (!strcmp(mode, "sleep") && argc >= 3) {
        write_pid(argv[2]);
        sleep(60);
        return 0;
    }
    if (!strcmp(mode, "group") && argc >= 4) {
        int count = env_int("TORCHELASTIC_RESTART_COUNT");
        so_comm *c;
        if (so_comm_init_from_env(&c) < 0 || barrier(c) < 0) {
            fprintf(stderr, "rank %d: group or first barrier failed: %s\n", rank, so_last_error());
            return 2;
        }
        if (rank == atoi(argv[2]) && count < atoi(argv[3])) {
            fprintf(stderr, "rank %d leaves the group at restart count %d\n", rank, count);
            return 1;
        }
        if (barrier(c) < 0) {
            fprintf(stderr, "rank %d: second barrier failed: %s\n", rank, so_last_error());
            return 3;
        }
        printf("group ok %d/%d count %d\n", rank, so_comm_size(c), count);
        so_comm_destroy(c);
        return 0;
    }
    if (!strcmp(mode, "cascade") && argc >= 3 && (rank == 0 || rank == 1)) {
        char fifo[4096];
        snprintf(fifo, sizeof fifo, "%s/fifo", argv[2]);
        if (mkfifo(fifo, 0600) < 0 && errno != EEXIST) {
            perror(fifo);
            return 90;
        }
        int fd = open(fifo, rank == 0 ? O_RDONLY : O_WRONLY); /* blocks until both opened it */
        if (fd < 0) {
            perror(fifo);
            return 90;
        }
        if (rank == 1) {
            nap_ms(50);
            fprintf(stderr, "rank 1 exits 3\n");
            return 3;
        }
        char b;
        while (read(fd, &b, 1) > 0) {
        }
        fprintf(stderr, "rank 0 saw rank 1 go and exits 4\n");
        return 4;
    }
    if (!strcmp(mode, "cascade")) {
        sleep(60);
        return 0;
    }
    if (!strcmp(mode, "early") && argc >= 3) {
        int count = env_int("TORCHELASTIC_RESTART_COUNT");
        printf("early attempt %d\n", count);
        fflush(stdout);
        if (rank != atoi(argv[2])) {
            so_comm *c;
            return so_comm_init_from_env(&c) < 0 ? 2 : 0;
        }
        so_store *st;
        if (so_store_create_tcp(getenv("MASTER_ADDR"), env_int("MASTER_PORT"), 10000, &st) < 0) {
            return 2;
        }
        char key[64], val[512];
        size_t len;
        snprintf(key, sizeof key, "world/r%d/info/0", count); /* the library's rendezvous key */
        int rc = so_store_get(st, key, val, sizeof val, &len, 10000);
        so_store_destroy(st);
        fprintf(stderr, "rank %d fails at start-up (rank 0 %s)\n", rank,
                rc == 0 ? "joined" : "never joined");
        return 1;
    }
    if (!strcmp(mode, "store")) {
        so_store *st;
        const char *host = getenv("MASTER_ADDR");
        int world = env_int("WORLD_SIZE");
        if (!host || so_store_create_tcp(host, env_int("MASTER_PORT"), 10000, &st) < 0) {
            fprintf(stderr, "cannot reach the store: %s\n", so_last_error());
            return 2;
        }
        char key[64], val[64];
        snprintf(key, sizeof key, "launch-test/%d", rank);
        snprintf(val, sizeof val, "hello from %d", rank);
        int rc = so_store_set(st, key, val, strlen(val) + 1);
        for (int r = 0; rc == 0 && r < world; r++) {
            char got[64];
            size_t len;
            snprintf(key, sizeof key, "launch-test/%d", r);
            snprintf(val, sizeof val, "hello from %d", r);
            rc = so_store_get(st, key, got, sizeof got, &len, 10000);
            if (rc == 0 && strcmp(got, val) != 0) {
                fprintf(stderr, "store returned '%s' for %s\n", got, key);
                rc = -1;
            }
        }
        /* Rank 0 leaves last, so the store (which ends with node 0's launcher) outlives every
         * other rank's reads. */
        snprintf(key, sizeof key, "launch-test/read/%d", rank);
        if (rc == 0) {
            rc = so_store_set(st, key, "1", 2);
        }
        for (int r = 0; rc == 0 && rank == 0 && r < world; r++) {
            char got[8];
            size_t len;
            snprintf(key, sizeof key, "launch-test/read/%d", r);
            rc = so_store_get(st, key, got, sizeof got, &len, 10000);
        }
        so_store_destroy(st);
        if (rc < 0) {
            fprintf(stderr, "store exchange failed: %s\n", so_last_error());
            return 3;
        }
        printf("store ok %d/%d\n", rank, world);
        return 0;
    }
    fprintf(stderr, "launch_worker: unknown mode '%s'\n", mode);
    return 64;
}
