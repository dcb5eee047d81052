/*
 * bool products on bit sets.
 *
 * C[i][j] is true when row i of A and column j of B share a true position.
 * Rows of A and columns of B become bit sets along k (64 positions per
 * word), so one AND tests 64 products, and the scan of a pair stops at the
 * first common bit: dense inputs finish after a word or two, sparse ones
 * cost k/64 ANDs per element.
 *
 * This is the bool family's direct path for every size.  Its working memory
 * is (m + n) * ceil(k / 64) words; without it, the plain early-exit loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gm_kernel.h"

/* Bit sets of `count` vectors of `length` bytes, each vector `stride` bytes
 * after the previous one, elements `step` bytes apart. */
static void to_bits(const char *base, ptrdiff_t count, ptrdiff_t stride,
                    ptrdiff_t length, ptrdiff_t step, ptrdiff_t words,
                    uint64_t *bits)
{
    for (ptrdiff_t v = 0; v < count; ++v) {
        const char *x = base + v * stride;
        uint64_t *out = bits + v * words;
        for (ptrdiff_t w = 0; w < words; ++w) {
            const ptrdiff_t first = w * 64;
            const ptrdiff_t last = length - first < 64 ? length : first + 64;
            uint64_t word = 0;
            for (ptrdiff_t p = first; p < last; ++p) {
                word |= (uint64_t)(x[p * step] != 0) << (p - first);
            }
            out[w] = word;
        }
    }
}

static int any_common(const uint64_t *a, const uint64_t *b, ptrdiff_t words)
{
    ptrdiff_t w = 0;
    for (; w + 4 <= words; w += 4) {
        if ((a[w] & b[w]) | (a[w + 1] & b[w + 1]) | (a[w + 2] & b[w + 2])
                | (a[w + 3] & b[w + 3])) {
            return 1;
        }
    }
    for (; w < words; ++w) {
        if (a[w] & b[w]) {
            return 1;
        }
    }
    return 0;
}

static void plain_matrix(const gm_problem *pr, const char *a, const char *b,
                         char *c)
{
    for (ptrdiff_t i = 0; i < pr->m; ++i) {
        for (ptrdiff_t j = 0; j < pr->n; ++j) {
            char any = 0;
            for (ptrdiff_t p = 0; p < pr->k && !any; ++p) {
                any = a[i * pr->a.row_stride + p * pr->a.col_stride] != 0
                      && b[p * pr->b.row_stride + j * pr->b.col_stride] != 0;
            }
            c[i * pr->c.row_stride + j * pr->c.col_stride] = any;
        }
    }
}

/*
 * Row i of C as the OR of the rows p of B where A[i, p] is set, for B and
 * C with contiguous rows: whole rows at a time (the compiler vectorizes
 * the OR), stopping as soon as the row is all true.  Spends from *budget
 * one unit per 16 bytes touched; returns -1 once it runs out.
 */
static int matrix_by_rows(const gm_problem *pr, const char *a, const char *b,
                          char *c, ptrdiff_t *budget)
{
    const ptrdiff_t m = pr->m, n = pr->n, k = pr->k;
    const ptrdiff_t row_cost = n / 16 + 1;
    for (ptrdiff_t i = 0; i < m; ++i) {
        const char *a_row = a + i * pr->a.row_stride;
        char *c_row = c + i * pr->c.row_stride;
        memset(c_row, 0, (size_t)n);
        for (ptrdiff_t p0 = 0; p0 < k; p0 += 8) {
            const ptrdiff_t p1 = k - p0 < 8 ? k : p0 + 8;
            for (ptrdiff_t p = p0; p < p1; ++p) {
                if (a_row[p * pr->a.col_stride]) {
                    const char *b_row = b + p * pr->b.row_stride;
                    for (ptrdiff_t j = 0; j < n; ++j) {
                        c_row[j] |= b_row[j] != 0;
                    }
                    *budget -= row_cost;
                }
            }
            *budget -= row_cost;
            if (*budget < 0) {
                return -1;
            }
            if (memchr(c_row, 0, (size_t)n) == NULL) {
                break;   /* all true: the rest cannot change the row */
            }
        }
    }
    return 0;
}

/* Columns up to this are one bit mask per row of C. */
#define GM_BOOL_FEW_COLS 16

/* Rows of B kept as byte masks for the word-at-a-time scan. */
#define GM_BOOL_MASKED_ROWS 2048

