"""Hostile input: dtypes matmul has no loop for, bad and aliasing out=,
objects whose arithmetic raises or returns odd things, non-native byte
order, huge and zero strides.  Each gets numpy.matmul's behaviour (the same
result, or the same exception type and, where NumPy's ufunc machinery
writes it, the same message); no references leak over repeated calls; the
process stays healthy.
"""
import gc
import sys
import warnings

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import gufunc_matmul
from _reliability_util import (assert_bitwise_equal, assert_same_outcome,
                               healthy, outcome)

matmul = gufunc_matmul.matmul
# (ours, NumPy's) for the functions this NumPy has (vecdot: 2.0, matvec and
# vecmat: 2.2).
FUNCS = {name: (getattr(gufunc_matmul, name), getattr(np, name))
         for name in ("matmul", "vecdot", "matvec", "vecmat") if hasattr(np, name)}
REPEAT = 50


def _operands(func, x, y):
    """x, y (2-D) shaped for func: matrices, or vectors where it takes one."""
    if func == "vecdot":
        return x[0], y[:, 0]
    if func == "matvec":
        return x, y[:, 0]
    if func == "vecmat":
        return x[0], y
    return x, y


def _assert_no_new_references(call, *watched, repeat=REPEAT):
    """``call()`` repeated does not change the reference counts of the
    watched objects (arrays, dtypes, elements)."""
    call()   # first call: caches (type resolution, loops) may fill
    gc.collect()
    before = [sys.getrefcount(w) for w in watched]
    for _ in range(repeat):
        call()
    gc.collect()
    after = [sys.getrefcount(w) for w in watched]
    assert after == before, f"reference counts changed: {before} -> {after}"


# --------------------------------------------------- dtypes with no loop

def _unsupported():
    cases = {
        "structured": (np.zeros((2, 2), [("a", "f8"), ("b", "i4")]),) * 2,
        "structured vs float": (np.zeros((2, 2), [("a", "f8")]), np.ones((2, 2))),
        "unicode": (np.array([["a", "b"], ["c", "d"]]),) * 2,
        "bytes": (np.array([[b"a", b"b"], [b"c", b"d"]]),) * 2,
        "unicode vs float": (np.array([["1", "2"]]), np.ones((2, 1))),
        "datetime64": (np.zeros((2, 2), "M8[s]"),) * 2,
        "datetime64 vs int": (np.zeros((2, 2), "M8[D]"), np.ones((2, 2), int)),
        "timedelta64": (np.zeros((2, 2), "m8[s]"),) * 2,
        "timedelta64 vs int": (np.zeros((2, 2), "m8[s]"), np.ones((2, 2), int)),
        "void": (np.zeros((2, 2), "V8"),) * 2,
        "void vs float": (np.zeros((2, 2), "V8"), np.ones((2, 2))),
        "empty structured": (np.zeros((1, 0), [("a", "f8")]), np.zeros((0, 1), [("a", "f8")])),
    }
    if hasattr(np.dtypes, "StringDType"):  # NumPy >= 2.0
        strings = np.array([["a", "b"], ["c", "d"]], dtype=np.dtypes.StringDType())
        cases["StringDType"] = (strings,) * 2
    return cases


@pytest.mark.parametrize("func", list(FUNCS))
@pytest.mark.parametrize("name", list(_unsupported()))
def test_unsupported_dtypes_like_numpy(name, func):
    x, y = _unsupported()[name]
    ours, theirs = FUNCS[func]
    a, b = _operands(func, x, y)
    result = assert_same_outcome(ours, theirs, a, b)
    assert result[0] == "raise"
    _assert_no_new_references(lambda: outcome(ours, a, b), a, b, a.dtype, b.dtype)
    healthy()


# ------------------------------------------------------------ bad out=

def _readonly(shape, dtype=float):
    x = np.zeros(shape, dtype)
    x.flags.writeable = False
    return x


