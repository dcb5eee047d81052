/*
 * x86-64 AVX-512 (F, BW, VL, DQ) kernels for float64, float32 and float16.
 * Compiled with those instructions enabled; only called after CPU detection
 * says they run here.
 *
 * Micro-kernels hold a 12-row tile of C in 24 zmm registers (two vectors
 * per row), broadcast one element of A per row and step, and read two
 * vectors of B per step.  float16 is converted to float32 while packing
 * and runs on the float32 micro-kernel; the driver keeps its partial sums
 * in float32 and rounds once.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "gm_blocks.h"
#include "gm_half.h"
#include "gm_kernel.h"

#define MR 12

#define GM_INLINE static inline __attribute__((always_inline))

static ptrdiff_t min_pd(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

#include "gm_pack_x86.h"
#include "gm_short_dots.h"
#include "gm_shallow.h"

/* Dot products shallower than this (two vectors of float64, one of
 * float32) run as scalar chains (GM_DEFINE_SHORT_DOTS). */
#define GM_SHORT_DOT_MAX 16

/* ---- packing ----------------------------------------------------------- */

/* Sixteen halves at a time through the hardware conversion. */
static inline void half_run(float *dst, const char *src, ptrdiff_t count)
{
    ptrdiff_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(src + 2 * i));
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
    }
    if (i < count) {
        __mmask16 mask = (__mmask16)((1u << (count - i)) - 1u);
        __m256i h = _mm256_maskz_loadu_epi16(mask, src + 2 * i);
        _mm512_mask_storeu_ps(dst + i, mask, _mm512_cvtph_ps(h));
    }
}

GM_DEFINE_PACK_COPY(pack_f64, 8, MR, 16)
GM_DEFINE_PACK_COPY(pack_f32, 4, MR, 32)
GM_DEFINE_PACK(pack_f16, uint16_t, float, gm_half_to_float, half_run)

/* ---- micro-kernels ----------------------------------------------------- */

/* Asks for the line at the start of each of the MR rows that start MR
 * rows below `base`, `row_stride` bytes apart.  They may lie past the
 * operand's end: a prefetch never faults, and the addresses are formed as
 * integers. */
GM_INLINE void fetch_rows_below(const char *base, ptrdiff_t row_stride)
{
    const uintptr_t first = (uintptr_t)base + (uintptr_t)(MR * row_stride);
    for (int i = 0; i < MR; ++i) {
        __builtin_prefetch((const void *)(first + (uintptr_t)(i * row_stride)), 0, 3);
    }
}

/* Row `i` of the tile of C MR rows below `c`, for writing: the lines at
 * its start, `span` / 2 and `span` bytes on (past C's end, as above). */
GM_INLINE void fetch_c_row_below(const char *c, size_t row_bytes, ptrdiff_t i,
                                 size_t span)
{
    const uintptr_t row = (uintptr_t)c + (uintptr_t)(MR + i) * row_bytes;
    __builtin_prefetch((const void *)row, 1, 3);
    __builtin_prefetch((const void *)(row + span / 2), 1, 3);
    __builtin_prefetch((const void *)(row + span), 1, 3);
}

/*
 * C (MR x `vecs` vectors: 2, or 1 for the half forms that serve a last
 * panel at most half full) (+)= A . B panel, with row i of A's step p at
 * a + i * a_row + p * a_step bytes: a packed panel (a_row one element,
 * a_step MR of them) or A where it lies in C order (a_row its row stride,
 * a_step one element).  Accumulators start from C when accumulating, so
 * every element is summed in the order p = 0, 1, ... either way.
 *
 * A in place is read straight from memory, and the tiles go down the rows:
 * the rows of A and C a tile below are fetched while this one runs, A a
 * line of each row every line's worth of steps, C once, a row a step from
 * the middle of the depth (float32 (100000 x 64) @ (64 x 64) on one
 * thread: 12.4 ms without, 9.1 with C's rows all at one step, 7.9 with
 * them spread: misses beyond what the core tracks at once wait).
 */
/* NAME##SUFFIX (packed A) and NAME##_rows##SUFFIX (A in place) on
 * NAME##_body with VECS vectors of columns. */
#define DEFINE_MICRO_FORMS(NAME, T, SUFFIX, VECS)                             \
    static void NAME##SUFFIX(ptrdiff_t depth, const void *a_panel,            \
                             const void *b_panel, void *c, ptrdiff_t rs,      \
                             int accumulate)                                  \
    {                                                                         \
        NAME##_body(depth, (const char *)a_panel, sizeof(T), MR * sizeof(T),  \
                    (const T *)b_panel, (char *)c, rs, accumulate, 0, VECS);  \
    }                                                                         \
    static void NAME##_rows##SUFFIX(ptrdiff_t depth, const char *a,           \
                                    ptrdiff_t a_row_stride,                   \
                                    const void *b_panel, void *c,             \
                                    ptrdiff_t rs, int accumulate)             \
    {                                                                         \
        NAME##_body(depth, a, a_row_stride, sizeof(T), (const T *)b_panel,    \
                    (char *)c, rs, accumulate, 1, VECS);                      \
    }

