/*
 * x86-64 AVX-512 (F, BW, VL, DQ) kernels for bool, the integers and the
 * complex types.  Compiled with those instructions enabled; only called
 * after CPU detection says they run here.
 */
#include "gm_kernel.h"

const gm_kernel_table gm_avx512_int_kernels = {0};
