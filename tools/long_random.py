#!/usr/bin/env python3
"""A long seeded random differential run of gufunc_matmul against NumPy.

Each case draws a function (matmul, vecdot, matvec, vecmat), dtypes (mixed
sometimes), core sizes (tiny, around the tile and cache-block edges, vector
shapes, empty), a broadcast stack, a memory layout per operand (C, Fortran,
transposed, reversed, strided, unaligned, zero-stride, byte-swapped), the
values (small integers, normal floats, NaN/Inf/-0, full-range integers), an
out= (none, strided, another dtype, an input's memory) and a thread count,
and checks against numpy:

* the same outcome: result, or the same exception type and message;
* the same Python type, dtype and shape; exactly the same values for bool,
  integers, float16 and object; for other floats the same NaN/Inf places and
  finite values within the summation error bound 2(k+2) eps (|a| @ |b|);
* the inputs unchanged and no byte written outside out's elements.

Case i of seed s is drawn from its own generator, so any failure replays
alone:  python tools/long_random.py --seed s --case i --verbose

Usage:
    python tools/long_random.py                          # 2000 cases
    python tools/long_random.py --cases 100000 --seed 1 --isa all --jobs 2
The last line is "N passed, M failed"; the exit status is 1 on a failure.
"""
import argparse
import math
import os
import subprocess
import sys
import time
import traceback
import warnings

import numpy as np

NUMERIC = "?bBhHiIlLqQefdgFDG"
FUNCS = tuple(name for name in ("matmul", "matmul", "matmul", "matmul", "matmul",
                                 "matmul", "matmul", "vecdot", "matvec", "vecmat")
              if hasattr(np, name))   # NumPy 1.x has no vecdot, matvec, vecmat
#: Most multiply-adds of one case (a few blocked products per hundred).
MAX_WORK = 400_000
FILL = 0xA5


# ----------------------------------------------------------------- draws

