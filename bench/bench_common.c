/*
 * Shared machinery of `scaleout bench`: size sweeps, flag helpers, the timing method, the
 * known-value fill and check of collective buffers, and the table/CSV/JSON-lines outputs.
 *
 * Timing: warm-up calls; then N timed calls, each preceded by so_barrier and timed on every
 * rank with the monotonic clock; one all-reduce (max) of the N times gives the per-call time
 * as the slowest rank saw it; the row reports the median over calls and the min and max. N
 * comes from the warm-up (max over ranks) so that one size takes about `budget` seconds,
 * clamped to [min_iters, max_iters]. This is the method of nccl-tests (-n/-w) and of the Open
 * MPI peer (bench/mpi_allreduce.c), so their figures can be set side by side.
 *
 * Cost: the timed calls, plus one barrier each and one all-reduce of N doubles per size.
 * Limits: a barrier before every call measures an isolated call (no pipelining between calls);
 * that is the favourable case and the same one the peers measure.
 */
#include "bench_common.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- sizes ---- */

void so_bench_sweep_default(so_bench_sweep *sw) {
    memset(sw, 0, sizeof *sw);
    sw->min = 8;
    sw->max = (size_t)64 << 20;
    sw->factor = 2.0;
}

size_t so_bench_sweep_first(const so_bench_sweep *sw) {
    return sw->nsizes > 0 ? sw->sizes[0] : sw->min;
}

size_t so_bench_sweep_largest(const so_bench_sweep *sw) {
    if (sw->nsizes > 0) {
        size_t m = 0;
        for (int i = 0; i < sw->nsizes; i++) {
            m = sw->sizes[i] > m ? sw->sizes[i] : m;
        }
        return m;
    }
    size_t last = sw->min;
    for (size_t s = sw->min; s; s = so_bench_sweep_next(sw, s)) {
        last = s;
    }
    return last;
}

int so_bench_sweep_parse_list(so_bench_sweep *sw, const char *list) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    sw->nsizes = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (sw->nsizes == SO_BENCH_MAX_SIZES) {
            return so__fail(SO_EINVAL, "--sizes: at most %d sizes", SO_BENCH_MAX_SIZES);
        }
        SO_TRY(so_parse_size(tok, &sw->sizes[sw->nsizes]));
        if (sw->sizes[sw->nsizes] == 0) {
            return so__fail(SO_EINVAL, "--sizes: a size must be at least 1 byte");
        }
        sw->nsizes++;
    }
    if (sw->nsizes == 0) {
        return so__fail(SO_EINVAL, "--sizes: empty list '%s'", list);
    }
    return SO_OK;
}

int so_bench_sweep_flag(so_bench_sweep *sw, int argc, char **argv, int *i) {
    int rc;
    const char *list;
    if ((rc = so_bench_flag_size(argc, argv, i, "--min", &sw->min)) ||
        (rc = so_bench_flag_size(argc, argv, i, "--max", &sw->max)) ||
        (rc = so_bench_flag_double(argc, argv, i, "--factor", &sw->factor)) ||
        (rc = so_bench_flag_size(argc, argv, i, "--step", &sw->step))) {
        if (rc > 0 && (sw->min == 0 || sw->max < sw->min || (!sw->step && sw->factor <= 1.0))) {
            return so__fail(SO_EINVAL, "sizes: want 1 <= --min <= --max and --factor > 1");
        }
        return rc;
    }
    if ((rc = so_bench_flag_str(argc, argv, i, "--sizes", &list)) > 0) {
        SO_TRY(so_bench_sweep_parse_list(sw, list));
    }
    return rc;
}

size_t so_bench_sweep_next(const so_bench_sweep *sw, size_t s) {
    size_t n;
    if (sw->nsizes > 0) {
        for (int i = 0; i + 1 < sw->nsizes; i++) {
            if (sw->sizes[i] == s) {
                return sw->sizes[i + 1];
            }
        }
        return 0;
    }
    if (sw->step) {
        n = s + sw->step;
    } else {
        n = (size_t)((double)s * sw->factor);
        if (n <= s) {
            n = s + 1;
        }
    }
    return n > sw->max ? 0 : n;
}

/* ---- flags ---- */

/* Matches `name value` or `name=value`; *val receives the value text. */
static int flag_match(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t len = strlen(name);
    if (strncmp(a, name, len) != 0) {
        return 0;
    }
    if (a[len] == '=') {
        *val = a + len + 1;
        return 1;
    }
    if (a[len] != '\0') {
        return 0;
    }
    if (*i + 1 >= argc) {
        return so__fail(SO_EINVAL, "flag %s needs a value", name);
    }
    *i += 1;
    *val = argv[*i];
    return 1;
}

int so_bench_flag_str(int argc, char **argv, int *i, const char *name, const char **out) {
    return flag_match(argc, argv, i, name, out);
}

