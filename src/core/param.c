/*
 * Every environment knob of scaleout, in one table: its name, default and a sentence of help.
 * `scaleout info` prints the table, so a knob that exists is a knob that is documented.
 * Add a knob by adding a row; so_param_str asserts the name is here.
 * Cost: a linear scan of ~30 rows and one getenv per lookup; callers cache hot values.
 */
#include <string.h>

#include "scaleout/core.h"

static const so_param_info params[] = {
    {"SO_LOG", "warn", "Log level: error, warn, info or debug."},
    {"SO_TIMEOUT_MS", "30000", "Deadline of every blocking communication call, in milliseconds."},
    {"SO_TRANSPORT", "auto",
     "Transport between ranks: auto (shm on one host, tcp across, or mpi across under mpirun), "
     "shm, tcp, mpi (every peer over MPI)."},
    {"SO_MPI", "auto",
     "Under mpirun (MPI built in): auto initialises MPI if the program has not and reaches other "
     "hosts over it; 0 never touches MPI."},
    {"SO_ALGO", "auto",
     "Force a collective algorithm (naive, tree, ring, hd, ...) instead of the selector."},
    {"SO_SHM_RING_BYTES", "1048576",
     "Capacity of each shared-memory ring between two ranks, in bytes."},
    {"SO_SHM_SPIN_NS", "20000",
     "How long a shared-memory wait spins before sleeping on a futex (0 = never spin)."},
    {"SO_TCP_BIND_ADDR", "", "Address the tcp transport listens on (default: all interfaces)."},
    {"SO_TCP_ADVERTISE_ADDR", "",
     "Address other ranks use to reach this one (default: MASTER_ADDR's route, or 127.0.0.1)."},
    {"SO_TCP_SOCKBUF", "4194304",
     "Socket send and receive buffer size for the tcp transport, in bytes."},
    {"SO_TCP_SPIN_NS", "20000",
     "How long a tcp wait polls the sockets without sleeping before it blocks in poll (0 = never; "
     "off when the group has more ranks than CPUs)."},
    {"SO_TCP_REDUCE_PIECE", "262144",
     "Bytes a tcp receive-reduce reads before combining them into the destination (4 KiB .. 1 "
     "MiB)."},
    {"SO_COLL_NODE_SIZE", "0",
     "Ranks per node for the hierarchical all-reduce (0 = the real hosts); lets one machine stand "
     "in for several nodes."},
    {"SO_HIER_MIN_BYTES", "65536",
     "All-reduces of at least this many bytes on a group spanning hosts use the two-level "
     "algorithm."},
    {"SO_RD_MAX_BYTES", "4096",
     "Largest all-reduce (bytes per rank) the selector may run by recursive doubling, the "
     "latency-optimal algorithm."},
    {"SO_BUCKET_CAP", "25M",
     "Gradient bucket size of the data-parallel reducer (so_reducer, like DDP's bucket_cap_mb) "
     "when its options leave it 0."},
    {"SO_COLL_CHUNK_BYTES", "1M",
     "Chunk size of pipelined collectives (ring all-reduce blocks, chain broadcast)."},
    {"SO_COLL_TCP_CHUNK_BYTES", "256K",
     "Ring all-reduce chunk size in a group that uses tcp, unless SO_COLL_CHUNK_BYTES is set "
     "(smaller chunks keep loopback copies in cache)."},
    {"SO_HOST_ID", "",
     "Overrides this process's host identity (default: host name + network namespace); ranks with "
     "different ids count as different hosts, e.g. to test multi-host paths on one machine."},
    {"SO_JOB_ID", "",
     "Job id that names the file store /dev/shm/scaleout-<id> when ranks meet without MASTER_ADDR "
     "(default: from Open MPI or Slurm)."},
    {"SO_ALPHA_BETA", "",
     "Alpha-beta model for the collective selector as 'alpha_us,GBps' (default: "
     "so_coll_calibrate's fit when run, else a per-transport default)."},
    {"SO_PROGRESS", "auto",
     "Progress lines on stderr: auto (only on a terminal), 1 (always) or 0 (never)."},
    {"SO_ML_THREADS", "0",
     "Threads of the ml pool that runs model kernels and GEMMs (0 = online CPUs divided by "
     "LOCAL_WORLD_SIZE, the ranks on this host)."},
    {"SO_ML_SPIN_NS", "50000",
     "How long an idle ml pool thread spins before sleeping, in nanoseconds."},
    {"SO_ML_CHUNKS", "4",
     "Batch chunks of a GPT step: threads claim chunks, each with its own gradient array summed in "
     "a fixed order (results do not depend on the thread count)."},
    {"SO_ML_PROFILE", "0",
     "1 = time each kernel class of the GPT forward/backward (so_gpt_profile)."},
    {"SO_PROGRESS_MS", "500", "Minimum time between two progress lines, in milliseconds."},
    {"SO_SKLEARN_DATA_DIR", "/usr/lib/python3/dist-packages/sklearn/datasets/data",
     "Directory of scikit-learn's bundled CSV datasets (digits, iris, ...), from the Debian "
     "package python3-sklearn."},
    {"SO_FORTUNES_DIR", "/usr/share/games/fortunes",
     "Directory of the fortune text files (Debian package fortunes) used as the language-model "
     "corpus."},
};

static const so_param_info *find(const char *env) {
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        if (!strcmp(params[i].env, env)) {
            return &params[i];
        }
    }
    return NULL;
}

const char *so_param_str(const char *env) {
    const so_param_info *p = find(env);
    SO_ASSERT(p != NULL && "knob missing from src/core/param.c");
    const char *v = getenv(env);
    return (v && *v) ? v : p->dflt;
}

int64_t so_param_int(const char *env) {
    return strtoll(so_param_str(env), NULL, 10);
}

double so_param_double(const char *env) {
    return strtod(so_param_str(env), NULL);
}

const so_param_info *so_param_table(size_t *n) {
    *n = sizeof params / sizeof params[0];
    return params;
}