def _sizes(rng):
    """(m, k, n) of one product."""
    kind = rng.choice(["tiny", "small", "medium", "edges", "blocked",
                       "vector", "deep", "wide", "empty"],
                      p=[.15, .2, .15, .15, .1, .1, .05, .05, .05])
    if kind == "tiny":
        return tuple(int(x) for x in rng.integers(0, 5, 3))
    if kind == "small":
        return tuple(int(x) for x in rng.integers(1, 18, 3))
    if kind == "medium":
        return tuple(int(x) for x in rng.integers(1, 49, 3))
    if kind == "edges":
        edges = [1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 25,
                 31, 32, 33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129]
        m, n = (int(rng.choice(edges)) for _ in range(2))
        k = int(rng.choice([1, 2, 3, 5, 8, 16, 17, 31, 32, 33, 64, 65, 127, 128,
                            129, 255, 256, 257, 383, 384, 385]))
    elif kind == "blocked":
        m, k, n = (int(x) for x in rng.integers(60, 320, 3))
    elif kind == "vector":
        m, k, n = int(rng.integers(1, 2000)), int(rng.integers(1, 600)), 1
        if rng.random() < .5:
            m, n = n, m
    elif kind == "deep":
        m, n = (int(x) for x in rng.integers(1, 8, 2))
        k = int(rng.integers(500, 20000))
    elif kind == "wide":
        m, k, n = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1000, 5000))
        if rng.random() < .5:
            m, n = n, m
    else:
        m, k, n = (int(x) for x in rng.integers(0, 6, 3))
        which = rng.integers(0, 3)
        if which == 0:
            m = 0
        elif which == 1:
            k = 0
        else:
            n = 0
    while m * k * n > MAX_WORK:
        if k > 1 and k >= max(m, n) // 4:
            k = max(1, k // 2)
        elif m >= n:
            m = max(1, m // 2)
        else:
            n = max(1, n // 2)
    return m, k, n


def _stacks(rng, work):
    """Two broadcastable stack shapes."""
    nd = int(rng.choice([0, 0, 0, 1, 1, 2, 3]))
    full = [int(x) for x in rng.integers(0, 4, nd)]
    if math.prod(full) * max(work, 1) > MAX_WORK or (0 in full and rng.random() < .5):
        full = [1 if x == 0 else min(x, 2) for x in full]
        if math.prod(full) * max(work, 1) > MAX_WORK:
            full = [1] * nd

    def derive():
        keep = int(rng.integers(0, nd + 1))
        dims = full[nd - keep:]
        return tuple(1 if rng.random() < .25 else d for d in dims)

    return derive(), derive()


def _values(rng, dtype, shape):
    dtype = np.dtype(dtype)
    style = rng.choice(["ints", "normal", "special", "full"], p=[.45, .3, .15, .1])
    size = math.prod(shape)
    if dtype.kind == "b":
        p = rng.choice([0.02, 0.5, 0.98])
        return (rng.random(shape) < p)
    if dtype.kind == "O":
        pick = rng.integers(0, 3)
        ints = rng.integers(-5, 6, size)
        if pick == 0:
            vals = [int(x) for x in ints]
        elif pick == 1:
            vals = [int(x) * 10**20 + 1 for x in ints]    # Python big ints
        else:
            from fractions import Fraction
            vals = [Fraction(int(x), 3) for x in ints]
        out = np.empty(size, dtype=object)
        out[:] = vals
        return out.reshape(shape)
    native = dtype.newbyteorder("=")
    if dtype.kind in "iu":
        if style == "full":
            info = np.iinfo(native)
            return rng.integers(info.min, info.max, size=shape, endpoint=True,
                                dtype=native)
        lo = 0 if dtype.kind == "u" else -4
        return rng.integers(lo, 5, shape).astype(native)
    if style == "ints":
        x = rng.integers(-4, 5, shape).astype(np.float64)
    else:
        x = rng.standard_normal(shape) * 10.0 ** int(rng.integers(-3, 4))
    if dtype.kind == "c":
        y = rng.integers(-4, 5, shape) if style == "ints" else rng.standard_normal(shape)
        x = x + 1j * y
    if style == "special" and size:
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 65504.0, 1e-8])
        flat = x.reshape(-1).copy()
        count = int(rng.integers(1, max(2, size // 10 + 1)))
        where = rng.integers(0, size, count)
        if dtype.kind == "c":
            flat = flat.astype(complex)
            parts = np.empty(count, complex)
            parts.real = rng.choice(specials, count)
            parts.imag = rng.choice(specials, count)
            flat[where] = parts
        else:
            flat[where] = rng.choice(specials, count)
        x = flat.reshape(shape)
    with np.errstate(all="ignore"):
        return x.astype(native)


class Placed:
    """An array laid out inside a byte buffer filled with FILL, so that reads
    of the gaps show up as wrong values and writes to them can be found."""

    def __init__(self, values, rng, allow_broadcast, byteswap):
        dtype = values.dtype
        if byteswap and dtype.itemsize > 1 and dtype.kind != "O":
            dtype = dtype.newbyteorder("S")
        nd = values.ndim
        style = rng.choice(["C", "C", "F", "T", "permuted", "reversed", "strided", "mixed"])
        perm, steps = list(range(nd)), [1] * nd
        if style == "F":
            perm = perm[::-1]
        elif style == "T" and nd >= 2:
            perm[-2], perm[-1] = perm[-1], perm[-2]
        elif style == "permuted":
            perm = [int(p) for p in rng.permutation(nd)]
        elif style == "reversed":
            steps = [int(rng.choice([1, -1])) for _ in range(nd)]
        elif style == "strided":
            steps = [int(rng.choice([1, 2, 3])) for _ in range(nd)]
        elif style == "mixed":
            perm = [int(p) for p in rng.permutation(nd)]
            steps = [int(rng.choice([1, -1, 2, -3])) for _ in range(nd)]
        offset = 0
        if dtype.itemsize > 1 and dtype.kind != "O" and rng.random() < .25:
            offset = int(rng.choice(sorted({1, dtype.itemsize // 2, dtype.itemsize - 1})))
        broadcast_axis = None
        if allow_broadcast and nd and values.size and rng.random() < .1:
            broadcast_axis = int(rng.integers(0, nd))
            values = np.broadcast_to(np.take(values, [0], axis=broadcast_axis), values.shape)
        shape = values.shape
        if broadcast_axis is not None:
            shape = tuple(1 if i == broadcast_axis else n for i, n in enumerate(shape))
        base_shape = [n * abs(s) for n, s in zip(shape, steps)]
        mem_shape = [base_shape[p] for p in perm]
        nbytes = math.prod(mem_shape) * dtype.itemsize
        if dtype.kind == "O":
            self.raw = None
            base = np.empty(mem_shape, dtype=object)
        else:
            self.raw = np.full(nbytes + offset + 16, FILL, dtype=np.uint8)
            base = self.raw[offset:offset + nbytes].view(dtype).reshape(mem_shape)
        logical = base.transpose(np.argsort(perm)) if nd else base
        view = logical[tuple(slice(None, None, s) for s in steps)] if nd else logical
        if broadcast_axis is not None:
            view[...] = np.take(values, [0], axis=broadcast_axis)
            view = np.broadcast_to(view, values.shape)
        else:
            view[...] = values
        self.view = view
        self.description = (f"{view.dtype.str} shape={view.shape} strides={view.strides} "
                            f"style={style} offset={offset} broadcast={broadcast_axis}")

    def element_mask(self):
        """Which bytes of raw belong to an element of the view."""
        mask = np.zeros(self.raw.size, dtype=bool)
        v = self.view
        if v.size == 0:
            return mask
        start = v.__array_interface__["data"][0] - self.raw.__array_interface__["data"][0]
        offsets = np.full(1, start, dtype=np.int64)
        for n, s in zip(v.shape, v.strides):
            offsets = (offsets[:, None] + np.arange(n, dtype=np.int64)[None, :] * s).ravel()
        bytes_ = (offsets[:, None] + np.arange(v.itemsize)[None, :]).ravel()
        mask[bytes_] = True
        return mask


class Case:
    """One drawn case: build() makes fresh operands (called once for numpy
    and once for us, so out= and aliasing start from the same bytes)."""

    def __init__(self, seed, index):
        self.seed, self.index = seed, index
        rng = np.random.default_rng([seed, index])
        self.state = rng.bit_generator.state
        self.func = str(rng.choice(FUNCS))
        object_case = rng.random() < 0.03
        if object_case:
            self.dtypes = ("O", "O" if rng.random() < .8 else str(rng.choice(list("ldq"))))
        elif rng.random() < .12:
            self.dtypes = tuple(str(rng.choice(list(NUMERIC))) for _ in range(2))
        else:
            self.dtypes = (str(rng.choice(list(NUMERIC))),) * 2
        m, k, n = _sizes(rng)
        if object_case:
            m, k, n = min(m, 6), min(k, 6), min(n, 6)
        self.mkn = (m, k, n)
        self.stacks = _stacks(rng, m * k * n)
        # operand core shapes
        f = self.func
        vec_a = f in ("vecdot", "vecmat") or (f == "matmul" and rng.random() < .1)
        vec_b = f in ("vecdot", "matvec") or (f == "matmul" and rng.random() < .1)
        self.core_a = (k,) if vec_a else (m, k)
        self.core_b = (k,) if vec_b else (k, n)
        if f == "vecdot":
            self.core_b = (k,)
        self.threads = int(rng.choice([0, 1, 1, 2, 3, 4]))
        self.byteswap = (rng.random() < .1, rng.random() < .1)
        self.out_kind = str(rng.choice(["none", "none", "none", "none", "fresh",
                                        "strided", "cast", "alias"]))
        self.cast_to = str(rng.choice(list("?bhiqefdgFD")))
        self.casting = str(rng.choice(["same_kind", "unsafe", "unsafe"]))
        self.seeds = [int(x) for x in rng.integers(0, 2**63, 4)]

    def operands(self):
        """Fresh (Placed a, Placed b)."""
        rng = np.random.default_rng(self.seeds[0])
        shape_a = self.stacks[0] + self.core_a
        shape_b = self.stacks[1] + self.core_b
        va = _values(rng, self.dtypes[0], shape_a)
        vb = _values(rng, self.dtypes[1], shape_b)
        lay = np.random.default_rng(self.seeds[1])
        return (Placed(va, lay, True, self.byteswap[0]),
                Placed(vb, lay, True, self.byteswap[1]))

    def describe(self):
        return (f"seed={self.seed} case={self.index} func={self.func} "
                f"dtypes={self.dtypes} (m,k,n)={self.mkn} stacks={self.stacks} "
                f"threads={self.threads} out={self.out_kind}"
                + (f"->{self.cast_to}/{self.casting}" if self.out_kind == "cast" else ""))


# -------------------------------------------------------------- compare

def _outcome(func, *args, **kwargs):
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", func(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome
        return ("raise", type(exc), str(exc))


def _same_object(x, y):
    if x is y:
        return True
    try:
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and math.isnan(x) and math.isnan(y):
            return True
        return bool(x == y)
    except Exception:  # noqa: BLE001 - odd objects compare by repr
        return repr(x) == repr(y)


def _finite_abs(x, wide):
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        if x.dtype.kind == "O":
            return np.abs(x.astype(np.float64))
        if x.dtype.kind in "biu":
            # widened first: abs of the most negative integer wraps to itself
            return np.abs(x.astype(wide))
        return np.where(np.isfinite(x), np.abs(x), 0).astype(wide)


def _check_values(result, expected, a, b, func_name, loop_dtype, unconverted):
    """Raises AssertionError when the values differ beyond what the
    summation order allows."""
    result, expected = np.asarray(result), np.asarray(expected)
    loop = np.dtype(loop_dtype)
    if loop.kind in "biuO" or loop == np.float16:
        if expected.dtype.kind == "O":
            same = result.dtype == expected.dtype and all(
                _same_object(x, y) for x, y in zip(result.ravel(), expected.ravel()))
        else:
            same = result.dtype == expected.dtype and np.array_equal(
                result, expected, equal_nan=expected.dtype.kind in "fc")
        if not same:
            bad = np.argwhere(result != expected)
            raise AssertionError(f"values differ (exact type {loop}); first at "
                                 f"{bad[0] if len(bad) else '?'}:\nours={result!r}\n"
                                 f"numpy={expected!r}")
        return
    out_kind = expected.dtype.kind
    # The summation error bound 2 (k + 2) eps (|a| @ |b|) of the loop type.
    wide = np.longdouble if loop.char in "gG" else np.float64
    k = np.shape(a)[-1] if np.ndim(a) else 0
    fa, fb = _finite_abs(a, wide), _finite_abs(b, wide)
    with np.errstate(all="ignore"):
        if func_name == "vecdot":
            mag = np.vecdot(fa, fb)
        elif func_name == "matvec":
            mag = np.matvec(fa, fb)
        elif func_name == "vecmat":
            mag = np.vecmat(fa, fb)
        else:
            mag = np.matmul(fa, fb)
        eps = np.finfo(loop).eps
        bound = 2 * (k + 2) * eps * mag + 4 * np.finfo(loop).smallest_subnormal * (k + 1)
    if out_kind in "biu":
        # A float loop cast to integers: the bound, plus one for values that
        # round to either side of an integer.  Out-of-range values (negative
        # to unsigned, NaN, huge) cast in ways C leaves undefined: only
        # in-range values are compared.  bool: nonzero either way.
        if out_kind == "b":
            return
        info = np.iinfo(expected.dtype)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diff = np.abs(result.astype(np.float64) - expected.astype(np.float64))
            real = np.real(np.asarray(unconverted)).astype(np.float64)
            plain = np.isfinite(real) & (real > float(info.min) - 1) & \
                (real < float(info.max) + 1)
            bad = plain & ~(diff <= 1 + 2 * np.asarray(bound, dtype=np.float64))
        if np.any(bad):
            raise AssertionError(f"values differ after the cast to {expected.dtype}")
        return
    if loop.kind == "c" and loop.itemsize < 32 or out_kind != loop.kind:
        if not np.array_equal(np.isfinite(result), np.isfinite(expected)):
            raise AssertionError("non-finite elements in other places")
        parts = []
    elif loop.kind == "c":
        parts = [(result.real, expected.real), (result.imag, expected.imag)]
    else:
        parts = [(result, expected)]
    for r, e in parts:
        for test in (np.isnan, np.isposinf, np.isneginf):
            if not np.array_equal(test(r), test(e)):
                raise AssertionError(f"{test.__name__} places differ:\nours={r!r}\n"
                                     f"numpy={e!r}")
    with np.errstate(all="ignore"):
        if expected.dtype.kind in "fc" and np.finfo(expected.dtype).eps > eps:
            bound = bound + 2 * np.finfo(expected.dtype).eps * np.abs(
                expected.astype(np.clongdouble if loop.char in "gG" else np.complex128))
        wide_type = np.result_type(wide, loop, expected.dtype)
        diff = np.abs(result.astype(wide_type) - expected.astype(wide_type))
        finite = np.isfinite(result) & np.isfinite(expected)
        bad = finite & ~(diff <= bound)
    if np.any(bad):
        where = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{int(bad.sum())} of {bad.size} elements beyond the "
                             f"error bound; first at {where}: ours={result[where]!r} "
                             f"numpy={expected[where]!r} bound={bound[where]!r}")


def run_case(case, gm, verbose=False):
    """None when the case passes, else a description of the failure."""
    np_func = getattr(np, case.func)
    gm_func = getattr(gm, case.func)

    def make_out(a, b, expected):
        """(kwargs, Placed or None) for the drawn out= kind."""
        if case.out_kind == "none" or expected[0] != "ok" or np.ndim(expected[1]) == 0:
            return {}, None
        e = np.asarray(expected[1])
        rng = np.random.default_rng(case.seeds[2])
        if case.out_kind == "alias":
            for x in (a.view, b.view):
                if (x.shape == e.shape and x.flags.writeable
                        and x.dtype.kind != "O" and e.dtype.kind != "O"):
                    return {"out": x, "casting": "unsafe"}, "alias"
            return {}, None
        dtype = e.dtype
        kwargs = {}
        if case.out_kind == "cast" and dtype.kind != "O":
            dtype = np.dtype(case.cast_to)
            kwargs["casting"] = case.casting
        if case.out_kind == "fresh":
            placed = Placed(np.zeros(e.shape, dtype), np.random.default_rng(0),
                            allow_broadcast=False, byteswap=False)
        else:
            placed = Placed(np.zeros(e.shape, dtype), rng, allow_broadcast=False,
                            byteswap=case.out_kind == "strided" and rng.random() < .3)
        kwargs["out"] = placed.view
        return kwargs, placed

    # numpy first, on its own fresh operands
    pa, pb = case.operands()
    probe = _outcome(np_func, pa.view, pb.view)
    kw, placed = make_out(pa, pb, probe)
    if kw:
        # NumPy's outcome with an out= of the same dtype and shape but
        # contiguous and apart from the inputs: NumPy 2.4's vecmat writes a
        # complex out= as if it were contiguous, whatever its strides (out
        # of bounds for a reversed one), so its out= is no oracle.
        fresh = dict(kw, out=np.zeros(kw["out"].shape, kw["out"].dtype))
        expected = _outcome(np_func, pa.view, pb.view, **fresh)
        if expected[0] == "ok":
            # The values: NumPy's result without out=, cast as out= casts.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = ("ok", np.asarray(probe[1]).astype(kw["out"].dtype))
    else:
        expected = probe
    loop_dtype = np.asarray(probe[1]).dtype if probe[0] == "ok" else None

    # then ours, on operands with the same bytes
    qa, qb = case.operands()
    inputs_before = [p.raw.copy() if p.raw is not None else p.view.copy() for p in (qa, qb)]
    kw2, placed2 = make_out(qa, qb, probe)
    a_values, b_values = qa.view.copy(), qb.view.copy()
    gm.set_num_threads(case.threads)
    try:
        result = _outcome(gm_func, qa.view, qb.view, **kw2)
    finally:
        gm.set_num_threads(0)
    if result[0] == "ok" and "out" in kw2:
        if result[1] is not kw2["out"]:
            return "out= given but another array returned"
        result = ("ok", np.array(kw2["out"], copy=True))

    if result[0] != expected[0]:
        return f"outcome differs: ours={result[:3]!r} numpy={expected[:3]!r}"
    if expected[0] == "raise":
        if result[1:] != expected[1:]:
            return f"other error: ours={result[1:]!r} numpy={expected[1:]!r}"
        return None
    r, e = result[1], expected[1]
    if type(r) is not type(e):
        return f"result type {type(r).__name__}, numpy's {type(e).__name__}"
    if isinstance(e, (np.ndarray, np.generic)):
        if r.dtype != e.dtype or np.shape(r) != np.shape(e):
            return f"dtype/shape {r.dtype}{np.shape(r)}, numpy's {e.dtype}{np.shape(e)}"
    try:
        _check_values(r, e, a_values, b_values, case.func, loop_dtype, probe[1])
    except AssertionError as exc:
        return f"values: {exc}"
    # inputs untouched (unless out= is one of them) and nothing written
    # outside out's elements
    if placed2 != "alias":
        for p, before in zip((qa, qb), inputs_before):
            now = p.raw if p.raw is not None else p.view
            if not np.array_equal(now, before) and p.raw is not None:
                return "an input was modified"
    if isinstance(placed2, Placed) and placed2.raw is not None:
        outside = ~placed2.element_mask()
        if np.any(placed2.raw[outside] != FILL):
            return "bytes outside out= were written"
    return None


def run_cases(seed, count, start=0, verbose=False, max_failures=20, log=print):
    """Runs cases [start, start + count) of seed: (passed, failures)."""
    import gufunc_matmul as gm
    passed, failures = 0, []
    trace = os.environ.get("GUFUNC_MATMUL_LONG_TRACE")
    for index in range(start, start + count):
        case = Case(seed, index)
        if trace:   # to find a case that crashes the process
            print("start", case.describe(), file=sys.stderr, flush=True)
        try:
            problem = run_case(case, gm, verbose)
        except Exception:  # noqa: BLE001 - a crash in the harness is a failure too
            problem = "harness error:\n" + traceback.format_exc()
        if problem is None:
            passed += 1
            if verbose:
                log("ok   " + case.describe())
        else:
            failures.append((case.describe(), problem))
            log(f"FAIL {case.describe()}\n     {problem}\n     replay: python "
                f"tools/long_random.py --seed {seed} --case {index} --verbose")
            if len(failures) >= max_failures:
                log(f"stopping after {max_failures} failures")
                break
    return passed, failures


# ------------------------------------------------------------------ CLI

def _isas(spec):
    if spec in ("current", ""):
        return []
    if spec == "all":
        out = subprocess.run([sys.executable, "-c",
                              "import gufunc_matmul; print(gufunc_matmul._core._available_isas())"],
                             capture_output=True, text=True, check=True, cwd="/")
        return [s.strip() for s in out.stdout.strip().split(",") if s.strip()]
    return [s.strip() for s in spec.split(",") if s.strip()]


def _child(isa, seed, start, count, extra):
    env = dict(os.environ)
    if isa:
        env["GUFUNC_MATMUL_ISA"] = isa
    cmd = [sys.executable, os.path.abspath(__file__), "--isa", "current",
           "--seed", str(seed), "--start", str(start), "--cases", str(count)] + extra
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd="/")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first case index")
    parser.add_argument("--case", type=int, help="replay this one case")
    parser.add_argument("--isa", default="current",
                        help="current (this process), all, or a comma-separated "
                             "list: each in a child process with GUFUNC_MATMUL_ISA")
    parser.add_argument("--jobs", type=int, default=1,
                        help="child processes per ISA, each a share of the cases")
    parser.add_argument("--max-failures", type=int, default=20)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.case is not None:
        args.start, args.cases = args.case, 1
    started = time.monotonic()
    isas = _isas(args.isa)
    if not isas and args.jobs <= 1:
        import gufunc_matmul
        passed, failures = run_cases(args.seed, args.cases, args.start, args.verbose,
                                     args.max_failures)
        print(f"isa={gufunc_matmul._core._isa()} seed={args.seed} "
              f"cases={args.start}..{args.start + args.cases - 1} "
              f"time={time.monotonic() - started:.1f}s")
        print(f"{passed} passed, {len(failures)} failed")
        return 1 if failures else 0
    extra = ["--max-failures", str(args.max_failures)] + (["--verbose"] if args.verbose else [])
    total_passed = total_failed = 0
    for isa in isas or [None]:
        jobs = max(1, args.jobs)
        share = -(-args.cases // jobs)
        procs = []
        for j in range(jobs):
            start = args.start + j * share
            count = min(share, args.start + args.cases - start)
            if count > 0:
                procs.append(_child(isa, args.seed, start, count, extra))
        for p in procs:
            text, _ = p.communicate()
            lines = text.strip().splitlines()
            summary = lines[-1] if lines else ""
            words = summary.split()
            if len(words) == 4 and words[1] == "passed,":
                passed, failed = int(words[0]), int(words[2])
            else:
                passed, failed = 0, 1
                print(f"child for isa={isa} ended without a summary (exit {p.returncode})")
            if failed or p.returncode:
                print("\n".join(lines[-60:]))
            else:
                print("\n".join(lines[-2:-1]))
            total_passed += passed
            total_failed += failed if (failed or p.returncode == 0) else 1
    print(f"total time={time.monotonic() - started:.1f}s")
    print(f"{total_passed} passed, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
