"""``python -m gufunc_matmul``: check the installed build against NumPy, then
time it against ``numpy.matmul``.

The self-check is a short differential test (every loop of ``numpy.matmul``,
broadcasting, 1-D operands, strided and overlapping operands, edge cases);
the full test suite lives in ``tests/``.  The timing helpers here are shared
with ``benchmarks/bench_matmul.py``.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from fractions import Fraction
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np


class SelfCheckError(AssertionError):
    """gufunc_matmul.matmul disagreed with numpy.matmul."""


# ---------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------

def _ours(function: str = "matmul"):
    from . import matmul, matvec, vecdot, vecmat

    return {"matmul": matmul, "vecdot": vecdot, "matvec": matvec,
            "vecmat": vecmat}[function]


def _small_values(dtype: np.dtype, shape, rng) -> np.ndarray:
    """Values whose products and sums are exact in every dtype (float16
    included), so that any summation order must give NumPy's result."""
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "u":
        return rng.integers(0, 4, size=shape).astype(dtype)
    if dtype.kind in "if":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    if dtype.kind == "c":
        re = rng.integers(-3, 4, size=shape)
        im = rng.integers(-3, 4, size=shape)
        return (re + 1j * im).astype(dtype)
    if dtype == np.object_:
        # Python ints beyond 64 bits, so nothing could pass through a C type.
        out = np.empty(shape, dtype=object)
        flat = out.reshape(-1)
        for i, v in enumerate(rng.integers(-3, 4, size=flat.size)):
            flat[i] = int(v) * 2**70 + i
        return out
    raise TypeError(f"no test values for {dtype}")


def _full_range_ints(dtype: np.dtype, shape, rng) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray shape={x.shape} dtype={x.dtype}"
    return f"{type(x).__name__} {x!r}"


def _compare(ours, ref, tol=None) -> Optional[str]:
    """None when ``ours`` matches ``ref`` (type, dtype, shape, values), else
    a description of the difference.  ``tol`` is an absolute tolerance array
    (broadcast against the result) for rounding-order differences."""
    if type(ours) is not type(ref):
        return f"type {type(ours).__name__}, numpy gives {type(ref).__name__}"
    ours_a, ref_a = np.asarray(ours), np.asarray(ref)
    if ours_a.dtype != ref_a.dtype:
        return f"dtype {ours_a.dtype}, numpy gives {ref_a.dtype}"
    if ours_a.shape != ref_a.shape:
        return f"shape {ours_a.shape}, numpy gives {ref_a.shape}"
    if ref_a.dtype == object:
        o, r = ours_a.ravel().tolist(), ref_a.ravel().tolist()
        for i, (x, y) in enumerate(zip(o, r)):
            if type(x) is not type(y) or x != y:
                return f"element {i}: {x!r}, numpy gives {y!r}"
        return None
    if tol is None:
        same = (ours_a == ref_a)
        if ref_a.dtype.kind in "fc":
            same |= np.isnan(ours_a) & np.isnan(ref_a)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(ours_a.astype(np.clongdouble) - ref_a.astype(np.clongdouble))
            same = diff <= tol
        same |= (ours_a == ref_a)
        if ref_a.dtype.kind in "fc":
            same |= np.isnan(ours_a) & np.isnan(ref_a)
    if not np.all(same):
        bad = np.argwhere(~np.asarray(same))
        idx = tuple(int(i) for i in bad[0]) if ref_a.ndim else ()
        return (f"{len(bad)} of {ref_a.size} elements differ; first at {idx}: "
                f"{ours_a[idx]!r}, numpy gives {ref_a[idx]!r}")
    return None


