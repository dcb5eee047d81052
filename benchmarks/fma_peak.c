/*
 * The machine's floating-point peak, measured with a register-only loop of
 * independent FMAs (no memory traffic), for one core and for all of them.
 *
 *   cc -O2 -pthread benchmarks/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 *
 * Prints GFLOP/s (2 flops per FMA) for float64 and float32 with AVX2 and,
 * where the CPU has it, AVX-512; pass the all-core figures of the widest
 * set to bench_matmul.py as --peak-f64 / --peak-f32.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 12
#define STEPS 50000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

__attribute__((target("avx2,fma"))) static double avx2_f64(void)
{
    __m256d acc[CHAINS], x = _mm256_set1_pd(1.0000001), y = _mm256_set1_pd(1e-9);
    for (int i = 0; i < CHAINS; ++i) acc[i] = _mm256_set1_pd(i);
    double t0 = now();
    for (long s = 0; s < STEPS; ++s) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; ++i) acc[i] = _mm256_fmadd_pd(acc[i], x, y);
    }
    double t = now() - t0;
    __m256d sum = acc[0];
    for (int i = 1; i < CHAINS; ++i) sum = _mm256_add_pd(sum, acc[i]);
    volatile double sink = _mm256_cvtsd_f64(sum);
    (void)sink;
    return STEPS * CHAINS * 4.0 * 2.0 / t / 1e9;
}

__attribute__((target("avx512f"))) static double avx512_f64(void)
{
    __m512d acc[CHAINS], x = _mm512_set1_pd(1.0000001), y = _mm512_set1_pd(1e-9);
    for (int i = 0; i < CHAINS; ++i) acc[i] = _mm512_set1_pd(i);
    double t0 = now();
    for (long s = 0; s < STEPS; ++s) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; ++i) acc[i] = _mm512_fmadd_pd(acc[i], x, y);
    }
    double t = now() - t0;
    __m512d sum = acc[0];
    for (int i = 1; i < CHAINS; ++i) sum = _mm512_add_pd(sum, acc[i]);
    volatile double sink = _mm512_reduce_add_pd(sum);
    (void)sink;
    return STEPS * CHAINS * 8.0 * 2.0 / t / 1e9;
}

typedef struct { double (*fn)(void); double result; } run;

static void *thread_main(void *arg)
{
    run *r = (run *)arg;
    r->result = r->fn();
    return NULL;
}

/* Sum over one thread per core, all running at once. */
static double all_cores(double (*fn)(void), int cores)
{
    pthread_t threads[256];
    run runs[256];
    double total = 0;
    for (int c = 0; c < cores; ++c) {
        runs[c].fn = fn;
        pthread_create(&threads[c], NULL, thread_main, &runs[c]);
    }
    for (int c = 0; c < cores; ++c) {
        pthread_join(threads[c], NULL);
        total += runs[c].result;
    }
    return total;
}

int main(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1 || cores > 256) cores = 1;
    __builtin_cpu_init();
    printf("cores: %ld\n", cores);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        double one = avx2_f64();
        printf("avx2    float64: %7.1f GFLOP/s per core, %7.1f all cores (float32: x2)\n",
               one, all_cores(avx2_f64, (int)cores));
    }
    if (__builtin_cpu_supports("avx512f")) {
        double one = avx512_f64();
        printf("avx512  float64: %7.1f GFLOP/s per core, %7.1f all cores (float32: x2)\n",
               one, all_cores(avx512_f64, (int)cores));
    }
    return 0;
}
