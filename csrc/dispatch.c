/*
 * Kernel selection: which kernel set serves each family, chosen once from
 * what the CPU and the build support.  Families a tuned set leaves empty
 * fall back to the portable kernels.
 */
#include <string.h>

#include "gm_kernel.h"

/* An instruction set's kernels may come in several tables (files); the
 * first entry that is not NULL serves a family. */
typedef struct isa_entry {
    const char *name;
    const gm_kernel_table *tables[3];
    int (*supported)(void);
} isa_entry;

static int always(void)
{
    return 1;
}

#if GM_HAVE_X86_KERNELS
#include <cpuid.h>

/* CPUID says what the CPU has; XCR0 says which registers the OS saves. */
typedef struct x86_features {
    int avx2, avx512;
    int avx512_halves;   /* runs 512-bit vectors as two 256-bit halves */
} x86_features;

static unsigned long long read_xcr0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* The family of an AMD processor (base plus extended), else 0. */
static unsigned int amd_family(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)
            || ebx != 0x68747541 || edx != 0x69746e65 || ecx != 0x444d4163) {
        return 0;   /* not "AuthenticAMD" */
    }
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return 0;
    }
    const unsigned int base = (eax >> 8) & 0xf;
    return base == 0xf ? base + ((eax >> 20) & 0xff) : base;
}

static x86_features detect_x86(void)
{
    x86_features f = {0, 0, 0};
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return f;
    }
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1;
    const int avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!osxsave || !avx || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return f;
    }
    const unsigned long long xcr0 = read_xcr0();
    const int ymm_saved = (xcr0 & 0x6) == 0x6;
    const int zmm_saved = (xcr0 & 0xe6) == 0xe6;
    f.avx2 = ymm_saved && fma && f16c && ((ebx >> 5) & 1);
    f.avx512 = f.avx2 && zmm_saved && ((ebx >> 16) & 1)    /* F */
               && ((ebx >> 17) & 1) && ((ebx >> 30) & 1)   /* DQ, BW */
               && ((ebx >> 31) & 1);                       /* VL */
    f.avx512_halves = f.avx512 && amd_family() == 0x19;    /* Zen 4 */
    return f;
}

static int cpu_has_avx2(void)
{
    return detect_x86().avx2;
}

static int cpu_has_avx512(void)
{
    return detect_x86().avx512;
}

static int cpu_has_avx512_halves(void)
{
    return detect_x86().avx512_halves;
}
#endif

/* Best first; of two entries with one name, the first the CPU supports
 * serves that name.  Where AVX-512 runs in halves, "avx512" chooses its
 * paths for that, and "avx512-wide" as for full-width units (the same
 * kernels: the tests run both). */
static const isa_entry isas[] = {
#if GM_HAVE_X86_KERNELS
    {"avx512", {&gm_avx512_halves_kernels, &gm_avx512_kernels, &gm_avx512_int_kernels},
     cpu_has_avx512_halves},
    {"avx512", {&gm_avx512_kernels, &gm_avx512_int_kernels, NULL}, cpu_has_avx512},
    {"avx512-wide", {&gm_avx512_kernels, &gm_avx512_int_kernels, NULL},
     cpu_has_avx512_halves},
    {"avx2", {&gm_avx2_kernels, NULL, NULL}, cpu_has_avx2},
#endif
#if GM_HAVE_NEON_KERNELS
    {"neon", {&gm_neon_kernels, NULL, NULL}, always},
#endif
    {"generic", {&gm_generic_kernels, NULL, NULL}, always},
};
#define NUM_ISAS (sizeof isas / sizeof isas[0])

static const isa_entry *active = &isas[NUM_ISAS - 1];
static char available[64];

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

size_t gm_item_size(gm_type type)
{
    switch (type) {
    case GM_BOOL: case GM_INT8: case GM_UINT8: return 1;
    case GM_INT16: case GM_UINT16: case GM_FLOAT16: return 2;
    case GM_INT32: case GM_UINT32: case GM_FLOAT32: return 4;
    case GM_INT64: case GM_UINT64: case GM_FLOAT64: case GM_COMPLEX64: return 8;
    case GM_LONGDOUBLE: return sizeof(long double);
    case GM_COMPLEX128: return 16;
    case GM_CLONGDOUBLE: return 2 * sizeof(long double);
    default: return 1;   /* unreachable: callers validate */
    }
}

const gm_kernel *gm_kernel_for(gm_family family)
{
    for (int t = 0; t < 3 && active->tables[t] != NULL; ++t) {
        const gm_kernel *kern = (*active->tables[t])[family];
        if (kern != NULL) {
            return kern;
        }
    }
    return gm_generic_kernels[family];
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
    return active->name;
}

/* Whether a supported entry before entry i has its name. */
static int listed_before(size_t i)
{
    for (size_t j = 0; j < i; ++j) {
        if (strcmp(isas[j].name, isas[i].name) == 0 && isas[j].supported()) {
            return 1;
        }
    }
    return 0;
}

const char *gm_available_isas(void)
{
    if (available[0] == '\0') {
        for (size_t i = 0; i < NUM_ISAS; ++i) {
            if (isas[i].supported() && !listed_before(i)) {
                if (available[0] != '\0') {
                    strcat(available, ",");
                }
                strcat(available, isas[i].name);
            }
        }
    }
    return available;
}

int gm_select_isa(const char *name)
{
    const int automatic = name == NULL || name[0] == '\0'
                          || strcmp(name, "auto") == 0;
    for (size_t i = 0; i < NUM_ISAS; ++i) {
        if ((automatic || strcmp(name, isas[i].name) == 0)
                && isas[i].supported()) {
            active = &isas[i];
            return 0;
        }
    }
    return -1;   /* unknown, or this CPU cannot run it */
}
