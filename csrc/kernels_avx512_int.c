/*
 * x86-64 AVX-512 (F, BW, VL, DQ) kernels for bool, the integers and the
 * complex types.  Compiled with those instructions enabled; only called
 * after CPU detection says they run here.
 *
 * Every micro-kernel keeps its C tile in 24 zmm accumulators (a 12- or
 * 6-row tile, two vectors of B wide), leaving registers for two B vectors
 * and a broadcast.  Integer arithmetic only uses wrap-around instructions
 * (vpmaddwd / vpdpwssd, vpmulld, vpmullq), so results are exact modulo
 * 2^bits like NumPy's.
 */
#include <immintrin.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "gm_blocks.h"
#include "gm_kernel.h"

GM_DEFINE_ACCESS(u8, uint8_t)
GM_DEFINE_ACCESS(u16, uint16_t)
GM_DEFINE_ACCESS(u32, uint32_t)
GM_DEFINE_ACCESS(u64, uint64_t)

static inline ptrdiff_t min_pd(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

/* Horizontal sums that wrap: the compiler's reduce intrinsics add the
 * last lanes in signed C arithmetic, where overflow is undefined. */
static inline uint64_t hsum_u64(__m512i v)
{
    uint64_t lanes[8], sum = 0;
    _mm512_storeu_si512(lanes, v);
    for (int i = 0; i < 8; ++i) {
        sum += lanes[i];
    }
    return sum;
}

static inline uint32_t hsum_u32(__m512i v)
{
    uint32_t lanes[16], sum = 0;
    _mm512_storeu_si512(lanes, v);
    for (int i = 0; i < 16; ++i) {
        sum += lanes[i];
    }
    return sum;
}

/* Mask of the first n (0 <= n <= 16) lanes. */
static inline __mmask16 first_lanes16(ptrdiff_t n)
{
    return (__mmask16)((1u << (n < 0 ? 0 : n > 16 ? 16 : n)) - 1u);
}

/* The streaming forms of the direct path (gm_stream.h): column blocks
 * of this many bytes of C, up to this many rows at a time. */
#define GM_AXPY_BLOCK_BYTES 4096
#define GM_AXPY_MAX_ROWS 4
#define GM_ROWS_GROUP 4

/* Up to this many rows of a B of up to GM_ROWS_FETCH_B_BYTES also go
 * direct, the first group of rows fetching B's strips ahead: packing B
 * costs more than those rows' products.  Intel Xeon, 2 threads, us,
 * packed -> direct: complex128 (5 x 531) @ (531 x 275) 244 -> 101; (8 x
 * 531) @ (531 x 275) 333 -> 173; (16 x 531) @ (531 x 275) 391 -> 300;
 * complex64 (8 x 700) @ (700 x 400) 288 -> 140; (16 x 300) @ (300 x 600)
 * 232 -> 157; (32 x 531) @ (531 x 275) 341 -> 264.  More rows lost
 * (complex128 (64 x 300) @ (300 x 400) 754 -> 886). */
#define GM_CPLX_MID_ROWS 32
#define GM_ROWS_FETCH_MAX_ROWS GM_CPLX_MID_ROWS
#include "gm_stream.h"
#include "gm_short_dots.h"

static inline double get_f64(const char *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline float get_f32(const char *p)
{
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define MASK8_OF(n) ((__mmask8)first_lanes16(n))
#define LOADU_512(p) _mm512_loadu_si512((const void *)(p))
#define STOREU_512(p, v) _mm512_storeu_si512((void *)(p), (v))
#define MLOAD_EPI32(p, m) _mm512_maskz_loadu_epi32((m), (const void *)(p))
#define MLOAD_EPI64(p, m) _mm512_maskz_loadu_epi64((m), (const void *)(p))
#define SET1_EPI32_AT(p) _mm512_set1_epi32((int)get_u32(p))
#define SET1_EPI64_AT(p) _mm512_set1_epi64((long long)get_u64(p))
#define MADD_EPI32(x, y, t) _mm512_add_epi32((t), _mm512_mullo_epi32((x), (y)))
#define MADD_EPI64(x, y, t) _mm512_add_epi64((t), _mm512_mullo_epi64((x), (y)))
#define HSUM_EPI32(v) hsum_u32(v)
#define HSUM_EPI64(v) hsum_u64(v)
GM_DEFINE_STREAM(stream_i32, uint32_t, __m512i, 16, __mmask16, first_lanes16,
                 _mm512_setzero_si512, LOADU_512, MLOAD_EPI32, STOREU_512,
                 SET1_EPI32_AT, MADD_EPI32, _mm512_add_epi32, HSUM_EPI32,
                 put_u32)
GM_DEFINE_STREAM(stream_i64, uint64_t, __m512i, 8, __mmask8, MASK8_OF,
                 _mm512_setzero_si512, LOADU_512, MLOAD_EPI64, STOREU_512,
                 SET1_EPI64_AT, MADD_EPI64, _mm512_add_epi64, HSUM_EPI64,
                 put_u64)

#define LOADU_PD(p) _mm512_loadu_pd((const void *)(p))
#define MLOAD_PD(p, m) _mm512_maskz_loadu_pd((m), (const void *)(p))
#define STOREU_PD(p, v) _mm512_storeu_pd((void *)(p), (v))
#define MSTORE_PD(p, m, v) _mm512_mask_storeu_pd((void *)(p), (m), (v))
#define SET1_PD_AT(p) _mm512_set1_pd(get_f64(p))
#define LOADU_PS(p) _mm512_loadu_ps((const void *)(p))
#define MLOAD_PS(p, m) _mm512_maskz_loadu_ps((m), (const void *)(p))
#define STOREU_PS(p, v) _mm512_storeu_ps((void *)(p), (v))
#define MSTORE_PS(p, m, v) _mm512_mask_storeu_ps((void *)(p), (m), (v))
#define SET1_PS_AT(p) _mm512_set1_ps(get_f32(p))
#define SWAP_PAIRS_PD(v) _mm512_permute_pd((v), 0x55)
#define SWAP_PAIRS_PS(v) _mm512_permute_ps((v), 0xB1)
#define ADDSUB_PD(x, y) _mm512_fmaddsub_pd((x), _mm512_set1_pd(1.0), (y))
#define ADDSUB_PS(x, y) _mm512_fmaddsub_ps((x), _mm512_set1_ps(1.0f), (y))
GM_DEFINE_STREAM_COMPLEX(stream_c128, double, __m512d, 8, __mmask8, MASK8_OF,
                         _mm512_setzero_pd, LOADU_PD, MLOAD_PD, STOREU_PD,
                         MSTORE_PD, SET1_PD_AT, _mm512_fmadd_pd, _mm512_mul_pd,
                         _mm512_add_pd, SWAP_PAIRS_PD, ADDSUB_PD,
                         _mm512_reduce_add_pd,
                         _mm512_setr_pd(1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0,
                                        -1.0))
GM_DEFINE_STREAM_COMPLEX(stream_c64, float, __m512, 16, __mmask16,
                         first_lanes16, _mm512_setzero_ps, LOADU_PS, MLOAD_PS,
                         STOREU_PS, MSTORE_PS, SET1_PS_AT, _mm512_fmadd_ps, _mm512_mul_ps,
                         _mm512_add_ps, SWAP_PAIRS_PS, ADDSUB_PS,
                         _mm512_reduce_add_ps,
                         _mm512_setr_ps(1.0f, -1.0f, 1.0f, -1.0f, 1.0f, -1.0f,
                                        1.0f, -1.0f, 1.0f, -1.0f, 1.0f, -1.0f,
                                        1.0f, -1.0f, 1.0f, -1.0f))

/* ======================================================================
 * bool, int8, int16: 16-bit products summed in 32 bits (vpmaddwd).
 *
 * Elements are packed as int16 (int8 sign-extended, bool as 0/1) with two
 * consecutive depth steps interleaved, so one vpmaddwd multiplies a pair
 * of A elements (a 32-bit broadcast) by the matching pairs of 16 columns
 * of B and sums each pair: products and sums are exact modulo 2^32, hence
 * modulo 2^8 and 2^16.  Layout of one panel (P rows) of depth d:
 *     pair step q < d/2: int16 [q*2P + 2i + 0] = x(2q, i), [.. + 1] = x(2q+1, i)
 *     odd d, last step:  int16 [(d-1)*P + i]   = x(d-1, i)
 * which is exactly P*d int16, as the driver's panel offsets expect.
 *
 * bool sums 0/1 products: a depth block (kc <= 2^16) cannot wrap to 0, and
 * between depth blocks C holds 0/1, so "sum != 0" is the OR of the ANDs.
 * ====================================================================== */

/* SMALL_I32 only serves the direct path, which shares 32-bit lanes. */
enum small_kind { SMALL_BOOL, SMALL_I8, SMALL_I16, SMALL_I32 };

static inline ptrdiff_t small_item(enum small_kind kind)
{
    return kind == SMALL_I32 ? 4 : kind == SMALL_I16 ? 2 : 1;
}

#define PAIR_MR 12
#define PAIR_NR 32

/* One element of user memory as the int16 that gets packed. */
static inline __attribute__((always_inline)) uint16_t
small_get(enum small_kind kind, const char *p)
{
    switch (kind) {
    case SMALL_BOOL: return (uint16_t)(get_u8(p) != 0);
    case SMALL_I8: return (uint16_t)(int16_t)(int8_t)get_u8(p);
    default: return get_u16(p);
    }
}

/* One element as a 32-bit lane of the direct path. */
static inline __attribute__((always_inline)) uint32_t
small_get32(enum small_kind kind, const char *p)
{
    return kind == SMALL_I32 ? get_u32(p) : (uint32_t)(int16_t)small_get(kind, p);
}

/* Up to 16 consecutive elements (lanes in `mask`) as int16, others 0. */
static inline __attribute__((always_inline)) __m256i
small_get16(enum small_kind kind, __mmask16 mask, const char *p)
{
    if (mask == 0) {
        return _mm256_setzero_si256();
    }
    switch (kind) {
    case SMALL_BOOL: {
        const __m128i x = _mm_maskz_loadu_epi8(mask, p);
        return _mm256_maskz_mov_epi16(_mm_test_epi8_mask(x, x),
                                      _mm256_set1_epi16(1));
    }
    case SMALL_I8:
        return _mm256_cvtepi8_epi16(_mm_maskz_loadu_epi8(mask, p));
    default:
        return _mm256_maskz_loadu_epi16(mask, p);
    }
}

static inline __attribute__((always_inline)) void
pack_pairs(enum small_kind kind, const char *src, ptrdiff_t row_stride,
           ptrdiff_t depth_stride, ptrdiff_t rows, ptrdiff_t depth,
           int panel, uint16_t *dst)
{
    const ptrdiff_t item = small_item(kind);
    const ptrdiff_t even = depth & ~(ptrdiff_t)1;
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += panel) {
        const ptrdiff_t live = min_pd(panel, rows - r0);
        const char *base = src + r0 * row_stride;
        if (row_stride == item) {
            /* One depth step of the panel is a run of adjacent elements:
             * 16 at a time, widened and interleaved with the next step. */
            for (ptrdiff_t p = 0; p < even; p += 2) {
                const char *x0 = base + p * depth_stride;
                for (int c0 = 0; c0 < panel; c0 += 16) {
                    const __mmask16 in = first_lanes16(live - c0);
                    const __m512i lo = _mm512_cvtepu16_epi32(
                        small_get16(kind, in, x0 + c0 * item));
                    const __m512i hi = _mm512_cvtepu16_epi32(
                        small_get16(kind, in, x0 + depth_stride + c0 * item));
                    _mm512_mask_storeu_epi32(dst + 2 * c0,
                                             first_lanes16(panel - c0),
                                             _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
                }
                dst += 2 * panel;
            }
            if (depth & 1) {
                const char *x0 = base + even * depth_stride;
                for (int c0 = 0; c0 < panel; c0 += 16) {
                    _mm256_mask_storeu_epi16(dst + c0, first_lanes16(panel - c0),
                                             small_get16(kind, first_lanes16(live - c0),
                                                         x0 + c0 * item));
                }
                dst += panel;
            }
            continue;
        }
        for (ptrdiff_t p = 0; p < even; p += 2) {
            const char *x0 = base + p * depth_stride;
            ptrdiff_t i = 0;
            for (; i < live; ++i) {
                const char *e = x0 + i * row_stride;
                dst[2 * i] = small_get(kind, e);
                dst[2 * i + 1] = small_get(kind, e + depth_stride);
            }
            for (; i < panel; ++i) {
                dst[2 * i] = 0;
                dst[2 * i + 1] = 0;
            }
            dst += 2 * panel;
        }
        if (depth & 1) {
            const char *x0 = base + even * depth_stride;
            ptrdiff_t i = 0;
            for (; i < live; ++i) {
                dst[i] = small_get(kind, x0 + i * row_stride);
            }
            for (; i < panel; ++i) {
                dst[i] = 0;
            }
            dst += panel;
        }
    }
}

static void pack_bool(const char *src, ptrdiff_t rs, ptrdiff_t ds,
                      ptrdiff_t rows, ptrdiff_t depth, int panel, void *dst)
{
    pack_pairs(SMALL_BOOL, src, rs, ds, rows, depth, panel, (uint16_t *)dst);
}

static void pack_i8(const char *src, ptrdiff_t rs, ptrdiff_t ds,
                    ptrdiff_t rows, ptrdiff_t depth, int panel, void *dst)
{
    pack_pairs(SMALL_I8, src, rs, ds, rows, depth, panel, (uint16_t *)dst);
}

static void pack_i16(const char *src, ptrdiff_t rs, ptrdiff_t ds,
                     ptrdiff_t rows, ptrdiff_t depth, int panel, void *dst)
{
    pack_pairs(SMALL_I16, src, rs, ds, rows, depth, panel, (uint16_t *)dst);
}

/*
 * C (12 x 32 int32) (+)= A . B over packed pairs.  MADD(acc, x, y) adds the
 * pairwise products of x and y to acc: vpmaddwd + vpaddd, or one vpdpwssd
 * where AVX512-VNNI exists.  An odd last step pairs B's element with 0
 * (vpmovzxwd) and runs first: GCC then keeps the tile in registers.
 */
#define DEFINE_PAIRS_MICRO(NAME, ATTR, MADD)                                  \
    ATTR static void NAME(ptrdiff_t depth, const void *a_panel,               \
                          const void *b_panel, void *c_, ptrdiff_t rs,        \
                          int accumulate)                                     \
    {                                                                         \
        const uint16_t *a = (const uint16_t *)a_panel;                        \
        const uint16_t *b = (const uint16_t *)b_panel;                        \
        int32_t *c = (int32_t *)c_;                                           \
        __m512i t[PAIR_MR][2];                                                \
        if (depth & 1) {                                                      \
            /* The odd last step: (b, 0) pairs times (a, a). */               \
            const uint16_t *at = a + (depth - 1) * PAIR_MR;                   \
            const uint16_t *bt = b + (depth - 1) * PAIR_NR;                   \
            const __m512i b0 = _mm512_cvtepu16_epi32(                         \
                _mm256_loadu_si256((const __m256i *)bt));                     \
            const __m512i b1 = _mm512_cvtepu16_epi32(                         \
                _mm256_loadu_si256((const __m256i *)(bt + 16)));              \
            _Pragma("GCC unroll 12")                                          \
            for (int i = 0; i < PAIR_MR; ++i) {                               \
                const __m512i ai = _mm512_set1_epi16((short)at[i]);           \
                t[i][0] = _mm512_madd_epi16(ai, b0);                          \
                t[i][1] = _mm512_madd_epi16(ai, b1);                          \
            }                                                                 \
        }                                                                     \
        else {                                                                \
            _Pragma("GCC unroll 12")                                          \
            for (int i = 0; i < PAIR_MR; ++i) {                               \
                t[i][0] = _mm512_setzero_si512();                             \
                t[i][1] = _mm512_setzero_si512();                             \
            }                                                                 \
        }                                                                     \
        for (ptrdiff_t q = 0; q < depth / 2; ++q) {                           \
            const __m512i b0 = _mm512_loadu_si512(b);                         \
            const __m512i b1 = _mm512_loadu_si512(b + 32);                    \
            _Pragma("GCC unroll 12")                                          \
            for (int i = 0; i < PAIR_MR; ++i) {                               \
                uint32_t pair;                                                \
                memcpy(&pair, a + 2 * i, sizeof pair);                        \
                const __m512i ai = _mm512_set1_epi32((int)pair);              \
                t[i][0] = MADD(t[i][0], ai, b0);                              \
                t[i][1] = MADD(t[i][1], ai, b1);                              \
            }                                                                 \
            a += 2 * PAIR_MR;                                                 \
            b += 2 * PAIR_NR;                                                 \
        }                                                                     \
        _Pragma("GCC unroll 12")                                              \
        for (int i = 0; i < PAIR_MR; ++i) {                                   \
            int32_t *row = c + i * rs;                                        \
            if (accumulate) {                                                 \
                t[i][0] = _mm512_add_epi32(t[i][0], _mm512_loadu_si512(row)); \
                t[i][1] = _mm512_add_epi32(t[i][1],                           \
                                           _mm512_loadu_si512(row + 16));     \
            }                                                                 \
            _mm512_storeu_si512(row, t[i][0]);                                \
            _mm512_storeu_si512(row + 16, t[i][1]);                           \
        }                                                                     \
    }

#define MADD_WD(acc, x, y) _mm512_add_epi32((acc), _mm512_madd_epi16((x), (y)))
#define MADD_VNNI(acc, x, y) _mm512_dpwssd_epi32((acc), (x), (y))

DEFINE_PAIRS_MICRO(micro_pairs_wd, , MADD_WD)
DEFINE_PAIRS_MICRO(micro_pairs_vnni, __attribute__((target("avx512vnni"))),
                   MADD_VNNI)

static void micro_pairs(ptrdiff_t depth, const void *a_panel,
                        const void *b_panel, void *c, ptrdiff_t rs,
                        int accumulate)
{
    /* One instruction instead of two per accumulator where the CPU has it. */
    if (__builtin_cpu_supports("avx512vnni")) {
        micro_pairs_vnni(depth, a_panel, b_panel, c, rs, accumulate);
    }
    else {
        micro_pairs_wd(depth, a_panel, b_panel, c, rs, accumulate);
    }
}

/* int32 tile <-> bool/int8/int16 user memory: truncation (or != 0) on the
 * way out, any extension on the way in (only the low bits matter). */
static inline __attribute__((always_inline)) void
store_small(enum small_kind kind, const void *tile_, ptrdiff_t rows,
            ptrdiff_t cols, ptrdiff_t tile_cols, char *dst,
            ptrdiff_t row_stride, ptrdiff_t col_stride)
{
    const int32_t *tile = (const int32_t *)tile_;
    const ptrdiff_t item = small_item(kind);
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const int32_t *t = tile + i * tile_cols;
        char *row = dst + i * row_stride;
        if (col_stride == item) {
            for (ptrdiff_t j = 0; j < cols; j += 16) {
                const __mmask16 m = first_lanes16(cols - j);
                const __m512i v = _mm512_maskz_loadu_epi32(m, t + j);
                if (kind == SMALL_BOOL) {
                    const __mmask16 nz = _mm512_test_epi32_mask(v, v);
                    _mm_mask_storeu_epi8(row + j, m,
                                         _mm_maskz_mov_epi8(nz, _mm_set1_epi8(1)));
                }
                else if (kind == SMALL_I8) {
                    _mm512_mask_cvtepi32_storeu_epi8(row + j, m, v);
                }
                else {
                    _mm512_mask_cvtepi32_storeu_epi16(row + 2 * j, m, v);
                }
            }
            continue;
        }
        for (ptrdiff_t j = 0; j < cols; ++j) {
            char *e = row + j * col_stride;
            if (kind == SMALL_BOOL) {
                put_u8(e, (uint8_t)(t[j] != 0));
            }
            else if (kind == SMALL_I8) {
                put_u8(e, (uint8_t)t[j]);
            }
            else {
                put_u16(e, (uint16_t)t[j]);
            }
        }
    }
}

static inline __attribute__((always_inline)) void
load_small(enum small_kind kind, void *tile_, ptrdiff_t rows, ptrdiff_t cols,
           ptrdiff_t tile_cols, const char *src, ptrdiff_t row_stride,
           ptrdiff_t col_stride)
{
    int32_t *tile = (int32_t *)tile_;
    const ptrdiff_t item = small_item(kind);
    for (ptrdiff_t i = 0; i < rows; ++i) {
        int32_t *t = tile + i * tile_cols;
        const char *row = src + i * row_stride;
        if (col_stride == item) {
            for (ptrdiff_t j = 0; j < cols; j += 16) {
                const __mmask16 m = first_lanes16(cols - j);
                const __m256i x = small_get16(kind, m, row + j * item);
                _mm512_mask_storeu_epi32(t + j, m, _mm512_cvtepi16_epi32(x));
            }
            continue;
        }
        for (ptrdiff_t j = 0; j < cols; ++j) {
            t[j] = (int16_t)small_get(kind, row + j * col_stride);
        }
    }
}

static void direct_lanes32(enum small_kind kind, const gm_problem *pr,
                           ptrdiff_t first, ptrdiff_t last);

#define DEFINE_SMALL_TRANSFERS(SUFFIX, KIND)                                  \
    static void store_##SUFFIX(const void *tile, ptrdiff_t rows,              \
                               ptrdiff_t cols, ptrdiff_t tile_cols,           \
                               char *dst, ptrdiff_t rs, ptrdiff_t cs)         \
    {                                                                         \
        store_small(KIND, tile, rows, cols, tile_cols, dst, rs, cs);          \
    }                                                                         \
    static void load_##SUFFIX(void *tile, ptrdiff_t rows, ptrdiff_t cols,     \
                              ptrdiff_t tile_cols, const char *src,           \
                              ptrdiff_t rs, ptrdiff_t cs)                     \
    {                                                                         \
        load_small(KIND, tile, rows, cols, tile_cols, src, rs, cs);           \
    }                                                                         \
    static void direct_##SUFFIX(const gm_problem *pr, ptrdiff_t first,        \
                                ptrdiff_t last)                               \
    {                                                                         \
        direct_lanes32(KIND, pr, first, last);                                \
    }

