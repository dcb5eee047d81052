/*
 * The contract between the driver and a kernel set.
 *
 * A kernel set computes products for one family of element types on one
 * instruction set.  The driver owns the loops around it (batch, cache
 * blocks, threads); the set owns everything that depends on the element
 * type: reading user memory into packed panels, the register-blocked
 * micro-kernel, writing results back, and the unpacked path used for tiny
 * products.
 */
#ifndef GM_KERNEL_H
#define GM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "gufunc_matmul.h"

/*
 * Packs `rows` rows of a strided matrix, `depth` columns deep, into
 * micro-panels of `panel` rows each: panel q holds rows q*panel .. and is
 * stored column after column (depth blocks of `panel` elements).  Rows past
 * `rows` in the last panel are zero.  Used for A (rows = rows of A,
 * columns = k) and for B seen as its transpose (rows = columns of B).
 */
typedef void (*gm_pack_fn)(const char *src, ptrdiff_t row_stride,
                           ptrdiff_t depth_stride, ptrdiff_t rows,
                           ptrdiff_t depth, int panel, void *dst);

/*
 * C tile (mr x nr, rows `c_row_stride` accumulator elements apart, columns
 * contiguous) = a_panel . b_panel over `depth` packed steps, or += when
 * `accumulate` is nonzero.  The tile may be user memory (possibly
 * unaligned) or the driver's tile buffer.
 */
typedef void (*gm_micro_fn)(ptrdiff_t depth, const void *a_panel,
                            const void *b_panel, void *c,
                            ptrdiff_t c_row_stride, int accumulate);

/*
 * The same with A read where it lies, in C order: row i of the tile at
 * a + i * a_row_stride bytes, its depth steps contiguous.  For products of
 * few columns, which reuse a packed A too little to pay for packing it.
 */
typedef void (*gm_micro_rows_fn)(ptrdiff_t depth, const char *a,
                                 ptrdiff_t a_row_stride, const void *b_panel,
                                 void *c, ptrdiff_t c_row_stride,
                                 int accumulate);

/*
 * Moves the top-left rows x cols of an accumulator tile (row-major, rows of
 * `tile_cols` elements) to user memory, converting to the storage type
 * (store), or from user memory into the tile (load).
 */
typedef void (*gm_store_fn)(const void *tile, ptrdiff_t rows, ptrdiff_t cols,
                            ptrdiff_t tile_cols, char *dst,
                            ptrdiff_t row_stride, ptrdiff_t col_stride);
typedef void (*gm_load_fn)(void *tile, ptrdiff_t rows, ptrdiff_t cols,
                           ptrdiff_t tile_cols, const char *src,
                           ptrdiff_t row_stride, ptrdiff_t col_stride);

/*
 * Computes matrices [first, last) of the problem directly from user memory,
 * with no working memory.  Also the answer to k == 0.
 */
typedef void (*gm_direct_fn)(const gm_problem *p, ptrdiff_t first,
                             ptrdiff_t last);

