/*
 * Threading: a small pool of POSIX threads that share out numbered units of
 * work, or one thread where the build has no threads.
 *
 * The caller always works too, and units are claimed one at a time, so a
 * pool thread that starts late (the machine is busy) finds nothing left
 * and the call never waits for it: the worst case is the speed of one
 * thread, never a stall.  Which thread runs a unit changes nothing in the
 * results.
 *
 * gm_threads_begin decides how many threads one call may use and
 * gm_threads_end closes the call.  Calls that overlap in time (several
 * caller threads) run single-threaded, so the machine is not
 * oversubscribed.  A forked child starts a new pool when it needs one.
 */
#ifndef GM_THREADS_H
#define GM_THREADS_H

#include <stddef.h>

#define GM_MAX_THREADS 256

int gm_threads_begin(double flops);
void gm_threads_end(void);

/* Runs fn(ctx, unit, slot) for every unit in [0, units) on at most
 * `threads` threads; slot (0 for the caller, below `threads`) names the
 * thread's working memory.  Returns the floating-point exception flags
 * raised on pool threads (the caller's own stay in its status word). */
typedef void (*gm_unit_fn)(void *ctx, ptrdiff_t unit, int slot);
int gm_parallel_for(int threads, ptrdiff_t units, gm_unit_fn fn, void *ctx);

/* Lets another thread run while this one waits for a unit in progress. */
void gm_yield(void);

#endif /* GM_THREADS_H */