#define DEFINE_MICRO(NAME, T, VEC, LANES, SET1, LOADU, FMADD, ZERO, STOREU)   \
    GM_INLINE void NAME##_body(ptrdiff_t depth, const char *a,                \
                               const ptrdiff_t a_row, const ptrdiff_t a_step, \
                               const T *b, char *c, ptrdiff_t rs,             \
                               int accumulate, const int fetch,               \
                               const int vecs)                                \
    {                                                                         \
        const size_t row_bytes = (size_t)rs * sizeof(T);                      \
        const size_t half_row = LANES * sizeof(T);                            \
        const ptrdiff_t line_steps = 64 / sizeof(T);                          \
        const ptrdiff_t c_fetch_at = depth >= 2 * MR ? depth / 2              \
                                     : (depth > MR ? depth - MR : 0);         \
        VEC t[MR][2];                                                         \
        _Pragma("GCC unroll 12")                                              \
        for (int i = 0; i < MR; ++i) {                                        \
            for (int v = 0; v < vecs; ++v) {                                  \
                t[i][v] = accumulate ? LOADU(c + i * row_bytes + v * half_row) \
                                     : ZERO();                                \
            }                                                                 \
        }                                                                     \
        _Pragma("GCC unroll 2")                                               \
        for (ptrdiff_t p = 0; p < depth; ++p) {                               \
            const VEC b0 = LOADU(b);                                          \
            const VEC b1 = vecs == 2 ? LOADU(b + LANES) : b0;                 \
            if (fetch) {                                                      \
                if (p % line_steps == 0) {                                    \
                    fetch_rows_below(a, a_row);                               \
                }                                                             \
                if (p >= c_fetch_at && p < c_fetch_at + MR) {                 \
                    fetch_c_row_below(c, row_bytes, p - c_fetch_at,           \
                                      vecs * half_row - 1);                   \
                }                                                             \
            }                                                                 \
            _Pragma("GCC unroll 12")                                          \
            for (int i = 0; i < MR; ++i) {                                    \
                T ai;                                                         \
                memcpy(&ai, a + i * a_row, sizeof ai);                        \
                const VEC av = SET1(ai);                                      \
                t[i][0] = FMADD(av, b0, t[i][0]);                             \
                if (vecs == 2) {                                              \
                    t[i][1] = FMADD(av, b1, t[i][1]);                         \
                }                                                             \
            }                                                                 \
            a += a_step;                                                      \
            b += 2 * LANES;                                                   \
        }                                                                     \
        _Pragma("GCC unroll 12")                                              \
        for (int i = 0; i < MR; ++i) {                                        \
            for (int v = 0; v < vecs; ++v) {                                  \
                STOREU(c + i * row_bytes + v * half_row, t[i][v]);            \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    DEFINE_MICRO_FORMS(NAME, T, , 2)                                          \
    DEFINE_MICRO_FORMS(NAME, T, _half, 1)

DEFINE_MICRO(micro_f64, double, __m512d, 8, _mm512_set1_pd, _mm512_loadu_pd,
             _mm512_fmadd_pd, _mm512_setzero_pd, _mm512_storeu_pd)
DEFINE_MICRO(micro_f32, float, __m512, 16, _mm512_set1_ps, _mm512_loadu_ps,
             _mm512_fmadd_ps, _mm512_setzero_ps, _mm512_storeu_ps)

/* ---- tile transfers ---------------------------------------------------- */

GM_DEFINE_COPY_OUT(store_f64, double)
GM_DEFINE_COPY_OUT(store_f32, float)

/* float32 accumulators to float16, rounding to nearest even. */
static void store_f16(const void *tile_, ptrdiff_t rows, ptrdiff_t cols,
                      ptrdiff_t tile_cols, char *dst, ptrdiff_t row_stride,
                      ptrdiff_t col_stride)
{
    const float *tile = (const float *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const float *in = tile + i * tile_cols;
        char *row = dst + i * row_stride;
        ptrdiff_t j = 0;
        if (col_stride == 2) {
            for (; j + 16 <= cols; j += 16) {
                __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(in + j),
                                            _MM_FROUND_TO_NEAREST_INT);
                _mm256_storeu_si256((__m256i *)(row + 2 * j), h);
            }
        }
        for (; j < cols; ++j) {
            uint16_t h = gm_float_to_half(in[j]);
            memcpy(row + j * col_stride, &h, sizeof h);
        }
    }
}

static void load_f16(void *tile_, ptrdiff_t rows, ptrdiff_t cols,
                     ptrdiff_t tile_cols, const char *src,
                     ptrdiff_t row_stride, ptrdiff_t col_stride)
{
    float *tile = (float *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        for (ptrdiff_t j = 0; j < cols; ++j) {
            uint16_t h;
            memcpy(&h, src + i * row_stride + j * col_stride, sizeof h);
            tile[i * tile_cols + j] = gm_half_to_float(h);
        }
    }
}

/* ---- direct path: small matrices without packing ----------------------- */

/* Depth of the direct path's blocks: a strip of B (4 vectors of columns)
 * this deep is 256 KiB in float64, and stays in L2 while every group of
 * rows of C reads it.  Unblocked, float32 (8 x 20000) @ (20000 x 500)
 * read each strip from memory once per group, and ran slower than the
 * packed path; blocked, 2.5 times faster than it. */
#define GM_DIRECT_DEPTH 1024

/* When B's rows are a multiple of 4 KiB apart, a strip's lines fall into
 * a few sets of L2 (huge pages keep those address bits): on Zen 4, a B
 * of 8 MiB or more (this thread's part of it) then goes in blocks of this
 * many steps (two threads: float64 (32 x 1024) @ (1024 x 4096) 7.7 ->
 * 4.0 ms, (20 x 4096) @ (4096 x 2048) 7.8 -> 5.5; float32 (32 x 1024) @
 * (1024 x 4096) 2.9 -> 1.6).  A B that stays in L3 loses a little so
 * (float64 (40 x 2048) @ (2048 x 1024), 8 MiB a thread: 1.87 -> 1.96 ms;
 * float32 (64 x 1024) @ (1024 x 1024), 2 MiB: 588 -> 614 us, hence the
 * bound). */
#define GM_DIRECT_ALIASED_DEPTH 256
#define GM_DIRECT_ALIASED_MIN_B_BYTES (8.0 * 1024.0 * 1024.0)

/* On full-width units (Intel: 48 KiB L1 and 2 MiB L2, 12 and 16 ways)
 * the same strips thrash L2 from a B of a few hundred KiB, and already
 * with rows 2 KiB multiples apart: blocks of 128 steps from 256 KiB.  Two
 * threads, us, NumPy in brackets: float32 (32 x 768) @ (768 x 1024) 1235
 * -> 490 (572); (64 x 1024) @ (1024 x 1024) 2562 -> 1320 (1066); (16 x
 * 2048) @ (2048 x 1024) 1192 -> 604 (888); (32 x 1000) @ (1000 x 512) 414
 * -> 288 (358); float64 (32 x 768) @ (768 x 512) 664 -> 381 (436); (32 x
 * 1000) @ (1000 x 1024) 2358 -> 1174 (1120); (32 x 1000) @ (1000 x 256)
 * 466 -> 292 (322); (40 x 2048) @ (2048 x 1024) 7900 -> 6158 (5620).
 * Blocks of 256 gained half as much, of 64 about the same; rows 1 KiB
 * multiples apart gained nothing. */
#define GM_DIRECT_ALIASED_FULL_DEPTH 128
#define GM_DIRECT_ALIASED_FULL_MIN_B_BYTES (256.0 * 1024.0)

static ptrdiff_t direct_depth(const gm_problem *pr, size_t item, int halves)
{
    const double b_bytes = (double)pr->k * (double)pr->n * (double)item;
    if (halves) {
        return pr->b.row_stride % 4096 == 0 && b_bytes >= GM_DIRECT_ALIASED_MIN_B_BYTES
               ? GM_DIRECT_ALIASED_DEPTH : GM_DIRECT_DEPTH;
    }
    return pr->b.row_stride % 2048 == 0 && b_bytes >= GM_DIRECT_ALIASED_FULL_MIN_B_BYTES
           ? GM_DIRECT_ALIASED_FULL_DEPTH : GM_DIRECT_DEPTH;
}

/* On AVX-512 in two halves (Zen 4), products of few rows whose B (this
 * part of it, on more threads) is larger than this run at the speed B
 * comes from memory: faster through
 * the AVX2 loops' strips of one line a row, fetched two lines ahead, than
 * through these of four lines (Zen 4, two threads: float64 (5 x 10000) @
 * (10000 x 3000) 18.7 -> 10.3 ms, (7 x 4000) @ (4000 x 1000) 2.22 ->
 * 1.40; float32 (6 x 5000) @ (5000 x 2000) 3.22 -> 1.41).  Smaller parts
 * lost: float64 (8 x 3000) @ (3000 x 700) on two threads (8.4 MB each:
 * 0.38 -> 0.55 ms), float32 (10 x 2000) @ (2000 x 1100) on one (8.8 MB:
 * 0.49 -> 0.76). */
#define GM_AVX2_STREAM_ROWS 16
#define GM_AVX2_STREAM_B_BYTES(T) ((sizeof(T) == 4 ? 16.0 : 12.0) * 1024.0 * 1024.0)

/* On full-width units (Intel), the first group of rows fetches the next
 * strip of B ahead, one line of each of its four a row of B, when B (this
 * part of it) is larger than this: from memory, a strip of four lines a
 * row comes no faster than the processor can guess where the next row
 * is, and with the strip fetched ahead B streams as whole rows.  Two
 * threads, ms, NumPy in brackets: float64 (12 x 2000) @ (2000 x 2000)
 * 6.38 -> 1.47 (2.39); (8 x 6000) @ (6000 x 2000) 13.1 -> 5.9 (8.0);
 * (16 x 6000) @ (6000 x 2000) 16.4 -> 8.6 (7.7); float32 (8 x 6000) @
 * (6000 x 4000) 12.3 -> 5.5 (12.3).  Parts in L3 ran the same
 * (float64 (16 x 1000) @ (1000 x 1000) 0.68 and 0.66). */
#define GM_DIRECT_FETCH_AHEAD_BYTES (4.0 * 1024.0 * 1024.0)

/* Below that, a B (this part of it) larger than this comes from L2 or L3,
 * and the strip's lines GM_FETCH_ROWS rows below are fetched instead: the
 * processor guesses no faster where a strip's next row is in L2 (Intel
 * Xeon, 2 threads, us, NumPy in brackets: float32 (8 x 400) @ (400 x
 * 1000) 141 -> 119 (244); (24 x 500) @ (500 x 700) 184 -> 145 (202); (60 x
 * 1000) @ (1000 x 1500) 2759 -> 1630 (1687); float64 (16 x 300) @ (300 x
 * 600) 218 -> 191 (237); float64 (40 x 1000) @ (1000 x 1000) within
 * noise). */
#define GM_DIRECT_FETCH_ROWS_BYTES (256.0 * 1024.0)
#define GM_FETCH_ROWS 8

/* Shallow products (see gm_shallow.h) go row by row where C is larger
 * than this: in L2, the strips' groups of rows share their loads of B
 * and ran faster (float64 (200 x 8) @ (8 x 200): 10.0 us in strips, 14.7
 * row by row). */
#define GM_SHALLOW_MIN_C_BYTES (4.0 * 1024.0 * 1024.0)

/* What the first group of rows of a strip fetches ahead. */
enum { GM_FETCH_NONE, GM_FETCH_NEXT_STRIP, GM_FETCH_ROWS_AHEAD };

/*
 * For each row of C: a few vectors of accumulators across the columns,
 * one broadcast of A and one (masked) row of B per step.  Needs B's and
 * C's columns contiguous; other layouts take the scalar loop.  Masked
 * loads never touch the lanes they leave out.
 */
#define DEFINE_DIRECT(NAME, T, VEC, LANES, MASK_T, SET1, MASKZ_LOADU, FMADD,  \
                      ZERO, MASK_STOREU, LOAD_SCALAR, STORE_SCALAR, LOADU,    \
                      ADD, REDUCE4, STOREU, SHORT_DOTS, SHALLOW, FAMILY)      \
    /* Rows [i0, i0 + rows) of C, columns from j0 in nv vectors: one     \
     * chain of multiply-adds per vector and row, rows x nv chains        \
     * in flight together (at most 16). */                                \
    static inline __attribute__((always_inline)) void NAME##_rows_block(      \
        const gm_problem *pr, const char *a, const char *b, char *c,          \
        ptrdiff_t i0, ptrdiff_t j0, const MASK_T *mask, const int rows,       \
        const int nv, const int whole, const int more, const int fetch)       \
    {                                                                         \
        enum { VB = LANES * sizeof(T) };                                      \
        VEC t[8][4];                                                          \
        for (int q = 0; q < rows; ++q) {                                      \
            const char *c_row = c + (i0 + q) * pr->c.row_stride               \
                                + j0 * (ptrdiff_t)sizeof(T);                  \
            for (int v = 0; v < nv; ++v) {                                    \
                t[q][v] = !more ? ZERO() : whole ? LOADU(c_row + v * VB)      \
                          : MASKZ_LOADU(mask[v], c_row + v * VB);             \
            }                                                                 \
        }                                                                     \
        for (ptrdiff_t p = 0; p < pr->k; ++p) {                               \
            const char *b_row = b + p * pr->b.row_stride                      \
                                + j0 * (ptrdiff_t)sizeof(T);                  \
            VEC bv[4];                                                        \
            if (fetch == GM_FETCH_NEXT_STRIP) {                               \
                for (int v = 0; v < 4; ++v) {                                 \
                    __builtin_prefetch(b_row + (4 + v) * VB);                 \
                }                                                             \
            }                                                                 \
            else if (fetch == GM_FETCH_ROWS_AHEAD) {                          \
                for (int v = 0; v < nv; ++v) {                                \
                    __builtin_prefetch(b_row + GM_FETCH_ROWS * pr->b.row_stride   \
                                       + v * VB);                             \
                }                                                             \
            }                                                                 \
            for (int v = 0; v < nv; ++v) {                                    \
                bv[v] = whole ? LOADU(b_row + v * VB)                         \
                              : MASKZ_LOADU(mask[v], b_row + v * VB);         \
                GM_IN_REGISTER(bv[v]);                                        \
            }                                                                 \
            for (int q = 0; q < rows; ++q) {                                  \
                const VEC ai = SET1(LOAD_SCALAR(a + (i0 + q) * pr->a.row_stride \
                                                + p * pr->a.col_stride));     \
                for (int v = 0; v < nv; ++v) {                                \
                    t[q][v] = FMADD(ai, bv[v], t[q][v]);                      \
                }                                                             \
            }                                                                 \
        }                                                                     \
        for (int q = 0; q < rows; ++q) {                                      \
            char *c_row = c + (i0 + q) * pr->c.row_stride                     \
                          + j0 * (ptrdiff_t)sizeof(T);                        \
            for (int v = 0; v < nv; ++v) {                                    \
                if (whole) {                                                  \
                    STOREU(c_row + v * VB, t[q][v]);                          \
                }                                                             \
                else {                                                        \
                    MASK_STOREU(c_row + v * VB, mask[v], t[q][v]);            \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    /* Every row of C, 8 rows at a time for one or two vectors a row      \
     * (with 4, the 4-cycle latency of a multiply-add left the two units  \
     * half idle: float32 1000 x 1000 @ 1000 x 2 ran at one multiply-add  \
     * a cycle), then 4, then the 1 to 3 left together (one at a time,    \
     * float64 (10 x 1000) @ (1000 x 10) ran the lone rows' chains at a   \
     * fraction of the units' speed: 8.5 us). */                          \
    static inline __attribute__((always_inline)) void NAME##_rows_groups(     \
        const gm_problem *pr, const char *a, const char *b, char *c,          \
        ptrdiff_t j0, const MASK_T *mask, const int nv, const int whole,      \
        const int more, const int fetch)                                      \
    {                                                                         \
        ptrdiff_t i0 = 0;                                                     \
        int f = fetch;   /* the first group only: the others read L1 */   \
        if (nv <= 2) {                                                        \
            for (; i0 + 8 <= pr->m; i0 += 8) {                                \
                NAME##_rows_block(pr, a, b, c, i0, j0, mask, 8, nv, whole, more, f); \
                f = GM_FETCH_NONE;                                            \
            }                                                                 \
        }                                                                     \
        for (; i0 + 4 <= pr->m; i0 += 4) {                                    \
            NAME##_rows_block(pr, a, b, c, i0, j0, mask, 4, nv, whole, more, f); \
            f = GM_FETCH_NONE;                                                \
        }                                                                     \
        switch (pr->m - i0) {                                                 \
        case 1: NAME##_rows_block(pr, a, b, c, i0, j0, mask, 1, nv, whole, more, f); break; \
        case 2: NAME##_rows_block(pr, a, b, c, i0, j0, mask, 2, nv, whole, more, f); break; \
        case 3: NAME##_rows_block(pr, a, b, c, i0, j0, mask, 3, nv, whole, more, f); break; \
        default: break;                                                       \
        }                                                                     \
    }                                                                         \
    static inline __attribute__((always_inline)) void NAME##_rows_nv(         \
        const gm_problem *pr, const char *a, const char *b, char *c,          \
        ptrdiff_t j0, const MASK_T *mask, const int nv, const int more,       \
        const int fetch)                                                      \
    {                                                                         \
        /* Whole vectors go without masks: masked loads and stores of     \
         * memory outside the cache ran at half speed. */                 \
        if (pr->n - j0 >= nv * LANES) {                                       \
            NAME##_rows_groups(pr, a, b, c, j0, mask, nv, 1, more, fetch);    \
        }                                                                     \
        else {                                                                \
            NAME##_rows_groups(pr, a, b, c, j0, mask, nv, 0, more, GM_FETCH_NONE); \
        }                                                                     \
    }                                                                         \
    /* Every strip of 4 vectors of columns over one block of depth (C    \
     * holding the sums of the blocks before when `more`); the first      \
     * group of rows fetches ahead as `fetch` says. */                    \
    static void NAME##_rows_strips(const gm_problem *pr, const char *a,       \
                                   const char *b, char *c, const int more,    \
                                   const int fetch)                           \
    {                                                                         \
        for (ptrdiff_t j0 = 0; j0 < pr->n; j0 += 4 * LANES) {                 \
            MASK_T mask[4];                                                   \
            for (int q = 0; q < 4; ++q) {                                     \
                ptrdiff_t left = pr->n - j0 - q * LANES;                      \
                mask[q] = left >= LANES ? (MASK_T)~(MASK_T)0                  \
                        : left <= 0 ? (MASK_T)0                               \
                        : (MASK_T)(((MASK_T)1 << left) - 1);                  \
            }                                                                 \
            const ptrdiff_t cols = pr->n - j0;                                \
            const int ahead = fetch != GM_FETCH_NEXT_STRIP || j0 + 4 * LANES < pr->n \
                              ? fetch : GM_FETCH_NONE;                        \
            switch (cols > 3 * LANES ? 4 : cols > 2 * LANES ? 3               \
                    : cols > LANES ? 2 : 1) {                                 \
            case 1: NAME##_rows_nv(pr, a, b, c, j0, mask, 1, more, ahead); break; \
            case 2: NAME##_rows_nv(pr, a, b, c, j0, mask, 2, more, ahead); break; \
            case 3: NAME##_rows_nv(pr, a, b, c, j0, mask, 3, more, ahead); break; \
            default: NAME##_rows_nv(pr, a, b, c, j0, mask, 4, more, ahead); break; \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    /* In blocks of depth of about equal size: C holds the partial sums   \
     * between blocks, so each element is still summed in the order       \
     * p = 0, 1, ... */                                                   \
    static void NAME##_rows(const gm_problem *pr, const char *a,              \
                            const char *b, char *c, const int fetch,          \
                            const int halves)                                 \
    {                                                                         \
        const ptrdiff_t k = pr->k;                                            \
        const ptrdiff_t most = direct_depth(pr, sizeof(T), halves);           \
        if (k <= most) {                                                      \
            NAME##_rows_strips(pr, a, b, c, 0, fetch);                        \
            return;                                                           \
        }                                                                     \
        const ptrdiff_t blocks = (k + most - 1) / most;                       \
        const ptrdiff_t depth = (k + blocks - 1) / blocks;                    \
        for (ptrdiff_t p0 = 0; p0 < k; p0 += depth) {                         \
            gm_problem part = *pr;                                            \
            part.k = min_pd(depth, k - p0);                                   \
            NAME##_rows_strips(&part, a + p0 * pr->a.col_stride,              \
                               b + p0 * pr->b.row_stride, c, p0 > 0, fetch);  \
        }                                                                     \
    }                                                                         \
    /* Rows [i0, i0 + rows) of a matrix-vector product with contiguous    \
     * rows: dot products, four vectors of partial sums each (summed in   \
     * another order than p = 0, 1, ...), their lanes summed four rows at \
     * once (REDUCE4), the same for a row whichever group it falls in. */  \
    static inline __attribute__((always_inline)) void NAME##_dots_rows(       \
        const gm_problem *pr, const char *a, const char *b, char *c,          \
        ptrdiff_t i0, const int rows)                                         \
    {                                                                         \
        enum { VB = LANES * sizeof(T) };                                      \
        const char *row[4];                                                   \
        VEC t[4][4];                                                          \
        for (int q = 0; q < rows; ++q) {                                      \
            row[q] = a + (i0 + q) * pr->a.row_stride;                         \
            t[q][0] = t[q][1] = t[q][2] = t[q][3] = ZERO();                   \
        }                                                                     \
        ptrdiff_t p = 0;                                                      \
        for (; p + 4 * LANES <= pr->k; p += 4 * LANES) {                      \
            const ptrdiff_t o = p * (ptrdiff_t)sizeof(T);                     \
            for (int u = 0; u < 4; ++u) {                                     \
                const VEC bv = LOADU(b + o + u * VB);                         \
                for (int q = 0; q < rows; ++q) {                              \
                    t[q][u] = FMADD(LOADU(row[q] + o + u * VB), bv, t[q][u]); \
                }                                                             \
            }                                                                 \
        }                                                                     \
        for (; p + LANES <= pr->k; p += LANES) {                              \
            const ptrdiff_t o = p * (ptrdiff_t)sizeof(T);                     \
            const VEC bv = LOADU(b + o);                                      \
            for (int q = 0; q < rows; ++q) {                                  \
                t[q][0] = FMADD(LOADU(row[q] + o), bv, t[q][0]);              \
            }                                                                 \
        }                                                                     \
        if (p < pr->k) {                                                      \
            const MASK_T mask = (MASK_T)(((MASK_T)1 << (pr->k - p)) - 1);     \
            const ptrdiff_t o = p * (ptrdiff_t)sizeof(T);                     \
            const VEC bv = MASKZ_LOADU(mask, b + o);                          \
            for (int q = 0; q < rows; ++q) {                                  \
                t[q][0] = FMADD(MASKZ_LOADU(mask, row[q] + o), bv, t[q][0]);  \
            }                                                                 \
        }                                                                     \
        /* Rows shorter than four vectors have only the first chain. */    \
        const int one_chain = pr->k < 4 * LANES;                              \
        VEC v[4];                                                             \
        for (int q = 0; q < 4; ++q) {                                         \
            v[q] = q >= rows ? ZERO()                                         \
                   : one_chain ? t[q][0]                                      \
                   : ADD(ADD(t[q][0], t[q][1]), ADD(t[q][2], t[q][3]));       \
        }                                                                     \
        T sums[4];                                                            \
        REDUCE4(v[0], v[1], v[2], v[3], sums);                                \
        for (int q = 0; q < rows; ++q) {                                      \
            STORE_SCALAR(c + (i0 + q) * pr->c.row_stride, sums[q]);           \
        }                                                                     \
    }                                                                         \
    /* Four rows at a time keep four streams from memory in flight, the  \
     * 1 to 3 left over together (alone, each would read the vector again \
     * and sum the lanes of three empty rows); rows shorter than 16 as    \
     * scalar chains (their lane sums cost more: float64 (100000 x 8) @   \
     * (8,), one thread: 212 us, 99 so). */                                \
    static void NAME##_dots(const gm_problem *pr, const char *a,              \
                            const char *b, char *c)                           \
    {                                                                         \
        if (pr->k < GM_SHORT_DOT_MAX) {                                       \
            SHORT_DOTS(a, pr->a.row_stride, pr->m, b, pr->k, c,               \
                       pr->c.row_stride);                                     \
            return;                                                           \
        }                                                                     \
        ptrdiff_t i0 = 0;                                                     \
        for (; i0 + 4 <= pr->m; i0 += 4) {                                    \
            NAME##_dots_rows(pr, a, b, c, i0, 4);                             \
        }                                                                     \
        switch (pr->m - i0) {                                                 \
        case 1: NAME##_dots_rows(pr, a, b, c, i0, 1); break;                  \
        case 2: NAME##_dots_rows(pr, a, b, c, i0, 2); break;                  \
        case 3: NAME##_dots_rows(pr, a, b, c, i0, 3); break;                  \
        default: break;                                                       \
        }                                                                     \
    }                                                                         \
    /* Elements (x, y) of R rows of X by Q rows of Y, both contiguous    \
     * along p: each the dot product that dots_rows computes, in the same \
     * chains and lane sums, so any grouping gives the same bits; each    \
     * vector loaded serves Q or R multiply-adds instead of one. */       \
    static inline __attribute__((always_inline)) void NAME##_dots_block(     \
        const char *x, ptrdiff_t xs, const char *y, ptrdiff_t ys,             \
        ptrdiff_t k, char *c, ptrdiff_t cxs, ptrdiff_t cys, const int R,      \
        const int Q)                                                          \
    {                                                                         \
        enum { VB = LANES * sizeof(T) };                                      \
        VEC t[3][2][4];                                                       \
        for (int q = 0; q < R; ++q) {                                         \
            for (int j = 0; j < Q; ++j) {                                     \
                t[q][j][0] = t[q][j][1] = t[q][j][2] = t[q][j][3] = ZERO();   \
            }                                                                 \
        }                                                                     \
        ptrdiff_t p = 0;                                                      \
        for (; p + 4 * LANES <= k; p += 4 * LANES) {                          \
            const ptrdiff_t o = p * (ptrdiff_t)sizeof(T);                     \
            for (int u = 0; u < 4; ++u) {                                     \
                VEC yv[2];                                                    \
                for (int j = 0; j < Q; ++j) {                                 \
                    yv[j] = LOADU(y + j * ys + o + u * VB);                   \
                    GM_IN_REGISTER(yv[j]);                                    \
                }                                                             \
                for (int q = 0; q < R; ++q) {                                 \
                    VEC xv = LOADU(x + q * xs + o + u * VB);                  \
                    GM_IN_REGISTER(xv);                                       \
                    for (int j = 0; j < Q; ++j) {                             \
                        t[q][j][u] = FMADD(xv, yv[j], t[q][j][u]);            \
                    }                                                         \
                }                                                             \
            }                                                                 \
        }                                                                     \
        for (; p + LANES <= k; p += LANES) {                                  \
            const ptrdiff_t o = p * (ptrdiff_t)sizeof(T);                     \
            VEC yv[2];                                                        \
            for (int j = 0; j < Q; ++j) {                                     \
                yv[j] = LOADU(y + j * ys + o);                                \
            }                                                                 \
            for (int q = 0; q < R; ++q) {                                     \
                const VEC xv = LOADU(x + q * xs + o);                         \
                for (int j = 0; j < Q; ++j) {                                 \
                    t[q][j][0] = FMADD(xv, yv[j], t[q][j][0]);                \
                }                                                             \
            }                                                                 \
        }                                                                     \
        if (p < k) {                                                          \
            const MASK_T mask = (MASK_T)(((MASK_T)1 << (k - p)) - 1);         \
            const ptrdiff_t o = p * (ptrdiff_t)sizeof(T);                     \
            VEC yv[2];                                                        \
            for (int j = 0; j < Q; ++j) {                                     \
                yv[j] = MASKZ_LOADU(mask, y + j * ys + o);                    \
            }                                                                 \
            for (int q = 0; q < R; ++q) {                                     \
                const VEC xv = MASKZ_LOADU(mask, x + q * xs + o);             \
                for (int j = 0; j < Q; ++j) {                                 \
                    t[q][j][0] = FMADD(xv, yv[j], t[q][j][0]);                \
                }                                                             \
            }                                                                 \
        }                                                                     \
        const int one_chain = k < 4 * LANES;                                  \
        VEC v[8];                                                             \
        for (int e = 0; e < 8; ++e) {                                         \
            const int q = e / Q, j = e % Q;                                   \
            v[e] = e >= R * Q ? ZERO()                                        \
                   : one_chain ? t[q][j][0]                                   \
                   : ADD(ADD(t[q][j][0], t[q][j][1]), ADD(t[q][j][2], t[q][j][3])); \
        }                                                                     \
        T sums[8];                                                            \
        REDUCE4(v[0], v[1], v[2], v[3], sums);                                \
        if (R * Q > 4) {                                                      \
            REDUCE4(v[4], v[5], v[6], v[7], sums + 4);                        \
        }                                                                     \
        for (int e = 0; e < R * Q; ++e) {                                     \
            STORE_SCALAR(c + (e / Q) * cxs + (e % Q) * cys, sums[e]);         \
        }                                                                     \
    }                                                                         \
    GM_DEFINE_DOTS_GRID(NAME)                                                 \
    /* Every element a dot product (the same sums either way): a grid of \
     * blocks, along the operand with more rows or columns; matrix-vector \
     * products (and products shallower than 16) each column of B against \
     * all rows of A, or each row of A against all columns of B. */       \
    static void NAME##_dots_all(const gm_problem *pr, const char *a,          \
                                const char *b, char *c)                       \
    {                                                                         \
        if (pr->m > 1 && pr->n > 1 && pr->k >= GM_SHORT_DOT_MAX) {            \
            gm_grid_product(NAME##_dots_grid, pr, a, b, c);                   \
            return;                                                           \
        }                                                                     \
        gm_problem one = *pr;                                                 \
        if (pr->n == 1 || (pr->m > 1 && pr->m <= pr->n)) {                    \
            one.n = 1;                                                        \
            for (ptrdiff_t j = 0; j < pr->n; ++j) {                           \
                NAME##_dots(&one, a, b + j * pr->b.col_stride,                \
                            c + j * pr->c.col_stride);                        \
            }                                                                 \
            return;                                                           \
        }                                                                     \
        one.m = pr->n;                                                        \
        one.n = 1;                                                            \
        one.a.row_stride = pr->b.col_stride;                                  \
        one.c.row_stride = pr->c.col_stride;                                  \
        for (ptrdiff_t i = 0; i < pr->m; ++i) {                               \
            NAME##_dots(&one, b, a + i * pr->a.row_stride,                    \
                        c + i * pr->c.row_stride);                            \
        }                                                                     \
    }                                                                         \
    /* `halves`: the set for AVX-512 in two halves (Zen 4), which sends   \
     * more shapes to the AVX2 loops and fetches nothing ahead. */        \
    static inline __attribute__((always_inline)) void NAME##_body(            \
        const gm_problem *pr, ptrdiff_t first, ptrdiff_t last, const int halves) \
    {                                                                         \
        const int vector_ok = pr->b.col_stride == (ptrdiff_t)sizeof(T)        \
                              && pr->c.col_stride == (ptrdiff_t)sizeof(T);    \
        /* Dot products: of a matrix-vector product (shorter than a     \
         * vector as scalar chains, the rows form's order), or with B in  \
         * Fortran order. */                                                \
        const int dots_ok = pr->a.col_stride == (ptrdiff_t)sizeof(T)          \
                            && pr->b.row_stride == (ptrdiff_t)sizeof(T)       \
                            && (!vector_ok || pr->n == 1);                    \
        const double b_bytes = (double)pr->k * (double)pr->n * sizeof(T);     \
        /* Shapes that run faster on the AVX2 loops, which sum each       \
         * element in the same order with fused multiply-adds (the same    \
         * bits): rows of at most half a vector, where whole 4- or 8-lane \
         * vectors beat masked ones; one row of many columns, where        \
         * accumulators on the stack stream B faster; and in two halves,   \
         * up to 16 rows of a B from memory (see GM_AVX2_STREAM_B_BYTES). */ \
        if (vector_ok && !dots_ok && pr->n > 1                                \
                && ((pr->m > 1 && 2 * pr->n <= LANES)                         \
                    || (pr->m == 1 && pr->n > 4 * LANES)                      \
                    || (halves && pr->m <= GM_AVX2_STREAM_ROWS                \
                        && pr->n > 4 * LANES && b_bytes > GM_AVX2_STREAM_B_BYTES(T)))) { \
            gm_avx2_kernels[FAMILY]->direct(pr, first, last);                 \
            return;                                                           \
        }                                                                     \
        if (vector_ok && !dots_ok && pr->k >= 1 && pr->k <= GM_SHALLOW_DEPTH  \
                && pr->n > 2 * LANES                                          \
                && (double)pr->m * (double)pr->n * sizeof(T) > GM_SHALLOW_MIN_C_BYTES) { \
            SHALLOW(pr, first, last);                                         \
            return;                                                           \
        }                                                                     \
        const int fetch = halves ? GM_FETCH_NONE                              \
                          : b_bytes > GM_DIRECT_FETCH_AHEAD_BYTES ? GM_FETCH_NEXT_STRIP \
                          : b_bytes > GM_DIRECT_FETCH_ROWS_BYTES ? GM_FETCH_ROWS_AHEAD \
                          : GM_FETCH_NONE;                                    \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *a = pr->a.data + s * pr->a.batch_stride;              \
            const char *b = pr->b.data + s * pr->b.batch_stride;              \
            char *c = pr->c.data + s * pr->c.batch_stride;                    \
            if (dots_ok) {                                                    \
                NAME##_dots_all(pr, a, b, c);                                 \
                continue;                                                     \
            }                                                                 \
            if (vector_ok) {                                                  \
                NAME##_rows(pr, a, b, c, fetch, halves);                      \
                continue;                                                     \
            }                                                                 \
            for (ptrdiff_t i = 0; i < pr->m; ++i) {                           \
                for (ptrdiff_t j = 0; j < pr->n; ++j) {                       \
                    T acc = 0;                                                \
                    for (ptrdiff_t p = 0; p < pr->k; ++p) {                   \
                        acc += LOAD_SCALAR(a + i * pr->a.row_stride           \
                                           + p * pr->a.col_stride)            \
                             * LOAD_SCALAR(b + p * pr->b.row_stride           \
                                           + j * pr->b.col_stride);           \
                    }                                                         \
                    STORE_SCALAR(c + i * pr->c.row_stride                     \
                                 + j * pr->c.col_stride, acc);                \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static void NAME(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)   \
    {                                                                         \
        NAME##_body(pr, first, last, 0);                                      \
    }                                                                         \
    static void NAME##_halves(const gm_problem *pr, ptrdiff_t first,          \
                              ptrdiff_t last)                                 \
    {                                                                         \
        NAME##_body(pr, first, last, 1);                                      \
    }

static inline double get_f64(const char *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void put_f64(char *p, double v)
{
    memcpy(p, &v, sizeof v);
}
static inline float get_f32(const char *p)
{
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void put_f32(char *p, float v)
{
    memcpy(p, &v, sizeof v);
}

/* The lane sums of four vectors at once, each in the same tree (halves
 * of 256, then 128 bits, then neighbours, the lower half always the
 * first operand, so that even NaN payloads do not depend on the group):
 * a few shuffles for four rows instead of a reduction each, which cost
 * more than the multiply-adds of rows of 16-32 elements (float64 (100000
 * x 16) @ (16,): 144 us, NumPy 101). */
GM_INLINE void reduce4_pd(__m512d v0, __m512d v1, __m512d v2, __m512d v3,
                          double *out)
{
    const __m512d s01 = _mm512_add_pd(_mm512_shuffle_f64x2(v0, v1, 0x44),
                                      _mm512_shuffle_f64x2(v0, v1, 0xEE));
    const __m512d s23 = _mm512_add_pd(_mm512_shuffle_f64x2(v2, v3, 0x44),
                                      _mm512_shuffle_f64x2(v2, v3, 0xEE));
    const __m512d r = _mm512_add_pd(_mm512_shuffle_f64x2(s01, s23, 0x88),
                                    _mm512_shuffle_f64x2(s01, s23, 0xDD));
    const __m512d w = _mm512_add_pd(r, _mm512_permute_pd(r, 0x55));
    _Alignas(64) double lanes[8];
    _mm512_store_pd(lanes, w);
    out[0] = lanes[0], out[1] = lanes[2], out[2] = lanes[4], out[3] = lanes[6];
}

GM_INLINE void reduce4_ps(__m512 v0, __m512 v1, __m512 v2, __m512 v3,
                          float *out)
{
    const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, 0x44),
                                     _mm512_shuffle_f32x4(v0, v1, 0xEE));
    const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(v2, v3, 0x44),
                                     _mm512_shuffle_f32x4(v2, v3, 0xEE));
    const __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88),
                                   _mm512_shuffle_f32x4(s01, s23, 0xDD));
    const __m512 u = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4E));
    const __m512 w = _mm512_add_ps(u, _mm512_permute_ps(u, 0xB1));
    _Alignas(64) float lanes[16];
    _mm512_store_ps(lanes, w);
    out[0] = lanes[0], out[1] = lanes[4], out[2] = lanes[8], out[3] = lanes[12];
}