typedef struct gm_kernel {
    const char *name;
    int mr, nr;              /* micro-tile of C held in registers */
    ptrdiff_t mc, kc, nc;    /* cache blocks; mc % mr == 0, nc % nr == 0 */
    size_t packed_size;      /* bytes of one packed element of A or B */
    size_t acc_size;         /* bytes of one accumulator in a tile */
    /* How C holds partial sums between depth blocks:
     *   GM_C_SAME   storage is the accumulator type: the micro-kernel
     *               works in user memory when columns are contiguous;
     *   GM_C_WRAP   a narrower integer or bool: storing and reloading a
     *               partial sum loses nothing (wrap-around, OR);
     *   GM_C_WIDE   float16: partial sums live in a float32 copy of C,
     *               rounded once at the end. */
    int c_mode;
    gm_pack_fn pack_a, pack_b;
    gm_micro_fn micro;
    gm_micro_rows_fn micro_rows;   /* optional; NULL: A is always packed */
    /* Optional: micro and micro_rows over the first nr / 2 columns of the
     * tile only, for a last panel of B that is at least half padding. */
    gm_micro_fn micro_half;
    gm_micro_rows_fn micro_rows_half;
    gm_store_fn store;
    gm_load_fn load;
    gm_direct_fn direct;
    /* Complex families: the direct path for C = conj(A) @ B (vecdot,
     * vecmat), whatever the shape.  NULL: the portable set's. */
    gm_direct_fn direct_conj;
    /* Products with at most this many multiply-adds per matrix, or at
     * most this many rows (0 means 1), or at most shallow_rows rows and a
     * depth of at most shallow_depth (B's columns then stay in L2 across
     * the direct path's row groups) and, if shallow_bytes is not 0, a B
     * of at most that many bytes, or at most max_cols columns, take the
     * direct path: packing would cost more than it saves. */
    double direct_max_flops;
    /* Optional: the same bound for products whose B and C have contiguous
     * columns, where the direct path keeps rows of C in registers and
     * keeps up with the blocked path on larger products. */
    double direct_rows_max_flops;
    /* Optional: for such products, at most this many rows take the
     * direct path whatever the depth and width (twice as many for a B of
     * few columns, see direct_rows_fit): its loops read B in blocks of
     * depth from L2, and packing a deep or wide B for few rows costs more
     * than the rows' reads. */
    int direct_rows_max_rows;
    /* Optional: more than half of those rows take it only where B has at
     * most this many bytes; the packed path packs each micro-panel of a
     * larger B just before its tiles use it (late B, see driver.c). */
    double direct_rows_b_bytes;
    /* Optional: up to this many rows also take it when B and C have at
     * most direct_mid_bytes bytes each (B a quarter of that if its rows are
     * a multiple of 4 KiB apart), where the packed path's packing and edge
     * tiles cost more than the direct loops' reads of B from L2. */
    int direct_mid_rows;
    double direct_mid_bytes;
    int direct_max_rows;
    int direct_shallow_rows, direct_shallow_depth;
    double direct_shallow_bytes;
    int direct_max_cols;
    /* Optional: the direct path's dot products shallower than this run as
     * one scalar chain per element in the order p from zero, the order of
     * the forms that keep rows of C in registers: choosing between the two
     * then changes no bits. */
    int short_dot_depth;
    /* Optional: a set with narrower tiles for products of at most nr / 2
     * columns, which would be mostly padding here (a table entry, so that
     * it can name another instruction set's kernel). */
    const struct gm_kernel *const *narrow;
} gm_kernel;

/* Keeps a loaded vector in a register: without it, compilers fold the
 * load into each instruction that uses it, and loads become the limit
 * (complex axpy read each vector of B twice and ran at half speed).  For
 * the SIMD kernel sets, which GCC and Clang compile. */
#define GM_IN_REGISTER(v) __asm__("" : "+v"(v))

/* Sizes and strides of *pr in locals: stores through char pointers
 * would otherwise make the compiler reload them at every step. */
#define GM_PROBLEM_LOCALS(pr)                                                 \
    const ptrdiff_t m = (pr)->m, n = (pr)->n, k = (pr)->k;                    \
    const ptrdiff_t ars = (pr)->a.row_stride, acs = (pr)->a.col_stride;       \
    const ptrdiff_t brs = (pr)->b.row_stride, bcs = (pr)->b.col_stride;       \
    const ptrdiff_t crs = (pr)->c.row_stride, ccs = (pr)->c.col_stride

/* The plain loop, the naive sum in order straight from user memory: ACC_T
 * is the accumulator, LOAD reads one stored element as ACC_T, STORE
 * writes one, MADD(t, a, b) is t += a * b. */