DEFINE_SMALL_TRANSFERS(bool, SMALL_BOOL)
DEFINE_SMALL_TRANSFERS(i8, SMALL_I8)
DEFINE_SMALL_TRANSFERS(i16, SMALL_I16)

/* B micro-panel (kc x 32 int16 = 32 KB) stays in L1 while A panels stream
 * from L2; mc = 132 splits m = 512 into four even row blocks. */
#define DEFINE_PAIRS_KERNEL(SUFFIX, LABEL)                                    \
    static const gm_kernel avx512_##SUFFIX = {                                \
        .name = "avx512 " LABEL " 12x32 (vpmaddwd)",                          \
        .mr = PAIR_MR, .nr = PAIR_NR,                                         \
        .mc = 11 * PAIR_MR, .kc = 512, .nc = 4096,                            \
        .packed_size = sizeof(uint16_t), .acc_size = sizeof(int32_t),         \
        .c_mode = GM_C_WRAP,                                                  \
        .pack_a = pack_##SUFFIX, .pack_b = pack_##SUFFIX,                     \
        .micro = micro_pairs,                                                 \
        .store = store_##SUFFIX, .load = load_##SUFFIX,                       \
        .direct = direct_##SUFFIX,                                            \
        .direct_max_flops = 4096.0,                                           \
    };

