"""Reliability under concurrency: many Python threads at once with the
thread count changing under them, bitwise-identical results for every
thread count on every instruction set, no oversubscription, and child
processes (fork, spawn, forkserver, os.fork) that compute instead of
hanging after the parent used threads.

Every wait has a time limit: a deadlock or a hung child fails the test.
"""
import hashlib
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import gufunc_matmul
from _reliability_util import (THREADED, UNDER_SANITIZER, assert_bitwise_equal,
                               available_isas, run_python)

matmul = gufunc_matmul.matmul
CHILD_TIMEOUT = 300 if UNDER_SANITIZER else 90


@pytest.fixture
def restore_threads():
    yield
    gufunc_matmul.set_num_threads(0)


def _values(rng, dtype, shape):
    """Small integers in any dtype: every product is exact, so results can
    be compared with numpy bit for bit."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "O":
        return rng.integers(-3, 4, shape).astype(object)
    x = rng.integers(-3, 4, shape)
    if dtype.kind == "u":
        x = np.abs(x)
    if dtype.kind == "c":
        return (x + 1j * rng.integers(-3, 4, shape)).astype(dtype)
    return x.astype(dtype)


def _jobs(seed=3):
    """(name, ufunc, a, b): every path (direct, vector, blocked, stacked,
    float16 through a float32 copy, bool bit sets, complex conjugation,
    object), with blocked sizes around 300."""
    rng = np.random.default_rng(seed)
    v = lambda d, s: _values(rng, d, s)  # noqa: E731
    return [
        ("f8 blocked 300", matmul, v("d", (300, 300)), v("d", (300, 300))),
        ("f4 stack", matmul, v("f", (4, 120, 130)), v("f", (130, 110))),
        ("f2 blocked", matmul, v("e", (200, 150)), v("e", (150, 180))),
        ("i8 blocked", matmul, v("q", (250, 64)), v("q", (64, 300))),
        ("i1 blocked 300", matmul, v("b", (300, 300)), v("b", (300, 300))),
        ("u2 stack", matmul, v("H", (3, 90, 100)), v("H", (3, 100, 80))),
        ("c16 blocked", matmul, v("D", (100, 120)), v("D", (120, 90))),
        ("c8 vecdot conj", gufunc_matmul.vecdot, v("F", (60, 500)), v("F", (500,))),
        ("bool", matmul, v("?", (200, 300)), v("?", (300, 200))),
        ("f8 matvec", matmul, v("d", (2000, 300)), v("d", (300,))),
        ("f8 vecmat", gufunc_matmul.vecmat, v("d", (300,)), v("d", (300, 900))),
        ("f8 matvec ufunc", gufunc_matmul.matvec, v("d", (700, 400)), v("d", (400,))),
        ("f8 tiny", matmul, v("d", (3, 4)), v("d", (4, 5))),
        ("i4 tiny stack", matmul, v("i", (500, 3, 4)), v("i", (500, 4, 2))),
        ("g small", matmul, v("g", (20, 30)), v("g", (30, 10))),
        ("object", matmul, v("O", (8, 9)), v("O", (9, 7))),
    ]


# NumPy's functions, where this NumPy has them (matvec and vecmat: 2.2).
_NUMPY_FUNCS = {name: getattr(np, name)
                for name in ("matmul", "vecdot", "vecmat", "matvec") if hasattr(np, name)}


def _expected(jobs):
    """Single-threaded results, checked against numpy (exactly: the values
    are small integers)."""
    gufunc_matmul.set_num_threads(1)
    try:
        results = []
        for name, func, a, b in jobs:
            r = func(a, b)
            if func.__name__ in _NUMPY_FUNCS:
                np.testing.assert_array_equal(r, _NUMPY_FUNCS[func.__name__](a, b),
                                              err_msg=name, strict=True)
            results.append(r)
        return results
    finally:
        gufunc_matmul.set_num_threads(0)


def _same_bits(x, y):
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.dtype.kind == "O" or x.dtype.char in "gG":
        return bool(np.array_equal(x, y))
    return bool(np.array_equal(np.ascontiguousarray(x).view(np.uint8),
                               np.ascontiguousarray(y).view(np.uint8)))


def _join_all(threads, timeout):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"deadlock: threads {hung} still running after {timeout} s"


def test_many_python_threads_while_thread_count_changes(restore_threads):
    """8 Python threads x 20 calls of mixed dtypes, sizes and ufuncs, while
    the main thread keeps switching set_num_threads among 1, 2, 3 and 0:
    every result has the bits of the single-threaded one."""
    jobs = _jobs()
    expected = _expected(jobs)
    n_threads, calls = 8, 20
    failures, errors = [], []
    barrier = threading.Barrier(n_threads + 1)

    def work(index):
        try:
            barrier.wait(timeout=60)
            for call in range(calls):
                j = (index * 7 + call) % len(jobs)
                name, func, a, b = jobs[j]
                r = func(a, b)
                if not _same_bits(r, expected[j]):
                    failures.append((index, call, name))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((index, repr(exc)))

    threads = [threading.Thread(target=work, args=(i,), daemon=True,
                                name=f"worker-{i}") for i in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    settings = [1, 2, 0, 3, 2, 1, 0]
    switches = 0
    while any(t.is_alive() for t in threads) and switches < 100_000:
        gufunc_matmul.set_num_threads(settings[switches % len(settings)])
        switches += 1
        time.sleep(0.0005)
    _join_all(threads, 120)
    assert not errors, errors
    assert not failures, failures
    assert switches > 0


_COUNT_THREADS_CHILD = """
    import os, sys, threading, time
    import numpy as np
    import gufunc_matmul

    def os_threads():
        return len(os.listdir("/proc/self/task"))

    gufunc_matmul.set_num_threads(4)
    size = int(sys.argv[1]) if len(sys.argv) > 1 else {size}
    big = np.ones((size, size))
    small_a = np.arange(200 * 200, dtype=float).reshape(200, 200) % 7
    small_b = small_a.T.copy()
    expected = np.matmul(small_a, small_b)
    base = os_threads()
    long_done = threading.Event()

    def long_call():
        gufunc_matmul.matmul(big, big)
        long_done.set()

    threading.Thread(target=long_call, daemon=True).start()
    # The long call has its team when its 3 helper threads exist.
    deadline = time.monotonic() + 60
    while os_threads() < base + 4 and not long_done.is_set():
        if time.monotonic() > deadline:
            sys.exit("the long call never started its threads")
        time.sleep(0.0005)
    if long_done.is_set():
        print("INCONCLUSIVE")
        sys.exit(0)

    workers, bad = 6, []
    finished = threading.Barrier(workers + 1)
    def work():
        for _ in range(3):
            if not np.array_equal(gufunc_matmul.matmul(small_a, small_b), expected):
                bad.append(1)
        finished.wait(timeout=60)   # stay alive: a team would live as long
    pool = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    peak = 0
    for t in pool:
        t.start()
    while finished.n_waiting < workers:
        peak = max(peak, os_threads())
        time.sleep(0.0002)
    peak = max(peak, os_threads())
    conclusive = not long_done.is_set()
    finished.wait(timeout=60)
    print("CONCLUSIVE" if conclusive else "INCONCLUSIVE", base, peak, len(bad))
