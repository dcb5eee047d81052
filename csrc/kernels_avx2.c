/*
 * x86-64 AVX2 + FMA (+ F16C) kernels.  Compiled with those instructions
 * enabled; only called after CPU detection says they run here.
 *
 * One section per family.  Every micro-kernel keeps its whole C tile in
 * ymm registers, streams one packed A column (broadcast per row) and one
 * packed B row (whole vectors) per depth step, and sums each element of C
 * in the order p = 0 .. depth-1, so results do not depend on blocking.
 *
 * Block sizes aim at a Zen-class core (48 KB L1d, 1 MB L2): one B
 * micro-panel (kc x nr) stays in L1 while the A block (mc x kc) streams
 * from L2, and the B block (kc x nc) lives in L3.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "gm_half.h"
#include "gm_kernel.h"

#if defined(__clang__)
/* The asm micro-kernels are single string literals longer than ISO C's
 * minimum translation limit (4095), which GCC and Clang both handle. */
#pragma clang diagnostic ignored "-Woverlength-strings"
#endif

#define GM_INLINE static inline __attribute__((always_inline))

static ptrdiff_t min_pd(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

/* Unaligned-safe scalar access to user memory. */
#define GM_DEFINE_ACCESS(suffix, type)                                      \
    GM_INLINE type get_##suffix(const char *p)                             \
    {                                                                       \
        type v;                                                             \
        memcpy(&v, p, sizeof v);                                            \
        return v;                                                           \
    }                                                                       \
    GM_INLINE void put_##suffix(char *p, type v)                           \
    {                                                                       \
        memcpy(p, &v, sizeof v);                                            \
    }
GM_DEFINE_ACCESS(u8, uint8_t)
GM_DEFINE_ACCESS(u16, uint16_t)
GM_DEFINE_ACCESS(u32, uint32_t)
GM_DEFINE_ACCESS(u64, uint64_t)
GM_DEFINE_ACCESS(f32, float)
GM_DEFINE_ACCESS(f64, double)

#include "gm_pack_x86.h"

/* Tile <-> user memory for types stored as their accumulator. */
GM_INLINE void store_copy(const void *tile_, ptrdiff_t rows, ptrdiff_t cols,
                          ptrdiff_t tile_cols, char *dst, ptrdiff_t rs,
                          ptrdiff_t cs, const size_t es)
{
    const char *tile = (const char *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const char *t = tile + (size_t)(i * tile_cols) * es;
        char *d = dst + i * rs;
        if (cs == (ptrdiff_t)es) {
            memcpy(d, t, (size_t)cols * es);
            continue;
        }
        for (ptrdiff_t j = 0; j < cols; ++j) {
            memcpy(d + j * cs, t + (size_t)j * es, es);
        }
    }
}

GM_INLINE void load_copy(void *tile_, ptrdiff_t rows, ptrdiff_t cols,
                         ptrdiff_t tile_cols, const char *src, ptrdiff_t rs,
                         ptrdiff_t cs, const size_t es)
{
    char *tile = (char *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        char *t = tile + (size_t)(i * tile_cols) * es;
        const char *s = src + i * rs;
        if (cs == (ptrdiff_t)es) {
            memcpy(t, s, (size_t)cols * es);
            continue;
        }
        for (ptrdiff_t j = 0; j < cols; ++j) {
            memcpy(t + (size_t)j * es, s + j * cs, es);
        }
    }
}

#define GM_DEFINE_STORE_LOAD_COPY(suffix, es)                               \
    static void store_##suffix(const void *tile, ptrdiff_t rows,            \
                               ptrdiff_t cols, ptrdiff_t tile_cols,         \
                               char *dst, ptrdiff_t rs, ptrdiff_t cs)       \
    {                                                                       \
        store_copy(tile, rows, cols, tile_cols, dst, rs, cs, (es));         \
    }                                                                       \
    static void load_##suffix(void *tile, ptrdiff_t rows, ptrdiff_t cols,   \
                              ptrdiff_t tile_cols, const char *src,         \
                              ptrdiff_t rs, ptrdiff_t cs)                   \
    {                                                                       \
        load_copy(tile, rows, cols, tile_cols, src, rs, cs, (es));          \
    }



/*
 * The 6-row float micro-kernels (float64 6x8, float32 6x16) in inline
 * assembly: in C, GCC runs out of its 16 ymm registers and keeps an
 * accumulator on the stack, which costs a store-forward per step.  Fixed
 * registers: ymm0..11 the C tile (row r in ymm 2r, 2r+1), ymm12..13 the B
 * row, ymm14 the broadcast A element.  C rows are `ld` bytes apart, rows
 * 3..5 addressed from c3.
 *   SFX: d or s; BC: vbroadcastsd or vbroadcastss; AW: bytes of A per step.
 *
 * A is a packed panel (GM_A_PACKED: AW = 6 elements a step) or its rows
 * where they lie in C order (GM_A_ROWS: AW = one element a step, rows
 * `lda` bytes apart, rows 3..5 from a3).  In place, A is read straight
 * from memory and the tiles go down the rows, so the kernel fetches the
 * next tile's rows of A (from an, an3) a quad of steps ahead.
 */
#define GM_A_PACKED(q, r, AW) #q "*" AW "+" #r "*" AW "/6(%[a])"
#define GM_A_ROWS(q, r, AW) GM_A_ROW_##r(q, AW)
#define GM_A_ROW_0(q, AW) #q "*" AW "(%[a])"
#define GM_A_ROW_1(q, AW) #q "*" AW "(%[a],%[lda],1)"
#define GM_A_ROW_2(q, AW) #q "*" AW "(%[a],%[lda],2)"
#define GM_A_ROW_3(q, AW) #q "*" AW "(%[a3])"
#define GM_A_ROW_4(q, AW) #q "*" AW "(%[a3],%[lda],1)"
#define GM_A_ROW_5(q, AW) #q "*" AW "(%[a3],%[lda],2)"

#define GM_FSTEP(q, SFX, BC, A_AT, AW)                                      \
    "vmovup" SFX " " #q "*64(%[b]), %%ymm12\n\t"                              \
    "vmovup" SFX " " #q "*64+32(%[b]), %%ymm13\n\t"                           \
    BC " " A_AT(q, 0, AW) ", %%ymm14\n\t"                                  \
    "vfmadd231p" SFX " %%ymm12, %%ymm14, %%ymm0\n\t"                     \
    "vfmadd231p" SFX " %%ymm13, %%ymm14, %%ymm1\n\t"                   \
    BC " " A_AT(q, 1, AW) ", %%ymm14\n\t"                                  \
    "vfmadd231p" SFX " %%ymm12, %%ymm14, %%ymm2\n\t"                     \
    "vfmadd231p" SFX " %%ymm13, %%ymm14, %%ymm3\n\t"                   \
    BC " " A_AT(q, 2, AW) ", %%ymm14\n\t"                                  \
    "vfmadd231p" SFX " %%ymm12, %%ymm14, %%ymm4\n\t"                     \
    "vfmadd231p" SFX " %%ymm13, %%ymm14, %%ymm5\n\t"                   \
    BC " " A_AT(q, 3, AW) ", %%ymm14\n\t"                                  \
    "vfmadd231p" SFX " %%ymm12, %%ymm14, %%ymm6\n\t"                     \
    "vfmadd231p" SFX " %%ymm13, %%ymm14, %%ymm7\n\t"                   \
    BC " " A_AT(q, 4, AW) ", %%ymm14\n\t"                                  \
    "vfmadd231p" SFX " %%ymm12, %%ymm14, %%ymm8\n\t"                     \
    "vfmadd231p" SFX " %%ymm13, %%ymm14, %%ymm9\n\t"                   \
    BC " " A_AT(q, 5, AW) ", %%ymm14\n\t"                                  \
    "vfmadd231p" SFX " %%ymm12, %%ymm14, %%ymm10\n\t"                     \
    "vfmadd231p" SFX " %%ymm13, %%ymm14, %%ymm11\n\t"                   \

/* The packed form's loop: B and A fetched 8 steps ahead. */
#define GM_QUAD_PACKED(SFX, BC, AW)                                         \
    "prefetcht0 8*64(%[b])\n\t"                                           \
    GM_FSTEP(0, SFX, BC, GM_A_PACKED, AW)                                   \
    "prefetcht0 9*64(%[b])\n\t"                                           \
    GM_FSTEP(1, SFX, BC, GM_A_PACKED, AW)                                   \
    "prefetcht0 8*" AW "(%[a])\n\t"                                       \
    GM_FSTEP(2, SFX, BC, GM_A_PACKED, AW)                                   \
    GM_FSTEP(3, SFX, BC, GM_A_PACKED, AW)                                   \
    "add $4*64, %[b]\n\t"                                                 \
    "add $4*" AW ", %[a]\n\t"

#define GM_STEP_PACKED(SFX, BC, AW)                                         \
    GM_FSTEP(0, SFX, BC, GM_A_PACKED, AW)                                   \
    "add $64, %[b]\n\t"                                                   \
    "add $" AW ", %[a]\n\t"

/* The in-place form's loop: the next tile's six rows fetched at the
 * quad's offset (a line spans 2 quads of float64, 4 of float32; the
 * repeats hit lines already on their way). */
#define GM_QUAD_ROWS(SFX, BC, AW)                                           \
    "prefetcht0 (%[an])\n\t"                                              \
    "prefetcht0 (%[an],%[lda],1)\n\t"                                     \
    "prefetcht0 (%[an],%[lda],2)\n\t"                                     \
    GM_FSTEP(0, SFX, BC, GM_A_ROWS, AW)                                     \
    "prefetcht0 (%[an3])\n\t"                                             \
    "prefetcht0 (%[an3],%[lda],1)\n\t"                                    \
    "prefetcht0 (%[an3],%[lda],2)\n\t"                                    \
    GM_FSTEP(1, SFX, BC, GM_A_ROWS, AW)                                     \
    GM_FSTEP(2, SFX, BC, GM_A_ROWS, AW)                                     \
    GM_FSTEP(3, SFX, BC, GM_A_ROWS, AW)                                     \
    "add $4*64, %[b]\n\t"                                                 \
    "add $4*" AW ", %[a]\n\t"                                             \
    "add $4*" AW ", %[a3]\n\t"                                            \
    "add $4*" AW ", %[an]\n\t"                                            \
    "add $4*" AW ", %[an3]\n\t"

#define GM_STEP_ROWS(SFX, BC, AW)                                           \
    GM_FSTEP(0, SFX, BC, GM_A_ROWS, AW)                                     \
    "add $64, %[b]\n\t"                                                   \
    "add $" AW ", %[a]\n\t"                                               \
    "add $" AW ", %[a3]\n\t"

#define GM_UNPAREN(...) __VA_ARGS__

/* The in-place form's row pointers (a3; the next tile's an and an3,
 * formed as integers: they may lie past A, where a prefetch is harmless),
 * and the next tile's rows of C, fetched for writing while this one runs
 * (two lines a row: its 64 bytes may straddle them).  MR: rows; ES: bytes
 * of an element of C. */
#define GM_IN_PLACE_POINTERS(MR, ES)                                        \
    const char *a3 = a + 3 * lda;                                           \
    const char *an = (const char *)((uintptr_t)a + (uintptr_t)(MR * lda));  \
    const char *an3 = (const char *)((uintptr_t)an + (uintptr_t)(3 * lda)); \
    {                                                                       \
        const uintptr_t next_c = (uintptr_t)c_ + (uintptr_t)(MR * ldc * ES); \
        for (int i = 0; i < MR; ++i) {                                      \
            const uintptr_t row = next_c + (uintptr_t)(i * ldc * ES);        \
            __builtin_prefetch((const void *)row, 1, 3);                    \
            __builtin_prefetch((const void *)(row + 63), 1, 3);             \
        }                                                                   \
    }

/* QUAD and STEP: the loop bodies above; A_OUT and A_IN: the asm operands
 * that address A, in parentheses (A_IN each after a comma). */
