"""gufunc_matmul.MatmulArray and gufunc_matmul.asarray.

The oracle is ndarray itself: every operation is done once on plain
ndarrays and once with MatmulArray operands, and the two must agree (same
results or the same error), except that matrix products are computed by
gufunc_matmul (checked by counting calls) and arrays come back as
MatmulArray."""
import copy
import operator
import pickle
import re
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import gufunc_matmul
from gufunc_matmul import MatmulArray, asarray

ALL_CHARS = "?bBhHiIlLqQefdgFDGO"
VECTOR_FUNCS = [name for name in ("vecdot", "matvec", "vecmat")
                if isinstance(getattr(np, name, None), np.ufunc)]


def dtype_id(char):
    dtype = np.dtype(char)
    return f"{dtype.char}-{dtype.name}"


def values(rng, shape, char):
    dtype = np.dtype(char)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "O":
        out = np.empty(shape, object)
        out.ravel()[:] = [int(v) for v in rng.integers(-9, 9, out.size)]
        return out
    data = rng.integers(0 if dtype.kind == "u" else -60, 60, shape)
    if dtype.kind == "c":
        data = data + 1j * rng.integers(-60, 60, shape)
    if dtype.kind == "f":
        data = data / 4          # exact in every float type
    return data.astype(dtype)


def plain(obj):
    """MatmulArray to ndarray, recursively through tuples."""
    if isinstance(obj, tuple):
        return tuple(plain(o) for o in obj)
    return obj.view(np.ndarray) if isinstance(obj, MatmulArray) else obj


def outcome(func, *args):
    try:
        with np.errstate(all="ignore"):
            return ("ok", func(*args))
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome
        return ("raise", type(exc), str(exc))


def assert_like_ndarray(result, expected):
    """`result` (with MatmulArray operands) is `expected` (with ndarrays)
    with MatmulArray in place of ndarray."""
    if isinstance(expected, tuple):
        assert isinstance(result, tuple) and len(result) == len(expected)
        for r, e in zip(result, expected):
            assert_like_ndarray(r, e)
        return
    if type(expected) is np.ndarray:
        assert type(result) is MatmulArray, type(result)
        assert result.dtype == expected.dtype and result.shape == expected.shape
        assert_array_equal(result.view(np.ndarray), expected, strict=True)
    else:
        assert type(result) is type(expected), (type(result), type(expected))
        assert_array_equal(result, expected, strict=True)


class CallCounter:
    """Stands in for gufunc_matmul's ufuncs in MatmulArray's table of
    replacements, counting the calls (from any thread) it passes on."""

    def __init__(self, ufunc):
        self.ufunc = ufunc
        self.nout = ufunc.nout
        self.calls = 0
        self.threads = set()
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.calls += 1
            self.threads.add(threading.get_ident())
        return self.ufunc(*args, **kwargs)

    def __getattr__(self, method):   # reduce, outer, ...
        return getattr(self.ufunc, method)


@pytest.fixture
def counted(monkeypatch):
    """{NumPy ufunc name: CallCounter} installed in MatmulArray."""
    table = gufunc_matmul._array._REPLACEMENTS
    counters = {}
    for theirs, mine in list(table.items()):
        counters[theirs.__name__] = CallCounter(mine)
        monkeypatch.setitem(table, theirs, counters[theirs.__name__])
    return counters


# ------------------------------------------------------------------ asarray


def test_asarray_views_without_copying():
    x = np.arange(6.0).reshape(2, 3)
    a = asarray(x)
    assert type(a) is MatmulArray
    assert a.base is x and np.shares_memory(a, x)
    assert asarray(a) is a
    assert asarray(a, dtype=np.float64) is a
    assert asarray(a, dtype="f8") is a
    f = np.asfortranarray(x)
    assert asarray(f).flags.f_contiguous