def _matrix(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(x)


def _bad_outs():
    return {
        "read-only": dict(out=_readonly((3, 5))),
        "read-only broadcast": dict(out=np.broadcast_to(np.zeros(5), (3, 5))),
        "too small rows": dict(out=np.zeros((2, 5))),
        "too small cols": dict(out=np.zeros((3, 4))),
        "too small 1-D": dict(out=np.zeros(5)),
        "too small 0-D": dict(out=np.zeros(())),
        "too many dims": dict(out=np.zeros((2, 3, 5))),
        "int (same_kind)": dict(out=np.zeros((3, 5), int)),
        "bool": dict(out=np.zeros((3, 5), bool)),
        "int, unsafe": dict(out=np.zeros((3, 5), int), casting="unsafe"),
        "float32": dict(out=np.zeros((3, 5), np.float32)),
        "float16 strided": dict(out=np.zeros((6, 10), np.float16)[::2, ::-2]),
        "complex": dict(out=np.zeros((3, 5), complex)),
        "object": dict(out=np.full((3, 5), None, object)),
        "unicode": dict(out=np.zeros((3, 5), "U8")),
        "structured": dict(out=np.zeros((3, 5), [("a", "f8")])),
        "datetime": dict(out=np.zeros((3, 5), "M8[s]")),
        "list": dict(out=[[0.0] * 5] * 3),
        "tuple of two": dict(out=(np.zeros((3, 5)), np.zeros((3, 5)))),
        "non-native": dict(out=np.zeros((3, 5), ">f8")),
        "matrix subclass": dict(out=_matrix(np.zeros((3, 5)))),
        "casting=no to f4": dict(out=np.zeros((3, 5), np.float32), casting="no"),
        "dtype f4, out f8": dict(out=np.zeros((3, 5)), dtype=np.float32),
    }


@pytest.mark.parametrize("name", list(_bad_outs()))
def test_bad_out_like_numpy(name):
    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(20.0).reshape(4, 5)
    kwargs = _bad_outs()[name]
    ours = outcome(matmul, a, b, **kwargs)
    theirs = outcome(np.matmul, a, b, **_bad_outs()[name])
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "raise":
        assert ours[1:] == theirs[1:]
    else:
        out = kwargs["out"]
        assert ours[1] is (out[0] if isinstance(out, tuple) else out)
        np.testing.assert_array_equal(ours[1], theirs[1], strict=True)
    out = kwargs["out"]
    _assert_no_new_references(lambda: outcome(matmul, a, b, **kwargs), a, b,
                              *(out if isinstance(out, tuple) else (out,)))
    healthy()


# ------------------------------------------- out= aliasing an input

def _aliasing_cases():
    """(name, builder): builder() -> (a, b, out, extra kwargs, buffers to
    compare), each call building fresh memory with the same contents."""
    def f8_as_i8():
        base = np.arange(16.0) - 5
        a = base.reshape(4, 4)
        return a, a.T, base.view(np.int64).reshape(4, 4), dict(casting="unsafe"), [base]

    def i4_as_f4():
        base = np.arange(36, dtype=np.int32) % 7 - 3
        a = base.reshape(6, 6)
        return a, a, base.view(np.float32).reshape(6, 6), dict(casting="unsafe"), [base]

    def f8_into_f4_half_of_b():
        a = np.arange(12.0).reshape(3, 4) - 4
        b = np.arange(24.0).reshape(4, 6) / 4
        out = b.view(np.float32)[:3, :6]      # overlaps the first rows of b
        return a, b, out, {}, [b]

    def bool_as_int8():
        base = (np.arange(25) % 3 == 0)
        a = base.reshape(5, 5)
        return a, a.T, base.view(np.int8).reshape(5, 5), {}, [base]

    def f8_as_c16():
        base = np.arange(32.0) % 5 - 2
        a = base.reshape(4, 8)
        b = (np.arange(32.0) % 3).reshape(8, 4)
        return a, b, base.view(np.complex128).reshape(4, 4), {}, [base]

    def c16_as_f8_pairs():
        base = (np.arange(16) + 1j * np.arange(16)[::-1]).astype(np.complex128)
        a = base.reshape(4, 4)
        return a, a, base.view(np.float64).reshape(4, 8)[:, ::2], dict(casting="unsafe"), [base]

    def i8_stack_as_u1():
        base = np.arange(2 * 3 * 3, dtype=np.int64) - 8
        a = base.reshape(2, 3, 3)
        out = base.view(np.uint8).reshape(2, 3, 24)[:, :, ::8]
        return a, a, out, dict(casting="unsafe"), [base]

    def blocked_f8_as_f4():
        base = (np.arange(200 * 200.0) % 11 - 5)
        a = base.reshape(200, 200)
        out = base.view(np.float32).reshape(200, 400)[:, 100:300]
        return a, a.T, out, {}, [base]

    def object_as_out():
        base = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=object)
        a = base.reshape(3, 3)
        return a, a, a.T, {}, [base]

    return {f.__name__: f for f in (f8_as_i8, i4_as_f4, f8_into_f4_half_of_b,
                                    bool_as_int8, f8_as_c16, c16_as_f8_pairs,
                                    i8_stack_as_u1, blocked_f8_as_f4,
                                    object_as_out)}


