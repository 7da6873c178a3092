/*
 * Socket helpers for the TCP store and the tcp transport: listen, connect with retry until a
 * deadline, and exact reads/writes on nonblocking sockets bounded by a deadline (poll between
 * attempts). IPv4 and IPv6 through getaddrinfo.
 * Cost: one system call per attempt; connect retries back off from 10 ms to 200 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

int so__ms_until(int64_t deadline_ns, int max_ms) {
    int64_t left = deadline_ns - so_now_ns();
    if (left <= 0) {
        return 0;
    }
    int64_t ms = (left + 999999) / 1000000;
    return ms > max_ms ? max_ms : (int)ms;
}

int so__net_set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return so__fail(SO_ESYS, "fcntl O_NONBLOCK: %s", strerror(errno));
    }
    return SO_OK;
}

void so__net_tune(int fd, int sockbuf) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sockbuf > 0) {
        /* The FORCE variants pass net.core.[rw]mem_max when the process may (CAP_NET_ADMIN);
         * otherwise the plain ones apply, clamped by the kernel. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sockbuf, sizeof sockbuf) != 0) {
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
        }
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sockbuf, sizeof sockbuf) != 0) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
        }
    }
}

int so__net_listen(const char *bind_addr, int port, int sockbuf, int *fd_out, int *port_out) {
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    const char *host = (bind_addr && *bind_addr) ? bind_addr : NULL;
    if (!host) {
        hints.ai_family = AF_INET;
    }
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0) {
        return so__fail(SO_EINVAL, "cannot resolve bind address '%s': %s", host ? host : "*",
                        gai_strerror(gai));
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        so__net_tune(fd, sockbuf);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return so__fail(SO_ESYS, "cannot listen on %s:%d: %s", host ? host : "*", port,
                        strerror(err));
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    so__net_set_nonblock(fd);
    *fd_out = fd;
    return SO_OK;
}

int so__net_wait(int fd, short events, int64_t deadline_ns) {
    for (;;) {
        int ms = so__ms_until(deadline_ns, 1000);
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, ms);
        if (r > 0) {
            return SO_OK;
        }
        if (r < 0 && errno != EINTR) {
            return so__fail(SO_ESYS, "poll: %s", strerror(errno));
        }
        if (so_now_ns() >= deadline_ns) {
            return SO_ETIMEDOUT;
        }
    }
}

int so__net_connect(const char *host, int port, int sockbuf, int64_t deadline_ns, int *fd_out) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int64_t backoff_ms = 10;
    int err = 0;
    for (;;) {
        struct addrinfo *res = NULL;
        int gai = getaddrinfo(host, ps, &hints, &res);
        if (gai != 0) {
            return so__fail(SO_EINVAL, "cannot resolve '%s': %s", host, gai_strerror(gai));
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            ai->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            so__net_tune(fd, sockbuf);
            int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
            if (r != 0 && errno == EINPROGRESS) {
                if (so__net_wait(fd, POLLOUT, deadline_ns) == SO_OK) {
                    int so_err = 0;
                    socklen_t l = sizeof so_err;
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &l);
                    r = so_err ? -1 : 0;
                    errno = so_err ? so_err : ETIMEDOUT;
                } else {
                    errno = ETIMEDOUT;
                }
            }
            if (r == 0) {
                freeaddrinfo(res);
                *fd_out = fd;
                return SO_OK;
            }
            err = errno;
            close(fd);
        }
        freeaddrinfo(res);
        int64_t now = so_now_ns();
        if (now >= deadline_ns) {
            break;
        }
        int64_t nap = backoff_ms * 1000000LL;
        so_sleep_ns(deadline_ns - now < nap ? deadline_ns - now : nap);
        backoff_ms = backoff_ms * 2 > 200 ? 200 : backoff_ms * 2;
    }
    return so__fail(SO_ETIMEDOUT, "cannot connect to %s:%d before the deadline: %s", host, port,
                    strerror(err));
}

int so__net_write_all(int fd, const void *buf, size_t n, int64_t deadline_ns) {
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            int rc = so__net_wait(fd, POLLOUT, deadline_ns);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        return SO_ECONNRESET;
    }
    return SO_OK;
}

int so__net_read_all(int fd, void *buf, size_t n, int64_t deadline_ns) {
    char *p = buf;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0) {
            return SO_ECONNRESET;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            int rc = so__net_wait(fd, POLLIN, deadline_ns);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        return SO_ECONNRESET;
    }
    return SO_OK;
}
