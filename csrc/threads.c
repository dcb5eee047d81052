/*
 * The thread pool and the number of threads per call.  See gm_threads.h.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1            /* sched_getaffinity */
#endif
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <fenv.h>
#include <stdatomic.h>

#include "gufunc_matmul.h"
#include "gm_threads.h"

#if GM_HAVE_PTHREADS
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#endif

/* Below this many multiply-adds per thread, waking threads costs more than
 * it saves. */
#define GM_FLOPS_PER_THREAD 1.0e6

static atomic_int requested_threads;   /* 0: one per available CPU */
static atomic_int active_calls;

int gm_set_num_threads(int n)
{
    if (n < 0) {
        return -1;
    }
    atomic_store(&requested_threads, n > GM_MAX_THREADS ? GM_MAX_THREADS : n);
    return 0;
}

#if GM_HAVE_PTHREADS
static int available_cpus(void)
{
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        return CPU_COUNT(&set);
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < GM_MAX_THREADS ? n : GM_MAX_THREADS) : 1;
}
#endif

int gm_get_num_threads(void)
{
#if GM_HAVE_PTHREADS
    int n = atomic_load(&requested_threads);
    if (n == 0) {
        n = available_cpus();
    }
    return n < 1 ? 1 : n;
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
    return n;
}

void gm_threads_end(void)
{
    atomic_fetch_sub(&active_calls, 1);
}

void gm_yield(void)
{
#if GM_HAVE_PTHREADS
    sched_yield();
#endif
}

/* ---- the pool ----------------------------------------------------------- */

typedef struct job {
    gm_unit_fn fn;
    void *ctx;
    ptrdiff_t units;
    int max_slots;
    atomic_ptrdiff_t next_unit;
    atomic_int next_slot;
    atomic_int fp_flags;
} job;

static void run_units(job *j, int slot)
{
    for (;;) {
        ptrdiff_t unit = atomic_fetch_add(&j->next_unit, 1);
        if (unit >= j->units) {
            return;
        }
        j->fn(j->ctx, unit, slot);
    }
}

#if GM_HAVE_PTHREADS

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;
static job *current_job;          /* guarded by pool_lock */
static unsigned long job_number;  /* guarded by pool_lock */
static int workers_inside;        /* guarded by pool_lock */
static int workers_started;       /* guarded by pool_lock */
static int atfork_installed;      /* guarded by pool_lock */

static void *worker_main(void *arg)
{
    unsigned long seen = 0;
    (void)arg;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (current_job == NULL || job_number == seen) {
            pthread_cond_wait(&job_posted, &pool_lock);
        }
        seen = job_number;
        job *j = current_job;
        int slot = atomic_fetch_add(&j->next_slot, 1);
        if (slot >= j->max_slots) {
            continue;   /* enough threads on this one */
        }
        ++workers_inside;
        pthread_mutex_unlock(&pool_lock);

        feclearexcept(FE_ALL_EXCEPT);
        run_units(j, slot);
        atomic_fetch_or(&j->fp_flags, fetestexcept(FE_ALL_EXCEPT));

        pthread_mutex_lock(&pool_lock);
        if (--workers_inside == 0) {
            pthread_cond_broadcast(&pool_idle);
        }
    }
    return NULL;
}

/* fork() copies one thread: hold the lock across it so the child gets a
 * consistent pool, which it then forgets (its workers do not exist). */
static void before_fork(void)
{
    pthread_mutex_lock(&pool_lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&pool_lock);
}

static void after_fork_child(void)
{
    pthread_mutex_init(&pool_lock, NULL);
    pthread_cond_init(&job_posted, NULL);
    pthread_cond_init(&pool_idle, NULL);
    current_job = NULL;
    workers_inside = 0;
    workers_started = 0;
    atomic_store(&active_calls, 0);
}

/* Starts workers up to `wanted`; a thread that cannot be created only
 * means fewer helpers.  Called with pool_lock held. */
static void grow_pool(int wanted)
{
    if (!atfork_installed) {
        atfork_installed = pthread_atfork(before_fork, after_fork_parent,
                                          after_fork_child) == 0;
    }
    while (workers_started < wanted) {
        pthread_t thread;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) {
            return;
        }
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed) {
            return;
        }
        ++workers_started;
    }
}

int gm_parallel_for(int threads, ptrdiff_t units, gm_unit_fn fn, void *ctx)
{
    job j;
    j.fn = fn;
    j.ctx = ctx;
    j.units = units;
    j.max_slots = threads;
    atomic_init(&j.next_unit, 0);
    atomic_init(&j.next_slot, 1);
    atomic_init(&j.fp_flags, 0);
    if (threads <= 1 || units <= 1) {
        run_units(&j, 0);
        return 0;
    }
    pthread_mutex_lock(&pool_lock);
    grow_pool(threads - 1);
    current_job = &j;
    ++job_number;
    pthread_cond_broadcast(&job_posted);
    pthread_mutex_unlock(&pool_lock);

    run_units(&j, 0);

    /* Close the job; wait only for workers still inside it (running a
     * unit), never for those that have not arrived. */
    pthread_mutex_lock(&pool_lock);
    current_job = NULL;
    while (workers_inside > 0) {
        pthread_cond_wait(&pool_idle, &pool_lock);
    }
    pthread_mutex_unlock(&pool_lock);
    return atomic_load(&j.fp_flags);
}

#else  /* no threads in this build */

int gm_parallel_for(int threads, ptrdiff_t units, gm_unit_fn fn, void *ctx)
{
    job j;
    (void)threads;
    j.fn = fn;
    j.ctx = ctx;
    j.units = units;
    j.max_slots = 1;
    atomic_init(&j.next_unit, 0);
    atomic_init(&j.next_slot, 1);
    atomic_init(&j.fp_flags, 0);
    run_units(&j, 0);
    return 0;
}

#endif
