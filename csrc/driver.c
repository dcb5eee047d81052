/*
 * The driver: validates a problem, picks the path, splits the work over
 * threads and runs the loops of the blocked algorithm around a kernel set.
 *
 * Blocked path for one matrix (the loops of the BLIS algorithm):
 *     for each column panel of nc columns of B and C:
 *       for each depth block of kc:
 *         pack B (kc x nc) into nr-wide micro-panels      (threads share)
 *         for each row block of mc rows of A and C:       (split over threads)
 *           pack A (mc x kc) into mr-tall micro-panels
 *           for each micro-tile: C tile (+)= A panel . B panel
 * Few rows (late B): the threads pack all rows of A for a depth block,
 * then each packs one B micro-panel at a time and runs every row's tiles
 * down it, so that B never goes through a block too large for L2.
 * Each element of C is summed in one order, p = 0 .. k-1, whatever the
 * number of threads: the depth loop is never split, so results are bitwise
 * the same for any thread count.
 *
 * Tiny matrices (and k == 0) go to the kernel set's direct path, and stacks
 * of them are split over threads by matrix.
 */
#include <fenv.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gm_kernel.h"
#include "gm_threads.h"

#define GM_ALIGN 64

/* Work weight of a multiply-add on the vector path against the blocked
 * path, for the choice of the number of threads. */
#define GM_VECTOR_WEIGHT 6.0

/* The same for real products of 2 to 4 rows (and more than one column)
 * on the direct path: in cache they run at up to half the blocked path's
 * rate, not a sixth (Intel Xeon, AVX-512: float64 (4 x 25) @ (25 x 203)
 * took 3.7 us on one thread, 4.2 on two; float32 (2 x 64) @ (64 x 200)
 * 2.4 and 4.4; AVX2: float32 (4 x 25) @ (25 x 203) 4.0 and 5.6), and a B
 * from memory is large enough to be split anyway. */
#define GM_FEW_ROWS_WEIGHT 2.0

/* The same for real products of fewer columns than a vector has lanes on
 * the direct path (see compute): float32 (1000 x 64) @ (64 x 4) took
 * 10.4 us on one thread, 6.9 on two; (300 x 100) @ (100 x 3) 4.8 and 6.2. */
#define GM_FEW_COLUMNS_WEIGHT 4.0

/* A complex multiply-add is four real ones: by measurement, complex128
 * 32 x 32 gains from a second thread that is awake (5.6 us, 4.4 on two)
 * and 24 x 24 does not. */
#define GM_COMPLEX_WEIGHT 4.0

/* The most rows that take the direct path as dot products (B in Fortran
 * order) rather than packed; and only when those rows stay in L1 while
 * each column of B passes them (re-read from L2 for every column,
 * float32 (32 x 768) @ (768 x 3072) took 1.33 ms, 0.54 packed), and are
 * deep enough, against their number, for the lane sums that end each
 * element to cost less than packing B (float32 (32 x 64) @ (64 x 2000):
 * 64 us as dots, 31 packed; (6 x 128) @ (128 x 1000): 11 as dots, 17
 * packed). */
#define GM_DOTS_SHALLOW_ROWS 32
#define GM_DOTS_ROWS_BYTES (32.0 * 1024.0)
#define GM_DOTS_DEPTH_PER_ROW 10

static ptrdiff_t min_pd(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b)
{
    return (a + b - 1) / b;
}

/* float32 or float64: the types whose direct forms (dot products in
 * blocks, rows of C in vectors) the choices below weigh. */
static int is_real_float(gm_type type)
{
    return type == GM_FLOAT32 || type == GM_FLOAT64;
}

static size_t round_up_size(size_t x)
{
    return (x + GM_ALIGN - 1) / GM_ALIGN * GM_ALIGN;
}

/* Floating-point flags raised on pool threads, for the caller to report
 * (NULL: the caller does not track them). */
static void add_flags(atomic_int *fp_flags, int raised)
{
    if (fp_flags != NULL) {
        atomic_fetch_or(fp_flags, raised);
    }
}

/* Where the blocked loops write: user C, or for float16 a float32 copy. */
typedef struct c_target {
    char *data;
    ptrdiff_t row_stride, col_stride;   /* bytes */
    int in_place;    /* accumulators can live right there (see micro) */
    int padded;      /* rows and columns extend to whole micro-tiles */
    int upper;       /* symmetric product: only tiles reaching row <= col */
} c_target;

typedef struct blocking {
    ptrdiff_t mc, kc, nc;
    ptrdiff_t row_blocks;   /* of whole micro-tiles, sizes differ by one tile */
    /* Own blocks (see own_block_unit): C in row_blocks x col_parts parts,
     * each with the whole depth loop and packed panels of its own. */
    int own;
    ptrdiff_t col_parts;
    /* Late B (see late_b_step_unit): one row block of every row, whose A
     * block the threads pack together, and each B micro-panel packed by
     * the thread that uses it, just before. */
    int late_b;
} blocking;

/* Products of at least this many depth blocks whose step of the shared
 * loops gives each thread fewer multiply-adds than GM_OWN_MAX_STEP_MACS
 * (tens of microseconds) run as own blocks: (32 x 20000) @ (20000 x 32)
 * met at a barrier 79 times for a few microseconds of work each. */
#define GM_OWN_MIN_STEPS 4
#define GM_OWN_MAX_STEP_MACS 2e6

/* Row blocks thinner than this many micro-tiles read the packed B block
 * from L3 for too few rows: matrices of few rows are cut across their
 * columns instead (see blocked_matrix). */
#define GM_MIN_BLOCK_TILES 4

/* B is A transposed in memory (X.T @ X, a Gram matrix): C is symmetric.
 * Real and integer types only: each element of C is then one chain of
 * multiply-adds in the order p, and x * y rounds as y * x does, so C(j, i)
 * has the bits of C(i, j).  (The complex kernels combine their partial
 * sums in an order that the swap would change.) */
static int symmetric_product(const gm_problem *p)
{
    const int real = p->type >= GM_INT8 && p->type <= GM_FLOAT64;
    return real && p->m == p->n && p->m > 1 && p->a.data == p->b.data
           && p->a.row_stride == p->b.col_stride
           && p->a.col_stride == p->b.row_stride
           && (p->batch == 1 || p->a.batch_stride == p->b.batch_stride);
}

/* A row block reads A where it lies, when the kernel set can (A in C
 * order), if the block of packed B that each tile of rows sweeps is at
 * most this many bytes (it stays in L2): packing A is a pass over it that
 * only the reuse of a packed block across many panels pays for (float32
 * (100000 x 64) @ (64 x 64) spent a quarter of its time packing A).  Its
 * tiles then run row by row across the panels, so that each tile of A
 * comes from memory once and from L1 for the other panels.  (float64
 * (2000 x 512) @ (512 x 256), a 512 KiB block, ran 1.2 times slower so.) */
#define GM_IN_PLACE_B_BYTES (128.0 * 1024.0)

/* Row blocks read in place pack no A block: longer ones keep each thread
 * on consecutive tiles, whose rows the kernel fetches a tile ahead,
 * rather than starting the next thread's block cold (float32 (100000 x
 * 64) @ (64 x 64): 4.41 ms in blocks of 8 tiles, 4.04 in blocks of 64). */
#define GM_IN_PLACE_BLOCK_FACTOR 8

/* Bytes of a packed B block of `panels` micro-panels, `depth` steps. */
static double b_block_bytes(const gm_kernel *kern, double panels, double depth)
{
    return panels * (double)kern->nr * depth * (double)kern->packed_size;
}

/* Micro-panels of B in a column block of the product. */
static double block_panels(const gm_kernel *kern, const gm_problem *p)
{
    return (double)ceil_div(min_pd(p->n, kern->nc), kern->nr);
}

/* Whether the row blocks of a product will read A in place (see
 * reads_a_in_place, which also checks each block's rows), with depth
 * blocks of kc. */
static int in_place_likely(const gm_kernel *kern, const gm_problem *p, ptrdiff_t kc)
{
    return kern->micro_rows != NULL && p->a.col_stride == (ptrdiff_t)kern->packed_size
           && b_block_bytes(kern, block_panels(kern, p), (double)kc) <= GM_IN_PLACE_B_BYTES;
}

/* A product of few column panels whose packed B block outgrows
 * GM_IN_PLACE_B_BYTES at the kernel's depth block reads A in place with
 * shallower blocks, down to this many steps: that pays more than the
 * deep blocks save on C's loads and stores (float32 (20000 x 600) @ (600
 * x 64): 9.66 ms packed in one block, 7.11 in place in blocks of 512;
 * (3000 x 4000) @ (4000 x 64) 9.33 and 7.35; float64 (3000 x 1000) @
 * (1000 x 64) 4.08 and 3.56).  At 128 steps some lost (float32 (1000 x
 * 1000) @ (1000 x 256): 2.35 ms packed, 2.47 in place). */
#define GM_IN_PLACE_MIN_DEPTH 256

/* The depth block of the blocked path (see GM_IN_PLACE_MIN_DEPTH). */
static ptrdiff_t depth_block(const gm_kernel *kern, const gm_problem *p)
{
    const ptrdiff_t kc = min_pd(kern->kc, p->k);
    if (in_place_likely(kern, p, kc) || !in_place_likely(kern, p, GM_IN_PLACE_MIN_DEPTH)) {
        return kc;
    }
    const ptrdiff_t fits = (ptrdiff_t)(GM_IN_PLACE_B_BYTES
                                       / b_block_bytes(kern, block_panels(kern, p), 1.0));
    return fits / 8 * 8;
}

/* Late B (see late_b_step_unit) where the packed A block of all rows
 * stays in L2 beside the B micro-panel (less than 1 MiB: float64 (256 x
 * 512) @ (512 x 2048), 1 MiB, ran 0.94-0.99 times as fast late), and
 * the packed B block would not: with a B block of 512 KiB it lost
 * (float64 (384 x 256) @ (256 x 256): 0.60 ms in shared steps, 0.67
 * late). */
#define GM_LATE_B_A_BYTES (1024.0 * 1024.0)
#define GM_LATE_B_MIN_B_BYTES (512.0 * 1024.0)

static int late_b_pays(const gm_kernel *kern, const gm_problem *p, ptrdiff_t kc)
{
    const double a_bytes = (double)(ceil_div(p->m, kern->mr) * kern->mr) * (double)kc
                           * (double)kern->packed_size;
    return a_bytes < GM_LATE_B_A_BYTES
           && b_block_bytes(kern, block_panels(kern, p), (double)kc) > GM_LATE_B_MIN_B_BYTES
           && !symmetric_product(p);
}

/* The kernel's block sizes trimmed to the matrix.  Rows are cut into
 * blocks of nearly equal numbers of micro-tiles, a multiple of the thread
 * count of them (at least two per thread), so that the threads finish
 * together: 1024 rows in blocks of 144 left one thread 576 rows and the
 * other 448. */