GM_DEFINE_SHORT_DOTS(short_dots_f64, double, get_f64, put_f64, __builtin_fma)
GM_DEFINE_SHORT_DOTS(short_dots_f32, float, get_f32, put_f32, __builtin_fmaf)

#define GM512_LOADU_PD(p) _mm512_loadu_pd((const void *)(p))
#define GM512_STOREU_PD(p, v) _mm512_storeu_pd((void *)(p), (v))
#define GM512_SET1_PD(p) _mm512_set1_pd(get_f64(p))
#define GM512_LOADU_PS(p) _mm512_loadu_ps((const void *)(p))
#define GM512_STOREU_PS(p, v) _mm512_storeu_ps((void *)(p), (v))
#define GM512_SET1_PS(p) _mm512_set1_ps(get_f32(p))
GM_DEFINE_SHALLOW_ROWS(shallow_f64, double, __m512d, 8, GM512_LOADU_PD, GM512_STOREU_PD,
                       GM512_SET1_PD, _mm512_fmadd_pd, _mm512_setzero_pd, get_f64,
                       put_f64, __builtin_fma)
GM_DEFINE_SHALLOW_ROWS(shallow_f32, float, __m512, 16, GM512_LOADU_PS, GM512_STOREU_PS,
                       GM512_SET1_PS, _mm512_fmadd_ps, _mm512_setzero_ps, get_f32,
                       put_f32, __builtin_fmaf)

