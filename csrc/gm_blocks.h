/*
 * Portable building blocks shared by the tuned kernel sets: packing with an
 * element conversion and plain tile transfers.  Each kernel file expands
 * them for its own types, so they compile with that file's instruction set.
 */
#ifndef GM_BLOCKS_H
#define GM_BLOCKS_H

#include <stddef.h>
#include <string.h>

#include "gm_kernel.h"

/* Unaligned-safe loads and stores of one element: get_SUFFIX, put_SUFFIX. */
#define GM_DEFINE_ACCESS(suffix, type)                                      \
    static inline type get_##suffix(const char *p)                         \
    {                                                                       \
        type v;                                                             \
        memcpy(&v, p, sizeof v);                                            \
        return v;                                                           \
    }                                                                       \
    static inline void put_##suffix(char *p, type v)                      \
    {                                                                       \
        memcpy(p, &v, sizeof v);                                            \
    }

/* Generic packing with an element conversion; the contiguous-rows case (one
 * depth step is a run of consecutive elements) is a plain copy. */
#define GM_DEFINE_PACK(NAME, SRC_T, DST_T, CONVERT, FAST_RUN)                    \
    static void NAME(const char *src, ptrdiff_t row_stride,                   \
                     ptrdiff_t depth_stride, ptrdiff_t rows, ptrdiff_t depth, \
                     int panel, void *dst_)                                   \
    {                                                                         \
        DST_T *dst = (DST_T *)dst_;                                           \
        for (ptrdiff_t r0 = 0; r0 < rows; r0 += panel) {                      \
            const ptrdiff_t live = rows - r0 < panel ? rows - r0 : panel;     \
            const char *base = src + r0 * row_stride;                         \
            if (row_stride == (ptrdiff_t)sizeof(SRC_T)) {                     \
                for (ptrdiff_t p = 0; p < depth; ++p) {                       \
                    FAST_RUN(dst, base + p * depth_stride, live);             \
                    for (ptrdiff_t i = live; i < panel; ++i) {                \
                        dst[i] = 0;                                           \
                    }                                                         \
                    dst += panel;                                             \
                }                                                             \
                continue;                                                     \
            }                                                                 \
            for (ptrdiff_t p = 0; p < depth; ++p) {                           \
                const char *column = base + p * depth_stride;                 \
                ptrdiff_t i = 0;                                              \
                for (; i < live; ++i) {                                       \
                    SRC_T v;                                                  \
                    memcpy(&v, column + i * row_stride, sizeof v);            \
                    dst[i] = CONVERT(v);                                      \
                }                                                             \
                for (; i < panel; ++i) {                                      \
                    dst[i] = 0;                                               \
                }                                                             \
                dst += panel;                                                 \
            }                                                                 \
        }                                                                     \
    }


#define GM_SAME(v) (v)
#define GM_COPY_RUN(dst, src, count) \
    memcpy((dst), (src), (size_t)(count) * sizeof *(dst))

/* Tile transfers without conversion: NAME (tile -> user memory) and
 * NAME##_in (user memory -> tile). */
#define GM_DEFINE_COPY_OUT(NAME, T)                                              \
    static void NAME(const void *tile_, ptrdiff_t rows, ptrdiff_t cols,       \
                     ptrdiff_t tile_cols, char *dst, ptrdiff_t row_stride,    \
                     ptrdiff_t col_stride)                                    \
    {                                                                         \
        const T *tile = (const T *)tile_;                                     \
        for (ptrdiff_t i = 0; i < rows; ++i) {                                \
            char *row = dst + i * row_stride;                                 \
            if (col_stride == (ptrdiff_t)sizeof(T)) {                         \
                memcpy(row, tile + i * tile_cols, (size_t)cols * sizeof(T));  \
                continue;                                                     \
            }                                                                 \
            for (ptrdiff_t j = 0; j < cols; ++j) {                            \
                memcpy(row + j * col_stride, tile + i * tile_cols + j,        \
                       sizeof(T));                                            \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    static void NAME##_in(void *tile_, ptrdiff_t rows, ptrdiff_t cols,        \
                          ptrdiff_t tile_cols, const char *src,               \
                          ptrdiff_t row_stride, ptrdiff_t col_stride)         \
    {                                                                         \
        T *tile = (T *)tile_;                                                 \
        for (ptrdiff_t i = 0; i < rows; ++i) {                                \
            const char *row = src + i * row_stride;                           \
            for (ptrdiff_t j = 0; j < cols; ++j) {                            \
                memcpy(tile + i * tile_cols + j, row + j * col_stride,        \
                       sizeof(T));                                            \
            }                                                                 \
        }                                                                     \
    }

#endif /* GM_BLOCKS_H */