int so_bench_flag_int(int argc, char **argv, int *i, const char *name, int *out) {
    const char *v;
    int rc = flag_match(argc, argv, i, name, &v);
    if (rc <= 0) {
        return rc;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < -2147483647L || x > 2147483647L) {
        return so__fail(SO_EINVAL, "flag %s wants an integer, got '%s'", name, v);
    }
    *out = (int)x;
    return 1;
}

int so_bench_flag_size(int argc, char **argv, int *i, const char *name, size_t *out) {
    const char *v;
    int rc = flag_match(argc, argv, i, name, &v);
    if (rc <= 0) {
        return rc;
    }
    SO_TRY(so_parse_size(v, out));
    return 1;
}

int so_bench_flag_double(int argc, char **argv, int *i, const char *name, double *out) {
    const char *v;
    int rc = flag_match(argc, argv, i, name, &v);
    if (rc <= 0) {
        return rc;
    }
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end) {
        return so__fail(SO_EINVAL, "flag %s wants a number, got '%s'", name, v);
    }
    *out = x;
    return 1;
}

/* ---- timing ---- */

int so_bench_timing_flag(so_bench_timing *t, int argc, char **argv, int *i) {
    int rc;
    if ((rc = so_bench_flag_int(argc, argv, i, "--iters", &t->iters)) ||
        (rc = so_bench_flag_int(argc, argv, i, "--warmup", &t->warmup)) ||
        (rc = so_bench_flag_double(argc, argv, i, "--budget", &t->budget))) {
        if (rc > 0 && (t->iters < 0 || t->budget <= 0.0)) {
            return so__fail(SO_EINVAL, "timing: want --iters >= 0 and --budget > 0");
        }
        return rc;
    }
    return 0;
}

