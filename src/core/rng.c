/* rng.c - xoshiro256** with splitmix64 seeding; normals by the Marsaglia polar method.
 * Only integer ops and IEEE-exact double ops (+ - * / sqrt) are used, so a seed gives the same
 * stream everywhere (the build sets -ffp-contract=off). */
#include "gmmdiff/core.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = gd_mix64(*x);
    *x += 0x9E3779B97F4A7C15ULL;
    return z;
}

void gd_rng_seed(gd_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->spare = 0.0;
    r->has_spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t gd_rng_u64(gd_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gd_rng_uniform(gd_rng *r) { return (double)(gd_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t gd_rng_below(gd_rng *r, uint64_t n) {
    GD_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do { x = gd_rng_u64(r); } while (x >= limit);
    return x % n;
}

/* ln(x) for finite x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln(m) = 2 atanh(z), z = (m-1)/(m+1), |z| < 0.1716, by its series to 1e-17. */
double gd_det_log(double x) {
    GD_ASSERT(x > 0.0 && isfinite(x));
    int e;
    double m = frexp(x, &e); /* m in [0.5, 1): exact */
    if (m < 0.70710678118654752440) { m *= 2.0; e -= 1; }
    double z = (m - 1.0) / (m + 1.0);
    double z2 = z * z, term = z, sum = 0.0;
    for (int k = 1; k <= 29; k += 2) {
        sum += term / (double)k;
        term *= z2;
    }
    return 2.0 * sum + (double)e * 0.69314718055994530942;
}

double gd_rng_normal(gd_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * gd_rng_uniform(r) - 1.0;
        v = 2.0 * gd_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * gd_det_log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

void gd_rng_fill_uniform(gd_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * gd_rng_uniform(r));
}

void gd_rng_fill_normal(gd_rng *r, float *x, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(mean + std * gd_rng_normal(r));
}

void gd_rng_permutation(gd_rng *r, int *perm, int n) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)gd_rng_below(r, (uint64_t)i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
}

uint64_t gd_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