static blocking plan_blocks(const gm_kernel *kern, const gm_problem *p,
                            int threads)
{
    blocking bl;
    const ptrdiff_t tiles = ceil_div(p->m, kern->mr);
    const ptrdiff_t kc = depth_block(kern, p);
    const ptrdiff_t max_tiles = kern->mc / kern->mr
                                * (in_place_likely(kern, p, kc) ? GM_IN_PLACE_BLOCK_FACTOR : 1);
    ptrdiff_t blocks = ceil_div(tiles, max_tiles);
    if (threads > 1) {
        const ptrdiff_t thinnest = tiles / GM_MIN_BLOCK_TILES;
        ptrdiff_t wanted = ceil_div(blocks < 2 * threads ? 2 * threads : blocks, threads) * threads;
        if (wanted > thinnest) {
            wanted = thinnest > blocks ? thinnest : blocks;
        }
        blocks = wanted;
    }
    bl.row_blocks = min_pd(blocks, tiles);
    bl.mc = ceil_div(tiles, bl.row_blocks) * kern->mr;
    bl.nc = min_pd(kern->nc, ceil_div(p->n, kern->nr) * kern->nr);
    bl.kc = kc;
    bl.own = 0;
    bl.col_parts = 1;
    const double step_macs = (double)p->m * (double)p->n * (double)bl.kc / threads;
    /* A symmetric C keeps the shared steps: its parts below the diagonal
     * would leave threads idle, and packing twice as many panels cost
     * X.T @ X (X 100000 x 64) a tenth more than the barriers. */
    if (threads > 1 && ceil_div(p->k, bl.kc) >= GM_OWN_MIN_STEPS
            && step_macs < GM_OWN_MAX_STEP_MACS && !symmetric_product(p)) {
        /* Two parts per thread, shaped to pack the fewest panels: a part
         * of r rows and c columns packs (r + c) kc values per depth block
         * for its r c kc multiply-adds. */
        const ptrdiff_t panels = ceil_div(p->n, kern->nr);
        const ptrdiff_t want = 2 * (ptrdiff_t)threads;
        double best = 0.0;
        for (ptrdiff_t rows = 1; rows <= min_pd(tiles, want); ++rows) {
            const ptrdiff_t cols = min_pd(panels, ceil_div(want, rows));
            const double packed = (double)cols * (double)p->m + (double)rows * (double)p->n;
            if (best == 0.0 || packed < best) {
                best = packed;
                bl.row_blocks = rows;
                bl.col_parts = cols;
            }
        }
        bl.own = 1;
        bl.mc = ceil_div(tiles, bl.row_blocks) * kern->mr;
        bl.nc = ceil_div(panels, bl.col_parts) * kern->nr;
    }
    bl.late_b = 0;
    if (!bl.own && late_b_pays(kern, p, kc)) {
        bl.late_b = 1;
        bl.row_blocks = 1;
        bl.mc = tiles * kern->mr;
    }
    return bl;
}

/* Rows [*first, *last) of row block `block`: the first tiles % blocks
 * blocks have one tile more. */
static void row_block_range(const gm_kernel *kern, const blocking *bl,
                            ptrdiff_t m, ptrdiff_t block, ptrdiff_t *first,
                            ptrdiff_t *last)
{
    const ptrdiff_t tiles = ceil_div(m, kern->mr);
    const ptrdiff_t each = tiles / bl->row_blocks, extra = tiles % bl->row_blocks;
    const ptrdiff_t start = block * each + min_pd(block, extra);
    *first = start * kern->mr;
    *last = min_pd(m, (start + each + (block < extra)) * kern->mr);
}

/* Working memory of one thread: an A block and one spare C tile. */
typedef struct thread_space {
    char *a_pack;
    char *b_pack;   /* own blocks; late B: one micro-panel */
    char *tile;
} thread_space;

/* One allocation holds the shared block (of B, or of A for late B) and
 * every thread's space.  Its size is bounded by the block sizes, so this
 * arithmetic cannot overflow. */
typedef struct workspace {
    void *raw;
    char *b_pack;   /* shared steps */
    char *a_pack;   /* late B */
    thread_space threads[GM_MAX_THREADS];
} workspace;

static int workspace_alloc(workspace *ws, const gm_kernel *kern,
                           const blocking *bl, int threads)
{
    size_t b_bytes = round_up_size((size_t)(bl->kc * bl->nc) * kern->packed_size);
    size_t a_bytes = round_up_size((size_t)(bl->mc * bl->kc) * kern->packed_size);
    size_t t_bytes = round_up_size((size_t)(kern->mr * kern->nr) * kern->acc_size);
    /* Own blocks: a B block per thread rather than one shared.  Late B:
     * one shared A block, and a B micro-panel per thread. */
    size_t shared = b_bytes, own_a = a_bytes, own_b = 0;
    if (bl->own) {
        shared = 0;
        own_b = b_bytes;
    }
    else if (bl->late_b) {
        shared = a_bytes;
        own_a = 0;
        own_b = round_up_size((size_t)(kern->nr * bl->kc) * kern->packed_size);
    }
    ws->raw = malloc(shared + (size_t)threads * (own_a + own_b + t_bytes) + GM_ALIGN);
    if (ws->raw == NULL) {
        return -1;
    }
    uintptr_t base = ((uintptr_t)ws->raw + GM_ALIGN - 1) & ~(uintptr_t)(GM_ALIGN - 1);
    char *cursor = (char *)base;
    ws->b_pack = bl->own || bl->late_b ? NULL : cursor;
    ws->a_pack = bl->late_b ? cursor : NULL;
    cursor += shared;
    for (int t = 0; t < threads; ++t) {
        ws->threads[t].a_pack = own_a > 0 ? cursor : NULL;
        cursor += own_a;
        ws->threads[t].b_pack = own_b > 0 ? cursor : NULL;
        cursor += own_b;
        ws->threads[t].tile = cursor;
        /* Edge tiles load only their live part into the spare tile, and
         * the kernel adds to all of it: whatever malloc left in the rest
         * (a signalling NaN, an x87 unnormal) would raise "invalid" and
         * make the driver redo the product the plain way. */
        memset(ws->threads[t].tile, 0, t_bytes);
        cursor += t_bytes;
    }
    return 0;
}

/* One micro-tile: in user memory when the kernel can work there and the
 * tile is whole, otherwise through the thread's spare tile.  A is a packed
 * panel, or when a_row_stride is not 0 the tile's rows where they lie
 * (kern->micro_rows). */
static void run_tile(const gm_kernel *kern, const c_target *c,
                     ptrdiff_t depth, const char *a, ptrdiff_t a_row_stride,
                     const char *b_panel, char *c_tile, ptrdiff_t rows,
                     ptrdiff_t cols, int accumulate, char *spare)
{
    /* A panel of at most half its columns: the kernel's half form, where
     * it has one, does half the multiply-adds. */
    const gm_micro_fn half = cols <= kern->nr / 2 ? kern->micro_half : NULL;
    const gm_micro_rows_fn rows_half = cols <= kern->nr / 2 ? kern->micro_rows_half : NULL;
    const int whole = cols == kern->nr || (cols == kern->nr / 2 && half != NULL
                                           && (a_row_stride == 0 || rows_half != NULL));
    const int direct = c->padded || (c->in_place && rows == kern->mr && whole);
    char *target = direct ? c_tile : spare;
    const ptrdiff_t ldc = direct ? c->row_stride / (ptrdiff_t)kern->acc_size : kern->nr;
    if (!direct && accumulate) {
        kern->load(spare, rows, cols, kern->nr, c_tile, c->row_stride,
                   c->col_stride);
    }
    if (a_row_stride != 0) {
        (rows_half != NULL ? rows_half : kern->micro_rows)(depth, a, a_row_stride, b_panel,
                                                            target, ldc, accumulate);
    }
    else {
        (half != NULL ? half : kern->micro)(depth, a, b_panel, target, ldc, accumulate);
    }
    if (!direct) {
        kern->store(spare, rows, cols, kern->nr, c_tile, c->row_stride,
                    c->col_stride);
    }
}

/* Asks for the C rows of the next tile while the kernel works on this
 * one.  Rows of a large C lie a page or more apart and fall out of the
 * caches between depth blocks: waiting for them at each tile's start cost
 * float64 2048 x 2048 an eighth of its time. */
static void prefetch_tile(const gm_kernel *kern, const c_target *c,
                          const char *c_tile, ptrdiff_t rows, ptrdiff_t cols)
{
#if defined(__GNUC__) || defined(__clang__)
    if (c->col_stride != (ptrdiff_t)kern->acc_size) {
        return;
    }
    const ptrdiff_t last = (cols - 1) * c->col_stride;
    for (ptrdiff_t i = 0; i < rows; ++i) {
        const char *row = c_tile + i * c->row_stride;
        for (ptrdiff_t at = 0; at < last; at += 64) {
            __builtin_prefetch(row + at, 1, 3);
        }
        __builtin_prefetch(row + last, 1, 3);
    }
#else
    (void)kern; (void)c; (void)c_tile; (void)rows; (void)cols;
#endif
}

/* Rows of A whose starts fall in one set of a 64-set L1 cache (rows a
 * page apart, half a page for tiles of more than 8 rows, or a page and a
 * few bytes) evict each other as the kernel walks them together: float32
 * (3000 x 1024) @ (1024 x 64) ran 1.12 times slower in place, 1000 or 1040
 * deep 1.2 times faster.  More than 4 of a tile's rows in one set, and A
 * is packed. */
static int rows_share_cache_sets(const char *data, ptrdiff_t row_stride, int rows)
{
    unsigned char in_set[64] = {0};
    for (int i = 0; i < rows; ++i) {
        const uintptr_t at = (uintptr_t)data + (uintptr_t)(i * row_stride);
        if (++in_set[(at >> 6) & 63] > 4) {
            return 1;
        }
    }
    return 0;
}

static int reads_a_in_place(const gm_kernel *kern, const gm_operand *a,
                            const c_target *c, ptrdiff_t panels, ptrdiff_t kb)
{
    /* (run_tile reads a row stride of 0 as a packed panel.) */
    return kern->micro_rows != NULL && !c->upper
           && b_block_bytes(kern, (double)panels, (double)kb) <= GM_IN_PLACE_B_BYTES
           && a->col_stride == (ptrdiff_t)kern->packed_size && a->row_stride != 0
           && !rows_share_cache_sets(a->data, a->row_stride, kern->mr);
}

/* compute_row_block with A in place: whole tiles of rows read A where it
 * lies, a last partial one is packed.  The kernel fetches the rows of A
 * and C of the tile below while it runs. */
static void compute_rows_in_place(const gm_kernel *kern, const gm_operand *a,
                                  const c_target *c, const thread_space *ts,
                                  const char *b_pack, ptrdiff_t ic, ptrdiff_t mb,
                                  ptrdiff_t pc, ptrdiff_t kb, ptrdiff_t jc,
                                  ptrdiff_t nb, ptrdiff_t first_panel,
                                  ptrdiff_t last_panel)
{
    const int mr = kern->mr, nr = kern->nr;
    const size_t b_panel_bytes = (size_t)(nr * kb) * kern->packed_size;
    const ptrdiff_t j_first = first_panel * nr, j_end = min_pd(nb, last_panel * nr);
    const char *a_block = a->data + ic * a->row_stride + pc * a->col_stride;
    char *c_block = c->data + ic * c->row_stride + jc * c->col_stride;
    for (ptrdiff_t i0 = 0; i0 < mb; i0 += mr) {
        const ptrdiff_t rows = min_pd(mr, mb - i0);
        const char *a_tile = a_block + i0 * a->row_stride;
        ptrdiff_t a_rows = a->row_stride;
        if (rows < mr) {
            kern->pack_a(a_tile, a->row_stride, a->col_stride, rows, kb, mr, ts->a_pack);
            a_tile = ts->a_pack;
            a_rows = 0;
        }
        const char *b_panel = b_pack + (size_t)first_panel * b_panel_bytes;
        for (ptrdiff_t j0 = j_first; j0 < j_end; j0 += nr, b_panel += b_panel_bytes) {
            run_tile(kern, c, kb, a_tile, a_rows, b_panel,
                     c_block + i0 * c->row_stride + j0 * c->col_stride, rows,
                     min_pd(nr, nb - j0), pc > 0, ts->tile);
        }
    }
}

/* The tiles of rows [ic, ic + mb) down the column panel of `cols` columns
 * from column j: packed A block times packed B micro-panel.  `next_cols`:
 * the width of the panel to the right that the same rows work on next
 * (0: none), whose C the last tile fetches. */
