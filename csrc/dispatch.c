/*
 * Kernel selection: which kernel set serves each family, chosen once from
 * what the CPU and the build support.
 */
#include <string.h>

#include "gm_kernel.h"

static const gm_kernel_table *active_table = &gm_generic_kernels;
static const char *active_isa = "generic";

gm_family gm_family_of(gm_type type)
{
    switch (type) {
    case GM_BOOL: return GM_FAM_BOOL;
    case GM_INT8: case GM_UINT8: return GM_FAM_I8;
    case GM_INT16: case GM_UINT16: return GM_FAM_I16;
    case GM_INT32: case GM_UINT32: return GM_FAM_I32;
    case GM_INT64: case GM_UINT64: return GM_FAM_I64;
    case GM_FLOAT16: return GM_FAM_F16;
    case GM_FLOAT32: return GM_FAM_F32;
    case GM_FLOAT64: return GM_FAM_F64;
    case GM_LONGDOUBLE: return GM_FAM_LD;
    case GM_COMPLEX64: return GM_FAM_C64;
    case GM_COMPLEX128: return GM_FAM_C128;
    case GM_CLONGDOUBLE: return GM_FAM_CLD;
    default: return GM_FAM_F64;   /* unreachable: callers validate */
    }
}

const gm_kernel *gm_kernel_for(gm_family family)
{
    const gm_kernel *kern = (*active_table)[family];
    return kern != NULL ? kern : gm_generic_kernels[family];
}

const char *gm_kernel_name(gm_type type)
{
    if ((int)type < 0 || type >= GM_NUM_TYPES) {
        return "";
    }
    return gm_kernel_for(gm_family_of(type))->name;
}

const char *gm_isa_name(void)
{
    return active_isa;
}

const char *gm_available_isas(void)
{
    return "generic";
}

int gm_select_isa(const char *name)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0
            || strcmp(name, "generic") == 0) {
        active_table = &gm_generic_kernels;
        active_isa = "generic";
        return 0;
    }
    return -1;
}