@pytest.mark.parametrize("name", list(_aliasing_cases()))
def test_out_aliasing_an_input_with_another_dtype(name):
    """out= is an input's memory seen as another dtype: NumPy copies the
    overlapping operand first; the bytes of the whole buffer afterwards are
    exactly NumPy's."""
    build = _aliasing_cases()[name]
    a, b, out, kwargs, buffers = build()
    ours = outcome(matmul, a, b, out=out, **kwargs)
    a2, b2, out2, kwargs2, buffers2 = build()
    theirs = outcome(np.matmul, a2, b2, out=out2, **kwargs2)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "raise":
        assert ours[1:] == theirs[1:]
    for mine, reference in zip(buffers, buffers2):
        assert_bitwise_equal(mine, reference, name)
    healthy()


# -------------------------------------------------- hostile objects

class Boom(Exception):
    pass


class Live:
    """Counts its live instances, to find leaked temporaries."""
    alive = 0

    def __init__(self, v):
        self.v = v
        Live.alive += 1

    def __del__(self):
        Live.alive -= 1

    def __repr__(self):
        return f"{type(self).__name__}({self.v!r})"

    def __eq__(self, other):
        return type(other) is type(self) and other.v == self.v

    __hash__ = None


class Plain(Live):
    def __mul__(self, o):
        return Plain(self.v * o.v)

    def __add__(self, o):
        return Plain(self.v + o.v)


class MulRaises(Live):
    def __mul__(self, o):
        raise Boom("mul")

    def __add__(self, o):
        return MulRaises(self.v + o.v)


class AddRaisesLate(Live):
    """+ raises on its third call in each product."""
    calls = 0

    def __mul__(self, o):
        return AddRaisesLate(self.v * o.v)

    def __add__(self, o):
        AddRaisesLate.calls += 1
        if AddRaisesLate.calls % 3 == 0:
            raise Boom("add")
        return AddRaisesLate(self.v + o.v)


class MulNone(Live):
    def __mul__(self, o):
        return None


class MulNotImplemented(Live):
    def __mul__(self, o):
        return NotImplemented


class MulStr(Live):
    def __mul__(self, o):
        return f"<{self.v}*{o.v}>"


class MulList(Live):
    def __mul__(self, o):
        return [self.v, o.v]


class MulArray(Live):
    """* returns a fresh ndarray: the sums are arrays held in object slots."""
    def __mul__(self, o):
        return np.array([self.v, o.v])


class AddOdd(Live):
    """+ returns an object of another class, which itself adds as a tuple."""
    def __mul__(self, o):
        return AddOdd(self.v * o.v)

    def __add__(self, o):
        return (self.v, getattr(o, "v", o))


class MulBaseException(Live):
    def __mul__(self, o):
        raise KeyboardInterrupt("from __mul__")


class Reentrant(Live):
    """* calls matmul itself (the object loop re-entered from inside)."""
    def __mul__(self, o):
        x = np.array([[self.v, 1], [2, o.v]], dtype=object)
        return Reentrant(int(gufunc_matmul.matmul(x, x)[0, 0]))

    def __add__(self, o):
        return Reentrant(self.v + o.v)


class CollectsGarbage(Live):
    """* and + run the (young generation's) garbage collector: borrowed
    references would die here."""
    def __mul__(self, o):
        gc.collect(0)
        return CollectsGarbage(self.v * o.v)

    def __add__(self, o):
        gc.collect(0)
        return CollectsGarbage(self.v + o.v)


_OBJECT_CLASSES = [Plain, MulRaises, AddRaisesLate, MulNone, MulNotImplemented,
                   MulStr, MulList, MulArray, AddOdd, MulBaseException, Reentrant,
                   CollectsGarbage]
_OBJECT_SHAPES = [((3, 4), (4, 2)), ((4,), (4,)), ((2, 1, 3), (2, 3, 2)),
                  ((2, 0), (0, 3)), ((1, 1), (1, 1))]


def _objects(cls, shape, start):
    n = int(np.prod(shape))
    arr = np.empty(n, dtype=object)
    for i in range(n):
        arr[i] = cls(start + i)
    return arr.reshape(shape)


