/*
 * The rendezvous stores: set/get/add/wait on the file store and on the TCP store (server in
 * this process), a get that times out names its key, concurrent adds from several threads sum
 * exactly, and a client that sends a malformed frame is dropped while the server keeps serving.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scaleout/comm.h"
#include "so_test.h"

typedef struct adder {
    so_store *s;
    int n;
} adder;

static void *add_many(void *p) {
    adder *a = p;
    for (int i = 0; i < a->n; i++) {
        int64_t v;
        if (so_store_add(a->s, "counter", 1, &v) < 0) {
            return (void *)1;
        }
    }
    return NULL;
}

static void *late_set(void *p) {
    so_sleep_ns(50000000);
    so_store_set(p, "late", "here", 4);
    return NULL;
}

/* The checks both stores pass. make_extra makes a second client of the same store. */
static int exercise(so_store *s, so_store *(*make_extra)(void *), void *ctx) {
    char buf[64] = {0};
    size_t len = 0;
    CHECK_OK(so_store_set(s, "a/b c", "hello", 5));
    CHECK_OK(so_store_get(s, "a/b c", buf, sizeof buf, &len, 1000));
    CHECK_EQ_INT(len, 5);
    CHECK_MEM_EQ(buf, "hello", 5);
    CHECK_OK(so_store_set(s, "a/b c", "bye", 3)); /* overwrite */
    CHECK_OK(so_store_get(s, "a/b c", buf, 2, &len, 1000));
    CHECK_EQ_INT(len, 3); /* full length even when cap is smaller */
    CHECK_MEM_EQ(buf, "by", 2);
    CHECK_OK(so_store_set(s, "empty", "", 0));
    CHECK_OK(so_store_get(s, "empty", buf, sizeof buf, &len, 1000));
    CHECK_EQ_INT(len, 0);
    /* A missing key times out and names the key. */
    double t0 = so_now_s();
    CHECK_EQ_INT(so_store_get(s, "never/there", buf, sizeof buf, &len, 200), SO_ETIMEDOUT);
    CHECK(so_now_s() - t0 >= 0.19);
    CHECK(strstr(so_last_error(), "never/there") != NULL);
    /* A waiter sees a key set later by another client. */
    so_store *other = make_extra(ctx);
    CHECK(other != NULL);
    pthread_t th;
    pthread_create(&th, NULL, late_set, other);
    const char *keys[] = {"a/b c", "late"};
    CHECK_OK(so_store_wait(s, keys, 2, 5000));
    pthread_join(th, NULL);
    CHECK_OK(so_store_get(s, "late", buf, sizeof buf, &len, 0));
    CHECK_MEM_EQ(buf, "here", 4);
    const char *missing[] = {"late", "nope"};
    CHECK_EQ_INT(so_store_wait(s, missing, 2, 100), SO_ETIMEDOUT);
    CHECK(strstr(so_last_error(), "nope") != NULL);
    /* add: missing = 0, concurrent adds from two clients sum exactly. */
    int64_t v = 0;
    CHECK_OK(so_store_add(s, "counter", 5, &v));
    CHECK_EQ_INT(v, 5);
    adder a1 = {s, 200}, a2 = {other, 200};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, add_many, &a1);
    pthread_create(&t2, NULL, add_many, &a2);
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    CHECK(r1 == NULL && r2 == NULL);
    CHECK_OK(so_store_add(s, "counter", 0, &v));
    CHECK_EQ_INT(v, 405);
    CHECK_OK(so_store_get(s, "counter", buf, sizeof buf - 1, &len, 0));
    buf[len] = 0;
    CHECK_STR_EQ(buf, "405");
    CHECK_EQ_INT(so_store_set(s, "", "x", 1), SO_EINVAL);
    so_store_destroy(other);
    return 0;
}

static so_store *file_extra(void *dir) {
    so_store *s = NULL;
    return so_store_create_file(dir, &s) == SO_OK ? s : NULL;
}

