/*
 * Dot products shorter than about one vector, for the kernel sets that
 * include this header (compiled for their own instruction set).
 */
#ifndef GM_SHORT_DOTS_H
#define GM_SHORT_DOTS_H

#include <stddef.h>

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
        case 1: NAME##_k(rows, rs, nrows, vec, out, os, 1); break;            \
        case 2: NAME##_k(rows, rs, nrows, vec, out, os, 2); break;            \
        case 3: NAME##_k(rows, rs, nrows, vec, out, os, 3); break;            \
        case 4: NAME##_k(rows, rs, nrows, vec, out, os, 4); break;            \
        case 5: NAME##_k(rows, rs, nrows, vec, out, os, 5); break;            \
        case 6: NAME##_k(rows, rs, nrows, vec, out, os, 6); break;            \
        case 7: NAME##_k(rows, rs, nrows, vec, out, os, 7); break;            \
        case 8: NAME##_k(rows, rs, nrows, vec, out, os, 8); break;            \
        case 9: NAME##_k(rows, rs, nrows, vec, out, os, 9); break;            \
        case 10: NAME##_k(rows, rs, nrows, vec, out, os, 10); break;           \
        case 11: NAME##_k(rows, rs, nrows, vec, out, os, 11); break;           \
        case 12: NAME##_k(rows, rs, nrows, vec, out, os, 12); break;           \
        case 13: NAME##_k(rows, rs, nrows, vec, out, os, 13); break;           \
        case 14: NAME##_k(rows, rs, nrows, vec, out, os, 14); break;           \
        case 15: NAME##_k(rows, rs, nrows, vec, out, os, 15); break;           \
        case 16: NAME##_k(rows, rs, nrows, vec, out, os, 16); break;           \
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

#endif /* GM_SHORT_DOTS_H */