def _object_outcome(func, a, b, **kwargs):
    try:
        r = func(a, b, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt too
        return ("raise", type(exc), str(exc))
    return ("ok", r)


def _same_object_results(x, y):
    """Elementwise equal by repr (elements may be arrays, lists, tuples)."""
    if isinstance(x, np.ndarray):
        assert isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape
        assert [repr(v) for v in x.ravel()] == [repr(v) for v in y.ravel()]
    else:
        assert repr(x) == repr(y) and type(x) is type(y)


@pytest.mark.parametrize("shapes", _OBJECT_SHAPES, ids=str)
@pytest.mark.parametrize("cls", _OBJECT_CLASSES, ids=lambda c: c.__name__)
def test_hostile_objects_like_numpy(cls, shapes):
    a = _objects(cls, shapes[0], 1)
    b = _objects(cls, shapes[1], 10)
    AddRaisesLate.calls = 0
    theirs = _object_outcome(np.matmul, a, b)
    AddRaisesLate.calls = 0
    ours = _object_outcome(matmul, a, b)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "raise" and theirs[1] is SystemError:
        # NumPy's object loop keeps going after an error in one matrix of a
        # stack, and the next one turns it into "SystemError: ... returned
        # a result with an exception set".  Ours stops at the first error
        # and raises it as it is: NumPy's result, not its bug.
        assert ours[1] is not SystemError, ours
        assert isinstance(theirs_cause(a, b), ours[1]), ours
    elif theirs[0] == "raise":
        assert ours[1:] == theirs[1:]
    else:
        _same_object_results(ours[1], theirs[1])


def theirs_cause(a, b):
    try:
        np.matmul(a, b)
    except BaseException as exc:  # noqa: BLE001
        return exc.__cause__ or exc.__context__
    return None


@pytest.mark.parametrize("with_out", [False, True], ids=["new", "out="])
@pytest.mark.parametrize("cls", _OBJECT_CLASSES, ids=lambda c: c.__name__)
def test_hostile_objects_leak_nothing(cls, with_out):
    """Repeated calls, failing or not, with or without out= (pre-filled with
    objects it must release exactly once): no operand element, out element
    or temporary product or sum survives."""
    a = _objects(cls, (3, 4), 1)
    b = _objects(cls, (4, 2), 10)
    sentinels = [Plain(-i) for i in range(6)]
    out = np.array(sentinels, dtype=object).reshape(3, 2) if with_out else None

    def call():
        AddRaisesLate.calls = 0
        r = _object_outcome(matmul, a, b, out=out) if with_out else \
            _object_outcome(matmul, a, b)
        if with_out and r[0] == "ok":
            assert r[1] is out
        del r
        if with_out:   # put the sentinels back for the next call
            out[...] = np.array(sentinels, dtype=object).reshape(3, 2)

    call()
    gc.collect()
    alive = Live.alive
    elements = list(a.ravel()) + list(b.ravel()) + sentinels
    counts = [sys.getrefcount(e) for e in elements]
    arrays = (a, b, out) if with_out else (a, b)
    array_counts = [sys.getrefcount(x) for x in arrays]
    for _ in range(REPEAT):
        call()
    gc.collect()
    assert Live.alive == alive, f"{Live.alive - alive} objects leaked"
    assert [sys.getrefcount(e) for e in elements] == counts
    assert [sys.getrefcount(x) for x in arrays] == array_counts
    healthy()


def test_vector_functions_with_hostile_objects_leak_nothing():
    """vecdot and vecmat call conjugate() on the first operand's elements."""
    class Conj(Plain):
        def conjugate(self):
            return Conj(-self.v)

    class ConjRaises(Plain):
        def conjugate(self):
            raise Boom("conjugate")

    for cls in (Conj, ConjRaises, MulRaises):
        x = _objects(cls, (5, 4), 1)
        y = _objects(cls, (5, 4), 7)
        for name in ("vecdot", "matvec", "vecmat"):
            ours, theirs = FUNCS[name]
            u, v = (x, y) if name == "vecdot" else (x, y[0]) if name == "matvec" \
                else (x[0], y.T)
            o1, o2 = _object_outcome(ours, u, v), _object_outcome(theirs, u, v)
            assert o1[0] == o2[0], (name, cls, o1, o2)
            if o2[0] == "raise":
                assert o1[1:] == o2[1:]
            else:
                _same_object_results(o1[1], o2[1])
            del o1, o2
            gc.collect()
            alive = Live.alive
            for _ in range(REPEAT // 5):
                _object_outcome(ours, u, v)
            gc.collect()
            assert Live.alive == alive, (name, cls.__name__)


# ------------------------------------------------ non-native byte order

_SWAPPED = [">f8", ">f4", ">f2", ">i4", ">i8", ">u2", ">i2", ">c16", ">c8", ">g", ">G"]


def _small_ints(rng, dtype, shape):
    dtype = np.dtype(dtype)
    x = rng.integers(-3, 4, shape)
    if dtype.kind == "u":
        x = np.abs(x)
    if dtype.kind == "c":
        x = x + 1j * rng.integers(-3, 4, shape)
    return x.astype(dtype)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((100, 130), (130, 90)),
                                    ((3, 20, 30), (30, 10)), ((700, 40), (40,)),
                                    ((40,), (40, 600)), ((5,), (5,))], ids=str)