DEFINE_PAIRS_KERNEL(bool, "bool")
DEFINE_PAIRS_KERNEL(i8, "i8")
DEFINE_PAIRS_KERNEL(i16, "i16")

/* ======================================================================
 * Element copies shared by int32, int64 and complex: packing without
 * conversion (element (p, i) of a panel at [p*P + i]), tile transfers and
 * the layout-agnostic parts.
 * ====================================================================== */

static inline __attribute__((always_inline)) void
pack_copy(size_t size, const char *src, ptrdiff_t row_stride,
          ptrdiff_t depth_stride, ptrdiff_t rows, ptrdiff_t depth, int panel,
          char *dst)
{
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += panel) {
        const ptrdiff_t live = min_pd(panel, rows - r0);
        const size_t gap = (size_t)(panel - live) * size;
        const char *base = src + r0 * row_stride;
        if (row_stride == (ptrdiff_t)size) {
            /* A depth step of the panel is one run of memory (a constant
             * length for whole panels: a few vector moves, no call). */
            if (gap == 0) {
                for (ptrdiff_t p = 0; p < depth; ++p) {
                    memcpy(dst, base + p * depth_stride, (size_t)panel * size);
                    dst += (size_t)panel * size;
                }
                continue;
            }
            for (ptrdiff_t p = 0; p < depth; ++p) {
                memcpy(dst, base + p * depth_stride, (size_t)live * size);
                memset(dst + (size_t)live * size, 0, gap);
                dst += (size_t)panel * size;
            }
            continue;
        }
        for (ptrdiff_t p = 0; p < depth; ++p) {
            const char *column = base + p * depth_stride;
            for (ptrdiff_t i = 0; i < live; ++i) {
                memcpy(dst + (size_t)i * size, column + i * row_stride, size);
            }
            memset(dst + (size_t)live * size, 0, gap);
            dst += (size_t)panel * size;
        }
    }
}

