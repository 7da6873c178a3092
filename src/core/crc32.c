/*
 * CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320, init and final xor 0xFFFFFFFF), the
 * checksum of zlib, gzip and PNG, used by checkpoint files.
 *
 * Slicing-by-4: four 256-entry tables built once (thread-safe through pthread_once) let the loop
 * consume 4 bytes per step. Cost: about 1 GB/s on one core; no allocation.
 */
#include <pthread.h>
#include <string.h>

#include "scaleout/ckpt.h"

static uint32_t table[4][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 4; t++) {
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
        }
    }
}

uint32_t so_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&table_once, build_table);
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (n >= 4) {
        uint32_t w;
        memcpy(&w, p, 4); /* little-endian host (checked by the checkpoint code) */
        c ^= w;
        c = table[3][c & 0xFF] ^ table[2][(c >> 8) & 0xFF] ^ table[1][(c >> 16) & 0xFF] ^
            table[0][c >> 24];
        p += 4;
        n -= 4;
    }
    while (n--) {
        c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    }
    return ~c;
}
