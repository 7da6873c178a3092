/*
 * Dataset and batching tests: the five scikit-learn CSVs load with the row, column and class
 * counts of the files (checked with awk when this test was written) and known cell values; a
 * missing directory gives a hint; split, standardization, permutations and the epoch batcher are
 * deterministic and correct; the fortunes corpus concatenates deterministically; LM windows are
 * shifted by one and a pure function of (seed, step); unigram entropy against a hand value.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scaleout/data.h"
#include "so_test.h"

static int have_sklearn(void) {
    struct stat st;
    char p[4096];
    snprintf(p, sizeof p, "%s/iris.csv", so_param_str("SO_SKLEARN_DATA_DIR"));
    return stat(p, &st) == 0;
}

static int check_counts(const so_dataset *ds, int classes, const int *want) {
    int got[16] = {0};
    for (size_t i = 0; i < ds->n; i++) {
        CHECK(ds->labels[i] >= 0 && ds->labels[i] < classes);
        got[ds->labels[i]]++;
    }
    for (int c = 0; c < classes; c++) {
        if (got[c] != want[c]) {
            SO_TEST_FAIL_("%s class %d: %d rows, expected %d", ds->name, c, got[c], want[c]);
        }
    }
    return 0;
}

static int t_load(void) {
    if (!have_sklearn()) {
        SKIP("python3-sklearn's CSVs are not in %s", so_param_str("SO_SKLEARN_DATA_DIR"));
    }
    so_dataset ds;
    CHECK_OK(so_dataset_load("digits", &ds));
    CHECK_EQ_INT(ds.n, 1797);
    CHECK_EQ_INT(ds.d, 64);
    CHECK_EQ_INT(ds.n_classes, 10);
    CHECK(ds.targets == NULL);
    if (check_counts(&ds, 10, (int[]){178, 182, 177, 183, 181, 182, 181, 179, 174, 180})) {
        return 1;
    }
    CHECK(ds.X[2] == 5.0f && ds.X[3] == 13.0f); /* first row: 0,0,5,13,9,... */
    so_dataset_deinit(&ds);

    CHECK_OK(so_dataset_load("breast-cancer", &ds));
    CHECK_EQ_INT(ds.n, 569);
    CHECK_EQ_INT(ds.d, 30);
    CHECK_EQ_INT(ds.n_classes, 2);
    if (check_counts(&ds, 2, (int[]){212, 357})) {
        return 1;
    }
    CHECK_NEAR(ds.X[0], 17.99, 1e-5);
    so_dataset_deinit(&ds);

    CHECK_OK(so_dataset_load("iris", &ds));
    CHECK_EQ_INT(ds.n, 150);
    CHECK_EQ_INT(ds.d, 4);
    if (check_counts(&ds, 3, (int[]){50, 50, 50})) {
        return 1;
    }
    CHECK_NEAR(ds.X[0], 5.1, 1e-6);
    CHECK_NEAR(ds.X[3], 0.2, 1e-6);
    so_dataset_deinit(&ds);

    CHECK_OK(so_dataset_load("wine", &ds));
    CHECK_EQ_INT(ds.n, 178);
    CHECK_EQ_INT(ds.d, 13);
    if (check_counts(&ds, 3, (int[]){59, 71, 48})) {
        return 1;
    }
    CHECK_NEAR(ds.X[12], 1065, 1e-3);
    so_dataset_deinit(&ds);

    CHECK_OK(so_dataset_load("diabetes", &ds));
    CHECK_EQ_INT(ds.n, 442);
    CHECK_EQ_INT(ds.d, 10);
    CHECK_EQ_INT(ds.n_classes, 0);
    CHECK(ds.labels == NULL && ds.targets != NULL);
    double s = 0;
    for (size_t i = 0; i < ds.n; i++) {
        s += ds.targets[i];
    }
    CHECK_NEAR(s, 67243, 1e-6); /* awk sum of diabetes_target.csv.gz */
    CHECK_NEAR(ds.targets[0], 151, 0);
    CHECK_NEAR(ds.X[441 * 10 + 9], 92, 0); /* last row: 36 1 19.6 ... 92 */
    CHECK_NEAR(ds.X[441 * 10 + 8], 4.5951, 1e-5);
    so_dataset_deinit(&ds);

    CHECK_EQ_INT(so_dataset_load("mnist", &ds), SO_EINVAL);
    CHECK(strstr(so_last_error(), "digits, breast-cancer"));
    CHECK_EQ_INT(so_dataset_load_dir("iris", "/nonexistent", &ds), SO_ENOENT);
    CHECK(strstr(so_last_error(), "python3-sklearn"));
    return 0;
}

