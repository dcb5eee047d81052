/*
 * C tests of the kernel library against a naive reference.
 *
 * For every instruction set this CPU runs, every element type, a grid of
 * sizes around the micro-tile and cache-block edges, and operand layouts
 * (row-major, column-major, reversed, gapped, unaligned), gm_matmul must
 * match a plain triple loop: exactly for bool, integers and float16, within
 * rounding for the other floats, with the same NaN and Inf positions.
 *
 * Usage: test_kernels [quick]
 */
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gufunc_matmul.h"
#include "gm_half.h"

static unsigned long long rng_state = 88172645463325252ULL;

static unsigned long long next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

typedef struct type_info {
    gm_type type;
    const char *name;
    size_t size;
    int kind;   /* 'b' bool, 'i' integer, 'e' half, 'f' real, 'c' complex */
} type_info;

static const type_info types[] = {
    {GM_BOOL, "bool", 1, 'b'},
    {GM_INT8, "int8", 1, 'i'}, {GM_UINT8, "uint8", 1, 'i'},
    {GM_INT16, "int16", 2, 'i'}, {GM_UINT16, "uint16", 2, 'i'},
    {GM_INT32, "int32", 4, 'i'}, {GM_UINT32, "uint32", 4, 'i'},
    {GM_INT64, "int64", 8, 'i'}, {GM_UINT64, "uint64", 8, 'i'},
    {GM_FLOAT16, "float16", 2, 'e'},
    {GM_FLOAT32, "float32", 4, 'f'}, {GM_FLOAT64, "float64", 8, 'f'},
    {GM_LONGDOUBLE, "longdouble", sizeof(long double), 'f'},
    {GM_COMPLEX64, "complex64", 8, 'c'}, {GM_COMPLEX128, "complex128", 16, 'c'},
    {GM_CLONGDOUBLE, "clongdouble", 2 * sizeof(long double), 'c'},
};
#define NUM_TYPES (sizeof types / sizeof types[0])

/* Real part size of a float type (the whole element for reals). */
static size_t part_size(const type_info *t)
{
    return t->kind == 'c' ? t->size / 2 : t->size;
}