def _rounding_tolerance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A bound on |ours - numpy| when both sum the same products in
    different orders: 2 * (k * eps_accumulator + eps_result) * (|a| @ |b|)."""
    dt = np.result_type(a, b)
    acc = np.float32 if dt == np.float16 else dt
    eps_acc = float(np.finfo(acc).eps)
    eps_out = float(np.finfo(dt).eps)
    k = a.shape[-1]
    mag = np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    tiny = float(np.finfo(dt).tiny)
    return 4.0 * (k * eps_acc + eps_out) * mag + tiny


@dataclasses.dataclass
class _Case:
    name: str
    run: Callable[[], Optional[str]]   # None when it passes, else details


def _product_case(name, make, **kwargs) -> _Case:
    """ours(*args, **kwargs) against numpy.matmul(*args, **kwargs), exact
    (or within the rounding tolerance when make returns a third value)."""

    def run():
        made = make()
        a, b = made[0], made[1]
        tol = made[2] if len(made) > 2 else None
        with np.errstate(all="ignore"):   # NaN cases warn in both
            ref = np.matmul(a, b, **kwargs)
            ours = _ours()(a, b, **kwargs)
        return _compare(ours, ref, tol)

    return _Case(name, run)


def _out_case(name, make_ours, make_ref) -> _Case:
    """make_* return the result of a call with out= (and fresh operands)."""

    def run():
        ref = make_ref(np.matmul)
        ours = make_ours(_ours())
        return _compare(ours, ref)

    return _Case(name, run)


def _raises_case(name, a, b) -> _Case:
    def run():
        try:
            np.matmul(a, b)
        except Exception as exc:  # noqa: BLE001 - we only compare types
            expected = type(exc)
        else:
            return "numpy.matmul did not raise (the check itself is wrong)"
        try:
            _ours()(a, b)
        except expected:
            return None
        except Exception as exc:  # noqa: BLE001
            return f"raised {type(exc).__name__}: {exc}; numpy raises {expected.__name__}"
        return f"did not raise; numpy raises {expected.__name__}"

    return _Case(name, run)


def selfcheck_cases(seed: int = 12345) -> List[_Case]:
    """The cases run by :func:`selfcheck`."""
    rng = np.random.default_rng(seed)
    cases: List[_Case] = []
    types = [t[0] for t in np.matmul.types]

    # Every loop of numpy.matmul, with values exact in every dtype.
    for code in types:
        dt = np.dtype(code)
        label = f"{dt.name} ('{code}')"

        def make(dt=dt):
            return _small_values(dt, (5, 7), rng), _small_values(dt, (7, 6), rng)

        cases.append(_product_case(f"{label} 5x7 @ 7x6", make))

    # Sizes that cross the kernels' blocking: rounding-order tolerance for
    # inexact types, exact wrap-around for integers.
    for code in "efdgFDG":
        dt = np.dtype(code)

        def make(dt=dt):
            a = rng.standard_normal((67, 301))
            b = rng.standard_normal((301, 45))
            if dt.kind == "c":
                a = a + 1j * rng.standard_normal(a.shape)
                b = b + 1j * rng.standard_normal(b.shape)
            a, b = a.astype(dt), b.astype(dt)
            return a, b, _rounding_tolerance(a, b)

        cases.append(_product_case(f"{dt.name} 67x301 @ 301x45 (random)", make))
    for code in "bBhHiIqQ":
        dt = np.dtype(code)

        def make(dt=dt):
            return (_full_range_ints(dt, (33, 130), rng),
                    _full_range_ints(dt, (130, 29), rng))

        cases.append(_product_case(f"{dt.name} 33x130 @ 130x29 (wrap-around)", make))

    f8 = np.float64
    cases += [
        _product_case("stacked broadcast (2,1,3,4) @ (5,4,2)", lambda: (
            _small_values(np.dtype(f8), (2, 1, 3, 4), rng),
            _small_values(np.dtype(f8), (5, 4, 2), rng))),
        _product_case("stacked broadcast int32 (3,4) @ (6,4,5)", lambda: (
            _small_values(np.dtype("i4"), (3, 4), rng),
            _small_values(np.dtype("i4"), (6, 4, 5), rng))),
        _product_case("1-D @ 2-D", lambda: (
            _small_values(np.dtype(f8), (4,), rng),
            _small_values(np.dtype(f8), (4, 3), rng))),
        _product_case("2-D @ 1-D", lambda: (
            _small_values(np.dtype(f8), (3, 4), rng),
            _small_values(np.dtype(f8), (4,), rng))),
        _product_case("1-D @ 1-D (scalar result)", lambda: (
            _small_values(np.dtype(f8), (9,), rng),
            _small_values(np.dtype(f8), (9,), rng))),
        _product_case("stack (4,3,5) @ 1-D", lambda: (
            _small_values(np.dtype("i8"), (4, 3, 5), rng),
            _small_values(np.dtype("i8"), (5,), rng))),
        _product_case("complex 1-D @ 1-D, no conjugation", lambda: (
            np.array([2j, 3j]), np.array([2j, 3j]))),
        _product_case("strided: negative and non-unit strides", lambda: (
            _small_values(np.dtype(f8), (20, 31), rng)[1::2, ::-3],
            _small_values(np.dtype(f8), (33, 14), rng)[::-3, 1::2])),
        _product_case("strided: transposed and zero strides", lambda: (
            _small_values(np.dtype("f4"), (9, 8), rng).T,
            np.broadcast_to(_small_values(np.dtype("f4"), (1, 7), rng), (9, 7)))),
        _product_case("strided: unaligned float64", lambda: (
            np.frombuffer(bytearray(8 * 30 + 1), dtype=f8, count=30, offset=1).reshape(5, 6),
            _small_values(np.dtype(f8), (6, 4), rng))),
        _product_case("k == 0 gives zeros", lambda: (
            np.ones((3, 0)), np.ones((0, 4)))),
        _product_case("object k == 0 gives int 0", lambda: (
            np.ones((2, 0), dtype=object), np.ones((0, 2), dtype=object))),
        _product_case("m == 0 gives an empty result", lambda: (
            np.ones((0, 3)), np.ones((3, 4)))),
        _product_case("object with Fractions", lambda: (
            np.array([[Fraction(1, 3), Fraction(2, 7)], [1, Fraction(-1, 2)]], dtype=object),
            np.array([[Fraction(3, 5), 2], [Fraction(1, 9), 1]], dtype=object))),
        _product_case("NaN and Inf propagate (0 * inf is NaN)", lambda: (
            np.array([[np.inf, 1.0], [0.0, 2.0], [np.nan, 0.0]]),
            np.array([[0.0, 1.0, 2.0], [1.0, np.inf, 0.0]]))),
        _product_case("float16 accumulates in float32", lambda: (
            np.array([2048, 1, 1], dtype=np.float16),
            np.array([1, 1, 1], dtype=np.float16))),
        _product_case("mixed int8 @ float32 promotes", lambda: (
            _small_values(np.dtype("i1"), (4, 5), rng),
            _small_values(np.dtype("f4"), (5, 3), rng))),
        _product_case("dtype=float64 on int inputs", lambda: (
            _small_values(np.dtype("i4"), (4, 5), rng),
            _small_values(np.dtype("i4"), (5, 3), rng)), dtype=np.float64),
        _product_case("axes=[(0, 1), (0, 1), (0, 1)]", lambda: (
            _small_values(np.dtype(f8), (3, 5, 2), rng),
            _small_values(np.dtype(f8), (5, 4, 2), rng)),
            axes=[(0, 1), (0, 1), (0, 1)]),
    ]

    # out= overlapping an input: the result must be as if the inputs were
    # read before anything was written.
    base = _small_values(np.dtype(f8), (6, 6), rng)
    other = _small_values(np.dtype(f8), (6, 6), rng)

    def out_is_first(f):
        a, b = base.copy(), other.copy()
        return f(a, b, out=a)

    def out_is_second(f):
        a, b = base.copy(), other.copy()
        return f(a, b, out=b)

    def out_is_both(f):
        a = base.copy()
        return f(a, a, out=a)

    def out_is_transposed_input(f):
        a, b = base.copy(), other.copy()
        return f(a, b, out=a.T)

    def out_shifted_view(f):
        buf = np.arange(1.0, 50.0)
        return f(buf[:42].reshape(6, 7), buf[7:14].reshape(7, 1), out=buf[3:9].reshape(6, 1))

    for name, fn in [("out= is the first input", out_is_first),
                     ("out= is the second input", out_is_second),
                     ("matmul(a, a, out=a)", out_is_both),
                     ("out= is an input transposed", out_is_transposed_input),
                     ("out= partially overlaps an input", out_shifted_view)]:
        cases.append(_out_case(name, fn, fn))

    cases += [
        _raises_case("scalar operand raises", np.ones(3), 2.0),
        _raises_case("scalar first operand raises", 3, np.ones((3, 3))),
        _raises_case("mismatched core dimension raises", np.ones((3, 4)), np.ones((5, 3))),
        _raises_case("non-broadcasting stacks raise", np.ones((2, 3, 4)), np.ones((3, 4, 5))),
    ]
    return cases


def selfcheck(seed: int = 12345, verbose: bool = False) -> int:
    """Runs the self-check; returns the number of cases passed or raises
    :class:`SelfCheckError` listing every mismatch."""
    failures = []
    cases = selfcheck_cases(seed)
    for case in cases:
        try:
            problem = case.run()
        except Exception:  # noqa: BLE001 - reported with the traceback
            problem = "unexpected exception:\n" + traceback.format_exc()
        if verbose:
            print(f"  {'ok  ' if problem is None else 'FAIL'} {case.name}")
        if problem is not None:
            failures.append(f"{case.name}: {problem}")
    if failures:
        from . import _core

        raise SelfCheckError(
            f"self-check: {len(failures)} of {len(cases)} cases FAILED "
            f"(kernels: isa {_core._isa()})\n"
            + "\n".join("  " + f for f in failures))
    return len(cases)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------

def _calibrate(fn: Callable[[], Any], min_sample: float) -> Tuple[int, float]:
    """Calls per sample so that one sample takes at least min_sample
    seconds, and the seconds per call seen.  The first call is a warm-up."""
    fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_sample:
            return number, elapsed / number
        grow = min_sample / max(elapsed, 1e-9) * 1.2
        number = max(number + 1, int(math.ceil(number * min(grow, 1000.0))))


def _sample(fn: Callable[[], Any], number: int, settle: float, warm_up: bool) -> float:
    if settle > 0:
        time.sleep(settle)
    if warm_up:
        fn()
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


@dataclasses.dataclass
class PairTiming:
    """Seconds per call of two functions timed together (medians)."""
    a: float
    b: float
    a_samples: List[float]
    b_samples: List[float]
    a_number: int
    b_number: int


# Pause before each timed sample: OpenBLAS's worker threads spin for about
# 2**28 cycles (0.05-0.1 s) after each call, and on a machine with two cores
# a sample taken sooner shares a core with them (at 0.05 s, float64 256 x 256
# read 1.04 here instead of 1.9).
SETTLE_SECONDS = 0.2


def time_pair(fa: Callable[[], Any], fb: Callable[[], Any], *, repeats: int = 5,
              min_sample: float = 0.02, budget: Optional[float] = None,
              settle: float = SETTLE_SECONDS) -> PairTiming:
    """Times fa and fb in this process, interleaved (a b a b ...).

    Each sample runs a function enough times to take at least ``min_sample``
    seconds; the result is the median over ``repeats`` samples, per call.
    With a ``budget`` (seconds for the sampling), fewer samples are taken
    when they are slow, but at least three unless one pair alone uses
    three budgets.

    Before each sample the process sleeps ``settle`` seconds and, when a
    call is short, makes one untimed call: the other library's worker
    threads keep spinning for a while after its last call, and on a machine
    with few cores they would be timed as part of this one.  The garbage
    collector is off while sampling.
    """
    if settle > 0:
        time.sleep(settle)
    na, ta = _calibrate(fa, min_sample)
    if settle > 0:
        time.sleep(settle)
    nb, tb = _calibrate(fb, min_sample)
    warm_a, warm_b = na > 1, nb > 1
    sa: List[float] = []
    sb: List[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        spent = 0.0
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            sa.append(_sample(fa, na, settle, warm_a))
            sb.append(_sample(fb, nb, settle, warm_b))
            spent += time.perf_counter() - t0
            if budget is not None and spent > budget and (len(sa) >= 3 or spent > 3 * budget):
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return PairTiming(statistics.median(sa), statistics.median(sb), sa, sb, na, nb)


# ---------------------------------------------------------------------------
# Benchmark cases
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class BenchCase:
    """One timed product: ``make()`` returns the two operands."""
    dtype: str
    shape: str
    make: Callable[[], Tuple[np.ndarray, np.ndarray]]
    flops: float                      # real flops (or integer ops) per call
    label: str = ""
    family: str = ""
    size: Optional[int] = None        # n for an n x n @ n x n product
    function: str = "matmul"          # or vecdot, matvec, vecmat (NumPy 2.2+)

    def __post_init__(self):
        if not self.label:
            self.label = f"{self.dtype} {self.shape}"
        if not self.family:
            self.family = dtype_family(self.dtype)


def dtype_family(dtype) -> str:
    dt = np.dtype(dtype)
    if dt == np.float64:
        return "float64"
    if dt == np.float32:
        return "float32"
    if dt.kind == "c":
        return "complex"
    if dt.kind in "iub":
        return "ints"
    return "float16/longdouble"


def _random(dtype, shape, rng) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "iu":
        return rng.integers(0, 100, size=shape).astype(dt)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def _flops(dtype, batch, m, k, n) -> float:
    per = 8 if np.dtype(dtype).kind == "c" else 2
    return float(per) * batch * m * k * n


def square_case(dtype, n: int, seed: int = 0) -> BenchCase:
    dt = np.dtype(dtype)

    def make():
        rng = np.random.default_rng(seed)
        return _random(dt, (n, n), rng), _random(dt, (n, n), rng)

    return BenchCase(dt.name, f"{n}x{n} @ {n}x{n}", make, _flops(dt, 1, n, n, n), size=n)


def stack_case(dtype, batch: int, n: int, seed: int = 0) -> BenchCase:
    dt = np.dtype(dtype)

    def make():
        rng = np.random.default_rng(seed)
        return _random(dt, (batch, n, n), rng), _random(dt, (batch, n, n), rng)

    return BenchCase(dt.name, f"{batch} x ({n}x{n} @ {n}x{n})", make,
                     _flops(dt, batch, n, n, n))


def matvec_case(dtype, n: int, vector_first: bool = False, seed: int = 0,
                rows: int = 0) -> BenchCase:
    """An n x n matrix (rows x n when `rows`) times an n-vector, or the
    vector times the matrix."""
    dt = np.dtype(dtype)
    m = rows or n

    def make():
        rng = np.random.default_rng(seed)
        mat = _random(dt, (n, m) if vector_first else (m, n), rng)
        vec = _random(dt, (n,), rng)
        return (vec, mat) if vector_first else (mat, vec)

    shape = f"{n} @ {n}x{m}" if vector_first else f"{m}x{n} @ {n}"
    return BenchCase(dt.name, shape, make, _flops(dt, 1, 1, n, m))


def vector_function_case(function: str, dtype, n: int, count: int = 1,
                         seed: int = 0) -> BenchCase:
    """vecdot of `count` pairs of n-vectors, or matvec / vecmat with an
    n x n matrix."""
    dt = np.dtype(dtype)

    def make():
        rng = np.random.default_rng(seed)
        if function == "vecdot":
            return _random(dt, (count, n), rng), _random(dt, (count, n), rng)
        mat, vec = _random(dt, (n, n), rng), _random(dt, (n,), rng)
        return (mat, vec) if function == "matvec" else (vec, mat)

    if function == "vecdot":
        shape, flops = f"vecdot {count}x{n}, {count}x{n}", _flops(dt, count, 1, n, 1)
    elif function == "matvec":
        shape, flops = f"matvec {n}x{n}, {n}", _flops(dt, 1, n, n, 1)
    else:
        shape, flops = f"vecmat {n}, {n}x{n}", _flops(dt, 1, 1, n, n)
    return BenchCase(dt.name, shape, make, flops, function=function)


def strided_case(dtype, n: int, step: int = 2, seed: int = 0) -> BenchCase:
    dt = np.dtype(dtype)
    big = n * step

    def make():
        rng = np.random.default_rng(seed)
        a = _random(dt, (big, big), rng)[::step, ::step]
        b = _random(dt, (big, big), rng)[::step, ::step]
        return a, b

    return BenchCase(dt.name, f"{n}x{n} @ {n}x{n}, strided x[::{step}, ::{step}]", make,
                     _flops(dt, 1, n, n, n))


def rect_case(dtype, m: int, k: int, n: int, seed: int = 0,
              fortran_b: bool = False, fortran_a: bool = False) -> BenchCase:
    dt = np.dtype(dtype)

    def make():
        rng = np.random.default_rng(seed)
        b = _random(dt, (k, n), rng)
        a = _random(dt, (m, k), rng)
        return (np.asfortranarray(a) if fortran_a else a,
                np.asfortranarray(b) if fortran_b else b)

    order = {(False, True): ", B in Fortran order", (True, False): ", A in Fortran order",
             (True, True): ", both in Fortran order"}.get((fortran_a, fortran_b), "")
    return BenchCase(dt.name, f"{m}x{k} @ {k}x{n}" + order, make, _flops(dt, 1, m, k, n))


def gram_case(dtype, rows: int, cols: int, seed: int = 0) -> BenchCase:
    """X.T @ X: B is A transposed in memory, so C is symmetric (NumPy
    hands this to BLAS syrk; we compute one triangle too).  GFLOP/s count
    the multiply-adds of that triangle and its diagonal, the work both
    libraries do."""
    dt = np.dtype(dtype)

    def make():
        x = _random(dt, (rows, cols), np.random.default_rng(seed))
        return x.T, x

    return BenchCase(dt.name, f"X.T @ X, X {rows}x{cols}", make,
                     _flops(dt, 1, cols, rows, cols) * (cols + 1) / (2 * cols))


def default_cases() -> List[BenchCase]:
    """The rows of ``python -m gufunc_matmul``."""
    return [
        square_case("float64", 256),
        square_case("float32", 256),
        square_case("int32", 128),
        square_case("int8", 128),
        square_case("float16", 128),
        square_case("complex128", 128),
        stack_case("float64", 10000, 3),
        matvec_case("float64", 2048),
    ]


@dataclasses.dataclass
class BenchResult:
    case: BenchCase
    timing: PairTiming

    @property
    def ours_ms(self) -> float:
        return self.timing.a * 1e3

    @property
    def numpy_ms(self) -> float:
        return self.timing.b * 1e3

    @property
    def ratio(self) -> float:
        """numpy time / our time: above 1 means gufunc_matmul is faster."""
        return self.timing.b / self.timing.a

    @property
    def ours_gflops(self) -> float:
        return self.case.flops / self.timing.a / 1e9

    @property
    def numpy_gflops(self) -> float:
        return self.case.flops / self.timing.b / 1e9

    def as_dict(self) -> Dict[str, Any]:
        return {
            "label": self.case.label,
            "dtype": self.case.dtype,
            "shape": self.case.shape,
            "family": self.case.family,
            "size": self.case.size,
            "flops": self.case.flops,
            "ours_ms": self.ours_ms,
            "numpy_ms": self.numpy_ms,
            "ratio_numpy_over_ours": self.ratio,
            "ours_gflops": self.ours_gflops,
            "numpy_gflops": self.numpy_gflops,
            "ours_samples_ms": [s * 1e3 for s in self.timing.a_samples],
            "numpy_samples_ms": [s * 1e3 for s in self.timing.b_samples],
            "ours_calls_per_sample": self.timing.a_number,
            "numpy_calls_per_sample": self.timing.b_number,
        }


def run_case(case: BenchCase, *, repeats: int = 5, min_sample: float = 0.02,
             budget: Optional[float] = None, settle: float = SETTLE_SECONDS,
             check: bool = True) -> BenchResult:
    """Times gufunc_matmul.matmul and numpy.matmul (or the case's other
    function) on one case.  With check, first makes sure both give the same
    shape and dtype."""
    ours, theirs = _ours(case.function), getattr(np, case.function)
    a, b = case.make()
    if check:
        r_ours, r_ref = ours(a, b), theirs(a, b)
        if np.shape(r_ours) != np.shape(r_ref) or np.result_type(r_ours) != np.result_type(r_ref):
            raise SelfCheckError(f"{case.label}: result {_describe(r_ours)}, "
                                 f"numpy gives {_describe(r_ref)}")
        del r_ours, r_ref
    timing = time_pair(lambda: ours(a, b), lambda: theirs(a, b),
                       repeats=repeats, min_sample=min_sample, budget=budget, settle=settle)
    return BenchResult(case, timing)


# ---------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------

def _cpuinfo() -> Dict[str, str]:
    info: Dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if ":" not in line:
                    if info:
                        break   # first processor only
                    continue
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def cpu_model() -> str:
    info = _cpuinfo()
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if info.get(key):
            return info[key]
    if sys.platform == "darwin":
        try:
            import subprocess

            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=5)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> List[str]:
    """The SIMD features relevant to the kernels that /proc/cpuinfo lists."""
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    wanted = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
              "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
              "asimd", "asimdhp", "asimddp", "sve", "sve2"]
    return [f for f in wanted if f in flags]


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def blas_description() -> str:
    """numpy's BLAS, from numpy.show_config where it can say."""
    try:
        cfg = np.show_config(mode="dicts")  # NumPy >= 1.26
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - old NumPy or an unusual build
        return "unknown"


