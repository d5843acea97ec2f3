/*
 * rng.h — a small, fast, seeded pseudo-random generator (xoshiro256**,
 * seeded through splitmix64). Deterministic across platforms: the synthetic
 * market, the simulators and the property tests all replay exactly from a
 * seed. Caller-owned state, no globals; not for cryptography.
 */
#ifndef CLB_RNG_H
#define CLB_RNG_H

#include <math.h>
#include <stdint.h>

struct clb_rng {
    uint64_t s[4];
};

static inline uint64_t clb_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void clb_rng_seed(struct clb_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = clb_splitmix64(&seed);
}

static inline uint64_t clb_rng_rotl_(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits. */
static inline uint64_t clb_rng_next(struct clb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = clb_rng_rotl_(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = clb_rng_rotl_(s[3], 45);
    return result;
}

/* Uniform double in [0, 1). */
static inline double clb_rng_uniform(struct clb_rng *r)
{
    return (double)(clb_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift, tiny bias). */
static inline uint64_t clb_rng_below(struct clb_rng *r, uint64_t n)
{
    __extension__ typedef unsigned __int128 u128;
    return (uint64_t)(((u128)clb_rng_next(r) * n) >> 64);
}

/* Standard normal deviate (Box-Muller, one value per call). */
static inline double clb_rng_normal(struct clb_rng *r)
{
    double u1 = clb_rng_uniform(r), u2 = clb_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Exponential deviate with the given rate (> 0). */
static inline double clb_rng_exponential(struct clb_rng *r, double rate)
{
    double u = clb_rng_uniform(r);
    return -log1p(-u) / rate;
}

#endif