def test_asarray_converts_and_copies_when_needed():
    x = np.arange(6).reshape(2, 3)
    a = asarray(x, dtype=np.float32)
    assert type(a) is MatmulArray and a.dtype == np.float32
    assert not np.shares_memory(a, x)
    assert_array_equal(a, x)
    b = asarray(asarray(x), np.int8)
    assert b.dtype == np.int8
    for obj, expected in [([[1, 2], [3, 4]], np.array([[1, 2], [3, 4]])),
                          (3.5, np.array(3.5)), ((1j, 2), np.array([1j, 2])),
                          (np.float32(2), np.array(2, np.float32)),
                          (np.ma.masked_array([1, 2], [0, 1]), np.array([1, 2])),
                          (memoryview(b"ab"), np.array([97, 98], np.uint8))]:
        a = asarray(obj)
        assert type(a) is MatmulArray
        assert a.dtype == expected.dtype and a.shape == expected.shape
        assert_array_equal(a.view(np.ndarray), expected)

    class Sub(MatmulArray):
        pass

    s = np.arange(3).view(Sub)
    assert type(asarray(s)) is MatmulArray


def test_is_public():
    assert gufunc_matmul.MatmulArray is MatmulArray
    assert gufunc_matmul.asarray is asarray
    assert {"MatmulArray", "asarray"} <= set(gufunc_matmul.__all__)
    assert issubclass(MatmulArray, np.ndarray)
    assert MatmulArray.__module__ == "gufunc_matmul"


# ----------------------------------------------------- the operator, dtypes

# (shape of a, shape of b): matrices, vectors on either side, stacks, empty
PRODUCT_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)),
                  ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 0), (0, 2)),
                  ((0, 3), (3, 2)), ((5, 70), (70, 9))]


@pytest.mark.parametrize("char", ALL_CHARS, ids=dtype_id)
def test_matmul_operator_for_every_dtype(char, counted):
    rng = np.random.default_rng(ALL_CHARS.index(char))
    for shape_a, shape_b in PRODUCT_SHAPES:
        x, y = values(rng, shape_a, char), values(rng, shape_b, char)
        ours = gufunc_matmul.matmul(x, y)
        with np.errstate(all="ignore"):
            theirs = x @ y
        calls = counted["matmul"].calls
        for result in [asarray(x) @ asarray(y), asarray(x) @ y, x @ asarray(y),
                       np.matmul(asarray(x), y), np.matmul(x, asarray(y)),
                       asarray(x).__matmul__(y), asarray(y).__rmatmul__(x)]:
            # ndarray's kind of result (a scalar for two vectors) and
            # values, bit for bit those of gufunc_matmul.matmul
            assert_like_ndarray(result, theirs)
            assert_array_equal(plain(result), ours, strict=True)
        assert counted["matmul"].calls == calls + 7


@pytest.mark.parametrize("char", "?ilfdDO", ids=dtype_id)
def test_other_side_any_array_like(char, counted):
    rng = np.random.default_rng(1)
    x = values(rng, (2, 2), char)
    a = asarray(x)
    for other in [x.tolist(), tuple(map(tuple, x.tolist())), x[0].tolist()]:
        for func in (operator.matmul, lambda p, q: q @ p):
            expected = outcome(func, x, other)
            result = outcome(func, a, other)
            assert result[0] == expected[0]
            if expected[0] == "ok":
                assert_like_ndarray(result[1], expected[1])
    assert counted["matmul"].calls > 0


def test_vector_products_return_numpy_scalars():
    for char in "?ilfdDO":
        x = values(np.random.default_rng(2), (5,), char)
        a = asarray(x)
        for result in (a @ a, a @ x, x @ a, np.matmul(a, x)):
            expected = x @ x
            assert type(result) is type(expected)
            assert result == expected
    # 0-d results of other ufuncs are scalars too, as for ndarray
    a = asarray([1.0, 2.0])
    assert type(a.sum()) is np.float64
    assert type(np.add(a[0], a[1])) is np.float64


def test_numpy_functions_use_our_kernels(counted):
    rng = np.random.default_rng(3)
    a, b = asarray(rng.standard_normal((3, 4))), rng.standard_normal((4, 2))
    np.matmul(a, b)
    np.matmul(b.T, a.T)
    np.matmul(a, b, out=np.empty((3, 2)))
    np.linalg.matrix_power(asarray(np.eye(3)), 3)
    assert counted["matmul"].calls >= 5
    for name in VECTOR_FUNCS:
        x, y = asarray(rng.standard_normal((3, 4))), rng.standard_normal(4)
        args = {"vecdot": (x, y), "matvec": (x, y), "vecmat": (y, x.T)}[name]
        expected = getattr(gufunc_matmul, name)(*map(plain, args))
        result = getattr(np, name)(*args)
        assert type(result) is MatmulArray
        assert_array_equal(result.view(np.ndarray), expected, strict=True)
        assert counted[name].calls == 1


