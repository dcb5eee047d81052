/*
 * The driver: validates a problem, picks the path, and runs the loops of
 * the blocked algorithm around a kernel set.
 *
 * Blocked path, per output block of mc x nc (one unit of work):
 *     for each depth block of kc:
 *         pack A (mc x kc) and B (kc x nc) into contiguous panels
 *         for each nr-wide and mr-tall micro-tile: tile (+)= A panel . B panel
 *     convert and write the finished block to C
 * The tiles of a block stay in an accumulator buffer across the depth
 * blocks, so every element is summed in one order, p = 0 .. k-1, in the
 * accumulator type, and stored once (float16 rounds once, as NumPy does).
 */
#include <stdint.h>
#include <stdlib.h>

#include "gm_kernel.h"

#define GM_ALIGN 64

typedef struct workspace {
    void *raw;
    char *a_pack, *b_pack, *tiles;
} workspace;

static size_t round_up_size(size_t x)
{
    return (x + GM_ALIGN - 1) / GM_ALIGN * GM_ALIGN;
}

static ptrdiff_t min_pd(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b)
{
    return (a + b - 1) / b;
}

/* Block sizes for one problem: the kernel's, trimmed to the matrix. */
typedef struct blocking {
    ptrdiff_t mc, kc, nc;
} blocking;

static blocking plan_blocks(const gm_kernel *kern, const gm_problem *p)
{
    blocking bl;
    bl.mc = min_pd(kern->mc, ceil_div(p->m, kern->mr) * kern->mr);
    bl.nc = min_pd(kern->nc, ceil_div(p->n, kern->nr) * kern->nr);
    bl.kc = min_pd(kern->kc, p->k);
    return bl;
}

/* Sizes are bounded by the kernel's block sizes, so none of this overflows. */
static int workspace_alloc(workspace *ws, const gm_kernel *kern,
                           const blocking *bl)
{
    size_t a_bytes = round_up_size((size_t)(bl->mc * bl->kc) * kern->packed_size);
    size_t b_bytes = round_up_size((size_t)(bl->kc * bl->nc) * kern->packed_size);
    size_t t_bytes = round_up_size((size_t)(bl->mc * bl->nc) * kern->acc_size);
    ws->raw = malloc(a_bytes + b_bytes + t_bytes + GM_ALIGN);
    if (ws->raw == NULL) {
        return -1;
    }
    uintptr_t base = ((uintptr_t)ws->raw + GM_ALIGN - 1) & ~(uintptr_t)(GM_ALIGN - 1);
    ws->a_pack = (char *)base;
    ws->b_pack = ws->a_pack + a_bytes;
    ws->tiles = ws->b_pack + b_bytes;
    return 0;
}

/* Computes C[s][ic:ic+mb, jc:jc+nb]. */
static void compute_block(const gm_problem *p, const gm_kernel *kern,
                          const blocking *bl, const workspace *ws,
                          ptrdiff_t s, ptrdiff_t ic, ptrdiff_t mb,
                          ptrdiff_t jc, ptrdiff_t nb)
{
    const int mr = kern->mr, nr = kern->nr;
    const ptrdiff_t tiles_m = ceil_div(mb, mr), tiles_n = ceil_div(nb, nr);
    const size_t tile_bytes = (size_t)mr * (size_t)nr * kern->acc_size;
    const char *a = p->a.data + s * p->a.batch_stride + ic * p->a.row_stride;
    const char *b = p->b.data + s * p->b.batch_stride + jc * p->b.col_stride;

    for (ptrdiff_t pc = 0; pc < p->k; pc += bl->kc) {
        const ptrdiff_t kb = min_pd(bl->kc, p->k - pc);
        const size_t a_panel_bytes = (size_t)(mr * kb) * kern->packed_size;
        const size_t b_panel_bytes = (size_t)(nr * kb) * kern->packed_size;
        kern->pack_a(a + pc * p->a.col_stride, p->a.row_stride,
                     p->a.col_stride, mb, kb, mr, ws->a_pack);
        kern->pack_b(b + pc * p->b.row_stride, p->b.col_stride,
                     p->b.row_stride, nb, kb, nr, ws->b_pack);
        for (ptrdiff_t jt = 0; jt < tiles_n; ++jt) {
            const char *b_panel = ws->b_pack + (size_t)jt * b_panel_bytes;
            char *tile = ws->tiles + (size_t)(jt * tiles_m) * tile_bytes;
            for (ptrdiff_t it = 0; it < tiles_m; ++it) {
                kern->micro(kb, ws->a_pack + (size_t)it * a_panel_bytes,
                            b_panel, tile, pc > 0);
                tile += tile_bytes;
            }
        }
    }

    char *c = p->c.data + s * p->c.batch_stride;
    for (ptrdiff_t jt = 0; jt < tiles_n; ++jt) {
        const ptrdiff_t j0 = jt * nr;
        for (ptrdiff_t it = 0; it < tiles_m; ++it) {
            const ptrdiff_t i0 = it * mr;
            kern->store(ws->tiles + (size_t)(jt * tiles_m + it) * tile_bytes,
                        min_pd(mr, mb - i0), min_pd(nr, nb - j0), nr,
                        c + (ic + i0) * p->c.row_stride
                          + (jc + j0) * p->c.col_stride,
                        p->c.row_stride, p->c.col_stride);
        }
    }
}

static void run_blocked(const gm_problem *p, const gm_kernel *kern)
{
    blocking bl = plan_blocks(kern, p);
    workspace ws;
    if (workspace_alloc(&ws, kern, &bl) != 0) {
        /* No memory for panels: the direct path needs none. */
        kern->direct(p, 0, p->batch);
        return;
    }
    for (ptrdiff_t s = 0; s < p->batch; ++s) {
        for (ptrdiff_t jc = 0; jc < p->n; jc += bl.nc) {
            const ptrdiff_t nb = min_pd(bl.nc, p->n - jc);
            for (ptrdiff_t ic = 0; ic < p->m; ic += bl.mc) {
                compute_block(p, kern, &bl, &ws, s, ic,
                              min_pd(bl.mc, p->m - ic), jc, nb);
            }
        }
    }
    free(ws.raw);
}

int gm_matmul(const gm_problem *p)
{
    if (p == NULL || (int)p->type < 0 || p->type >= GM_NUM_TYPES
            || p->batch < 0 || p->m < 0 || p->n < 0 || p->k < 0) {
        return GM_EINVAL;
    }
    if (p->batch == 0 || p->m == 0 || p->n == 0) {
        return GM_OK;
    }
    const gm_kernel *kern = gm_kernel_for(gm_family_of(p->type));
    const double flops = (double)p->m * (double)p->n * (double)p->k;
    if (p->k == 0 || flops <= kern->direct_max_flops) {
        kern->direct(p, 0, p->batch);
    }
    else {
        run_blocked(p, kern);
    }
    return GM_OK;
}
