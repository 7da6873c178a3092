/*
 * `scaleout demo ch04`: chapter 4, communication primitives for distributed training, on K real
 * processes (default 4) over shared memory and over TCP.
 *
 *  (a) all-reduce by naive, tree, ring and halving-doubling at a few sizes: each measured time
 *      (median of timed calls, barrier before each, max over ranks) beside the alpha-beta
 *      prediction made with the alpha and beta this group measured (so_coll_calibrate), and the
 *      book's table 4.4.1 (alpha = 5 us, 100 GB/s) with its golden numbers checked;
 *  (b) reduce-scatter then all-gather (the ZeRO/FSDP pair) equals the ring all-reduce bit for
 *      bit, and all-gather of the shards rebuilds the full parameter vector (book 4.5.1);
 *  (c) all-to-all as MoE routing (book 4.6.1): tokens go to experts by a fixed skewed rule,
 *      are dispatched with all-to-all(v), scaled by (1 + e) at expert e, combined back, and the
 *      round trip is checked exactly (ids and values); the load per expert is printed;
 *  (d) the 4.2.2 example: [8 6 5] [3 3 1] [1 1 2] [8 6 9] -> [20 16 17], built from 2(K-1)
 *      point-to-point hops (a chain up and back) and checked against so_allreduce;
 *  (e) bytes and messages each algorithm put on the wire (so_comm_counters) against the book's
 *      per-algorithm formulas;
 *  (g) the all-reduce contract (4.3.1) and (h) the actor-learner broadcast/gather (4.7.1),
 *      in contract.c;
 *  (f) gradient bucketing and overlap (book 4.10.1, overlap.c): the library's reducer over a
 *      fake backward pass, no-overlap vs overlap and the hidden fraction per bucket size,
 *      beside the 4.10.1 model; --overlap runs only this part (full size unless --quick).
 * Ends with `ch04 OK key=value ...` or `ch04 FAIL reason` (exit 1).
 *
 * Uses only the public headers and the CLI registry; re-runs itself as K ranks under the
 * launcher. With --transport both, the launcher's group uses shm and a second group over TCP is
 * built from the launcher's rendezvous store (MASTER_ADDR/MASTER_PORT).
 * Cost with --quick: about 3-6 s on 2 cores at K = 4.
 */
#include <math.h>
#include <string.h>

#include "ch04.h"
#include "cli.h"
#include "scaleout/so.h"

enum { CH04_MAX_GROUPS = 2, CH04_MAX_SIZES = 8, CH04_NALGOS = 4 };

static const so_algo ch04_algos[CH04_NALGOS] = {SO_ALGO_NAIVE, SO_ALGO_TREE, SO_ALGO_RING,
                                                SO_ALGO_HD};

typedef struct ch04_cfg {
    int quick, nranks, iters, tokens, overlap_only;
    const char *transport;
    size_t size;
    ch04_overlap_cfg ov;
} ch04_cfg;

/* What the parts found; rank 0 turns it into the last line. */
typedef struct ch04_result {
    int fail;
    char reason[160];
    double ring_busbw[CH04_MAX_GROUPS];
    const char *gname[CH04_MAX_GROUPS];
    int ngroups;
    int wrong_total, identical, book441, rs_ag_equal, ag_rebuilds, a2a_exact, hops, ex422,
        counters_ok, counters_n, contract;
    double max_over_ideal;
} ch04_result;

static void ch04_fail(ch04_result *res, const char *what) {
    if (!res->fail) {
        snprintf(res->reason, sizeof res->reason, "%s", what);
    }
    res->fail = 1;
}

/* FNV-1a over bytes: to see whether every rank holds the same result. */
static uint64_t ch04_hash(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ULL;
    }
    return h;
}

/* 1 if every rank passed the same 64-bit value. */
static int ch04_same_everywhere(so_comm *c, uint64_t h) {
    int64_t v[2] = {(int64_t)(h >> 1), -(int64_t)(h >> 1)};
    SO_CHECK(so_allreduce(c, v, v, 2, SO_I64, SO_MAX));
    return v[0] == -v[1];
}

/* Median over `iters` calls of the all-reduce time, each call after a barrier, max over ranks. */
static double ch04_time(so_comm *c, so_algo a, const float *send, float *recv, size_t n,
                        int iters) {
    so_coll_opts o = {.algo = a};
    double t[64];
    iters = iters > 64 ? 64 : iters < 1 ? 1 : iters;
    for (int w = 0; w < 2; w++) {
        SO_CHECK(so_allreduce_ex(c, send, recv, n, SO_F32, SO_SUM, &o));
    }
    for (int i = 0; i < iters; i++) {
        SO_CHECK(so_barrier(c));
        double s = so_now_s();
        SO_CHECK(so_allreduce_ex(c, send, recv, n, SO_F32, SO_SUM, &o));
        t[i] = so_now_s() - s;
    }
    SO_CHECK(so_allreduce(c, t, t, (size_t)iters, SO_F64, SO_MAX));
    for (int i = 1; i < iters; i++) { /* insertion sort: at most 64 values */
        double x = t[i];
        int j = i - 1;
        for (; j >= 0 && t[j] > x; j--) {
            t[j + 1] = t[j];
        }
        t[j + 1] = x;
    }
    return iters % 2 ? t[iters / 2] : 0.5 * (t[iters / 2 - 1] + t[iters / 2]);
}

