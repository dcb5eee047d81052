/*
 * Streaming forms of the direct path, shared by the AVX2 and AVX-512
 * kernel sets: each includes this header once, compiled for its own
 * instruction set, after defining min_pd, GM_AXPY_BLOCK_BYTES and
 * GM_AXPY_MAX_ROWS, and instantiates the macros with its vectors.
 *
 * The complex forms serve C = conj(A) @ B (vecdot, vecmat) at no extra cost:
 * dots only change how the lane sums combine at the end, and axpy
 * multiplies the imaginary parts of A by -1, an exact negation.
 */
#ifndef GM_STREAM_H
#define GM_STREAM_H

/* Complex axpy (up to 4 rows a call) keeps its accumulators in registers
 * when B (k x n) has at most GM_ROWS_MAX_B_BYTES, so that it stays in L2
 * while each group of rows reads it in strips.  Up to GM_ROWS_FETCH_B_BYTES
 * it does so too for up to GM_ROWS_FETCH_MAX_ROWS rows, B coming from L3,
 * and the first group fetches the next strip ahead as the real rows form
 * does (the processor does not guess where a strip's next row is).
 * Larger, B read from L3 once per 4 rows lost to packing it (AVX-512,
 * complex128 (12 x 1000) @ (1000 x 300): 0.47 ms packed, 0.71 so). */
#define GM_ROWS_MAX_B_BYTES (1024.0 * 1024.0)
#define GM_ROWS_FETCH_B_BYTES (2.5 * 1024.0 * 1024.0)

/* Rows of C that the complex register form computes at once: their
 * accumulators (4 per row) must fit in the vector registers. */
#ifndef GM_ROWS_GROUP
#define GM_ROWS_GROUP 2
#endif

/* By default none: the AVX2 set's register form lost so to its
 * accumulators in memory, which read B once a call (Intel Xeon, 2 threads:
 * complex128 (2 x 400) @ (400 x 400) 93 us against 73; complex64 (4 x 700)
 * @ (700 x 400) 124 against 116). */
#ifndef GM_ROWS_FETCH_MAX_ROWS
#define GM_ROWS_FETCH_MAX_ROWS 0
#endif

/* Real axpy reads B in runs along its rows, four rows at a time; when it
 * reads more than this many bytes of B, it fetches the first lines of the
 * next four runs ahead.  From memory, each new run otherwise waits for the
 * hardware prefetcher to learn it (float32 vector @ 5000 x 5000 on one
 * thread: 1.16 times faster so); from the caches the fetches only cost. */
#define GM_AXPY_PREFETCH_BYTES (8.0 * 1024.0 * 1024.0)

/* Dot products of one or two rows with many vectors run on too few
 * chains to keep the multiply-add units busy: up to this size, the many
 * are grouped instead and the one or two read again from L2. */
#define GM_DOTS_REREAD_BYTES (256.0 * 1024.0)

#include <stddef.h>
#include <string.h>

#include "gm_kernel.h"
#include "gm_short_dots.h"
#include "gufunc_matmul.h"

/* ------------------------------------------------------------------------
 * The forms, for the matrix-vector shapes the driver always sends here
 * (split over threads by rows or columns):
 *   - dots: each output is the dot product of a row contiguous along p
 *     with a vector contiguous along p (n == 1 with C-order A, or m == 1
 *     with Fortran-order B).  Four rows per pass share the vector loads;
 *     two vector accumulators per row, summed horizontally at the end
 *     (another order than p = 0, 1, ..., like any BLAS dot).
 *   - axpy: m <= 4 rows of C, columns of B and C contiguous (m == 1 with
 *     C-order B, or n == 1 with Fortran-order A seen transposed).  For a
 *     block of columns that stays in L1: C block = 0, then for each p,
 *     C block += S(i, p) * B row p, so B streams as long contiguous row
 *     segments and each element is still summed in the order p = 0, 1, ...
 * Masked loads never touch lanes past the operands.
 * ---------------------------------------------------------------------- */

typedef void (*gm_dots_fn)(const char *rows, ptrdiff_t rs, ptrdiff_t nrows,
                           const char *vec, ptrdiff_t k, char *out,
                           ptrdiff_t os);
typedef void (*gm_axpy_fn)(const char *s, ptrdiff_t si, ptrdiff_t sp,
                           ptrdiff_t m, const char *b, ptrdiff_t brs,
                           ptrdiff_t n, ptrdiff_t k, char *c, ptrdiff_t crs);

/*
 * T: element; VEC: vector of LANES elements; MASK_T, MASKOF(n): the mask
 * type and the mask of the first n lanes.  LOADU(p), MLOAD(p, mask) read
 * from a char pointer; SET1(p) broadcasts the element at p; MADD(x, y,
 * acc) = acc + x * y; HSUM(v) sums the lanes to T; PUT(p, v) stores one.
 */