DEFINE_DIRECT(direct_f64, double, __m512d, 8, __mmask8, _mm512_set1_pd,
              _mm512_maskz_loadu_pd, _mm512_fmadd_pd, _mm512_setzero_pd,
              _mm512_mask_storeu_pd, get_f64, put_f64, _mm512_loadu_pd,
              _mm512_add_pd, reduce4_pd, _mm512_storeu_pd,
              short_dots_f64, shallow_f64, GM_FAM_F64)
DEFINE_DIRECT(direct_f32, float, __m512, 16, __mmask16, _mm512_set1_ps,
              _mm512_maskz_loadu_ps, _mm512_fmadd_ps, _mm512_setzero_ps,
              _mm512_mask_storeu_ps, get_f32, put_f32, _mm512_loadu_ps,
              _mm512_add_ps, reduce4_ps, _mm512_storeu_ps,
              short_dots_f32, shallow_f32, GM_FAM_F32)

/* float16 small products: the AVX2 set's loops (F16C conversions, float
 * sums of exact products in order, as here). */
static void direct_f16_avx2(const gm_problem *pr, ptrdiff_t first,
                            ptrdiff_t last)
{
    gm_avx2_kernels[GM_FAM_F16]->direct(pr, first, last);
}

/* ---- kernel sets ------------------------------------------------------- */