static inline __attribute__((always_inline)) void
copy_out(size_t size, const void *tile_, ptrdiff_t rows, ptrdiff_t cols,
         ptrdiff_t tile_cols, char *dst, ptrdiff_t row_stride,
         ptrdiff_t col_stride)
{
    const char *tile = (const char *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const char *t = tile + (size_t)(i * tile_cols) * size;
        char *row = dst + i * row_stride;
        if (col_stride == (ptrdiff_t)size) {
            memcpy(row, t, (size_t)cols * size);
            continue;
        }
        for (ptrdiff_t j = 0; j < cols; ++j) {
            memcpy(row + j * col_stride, t + (size_t)j * size, size);
        }
    }
}

static inline __attribute__((always_inline)) void
copy_in(size_t size, void *tile_, ptrdiff_t rows, ptrdiff_t cols,
        ptrdiff_t tile_cols, const char *src, ptrdiff_t row_stride,
        ptrdiff_t col_stride)
{
    char *tile = (char *)tile_;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        char *t = tile + (size_t)(i * tile_cols) * size;
        const char *row = src + i * row_stride;
        for (ptrdiff_t j = 0; j < cols; ++j) {
            memcpy(t + (size_t)j * size, row + j * col_stride, size);
        }
    }
}

/* MR and NR: the panel heights of the kernel, made constants here. */
#define DEFINE_COPIES(SUFFIX, SIZE, MR, NR)                                   \
    static void pack_##SUFFIX(const char *src, ptrdiff_t rs, ptrdiff_t ds,    \
                              ptrdiff_t rows, ptrdiff_t depth, int panel,     \
                              void *dst)                                      \
    {                                                                         \
        if (panel == (MR)) {                                                  \
            pack_copy(SIZE, src, rs, ds, rows, depth, (MR), (char *)dst);     \
        }                                                                     \
        else if (panel == (NR)) {                                             \
            pack_copy(SIZE, src, rs, ds, rows, depth, (NR), (char *)dst);     \
        }                                                                     \
        else {                                                                \
            pack_copy(SIZE, src, rs, ds, rows, depth, panel, (char *)dst);    \
        }                                                                     \
    }                                                                         \
    static void store_##SUFFIX(const void *tile, ptrdiff_t rows,              \
                               ptrdiff_t cols, ptrdiff_t tile_cols,           \
                               char *dst, ptrdiff_t rs, ptrdiff_t cs)         \
    {                                                                         \
        copy_out(SIZE, tile, rows, cols, tile_cols, dst, rs, cs);             \
    }                                                                         \
    static void load_##SUFFIX(void *tile, ptrdiff_t rows, ptrdiff_t cols,     \
                              ptrdiff_t tile_cols, const char *src,           \
                              ptrdiff_t rs, ptrdiff_t cs)                     \
    {                                                                         \
        copy_in(SIZE, tile, rows, cols, tile_cols, src, rs, cs);              \
    }


/* Micro-tile heights: 12 rows of int32/int64, 6 of complex. */
#define INT_MR 12
#define CPLX_MR 6

DEFINE_COPIES(i32, 4, INT_MR, 32)
DEFINE_COPIES(i64, 8, INT_MR, 16)
DEFINE_COPIES(c64, 8, CPLX_MR, 16)
DEFINE_COPIES(c128, 16, CPLX_MR, 8)

/* ======================================================================
 * int32 and int64: vpmulld / vpmullq (low half of the product, exact
 * modulo 2^bits) and vpadd, 12 rows x 2 vectors.
 * ====================================================================== */

