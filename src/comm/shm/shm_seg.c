/*
 * The shared segment of the shm transport: creating, attaching and unlinking it, plus the two
 * small OS helpers the transport needs (futex wait/wake and peer liveness).
 *
 * Rendezvous: the leader (lowest local rank) creates a POSIX shared-memory object with a unique
 * name ("/so.<prefix>.<pid>.<random>"), reserves its memory with posix_fallocate (so a full
 * /dev/shm fails here with an error, not later with SIGBUS), maps it, writes the header with the
 * magic last, and publishes the name in the store under "<prefix>/shm/<leader>". Every other member
 * reads the name, maps the object, checks magic, version, member count and member hash, and
 * increments the attach counter. The leader waits (futex on the counter, checking the members'
 * pids and the deadline) until all members attached and then unlinks the name, so after open
 * nothing can leak even if every process is SIGKILLed; on any failure it unlinks at once. If the
 * leader cannot build the segment at all (no /dev/shm, no room, no permission) it publishes
 * "!<reason>" instead of a name and every local rank returns SO_ENOTSUP, so transport "auto"
 * hands these peers to tcp on all of them alike.
 * Cost: one store round trip and one mapping of nlocal*(nlocal-1)*ring_bytes plus a few pages.
 * Limits: the members must agree on the member list (checked by hash); Linux only (futex, pidfd).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm_internal.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "shared 64-bit counters must be lock free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "shared 32-bit words must be lock free");
_Static_assert(sizeof(so__msg_hdr) <= SO__SHM_REC, "a message header fits one record");

#define PAGE 4096u

static size_t round_up(size_t x, size_t a) {
    return (x + a - 1) / a * a;
}

/* ---- futex ---- */

void so__shm_futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t timeout_ns) {
    if (timeout_ns <= 0) {
        return;
    }
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000LL,
                          .tv_nsec = timeout_ns % 1000000000LL};
    /* EAGAIN (value changed), EINTR and ETIMEDOUT all mean: look again. */
    (void)syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val, &ts, NULL, 0);
}

void so__shm_futex_wake(_Atomic uint32_t *w) {
    (void)syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- liveness ---- */

void so__shm_pid_open(so__shm_pid *p, pid_t pid) {
    p->pid = pid;
    p->pidfd = -1;
#ifdef SYS_pidfd_open
    if (pid > 0) {
        long fd = syscall(SYS_pidfd_open, pid, 0);
        if (fd >= 0) {
            p->pidfd = (int)fd;
            (void)fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
        }
    }
#endif
}

int so__shm_pid_alive(const so__shm_pid *p) {
    if (p->pid <= 0) {
        return 1; /* unknown: only the deadline can tell */
    }
    if (p->pidfd >= 0) {
        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
        return poll(&pfd, 1, 0) == 0; /* readable once the process exited (zombie included) */
    }
    if (kill(p->pid, 0) != 0 && errno == ESRCH) {
        return 0;
    }
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return 1;
    }
    buf[n] = 0;
    const char *rp = strrchr(buf, ')'); /* the state follows the parenthesised command name */
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

void so__shm_pid_close(so__shm_pid *p) {
    if (p->pidfd >= 0) {
        close(p->pidfd);
    }
    p->pidfd = -1;
}

/* ---- layout ---- */

typedef struct layout {
    size_t bells, ctls, data, total;
} layout;

static layout layout_of(int n, uint64_t ring_bytes) {
    layout l;
    l.bells = PAGE;
    l.ctls = round_up(l.bells + (size_t)n * sizeof(so__shm_bell), PAGE);
    l.data = round_up(l.ctls + (size_t)n * (size_t)n * sizeof(so__shm_ring_ctl), PAGE);
    l.total = l.data + (size_t)n * (size_t)(n > 1 ? n - 1 : 0) * (size_t)ring_bytes;
    return l;
}

so__shm_ring_ctl *so__shm_seg_ctl(const so__shm_seg *seg, int s, int r) {
    return &seg->ctls[(size_t)s * (size_t)seg->nlocal + (size_t)r];
}

unsigned char *so__shm_seg_ring(const so__shm_seg *seg, int s, int r) {
    size_t idx = (size_t)s * (size_t)(seg->nlocal - 1) + (size_t)(r < s ? r : r - 1);
    return seg->data + idx * seg->ring_bytes;
}

static uint64_t members_hash(const int *members, int n) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)members[i];
        for (int b = 0; b < 4; b++) {
            h ^= (v >> (8 * b)) & 0xffu;
            h *= 1099511628211ULL;
        }
    }
    return h;
}

