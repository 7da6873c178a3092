/*
 * Internal to the shared-memory transport (src/comm/shm/): the layout of the shared segment and
 * the per-process state that drives it.
 *
 * One segment per group on a host holds, for the m local members (sorted by rank):
 *   - a header (magic, version, member count and hash, ring size, attach counter),
 *   - one doorbell per member: a futex word other members bump to wake it, and a flag the member
 *     raises before it sleeps (so a publisher makes a syscall only when someone sleeps),
 *   - one single-producer single-consumer byte ring per ordered pair (sender, receiver): a head
 *     counter written only by the sender and a tail counter written only by the receiver, each on
 *     its own cache line, and ring_bytes of data (a power of two).
 * Counters count bytes since creation (64 bits never wrap in practice); position = counter & mask.
 * A message is a 64-byte record holding the so__msg_hdr, then the payload, padded to 64 bytes,
 * so every record starts on a cache line and a reduction element never straddles the wrap point.
 */
#ifndef SO_COMM_SHM_INTERNAL_H
#define SO_COMM_SHM_INTERNAL_H

#include <stdatomic.h>
#include <sys/types.h>

#include "comm/transport.h"

#define SO__SHM_MAGIC 0x534f5348u /* "SOSH" */
#define SO__SHM_VERSION 1u
#define SO__SHM_REC 64u        /* record alignment and header record size */
#define SO__SHM_RING_MIN 4096u /* smallest ring the knob may ask for */
#define SO__SHM_RING_MAX (1u << 30)

/* Segment header (first page). */
typedef struct so__shm_seg_hdr {
    _Atomic uint32_t magic; /* written last by the creator (release) */
    uint32_t version;
    uint32_t nlocal;
    uint32_t pad0;
    uint64_t ring_bytes;
    uint64_t members_hash; /* FNV-1a of the sorted member ranks */
    uint64_t total_bytes;
    _Alignas(128) _Atomic uint32_t attached; /* members that mapped it; futex word */
} so__shm_seg_hdr;

/* A member's doorbell: its own cache-line pair (the cpu word on the second line, so publishers,
 * who read only the first, never miss on it). */
typedef struct so__shm_bell {
    _Alignas(128) _Atomic uint32_t seq; /* bumped by wakers; the member futex-waits on it */
    _Atomic uint32_t sleeping;          /* 1 while the member is (about to be) asleep */
    _Alignas(64) _Atomic int32_t cpu;   /* CPU the member last waited on, + 1 (0 = unknown) */
    _Atomic uint32_t closed;            /* 1 once the member closed its transport */
} so__shm_bell;

/* Ring control: head and tail on separate 128-byte blocks (adjacent-line prefetch). */
typedef struct so__shm_ring_ctl {
    _Alignas(128) _Atomic uint64_t head; /* bytes published by the sender */
    _Alignas(128) _Atomic uint64_t tail; /* bytes consumed by the receiver */
} so__shm_ring_ctl;

/* The mapped segment as one process sees it. */
typedef struct so__shm_seg {
    void *base;
    size_t bytes;
    int nlocal;
    uint64_t ring_bytes;
    so__shm_seg_hdr *hdr;
    so__shm_bell *bells;    /* nlocal */
    so__shm_ring_ctl *ctls; /* nlocal * nlocal, diagonal unused */
    unsigned char *data;    /* nlocal * (nlocal - 1) rings */
} so__shm_seg;

/* Creates (the leader, local index 0) or attaches to the group's segment, then waits until every
 * member attached and unlinks its name, all within in->deadline_ns. members are the sorted local
 * ranks (this rank among them); ring_bytes is a power of two. On failure nothing is left behind. */
int so__shm_seg_open(const so__transport_init *in, const int *members, int nlocal,
                     uint64_t ring_bytes, so__shm_seg *seg);
void so__shm_seg_close(so__shm_seg *seg);
/* Control block and data of the ring from local index s to local index r. */
so__shm_ring_ctl *so__shm_seg_ctl(const so__shm_seg *seg, int s, int r);
unsigned char *so__shm_seg_ring(const so__shm_seg *seg, int s, int r);

/* Liveness of another process: a pidfd where the kernel has them (a zombie counts as dead),
 * else kill(pid, 0) plus the /proc state. */
typedef struct so__shm_pid {
    pid_t pid;
    int pidfd; /* -1 when unavailable */
} so__shm_pid;
void so__shm_pid_open(so__shm_pid *p, pid_t pid);
int so__shm_pid_alive(const so__shm_pid *p);
void so__shm_pid_close(so__shm_pid *p);

/* futex on a 32-bit word of the shared segment (not private: other processes wait on it too).
 * Waits while *w == val, at most timeout_ns; returns early on a wake, a signal or a change. */
void so__shm_futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t timeout_ns);
void so__shm_futex_wake(_Atomic uint32_t *w);

#endif