static void ch04_size_label(size_t b, char *buf, size_t cap) {
    if (b >= ((size_t)1 << 20) && b % ((size_t)1 << 20) == 0) {
        snprintf(buf, cap, "%zu MiB", b >> 20);
    } else if (b >= 1024 && b % 1024 == 0) {
        snprintf(buf, cap, "%zu KiB", b >> 10);
    } else {
        snprintf(buf, cap, "%zu B", b);
    }
}

/* ---- (a) naive / tree / ring / halving-doubling, measured vs the model ---- */

static void part_a(so_comm *c, int gi, const ch04_cfg *cfg, ch04_result *res) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    const char *tname = so_comm_transport_name(c, (r + 1) % k);
    so_alpha_beta ab;
    SO_CHECK(so_coll_calibrate(c, &ab));
    size_t sizes[CH04_MAX_SIZES], ns = 0;
    const size_t ladder[] = {8, 1024, 65536, (size_t)1 << 20, (size_t)16 << 20};
    for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++) {
        if (ladder[i] <= cfg->size && (!cfg->quick || ladder[i] != 1024)) {
            sizes[ns++] = ladder[i];
        }
    }
    if (ns == 0 || sizes[ns - 1] != cfg->size) {
        sizes[ns++] = cfg->size;
    }
    size_t maxn = (cfg->size + 3) / 4;
    float *send = so_malloc_aligned(maxn * 4), *recv = so_malloc_aligned(maxn * 4);
    SO_ASSERT(send && recv);
    for (size_t i = 0; i < maxn; i++) {
        send[i] = (float)((i + 3 * (size_t)r) % 5); /* small integers: every sum is exact */
    }
    if (r == 0) {
        printf("\n(a) all-reduce on %d ranks over %s: measured vs alpha-beta model\n", k, tname);
        printf("    calibrated on this group: alpha = %.2f us, 1/beta = %.2f GB/s\n",
               ab.alpha_s * 1e6, ab.beta_s_per_b > 0 ? 1e-9 / ab.beta_s_per_b : 0.0);
        printf("    %-8s %-6s %12s %12s %9s %12s %7s\n", "size", "algo", "measured_us", "model_us",
               "meas/mod", "busbw_GB/s", "#wrong");
    }
    int identical = 1;
    for (size_t si = 0; si < ns; si++) {
        size_t n = sizes[si] / 4 ? sizes[si] / 4 : 1, bytes = n * 4;
        char sz[32];
        ch04_size_label(bytes, sz, sizeof sz);
        double best_t = INFINITY, best_m = INFINITY;
        so_algo best_ta = SO_ALGO_AUTO, best_ma = SO_ALGO_AUTO;
        for (int ai = 0; ai < CH04_NALGOS; ai++) {
            so_algo a = ch04_algos[ai];
            so_coll_opts o = {.algo = a};
            memset(recv, 0xA5, bytes);
            SO_CHECK(so_allreduce_ex(c, send, recv, n, SO_F32, SO_SUM, &o));
            int64_t wrong = 0;
            for (size_t i = 0; i < n; i++) {
                int want = 0;
                for (int q = 0; q < k; q++) {
                    want += (int)((i + 3 * (size_t)q) % 5);
                }
                wrong += recv[i] != (float)want;
            }
            SO_CHECK(so_allreduce(c, &wrong, &wrong, 1, SO_I64, SO_SUM));
            identical &= ch04_same_everywhere(c, ch04_hash(recv, bytes));
            res->wrong_total += (int)wrong;
            double t = ch04_time(c, a, send, recv, n, cfg->iters);
            double m = so_coll_predict_allreduce(a, k, bytes, &ab);
            double busbw = (double)bytes / t * 2.0 * (k - 1) / k / 1e9;
            if (t < best_t) {
                best_t = t, best_ta = a;
            }
            if (m < best_m) {
                best_m = m, best_ma = a;
            }
            if (a == SO_ALGO_RING && si == ns - 1) {
                res->ring_busbw[gi] = busbw;
            }
            if (r == 0) {
                printf("    %-8s %-6s %12.1f %12.1f %9.2f %12.3f %7lld\n", ai == 0 ? sz : "",
                       so_algo_name(a), t * 1e6, m * 1e6, m > 0 ? t / m : 0.0, busbw,
                       (long long)wrong);
            }
        }
        if (r == 0) {
            printf("    %-8s fastest measured: %s, fastest predicted: %s\n", "",
                   so_algo_name(best_ta), so_algo_name(best_ma));
        }
    }
    if (!identical) {
        ch04_fail(res, "all-reduce results differ between ranks");
    }
    res->identical = identical;
    so_free_aligned(send);
    so_free_aligned(recv);
}

