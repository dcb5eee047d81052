/*
 * Dot products shorter than about one vector, and the walks that choose
 * between them and the vector forms or cover a grid of them, for the
 * kernel sets that include this header (compiled for their own
 * instruction set).
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

/* Every element (x, y) of nx rows of X by ny rows of Y, both contiguous
 * along p, to c + x * cxs + y * cys: the dot products of dots, blocked. */
typedef void (*gm_grid_fn)(const char *x, ptrdiff_t xs, ptrdiff_t nx,
                           const char *y, ptrdiff_t ys, ptrdiff_t ny,
                           ptrdiff_t k, char *c, ptrdiff_t cxs, ptrdiff_t cys);

/* One matrix of a product whose rows of A and columns of B are both
 * contiguous along p, as a grid along the side with more of them. */
static inline void gm_grid_product(gm_grid_fn grid, const gm_problem *pr,
                                   const char *a, const char *b, char *c)
{
    if (pr->m >= pr->n) {
        grid(a, pr->a.row_stride, pr->m, b, pr->b.col_stride, pr->n, pr->k, c,
             pr->c.row_stride, pr->c.col_stride);
    }
    else {
        grid(b, pr->b.col_stride, pr->n, a, pr->a.row_stride, pr->m, pr->k, c,
             pr->c.col_stride, pr->c.row_stride);
    }
}

/* The walk over a grid of dot products (gm_grid_fn) for a kernel set
 * that defines NAME##_dots_block(x, xs, y, ys, k, c, cxs, cys, R, Q), the
 * elements of R (1 to 3) rows of X by Q (1 or 2) rows of Y: three rows of
 * X, a block that stays in L1 for depths up to about a thousand, pass all
 * of Y two rows at a time, so Y is read once per three rows of X
 * (float64 (30 x 300) @ (300 x 30), B in Fortran order, read all of A
 * from L2 for every column of B: 18 us).  Unused by the integer sets. */
#define GM_DEFINE_DOTS_GRID(NAME)                                             \
    static inline __attribute__((always_inline)) void NAME##_dots_rows_of(   \
        const char *x, ptrdiff_t xs, const char *y, ptrdiff_t ys,             \
        ptrdiff_t ny, ptrdiff_t k, char *c, ptrdiff_t cxs, ptrdiff_t cys,     \
        const int R)                                                          \
    {                                                                         \
        ptrdiff_t j = 0;                                                      \
        for (; j + 2 <= ny; j += 2) {                                         \
            NAME##_dots_block(x, xs, y + j * ys, ys, k, c + j * cys, cxs,     \
                              cys, R, 2);                                     \
        }                                                                     \
        if (j < ny) {                                                         \
            NAME##_dots_block(x, xs, y + j * ys, ys, k, c + j * cys, cxs,     \
                              cys, R, 1);                                     \
        }                                                                     \
    }                                                                         \
    static __attribute__((unused)) void NAME##_dots_grid(                     \
        const char *x, ptrdiff_t xs, ptrdiff_t nx, const char *y,             \
        ptrdiff_t ys, ptrdiff_t ny, ptrdiff_t k, char *c, ptrdiff_t cxs,      \
        ptrdiff_t cys)                                                        \
    {                                                                         \
        ptrdiff_t i = 0;                                                      \
        for (; i + 3 <= nx; i += 3) {                                         \
            NAME##_dots_rows_of(x + i * xs, xs, y, ys, ny, k, c + i * cxs,    \
                                cxs, cys, 3);                                 \
        }                                                                     \
        switch (nx - i) {                                                     \
        case 1: NAME##_dots_rows_of(x + i * xs, xs, y, ys, ny, k,             \
                                    c + i * cxs, cxs, cys, 1); break;         \
        case 2: NAME##_dots_rows_of(x + i * xs, xs, y, ys, ny, k,             \
                                    c + i * cxs, cxs, cys, 2); break;         \
        default: break;                                                       \
        }                                                                     \
    }

/* A grid of dot products (gm_grid_fn) of any depth: below SHORT_DEPTH
 * SHORT_DOTS for each row of Y, from there STREAM_GRID. */
#define GM_DEFINE_GRID_BY_DEPTH(NAME, SHORT_DOTS, STREAM_GRID, SHORT_DEPTH)   \
    static void NAME(const char *x, ptrdiff_t xs, ptrdiff_t nx,               \
                     const char *y, ptrdiff_t ys, ptrdiff_t ny, ptrdiff_t k,  \
                     char *c, ptrdiff_t cxs, ptrdiff_t cys)                   \
    {                                                                         \
        if (k < SHORT_DEPTH) {                                                \
            for (ptrdiff_t j = 0; j < ny; ++j) {                              \
                SHORT_DOTS(x, xs, nx, y + j * ys, k, c + j * cys, cxs);       \
            }                                                                 \
        }                                                                     \
        else {                                                                \
            STREAM_GRID(x, xs, nx, y, ys, ny, k, c, cxs, cys);                \
        }                                                                     \
    }

/* FMA1 for unsigned integers, whose products and sums wrap around as
 * NumPy's integers do (in any order). */
#define GM_SHORT_DOTS_WRAP_MADD(x, y, t) ((x) * (y) + (t))

#endif /* GM_SHORT_DOTS_H */
