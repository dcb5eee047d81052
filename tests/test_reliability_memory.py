"""Reliability of sizes and memory: allocation failure under a lowered
address-space limit (in a child process), shapes whose element or byte
counts overflow 32 or 64 bits, enormous depths over zero-stride
(broadcast) operands, and working memory that must not grow with them.

The result is always either correct or NumPy's error, never a crash, and
the process stays usable afterwards.
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import gufunc_matmul
from _reliability_util import (THREADED, UNDER_SANITIZER, assert_same_outcome,
                               available_isas, healthy, run_python)

matmul = gufunc_matmul.matmul
bt = np.broadcast_to

needs_rlimit = pytest.mark.skipif(
    UNDER_SANITIZER or not sys.platform.startswith("linux"),
    reason="RLIMIT_AS and /proc are Linux-only; AddressSanitizer reserves "
           "terabytes of address space")

# Shared by the child scripts: the address space in use now, and a soft
# RLIMIT_AS that leaves `extra` bytes above it.
_LIMIT_HELPERS = """
    import resource, sys
    import numpy as np
    import gufunc_matmul

    def address_space():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmSize")

    def limit_to(extra):
        resource.setrlimit(resource.RLIMIT_AS,
                           (address_space() + extra, resource.RLIM_INFINITY))

    def unlimit():
        resource.setrlimit(resource.RLIMIT_AS,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def outcome(func, *args):
        try:
            return ("ok", func(*args))
        except MemoryError as exc:
            return ("MemoryError", str(exc))
"""


@needs_rlimit
def test_output_allocation_failure_raises_memory_error():
    """Under a 64 MiB headroom, products whose result cannot be allocated
    raise numpy's MemoryError (same message), and the process then still
    computes products, small and large, in the same limit and after it."""
    proc = run_python(_LIMIT_HELPERS + """
    gufunc_matmul.set_num_threads(1)
    one = np.ones((1, 1))
    cases = [
        (np.broadcast_to(one, (20000, 1)), np.broadcast_to(one, (1, 20000))),
        (np.broadcast_to(one, (100, 3000, 1)), np.broadcast_to(one, (1, 3000))),
        (np.broadcast_to(np.ones((1, 1), np.float16), (9000, 1)),
         np.broadcast_to(np.ones((1, 1), np.float16), (1, 9000))),
        (np.ones((4000, 1), dtype=object), np.ones((1, 4000), dtype=object)),
    ]
    ok = np.arange(12.0).reshape(3, 4)
    medium = np.ones((1000, 1000))
    limit_to(64 << 20)
    count = 0
    for a, b in cases:
        theirs = outcome(np.matmul, a, b)
        ours = outcome(gufunc_matmul.matmul, a, b)
        assert theirs[0] == "MemoryError", theirs
        assert ours == theirs, (ours, theirs)
        assert (gufunc_matmul.matmul(ok, ok.T) == np.matmul(ok, ok.T)).all()
        count += 1
    # 8 MB result and a blocked product: fits in the limit.
    assert (gufunc_matmul.matmul(medium, medium) == 1000.0).all()
    unlimit()
    assert (gufunc_matmul.matmul(medium, medium) == 1000.0).all()
    print("ok", count)
    """)
    assert proc.stdout.split() == ["ok", "4"]


# (name, ufunc name, dtype char, shape a, shape b): products whose working
# memory is larger than the headroom left to them: the float16 float32
# copy of C, the packing workspace, bool bit sets, the conjugated copy of
# vecdot's rows.  The header promises the product is then computed
# without it.
_BUFFER_CASES = [
    ("float16 blocked (float32 copy of C)", "matmul", "e", (1000, 64), (64, 1000)),
    ("float64 blocked (packing)", "matmul", "d", (600, 600), (600, 600)),
    ("int16 blocked (packing)", "matmul", "h", (500, 300), (300, 500)),
    ("complex128 blocked (packing)", "matmul", "D", (300, 200), (200, 300)),
    ("bool bit sets", "matmul", "?", (1500, 4096), (4096, 1500)),
    ("complex128 vecdot (conjugated rows)", "vecdot", "D", (200, 2000), (200, 2000)),
    ("complex64 vecmat (conjugated rows)", "vecmat", "F", (64, 3000), (3000, 40)),
]


# Every allocation past 64 KiB gets its own mapping, returned on free, so
# that freed memory kept by malloc cannot hide the limit.
_STRICT_MALLOC = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536:"
                                    "glibc.malloc.trim_threshold=0:"
                                    "glibc.malloc.top_pad=0"}


@needs_rlimit
@pytest.mark.parametrize("isa", available_isas())
def test_working_memory_unavailable_still_gives_the_result(isa):
    """With room for the result but not for the working memory (at most
    64 KiB over the result, against buffers of 256 KiB to several MiB), the
    product is still exact: the kernels fall back to the direct path.
    (numpy.matmul itself is not run under the limit: OpenBLAS exits the
    process when its buffers cannot be had.)"""
    proc = run_python(_LIMIT_HELPERS + f"""
    gufunc_matmul.set_num_threads(1)
    cases = {_BUFFER_CASES!r}
    rng = np.random.default_rng(0)
    computed = memory_errors = 0
    for name, func, char, sa, sb in cases:
        a = rng.integers(-2, 3, sa).astype(char)
        b = rng.integers(-2, 3, sb).astype(char)
        expected = getattr(np, func)(a, b)
        for headroom in (16 << 10, 64 << 10):
            limit_to(expected.nbytes + headroom)
            ours = outcome(getattr(gufunc_matmul, func), a, b)
            unlimit()
            if ours[0] == "ok":
                assert ours[1].dtype == expected.dtype, name
                assert np.array_equal(ours[1], expected), (name, headroom)
                computed += 1
            else:
                memory_errors += 1
            del ours
        limit_to(1 << 20)
        assert (gufunc_matmul.matmul(a[:3, :3], b[:3, :3]) ==
                np.matmul(a[:3, :3], b[:3, :3])).all()
        unlimit()
    print("computed", computed, "memory_errors", memory_errors)
    """, env=dict(_STRICT_MALLOC, GUFUNC_MATMUL_ISA=isa))
    words = proc.stdout.split()
    assert words[0] == "computed", proc.stdout
    # MemoryError (from the output's allocation) is allowed, wrong results
    # are not; most cases must have been computed for the test to mean much.
    assert int(words[1]) >= len(_BUFFER_CASES), proc.stdout


@needs_rlimit
@pytest.mark.skipif(not THREADED, reason="a build without threads starts none")
def test_thread_start_failure_does_not_kill_the_process():
    """When the OS refuses a new thread (here a lowered RLIMIT_AS leaves no
    room for thread stacks) the product is computed (on fewer threads) or
    MemoryError is raised, and the process stays usable (some thread
    runtimes exit the process when a thread cannot be created)."""
    proc = run_python(_LIMIT_HELPERS + """
    gufunc_matmul.set_num_threads(4)
    a = np.ones((300, 300))
    limit_to(4 << 20)          # no room for three 8 MiB thread stacks
    try:
        r = gufunc_matmul.matmul(a, a)
        assert (r == 300.0).all()
    except MemoryError:
        pass
    assert (gufunc_matmul.matmul(a[:5, :5], a[:5, :5]) == 5.0).all()
    print("survived")
    """, expect_rc=None)
    assert proc.returncode == 0 and "survived" in proc.stdout, (
        f"the process died (exit {proc.returncode}) when "
        f"threads could not be started: {proc.stderr.strip()[-300:]}")


# ------------------------------------------------- shapes that overflow

def _huge_shape_cases():
    one = np.ones(1)
    oneb = np.ones(1, bool)
    return {
        # elements of the result overflow 64 bits
        "m*n = 2**64": (bt(one, (2**32, 1)), bt(one, (1, 2**32))),
        "m*n = 2**64 bool": (bt(oneb, (2**32, 1)), bt(oneb, (1, 2**32))),
        # bytes of the result overflow 64 bits, elements do not
        "bytes 2**65": (bt(one, (2**31, 1)), bt(one, (1, 2**31))),
        "bytes 2**63": (bt(one, (2**30, 2)), bt(one, (2, 2**30))),
        # fits in 64 bits, cannot be allocated
        "elements 2**60 bool": (bt(oneb, (2**30, 1)), bt(oneb, (1, 2**30))),
        "elements 2**40": (bt(one, (2**20, 1)), bt(one, (1, 2**20))),
        # overflow through the broadcast stack
        "stack 2**70": (bt(one, (2**40, 1, 1, 1)), bt(one, (2**30, 1, 1))),
        "stack 2**63": (bt(one, (2**32, 1, 1, 1)), bt(one, (2**31, 1, 1))),
        "stack 2**64 with k": (bt(one, (2**32, 1, 1, 5)), bt(one, (2**32, 5, 1))),
        "stack and matrix": (bt(one, (2**21, 1, 2**21, 1)), bt(one, (2**21, 1, 2**21))),
        # k differs (sizes past 32 bits in the message)
        "k mismatch": (bt(one, (1, 2**40)), bt(one, (2**40 + 1, 1))),
        "k mismatch 2**32": (bt(one, (3, 2**32)), bt(one, (2**32 - 1, 3))),
        # vector operands
        "vector @ matrix, k mismatch": (bt(one, (2**31,)), bt(one, (2**30, 2**29))),
        "matrix @ vector, k mismatch": (bt(one, (2**29, 2**30)), bt(one, (2**31,))),
    }


@pytest.mark.parametrize("name", list(_huge_shape_cases()))
def test_overflowing_shapes_give_numpys_error(name):
    a, b = _huge_shape_cases()[name]
    result = assert_same_outcome(matmul, np.matmul, a, b)
    assert result[0] == "raise"
    assert issubclass(result[1], (ValueError, MemoryError))
    healthy()


@pytest.mark.parametrize("func", ["vecdot", "matvec", "vecmat"])
def test_overflowing_shapes_of_the_vector_functions(func):
    one = np.ones(1, complex)
    a, b = {"vecdot": ((2**32, 1, 3), (2**32, 3)),        # result 2**64
            "matvec": ((2**32, 1, 2, 3), (2**32, 3)),     # result 2**65
            "vecmat": ((2**32, 1, 3), (2**32, 3, 2))}[func]
    a, b = bt(one, a), bt(one, b)
    result = assert_same_outcome(getattr(gufunc_matmul, func), getattr(np, func), a, b)
    assert result[0] == "raise"
    healthy()


# ---------------------------------- enormous depth over zero strides

# (dtype, a value, b value, expected sum for depth k): exact analytically.
def _exact(dtype, x, y, k):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return bool(x and y)
    if dtype.kind in "iu":   # wraps modulo 2**bits, then read as the type
        wrapped = (int(x) * int(y) * k) % 2 ** (8 * dtype.itemsize)
        return np.array(wrapped, dtype=np.uint64).astype(dtype)
    if dtype == np.float16:
        with np.errstate(over="ignore"):   # the float32 sum saturates at 2**24
            return np.float16(np.float32(min(x * y * k, 2.0**24)))
    return np.asarray(x * y * k, dtype=dtype)


_DEPTH_CASES = [("d", 1.0, 1.0), ("f", 1.0, 1.0), ("q", 3, 5), ("b", 1, 1),
                ("H", 7, 9), ("e", 1.0, 1.0), ("D", 1 + 2j, 3 - 1j),
                ("?", True, True), ("?", True, False), ("g", 1.0, 2.0)]


@pytest.mark.parametrize("dtype,x,y", _DEPTH_CASES)
def test_large_depth_over_zero_strides_is_exact(dtype, x, y):
    """k = 2**22 + 3 over broadcast operands (no memory behind them): the
    exact value for matmul, and for stacks of them.  (float32 stays below
    2**24 so that any summation order is exact.)"""
    k = 2**22 + 3
    a = bt(np.array([x], dtype), (1, k))
    b = bt(np.array([y], dtype), (k, 1))
    expected = _exact(dtype, x, y, k)
    with np.errstate(all="ignore"):
        r = matmul(a, b)
        np.testing.assert_array_equal(r, np.full((1, 1), expected, r.dtype))
        np.testing.assert_array_equal(r, np.matmul(a, b), strict=True)
        # several rows and columns of the same zero-stride data: every path
        a3 = bt(np.array([x], dtype), (2, 3, k // 64))
        b3 = bt(np.array([y], dtype), (k // 64, 4))
        np.testing.assert_array_equal(matmul(a3, b3), np.matmul(a3, b3), strict=True)


def test_vector_functions_over_zero_strides():
    k = 2**21 + 1
    x = bt(np.array([1 + 2j]), (k,))
    y = bt(np.array([3 - 1j]), (k,))
    assert gufunc_matmul.vecdot(x, y) == k * (1 - 7j)          # conj(x) . y
    m = bt(np.array([[3 - 1j]]), (k, 3))
    np.testing.assert_array_equal(gufunc_matmul.vecmat(x, m), np.full(3, k * (1 - 7j)))
    np.testing.assert_array_equal(gufunc_matmul.matvec(m.T, x), np.full(3, k * (5 + 5j)))
    # a stack of 2**18 products of one broadcast matrix
    a = bt(np.arange(6.0).reshape(2, 3), (2**18, 2, 3))
    b = np.arange(6.0).reshape(3, 2)
    r = matmul(a, b)
    np.testing.assert_array_equal(r, bt(np.matmul(a[0], b), r.shape))


_K32_CHILD = """
    import numpy as np, gufunc_matmul
    k = 2**31 + 3
    for dtype, x, y, expected in [("d", 1.0, 1.0, float(k)), ("b", 1, 1, 3)]:
        a = np.broadcast_to(np.array([x], dtype), (1, k))
        b = np.broadcast_to(np.array([y], dtype), (k, 1))
        r = gufunc_matmul.matmul(a, b)
        assert r.dtype == np.dtype(dtype) and r[0, 0] == expected, (dtype, r)
    print("ok")
"""


@pytest.mark.skipif(UNDER_SANITIZER, reason="2**31 multiply-adds: too slow under ASan")
def test_depth_past_32_bits_over_zero_strides():
    """k = 2**31 + 3 (a depth that overflows a 32-bit int) over broadcast
    operands: float64 gives k exactly, int8 wraps to 3 (in a child: a crash
    or a hang must not take the test run with it)."""
    proc = run_python(_K32_CHILD, timeout=120)
    assert proc.stdout.split() == ["ok"]


_ENDLESS_CASES = {
    "float64 matmul": "gufunc_matmul.matmul(bt(np.ones(1), (1, K)), bt(np.ones(1), (K, 1)))",
    "bool matmul all false": "gufunc_matmul.matmul(bt(np.ones(1, bool), (2, K)), "
                             "bt(np.zeros(1, bool), (K, 2)))",
    "complex vecdot": "gufunc_matmul.vecdot(bt(np.ones(1, complex), (K,)), "
                      "bt(np.ones(1, complex), (K,)))",
    "float16 stack": "gufunc_matmul.matmul(bt(np.ones(1, np.float16), (3, 5, K)), "
                     "bt(np.ones(1, np.float16), (K, 4)))",
}


@pytest.mark.skipif(UNDER_SANITIZER, reason="ASan aborts on huge allocations it is asked for")
def test_depth_2_to_40_starts_computing_without_crashing():
    """k = 2**40 over broadcast operands cannot finish in a test (nor does
    numpy's): started in child processes, each must still be computing
    (not crashed by a size computation or a huge allocation) after 3 s."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    procs = {}
    for name, call in _ENDLESS_CASES.items():
        code = ("import numpy as np, gufunc_matmul\n"
                "bt = np.broadcast_to\nK = 2**40\n"
                "print('started', flush=True)\n" + call)
        procs[name] = subprocess.Popen([sys.executable, "-c", code], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, cwd="/")
    try:
        deadline = time.monotonic() + 3 + (6 if UNDER_SANITIZER else 0)
        # each child needs its import time before the product starts
        for name, p in procs.items():
            assert p.stdout.readline().strip() == "started", p.stderr.read()
        while time.monotonic() < deadline:
            time.sleep(0.1)
        died = {name: (p.returncode, p.stderr.read()[-500:])
                for name, p in procs.items() if p.poll() is not None}
        assert not died, f"children ended early instead of computing: {died}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


# -------------------------------------------- working memory bounds

_RSS_CHILD = """
    import resource
    import numpy as np
    import gufunc_matmul

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10

    np.matmul(np.ones((4, 4)), np.ones((4, 4)))
    gufunc_matmul.set_num_threads(1)
    {setup}
    before = peak_mib()
    r = {call}
    print("ok", peak_mib() - before)
"""


_RSS_CASES = {
    # zero-stride operands hold no memory: working memory must not grow
    # with k (a 256 MiB conjugated copy here)
    "vecdot broadcast complex": (
        "x = np.broadcast_to(np.complex128(1 + 2j), (2**24,))",
        "gufunc_matmul.vecdot(x, x)"),
    # plain contiguous vectors: a second copy of the 256 MiB vector
    "vecdot contiguous complex": (
        "x = np.full(2**24, 1 + 2j)",
        "gufunc_matmul.vecdot(x, x)"),
    "matmul broadcast float64": (
        "a = np.broadcast_to(np.ones(1), (8, 2**22)); b = np.broadcast_to(np.ones(1), (2**22, 8))",
        "gufunc_matmul.matmul(a, b)"),
    "float16 broadcast": (
        "a = np.broadcast_to(np.ones(1, np.float16), (4, 2**21)); "
        "b = np.broadcast_to(np.ones(1, np.float16), (2**21, 4))",
        "gufunc_matmul.matmul(a, b)"),
}


@pytest.mark.skipif(UNDER_SANITIZER or not sys.platform.startswith("linux"),
                    reason="peak RSS is meaningless under ASan")
@pytest.mark.parametrize("name", list(_RSS_CASES))
def test_working_memory_does_not_grow_with_k(name):
    """Zero-stride operands hold no memory and a plain vector is not copied:
    peak memory must not grow with k.  (vecdot/vecmat of complex once made
    a conjugated copy of a row shared by the stack, k * itemsize bytes:
    256 MiB more here.  The header promises working memory bounded by the
    block sizes.)"""
    setup, call = _RSS_CASES[name]
    proc = run_python(_RSS_CHILD.format(setup=setup, call=call), timeout=120)
    words = proc.stdout.split()
    assert words[0] == "ok"
    grew = int(words[1])
    assert grew < 64, f"{name}: peak memory grew by {grew} MiB"