/* The book's table 4.4.1 (alpha = 5 us, 1/beta = 100 GB/s), from the library's model. */
static void book_table(ch04_result *res) {
    so_alpha_beta book = {5e-6, 1.0 / 100e9};
    const size_t mib64 = (size_t)64 << 20;
    const so_algo three[3] = {SO_ALGO_NAIVE, SO_ALGO_TREE, SO_ALGO_RING};
    printf("\n    book 4.4.1, alpha = 5 us, 100 GB/s (ms), 64 MiB:\n");
    printf("    %6s %10s %10s %10s %10s\n", "K", "naive", "tree", "ring", "hd");
    const int ks[] = {2, 8, 32, 128, 512, 1024};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        printf("    %6d", ks[i]);
        for (int a = 0; a < 3; a++) {
            printf(" %10.3f", so_coll_predict_allreduce(three[a], ks[i], mib64, &book) * 1e3);
        }
        printf(" %10.3f\n", so_coll_predict_allreduce(SO_ALGO_HD, ks[i], mib64, &book) * 1e3);
    }
    printf("    K = 64 (ms):\n    %6s %10s %10s %10s %10s\n", "size", "naive", "tree", "ring",
           "hd");
    const size_t szs[] = {256, 65536, (size_t)1 << 20, (size_t)16 << 20, (size_t)256 << 20};
    const char *sl[] = {"256 B", "64 KiB", "1 MiB", "16 MiB", "256 MiB"};
    for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
        printf("    %6s", sl[i]);
        for (int a = 0; a < 3; a++) {
            printf(" %10.3f", so_coll_predict_allreduce(three[a], 64, szs[i], &book) * 1e3);
        }
        printf(" %10.3f\n", so_coll_predict_allreduce(SO_ALGO_HD, 64, szs[i], &book) * 1e3);
    }
    /* Golden numbers printed in the book (3 decimals). */
    struct {
        so_algo a;
        int k;
        size_t n;
        double ms;
    } gold[] = {{SO_ALGO_NAIVE, 8, mib64, 9.465},
                {SO_ALGO_TREE, 8, mib64, 4.057},
                {SO_ALGO_RING, 8, mib64, 1.244},
                {SO_ALGO_NAIVE, 1024, mib64, 1383.277},
                {SO_ALGO_TREE, 1024, mib64, 13.522},
                {SO_ALGO_RING, 1024, mib64, 11.571},
                {SO_ALGO_TREE, 64, (size_t)1 << 20, 0.186},
                {SO_ALGO_RING, 64, (size_t)1 << 20, 0.651},
                {SO_ALGO_TREE, 64, (size_t)16 << 20, 2.073},
                {SO_ALGO_RING, 64, (size_t)16 << 20, 0.960}};
    int ok = 1;
    for (size_t i = 0; i < sizeof gold / sizeof gold[0]; i++) {
        double ms = so_coll_predict_allreduce(gold[i].a, gold[i].k, gold[i].n, &book) * 1e3;
        ok &= fabs(ms - gold[i].ms) <= 0.0005 + 1e-9 * gold[i].ms;
    }
    printf("    golden values (K=8: 9.465 / 4.057 / 1.244; K=1024: 1383.277 / 13.522 / 11.571;\n"
           "    K=64: tree wins at 1 MiB .186 < .651, ring at 16 MiB .960 < 2.073): %s\n",
           ok ? "match" : "DIFFER");
    res->book441 = ok;
    if (!ok) {
        ch04_fail(res, "the model does not reproduce table 4.4.1");
    }
}

/* ---- (b) reduce-scatter + all-gather = all-reduce; all-gather rebuilds the parameters ---- */

static void part_b(so_comm *c, const ch04_cfg *cfg, ch04_result *res) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    const size_t per_shard[2] = {3, cfg->quick ? 16384 : 262144};
    int equal = 1, rebuild = 1;
    double worst_rel = 0;
    if (r == 0) {
        printf("\n(b) ZeRO/FSDP primitives: reduce-scatter then all-gather vs ring all-reduce\n");
    }
    for (int t = 0; t < 2; t++) {
        size_t s = per_shard[t], p = s * (size_t)k;
        float *g = malloc(p * 4), *ar = malloc(p * 4), *shard = malloc(s * 4),
              *full = malloc(p * 4);
        double *ref = calloc(p, sizeof(double)), *mag = calloc(p, sizeof(double));
        SO_ASSERT(g && ar && shard && full && ref && mag);
        /* Gradients: normal floats, one stream per rank; any rank can regenerate any other's. */
        for (int q = 0; q < k; q++) {
            so_rng rng;
            so_rng_seed_stream(&rng, 4051, (uint64_t)q);
            for (size_t i = 0; i < p; i++) {
                float v = (float)so_rng_normal(&rng);
                ref[i] += v;
                mag[i] += fabs(v);
                if (q == r) {
                    g[i] = v;
                }
            }
        }
        so_coll_opts ring = {.algo = SO_ALGO_RING};
        SO_CHECK(so_allreduce_ex(c, g, ar, p, SO_F32, SO_SUM, &ring));
        SO_CHECK(so_reduce_scatter_ex(c, g, shard, s, SO_F32, SO_SUM, &ring));
        SO_CHECK(so_allgather_ex(c, shard, full, s, SO_F32, &ring));
        double diff = 0;
        for (size_t i = 0; i < p; i++) {
            diff = fmax(diff, fabs((double)ar[i] - (double)full[i]));
            /* Relative to sum |x|: the error a float sum of K terms can have (~K eps). */
            worst_rel = fmax(worst_rel, fabs(ar[i] - ref[i]) / (mag[i] + 1e-30));
        }
        int eq = memcmp(ar, full, p * 4) == 0;
        /* ZeRO: every rank keeps shard r of the parameters w; all-gather rebuilds w. */
        for (size_t i = 0; i < p; i++) {
            g[i] = (float)(0.001 * (double)i - 1.0); /* w, the same on every rank */
        }
        SO_CHECK(so_allgather_ex(c, g + (size_t)r * s, full, s, SO_F32, &ring));
        int rb = memcmp(g, full, p * 4) == 0;
        int64_t flags[2] = {eq, rb};
        SO_CHECK(so_allreduce(c, flags, flags, 2, SO_I64, SO_MIN));
        equal &= (int)flags[0];
        rebuild &= (int)flags[1];
        if (r == 0) {
            printf("    K=%d, P=%zu: shards (%d,%zu); RS+AG vs AR max diff %.2e (bitwise %s); "
                   "AG rebuilds w: %s; each rank keeps %zu of %zu\n",
                   k, p, k, s, diff, flags[0] ? "equal" : "DIFFERENT", flags[1] ? "yes" : "NO", s,
                   p);
        }
        free(g);
        free(ar);
        free(shard);
        free(full);
        free(ref);
        free(mag);
    }
    double wr = worst_rel;
    SO_CHECK(so_allreduce(c, &wr, &wr, 1, SO_F64, SO_MAX));
    if (r == 0) {
        printf("    float all-reduce vs serial double sum: worst error %.1e of sum |x| "
               "(float rounding; bound ~K eps = %.1e)\n",
               wr, k * 5.96e-8);
    }
    res->rs_ag_equal = equal;
    res->ag_rebuilds = rebuild;
    if (!equal) {
        ch04_fail(res, "reduce-scatter + all-gather differs from the ring all-reduce");
    }
    if (!rebuild) {
        ch04_fail(res, "all-gather of the shards does not rebuild the parameters");
    }
    if (wr > 4.0 * k * 5.96e-8) {
        ch04_fail(res, "the all-reduce is far from the serial sum");
    }
}

