/*
 * A harness for driving the shm transport directly (below so_comm): fork n ranks that meet in a
 * file store in a fresh temporary directory, publish their pids, open the transport with every
 * other rank as a peer, run fn, close, and exit with fn's result. The parent waits up to
 * timeout_ms, kills every rank on expiry and returns 0 only if every rank exited 0, or was killed
 * by SIGKILL when its bit is set in killed_ok (fault-injection cases kill a rank on purpose).
 */
#ifndef TEST_SHM_HARNESS_H
#define TEST_SHM_HARNESS_H

#include "comm/transport.h"

typedef struct shm_rank {
    int rank, size;
    so__transport *t;
    so_store *store;
} shm_rank;

typedef int (*shm_rank_fn)(shm_rank *r, void *arg);

int shm_run(int n, shm_rank_fn fn, void *arg, int timeout_ms, unsigned killed_ok);

/* Fill a p2p send or receive (tag in the header, kind P2P). */
void shm_set_send(so__xfer *x, int peer, const void *buf, size_t len, uint32_t tag);
void shm_set_recv(so__xfer *x, int peer, void *buf, size_t len, uint32_t tag);
/* Post n transfers, drive progress until all completed or the deadline (ms from now);
 * returns the progress error or the first transfer's failure status. */
int shm_xfer(shm_rank *r, so__xfer *xs, int n, int timeout_ms);

#endif
