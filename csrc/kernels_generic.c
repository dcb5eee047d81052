/*
 * Portable C kernels for every family: the reference every other kernel set
 * is tested against, and the path on CPUs without a tuned set.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gm_blocks.h"
#include "gm_half.h"
#include "gm_kernel.h"

#define GM_STR_(x) #x
#define GM_STR(x) GM_STR_(x)

GM_DEFINE_ACCESS(u8, uint8_t)
GM_DEFINE_ACCESS(u16, uint16_t)
GM_DEFINE_ACCESS(u32, uint32_t)
GM_DEFINE_ACCESS(u64, uint64_t)
GM_DEFINE_ACCESS(f32, float)
GM_DEFINE_ACCESS(f64, double)
GM_DEFINE_ACCESS(ld, long double)

#define MADD_SUM(t, a, b) ((t) += (a) * (b))

/* bool: any byte that is not zero is true; the result is 0 or 1.  Every
 * size takes the bit-set path (bool_bits.c); the blocked kernel serves the
 * C tests' comparison of the driver's loops. */
#define DIRECT gm_bool_direct
#define NAME bool
#define C_MODE GM_C_WRAP
#define PACK_T uint8_t
#define LOAD(p) ((uint8_t)(get_u8(p) != 0))
#define STORE(p, v) put_u8((p), (uint8_t)(v))
#define MADD(t, a, b) ((t) |= (uint8_t)((a) & (b)))
#define MR 4
#define NR 4
#include "generic_real.inc"
#undef DIRECT
#undef NAME
#undef PACK_T
#undef LOAD
#undef STORE
#undef MADD

/* Integers: unsigned arithmetic modulo 2^32 or 2^64, truncated on store,
 * gives NumPy's wrap-around for signed and unsigned alike. */
#define MADD MADD_SUM
#define NAME i8
#define PACK_T uint32_t
#define LOAD(p) ((uint32_t)get_u8(p))
#define STORE(p, v) put_u8((p), (uint8_t)(v))
#include "generic_real.inc"
#undef NAME
#undef LOAD
#undef STORE

#define NAME i16
#define LOAD(p) ((uint32_t)get_u16(p))
#define STORE(p, v) put_u16((p), (uint16_t)(v))
#include "generic_real.inc"
#undef NAME
#undef LOAD
#undef STORE

#define NAME i32
#undef C_MODE
#define C_MODE GM_C_SAME
#define LOAD(p) get_u32(p)
#define STORE(p, v) put_u32((p), (v))
#include "generic_real.inc"
#undef NAME
#undef PACK_T
#undef LOAD
#undef STORE

#define NAME i64
#define PACK_T uint64_t
#define LOAD(p) get_u64(p)
#define STORE(p, v) put_u64((p), (v))
#include "generic_real.inc"
#undef NAME
#undef PACK_T
#undef LOAD
#undef STORE

/* float16: products of halves are exact in float; the sum runs in float and
 * is rounded to half once. */
#define NAME f16
#undef C_MODE
#define C_MODE GM_C_WIDE
#define PACK_T float
#define LOAD(p) gm_half_to_float(get_u16(p))
#define STORE(p, v) put_u16((p), gm_float_to_half(v))
#include "generic_real.inc"
#undef NAME
#undef LOAD
#undef STORE

#define NAME f32
#undef C_MODE
#define C_MODE GM_C_SAME
#define LOAD(p) get_f32(p)
#define STORE(p, v) put_f32((p), (v))
#include "generic_real.inc"
#undef NAME
#undef PACK_T
#undef LOAD
#undef STORE

#define NAME f64
#define PACK_T double
#define LOAD(p) get_f64(p)
#define STORE(p, v) put_f64((p), (v))
#include "generic_real.inc"
#undef NAME
#undef PACK_T
#undef LOAD
#undef STORE

/* long double on x87 has 8 registers: a 2 x 2 tile keeps its 4 sums,
 * 2 elements of A and one of B in them (4 x 4 spilled every sum: 2.5x
 * slower). */
#undef MR
#undef NR
#define MR 2
#define NR 2
#define NAME ld
#define PACK_T long double
#define LOAD(p) get_ld(p)
#define STORE(p, v) put_ld((p), (v))
#include "generic_real.inc"
#undef NAME
#undef PACK_T
#undef LOAD
#undef STORE
#undef MADD
#undef MR
#undef NR
#undef C_MODE

#define MR 2
#define NR 2
#define NAME c64
#define REAL_T float
#include "generic_complex.inc"
#undef NAME
#undef REAL_T

#define NAME c128
#define REAL_T double
#include "generic_complex.inc"
#undef NAME
#undef REAL_T

/* Complex long double: one element of C (2 sums, 2 parts of A, 2 of B)
 * is what x87's 8 registers hold; 2 x 2 spilled (1.7x slower). */
#undef MR
#undef NR
#define MR 1
#define NR 1
#define NAME cld
#define REAL_T long double
#include "generic_complex.inc"
#undef NAME
#undef REAL_T

const gm_kernel_table gm_generic_kernels = {
    [GM_FAM_BOOL] = &generic_bool,
    [GM_FAM_I8] = &generic_i8,
    [GM_FAM_I16] = &generic_i16,
    [GM_FAM_I32] = &generic_i32,
    [GM_FAM_I64] = &generic_i64,
    [GM_FAM_F16] = &generic_f16,
    [GM_FAM_F32] = &generic_f32,
    [GM_FAM_F64] = &generic_f64,
    [GM_FAM_LD] = &generic_ld,
    [GM_FAM_C64] = &generic_c64,
    [GM_FAM_C128] = &generic_c128,
    [GM_FAM_CLD] = &generic_cld,
};
