/*
 * so_comm_init_from_env: a group from what the launcher put in the environment.
 *
 * Rank and size, first hit wins: SO_RANK/SO_WORLD_SIZE, torchrun's RANK/WORLD_SIZE, Open MPI's
 * OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/PMI_SIZE (MPICH), Slurm's SLURM_PROCID/SLURM_NTASKS; the
 * source is logged at info. The same source's local rank and size (LOCAL_RANK/LOCAL_WORLD_SIZE,
 * OMPI_COMM_WORLD_LOCAL_*, MPI_LOCALRANKID/MPI_LOCALNRANKS) win over the ones derived from host
 * ids when both are set. Rendezvous:
 *   - MASTER_ADDR and MASTER_PORT set: the TCP store there (`scaleout run` serves it). Rank 0
 *     first tries to serve it itself on that address (which fails harmlessly when the launcher
 *     already listens there), so hand-started processes with those variables work too.
 *   - otherwise, one host under mpirun or srun: a file store in /dev/shm/scaleout-<job id>, the
 *     job id from SO_JOB_ID, PMIX_NAMESPACE, OMPI_MCA_orte_ess_jobid or SLURM_JOB_ID.SLURM_STEP_ID.
 *     Rank 0 removes the directory at so_comm_destroy (after every rank said goodbye).
 *   - nothing set: a group of one.
 * Under Open MPI's launcher, when MPI is built in (and SO_MPI is not 0): MPI is initialised
 * if the application has not (MPI_THREAD_MULTIPLE), rank and size come from MPI_COMM_WORLD, and
 * the group reaches peers on other hosts over the mpi transport (shm still serves same-host
 * peers; SO_TRANSPORT=mpi makes every peer mpi). Rendezvous is as above on one host; across
 * hosts without MASTER_ADDR, rank 0 serves a TCP store and broadcasts its address over MPI
 * (SO_TCP_ADVERTISE_ADDR, else its first non-loopback IPv4 address). so_comm_destroy of this
 * group calls MPI_Finalize if we initialised MPI.
 * Limits: the file store works for one host only; a stale directory from a crashed run with the
 * same job id is reused (job ids are unique per launch under Open MPI and Slurm).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>

#include "comm_priv.h"

static int env_int(const char *name, int *out) {
    const char *v = getenv(name);
    if (!v || !*v) {
        return 0;
    }
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < 0 || x > 1 << 24) {
        return 0;
    }
    *out = (int)x;
    return 1;
}

static const char *job_id(char *buf, size_t cap) {
    const char *v;
    if ((v = so_param_str("SO_JOB_ID")) && *v) {
        snprintf(buf, cap, "%s", v);
    } else if ((v = getenv("PMIX_NAMESPACE")) && *v) {
        snprintf(buf, cap, "%s", v);
    } else if ((v = getenv("OMPI_MCA_orte_ess_jobid")) && *v) {
        snprintf(buf, cap, "%s", v);
    } else if ((v = getenv("SLURM_JOB_ID")) && *v) {
        const char *step = getenv("SLURM_STEP_ID");
        snprintf(buf, cap, "%s.%s", v, step && *step ? step : "0");
    } else {
        return NULL;
    }
    for (char *p = buf; *p; p++) {
        if (*p == '/' || *p == ' ') {
            *p = '_';
        }
    }
    return buf;
}

/* The first non-loopback IPv4 address of this host, for peers on other hosts. */
static void first_ipv4(char *out, size_t cap) {
    snprintf(out, cap, "127.0.0.1");
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        return;
    }
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK) &&
            (i->ifa_flags & IFF_UP)) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out,
                      (socklen_t)cap);
            break;
        }
    }
    freeifaddrs(ifs);
}

/* Across hosts under MPI: rank 0 serves a TCP store and tells everyone where over MPI_Bcast. */
static int mpi_tcp_store(int rank, int timeout_ms, so_store **store, so_store_server **server) {
    char where[300] = "";
    if (rank == 0) {
        const char *bind = so_param_str("SO_TCP_BIND_ADDR");
        if (so_store_server_start(*bind ? bind : "0.0.0.0", 0, server) == SO_OK) {
            char host[256];
            const char *adv = so_param_str("SO_TCP_ADVERTISE_ADDR");
            if (*adv) {
                snprintf(host, sizeof host, "%s", adv);
            } else {
                first_ipv4(host, sizeof host);
            }
            snprintf(where, sizeof where, "%s %d", host, so_store_server_port(*server));
        }
    }
    SO_TRY(so__mpi_bcast(where, (int)sizeof where, 0));
    char host[256];
    int port = 0;
    if (sscanf(where, "%255s %d", host, &port) != 2) {
        return so__fail(SO_EIO, "so_comm_init_from_env: rank 0 could not serve the store");
    }
    SO_LOGI("store at %s:%d (served by rank 0, found over MPI)", host, port);
    return so_store_create_tcp(host, port, timeout_ms, store);
}