/* ---- (c) all-to-all as MoE token routing ---- */

static uint64_t ch04_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Expert of a token: the book's skewed gate probabilities (4.6.1), first E of them. */
static int ch04_expert(uint64_t id, int e) {
    static const double book_p[8] = {.30, .22, .16, .11, .08, .06, .04, .03};
    double w[64], tot = 0;
    for (int i = 0; i < e; i++) {
        w[i] = i < 8 ? book_p[i] : book_p[7] * pow(0.7, i - 7);
        tot += w[i];
    }
    double u = (double)(ch04_mix(id) >> 11) / 9007199254740992.0 * tot, acc = 0;
    for (int i = 0; i < e; i++) {
        acc += w[i];
        if (u < acc) {
            return i;
        }
    }
    return e - 1;
}

enum { CH04_D = 4, CH04_REC = 1 + CH04_D }; /* record: id, then D features (doubles) */

static void part_c(so_comm *c, const ch04_cfg *cfg, ch04_result *res) {
    int r = so_comm_rank(c), k = so_comm_size(c), e = k; /* one expert per rank */
    size_t t = (size_t)cfg->tokens;
    double *tok = malloc(t * CH04_REC * sizeof(double));
    double *packed = malloc(t * CH04_REC * sizeof(double));
    double *back = malloc(t * CH04_REC * sizeof(double));
    size_t *scount = calloc((size_t)k, sizeof(size_t)), *sdisp = calloc((size_t)k, sizeof(size_t));
    size_t *rcount = calloc((size_t)k, sizeof(size_t)), *rdisp = calloc((size_t)k, sizeof(size_t));
    int64_t *cnt = calloc((size_t)k, sizeof(int64_t)), *rcnt = calloc((size_t)k, sizeof(int64_t));
    int *dest = malloc(t * sizeof(int));
    SO_ASSERT(tok && packed && back && scount && sdisp && rcount && rdisp && cnt && rcnt && dest);
    /* Tokens: global id, features that depend on the id. */
    for (size_t i = 0; i < t; i++) {
        uint64_t id = (uint64_t)r * t + i;
        tok[i * CH04_REC] = (double)id;
        for (int d = 0; d < CH04_D; d++) {
            tok[i * CH04_REC + 1 + d] = 0.25 * (double)((id * 7 + (uint64_t)d * 3) % 97) - 3.0;
        }
        dest[i] = ch04_expert(id, e);
        cnt[dest[i]]++;
    }
    /* Pack by destination (stable), so block j of the send buffer goes to expert j. */
    for (int j = 1; j < k; j++) {
        sdisp[j] = sdisp[j - 1] + (size_t)cnt[j - 1] * CH04_REC;
    }
    size_t *fillp = calloc((size_t)k, sizeof(size_t));
    SO_ASSERT(fillp);
    for (size_t i = 0; i < t; i++) {
        int j = dest[i];
        memcpy(packed + sdisp[j] + fillp[j], tok + i * CH04_REC, CH04_REC * sizeof(double));
        fillp[j] += CH04_REC;
    }
    for (int j = 0; j < k; j++) {
        scount[j] = (size_t)cnt[j] * CH04_REC;
    }
    /* Exchange the counts, then dispatch. */
    SO_CHECK(so_alltoall(c, cnt, rcnt, 1, SO_I64));
    size_t nin = 0;
    for (int j = 0; j < k; j++) {
        rcount[j] = (size_t)rcnt[j] * CH04_REC;
        rdisp[j] = nin;
        nin += rcount[j];
    }
    double *inbox = malloc((nin ? nin : 1) * sizeof(double));
    SO_ASSERT(inbox);
    SO_CHECK(so_alltoallv(c, packed, scount, sdisp, inbox, rcount, rdisp, SO_F64));
    /* Expert r: every token here must be routed to r; scale its features by (1 + r). */
    int64_t misrouted = 0;
    for (size_t i = 0; i < nin; i += CH04_REC) {
        misrouted += ch04_expert((uint64_t)inbox[i], e) != r;
        for (int d = 0; d < CH04_D; d++) {
            inbox[i + 1 + d] *= (double)(1 + r);
        }
    }
    /* Combine: the same exchange in reverse. */
    SO_CHECK(so_alltoallv(c, inbox, rcount, rdisp, back, scount, sdisp, SO_F64));
    int64_t bad = misrouted;
    for (size_t i = 0; i < t * CH04_REC; i += CH04_REC) {
        const double *want = packed + i;
        int ex = ch04_expert((uint64_t)want[0], e);
        bad += back[i] != want[0];
        for (int d = 0; d < CH04_D; d++) {
            bad += back[i + 1 + d] != want[1 + d] * (double)(1 + ex);
        }
    }
    /* Every id must have come back exactly once: the ids are a permutation of ours. */
    unsigned char *seen = calloc(t, 1);
    SO_ASSERT(seen);
    for (size_t i = 0; i < t * CH04_REC; i += CH04_REC) {
        int64_t local = (int64_t)back[i] - (int64_t)((uint64_t)r * t);
        if (local < 0 || (size_t)local >= t || seen[local]++) {
            bad++;
        }
    }
    int64_t load[64] = {0};
    memcpy(load, cnt, (size_t)k * sizeof(int64_t));
    SO_CHECK(so_allreduce(c, load, load, (size_t)k, SO_I64, SO_SUM));
    SO_CHECK(so_allreduce(c, &bad, &bad, 1, SO_I64, SO_SUM));
    int64_t sum = 0, mx = 0, mn = INT64_MAX;
    for (int j = 0; j < k; j++) {
        sum += load[j];
        mx = load[j] > mx ? load[j] : mx;
        mn = load[j] < mn ? load[j] : mn;
    }
    double ideal = (double)sum / e;
    res->a2a_exact = bad == 0 && sum == (int64_t)t * k;
    res->max_over_ideal = mx / ideal;
    if (r == 0) {
        printf("\n(c) MoE dispatch/combine with all-to-all(v): %d experts (one per rank), %zu "
               "tokens per rank, gate p = book 4.6.1's first %d\n    load per expert [",
               e, t, e);
        for (int j = 0; j < k; j++) {
            printf("%s%lld", j ? " " : "", (long long)load[j]);
        }
        printf("], sum %lld; max/ideal %.2fx, min/ideal %.2fx\n", (long long)sum, mx / ideal,
               mn / ideal);
        printf("    expert e scales by (1+e); round trip: ids and values %s (%lld mismatches)\n",
               bad ? "DIFFER" : "exact", (long long)bad);
    }
    if (!res->a2a_exact) {
        ch04_fail(res, "the all-to-all round trip is not exact");
    }
    free(tok);
    free(packed);
    free(back);
    free(scount);
    free(sdisp);
    free(rcount);
    free(rdisp);
    free(cnt);
    free(rcnt);
    free(dest);
    free(fillp);
    free(inbox);
    free(seen);
}