"""


@pytest.mark.skipif(not THREADED or not sys.platform.startswith("linux"),
                    reason="a build without threads never starts any; /proc is Linux's")
def test_no_oversubscription_while_another_call_runs():
    """While one call runs on 4 threads (the caller and 3 helpers), 6 more
    Python threads each make products big enough to be threaded: they must
    run on their own thread only, so the process never holds more than
    base + 1 + 3 + 6 threads (a runtime that gave each calling thread a
    team of its own would exceed it; the shared pool must not grow past
    the request)."""
    for size in (1200, 2000):
        proc = run_python(_COUNT_THREADS_CHILD.format(size=size),
                          timeout=CHILD_TIMEOUT)
        words = proc.stdout.split()
        if words and words[0] == "CONCLUSIVE":
            base, peak, bad = map(int, words[1:])
            assert bad == 0, "wrong results from concurrent calls"
            assert peak <= base + 1 + 3 + 6, (
                f"{peak} OS threads; at most {base + 10} expected: concurrent "
                "calls started thread teams of their own")
            return
    pytest.skip("the long call finished before the others: inconclusive")


# Each large enough (> 4e6 multiply-adds: threads start at 1e6 per thread)
# to use 4 threads, one per way of splitting work: row blocks of one
# blocked product, whole matrices of a stack, a stack of tiny products,
# rows and columns of matrix-vector products, and the conjugating vector
# path.  Row counts are not multiples of 3 or of the kernels' row groups,
# so that thread slices end inside a group.
_SPLIT_CASES = [
    ("blocked", matmul, (200, 150), (150, 210)),
    ("stack", matmul, (8, 90, 100), (100, 90)),
    ("tiny stack", matmul, (65537, 4, 5), (5, 4)),
    ("matvec", matmul, (4001, 1200), (1200,)),
    ("vecmat", gufunc_matmul.vecmat, (1200,), (1200, 4001)),
    ("vecdot stack", gufunc_matmul.vecdot, (6001, 800), (6001, 800)),
]
_SPLIT_DTYPES = "?bhqefdgFD"


def _random_values(rng, dtype, shape):
    """Values whose sums depend on the summation order (floats), or wrap
    (integers): a change of order between thread counts would show."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return _values(rng, dtype, shape) if dtype.kind == "b" else \
            rng.integers(-100, 100, shape).astype(dtype)
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


