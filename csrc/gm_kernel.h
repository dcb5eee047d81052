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
 * tile (mr x nr accumulators, row-major) = a_panel . b_panel over `depth`
 * packed steps, or tile += ... when `accumulate` is nonzero.
 */
typedef void (*gm_micro_fn)(ptrdiff_t depth, const void *a_panel,
                            const void *b_panel, void *tile, int accumulate);

/*
 * Writes the top-left rows x cols of an accumulator tile (row-major, rows of
 * `tile_cols` elements) to user memory, converting to the storage type.
 */
typedef void (*gm_store_fn)(const void *tile, ptrdiff_t rows, ptrdiff_t cols,
                            int tile_cols, char *dst, ptrdiff_t row_stride,
                            ptrdiff_t col_stride);

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
    gm_pack_fn pack_a, pack_b;
    gm_micro_fn micro;
    gm_store_fn store;
    gm_direct_fn direct;
    /* Products with at most this many multiply-adds per matrix take the
     * direct path: packing would cost more than it saves. */
    double direct_max_flops;
} gm_kernel;

/* The element families: types that share arithmetic share kernels. */
typedef enum gm_family {
    GM_FAM_BOOL, GM_FAM_I8, GM_FAM_I16, GM_FAM_I32, GM_FAM_I64,
    GM_FAM_F16, GM_FAM_F32, GM_FAM_F64, GM_FAM_LD,
    GM_FAM_C64, GM_FAM_C128, GM_FAM_CLD,
    GM_NUM_FAMILIES
} gm_family;

/* The family of each gm_type (integers of one width share one). */
gm_family gm_family_of(gm_type type);

/* Kernel tables, one entry per family; NULL entries fall back to generic. */
typedef const gm_kernel *gm_kernel_table[GM_NUM_FAMILIES];
extern const gm_kernel_table gm_generic_kernels;

/* The kernel in use for a family (set by gm_select_isa). */
const gm_kernel *gm_kernel_for(gm_family family);

#endif /* GM_KERNEL_H */