@pytest.mark.parametrize("dtype", _SWAPPED)
def test_non_native_byte_order(dtype, shapes):
    """Big-endian operands (and out=): exact small-integer values, so the
    result must be numpy's to the bit after conversion to native order."""
    rng = np.random.default_rng(1)
    a = _small_ints(rng, dtype, shapes[0])
    b = _small_ints(rng, dtype, shapes[1])
    expected = np.matmul(a, b)
    r = matmul(a, b)
    assert r.dtype == expected.dtype
    np.testing.assert_array_equal(r, expected, strict=True)
    # one swapped, one native; and a swapped out=
    native = b.astype(b.dtype.newbyteorder("="))
    np.testing.assert_array_equal(matmul(a, native), np.matmul(a, native), strict=True)
    if np.ndim(expected):
        out = np.zeros(np.shape(expected), dtype)
        res = matmul(a, b, out=out)
        assert res is out
        np.testing.assert_array_equal(out.astype(expected.dtype), expected, strict=True)


# ---------------------------------------------------------- huge strides

try:
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _set_madvise_hugepage

def _strided(values, strides):
    """``values`` in a view with the given byte strides (any sign, any
    size), in a buffer of its own that spans all of it: calloc'd pages cost
    nothing until written, so gigabytes of span take a few pages."""
    offsets = [(n - 1) * s for n, s in zip(values.shape, strides)]
    low = sum(o for o in offsets if o < 0)
    high = sum(o for o in offsets if o > 0)
    # NumPy asks for transparent huge pages on large arrays: each element
    # written would then cost 2 MiB.
    previous = _set_madvise_hugepage(False)
    try:
        buf = np.zeros(high - low + values.itemsize, np.uint8)
    except MemoryError:
        pytest.skip(f"cannot reserve {(high - low) >> 20} MiB of address space")
    finally:
        _set_madvise_hugepage(previous)
    base = buf[-low:-low + values.itemsize].view(values.dtype)
    view = as_strided(base, values.shape, strides, writeable=True)
    view[...] = values
    return view


# (dtype, shape a, strides a, shape b, strides b): byte offsets past 2**31
# and 2**32, negative, odd (unaligned), and row offsets whose product with
# the index only overflows 32 bits.
_HUGE = [
    ("d", (3, 4), (2**31 + 8, 2**29 + 24), (4, 5), (8, 2**30)),
    ("d", (3, 4), (-(2**31 + 8), -(2**29 + 24)), (4, 5), (-8, 2**30)),
    ("d", (9, 2), (2**29 + 8, 8), (2, 9), (2**29 - 8, 2**28 + 16)),
    ("f", (5, 3), (2**30 + 1, 2**29 + 3), (3, 4), (2**31 + 5, 7)),   # unaligned
    ("e", (60, 70), (2**25 + 2, 2), (70, 50), (2, 2**25 + 6)),      # blocked
    ("d", (100, 130), (2**25, 8), (130, 90), (8, 2**25 + 8)),       # blocked
    ("D", (4, 3), (2**30 + 16, 16), (3, 2), (2**31 + 32, -(2**31))),
    ("q", (2, 3, 4), (2**31, 2**29, 2**27), (4, 5), (2**27, 8)),     # stack
    ("b", (5, 6), (2**29 + 1, 2**26 + 3), (6, 7), (2**28 + 5, 1)),
    ("?", (6, 130), (2**28 + 7, 2**20 + 1), (130, 5), (2**20 + 3, 2**29 + 1)),
    ("g", (3, 3), (2**31 + 16, 16), (3, 3), (16, 2**30 + 48)),
    ("d", (2**12,), (2**20 + 8,), (2**12,), (-(2**20 - 8),)),        # long vectors
]