/* Deep blocks spread each micro-tile's load and store of C over more
 * steps: on Zen 5 (48 KiB L1, 1 MiB L2) depths of 512 (float64) and 1024
 * (float32) ran squares of 1024 to 4096 4-16% faster than 256 and 384.
 * Row blocks of 8 tiles keep the packed A block at 384 KiB, and 2048
 * columns the packed B block at 8 MiB. */

/* The fields of the float64 and float32 sets but their direct loops'
 * variant and choice of path. */
#define AVX512_F64_KERNELS                                                    \
    .mr = MR, .nr = 16,                                                       \
    .mc = 8 * MR, .kc = 512, .nc = 2048,                                      \
    .packed_size = sizeof(double), .acc_size = sizeof(double),                \
    .c_mode = GM_C_SAME,                                                      \
    .pack_a = pack_f64, .pack_b = pack_f64,                                   \
    .micro = micro_f64,                                                       \
    .micro_rows = micro_f64_rows,                                             \
    .micro_half = micro_f64_half,                                             \
    .micro_rows_half = micro_f64_rows_half,                                   \
    .store = store_f64, .load = store_f64_in,                                 \
    .direct_max_flops = 24.0 * 24.0 * 24.0,                                   \
    .direct_rows_max_flops = 160.0 * 160.0 * 160.0,                           \
    .direct_max_rows = 4,                                                     \
    .direct_shallow_rows = 32, .direct_shallow_depth = 2048,                  \
    .direct_max_cols = 12,                                                    \
    .short_dot_depth = GM_SHORT_DOT_MAX,                                      \
    .narrow = &gm_avx2_kernels[GM_FAM_F64]