/* ---- (d) the 4.2.2 example, from point-to-point hops ---- */

static void part_d(so_comm *c, ch04_result *res) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    static const int32_t rows[4][3] = {{8, 6, 5}, {3, 3, 1}, {1, 1, 2}, {8, 6, 9}};
    int32_t mine[3] = {0, 0, 0}, acc[3], viacoll[3];
    for (int i = 0; i < 4; i++) { /* with K != 4, rank r holds rows r, r+K, ... */
        if (i % k == r) {
            for (int j = 0; j < 3; j++) {
                mine[j] += rows[i][j];
            }
        }
    }
    memcpy(acc, mine, sizeof acc);
    int64_t hops = 0;
    /* Up the chain 0 -> 1 -> ... -> K-1, adding; then the total back down K-1 -> ... -> 0. */
    if (r > 0) {
        int32_t in[3];
        SO_CHECK(so_recv(c, in, sizeof in, r - 1, 422));
        for (int j = 0; j < 3; j++) {
            acc[j] += in[j];
        }
    }
    if (r < k - 1) {
        SO_CHECK(so_send(c, acc, sizeof acc, r + 1, 422));
        hops++;
        SO_CHECK(so_recv(c, acc, sizeof acc, r + 1, 423));
    }
    if (r > 0) {
        SO_CHECK(so_send(c, acc, sizeof acc, r - 1, 423));
        hops++;
    }
    SO_CHECK(so_allreduce(c, mine, viacoll, 3, SO_I32, SO_SUM));
    int64_t err = 0;
    const int32_t want[3] = {20, 16, 17};
    for (int j = 0; j < 3; j++) {
        err += (acc[j] != want[j]) + (viacoll[j] != want[j]);
    }
    SO_CHECK(so_allreduce(c, &hops, &hops, 1, SO_I64, SO_SUM));
    SO_CHECK(so_allreduce(c, &err, &err, 1, SO_I64, SO_SUM));
    res->hops = (int)hops;
    res->ex422 = err == 0 && hops == 2 * (k - 1);
    if (r == 0) {
        printf("\n(d) book 4.2.2: [8 6 5] [3 3 1] [1 1 2] [8 6 9] -> [%d %d %d] in %lld "
               "point-to-point hops (2(K-1) = %d); so_allreduce agrees; error %lld\n",
               acc[0], acc[1], acc[2], (long long)hops, 2 * (k - 1), (long long)err);
    }
    if (!res->ex422) {
        ch04_fail(res, "the 4.2.2 example did not give [20 16 17] in 2(K-1) hops");
    }
}

