/*
 * gufunc_matmul: matrix products for every NumPy numeric type, in plain C.
 *
 * This is the whole public interface of the kernel library.  It does not
 * depend on Python or NumPy: a caller describes one product (or a stack of
 * products) with sizes, pointers and byte strides, and gm_matmul computes
 *
 *     C[b, i, j] = sum over p of A[b, i, p] * B[b, p, j]
 *
 * for b < batch, i < m, j < n, p < k, with the semantics of numpy.matmul:
 * integers wrap modulo 2^bits, bool is OR of ANDs stored as 0/1, float16 is
 * accumulated in float32 and rounded once, complex is not conjugated, NaN and
 * Inf propagate as in the plain sum, and k == 0 gives zeros.
 *
 * Strides are in bytes and may be negative, zero or unaligned.  C must not
 * overlap A or B.  The library never reads or writes outside the elements
 * the description names.
 */
#ifndef GUFUNC_MATMUL_H
#define GUFUNC_MATMUL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, named by storage.  Signed and unsigned integers of one
 * width give the same bits (arithmetic is modulo 2^bits); both are listed so
 * that callers can say what they have. */
typedef enum gm_type {
    GM_BOOL = 0,
    GM_INT8, GM_UINT8,
    GM_INT16, GM_UINT16,
    GM_INT32, GM_UINT32,
    GM_INT64, GM_UINT64,
    GM_FLOAT16,           /* IEEE binary16, stored as 16 bits */
    GM_FLOAT32, GM_FLOAT64,
    GM_LONGDOUBLE,        /* the C compiler's long double */
    GM_COMPLEX64,         /* two float32: real, imaginary */
    GM_COMPLEX128,        /* two float64 */
    GM_CLONGDOUBLE,       /* two long double */
    GM_NUM_TYPES
} gm_type;

/* One operand: where element [0, 0] of the first matrix lives and how far,
 * in bytes, to step to the next matrix, row and column. */
typedef struct gm_operand {
    char *data;
    ptrdiff_t batch_stride;
    ptrdiff_t row_stride;
    ptrdiff_t col_stride;
} gm_operand;

/* C (batch x m x n) = A (batch x m x k) @ B (batch x k x n). */
typedef struct gm_problem {
    gm_type type;
    ptrdiff_t batch, m, n, k;
    gm_operand a, b, c;
} gm_problem;

/* Return codes of gm_matmul. */
enum {
    GM_OK = 0,
    GM_EINVAL = -1   /* unknown type or a negative size */
};

/*
 * Computes the product the description names.  Returns GM_OK, or GM_EINVAL
 * (nothing written) for an unknown type or a negative size.  Working memory
 * is bounded by the block sizes, not by the problem; when it cannot be had,
 * the product is computed without it, so the call never fails for memory.
 * Safe to call from several threads at once.
 */
int gm_matmul(const gm_problem *problem);

/*
 * The same for C = conj(A) @ B: complex A is conjugated as it is read (for
 * real types this is gm_matmul).  This is numpy.vecdot and numpy.vecmat.
 */
int gm_matmul_conj(const gm_problem *problem);

/* The kernel set in use for a type, e.g. "avx2 f64 8x6" (static string). */
const char *gm_kernel_name(gm_type type);

/* The instruction set the kernels were chosen for: "generic", "avx2", ... */
const char *gm_isa_name(void);

/*
 * Chooses the kernels by instruction-set name ("generic", "avx2", "avx512",
 * "neon"), or by CPU detection when name is NULL or "auto".  Returns 0, or -1
 * (nothing changed) when the name is unknown or this CPU or build cannot run
 * it.  Called once at start-up; not meant to race with gm_matmul.
 */
int gm_select_isa(const char *name);

/*
 * Threads for one call: n > 0 sets the number, 0 restores the default (one
 * per CPU the process may run on).  Returns 0, or -1 for n < 0.  Results
 * do not depend on the number of threads.  Builds without threads
 * (GM_HAVE_PTHREADS unset) always use one.
 */
int gm_set_num_threads(int n);
int gm_get_num_threads(void);

/* Comma-separated instruction sets this build and CPU can run (static). */
const char *gm_available_isas(void);

#ifdef __cplusplus
}
#endif

#endif /* GUFUNC_MATMUL_H */
