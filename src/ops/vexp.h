/* vexp.h - an exp for float loops that the compiler can vectorise (libm's expf is a call per
 * element). Range reduction by powers of two and a degree-6 polynomial on [-ln2/2, ln2/2]
 * (the classic Cephes expf coefficients): within 1 ulp of exp over [-87, 88]; arguments are
 * clamped to that range (exp(-87) = 1.6e-38 stands for 0, exp(88) = 1.7e38 for overflow) and a
 * NaN stays NaN. The same bits on every machine: no libm, no FMA contraction in this project. */
#ifndef GMMDIFF_VEXP_H
#define GMMDIFF_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float gd_vexpf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln2) without a conversion: adding 1.5 * 2^23 leaves n in the low bits */
    const float magic = 12582912.0f;
    float tr = x * 1.44269504088896341f + magic;
    float fn = tr - magic;
    uint32_t u; /* n + 127, the biased exponent of 2^n, in unsigned arithmetic (a NaN's bits
                   must not overflow anything) */
    memcpy(&u, &tr, sizeof u);
    u = u - 0x4B400000u + 127u;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    uint32_t bits = u << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

#endif