#define GM_DEFINE_PLAIN_LOOP(NAME, ACC_T, LOAD, STORE, MADD)                  \
    static void NAME(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)   \
    {                                                                         \
        GM_PROBLEM_LOCALS(pr);                                                \
        for (ptrdiff_t s = first; s < last; ++s) {                            \
            const char *a = pr->a.data + s * pr->a.batch_stride;              \
            const char *b = pr->b.data + s * pr->b.batch_stride;              \
            char *c = pr->c.data + s * pr->c.batch_stride;                    \
            for (ptrdiff_t i = 0; i < m; ++i) {                               \
                const char *a_row = a + i * ars;                              \
                char *c_row = c + i * crs;                                    \
                for (ptrdiff_t j = 0; j < n; ++j) {                           \
                    const char *b_col = b + j * bcs;                          \
                    ACC_T acc = 0;                                            \
                    for (ptrdiff_t p = 0; p < k; ++p) {                       \
                        MADD(acc, LOAD(a_row + p * acs), LOAD(b_col + p * brs)); \
                    }                                                         \
                    STORE(c_row + j * ccs, acc);                              \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }

#define GM_MADD_SUM(t, a, b) ((t) += (a) * (b))

/* Cases of a switch on a small count that pass it to F as a constant
 * (F's last argument), so that an always-inline F unrolls its loops over
 * it; the other arguments come first. */
#define GM_CONST_CASE(F, K, ...) case K: F(__VA_ARGS__, K); break;
#define GM_CONST_CASES_1_TO_3(F, ...)                                         \
    GM_CONST_CASE(F, 1, __VA_ARGS__) GM_CONST_CASE(F, 2, __VA_ARGS__)         \
    GM_CONST_CASE(F, 3, __VA_ARGS__)
#define GM_CONST_CASES_1_TO_8(F, ...)                                         \
    GM_CONST_CASES_1_TO_3(F, __VA_ARGS__) GM_CONST_CASE(F, 4, __VA_ARGS__)    \
    GM_CONST_CASE(F, 5, __VA_ARGS__) GM_CONST_CASE(F, 6, __VA_ARGS__)         \
    GM_CONST_CASE(F, 7, __VA_ARGS__) GM_CONST_CASE(F, 8, __VA_ARGS__)
#define GM_CONST_CASES_1_TO_16(F, ...)                                        \
    GM_CONST_CASES_1_TO_8(F, __VA_ARGS__) GM_CONST_CASE(F, 9, __VA_ARGS__)    \
    GM_CONST_CASE(F, 10, __VA_ARGS__) GM_CONST_CASE(F, 11, __VA_ARGS__)       \
    GM_CONST_CASE(F, 12, __VA_ARGS__) GM_CONST_CASE(F, 13, __VA_ARGS__)       \
    GM_CONST_CASE(F, 14, __VA_ARGS__) GM_CONST_CASE(F, 15, __VA_ARGS__)       \
    GM_CONST_CASE(F, 16, __VA_ARGS__)

enum { GM_C_SAME, GM_C_WRAP, GM_C_WIDE };

/* The element families: types that share arithmetic share kernels. */
typedef enum gm_family {
    GM_FAM_BOOL, GM_FAM_I8, GM_FAM_I16, GM_FAM_I32, GM_FAM_I64,
    GM_FAM_F16, GM_FAM_F32, GM_FAM_F64, GM_FAM_LD,
    GM_FAM_C64, GM_FAM_C128, GM_FAM_CLD,
    GM_NUM_FAMILIES
} gm_family;

/* The family of each gm_type (integers of one width share one). */
gm_family gm_family_of(gm_type type);

/* Bytes of one stored element of a type. */
size_t gm_item_size(gm_type type);

/* Kernel tables, one entry per family; NULL entries fall back to generic. */
typedef const gm_kernel *gm_kernel_table[GM_NUM_FAMILIES];
extern const gm_kernel_table gm_generic_kernels;
#if GM_HAVE_X86_KERNELS
extern const gm_kernel_table gm_avx2_kernels;
extern const gm_kernel_table gm_avx512_kernels;      /* floats */
/* float32 and float64 on processors that run AVX-512 as two 256-bit
 * halves (AMD Zen 4), where the direct loops keep up with the packed path
 * on more rows; the other families as in the tables above. */
extern const gm_kernel_table gm_avx512_halves_kernels;
extern const gm_kernel_table gm_avx512_int_kernels;  /* bool, ints, complex */
#endif
#if GM_HAVE_NEON_KERNELS
extern const gm_kernel_table gm_neon_kernels;
#endif

/* bool at every size: bit sets along k (bool_bits.c). */
void gm_bool_direct(const gm_problem *p, ptrdiff_t first, ptrdiff_t last);
/* bool with an early-exit scan on a budget: 0 done, -1 left to kernels. */
int gm_bool_try_dense(const gm_problem *p);

/* The kernel in use for a family (set by gm_select_isa). */
const gm_kernel *gm_kernel_for(gm_family family);

#endif /* GM_KERNEL_H */