def test_replacement_table_points_at_gufunc_matmul():
    table = gufunc_matmul._array._REPLACEMENTS
    assert table[np.matmul] is gufunc_matmul.matmul
    for name in VECTOR_FUNCS:
        assert table[getattr(np, name)] is getattr(gufunc_matmul, name)


def test_calling_our_ufuncs_with_matmul_arrays():
    a = asarray(np.arange(4.0).reshape(2, 2))
    assert type(gufunc_matmul.matmul(a, a)) is MatmulArray
    assert type(gufunc_matmul.vecdot(a, a)) is MatmulArray
    assert type(gufunc_matmul.matmul(a[0], a[0])) is np.float64


# ------------------------------------------------------------------ in place


def _inplace(x, y):
    x @= y
    return x


INPLACE_CASES = [
    ("d", (3, 3), "d", (3, 3)), ("d", (2, 3), "d", (3, 3)), ("f", (3, 3), "d", (3, 3)),
    ("D", (2, 2), "d", (2, 2)), ("l", (2, 2), "l", (2, 2)), ("l", (2, 2), "d", (2, 2)),
    ("b", (2, 2), "l", (2, 2)), ("?", (2, 2), "?", (2, 2)), ("O", (2, 2), "O", (2, 2)),
    ("d", (3,), "d", (3, 3)), ("d", (3,), "d", (3,)), ("d", (3, 3), "d", (3,)),
    ("d", (3, 3), "d", (3, 2)), ("d", (2, 3, 3), "d", (3, 3)), ("d", (3, 3), "d", (2, 3, 3)),
    ("d", (3, 3), "d", (4, 4)), ("d", (), "d", (3, 3)), ("d", (2, 3, 3), "d", (1, 3, 3)),
    ("d", (3, 3), "d", 2.0),
]


@pytest.mark.parametrize("case", INPLACE_CASES, ids=str)
def test_inplace_like_ndarray(case, counted):
    char_x, shape_x, char_y, shape_y = case
    rng = np.random.default_rng(4)
    x = values(rng, shape_x, char_x)
    y = values(rng, shape_y, char_y) if isinstance(shape_y, tuple) else shape_y
    expected = outcome(_inplace, x.copy(), y)
    for left, right in [(asarray(x.copy()), y), (asarray(x.copy()), asarray(y)),
                        (x.copy(), asarray(y))]:
        before_id, before_type = id(left), type(left)
        calls = counted["matmul"].calls
        result = outcome(_inplace, left, right)
        assert result[0] == expected[0], (result, expected)
        if expected[0] == "raise":
            assert result[1:] == expected[1:]
            continue
        out = result[1]
        assert id(out) == before_id and type(out) is before_type
        assert out.dtype == np.dtype(char_x)
        assert_array_equal(plain(out), expected[1], strict=True)
        assert counted["matmul"].calls == calls + 1


def test_inplace_with_itself_reads_the_inputs_first():
    x = np.arange(9.0).reshape(3, 3)
    expected = x @ x
    a = asarray(x)
    a @= a
    assert_array_equal(a.view(np.ndarray), expected)
    assert_array_equal(x, expected)      # a was a view of x
    b = asarray(np.arange(9.0).reshape(3, 3))
    b @= b.T
    assert_array_equal(b.view(np.ndarray),
                       np.arange(9.0).reshape(3, 3) @ np.arange(9.0).reshape(3, 3).T)


# ----------------------------------------------------- operator deferral


class ReflectedNoUfunc:
    """Opts out of ufuncs: NumPy's operators must return NotImplemented."""
    __array_ufunc__ = None

    def __matmul__(self, other):
        return "matmul"

    def __rmatmul__(self, other):
        return "rmatmul"

    def __imatmul__(self, other):
        return "imatmul"