def blas_threads() -> Optional[List[Dict[str, Any]]]:
    """Thread pools that threadpoolctl sees, or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                   "filepath")} for p in threadpool_info()]


def machine_info() -> Dict[str, Any]:
    import gufunc_matmul as package
    from . import _core

    threads_env = {k: os.environ[k] for k in
                   ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "GUFUNC_MATMUL_NUM_THREADS", "GUFUNC_MATMUL_ISA") if k in os.environ}
    get_threads = getattr(package, "get_num_threads", None)
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return {
        "gufunc_matmul": package.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "isa": _core._isa(),
        "available_isas": _core._available_isas(),
        "threads": get_threads() if get_threads is not None else 1,
        "numpy_blas": blas_description(),
        "load_average": load,
        "blas_threads": blas_threads(),
        "thread_environment": threads_env,
    }


def format_machine(info: Dict[str, Any]) -> List[str]:
    flags = " ".join(info["cpu_flags"]) or "none listed"
    lines = [
        f"gufunc_matmul {info['gufunc_matmul']}, numpy {info['numpy']}, "
        f"Python {info['python']} ({info['platform']})",
        f"machine: {info['cpu']}, {info['machine']}, {info['cores']} cores "
        f"({info['usable_cpus']} usable); SIMD: {flags}",
        f"kernels: isa {info['isa']} (available: {info['available_isas']}), "
        f"{info['threads']} threads; numpy BLAS: {info['numpy_blas']}",
    ]
    load = info.get("load_average")
    if load is not None and load > 0.5:
        lines.append(f"note: 1-minute load average {load:.2f} on {info['usable_cpus']} cpus: "
                     f"if other programs are running, the timings are unreliable")
    if info.get("blas_threads"):
        pools = ", ".join(f"{p['internal_api']} {p['num_threads']} threads"
                          for p in info["blas_threads"])
        lines.append(f"thread pools: {pools}")
    if info.get("thread_environment"):
        env = " ".join(f"{k}={v}" for k, v in info["thread_environment"].items())
        lines.append(f"environment: {env}")
    return lines


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 align: str = "", markdown: bool = False) -> str:
    """A plain or markdown table; align has one 'l' or 'r' per column."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells):
        parts = [str(c).ljust(w) if a == "l" else str(c).rjust(w)
                 for c, w, a in zip(cells, widths, align)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(headers)]
    if markdown:
        out.append("|" + "|".join(":" + "-" * (w + 1) if a == "l" else "-" * (w + 1) + ":"
                                  for w, a in zip(widths, align)) + "|")
    out += [line(r) for r in rows]
    return "\n".join(out)