/* A malformed CSV names file:line. */
static int t_malformed(void) {
    char dir[] = "/tmp/so_test_data.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/iris.csv", dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "3,4,a,b,c\n1,2,3,4,0\n1,2,x,4,1\n1,2,3,4,2\n");
    fclose(f);
    so_dataset ds;
    CHECK_EQ_INT(so_dataset_load_dir("iris", dir, &ds), SO_EPROTO);
    CHECK(strstr(so_last_error(), "iris.csv:3"));
    f = fopen(p, "w");
    fprintf(f, "3,4,a,b,c\n1,2,3,4,0\n1,2,3,4,1\n");
    fclose(f);
    CHECK_EQ_INT(so_dataset_load_dir("iris", dir, &ds), SO_EPROTO);
    CHECK(strstr(so_last_error(), "2 rows"));
    unlink(p);
    /* A truncated .csv.gz: a clear error, not a short dataset. */
    if (have_sklearn()) {
        char src[4096];
        snprintf(src, sizeof src, "%s/digits.csv.gz", so_param_str("SO_SKLEARN_DATA_DIR"));
        FILE *in = fopen(src, "rb");
        unsigned char buf[6000];
        size_t k = fread(buf, 1, sizeof buf, in);
        fclose(in);
        snprintf(p, sizeof p, "%s/digits.csv.gz", dir);
        f = fopen(p, "wb");
        fwrite(buf, 1, k, f);
        fclose(f);
        int rc = so_dataset_load_dir("digits", dir, &ds);
        CHECK_EQ_INT(rc, SO_ECORRUPT);
        CHECK(strstr(so_last_error(), "digits.csv.gz") && strstr(so_last_error(), "truncated"));
        printf("truncated gzip: %s\n", so_last_error());
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static int t_split_scale(void) {
    if (!have_sklearn()) {
        SKIP("python3-sklearn's CSVs are missing");
    }
    so_dataset all, tr, te, tr2, te2;
    CHECK_OK(so_dataset_load("wine", &all));
    CHECK_OK(so_dataset_split(&all, 0.25, 7, &tr, &te));
    CHECK_EQ_INT(te.n, 45); /* round(178 * 0.25) = 44.5 -> 45 (llround) */
    CHECK_EQ_INT(tr.n + te.n, 178);
    CHECK_OK(so_dataset_split(&all, 0.25, 7, &tr2, &te2));
    CHECK_MEM_EQ(tr.X, tr2.X, tr.n * tr.d * sizeof(float));
    CHECK_MEM_EQ(te.labels, te2.labels, te.n * sizeof(int32_t));
    so_dataset_deinit(&tr2);
    so_dataset_deinit(&te2);
    CHECK_OK(so_dataset_split(&all, 0.25, 8, &tr2, &te2));
    CHECK(memcmp(tr.X, tr2.X, tr.n * tr.d * sizeof(float)) != 0);
    /* The split is a partition: the label counts add up to the whole. */
    int c[3] = {0};
    for (size_t i = 0; i < tr.n; i++) {
        c[tr.labels[i]]++;
    }
    for (size_t i = 0; i < te.n; i++) {
        c[te.labels[i]]++;
    }
    CHECK(c[0] == 59 && c[1] == 71 && c[2] == 48);
    so_scaler sc;
    CHECK_OK(so_scaler_fit(&sc, &tr));
    so_scaler_apply(&sc, &tr);
    so_scaler_apply(&sc, &te);
    for (size_t j = 0; j < tr.d; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < tr.n; i++) {
            m += tr.X[i * tr.d + j];
        }
        m /= (double)tr.n;
        for (size_t i = 0; i < tr.n; i++) {
            v += (tr.X[i * tr.d + j] - m) * (tr.X[i * tr.d + j] - m);
        }
        v /= (double)tr.n;
        CHECK_NEAR(m, 0, 1e-5);
        CHECK_NEAR(v, 1, 1e-4);
    }
    so_scaler_deinit(&sc);
    so_dataset_deinit(&all);
    so_dataset_deinit(&tr);
    so_dataset_deinit(&te);
    so_dataset_deinit(&tr2);
    so_dataset_deinit(&te2);
    return 0;
}

static int t_batcher(void) {
    size_t perm[10];
    so_permutation(10, 3, perm);
    int seen[10] = {0};
    for (int i = 0; i < 10; i++) {
        seen[perm[i]]++;
    }
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(seen[i], 1);
    }
    so_batcher b, b2;
    CHECK_OK(so_batcher_init(&b, 10, 4, 99, 0));
    CHECK_OK(so_batcher_init(&b2, 10, 4, 99, 0));
    const size_t *idx, *idx2;
    size_t sizes[6];
    int count[10] = {0};
    size_t first_epoch[10], k = 0;
    for (int i = 0; i < 3; i++) {
        sizes[i] = so_batcher_next(&b, &idx);
        for (size_t j = 0; j < sizes[i]; j++) {
            count[idx[j]]++;
            first_epoch[k++] = idx[j];
        }
        CHECK_EQ_INT(so_batcher_next(&b2, &idx2), sizes[i]);
        CHECK_MEM_EQ(idx, idx2, sizes[i] * sizeof *idx);
    }
    CHECK(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(count[i], 1); /* an epoch visits every row once */
    }
    CHECK_EQ_INT(so_batcher_epoch(&b), 1);
    /* The next epoch is a different order. */
    size_t second[10];
    k = 0;
    for (int i = 0; i < 3; i++) {
        size_t m = so_batcher_next(&b, &idx);
        memcpy(second + k, idx, m * sizeof *idx);
        k += m;
    }
    CHECK(memcmp(first_epoch, second, sizeof second) != 0);
    so_batcher_deinit(&b);
    so_batcher_deinit(&b2);
    CHECK_OK(so_batcher_init(&b, 10, 4, 1, 1));
    CHECK_EQ_INT(so_batcher_next(&b, &idx), 4);
    CHECK_EQ_INT(so_batcher_next(&b, &idx), 4);
    CHECK_EQ_INT(so_batcher_next(&b, &idx), 4); /* drop_last: the 2 left over are skipped */
    CHECK_EQ_INT(so_batcher_epoch(&b), 1);
    so_batcher_deinit(&b);
    CHECK_EQ_INT(so_batcher_init(&b, 3, 4, 1, 1), SO_EINVAL);
    return 0;
}