void so_bench_timing_default(so_bench_timing *t) {
    t->iters = 0;
    t->warmup = -1;
    t->budget = 0.5;
    t->min_iters = 5;
    t->max_iters = 1000;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double so_bench_median(double *v, int n) {
    if (n <= 0) {
        return 0.0;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int so_bench_time(so_comm *c, int (*fn)(so_comm *c, void *arg), void *arg, size_t bytes,
                  const so_bench_timing *t, so_bench_stats *out) {
    int warm = t->warmup;
    if (warm < 0) {
        warm = bytes >= ((size_t)16 << 20) ? 3 : bytes >= ((size_t)1 << 20) ? 10 : 100;
    }
    int iters = t->iters;
    SO_TRY(so_barrier(c));
    double t0 = so_now_s();
    for (int i = 0; i < warm; i++) {
        SO_TRY(fn(c, arg));
    }
    if (iters <= 0) {
        /* Estimate the time of one call from the warm-up, as the slowest rank saw it. */
        double one;
        if (warm > 0) {
            one = (so_now_s() - t0) / warm;
        } else {
            double s = so_now_s();
            SO_TRY(fn(c, arg));
            one = so_now_s() - s;
        }
        SO_TRY(so_allreduce(c, &one, &one, 1, SO_F64, SO_MAX));
        double n = t->budget / (one + 2e-6);
        iters = n > t->max_iters ? t->max_iters : n < t->min_iters ? t->min_iters : (int)n;
    }
    double *times = malloc(sizeof(double) * (size_t)iters);
    if (!times) {
        return so__fail(SO_ENOMEM, "bench: no memory for %d timings", iters);
    }
    int rc = SO_OK;
    for (int i = 0; i < iters; i++) {
        SO_TRY_GOTO(so_barrier(c), rc, done);
        double s = so_now_s();
        SO_TRY_GOTO(fn(c, arg), rc, done);
        times[i] = so_now_s() - s;
    }
    SO_TRY_GOTO(so_allreduce(c, times, times, (size_t)iters, SO_F64, SO_MAX), rc, done);
    out->med_s = so_bench_median(times, iters); /* sorts */
    out->min_s = times[0];
    out->max_s = times[iters - 1];
    out->iters = iters;
done:
    free(times);
    return rc;
}

/* ---- known values ---- */

int so_bench_value(so_op op, int r, size_t i) {
    if (op == SO_PROD) {
        return 1 + (int)((i + (size_t)r) % 2);
    }
    return (int)((i + 3 * (size_t)r) % 5);
}

static int dtype_is_int(so_dtype dt) {
    return dt == SO_I32 || dt == SO_I64 || dt == SO_U8;
}

void so_bench_put(so_dtype dt, void *buf, size_t i, double v) {
    int64_t iv = (int64_t)llround(v);
    switch (dt) {
    case SO_F32:
        ((float *)buf)[i] = (float)v;
        break;
    case SO_F64:
        ((double *)buf)[i] = v;
        break;
    case SO_I32:
        ((int32_t *)buf)[i] = (int32_t)iv;
        break;
    case SO_I64:
        ((int64_t *)buf)[i] = iv;
        break;
    case SO_BF16:
        ((uint16_t *)buf)[i] = so_f32_to_bf16((float)v);
        break;
    case SO_F16:
        ((uint16_t *)buf)[i] = so_f32_to_f16((float)v);
        break;
    case SO_U8:
        ((uint8_t *)buf)[i] = (uint8_t)iv;
        break;
    default:
        SO_ASSERT(0 && "unknown dtype");
    }
}

double so_bench_get(so_dtype dt, const void *buf, size_t i) {
    switch (dt) {
    case SO_F32:
        return ((const float *)buf)[i];
    case SO_F64:
        return ((const double *)buf)[i];
    case SO_I32:
        return ((const int32_t *)buf)[i];
    case SO_I64:
        return (double)((const int64_t *)buf)[i];
    case SO_BF16:
        return so_bf16_to_f32(((const uint16_t *)buf)[i]);
    case SO_F16:
        return so_f16_to_f32(((const uint16_t *)buf)[i]);
    case SO_U8:
        return ((const uint8_t *)buf)[i];
    default:
        SO_ASSERT(0 && "unknown dtype");
    }
    return 0.0;
}

void so_bench_fill(so_dtype dt, so_op op, int r, void *buf, size_t first, size_t n) {
    for (size_t i = 0; i < n; i++) {
        so_bench_put(dt, buf, i, so_bench_value(op, r, first + i));
    }
}

void so_bench_poison(void *buf, size_t bytes) {
    memset(buf, 0xA5, bytes);
}

size_t so_bench_check_reduced(so_dtype dt, so_op op, int k, const void *buf, size_t first,
                              size_t n) {
    /* so_bench_value has period 10 in i, so ten expected values cover every element. */
    enum { PERIOD = 10 };
    double want[PERIOD];
    int isint = dtype_is_int(dt);
    for (int p = 0; p < PERIOD; p++) {
        int64_t acc = so_bench_value(op, 0, (size_t)p);
        for (int r = 1; r < k; r++) {
            int64_t v = so_bench_value(op, r, (size_t)p);
            switch (op) {
            case SO_PROD:
                acc *= v;
                break;
            case SO_MIN:
                acc = v < acc ? v : acc;
                break;
            case SO_MAX:
                acc = v > acc ? v : acc;
                break;
            default:
                acc += v;
                break;
            }
        }
        double e = (double)acc;
        if (op == SO_AVG) {
            e = isint ? (double)(acc / k) : (double)acc / k;
        }
        /* Round the expected value through the dtype, as the library stores it. */
        uint64_t tmp = 0;
        so_bench_put(dt, &tmp, 0, e);
        want[p] = (op == SO_AVG && !isint) ? e : so_bench_get(dt, &tmp, 0);
    }
    double tol = 0.0;
    if (op == SO_AVG && !isint) {
        tol = (dt == SO_BF16 || dt == SO_F16) ? 1.0 / 128 : 1e-6;
    }
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        double got = so_bench_get(dt, buf, i), w = want[(first + i) % PERIOD];
        if (tol > 0.0 ? !(fabs(got - w) <= tol * fabs(w) + 1e-30) : got != w) {
            wrong++;
        }
    }
    return wrong;
}

/* ---- output ---- */

int so_bench_out_open(so_bench_out *o, const char *csv_path, const char *json_path,
                      const char *json2_path, int root) {
    memset(o, 0, sizeof *o);
    o->root = root;
    o->load1 = -1.0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &o->load1) != 1) {
            o->load1 = -1.0;
        }
        fclose(la);
    }
    if (!root) {
        return SO_OK;
    }
    if (csv_path && *csv_path) {
        o->csv = fopen(csv_path, "w");
        if (!o->csv) {
            return so__fail(SO_EIO, "bench: cannot write CSV file %s: %s", csv_path,
                            strerror(errno));
        }
        fprintf(o->csv, "bench,label,op,nranks,size,count,type,redop,algo,time_us,min_us,max_us,"
                        "iters,algbw_GBps,busbw_GBps,wrong,model_us\n");
    }
    if (json_path && *json_path) {
        o->json = fopen(json_path, "a");
        if (!o->json) {
            return so__fail(SO_EIO, "bench: cannot append to JSON-lines file %s: %s", json_path,
                            strerror(errno));
        }
    }
    if (json2_path && *json2_path) {
        o->json2 = fopen(json2_path, "a");
        if (!o->json2) {
            return so__fail(SO_EIO, "bench: cannot append to %s: %s", json2_path, strerror(errno));
        }
    }
    return SO_OK;
}