#define GM_FKERNEL(SFX, QUAD, STEP, A_OUT, A_IN)                            \
    do {                                                                    \
        ptrdiff_t quads = depth >> 2, rest = depth & 3;                     \
        char *c0 = (char *)c_;                                              \
        const ptrdiff_t ld = ldc * (ptrdiff_t)sizeof(*b);                   \
        char *c3 = c0 + 3 * ld;                                             \
        __asm__ volatile(                                                   \
    "test %[acc], %[acc]\n\t"                                             \
    "jz 5f\n\t"                                                            \
    "vmovup" SFX " (%[c0]), %%ymm0\n\t"     \
    "vmovup" SFX " 32(%[c0]), %%ymm1\n\t"     \
    "vmovup" SFX " (%[c0],%[ld],1), %%ymm2\n\t"     \
    "vmovup" SFX " 32(%[c0],%[ld],1), %%ymm3\n\t"     \
    "vmovup" SFX " (%[c0],%[ld],2), %%ymm4\n\t"     \
    "vmovup" SFX " 32(%[c0],%[ld],2), %%ymm5\n\t"     \
    "vmovup" SFX " (%[c3]), %%ymm6\n\t"     \
    "vmovup" SFX " 32(%[c3]), %%ymm7\n\t"     \
    "vmovup" SFX " (%[c3],%[ld],1), %%ymm8\n\t"     \
    "vmovup" SFX " 32(%[c3],%[ld],1), %%ymm9\n\t"     \
    "vmovup" SFX " (%[c3],%[ld],2), %%ymm10\n\t"     \
    "vmovup" SFX " 32(%[c3],%[ld],2), %%ymm11\n\t"     \
    "jmp 6f\n"                                                             \
    "5:\n\t"                                                               \
    "vxorp" SFX " %%ymm0, %%ymm0, %%ymm0\n\t"     \
    "vxorp" SFX " %%ymm1, %%ymm1, %%ymm1\n\t"     \
    "vxorp" SFX " %%ymm2, %%ymm2, %%ymm2\n\t"     \
    "vxorp" SFX " %%ymm3, %%ymm3, %%ymm3\n\t"     \
    "vxorp" SFX " %%ymm4, %%ymm4, %%ymm4\n\t"     \
    "vxorp" SFX " %%ymm5, %%ymm5, %%ymm5\n\t"     \
    "vxorp" SFX " %%ymm6, %%ymm6, %%ymm6\n\t"     \
    "vxorp" SFX " %%ymm7, %%ymm7, %%ymm7\n\t"     \
    "vxorp" SFX " %%ymm8, %%ymm8, %%ymm8\n\t"     \
    "vxorp" SFX " %%ymm9, %%ymm9, %%ymm9\n\t"     \
    "vxorp" SFX " %%ymm10, %%ymm10, %%ymm10\n\t"     \
    "vxorp" SFX " %%ymm11, %%ymm11, %%ymm11\n\t"     \
    "6:\n\t"                                                               \
    "test %[quads], %[quads]\n\t"                                         \
    "jz 2f\n\t"                                                            \
    ".p2align 5\n"                                                          \
    "1:\n\t"                                                               \
    QUAD                                                                    \
    "dec %[quads]\n\t"                                                    \
    "jnz 1b\n"                                                             \
    "2:\n\t"                                                               \
    "test %[rest], %[rest]\n\t"                                           \
    "jz 4f\n"                                                              \
    "3:\n\t"                                                               \
    STEP                                                                    \
    "dec %[rest]\n\t"                                                     \
    "jnz 3b\n"                                                             \
    "4:\n\t"                                                               \
    "vmovup" SFX " %%ymm0, (%[c0])\n\t"     \
    "vmovup" SFX " %%ymm1, 32(%[c0])\n\t"     \
    "vmovup" SFX " %%ymm2, (%[c0],%[ld],1)\n\t"     \
    "vmovup" SFX " %%ymm3, 32(%[c0],%[ld],1)\n\t"     \
    "vmovup" SFX " %%ymm4, (%[c0],%[ld],2)\n\t"     \
    "vmovup" SFX " %%ymm5, 32(%[c0],%[ld],2)\n\t"     \
    "vmovup" SFX " %%ymm6, (%[c3])\n\t"     \
    "vmovup" SFX " %%ymm7, 32(%[c3])\n\t"     \
    "vmovup" SFX " %%ymm8, (%[c3],%[ld],1)\n\t"     \
    "vmovup" SFX " %%ymm9, 32(%[c3],%[ld],1)\n\t"     \
    "vmovup" SFX " %%ymm10, (%[c3],%[ld],2)\n\t"     \
    "vmovup" SFX " %%ymm11, 32(%[c3],%[ld],2)\n\t"     \
    "vzeroupper\n\t"                                                      \
            : GM_UNPAREN A_OUT, [b] "+r"(b), [quads] "+r"(quads),           \
              [rest] "+r"(rest)                                             \
            : [c0] "r"(c0), [c3] "r"(c3), [ld] "r"(ld),                     \
              [acc] "r"(accumulate) GM_UNPAREN A_IN                         \
            : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",       \
              "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",     \
              "xmm12", "xmm13", "xmm14");                                   \
    } while (0)

/* NAME (packed A) and NAME##_rows (A in place) for elements of type T:
 * SFX, BC as above, PACKED_AW and ES the bytes of A per step of each form
 * (6 elements, one), MR the rows of the tile. */
#define GM_DEFINE_FLOAT_MICROS(NAME, T, SFX, BC, PACKED_AW, ES, MR)          \
    static void NAME(ptrdiff_t depth, const void *a_panel,                  \
                     const void *b_panel, void *c_, ptrdiff_t ldc,          \
                     int accumulate)                                        \
    {                                                                       \
        const T *a = (const T *)a_panel;                                    \
        const T *b = (const T *)b_panel;                                    \
        GM_FKERNEL(SFX, GM_QUAD_PACKED(SFX, BC, PACKED_AW),                 \
                   GM_STEP_PACKED(SFX, BC, PACKED_AW), ([a] "+r"(a)), ());  \
    }                                                                       \
    static void NAME##_rows(ptrdiff_t depth, const char *a, ptrdiff_t lda,  \
                            const void *b_panel, void *c_, ptrdiff_t ldc,   \
                            int accumulate)                                 \
    {                                                                       \
        const T *b = (const T *)b_panel;                                    \
        GM_IN_PLACE_POINTERS(MR, sizeof(T));                                \
        GM_FKERNEL(SFX, GM_QUAD_ROWS(SFX, BC, ES), GM_STEP_ROWS(SFX, BC, ES), \
                   ([a] "+r"(a), [a3] "+r"(a3), [an] "+r"(an),              \
                    [an3] "+r"(an3)),                                       \
                   (, [lda] "r"(lda)));                                     \
    }

/* NAME##_half and NAME##_rows_half: the first vector of the tile's
 * columns only (MR accumulators), for a last panel of B at most half
 * full.  With registers to spare, plain C serves: each element is the one
 * chain of fused multiply-adds of the whole tile, in the order p = 0, 1,
 * ...; A in place is read as by NAME##_rows, the next tile's rows fetched
 * a line's worth of steps ahead. */
#define GM_DEFINE_FLOAT_HALF_MICROS(NAME, T, VEC, LANES, SET1, LOADU, FMADD,  \
                                    ZERO, STOREU, MR)                         \
    GM_INLINE void NAME##_half_body(ptrdiff_t depth, const char *a,           \
                                    const ptrdiff_t a_row,                    \
                                    const ptrdiff_t a_step, const T *b,       \
                                    char *c, ptrdiff_t ldc, int accumulate,   \
                                    const int fetch)                          \
    {                                                                         \
        const size_t row_bytes = (size_t)ldc * sizeof(T);                     \
        VEC t[MR];                                                            \
        for (int i = 0; i < MR; ++i) {                                        \
            t[i] = accumulate ? LOADU((const T *)(c + i * row_bytes)) : ZERO(); \
        }                                                                     \
        for (ptrdiff_t p = 0; p < depth; ++p) {                               \
            const VEC bv = LOADU(b);                                          \
            if (fetch && p % (ptrdiff_t)(64 / sizeof(T)) == 0) {              \
                const uintptr_t below = (uintptr_t)a + (uintptr_t)(MR * a_row); \
                for (int i = 0; i < MR; ++i) {                                \
                    __builtin_prefetch((const void *)(below + (uintptr_t)(i * a_row)), \
                                       0, 3);                                 \
                }                                                             \
            }                                                                 \
            for (int i = 0; i < MR; ++i) {                                    \
                T ai;                                                         \
                memcpy(&ai, a + i * a_row, sizeof ai);                        \
                t[i] = FMADD(SET1(ai), bv, t[i]);                             \
            }                                                                 \
            a += a_step;                                                      \
            b += 2 * LANES;                                                   \
        }                                                                     \
        for (int i = 0; i < MR; ++i) {                                        \
            STOREU((T *)(c + i * row_bytes), t[i]);                           \
        }                                                                     \
    }                                                                         \
    static void NAME##_half(ptrdiff_t depth, const void *a_panel,             \
                            const void *b_panel, void *c, ptrdiff_t ldc,      \
                            int accumulate)                                   \
    {                                                                         \
        NAME##_half_body(depth, (const char *)a_panel, sizeof(T),             \
                         MR * sizeof(T), (const T *)b_panel, (char *)c, ldc,  \
                         accumulate, 0);                                      \
    }                                                                         \
    static void NAME##_rows_half(ptrdiff_t depth, const char *a,              \
                                 ptrdiff_t lda, const void *b_panel, void *c, \
                                 ptrdiff_t ldc, int accumulate)               \
    {                                                                         \
        NAME##_half_body(depth, a, lda, sizeof(T), (const T *)b_panel,        \
                         (char *)c, ldc, accumulate, 1);                      \
    }

/* ========================================================================
 * float64: 6 x 8 tile (12 accumulators, 2 B vectors, 1 broadcast).
 * ====================================================================== */
#define F64_MR 6
#define F64_NR 8

GM_DEFINE_FLOAT_MICROS(micro_f64_6x8, double, "d", "vbroadcastsd", "48", "8", F64_MR)
GM_DEFINE_FLOAT_HALF_MICROS(micro_f64_6x8, double, __m256d, 4, _mm256_set1_pd,
                            _mm256_loadu_pd, _mm256_fmadd_pd, _mm256_setzero_pd,
                            _mm256_storeu_pd, F64_MR)

GM_DEFINE_PACK_COPY(pack_f64, 8, F64_MR, F64_NR)
GM_DEFINE_STORE_LOAD_COPY(f64, 8)

/* Lanes [0, live) of a 4 x 64-bit vector. */
GM_INLINE __m256i mask_pd(ptrdiff_t live)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(live),
                              _mm256_setr_epi64x(0, 1, 2, 3));
}

/* Lanes [0, live) of an 8 x 32-bit vector. */
GM_INLINE __m256i mask_ps(ptrdiff_t live)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(live > 8 ? 8 : live)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Depth of the direct loops' blocks: a strip of B (16 columns) this deep
 * is 64 KiB in float64, and stays in L2 while every group of rows of C
 * reads it; C holds the partial sums between blocks, so each element is
 * still summed in the order p = 0, 1, ...  (Unblocked, float64 (8 x 4000)
 * @ (4000 x 500) took 1.1 times as long.) */
#define GM_DIRECT_DEPTH 512

/* The same when the groups of rows after the first read a copy of the
 * strip (see stages_b): 16 KiB of it. */
#define GM_STAGE_DEPTH 256

/* Over this many bytes of B, the first group of rows of each strip
 * fetches the same rows of B ahead: from memory, a strip read down the
 * rows is a line per row, which the prefetchers follow too slowly
 * (float32 (5 x 20000) @ (20000 x 3000): 1.17 times faster so). */
#define GM_DIRECT_FETCH_BYTES (4.0 * 1024.0 * 1024.0)

/* The line two past the one at `row`: the next line the processor fetches
 * along with it, as the other half of an aligned pair, so one line ahead
 * was mostly fetched already (Zen 4, two threads: float64 (5 x 10000) @
 * (10000 x 3000) 21.6 ms one line ahead, 8.8 two; float32 (8 x 20000) @
 * (20000 x 500) 2.4 and 1.4).  A prefetch never faults; the address is
 * formed as an integer, as it may lie past the operand's end. */
GM_INLINE void fetch_ahead(const void *row)
{
    __builtin_prefetch((const void *)((uintptr_t)row + 128));
}

/* The streaming forms of the direct path (gm_stream.h): column blocks
 * of this many bytes of C, up to this many rows at a time. */
#define GM_AXPY_BLOCK_BYTES 8192
#define GM_AXPY_MAX_ROWS 4