/* ---- (e) bytes on the wire vs the book's formulas ---- */

static int ch04_log2_ceil(int k) {
    int l = 0;
    while ((1 << l) < k) {
        l++;
    }
    return l;
}

static void part_e(so_comm *c, const ch04_cfg *cfg, ch04_result *res) {
    int r = so_comm_rank(c), k = so_comm_size(c), l = ch04_log2_ceil(k);
    int pow2 = (1 << l) == k;
    size_t n = (size_t)k * (cfg->quick ? 16384 : 262144); /* floats, a multiple of K */
    size_t bytes = n * 4;
    float *send = malloc(bytes), *recv = malloc(bytes);
    SO_ASSERT(send && recv);
    for (size_t i = 0; i < n; i++) {
        send[i] = (float)(i % 3);
    }
    if (r == 0) {
        char sz[32];
        ch04_size_label(bytes, sz, sizeof sz);
        printf("\n(e) one all-reduce of n = %s on %d ranks: bytes and messages counted by the "
               "transport (so_comm_counters) vs the book's formulas\n",
               sz, k);
        printf("    %-6s %-22s %10s %10s %14s %14s %6s\n", "algo", "who", "msgs", "formula",
               "bytes", "formula", "match");
    }
    int ok_all = 1, nchecked = 0;
    for (int ai = 0; ai < CH04_NALGOS; ai++) {
        so_algo a = ch04_algos[ai];
        so_coll_opts o = {.algo = a};
        SO_CHECK(so_barrier(c));
        so_comm_counters_reset(c);
        SO_CHECK(so_allreduce_ex(c, send, recv, n, SO_F32, SO_SUM, &o));
        so_comm_counters cnt;
        so_comm_counters_get(c, &cnt);
        /* [0..1]: root's messages and bytes, sent + received; [2..3]: max over ranks of sent. */
        int64_t v[4] = {0, 0, (int64_t)cnt.msgs_sent, (int64_t)cnt.bytes_sent};
        if (r == 0) {
            v[0] = (int64_t)(cnt.msgs_sent + cnt.msgs_recv);
            v[1] = (int64_t)(cnt.bytes_sent + cnt.bytes_recv);
        }
        SO_CHECK(so_allreduce(c, v, v, 4, SO_I64, SO_MAX));
        const char *who;
        int64_t fm, fb, m, b;
        int applies = 1;
        switch (a) {
        case SO_ALGO_NAIVE: /* root: 2(K-1) messages, 2(K-1) n bytes */
            who = "root, sent+received";
            m = v[0], b = v[1];
            fm = 2 * (k - 1), fb = 2 * (int64_t)(k - 1) * (int64_t)bytes;
            break;
        case SO_ALGO_TREE: /* root: 2 ceil(log2 K) hops of n bytes */
            who = "root, sent+received";
            m = v[0], b = v[1];
            fm = 2 * l, fb = 2 * (int64_t)l * (int64_t)bytes;
            break;
        case SO_ALGO_RING: /* every rank sends 2(K-1) messages, 2(K-1)/K n bytes */
            who = "each rank, sent (max)";
            m = v[2], b = v[3];
            fm = 2 * (k - 1), fb = 2 * (int64_t)(k - 1) * (int64_t)(bytes / (size_t)k);
            break;
        default: /* hd: 2 log2 K steps, 2(K-1)/K n bytes, K a power of two */
            who = "each rank, sent (max)";
            m = v[2], b = v[3];
            fm = 2 * l, fb = 2 * (int64_t)(k - 1) * (int64_t)(bytes / (size_t)k);
            applies = pow2;
            break;
        }
        int match = m == fm && b == fb;
        if (applies) {
            ok_all &= match;
            nchecked++;
        }
        if (r == 0) {
            printf("    %-6s %-22s %10lld %10lld %14lld %14lld %6s\n", so_algo_name(a), who,
                   (long long)m, (long long)fm, (long long)b, (long long)fb,
                   !applies ? "n/a"
                   : match  ? "yes"
                            : "NO");
        }
    }
    res->counters_ok = ok_all;
    res->counters_n = nchecked;
    if (!ok_all) {
        ch04_fail(res, "byte or message counts differ from the book's formulas");
    }
    free(send);
    free(recv);
}

/* ---- driver ---- */