#define DEFINE_INT_MICRO(NAME, T, LANES, SET1, MULLO, ADD)                    \
    static void NAME(ptrdiff_t depth, const void *a_panel,                    \
                     const void *b_panel, void *c_, ptrdiff_t rs,             \
                     int accumulate)                                          \
    {                                                                         \
        const T *a = (const T *)a_panel;                                      \
        const T *b = (const T *)b_panel;                                      \
        T *c = (T *)c_;                                                       \
        __m512i t[INT_MR][2];                                                 \
        _Pragma("GCC unroll 12")                                              \
        for (int i = 0; i < INT_MR; ++i) {                                    \
            const T *row = c + i * rs;                                        \
            t[i][0] = accumulate ? _mm512_loadu_si512(row)                    \
                                 : _mm512_setzero_si512();                    \
            t[i][1] = accumulate ? _mm512_loadu_si512(row + LANES)            \
                                 : _mm512_setzero_si512();                    \
        }                                                                     \
        for (ptrdiff_t p = 0; p < depth; ++p) {                               \
            const __m512i b0 = _mm512_loadu_si512(b);                         \
            const __m512i b1 = _mm512_loadu_si512(b + LANES);                 \
            _Pragma("GCC unroll 12")                                          \
            for (int i = 0; i < INT_MR; ++i) {                                \
                const __m512i ai = SET1(a[i]);                                \
                t[i][0] = ADD(t[i][0], MULLO(ai, b0));                        \
                t[i][1] = ADD(t[i][1], MULLO(ai, b1));                        \
            }                                                                 \
            a += INT_MR;                                                      \
            b += 2 * LANES;                                                   \
        }                                                                     \
        _Pragma("GCC unroll 12")                                              \
        for (int i = 0; i < INT_MR; ++i) {                                    \
            T *row = c + i * rs;                                              \
            _mm512_storeu_si512(row, t[i][0]);                                \
            _mm512_storeu_si512(row + LANES, t[i][1]);                        \
        }                                                                     \
    }

#define SET1_U32(x) _mm512_set1_epi32((int)(x))
#define SET1_U64(x) _mm512_set1_epi64((long long)(x))

DEFINE_INT_MICRO(micro_i32, uint32_t, 16, SET1_U32, _mm512_mullo_epi32,
                 _mm512_add_epi32)
DEFINE_INT_MICRO(micro_i64, uint64_t, 8, SET1_U64, _mm512_mullo_epi64,
                 _mm512_add_epi64)

/* unsigned arithmetic wraps like NumPy's integers */
GM_DEFINE_PLAIN_LOOP(direct_i32_scalar, uint32_t, get_u32, put_u32, GM_MADD_SUM)
GM_DEFINE_PLAIN_LOOP(direct_i64_scalar, uint64_t, get_u64, put_u64, GM_MADD_SUM)
GM_DEFINE_TINY_SQUARE(tiny_i32, uint32_t, get_u32, put_u32)
GM_DEFINE_TINY_SQUARE(tiny_i64, uint64_t, get_u64, put_u64)

/* Short integer dot products as plain chains of wrap-around products
 * (unrolled up to 16, a loop the compiler vectorizes beyond): the lane sum
 * of each element cost more than its products (int32 stacks of (320 x 3)
 * @ (3,): 20.5 us, NumPy's loop 13, 4.6 so), and the 32-bit chains beat
 * the streaming dots up to about 100 deep ((3000 x 64) @ (64,), one
 * thread: 15.2 -> 9.7 us; equal at 300 and from memory). */
#define I32_SHORT_DOT_DEPTH 128
#define I64_SHORT_DOT_DEPTH 16

GM_DEFINE_SHORT_DOTS(short_dots_u32, uint32_t, get_u32, put_u32, GM_SHORT_DOTS_WRAP_MADD)
GM_DEFINE_SHORT_DOTS(short_dots_u64, uint64_t, get_u64, put_u64, GM_SHORT_DOTS_WRAP_MADD)

GM_DEFINE_DOTS_BY_DEPTH(dots_i32, short_dots_u32, stream_i32_dots, I32_SHORT_DOT_DEPTH)
GM_DEFINE_DOTS_BY_DEPTH(dots_i64, short_dots_u64, stream_i64_dots, I64_SHORT_DOT_DEPTH)

static void direct_i32(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (gm_int_tiny(pr)) {
        if (!tiny_i32(pr, first, last)) {
            direct_i32_scalar(pr, first, last);
        }
        return;
    }
    if (stream_all(pr, first, last, 4, dots_i32, NULL,
                    stream_i32_axpy, 0)) {
        return;
    }
    direct_lanes32(SMALL_I32, pr, first, last);
}

/* Rows [i0, i0 + R) of an int64 product, columns [j0, j0 + 8 NV) (the
 * lanes of `m` live): R x NV chains of wrap-around multiply-adds, the
 * rows sharing each load of B.  B's and C's columns contiguous. */
static inline __attribute__((always_inline)) void i64_rows_block(
    const gm_problem *pr, const char *a, const char *b, char *c,
    ptrdiff_t i0, ptrdiff_t j0, const __mmask8 *m, const int R, const int NV)
{
    __m512i t[4][4];
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < NV; ++v) {
            t[r][v] = _mm512_setzero_si512();
        }
    }
    const char *a_rows = a + i0 * pr->a.row_stride;
    for (ptrdiff_t p = 0; p < pr->k; ++p) {
        const char *y = b + p * pr->b.row_stride + 8 * j0;
        __m512i bv[4];
        for (int v = 0; v < NV; ++v) {
            bv[v] = _mm512_maskz_loadu_epi64(m[v], y + 64 * v);
        }
        for (int r = 0; r < R; ++r) {
            const __m512i ai = _mm512_set1_epi64(
                (long long)get_u64(a_rows + r * pr->a.row_stride + p * pr->a.col_stride));
            for (int v = 0; v < NV; ++v) {
                t[r][v] = _mm512_add_epi64(t[r][v], _mm512_mullo_epi64(ai, bv[v]));
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        char *out = c + (i0 + r) * pr->c.row_stride + 8 * j0;
        for (int v = 0; v < NV; ++v) {
            _mm512_mask_storeu_epi64(out + 64 * v, m[v], t[r][v]);
        }
    }
}

/* Every row of one int64 matrix across strips of up to 4 vectors of
 * columns, four rows at a time, with only the vectors a strip has: one
 * row at a time over all four vectors, masked off or not, took (10 x 815)
 * @ (815 x 2) 17.9 us, 5.9 so. */
static inline __attribute__((always_inline)) void i64_rows_strip(
    const gm_problem *pr, const char *a, const char *b, char *c,
    ptrdiff_t j0, const __mmask8 *m, const int NV)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= pr->m; i += 4) {
        i64_rows_block(pr, a, b, c, i, j0, m, 4, NV);
    }
    for (; i < pr->m; ++i) {
        i64_rows_block(pr, a, b, c, i, j0, m, 1, NV);
    }
}

static void i64_rows(const gm_problem *pr, const char *a, const char *b, char *c)
{
    for (ptrdiff_t j0 = 0; j0 < pr->n; j0 += 32) {
        __mmask8 m[4];
        for (int q = 0; q < 4; ++q) {
            m[q] = (__mmask8)first_lanes16(pr->n - j0 - 8 * q);
        }
        switch ((min_pd(pr->n - j0, 32) + 7) / 8) {
        GM_CONST_CASES_1_TO_3(i64_rows_strip, pr, a, b, c, j0, m)
        default:
            i64_rows_strip(pr, a, b, c, j0, m, 4);
            break;
        }
    }
}

/* int64 direct path: vectors of 8 lanes for the two layouts that stream
 * (see the 32-bit direct path below), else the scalar loop. */