GM_INLINE double hsum_pd(__m256d v)
{
    __m128d x = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
}
GM_INLINE float hsum_ps(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}
GM_INLINE uint32_t hsum_epi32(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 1));
    return (uint32_t)_mm_cvtsi128_si32(x);
}
GM_INLINE uint64_t hsum_epi64(__m256i v)
{
    __m128i x = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi64(x, _mm_unpackhi_epi64(x, x));
    return (uint64_t)_mm_cvtsi128_si64(x);
}

/* Lanes [0, live) of a vector of LANES elements of ES bytes, as the mask
 * maskload / maskstore take. */
GM_INLINE __m256i stream_mask(ptrdiff_t live, const int lanes)
{
    return lanes == 4 ? mask_pd(live) : mask_ps(live);
}

#define GM_MASK_LANES4(n) stream_mask((n), 4)
#define GM_MASK_LANES8(n) stream_mask((n), 8)

/* The lanes of v that a mask of stream_mask selects, written with plain
 * stores of 16, 8 and 4 bytes: a masked store (vmaskmovpd/ps) takes about
 * ten times as long as a store on AMD processors (float64 stacks of
 * (39 x 7) @ (7 x 2) spent half their time in them on Zen 4). */
GM_INLINE void store_lanes_pd(void *dst, __m256i mask, __m256d v)
{
    const int live = __builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(mask)));
    char *p = (char *)dst;
    if (live == 4) {
        _mm256_storeu_pd((double *)dst, v);
        return;
    }
    __m128d x = _mm256_castpd256_pd128(v);
    if (live & 2) {
        _mm_storeu_pd((double *)(void *)p, x);
        x = _mm256_extractf128_pd(v, 1);
        p += 16;
    }
    if (live & 1) {
        const double last = _mm_cvtsd_f64(x);
        memcpy(p, &last, sizeof last);   /* C may be unaligned */
    }
}
GM_INLINE void store_lanes_ps(void *dst, __m256i mask, __m256 v)
{
    const int live = __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(mask)));
    char *p = (char *)dst;
    if (live == 8) {
        _mm256_storeu_ps((float *)dst, v);
        return;
    }
    __m128 x = _mm256_castps256_ps128(v);
    if (live & 4) {
        _mm_storeu_ps((float *)(void *)p, x);
        x = _mm256_extractf128_ps(v, 1);
        p += 16;
    }
    if (live & 2) {
        _mm_storeu_si64(p, _mm_castps_si128(x));
        x = _mm_movehl_ps(x, x);
        p += 8;
    }
    if (live & 1) {
        const float last = _mm_cvtss_f32(x);
        memcpy(p, &last, sizeof last);   /* C may be unaligned */
    }
}

#include "gm_stream.h"
#include "gm_short_dots.h"
#include "gm_shallow.h"

#define GM_LOADU_PD(p) _mm256_loadu_pd((const double *)(const void *)(p))
#define GM_MLOAD_PD(p, m) _mm256_maskload_pd((const double *)(const void *)(p), (m))
#define GM_STOREU_PD(p, v) _mm256_storeu_pd((double *)(void *)(p), (v))
#define GM_MSTORE_PD(p, m, v) store_lanes_pd((p), (m), (v))
#define GM_SET1_PD(p) _mm256_set1_pd(get_f64(p))
#define GM_LOADU_PS(p) _mm256_loadu_ps((const float *)(const void *)(p))
#define GM_MLOAD_PS(p, m) _mm256_maskload_ps((const float *)(const void *)(p), (m))
#define GM_STOREU_PS(p, v) _mm256_storeu_ps((float *)(void *)(p), (v))
#define GM_MSTORE_PS(p, m, v) store_lanes_ps((p), (m), (v))
#define GM_SET1_PS(p) _mm256_set1_ps(get_f32(p))
#define GM_FMA_PD(x, y, t) _mm256_fmadd_pd((x), (y), (t))
#define GM_FMA_PS(x, y, t) _mm256_fmadd_ps((x), (y), (t))
#define GM_LOADU_SI(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define GM_STOREU_SI(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define GM_MLOAD_EPI32(p, m) _mm256_maskload_epi32((const int *)(const void *)(p), (m))
#define GM_MLOAD_EPI64(p, m) _mm256_maskload_epi64((const long long *)(const void *)(p), (m))
#define GM_SET1_EPI32(p) _mm256_set1_epi32((int)get_u32(p))
#define GM_SET1_EPI64(p) _mm256_set1_epi64x((long long)get_u64(p))
#define GM_MADD_EPI32(x, y, t) _mm256_add_epi32((t), _mm256_mullo_epi32((x), (y)))

GM_DEFINE_STREAM(stream_f64, double, __m256d, 4, __m256i, GM_MASK_LANES4,
                 _mm256_setzero_pd,
                 GM_LOADU_PD, GM_MLOAD_PD, GM_STOREU_PD, GM_SET1_PD, GM_FMA_PD,
                 _mm256_add_pd, hsum_pd, put_f64)
GM_DEFINE_STREAM(stream_f32, float, __m256, 8, __m256i, GM_MASK_LANES8,
                 _mm256_setzero_ps,
                 GM_LOADU_PS, GM_MLOAD_PS, GM_STOREU_PS, GM_SET1_PS, GM_FMA_PS,
                 _mm256_add_ps, hsum_ps, put_f32)
GM_DEFINE_SHORT_DOTS(short_dots_f64, double, get_f64, put_f64, __builtin_fma)
GM_DEFINE_SHORT_DOTS(short_dots_f32, float, get_f32, put_f32, __builtin_fmaf)

/* Every dot product of the direct path: up to 7 (float64) or 8 (float32)
 * deep as a scalar chain (see GM_DEFINE_SHORT_DOTS; float64 (100000 x 6)
 * @ (6,): 64 -> 43 us, at 8 deep 43 -> 57), so that an element has the
 * same bits whatever form the rest of its product takes. */
#define F64_SHORT_DOT_DEPTH 8
#define F32_SHORT_DOT_DEPTH 9

GM_DEFINE_DOTS_BY_DEPTH(dots_f64, short_dots_f64, stream_f64_dots, F64_SHORT_DOT_DEPTH)
GM_DEFINE_DOTS_BY_DEPTH(dots_f32, short_dots_f32, stream_f32_dots, F32_SHORT_DOT_DEPTH)
GM_DEFINE_GRID_BY_DEPTH(grid_f64, short_dots_f64, stream_f64_dots_grid, F64_SHORT_DOT_DEPTH)
GM_DEFINE_GRID_BY_DEPTH(grid_f32, short_dots_f32, stream_f32_dots_grid, F32_SHORT_DOT_DEPTH)

/*
 * float64 products straight from user memory: `rows` rows of C, NV vectors
 * of up to 4 columns each (masked at the edge), summed over p with each
 * A element broadcast.  B's and C's columns must be contiguous.
 */
GM_INLINE void direct_f64_block(const char *a, ptrdiff_t ars, ptrdiff_t acs,
                                const char *b, ptrdiff_t brs, char *c,
                                ptrdiff_t crs, ptrdiff_t k,
                                const __m256i *mask, const int rows,
                                const int nv, const int whole, const int more,
                                const int fetch, char *stage)
{
    __m256d acc[8][4];
    for (int r = 0; r < rows; ++r) {
        const double *cr = (const double *)(c + r * crs);
        for (int v = 0; v < nv; ++v) {
            acc[r][v] = !more ? _mm256_setzero_pd()
                        : whole ? _mm256_loadu_pd(cr + 4 * v)
                        : _mm256_maskload_pd(cr + 4 * v, mask[v]);
        }
    }
    for (ptrdiff_t p = 0; p < k; ++p) {
        const double *bp = (const double *)(b + p * brs);
        if (fetch) {
            fetch_ahead(bp);
        }
        __m256d y[4];
        for (int v = 0; v < nv; ++v) {
            y[v] = whole || v + 1 < nv ? _mm256_loadu_pd(bp + 4 * v)
                                       : _mm256_maskload_pd(bp + 4 * v, mask[v]);
            if (stage != NULL) {
                _mm256_store_pd((double *)(stage + p * 32 * nv) + 4 * v, y[v]);
            }
        }
        for (int r = 0; r < rows; ++r) {
            const __m256d x = _mm256_set1_pd(get_f64(a + r * ars + p * acs));
            for (int v = 0; v < nv; ++v) {
                acc[r][v] = _mm256_fmadd_pd(x, y[v], acc[r][v]);
            }
        }
    }
    for (int r = 0; r < rows; ++r) {
        double *cr = (double *)(c + r * crs);
        for (int v = 0; v < nv; ++v) {
            if (whole) {
                _mm256_storeu_pd(cr + 4 * v, acc[r][v]);
            }
            else {
                store_lanes_pd(cr + 4 * v, mask[v], acc[r][v]);
            }
        }
    }
}

/* Rows [i, i + R) of C: one BLOCK call (the locals of
 * GM_DEFINE_DIRECT_ROWS below); only for R the block's registers hold. */
#define GM_ROWS_CASE(BLOCK, R, FITS)                                        \
    case (R):                                                                \
        if (FITS) {                                                          \
            BLOCK(a + i * ars, ars, acs, b, brs, c + i * crs, crs, k, mask,  \
                  (R), nv, whole, more, fetch && i == 0, NULL);              \
        }                                                                    \
        break;

/* Rows in a group with two whole vectors a row (see GM_DEFINE_DIRECT_ROWS). */
#define GM_PAIR_ROWS 6

/* The rows of the next group when `left` rows are left, at most `most`
 * (see GM_DEFINE_DIRECT_ROWS). */
GM_INLINE ptrdiff_t group_rows(ptrdiff_t left, int most)
{
    const int small = most < 4 ? most : 4;
    return left <= most ? left : left < most + small ? (left + 1) / 2 : most;
}

/* Rows of C across up to 16 columns, in groups of rows (at most 8 with
 * one vector per row, 6 with 2 or MASKED_PAIR_ROWS when the second is
 * masked, else 2), so that the loads of B serve
 * several rows and enough chains of multiply-adds are in flight (each
 * element still one chain, p = 0 .. k-1); the last two groups share the
 * rows left when a full group would leave fewer than 4.  A lone row left
 * over ran its 2 chains at a quarter of the units' speed and read B once
 * more: float32 (8 x 20000) @ (20000 x 500) as 6 + 1 + 1 rows took 1.5
 * times as long as 4 + 4.  (No division: this runs for every matrix of
 * a stack.)  The mask of a partial vector takes a register: in groups of
 * 6, GCC kept the accumulators on the stack at every step (Zen 4, (1000 x
 * 1000) @ (1000 x 10) float32: 369 us in groups of 6, 173 in groups of 4;
 * float64 (1000 x 1000) @ (1000 x 6): 388 in 6, 174 in 5, 201 in 4). */
#define GM_DEFINE_DIRECT_ROWS(NAME, BLOCK, MASKED_PAIR_ROWS)                 \
    GM_INLINE void NAME(const char *a, ptrdiff_t ars, ptrdiff_t acs,         \
                        const char *b, ptrdiff_t brs, char *c, ptrdiff_t crs, \
                        ptrdiff_t m, ptrdiff_t k, const __m256i *mask,       \
                        const int nv, const int whole, const int more,       \
                        const int fetch)                                     \
    {                                                                        \
        const int most = nv == 1 ? 8                                        \
                         : nv == 2 ? (whole ? GM_PAIR_ROWS : MASKED_PAIR_ROWS) : 2; \
        for (ptrdiff_t i = 0; i < m;) {                                      \
            const ptrdiff_t rows = group_rows(m - i, most);                  \
            switch (rows) {                                                  \
            GM_ROWS_CASE(BLOCK, 1, 1)                                       \
            GM_ROWS_CASE(BLOCK, 2, 1)                                       \
            GM_ROWS_CASE(BLOCK, 3, nv <= 2)                                 \
            GM_ROWS_CASE(BLOCK, 4, nv <= 2)                                 \
            GM_ROWS_CASE(BLOCK, 5, nv <= 2)                                 \
            GM_ROWS_CASE(BLOCK, 6, nv <= 2)                                 \
            GM_ROWS_CASE(BLOCK, 7, nv == 1)                                 \
            GM_ROWS_CASE(BLOCK, 8, nv == 1)                                 \
            default: break;                                                  \
            }                                                                \
            i += rows;                                                       \
        }                                                                    \
    }