static void panel_tiles(const gm_kernel *kern, const c_target *c,
                        const thread_space *ts, const char *a_pack,
                        const char *b_panel, ptrdiff_t ic, ptrdiff_t mb,
                        ptrdiff_t kb, ptrdiff_t j, ptrdiff_t cols,
                        ptrdiff_t next_cols, int accumulate)
{
    const int mr = kern->mr;
    const size_t a_panel_bytes = (size_t)(mr * kb) * kern->packed_size;
    char *c_col = c->data + j * c->col_stride;
    const ptrdiff_t last_col = j + cols - 1;
    for (ptrdiff_t i0 = 0; i0 < mb; i0 += mr, a_pack += a_panel_bytes) {
        if (c->upper && ic + i0 > last_col) {
            break;    /* this tile and the ones below it */
        }
        if (i0 + mr < mb) {
            prefetch_tile(kern, c, c_col + (ic + i0 + mr) * c->row_stride,
                          min_pd(mr, mb - i0 - mr), cols);
        }
        else if (next_cols > 0) {
            prefetch_tile(kern, c, c_col + cols * c->col_stride + ic * c->row_stride,
                          min_pd(mr, mb), next_cols);
        }
        run_tile(kern, c, kb, a_pack, 0, b_panel, c_col + (ic + i0) * c->row_stride,
                 min_pd(mr, mb - i0), cols, accumulate, ts->tile);
    }
}

/* Rows [ic, ic + mb) of the current (depth block, column panel), across
 * the packed micro-panels [first_panel, last_panel) of B. */
static void compute_row_block(const gm_kernel *kern, const gm_operand *a,
                              const c_target *c, const thread_space *ts,
                              const char *b_pack, ptrdiff_t ic, ptrdiff_t mb,
                              ptrdiff_t pc, ptrdiff_t kb, ptrdiff_t jc,
                              ptrdiff_t nb, ptrdiff_t first_panel,
                              ptrdiff_t last_panel)
{
    const int mr = kern->mr, nr = kern->nr;
    const size_t b_panel_bytes = (size_t)(nr * kb) * kern->packed_size;
    const ptrdiff_t j_end = min_pd(nb, last_panel * nr);
    if (c->upper && ic > jc + j_end - 1) {
        return;   /* wholly below the diagonal: mirrored afterwards */
    }
    if (reads_a_in_place(kern, a, c, last_panel - first_panel, kb)) {
        compute_rows_in_place(kern, a, c, ts, b_pack, ic, mb, pc, kb, jc, nb,
                              first_panel, last_panel);
        return;
    }
    kern->pack_a(a->data + ic * a->row_stride + pc * a->col_stride,
                 a->row_stride, a->col_stride, mb, kb, mr, ts->a_pack);
    const char *b_panel = b_pack + (size_t)first_panel * b_panel_bytes;
    for (ptrdiff_t j0 = first_panel * nr; j0 < j_end; j0 += nr, b_panel += b_panel_bytes) {
        panel_tiles(kern, c, ts, ts->a_pack, b_panel, ic, mb, kb, jc + j0,
                    min_pd(nr, nb - j0), j0 + nr < j_end ? min_pd(nr, nb - j0 - nr) : 0,
                    pc > 0);
    }
}

/* One matrix of the blocked path, and the memory it works in. */
typedef struct blocked_job {
    const gm_kernel *kern;
    const blocking *bl;
    const gm_operand *a, *b;
    const c_target *c;
    workspace *ws;
    ptrdiff_t m, n, k;
} blocked_job;

/* One (column panel, depth block) step of a matrix shared by threads:
 * units [0, panels) pack the B micro-panels, the rest compute a row block
 * over a range of the panels once every panel is packed.  Matrices of few
 * rows are also cut across their columns, so that every thread has work:
 * 12 rows on two threads ran on one. */
typedef struct blocked_step {
    const blocked_job *job;
    ptrdiff_t jc, nb, pc, kb, panels;
    ptrdiff_t col_chunks;   /* ranges of panels per row block */
    ptrdiff_t a_tiles;      /* late B: micro-panels of the A block */
    atomic_ptrdiff_t packed;
} blocked_step;

/* Columns [j0, j0 + cols) of B at depths [pc, pc + kb), packed into
 * nr-wide micro-panels at dst. */
static void pack_b_columns(const blocked_job *job, ptrdiff_t pc, ptrdiff_t kb,
                           ptrdiff_t j0, ptrdiff_t cols, char *dst)
{
    const gm_operand *b = job->b;
    job->kern->pack_b(b->data + pc * b->row_stride + j0 * b->col_stride,
                      b->col_stride, b->row_stride, cols, kb, job->kern->nr, dst);
}

static void pack_b_panel(const blocked_step *st, ptrdiff_t q)
{
    const gm_kernel *kern = st->job->kern;
    const ptrdiff_t j0 = q * kern->nr;
    const size_t panel_bytes = (size_t)(kern->nr * st->kb) * kern->packed_size;
    pack_b_columns(st->job, st->pc, st->kb, st->jc + j0, min_pd(kern->nr, st->nb - j0),
                   st->job->ws->b_pack + (size_t)q * panel_bytes);
}

static void blocked_step_unit(void *ctx, ptrdiff_t unit, int slot)
{
    blocked_step *st = (blocked_step *)ctx;
    const blocked_job *job = st->job;
    if (unit < st->panels) {
        pack_b_panel(st, unit);
        atomic_fetch_add_explicit(&st->packed, 1, memory_order_release);
        return;
    }
    /* Units are claimed in order: the panels still being packed are in
     * the hands of running threads. */
    gm_wait_for_count(&st->packed, st->panels);
    const ptrdiff_t work = unit - st->panels, chunks = st->col_chunks;
    const ptrdiff_t chunk = work % chunks;
    ptrdiff_t first, last;
    row_block_range(job->kern, job->bl, job->m, work / chunks, &first, &last);
    compute_row_block(job->kern, job->a, job->c, &job->ws->threads[slot],
                      job->ws->b_pack, first, last - first,
                      st->pc, st->kb, st->jc, st->nb,
                      st->panels * chunk / chunks,
                      st->panels * (chunk + 1) / chunks);
}

/* Late B: units [0, a_tiles) pack the A block's micro-panels, each
 * other unit packs one micro-panel of B into the thread's own buffer and
 * runs every row's tiles down it once the A block is packed.  For few
 * rows, the shared steps write a B block too large for L2 and read it
 * back from L3 while each panel serves only a few tiles: float64 (128 x
 * 1024) @ (1024 x 1024) spent a fifth of its time packing B. */
static void late_b_step_unit(void *ctx, ptrdiff_t unit, int slot)
{
    blocked_step *st = (blocked_step *)ctx;
    const blocked_job *job = st->job;
    const gm_kernel *kern = job->kern;
    const size_t a_panel_bytes = (size_t)(kern->mr * st->kb) * kern->packed_size;
    if (unit < st->a_tiles) {
        const gm_operand *a = job->a;
        const ptrdiff_t i0 = unit * kern->mr;
        kern->pack_a(a->data + i0 * a->row_stride + st->pc * a->col_stride,
                     a->row_stride, a->col_stride, min_pd(kern->mr, job->m - i0),
                     st->kb, kern->mr, job->ws->a_pack + (size_t)unit * a_panel_bytes);
        atomic_fetch_add_explicit(&st->packed, 1, memory_order_release);
        return;
    }
    const thread_space *ts = &job->ws->threads[slot];
    const ptrdiff_t j0 = (unit - st->a_tiles) * kern->nr, cols = min_pd(kern->nr, st->nb - j0);
    pack_b_columns(job, st->pc, st->kb, st->jc + j0, cols, ts->b_pack);
    gm_wait_for_count(&st->packed, st->a_tiles);
    panel_tiles(kern, job->c, ts, job->ws->a_pack, ts->b_pack, 0, job->m, st->kb,
                st->jc + j0, cols, 0, st->pc > 0);
}

/* Own blocks: deep products of a small C, where the shared steps above
 * would meet at a barrier every kc for a few microseconds of work.  Each
 * unit owns a part of C and runs the whole depth loop for it, packing its
 * own rows of A and columns of B: no barrier until the end.  The depth
 * blocks are the same, so each element sums in the same order and the
 * bits are those of the shared steps. */
static void own_block_unit(void *ctx, ptrdiff_t unit, int slot)
{
    const blocked_job *job = (const blocked_job *)ctx;
    const gm_kernel *kern = job->kern;
    const ptrdiff_t parts = job->bl->col_parts, part = unit % parts;
    const ptrdiff_t panels = ceil_div(job->n, kern->nr);
    const ptrdiff_t j0 = panels * part / parts * kern->nr;
    const ptrdiff_t nb = min_pd(job->n, panels * (part + 1) / parts * kern->nr) - j0;
    ptrdiff_t first, last;
    row_block_range(kern, job->bl, job->m, unit / parts, &first, &last);
    if (nb <= 0 || last <= first) {
        return;
    }
    const thread_space *ts = &job->ws->threads[slot];
    for (ptrdiff_t pc = 0; pc < job->k; pc += job->bl->kc) {
        const ptrdiff_t kb = min_pd(job->bl->kc, job->k - pc);
        pack_b_columns(job, pc, kb, j0, nb, ts->b_pack);
        compute_row_block(kern, job->a, job->c, ts, ts->b_pack, first, last - first,
                          pc, kb, j0, nb, 0, ceil_div(nb, kern->nr));
    }
}

/* C = A @ B for one matrix, on up to `threads` threads sharing `ws`. */
static void blocked_matrix(const gm_kernel *kern, const blocking *bl,
                           const gm_operand *a, const gm_operand *b,
                           const c_target *c, ptrdiff_t m, ptrdiff_t n,
                           ptrdiff_t k, workspace *ws, int threads,
                           atomic_int *fp_flags)
{
    const blocked_job job = {
        .kern = kern, .bl = bl, .a = a, .b = b, .c = c, .ws = ws,
        .m = m, .n = n, .k = k,
    };
    const ptrdiff_t row_blocks = bl->row_blocks;
    if (bl->own) {
        add_flags(fp_flags, gm_parallel_for(threads, row_blocks * bl->col_parts,
                                            own_block_unit, (void *)&job));
        return;
    }
    for (ptrdiff_t jc = 0; jc < n; jc += bl->nc) {
        const ptrdiff_t nb = min_pd(bl->nc, n - jc);
        for (ptrdiff_t pc = 0; pc < k; pc += bl->kc) {
            blocked_step st = {
                .job = &job, .jc = jc, .nb = nb, .pc = pc,
                .kb = min_pd(bl->kc, k - pc),
                .panels = ceil_div(nb, kern->nr),
                .col_chunks = 1,
            };
            /* At least two units of work per thread. */
            if (threads > 1 && row_blocks < 2 * threads) {
                st.col_chunks = min_pd(st.panels, ceil_div(2 * threads, row_blocks));
            }
            atomic_init(&st.packed, 0);
            if (bl->late_b) {
                st.a_tiles = ceil_div(m, kern->mr);
                add_flags(fp_flags, gm_parallel_for(threads, st.a_tiles + st.panels,
                                                    late_b_step_unit, &st));
                continue;
            }
            add_flags(fp_flags, gm_parallel_for(threads,
                                                st.panels + row_blocks * st.col_chunks,
                                                blocked_step_unit, &st));
        }
    }
}

/* C(i, j) = C(j, i) below the diagonal, in blocks that stay in cache. */
static void mirror_lower(const c_target *c, ptrdiff_t m, size_t es)
{
    enum { BLOCK = 32 };
    for (ptrdiff_t i0 = 0; i0 < m; i0 += BLOCK) {
        for (ptrdiff_t j0 = 0; j0 <= i0; j0 += BLOCK) {
            const ptrdiff_t i_end = min_pd(m, i0 + BLOCK);
            for (ptrdiff_t i = i0; i < i_end; ++i) {
                char *dst = c->data + i * c->row_stride;
                const char *src = c->data + i * c->col_stride;
                const ptrdiff_t j_end = min_pd(i, j0 + BLOCK);
                for (ptrdiff_t j = j0; j < j_end; ++j) {
                    memcpy(dst + j * c->col_stride, src + j * c->row_stride, es);
                }
            }
        }
    }
}

static gm_operand item_operand(const gm_operand *op, ptrdiff_t s)
{
    gm_operand out = *op;
    out.data += s * op->batch_stride;
    return out;
}

