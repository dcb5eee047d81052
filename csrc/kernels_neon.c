/*
 * AArch64 NEON kernels for float64 and float32.  NEON (Advanced SIMD) is
 * part of every AArch64 CPU, so these need no run-time detection.
 *
 * Tiles of 8 rows by 4 (float64) or 8 (float32) columns: 16 of the 32
 * vector registers hold C, each step broadcasts one element of A per row
 * against two vectors of B.
 */
#include <arm_neon.h>
#include <string.h>

#include "gm_blocks.h"
#include "gm_kernel.h"

#define MR 8

#define DEFINE_MICRO(NAME, T, VEC, LANES, LOAD, STORE, FMA_N)                 \
    static void NAME(ptrdiff_t depth, const void *a_panel,                    \
                     const void *b_panel, void *c_, ptrdiff_t rs,             \
                     int accumulate)                                          \
    {                                                                         \
        const T *a = (const T *)a_panel;                                      \
        const T *b = (const T *)b_panel;                                      \
        char *c = (char *)c_;                                                 \
        const size_t row_bytes = (size_t)rs * sizeof(T);                      \
        VEC t[MR][2];                                                         \
        for (int i = 0; i < MR; ++i) {                                        \
            for (int v = 0; v < 2; ++v) {                                     \
                T lanes[LANES] = {0};                                         \
                if (accumulate) {                                             \
                    memcpy(lanes, c + i * row_bytes + v * sizeof lanes,       \
                           sizeof lanes);                                     \
                }                                                             \
                t[i][v] = LOAD(lanes);                                        \
            }                                                                 \
        }                                                                     \
        for (ptrdiff_t p = 0; p < depth; ++p) {                               \
            const VEC b0 = LOAD(b), b1 = LOAD(b + LANES);                     \
            for (int i = 0; i < MR; ++i) {                                    \
                t[i][0] = FMA_N(t[i][0], b0, a[i]);                           \
                t[i][1] = FMA_N(t[i][1], b1, a[i]);                           \
            }                                                                 \
            a += MR;                                                          \
            b += 2 * LANES;                                                   \
        }                                                                     \
        for (int i = 0; i < MR; ++i) {                                        \
            for (int v = 0; v < 2; ++v) {                                     \
                T lanes[LANES];                                               \
                STORE(lanes, t[i][v]);                                        \
                memcpy(c + i * row_bytes + v * sizeof lanes, lanes,           \
                       sizeof lanes);                                         \
            }                                                                 \
        }                                                                     \
    }

DEFINE_MICRO(micro_f64, double, float64x2_t, 2, vld1q_f64, vst1q_f64,
             vfmaq_n_f64)
DEFINE_MICRO(micro_f32, float, float32x4_t, 4, vld1q_f32, vst1q_f32,
             vfmaq_n_f32)

GM_DEFINE_PACK(pack_f64, double, double, GM_SAME, GM_COPY_RUN)
GM_DEFINE_PACK(pack_f32, float, float, GM_SAME, GM_COPY_RUN)
GM_DEFINE_COPY_OUT(store_f64, double)
GM_DEFINE_COPY_OUT(store_f32, float)
GM_DEFINE_ACCESS(f64, double)
GM_DEFINE_ACCESS(f32, float)
GM_DEFINE_PLAIN_LOOP(direct_f64, double, get_f64, put_f64, GM_MADD_SUM)
GM_DEFINE_PLAIN_LOOP(direct_f32, float, get_f32, put_f32, GM_MADD_SUM)

static const gm_kernel neon_f64 = {
    .name = "neon f64 8x4",
    .mr = MR, .nr = 4,
    .mc = 16 * MR, .kc = 256, .nc = 1024,
    .packed_size = sizeof(double), .acc_size = sizeof(double),
    .c_mode = GM_C_SAME,
    .pack_a = pack_f64, .pack_b = pack_f64,
    .micro = micro_f64,
    .store = store_f64, .load = store_f64_in,
    .direct = direct_f64,
    .direct_max_flops = 8.0 * 8.0 * 8.0,
};

static const gm_kernel neon_f32 = {
    .name = "neon f32 8x8",
    .mr = MR, .nr = 8,
    .mc = 16 * MR, .kc = 256, .nc = 1024,
    .packed_size = sizeof(float), .acc_size = sizeof(float),
    .c_mode = GM_C_SAME,
    .pack_a = pack_f32, .pack_b = pack_f32,
    .micro = micro_f32,
    .store = store_f32, .load = store_f32_in,
    .direct = direct_f32,
    .direct_max_flops = 8.0 * 8.0 * 8.0,
};

const gm_kernel_table gm_neon_kernels = {
    [GM_FAM_F64] = &neon_f64,
    [GM_FAM_F32] = &neon_f32,
};