GM_DEFINE_DIRECT_ROWS(direct_f64_rows, direct_f64_block, 5)

/* The first R rows of a staged strip (see GM_DEFINE_STAGED_ROWS). */
#define GM_STAGED_ROWS_CASE(BLOCK, R)                                        \
    case (R):                                                                \
        BLOCK(a, ars, acs, b, brs, c, crs, k, mask, (R), 2, 1, more, fetch,  \
              stage);                                                        \
        break;

/* Rows of C across a strip of two whole vectors, the first group copying
 * what it reads of B (at most GM_STAGE_DEPTH steps of 64 bytes), which
 * the other groups read instead (see stages_b): the same sums, in the
 * same groups as ROWS.  Kept out of line, with its buffer, so that the
 * loops that do not copy keep their registers. */
#define GM_DEFINE_STAGED_ROWS(NAME, BLOCK, ROWS)                             \
    static __attribute__((noinline)) void NAME(                              \
        const char *a, ptrdiff_t ars, ptrdiff_t acs, const char *b,          \
        ptrdiff_t brs, char *c, ptrdiff_t crs, ptrdiff_t m, ptrdiff_t k,     \
        const __m256i *mask, const int more, const int fetch)                \
    {                                                                        \
        _Alignas(64) char stage[GM_STAGE_DEPTH * 64];                        \
        const ptrdiff_t first = group_rows(m, GM_PAIR_ROWS);                 \
        switch (first) {                                                     \
        GM_STAGED_ROWS_CASE(BLOCK, 1)                                       \
        GM_STAGED_ROWS_CASE(BLOCK, 2)                                       \
        GM_STAGED_ROWS_CASE(BLOCK, 3)                                       \
        GM_STAGED_ROWS_CASE(BLOCK, 4)                                       \
        GM_STAGED_ROWS_CASE(BLOCK, 5)                                       \
        GM_STAGED_ROWS_CASE(BLOCK, 6)                                       \
        default: break;                                                      \
        }                                                                    \
        ROWS(a + first * ars, ars, acs, stage, 64, c + first * crs, crs,     \
             m - first, k, mask, 2, 1, more, 0);                             \
    }
GM_DEFINE_STAGED_ROWS(direct_f64_staged, direct_f64_block, direct_f64_rows)

GM_DEFINE_PLAIN_LOOP(direct_f64_scalar, double, get_f64, put_f64, GM_MADD_SUM)

/* Every strip of columns of C over one block of depth (C holding the
 * sums of the blocks before when `more`): 8 columns, in groups of up to 6
 * rows, or for fewer than 3 rows 16 columns, so that enough chains are in
 * flight.  (16 columns in groups of 2 rows read 16 bytes of B per
 * multiply-add; 8 in groups of 6, 5.)  Whole vectors need no masks,
 * which are slow to store on some processors. */
static void direct_f64_strips(const gm_problem *pr, ptrdiff_t first,
                              ptrdiff_t last, ptrdiff_t p0, ptrdiff_t depth,
                              const int more, const int fetch, const int stage)
{
    GM_PROBLEM_LOCALS(pr);
    (void)k, (void)bcs, (void)ccs;
    const ptrdiff_t width = m >= 3 ? 8 : 16;
    /* One strip: every matrix in one pass, with its masks and loop chosen
     * once; else each matrix through all strips, so that a stack is read
     * once, not once per strip. */
    const ptrdiff_t per_pass = n <= width ? last - first : 1;
    for (ptrdiff_t s0 = first; s0 < last; s0 += per_pass) {
    for (ptrdiff_t j0 = 0; j0 < n; j0 += width) {
        const ptrdiff_t cols = min_pd(width, n - j0);
        const int nv = (int)((cols + 3) / 4), whole = cols % 4 == 0;
        __m256i mask[4];
        for (int v = 0; v < 4; ++v) {
            mask[v] = mask_pd(cols - 4 * v);
        }
        const int ahead = fetch && j0 + width < n;
#define GM_F64_ROWS(NV)                                                      \
    for (ptrdiff_t s = s0; s < s0 + per_pass; ++s) {                         \
        const char *a = pr->a.data + s * pr->a.batch_stride + p0 * acs;      \
        const char *bj = pr->b.data + s * pr->b.batch_stride + p0 * brs + j0 * 8; \
        char *cj = pr->c.data + s * pr->c.batch_stride + j0 * 8;             \
        if (whole && NV == 2 && stage) {                                     \
            direct_f64_staged(a, ars, acs, bj, brs, cj, crs, m, depth, mask,  \
                              more, ahead);                                  \
        }                                                                    \
        else if (whole) {                                                    \
            direct_f64_rows(a, ars, acs, bj, brs, cj, crs, m, depth, mask, NV, 1, \
                            more, ahead);                                    \
        }                                                                    \
        else {                                                               \
            direct_f64_rows(a, ars, acs, bj, brs, cj, crs, m, depth, mask, NV, 0, \
                            more, ahead);                                    \
        }                                                                    \
    }
        switch (nv) {
        case 1: GM_F64_ROWS(1) break;
        case 2: GM_F64_ROWS(2) break;
        case 3: GM_F64_ROWS(3) break;
        default: GM_F64_ROWS(4) break;
        }
#undef GM_F64_ROWS
    }
    }
}

GM_DEFINE_SHALLOW_ROWS(shallow_f64, double, __m256d, 4, GM_LOADU_PD, GM_STOREU_PD,
                       GM_SET1_PD, GM_FMA_PD, _mm256_setzero_pd, get_f64, put_f64,
                       __builtin_fma)
GM_DEFINE_SHALLOW_ROWS(shallow_f32, float, __m256, 8, GM_LOADU_PS, GM_STOREU_PS,
                       GM_SET1_PS, GM_FMA_PS, _mm256_setzero_ps, get_f32, put_f32,
                       __builtin_fmaf)

/* Whether the first group of rows of each strip copies the part of B it
 * reads to a contiguous buffer (in blocks of GM_STAGE_DEPTH steps, 16 KiB)
 * that the other groups read instead.  A strip is a line of each row of
 * B: when B's row stride is a multiple of 512 bytes, those lines fall into
 * an eighth or less of L1's sets, and every group after the first read
 * them again from L2 or beyond (Zen 4, two threads: float64 (32 x 1024) @
 * (1024 x 4096) 7.0 -> 3.9 ms, float32 (16 x 768) @ (768 x 3072) 599 ->
 * 456 us).  At other strides the copy's stores cost about what it saves.
 * One group of rows has no one to copy for. */
GM_INLINE int stages_b(const gm_problem *pr)
{
    return pr->m > GM_PAIR_ROWS && pr->k >= 64 && pr->b.row_stride % 512 == 0;
}

typedef void (*direct_strips_fn)(const gm_problem *pr, ptrdiff_t first,
                                 ptrdiff_t last, ptrdiff_t p0, ptrdiff_t k,
                                 int more, int fetch, int stage);

/* Matrices [first, last): all in one pass when one block of depth holds
 * them (a stack of small matrices: each strip's masks and choice of loop
 * serve every matrix), else each in blocks of GM_DIRECT_DEPTH steps. */
GM_INLINE void direct_in_depth_blocks(const gm_problem *pr, ptrdiff_t first,
                                      ptrdiff_t last, direct_strips_fn strips,
                                      const int fetch)
{
    const int stage = stages_b(pr);
    const ptrdiff_t block = stage ? GM_STAGE_DEPTH : GM_DIRECT_DEPTH;
    if (pr->k <= block) {
        strips(pr, first, last, 0, pr->k, 0, fetch, stage);
        return;
    }
    for (ptrdiff_t s = first; s < last; ++s) {
        for (ptrdiff_t p0 = 0; p0 < pr->k; p0 += block) {
            strips(pr, s, s + 1, p0, min_pd(block, pr->k - p0), p0 > 0,
                   fetch, stage);
        }
    }
}

static void direct_f64(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    const ptrdiff_t m = pr->m, n = pr->n;
    /* Products no wider than the row loop below stay off the streaming
     * forms, whose set-up costs more than such a matrix (both sum each
     * element in order with fused multiply-adds: the same bits). */
    const int rows_layout = pr->b.col_stride == 8 && pr->c.col_stride == 8;
    if ((!rows_layout || m == 1 || n == 1 || n > 16)
            && stream_all(pr, first, last, 8, dots_f64, grid_f64,
                          stream_f64_axpy, 0)) {
        return;
    }
    if (!rows_layout) {
        direct_f64_scalar(pr, first, last);
        return;
    }
    if (pr->k >= 1 && pr->k <= GM_SHALLOW_DEPTH && n > 16) {
        shallow_f64(pr, first, last);
        return;
    }
    direct_in_depth_blocks(pr, first, last, direct_f64_strips,
                           (double)pr->k * (double)n * 8.0 > GM_DIRECT_FETCH_BYTES);
}

/* With balanced groups of rows, the direct loops keep up with the packed
 * path up to about 128^3 multiply-adds whatever the shape (float64 128^3
 * 1.08-1.14 times faster, (110 x 110)^2 1.76 on two threads), and pass
 * it at any size for at most 64 rows. */
static const gm_kernel avx2_f64 = {
    .name = "avx2 f64 6x8",
    .mr = F64_MR, .nr = F64_NR,
    .mc = 144, .kc = 256, .nc = 3072,
    .packed_size = 8, .acc_size = 8,
    .c_mode = GM_C_SAME,
    .pack_a = pack_f64, .pack_b = pack_f64,
    .micro = micro_f64_6x8,
    .micro_rows = micro_f64_6x8_rows,
    .micro_half = micro_f64_6x8_half,
    .micro_rows_half = micro_f64_6x8_rows_half,
    .store = store_f64, .load = load_f64,
    .direct = direct_f64,
    .direct_max_flops = 16.0 * 16.0 * 16.0,
    .direct_rows_max_flops = 128.0 * 128.0 * 128.0,
    .direct_rows_max_rows = 64,
    .direct_max_rows = 4,
    .direct_shallow_rows = 8, .direct_shallow_depth = 4096,
    .direct_max_cols = 12,
    .short_dot_depth = F64_SHORT_DOT_DEPTH,
};

/* ========================================================================
 * float32: 6 x 16 tile, the f64 scheme with 8 lanes.  Also float16's
 * micro-kernel: a product of two halves is exact in float, so the fused
 * multiply-add rounds exactly as NumPy's float sum does.
 * ====================================================================== */
#define F32_MR 6
#define F32_NR 16

GM_DEFINE_FLOAT_MICROS(micro_f32_6x16, float, "s", "vbroadcastss", "24", "4", F32_MR)
GM_DEFINE_FLOAT_HALF_MICROS(micro_f32_6x16, float, __m256, 8, _mm256_set1_ps,
                            _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_setzero_ps,
                            _mm256_storeu_ps, F32_MR)

GM_DEFINE_PACK_COPY(pack_f32, 4, F32_MR, F32_NR)
GM_DEFINE_STORE_LOAD_COPY(f32, 4)

/* float32 products from user memory: as direct_f64_block with 8 lanes. */
GM_INLINE void direct_f32_block(const char *a, ptrdiff_t ars, ptrdiff_t acs,
                                const char *b, ptrdiff_t brs, char *c,
                                ptrdiff_t crs, ptrdiff_t k,
                                const __m256i *mask, const int rows,
                                const int nv, const int whole, const int more,
                                const int fetch, char *stage)
{
    __m256 acc[8][2];
    for (int r = 0; r < rows; ++r) {
        const float *cr = (const float *)(c + r * crs);
        for (int v = 0; v < nv; ++v) {
            acc[r][v] = !more ? _mm256_setzero_ps()
                        : whole ? _mm256_loadu_ps(cr + 8 * v)
                        : _mm256_maskload_ps(cr + 8 * v, mask[v]);
        }
    }
    for (ptrdiff_t p = 0; p < k; ++p) {
        const float *bp = (const float *)(b + p * brs);
        if (fetch) {
            fetch_ahead(bp);
        }
        __m256 y[2];
        for (int v = 0; v < nv; ++v) {
            y[v] = whole || v + 1 < nv ? _mm256_loadu_ps(bp + 8 * v)
                                       : _mm256_maskload_ps(bp + 8 * v, mask[v]);
            if (stage != NULL) {
                _mm256_store_ps((float *)(stage + p * 32 * nv) + 8 * v, y[v]);
            }
        }
        for (int r = 0; r < rows; ++r) {
            const __m256 x = _mm256_set1_ps(get_f32(a + r * ars + p * acs));
            for (int v = 0; v < nv; ++v) {
                acc[r][v] = _mm256_fmadd_ps(x, y[v], acc[r][v]);
            }
        }
    }
    for (int r = 0; r < rows; ++r) {
        float *cr = (float *)(c + r * crs);
        for (int v = 0; v < nv; ++v) {
            if (whole) {
                _mm256_storeu_ps(cr + 8 * v, acc[r][v]);
            }
            else {
                store_lanes_ps(cr + 8 * v, mask[v], acc[r][v]);
            }
        }
    }
}

