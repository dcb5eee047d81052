/*
 * IEEE binary16 <-> binary32 conversions in portable C.
 *
 * half -> float is exact.  float -> half rounds to nearest, ties to even,
 * overflows to infinity and keeps NaNs quiet NaNs, as NumPy's float16 does,
 * and raises the overflow flag when a finite value becomes infinite and the
 * underflow flag when a value below the normal range loses bits, as NumPy's
 * conversion does (its errstate reports them).
 */
#ifndef GM_HALF_H
#define GM_HALF_H

#include <fenv.h>
#include <stdint.h>
#include <string.h>

static inline float gm_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1fu) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    }
    else if (exponent == 0) {
        /* zero or subnormal: mantissa * 2^-24, exact in float */
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    else {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t gm_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;

    if (ax >= 0x7f800000u) {                 /* Inf or NaN */
        if (ax == 0x7f800000u) {
            return sign | 0x7c00u;
        }
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    }
    if (ax >= 0x477ff000u) {                 /* >= 65520 rounds to Inf */
        feraiseexcept(FE_OVERFLOW);
        return sign | 0x7c00u;
    }
    if (ax >= 0x38800000u) {                 /* normal half */
        uint32_t h = ((((ax >> 23) - 112u) << 10)) | ((ax & 0x7fffffu) >> 13);
        uint32_t rest = ax & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) {
            h += 1;                          /* may carry into the exponent */
        }
        return (uint16_t)(sign | h);
    }
    if (ax <= 0x33000000u) {                 /* <= 2^-25 rounds to zero */
        if (ax != 0) {
            feraiseexcept(FE_UNDERFLOW);
        }
        return sign;
    }
    /* subnormal half: round (value / 2^-24) to an integer */
    uint32_t mantissa = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - (ax >> 23);
    uint32_t h = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1u);
    uint32_t halfway = 1u << (shift - 1u);
    if (rest != 0) {
        feraiseexcept(FE_UNDERFLOW);
    }
    if (rest > halfway || (rest == halfway && (h & 1u))) {
        h += 1;
    }
    return (uint16_t)(sign | h);
}

#endif /* GM_HALF_H */