#define AVX512_F32_KERNELS                                                    \
    .mr = MR, .nr = 32,                                                       \
    .mc = 8 * MR, .kc = 1024, .nc = 2048,                                     \
    .packed_size = sizeof(float), .acc_size = sizeof(float),                  \
    .c_mode = GM_C_SAME,                                                      \
    .pack_a = pack_f32, .pack_b = pack_f32,                                   \
    .micro = micro_f32,                                                       \
    .micro_rows = micro_f32_rows,                                             \
    .micro_half = micro_f32_half,                                             \
    .micro_rows_half = micro_f32_rows_half,                                   \
    .store = store_f32, .load = store_f32_in,                                 \
    .direct_max_flops = 32.0 * 32.0 * 32.0,                                   \
    .direct_rows_max_flops = 160.0 * 160.0 * 160.0,                           \
    .direct_max_rows = 4,                                                     \
    .direct_shallow_rows = 32, .direct_shallow_depth = 2048,                  \
    .direct_max_cols = 16,                                                    \
    .short_dot_depth = GM_SHORT_DOT_MAX,                                      \
    .narrow = &gm_avx2_kernels[GM_FAM_F32]

static const gm_kernel avx512_f64 = {
    .name = "avx512 f64 12x16",
    AVX512_F64_KERNELS,
    .direct = direct_f64,
    .direct_rows_max_rows = 40,
};