GM_DEFINE_DIRECT_ROWS(direct_f32_rows, direct_f32_block, 4)
GM_DEFINE_STAGED_ROWS(direct_f32_staged, direct_f32_block, direct_f32_rows)

GM_DEFINE_PLAIN_LOOP(direct_f32_scalar, float, get_f32, put_f32, GM_MADD_SUM)

/* As direct_f64_strips, with 8 lanes. */
static void direct_f32_strips(const gm_problem *pr, ptrdiff_t first,
                              ptrdiff_t last, ptrdiff_t p0, ptrdiff_t depth,
                              const int more, const int fetch, const int stage)
{
    GM_PROBLEM_LOCALS(pr);
    (void)k, (void)bcs, (void)ccs;
    const ptrdiff_t per_pass = n <= 16 ? last - first : 1;
    for (ptrdiff_t s0 = first; s0 < last; s0 += per_pass) {
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 16) {
        const ptrdiff_t cols = min_pd(16, n - j0);
        __m256i mask[2] = {mask_ps(cols), mask_ps(cols - 8)};
        const int ahead = fetch && j0 + 16 < n;
        for (ptrdiff_t s = s0; s < s0 + per_pass; ++s) {
            const char *a = pr->a.data + s * pr->a.batch_stride + p0 * acs;
            const char *bj = pr->b.data + s * pr->b.batch_stride + p0 * brs + j0 * 4;
            char *cj = pr->c.data + s * pr->c.batch_stride + j0 * 4;
            /* Each call with constant vector counts: with cols / 8 passed,
             * GCC kept the loop's strides and flags on the stack and reread
             * B's second vector for every row (float32 (64 x 768) @ (768 x
             * 256) on one thread: 51 GFLOP/s, 107 so). */
            if (cols == 16 && stage) {
                direct_f32_staged(a, ars, acs, bj, brs, cj, crs, m, depth, mask, more,
                                  ahead);
            }
            else if (cols == 16) {
                direct_f32_rows(a, ars, acs, bj, brs, cj, crs, m, depth, mask, 2, 1,
                                more, ahead);
            }
            else if (cols == 8) {
                direct_f32_rows(a, ars, acs, bj, brs, cj, crs, m, depth, mask, 1, 1,
                                more, ahead);
            }
            else if (cols < 8) {
                direct_f32_rows(a, ars, acs, bj, brs, cj, crs, m, depth, mask, 1, 0,
                                more, ahead);
            }
            else {
                direct_f32_rows(a, ars, acs, bj, brs, cj, crs, m, depth, mask, 2, 0,
                                more, ahead);
            }
        }
    }
    }
}

static void direct_f32(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    const ptrdiff_t m = pr->m, n = pr->n;
    /* As for float64. */
    const int rows_layout = pr->b.col_stride == 4 && pr->c.col_stride == 4;
    if ((!rows_layout || m == 1 || n == 1 || n > 16)
            && stream_all(pr, first, last, 4, dots_f32, grid_f32,
                          stream_f32_axpy, 0)) {
        return;
    }
    if (!rows_layout) {
        direct_f32_scalar(pr, first, last);
        return;
    }
    if (pr->k >= 1 && pr->k <= GM_SHALLOW_DEPTH && n > 16) {
        shallow_f32(pr, first, last);
        return;
    }
    direct_in_depth_blocks(pr, first, last, direct_f32_strips,
                           (double)pr->k * (double)n * 4.0 > GM_DIRECT_FETCH_BYTES);
}

static const gm_kernel avx2_f32 = {
    .name = "avx2 f32 6x16",
    .mr = F32_MR, .nr = F32_NR,
    .mc = 144, .kc = 384, .nc = 4096,
    .packed_size = 4, .acc_size = 4,
    .c_mode = GM_C_SAME,
    .pack_a = pack_f32, .pack_b = pack_f32,
    .micro = micro_f32_6x16,
    .micro_rows = micro_f32_6x16_rows,
    .micro_half = micro_f32_6x16_half,
    .micro_rows_half = micro_f32_6x16_rows_half,
    .store = store_f32, .load = load_f32,
    .direct = direct_f32,
    .direct_max_flops = 16.0 * 16.0 * 16.0,
    .direct_rows_max_flops = 128.0 * 128.0 * 128.0,
    .direct_rows_max_rows = 64,
    .direct_max_rows = 4,
    .direct_shallow_rows = 8, .direct_shallow_depth = 4096,
    .direct_max_cols = 16,
    .short_dot_depth = F32_SHORT_DOT_DEPTH,
};

/* ========================================================================
 * float16: packed as float32 (F16C), the float32 micro-kernel, C summed in
 * the driver's float32 copy and rounded to half once (ties to even; NaNs
 * stay quiet NaNs with their top payload bits, as NumPy's conversion).
 * ====================================================================== */
GM_INLINE float half_at(const char *p)
{
    return _cvtsh_ss(get_u16(p));
}

GM_INLINE void pack_f16_body(const char *src, ptrdiff_t rs, ptrdiff_t ds,
                             ptrdiff_t rows, ptrdiff_t depth, const int panel,
                             float *dst)
{
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += panel) {
        const ptrdiff_t live = min_pd(panel, rows - r0);
        const char *base = src + r0 * rs;
        if (live == panel && rs == 2 && panel % 8 == 0) {
            for (ptrdiff_t p = 0; p < depth; ++p) {
                const char *col = base + p * ds;
                for (int i = 0; i < panel; i += 8) {
                    __m128i h = _mm_loadu_si128((const __m128i *)(col + 2 * i));
                    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
                }
                dst += panel;
            }
            continue;
        }
        if (live == panel && ds == 2 && panel <= 32) {
            const char *rp[32];
            for (int i = 0; i < panel; ++i) {
                rp[i] = base + i * rs;
            }
            ptrdiff_t p = 0;
            for (; p + 8 <= depth; p += 8) {
                /* 8 depth steps per row, widened, then scattered. */
                for (int i = 0; i < panel; ++i) {
                    __m128i h = _mm_loadu_si128((const __m128i *)(rp[i] + 2 * p));
                    float tmp[8];
                    _mm256_storeu_ps(tmp, _mm256_cvtph_ps(h));
                    for (int q = 0; q < 8; ++q) {
                        dst[(p + q) * panel + i] = tmp[q];
                    }
                }
            }
            for (; p < depth; ++p) {
                for (int i = 0; i < panel; ++i) {
                    dst[p * panel + i] = half_at(rp[i] + 2 * p);
                }
            }
            dst += depth * panel;
            continue;
        }
        for (ptrdiff_t p = 0; p < depth; ++p) {
            const char *col = base + p * ds;
            ptrdiff_t i = 0;
            for (; i < live; ++i) {
                dst[i] = half_at(col + i * rs);
            }
            for (; i < panel; ++i) {
                dst[i] = 0.0f;
            }
            dst += panel;
        }
    }
}

static void pack_f16(const char *src, ptrdiff_t rs, ptrdiff_t ds,
                     ptrdiff_t rows, ptrdiff_t depth, int panel, void *dst)
{
    if (panel == F32_MR) {
        pack_f16_body(src, rs, ds, rows, depth, F32_MR, (float *)dst);
    }
    else if (panel == F32_NR) {
        pack_f16_body(src, rs, ds, rows, depth, F32_NR, (float *)dst);
    }
    else {
        pack_f16_body(src, rs, ds, rows, depth, panel, (float *)dst);
    }
}

static void store_f16(const void *tile_, ptrdiff_t rows, ptrdiff_t cols,
                      ptrdiff_t tile_cols, char *dst, ptrdiff_t rs,
                      ptrdiff_t cs)
{
    const float *tile = (const float *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const float *t = tile + i * tile_cols;
        char *d = dst + i * rs;
        ptrdiff_t j = 0;
        if (cs == 2) {
            for (; j + 8 <= cols; j += 8) {
                __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(t + j),
                                            _MM_FROUND_TO_NEAREST_INT);
                _mm_storeu_si128((__m128i *)(d + 2 * j), h);
            }
        }
        for (; j < cols; ++j) {
            put_u16(d + j * cs, gm_float_to_half(t[j]));
        }
    }
}

static void load_f16(void *tile_, ptrdiff_t rows, ptrdiff_t cols,
                     ptrdiff_t tile_cols, const char *src, ptrdiff_t rs,
                     ptrdiff_t cs)
{
    float *tile = (float *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        for (ptrdiff_t j = 0; j < cols; ++j) {
            tile[i * tile_cols + j] = half_at(src + i * rs + j * cs);
        }
    }
}

/* float16 direct: products of halves are exact in float, so a fused
 * multiply-add is the same as NumPy's float multiply then add. */
GM_INLINE float fma_f32(float a, float b, float c)
{
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
#define HALF_MADD(t, a, b) ((t) = fma_f32((a), (b), (t)))
#define PUT_HALF(p, v) put_u16((p), gm_float_to_half(v))
GM_DEFINE_PLAIN_LOOP(direct_f16_plain, float, half_at, PUT_HALF, HALF_MADD)
GM_DEFINE_TINY_SQUARE(tiny_f16, float, half_at, PUT_HALF)

static void direct_f16(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (!tiny_f16(pr, first, last)) {
        direct_f16_plain(pr, first, last);
    }
}

static const gm_kernel avx2_f16 = {
    .name = "avx2 f16 6x16",
    .mr = F32_MR, .nr = F32_NR,
    .mc = 144, .kc = 384, .nc = 4096,
    .packed_size = 4, .acc_size = 4,
    .c_mode = GM_C_WIDE,
    .pack_a = pack_f16, .pack_b = pack_f16,
    .micro = micro_f32_6x16,
    .micro_half = micro_f32_6x16_half,
    .store = store_f16, .load = load_f16,
    .direct = direct_f16,
    .direct_max_flops = 1024.0,
};

/* ========================================================================
 * int32 / uint32: 6 x 16 tile with vpmulld + vpaddd (wrap-around, exact
 * modulo 2^32 for signed and unsigned alike).
 * ====================================================================== */
static void micro_i32_6x16(ptrdiff_t depth, const void *a_panel,
                           const void *b_panel, void *c_, ptrdiff_t ldc,
                           int accumulate)
{
    const int32_t *a = (const int32_t *)a_panel;
    const int32_t *b = (const int32_t *)b_panel;
    int32_t *c = (int32_t *)c_;
    __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (accumulate) {
        c00 = _mm256_loadu_si256((const __m256i *)(c + 0 * ldc));
        c01 = _mm256_loadu_si256((const __m256i *)(c + 0 * ldc + 8));
        c10 = _mm256_loadu_si256((const __m256i *)(c + 1 * ldc));
        c11 = _mm256_loadu_si256((const __m256i *)(c + 1 * ldc + 8));
        c20 = _mm256_loadu_si256((const __m256i *)(c + 2 * ldc));
        c21 = _mm256_loadu_si256((const __m256i *)(c + 2 * ldc + 8));
        c30 = _mm256_loadu_si256((const __m256i *)(c + 3 * ldc));
        c31 = _mm256_loadu_si256((const __m256i *)(c + 3 * ldc + 8));
        c40 = _mm256_loadu_si256((const __m256i *)(c + 4 * ldc));
        c41 = _mm256_loadu_si256((const __m256i *)(c + 4 * ldc + 8));
        c50 = _mm256_loadu_si256((const __m256i *)(c + 5 * ldc));
        c51 = _mm256_loadu_si256((const __m256i *)(c + 5 * ldc + 8));
    }
    else {
        c00 = c01 = c10 = c11 = c20 = c21 = _mm256_setzero_si256();
        c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_si256();
    }
    for (ptrdiff_t p = 0; p < depth; ++p) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 8));
        __m256i x;
        x = _mm256_set1_epi32(a[0]);
        c00 = _mm256_add_epi32(c00, _mm256_mullo_epi32(x, b0));
        c01 = _mm256_add_epi32(c01, _mm256_mullo_epi32(x, b1));
        x = _mm256_set1_epi32(a[1]);
        c10 = _mm256_add_epi32(c10, _mm256_mullo_epi32(x, b0));
        c11 = _mm256_add_epi32(c11, _mm256_mullo_epi32(x, b1));
        x = _mm256_set1_epi32(a[2]);
        c20 = _mm256_add_epi32(c20, _mm256_mullo_epi32(x, b0));
        c21 = _mm256_add_epi32(c21, _mm256_mullo_epi32(x, b1));
        x = _mm256_set1_epi32(a[3]);
        c30 = _mm256_add_epi32(c30, _mm256_mullo_epi32(x, b0));
        c31 = _mm256_add_epi32(c31, _mm256_mullo_epi32(x, b1));
        x = _mm256_set1_epi32(a[4]);
        c40 = _mm256_add_epi32(c40, _mm256_mullo_epi32(x, b0));
        c41 = _mm256_add_epi32(c41, _mm256_mullo_epi32(x, b1));
        x = _mm256_set1_epi32(a[5]);
        c50 = _mm256_add_epi32(c50, _mm256_mullo_epi32(x, b0));
        c51 = _mm256_add_epi32(c51, _mm256_mullo_epi32(x, b1));
        a += 6;
        b += 16;
    }
    _mm256_storeu_si256((__m256i *)(c + 0 * ldc), c00);
    _mm256_storeu_si256((__m256i *)(c + 0 * ldc + 8), c01);
    _mm256_storeu_si256((__m256i *)(c + 1 * ldc), c10);
    _mm256_storeu_si256((__m256i *)(c + 1 * ldc + 8), c11);
    _mm256_storeu_si256((__m256i *)(c + 2 * ldc), c20);
    _mm256_storeu_si256((__m256i *)(c + 2 * ldc + 8), c21);
    _mm256_storeu_si256((__m256i *)(c + 3 * ldc), c30);
    _mm256_storeu_si256((__m256i *)(c + 3 * ldc + 8), c31);
    _mm256_storeu_si256((__m256i *)(c + 4 * ldc), c40);
    _mm256_storeu_si256((__m256i *)(c + 4 * ldc + 8), c41);
    _mm256_storeu_si256((__m256i *)(c + 5 * ldc), c50);
    _mm256_storeu_si256((__m256i *)(c + 5 * ldc + 8), c51);
}

