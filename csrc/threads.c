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
#include <time.h>

#include "gufunc_matmul.h"
#include "gm_threads.h"

#if GM_HAVE_PTHREADS
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#endif

/* Below this many multiply-adds per thread (about 5 us of work), waking
 * a sleeping pool thread costs more than it saves. */
#define GM_FLOPS_PER_THREAD 2.5e5

/* A pool thread still watching for work after its last job (see
 * GM_SPIN_NS) starts within a microsecond, so a product gains from it at
 * a fifth of that: float64 64 x 64 took 10.7 us on one thread, 7.2 on
 * two, 48 x 48 5.3 and 4.3, 1000 stacked 4 x 4 9.2 and 6.3.  A smaller
 * call runs alone: an isolated 48 x 48 took 9 us alone, 12-22 waiting
 * for a thread to wake (see awake_workers). */
#define GM_FLOPS_PER_AWAKE_THREAD 5e4

/* Products of more multiply-adds than this (milliseconds of work) keep
 * their threads through a back-off (see pool_held_up): whatever part of
 * them runs after the other core is free again gains from it. */
#define GM_HELD_UP_MAX_FLOPS 4e8

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

static int pool_held_up(void);
static int awake_workers(int wanted);

int gm_threads_begin(double flops, int use_awake)
{
    int busy = atomic_fetch_add(&active_calls, 1);
    double useful = flops / GM_FLOPS_PER_THREAD;
    const double least = use_awake ? GM_FLOPS_PER_AWAKE_THREAD : GM_FLOPS_PER_THREAD;
    /* Small products ask no more: counting the CPUs is a system call. */
    if (busy > 0 || flops < 2.0 * least) {
        return 1;
    }
    int n = gm_get_num_threads();
    if (n > 1 && flops < GM_HELD_UP_MAX_FLOPS && pool_held_up()) {
        return 1;
    }
    if (n > 1 && useful < 2.0) {
        const int awake = awake_workers(n - 1);
        if (awake == 0) {
            return 1;
        }
        useful = flops / GM_FLOPS_PER_AWAKE_THREAD;
        n = awake + 1 < n ? awake + 1 : n;
    }
    if (useful < (double)n) {
        n = useful < 1.0 ? 1 : (int)useful;
    }
    return n;
}

