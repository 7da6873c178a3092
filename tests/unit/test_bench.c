/*
 * Unit tests of the benchmark machinery (bench/bench_common.c): the #wrong check agrees with
 * the library's own reduction kernels for every dtype and op and catches a single wrong
 * element; sweeps, size labels and nccl-tests' bus-bandwidth factors are right.
 */
#include "bench_common.h"
#include "so_test.h"

/* For every dtype and op: K inputs filled with the bench's values, reduced serially with
 * so_reduce_local (and so_scale_avg), must pass the check with 0 wrong; one corrupted element
 * must give exactly 1. */
static int t_check_matches_kernels(void) {
    const so_dtype dts[] = {SO_F32, SO_F64, SO_I32, SO_I64, SO_BF16, SO_F16, SO_U8};
    const so_op ops[] = {SO_SUM, SO_PROD, SO_MIN, SO_MAX, SO_AVG};
    enum { N = 37, MAXK = 7 };
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            for (int k = 1; k <= MAXK; k += 3) {
                so_dtype dt = dts[d];
                so_op op = ops[o];
                size_t es = so_dtype_size(dt), first = 5;
                unsigned char acc[N * 8], in[N * 8];
                so_bench_fill(dt, op, 0, acc, first, N);
                for (int r = 1; r < k; r++) {
                    so_bench_fill(dt, op, r, in, first, N);
                    so_reduce_local(op, dt, acc, acc, in, N);
                }
                if (op == SO_AVG) {
                    so_scale_avg(dt, acc, N, k);
                }
                size_t wrong = so_bench_check_reduced(dt, op, k, acc, first, N);
                if (wrong != 0) {
                    SO_TEST_FAIL_("%s %s k=%d: %zu wrong on a correct reduction", so_dtype_name(dt),
                                  so_op_name(op), k, wrong);
                }
                /* Corrupt element 11 by a value no op/dtype could produce here. */
                so_bench_put(dt, acc, 11, so_bench_get(dt, acc, 11) + 100);
                (void)es;
                CHECK_EQ_INT(so_bench_check_reduced(dt, op, k, acc, first, N), 1);
            }
        }
    }
    return 0;
}

/* The check is position-aware: the right values at the wrong offset are wrong. */
static int t_check_offset(void) {
    float buf[10];
    so_bench_fill(SO_F32, SO_SUM, 0, buf, 0, 10);
    CHECK_EQ_INT(so_bench_check_reduced(SO_F32, SO_SUM, 1, buf, 0, 10), 0);
    CHECK(so_bench_check_reduced(SO_F32, SO_SUM, 1, buf, 1, 10) > 0);
    so_bench_poison(buf, sizeof buf);
    CHECK_EQ_INT(so_bench_check_reduced(SO_F32, SO_SUM, 1, buf, 0, 10), 10);
    return 0;
}

static int t_sweep(void) {
    so_bench_sweep sw;
    so_bench_sweep_default(&sw);
    int n = 0;
    size_t last = 0;
    for (size_t s = so_bench_sweep_first(&sw); s; s = so_bench_sweep_next(&sw, s)) {
        n++;
        last = s;
    }
    CHECK_EQ_INT(n, 24); /* 8 B .. 64 MiB by 2 */
    CHECK_EQ_INT(last, (size_t)64 << 20);
    CHECK_EQ_INT(so_bench_sweep_largest(&sw), (size_t)64 << 20);
    CHECK_OK(so_bench_sweep_parse_list(&sw, "8,1K,64K,1M"));
    CHECK_EQ_INT(sw.nsizes, 4);
    CHECK_EQ_INT(so_bench_sweep_first(&sw), 8);
    CHECK_EQ_INT(so_bench_sweep_next(&sw, 1024), 65536);
    CHECK_EQ_INT(so_bench_sweep_next(&sw, (size_t)1 << 20), 0);
    CHECK_EQ_INT(so_bench_sweep_largest(&sw), (size_t)1 << 20);
    CHECK(so_bench_sweep_parse_list(&sw, "8,,x") < 0);
    so_bench_sweep_default(&sw);
    sw.min = 100;
    sw.max = 400;
    sw.step = 100;
    n = 0;
    for (size_t s = so_bench_sweep_first(&sw); s; s = so_bench_sweep_next(&sw, s)) {
        n++;
    }
    CHECK_EQ_INT(n, 4);
    return 0;
}

static int t_flags(void) {
    char *argv[] = {"x", "--min", "1K", "--max=2M", "--iters", "7", "--bogus"};
    int argc = 7, i = 1;
    so_bench_sweep sw;
    so_bench_sweep_default(&sw);
    so_bench_timing tm;
    so_bench_timing_default(&tm);
    CHECK_EQ_INT(so_bench_sweep_flag(&sw, argc, argv, &i), 1);
    CHECK_EQ_INT(i, 2);
    i++;
    CHECK_EQ_INT(so_bench_sweep_flag(&sw, argc, argv, &i), 1);
    i++;
    CHECK_EQ_INT(so_bench_timing_flag(&tm, argc, argv, &i), 1);
    i++;
    CHECK_EQ_INT(so_bench_sweep_flag(&sw, argc, argv, &i), 0);
    CHECK_EQ_INT(sw.min, 1024);
    CHECK_EQ_INT(sw.max, (size_t)2 << 20);
    CHECK_EQ_INT(tm.iters, 7);
    char *bad[] = {"x", "--iters"};
    i = 1;
    CHECK(so_bench_timing_flag(&tm, 2, bad, &i) < 0);
    return 0;
}

static int t_labels_and_factors(void) {
    char b[32];
    so_bench_size_label(8, b, sizeof b);
    CHECK_STR_EQ(b, "8B");
    so_bench_size_label(1024, b, sizeof b);
    CHECK_STR_EQ(b, "1KiB");
    so_bench_size_label((size_t)64 << 20, b, sizeof b);
    CHECK_STR_EQ(b, "64MiB");
    so_bench_size_label(1048584, b, sizeof b);
    CHECK_STR_EQ(b, "1048584B");
    CHECK_NEAR(so_bench_busbw_factor("allreduce", 4), 1.5, 1e-12);
    CHECK_NEAR(so_bench_busbw_factor("allreduce", 2), 1.0, 1e-12);
    CHECK_NEAR(so_bench_busbw_factor("reduce_scatter", 4), 0.75, 1e-12);
    CHECK_NEAR(so_bench_busbw_factor("allgather", 4), 0.75, 1e-12);
    CHECK_NEAR(so_bench_busbw_factor("alltoall", 4), 0.75, 1e-12);
    CHECK_NEAR(so_bench_busbw_factor("bcast", 4), 1.0, 1e-12);
    double v[] = {5, 1, 4, 2, 3};
    CHECK_NEAR(so_bench_median(v, 5), 3.0, 0);
    double w[] = {4, 1, 3, 2};
    CHECK_NEAR(so_bench_median(w, 4), 2.5, 0);
    return 0;
}

SO_TEST_MAIN({"check_matches_kernels", t_check_matches_kernels}, {"check_offset", t_check_offset},
             {"sweep", t_sweep}, {"flags", t_flags}, {"labels_and_factors", t_labels_and_factors})
