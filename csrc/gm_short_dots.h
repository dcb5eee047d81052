/*
 * Dot products shorter than about one vector, for the kernel sets that
 * include this header (compiled for their own instruction set).
 */
#ifndef GM_SHORT_DOTS_H
#define GM_SHORT_DOTS_H

#include <stddef.h>

#include "gm_kernel.h"

/* Dot products shorter than one vector (points @ a 3-vector): a lane sum
 * per row cost more than its multiply-adds, so each row is one scalar
 * chain of fused multiply-adds from zero in the order p, as the forms that
 * keep rows of C in registers sum.  GET reads an element, PUT writes one,
 * FMA1(x, y, t) is x * y + t rounded once; depths up to 16 unrolled. */
#define GM_DEFINE_SHORT_DOTS(NAME, T, GET, PUT, FMA1)                         \
    static inline __attribute__((always_inline)) void NAME##_k(              \
        const char *rows, ptrdiff_t rs, ptrdiff_t nrows, const char *vec,     \
        char *out, ptrdiff_t os, const int K)                                 \
    {                                                                         \
        T x[16];                                                              \
        for (int p = 0; p < K; ++p) {                                         \
            x[p] = GET(vec + p * (ptrdiff_t)sizeof(T));                       \
        }                                                                     \
        for (ptrdiff_t r = 0; r < nrows; ++r) {                               \
            const char *row = rows + r * rs;                                  \
            T acc = 0;                                                        \
            for (int p = 0; p < K; ++p) {                                     \
                acc = FMA1(GET(row + p * (ptrdiff_t)sizeof(T)), x[p], acc);   \
            }                                                                 \
            PUT(out + r * os, acc);                                           \
        }                                                                     \
    }                                                                         \
    static void NAME(const char *rows, ptrdiff_t rs, ptrdiff_t nrows,         \
                     const char *vec, ptrdiff_t k, char *out, ptrdiff_t os)   \
    {                                                                         \
        switch (k) {                                                          \
        GM_CONST_CASES_1_TO_16(NAME##_k, rows, rs, nrows, vec, out, os)       \
        default:                                                              \
            for (ptrdiff_t r = 0; r < nrows; ++r) {                           \
                const char *row = rows + r * rs;                              \
                T acc = 0;                                                    \
                for (ptrdiff_t p = 0; p < k; ++p) {                           \
                    acc = FMA1(GET(row + p * (ptrdiff_t)sizeof(T)),           \
                               GET(vec + p * (ptrdiff_t)sizeof(T)), acc);     \
                }                                                             \
                PUT(out + r * os, acc);                                       \
            }                                                                 \
            break;                                                            \
        }                                                                     \
    }

/* Dot products of any depth: below SHORT_DEPTH as SHORT_DOTS (above),
 * from there as STREAM_DOTS; both take (rows, rs, nrows, vec, k, out,
 * os). */
#define GM_DEFINE_DOTS_BY_DEPTH(NAME, SHORT_DOTS, STREAM_DOTS, SHORT_DEPTH)   \
    static void NAME(const char *rows, ptrdiff_t rs, ptrdiff_t nrows,         \
                     const char *vec, ptrdiff_t k, char *out, ptrdiff_t os)   \
    {                                                                         \
        if (k < SHORT_DEPTH) {                                                \
            SHORT_DOTS(rows, rs, nrows, vec, k, out, os);                     \
        }                                                                     \
        else {                                                                \
            STREAM_DOTS(rows, rs, nrows, vec, k, out, os);                    \
        }                                                                     \
    }

/* FMA1 for unsigned integers, whose products and sums wrap around as
 * NumPy's integers do (in any order). */
#define GM_SHORT_DOTS_WRAP_MADD(x, y, t) ((x) * (y) + (t))

#endif /* GM_SHORT_DOTS_H */
