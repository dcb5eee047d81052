/*
 * Streaming forms of the direct path for complex types, shared by the
 * AVX2 and AVX-512 kernel sets (each includes this header once, compiled
 * for its own instruction set, after defining min_pd, GM_AXPY_BLOCK_BYTES
 * and GM_AXPY_MAX_ROWS).
 *
 * The same forms serve C = conj(A) @ B (vecdot, vecmat) at no extra cost:
 * dots only change how the lane sums combine at the end, and axpy
 * multiplies the imaginary parts of A by -1, an exact negation.
 */
#ifndef GM_STREAM_COMPLEX_H
#define GM_STREAM_COMPLEX_H

#include <stddef.h>
#include <string.h>

#include "gufunc_matmul.h"

/* Which operand of a dot product is conjugated. */
enum { GM_CONJ_NONE, GM_CONJ_ROWS, GM_CONJ_VEC };

static const double gm_one_double = 1.0, gm_minus_one_double = -1.0;
static const float gm_one_float = 1.0f, gm_minus_one_float = -1.0f;

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
                                 STOREU, SET1, FMA, MUL, ADD, SWAP, ADDSUB,   \
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
    static inline __attribute__((always_inline)) void NAME##_dots_impl(      \
        const char *rows, ptrdiff_t rs, ptrdiff_t nrows, const char *vec,     \
        ptrdiff_t k, char *out, ptrdiff_t os, const int conj)                 \
    {                                                                         \
        enum { VB = RLANES * sizeof(R) };                                     \
        const ptrdiff_t end = k * 2 * (ptrdiff_t)sizeof(R);                   \
        ptrdiff_t r = 0;                                                      \
        /* Four rows per pass share the loads of the vector; the rest one \
         * by one, each row's lanes summed in the same order. */          \
        for (; r + 4 <= nrows; r += 4) {                                      \
            const char *rp[4];                                                \
            for (int q = 0; q < 4; ++q) {                                     \
                rp[q] = rows + (r + q) * rs;                                  \
            }                                                                 \
            VEC re0 = ZERO(), re1 = ZERO(), re2 = ZERO(), re3 = ZERO();       \
            VEC im0 = ZERO(), im1 = ZERO(), im2 = ZERO(), im3 = ZERO();       \
            ptrdiff_t o = 0;                                                  \
            for (; o + VB <= end; o += VB) {                                  \
                const VEC y = LOADU(vec + o), ys = SWAP(y);                   \
                VEC x = LOADU(rp[0] + o);                                     \
                re0 = FMA(x, y, re0); im0 = FMA(x, ys, im0);                  \
                x = LOADU(rp[1] + o);                                         \
                re1 = FMA(x, y, re1); im1 = FMA(x, ys, im1);                  \
                x = LOADU(rp[2] + o);                                         \
                re2 = FMA(x, y, re2); im2 = FMA(x, ys, im2);                  \
                x = LOADU(rp[3] + o);                                         \
                re3 = FMA(x, y, re3); im3 = FMA(x, ys, im3);                  \
            }                                                                 \
            if (o < end) {                                                    \
                const MASK_T mk = MASKOF((end - o) / (ptrdiff_t)sizeof(R));   \
                const VEC y = MLOAD(vec + o, mk), ys = SWAP(y);               \
                VEC x = MLOAD(rp[0] + o, mk);                                 \
                re0 = FMA(x, y, re0); im0 = FMA(x, ys, im0);                  \
                x = MLOAD(rp[1] + o, mk);                                     \
                re1 = FMA(x, y, re1); im1 = FMA(x, ys, im1);                  \
                x = MLOAD(rp[2] + o, mk);                                     \
                re2 = FMA(x, y, re2); im2 = FMA(x, ys, im2);                  \
                x = MLOAD(rp[3] + o, mk);                                     \
                re3 = FMA(x, y, re3); im3 = FMA(x, ys, im3);                  \
            }                                                                 \
            NAME##_dot_out(re0, im0, out + r * os, conj);                     \
            NAME##_dot_out(re1, im1, out + (r + 1) * os, conj);               \
            NAME##_dot_out(re2, im2, out + (r + 2) * os, conj);               \
            NAME##_dot_out(re3, im3, out + (r + 3) * os, conj);               \
        }                                                                     \
        for (; r < nrows; ++r) {                                              \
            const char *row = rows + r * rs;                                  \
            VEC re0 = ZERO(), im0 = ZERO();                                   \
            ptrdiff_t o = 0;                                                  \
            for (; o + VB <= end; o += VB) {                                  \
                const VEC y = LOADU(vec + o), x = LOADU(row + o);             \
                re0 = FMA(x, y, re0); im0 = FMA(x, SWAP(y), im0);             \
            }                                                                 \
            if (o < end) {                                                    \
                const MASK_T mk = MASKOF((end - o) / (ptrdiff_t)sizeof(R));   \
                const VEC y = MLOAD(vec + o, mk), x = MLOAD(row + o, mk);     \
                re0 = FMA(x, y, re0); im0 = FMA(x, SWAP(y), im0);             \
            }                                                                 \
            NAME##_dot_out(re0, im0, out + r * os, conj);                     \
        }                                                                     \
    }                                                                         \
    static inline __attribute__((always_inline)) void NAME##_axpy_impl(      \
        const char *s, ptrdiff_t si, ptrdiff_t sp, ptrdiff_t m,               \
        const char *b, ptrdiff_t brs, ptrdiff_t n, ptrdiff_t k, char *c,      \
        ptrdiff_t crs, const int conj)                                        \
    {                                                                         \
        /* conj(s): the imaginary parts times -1, an exact negation. */     \
        const VEC im_sign = SET1((const char *)(conj ? &gm_minus_one_##R     \
                                                      : &gm_one_##R));        \
        enum { ES = 2 * sizeof(R), VB = RLANES * sizeof(R),                   \
               BLK = GM_AXPY_BLOCK_BYTES / 2 };                               \
        _Alignas(64) char acc[GM_AXPY_MAX_ROWS][2][GM_AXPY_BLOCK_BYTES / 2];  \
        for (ptrdiff_t j0 = 0; j0 < n; j0 += BLK / ES) {                      \
            const ptrdiff_t bytes = min_pd(BLK / ES, n - j0) * ES;            \
            const ptrdiff_t full = bytes - bytes % VB;                        \
            const MASK_T mk = MASKOF((bytes - full) / (ptrdiff_t)sizeof(R));     \
            const char *bj = b + j0 * ES;                                     \
            /* only the vectors this block uses: a 3 x 3 product must not \
             * clear 4 KiB per row */                                       \
            const size_t used = (size_t)(full < bytes ? full + VB : full);    \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                memset(acc[i][0], 0, used);                                   \
                memset(acc[i][1], 0, used);                                   \
            }                                                                 \
            ptrdiff_t p = 0;                                                  \
            for (; p + 2 <= k; p += 2) {                                      \
                const char *b0 = bj + p * brs, *b1 = b0 + brs;                \
                for (ptrdiff_t i = 0; i < m; ++i) {                           \
                    const char *x = s + i * si + p * sp;                      \
                    const VEC xr0 = SET1(x), xr1 = SET1(x + sp);              \
                    const VEC xi0 = MUL(SET1(x + sizeof(R)), im_sign);        \
                    const VEC xi1 = MUL(SET1(x + sp + sizeof(R)), im_sign);   \
                    char *tr = acc[i][0], *ti = acc[i][1];                    \
                    ptrdiff_t o = 0;                                          \
                    for (; o < full; o += VB) {                               \
                        const VEC y0 = LOADU(b0 + o), y1 = LOADU(b1 + o);     \
                        STOREU(tr + o, FMA(xr1, y1, FMA(xr0, y0, LOADU(tr + o)))); \
                        STOREU(ti + o, FMA(xi1, y1, FMA(xi0, y0, LOADU(ti + o)))); \
                    }                                                         \
                    if (o < bytes) {                                          \
                        const VEC y0 = MLOAD(b0 + o, mk), y1 = MLOAD(b1 + o, mk); \
                        STOREU(tr + o, FMA(xr1, y1, FMA(xr0, y0, LOADU(tr + o)))); \
                        STOREU(ti + o, FMA(xi1, y1, FMA(xi0, y0, LOADU(ti + o)))); \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (; p < k; ++p) {                                              \
                const char *b0 = bj + p * brs;                                \
                for (ptrdiff_t i = 0; i < m; ++i) {                           \
                    const char *x = s + i * si + p * sp;                      \
                    const VEC xr0 = SET1(x);                                  \
                    const VEC xi0 = MUL(SET1(x + sizeof(R)), im_sign);        \
                    char *tr = acc[i][0], *ti = acc[i][1];                    \
                    for (ptrdiff_t o = 0; o < bytes; o += VB) {               \
                        const VEC y0 = o < full ? LOADU(b0 + o) : MLOAD(b0 + o, mk); \
                        STOREU(tr + o, FMA(xr0, y0, LOADU(tr + o)));          \
                        STOREU(ti + o, FMA(xi0, y0, LOADU(ti + o)));          \
                    }                                                         \
                }                                                             \
            }                                                                 \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                char *tr = acc[i][0], *ti = acc[i][1];                        \
                for (ptrdiff_t o = 0; o < bytes; o += VB) {                   \
                    STOREU(tr + o, ADDSUB(LOADU(tr + o), SWAP(LOADU(ti + o)))); \
                }                                                             \
                memcpy(c + i * crs + j0 * ES, tr, (size_t)bytes);             \
            }                                                                 \
        }                                                                     \
    } \
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

#endif /* GM_STREAM_COMPLEX_H */