/* Matrices [first, last) of the stack, each on `threads` threads. */
static int run_blocked(const gm_problem *p, const gm_kernel *kern,
                       ptrdiff_t first, ptrdiff_t last, int threads,
                       atomic_int *fp_flags)
{
    blocking bl = plan_blocks(kern, p, threads);
    workspace ws;
    float *wide = NULL;
    if (workspace_alloc(&ws, kern, &bl, threads) != 0) {
        return -1;
    }
    /* float16: a float32 C padded to whole tiles. */
    const ptrdiff_t wide_rows = ceil_div(p->m, kern->mr) * kern->mr;
    const ptrdiff_t wide_cols = ceil_div(p->n, kern->nr) * kern->nr;
    if (kern->c_mode == GM_C_WIDE) {
        if ((size_t)wide_cols > SIZE_MAX / kern->acc_size / (size_t)wide_rows) {
            free(ws.raw);
            return -1;
        }
        wide = (float *)malloc((size_t)wide_rows * (size_t)wide_cols * kern->acc_size);
        if (wide == NULL) {
            free(ws.raw);
            return -1;
        }
    }
    const int symmetric = symmetric_product(p);
    for (ptrdiff_t s = first; s < last; ++s) {
        gm_operand a = item_operand(&p->a, s), b = item_operand(&p->b, s);
        gm_operand cu = item_operand(&p->c, s);
        c_target c;
        c.upper = symmetric;
        if (wide != NULL) {
            c.data = (char *)wide;
            c.col_stride = (ptrdiff_t)kern->acc_size;
            c.row_stride = wide_cols * c.col_stride;
            c.in_place = 1;
            c.padded = 1;
        }
        else {
            c.data = cu.data;
            c.row_stride = cu.row_stride;
            c.col_stride = cu.col_stride;
            c.padded = 0;
            c.in_place = kern->c_mode == GM_C_SAME
                         && cu.col_stride == (ptrdiff_t)kern->acc_size
                         && cu.row_stride % (ptrdiff_t)kern->acc_size == 0;
        }
        blocked_matrix(kern, &bl, &a, &b, &c, p->m, p->n, p->k, &ws, threads,
                       fp_flags);
        if (symmetric) {
            mirror_lower(&c, p->m, wide != NULL ? kern->acc_size : gm_item_size(p->type));
        }
        if (wide != NULL) {
            kern->store(wide, p->m, p->n, wide_cols, cu.data, cu.row_stride,
                        cu.col_stride);
        }
    }
    free(wide);
    free(ws.raw);
    return 0;
}

/* Matrices [first, last): blocked when worth it, else direct.  On no
 * memory, the direct path, which needs none. */
static void run_serial(const gm_problem *p, const gm_kernel *kern,
                       ptrdiff_t first, ptrdiff_t last, int blocked)
{
    if (!blocked || run_blocked(p, kern, first, last, 1, NULL) != 0) {
        kern->direct(p, first, last);
    }
}

/* The direct path for rows (or columns) [first, last) of every matrix. */
static void direct_slice(const gm_problem *p, const gm_kernel *kern,
                         int by_rows, ptrdiff_t first, ptrdiff_t last)
{
    gm_problem part = *p;
    if (by_rows) {
        part.m = last - first;
        part.a.data += first * p->a.row_stride;
        part.c.data += first * p->c.row_stride;
    }
    else {
        part.n = last - first;
        part.b.data += first * p->b.col_stride;
        part.c.data += first * p->c.col_stride;
    }
    if (part.m > 0 && part.n > 0) {
        kern->direct(&part, 0, part.batch);
    }
}

/* Few matrices on the direct path (matrix-vector products): the longer of
 * m and n in slices, a few per thread. */
typedef struct direct_job {
    const gm_problem *p;
    const gm_kernel *kern;
    int by_rows;
    ptrdiff_t extent, slices;
} direct_job;

/* Slices of rows start at multiples of 8, the direct loops' widest group
 * of rows, when each slice can have at least 8: a row left alone is one
 * chain of dependent multiply-adds, as slow as a group of 8. */
static ptrdiff_t slice_start(const direct_job *dj, ptrdiff_t unit)
{
    const ptrdiff_t at = dj->extent * unit / dj->slices;
    if (unit == dj->slices || !dj->by_rows || dj->extent < 8 * dj->slices) {
        return at;
    }
    return at / 8 * 8;
}

static void direct_unit(void *ctx, ptrdiff_t unit, int slot)
{
    const direct_job *dj = (const direct_job *)ctx;
    (void)slot;
    direct_slice(dj->p, dj->kern, dj->by_rows, slice_start(dj, unit),
                 slice_start(dj, unit + 1));
}

/* A B of more than this many bytes does not stay in L3 while every
 * thread reads all of it. */
#define GM_DIRECT_SHARED_B_BYTES (8.0 * 1024.0 * 1024.0)
#define GM_DIRECT_ROWS_SPLIT_B_BYTES (1024.0 * 1024.0)

static void direct_split(const gm_problem *p, const gm_kernel *kern,
                         int threads, atomic_int *fp_flags)
{
    /* The longer side in slices.  Rows: a few slices per thread of at
     * least 8 rows, as the direct loops group them (slices of 4 rows of a
     * B with contiguous columns each streamed all of B through the axpy
     * form: AVX2 float32 (32 x 20000) @ (20000 x 32) ran 1.9 times
     * slower); fewer than 16 rows, the columns.  Columns: one slice per
     * thread, so each reads long runs of every row of B.  Each slice of
     * rows reads all of B, each of columns all of A: for a B beyond the
     * caches, the columns when they read fewer bytes (float64 X.T @ X, X
     * 100000 x 64, read X nine times in 8 slices of rows, and ran 2.2
     * times slower than in 2 of columns).  A B of at most
     * GM_DIRECT_ROWS_SPLIT_B_BYTES is read again from L2 or L3 cheaply:
     * rows whichever side is longer, when there are enough for 4 slices
     * of 16 a thread (slices of columns write parts of the same lines of
     * C, and the direct loops' strips fit them worse: float32 (240 x 3)
     * @ (3 x 286) took 15.8 us in slices of columns, 9.9 of rows, one
     * thread 12; float64 (128 x 30) @ (30 x 400) 40 and 35).  Fewer rows
     * lost: slices in numbers that do not divide evenly (float64 (40 x
     * 30) @ (30 x 400), 5 slices, 10.4 -> 13.1), slices of 8 rows each
     * reading B from L2 ((64 x 30) @ (30 x 400) 16.6 -> 18.8). */
    const ptrdiff_t row_slices = min_pd(p->m / 8 > 1 ? p->m / 8 : 1, 4 * (ptrdiff_t)threads);
    const ptrdiff_t col_slices = min_pd(p->n, threads);
    const double item = (double)gm_item_size(p->type);
    const double a_bytes = (double)p->m * (double)p->k * item;
    const double b_bytes = (double)p->k * (double)p->n * item;
    const int b_streams = b_bytes > GM_DIRECT_SHARED_B_BYTES
                          && (double)row_slices * b_bytes + a_bytes
                             > b_bytes + (double)col_slices * a_bytes;
    const int by_rows = p->n == 1 || (p->m >= p->n && p->m >= 16 && !b_streams)
                        || (p->m >= 64 * threads && b_bytes <= GM_DIRECT_ROWS_SPLIT_B_BYTES);
    direct_job dj = {p, kern, by_rows, by_rows ? p->m : p->n,
                     by_rows ? row_slices : col_slices};
    add_flags(fp_flags, gm_parallel_for(threads, dj.slices, direct_unit, &dj));
}

/* Many matrices: runs of whole matrices, a few runs per thread. */
typedef struct batch_job {
    const gm_problem *p;
    const gm_kernel *kern;
    int blocked;
    ptrdiff_t runs;
} batch_job;

static void batch_unit(void *ctx, ptrdiff_t unit, int slot)
{
    const batch_job *bj = (const batch_job *)ctx;
    const ptrdiff_t batch = bj->p->batch;
    (void)slot;
    run_serial(bj->p, bj->kern, batch * unit / bj->runs,
               batch * (unit + 1) / bj->runs, bj->blocked);
}

/* The same product seen transposed: C^T = B^T A^T, summed in the same
 * order with the same factors, so every element is bitwise the same. */
static gm_problem transposed(const gm_problem *p)
{
    gm_problem t = *p;
    t.m = p->n;
    t.n = p->m;
    t.a = (gm_operand){p->b.data, p->b.batch_stride, p->b.col_stride, p->b.row_stride};
    t.b = (gm_operand){p->a.data, p->a.batch_stride, p->a.col_stride, p->a.row_stride};
    t.c = (gm_operand){p->c.data, p->c.batch_stride, p->c.col_stride, p->c.row_stride};
    return t;
}

/* Whether the direct path can stream this product with vector loads: a
 * row of C across contiguous columns of B and C, or dot products of
 * contiguous rows of A with contiguous columns of B. */
static int streams_well(const gm_problem *p, ptrdiff_t item)
{
    const int dots = p->a.col_stride == item && p->b.row_stride == item;
    if (p->n > 1) {
        return dots || (p->b.col_stride == item && p->c.col_stride == item);
    }
    return dots;
}

/* A stack of dot products that share one vector is one matrix-vector
 * product, which can be split over threads and streamed. */
static gm_problem fold_shared_vector(const gm_problem *p)
{
    gm_problem f = *p;
    if (p->m != 1 || p->n != 1 || p->batch < 2) {
        return f;
    }
    if (p->b.batch_stride == 0) {
        f.m = p->batch;
        f.a.row_stride = p->a.batch_stride;
        f.c.row_stride = p->c.batch_stride;
        f.batch = 1;
    }
    else if (p->a.batch_stride == 0) {
        f.n = p->batch;
        f.b.col_stride = p->b.batch_stride;
        f.c.col_stride = p->c.batch_stride;
        f.batch = 1;
    }
    return f;
}

/* A product for the direct path, in the layout it reads best: when the
 * operands do not stream as given (a matrix with contiguous columns times
 * a vector, B with contiguous columns) but do seen transposed, C^T =
 * B^T A^T.  Each element is still one sum over p, never split, so only the
 * speed changes.  conj(A) would change sides when seen transposed: then
 * only the fold. */
static gm_problem direct_layout(const gm_problem *p, int conjugate)
{
    const gm_problem f = fold_shared_vector(p);
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    if (conjugate || streams_well(&f, item)) {
        return f;
    }
    const gm_problem t = transposed(&f);
    return streams_well(&t, item) ? t : f;
}

/* Many rows of few columns with B in Fortran order go direct as a dot
 * product per element, each ending in a sum across the lanes.  Over a
 * short depth, or over many columns of B that no longer fit L1, that cost
 * more than the broadcast form, which needs the columns of B contiguous:
 * such a B (up to this size) is then copied so, and every element becomes
 * one chain in the order p = 0, 1, ...  float32 (4000 x 64) @ (64 x 8)
 * took 29 us as dots, 20 us so. */
#define GM_B_ROWS_COPY_MAX_BYTES (1 << 20)

/* The direct path's two forms for rows of A times columns of B, in
 * cycles a row of C (fitted on Zen 4).  Dot products run in blocks of
 * 3 x 2 elements (5 vectors loaded for 6 multiply-adds): about 0.6 cycles
 * a vector of multiply-adds (twice that when three rows of A and all of
 * B, which each block of rows reads, outgrow L1), plus 2 a lane sum. */
static double dots_cycles(const gm_kernel *kern, const gm_problem *p,
                          ptrdiff_t item)
{
    const double lanes = kern->nr / 2;
    const double n = (double)p->n, k = (double)p->k;
    const double block_bytes = (3.0 + n) * k * (double)item;
    return 0.6 * n * k / lanes * (block_bytes > 32768.0 ? 2.0 : 1.0) + 2.0 * n;
}

/* The broadcast form: about 0.55 cycles a step per vector of columns. */
static double rows_cycles(const gm_kernel *kern, const gm_problem *p)
{
    return 0.55 * (double)p->k * ceil((double)p->n / (double)(kern->nr / 2));
}

/* Copying B costs about 1.5 cycles an element, shared by the rows. */
static double copy_cycles(const gm_problem *p)
{
    return 1.5 * (double)p->k * (double)p->n / (double)p->m;
}