GM_DEFINE_PACK_COPY(pack_i32, 4, 6, 16)
GM_DEFINE_STORE_LOAD_COPY(i32, 4)
GM_DEFINE_PLAIN_LOOP(direct_i32_scalar, uint32_t, get_u32, put_u32, GM_MADD_SUM)
GM_DEFINE_STREAM(stream_i32, uint32_t, __m256i, 8, __m256i, GM_MASK_LANES8,
                 _mm256_setzero_si256,
                 GM_LOADU_SI, GM_MLOAD_EPI32, GM_STOREU_SI, GM_SET1_EPI32,
                 GM_MADD_EPI32, _mm256_add_epi32, hsum_epi32, put_u32)

GM_DEFINE_TINY_SQUARE(tiny_i32, uint32_t, get_u32, put_u32)

static void direct_i32(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (gm_int_tiny(pr) && tiny_i32(pr, first, last)) {
        return;
    }
    if (gm_int_tiny(pr) || !stream_all(pr, first, last, 4, stream_i32_dots, NULL,
                    stream_i32_axpy, 0)) {
        direct_i32_scalar(pr, first, last);
    }
}

static const gm_kernel avx2_i32 = {
    .name = "avx2 i32 6x16",
    .mr = 6, .nr = 16,
    .mc = 144, .kc = 384, .nc = 4096,
    .packed_size = 4, .acc_size = 4,
    .c_mode = GM_C_SAME,
    .pack_a = pack_i32, .pack_b = pack_i32,
    .micro = micro_i32_6x16,
    .store = store_i32, .load = load_i32,
    .direct = direct_i32,
    .direct_max_flops = 2048.0,
};

/* ========================================================================
 * int8 / uint8 / int16 / uint16: vpmaddwd on int16 pairs.
 *
 * Each element is packed as int16 (int8 sign-extended; modulo 2^8 or 2^16
 * any extension gives the same result), and consecutive depth steps are
 * paired so that one vpmaddwd forms a0*b0 + a1*b1 in 32 bits, exact modulo
 * 2^32.  A panel of `panel` rows and `depth` steps takes exactly
 * panel * depth int16, as the driver expects:
 *   pair q (steps 2q, 2q+1), row i:  dst[2*(q*panel + i) + {0, 1}]
 *   odd last step, row i:            dst[(depth-1)*panel + i]
 * The micro-kernel takes the lone last step as a pair (a, 0).
 * ====================================================================== */
#define I16_MR 6
#define I16_NR 16

GM_INLINE int16_t load_i8_as_i16(const char *p)
{
    return (int16_t)(int8_t)get_u8(p);
}

GM_INLINE int16_t load_i16_as_i16(const char *p)
{
    return (int16_t)get_u16(p);
}

/* 16 stored elements (contiguous) widened to 16 x int16. */
GM_INLINE __m256i load16_i8(const char *p)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}

GM_INLINE __m256i load16_i16(const char *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

#define GM_DEFINE_PACK_PAIRS(suffix, ES, LOAD1, LOAD16)                      \
    GM_INLINE void pack_pairs_##suffix##_body(                               \
        const char *src, ptrdiff_t rs, ptrdiff_t ds, ptrdiff_t rows,         \
        ptrdiff_t depth, const int panel, int16_t *dst)                      \
    {                                                                        \
        const ptrdiff_t pairs = depth / 2;                                   \
        for (ptrdiff_t r0 = 0; r0 < rows; r0 += panel) {                     \
            const ptrdiff_t live = min_pd(panel, rows - r0);                 \
            const char *base = src + r0 * rs;                                \
            ptrdiff_t q = 0;                                                 \
            if (live == panel && rs == (ES) && panel == 16) {                \
                /* two rows of B side by side, interleaved */                \
                for (; q < pairs; ++q) {                                     \
                    const char *r = base + 2 * q * ds;                       \
                    __m256i x0 = LOAD16(r), x1 = LOAD16(r + ds);             \
                    __m256i lo = _mm256_unpacklo_epi16(x0, x1);              \
                    __m256i hi = _mm256_unpackhi_epi16(x0, x1);              \
                    _mm256_storeu_si256((__m256i *)(dst + 32 * q),           \
                                        _mm256_permute2x128_si256(lo, hi, 0x20)); \
                    _mm256_storeu_si256((__m256i *)(dst + 32 * q + 16),      \
                                        _mm256_permute2x128_si256(lo, hi, 0x31)); \
                }                                                            \
            }                                                                \
            else if (live == panel && ds == (ES)) {                          \
                /* rows of A: a pair is two neighbours in memory */          \
                for (int i = 0; i < panel; ++i) {                            \
                    const char *r = base + i * rs;                           \
                    for (ptrdiff_t qq = 0; qq < pairs; ++qq) {               \
                        dst[2 * (qq * panel + i)] = LOAD1(r + 2 * qq * (ES)); \
                        dst[2 * (qq * panel + i) + 1] =                      \
                            LOAD1(r + (2 * qq + 1) * (ES));                  \
                    }                                                        \
                }                                                            \
                q = pairs;                                                   \
            }                                                                \
            for (; q < pairs; ++q) {                                         \
                int16_t *d = dst + 2 * q * panel;                            \
                ptrdiff_t i = 0;                                             \
                for (; i < live; ++i) {                                      \
                    const char *e = base + i * rs + 2 * q * ds;              \
                    d[2 * i] = LOAD1(e);                                     \
                    d[2 * i + 1] = LOAD1(e + ds);                            \
                }                                                            \
                for (; i < panel; ++i) {                                     \
                    d[2 * i] = d[2 * i + 1] = 0;                             \
                }                                                            \
            }                                                                \
            if (depth & 1) {                                                 \
                int16_t *d = dst + (depth - 1) * panel;                      \
                ptrdiff_t i = 0;                                             \
                for (; i < live; ++i) {                                      \
                    d[i] = LOAD1(base + i * rs + (depth - 1) * ds);          \
                }                                                            \
                for (; i < panel; ++i) {                                     \
                    d[i] = 0;                                                \
                }                                                            \
            }                                                                \
            dst += depth * panel;                                            \
        }                                                                    \
    }                                                                        \
    static void pack_pairs_##suffix(const char *src, ptrdiff_t rs,           \
                                    ptrdiff_t ds, ptrdiff_t rows,            \
                                    ptrdiff_t depth, int panel, void *dst)   \
    {                                                                        \
        if (panel == I16_MR) {                                               \
            pack_pairs_##suffix##_body(src, rs, ds, rows, depth, I16_MR,     \
                                       (int16_t *)dst);                      \
        }                                                                    \
        else if (panel == I16_NR) {                                          \
            pack_pairs_##suffix##_body(src, rs, ds, rows, depth, I16_NR,     \
                                       (int16_t *)dst);                      \
        }                                                                    \
        else {                                                               \
            pack_pairs_##suffix##_body(src, rs, ds, rows, depth, panel,      \
                                       (int16_t *)dst);                      \
        }                                                                    \
    }

GM_DEFINE_PACK_PAIRS(i8, 1, load_i8_as_i16, load16_i8)
GM_DEFINE_PACK_PAIRS(i16, 2, load_i16_as_i16, load16_i16)

/* The 32-bit word holding one (a0, a1) pair. */
GM_INLINE int32_t pair_at(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void micro_pairs_6x16(ptrdiff_t depth, const void *a_panel,
                           const void *b_panel, void *c_, ptrdiff_t ldc,
                           int accumulate)
{
    const int16_t *a = (const int16_t *)a_panel;
    const int16_t *b = (const int16_t *)b_panel;
    int32_t *c = (int32_t *)c_;
    __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (accumulate) {
        c00 = _mm256_loadu_si256((const __m256i *)(c + 0 * ldc));
        c01 = _mm256_loadu_si256((const __m256i *)(c + 0 * ldc + 8));
        c10 = _mm256_loadu_si256((const __m256i *)(c + 1 * ldc));
        c11 = _mm256_loadu_si256((const __m256i *)(c + 1 * ldc + 8));
        c20 = _mm256_loadu_si256((const __m256i *)(c + 2 * ldc));
        c21 = _mm256_loadu_si256((const __m256i *)(c + 2 * ldc + 8));
        c30 = _mm256_loadu_si256((const __m256i *)(c + 3 * ldc));
        c31 = _mm256_loadu_si256((const __m256i *)(c + 3 * ldc + 8));
        c40 = _mm256_loadu_si256((const __m256i *)(c + 4 * ldc));
        c41 = _mm256_loadu_si256((const __m256i *)(c + 4 * ldc + 8));
        c50 = _mm256_loadu_si256((const __m256i *)(c + 5 * ldc));
        c51 = _mm256_loadu_si256((const __m256i *)(c + 5 * ldc + 8));
    }
    else {
        c00 = c01 = c10 = c11 = c20 = c21 = _mm256_setzero_si256();
        c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_si256();
    }
    for (ptrdiff_t q = depth / 2; q > 0; --q) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        __m256i x;
        x = _mm256_set1_epi32(pair_at(a + 0));
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(pair_at(a + 2));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(pair_at(a + 4));
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(pair_at(a + 6));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(pair_at(a + 8));
        c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(x, b0));
        c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(pair_at(a + 10));
        c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(x, b0));
        c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(x, b1));
        a += 12;
        b += 32;
    }
    if (depth & 1) {
        /* B widened to (b, sign) pairs, A as (a, 0): the sum is a * b. */
        const __m256i b0 = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)b));
        const __m256i b1 = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(b + 8)));
        __m256i x;
        x = _mm256_set1_epi32((int32_t)(uint16_t)a[0]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32((int32_t)(uint16_t)a[1]);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32((int32_t)(uint16_t)a[2]);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32((int32_t)(uint16_t)a[3]);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32((int32_t)(uint16_t)a[4]);
        c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(x, b0));
        c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32((int32_t)(uint16_t)a[5]);
        c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(x, b0));
        c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(x, b1));
    }
    _mm256_storeu_si256((__m256i *)(c + 0 * ldc), c00);
    _mm256_storeu_si256((__m256i *)(c + 0 * ldc + 8), c01);
    _mm256_storeu_si256((__m256i *)(c + 1 * ldc), c10);
    _mm256_storeu_si256((__m256i *)(c + 1 * ldc + 8), c11);
    _mm256_storeu_si256((__m256i *)(c + 2 * ldc), c20);
    _mm256_storeu_si256((__m256i *)(c + 2 * ldc + 8), c21);
    _mm256_storeu_si256((__m256i *)(c + 3 * ldc), c30);
    _mm256_storeu_si256((__m256i *)(c + 3 * ldc + 8), c31);
    _mm256_storeu_si256((__m256i *)(c + 4 * ldc), c40);
    _mm256_storeu_si256((__m256i *)(c + 4 * ldc + 8), c41);
    _mm256_storeu_si256((__m256i *)(c + 5 * ldc), c50);
    _mm256_storeu_si256((__m256i *)(c + 5 * ldc + 8), c51);
}

