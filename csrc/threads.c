/*
 * How many threads a call may use.  See gm_threads.h.
 */
#include <stdatomic.h>

#include "gufunc_matmul.h"
#include "gm_threads.h"

#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define GM_HAVE_ATFORK 1
#endif

/* Below this many multiply-adds per thread, starting threads costs more
 * than it saves. */
#define GM_FLOPS_PER_THREAD 1.0e6

static atomic_int requested_threads;   /* 0: OpenMP's default */
static atomic_int active_calls;

#ifdef _OPENMP
static atomic_int forked_child;
#endif

#ifdef GM_HAVE_ATFORK
static atomic_int atfork_installed;

static void note_fork_in_child(void)
{
    atomic_store(&forked_child, 1);
    atomic_store(&active_calls, 0);
}
#endif

static void install_fork_handler(void)
{
#ifdef GM_HAVE_ATFORK
    if (!atomic_exchange(&atfork_installed, 1)) {
        pthread_atfork(NULL, NULL, note_fork_in_child);
    }
#endif
}

int gm_set_num_threads(int n)
{
    if (n < 0) {
        return -1;
    }
    atomic_store(&requested_threads, n > GM_MAX_THREADS ? GM_MAX_THREADS : n);
    return 0;
}

int gm_get_num_threads(void)
{
#ifdef _OPENMP
    if (atomic_load(&forked_child)) {
        return 1;
    }
    int n = atomic_load(&requested_threads);
    if (n == 0) {
        n = omp_get_max_threads();
    }
    return n < 1 ? 1 : (n > GM_MAX_THREADS ? GM_MAX_THREADS : n);
#else
    return 1;
#endif
}

int gm_threads_begin(double flops)
{
    int busy = atomic_fetch_add(&active_calls, 1);
    int n = gm_get_num_threads();
    if (busy > 0 || n <= 1) {
        return 1;
    }
    double useful = flops / GM_FLOPS_PER_THREAD;
    if (useful < (double)n) {
        n = useful < 1.0 ? 1 : (int)useful;
    }
    if (n > 1) {
        install_fork_handler();
    }
    return n;
}

void gm_threads_end(void)
{
    atomic_fetch_sub(&active_calls, 1);
}
