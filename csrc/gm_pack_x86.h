/*
 * Packing for the x86 kernel sets (AVX2 and AVX-512 files, both compiled
 * with AVX2 enabled) of types whose packed element is a plain copy of the
 * stored one (f64, f32, i32, i64, complex).  `panel` and `es` are
 * constants after inlining, so the contiguous copies become a few vector
 * moves, and A in C order or B in Fortran order (depth contiguous) goes
 * through register transposes.
 *
 * Include after <immintrin.h>, with GM_INLINE and min_pd defined.
 */
#ifndef GM_PACK_X86_H
#define GM_PACK_X86_H

/* Transposing pack for the common "depth is contiguous" layout (A in C
 * order, B in Fortran order): 4 depth steps of 4 rows of doubles at a time
 * through an in-register 4x4 transpose. */
GM_INLINE void transpose4x4_pd(const char *r0, const char *r1, const char *r2,
                               const char *r3, double *dst, int panel)
{
    __m256d x0 = _mm256_loadu_pd((const double *)r0);
    __m256d x1 = _mm256_loadu_pd((const double *)r1);
    __m256d x2 = _mm256_loadu_pd((const double *)r2);
    __m256d x3 = _mm256_loadu_pd((const double *)r3);
    __m256d t0 = _mm256_unpacklo_pd(x0, x1);   /* 00 10 02 12 */
    __m256d t1 = _mm256_unpackhi_pd(x0, x1);   /* 01 11 03 13 */
    __m256d t2 = _mm256_unpacklo_pd(x2, x3);   /* 20 30 22 32 */
    __m256d t3 = _mm256_unpackhi_pd(x2, x3);   /* 21 31 23 33 */
    _mm256_storeu_pd(dst + 0 * panel, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + 1 * panel, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * panel, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * panel, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* 8 rows x 8 depth steps of floats, transposed. */
GM_INLINE void transpose8x8_ps(const char *const *rows, ptrdiff_t off,
                               float *dst, int panel)
{
    __m256 x[8], t[8];
    for (int i = 0; i < 8; ++i) {
        x[i] = _mm256_loadu_ps((const float *)(rows[i] + off));
    }
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(x[i], x[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(x[i], x[i + 1]);
    }
    /* t0: 00 10 01 11 | 04 14 05 15 ; t1: 02 12 03 13 | 06 16 07 17 */
    for (int i = 0; i < 8; i += 4) {
        x[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);       /* col 0/4 */
        x[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);   /* col 1/5 */
        x[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        x[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
        _mm256_storeu_ps(dst + c * panel,
                         _mm256_permute2f128_ps(x[c], x[c + 4], 0x20));
        _mm256_storeu_ps(dst + (c + 4) * panel,
                         _mm256_permute2f128_ps(x[c], x[c + 4], 0x31));
    }
}

GM_INLINE void pack_copy(const char *src, ptrdiff_t rs, ptrdiff_t ds,
                         ptrdiff_t rows, ptrdiff_t depth, const int panel,
                         const size_t es, char *dst)
{
    const ptrdiff_t es_ = (ptrdiff_t)es;
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += panel) {
        const ptrdiff_t live = min_pd(panel, rows - r0);
        const char *base = src + r0 * rs;
        if (live == panel && rs == es_) {
            for (ptrdiff_t p = 0; p < depth; ++p) {
                memcpy(dst, base + p * ds, (size_t)panel * es);
                dst += (size_t)panel * es;
            }
            continue;
        }
        if (live == panel && ds == es_ && panel <= 32) {
            const char *rp[32];
            for (int i = 0; i < panel; ++i) {
                rp[i] = base + i * rs;
            }
            ptrdiff_t p = 0;
            if (es == 8 && panel % 2 == 0) {
                /* doubles (or complex64): 4x4 register transposes */
                int i = 0;
                for (; i + 4 <= panel; i += 4) {
                    for (ptrdiff_t q = 0; q + 4 <= depth; q += 4) {
                        transpose4x4_pd(rp[i] + q * 8, rp[i + 1] + q * 8,
                                        rp[i + 2] + q * 8, rp[i + 3] + q * 8,
                                        (double *)dst + q * panel + i, panel);
                    }
                }
                for (; i < panel; i += 2) {   /* two rows left (panel 6) */
                    for (ptrdiff_t q = 0; q + 4 <= depth; q += 4) {
                        __m256d x0 = _mm256_loadu_pd((const double *)(rp[i] + q * 8));
                        __m256d x1 = _mm256_loadu_pd((const double *)(rp[i + 1] + q * 8));
                        __m256d lo = _mm256_unpacklo_pd(x0, x1);
                        __m256d hi = _mm256_unpackhi_pd(x0, x1);
                        double *d = (double *)dst + q * panel + i;
                        _mm_storeu_pd(d, _mm256_castpd256_pd128(lo));
                        _mm_storeu_pd(d + panel, _mm256_castpd256_pd128(hi));
                        _mm_storeu_pd(d + 2 * panel, _mm256_extractf128_pd(lo, 1));
                        _mm_storeu_pd(d + 3 * panel, _mm256_extractf128_pd(hi, 1));
                    }
                }
                p = depth & ~(ptrdiff_t)3;
            }
            else if (es == 4 && panel == 6) {
                /* float A panels: rows 0-3 by 4x4 transposes, rows 4-5
                 * interleaved in pairs */
                for (ptrdiff_t q = 0; q + 4 <= depth; q += 4) {
                    __m128 r0 = _mm_loadu_ps((const float *)(const void *)(rp[0] + q * 4));
                    __m128 r1 = _mm_loadu_ps((const float *)(const void *)(rp[1] + q * 4));
                    __m128 r2 = _mm_loadu_ps((const float *)(const void *)(rp[2] + q * 4));
                    __m128 r3 = _mm_loadu_ps((const float *)(const void *)(rp[3] + q * 4));
                    const __m128 r4 = _mm_loadu_ps((const float *)(const void *)(rp[4] + q * 4));
                    const __m128 r5 = _mm_loadu_ps((const float *)(const void *)(rp[5] + q * 4));
                    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                    const __m128 lo = _mm_unpacklo_ps(r4, r5), hi = _mm_unpackhi_ps(r4, r5);
                    float *d = (float *)(void *)dst + q * 6;
                    _mm_storeu_ps(d, r0);
                    _mm_storel_pi((__m64 *)(void *)(d + 4), lo);
                    _mm_storeu_ps(d + 6, r1);
                    _mm_storeh_pi((__m64 *)(void *)(d + 10), lo);
                    _mm_storeu_ps(d + 12, r2);
                    _mm_storel_pi((__m64 *)(void *)(d + 16), hi);
                    _mm_storeu_ps(d + 18, r3);
                    _mm_storeh_pi((__m64 *)(void *)(d + 22), hi);
                }
                p = depth & ~(ptrdiff_t)3;
            }
            else if (es == 4 && panel % 8 == 0) {
                for (int i = 0; i < panel; i += 8) {
                    for (ptrdiff_t q = 0; q + 8 <= depth; q += 8) {
                        transpose8x8_ps(rp + i, q * 4, (float *)dst + q * panel + i,
                                        panel);
                    }
                }
                p = depth & ~(ptrdiff_t)7;
            }
            else if (es == 4 && panel % 4 == 0) {
                /* float panels of 12 rows: 4x4 transposes */
                for (int i = 0; i < panel; i += 4) {
                    for (ptrdiff_t q = 0; q + 4 <= depth; q += 4) {
                        __m128 r0 = _mm_loadu_ps((const float *)(const void *)(rp[i] + q * 4));
                        __m128 r1 = _mm_loadu_ps((const float *)(const void *)(rp[i + 1] + q * 4));
                        __m128 r2 = _mm_loadu_ps((const float *)(const void *)(rp[i + 2] + q * 4));
                        __m128 r3 = _mm_loadu_ps((const float *)(const void *)(rp[i + 3] + q * 4));
                        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                        float *d = (float *)(void *)dst + q * panel + i;
                        _mm_storeu_ps(d, r0);
                        _mm_storeu_ps(d + panel, r1);
                        _mm_storeu_ps(d + 2 * panel, r2);
                        _mm_storeu_ps(d + 3 * panel, r3);
                    }
                }
                p = depth & ~(ptrdiff_t)3;
            }
            for (; p < depth; ++p) {
                char *d = dst + (size_t)(p * panel) * es;
                for (int i = 0; i < panel; ++i) {
                    memcpy(d + (size_t)i * es, rp[i] + p * es_, es);
                }
            }
            dst += (size_t)(depth * panel) * es;
            continue;
        }
        /* Any strides: elements of 4 and 8 bytes in gathers of a vector
         * where the offsets fit their 32-bit indices, the others one by
         * one; a padded panel's step zeroed whole first, a few vector
         * stores where the panel's size is a constant (copies one at a
         * time and a call to memset a step made float32 (43 x 945) @ B
         * strided spend half of its time packing B). */
        const int gathers = (es == 4 || es == 8) && rs <= INT32_MAX / 32
                            && rs >= -(INT32_MAX / 32);
        const __m256i at8 = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                               _mm256_set1_epi32(gathers ? (int)rs : 0));
        const __m128i at4 = _mm256_castsi256_si128(at8);
        for (ptrdiff_t p = 0; p < depth; ++p) {
            const char *col = base + p * ds;
            ptrdiff_t i = 0;
            if (live < panel) {
                memset(dst, 0, (size_t)panel * es);
            }
            if (gathers && es == 4) {
                for (; i + 8 <= live; i += 8) {
                    _mm256_storeu_ps((float *)(void *)(dst + (size_t)i * es),
                                     _mm256_i32gather_ps((const float *)(const void *)(col + i * rs),
                                                         at8, 1));
                }
            }
            else if (gathers && es == 8) {
                for (; i + 4 <= live; i += 4) {
                    _mm256_storeu_pd((double *)(void *)(dst + (size_t)i * es),
                                     _mm256_i32gather_pd((const double *)(const void *)(col + i * rs),
                                                         at4, 1));
                }
            }
            for (; i < live; ++i) {
                memcpy(dst + (size_t)i * es, col + i * rs, es);
            }
            dst += (size_t)panel * es;
        }
    }
}

/* Specialises pack_copy for the panel heights a kernel uses (half of nr:
 * B copied for the direct path, see b_packed_in_rows in driver.c). */
#define GM_DEFINE_PACK_COPY(name, es, mr, nr)                               \
    static void name(const char *src, ptrdiff_t rs, ptrdiff_t ds,           \
                     ptrdiff_t rows, ptrdiff_t depth, int panel, void *dst) \
    {                                                                       \
        if (panel == (mr)) {                                                \
            pack_copy(src, rs, ds, rows, depth, (mr), (es), (char *)dst);   \
        }                                                                   \
        else if (panel == (nr)) {                                           \
            pack_copy(src, rs, ds, rows, depth, (nr), (es), (char *)dst);   \
        }                                                                   \
        else if (panel == (nr) / 2) {                                       \
            pack_copy(src, rs, ds, rows, depth, (nr) / 2, (es), (char *)dst); \
        }                                                                   \
        else {                                                              \
            pack_copy(src, rs, ds, rows, depth, panel, (es), (char *)dst);  \
        }                                                                   \
    }


#endif