/* 0xff in each byte of x that is not zero, 0 in the others. */
static inline uint64_t nonzero_bytes(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fu;
    const uint64_t high = (((x & low7) + low7) | x) & ~low7;
    return (high >> 7) * 0xffu;
}

/* Row i of C from position p on, one A[i, p] at a time: the OR of the
 * rows of B where it is set, until every bit of `all` is set. */
static uint32_t few_cols_tail(const char *a_row, ptrdiff_t acs, const char *b,
                              ptrdiff_t brs, ptrdiff_t bcs, ptrdiff_t n,
                              ptrdiff_t p, ptrdiff_t k, uint32_t got,
                              uint32_t all, ptrdiff_t *steps)
{
    const ptrdiff_t start = p;
    for (; p < k && got != all; ++p) {
        if (a_row[p * acs]) {
            const char *b_row = b + p * brs;
            for (ptrdiff_t j = 0; j < n; ++j) {
                got |= (uint32_t)(b_row[j * bcs] != 0) << j;
            }
            *steps += n;
        }
    }
    *steps += p - start;
    return got;
}

/*
 * Few columns: row i of C as a mask of n bits, the OR of the rows p of B
 * where A[i, p] is set, stopping once every bit is set (the per-element
 * scans would walk row i of A once per column).  With A's rows contiguous
 * and up to 8 columns, 8 positions at a time: B's rows as byte masks (made
 * as far down as some row of A needs them), ANDed with the bytes of A that
 * are set and ORed together, without a branch on each A[i, p], which the
 * predictor loses on dense inputs.  Budget as matrix_by_rows.
 */
static int matrix_few_cols(const gm_problem *pr, const char *a, const char *b,
                           char *c, ptrdiff_t *budget)
{
    GM_PROBLEM_LOCALS(pr);
    const uint32_t all = (uint32_t)((1u << n) - 1u);
    const int words = acs == 1 && n <= 8;
    uint8_t masks[GM_BOOL_MASKED_ROWS];
    ptrdiff_t made = 0;
    for (ptrdiff_t i = 0; i < m; ++i) {
        const char *a_row = a + i * ars;
        uint32_t got = 0;
        ptrdiff_t p = 0, steps = 0;
        while (words && got != all && p + 8 <= k && p + 8 <= GM_BOOL_MASKED_ROWS) {
            for (; made < p + 8; ++made) {
                const char *b_row = b + made * brs;
                unsigned bits = 0;
                for (ptrdiff_t j = 0; j < n; ++j) {
                    bits |= (unsigned)(b_row[j * bcs] != 0) << j;
                }
                masks[made] = (uint8_t)bits;
            }
            uint64_t x, y;
            memcpy(&x, a_row + p, 8);
            memcpy(&y, masks + p, 8);
            y &= nonzero_bytes(x);
            y |= y >> 32;
            y |= y >> 16;
            y |= y >> 8;
            got |= (uint32_t)(y & 0xffu);
            p += 8;
            steps += 2;
        }
        got = few_cols_tail(a_row, acs, b, brs, bcs, n, p, k, got, all, &steps);
        *budget -= steps;
        if (*budget < 0) {
            return -1;
        }
        char *c_row = c + i * crs;
        for (ptrdiff_t j = 0; j < n; ++j) {
            c_row[j * ccs] = (char)((got >> j) & 1u);
        }
    }
    return 0;
}

/* Depths up to this are computed whole, without early exit. */
#define GM_BOOL_SHORT 16

/* A matrix of depth at most GM_BOOL_SHORT: each column of B and each row
 * of A as a mask of k bits, then one AND per element. */
static void matrix_short(const gm_problem *pr, const char *a, const char *b,
                         char *c)
{
    enum { BLOCK = 256 };
    uint32_t col_bits[BLOCK];
    GM_PROBLEM_LOCALS(pr);
    for (ptrdiff_t j0 = 0; j0 < n; j0 += BLOCK) {
        const ptrdiff_t nb = n - j0 < BLOCK ? n - j0 : BLOCK;
        for (ptrdiff_t j = 0; j < nb; ++j) {
            const char *b_col = b + (j0 + j) * bcs;
            uint32_t bits = 0;
            for (ptrdiff_t p = 0; p < k; ++p) {
                bits |= (uint32_t)(b_col[p * brs] != 0) << p;
            }
            col_bits[j] = bits;
        }
        for (ptrdiff_t i = 0; i < m; ++i) {
            const char *a_row = a + i * ars;
            char *c_row = c + i * crs + j0 * ccs;
            uint32_t bits = 0;
            for (ptrdiff_t p = 0; p < k; ++p) {
                bits |= (uint32_t)(a_row[p * acs] != 0) << p;
            }
            for (ptrdiff_t j = 0; j < nb; ++j) {
                c_row[j * ccs] = (char)((bits & col_bits[j]) != 0);
            }
        }
    }
}

