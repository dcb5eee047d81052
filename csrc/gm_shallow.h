/*
 * Shallow products (outer products and the like, at most GM_SHALLOW_DEPTH
 * deep): row by row across all of B, which stays in L1, each vector of C
 * one chain of multiply-adds over p from zero, as in the direct loops'
 * strips (the same bits); the columns past the last whole vector one by
 * one, with no masked stores.  Strips cost more in set-up per group of
 * rows than such a group's few multiply-adds (float32 (2238 x 2) @ (2 x
 * 158) took 44 us on one thread in strips), and a C larger than L2 had
 * each of its lines written in parts by several strips.
 *
 * Include in a kernel file after <immintrin.h>, with GM_INLINE defined.
 */
#ifndef GM_SHALLOW_H
#define GM_SHALLOW_H

#include "gm_kernel.h"

#define GM_SHALLOW_DEPTH 8

#define GM_DEFINE_SHALLOW_ROWS(NAME, T, VEC, LANES, LOADU, STOREU, SET1, FMA, \
                               ZERO, GET, PUT, SCALAR_FMA)                    \
    GM_INLINE void NAME##_k(const char *a, ptrdiff_t acs, const char *b,      \
                            ptrdiff_t brs, char *c, ptrdiff_t n, const int K) \
    {                                                                         \
        VEC x[GM_SHALLOW_DEPTH];                                              \
        for (int p = 0; p < K; ++p) {                                         \
            x[p] = SET1(a + p * acs);                                         \
        }                                                                     \
        ptrdiff_t j = 0;                                                      \
        for (; j + LANES <= n; j += LANES) {                                  \
            VEC acc = ZERO();                                                 \
            for (int p = 0; p < K; ++p) {                                     \
                acc = FMA(x[p], LOADU(b + p * brs + j * (ptrdiff_t)sizeof(T)), \
                          acc);                                               \
            }                                                                 \
            STOREU(c + j * (ptrdiff_t)sizeof(T), acc);                        \
        }                                                                     \
        for (; j < n; ++j) {                                                  \
            T acc = 0;                                                        \
            for (int p = 0; p < K; ++p) {                                     \
                acc = SCALAR_FMA(GET(a + p * acs),                            \
                                 GET(b + p * brs + j * (ptrdiff_t)sizeof(T)),  \
                                 acc);                                        \
            }                                                                 \
            PUT(c + j * (ptrdiff_t)sizeof(T), acc);                           \
        }                                                                     \
    }                                                                         \
    static void NAME(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)   \
    {                                                                         \
        GM_PROBLEM_LOCALS(pr);                                                \
        (void)bcs, (void)ccs;                                                 \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *as = pr->a.data + s * pr->a.batch_stride;             \
            const char *bs = pr->b.data + s * pr->b.batch_stride;             \
            char *cs = pr->c.data + s * pr->c.batch_stride;                   \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                const char *ai = as + i * ars;                                \
                char *ci = cs + i * crs;                                      \
                switch (k) {                                                  \
                GM_CONST_CASES_1_TO_8(NAME##_k, ai, acs, bs, brs, ci, n)      \
                default: break;   /* only depths 1 to 8 come here */          \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }

#endif /* GM_SHALLOW_H */
