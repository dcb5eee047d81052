/*
 * Threading: a small pool of POSIX threads that share out numbered units of
 * work, or one thread where the build has no threads.
 *
 * The caller always works too, and units are claimed one at a time, so a
 * pool thread that starts late (the machine is busy) finds nothing left
 * and the call never waits for it.  One that loses its core while it
 * holds a unit does make the caller wait; calls then run on one thread
 * for a while (see threads.c), so that a busy machine costs at most the
 * speed of one thread.  Which thread runs a unit changes nothing in the
 * results.
 *
 * gm_threads_begin decides how many threads one call may use and
 * gm_threads_end closes the call.  Calls that overlap in time (several
 * caller threads) run single-threaded, so the machine is not
 * oversubscribed.  A forked child starts a new pool when it needs one.
 */
#ifndef GM_THREADS_H
#define GM_THREADS_H

#include <stdatomic.h>
#include <stddef.h>

#define GM_MAX_THREADS 256

/* `flops`: the call's multiply-adds, weighted by their cost against
 * those of the blocked path.  With `use_awake`, a call too small to wake
 * a sleeping pool thread may still use threads awake from an earlier
 * call. */
int gm_threads_begin(double flops, int use_awake);
void gm_threads_end(void);

/* Runs fn(ctx, unit, slot) for every unit in [0, units) on at most
 * `threads` threads; slot (0 for the caller, below `threads`) names the
 * thread's working memory.  Returns the floating-point exception flags
 * raised on pool threads (the caller's own stay in its status word). */
typedef void (*gm_unit_fn)(void *ctx, ptrdiff_t unit, int slot);
int gm_parallel_for(int threads, ptrdiff_t units, gm_unit_fn fn, void *ctx);

/* Waits (letting other threads run) until *count reaches target: units
 * in progress on other threads.  The caller's waits count as time held
 * up by the pool (see threads.c). */
void gm_wait_for_count(const atomic_ptrdiff_t *count, ptrdiff_t target);

#endif /* GM_THREADS_H */
