/*
 * The rendezvous store's public calls: argument checks, deadlines, and the multi-key wait, on
 * top of the file (store_file.c) or TCP (store_tcp.c) implementation.
 * Cost: one backend call per key. Limits: keys up to 1 KiB, values up to 64 MiB.
 */
#include <string.h>

#include "store_internal.h"

static int check_key(const char *key) {
    if (!key || !*key || strlen(key) > SO__STORE_MAX_KEY) {
        return so__fail(SO_EINVAL, "store key is empty or longer than %d bytes", SO__STORE_MAX_KEY);
    }
    return SO_OK;
}

void so_store_destroy(so_store *s) {
    if (s) {
        s->ops->destroy(s);
    }
}

int so_store_set(so_store *s, const char *key, const void *val, size_t len) {
    SO_TRY(check_key(key));
    if (len > SO__STORE_MAX_VAL) {
        return so__fail(SO_EINVAL, "store value for '%s' is %zu bytes, more than the limit %u", key,
                        len, SO__STORE_MAX_VAL);
    }
    return s->ops->set(s, key, val, len);
}

int so_store_get(so_store *s, const char *key, void *buf, size_t cap, size_t *len, int timeout_ms) {
    SO_TRY(check_key(key));
    size_t n = 0;
    int rc = s->ops->get(s, key, buf, cap, &n, so_deadline_after_ms(timeout_ms));
    if (rc == SO_ETIMEDOUT) {
        return so__fail(rc, "store key '%s' did not appear within %d ms", key, timeout_ms);
    }
    if (len) {
        *len = n;
    }
    return rc;
}

int so_store_add(so_store *s, const char *key, int64_t delta, int64_t *out) {
    SO_TRY(check_key(key));
    int64_t v = 0;
    SO_TRY(s->ops->add(s, key, delta, &v));
    if (out) {
        *out = v;
    }
    return SO_OK;
}

int so_store_wait(so_store *s, const char *const *keys, int nkeys, int timeout_ms) {
    int64_t deadline = so_deadline_after_ms(timeout_ms);
    for (int i = 0; i < nkeys; i++) {
        SO_TRY(check_key(keys[i]));
        size_t n;
        int rc = s->ops->get(s, keys[i], NULL, 0, &n, deadline);
        if (rc == SO_ETIMEDOUT) {
            return so__fail(rc, "store key '%s' did not appear within %d ms", keys[i], timeout_ms);
        }
        SO_TRY(rc);
    }
    return SO_OK;
}