class HighPriority:
    """Legacy deferral: higher __array_priority__ and a reflected method."""
    __array_priority__ = 100.0

    def __rmatmul__(self, other):
        return "rmatmul"

    def __matmul__(self, other):
        return "matmul"


class LowPriority:
    __array_priority__ = -100.0

    def __rmatmul__(self, other):
        return "rmatmul"


class HighPriorityNoReflection:
    __array_priority__ = 100.0


class Duck:
    """Implements __array_ufunc__ itself."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return ("duck", ufunc.__name__, method)

    def __rmatmul__(self, other):
        return "rmatmul"


class DuckDeclines:
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return NotImplemented

    def __rmatmul__(self, other):
        return "rmatmul"


class OtherSubclass(np.ndarray):
    def __rmatmul__(self, other):
        return "subclass rmatmul"


class OtherSubclassWithUfunc(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return "subclass ufunc"


class PrioritySubclass(np.ndarray):
    __array_priority__ = 50.0


def _others():
    yield ReflectedNoUfunc()
    yield HighPriority()
    yield LowPriority()
    yield HighPriorityNoReflection()
    yield Duck()
    yield DuckDeclines()
    yield np.eye(2).view(OtherSubclass)
    yield np.eye(2).view(OtherSubclassWithUfunc)
    yield np.eye(2).view(PrioritySubclass)
    yield np.ma.masked_array(np.eye(2), [[0, 1], [0, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        yield np.asmatrix(np.eye(2))
    yield np.float64(2.0)
    yield 2
    yield "text"
    yield None


OPERATIONS = {
    "a @ other": lambda a, o: a @ o,
    "other @ a": lambda a, o: o @ a,
    "a @= other": lambda a, o: _inplace(a, o),
    "other @= a": lambda a, o: _inplace(o, a),
    "np.matmul(a, other)": lambda a, o: np.matmul(a, o),
    "np.matmul(other, a)": lambda a, o: np.matmul(o, a),
    "a.__matmul__(other)": lambda a, o: a.__matmul__(o),
    "a.__rmatmul__(other)": lambda a, o: a.__rmatmul__(o),
}


#: What NumPy does for any ndarray subclass of this name that leaves the
#: operators and ufuncs alone: the oracle for operator deferral, which
#: (by Python's rules) depends on the class, not only on ndarray.
ReferenceArray = type("MatmulArray", (np.ndarray,), {"__module__": __name__})


def _normalized(message):
    return re.sub(r"0x[0-9a-fA-F]+", "0x...", message)


def _same_outcome(result, expected):
    assert result[0] == expected[0], (result, expected)
    if expected[0] == "raise":
        assert result[1] is expected[1]
        assert _normalized(result[2]) == _normalized(expected[2])
        return
    r, e = result[1], expected[1]
    if type(e) is ReferenceArray:
        assert type(r) is MatmulArray
        assert_array_equal(r.view(np.ndarray), e.view(np.ndarray), strict=True)
    elif isinstance(e, np.ndarray):     # another subclass wins, as for ndarray
        assert type(r) is type(e)
        assert_array_equal(np.asarray(r), np.asarray(e), strict=True)
    else:
        assert r == e or r is e, (r, e)


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("other", range(len(list(_others()))),
                         ids=[type(o).__name__ for o in _others()])
def test_operator_deferral_like_ndarray(operation, other):
    func = OPERATIONS[operation]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = outcome(func, x.copy().view(ReferenceArray), list(_others())[other])
    result = outcome(func, asarray(x.copy()), list(_others())[other])
    _same_outcome(result, expected)


def test_deferral_reaches_the_reflected_method(counted):
    a = asarray(np.eye(2))
    assert a @ ReflectedNoUfunc() == "rmatmul"
    assert ReflectedNoUfunc() @ a == "matmul"
    assert a @ HighPriority() == "rmatmul"
    assert HighPriority() @ a == "matmul"
    assert a @ Duck() == ("duck", "matmul", "__call__")
    assert Duck() @ a == ("duck", "matmul", "__call__")
    with pytest.raises(TypeError, match="does not support ufuncs"):
        np.matmul(a, ReflectedNoUfunc())
    # an object with a (non-None) __array_ufunc__ is not deferred to: the
    # product goes through NumPy's dispatch, and both decline
    with pytest.raises(TypeError, match="all returned NotImplemented"):
        a @ DuckDeclines()
    assert counted["matmul"].calls == 0
    # with a sibling subclass, the first operand's type wins, as for any
    # two ndarray subclasses of equal __array_priority__
    s = np.eye(2).view(OtherSubclass)
    assert type(a @ s) is MatmulArray and type(s @ a) is OtherSubclass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        assert type(a @ np.asmatrix(np.eye(2))) is np.matrix
    assert counted["matmul"].calls == 3


# ------------------------------------------------- everything else: ndarray

#: Ufunc calls: the results are ndarray's, with MatmulArray for ndarray
#: (NumPy scalars stay scalars, as for ndarray).
UFUNC_CALLS = {
    "add": lambda a: a + 1,
    "radd": lambda a: 1.5 + a,
    "negative": lambda a: -a,
    "sin": lambda a: np.sin(a),
    "compare": lambda a: a > 2,
    "divmod": lambda a: divmod(a, 2),
    "modf": lambda a: np.modf(a),
    "sum": lambda a: a.sum(),
    "sum axis": lambda a: a.sum(axis=0),
    "np.sum keepdims": lambda a: np.sum(a, axis=1, keepdims=True),
    "reduce": lambda a: np.multiply.reduce(a, axis=1),
    "accumulate": lambda a: np.add.accumulate(a),
    "reduceat": lambda a: np.add.reduceat(a, [0, 1], axis=1),
    "outer": lambda a: np.multiply.outer(a[0], a[1]),
    "at": lambda a: (np.add.at(a, [0, 0], 1), a)[1],
    "out": lambda a: np.add(a, 1, out=a),
    "out tuple": lambda a: np.add(a, a, out=(a,)),
    "out plain": lambda a: np.add(a, 1, out=np.empty((2, 2))),
    "divmod out": lambda a: np.divmod(a, 2, out=(a, np.empty((2, 2)))),
    "where": lambda a: np.add(a, 1, out=np.zeros((2, 2)), where=a > 2),
    "mean": lambda a: a.mean(),
    "std": lambda a: a.std(axis=0),
    "max": lambda a: np.max(a, axis=1),
    "min scalar": lambda a: a.min(),
    "clip": lambda a: np.clip(a, 1.5, 3),
    "isnan": lambda a: np.isnan(a),
    "0-d": lambda a: np.add(a[0, 0], a[1, 1]),
    "bad ufunc call": lambda a: np.add(a, "x"),
    "matmul reduce": lambda a: np.matmul.reduce(a),
    "matmul outer": lambda a: np.matmul.outer(a, a),
}

#: Other NumPy functions: what any ndarray subclass gets.
FUNCTION_CALLS = {
    "linalg.inv": lambda a: np.linalg.inv(a),
    "dot": lambda a: a.dot(a),
    "np.dot": lambda a: np.dot(a, a),
    "concatenate": lambda a: np.concatenate([a, a]),
    "where": lambda a: np.where(a > 2, a, 0),
    "astype": lambda a: a.astype(np.int32),
    "tolist": lambda a: a.tolist(),
    "sort": lambda a: np.sort(a, axis=0),
    "einsum": lambda a: np.einsum("ij,jk", a, a),
    "tensordot": lambda a: np.tensordot(a, a, 1),
}


@pytest.mark.parametrize("call", list(UFUNC_CALLS))
def test_ufuncs_behave_like_ndarray(call, counted):
    """As for any ndarray subclass, except that 0-d results are NumPy
    scalars where ndarray gives scalars."""
    func = UFUNC_CALLS[call]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected_nd = outcome(func, x.copy())
    expected = outcome(func, x.copy().view(ReferenceArray))
    result = outcome(func, asarray(x.copy()))
    assert result[0] == expected[0] == expected_nd[0], (result, expected)
    if expected[0] == "raise":
        _same_outcome(result, expected)
        return

    def check(r, e, e_nd):
        if isinstance(e, tuple):
            assert isinstance(r, tuple) and len(r) == len(e)
            for parts in zip(r, e, e_nd):
                check(*parts)
        elif isinstance(e_nd, np.generic):
            assert type(r) is type(e_nd) and r == e_nd
        else:
            _same_outcome(("ok", r), ("ok", e))

    check(result[1], expected[1], expected_nd[1])
    assert counted["matmul"].calls == 0


@pytest.mark.parametrize("call", list(FUNCTION_CALLS))
def test_other_functions_behave_like_any_subclass(call):
    func = FUNCTION_CALLS[call]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = outcome(func, x.copy().view(ReferenceArray))
    result = outcome(func, asarray(x.copy()))
    _same_outcome(result, expected)


def test_out_returns_the_given_array():
    a = asarray(np.arange(4.0).reshape(2, 2))
    assert np.add(a, 1, out=a) is a
    out = np.empty((2, 2))
    assert np.add(a, 1, out=out) is out
    m = asarray(np.empty((2, 2)))
    assert np.add(np.ones((2, 2)), 1, out=m) is m
    assert np.matmul(a, a, out=m) is m
    q, r = asarray(np.empty((2, 2))), np.empty((2, 2))
    result = np.divmod(a, 3, out=(q, r))
    assert result[0] is q and result[1] is r


def test_views_slices_and_copies():
    x = np.arange(24.0).reshape(2, 3, 4)
    a = asarray(x)
    for view in [a[0], a[:, 1], a[..., ::2], a.T, a.reshape(6, 4), a.ravel(),
                 a.view(), a.swapaxes(0, 1), a[None], a.squeeze(), a.copy(),
                 copy.copy(a), copy.deepcopy(a), np.asanyarray(a), a.astype(np.float32),
                 a.flatten(), np.transpose(a), a.real]:
        assert type(view) is MatmulArray
    assert type(a[0, 0, 0]) is np.float64
    assert type(np.asarray(a)) is np.ndarray
    assert type(np.array(a)) is np.ndarray
    assert type(np.array(a, subok=True)) is MatmulArray
    assert a[0].base is not None
    assert a.copy().flags.owndata
    assert np.shares_memory(a.T, x)
    a[0, 0, 0] = 100
    assert x[0, 0, 0] == 100
    assert_array_equal(a[1] @ a[1].T, x[1] @ x[1].T)


@pytest.mark.parametrize("char", ALL_CHARS, ids=dtype_id)
def test_pickle_round_trips(char):
    rng = np.random.default_rng(6)
    for x in [values(rng, (3, 4), char), np.asfortranarray(values(rng, (3, 4), char)),
              values(rng, (0, 2), char), values(rng, (), char)]:
        a = asarray(x)
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            data = pickle.dumps(a, protocol=protocol)
            assert b"gufunc_matmul" in data and b"MatmulArray" in data
            b = pickle.loads(data)
            assert type(b) is MatmulArray
            assert b.dtype == a.dtype and b.shape == a.shape
            assert b.flags.f_contiguous == a.flags.f_contiguous
            assert_array_equal(b.view(np.ndarray), x)
    y = pickle.loads(pickle.dumps(asarray(np.eye(2))))
    assert type(y @ y) is MatmulArray


def test_printing_is_ndarrays():
    x = np.array([[1.5, 2.0], [3.0, -4.25]])
    a = asarray(x)
    # what NumPy prints for any ndarray subclass named MatmulArray
    reference = type("MatmulArray", (np.ndarray,), {})
    assert repr(a) == repr(x.view(reference))
    assert repr(a).startswith("MatmulArray([[")
    assert str(a) == str(x)
    assert format(a) == format(x)
    assert repr(asarray(np.arange(3, dtype=np.int8))) == "MatmulArray([0, 1, 2], dtype=int8)"
    assert repr(a[0, 0]) == repr(x[0, 0])
    with np.printoptions(precision=1):
        assert repr(a) == repr(x.view(reference))


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0",
                    reason="the examples show NumPy 2's scalar repr")
@pytest.mark.parametrize("obj", [MatmulArray, asarray], ids=["MatmulArray", "asarray"])
def test_docstring_examples_run(obj):
    import doctest

    tests = doctest.DocTestFinder().find(obj.__doc__, obj.__name__, globs={})
    assert tests and tests[0].examples
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