@pytest.mark.parametrize("case", _HUGE, ids=lambda c: f"{c[0]}{c[1]}{c[2]}")
def test_huge_strides(case):
    dtype, sa, ta, sb, tb = case
    rng = np.random.default_rng(2)
    if dtype == "?":
        a_vals, b_vals = rng.integers(0, 2, sa) > 0, rng.integers(0, 2, sb) > 0
    else:
        a_vals, b_vals = _small_ints(rng, dtype, sa), _small_ints(rng, dtype, sb)
    a = _strided(a_vals, ta)
    b = _strided(b_vals, tb)
    assert a.strides == ta and b.strides == tb
    expected = np.matmul(a_vals, b_vals)
    np.testing.assert_array_equal(np.matmul(a, b), expected, strict=True)
    np.testing.assert_array_equal(matmul(a, b), expected, strict=True)
    if np.ndim(expected) == 2:
        item = expected.itemsize
        out = _strided(np.zeros_like(expected), (2**30 + 8 * item, -3 * item))
        res = matmul(a, b, out=out)
        assert res is out
        np.testing.assert_array_equal(out, expected)


# ----------------------------------------------------------- zero strides

_BROADCASTS = {
    "rows of a": lambda x, y: (np.broadcast_to(x[:1], x.shape), y),
    "cols of a": lambda x, y: (np.broadcast_to(x[:, :1], x.shape), y),
    "rows of b": lambda x, y: (x, np.broadcast_to(y[:1], y.shape)),
    "cols of b": lambda x, y: (x, np.broadcast_to(y[:, :1], y.shape)),
    "all of both": lambda x, y: (np.broadcast_to(x[:1, :1], x.shape),
                                 np.broadcast_to(y[:1, :1], y.shape)),
    "stack of a": lambda x, y: (np.broadcast_to(x, (5,) + x.shape), y),
    "stack of both": lambda x, y: (np.broadcast_to(x, (3, 1) + x.shape),
                                   np.broadcast_to(y, (4,) + y.shape)),
}


@pytest.mark.parametrize("sizes", [(3, 4, 5), (1, 300, 1), (200, 150, 180), (700, 40, 1)],
                         ids=str)
@pytest.mark.parametrize("dtype", ["d", "f", "e", "i", "b", "?", "D", "O"])
@pytest.mark.parametrize("how", list(_BROADCASTS))
def test_zero_strides(how, dtype, sizes):
    m, k, n = sizes
    if dtype == "O" and m * k * n > 10000:
        pytest.skip("object loop: small sizes only")
    rng = np.random.default_rng(3)
    x = _small_ints(rng, dtype, (m, k)) if dtype != "?" else rng.integers(0, 2, (m, k)) > 0
    y = _small_ints(rng, dtype, (k, n)) if dtype != "?" else rng.integers(0, 2, (k, n)) > 0
    a, b = _BROADCASTS[how](x, y)
    with np.errstate(all="ignore"):
        r, e = matmul(a, b), np.matmul(a, b)
    np.testing.assert_array_equal(r, e, strict=True)


@pytest.mark.parametrize("dtype", ["d", "e", "q", "D", "O"])
def test_zero_stride_out_like_numpy(dtype):
    """A writeable out= whose elements share memory (zero strides): NumPy
    computes into a copy and writes it back in order; so do we."""
    rng = np.random.default_rng(4)
    a = _small_ints(rng, dtype if dtype != "O" else "q", (3, 4)).astype(dtype)
    b = _small_ints(rng, dtype if dtype != "O" else "q", (4, 5)).astype(dtype)
    for shape, strides, size in [((3, 5), (0, None), 5), ((3, 5), (0, 0), 1),
                                 ((2, 3, 5), (0, None, 0), 3)]:
        results = []
        for func in (matmul, np.matmul):
            buf = np.zeros(size, dtype)
            item = buf.itemsize
            st = tuple(item if s is None else s for s in strides)
            out = as_strided(buf, shape, st, writeable=True)
            aa = np.stack([a, a + 1]) if len(shape) == 3 else a
            func(aa, b, out=out)
            results.append(buf)
        np.testing.assert_array_equal(results[0], results[1], strict=True)