def fmt_ms(ms: float) -> str:
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

_DEFAULT_SQUARE_DTYPES = ["float64", "float32", "int32", "int8", "float16", "complex128"]


def _parse_list(text: str) -> List[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _bench_cases(args) -> List[BenchCase]:
    if args.dtypes is None and args.sizes is None:
        return default_cases()
    dtypes = _parse_list(args.dtypes) if args.dtypes else _DEFAULT_SQUARE_DTYPES
    for d in dtypes:
        np.dtype(d)   # a bad name is an error before anything is timed
    if args.sizes:
        sizes = [int(s) for s in _parse_list(args.sizes)]
        return [square_case(d, n) for d in dtypes for n in sizes]
    return [square_case(d, 256 if np.dtype(d).kind == "f" and np.dtype(d).itemsize >= 4 else 128)
            for d in dtypes]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gufunc_matmul",
        description="Check gufunc_matmul.matmul against numpy.matmul, then time both "
                    "(same process, interleaved samples, medians).")
    p.add_argument("--dtypes", metavar="LIST",
                   help="comma-separated dtypes to time as square products "
                        "(e.g. float64,int8); replaces the default rows")
    p.add_argument("--sizes", metavar="LIST",
                   help="comma-separated square sizes (e.g. 64,256,1024); "
                        "replaces the default rows")
    p.add_argument("--repeats", type=int, default=None, metavar="N",
                   help="timed samples per function and row (default 5, 3 with --quick)")
    p.add_argument("--min-time", type=float, default=None, metavar="SECONDS",
                   help="minimum duration of one sample (default 0.02, 0.01 with --quick)")
    p.add_argument("--settle", type=float, default=SETTLE_SECONDS, metavar="SECONDS",
                   help="pause before each sample so that the other library's idle "
                        f"threads stop spinning (default {SETTLE_SECONDS})")
    p.add_argument("--quick", action="store_true",
                   help="fewer and shorter samples (about half the time)")
    p.add_argument("--check-only", "--no-bench", dest="check_only", action="store_true",
                   help="run the self-check only")
    p.add_argument("--all-isas", action="store_true",
                   help="also run the self-check once for every other instruction set "
                        "this machine can run (each in a subprocess with GUFUNC_MATMUL_ISA)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list every self-check case")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the results as JSON to PATH, or to standard output "
                        "(and nothing else there) when no PATH is given")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    json_to_stdout = args.json == "-"
    out = sys.stderr if json_to_stdout else sys.stdout

    def say(text=""):
        print(text, file=out, flush=True)

    try:
        import gufunc_matmul  # noqa: F401 - report a broken build clearly
    except Exception:  # noqa: BLE001
        print("gufunc_matmul cannot be imported:\n" + traceback.format_exc(), file=sys.stderr)
        return 1

    try:
        cases = [] if args.check_only else _bench_cases(args)
    except (TypeError, ValueError) as exc:
        print(f"python -m gufunc_matmul: error: {exc}", file=sys.stderr)
        return 2

    info = machine_info()
    report: Dict[str, Any] = {"machine": info}
    for line in format_machine(info):
        say(line)

    try:
        n = selfcheck(verbose=args.verbose and not json_to_stdout)
    except SelfCheckError as exc:
        print(str(exc), file=sys.stderr)
        report["selfcheck"] = {"passed": False, "details": str(exc)}
        _write_json(args.json, report)
        return 1
    say(f"self-check: {n} cases passed")
    report["selfcheck"] = {"passed": True, "cases": n}
    if args.all_isas:
        report["selfcheck"]["other_isas"] = {}
        for isa, ok, text in _selfcheck_other_isas(info):
            report["selfcheck"]["other_isas"][isa] = ok
            if not ok:
                print(f"self-check with GUFUNC_MATMUL_ISA={isa} FAILED:\n{text}", file=sys.stderr)
                report["selfcheck"]["passed"] = False
                _write_json(args.json, report)
                return 1
            say(f"self-check with GUFUNC_MATMUL_ISA={isa}: {text}")

    if cases:
        repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
        min_sample = args.min_time if args.min_time is not None else (0.01 if args.quick else 0.02)
        budget = 0.25 if args.quick else 0.6
        say()
        say(f"benchmark: median of {repeats} interleaved samples of >= {min_sample * 1e3:.0f} ms "
            f"each; numpy/ours > 1 means gufunc_matmul is faster")
        headers = ["dtype", "shape", "ours (ms)", "numpy (ms)", "numpy/ours"]
        # Rows are printed as they are measured, in columns sized up front.
        widths = [max(len(headers[0]), *(len(c.dtype) for c in cases)),
                  max(len(headers[1]), *(len(c.shape) for c in cases)), 10, 10, 10]

        def row_line(cells):
            return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        say(row_line(headers))
        results = []
        try:
            for case in cases:
                r = run_case(case, repeats=repeats, min_sample=min_sample, budget=budget,
                             settle=args.settle)
                results.append(r)
                say(row_line([case.dtype, case.shape, fmt_ms(r.ours_ms), fmt_ms(r.numpy_ms),
                              f"{r.ratio:.2f}"]))
        except SelfCheckError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        report["benchmark"] = {
            "repeats": repeats,
            "min_sample_s": min_sample,
            "settle_s": args.settle,
            "rows": [r.as_dict() for r in results],
        }
    _write_json(args.json, report)
    return 0


def _selfcheck_other_isas(info: Dict[str, Any]):
    """(isa, passed, summary or details) for each instruction set other than
    the one in use, each checked in a fresh interpreter."""
    import subprocess

    for isa in _parse_list(info["available_isas"]):
        if isa == info["isa"]:
            continue
        env = dict(os.environ, GUFUNC_MATMUL_ISA=isa)
        proc = subprocess.run([sys.executable, "-m", "gufunc_matmul", "--check-only"],
                              env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("self-check")]
        if proc.returncode == 0 and lines:
            yield isa, True, lines[-1].partition(": ")[2]
        else:
            yield isa, False, (proc.stdout + proc.stderr).strip()


def _write_json(dest: Optional[str], report: Dict[str, Any]) -> None:
    if dest is None:
        return
    text = json.dumps(report, indent=2, default=str)
    if dest == "-":
        print(text)
    else:
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text + "\n")