static void direct_i64(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    if (gm_int_tiny(pr)) {
        if (!tiny_i64(pr, first, last)) {
            direct_i64_scalar(pr, first, last);
        }
        return;
    }
    if (stream_all(pr, first, last, 8, dots_i64, NULL,
                    stream_i64_axpy, 0)) {
        return;
    }
    const int rows_ok = pr->b.col_stride == 8 && pr->c.col_stride == 8;
    const int dots_ok = pr->n == 1 && pr->k >= 8 && pr->a.col_stride == 8
                        && pr->b.row_stride == 8;
    if (!rows_ok && !dots_ok) {
        direct_i64_scalar(pr, first, last);
        return;
    }
    for (ptrdiff_t s = first; s < last; ++s) {
        const char *a = pr->a.data + s * pr->a.batch_stride;
        const char *b = pr->b.data + s * pr->b.batch_stride;
        char *c = pr->c.data + s * pr->c.batch_stride;
        if (dots_ok) {
            for (ptrdiff_t i = 0; i < pr->m; ++i) {
                const char *a_row = a + i * pr->a.row_stride;
                __m512i t0 = _mm512_setzero_si512(), t1 = t0;
                ptrdiff_t p = 0;
                for (; p + 16 <= pr->k; p += 16) {
                    t0 = _mm512_add_epi64(t0, _mm512_mullo_epi64(
                        _mm512_loadu_si512(a_row + 8 * p), _mm512_loadu_si512(b + 8 * p)));
                    t1 = _mm512_add_epi64(t1, _mm512_mullo_epi64(
                        _mm512_loadu_si512(a_row + 8 * p + 64),
                        _mm512_loadu_si512(b + 8 * p + 64)));
                }
                for (; p < pr->k; p += 8) {
                    const __mmask8 m = (__mmask8)first_lanes16(pr->k - p);
                    t0 = _mm512_add_epi64(t0, _mm512_mullo_epi64(
                        _mm512_maskz_loadu_epi64(m, a_row + 8 * p),
                        _mm512_maskz_loadu_epi64(m, b + 8 * p)));
                }
                put_u64(c + i * pr->c.row_stride,
                        hsum_u64(_mm512_add_epi64(t0, t1)));
            }
            continue;
        }
        i64_rows(pr, a, b, c);
    }
}

/* B micro-panels of kc x 2 vectors (32 KB) in L1, A blocks in L2.
 * Products of at most 16 columns take the AVX2 set's 16-column tiles
 * (any order of wrap-around sums gives the same bits): on Zen 4, int32
 * (1000 x 64) @ (64 x 8) ran 1.6 times faster, (15 x 277) @ (277 x 3) 2
 * times.  int64 keeps its tiles: AVX2 has no 64-bit multiply, and its
 * narrower tiles ran (200 x 200) @ (200 x 6) 1.4 times slower. */
static const gm_kernel avx512_i32 = {
    .name = "avx512 i32 12x32",
    .mr = INT_MR, .nr = 32,
    .mc = 11 * INT_MR, .kc = 256, .nc = 4096,
    .packed_size = 4, .acc_size = 4,
    .c_mode = GM_C_SAME,
    .pack_a = pack_i32, .pack_b = pack_i32,
    .micro = micro_i32,
    .store = store_i32, .load = load_i32,
    .direct = direct_i32,
    .direct_max_flops = 4096.0,
    .narrow = &gm_avx2_kernels[GM_FAM_I32],
};

/* int64 products of at most one strip of columns go direct, rows of C in
 * vectors: the 16-column tiles were mostly padding there (Zen 4: (10 x
 * 815) @ (815 x 2) 20.0 -> 5.9 us, NumPy 11; (1000 x 64) @ (64 x 8) 35 ->
 * 16 us; (200 x 200) @ (200 x 32) 41.5 -> 35.0 us); from 48 columns the
 * tiles are as fast or faster. */
static const gm_kernel avx512_i64 = {
    .name = "avx512 i64 12x16",
    .mr = INT_MR, .nr = 16,
    .mc = 11 * INT_MR, .kc = 256, .nc = 4096,
    .packed_size = 8, .acc_size = 8,
    .c_mode = GM_C_SAME,
    .pack_a = pack_i64, .pack_b = pack_i64,
    .micro = micro_i64,
    .store = store_i64, .load = load_i64,
    .direct = direct_i64,
    .direct_max_flops = 4096.0,
    .direct_max_cols = 32,
};

/* ======================================================================
 * Direct path of bool and the 8-, 16- and 32-bit integers: tiny products
 * and (the driver's choice) every matrix-vector product, so it streams
 * memory with vectors of 16 32-bit lanes where the layout allows:
 *   - columns of B and C contiguous: each row of C as up to 4 vectors,
 *     one broadcast of A per step (a small B of another layout is copied
 *     so, lanes32_b_copied);
 *   - n == 1 with rows of A and the vector contiguous: dot products.
 * Wrap-around sums (OR for bool) do not depend on the order.
 * ====================================================================== */

static inline __attribute__((always_inline)) __m512i
lanes32_load(enum small_kind kind, __mmask16 mask, const char *p)
{
    if (kind == SMALL_I32) {
        return _mm512_maskz_loadu_epi32(mask, p);
    }
    return _mm512_cvtepi16_epi32(small_get16(kind, mask, p));
}

static inline __attribute__((always_inline)) __m512i
lanes32_madd(enum small_kind kind, __m512i acc, __m512i x, __m512i y)
{
    if (kind == SMALL_BOOL) {
        return _mm512_or_si512(acc, _mm512_and_si512(x, y));
    }
    return _mm512_add_epi32(acc, _mm512_mullo_epi32(x, y));
}

static inline __attribute__((always_inline)) void
lanes32_put(enum small_kind kind, char *p, uint32_t v)
{
    switch (kind) {
    case SMALL_BOOL: put_u8(p, (uint8_t)(v != 0)); break;
    case SMALL_I8: put_u8(p, (uint8_t)v); break;
    case SMALL_I16: put_u16(p, (uint16_t)v); break;
    default: put_u32(p, v); break;
    }
}

/* Bytes of B (k x n) that the direct path copies in rows (on the stack)
 * when its layout streams neither way. */
#define GM_LANES32_B_COPY_BYTES 8192