@pytest.mark.parametrize("isa", available_isas())
def test_bitwise_identical_for_any_thread_count(isa, restore_threads):
    """Thread counts 1, 2, 3, 4 give the same bits, for every dtype family
    and every way of splitting, on each instruction set this CPU runs."""
    rng = np.random.default_rng(11)
    before = gufunc_matmul._core._isa()
    cases = 0
    try:
        gufunc_matmul._core._select_isa(isa)
        for name, func, sa, sb in _SPLIT_CASES:
            for char in _SPLIT_DTYPES:
                if char == "g" and name != "blocked":
                    continue   # long double is generic C everywhere: one is enough
                a = _random_values(rng, char, sa)
                b = _random_values(rng, char, sb)
                results = []
                for n in (1, 2, 3, 4):
                    gufunc_matmul.set_num_threads(n)
                    with np.errstate(all="ignore"):
                        results.append(func(a, b))
                    cases += 1
                for n, r in zip((2, 3, 4), results[1:]):
                    assert_bitwise_equal(r, results[0],
                                         f"{isa} {name} {char}: 1 vs {n} threads")
    finally:
        gufunc_matmul._core._select_isa(before)
    assert cases > 0


_SPIN_CHILD = """
import time
end = time.monotonic() + {seconds}
while time.monotonic() < end:
    pass
"""


@pytest.mark.skipif(not THREADED, reason="a build without threads has no pool")
@pytest.mark.parametrize("threads", [2, 4])
def test_same_bits_while_other_processes_keep_every_core_busy(threads,
                                                              restore_threads):
    """Busy processes on every core take the CPU from pool threads in the
    middle of their units: the caller waits for them, and calls fall back
    to one thread for a while.  Every split still gives the bits of one
    thread, and every call returns."""
    rng = np.random.default_rng(5)
    cases = []
    for name, func, sa, sb in _SPLIT_CASES:
        for char in "dD":
            cases.append((f"{name} {char}", func, _random_values(rng, char, sa),
                          _random_values(rng, char, sb)))
    gufunc_matmul.set_num_threads(1)
    expected = [func(a, b) for _, func, a, b in cases]
    spinners = [subprocess.Popen([sys.executable, "-c",
                                  _SPIN_CHILD.format(seconds=CHILD_TIMEOUT)])
                for _ in range(os.cpu_count() or 2)]
    try:
        gufunc_matmul.set_num_threads(threads)
        for _ in range(8):
            for (name, func, a, b), want in zip(cases, expected):
                assert_bitwise_equal(func(a, b), want,
                                     f"{name}: {threads} threads, cores busy")
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait(CHILD_TIMEOUT)


# ------------------------------------------------------------ processes


def _child_product(seed, threads):
    """In a child process: a product big enough to be threaded."""
    gufunc_matmul.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((300, 260))
    b = rng.standard_normal((260, 280))
    r = matmul(a, b)
    return hashlib.sha256(r.tobytes()).hexdigest(), gufunc_matmul.get_num_threads()


def _use_threads_in_parent():
    """Threaded products in the main thread and in another Python thread,
    so that thread pools exist when the children start."""
    gufunc_matmul.set_num_threads(2)
    a = np.ones((400, 400))
    matmul(a, a)
    t = threading.Thread(target=matmul, args=(a, a))
    t.start()
    t.join(60)
    gufunc_matmul.set_num_threads(0)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_children_after_threads(method, restore_threads):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    _use_threads_in_parent()
    expected = {}
    for seed in range(4):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((300, 260))
        b = rng.standard_normal((260, 280))
        gufunc_matmul.set_num_threads(1)
        expected[seed] = hashlib.sha256(matmul(a, b).tobytes()).hexdigest()
    gufunc_matmul.set_num_threads(0)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        pending = [(seed, pool.apply_async(_child_product, (seed, 2)))
                   for seed in range(4)]
        for seed, job in pending:
            try:
                digest, threads = job.get(timeout=CHILD_TIMEOUT)
            except multiprocessing.TimeoutError:
                pytest.fail(f"{method} child hung computing a product")
            assert digest == expected[seed], f"{method} child: other bits"
            # A forked child may run on one thread (a thread pool does not
            # survive fork) or restart its pool; either way it computes.
            assert threads in ((1, 2) if method == "fork" and THREADED else
                               (2,) if THREADED else (1,))