static int ch04_tcp_group(so_comm *world, so_store **st, so_comm **out) {
    const char *addr = getenv("MASTER_ADDR"), *port = getenv("MASTER_PORT");
    if (!addr || !port) {
        fprintf(stderr, "ch04: no MASTER_ADDR/MASTER_PORT, so no TCP group beside the shm one\n");
        return SO_ENOTSUP;
    }
    SO_TRY(so_store_create_tcp(addr, atoi(port), so_comm_timeout_ms(world), st));
    so_comm_config cfg;
    so_comm_config_default(&cfg);
    cfg.rank = so_comm_rank(world);
    cfg.size = so_comm_size(world);
    cfg.transport = "tcp";
    cfg.store = *st;
    cfg.name = "ch04-tcp";
    return so_comm_create(&cfg, out);
}

static int ch04_rank_main(const ch04_cfg *cfg) {
    double t0 = so_now_s();
    so_comm *world;
    SO_CHECK(so_comm_init_from_env(&world));
    int r = so_comm_rank(world), k = so_comm_size(world);
    ch04_result res;
    memset(&res, 0, sizeof res);
    if (k < 2 || k > 64) {
        if (r == 0) {
            printf("ch04 FAIL needs 2..64 ranks, got %d\n", k);
        }
        so_comm_destroy(world);
        return 1;
    }
    if (r == 0) {
        printf("Chapter 4: communication primitives on %d processes%s\n", k,
               cfg->quick ? " (quick)" : "");
    }
    so_comm *groups[CH04_MAX_GROUPS] = {world, NULL};
    so_store *st = NULL;
    int ng = 1;
    if (!strcmp(cfg->transport, "both")) {
        SO_CHECK(ch04_tcp_group(world, &st, &groups[1]));
        ng = 2;
    }
    res.ngroups = ng;
    for (int gi = 0; gi < ng && !cfg->overlap_only; gi++) {
        res.gname[gi] = so_comm_transport_name(groups[gi], (r + 1) % k);
        part_a(groups[gi], gi, cfg, &res);
    }
    if (r == 0 && !cfg->overlap_only) {
        book_table(&res);
    }
    ch04_overlap_result ovr;
    if (!cfg->overlap_only) {
        part_b(world, cfg, &res);
        part_c(world, cfg, &res);
        part_d(world, &res);
        part_e(world, cfg, &res);
        int contract_ok = 0;
        SO_CHECK(ch04_contract_run(world, 431, &contract_ok));
        res.contract = contract_ok;
        if (!contract_ok) {
            ch04_fail(&res,
                      "the all-reduce contract (4.3.1) or the actor-learner counts (4.7.1) failed");
        }
    }
    SO_CHECK(ch04_overlap_run(world, &cfg->ov, &ovr));
    if (ovr.wrong) {
        ch04_fail(&res, "the reducer produced wrong gradients");
    }
    /* Everyone agrees on failure (rank 0's book check included). */
    int64_t f = res.fail || res.wrong_total;
    SO_CHECK(so_allreduce(world, &f, &f, 1, SO_I64, SO_MAX));
    if (r == 0) {
        if (res.wrong_total) {
            ch04_fail(&res, "an all-reduce produced wrong elements");
        }
        if (f && !res.fail) {
            ch04_fail(&res, "a check failed on another rank");
        }
        if (res.fail) {
            printf("ch04 FAIL %s\n", res.reason);
        } else if (cfg->overlap_only) {
            printf("\nch04 OK ranks=%d overlap_hidden=%.1f%% overlap_speedup=%.2fx@%d wrong=0 "
                   "seconds=%.1f\n",
                   k, 100 * ovr.hidden_best, ovr.speedup_best, ovr.lpb_best, so_now_s() - t0);
        } else {
            printf("\nch04 OK ranks=%d", k);
            for (int gi = 0; gi < ng; gi++) {
                printf(" ring_busbw_%s=%.3fGB/s", res.gname[gi], res.ring_busbw[gi]);
            }
            printf(" wrong=0 identical=1 book441=%d rs_ag_equal=%d ag_rebuilds=%d a2a_exact=%d "
                   "moe_max_over_ideal=%.2f ex422=20,16,17 hops=%d counters_match=%d/%d "
                   "contract=%d overlap_hidden=%.1f%% seconds=%.1f\n",
                   res.book441, res.rs_ag_equal, res.ag_rebuilds, res.a2a_exact, res.max_over_ideal,
                   res.hops, res.counters_n, res.counters_n, res.contract, 100 * ovr.hidden_best,
                   so_now_s() - t0);
        }
        fflush(stdout);
    }
    if (groups[1]) {
        so_comm_destroy(groups[1]);
    }
    so_store_destroy(st);
    so_comm_destroy(world);
    return f ? 1 : 0;
}

static void ch04_usage(void) {
    printf(
        "usage: scaleout demo ch04 [--quick] [-n K (4)] [--transport shm|tcp|both (both)]\n"
        "         [--size BYTES (16M; 1M with --quick)] [--iters N (15; 7 with --quick)]\n"
        "         [--tokens T (512; 128 with --quick)]\n"
        "         [--overlap (only part f)] [--layers L (48; 12 quick)] [--grad BYTES (auto)]\n"
        "         [--compute-ms C (3)] [--lpb 1,2,4,8,16,48] [--reps N (3; 2 quick)]\n"
        "         [--plot FILE.png (hidden fraction vs bucket size; FILE.csv beside it)]\n"
        "         [--trace FILE.json (timelines of part f for Perfetto / chrome://tracing)]\n"
        "Chapter 4 on K processes: naive/tree/ring/halving-doubling all-reduce measured vs the\n"
        "alpha-beta model (and the book's table 4.4.1); reduce-scatter + all-gather = all-reduce;\n"
        "all-to-all as MoE routing; the 4.2.2 example from p2p hops; byte counters vs formulas;\n"
        "gradient bucketing with overlap (the reducer) measured vs the 4.10.1 model.\n");
}