/* Whether the broadcast form of B copied in rows beats dot products on
 * B in Fortran order (float64 (40 x 64) @ (64 x 8): both 2.1 us; (12 x
 * 256) @ (256 x 12): 2.5 us as dots, 4.6 so; (500 x 2000) @ (2000 x 12):
 * 398 as dots, 317 so). */
static int rows_beat_dots(const gm_kernel *kern, const gm_problem *p,
                          ptrdiff_t item)
{
    return rows_cycles(kern, p) + copy_cycles(p) < dots_cycles(kern, p, item);
}

/* Bytes of an operand of rows x cols (once when broadcast). */
static double operand_bytes(const gm_problem *p, const gm_operand *op,
                            ptrdiff_t rows, ptrdiff_t cols)
{
    const ptrdiff_t copies = op->batch_stride == 0 ? 1 : p->batch;
    return (double)copies * (double)rows * (double)cols * (double)gm_item_size(p->type);
}

/* An operand of rows x cols matrices in rows (C order) at `data`, one
 * after another when `stacked`, else one for the whole stack. */
static gm_operand in_rows(char *data, ptrdiff_t rows, ptrdiff_t cols,
                          ptrdiff_t item, int stacked)
{
    return (gm_operand){data, stacked ? rows * cols * item : 0, cols * item, item};
}

/* The operand (rows x cols of every matrix) copied in rows, or NULL when
 * out of memory.  On success *op reads the copy. */
static void *copy_to_rows(const gm_problem *p, gm_operand *op, ptrdiff_t rows,
                          ptrdiff_t cols)
{
    const size_t item = gm_item_size(p->type);
    const ptrdiff_t copies = op->batch_stride == 0 ? 1 : p->batch;
    const ptrdiff_t row_bytes = cols * (ptrdiff_t)item, matrix_bytes = rows * row_bytes;
    char *copy = malloc((size_t)(copies * matrix_bytes));
    if (copy == NULL) {
        return NULL;
    }
    const ptrdiff_t rs = op->row_stride, cs = op->col_stride;
    /* Blocks of columns 64 bytes wide: each row of the block fills one
     * line of the copy, and the block's columns stream in parallel (a
     * whole row at a time read every column's line again per row). */
    const ptrdiff_t width = 64 / (ptrdiff_t)item;
    for (ptrdiff_t s = 0; s < copies; ++s) {
        const char *from = op->data + s * op->batch_stride;
        char *to = copy + s * matrix_bytes;
        for (ptrdiff_t j0 = 0; j0 < cols; j0 += width) {
            const ptrdiff_t j1 = min_pd(j0 + width, cols);
            for (ptrdiff_t q = 0; q < rows; ++q) {
                const char *row = from + q * rs;
                char *dst = to + q * row_bytes;
                /* Constant sizes make each memcpy a move, not a call. */
                switch (item) {
                case 4:
                    for (ptrdiff_t j = j0; j < j1; ++j) {
                        memcpy(dst + 4 * j, row + j * cs, 4);
                    }
                    break;
                case 8:
                    for (ptrdiff_t j = j0; j < j1; ++j) {
                        memcpy(dst + 8 * j, row + j * cs, 8);
                    }
                    break;
                case 16:
                    for (ptrdiff_t j = j0; j < j1; ++j) {
                        memcpy(dst + 16 * j, row + j * cs, 16);
                    }
                    break;
                default:
                    for (ptrdiff_t j = j0; j < j1; ++j) {
                        memcpy(dst + (ptrdiff_t)item * j, row + j * cs, item);
                    }
                    break;
                }
            }
        }
    }
    *op = in_rows(copy, rows, cols, (ptrdiff_t)item, copies > 1);
    return copy;
}

/* B of at most nr columns in rows of a micro-panel of the blocked path,
 * nr or nr / 2 wide, the columns beyond n zero: the kernel's packing
 * transposes in registers (depth contiguous) or gathers (strided), where
 * copy_to_rows moves one element at a time (float32 (43 x 945) @ (945 x
 * 16), B in Fortran order, spent as long copying B as computing).  For
 * real floats, whose packed elements are the stored ones, and a B wider
 * than a quarter of a panel, which bounds the padding. */
static int packs_in_rows(const gm_problem *p, const gm_kernel *kern)
{
    return is_real_float(p->type) && kern->packed_size == gm_item_size(p->type)
           && p->n > kern->nr / 4 && p->n <= kern->nr;
}

/* The copy above; NULL when out of memory, on success *p reads it. */
static void *b_packed_in_rows(gm_problem *p, const gm_kernel *kern)
{
    const ptrdiff_t panel = 2 * p->n <= kern->nr ? kern->nr / 2 : kern->nr;
    const ptrdiff_t copies = p->b.batch_stride == 0 ? 1 : p->batch;
    const ptrdiff_t matrix_bytes = p->k * panel * (ptrdiff_t)kern->packed_size;
    char *copy = malloc((size_t)(copies * matrix_bytes));
    if (copy == NULL) {
        return NULL;
    }
    for (ptrdiff_t s = 0; s < copies; ++s) {
        kern->pack_b(p->b.data + s * p->b.batch_stride, p->b.col_stride, p->b.row_stride,
                     p->n, p->k, (int)panel, copy + s * matrix_bytes);
    }
    p->b = (gm_operand){copy, copies > 1 ? matrix_bytes : 0,
                        panel * (ptrdiff_t)kern->packed_size, (ptrdiff_t)kern->packed_size};
    return copy;
}

/* B copied with contiguous columns, as packed micro-panels where
 * packs_in_rows says so, else element by element; NULL when out of
 * memory, on success *p reads the copy. */
static void *b_copied_in_rows(gm_problem *p, const gm_kernel *kern)
{
    return packs_in_rows(p, kern) ? b_packed_in_rows(p, kern)
                                  : copy_to_rows(p, &p->b, p->k, p->n);
}

/* Whether copying B in rows pays for dot products shallower than the
 * kernel's short_dot_depth, which are scalar chains with the bits of the
 * register form: about one cycle for two multiply-adds an element, against
 * the register form's steps plus about 1.5 cycles an element of B copied,
 * shared by the rows (float32 (33 x 4) @ (4 x 151), B in Fortran order:
 * 3.7 us as dots, 1.4 so). */
static int rows_beat_short_dots(const gm_kernel *kern, const gm_problem *p)
{
    const double lanes = kern->nr / 2;
    const double vectors = ceil((double)p->n / lanes);
    const double dots = (double)p->n * (0.5 * (double)p->k + 2.0);
    const double rows = 0.55 * (double)p->k * vectors
                        + 1.5 * (double)p->k * (double)p->n / (double)p->m;
    return rows < dots;
}

/* B copied with contiguous columns for the broadcast form (see above), or
 * NULL to keep the dot products (also when out of memory: they need
 * none).  On success *p points at the copy. */
static void *b_in_rows(gm_problem *p, const gm_kernel *kern,
                       ptrdiff_t item)
{
    const int real = is_real_float(p->type);
    if (!real || kern->direct_max_cols <= 0 || p->m < 2 || p->n < 2 || p->k < 1
            || p->a.col_stride != item || p->b.row_stride != item
            || p->b.col_stride == item || p->c.col_stride != item) {
        return NULL;
    }
    /* Short dot products change no bits; longer ones only for many rows
     * of few columns (a row computed alone stays a dot product). */
    const int pays = p->k < kern->short_dot_depth
                     ? rows_beat_short_dots(kern, p)
                     : p->m >= 8 && p->n <= kern->direct_max_cols
                       && rows_beat_dots(kern, p, item);
    if (!pays || operand_bytes(p, &p->b, p->k, p->n) > GM_B_ROWS_COPY_MAX_BYTES) {
        return NULL;
    }
    return b_copied_in_rows(p, kern);
}

/* Whether dot products of B copied in columns beat the broadcast form
 * on B in C order, for fewer columns than a vector has lanes, which the
 * broadcast form leaves empty (float32 (390 x 216) @ (216 x 3): 21.5 us
 * so, NumPy 11.2).  The copy counts twice: it runs before threads share
 * the rows (float32 (30 x 1000) @ (1000 x 5): 7.1 us so, 8.5 copied). */
static int dots_beat_rows(const gm_kernel *kern, const gm_problem *p,
                          ptrdiff_t item)
{
    return p->n < kern->nr / 2
           && dots_cycles(kern, p, item) + 2.0 * copy_cycles(p) < rows_cycles(kern, p);
}

/* B (C order) copied with contiguous columns for dot products (see
 * above), or NULL to keep the broadcast form.  On success *p points at
 * the copy. */
static void *b_in_columns(gm_problem *p, const gm_kernel *kern,
                          ptrdiff_t item)
{
    const int real = is_real_float(p->type);
    if (!real || kern->direct_max_cols <= 0 || p->m < 2 || p->n < 2
            || p->k < kern->short_dot_depth || p->k < 1
            || p->a.col_stride != item || p->b.col_stride != item
            || p->b.row_stride == item || !dots_beat_rows(kern, p, item)
            || operand_bytes(p, &p->b, p->k, p->n) > GM_B_ROWS_COPY_MAX_BYTES) {
        return NULL;
    }
    gm_operand columns = {p->b.data, p->b.batch_stride, p->b.col_stride,
                          p->b.row_stride};
    void *copy = copy_to_rows(p, &columns, p->n, p->k);
    if (copy != NULL) {
        p->b = (gm_operand){columns.data, columns.batch_stride, columns.col_stride,
                            columns.row_stride};
    }
    return copy;
}

/* A vector operand (the column of B when n == 1, the row of A when m ==
 * 1) not contiguous along the depth, against a matrix that streams only as
 * dot products (a column of a Fortran-order stack, or a strided view),
 * copied contiguous: the direct path would otherwise run its scalar loop,
 * one chain of dependent additions per element (a stack of 3 float64 (16 x
 * 250) @ (250 x 1), the vectors in Fortran order, took 14 us, NumPy 4).
 * The copy is k elements a matrix.  Returns it, or NULL (also when out of
 * memory: the scalar loop needs none); on success *p reads it. */
static void *vector_copied(gm_problem *p, ptrdiff_t item)
{
    const int streamed = is_real_float(p->type) || p->type == GM_COMPLEX64
                         || p->type == GM_COMPLEX128;
    if (!streamed || p->k < 2 || streams_well(p, item)) {
        return NULL;
    }
    if (p->n == 1 && p->a.col_stride == item && p->b.row_stride != item
            && operand_bytes(p, &p->b, p->k, 1) <= GM_B_ROWS_COPY_MAX_BYTES) {
        return copy_to_rows(p, &p->b, p->k, 1);
    }
    if (p->m == 1 && p->b.row_stride == item && p->a.col_stride != item
            && operand_bytes(p, &p->a, 1, p->k) <= GM_B_ROWS_COPY_MAX_BYTES) {
        return copy_to_rows(p, &p->a, 1, p->k);
    }
    return NULL;
}

/* The kernel set seen through its conjugating direct path: every shape
 * goes direct (the blocked path has no conjugating packing). */
static gm_kernel conjugating(const gm_kernel *kern, gm_family family)
{
    gm_kernel conj = *kern;
    conj.direct = kern->direct_conj != NULL ? kern->direct_conj
                                            : gm_generic_kernels[family]->direct_conj;
    conj.direct_max_flops = HUGE_VAL;
    conj.direct_max_rows = 0;
    return conj;
}

static int is_floating(gm_type type)
{
    return type >= GM_FLOAT16 && type <= GM_CLONGDOUBLE;
}

static int is_complex(gm_type type)
{
    return type >= GM_COMPLEX64 && type <= GM_CLONGDOUBLE;
}

/* Whether a product whose B and C have contiguous columns has few enough
 * rows for the direct loops at any depth (see direct_rows_max_rows).  Up
 * to twice as many when B has at most 4 panels of columns, whose last is
 * mostly padding on the packed path and which leave threads short of work
 * there (float32 (128 x 1000) @ (1000 x 65) ran 1.9 times faster), unless
 * B is too large to stay in L3 while every thread reads it (1.3 times
 * slower at (128 x 100000) @ (100000 x 128)); and, where the kernel set
 * says so, more rows of a smaller B (see direct_mid_rows). */
