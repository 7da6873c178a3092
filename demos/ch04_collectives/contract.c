/*
 * Chapter 4 demo, parts (g) and (h): the all-reduce contract (book 4.3.1) and the actor-learner
 * pattern built from broadcast and gather (book 4.7.1), on the demo's K processes.
 *
 * (g) Every rank draws P values from its own seeded stream; after a SUM all-reduce every rank
 *     holds the same bits, equal to the true sum (recomputed by rank 0 from a gather of the
 *     inputs, in rank order), and the AVG all-reduce equals sum / K. The book checks this at
 *     K = 6, P = 4; here K is the demo's -n.
 * (h) A learner (rank 0) broadcasts a policy of 8 floats (32 bytes) to every actor; each actor
 *     runs an episode (a seeded random walk scored by the policy) and the learner gathers the
 *     returns. The book counts 32 B per actor (192 B at K = 6); the transport's counters show
 *     what crossed the wire: (K-1) x 32 B of policy, since the learner's own copy never moves,
 *     and (K-1) x 8 B of returns.
 * Cost: a few small collectives; microseconds.
 */
#include <math.h>
#include <string.h>

#include "ch04.h"
#include "scaleout/so.h"

enum { CH04_P = 4, CH04_POLICY = 8 };

int ch04_contract_run(so_comm *c, uint64_t seed, int *ok_out) {
    int r = so_comm_rank(c), k = so_comm_size(c);
    so_rng rng;
    so_rng_seed_stream(&rng, seed, (uint64_t)r);
    double x[CH04_P], sum[CH04_P], avg[CH04_P];
    for (int i = 0; i < CH04_P; i++) {
        x[i] = so_rng_normal(&rng);
    }
    SO_TRY(so_allreduce(c, x, sum, CH04_P, SO_F64, SO_SUM));
    SO_TRY(so_allreduce(c, x, avg, CH04_P, SO_F64, SO_AVG));
    double *all = malloc(sizeof(double) * CH04_P * (size_t)k);
    uint64_t *bits = malloc(sizeof(uint64_t) * (size_t)k);
    SO_ASSERT(all && bits);
    SO_TRY(so_gather(c, x, all, CH04_P, SO_F64, 0));
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the result's bits */
    for (size_t i = 0; i < sizeof sum; i++) {
        h = (h ^ ((const unsigned char *)sum)[i]) * 1099511628211ULL;
    }
    SO_TRY(so_gather(c, &h, bits, 1, SO_I64, 0));
    int ok = 1;
    if (r == 0) {
        int identical = 1;
        for (int q = 1; q < k; q++) {
            identical &= bits[q] == bits[0];
        }
        double worst = 0, worst_avg = 0;
        for (int i = 0; i < CH04_P; i++) {
            double s = 0, mag = 0;
            for (int q = 0; q < k; q++) {
                s += all[q * CH04_P + i];
                mag += fabs(all[q * CH04_P + i]);
            }
            worst = fmax(worst, fabs(sum[i] - s) / (mag > 0 ? mag : 1));
            worst_avg = fmax(worst_avg, fabs(avg[i] - sum[i] / k));
        }
        /* The sum's order differs from the serial one by algorithm: allow K rounding steps. */
        ok = identical && worst <= k * 2.3e-16 && worst_avg == 0;
        printf("\n(g) book 4.3.1, the all-reduce contract: K=%d, P=%d doubles per rank\n", k,
               CH04_P);
        printf("    sum[0..3] = [%.6f %.6f %.6f %.6f]\n", sum[0], sum[1], sum[2], sum[3]);
        printf(
            "    all ranks identical bits: %s; equal to the true sum: rel err %.1e; mean = sum/K "
            "exactly: %s\n",
            identical ? "yes" : "NO", worst, worst_avg == 0 ? "yes" : "NO");
    }
    free(all);
    free(bits);

    /* (h) the actor-learner loop: one broadcast of the policy, one gather of the returns. */
    float policy[CH04_POLICY];
    for (int i = 0; i < CH04_POLICY; i++) {
        policy[i] = r == 0 ? 0.5f + 0.1f * (float)i : 0.0f;
    }
    SO_TRY(so_barrier(c));
    so_comm_counters_reset(c);
    SO_TRY(so_bcast(c, policy, CH04_POLICY, SO_F32, 0));
    so_comm_counters bc;
    so_comm_counters_get(c, &bc);
    double ret = 0; /* an episode: 32 steps of a random walk, rewarded by the policy's weights */
    so_rng_seed_stream(&rng, seed + 47, (uint64_t)r);
    for (int t = 0; t < 32; t++) {
        ret += policy[t % CH04_POLICY] * (1.0 + so_rng_normal(&rng));
    }
    double *rets = malloc(sizeof(double) * (size_t)k);
    SO_ASSERT(rets);
    so_comm_counters_reset(c);
    SO_TRY(so_gather(c, &ret, rets, 1, SO_F64, 0));
    so_comm_counters gc;
    so_comm_counters_get(c, &gc);
    int64_t v[2] = {(int64_t)bc.bytes_recv, (int64_t)gc.bytes_recv};
    SO_TRY(so_allreduce(c, v, v, 2, SO_I64, SO_SUM));
    int policy_ok = 1;
    for (int i = 0; i < CH04_POLICY; i++) {
        policy_ok &= policy[i] == 0.5f + 0.1f * (float)i;
    }
    int64_t pok = policy_ok;
    SO_TRY(so_allreduce(c, &pok, &pok, 1, SO_I64, SO_MIN));
    if (r == 0) {
        double mean = 0;
        for (int q = 0; q < k; q++) {
            mean += rets[q] / k;
        }
        int bytes_ok = v[0] == (int64_t)(k - 1) * 32 && v[1] == (int64_t)(k - 1) * 8;
        ok = ok && pok && bytes_ok;
        printf("\n(h) book 4.7.1, actor-learner: the learner broadcasts a 32 B policy, %d actors "
               "run episodes, the learner gathers returns\n",
               k - 1);
        printf("    policy bytes received by actors: %lld (= (K-1) x 32; the book counts 32 B per "
               "rank, %d B at K=%d); returns gathered: %lld B; mean return %+.2f; policy intact "
               "on every rank: %s\n",
               (long long)v[0], 32 * k, k, (long long)v[1], mean, pok ? "yes" : "NO");
    }
    free(rets);
    int64_t all_ok = ok;
    SO_TRY(so_bcast(c, &all_ok, 1, SO_I64, 0));
    *ok_out = (int)all_ok;
    return SO_OK;
}