void gm_threads_end(void)
{
    atomic_fetch_sub(&active_calls, 1);
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
    fenv_t env;   /* the caller's rounding mode and modes, for every thread */
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

/*
 * Waking a sleeping thread costs tens of microseconds, and on virtual
 * machines often hundreds: as much as a whole product of 256 x 256.  So a
 * thread that is about to sleep first watches for its event for a short
 * while, which keeps back-to-back calls on warm threads; after that it
 * sleeps and costs nothing.
 */
#define GM_SPIN_NS 300000L

static void cpu_relax(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("yield");
#endif
}

static long long monotonic_ns(void)
{
    struct timespec ts;
#if defined(CLOCK_MONOTONIC)
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
#else
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC) {
        return 0;
    }
#endif
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * A pool thread that loses its core to another busy thread (a BLAS
 * library's worker spins for about 0.1 s after each of its calls) holds
 * its units while it waits, and the caller waits for them: float64
 * 128 x 128 then took 1.7 times as long on two threads as on one.  When
 * the caller of a job has waited for the pool more than twice as long as
 * it worked, calls run on one thread for a while: 10 ms, doubling up to
 * 0.2 s while it lasts, halving after each threaded job that did not
 * wait.  Only the speed changes: results are the same on any number of
 * threads.
 */
#define GM_HELD_UP_NS 200000LL
#define GM_BACKOFF_MIN_NS 10000000LL
#define GM_BACKOFF_MAX_NS 200000000LL

static atomic_llong single_until_ns;   /* 0: no back-off */
static atomic_llong backoff_ns;
static _Thread_local long long waited_in_units_ns;

static int pool_held_up(void)
{
    const long long until = atomic_load_explicit(&single_until_ns, memory_order_relaxed);
    return until != 0 && monotonic_ns() < until;
}

/* The caller's account of one job: [start, done) running units, of which
 * waited_in_units_ns waiting for other threads' units, then [done, end)
 * waiting for the pool to leave the job. */
static void note_job(long long start, long long done, long long end)
{
    if (start == 0 || end == 0) {
        return;   /* no clock */
    }
    const long long waited = (end - done) + waited_in_units_ns;
    const long long worked = (done - start) - waited_in_units_ns;
    if (waited > GM_HELD_UP_NS && waited > 2 * worked) {
        long long backoff = atomic_load(&backoff_ns) * 2;
        if (backoff < GM_BACKOFF_MIN_NS) {
            backoff = GM_BACKOFF_MIN_NS;
        }
        if (backoff > GM_BACKOFF_MAX_NS) {
            backoff = GM_BACKOFF_MAX_NS;
        }
        atomic_store(&backoff_ns, backoff);
        atomic_store(&single_until_ns, end + backoff);
    }
    else if (atomic_load_explicit(&backoff_ns, memory_order_relaxed) != 0) {
        /* One good job may be luck (the pool thread never came): the
         * back-off shrinks by half rather than ends. */
        const long long backoff = atomic_load(&backoff_ns) / 2;
        atomic_store(&backoff_ns, backoff < GM_BACKOFF_MIN_NS ? 0 : backoff);
    }
}

/* Spins until *value != unwanted or the spin time is over; returns
 * whether the value changed. */
static int spin_while_equal(const atomic_ulong *value, unsigned long unwanted)
{
    long long deadline = 0;
    for (unsigned iter = 1;; ++iter) {
        if (atomic_load_explicit(value, memory_order_acquire) != unwanted) {
            return 1;
        }
        if ((iter & 63) == 0) {
            /* A thread woken on this core (the caller, when the other
             * cores are busy) must not wait for the spin to end. */
            sched_yield();
            long long now = monotonic_ns();
            if (deadline == 0) {
                deadline = now + GM_SPIN_NS;
            }
            else if (now >= deadline || now == 0) {
                return 0;
            }
        }
        cpu_relax();
    }
}

/*
 * Posting a job and joining it take no lock, so that a spinning worker
 * starts at once:
 *   caller: current_job = j; ++job_number; ...; current_job = NULL;
 *           wait until workers_inside == 0
 *   worker: ++workers_inside; j = current_job; (NULL: leave) ...;
 *           --workers_inside
 * With sequentially consistent atomics a worker that sees j is counted
 * before the caller checks the count, so j (on the caller's stack) is
 * never used after the call returns.  The mutex and condition variables
 * serve only threads that sleep, and thread creation and fork.
 */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;
static _Atomic(job *) current_job;
static atomic_ulong job_number;
static atomic_ulong workers_inside;
static atomic_int sleeping_workers;
static atomic_int caller_sleeping;
static atomic_int workers_started;   /* changed under pool_lock */
static int atfork_installed;      /* guarded by pool_lock */

static void wait_for_job(unsigned long seen)
{
    if (spin_while_equal(&job_number, seen)) {
        return;
    }
    pthread_mutex_lock(&pool_lock);
    atomic_fetch_add(&sleeping_workers, 1);
    while (atomic_load(&job_number) == seen) {
        pthread_cond_wait(&job_posted, &pool_lock);
    }
    atomic_fetch_sub(&sleeping_workers, 1);
    pthread_mutex_unlock(&pool_lock);
}

static void leave_job(void)
{
    if (atomic_fetch_sub(&workers_inside, 1) == 1 && atomic_load(&caller_sleeping)) {
        pthread_mutex_lock(&pool_lock);
        pthread_cond_broadcast(&pool_idle);
        pthread_mutex_unlock(&pool_lock);
    }
}

static void *worker_main(void *arg)
{
    unsigned long seen = 0;
    (void)arg;
    for (;;) {
        const unsigned long number = atomic_load(&job_number);
        if (number == seen) {
            wait_for_job(seen);
            continue;
        }
        seen = number;
        atomic_fetch_add(&workers_inside, 1);
        job *j = atomic_load(&current_job);
        if (j != NULL) {
            const int slot = atomic_fetch_add(&j->next_slot, 1);
            if (slot < j->max_slots) {   /* else enough threads on it */
                /* Compute as the caller would: a worker started under
                 * other modes (rounding, flush to zero) must not change
                 * the rows it computes. */
                fesetenv(&j->env);
                feclearexcept(FE_ALL_EXCEPT);
                run_units(j, slot);
                atomic_fetch_or(&j->fp_flags, fetestexcept(FE_ALL_EXCEPT));
            }
        }
        leave_job();
    }
    return NULL;
}

/* The caller's end of a job: no worker may still hold it. */
static void wait_for_workers(void)
{
    for (unsigned long inside; (inside = atomic_load(&workers_inside)) > 0;) {
        if (!spin_while_equal(&workers_inside, inside)) {
            break;
        }
    }
    if (atomic_load(&workers_inside) == 0) {
        return;
    }
    pthread_mutex_lock(&pool_lock);
    atomic_store(&caller_sleeping, 1);
    while (atomic_load(&workers_inside) > 0) {
        pthread_cond_wait(&pool_idle, &pool_lock);
    }
    atomic_store(&caller_sleeping, 0);
    pthread_mutex_unlock(&pool_lock);
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
    atomic_store(&current_job, NULL);
    atomic_store(&workers_inside, 0);
    atomic_store(&sleeping_workers, 0);
    atomic_store(&caller_sleeping, 0);
    atomic_store(&workers_started, 0);
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

/* When the last small call found no pool thread awake. */
static atomic_llong last_alone_ns;

/* How many of the first `wanted` pool threads are awake (watching for
 * work).  With none, when the last such call came within GM_SPIN_NS,
 * starts or wakes them for the calls that follow (an empty job number
 * lets them watch again for GM_SPIN_NS): waking costs the caller 5-10 us
 * here, which calls far apart would pay every time. */
static int awake_workers(int wanted)
{
    const int awake = atomic_load(&workers_started) - atomic_load(&sleeping_workers);
    if (awake > 0) {
        return awake < wanted ? awake : wanted;
    }
    const long long now = monotonic_ns();
    const long long last = atomic_exchange(&last_alone_ns, now);
    if (now - last > GM_SPIN_NS) {
        return 0;
    }
    pthread_mutex_lock(&pool_lock);
    grow_pool(wanted);
    atomic_fetch_add(&job_number, 1);   /* current_job is NULL: no work */
    pthread_cond_broadcast(&job_posted);
    pthread_mutex_unlock(&pool_lock);
    return 0;
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
    fegetenv(&j.env);
    pthread_mutex_lock(&pool_lock);
    grow_pool(threads - 1);
    pthread_mutex_unlock(&pool_lock);

    atomic_store(&current_job, &j);
    atomic_fetch_add(&job_number, 1);
    if (atomic_load(&sleeping_workers) > 0) {
        pthread_mutex_lock(&pool_lock);
        pthread_cond_broadcast(&job_posted);
        pthread_mutex_unlock(&pool_lock);
    }

    waited_in_units_ns = 0;
    const long long start = monotonic_ns();
    run_units(&j, 0);
    const long long done = monotonic_ns();

    /* Close the job; wait only for workers still inside it (running a
     * unit), never for those that have not arrived. */
    atomic_store(&current_job, NULL);
    wait_for_workers();
    note_job(start, done, monotonic_ns());
    return atomic_load(&j.fp_flags);
}

void gm_wait_for_count(const atomic_ptrdiff_t *count, ptrdiff_t target)
{
    if (atomic_load_explicit(count, memory_order_acquire) >= target) {
        return;
    }
    const long long start = monotonic_ns();
    while (atomic_load_explicit(count, memory_order_acquire) < target) {
        sched_yield();
    }
    waited_in_units_ns += monotonic_ns() - start;
}

#else  /* no threads in this build */

void gm_wait_for_count(const atomic_ptrdiff_t *count, ptrdiff_t target)
{
    (void)count;
    (void)target;   /* one thread: whatever it waits for, it has done */
}

static int pool_held_up(void)
{
    return 0;
}

static int awake_workers(int wanted)
{
    (void)wanted;
    return 0;
}

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