static long double get_real(const type_info *t, const char *p)
{
    size_t s = part_size(t);
    if (t->kind == 'e') {
        uint16_t h;
        memcpy(&h, p, 2);
        return gm_half_to_float(h);
    }
    if (s == 4) { float v; memcpy(&v, p, 4); return v; }
    if (s == 8) { double v; memcpy(&v, p, 8); return v; }
    long double v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void put_real(const type_info *t, char *p, long double v)
{
    size_t s = part_size(t);
    if (t->kind == 'e') {
        uint16_t h = gm_float_to_half((float)v);
        memcpy(p, &h, 2);
    }
    else if (s == 4) { float f = (float)v; memcpy(p, &f, 4); }
    else if (s == 8) { double d = (double)v; memcpy(p, &d, 8); }
    else { memcpy(p, &v, sizeof v); }
}

static uint64_t get_bits(const type_info *t, const char *p)
{
    uint64_t v = 0;
    memcpy(&v, p, t->size);   /* little-endian low bytes */
    return v;
}

/* A random element; for floats sometimes 0, Inf or NaN. */
static void random_element(const type_info *t, char *p, int specials)
{
    unsigned long long r = next_random();
    if (t->kind == 'b' || t->kind == 'i') {
        memcpy(p, &r, t->size);
        if (t->kind == 'b') {
            p[0] = (char)((r >> 20) % 3 == 0 ? 0 : 1 + (r >> 30) % 5);
        }
        return;
    }
    for (int part = 0; part < (t->kind == 'c' ? 2 : 1); ++part) {
        unsigned long long q = next_random();
        long double v = ((long double)(q % 2001) - 1000.0L) / 256.0L;
        if (specials) {
            switch (q >> 40 & 31) {
            case 0: v = 0.0L; break;
            case 1: v = INFINITY; break;
            case 2: v = -INFINITY; break;
            case 3: v = NAN; break;
            default: break;
            }
        }
        put_real(t, p + part * part_size(t), v);
    }
}

/* A strided matrix view inside an owned buffer. */
typedef struct matrix {
    char *buffer;
    char *origin;
    ptrdiff_t rs, cs;
} matrix;

enum { ROW_MAJOR, COL_MAJOR, REVERSED, GAPPED, UNALIGNED, NUM_LAYOUTS };

static int make_matrix(matrix *mat, const type_info *t, ptrdiff_t rows,
                       ptrdiff_t cols, int layout)
{
    ptrdiff_t es = (ptrdiff_t)t->size;
    ptrdiff_t r = rows > 0 ? rows : 1, c = cols > 0 ? cols : 1;
    size_t bytes = (size_t)(r * c * es * 2 + 64);
    mat->buffer = calloc(1, bytes);
    if (mat->buffer == NULL) {
        return -1;
    }
    mat->origin = mat->buffer;
    switch (layout) {
    case COL_MAJOR: mat->rs = es; mat->cs = r * es; break;
    case REVERSED:
        mat->rs = -c * es; mat->cs = -es;
        mat->origin = mat->buffer + (r * c - 1) * es;
        break;
    case GAPPED: mat->rs = 2 * c * es; mat->cs = 2 * es; break;
    case UNALIGNED: mat->rs = c * es; mat->cs = es; mat->origin += 1; break;
    default: mat->rs = c * es; mat->cs = es; break;
    }
    return 0;
}

static char *at(const matrix *m, ptrdiff_t i, ptrdiff_t j)
{
    return m->origin + i * m->rs + j * m->cs;
}

/* The expected C[i][j] compared with the computed one. */
static int check_element(const type_info *t, const matrix *a,
                         const matrix *b, const char *got, ptrdiff_t i,
                         ptrdiff_t j, ptrdiff_t k, int conj)
{
    if (t->kind == 'b') {
        int any = 0;
        for (ptrdiff_t p = 0; p < k; ++p) {
            any |= at(a, i, p)[0] != 0 && at(b, p, j)[0] != 0;
        }
        return got[0] == any;
    }
    if (t->kind == 'i') {
        uint64_t sum = 0;
        for (ptrdiff_t p = 0; p < k; ++p) {
            sum += get_bits(t, at(a, i, p)) * get_bits(t, at(b, p, j));
        }
        uint64_t mask = t->size == 8 ? ~0ULL : (1ULL << (8 * t->size)) - 1;
        return (get_bits(t, got) & mask) == (sum & mask);
    }
    if (t->kind == 'e') {
        float sum = 0.0f;
        for (ptrdiff_t p = 0; p < k; ++p) {
            sum += (float)get_real(t, at(a, i, p)) * (float)get_real(t, at(b, p, j));
        }
        uint16_t want = gm_float_to_half(sum), have;
        memcpy(&have, got, 2);
        return want == have || (sum != sum && (have & 0x7c00) == 0x7c00 && (have & 0x3ff));
    }
    const size_t ps = part_size(t);
    long double re = 0, im = 0, magnitude = 0;
    for (ptrdiff_t p = 0; p < k; ++p) {
        const char *x = at(a, i, p), *y = at(b, p, j);
        long double xr = get_real(t, x), yr = get_real(t, y);
        long double xi = 0, yi = 0;
        if (t->kind == 'c') {
            xi = get_real(t, x + ps);
            yi = get_real(t, y + ps);
            if (conj) {
                xi = -xi;
            }
        }
        re += xr * yr - xi * yi;
        im += xr * yi + xi * yr;
        magnitude += fabsl(xr * yr) + fabsl(xi * yi) + fabsl(xr * yi) + fabsl(xi * yr);
    }
    long double eps = ps == 4 ? 1e-6L : 1e-15L;
    long double tol = 8 * eps * (magnitude + 1) * (long double)(k + 1);
    long double parts_want[2] = {re, im};
    for (int q = 0; q < (t->kind == 'c' ? 2 : 1); ++q) {
        long double want = parts_want[q], have = get_real(t, got + q * ps);
        if (isnan(want) || isnan(have)) {
            if (isnan(want) != isnan(have)) {
                return 0;
            }
            continue;
        }
        if (isinf(want) || isinf(have)) {
            if (want != have) {
                return 0;
            }
            continue;
        }
        if (fabsl(want - have) > tol) {
            return 0;
        }
    }
    return 1;
}

static int failures = 0;
static long cases = 0;

static void run_case(const type_info *t, ptrdiff_t batch, ptrdiff_t m,
                     ptrdiff_t n, ptrdiff_t k, int la, int lb, int lc,
                     int specials, int conj, const char *isa)
{
    matrix a[2], b[2], c[2];
    ptrdiff_t nb = batch > 1 ? 2 : 1;
    for (ptrdiff_t s = 0; s < nb; ++s) {
        if (make_matrix(&a[s], t, m, k, la) || make_matrix(&b[s], t, k, n, lb)
                || make_matrix(&c[s], t, m, n, lc)) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        for (ptrdiff_t i = 0; i < m; ++i)
            for (ptrdiff_t p = 0; p < k; ++p)
                random_element(t, at(&a[s], i, p), specials);
        for (ptrdiff_t p = 0; p < k; ++p)
            for (ptrdiff_t j = 0; j < n; ++j)
                random_element(t, at(&b[s], p, j), specials);
        for (ptrdiff_t i = 0; i < m; ++i)
            for (ptrdiff_t j = 0; j < n; ++j)
                memset(at(&c[s], i, j), 0x5a, t->size);   /* garbage */
    }
    gm_problem p = {
        .type = t->type, .batch = nb, .m = m, .n = n, .k = k,
        .a = {a[0].origin, nb > 1 ? a[1].origin - a[0].origin : 0, a[0].rs, a[0].cs},
        .b = {b[0].origin, nb > 1 ? b[1].origin - b[0].origin : 0, b[0].rs, b[0].cs},
        .c = {c[0].origin, nb > 1 ? c[1].origin - c[0].origin : 0, c[0].rs, c[0].cs},
    };
    ++cases;
    int rc = conj ? gm_matmul_conj(&p) : gm_matmul(&p);
    int bad = rc != GM_OK;
    for (ptrdiff_t s = 0; s < nb && !bad; ++s) {
        for (ptrdiff_t i = 0; i < m && !bad; ++i) {
            for (ptrdiff_t j = 0; j < n && !bad; ++j) {
                if (!check_element(t, &a[s], &b[s], at(&c[s], i, j), i, j, k, conj)) {
                    bad = 1;
                    fprintf(stderr, "FAIL %s %s%s batch=%td m=%td n=%td k=%td "
                            "layouts=%d,%d,%d specials=%d at [%td][%td][%td] (%s)\n",
                            isa, conj ? "conj " : "", t->name, nb, m, n, k, la,
                            lb, lc, specials, s, i, j, gm_kernel_name(t->type));
                }
            }
        }
    }
    failures += bad;
    for (ptrdiff_t s = 0; s < nb; ++s) {
        free(a[s].buffer);
        free(b[s].buffer);
        free(c[s].buffer);
    }
}

/* The flags a float64 product m x k @ k x n leaves, from the caller's
 * `preset`: A and B hold `value`, A[0][0] holds `first`. */
static int flags_after(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double value,
                       double first, int preset)
{
    double *a = malloc(sizeof(double) * (size_t)(m * k));
    double *b = malloc(sizeof(double) * (size_t)(k * n));
    double *c = malloc(sizeof(double) * (size_t)(m * n));
    if (a == NULL || b == NULL || c == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (ptrdiff_t i = 0; i < m * k; ++i) {
        a[i] = value;
    }
    for (ptrdiff_t i = 0; i < k * n; ++i) {
        b[i] = value;
    }
    a[0] = first;
    gm_problem p = {
        .type = GM_FLOAT64, .batch = 1, .m = m, .n = n, .k = k,
        .a = {(char *)a, 0, k * 8, 8},
        .b = {(char *)b, 0, n * 8, 8},
        .c = {(char *)c, 0, n * 8, 8},
    };
    feclearexcept(FE_ALL_EXCEPT);
    if (preset != 0) {
        feraiseexcept(preset);
    }
    gm_matmul(&p);
    const int flags = fetestexcept(FE_INVALID | FE_OVERFLOW | FE_DIVBYZERO);
    feclearexcept(FE_ALL_EXCEPT);
    free(a);
    free(b);
    free(c);
    return flags;
}

/* The floating-point flags that NumPy's errstate reads: the caller's
 * stay, overflow is raised (on worker threads too), and "invalid" only
 * where the plain sum raises it (an infinity times the zeros that pad a
 * tile must not show). */
static void test_fp_flags(void)
{
    static const struct {
        ptrdiff_t m, n, k;
        double value, first;
        int preset, expected;
        const char *what;
    } checks[] = {
        {5, 5, 40, 1.0, 1.0, 0, 0, "finite"},
        {5, 5, 40, 1.0, INFINITY, 0, 0, "infinity against padding"},
        {5, 5, 40, 1.0, INFINITY, FE_INVALID, FE_INVALID, "caller's invalid kept"},
        {5, 5, 40, 1.0, 1.0, FE_OVERFLOW | FE_DIVBYZERO, FE_OVERFLOW | FE_DIVBYZERO,
         "caller's flags kept"},
        {5, 5, 40, 1.0, NAN, 0, 0, "quiet NaN"},
        {5, 5, 40, 0.0, INFINITY, 0, FE_INVALID, "infinity times zero"},
        {5, 5, 40, 1e200, 1e200, 0, FE_OVERFLOW, "overflow"},
        {300, 300, 300, 1e200, 1e200, 0, FE_OVERFLOW, "overflow on threads"},
        {300, 300, 300, 1e200, 1e200, FE_INVALID, FE_INVALID | FE_OVERFLOW,
         "overflow on threads, caller's invalid kept"},
    };
    /* Emulators (valgrind) may not keep the flags at all. */
    volatile double big = 1e300;
    feclearexcept(FE_ALL_EXCEPT);
    big = big * big;
    if (!fetestexcept(FE_OVERFLOW)) {
        printf("skip floating-point flags: not reported here\n");
        return;
    }
    feclearexcept(FE_ALL_EXCEPT);
    gm_set_num_threads(2);
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; ++i) {
        ++cases;
        const int got = flags_after(checks[i].m, checks[i].n, checks[i].k,
                                    checks[i].value, checks[i].first,
                                    checks[i].preset);
        if (got != checks[i].expected) {
            fprintf(stderr, "FAIL flags (%s): got %#x, expected %#x\n",
                    checks[i].what, (unsigned)got, (unsigned)checks[i].expected);
            ++failures;
        }
    }
    gm_set_num_threads(0);
}

int main(int argc, char **argv)
{
    const int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    /* Sizes around tiles (2..32) and blocks (96..192 rows, 256..1024
     * deep, 2048 columns). */
    static const ptrdiff_t dims[] = {0, 1, 2, 3, 5, 7, 8, 11, 12, 13, 16, 17,
                                     24, 31, 32, 33, 47, 63, 64, 65, 97};
    static const ptrdiff_t big[] = {95, 96, 97, 191, 192, 193, 255, 256,
                                    257, 383, 384, 385, 511, 512, 513,
                                    1023, 1024, 1025, 2047, 2049};
    const size_t num_dims = sizeof dims / sizeof dims[0];
    const size_t num_big = sizeof big / sizeof big[0];
    const char *isa_names[] = {"generic", "avx2", "avx512", "avx512-wide", "neon"};

    if (gm_matmul(NULL) != GM_EINVAL || gm_matmul_conj(NULL) != GM_EINVAL) {
        fprintf(stderr, "FAIL: NULL problem accepted\n");
        ++failures;
    }
    for (size_t ii = 0; ii < sizeof isa_names / sizeof isa_names[0]; ++ii) {
        if (gm_select_isa(isa_names[ii]) != 0) {
            printf("skip %s: not available here\n", isa_names[ii]);
            continue;
        }
        long before = cases;
        for (size_t ti = 0; ti < NUM_TYPES; ++ti) {
            const type_info *t = &types[ti];
            gm_problem bad = {.type = t->type, .batch = 1, .m = -1, .n = 1, .k = 1};
            if (gm_matmul(&bad) != GM_EINVAL) {
                fprintf(stderr, "FAIL: negative size accepted\n");
                ++failures;
            }
            const int rounds = quick ? 60 : 400;
            for (int r = 0; r < rounds; ++r) {
                unsigned long long x = next_random();
                ptrdiff_t m = dims[x % num_dims], n = dims[(x >> 8) % num_dims];
                ptrdiff_t k = dims[(x >> 16) % num_dims];
                if ((x >> 24) % 8 == 0) {
                    k = big[(x >> 28) % num_big];
                }
                else if ((x >> 24) % 8 == 1) {
                    m = big[(x >> 28) % num_big];
                }
                else if ((x >> 24) % 8 == 2) {
                    n = big[(x >> 28) % num_big];
                }
                /* At most ~4M multiply-adds a case: the smaller dimensions
                 * give way to the one drawn big. */
                while (m * n * k > 4000000) {
                    ptrdiff_t *other = (x >> 24) % 8 == 0 ? (m > n ? &m : &n)
                                     : (x >> 24) % 8 == 1 ? (n > k ? &n : &k)
                                                          : (m > k ? &m : &k);
                    *other = *other / 2 + 1;
                }
                int la = (int)((x >> 32) % NUM_LAYOUTS);
                int lb = (int)((x >> 36) % NUM_LAYOUTS);
                int lc = (int)((x >> 40) % NUM_LAYOUTS);
                ptrdiff_t batch = (x >> 44) % 4 == 0 ? 2 : 1;
                int specials = (t->kind == 'f' || t->kind == 'c' || t->kind == 'e')
                               && (x >> 48) % 3 == 0;
                /* conj(A) @ B (vecdot, vecmat) a third of the time, mostly
                 * on the vector shapes its streaming forms take. */
                const int conj = (x >> 52) % 3 == 0;
                if (conj && (x >> 54) % 4 == 0) {
                    m = 1;
                }
                else if (conj && (x >> 54) % 4 == 1) {
                    n = 1;
                }
                run_case(t, batch, m, n, k, la, lb, lc, specials, conj,
                         isa_names[ii]);
            }
            /* Few rows of a B whose packed block outgrows L2 (the late-B
             * steps), past the random cases' size: every type in a full
             * run, a real and a complex one in a quick one (which also
             * runs under valgrind and TSan). */
            if (!quick || t->type == GM_FLOAT64 || t->type == GM_COMPLEX64) {
                unsigned long long x = next_random();
                run_case(t, 1, 57, 440, 300, (int)(x % NUM_LAYOUTS),
                         (int)((x >> 8) % NUM_LAYOUTS), (int)((x >> 16) % NUM_LAYOUTS),
                         0, (x >> 24) % 3 == 0, isa_names[ii]);
            }
        }
        printf("%s: %ld cases\n", isa_names[ii], cases - before);
    }
    gm_select_isa(NULL);
    test_fp_flags();
    printf("%ld passed, %d failed\n", cases - failures, failures);
    return failures != 0;
}