int so_comm_init_from_env(so_comm **out) {
    *out = NULL;
    /* rank, size, local rank, local size (NULL: derived from host ids), description */
    static const char *const sources[][5] = {
        {"SO_RANK", "SO_WORLD_SIZE", "SO_LOCAL_RANK", "SO_LOCAL_WORLD_SIZE", "scaleout (SO_RANK)"},
        {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "torchrun (RANK/WORLD_SIZE)"},
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
         "OMPI_COMM_WORLD_LOCAL_SIZE", "Open MPI (OMPI_COMM_WORLD_*)"},
        {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "PMI (PMI_RANK/PMI_SIZE)"},
        {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", NULL,
         "Slurm (SLURM_PROCID/SLURM_NTASKS)"},
    };
    int rank = 0, size = 1, local_rank = -1, local_size = -1;
    const char *src = "nothing set: a group of one";
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        if (env_int(sources[i][0], &rank) && env_int(sources[i][1], &size)) {
            src = sources[i][4];
            if (!env_int(sources[i][2], &local_rank) || !sources[i][3] ||
                !env_int(sources[i][3], &local_size)) {
                local_rank = local_size = -1;
            }
            break;
        }
        rank = 0;
        size = 1;
    }
    int use_mpi = so__mpi_init_from_env(&rank, &size);
    if (use_mpi < 0) {
        return use_mpi;
    }
    if (use_mpi) {
        src = so__mpi_we_initialised() ? "MPI_COMM_WORLD (MPI initialised by scaleout)"
                                       : "MPI_COMM_WORLD (MPI initialised by the application)";
        if (!env_int("OMPI_COMM_WORLD_LOCAL_RANK", &local_rank) ||
            !env_int("OMPI_COMM_WORLD_LOCAL_SIZE", &local_size)) {
            local_rank = local_size = -1;
        }
    }
    if (size < 1 || rank >= size) {
        return so__fail(SO_EINVAL,
                        "so_comm_init_from_env: rank %d is not below world size %d (from %s)", rank,
                        size, src);
    }
    so_log_set_rank(size > 1 ? rank : -1);
    SO_LOGI("so_comm_init_from_env: rank %d of %d from %s", rank, size, src);
    int timeout_ms = (int)so_param_int("SO_TIMEOUT_MS");
    so_store *store = NULL;
    so_store_server *server = NULL;
    char dir[256] = "";
    int rc = SO_OK;
    const char *maddr = getenv("MASTER_ADDR");
    int mport = 0;
    if (size == 1) {
        /* No rendezvous needed. */
    } else if (maddr && *maddr && env_int("MASTER_PORT", &mport) && mport > 0) {
        if (rank == 0 && so_store_server_start(maddr, mport, &server) == SO_OK) {
            SO_LOGI("rank 0 serves the store on %s:%d", maddr, mport);
        }
        rc = so_store_create_tcp(maddr, mport, timeout_ms, &store);
        if (rc < 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", so_last_error());
            rc = so__fail(rc,
                          "so_comm_init_from_env: no store at MASTER_ADDR:MASTER_PORT = %s:%d "
                          "(%s)",
                          maddr, mport, why);
        }
    } else if (use_mpi && !(local_size == size)) {
        rc = mpi_tcp_store(rank, timeout_ms, &store, &server);
    } else {
        char id[160];
        if (!job_id(id, sizeof id)) {
            return so__fail(SO_EINVAL,
                            "so_comm_init_from_env: rank %d of %d (from %s) but neither "
                            "MASTER_ADDR/MASTER_PORT nor a job id (SO_JOB_ID, PMIX_NAMESPACE, "
                            "SLURM_JOB_ID) tells where to meet",
                            rank, size, src);
        }
        snprintf(dir, sizeof dir, "/dev/shm/scaleout-%s", id);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            return so__fail(SO_ESYS, "so_comm_init_from_env: cannot create %s: %s", dir,
                            strerror(errno));
        }
        rc = so_store_create_file(dir, &store);
    }
    so_comm *c = NULL;
    if (rc == SO_OK) {
        so_comm_config cfg;
        so_comm_config_default(&cfg);
        cfg.rank = rank;
        cfg.size = size;
        cfg.store = store;
        cfg.timeout_ms = timeout_ms;
        cfg.local_rank = local_rank;
        cfg.local_size = local_size;
        rc = so_comm_create(&cfg, &c);
    }
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", so_last_error());
        so_store_destroy(store);
        so_store_server_stop(server);
        return so__fail(rc, "%s", why);
    }
    c->owns_store = 1;
    c->mpi_finalize = so__mpi_we_initialised();
    c->server = server;
    snprintf(c->cleanup_dir, sizeof c->cleanup_dir, "%s", dir);
    *out = c;
    return SO_OK;
}