static void fill_seg(so__shm_seg *seg, void *base, size_t bytes, int n, uint64_t ring_bytes) {
    layout l = layout_of(n, ring_bytes);
    seg->base = base;
    seg->bytes = bytes;
    seg->nlocal = n;
    seg->ring_bytes = ring_bytes;
    seg->hdr = base;
    seg->bells = (so__shm_bell *)((char *)base + l.bells);
    seg->ctls = (so__shm_ring_ctl *)((char *)base + l.ctls);
    seg->data = (unsigned char *)base + l.data;
}

/* Milliseconds left until deadline_ns, at least 1, capped so it fits an int. */
static int ms_left(int64_t deadline_ns) {
    if (deadline_ns == INT64_MAX) {
        return INT_MAX;
    }
    int64_t ms = (deadline_ns - so_now_ns()) / 1000000;
    if (ms < 1) {
        return 1;
    }
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void make_name(char *name, size_t cap, const char *prefix) {
    char clean[48];
    size_t j = 0;
    for (const char *p = prefix ? prefix : ""; *p && j < sizeof clean - 1; p++) {
        char c = *p;
        clean[j++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_')
                         ? c
                         : '_';
    }
    clean[j] = 0;
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        rnd = (uint64_t)so_now_ns() * 0x9e3779b97f4a7c15ULL;
    }
    snprintf(name, cap, "/so.%s.%d.%016llx", clean, (int)getpid(), (unsigned long long)rnd);
}

/* The leader waits until all n members attached (or a member died, or the deadline passed). */
static int wait_attached(so__shm_seg *seg, const so__transport_init *in, const int *members,
                         int n) {
    int64_t last_check = so_now_ns();
    for (;;) {
        uint32_t a = atomic_load_explicit(&seg->hdr->attached, memory_order_acquire);
        if ((int)a >= n) {
            return SO_OK;
        }
        int64_t now = so_now_ns();
        if (now >= in->deadline_ns) {
            return so__fail(SO_ETIMEDOUT,
                            "shm transport: only %u of %d local ranks attached to the shared "
                            "segment before the deadline",
                            a, n);
        }
        if (now - last_check >= 50000000 && in->pids) {
            last_check = now;
            for (int i = 1; i < n; i++) {
                so__shm_pid p;
                so__shm_pid_open(&p, (pid_t)in->pids[members[i]]);
                int alive = so__shm_pid_alive(&p);
                so__shm_pid_close(&p);
                if (!alive) {
                    return so__fail(SO_EPEER,
                                    "shm transport: rank %d (pid %d) exited before attaching "
                                    "to the shared segment",
                                    members[i], in->pids[members[i]]);
                }
            }
        }
        int64_t left = in->deadline_ns - now;
        so__shm_futex_wait(&seg->hdr->attached, a, left < 50000000 ? left : 50000000);
    }
}

/* The leader could not build the segment: it tells the others through the store (a name
 * starting with '!'), so every local rank returns SO_ENOTSUP and transport "auto" consistently
 * hands these peers to tcp instead. The detail of the failure stays in so_last_error. */
static int unavailable(const so__transport_init *in, int leader, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int unavailable(const so__transport_init *in, int leader, const char *fmt, ...) {
    char msg[300], key[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 1, sizeof msg - 1, fmt, ap);
    va_end(ap);
    msg[0] = '!';
    snprintf(key, sizeof key, "%s/shm/%d", in->prefix ? in->prefix : "", leader);
    (void)so_store_set(in->store, key, msg, strlen(msg) + 1);
    return so__fail(SO_ENOTSUP, "%s", msg + 1);
}

static int create_leader(const so__transport_init *in, const int *members, int n,
                         uint64_t ring_bytes, so__shm_seg *seg) {
    layout l = layout_of(n, ring_bytes);
    char name[128], key[256];
    make_name(name, sizeof name, in->prefix);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return unavailable(in, members[0], "shm transport: shm_open(%s) failed: %s", name,
                           strerror(errno));
    }
    int rc = SO_OK;
    void *base = MAP_FAILED;
    if (ftruncate(fd, (off_t)l.total) != 0) {
        rc = unavailable(in, members[0], "shm transport: ftruncate(%s, %zu) failed: %s", name,
                         l.total, strerror(errno));
        goto fail;
    }
    int e = posix_fallocate(fd, 0, (off_t)l.total);
    if (e != 0 && e != EOPNOTSUPP && e != EINVAL) {
        rc = unavailable(in, members[0],
                         "shm transport: cannot reserve %zu bytes in /dev/shm for %d local ranks "
                         "(%s); lower SO_SHM_RING_BYTES",
                         l.total, n, strerror(e));
        goto fail;
    }
    base = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        rc = unavailable(in, members[0], "shm transport: mmap of %zu bytes failed: %s", l.total,
                         strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    fill_seg(seg, base, l.total, n, ring_bytes);
    seg->hdr->version = SO__SHM_VERSION;
    seg->hdr->nlocal = (uint32_t)n;
    seg->hdr->ring_bytes = ring_bytes;
    seg->hdr->members_hash = members_hash(members, n);
    seg->hdr->total_bytes = l.total;
    atomic_store_explicit(&seg->hdr->attached, 1, memory_order_relaxed);
    atomic_store_explicit(&seg->hdr->magic, SO__SHM_MAGIC, memory_order_release);
    snprintf(key, sizeof key, "%s/shm/%d", in->prefix ? in->prefix : "", members[0]);
    rc = so_store_set(in->store, key, name, strlen(name) + 1);
    if (rc < 0) {
        goto fail;
    }
    rc = wait_attached(seg, in, members, n);
    shm_unlink(name);
    if (rc < 0) {
        munmap(base, l.total);
        memset(seg, 0, sizeof *seg);
    }
    return rc;
fail:
    if (base != MAP_FAILED) {
        munmap(base, l.total);
    }
    if (fd >= 0) {
        close(fd);
    }
    shm_unlink(name);
    memset(seg, 0, sizeof *seg);
    return rc;
}

static int attach_member(const so__transport_init *in, const int *members, int n,
                         uint64_t ring_bytes, so__shm_seg *seg) {
    char name[320], key[256];
    size_t len = 0;
    snprintf(key, sizeof key, "%s/shm/%d", in->prefix ? in->prefix : "", members[0]);
    int rc = so_store_get(in->store, key, name, sizeof name - 1, &len, ms_left(in->deadline_ns));
    if (rc < 0) {
        return rc;
    }
    name[len < sizeof name ? len : sizeof name - 1] = 0;
    if (name[0] == '!') {
        return so__fail(SO_ENOTSUP, "rank %d could not create the shared segment: %s", members[0],
                        name + 1);
    }
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        return so__fail(SO_ESYS,
                        "shm transport: cannot open the segment %s of rank %d: %s (is rank %d "
                        "on this host and alive?)",
                        name, members[0], strerror(errno), members[0]);
    }
    layout l = layout_of(n, ring_bytes);
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size != l.total) {
        close(fd);
        return so__fail(SO_EPROTO,
                        "shm transport: segment %s has %lld bytes, expected %zu (do all local "
                        "ranks use the same SO_SHM_RING_BYTES?)",
                        name, (long long)st.st_size, l.total);
    }
    void *base = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        return so__fail(SO_ESYS, "shm transport: mmap of %s failed: %s", name, strerror(errno));
    }
    fill_seg(seg, base, l.total, n, ring_bytes);
    so__shm_seg_hdr *h = seg->hdr;
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != SO__SHM_MAGIC ||
        h->version != SO__SHM_VERSION || h->nlocal != (uint32_t)n || h->ring_bytes != ring_bytes ||
        h->members_hash != members_hash(members, n)) {
        munmap(base, l.total);
        memset(seg, 0, sizeof *seg);
        return so__fail(SO_EPROTO,
                        "shm transport: segment %s does not match this group (ranks on this host "
                        "disagree on the member list or ring size)",
                        name);
    }
    atomic_fetch_add_explicit(&h->attached, 1, memory_order_acq_rel);
    so__shm_futex_wake(&h->attached);
    return SO_OK;
}

int so__shm_seg_open(const so__transport_init *in, const int *members, int nlocal,
                     uint64_t ring_bytes, so__shm_seg *seg) {
    memset(seg, 0, sizeof *seg);
    if (members[0] == in->rank) {
        return create_leader(in, members, nlocal, ring_bytes, seg);
    }
    return attach_member(in, members, nlocal, ring_bytes, seg);
}

void so__shm_seg_close(so__shm_seg *seg) {
    if (seg->base) {
        munmap(seg->base, seg->bytes);
    }
    memset(seg, 0, sizeof *seg);
}