static int direct_rows_fit(const gm_kernel *kern, const gm_problem *p,
                           double b_bytes)
{
    const ptrdiff_t rows = kern->direct_rows_max_rows;
    return (p->m <= rows && (2 * p->m <= rows || kern->direct_rows_b_bytes == 0
                             || b_bytes <= kern->direct_rows_b_bytes))
           || (p->m <= 2 * rows && p->n <= 4 * kern->nr
               && b_bytes <= GM_DIRECT_SHARED_B_BYTES)
           || (p->m <= kern->direct_mid_rows && b_bytes <= kern->direct_mid_bytes
               && (double)p->m * (double)p->n * (double)gm_item_size(p->type)
                  <= kern->direct_mid_bytes
               && (p->b.row_stride % 4096 != 0 || 4.0 * b_bytes <= kern->direct_mid_bytes));
}

/* Whether a real product whose A has contiguous rows and B contiguous
 * columns (x @ w.T) runs faster as dot products than packed, though
 * deeper or wider than GM_DOTS_ROWS_BYTES allows: up to 16 rows, 32 of up
 * to 256 columns, or 64 of up to 48 columns, over a depth of
 * GM_DOTS_MIN_DEPTH or more (shorter, the lane sums that end each element
 * cost more than the packing saved) and a B that stays in L2 while groups
 * of rows read it again.  Intel Xeon, 2 threads, us, packed -> dots:
 * float32 (30 x 300) @ (300 x 40) 25.0 -> 12.9 (NumPy 14.0); (32 x 600) @
 * (600 x 128) 90.5 -> 64.0 (73.5); (64 x 1200) @ (1200 x 40) 128 -> 79
 * (100); float64 (16 x 300) @ (300 x 128) 59.0 -> 28.2 (35.8); (32 x 300)
 * @ (300 x 40) 43.1 -> 21.4 (22.6); (64 x 600) @ (600 x 40) 112 -> 64
 * (75).  Outside those bounds packing won or tied: float32 (32 x 128) @
 * (128 x 2000) 169 -> 221, float64 (32 x 200) @ (200 x 600) 183 -> 202,
 * (96 x 128) @ (128 x 128) 82 -> 105, (32 x 300) @ (300 x 1000) 465 ->
 * 733.  The AVX2 set gains the same way (float32 (32 x 300) @ (300 x 40)
 * 25.9 -> 16.0). */
#define GM_DOTS_MIN_DEPTH 96
#define GM_DOTS_MAX_B_BYTES (1024.0 * 1024.0)

static int dots_beat_packing(const gm_problem *p, double b_bytes)
{
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    return is_real_float(p->type) && p->a.col_stride == item && p->b.row_stride == item
           && p->k >= GM_DOTS_MIN_DEPTH && b_bytes <= GM_DOTS_MAX_B_BYTES
           && (p->m <= 16 || (p->m <= 32 && p->n <= 256) || (p->m <= 64 && p->n <= 48));
}

/* The path of a product: the kernel set (narrowed, or its conjugating
 * direct path), packed blocks or the direct path, and the layout that
 * path reads. */
typedef struct path_plan {
    const gm_kernel *kern;
    gm_kernel conj_kern;
    int blocked;
    gm_problem laid_out;
} path_plan;

static void plan_path(const gm_problem *problem, int conjugate,
                      path_plan *plan)
{
    const gm_family family = gm_family_of(problem->type);
    const gm_kernel *kern = gm_kernel_for(family);
    const double flops = (double)problem->m * (double)problem->n * (double)problem->k;
    /* A vector operand, or too few rows to reuse packed panels: the
     * direct path streams the operands once. */
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(problem->type);
    const double b_bytes = (double)problem->k * (double)problem->n * (double)item;
    /* Many rows go direct only on the axpy forms (columns of B and C
     * contiguous): as dot products, every row would read all of B. */
    const int rows_layout = problem->b.col_stride == item && problem->c.col_stride == item;
    const int dots_rows = problem->m <= GM_DOTS_SHALLOW_ROWS
                          && problem->k >= GM_DOTS_DEPTH_PER_ROW * problem->m
                          && (double)problem->m * (double)problem->k * (double)item
                             <= GM_DOTS_ROWS_BYTES;
    const int axpy_rows = dots_rows || rows_layout;
    const int few_rows = problem->m <= (kern->direct_max_rows > 0 ? kern->direct_max_rows : 1)
                         || (rows_layout && direct_rows_fit(kern, problem, b_bytes))
                         || (kern->direct_max_rows > 0 && dots_beat_packing(problem, b_bytes))
                         || (problem->m <= kern->direct_shallow_rows
                             && problem->k <= kern->direct_shallow_depth
                             && (kern->direct_shallow_bytes == 0
                                 || b_bytes <= kern->direct_shallow_bytes)
                             && axpy_rows);
    const int vector = few_rows || problem->n == 1 || problem->n <= kern->direct_max_cols;
    /* A matrix of few columns: narrower tiles, where the set has them. */
    if (!vector && kern->narrow != NULL && *kern->narrow != NULL
            && 2 * problem->n <= kern->nr) {
        kern = *kern->narrow;
    }
    if (conjugate) {
        plan->conj_kern = conjugating(kern, family);
        kern = &plan->conj_kern;
    }
    plan->kern = kern;
    /* Few columns and a short depth (points @ a 3 x 3 matrix): blocked
     * tiles would be mostly padding, the direct path reads A once. */
    const int narrow = 2 * problem->n <= kern->nr && problem->k <= 16;
    const double direct_max_flops = rows_layout && kern->direct_rows_max_flops > kern->direct_max_flops
                                    ? kern->direct_rows_max_flops : kern->direct_max_flops;
    const int worth_packing = problem->k > 0 && flops > direct_max_flops;
    plan->blocked = worth_packing && !vector && !narrow;
    plan->laid_out = plan->blocked ? *problem : direct_layout(problem, conjugate);
    /* A layout the direct path cannot stream either way (B with strided
     * rows, few rows of A) would go through its scalar loop: packing
     * absorbs any strides. */
    if (!plan->blocked && worth_packing && !conjugate && problem->m > 1 && problem->n > 1
            && !streams_well(&plan->laid_out, item)) {
        plan->blocked = 1;
        plan->laid_out = *problem;
    }
}

/* A product on the direct path that does not stream as given (or, for
 * complex, streams only as dot products, which pay two lane sums and
 * their combining per element) can be made to by copying one operand in
 * rows (C order), up to GM_B_ROWS_COPY_MAX_BYTES:
 *   - B, when C has contiguous columns: rows of C then stay in registers,
 *     A read in any layout (complex128 (52 x 838) @ (838 x 3), B in
 *     Fortran order, went packed in 41 us, 11 us so; float32 (12 x 75) @
 *     (75 x 10), both in Fortran order, took 3.7 us in the plain loop,
 *     1.3 so);
 *   - A, when B has contiguous columns and A is at most a quarter of its
 *     size: dot products (float64 (4 x 59) @ (59 x 202), both in Fortran
 *     order: 5.4 us packed, 8.0 copying B, 4.0 copying A), which sum the
 *     lanes of every element and lose to the register form on operands
 *     of about equal size (float32 (20 x 50) @ (50 x 30): 2.2 us copying
 *     A, 1.5 copying B).
 * Real products that stream as dot products decide in b_in_rows. */
typedef enum { STAGE_NONE, STAGE_A, STAGE_B } stage_choice;
#define GM_STAGE_B_MIN_ROWS 16
#define GM_STAGE_B_BLOCKED_COLS 64

/* Complex dot products pay for their lane sums and the combining of real
 * and imaginary parts, about 4 cycles plus 2 a halving of the lanes an
 * element (8 for complex128 on AVX2, 12 for complex64 on AVX-512), and
 * 1.5 a vector of multiply-adds; the register form about 2.2 a step per
 * vector of columns, once B is copied in rows.  The copy counts four
 * times: about 3 cycles an element with the allocation, made by the
 * calling thread while the others wait (a stack of 500 complex128 (3 x 5)
 * @ (5 x 20) lost a third so).  Fitted on Zen 4; over a short depth the
 * lane sums dominate: complex128 (4 x 2) @ (2 x 132), B in Fortran order,
 * took 2.5 us as dots, 1.6 copied. */
static int complex_rows_beat_dots(const gm_kernel *kern, const gm_problem *p)
{
    const double lanes = kern->nr / 2;
    const double n = (double)p->n, k = (double)p->k;
    const double dots = n * (4.0 + 2.0 * log2(2.0 * lanes) + 1.5 * ceil(k / lanes));
    const double rows = 2.2 * k * ceil(n / lanes);
    return rows + 4.0 * copy_cycles(p) < dots;
}

/* Which operand to copy, if one can be (the caller decides whether it
 * pays against the plan as given). */
static stage_choice stage_for(const gm_problem *p, const gm_kernel *kern,
                              int conjugate)
{
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    const int complex = is_complex(p->type) && p->type != GM_CLONGDOUBLE;
    const int real = is_real_float(p->type);
    if (!(real || complex) || conjugate || p->m < 2 || p->n < 2 || p->k < 1) {
        return STAGE_NONE;
    }
    const double a_bytes = operand_bytes(p, &p->a, p->m, p->k);
    const double b_bytes = operand_bytes(p, &p->b, p->k, p->n);
    const int b_ok = p->b.col_stride != item && p->c.col_stride == item
                     && b_bytes <= GM_B_ROWS_COPY_MAX_BYTES;
    const int a_ok = p->a.col_stride != item && p->b.row_stride == item
                     && a_bytes <= GM_B_ROWS_COPY_MAX_BYTES;
    /* Complex rows of C at most 32 bytes wide would leave the vectors
     * of the register form half empty or more: dot products then do
     * less work (complex64 (33 x 1207) @ (1207 x 2): 5.0 us as dots, 11.9
     * in rows). */
    if (complex && p->a.col_stride == item && p->b.row_stride == item
            && p->n * item <= 32) {
        return STAGE_NONE;
    }
    /* Dot products of a copy of A shallower than short_dot_depth would be
     * scalar chains in the order of the register form (the same bits at
     * several times the cost: float32 (3 x 2) @ (2 x 149), both in Fortran
     * order, 1.3 us so, 1.1 copying B). */
    const int short_dots = real ? p->k < kern->short_dot_depth
                                : complex_rows_beat_dots(kern, p);
    if (a_ok && (!b_ok || (4.0 * a_bytes <= b_bytes && !short_dots))) {
        return STAGE_A;
    }
    return b_ok ? STAGE_B : STAGE_NONE;
}

/* Copies the operand that stage_for chose when the direct path then
 * streams the product; *plan is then the copy's.  Returns the copy to
 * free, or NULL. */
