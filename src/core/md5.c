/*
 * MD5 (RFC 1321), for the book's stable hashing: 2.3.1 places keys by the md5 hex digest read as a
 * 128-bit integer, and only md5 reproduces its exact numbers (88,863 keys moved by mod-hashing,
 * 11,280 by the 200-vnode ring). Not for security: MD5 is broken as a cryptographic hash.
 *
 * Algorithm: pad the message to 56 mod 64 bytes with 0x80 and zeros, append the bit length
 * (little-endian), then run the four rounds of 16 operations per 64-byte block over the state
 * (A, B, C, D). Cost: about 5 cycles per byte; no allocation. Limits: one-shot (whole input in
 * memory).
 */
#include <string.h>

#include "scaleout/dist.h"

static uint32_t md5_rol(uint32_t x, int s) {
    return (x << s) | (x >> (32 - s));
}

/* One 64-byte block into the state. */
static void md5_block(uint32_t st[4], const uint8_t *p) {
    static const uint32_t k[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static const int s[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
    uint32_t m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, round = i / 16;
        switch (round) {
        case 0:
            f = (b & c) | (~b & d), g = i;
            break;
        case 1:
            f = (d & b) | (~d & c), g = (5 * i + 1) % 16;
            break;
        case 2:
            f = b ^ c ^ d, g = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (b | ~d), g = (7 * i) % 16;
            break;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + md5_rol(a + f + k[i] + m[g], s[round][i % 4]);
        a = t;
    }
    st[0] += a, st[1] += b, st[2] += c, st[3] += d;
}

void so_md5(const void *data, size_t n, uint8_t out[16]) {
    uint32_t st[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    const uint8_t *p = data;
    size_t full = n / 64 * 64;
    for (size_t off = 0; off < full; off += 64) {
        md5_block(st, p + off);
    }
    uint8_t tail[128];
    size_t rest = n - full, tl = rest < 56 ? 64 : 128;
    memset(tail, 0, sizeof tail);
    if (rest) {
        memcpy(tail, p + full, rest);
    }
    tail[rest] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) {
        tail[tl - 8 + (size_t)i] = (uint8_t)(bits >> (8 * i));
    }
    md5_block(st, tail);
    if (tl == 128) {
        md5_block(st, tail + 64);
    }
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            out[4 * i + j] = (uint8_t)(st[i] >> (8 * j));
        }
    }
}

void so_md5_hex(const void *data, size_t n, char out[33]) {
    static const char hx[] = "0123456789abcdef";
    uint8_t d[16];
    so_md5(data, n, d);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[32] = '\0';
}