#define GM_DEFINE_STREAM(NAME, T, VEC, LANES, MASK_T, MASKOF, ZERO, LOADU, MLOAD, STOREU,    \
                         SET1, MADD, ADD, HSUM, PUT)                          \
    /* G (1 to 4) rows at once sharing the loads of the vector; each row   \
     * sums its even and odd vectors in two chains, the tail in the first,  \
     * whatever G, so that a row's sum does not depend on how the rows were \
     * grouped or split.  One small array per row stays in registers. */    \
    static inline __attribute__((always_inline)) void NAME##_dots_group(     \
        const char *rows, ptrdiff_t rs, const char *vec, ptrdiff_t k,         \
        char *out, ptrdiff_t os, const int G)                                 \
    {                                                                         \
        enum { ES = sizeof(T), VB = LANES * sizeof(T) };                      \
        const char *r0 = rows, *r1 = r0 + rs, *r2 = r1 + rs, *r3 = r2 + rs;   \
        VEC s0[2] = {ZERO(), ZERO()}, s1[2] = {ZERO(), ZERO()};               \
        VEC s2[2] = {ZERO(), ZERO()}, s3[2] = {ZERO(), ZERO()};               \
        ptrdiff_t o = 0;                                                      \
        const ptrdiff_t end = k * ES;                                         \
        for (; o + 2 * VB <= end; o += 2 * VB) {                              \
            for (int h = 0; h < 2; ++h) {                                     \
                const VEC y = LOADU(vec + o + h * VB);                        \
                s0[h] = MADD(LOADU(r0 + o + h * VB), y, s0[h]);               \
                if (G > 1) s1[h] = MADD(LOADU(r1 + o + h * VB), y, s1[h]);    \
                if (G > 2) s2[h] = MADD(LOADU(r2 + o + h * VB), y, s2[h]);    \
                if (G > 3) s3[h] = MADD(LOADU(r3 + o + h * VB), y, s3[h]);    \
            }                                                                 \
        }                                                                     \
        for (; o < end; o += VB) {                                            \
            const MASK_T mk = MASKOF((end - o) / ES);                         \
            const VEC y = MLOAD(vec + o, mk);                                 \
            s0[0] = MADD(MLOAD(r0 + o, mk), y, s0[0]);                        \
            if (G > 1) s1[0] = MADD(MLOAD(r1 + o, mk), y, s1[0]);             \
            if (G > 2) s2[0] = MADD(MLOAD(r2 + o, mk), y, s2[0]);             \
            if (G > 3) s3[0] = MADD(MLOAD(r3 + o, mk), y, s3[0]);             \
        }                                                                     \
        PUT(out, HSUM(ADD(s0[0], s0[1])));                                    \
        if (G > 1) PUT(out + os, HSUM(ADD(s1[0], s1[1])));                    \
        if (G > 2) PUT(out + 2 * os, HSUM(ADD(s2[0], s2[1])));                \
        if (G > 3) PUT(out + 3 * os, HSUM(ADD(s3[0], s3[1])));                \
    }                                                                         \
    /* Four rows per pass; the 1 to 3 left over together (one alone would  \
     * wait on its two chains). */                                          \
    static void NAME##_dots(const char *rows, ptrdiff_t rs, ptrdiff_t nrows, \
                            const char *vec, ptrdiff_t k, char *out,          \
                            ptrdiff_t os)                                     \
    {                                                                         \
        ptrdiff_t r = 0;                                                      \
        for (; r + 4 <= nrows; r += 4) {                                      \
            NAME##_dots_group(rows + r * rs, rs, vec, k, out + r * os, os, 4); \
        }                                                                     \
        switch (nrows - r) {                                                  \
        GM_CONST_CASES_1_TO_3(NAME##_dots_group, rows + r * rs, rs, vec, k,   \
                              out + r * os, os)                               \
        default:                                                              \
            break;                                                            \
        }                                                                     \
    }                                                                         \
    /* Elements (x, y) of R rows of X by Q rows of Y: each the dot       \
     * product of dots_group, in the same chains and lane sum, so any     \
     * grouping gives the same bits; each vector loaded serves Q or R     \
     * multiply-adds instead of one (12 chains: 15 of 16 registers). */   \
    static inline __attribute__((always_inline)) void NAME##_dots_block(     \
        const char *x, ptrdiff_t xs, const char *y, ptrdiff_t ys,             \
        ptrdiff_t k, char *c, ptrdiff_t cxs, ptrdiff_t cys, const int R,      \
        const int Q)                                                          \
    {                                                                         \
        enum { ES = sizeof(T), VB = LANES * sizeof(T) };                      \
        VEC t[3][2][2];                                                       \
        for (int q = 0; q < R; ++q) {                                         \
            for (int j = 0; j < Q; ++j) {                                     \
                t[q][j][0] = t[q][j][1] = ZERO();                             \
            }                                                                 \
        }                                                                     \
        ptrdiff_t o = 0;                                                      \
        const ptrdiff_t end = k * ES;                                         \
        for (; o + 2 * VB <= end; o += 2 * VB) {                              \
            for (int h = 0; h < 2; ++h) {                                     \
                VEC yv[2];                                                    \
                for (int j = 0; j < Q; ++j) {                                 \
                    yv[j] = LOADU(y + j * ys + o + h * VB);                   \
                    GM_IN_REGISTER(yv[j]);                                    \
                }                                                             \
                for (int q = 0; q < R; ++q) {                                 \
                    VEC xv = LOADU(x + q * xs + o + h * VB);                  \
                    GM_IN_REGISTER(xv);                                       \
                    for (int j = 0; j < Q; ++j) {                             \
                        t[q][j][h] = MADD(xv, yv[j], t[q][j][h]);             \
                    }                                                         \
                }                                                             \
            }                                                                 \
        }                                                                     \
        for (; o < end; o += VB) {                                            \
            const MASK_T mk = MASKOF((end - o) / ES);                         \
            VEC yv[2];                                                        \
            for (int j = 0; j < Q; ++j) {                                     \
                yv[j] = MLOAD(y + j * ys + o, mk);                            \
            }                                                                 \
            for (int q = 0; q < R; ++q) {                                     \
                const VEC xv = MLOAD(x + q * xs + o, mk);                     \
                for (int j = 0; j < Q; ++j) {                                 \
                    t[q][j][0] = MADD(xv, yv[j], t[q][j][0]);                 \
                }                                                             \
            }                                                                 \
        }                                                                     \
        for (int q = 0; q < R; ++q) {                                         \
            for (int j = 0; j < Q; ++j) {                                     \
                PUT(c + q * cxs + j * cys, HSUM(ADD(t[q][j][0], t[q][j][1]))); \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    GM_DEFINE_DOTS_GRID(NAME)                                                 \
    /* One row of C of NV vectors at most (n elements), its accumulators  \
     * in registers over all of p: kept in memory, each step of a chain    \
     * also waited for a store to forward (AVX2 on Zen 4, float64          \
     * (3000,) @ (3000 x 8): NumPy 0.74 times as fast, 1.11 so).  The same \
     * chains, in the order p = 0, 1, ... */                               \
    static inline __attribute__((always_inline)) void NAME##_axpy_row(       \
        const char *s, ptrdiff_t sp, const char *b, ptrdiff_t brs,            \
        ptrdiff_t n, ptrdiff_t k, char *c, const int NV)                      \
    {                                                                         \
        enum { ES = sizeof(T), VB = LANES * sizeof(T) };                      \
        const ptrdiff_t tail = n * ES - (NV - 1) * VB;                        \
        const MASK_T mk = MASKOF(tail / ES);                                  \
        VEC t[8];                                                             \
        for (int v = 0; v < NV; ++v) {                                        \
            t[v] = ZERO();                                                    \
        }                                                                     \
        const int fetch = (double)k * (double)n * ES > GM_AXPY_PREFETCH_BYTES; \
        for (ptrdiff_t p = 0; p < k; ++p) {                                   \
            const VEC x = SET1(s + p * sp);                                   \
            const char *bp = b + p * brs;                                     \
            if (fetch) {                                                      \
                for (int o = 0; o < NV * VB; o += 64) {                       \
                    __builtin_prefetch(bp + 8 * brs + o, 0, 1);               \
                }                                                             \
            }                                                                 \
            for (int v = 0; v < NV - 1; ++v) {                                \
                t[v] = MADD(x, LOADU(bp + v * VB), t[v]);                     \
            }                                                                 \
            t[NV - 1] = MADD(x, MLOAD(bp + (NV - 1) * VB, mk), t[NV - 1]);    \
        }                                                                     \
        for (int v = 0; v < NV - 1; ++v) {                                    \
            STOREU(c + v * VB, t[v]);                                         \
        }                                                                     \
        _Alignas(64) char last[VB];                                           \
        STOREU(last, t[NV - 1]);                                              \
        memcpy(c + (NV - 1) * VB, last, (size_t)tail);                        \
    }                                                                         \
    static void NAME##_axpy(const char *s, ptrdiff_t si, ptrdiff_t sp,        \
                            ptrdiff_t m, const char *b, ptrdiff_t brs,        \
                            ptrdiff_t n, ptrdiff_t k, char *c, ptrdiff_t crs) \
    {                                                                         \
        enum { ES = sizeof(T), VB = LANES * sizeof(T),                        \
               BLK = GM_AXPY_BLOCK_BYTES };                                   \
        if (m == 1 && n * ES <= 8 * VB) {                                     \
            switch ((n * ES + VB - 1) / VB) {                                 \
            GM_CONST_CASES_1_TO_8(NAME##_axpy_row, s, sp, b, brs, n, k, c)    \
            default:                                                          \
                break;                                                        \
            }                                                                 \
            return;                                                           \
        }                                                                     \
        /* Blocks as wide as the rows of C in flight allow (the whole row   \
         * for one row of C: long runs of each row of B), all about equal. */ \
        _Alignas(64) char acc[GM_AXPY_MAX_ROWS * BLK];                        \
        const ptrdiff_t widest = GM_AXPY_MAX_ROWS * BLK / m / VB * VB;        \
        const ptrdiff_t blocks = (n * ES + widest - 1) / widest;              \
        const ptrdiff_t blk = ((n * ES + blocks - 1) / blocks + VB - 1) / VB * VB; \
        const int fetch = (double)k * (double)n * ES > GM_AXPY_PREFETCH_BYTES; \
        for (ptrdiff_t j0 = 0; j0 < n; j0 += blk / ES) {                      \
            const ptrdiff_t bytes = min_pd(blk / ES, n - j0) * ES;            \
            const ptrdiff_t full = bytes - bytes % VB;                        \
            const MASK_T mk = MASKOF((bytes - full) / ES);                    \
            const char *bj = b + j0 * ES;                                     \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                memset(acc + i * blk, 0, (size_t)(full + (full < bytes ? VB : 0))); \
            }                                                                 \
            ptrdiff_t p = 0;                                                  \
            for (; p + 4 <= k; p += 4) {                                      \
                const char *b0 = bj + p * brs, *b1 = b0 + brs;                \
                const char *b2 = b1 + brs, *b3 = b2 + brs;                    \
                for (ptrdiff_t i = 0; i < m; ++i) {                           \
                    const char *si_ = s + i * si + p * sp;                    \
                    const VEC x0 = SET1(si_), x1 = SET1(si_ + sp);            \
                    const VEC x2 = SET1(si_ + 2 * sp), x3 = SET1(si_ + 3 * sp); \
                    char *t = acc + i * blk;                                  \
                    ptrdiff_t o = 0;                                          \
                    const int ahead = fetch && i == 0 && p + 8 <= k;          \
                    for (; o < full; o += VB) {                               \
                        if (ahead && o < 512 && o % 64 == 0) {                \
                            __builtin_prefetch(b0 + 4 * brs + o, 0, 1);       \
                            __builtin_prefetch(b1 + 4 * brs + o, 0, 1);       \
                            __builtin_prefetch(b2 + 4 * brs + o, 0, 1);       \
                            __builtin_prefetch(b3 + 4 * brs + o, 0, 1);       \
                        }                                                     \
                        VEC v = LOADU(t + o);                                 \
                        v = MADD(x0, LOADU(b0 + o), v);                       \
                        v = MADD(x1, LOADU(b1 + o), v);                       \
                        v = MADD(x2, LOADU(b2 + o), v);                       \
                        v = MADD(x3, LOADU(b3 + o), v);                       \
                        STOREU(t + o, v);                                     \
                    }                                                         \
                    if (o < bytes) {                                          \
                        VEC v = LOADU(t + o);                                 \
                        v = MADD(x0, MLOAD(b0 + o, mk), v);                   \
                        v = MADD(x1, MLOAD(b1 + o, mk), v);                   \
                        v = MADD(x2, MLOAD(b2 + o, mk), v);                   \
                        v = MADD(x3, MLOAD(b3 + o, mk), v);                   \
                        STOREU(t + o, v);                                     \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (; p < k; ++p) {                                              \
                const char *b0 = bj + p * brs;                                \
                for (ptrdiff_t i = 0; i < m; ++i) {                           \
                    const VEC x0 = SET1(s + i * si + p * sp);                 \
                    char *t = acc + i * blk;                                  \
                    ptrdiff_t o = 0;                                          \
                    for (; o < full; o += VB) {                               \
                        STOREU(t + o, MADD(x0, LOADU(b0 + o), LOADU(t + o))); \
                    }                                                         \
                    if (o < bytes) {                                          \
                        STOREU(t + o, MADD(x0, MLOAD(b0 + o, mk), LOADU(t + o))); \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                memcpy(c + i * crs + j0 * ES, acc + i * blk, (size_t)bytes); \
            }                                                                 \
        }                                                                     \
    }

/* Runs one matrix of a direct-path problem on a streaming form when its
 * shape and layout fit one; returns 0 when none does. */
static inline __attribute__((always_inline)) int stream_direct(const gm_problem *pr, const char *a, const char *b,
                            char *c, const ptrdiff_t es, gm_dots_fn dots,
                            gm_grid_fn grid, gm_axpy_fn axpy,
                            const int any_rows)
{
    const ptrdiff_t m = pr->m, n = pr->n, k = pr->k;
    if (k == 0) {
        return 0;
    }
    if (n == 1 && pr->a.col_stride == es && pr->b.row_stride == es) {
        dots(a, pr->a.row_stride, m, b, k, c, pr->c.row_stride);
        return 1;
    }
    if (m == 1 && pr->b.row_stride == es && pr->a.col_stride == es) {
        dots(b, pr->b.col_stride, n, a, k, c, pr->c.col_stride);
        return 1;
    }
    /* Complex takes every row count here: its other direct loop sums in
     * another order, and the split of rows over threads must not change
     * a result. */
    if ((m <= GM_AXPY_MAX_ROWS || any_rows) && pr->b.col_stride == es
            && pr->c.col_stride == es) {
        for (ptrdiff_t i = 0; i < m; i += GM_AXPY_MAX_ROWS) {
            axpy(a + i * pr->a.row_stride, pr->a.row_stride,
                 pr->a.col_stride, min_pd(GM_AXPY_MAX_ROWS, m - i), b,
                 pr->b.row_stride, n, k, c + i * pr->c.row_stride,
                 pr->c.row_stride);
        }
        return 1;
    }
    if (n == 1 && pr->a.row_stride == es && pr->c.row_stride == es) {
        axpy(b, 0, pr->b.row_stride, 1, a, pr->a.col_stride, m, k, c, 0);
        return 1;
    }
    /* Contiguous rows of A and columns of B (B in Fortran order): a dot
     * product per element, grouped along the shorter side so that the
     * longer operand is read once, unless that side is too short to
     * group (1 or 2) and the longer operand stays in L2 while it is read
     * again.  Each element sums the same products in the same lanes
     * whichever side is grouped. */
    if (pr->a.col_stride == es && pr->b.row_stride == es && grid != NULL
            && m > 1 && n > 1) {
        gm_grid_product(grid, pr, a, b, c);
        return 1;
    }
    if (pr->a.col_stride == es && pr->b.row_stride == es) {
        const ptrdiff_t longer = m > n ? m : n, shorter = m + n - longer;
        const int regroup = shorter <= 2
                            && (double)longer * (double)k * (double)es <= GM_DOTS_REREAD_BYTES;
        if ((m <= n) != regroup) {
            for (ptrdiff_t j = 0; j < n; ++j) {
                dots(a, pr->a.row_stride, m, b + j * pr->b.col_stride, k,
                     c + j * pr->c.col_stride, pr->c.row_stride);
            }
        }
        else {
            for (ptrdiff_t i = 0; i < m; ++i) {
                dots(b, pr->b.col_stride, n, a + i * pr->a.row_stride, k,
                     c + i * pr->c.row_stride, pr->c.col_stride);
            }
        }
        return 1;
    }
    return 0;
}

/* Every matrix of [first, last) on a streaming form: 1, or 0 when the
 * layout fits none (then nothing was written; the layout is the same for
 * every matrix, so only the first can refuse). */
static inline __attribute__((always_inline)) int stream_all(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last,
                         const ptrdiff_t es, gm_dots_fn dots, gm_grid_fn grid,
                         gm_axpy_fn axpy, const int any_rows)
{
    for (ptrdiff_t s = first; s < last; ++s) {
        if (!stream_direct(pr, pr->a.data + s * pr->a.batch_stride,
                           pr->b.data + s * pr->b.batch_stride,
                           pr->c.data + s * pr->c.batch_stride, es, dots,
                           grid, axpy, any_rows)) {
            return 0;
        }
    }
    return 1;
}

/* Integer products this small run faster as the plain loop than on a
 * streaming form, whose set-up costs more than the whole matrix (a stack
 * of 2 x 2 int32 took 38 ns a matrix there); integer sums are exact in
 * any order. */
static inline int gm_int_tiny(const gm_problem *pr)
{
    return pr->m > 1 && pr->n > 1 && pr->m * pr->n * pr->k <= 64;
}

/* Stacks of square matrices of order 2, 3 or 4: the plain loop with
 * constant bounds, which compilers unroll whole (2 x 2 int32: 11 ns a
 * matrix in the general loop, most of it loop control).  Each element
 * sums p = 0, 1, ... as the plain loop does.  Returns 0 when the shape is
 * not one of these. */
#define GM_DEFINE_TINY_SQUARE(NAME, T, GET, PUT)                              \
    static inline __attribute__((always_inline)) void NAME##_order(           \
        const gm_problem *pr, ptrdiff_t first, ptrdiff_t last, const int order) \
    {                                                                         \
        GM_PROBLEM_LOCALS(pr);                                                \
        (void)m, (void)n, (void)k;                                            \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *a = pr->a.data + s * pr->a.batch_stride;              \
            const char *b = pr->b.data + s * pr->b.batch_stride;              \
            char *c = pr->c.data + s * pr->c.batch_stride;                    \
            T x[4][4], y[4][4];                                               \
            for (int i = 0; i < order; ++i) {                                 \
                for (int p = 0; p < order; ++p) {                             \
                    x[i][p] = GET(a + i * ars + p * acs);                     \
                    y[i][p] = GET(b + i * brs + p * bcs);                     \
                }                                                             \
            }                                                                 \
            for (int i = 0; i < order; ++i) {                                 \
                for (int j = 0; j < order; ++j) {                             \
                    T acc = 0;                                                \
                    for (int p = 0; p < order; ++p) {                         \
                        acc += x[i][p] * y[p][j];                             \
                    }                                                         \
                    PUT(c + i * crs + j * ccs, acc);                          \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static int NAME(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)    \
    {                                                                         \
        if (pr->m != pr->n || pr->n != pr->k) {                               \
            return 0;                                                         \
        }                                                                     \
        switch (pr->m) {                                                      \
        case 2: NAME##_order(pr, first, last, 2); return 1;                   \
        case 3: NAME##_order(pr, first, last, 3); return 1;                   \
        case 4: NAME##_order(pr, first, last, 4); return 1;                   \
        default: return 0;                                                    \
        }                                                                     \
    }

/* Which operand of a dot product is conjugated. */
enum { GM_CONJ_NONE, GM_CONJ_ROWS, GM_CONJ_VEC };

static const double gm_minus_one_double = -1.0;
static const float gm_minus_one_float = -1.0f;

/*
 * Streaming direct forms for complex (see the real ones above), on the
 * (re, im) pairs as stored.  dots: per row R += x * y and I += x * swap(y)
 * lane by lane; then re = sum(R.re) - sum(R.im), im = sum(I).  axpy:
 * R += sr * B and I += si * B over a block of C, then C = R -+ swap(I), as
 * the micro-kernels do.  With conjugation (see above) dots give
 * re = sum(R) and im = sum(I.re) - sum(I.im) (rows conjugated) or
 * sum(I.im) - sum(I.re) (vector conjugated).
 */
#define GM_DEFINE_STREAM_COMPLEX(NAME, R, VEC, RLANES, MASK_T, MASKOF, ZERO, LOADU, MLOAD,    \
                                 STOREU, MSTORE, SET1, FMA, MUL, ADD, SWAP, ADDSUB,   \
                                 HSUM, SIGNS)                                 \
    /* One output of dots from its lane sums R (re) and I (im). */         \
    static inline __attribute__((always_inline)) void NAME##_dot_out(       \
        VEC re, VEC im, char *dst, const int conj)                            \
    {                                                                         \
        const VEC signs = SIGNS;                                              \
        R z[2];                                                               \
        if (conj == GM_CONJ_NONE) {                                           \
            z[0] = HSUM(MUL(re, signs));                                      \
            z[1] = HSUM(im);                                                  \
        }                                                                     \
        else {                                                                \
            const VEC flip = conj == GM_CONJ_ROWS                             \
                ? signs : MUL(signs, SET1((const char *)&gm_minus_one_##R));  \
            z[0] = HSUM(re);                                                  \
            z[1] = HSUM(MUL(im, flip));                                       \
        }                                                                     \
        memcpy(dst, z, sizeof z);                                             \
    }                                                                         \
    /* G (1 to 4) rows at once sharing the loads of the vector, each row   \
     * in the same chains whatever G (see the real form). */               \
    static inline __attribute__((always_inline)) void NAME##_dots_group(     \
        const char *rows, ptrdiff_t rs, const char *vec, ptrdiff_t k,         \
        char *out, ptrdiff_t os, const int conj, const int G)                 \
    {                                                                         \
        enum { VB = RLANES * sizeof(R) };                                     \
        const ptrdiff_t end = k * 2 * (ptrdiff_t)sizeof(R);                   \
        const char *rp[4];                                                    \
        for (int q = 0; q < 4; ++q) {                                         \
            rp[q] = rows + (q < G ? q : 0) * rs;                              \
        }                                                                     \
        VEC re0 = ZERO(), re1 = ZERO(), re2 = ZERO(), re3 = ZERO();           \
        VEC im0 = ZERO(), im1 = ZERO(), im2 = ZERO(), im3 = ZERO();           \
        ptrdiff_t o = 0;                                                      \
        for (; o + VB <= end; o += VB) {                                      \
            const VEC y = LOADU(vec + o), ys = SWAP(y);                       \
            VEC x = LOADU(rp[0] + o);                                         \
            GM_IN_REGISTER(x);                                                \
            re0 = FMA(x, y, re0); im0 = FMA(x, ys, im0);                      \
            if (G > 1) {                                                      \
                x = LOADU(rp[1] + o);                                         \
                GM_IN_REGISTER(x);                                            \
                re1 = FMA(x, y, re1); im1 = FMA(x, ys, im1);                  \
            }                                                                 \
            if (G > 2) {                                                      \
                x = LOADU(rp[2] + o);                                         \
                GM_IN_REGISTER(x);                                            \
                re2 = FMA(x, y, re2); im2 = FMA(x, ys, im2);                  \
            }                                                                 \
            if (G > 3) {                                                      \
                x = LOADU(rp[3] + o);                                         \
                GM_IN_REGISTER(x);                                            \
                re3 = FMA(x, y, re3); im3 = FMA(x, ys, im3);                  \
            }                                                                 \
        }                                                                     \
        if (o < end) {                                                        \
            const MASK_T mk = MASKOF((end - o) / (ptrdiff_t)sizeof(R));       \
            const VEC y = MLOAD(vec + o, mk), ys = SWAP(y);                   \
            VEC x = MLOAD(rp[0] + o, mk);                                     \
            re0 = FMA(x, y, re0); im0 = FMA(x, ys, im0);                      \
            if (G > 1) {                                                      \
                x = MLOAD(rp[1] + o, mk);                                     \
                re1 = FMA(x, y, re1); im1 = FMA(x, ys, im1);                  \
            }                                                                 \
            if (G > 2) {                                                      \
                x = MLOAD(rp[2] + o, mk);                                     \
                re2 = FMA(x, y, re2); im2 = FMA(x, ys, im2);                  \
            }                                                                 \
            if (G > 3) {                                                      \
                x = MLOAD(rp[3] + o, mk);                                     \
                re3 = FMA(x, y, re3); im3 = FMA(x, ys, im3);                  \
            }                                                                 \
        }                                                                     \
        NAME##_dot_out(re0, im0, out, conj);                                  \
        if (G > 1) NAME##_dot_out(re1, im1, out + os, conj);                  \
        if (G > 2) NAME##_dot_out(re2, im2, out + 2 * os, conj);              \
        if (G > 3) NAME##_dot_out(re3, im3, out + 3 * os, conj);              \
    }                                                                         \
    /* Four rows per pass; the 1 to 3 left over together. */              \
    static inline __attribute__((always_inline)) void NAME##_dots_impl(      \
        const char *rows, ptrdiff_t rs, ptrdiff_t nrows, const char *vec,     \
        ptrdiff_t k, char *out, ptrdiff_t os, const int conj)                 \
    {                                                                         \
        ptrdiff_t r = 0;                                                      \
        for (; r + 4 <= nrows; r += 4) {                                      \
            NAME##_dots_group(rows + r * rs, rs, vec, k, out + r * os, os,    \
                              conj, 4);                                       \
        }                                                                     \
        switch (nrows - r) {                                                  \
        GM_CONST_CASES_1_TO_3(NAME##_dots_group, rows + r * rs, rs, vec, k,   \
                              out + r * os, os, conj)                         \
        default:                                                              \
            break;                                                            \
        }                                                                     \
    }                                                                         \
    /* The imaginary part of the element at x, negated for conj. */           \
    static inline __attribute__((always_inline)) VEC NAME##_imag(             \
        const char *x, const int conj)                                        \
    {                                                                         \
        return conj ? MUL(SET1(x + sizeof(R)), SET1((const char *)&gm_minus_one_##R)) \
                    : SET1(x + sizeof(R));                                    \
    }                                                                         \
    /* One row's step of the register form: R += x.re * y, I += x.im * y. */  \
    static inline __attribute__((always_inline)) void NAME##_row_step(        \
        const char *x, const int conj, const VEC *y, const int nv, VEC *re,   \
        VEC *im)                                                              \
    {                                                                         \
        const VEC xr = SET1(x), xi = NAME##_imag(x, conj);                    \
        for (int v = 0; v < nv; ++v) {                                        \
            re[v] = FMA(xr, y[v], re[v]);                                     \
            im[v] = FMA(xi, y[v], im[v]);                                     \
        }                                                                     \
    }                                                                         \
    static inline __attribute__((always_inline)) void NAME##_row_out(         \
        const VEC *re, const VEC *im, const int nv, char *c, ptrdiff_t full,  \
        const MASK_T mk)                                                      \
    {                                                                         \
        enum { VB = RLANES * sizeof(R) };                                     \
        for (int v = 0; v < nv; ++v) {                                        \
            const VEC z = ADDSUB(re[v], SWAP(im[v]));                         \
            if (v * VB < full) {                                              \
                STOREU(c + v * VB, z);                                        \
            }                                                                 \
            else {                                                            \
                MSTORE(c + v * VB, mk, z);                                    \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    /* `rows` (at most 4) rows of C across `bytes` (at most nv vectors) of    \
     * columns, with axpy's accumulators (R and I per element) in             \
     * registers over all of p: the same chains of multiply-adds, so the      \
     * same bits.  One small array per row: compilers keep those in           \
     * registers, not one large one. */                                       \
    static inline __attribute__((always_inline)) void NAME##_rows_block(      \
        const char *s, ptrdiff_t si, ptrdiff_t sp, const char *b,             \
        ptrdiff_t brs, ptrdiff_t k, char *c, ptrdiff_t crs, ptrdiff_t bytes,  \
        const int conj, const int rows, const int nv, const int fetch)        \
    {                                                                         \
        enum { VB = RLANES * sizeof(R) };                                     \
        const ptrdiff_t full = bytes - bytes % VB;                            \
        const MASK_T mk = MASKOF((bytes - full) / (ptrdiff_t)sizeof(R));      \
        VEC re0[2] = {ZERO(), ZERO()}, im0[2] = {ZERO(), ZERO()};             \
        VEC re1[2] = {ZERO(), ZERO()}, im1[2] = {ZERO(), ZERO()};             \
        VEC re2[2] = {ZERO(), ZERO()}, im2[2] = {ZERO(), ZERO()};             \
        VEC re3[2] = {ZERO(), ZERO()}, im3[2] = {ZERO(), ZERO()};             \
        for (ptrdiff_t p = 0; p < k; ++p) {                                   \
            const char *bp = b + p * brs, *x = s + p * sp;                    \
            VEC y[2];                                                         \
            for (int v = 0; v < nv; ++v) {                                    \
                y[v] = v * VB < full ? LOADU(bp + v * VB) : MLOAD(bp + v * VB, mk); \
                if (fetch) {                                                  \
                    __builtin_prefetch(bp + (2 + v) * VB);                    \
                }                                                             \
            }                                                                 \
            NAME##_row_step(x, conj, y, nv, re0, im0);                        \
            if (rows > 1) {                                                   \
                NAME##_row_step(x + si, conj, y, nv, re1, im1);               \
            }                                                                 \
            if (rows > 2) {                                                   \
                NAME##_row_step(x + 2 * si, conj, y, nv, re2, im2);           \
            }                                                                 \
            if (rows > 3) {                                                   \
                NAME##_row_step(x + 3 * si, conj, y, nv, re3, im3);           \
            }                                                                 \
        }                                                                     \
        NAME##_row_out(re0, im0, nv, c, full, mk);                               \
        if (rows > 1) {                                                       \
            NAME##_row_out(re1, im1, nv, c + crs, full, mk);                     \
        }                                                                     \
        if (rows > 2) {                                                       \
            NAME##_row_out(re2, im2, nv, c + 2 * crs, full, mk);                 \
        }                                                                     \
        if (rows > 3) {                                                       \
            NAME##_row_out(re3, im3, nv, c + 3 * crs, full, mk);                 \
        }                                                                     \
    }                                                                         \
    /* Rows of C in strips of two vectors, GM_ROWS_GROUP rows at a time       \
     * (as many as the registers hold): for a B that stays in the caches,     \
     * the accumulators stay in registers. */                                 \
    static inline __attribute__((always_inline)) void NAME##_rows_strip(      \
        const char *s, ptrdiff_t si, ptrdiff_t sp, ptrdiff_t m,               \
        const char *b, ptrdiff_t brs, ptrdiff_t k, char *c, ptrdiff_t crs,    \
        ptrdiff_t bytes, const int conj, const int nv, const int fetch)       \
    {                                                                         \
        ptrdiff_t i = 0;                                                      \
        int f = fetch;   /* the first group only: the others read L2 */    \
        for (; i + GM_ROWS_GROUP <= m; i += GM_ROWS_GROUP) {                  \
            NAME##_rows_block(s + i * si, si, sp, b, brs, k, c + i * crs,     \
                              crs, bytes, conj, GM_ROWS_GROUP, nv, f);        \
            f = 0;                                                            \
        }                                                                     \
        if (m - i >= 2) {                                                     \
            NAME##_rows_block(s + i * si, si, sp, b, brs, k, c + i * crs,     \
                              crs, bytes, conj, 2, nv, f);                    \
            f = 0;                                                            \
            i += 2;                                                           \
        }                                                                     \
        if (i < m) {                                                          \
            NAME##_rows_block(s + i * si, si, sp, b, brs, k, c + i * crs,     \
                              crs, bytes, conj, 1, nv, f);                    \
        }                                                                     \
    }                                                                         \
    static inline __attribute__((always_inline)) void NAME##_rows_impl(       \
        const char *s, ptrdiff_t si, ptrdiff_t sp, ptrdiff_t m,               \
        const char *b, ptrdiff_t brs, ptrdiff_t n, ptrdiff_t k, char *c,      \
        const ptrdiff_t crs, const int conj)                                  \
    {                                                                         \
        enum { ES = 2 * sizeof(R), VB = RLANES * sizeof(R) };                 \
        const ptrdiff_t total = n * ES;                                       \
        const int fetch = (double)k * (double)total > GM_ROWS_MAX_B_BYTES;    \
        for (ptrdiff_t j = 0; j < total; j += 2 * VB) {                       \
            const ptrdiff_t bytes = min_pd(2 * VB, total - j);                \
            if (bytes > VB) {                                                 \
                NAME##_rows_strip(s, si, sp, m, b + j, brs, k, c + j, crs,    \
                                  bytes, conj, 2, fetch && j + 2 * VB < total); \
            }                                                                 \
            else {                                                            \
                NAME##_rows_strip(s, si, sp, m, b + j, brs, k, c + j, crs,    \
                                  bytes, conj, 1, 0);                         \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static inline __attribute__((always_inline)) void NAME##_axpy_impl(      \
        const char *s, ptrdiff_t si, ptrdiff_t sp, ptrdiff_t m,               \
        const char *b, ptrdiff_t brs, ptrdiff_t n, ptrdiff_t k, char *c,      \
        ptrdiff_t crs, const int conj)                                        \
    {                                                                         \
        enum { ES = 2 * sizeof(R), VB = RLANES * sizeof(R),                   \
               BLK = GM_AXPY_BLOCK_BYTES / 2 };                               \
        /* Accumulators in registers rather than memory for the B that   \
         * GM_ROWS_MAX_B_BYTES describes.  A single row reads B once either  \
         * way, faster down its rows than across its strips. */             \
        const double b_bytes = (double)k * (double)n * ES;                    \
        if (m > 1 && (b_bytes <= GM_ROWS_MAX_B_BYTES                          \
                      || (m <= GM_ROWS_FETCH_MAX_ROWS                         \
                          && b_bytes <= GM_ROWS_FETCH_B_BYTES))) {            \
            NAME##_rows_impl(s, si, sp, m, b, brs, n, k, c, crs, conj);       \
            return;                                                           \
        }                                                                     \
        /* Per row of C, R and I for a block of its columns, in L1; the       \
         * fewer the rows, the longer the runs of each row of B read. */      \
        _Alignas(64) char acc[GM_AXPY_MAX_ROWS * GM_AXPY_BLOCK_BYTES];        \
        const ptrdiff_t blk = BLK * (GM_AXPY_MAX_ROWS / m);                   \
        for (ptrdiff_t j0 = 0; j0 < n; j0 += blk / ES) {                      \
            const ptrdiff_t bytes = min_pd(blk / ES, n - j0) * ES;            \
            const ptrdiff_t full = bytes - bytes % VB;                        \
            const MASK_T mk = MASKOF((bytes - full) / (ptrdiff_t)sizeof(R));  \
            const char *bj = b + j0 * ES;                                     \
            /* only the vectors this block uses: a 3 x 3 product must not     \
             * clear 4 KiB per row */                                         \
            const size_t used = (size_t)(full < bytes ? full + VB : full);    \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                memset(acc + 2 * i * blk, 0, used);                           \
                memset(acc + (2 * i + 1) * blk, 0, used);                     \
            }                                                                 \
            /* Four rows of B per pass over the block: one load and one       \
             * store of each accumulator for four multiply-adds, in the       \
             * order p = 0, 1, ... as in the register form. */                \
            ptrdiff_t p = 0;                                                  \
            for (; p + 4 <= k; p += 4) {                                      \
                const char *b0 = bj + p * brs, *b1 = b0 + brs;                \
                const char *b2 = b1 + brs, *b3 = b2 + brs;                    \
                for (ptrdiff_t i = 0; i < m; ++i) {                           \
                    const char *x = s + i * si + p * sp;                      \
                    const VEC xr0 = SET1(x), xr1 = SET1(x + sp);              \
                    const VEC xr2 = SET1(x + 2 * sp), xr3 = SET1(x + 3 * sp); \
                    const VEC xi0 = NAME##_imag(x, conj);                     \
                    const VEC xi1 = NAME##_imag(x + sp, conj);                \
                    const VEC xi2 = NAME##_imag(x + 2 * sp, conj);            \
                    const VEC xi3 = NAME##_imag(x + 3 * sp, conj);            \
                    char *tr = acc + 2 * i * blk, *ti = tr + blk;             \
                    for (ptrdiff_t o = 0; o < bytes; o += VB) {               \
                        const int whole = o < full;                           \
                        VEC y0 = whole ? LOADU(b0 + o) : MLOAD(b0 + o, mk); \
                        VEC y1 = whole ? LOADU(b1 + o) : MLOAD(b1 + o, mk); \
                        VEC y2 = whole ? LOADU(b2 + o) : MLOAD(b2 + o, mk); \
                        VEC y3 = whole ? LOADU(b3 + o) : MLOAD(b3 + o, mk); \
                        GM_IN_REGISTER(y0); GM_IN_REGISTER(y1);               \
                        GM_IN_REGISTER(y2); GM_IN_REGISTER(y3);               \
                        VEC t = FMA(xr0, y0, LOADU(tr + o));                  \
                        t = FMA(xr1, y1, t);                                  \
                        t = FMA(xr2, y2, t);                                  \
                        STOREU(tr + o, FMA(xr3, y3, t));                      \
                        t = FMA(xi0, y0, LOADU(ti + o));                      \
                        t = FMA(xi1, y1, t);                                  \
                        t = FMA(xi2, y2, t);                                  \
                        STOREU(ti + o, FMA(xi3, y3, t));                      \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (; p < k; ++p) {                                              \
                const char *b0 = bj + p * brs;                                \
                for (ptrdiff_t i = 0; i < m; ++i) {                           \
                    const char *x = s + i * si + p * sp;                      \
                    const VEC xr0 = SET1(x), xi0 = NAME##_imag(x, conj);      \
                    char *tr = acc + 2 * i * blk, *ti = tr + blk;             \
                    for (ptrdiff_t o = 0; o < bytes; o += VB) {               \
                        const VEC y0 = o < full ? LOADU(b0 + o) : MLOAD(b0 + o, mk); \
                        STOREU(tr + o, FMA(xr0, y0, LOADU(tr + o)));          \
                        STOREU(ti + o, FMA(xi0, y0, LOADU(ti + o)));          \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                const char *tr = acc + 2 * i * blk, *ti = tr + blk;           \
                char *ci = c + i * crs + j0 * ES;                             \
                for (ptrdiff_t o = 0; o < bytes; o += VB) {                   \
                    const VEC z = ADDSUB(LOADU(tr + o), SWAP(LOADU(ti + o))); \
                    if (o < full) {                                           \
                        STOREU(ci + o, z);                                    \
                    }                                                         \
                    else {                                                    \
                        MSTORE(ci + o, mk, z);                                \
                    }                                                         \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static void NAME##_dots(const char *rows, ptrdiff_t rs, ptrdiff_t nrows, \
                            const char *vec, ptrdiff_t k, char *out,          \
                            ptrdiff_t os)                                     \
    {                                                                         \
        NAME##_dots_impl(rows, rs, nrows, vec, k, out, os, GM_CONJ_NONE);     \
    }                                                                         \
    static void NAME##_axpy(const char *s, ptrdiff_t si, ptrdiff_t sp,        \
                            ptrdiff_t m, const char *b, ptrdiff_t brs,        \
                            ptrdiff_t n, ptrdiff_t k, char *c, ptrdiff_t crs) \
    {                                                                         \
        NAME##_axpy_impl(s, si, sp, m, b, brs, n, k, c, crs, 0);              \
    }                                                                         \
    /* C = conj(A) @ B for matrices [first, last) on a streaming form:    \
     * 1, or 0 (nothing written) when the layout fits none. */            \
    static int NAME##_conj_all(const gm_problem *pr, ptrdiff_t first,         \
                               ptrdiff_t last)                                \
    {                                                                         \
        enum { ES = 2 * sizeof(R) };                                          \
        const gm_operand *a = &pr->a, *b = &pr->b, *c = &pr->c;               \
        int form;                                                             \
        if (pr->k == 0) {                                                     \
            return 0;                                                         \
        }                                                                     \
        if (pr->n == 1 && a->col_stride == ES && b->row_stride == ES) {       \
            form = 0;   /* rows of A . column of B */                         \
        }                                                                     \
        else if (pr->m == 1 && b->row_stride == ES && a->col_stride == ES) {  \
            form = 1;   /* columns of B . row of A */                         \
        }                                                                     \
        else if (b->col_stride == ES && c->col_stride == ES) {                \
            form = 2;   /* rows of C += A(i, p) * rows of B */                \
        }                                                                     \
        else {                                                                \
            return 0;                                                         \
        }                                                                     \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *as = a->data + s * a->batch_stride;                   \
            const char *bs = b->data + s * b->batch_stride;                   \
            char *cs = c->data + s * c->batch_stride;                         \
            if (form == 0) {                                                  \
                NAME##_dots_impl(as, a->row_stride, pr->m, bs, pr->k, cs,     \
                                 c->row_stride, GM_CONJ_ROWS);                \
            }                                                                 \
            else if (form == 1) {                                             \
                NAME##_dots_impl(bs, b->col_stride, pr->n, as, pr->k, cs,     \
                                 c->col_stride, GM_CONJ_VEC);                 \
            }                                                                 \
            else {                                                            \
                for (ptrdiff_t i = 0; i < pr->m; i += GM_AXPY_MAX_ROWS) {     \
                    NAME##_axpy_impl(as + i * a->row_stride, a->row_stride,   \
                                     a->col_stride,                           \
                                     min_pd(GM_AXPY_MAX_ROWS, pr->m - i), bs,  \
                                     b->row_stride, pr->n, pr->k,             \
                                     cs + i * c->row_stride, c->row_stride, 1); \
                }                                                             \
            }                                                                 \
        }                                                                     \
        return 1;                                                             \
    }

#endif /* GM_STREAM_H */