static void *stage_operand(const gm_problem *problem, int conjugate,
                           path_plan *plan)
{
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(problem->type);
    const stage_choice choice = stage_for(problem, plan->kern, conjugate);
    if (choice == STAGE_NONE) {
        return NULL;
    }
    const gm_problem given = direct_layout(problem, conjugate);
    if (is_complex(problem->type)) {
        /* Over a depth so short that complex dots are mostly lane sums
         * (complex_rows_beat_dots), a copy of B pays whatever the plan;
         * else the two refusals below. */
        const int refusable = choice == STAGE_B
                              && !complex_rows_beat_dots(plan->kern, problem);
        /* Complex dots (or packed blocks) hold out against a copy of B
         * that is not amortized over enough rows: an element copied
         * costs about as much as 8 to 16 complex multiply-adds (complex64
         * (9 x 1599) @ (1599 x 16): 17 us as dots, 20 with B copied). */
        if (refusable && problem->m < GM_STAGE_B_MIN_ROWS
                && (plan->blocked || streams_well(&given, item))) {
            return NULL;
        }
        /* Packed blocks of many columns pack B in parallel and waste
         * little on padding; the copy is made by the calling thread alone
         * (complex128 (22 x 62) @ (62 x 537): 73 us packed, 108 copying
         * B; (48 x 300) @ (300 x 100) 147 and 227; but (22 x 400) @ (400 x
         * 20) 42 and 32; complex128 (3 x 2) @ (2 x 5000), a short depth,
         * 23 us packed, 12 copying B). */
        if (refusable && plan->blocked && problem->n >= GM_STAGE_B_BLOCKED_COLS) {
            return NULL;
        }
    }
    else {
        if (streams_well(&given, item)) {
            return NULL;
        }
        /* Instead of packed blocks, which absorb any layout, only when the
         * copy is small next to the product's other operand: B at most a
         * quarter of A's rows, or A of few rows (dot products along B's
         * columns).  float64 (22 x 302) @ (302 x 72), both in Fortran
         * order: 16 us packed, 32 as dots of a copy of A.  Also a B of one
         * micro-panel (or at most the direct path's columns) and no more
         * columns than A has rows, at least GM_STAGE_B_MIN_ROWS of them:
         * packed, its one panel is packed by one thread and its few row
         * blocks leave the other threads idle, where the direct path
         * shares the rows (2 threads, us, packed -> copied, B strided:
         * float32 (16 x 2000) @ (2000 x 16) 67 -> 22; (43 x 945) @ (945 x
         * 16) 40 -> 22; (40 x 300) @ (300 x 32) 21 -> 15; float64 (40 x
         * 500) @ (500 x 12) 22 -> 14; (16 x 1377) @ (1377 x 13) in
         * Fortran order, A strided, 52 -> 32; but (12 x 300) @ (300 x 12)
         * 5.9 -> 7.5). */
        const int few_columns = (problem->n <= plan->kern->nr
                                 || problem->n <= plan->kern->direct_max_cols)
                                && problem->n <= problem->m
                                && problem->m >= GM_STAGE_B_MIN_ROWS;
        if (plan->blocked && !(choice == STAGE_B ? 4 * problem->n <= problem->m || few_columns
                                                 : problem->m <= 8)) {
            return NULL;
        }
    }
    /* The plan for the copied layout (only the strides matter to it). */
    gm_problem staged = *problem;
    gm_operand *op = choice == STAGE_A ? &staged.a : &staged.b;
    const ptrdiff_t rows = choice == STAGE_A ? problem->m : problem->k;
    const ptrdiff_t cols = choice == STAGE_A ? problem->k : problem->n;
    op->row_stride = cols * item;
    op->col_stride = item;
    path_plan staged_plan;
    plan_path(&staged, conjugate, &staged_plan);
    if (staged_plan.blocked || !streams_well(&staged_plan.laid_out, item)) {
        return NULL;
    }
    *op = choice == STAGE_A ? problem->a : problem->b;
    void *copy = choice == STAGE_B ? b_copied_in_rows(&staged, plan->kern)
                                   : copy_to_rows(problem, op, rows, cols);
    if (copy != NULL) {
        plan_path(&staged, conjugate, plan);
    }
    return copy;
}

/* A stack of single rows times one shared matrix (or one shared matrix
 * times a stack of single columns) is one product: the rows of every
 * matrix as the rows of one A (the columns as the columns of one B).
 * Planned whole, it reuses the shared matrix from packed blocks instead
 * of streaming it once per row (float32 (3 x 151) in Fortran order @
 * (445, 151, 1): 445 chains of 151 dependent multiply-adds).  Each
 * element is still one sum over p; where the matrices one by one took the
 * register form, which sums in the order p as the packed form does, its
 * bits do not change. */
static gm_problem fold_shared_matrix(const gm_problem *p)
{
    gm_problem f = *p;
    if (p->batch < 2) {
        return f;
    }
    if (p->m == 1 && p->n > 1 && p->b.batch_stride == 0) {
        f.m = p->batch;
        f.a.row_stride = p->a.batch_stride;
        f.c.row_stride = p->c.batch_stride;
        f.batch = 1;
    }
    else if (p->n == 1 && p->m > 1 && p->a.batch_stride == 0) {
        f.n = p->batch;
        f.b.col_stride = p->b.batch_stride;
        f.c.col_stride = p->c.batch_stride;
        f.batch = 1;
    }
    /* A stack of matrices times one shared matrix or vector, whose rows
     * (and those of C) follow each other at one stride, is one product of
     * all the rows; one matrix or vector times a stack, by columns, the
     * same (float64 (1000, 3, 3) @ (3,): 12.4 us, 21 ns a matrix on its
     * own; (49, 3, 10) @ (10, 50): 9.2 us, NumPy 6.6).  A matrix-vector
     * product's elements stay the dot products they were. */
    else if (p->m > 1 && p->b.batch_stride == 0
             && p->a.batch_stride == p->m * p->a.row_stride
             && p->c.batch_stride == p->m * p->c.row_stride) {
        f.m = p->batch * p->m;
        f.batch = 1;
    }
    else if (p->n > 1 && p->a.batch_stride == 0
             && p->b.batch_stride == p->n * p->b.col_stride
             && p->c.batch_stride == p->n * p->c.col_stride) {
        f.n = p->batch * p->n;
        f.batch = 1;
    }
    return f;
}

/* A product of few columns with A in Fortran order (x.T @ w, x in C
 * order, w of a few columns) streams poorly as given: rows of C across a
 * vector of lanes mostly empty, or dot products down A's strided rows.
 * Transposed, C^T = B^T A^T is a product of a few rows across the
 * contiguous rows of A^T, the direct path's broadcast form, once C^T has
 * contiguous columns: it is computed into a buffer (up to
 * GM_C_STAGED_MAX_BYTES) and copied into C.  float32 (504 x 81, Fortran)
 * @ (81 x 2) took 9.7 us, 4.5 so; (3000 x 1000, Fortran) @ (1000 x 5)
 * 454 and 226.  Up to the rows the direct path takes as few
 * (direct_max_rows), or up to GM_C_STAGED_MAX_COLS over a depth of
 * GM_C_STAGED_DEEP or more: float64 (3000 x 81, Fortran) @ (81 x 8) took
 * 47 us as given, 70 so, and (3000 x 16) @ (16 x 8) 9 and 22. */
#define GM_C_STAGED_MAX_COLS 8
#define GM_C_STAGED_DEEP 256
#define GM_C_STAGED_MAX_BYTES (1 << 20)

/* Both operands in Fortran order (x.T @ w.T, or arrays made in Fortran
 * order) read neither as rows of A and B nor as dot products, but seen
 * transposed, C^T = B^T A^T, they are a product of two operands in C
 * order, the direct path's best layout: C^T into a buffer costs m x n
 * copies, where a copy of B in rows (the alternative) costs k x n.  For
 * products on the direct path (larger ones are packed, which absorbs any
 * layout), when m <= k, and for more rows than those that copy A for
 * dot products (float64 (4 x 59) @ (59 x 202): 9.2 us so, 10.0 staging
 * C).  Intel Xeon, us: float64 (15 x 190) @ (190 x 26) 13.0 -> 4.3
 * (NumPy 4.6); (22 x 302) @ (302 x 72) 54.6 -> 19.9 (21.4); float32 (30 x
 * 300) @ (300 x 40) 21.2 -> 10.1 (13.6); (12 x 75) @ (75 x 10) 2.95 ->
 * 2.25 (2.05).  Called on the transposed product, this finds its A in C
 * order and refuses, so the staging never recurses. */
static int both_fortran_stages_c(const gm_problem *p, const gm_kernel *kern,
                                 ptrdiff_t item)
{
    return p->m > kern->direct_max_rows && p->m <= p->k
           && p->a.row_stride == item && p->a.col_stride != item
           && p->b.row_stride == item && p->b.col_stride != item
           && p->c.col_stride == item
           && (double)p->m * (double)p->n * (double)p->k <= kern->direct_rows_max_flops;
}

static int stages_c(const gm_problem *p, int conjugate)
{
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    if (!is_real_float(p->type) || conjugate || p->n < 2
            || (double)p->batch * (double)p->m * (double)p->n * (double)item
               > GM_C_STAGED_MAX_BYTES) {
        return 0;
    }
    const gm_kernel *kern = gm_kernel_for(gm_family_of(p->type));
    if (both_fortran_stages_c(p, kern, item)) {
        return 1;
    }
    /* More rows than GM_C_STAGED_MAX_COLS: the transposed product, with
     * that many columns, is never staged in turn. */
    if (p->m <= GM_C_STAGED_MAX_COLS || p->k < 1
            || p->a.row_stride != item || p->a.col_stride == item) {
        return 0;
    }
    const ptrdiff_t few = kern->direct_max_rows;
    return few > 0 && (p->n <= few
                       || (p->n <= GM_C_STAGED_MAX_COLS && p->k >= GM_C_STAGED_DEEP));
}

static void compute(const gm_problem *given, int conjugate, atomic_int *fp_flags);

/* C^T computed in a buffer, then copied into C (see stages_c).  Returns
 * nonzero when out of memory, C untouched. */
static int compute_staged_c(const gm_problem *p, atomic_int *fp_flags)
{
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    const ptrdiff_t row_bytes = p->m * item, matrix_bytes = p->n * row_bytes;
    char *staged = malloc((size_t)(p->batch * matrix_bytes));
    if (staged == NULL) {
        return -1;
    }
    gm_problem t = transposed(p);
    t.c = in_rows(staged, p->n, p->m, item, 1);
    compute(&t, 0, fp_flags);
    for (ptrdiff_t s = 0; s < p->batch; ++s) {
        const char *from = staged + s * matrix_bytes;
        char *to = p->c.data + s * p->c.batch_stride;
        for (ptrdiff_t i = 0; i < p->m; ++i) {
            char *row = to + i * p->c.row_stride;
            if (item == 4) {
                for (ptrdiff_t j = 0; j < p->n; ++j) {
                    memcpy(row + j * p->c.col_stride, from + j * row_bytes + 4 * i, 4);
                }
            }
            else {
                for (ptrdiff_t j = 0; j < p->n; ++j) {
                    memcpy(row + j * p->c.col_stride, from + j * row_bytes + 8 * i, 8);
                }
            }
        }
    }
    free(staged);
    return 0;
}

/* Stacks whose matrices interleave in memory, the stack's axis the
 * fastest (a Fortran-order array, np.moveaxis(x, -1, 0)): each element of
 * a matrix lies a whole stack away from the next, and the direct path
 * ran its scalar loop on them (20000 float64 16 x 16 @ 16 x 16: 81 ms,
 * NumPy 40, C order 8).  Where the direct path would not stream them
 * (it broadcasts elements of A from anywhere, but needs B's columns or
 * the rows of A and the columns of B contiguous), such operands of
 * matrices for the direct path are copied in C order, a chunk of
 * GM_INTERLEAVED_CHUNK_BYTES of matrices at a time, each chunk copied and
 * computed by one thread: copying matrix s then s + 1 reads the same
 * lines of the stack, which stay in L1.  (A alone interleaved, with B in
 * C order, ran twice as fast as it lies: float64 100000 x 4x4 0.77 ms,
 * 1.60 copied.)
 * Larger matrices are packed, which absorbs any layout (float64 5000 x
 * 32 x 32: 20 ms so, 22 copied). */
#define GM_INTERLEAVED_CHUNK_BYTES (256 * 1024)
#define GM_INTERLEAVED_MIN_FLOPS 1024.0
#define GM_INTERLEAVED_MIN_BYTES (4.0 * 1024.0 * 1024.0)

static int interleaved(const gm_operand *op, ptrdiff_t item)
{
    return op->batch_stride == item || op->batch_stride == -item;
}

typedef struct interleaved_job {
    const gm_problem *p;
    ptrdiff_t chunk;   /* matrices a unit */
} interleaved_job;