static inline __attribute__((always_inline)) void
direct_lanes32_impl(enum small_kind kind, const gm_problem *pr,
                    ptrdiff_t first, ptrdiff_t last)
{
    const ptrdiff_t item = small_item(kind);
    const int rows_ok = pr->b.col_stride == item && pr->c.col_stride == item;
    const int dots_ok = pr->n == 1 && pr->k >= 16 && pr->a.col_stride == item
                        && pr->b.row_stride == item;
    for (ptrdiff_t s = first; s < last; ++s) {
        const char *a = pr->a.data + s * pr->a.batch_stride;
        const char *b = pr->b.data + s * pr->b.batch_stride;
        char *c = pr->c.data + s * pr->c.batch_stride;
        if (dots_ok) {
            for (ptrdiff_t i = 0; i < pr->m; ++i) {
                const char *a_row = a + i * pr->a.row_stride;
                __m512i t0 = _mm512_setzero_si512(), t1 = _mm512_setzero_si512();
                ptrdiff_t p = 0;
                for (; p + 32 <= pr->k; p += 32) {
                    const char *x = a_row + p * item, *y = b + p * item;
                    t0 = lanes32_madd(kind, t0, lanes32_load(kind, 0xFFFF, x),
                                      lanes32_load(kind, 0xFFFF, y));
                    t1 = lanes32_madd(kind, t1, lanes32_load(kind, 0xFFFF, x + 16 * item),
                                      lanes32_load(kind, 0xFFFF, y + 16 * item));
                }
                for (; p < pr->k; p += 16) {
                    const __mmask16 m = first_lanes16(pr->k - p);
                    t0 = lanes32_madd(kind, t0, lanes32_load(kind, m, a_row + p * item),
                                      lanes32_load(kind, m, b + p * item));
                }
                const uint32_t sum = kind == SMALL_BOOL
                    ? (uint32_t)_mm512_reduce_or_epi32(_mm512_or_si512(t0, t1))
                    : hsum_u32(_mm512_add_epi32(t0, t1));
                lanes32_put(kind, c + i * pr->c.row_stride, sum);
            }
            continue;
        }
        if (rows_ok) {
            for (ptrdiff_t j0 = 0; j0 < pr->n; j0 += 64) {
                const __mmask16 m0 = first_lanes16(pr->n - j0);
                const __mmask16 m1 = first_lanes16(pr->n - j0 - 16);
                const __mmask16 m2 = first_lanes16(pr->n - j0 - 32);
                const __mmask16 m3 = first_lanes16(pr->n - j0 - 48);
                for (ptrdiff_t i = 0; i < pr->m; ++i) {
                    const char *a_row = a + i * pr->a.row_stride;
                    __m512i t0 = _mm512_setzero_si512(), t1 = t0, t2 = t0, t3 = t0;
                    for (ptrdiff_t p = 0; p < pr->k; ++p) {
                        const char *y = b + p * pr->b.row_stride + j0 * item;
                        const __m512i ai = _mm512_set1_epi32(
                            (int)small_get32(kind, a_row + p * pr->a.col_stride));
                        t0 = lanes32_madd(kind, t0, ai, lanes32_load(kind, m0, y));
                        if (m1) {
                            t1 = lanes32_madd(kind, t1, ai, lanes32_load(kind, m1, y + 16 * item));
                            t2 = lanes32_madd(kind, t2, ai, lanes32_load(kind, m2, y + 32 * item));
                            t3 = lanes32_madd(kind, t3, ai, lanes32_load(kind, m3, y + 48 * item));
                        }
                    }
                    /* Through a one-row tile: truncation (or != 0) as in blocks. */
                    int32_t out[64];
                    _mm512_storeu_si512(out, t0);
                    _mm512_storeu_si512(out + 16, t1);
                    _mm512_storeu_si512(out + 32, t2);
                    _mm512_storeu_si512(out + 48, t3);
                    if (kind == SMALL_I32) {
                        memcpy(c + i * pr->c.row_stride + j0 * item, out,
                               (size_t)min_pd(64, pr->n - j0) * 4);
                    }
                    else {
                        store_small(kind, out, 1, min_pd(64, pr->n - j0), 64,
                                    c + i * pr->c.row_stride + j0 * item,
                                    0, item);
                    }
                }
            }
            continue;
        }
        for (ptrdiff_t i = 0; i < pr->m; ++i) {
            const char *a_row = a + i * pr->a.row_stride;
            for (ptrdiff_t j = 0; j < pr->n; ++j) {
                const char *b_col = b + j * pr->b.col_stride;
                uint32_t acc = 0;
                for (ptrdiff_t p = 0; p < pr->k; ++p) {
                    const uint32_t x = small_get32(kind, a_row + p * pr->a.col_stride);
                    const uint32_t y = small_get32(kind, b_col + p * pr->b.row_stride);
                    acc = kind == SMALL_BOOL ? acc | (x & y) : acc + x * y;
                }
                lanes32_put(kind, c + i * pr->c.row_stride + j * pr->c.col_stride, acc);
            }
        }
    }
}

#define GET_I8_32(p) small_get32(SMALL_I8, (p))
#define PUT_I8_32(p, v) lanes32_put(SMALL_I8, (p), (v))
#define GET_I16_32(p) small_get32(SMALL_I16, (p))
#define PUT_I16_32(p, v) lanes32_put(SMALL_I16, (p), (v))
GM_DEFINE_TINY_SQUARE(tiny_i8, uint32_t, GET_I8_32, PUT_I8_32)
GM_DEFINE_TINY_SQUARE(tiny_i16, uint32_t, GET_I16_32, PUT_I16_32)

/* A small B laid out for neither vector form, copied in rows (C order)
 * matrix by matrix (once when broadcast), so that rows of C stay in
 * vectors: the plain loop ran behind NumPy's (int8 (35, 16, 15) @ (15, 4),
 * both in Fortran order: 21 us, NumPy 16; 6 us so). */
static inline __attribute__((always_inline)) int
lanes32_b_copied(enum small_kind kind, const gm_problem *pr, ptrdiff_t first,
                 ptrdiff_t last)
{
    const ptrdiff_t item = small_item(kind);
    const int dots_ok = pr->n == 1 && pr->k >= 16 && pr->a.col_stride == item
                        && pr->b.row_stride == item;
    if (dots_ok || pr->b.col_stride == item || pr->c.col_stride != item
            || (double)pr->k * (double)pr->n * (double)item > GM_LANES32_B_COPY_BYTES) {
        return 0;
    }
    _Alignas(64) char rows[GM_LANES32_B_COPY_BYTES];
    const char *copied = NULL;
    gm_problem one = *pr;
    one.batch = 1;
    one.b = (gm_operand){rows, 0, pr->n * item, item};
    for (ptrdiff_t s = first; s < last; ++s) {
        const char *b = pr->b.data + s * pr->b.batch_stride;
        if (b != copied) {
            for (ptrdiff_t p = 0; p < pr->k; ++p) {
                for (ptrdiff_t j = 0; j < pr->n; ++j) {
                    memcpy(rows + (p * pr->n + j) * item,
                           b + p * pr->b.row_stride + j * pr->b.col_stride, (size_t)item);
                }
            }
            copied = b;
        }
        one.a.data = pr->a.data + s * pr->a.batch_stride;
        one.c.data = pr->c.data + s * pr->c.batch_stride;
        direct_lanes32_impl(kind, &one, 0, 1);
    }
    return 1;
}

static inline __attribute__((always_inline)) void
lanes32_run(enum small_kind kind, const gm_problem *pr, ptrdiff_t first,
            ptrdiff_t last)
{
    if (!lanes32_b_copied(kind, pr, first, last)) {
        direct_lanes32_impl(kind, pr, first, last);
    }
}

static void direct_lanes32(enum small_kind kind, const gm_problem *pr,
                           ptrdiff_t first, ptrdiff_t last)
{
    if ((kind == SMALL_I8 || kind == SMALL_I16) && gm_int_tiny(pr)
            && (kind == SMALL_I8 ? tiny_i8 : tiny_i16)(pr, first, last)) {
        return;
    }
    /* One specialised copy per kind. */
    switch (kind) {
    case SMALL_BOOL: lanes32_run(SMALL_BOOL, pr, first, last); break;
    case SMALL_I8: lanes32_run(SMALL_I8, pr, first, last); break;
    case SMALL_I16: lanes32_run(SMALL_I16, pr, first, last); break;
    default: lanes32_run(SMALL_I32, pr, first, last); break;
    }
}

/* ======================================================================
 * complex64 and complex128: 6 rows x 2 vectors of (re, im) pairs.
 *
 * Per element two accumulators: R += ar * (br, bi) and I += ai * (br, bi),
 * all plain FMAs on B as packed.  At the end (re, im) = (R.re - I.im,
 * R.im + I.re): I's halves swapped and one fmaddsub.  Every product is
 * formed and summed, so NaN and Inf propagate as in the plain sum.
 * ====================================================================== */