_OS_FORK_CHILD = """
    import os, sys, threading, time
    import numpy as np
    import gufunc_matmul

    def wait_all(pids, timeout):
        deadline = time.monotonic() + timeout
        statuses = {{}}
        while pids - statuses.keys():
            for pid in pids - statuses.keys():
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    statuses[pid] = os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                for pid in pids - statuses.keys():
                    os.kill(pid, 9)
                sys.exit(f"forked children hung: {{sorted(pids - statuses.keys())}}")
            time.sleep(0.01)
        return statuses

    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 250))
    b = rng.standard_normal((250, 270))
    gufunc_matmul.set_num_threads(1)
    expected = gufunc_matmul.matmul(a, b)

    def child_work(grandchild):
        gufunc_matmul.set_num_threads(4)
        ok = gufunc_matmul.get_num_threads() in {child_threads}
        for _ in range(3):
            ok = ok and np.array_equal(gufunc_matmul.matmul(a, b), expected)
        if grandchild:
            pid = os.fork()
            if pid == 0:
                ok2 = np.array_equal(gufunc_matmul.matmul(a, b), expected)
                os._exit(0 if ok2 else 3)
            ok = ok and wait_all({{pid}}, 60)[pid] == 0
        return ok

    if {use_threads}:
        gufunc_matmul.set_num_threads(4)
        gufunc_matmul.matmul(a, b)          # the pool now has threads
    stop = threading.Event()
    def busy():
        while not stop.is_set():
            gufunc_matmul.matmul(a, b)      # threaded, or not when overlapping
    busy_thread = None
    if {fork_during_call}:
        busy_thread = threading.Thread(target=busy, daemon=True)
        busy_thread.start()
        time.sleep(0.05)
    pids = set()
    for i in range(4):
        pid = os.fork()
        if pid == 0:
            try:
                ok = child_work(grandchild=i == 0)
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        pids.add(pid)
    statuses = wait_all(pids, {timeout})
    stop.set()
    if busy_thread is not None:
        busy_thread.join(60)
    assert all(s == 0 for s in statuses.values()), statuses
    assert np.array_equal(gufunc_matmul.matmul(a, b), expected)
    print("ok", len(statuses))
"""


@pytest.mark.parametrize("scenario", ["after-threads", "during-threaded-call",
                                      "no-threads-before"])
def test_os_fork_children(scenario):
    """os.fork() directly (and a grandchild): after the parent used threads
    the children compute and finish (a thread pool does not survive fork:
    the child must start its own); forked while another thread is inside a threaded
    product, they finish too; forked from a parent that never used
    threads, they may use threads."""
    use_threads = scenario != "no-threads-before"
    # After the parent used threads a child may run on one thread or
    # restart a pool; one that never saw threads must get what it asks.
    if not THREADED:
        child_threads = (1,)
    elif scenario == "no-threads-before":
        child_threads = (4,)
    else:
        child_threads = (1, 4)
    code = _OS_FORK_CHILD.format(use_threads=use_threads,
                                 fork_during_call=scenario == "during-threaded-call",
                                 child_threads=child_threads,
                                 timeout=CHILD_TIMEOUT // 2)
    proc = run_python(code, timeout=CHILD_TIMEOUT)
    assert proc.stdout.split() == ["ok", "4"], proc.stdout


def test_spawned_interpreters_with_thread_env_give_the_same_bits():
    """Fresh interpreters with GUFUNC_MATMUL_NUM_THREADS = 1 and 3 give the
    bits this process gives on one thread."""
    code = """
        import hashlib
        import numpy as np
        import gufunc_matmul
        rng = np.random.default_rng(5)
        a = rng.standard_normal((4, 150, 170)).astype(np.float32)
        b = rng.standard_normal((170, 160)).astype(np.float32)
        r = gufunc_matmul.matmul(a, b)
        print(gufunc_matmul.get_num_threads(), hashlib.sha256(r.tobytes()).hexdigest())
    """
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 150, 170)).astype(np.float32)
    b = rng.standard_normal((170, 160)).astype(np.float32)
    gufunc_matmul.set_num_threads(1)
    try:
        digest = hashlib.sha256(matmul(a, b).tobytes()).hexdigest()
    finally:
        gufunc_matmul.set_num_threads(0)
    for n in ("1", "3"):
        proc = run_python(code, timeout=CHILD_TIMEOUT,
                          env={"GUFUNC_MATMUL_NUM_THREADS": n})
        threads, child_digest = proc.stdout.split()
        assert int(threads) == (int(n) if THREADED else 1)
        assert child_digest == digest, f"GUFUNC_MATMUL_NUM_THREADS={n}: other bits"
