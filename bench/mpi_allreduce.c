/*
 * so_mpi_allreduce: the Open MPI peer of `scaleout bench allreduce` (and of reducescatter,
 * allgather, alltoall, bcast with --op). It runs MPI's own collectives on the same sizes, with
 * the same fill and check, the same timing method and the same columns and JSON lines, so a
 * row of ours and a row of MPI's differ only in the library underneath.
 *
 *   mpirun -np 2 build/bench/so_mpi_allreduce [--op allreduce] [--min 8 --max 64M --factor 2 |
 *          --step S | --sizes 8,1K,64K] [--iters N --warmup W --budget S] [--label ompi-shm]
 *          [--json FILE]... [--csv FILE]
 *
 * Method (as bench/bench_common.c): one checked call (inputs are small integers (i + 3r) mod 5
 * depending on rank r and index i, outputs poisoned first, every element compared, the counts
 * summed over ranks into #wrong); warm-up calls; N timed calls each preceded by MPI_Barrier and
 * timed with MPI_Wtime; per call the max over ranks; median, min and max over calls. N comes
 * from the warm-up so one size takes about --budget seconds, clamped to [5, 1000]. Data is
 * float32, MPI_SUM. Sizes follow nccl-tests (all-reduce S = vector per rank; reduce-scatter S =
 * input per rank; all-gather S = gathered result; all-to-all S = send buffer; bcast S = message).
 * JSON lines: bench "mpi_coll", case "<label> np=N <op> <size>", metrics lat_us lat_us_min
 * busbw_GBps algbw_GBps: the keys of ../shared/peers/src/mpi_coll.c, so the recorded anchors
 * and this peer compare directly.
 *
 * It is an MPI program, not part of the scaleout tool: bench/mpi.cmake builds it with
 * find_package(MPI) and defines SO_MPI_PEER_MAIN; in the scaleout binary (which compiles every
 * C file of bench/) the file is empty.
 */
#if defined(SO_MPI_PEER_MAIN)
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SIZES = 64, MAX_JSON = 4, MIN_ITERS = 5, MAX_ITERS = 1000 };

typedef struct peer_cfg {
    const char *op, *label, *csv;
    const char *json[MAX_JSON];
    int njson, iters, warmup;
    double budget, factor;
    size_t min, max, step, sizes[MAX_SIZES];
    int nsizes;
} peer_cfg;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "8", "64K", "1M", "64MiB", "1G" -> bytes; 0 if malformed. */
static size_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) {
        return 0;
    }
    if (*end == 'K' || *end == 'k') {
        v *= 1024.0;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1024.0 * 1024;
    } else if (*end == 'G' || *end == 'g') {
        v *= 1024.0 * 1024 * 1024;
    } else if (*end && strcmp(end, "B") != 0) {
        return 0;
    }
    return (size_t)v;
}

static void size_label(size_t b, char *out, size_t n) {
    if (b >= ((size_t)1 << 30) && b % ((size_t)1 << 30) == 0) {
        snprintf(out, n, "%zuGiB", b >> 30);
    } else if (b >= ((size_t)1 << 20) && b % ((size_t)1 << 20) == 0) {
        snprintf(out, n, "%zuMiB", b >> 20);
    } else if (b >= 1024 && b % 1024 == 0) {
        snprintf(out, n, "%zuKiB", b >> 10);
    } else {
        snprintf(out, n, "%zuB", b);
    }
}

static size_t next_size(const peer_cfg *c, size_t s) {
    if (c->nsizes > 0) {
        for (int i = 0; i + 1 < c->nsizes; i++) {
            if (c->sizes[i] == s) {
                return c->sizes[i + 1];
            }
        }
        return 0;
    }
    size_t n = c->step ? s + c->step : (size_t)((double)s * c->factor);
    n = n > s ? n : s + 1;
    return n > c->max ? 0 : n;
}

static size_t first_size(const peer_cfg *c) {
    return c->nsizes > 0 ? c->sizes[0] : c->min;
}

static int is_op(const peer_cfg *c, const char *op) {
    return strcmp(c->op, op) == 0;
}

static double bus_factor(const char *op, int np) {
    if (!strcmp(op, "allreduce")) {
        return 2.0 * (np - 1) / np;
    }
    if (!strcmp(op, "bcast")) {
        return 1.0;
    }
    return (double)(np - 1) / np;
}

typedef struct call {
    const peer_cfg *cfg;
    float *sbuf, *rbuf;
    int count; /* per-rank vector (allreduce, bcast) or block (the others) */
    int np;
} call;

