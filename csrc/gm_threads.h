/*
 * Threading glue: OpenMP when the build has it, a single thread otherwise.
 *
 * gm_threads_begin decides how many threads one call may use (none of the
 * parallel machinery is touched when the answer is 1) and gm_threads_end
 * closes the call.  Calls that overlap in time (several caller threads)
 * run single-threaded so that the machine is not oversubscribed, and so
 * does a process forked from one that used threads, where GNU OpenMP's
 * thread pool is gone.
 */
#ifndef GM_THREADS_H
#define GM_THREADS_H

#define GM_MAX_THREADS 256

int gm_threads_begin(double flops);
void gm_threads_end(void);

/*
 * Floating-point exception flags belong to each thread: a parallel
 * region's threads clear theirs on entry and hand them over on exit, so
 * the caller's thread can report them (NumPy reads the caller's flags).
 */
#include <fenv.h>
#include <stdatomic.h>

static inline void gm_fp_enter(void)
{
    feclearexcept(FE_ALL_EXCEPT);
}

static inline void gm_fp_leave(atomic_int *flags)
{
    if (flags != NULL) {
        atomic_fetch_or(flags, fetestexcept(FE_ALL_EXCEPT));
    }
}

#ifdef _OPENMP
#include <omp.h>
#define GM_PRAGMA_(x) _Pragma(#x)
#define GM_PARALLEL(n) GM_PRAGMA_(omp parallel num_threads(n))
#define GM_THREAD_ID() omp_get_thread_num()
#define GM_TEAM_SIZE() omp_get_num_threads()
#define GM_BARRIER() GM_PRAGMA_(omp barrier)
#else
#define GM_PARALLEL(n)
#define GM_THREAD_ID() 0
#define GM_TEAM_SIZE() 1
#define GM_BARRIER() ((void)0)
#endif

#endif /* GM_THREADS_H */