static const gm_kernel avx512_f32 = {
    .name = "avx512 f32 12x32",
    AVX512_F32_KERNELS,
    .direct = direct_f32,
    .direct_rows_max_rows = 64,
    .direct_rows_b_bytes = 1024.0 * 1024.0,
};

/* With AVX-512 in two halves (Zen 4), the direct loops pass the packed
 * path on products of a few hundred rows: up to 128 float64 rows at any
 * size, and up to 512 where B and C have at most 8 MiB each (NumPy time /
 * ours, two threads, packed -> direct: float64 256^3 1.02 -> 1.16, (64 x
 * 2000) @ (2000 x 2000) 0.80 -> 1.11, (128 x 4096) @ (4096 x 4096) 0.66
 * -> 0.87, (256 x 2000) @ (2000 x 300) 0.95 -> 1.13; float32 256^3 1.02
 * -> 1.21, 512^3 1.03 -> 1.12, (100 x 3000) @ (3000 x 3000) 0.93 ->
 * 1.09; one thread 3-11% faster the same way).  Larger products still
 * pack (float64 1024^3 1.03, direct 0.92; float32 (128 x 2048) @ (2048 x
 * 2048) 1.06 and 0.93), and so do those of a larger C (float64 (256 x 64)
 * @ (64 x 8192) 1.04 and 0.92) and those of a B over a quarter of that
 * whose rows are a multiple of 4 KiB apart, as its strips then share a few
 * sets of L2 (float64 (256 x 1024) @ (1024 x 1024) 0.98 and 0.82). */
