/*
 * Internal: small socket helpers shared by the TCP store and the tcp transport. Every call that
 * can block takes an absolute deadline (so_now_ns clock) and uses poll on a nonblocking socket.
 */
#ifndef SO_COMM_NET_H
#define SO_COMM_NET_H

#include "scaleout/core.h"

/* Listens on bind_addr (NULL or "" = all interfaces) and port (0 = any); *port_out gets the port.
 * sockbuf > 0 sets SO_RCVBUF/SO_SNDBUF before listen so accepted sockets inherit them. */
int so__net_listen(const char *bind_addr, int port, int sockbuf, int *fd_out, int *port_out);
/* Connects to host:port, retrying refused connections with backoff until the deadline.
 * The socket is returned nonblocking with TCP_NODELAY set. */
int so__net_connect(const char *host, int port, int sockbuf, int64_t deadline_ns, int *fd_out);
int so__net_set_nonblock(int fd);
void so__net_tune(int fd, int sockbuf);
/* Write or read exactly n bytes before the deadline on a nonblocking socket.
 * Errors: SO_ETIMEDOUT, SO_ECONNRESET (EOF or reset). */
int so__net_write_all(int fd, const void *buf, size_t n, int64_t deadline_ns);
int so__net_read_all(int fd, void *buf, size_t n, int64_t deadline_ns);
/* Waits until fd has events (POLLIN/POLLOUT) or the deadline passes (SO_ETIMEDOUT). */
int so__net_wait(int fd, short events, int64_t deadline_ns);
/* Milliseconds (rounded up, at least 0) until the deadline, capped at max_ms. */
int so__ms_until(int64_t deadline_ns, int max_ms);

#endif