/*
 * Dense inputs settle most elements within a few steps.  This tries the
 * early-exit scan on the whole problem within a budget of steps per element
 * that the full-work kernels would beat, and gives up (returns -1, C partly
 * written) on sparse inputs, which then take the full-work kernels.
 */
int gm_bool_try_dense(const gm_problem *pr)
{
    const double elements = (double)pr->batch * (double)pr->m * (double)pr->n;
    if (elements > 1e15) {
        return -1;
    }
    /* Locals: the stores to C could alias *pr as far as C knows. */
    const ptrdiff_t m = pr->m, n = pr->n, k = pr->k;
    const ptrdiff_t a_rs = pr->a.row_stride, a_cs = pr->a.col_stride;
    const ptrdiff_t b_rs = pr->b.row_stride, b_cs = pr->b.col_stride;
    const ptrdiff_t c_rs = pr->c.row_stride, c_cs = pr->c.col_stride;
    /* The full-work kernels cost about one scan step per 128 of k, plus
     * their set-up, which on few steps (stacks of 4 x 4) outweighs a
     * whole scan: up to 12 more steps per element. */
    const double full_cost = 2.0 + (double)k / 128.0 + (double)(k < 12 ? k : 12);
    ptrdiff_t budget = (ptrdiff_t)(full_cost * elements) + 64;
    const int by_rows = b_cs == 1 && c_cs == 1 && n >= 16;
    for (ptrdiff_t s = 0; s < pr->batch; ++s) {
        const char *a = pr->a.data + s * pr->a.batch_stride;
        const char *b = pr->b.data + s * pr->b.batch_stride;
        char *c = pr->c.data + s * pr->c.batch_stride;
        if (k <= GM_BOOL_SHORT) {
            matrix_short(pr, a, b, c);
            continue;
        }
        if (by_rows) {
            if (matrix_by_rows(pr, a, b, c, &budget) != 0) {
                return -1;
            }
            continue;
        }
        if (n > 1 && n <= GM_BOOL_FEW_COLS) {
            if (matrix_few_cols(pr, a, b, c, &budget) != 0) {
                return -1;
            }
            continue;
        }
        for (ptrdiff_t i = 0; i < m; ++i) {
            const char *a_row = a + i * a_rs;
            char *c_row = c + i * c_rs;
            for (ptrdiff_t j = 0; j < n; ++j) {
                const char *b_col = b + j * b_cs;
                ptrdiff_t p = 0;
                while (p < k && !(a_row[p * a_cs] && b_col[p * b_rs])) {
                    ++p;
                }
                budget -= p;
                if (budget < 0) {
                    return -1;
                }
                c_row[j * c_cs] = p < k;
            }
        }
    }
    return 0;
}

void gm_bool_direct(const gm_problem *pr, ptrdiff_t first, ptrdiff_t last)
{
    const ptrdiff_t words = (pr->k + 63) / 64;
    uint64_t *bits = NULL;
    if (words > 0 && (size_t)(pr->m + pr->n) <= SIZE_MAX / 8 / (size_t)words) {
        bits = (uint64_t *)malloc((size_t)(pr->m + pr->n) * (size_t)words * 8);
    }
    for (ptrdiff_t s = first; s < last; ++s) {
        const char *a = pr->a.data + s * pr->a.batch_stride;
        const char *b = pr->b.data + s * pr->b.batch_stride;
        char *c = pr->c.data + s * pr->c.batch_stride;
        if (bits == NULL) {
            plain_matrix(pr, a, b, c);
            continue;
        }
        uint64_t *a_bits = bits, *b_bits = bits + pr->m * words;
        to_bits(a, pr->m, pr->a.row_stride, pr->k, pr->a.col_stride, words, a_bits);
        to_bits(b, pr->n, pr->b.col_stride, pr->k, pr->b.row_stride, words, b_bits);
        for (ptrdiff_t i = 0; i < pr->m; ++i) {
            char *c_row = c + i * pr->c.row_stride;
            for (ptrdiff_t j = 0; j < pr->n; ++j) {
                c_row[j * pr->c.col_stride] =
                    (char)any_common(a_bits + i * words, b_bits + j * words, words);
            }
        }
    }
    free(bits);
}