static int t_corpus(void) {
    so_bytes a, b;
    int rc = so_corpus_load_fortunes(NULL, &a);
    if (rc == SO_ENOENT) {
        SKIP("the fortunes package is not installed: %s", so_last_error());
    }
    CHECK_OK(rc);
    CHECK(a.n > 1000000); /* about 2.6 MB with the full fortunes package */
    CHECK_OK(so_corpus_load_fortunes(NULL, &b));
    CHECK_EQ_INT(a.n, b.n);
    CHECK_MEM_EQ(a.data, b.data, a.n);
    /* The .dat indexes are binary; the text has no NUL bytes. */
    CHECK(memchr(a.data, 0, a.n) == NULL);
    /* It starts with the first file in name order ("art" in Debian 12). */
    so_bytes first;
    char p[4096];
    snprintf(p, sizeof p, "%s/art", so_param_str("SO_FORTUNES_DIR"));
    if (so_bytes_load_file(p, &first) == SO_OK) {
        CHECK_MEM_EQ(a.data, first.data, first.n);
        so_bytes_deinit(&first);
    }
    size_t sp = so_split_point(a.n, 0.1);
    CHECK_EQ_INT(sp, a.n - (size_t)llround(a.n * 0.1));
    CHECK_EQ_INT(so_split_point(100, 0), 100);
    so_bytes_deinit(&a);
    so_bytes_deinit(&b);
    CHECK_EQ_INT(so_corpus_load_fortunes("/nonexistent", &a), SO_ENOENT);
    CHECK(strstr(so_last_error(), "fortunes"));
    return 0;
}

static int t_lm_batch(void) {
    enum { N = 1000, B = 4, T = 16 };
    int32_t tok[N], x[B * T], y[B * T], x2[B * T], y2[B * T];
    for (int i = 0; i < N; i++) {
        tok[i] = i; /* token = position, so a window's start is visible */
    }
    CHECK_OK(so_lm_batch(tok, N, B, T, 1, 5, x, y));
    for (int b = 0; b < B; b++) {
        int32_t s = x[b * T];
        CHECK(s >= 0 && s + T < N);
        for (int t = 0; t < T; t++) {
            CHECK_EQ_INT(x[b * T + t], s + t);
            CHECK_EQ_INT(y[b * T + t], s + t + 1);
        }
    }
    CHECK_OK(so_lm_batch(tok, N, B, T, 1, 5, x2, y2));
    CHECK_MEM_EQ(x, x2, sizeof x);
    CHECK_MEM_EQ(y, y2, sizeof y);
    CHECK_OK(so_lm_batch(tok, N, B, T, 1, 6, x2, y2));
    CHECK(memcmp(x, x2, sizeof x) != 0);
    /* The smallest corpus: exactly one window. */
    CHECK_OK(so_lm_batch(tok, T + 1, B, T, 1, 0, x2, y2));
    CHECK_EQ_INT(x2[0], 0);
    CHECK_EQ_INT(y2[T - 1], T);
    CHECK_EQ_INT(so_lm_batch(tok, T, B, T, 1, 0, x2, y2), SO_EINVAL);
    return 0;
}

static int t_entropy(void) {
    int32_t t[8] = {0, 0, 0, 0, 1, 1, 2, 3};
    /* p = 1/2, 1/4, 1/8, 1/8: H = 1.75 bits. */
    CHECK_NEAR(so_unigram_entropy(t, 8, 4), 1.75 * log(2), 1e-12);
    int32_t u[4] = {5, 5, 5, 5};
    CHECK_NEAR(so_unigram_entropy(u, 4, 8), 0, 0);
    return 0;
}

SO_TEST_MAIN({"load", t_load}, {"malformed", t_malformed}, {"split_scale", t_split_scale},
             {"batcher", t_batcher}, {"corpus", t_corpus}, {"lm_batch", t_lm_batch},
             {"entropy", t_entropy})