static void run_op(const call *c) {
    const peer_cfg *cfg = c->cfg;
    if (is_op(cfg, "allreduce")) {
        MPI_Allreduce(c->sbuf, c->rbuf, c->count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    } else if (is_op(cfg, "reduce_scatter")) {
        MPI_Reduce_scatter_block(c->sbuf, c->rbuf, c->count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    } else if (is_op(cfg, "allgather")) {
        MPI_Allgather(c->sbuf, c->count, MPI_FLOAT, c->rbuf, c->count, MPI_FLOAT, MPI_COMM_WORLD);
    } else if (is_op(cfg, "alltoall")) {
        MPI_Alltoall(c->sbuf, c->count, MPI_FLOAT, c->rbuf, c->count, MPI_FLOAT, MPI_COMM_WORLD);
    } else {
        MPI_Bcast(c->sbuf, c->count, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
}

static float value(int r, size_t i) {
    return (float)((i + 3 * (size_t)r) % 5);
}

static float a2a_value(int src, int dst, size_t t) {
    return (float)((3 * (size_t)src + 5 * (size_t)dst + t) % 11);
}

static float reduced(int np, size_t i) {
    int s = 0;
    for (int r = 0; r < np; r++) {
        s += (int)((i + 3 * (size_t)r) % 5);
    }
    return (float)s;
}

/* Fills inputs, poisons outputs. */
static void fill(const call *c, int rank, size_t bytes) {
    size_t n = (size_t)c->count, np = (size_t)c->np;
    const peer_cfg *cfg = c->cfg;
    if (is_op(cfg, "allreduce")) {
        for (size_t i = 0; i < n; i++) {
            c->sbuf[i] = value(rank, i);
        }
        memset(c->rbuf, 0xA5, bytes);
    } else if (is_op(cfg, "reduce_scatter")) {
        for (size_t i = 0; i < n * np; i++) {
            c->sbuf[i] = value(rank, i);
        }
        memset(c->rbuf, 0xA5, bytes / np);
    } else if (is_op(cfg, "allgather")) {
        for (size_t j = 0; j < n; j++) {
            c->sbuf[j] = value(rank, (size_t)rank * n + j);
        }
        memset(c->rbuf, 0xA5, bytes);
    } else if (is_op(cfg, "alltoall")) {
        for (size_t d = 0; d < np; d++) {
            for (size_t t = 0; t < n; t++) {
                c->sbuf[d * n + t] = a2a_value(rank, (int)d, t);
            }
        }
        memset(c->rbuf, 0xA5, bytes);
    } else if (rank == 0) {
        for (size_t i = 0; i < n; i++) {
            c->sbuf[i] = value(0, i);
        }
    } else {
        memset(c->sbuf, 0xA5, bytes);
    }
}

static long check(const call *c, int rank) {
    size_t n = (size_t)c->count, np = (size_t)c->np;
    const peer_cfg *cfg = c->cfg;
    long wrong = 0;
    float want[5];
    for (size_t p = 0; p < 5; p++) {
        want[p] = reduced(c->np, p);
    }
    if (is_op(cfg, "allreduce")) {
        for (size_t i = 0; i < n; i++) {
            wrong += c->rbuf[i] != want[i % 5];
        }
    } else if (is_op(cfg, "reduce_scatter")) {
        for (size_t j = 0; j < n; j++) {
            wrong += c->rbuf[j] != want[((size_t)rank * n + j) % 5];
        }
    } else if (is_op(cfg, "allgather")) {
        for (size_t i = 0; i < n * np; i++) {
            wrong += c->rbuf[i] != value((int)(i / n), i);
        }
    } else if (is_op(cfg, "alltoall")) {
        for (size_t s = 0; s < np; s++) {
            for (size_t t = 0; t < n; t++) {
                wrong += c->rbuf[s * n + t] != a2a_value((int)s, rank, t);
            }
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            wrong += c->sbuf[i] != value(0, i);
        }
    }
    return wrong;
}

static void usage(void) {
    fprintf(
        stderr,
        "usage: mpirun -np N so_mpi_allreduce [--op allreduce|reduce_scatter|allgather|alltoall|"
        "bcast]\n  [--min 8] [--max 64M] [--factor 2 | --step S | --sizes LIST] [--iters N]\n"
        "  [--warmup W (-1: by size)] [--budget SECONDS (0.5)] [--label ompi-shm]\n"
        "  [--json FILE]... [--csv FILE]\n");
}

static int parse(peer_cfg *c, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    c->op = "allreduce";
    c->label = "ompi";
    c->warmup = -1;
    c->budget = 0.5;
    c->factor = 2.0;
    c->min = 8;
    c->max = (size_t)64 << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            return -1;
        }
        i++;
        if (!strcmp(a, "--op")) {
            c->op = v;
        } else if (!strcmp(a, "--label")) {
            c->label = v;
        } else if (!strcmp(a, "--csv")) {
            c->csv = v;
        } else if (!strcmp(a, "--json") && c->njson < MAX_JSON) {
            c->json[c->njson++] = v;
        } else if (!strcmp(a, "--iters")) {
            c->iters = atoi(v);
        } else if (!strcmp(a, "--warmup")) {
            c->warmup = atoi(v);
        } else if (!strcmp(a, "--budget")) {
            c->budget = atof(v);
        } else if (!strcmp(a, "--factor")) {
            c->factor = atof(v);
        } else if (!strcmp(a, "--min")) {
            c->min = parse_size(v);
        } else if (!strcmp(a, "--max")) {
            c->max = parse_size(v);
        } else if (!strcmp(a, "--step")) {
            c->step = parse_size(v);
        } else if (!strcmp(a, "--sizes")) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t && c->nsizes < MAX_SIZES;
                 t = strtok_r(NULL, ",", &save)) {
                c->sizes[c->nsizes++] = parse_size(t);
            }
        } else {
            return -1;
        }
    }
    if (strcmp(c->op, "allreduce") && strcmp(c->op, "reduce_scatter") &&
        strcmp(c->op, "allgather") && strcmp(c->op, "alltoall") && strcmp(c->op, "bcast")) {
        return -1;
    }
    if (c->min == 0 || c->max < c->min || (!c->step && c->factor <= 1.0) || c->budget <= 0) {
        return -1;
    }
    for (int i = 0; i < c->nsizes; i++) {
        if (c->sizes[i] == 0) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, np;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    peer_cfg cfg;
    if (parse(&cfg, argc, argv) != 0) {
        if (rank == 0) {
            usage();
        }
        MPI_Finalize();
        return 2;
    }
    FILE *json[MAX_JSON] = {0}, *csv = NULL;
    double load1 = -1.0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load1) != 1) {
            load1 = -1.0;
        }
        fclose(la);
    }
    if (rank == 0) {
        for (int j = 0; j < cfg.njson; j++) {
            json[j] = fopen(cfg.json[j], "a");
            if (!json[j]) {
                fprintf(stderr, "so_mpi_allreduce: cannot append to %s\n", cfg.json[j]);
                MPI_Abort(MPI_COMM_WORLD, 2);
            }
        }
        if (cfg.csv && !(csv = fopen(cfg.csv, "w"))) {
            fprintf(stderr, "so_mpi_allreduce: cannot write %s\n", cfg.csv);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
        if (csv) {
            fprintf(csv, "bench,label,op,nranks,size,count,type,redop,algo,time_us,min_us,max_us,"
                         "iters,algbw_GBps,busbw_GBps,wrong,model_us\n");
        }
        printf("# %s on %d ranks (%s, Open MPI): median of timed calls, each the max over ranks\n",
               cfg.op, np, cfg.label);
        printf("#%12s %12s %5s %5s %8s %10s %10s %10s %6s %11s %11s %7s %10s\n", "size(B)", "count",
               "type", "redop", "algo", "time_us", "min_us", "max_us", "iters", "algbw(GB/s)",
               "busbw(GB/s)", "#wrong", "model_us");
    }
    /* Buffers for the largest size, rounded up to whole blocks. */
    size_t cap = 0;
    for (size_t S = first_size(&cfg); S; S = next_size(&cfg, S)) {
        cap = S > cap ? S : cap;
    }
    cap += (size_t)np * sizeof(float) + sizeof(float);
    float *sbuf = malloc(cap), *rbuf = malloc(cap);
    double *times = malloc(sizeof(double) * MAX_ITERS);
    if (!sbuf || !rbuf || !times) {
        fprintf(stderr, "so_mpi_allreduce: cannot allocate 2 x %zu bytes\n", cap);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    memset(sbuf, 0, cap);
    memset(rbuf, 0, cap);
    long total_wrong = 0;
    size_t prev = 0;
    double busbw_sum = 0;
    int nrows = 0;
    for (size_t S = first_size(&cfg); S; S = next_size(&cfg, S)) {
        size_t n = S / sizeof(float), bytes, count;
        call c = {&cfg, sbuf, rbuf, 0, np};
        if (is_op(&cfg, "allreduce") || is_op(&cfg, "bcast")) {
            n = n ? n : 1;
            c.count = (int)n;
            count = n;
        } else {
            n = (n + (size_t)np - 1) / (size_t)np * (size_t)np;
            n = n ? n : (size_t)np;
            c.count = (int)(n / (size_t)np);
            count = n;
        }
        bytes = n * sizeof(float);
        if (bytes == prev) {
            continue;
        }
        prev = bytes;
        fill(&c, rank, bytes);
        run_op(&c);
        long wrong = check(&c, rank), wsum = 0;
        MPI_Allreduce(&wrong, &wsum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        total_wrong += wsum;

        int warm = cfg.warmup >= 0               ? cfg.warmup
                   : bytes >= ((size_t)16 << 20) ? 3
                   : bytes >= ((size_t)1 << 20)  ? 10
                                                 : 100;
        int iters = cfg.iters;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < warm; i++) {
            run_op(&c);
        }
        if (iters <= 0) {
            double one;
            if (warm > 0) {
                one = (MPI_Wtime() - t0) / warm;
            } else {
                double s = MPI_Wtime();
                run_op(&c);
                one = MPI_Wtime() - s;
            }
            MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            double k = cfg.budget / (one + 2e-6);
            iters = k > MAX_ITERS ? MAX_ITERS : k < MIN_ITERS ? MIN_ITERS : (int)k;
        }
        iters = iters > MAX_ITERS ? MAX_ITERS : iters;
        for (int i = 0; i < iters; i++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double s = MPI_Wtime();
            run_op(&c);
            times[i] = MPI_Wtime() - s;
        }
        MPI_Allreduce(MPI_IN_PLACE, times, iters, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (rank == 0) {
            qsort(times, (size_t)iters, sizeof(double), cmp_double);
            double med =
                (iters % 2) ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
            double algbw = (double)bytes / med / 1e9, busbw = algbw * bus_factor(cfg.op, np);
            printf(" %12zu %12zu %5s %5s %8s %10.2f %10.2f %10.2f %6d %11.3f %11.3f %7ld %10s\n",
                   bytes, count, "f32",
                   is_op(&cfg, "allreduce") || is_op(&cfg, "reduce_scatter") ? "sum" : "none",
                   "ompi", med * 1e6, times[0] * 1e6, times[iters - 1] * 1e6, iters, algbw, busbw,
                   wsum, "-");
            fflush(stdout);
            busbw_sum += busbw;
            nrows++;
            if (csv) {
                fprintf(csv,
                        "mpi_coll,%s,%s,%d,%zu,%zu,f32,sum,ompi,%.3f,%.3f,%.3f,%d,%.6g,%.6g,"
                        "%ld,\n",
                        cfg.label, cfg.op, np, bytes, count, med * 1e6, times[0] * 1e6,
                        times[iters - 1] * 1e6, iters, algbw, busbw, wsum);
            }
            char sz[32];
            size_label(bytes, sz, sizeof sz);
            const char *names[4][2] = {{"lat_us", "us"},
                                       {"lat_us_min", "us"},
                                       {"busbw_GBps", "GB/s"},
                                       {"algbw_GBps", "GB/s"}};
            double vals[4] = {med * 1e6, times[0] * 1e6, busbw, algbw};
            for (int j = 0; j < cfg.njson; j++) {
                for (int m = 0; m < 4; m++) {
                    fprintf(
                        json[j],
                        "{\"bench\":\"mpi_coll\",\"case\":\"%s np=%d %s %s\",\"metric\":\"%s\","
                        "\"unit\":\"%s\",\"value\":%.6g,\"iters\":%d,\"ok\":%s,\"load1\":%.2f}\n",
                        cfg.label, np, cfg.op, sz, names[m][0], names[m][1], vals[m], iters,
                        wsum ? "false" : "true", load1);
                }
                fflush(json[j]);
            }
        }
    }
    if (rank == 0) {
        printf("# Avg bus bandwidth    : %g GB/s\n", nrows ? busbw_sum / nrows : 0.0);
        printf("# %s: %s wrong elements in all\n", cfg.op, total_wrong ? "SOME" : "no");
        for (int j = 0; j < cfg.njson; j++) {
            fclose(json[j]);
        }
        if (csv) {
            fclose(csv);
        }
    }
    free(sbuf);
    free(rbuf);
    free(times);
    MPI_Finalize();
    return total_wrong ? 1 : 0;
}
#else
/* Built only as the MPI peer program (bench/mpi.cmake); nothing here for the scaleout tool. */
typedef int so__mpi_peer_not_in_this_binary;
#endif