#define DEFINE_CPLX_MICRO(NAME, R, VEC, LANES, SET1, LOADU, STOREU, FMADD,    \
                          FMADDSUB, SWAP, ZERO)                               \
    static void NAME(ptrdiff_t depth, const void *a_panel,                    \
                     const void *b_panel, void *c_, ptrdiff_t rs,             \
                     int accumulate)                                          \
    {                                                                         \
        const R *a = (const R *)a_panel;                                      \
        const R *b = (const R *)b_panel;                                      \
        R *c = (R *)c_;                                                       \
        VEC re[CPLX_MR][2], im[CPLX_MR][2];                                   \
        _Pragma("GCC unroll 6")                                               \
        for (int i = 0; i < CPLX_MR; ++i) {                                   \
            const R *row = c + 2 * i * rs;                                    \
            re[i][0] = accumulate ? LOADU(row) : ZERO();                      \
            re[i][1] = accumulate ? LOADU(row + LANES) : ZERO();              \
            im[i][0] = ZERO();                                                \
            im[i][1] = ZERO();                                                \
        }                                                                     \
        for (ptrdiff_t p = 0; p < depth; ++p) {                               \
            const VEC b0 = LOADU(b);                                          \
            const VEC b1 = LOADU(b + LANES);                                  \
            _Pragma("GCC unroll 6")                                           \
            for (int i = 0; i < CPLX_MR; ++i) {                               \
                const VEC ar = SET1(a[2 * i]);                                \
                const VEC ai = SET1(a[2 * i + 1]);                            \
                re[i][0] = FMADD(ar, b0, re[i][0]);                           \
                re[i][1] = FMADD(ar, b1, re[i][1]);                           \
                im[i][0] = FMADD(ai, b0, im[i][0]);                           \
                im[i][1] = FMADD(ai, b1, im[i][1]);                           \
            }                                                                 \
            a += 2 * CPLX_MR;                                                 \
            b += 2 * LANES;                                                   \
        }                                                                     \
        const VEC one = SET1((R)1);                                           \
        _Pragma("GCC unroll 6")                                               \
        for (int i = 0; i < CPLX_MR; ++i) {                                   \
            R *row = c + 2 * i * rs;                                          \
            STOREU(row, FMADDSUB(re[i][0], one, SWAP(im[i][0])));             \
            STOREU(row + LANES, FMADDSUB(re[i][1], one, SWAP(im[i][1])));     \
        }                                                                     \
    }

#define SWAP_PD(v) _mm512_permute_pd((v), 0x55)
#define SWAP_PS(v) _mm512_permute_ps((v), 0xB1)

DEFINE_CPLX_MICRO(micro_c128, double, __m512d, 8, _mm512_set1_pd,
                  _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd,
                  _mm512_fmaddsub_pd, SWAP_PD, _mm512_setzero_pd)
DEFINE_CPLX_MICRO(micro_c64, float, __m512, 16, _mm512_set1_ps,
                  _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps,
                  _mm512_fmaddsub_ps, SWAP_PS, _mm512_setzero_ps)

/* Tiny products: the plain sum of (ac - bd) + (ad + bc)i. */
#define DEFINE_CPLX_DIRECT(NAME, R)                                           \
    static void NAME(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)   \
    {                                                                         \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *a = pr->a.data + s * pr->a.batch_stride;              \
            const char *b = pr->b.data + s * pr->b.batch_stride;              \
            char *c = pr->c.data + s * pr->c.batch_stride;                    \
            for (ptrdiff_t i = 0; i < pr->m; ++i) {                           \
                for (ptrdiff_t j = 0; j < pr->n; ++j) {                       \
                    R sum[2] = {0, 0};                                        \
                    for (ptrdiff_t p = 0; p < pr->k; ++p) {                   \
                        R x[2], y[2];                                         \
                        memcpy(x, a + i * pr->a.row_stride                    \
                                  + p * pr->a.col_stride, sizeof x);          \
                        memcpy(y, b + p * pr->b.row_stride                    \
                                  + j * pr->b.col_stride, sizeof y);          \
                        sum[0] += x[0] * y[0] - x[1] * y[1];                  \
                        sum[1] += x[0] * y[1] + x[1] * y[0];                  \
                    }                                                         \
                    memcpy(c + i * pr->c.row_stride + j * pr->c.col_stride,   \
                           sum, sizeof sum);                                  \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }

DEFINE_CPLX_DIRECT(direct_c64_scalar, float)
DEFINE_CPLX_DIRECT(direct_c128_scalar, double)

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

/* B micro-panel kc x 128 bytes in L1; mc = 132 gives m = 512 four even
 * row blocks.  Any product whose B fits in L2 goes direct: the register
 * form (gm_stream.h) runs as fast as the blocked path there, without the
 * packing, which costs most on few rows or columns. */
static const gm_kernel avx512_c64 = {
    .name = "avx512 c64 6x16",
    .mr = CPLX_MR, .nr = 16,
    .mc = 22 * CPLX_MR, .kc = 256, .nc = 4096,
    .packed_size = 8, .acc_size = 8,
    .c_mode = GM_C_SAME,
    .pack_a = pack_c64, .pack_b = pack_c64,
    .micro = micro_c64,
    .store = store_c64, .load = load_c64,
    .direct = direct_c64,
    .direct_conj = direct_conj_c64,
    .direct_max_flops = 2048.0,
    .direct_max_rows = 4,
    .direct_shallow_rows = INT_MAX, .direct_shallow_depth = INT_MAX,
    .direct_shallow_bytes = GM_ROWS_MAX_B_BYTES,
    .direct_mid_rows = GM_CPLX_MID_ROWS, .direct_mid_bytes = GM_ROWS_FETCH_B_BYTES,
    /* products of at most 8 columns, whose packed tiles would be mostly
     * padding (B in Fortran order: (6 x 2000) @ (2000 x 6) took 29.4 us
     * packed, 5.7 as dot products; (10 x 1000) @ (1000 x 7) 24.7 and 5.3) */
    .direct_max_cols = 8,
};

static const gm_kernel avx512_c128 = {
    .name = "avx512 c128 6x8",
    .mr = CPLX_MR, .nr = 8,
    .mc = 22 * CPLX_MR, .kc = 192, .nc = 4096,
    .packed_size = 16, .acc_size = 16,
    .c_mode = GM_C_SAME,
    .pack_a = pack_c128, .pack_b = pack_c128,
    .micro = micro_c128,
    .store = store_c128, .load = load_c128,
    .direct = direct_c128,
    .direct_conj = direct_conj_c128,
    .direct_max_flops = 2048.0,
    .direct_max_rows = 4,
    .direct_shallow_rows = INT_MAX, .direct_shallow_depth = INT_MAX,
    .direct_shallow_bytes = GM_ROWS_MAX_B_BYTES,
    .direct_mid_rows = GM_CPLX_MID_ROWS, .direct_mid_bytes = GM_ROWS_FETCH_B_BYTES,
    /* as avx512_c64: (6 x 2000) @ (2000 x 6), B in Fortran order, 30.5 us
     * packed, 9.2 as dot products; (100 x 100) @ (100 x 8) 12.7 and 9.6 */
    .direct_max_cols = 8,
};

const gm_kernel_table gm_avx512_int_kernels = {
    [GM_FAM_BOOL] = &avx512_bool,
    [GM_FAM_I8] = &avx512_i8,
    [GM_FAM_I16] = &avx512_i16,
    [GM_FAM_I32] = &avx512_i32,
    [GM_FAM_I64] = &avx512_i64,
    [GM_FAM_C64] = &avx512_c64,
    [GM_FAM_C128] = &avx512_c128,
};