/* int32 tile <-> int8 / int16 storage: truncation wraps exactly. */
#define GM_DEFINE_STORE_LOAD_NARROW(suffix, GET, PUT, NARROW_T)             \
    static void store_##suffix(const void *tile_, ptrdiff_t rows,           \
                               ptrdiff_t cols, ptrdiff_t tile_cols,         \
                               char *dst, ptrdiff_t rs, ptrdiff_t cs)       \
    {                                                                       \
        const uint32_t *tile = (const uint32_t *)tile_;                     \
        for (ptrdiff_t i = 0; i < rows; ++i) {                              \
            for (ptrdiff_t j = 0; j < cols; ++j) {                          \
                PUT(dst + i * rs + j * cs, (NARROW_T)tile[i * tile_cols + j]); \
            }                                                               \
        }                                                                   \
    }                                                                       \
    static void load_##suffix(void *tile_, ptrdiff_t rows, ptrdiff_t cols,  \
                              ptrdiff_t tile_cols, const char *src,         \
                              ptrdiff_t rs, ptrdiff_t cs)                   \
    {                                                                       \
        uint32_t *tile = (uint32_t *)tile_;                                 \
        for (ptrdiff_t i = 0; i < rows; ++i) {                              \
            for (ptrdiff_t j = 0; j < cols; ++j) {                          \
                tile[i * tile_cols + j] = GET(src + i * rs + j * cs);       \
            }                                                               \
        }                                                                   \
    }

GM_DEFINE_STORE_LOAD_NARROW(i8, get_u8, put_u8, uint8_t)
GM_DEFINE_STORE_LOAD_NARROW(i16, get_u16, put_u16, uint16_t)

#define GET_U8_32(p) ((uint32_t)get_u8(p))
#define GET_U16_32(p) ((uint32_t)get_u16(p))
#define PUT_U8_32(p, v) put_u8((p), (uint8_t)(v))
#define PUT_U16_32(p, v) put_u16((p), (uint16_t)(v))
GM_DEFINE_PLAIN_LOOP(direct_i8_plain, uint32_t, GET_U8_32, PUT_U8_32, GM_MADD_SUM)
GM_DEFINE_PLAIN_LOOP(direct_i16_plain, uint32_t, GET_U16_32, PUT_U16_32, GM_MADD_SUM)
GM_DEFINE_TINY_SQUARE(tiny_i8, uint32_t, GET_U8_32, PUT_U8_32)
GM_DEFINE_TINY_SQUARE(tiny_i16, uint32_t, GET_U16_32, PUT_U16_32)

/* Rows of C across B's contiguous columns, a 32-bit sum per column, which
 * the compiler vectorizes over the columns; the plain loop reads B down
 * its columns and ran no faster than NumPy's (int8 stacks (1000, 8, 8) @
 * (1000, 8, 8): 262 us on one thread, NumPy 258).  Wrap-around sums do
 * not depend on the order.  Returns 0 for other layouts. */
#define NARROW_ROWS_MIN_COLS 16
#define NARROW_ROWS_MAX_COLS 64

#define DEFINE_NARROW_ROWS(NAME, T, GET, PUT)                                 \
    static int NAME(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)    \
    {                                                                         \
        GM_PROBLEM_LOCALS(pr);                                                \
        if (bcs != (ptrdiff_t)sizeof(T) || ccs != (ptrdiff_t)sizeof(T)        \
                || n < NARROW_ROWS_MIN_COLS || n > NARROW_ROWS_MAX_COLS) {    \
            return 0;                                                         \
        }                                                                     \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *a = pr->a.data + s * pr->a.batch_stride;              \
            const char *b = pr->b.data + s * pr->b.batch_stride;              \
            char *c = pr->c.data + s * pr->c.batch_stride;                    \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                uint32_t sums[NARROW_ROWS_MAX_COLS] = {0};                    \
                for (ptrdiff_t p = 0; p < k; ++p) {                           \
                    const uint32_t x = GET(a + i * ars + p * acs);            \
                    const char *row = b + p * brs;                            \
                    for (ptrdiff_t j = 0; j < n; ++j) {                       \
                        sums[j] += x * GET(row + j * (ptrdiff_t)sizeof(T));   \
                    }                                                         \
                }                                                             \
                for (ptrdiff_t j = 0; j < n; ++j) {                           \
                    PUT(c + i * crs + j * (ptrdiff_t)sizeof(T), sums[j]);     \
                }                                                             \
            }                                                                 \
        }                                                                     \
        return 1;                                                             \
    }

DEFINE_NARROW_ROWS(rows_i8, uint8_t, GET_U8_32, PUT_U8_32)
DEFINE_NARROW_ROWS(rows_i16, uint16_t, GET_U16_32, PUT_U16_32)

static void direct_i8(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (!(gm_int_tiny(pr) && tiny_i8(pr, first, last)) && !rows_i8(pr, first, last)) {
        direct_i8_plain(pr, first, last);
    }
}

static void direct_i16(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (!(gm_int_tiny(pr) && tiny_i16(pr, first, last)) && !rows_i16(pr, first, last)) {
        direct_i16_plain(pr, first, last);
    }
}

static const gm_kernel avx2_i8 = {
    .name = "avx2 i8 6x16 (int16 pairs)",
    .mr = I16_MR, .nr = I16_NR,
    .mc = 144, .kc = 768, .nc = 4096,
    .packed_size = 2, .acc_size = 4,
    .c_mode = GM_C_WRAP,
    .pack_a = pack_pairs_i8, .pack_b = pack_pairs_i8,
    .micro = micro_pairs_6x16,
    .store = store_i8, .load = load_i8,
    .direct = direct_i8,
    .direct_max_flops = 2048.0,
};

static const gm_kernel avx2_i16 = {
    .name = "avx2 i16 6x16 (int16 pairs)",
    .mr = I16_MR, .nr = I16_NR,
    .mc = 144, .kc = 768, .nc = 4096,
    .packed_size = 2, .acc_size = 4,
    .c_mode = GM_C_WRAP,
    .pack_a = pack_pairs_i16, .pack_b = pack_pairs_i16,
    .micro = micro_pairs_6x16,
    .store = store_i16, .load = load_i16,
    .direct = direct_i16,
    .direct_max_flops = 2048.0,
};

/* ========================================================================
 * int64 / uint64: 4 x 8 tile.  AVX2 has no 64-bit multiply, so each
 * product is built from 32 x 32 -> 64 pieces (vpmuludq):
 *     a * b = lo(a) lo(b) + ((lo(a) hi(b) + hi(a) lo(b)) << 32)  mod 2^64.
 * ====================================================================== */
GM_INLINE __m256i mul_i64(__m256i a, __m256i a_hi, __m256i b, __m256i b_hi)
{
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(a, b_hi),
                                     _mm256_mul_epu32(a_hi, b));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b),
                            _mm256_slli_epi64(cross, 32));
}

static void micro_i64_4x8(ptrdiff_t depth, const void *a_panel,
                          const void *b_panel, void *c_, ptrdiff_t ldc,
                          int accumulate)
{
    const int64_t *a = (const int64_t *)a_panel;
    const int64_t *b = (const int64_t *)b_panel;
    int64_t *c = (int64_t *)c_;
    __m256i acc[4][2];
    for (int i = 0; i < 4; ++i) {
        if (accumulate) {
            acc[i][0] = _mm256_loadu_si256((const __m256i *)(c + i * ldc));
            acc[i][1] = _mm256_loadu_si256((const __m256i *)(c + i * ldc + 4));
        }
        else {
            acc[i][0] = acc[i][1] = _mm256_setzero_si256();
        }
    }
    for (ptrdiff_t p = 0; p < depth; ++p) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 4));
        const __m256i b0h = _mm256_srli_epi64(b0, 32);
        const __m256i b1h = _mm256_srli_epi64(b1, 32);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            const __m256i x = _mm256_set1_epi64x(a[i]);
            const __m256i xh = _mm256_srli_epi64(x, 32);
            acc[i][0] = _mm256_add_epi64(acc[i][0], mul_i64(x, xh, b0, b0h));
            acc[i][1] = _mm256_add_epi64(acc[i][1], mul_i64(x, xh, b1, b1h));
        }
        a += 4;
        b += 8;
    }
    for (int i = 0; i < 4; ++i) {
        _mm256_storeu_si256((__m256i *)(c + i * ldc), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(c + i * ldc + 4), acc[i][1]);
    }
}

GM_DEFINE_PACK_COPY(pack_i64, 8, 4, 8)
GM_DEFINE_STORE_LOAD_COPY(i64, 8)
GM_DEFINE_PLAIN_LOOP(direct_i64_scalar, uint64_t, get_u64, put_u64, GM_MADD_SUM)

GM_INLINE __m256i madd_i64(__m256i x, __m256i y, __m256i t)
{
    return _mm256_add_epi64(t, mul_i64(x, _mm256_srli_epi64(x, 32), y,
                                       _mm256_srli_epi64(y, 32)));
}
GM_DEFINE_STREAM(stream_i64, uint64_t, __m256i, 4, __m256i, GM_MASK_LANES4,
                 _mm256_setzero_si256,
                 GM_LOADU_SI, GM_MLOAD_EPI64, GM_STOREU_SI, GM_SET1_EPI64,
                 madd_i64, _mm256_add_epi64, hsum_epi64, put_u64)

GM_DEFINE_TINY_SQUARE(tiny_i64, uint64_t, get_u64, put_u64)

static void direct_i64(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (gm_int_tiny(pr) && tiny_i64(pr, first, last)) {
        return;
    }
    if (gm_int_tiny(pr) || !stream_all(pr, first, last, 8, stream_i64_dots, NULL,
                    stream_i64_axpy, 0)) {
        direct_i64_scalar(pr, first, last);
    }
}

static const gm_kernel avx2_i64 = {
    .name = "avx2 i64 4x8",
    .mr = 4, .nr = 8,
    .mc = 96, .kc = 256, .nc = 2048,
    .packed_size = 8, .acc_size = 8,
    .c_mode = GM_C_SAME,
    .pack_a = pack_i64, .pack_b = pack_i64,
    .micro = micro_i64_4x8,
    .store = store_i64, .load = load_i64,
    .direct = direct_i64,
    .direct_max_flops = 2048.0,
};

/* ========================================================================
 * Complex: A and B packed as stored (re, im) pairs.  For each row the real
 * and the imaginary part of A are broadcast and multiply whole B vectors
 * into two accumulators, R = sum ar * (br, bi) and I = sum ai * (br, bi);
 * at the end C = R +- swap(I) = (ar br - ai bi, ar bi + ai br) with one
 * vaddsubpd.  No conjugation.
 * ====================================================================== */

