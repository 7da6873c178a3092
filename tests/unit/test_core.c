/* Unit tests of the core basics: error space, half-precision conversions, reduction kernels,
 * size parsing and the knob table. */
#include "so_test.h"

static int t_errors(void) {
    CHECK_STR_EQ(so_err_name(SO_ETIMEDOUT), "SO_ETIMEDOUT");
    CHECK_STR_EQ(so_strerror(SO_OK), "success");
    CHECK_STR_EQ(so_err_name(-999), "SO_E?");
    CHECK_EQ_INT(so__fail(SO_EINVAL, "bad flag --%s", "x"), SO_EINVAL);
    CHECK_STR_EQ(so_last_error(), "bad flag --x");
    return 0;
}

static int t_dtype_half(void) {
    /* Every finite half value round-trips through f32 exactly. */
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 0x1f) {
            continue;
        }
        CHECK_EQ_INT(so_f32_to_f16(so_f16_to_f32((uint16_t)h)), h);
        CHECK_EQ_INT(so_f32_to_bf16(so_bf16_to_f32((uint16_t)h)), h == 0x8000 ? h : h);
    }
    CHECK_NEAR(so_f16_to_f32(0x3c00), 1.0, 0);
    CHECK_NEAR(so_f16_to_f32(0x0001), 5.960464477539063e-08, 0); /* smallest subnormal */
    CHECK_EQ_INT(so_f32_to_f16(65520.0f), 0x7c00);               /* overflow to inf */
    CHECK_EQ_INT(so_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);     /* tie rounds to even */
    CHECK_EQ_INT(so_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);     /* tie rounds to even */
    CHECK_EQ_INT(so_f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
    return 0;
}

static int t_reduce(void) {
    float a[5] = {1, -2, 3, 4, 5}, b[5] = {2, 2, -3, 0.5f, 5}, d[5];
    so_reduce_local(SO_SUM, SO_F32, d, a, b, 5);
    CHECK_NEAR(d[0], 3, 0);
    CHECK_NEAR(d[2], 0, 0);
    so_reduce_local(SO_MAX, SO_F32, d, a, b, 5);
    CHECK_NEAR(d[1], 2, 0);
    so_reduce_local(SO_MIN, SO_F32, a, a, b, 5); /* in place */
    CHECK_NEAR(a[2], -3, 0);
    int64_t x[3] = {1, 2, 3}, y[3] = {4, 5, 6};
    so_reduce_local(SO_PROD, SO_I64, x, x, y, 3);
    CHECK_EQ_INT(x[2], 18);
    so_scale_avg(SO_I64, x, 3, 4);
    CHECK_EQ_INT(x[2], 4);
    uint16_t h1 = so_f32_to_bf16(1.5f), h2 = so_f32_to_bf16(2.25f), h3;
    so_reduce_local(SO_SUM, SO_BF16, &h3, &h1, &h2, 1);
    CHECK_NEAR(so_bf16_to_f32(h3), 3.75, 0);
    return 0;
}

static int t_sizes(void) {
    size_t v;
    CHECK_OK(so_parse_size("64M", &v));
    CHECK_EQ_INT(v, 64 << 20);
    CHECK_OK(so_parse_size("8", &v));
    CHECK_EQ_INT(v, 8);
    CHECK_OK(so_parse_size("1KiB", &v));
    CHECK_EQ_INT(v, 1024);
    CHECK_EQ_INT(so_parse_size("12Q", &v), SO_EINVAL);
    CHECK_EQ_INT(so_parse_size("", &v), SO_EINVAL);
    char buf[32];
    CHECK_STR_EQ(so_format_size(64 << 20, buf, sizeof buf), "64MiB");
    CHECK_STR_EQ(so_format_size(1000, buf, sizeof buf), "1000B");
    return 0;
}

static int t_params(void) {
    setenv("SO_TIMEOUT_MS", "1234", 1);
    CHECK_EQ_INT(so_param_int("SO_TIMEOUT_MS"), 1234);
    unsetenv("SO_TIMEOUT_MS");
    CHECK_EQ_INT(so_param_int("SO_TIMEOUT_MS"), 30000);
    size_t n;
    const so_param_info *t = so_param_table(&n);
    CHECK(n > 3);
    for (size_t i = 0; i < n; i++) {
        CHECK(t[i].help[0] != '\0');
    }
    return 0;
}

SO_TEST_MAIN({"errors", t_errors}, {"dtype_half", t_dtype_half}, {"reduce", t_reduce},
             {"sizes", t_sizes}, {"params", t_params})
