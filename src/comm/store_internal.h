/*
 * Internal: the store vtable. A store is a small key-value service for rendezvous; the file and
 * TCP stores implement these four operations and store.c adds the argument checks and the
 * multi-key wait on top.
 *
 * Values of keys touched by add are decimal text ("42"), so get on them reads a number.
 */
#ifndef SO_COMM_STORE_INTERNAL_H
#define SO_COMM_STORE_INTERNAL_H

#include "scaleout/comm.h"

/* Longest key and value the stores accept. */
#define SO__STORE_MAX_KEY 1024
#define SO__STORE_MAX_VAL (64u << 20)

typedef struct so__store_ops {
    int (*set)(so_store *s, const char *key, const void *val, size_t len);
    /* Waits until deadline_ns for the key; SO_ETIMEDOUT (without detail) if it never appears. */
    int (*get)(so_store *s, const char *key, void *buf, size_t cap, size_t *len,
               int64_t deadline_ns);
    int (*add)(so_store *s, const char *key, int64_t delta, int64_t *out);
    /* *exists = 1 if the key is present now (never waits). */
    int (*check)(so_store *s, const char *key, int *exists);
    void (*destroy)(so_store *s);
} so__store_ops;

struct so_store {
    const so__store_ops *ops;
};

/* Wire format of the TCP store (store_tcp.c is the client, store_server.c the server).
 * Request: so__store_req then key bytes then value bytes. Reply: so__store_rep then value. */
#define SO__STORE_MAGIC 0x534f5331u /* "SOS1" */
enum { SO__STORE_SET = 1, SO__STORE_GET = 2, SO__STORE_ADD = 3, SO__STORE_CHECK = 4 };
typedef struct so__store_req {
    uint32_t magic;
    uint32_t op;
    uint32_t keylen;
    uint32_t timeout_ms; /* GET: how long the server holds the request before answering ENOENT */
    uint64_t vallen;     /* SET: value bytes; ADD: 8 (an int64 delta) */
} so__store_req;
typedef struct so__store_rep {
    uint32_t magic;
    int32_t status; /* SO_OK, SO_ENOENT (GET timed out / CHECK absent) or SO_EPROTO */
    uint64_t vallen;
} so__store_rep;

#endif
