/*
 * The smallest real job: create the process group from the launcher's environment, pass one
 * barrier (every rank sends a byte to rank 0, which answers each once all arrived), destroy it.
 * `hyperfine -N 'scaleout run -n 4 -- launch_barrier'` measures the launcher's start-up with it
 * (docs/design/launch.md). With -v every rank prints its rank, size and transport to rank 0.
 */
#include <string.h>

#include "scaleout/comm.h"

int main(int argc, char **argv) {
    int verbose = argc > 1 && !strcmp(argv[1], "-v");
    so_comm *c;
    SO_CHECK(so_comm_init_from_env(&c));
    int r = so_comm_rank(c), k = so_comm_size(c);
    char b = 1;
    if (r == 0) {
        for (int p = 1; p < k; p++) {
            SO_CHECK(so_recv(c, &b, 1, p, 7));
        }
        for (int p = 1; p < k; p++) {
            SO_CHECK(so_send(c, &b, 1, p, 8));
        }
    } else {
        SO_CHECK(so_send(c, &b, 1, 0, 7));
        SO_CHECK(so_recv(c, &b, 1, 0, 8));
    }
    if (verbose) {
        printf("rank %d of %d passed the barrier (transport to rank 0: %s)\n", r, k,
               so_comm_transport_name(c, 0));
    }
    so_comm_destroy(c);
    return 0;
}