static void interleaved_unit(void *ctx, ptrdiff_t unit, int slot)
{
    const interleaved_job *job = (const interleaved_job *)ctx;
    const gm_problem *p = job->p;
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    const ptrdiff_t first = unit * job->chunk, count = min_pd(job->chunk, p->batch - first);
    gm_problem part = *p;
    (void)slot;
    part.batch = count;
    part.a.data += first * p->a.batch_stride;
    part.b.data += first * p->b.batch_stride;
    part.c.data += first * p->c.batch_stride;
    void *a_copy = NULL, *b_copy = NULL;
    if (interleaved(&p->a, item)) {
        a_copy = copy_to_rows(&part, &part.a, p->m, p->k);
    }
    if (interleaved(&p->b, item)) {
        b_copy = copy_to_rows(&part, &part.b, p->k, p->n);
    }
    /* (Out of memory, the operand as it lies.) */
    path_plan plan;
    plan_path(&part, 0, &plan);
    run_serial(&plan.laid_out, plan.kern, 0, plan.laid_out.batch, plan.blocked);
    free(a_copy);
    free(b_copy);
}

/* Runs the product as interleaved chunks, or returns 0 for the other
 * paths.  (Not for stacks of vector products: their direct loops cost
 * more a matrix than the scalar loop on such small ones, a stack of 1009
 * (3 x 29) @ (29,) took 164 us copied, 42 as it lies.) */
static int compute_interleaved(const gm_problem *p, int conjugate, atomic_int *fp_flags)
{
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(p->type);
    const double flops = (double)p->m * (double)p->n * (double)p->k;
    /* (Narrower types: their kernels widen them while packing, which
     * absorbs the layout; copied first, int8 20000 x 8 x 8 took 7.0 ms,
     * 1.7 packed.) */
    if (conjugate || p->batch < 2 || item < 4 || p->k < 1 || p->m < 2 || p->n < 2
            || flops > gm_kernel_for(gm_family_of(p->type))->direct_max_flops
            || !(interleaved(&p->a, item) || interleaved(&p->b, item))) {
        return 0;
    }
    const gm_problem laid_out = direct_layout(p, 0);
    if (streams_well(&laid_out, item)) {
        return 0;
    }
    /* ... and where it will once the copies are made (not, say, with B's
     * columns in reverse order: float32 (1403, 29, 26) @ (1403, 26, 6)
     * took 4.2 ms so, 0.8 on the other paths). */
    gm_problem staged = *p;
    double interleaved_bytes = 0.0;
    if (interleaved(&p->a, item)) {
        staged.a = in_rows(p->a.data, p->m, p->k, item, 1);
        interleaved_bytes += (double)p->batch * (double)(p->m * p->k * item);
    }
    if (interleaved(&p->b, item)) {
        staged.b = in_rows(p->b.data, p->k, p->n, item, 1);
        interleaved_bytes += (double)p->batch * (double)(p->k * p->n * item);
    }
    const gm_problem staged_laid_out = direct_layout(&staged, 0);
    if (!streams_well(&staged_laid_out, item)) {
        return 0;
    }
    /* Matrices of few multiply-adds cost more a matrix on the direct loops
     * than in the scalar loop, while the stack stays in the caches (float32
     * 1645 x (6 x 3) @ (3 x 30): 276 us copied, 137 as it lies; float64 1882
     * x (3 x 14) @ (14 x 6) 356 and 208). */
    if (flops < GM_INTERLEAVED_MIN_FLOPS && interleaved_bytes < GM_INTERLEAVED_MIN_BYTES) {
        return 0;
    }
    const double matrix_bytes = (double)(p->m * p->k + p->k * p->n) * (double)item;
    interleaved_job job = {p, (ptrdiff_t)(GM_INTERLEAVED_CHUNK_BYTES / matrix_bytes)};
    job.chunk = job.chunk < 1 ? 1 : job.chunk;
    const int threads = gm_threads_begin(flops * (double)p->batch, 1);
    add_flags(fp_flags, gm_parallel_for(threads, ceil_div(p->batch, job.chunk),
                                        interleaved_unit, &job));
    gm_threads_end();
    return 1;
}

/* Computes the product (of conj(A) when `conjugate`) on the chosen path and
 * threads.  Floating-point flags raised on other threads are added to
 * *fp_flags. */
static void compute(const gm_problem *given, int conjugate,
                    atomic_int *fp_flags)
{
    const gm_problem folded = conjugate ? *given : fold_shared_matrix(given);
    const gm_problem *problem = &folded;
    if (compute_interleaved(problem, conjugate, fp_flags)) {
        return;
    }
    if (stages_c(problem, conjugate) && compute_staged_c(problem, fp_flags) == 0) {
        return;
    }
    const ptrdiff_t item = (ptrdiff_t)gm_item_size(problem->type);
    path_plan plan;
    plan_path(problem, conjugate, &plan);
    void *copy = stage_operand(problem, conjugate, &plan);
    if (copy == NULL && !plan.blocked) {
        copy = vector_copied(&plan.laid_out, item);
    }
    if (copy == NULL && !plan.blocked && !conjugate) {
        copy = b_in_rows(&plan.laid_out, plan.kern, item);
        if (copy == NULL) {
            copy = b_in_columns(&plan.laid_out, plan.kern, item);
        }
    }
    const gm_kernel *kern = plan.kern;
    const int blocked = plan.blocked;
    const gm_problem *p = &plan.laid_out;
    const double flops = (double)problem->m * (double)problem->n * (double)problem->k;
    /* A vector product (or one of few rows) reads each element of the
     * matrix once: memory bound, it gains from a second thread on a
     * smaller problem.  Real rows, 2 to 4, keep their sums in registers
     * across a row of B (see GM_FEW_ROWS_WEIGHT). */
    const int memory_bound = !blocked && (problem->n == 1 || problem->m <= 4);
    const int few_real_rows = memory_bound && problem->m > 1 && problem->n > 1
                              && is_real_float(problem->type);
    /* Real products of fewer columns than a vector has lanes, direct,
     * run at a fraction of the blocked path's rate (float64 (200 x 200)
     * @ (200 x 5): 34 GFLOP/s on one thread, 1.47 times faster on two). */
    const int few_columns = !blocked && problem->n < kern->nr / 2
                            && is_real_float(problem->type);
    const double weight = (few_real_rows ? GM_FEW_ROWS_WEIGHT
                           : memory_bound ? GM_VECTOR_WEIGHT
                           : few_columns ? GM_FEW_COLUMNS_WEIGHT : 1.0)
                          * (is_complex(problem->type) ? GM_COMPLEX_WEIGHT : 1.0);
    /* One matrix-vector product of a few microseconds loses more to
     * handing out half of it than it gains (float64 (100 x 200) @ (200,)
     * took 2.4 us on one thread, 2.9 on two), and so do products of few
     * columns (float32 (200 x 30) @ (30 x 6): 2.6 and 3.2). */
    const int lone_vector = p->batch == 1 && (problem->m == 1 || problem->n == 1);
    const int threads = gm_threads_begin(flops * (double)p->batch * weight,
                                         !lone_vector && !few_columns);
    if (threads <= 1) {
        run_serial(p, kern, 0, p->batch, blocked);
    }
    else if (!blocked && p->batch < threads) {
        direct_split(p, kern, threads, fp_flags);
    }
    else if (p->batch >= 2 * threads || !blocked) {
        batch_job bj = {p, kern, blocked, min_pd(p->batch, 4 * (ptrdiff_t)threads)};
        add_flags(fp_flags, gm_parallel_for(threads, bj.runs, batch_unit, &bj));
    }
    else if (run_blocked(p, kern, 0, p->batch, threads, fp_flags) != 0) {
        kern->direct(p, 0, p->batch);
    }
    gm_threads_end();
    free(copy);
}

/* Whether float16 matrices (batch of rows x cols) hold a NaN, or with
 * `infinity`, an infinity. */
static int half_holds(const char *data, ptrdiff_t batch, ptrdiff_t batch_stride,
                      ptrdiff_t rows, ptrdiff_t row_stride, ptrdiff_t cols,
                      ptrdiff_t col_stride, int infinity)
{
    for (ptrdiff_t s = 0; s < batch; ++s) {
        for (ptrdiff_t i = 0; i < rows; ++i) {
            const char *row = data + s * batch_stride + i * row_stride;
            for (ptrdiff_t j = 0; j < cols; ++j) {
                uint16_t h;
                memcpy(&h, row + j * col_stride, sizeof h);
                h &= 0x7fffu;
                if (infinity ? h == 0x7c00u : h > 0x7c00u) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* NumPy sums float16 products with a multiply then an add: 0 * inf raises
 * "invalid" even where the sum is already NaN, which a fused multiply-add
 * need not report.  Whether that may have happened: a NaN in C and an
 * infinity in A or B. */
static int half_invalid_unsure(const gm_problem *p)
{
    return half_holds(p->c.data, p->batch, p->c.batch_stride, p->m, p->c.row_stride,
                      p->n, p->c.col_stride, 0)
           && (half_holds(p->a.data, p->batch, p->a.batch_stride, p->m, p->a.row_stride,
                          p->k, p->a.col_stride, 1)
               || half_holds(p->b.data, p->batch, p->b.batch_stride, p->k,
                             p->b.row_stride, p->n, p->b.col_stride, 1));
}

/*
 * Floating-point flags as the plain sum raises them, for NumPy's errstate.
 * Overflow and underflow from the kernels are real (padding multiplies by
 * zero and adds zeros), but "invalid" may come from padding (0 * inf) or
 * from masked lanes: then the plain sum runs again and raises its own.
 * That costs time only for inputs holding an infinity.  Saving, clearing
 * and restoring the flags costs as much as a small product, so that is
 * done only when the caller's flags already hold "invalid" (NumPy clears
 * them before each call); "inexact" is left as the kernels raise it.
 */
static void compute_with_flags(const gm_problem *p, int conjugate)
{
    enum { REAL_FLAGS = FE_OVERFLOW | FE_UNDERFLOW | FE_DIVBYZERO };
    const int before = fetestexcept(FE_ALL_EXCEPT);
    const int saved = (before & FE_INVALID) != 0;
    fexcept_t caller_flags;
    atomic_int worker_flags = 0;
    if (saved) {
        fegetexceptflag(&caller_flags, FE_ALL_EXCEPT);
        feclearexcept(FE_ALL_EXCEPT);
    }
    compute(p, conjugate, &worker_flags);
    const int raised = fetestexcept(FE_ALL_EXCEPT) | atomic_load(&worker_flags);
    /* Then the plain sum runs again for its flags (the values are the
     * same: a product of halves is exact in float). */
    const int unsure = !(raised & FE_INVALID) && p->type == GM_FLOAT16
                       && half_invalid_unsure(p);
    if ((raised & FE_INVALID) || unsure) {
        /* none of this run's flags: the plain sum raises its own */
        if (saved) {
            fesetexceptflag(&caller_flags, FE_ALL_EXCEPT);
        }
        else {
            feclearexcept(FE_ALL_EXCEPT);
            if (before != 0) {
                feraiseexcept(before);
            }
        }
        const gm_kernel *plain = gm_generic_kernels[gm_family_of(p->type)];
        (conjugate ? plain->direct_conj : plain->direct)(p, 0, p->batch);
        return;
    }
    if (saved) {
        fesetexceptflag(&caller_flags, FE_ALL_EXCEPT);
    }
    /* the workers' flags, and after a restore this run's own */
    const int missing = raised & REAL_FLAGS & ~fetestexcept(REAL_FLAGS);
    if (missing != 0) {
        feraiseexcept(missing);
    }
}

static int matmul(const gm_problem *p, int conjugate)
{
    if (p == NULL || (int)p->type < 0 || p->type >= GM_NUM_TYPES
            || p->batch < 0 || p->m < 0 || p->n < 0 || p->k < 0) {
        return GM_EINVAL;
    }
    if (p->batch == 0 || p->m == 0 || p->n == 0) {
        return GM_OK;
    }
    conjugate = conjugate && is_complex(p->type);
    if (p->type == GM_BOOL && gm_bool_try_dense(p) == 0) {
        return GM_OK;
    }
    if (is_floating(p->type)) {
        compute_with_flags(p, conjugate);
    }
    else {
        compute(p, 0, NULL);
    }
    return GM_OK;
}

int gm_matmul(const gm_problem *p)
{
    return matmul(p, 0);
}

int gm_matmul_conj(const gm_problem *p)
{
    return matmul(p, 1);
}