/* complex128: 3 x 4 tile (12 accumulators). */
static void micro_c128_3x4(ptrdiff_t depth, const void *a_panel,
                           const void *b_panel, void *c_, ptrdiff_t ldc,
                           int accumulate)
{
    const double *a = (const double *)a_panel;
    const double *b = (const double *)b_panel;
    double *c = (double *)c_;
    const ptrdiff_t ld = 2 * ldc;   /* reals per row of C */
    __m256d r00, r01, r10, r11, r20, r21, i00, i01, i10, i11, i20, i21;
    if (accumulate) {
        r00 = _mm256_loadu_pd(c + 0 * ld); r01 = _mm256_loadu_pd(c + 0 * ld + 4);
        r10 = _mm256_loadu_pd(c + 1 * ld); r11 = _mm256_loadu_pd(c + 1 * ld + 4);
        r20 = _mm256_loadu_pd(c + 2 * ld); r21 = _mm256_loadu_pd(c + 2 * ld + 4);
    }
    else {
        r00 = r01 = r10 = r11 = r20 = r21 = _mm256_setzero_pd();
    }
    i00 = i01 = i10 = i11 = i20 = i21 = _mm256_setzero_pd();
    for (ptrdiff_t p = 0; p < depth; ++p) {
        const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
        __m256d x;
        x = _mm256_broadcast_sd(a + 0);
        r00 = _mm256_fmadd_pd(x, b0, r00); r01 = _mm256_fmadd_pd(x, b1, r01);
        x = _mm256_broadcast_sd(a + 1);
        i00 = _mm256_fmadd_pd(x, b0, i00); i01 = _mm256_fmadd_pd(x, b1, i01);
        x = _mm256_broadcast_sd(a + 2);
        r10 = _mm256_fmadd_pd(x, b0, r10); r11 = _mm256_fmadd_pd(x, b1, r11);
        x = _mm256_broadcast_sd(a + 3);
        i10 = _mm256_fmadd_pd(x, b0, i10); i11 = _mm256_fmadd_pd(x, b1, i11);
        x = _mm256_broadcast_sd(a + 4);
        r20 = _mm256_fmadd_pd(x, b0, r20); r21 = _mm256_fmadd_pd(x, b1, r21);
        x = _mm256_broadcast_sd(a + 5);
        i20 = _mm256_fmadd_pd(x, b0, i20); i21 = _mm256_fmadd_pd(x, b1, i21);
        a += 6;
        b += 8;
    }
    _mm256_storeu_pd(c + 0 * ld, _mm256_addsub_pd(r00, _mm256_permute_pd(i00, 0x5)));
    _mm256_storeu_pd(c + 0 * ld + 4, _mm256_addsub_pd(r01, _mm256_permute_pd(i01, 0x5)));
    _mm256_storeu_pd(c + 1 * ld, _mm256_addsub_pd(r10, _mm256_permute_pd(i10, 0x5)));
    _mm256_storeu_pd(c + 1 * ld + 4, _mm256_addsub_pd(r11, _mm256_permute_pd(i11, 0x5)));
    _mm256_storeu_pd(c + 2 * ld, _mm256_addsub_pd(r20, _mm256_permute_pd(i20, 0x5)));
    _mm256_storeu_pd(c + 2 * ld + 4, _mm256_addsub_pd(r21, _mm256_permute_pd(i21, 0x5)));
}

/* complex64: 3 x 8 tile (12 accumulators). */
static void micro_c64_3x8(ptrdiff_t depth, const void *a_panel,
                           const void *b_panel, void *c_, ptrdiff_t ldc,
                           int accumulate)
{
    const float *a = (const float *)a_panel;
    const float *b = (const float *)b_panel;
    float *c = (float *)c_;
    const ptrdiff_t ld = 2 * ldc;   /* reals per row of C */
    __m256 r00, r01, r10, r11, r20, r21, i00, i01, i10, i11, i20, i21;
    if (accumulate) {
        r00 = _mm256_loadu_ps(c + 0 * ld); r01 = _mm256_loadu_ps(c + 0 * ld + 8);
        r10 = _mm256_loadu_ps(c + 1 * ld); r11 = _mm256_loadu_ps(c + 1 * ld + 8);
        r20 = _mm256_loadu_ps(c + 2 * ld); r21 = _mm256_loadu_ps(c + 2 * ld + 8);
    }
    else {
        r00 = r01 = r10 = r11 = r20 = r21 = _mm256_setzero_ps();
    }
    i00 = i01 = i10 = i11 = i20 = i21 = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < depth; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a + 0);
        r00 = _mm256_fmadd_ps(x, b0, r00); r01 = _mm256_fmadd_ps(x, b1, r01);
        x = _mm256_broadcast_ss(a + 1);
        i00 = _mm256_fmadd_ps(x, b0, i00); i01 = _mm256_fmadd_ps(x, b1, i01);
        x = _mm256_broadcast_ss(a + 2);
        r10 = _mm256_fmadd_ps(x, b0, r10); r11 = _mm256_fmadd_ps(x, b1, r11);
        x = _mm256_broadcast_ss(a + 3);
        i10 = _mm256_fmadd_ps(x, b0, i10); i11 = _mm256_fmadd_ps(x, b1, i11);
        x = _mm256_broadcast_ss(a + 4);
        r20 = _mm256_fmadd_ps(x, b0, r20); r21 = _mm256_fmadd_ps(x, b1, r21);
        x = _mm256_broadcast_ss(a + 5);
        i20 = _mm256_fmadd_ps(x, b0, i20); i21 = _mm256_fmadd_ps(x, b1, i21);
        a += 6;
        b += 16;
    }
    _mm256_storeu_ps(c + 0 * ld, _mm256_addsub_ps(r00, _mm256_permute_ps(i00, 0xB1)));
    _mm256_storeu_ps(c + 0 * ld + 8, _mm256_addsub_ps(r01, _mm256_permute_ps(i01, 0xB1)));
    _mm256_storeu_ps(c + 1 * ld, _mm256_addsub_ps(r10, _mm256_permute_ps(i10, 0xB1)));
    _mm256_storeu_ps(c + 1 * ld + 8, _mm256_addsub_ps(r11, _mm256_permute_ps(i11, 0xB1)));
    _mm256_storeu_ps(c + 2 * ld, _mm256_addsub_ps(r20, _mm256_permute_ps(i20, 0xB1)));
    _mm256_storeu_ps(c + 2 * ld + 8, _mm256_addsub_ps(r21, _mm256_permute_ps(i21, 0xB1)));
}

GM_DEFINE_PACK_COPY(pack_c128, 16, 3, 4)
GM_DEFINE_PACK_COPY(pack_c64, 8, 3, 8)
GM_DEFINE_STORE_LOAD_COPY(c128, 16)
GM_DEFINE_STORE_LOAD_COPY(c64, 8)

#define GM_SWAP_PD(v) _mm256_permute_pd((v), 0x5)
#define GM_SWAP_PS(v) _mm256_permute_ps((v), 0xB1)
GM_DEFINE_STREAM_COMPLEX(stream_c128, double, __m256d, 4, __m256i, GM_MASK_LANES4,
                         _mm256_setzero_pd,
                         GM_LOADU_PD, GM_MLOAD_PD, GM_STOREU_PD, GM_MSTORE_PD,
                         GM_SET1_PD,
                         GM_FMA_PD, _mm256_mul_pd, _mm256_add_pd, GM_SWAP_PD,
                         _mm256_addsub_pd, hsum_pd,
                         _mm256_setr_pd(1.0, -1.0, 1.0, -1.0))
GM_DEFINE_STREAM_COMPLEX(stream_c64, float, __m256, 8, __m256i, GM_MASK_LANES8,
                         _mm256_setzero_ps,
                         GM_LOADU_PS, GM_MLOAD_PS, GM_STOREU_PS, GM_MSTORE_PS,
                         GM_SET1_PS,
                         GM_FMA_PS, _mm256_mul_ps, _mm256_add_ps, GM_SWAP_PS,
                         _mm256_addsub_ps, hsum_ps,
                         _mm256_setr_ps(1.0f, -1.0f, 1.0f, -1.0f, 1.0f, -1.0f,
                                        1.0f, -1.0f))

#define GM_DEFINE_DIRECT_COMPLEX(name, REAL_T)                              \
    static void name(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last) \
    {                                                                       \
        for (ptrdiff_t s = first; s < last; ++s) {                          \
            const char *a = pr->a.data + s * pr->a.batch_stride;            \
            const char *b = pr->b.data + s * pr->b.batch_stride;            \
            char *c = pr->c.data + s * pr->c.batch_stride;                  \
            for (ptrdiff_t i = 0; i < pr->m; ++i) {                         \
                for (ptrdiff_t j = 0; j < pr->n; ++j) {                     \
                    REAL_T sum[2] = {0, 0};                                 \
                    for (ptrdiff_t p = 0; p < pr->k; ++p) {                 \
                        REAL_T x[2], y[2];                                  \
                        memcpy(x, a + i * pr->a.row_stride                  \
                                  + p * pr->a.col_stride, sizeof x);        \
                        memcpy(y, b + p * pr->b.row_stride                  \
                                  + j * pr->b.col_stride, sizeof y);        \
                        sum[0] += x[0] * y[0] - x[1] * y[1];                \
                        sum[1] += x[0] * y[1] + x[1] * y[0];                \
                    }                                                       \
                    memcpy(c + i * pr->c.row_stride + j * pr->c.col_stride, \
                           sum, sizeof sum);                                \
                }                                                           \
            }                                                               \
        }                                                                   \
    }

GM_DEFINE_DIRECT_COMPLEX(direct_c128_scalar, double)
GM_DEFINE_DIRECT_COMPLEX(direct_c64_scalar, float)

/* C = conj(A) @ B: streamed where the layout allows, else the portable
 * loop. */
static void direct_conj_c128(const gm_problem *pr, ptrdiff_t first,
                           ptrdiff_t last)
{
    if (!stream_c128_conj_all(pr, first, last)) {
        gm_generic_kernels[GM_FAM_C128]->direct_conj(pr, first, last);
    }
}

static void direct_c128(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (!stream_all(pr, first, last, 16, stream_c128_dots, NULL,
                    stream_c128_axpy, 1)) {
        direct_c128_scalar(pr, first, last);
    }
}

/* C = conj(A) @ B: streamed where the layout allows, else the portable
 * loop. */
static void direct_conj_c64(const gm_problem *pr, ptrdiff_t first,
                           ptrdiff_t last)
{
    if (!stream_c64_conj_all(pr, first, last)) {
        gm_generic_kernels[GM_FAM_C64]->direct_conj(pr, first, last);
    }
}

static void direct_c64(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (!stream_all(pr, first, last, 8, stream_c64_dots, NULL,
                    stream_c64_axpy, 1)) {
        direct_c64_scalar(pr, first, last);
    }
}

static const gm_kernel avx2_c128 = {
    .name = "avx2 c128 3x4",
    .mr = 3, .nr = 4,
    .mc = 96, .kc = 256, .nc = 2048,
    .packed_size = 16, .acc_size = 16,
    .c_mode = GM_C_SAME,
    .pack_a = pack_c128, .pack_b = pack_c128,
    .micro = micro_c128_3x4,
    .store = store_c128, .load = load_c128,
    .direct = direct_c128,
    .direct_conj = direct_conj_c128,
    .direct_max_flops = 1024.0,
    .direct_max_rows = 4,
    /* up to 16 rows direct whatever the size of B: packing all of a
     * large B for so few rows cost more than streaming it once per 4 */
    .direct_shallow_rows = 16, .direct_shallow_depth = 4096,
    .direct_max_cols = 12,
};

static const gm_kernel avx2_c64 = {
    .name = "avx2 c64 3x8",
    .mr = 3, .nr = 8,
    .mc = 96, .kc = 256, .nc = 4096,
    .packed_size = 8, .acc_size = 8,
    .c_mode = GM_C_SAME,
    .pack_a = pack_c64, .pack_b = pack_c64,
    .micro = micro_c64_3x8,
    .store = store_c64, .load = load_c64,
    .direct = direct_c64,
    .direct_conj = direct_conj_c64,
    .direct_max_flops = 1024.0,
    .direct_max_rows = 4,
    /* up to 16 rows direct whatever the size of B: packing all of a
     * large B for so few rows cost more than streaming it once per 4 */
    .direct_shallow_rows = 16, .direct_shallow_depth = 4096,
    .direct_max_cols = 12,
};

const gm_kernel_table gm_avx2_kernels = {
    [GM_FAM_I8] = &avx2_i8,
    [GM_FAM_I16] = &avx2_i16,
    [GM_FAM_I32] = &avx2_i32,
    [GM_FAM_I64] = &avx2_i64,
    [GM_FAM_F16] = &avx2_f16,
    [GM_FAM_F32] = &avx2_f32,
    [GM_FAM_F64] = &avx2_f64,
    [GM_FAM_C64] = &avx2_c64,
    [GM_FAM_C128] = &avx2_c128,
};
