/*
 * The gnuplot helper (bench/plot.c): the CSV it writes reads back exactly (NaN included), and a
 * plot of it is a PNG file (checked by its 8-byte signature; skips when gnuplot is missing).
 * The Chrome-trace writer (bench/trace.c): the exact JSON text of a small trace, names escaped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot.h"
#include "so_test.h"
#include "trace.h"

static const char *cols[] = {"bytes", "ring", "tree"};
static const double rows[] = {1024, 0.5, 0.75, 2048, NAN, 1.25, 4096, 2.5, 1.5};

static int write_tmp_csv(char *dir, char *csv, size_t cap) {
    strcpy(dir, "/tmp/so-plot-XXXXXX");
    if (!mkdtemp(dir)) {
        return 1;
    }
    snprintf(csv, cap, "%s/t.csv", dir);
    CHECK_OK(so_plot_write_csv(csv, cols, 3, rows, 3));
    return 0;
}

static int t_csv(void) {
    char dir[64], csv[128], buf[512];
    CHECK(write_tmp_csv(dir, csv, sizeof csv) == 0);
    FILE *f = fopen(csv, "r");
    CHECK(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    CHECK_STR_EQ(buf, "bytes,ring,tree\n1024,0.5,0.75\n2048,NaN,1.25\n4096,2.5,1.5\n");
    CHECK(so_plot_write_csv(csv, cols, 0, rows, 3) == SO_EINVAL);
    CHECK(so_plot_lines(csv, NULL, "t", "x", "y", 0) == SO_EINVAL);
    unlink(csv);
    rmdir(dir);
    return 0;
}

static int t_png(void) {
    char dir[64], csv[128], png[160], gp[200];
    CHECK(write_tmp_csv(dir, csv, sizeof csv) == 0);
    snprintf(png, sizeof png, "%s/t.png", dir);
    snprintf(gp, sizeof gp, "%s.gp", png);
    int rc = so_plot_lines(csv, png, "it's a test", "size", "busbw (GB/s)",
                           SO_PLOT_LOGX | SO_PLOT_XBYTES);
    if (rc == SO_ENOTSUP) {
        unlink(csv);
        rmdir(dir);
        SKIP("%s", so_last_error());
    }
    CHECK_OK(rc);
    unsigned char sig[8] = {0};
    FILE *f = fopen(png, "rb");
    CHECK(f != NULL);
    CHECK(fread(sig, 1, 8, f) == 8);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    static const unsigned char want[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK_MEM_EQ(sig, want, 8);
    CHECK(size > 1000);
    unlink(png);
    unlink(gp);
    unlink(csv);
    rmdir(dir);
    return 0;
}

static int t_trace(void) {
    char dir[] = "/tmp/so-trace-XXXXXX", path[64], buf[1024];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/t.json", dir);
    so_trace *t = NULL;
    CHECK_OK(so_trace_create(&t));
    CHECK_OK(so_trace_name_process(t, 1, "overlap"));
    CHECK_OK(so_trace_name_thread(t, 1, 0, "rank 0"));
    CHECK_OK(so_trace_complete(t, "say \"hi\"\\\n", 1, 0, 0.5, 0.0025));
    CHECK_OK(so_trace_write(t, path));
    so_trace_destroy(t);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    CHECK_STR_EQ(buf,
                 "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n"
                 "  {\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"args\": {\"name\": "
                 "\"overlap\"}},\n"
                 "  {\"name\": \"process_sort_index\", \"ph\": \"M\", \"pid\": 1, \"args\": "
                 "{\"sort_index\": 1}},\n"
                 "  {\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 0, \"args\": "
                 "{\"name\": \"rank 0\"}},\n"
                 "  {\"name\": \"thread_sort_index\", \"ph\": \"M\", \"pid\": 1, \"tid\": 0, "
                 "\"args\": {\"sort_index\": 0}},\n"
                 "  {\"name\": \"say \\\"hi\\\"\\\\\\u000a\", \"ph\": \"X\", \"pid\": 1, "
                 "\"tid\": 0, "
                 "\"ts\": 500000.000, \"dur\": 2500.000}\n"
                 "]}\n");
    unlink(path);
    rmdir(dir);
    return 0;
}

SO_TEST_MAIN({"csv", t_csv}, {"png", t_png}, {"trace", t_trace})