static int demo_ch04(int argc, char **argv) {
    ch04_cfg cfg = {.nranks = 4, .transport = "both", .iters = 0, .tokens = 0, .size = 0};
    /* Overlap flags are kept aside and applied over the quick or full defaults. */
    int layers = 0, reps = 0, nlpb = 0, lpb[CH04_MAX_LPB];
    double compute_ms = 0;
    size_t grad = 0;
    const char *plot = NULL, *trace = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ch04_usage();
            return 0;
        } else if (!strcmp(a, "--quick")) {
            cfg.quick = 1;
        } else if (!strcmp(a, "-n") && v) {
            cfg.nranks = atoi(v), i++;
        } else if (!strcmp(a, "--transport") && v) {
            cfg.transport = v, i++;
        } else if (!strcmp(a, "--iters") && v) {
            cfg.iters = atoi(v), i++;
        } else if (!strcmp(a, "--tokens") && v) {
            cfg.tokens = atoi(v), i++;
        } else if (!strcmp(a, "--overlap")) {
            cfg.overlap_only = 1;
        } else if (!strcmp(a, "--layers") && v) {
            layers = atoi(v), i++;
        } else if (!strcmp(a, "--reps") && v) {
            reps = atoi(v), i++;
        } else if (!strcmp(a, "--compute-ms") && v) {
            compute_ms = atof(v), i++;
        } else if (!strcmp(a, "--plot") && v) {
            plot = v, i++;
        } else if (!strcmp(a, "--trace") && v) {
            trace = v, i++;
        } else if (!strcmp(a, "--grad") && v) {
            if (so_parse_size(v, &grad) < 0 || grad < 4) {
                fprintf(stderr, "ch04: bad --grad '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--lpb") && v) {
            char *end = (char *)v;
            for (nlpb = 0; *end && nlpb < CH04_MAX_LPB;) {
                long x = strtol(end, &end, 10);
                if (x < 1 || (*end && *end != ',')) {
                    fprintf(stderr, "ch04: --lpb wants positive integers separated by commas\n");
                    return 2;
                }
                lpb[nlpb++] = (int)x;
                end += *end == ',';
            }
            i++;
        } else if (!strcmp(a, "--size") && v) {
            if (so_parse_size(v, &cfg.size) < 0 || cfg.size < 8) {
                fprintf(stderr, "ch04: bad --size '%s'\n", v);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "ch04: unknown flag '%s'\n", a);
            ch04_usage();
            return 2;
        }
    }
    if (strcmp(cfg.transport, "shm") && strcmp(cfg.transport, "tcp") &&
        strcmp(cfg.transport, "both")) {
        fprintf(stderr, "ch04: --transport wants shm, tcp or both\n");
        return 2;
    }
    if (cfg.nranks < 2 || cfg.nranks > 64) {
        fprintf(stderr, "ch04: -n wants 2..64 ranks\n");
        return 2;
    }
    cfg.size = cfg.size ? cfg.size : cfg.quick ? ((size_t)1 << 20) : ((size_t)16 << 20);
    cfg.iters = cfg.iters > 0 ? cfg.iters : cfg.quick ? 7 : 15;
    cfg.tokens = cfg.tokens > 0 ? cfg.tokens : cfg.quick ? 128 : 512;
    /* Part (f) runs small inside the whole demo, full size with --overlap alone. */
    ch04_overlap_defaults(&cfg.ov, cfg.quick || !cfg.overlap_only);
    cfg.ov.layers = layers > 0 ? layers : cfg.ov.layers;
    cfg.ov.reps = reps > 0 ? reps : cfg.ov.reps;
    cfg.ov.compute_ms = compute_ms > 0 ? compute_ms : cfg.ov.compute_ms;
    cfg.ov.grad = grad;
    cfg.ov.plot = plot;
    cfg.ov.trace = trace;
    if (nlpb) {
        memcpy(cfg.ov.lpb, lpb, sizeof lpb);
        cfg.ov.nlpb = nlpb;
    } else if (layers > 0) {
        /* The default ladder, clipped to L and ending at one bucket of all layers. */
        int m = 0;
        for (int b = 1; b < layers && m < CH04_MAX_LPB - 1; b *= 2) {
            cfg.ov.lpb[m++] = b;
        }
        cfg.ov.lpb[m++] = layers;
        cfg.ov.nlpb = m;
    }
    if (!so_cli_is_worker()) {
        int rc = so_cli_launch_self(
            cfg.nranks, !strcmp(cfg.transport, "both") ? "shm" : cfg.transport, argc, argv);
        if (rc != 0) {
            printf("ch04 FAIL a rank exited with code %d\n", rc);
            return 1;
        }
        return 0;
    }
    return ch04_rank_main(&cfg);
}

SO_CLI_DEMO(ch04,
            "communication primitives: all-reduce algorithms vs alpha-beta, RS+AG, MoE "
            "all-to-all, byte counters",
            demo_ch04)