static int t_file(void) {
    char dir[] = "/tmp/so-store-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    so_store *s;
    CHECK_EQ_INT(so_store_create_file("/nonexistent/dir", &s), SO_EINVAL);
    CHECK_OK(so_store_create_file(dir, &s));
    int rc = exercise(s, file_extra, dir);
    so_store_destroy(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}

static so_store *tcp_extra(void *srv) {
    so_store *s = NULL;
    return so_store_create_tcp("127.0.0.1", so_store_server_port(srv), 2000, &s) == SO_OK ? s
                                                                                          : NULL;
}

static int t_tcp(void) {
    so_store_server *srv;
    CHECK_OK(so_store_server_start("127.0.0.1", 0, &srv));
    CHECK(so_store_server_port(srv) > 0);
    so_store *s;
    int port = so_store_server_port(srv);
    CHECK_OK(so_store_create_tcp("127.0.0.1", port, 2000, &s));
    int rc = exercise(s, tcp_extra, srv);
    so_store_destroy(s);
    so_store_server_stop(srv);
    /* Nothing listens any more: connecting fails within the timeout, naming the address. */
    double t0 = so_now_s();
    CHECK_EQ_INT(so_store_create_tcp("127.0.0.1", port, 300, &s), SO_ETIMEDOUT);
    CHECK(so_now_s() - t0 < 5.0);
    CHECK(strstr(so_last_error(), "127.0.0.1") != NULL);
    return rc;
}

static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int t_malformed_frame(void) {
    so_store_server *srv;
    CHECK_OK(so_store_server_start("127.0.0.1", 0, &srv));
    int port = so_store_server_port(srv);
    /* Garbage, a frame claiming a huge key, and a frame cut short: each connection is dropped. */
    const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    uint32_t huge[6] = {0x534f5331u, 1, 1u << 30, 0, 0, 0};
    const void *frames[] = {garbage, huge};
    size_t lens[] = {sizeof garbage, sizeof huge};
    for (int i = 0; i < 2; i++) {
        int fd = raw_connect(port);
        CHECK(fd >= 0);
        CHECK_EQ_INT(write(fd, frames[i], lens[i]), (long long)lens[i]);
        char b;
        CHECK_EQ_INT(read(fd, &b, 1), 0); /* the server closed it */
        close(fd);
    }
    int fd = raw_connect(port);
    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, huge, 10), 10); /* half a header, then hang up */
    close(fd);
    /* The server still serves a good client. */
    so_store *s;
    CHECK_OK(so_store_create_tcp("127.0.0.1", port, 2000, &s));
    CHECK_OK(so_store_set(s, "k", "v", 1));
    char buf[4];
    size_t len;
    CHECK_OK(so_store_get(s, "k", buf, sizeof buf, &len, 1000));
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(buf[0], 'v');
    so_store_destroy(s);
    so_store_server_stop(srv);
    return 0;
}

static int count_fds(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return -1;
    }
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

/* Random frames (a seeded xorshift): some pure noise, some with the right magic and random
 * fields, some valid headers cut short. The server must survive all of them and keep serving. */
static int t_random_frames(void) {
    so_store_server *srv;
    CHECK_OK(so_store_server_start("127.0.0.1", 0, &srv));
    int port = so_store_server_port(srv);
    int fds_before = count_fds();
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 300; i++) {
        uint32_t buf[64];
        for (int j = 0; j < 64; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[j] = (uint32_t)x;
        }
        if (i % 3 != 0) {
            buf[0] = 0x534f5331u; /* the right magic */
            buf[1] %= 6;          /* ops 0..5, some unknown */
            buf[2] %= 2000;       /* key lengths around the limit */
            buf[4] = i % 5 == 0 ? 8 : buf[4] % 64;
            buf[5] = 0;
        }
        size_t len = (size_t)(x % sizeof buf) + 1;
        int fd = raw_connect(port);
        CHECK(fd >= 0);
        if (write(fd, buf, len) < 0) {
            /* The server may already have hung up: that is allowed. */
        }
        close(fd);
    }
    /* Every one of those connections is closed again on the server's side, including gets
     * parked with huge timeouts whose client hung up. */
    int64_t deadline = so_deadline_after_ms(5000);
    while (count_fds() > fds_before && so_now_ns() < deadline) {
        so_sleep_ns(10000000);
    }
    CHECK_EQ_INT(count_fds(), fds_before);
    so_store *s;
    CHECK_OK(so_store_create_tcp("127.0.0.1", port, 2000, &s));
    int64_t v = 0;
    CHECK_OK(so_store_add(s, "after", 3, &v));
    CHECK_EQ_INT(v, 3);
    so_store_destroy(s);
    so_store_server_stop(srv);
    return 0;
}

SO_TEST_MAIN({"random_frames", t_random_frames}, {"file", t_file}, {"tcp", t_tcp},
             {"malformed_frame", t_malformed_frame})