void so_bench_out_close(so_bench_out *o) {
    if (o->csv) {
        fclose(o->csv);
    }
    if (o->json) {
        fclose(o->json);
    }
    if (o->json2) {
        fclose(o->json2);
    }
    o->csv = o->json = o->json2 = NULL;
}

void so_bench_size_label(size_t b, char *buf, size_t cap) {
    if (b >= ((size_t)1 << 30) && b % ((size_t)1 << 30) == 0) {
        snprintf(buf, cap, "%zuGiB", b >> 30);
    } else if (b >= ((size_t)1 << 20) && b % ((size_t)1 << 20) == 0) {
        snprintf(buf, cap, "%zuMiB", b >> 20);
    } else if (b >= 1024 && b % 1024 == 0) {
        snprintf(buf, cap, "%zuKiB", b >> 10);
    } else {
        snprintf(buf, cap, "%zuB", b);
    }
}

double so_bench_busbw_factor(const char *op, int n) {
    if (!strcmp(op, "allreduce")) {
        return 2.0 * (n - 1) / n;
    }
    if (!strcmp(op, "bcast") || !strcmp(op, "reduce")) {
        return 1.0;
    }
    return (double)(n - 1) / n;
}

void so_bench_json(so_bench_out *o, const char *bench, const char *cas, const char *metric,
                   const char *unit, double value, const char *extra) {
    FILE *fs[2] = {o->json, o->json2};
    for (int k = 0; k < 2 && o->root; k++) {
        if (fs[k]) {
            fprintf(fs[k],
                    "{\"bench\":\"%s\",\"case\":\"%s\",\"metric\":\"%s\",\"unit\":\"%s\","
                    "\"value\":%.6g%s%s,\"load1\":%.2f}\n",
                    bench, cas, metric, unit, value, extra && *extra ? "," : "", extra ? extra : "",
                    o->load1);
            fflush(fs[k]);
        }
    }
}

void so_bench_row_print(so_bench_out *o, const so_bench_row *r) {
    if (!o->root) {
        return;
    }
    double t = r->st.med_s;
    double algbw = t > 0 ? (double)r->bytes / t / 1e9 : 0.0;
    double busbw = algbw * r->busbw_factor;
    if (!o->header_done) {
        printf("# %s on %d ranks (%s): median of timed calls, each the max over ranks\n", r->op,
               r->nranks, o->title ? o->title : r->label);
        printf("#%12s %12s %5s %5s %8s %10s %10s %10s %6s %11s %11s %7s %10s\n", "size(B)", "count",
               "type", "redop", "algo", "time_us", "min_us", "max_us", "iters", "algbw(GB/s)",
               "busbw(GB/s)", "#wrong", "model_us");
        o->header_done = 1;
    }
    o->busbw_sum += busbw;
    o->nrows++;
    char model[32] = "-";
    if (r->model_us >= 0) {
        snprintf(model, sizeof model, "%.2f", r->model_us);
    }
    printf(" %12zu %12zu %5s %5s %8s %10.2f %10.2f %10.2f %6d %11.3f %11.3f %7zu %10s", r->bytes,
           r->count, r->type, r->redop, r->algo, t * 1e6, r->st.min_s * 1e6, r->st.max_s * 1e6,
           r->st.iters, algbw, busbw, r->wrong, model);
    printf("\n");
    fflush(stdout);
    if (o->csv) {
        fprintf(o->csv, "%s,%s,%s,%d,%zu,%zu,%s,%s,%s,%.3f,%.3f,%.3f,%d,%.6g,%.6g,%zu,%s\n",
                r->bench, r->label, r->op, r->nranks, r->bytes, r->count, r->type, r->redop,
                r->algo, t * 1e6, r->st.min_s * 1e6, r->st.max_s * 1e6, r->st.iters, algbw, busbw,
                r->wrong, r->model_us >= 0 ? model : "");
        fflush(o->csv);
    }
    if (o->json || o->json2) {
        char sz[32], cas[160], extra[160];
        so_bench_size_label(r->bytes, sz, sizeof sz);
        snprintf(cas, sizeof cas, "%s np=%d %s %s", r->label, r->nranks, r->op, sz);
        snprintf(extra, sizeof extra, "\"iters\":%d,\"ok\":%s,\"algo\":\"%s\"", r->st.iters,
                 r->wrong ? "false" : "true", r->algo);
        so_bench_json(o, r->bench, cas, "lat_us", "us", t * 1e6, extra);
        so_bench_json(o, r->bench, cas, "lat_us_min", "us", r->st.min_s * 1e6, extra);
        so_bench_json(o, r->bench, cas, "busbw_GBps", "GB/s", busbw, extra);
        so_bench_json(o, r->bench, cas, "algbw_GBps", "GB/s", algbw, extra);
        if (r->model_us >= 0) {
            so_bench_json(o, r->bench, cas, "model_us", "us", r->model_us, extra);
        }
    }
}
