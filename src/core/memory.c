/*
 * Aligned allocation and the human size syntax ("64K", "1MiB") used by every flag that takes
 * a number of bytes.
 */
#include <ctype.h>
#include <string.h>

#include "scaleout/core.h"

void *so_malloc_aligned(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        return NULL;
    }
    return p;
}

void so_free_aligned(void *p) {
    free(p);
}

int so_parse_size(const char *s, size_t *out) {
    char *end;
    if (!s || !isdigit((unsigned char)*s)) {
        return so__fail(SO_EINVAL, "bad size '%s' (expected a number like 8, 64K, 1M, 2G)",
                        s ? s : "");
    }
    double v = strtod(s, &end);
    size_t mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        mult = 1024;
        end++;
        break;
    case 'M':
        mult = 1024 * 1024;
        end++;
        break;
    case 'G':
        mult = 1024UL * 1024 * 1024;
        end++;
        break;
    case 'B':
        break;
    case '\0':
        break;
    default:
        return so__fail(SO_EINVAL, "bad size '%s' (unknown unit '%s')", s, end);
    }
    if (mult > 1 &&
        (!strcmp(end, "iB") || !strcmp(end, "ib") || !strcmp(end, "B") || !strcmp(end, "b"))) {
        end += strlen(end);
    } else if (mult == 1 && (*end == 'B' || *end == 'b')) {
        end++;
    }
    if (*end) {
        return so__fail(SO_EINVAL, "bad size '%s' (trailing '%s')", s, end);
    }
    *out = (size_t)(v * (double)mult);
    return SO_OK;
}

char *so_format_size(size_t bytes, char *buf, size_t cap) {
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    size_t v = bytes;
    while (v >= 1024 && v % 1024 == 0 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%zu%s", v, units[u]);
    return buf;
}