#define GM_HALVES_MID_ROWS 512
#define GM_HALVES_MID_BYTES (8.0 * 1024.0 * 1024.0)

static const gm_kernel avx512_halves_f64 = {
    .name = "avx512 f64 12x16 (halves)",
    AVX512_F64_KERNELS,
    .direct = direct_f64_halves,
    .direct_rows_max_rows = 128,
    .direct_mid_rows = GM_HALVES_MID_ROWS,
    .direct_mid_bytes = GM_HALVES_MID_BYTES,
};

static const gm_kernel avx512_halves_f32 = {
    .name = "avx512 f32 12x32 (halves)",
    AVX512_F32_KERNELS,
    .direct = direct_f32_halves,
    .direct_rows_max_rows = 64,
    .direct_mid_rows = GM_HALVES_MID_ROWS,
    .direct_mid_bytes = GM_HALVES_MID_BYTES,
};

static const gm_kernel avx512_f16 = {
    .name = "avx512 f16 (as f32) 12x32",
    .mr = MR, .nr = 32,
    .mc = 8 * MR, .kc = 1024, .nc = 2048,
    .packed_size = sizeof(float), .acc_size = sizeof(float),
    .c_mode = GM_C_WIDE,
    .pack_a = pack_f16, .pack_b = pack_f16,
    .micro = micro_f32,
    .micro_half = micro_f32_half,
    .store = store_f16, .load = load_f16,
    .direct = direct_f16_avx2,
    .direct_max_flops = 8.0 * 8.0 * 8.0,
};

const gm_kernel_table gm_avx512_halves_kernels = {
    [GM_FAM_F64] = &avx512_halves_f64,
    [GM_FAM_F32] = &avx512_halves_f32,
};

const gm_kernel_table gm_avx512_kernels = {
    [GM_FAM_F64] = &avx512_f64,
    [GM_FAM_F32] = &avx512_f32,
    [GM_FAM_F16] = &avx512_f16,
};
