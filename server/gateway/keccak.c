/*
 * keccak.c — Keccak-256 (see keccak.h).
 *
 * Straightforward Keccak-f[1600]: 24 rounds of theta, rho+pi, chi, iota on
 * 25 64-bit lanes. Input is absorbed into the lanes little-endian, a whole
 * lane at a time where aligned, assembled from bytes with shifts so the
 * code does not depend on the host's byte order.
 */
#include "keccak.h"

#include <string.h>

#include <openssl/crypto.h>

#define RATE 136 /* 1088 bits */

/* Domain padding byte. A test build compiles this file with 0x06 to check
 * the permutation and absorption against OpenSSL's SHA3-256. */
#ifndef CLB_KECCAK_DOMAIN
#define CLB_KECCAK_DOMAIN 0x01
#endif

static const uint64_t round_consts[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
    0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
    0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
    0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
    0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
    0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation offsets and lane permutation of rho+pi, in the order the lanes
 * are visited starting from lane 1. */
static const unsigned rho[24] = { 1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                  27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44 };
static const unsigned pi_lane[24] = { 10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                      15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1 };

static uint64_t rotl(uint64_t x, unsigned n)
{
    return (x << n) | (x >> (64 - n));
}

static void keccak_f(uint64_t st[25])
{
    for (int round = 0; round < 24; round++) {
        /* theta */
        uint64_t c0 = st[0] ^ st[5] ^ st[10] ^ st[15] ^ st[20];
        uint64_t c1 = st[1] ^ st[6] ^ st[11] ^ st[16] ^ st[21];
        uint64_t c2 = st[2] ^ st[7] ^ st[12] ^ st[17] ^ st[22];
        uint64_t c3 = st[3] ^ st[8] ^ st[13] ^ st[18] ^ st[23];
        uint64_t c4 = st[4] ^ st[9] ^ st[14] ^ st[19] ^ st[24];
        uint64_t d0 = c4 ^ rotl(c1, 1), d1 = c0 ^ rotl(c2, 1), d2 = c1 ^ rotl(c3, 1);
        uint64_t d3 = c2 ^ rotl(c4, 1), d4 = c3 ^ rotl(c0, 1);
        for (int j = 0; j < 25; j += 5) {
            st[j] ^= d0;
            st[j + 1] ^= d1;
            st[j + 2] ^= d2;
            st[j + 3] ^= d3;
            st[j + 4] ^= d4;
        }
        /* rho and pi */
        uint64_t t = st[1];
        for (int i = 0; i < 24; i++) {
            unsigned j = pi_lane[i];
            uint64_t tmp = st[j];
            st[j] = rotl(t, rho[i]);
            t = tmp;
        }
        /* chi */
        for (int j = 0; j < 25; j += 5) {
            uint64_t b0 = st[j], b1 = st[j + 1], b2 = st[j + 2], b3 = st[j + 3], b4 = st[j + 4];
            st[j] = b0 ^ (~b1 & b2);
            st[j + 1] = b1 ^ (~b2 & b3);
            st[j + 2] = b2 ^ (~b3 & b4);
            st[j + 3] = b3 ^ (~b4 & b0);
            st[j + 4] = b4 ^ (~b0 & b1);
        }
        /* iota */
        st[0] ^= round_consts[round];
    }
}

static void absorb_byte(struct clb_keccak256 *k, uint8_t b)
{
    k->st[k->pos / 8] ^= (uint64_t)b << (8 * (k->pos % 8));
    if (++k->pos == RATE) {
        keccak_f(k->st);
        k->pos = 0;
    }
}

void clb_keccak256_init(struct clb_keccak256 *k)
{
    memset(k, 0, sizeof(*k));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void clb_keccak256_update(struct clb_keccak256 *k, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* bytes up to a lane boundary, then whole lanes, then the tail */
    while (len > 0 && k->pos % 8 != 0) {
        absorb_byte(k, *p++);
        len--;
    }
    while (len >= 8) {
        k->st[k->pos / 8] ^= load_le64(p);
        p += 8;
        len -= 8;
        k->pos += 8;
        if (k->pos == RATE) {
            keccak_f(k->st);
            k->pos = 0;
        }
    }
    while (len > 0) {
        absorb_byte(k, *p++);
        len--;
    }
}

void clb_keccak256_final(struct clb_keccak256 *k, uint8_t out[CLB_KECCAK256_LEN])
{
    /* pad10*1 with Keccak's domain byte 0x01 (SHA-3 would use 0x06) */
    k->st[k->pos / 8] ^= (uint64_t)CLB_KECCAK_DOMAIN << (8 * (k->pos % 8));
    k->st[(RATE - 1) / 8] ^= (uint64_t)0x80 << (8 * ((RATE - 1) % 8));
    keccak_f(k->st);
    for (int i = 0; i < CLB_KECCAK256_LEN; i++)
        out[i] = (uint8_t)(k->st[i / 8] >> (8 * (i % 8)));
    OPENSSL_cleanse(k, sizeof(*k));
}

void clb_keccak256(const void *data, size_t len, uint8_t out[CLB_KECCAK256_LEN])
{
    struct clb_keccak256 k;
    clb_keccak256_init(&k);
    clb_keccak256_update(&k, data, len);
    clb_keccak256_final(&k, out);
}
