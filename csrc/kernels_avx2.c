/*
 * x86-64 AVX2 + FMA (+ F16C) kernels.  Compiled with those instructions
 * enabled; only called after CPU detection says they run here.
 */
#include "gm_kernel.h"

const gm_kernel_table gm_avx2_kernels = {0};
