"""gufunc_matmul.vecdot, matvec and vecmat against NumPy's functions of the
same names (NumPy >= 2.2), or against numpy.matmul where this NumPy has
none: every dtype, layouts, broadcasting, conjugation, the gufunc keywords,
object arrays and the errors."""
import gc
import pickle
import sys
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import gufunc_matmul
from gufunc_matmul import matvec, vecdot, vecmat

NAMES = ["vecdot", "matvec", "vecmat"]
SIGNATURES = {"vecdot": "(n),(n)->()", "matvec": "(m,n),(n)->(m)",
              "vecmat": "(n),(n,m)->(m)"}
OURS = {"vecdot": vecdot, "matvec": matvec, "vecmat": vecmat}

#: NumPy's own functions, where this NumPy (>= 2.2) has them.
NUMPY_HAS_THEM = all(isinstance(getattr(np, name, None), np.ufunc)
                     for name in NAMES)
needs_numpy_functions = pytest.mark.skipif(
    not NUMPY_HAS_THEM, reason="NumPy < 2.2 has no vecdot/matvec/vecmat ufuncs")

NUMERIC_CHARS = "?bBhHiIlLqQefdgFDG"
ALL_CHARS = NUMERIC_CHARS + "O"


def dtype_id(char):
    dtype = np.dtype(char)
    return f"{dtype.char}-{dtype.name}"


def _conj(x):
    x = np.asarray(x)
    return np.conjugate(x) if x.dtype.kind in "cO" else x


def _via_matmul(name, x, y):
    """The definition through numpy.matmul, for NumPy without the function."""
    x, y = np.asarray(x), np.asarray(y)
    if name == "vecdot":
        return np.matmul(_conj(x)[..., None, :], y[..., :, None])[..., 0, 0]
    if name == "matvec":
        return np.matmul(x, y[..., :, None])[..., 0]
    return np.matmul(_conj(x)[..., None, :], y)[..., 0, :]


def reference(name, x, y, **kwargs):
    """NumPy's result (floating-point warnings silenced)."""
    with np.errstate(all="ignore"):
        if NUMPY_HAS_THEM:
            return getattr(np, name)(x, y, **kwargs)
        assert not kwargs, "keywords need NumPy's own functions"
        result = _via_matmul(name, x, y)
        return result[()] if isinstance(result, np.ndarray) and not result.ndim else result


def ours(name, x, y, **kwargs):
    with np.errstate(all="ignore"):
        return OURS[name](x, y, **kwargs)


def outcome(func, *args, **kwargs):
    """('ok', result) or ('raise', exception type, message)."""
    try:
        with np.errstate(all="ignore"):
            return ("ok", func(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome
        return ("raise", type(exc), str(exc))


def shapes_for(name, batch_x, batch_y, m, k):
    """Operand shapes: vectors of k, matrices of m x k (matvec) or k x m
    (vecmat), with stack shapes batch_x and batch_y."""
    if name == "vecdot":
        return batch_x + (k,), batch_y + (k,)
    if name == "matvec":
        return batch_x + (m, k), batch_y + (k,)
    return batch_x + (k,), batch_y + (k, m)


def values(rng, shape, char, exact=False):
    """Random operands of a dtype.  ``exact``: small integers, so that every
    float result is exact whatever the summation order."""
    dtype = np.dtype(char)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        # large enough to wrap around in the narrow types
        low = 0 if dtype.kind == "u" else -100
        return rng.integers(low, 100, shape).astype(dtype)
    if dtype.kind == "O":
        data = rng.integers(-9, 9, shape) + 1j * rng.integers(-9, 9, shape)
        out = np.empty(shape, dtype=object)
        out.ravel()[:] = [complex(v) if i % 3 else int(v.real)
                          for i, v in enumerate(data.ravel())]
        return out
    if exact or dtype == np.float16:
        real = rng.integers(-8, 9, shape)
        imag = rng.integers(-8, 9, shape)
    else:
        real = rng.standard_normal(shape)
        imag = rng.standard_normal(shape)
    if dtype.kind == "c":
        return (real + 1j * imag).astype(dtype)
    return real.astype(dtype)


def magnitude(name, x, y, wide):
    """|conj(x)| products summed in a wide type: the scale of the rounding
    error of an order-dependent sum."""
    def finite_abs(a):
        a = np.asarray(a)
        if a.dtype.kind in "biu":     # abs(int8(-128)) wraps: widen first
            return np.abs(a.astype(wide))
        with np.errstate(all="ignore"):
            return np.where(np.isfinite(a), np.abs(a), 0).astype(wide)
    return _via_matmul(name, finite_abs(x), finite_abs(y))


def assert_same_kind(result, expected):
    """Same Python type (NumPy scalar or ndarray), dtype and shape."""
    assert type(result) is type(expected), (type(result), type(expected))
    if isinstance(expected, (np.ndarray, np.generic)):
        assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
        assert result.dtype.char == expected.dtype.char
        assert result.shape == expected.shape, (result.shape, expected.shape)


def assert_values_match(name, result, expected, x, y):
    """Exact for bool, integers, float16 and object; for other floats the
    same non-finite places and finite values within the summation error
    bound 2 (k + 2) eps (|x| |y|)."""
    if np.result_type(np.asarray(x), np.asarray(y)) == object:
        # Python objects: the same objects' values, element by element
        result = np.asarray(result, dtype=object)
        expected = np.asarray(expected, dtype=object)
        assert result.shape == expected.shape
        assert result.tolist() == expected.tolist()
        return
    result, expected = np.asarray(result), np.asarray(expected)
    dtype = expected.dtype
    if dtype.kind in "biu" or dtype == np.float16:
        assert_array_equal(result, expected, strict=True)
        return
    if dtype.kind == "c" and dtype.itemsize < 32:
        # BLAS may turn inf+nanj into nan+nanj: compare finiteness only
        assert_array_equal(np.isfinite(result), np.isfinite(expected))
        parts = []
    elif dtype.kind == "c":
        parts = [(result.real, expected.real), (result.imag, expected.imag)]
    else:
        parts = [(result, expected)]
    for r, e in parts:
        assert_array_equal(np.isnan(r), np.isnan(e), err_msg="NaN positions")
        assert_array_equal(np.isposinf(r), np.isposinf(e), err_msg="+Inf positions")
        assert_array_equal(np.isneginf(r), np.isneginf(e), err_msg="-Inf positions")
    wide = np.longdouble if dtype.char in "gG" else np.float64
    k = np.shape(x)[-1]
    bound = 2 * (k + 2) * np.finfo(dtype).eps * magnitude(name, x, y, wide)
    bound = bound + 4 * np.finfo(dtype).smallest_subnormal * (k + 1)
    finite = np.isfinite(result) & np.isfinite(expected)
    with np.errstate(all="ignore"):
        diff = np.abs(result.astype(np.result_type(wide, dtype))
                      - expected.astype(np.result_type(wide, dtype)))
    bad = finite & ~(diff <= bound)
    assert not bad.any(), (
        f"{int(bad.sum())} of {bad.size} elements beyond the error bound; "
        f"ours {result[bad][:3]}, numpy {expected[bad][:3]}")


def assert_matches_numpy(name, x, y, **kwargs):
    expected = reference(name, x, y, **kwargs)
    result = ours(name, x, y, **kwargs)
    assert_same_kind(result, expected)
    assert_values_match(name, result, expected, x, y)
    return result


# ------------------------------------------------------------ the ufuncs


@pytest.mark.parametrize("name", NAMES)
def test_is_a_gufunc_with_numpys_signature_and_loops(name):
    ufunc = OURS[name]
    assert isinstance(ufunc, np.ufunc)
    assert ufunc.__name__ == name
    assert ufunc.signature == SIGNATURES[name]
    assert (ufunc.nin, ufunc.nout) == (2, 1)
    assert ufunc.types == np.matmul.types
    assert getattr(gufunc_matmul, name) is ufunc
    assert name in gufunc_matmul.__all__
    assert ufunc.__doc__


@needs_numpy_functions
@pytest.mark.parametrize("name", NAMES)
def test_attributes_equal_numpys(name):
    ufunc, theirs = OURS[name], getattr(np, name)
    assert ufunc.types == theirs.types
    assert ufunc.signature == theirs.signature
    assert ufunc.identity == theirs.identity
    assert (ufunc.nin, ufunc.nout, ufunc.nargs) == (theirs.nin, theirs.nout, theirs.nargs)


@needs_numpy_functions
@pytest.mark.parametrize("name", NAMES)
def test_docstring_and_signature_start_like_numpys(name):
    import inspect

    ufunc, theirs = OURS[name], getattr(np, name)
    assert ufunc.__doc__.splitlines()[0] == theirs.__doc__.splitlines()[0]
    assert str(inspect.signature(ufunc)) == str(inspect.signature(theirs))
    assert repr(ufunc) == repr(theirs) == f"<ufunc '{name}'>"


@pytest.mark.parametrize("name", NAMES)
def test_pickles_by_reference(name):
    ufunc = OURS[name]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(ufunc, protocol=protocol)) is ufunc


# ------------------------------------------------------ every dtype alone

CASES = [
    # (stack of x, stack of y, m, k)
    ((), (), 3, 5),
    ((4,), (4,), 2, 7),
    ((2, 1), (3,), 5, 1),           # broadcast stacks, k == 1
    ((6,), (), 9, 33),              # one operand shared by the stack
    ((), (6,), 9, 33),
    ((3,), (3,), 1, 130),           # long vectors
    ((2,), (2,), 70, 64),           # m > the kernels' vector widths
    ((5,), (5,), 4, 0),             # k == 0: zeros
    ((5,), (5,), 0, 3),             # m == 0: empty
    ((0,), (1,), 3, 3),             # empty stack
]


@pytest.mark.parametrize("char", ALL_CHARS, ids=dtype_id)
@pytest.mark.parametrize("name", NAMES)
def test_matches_numpy_for_every_dtype(name, char):
    rng = np.random.default_rng(ALL_CHARS.index(char))
    for batch_x, batch_y, m, k in CASES:
        shape_x, shape_y = shapes_for(name, batch_x, batch_y, m, k)
        x, y = values(rng, shape_x, char), values(rng, shape_y, char)
        assert_matches_numpy(name, x, y)


@pytest.mark.parametrize("char", NUMERIC_CHARS, ids=dtype_id)
@pytest.mark.parametrize("name", NAMES)
def test_big_operands_match_numpy(name, char):
    """Past the conjugation buffer (256 KiB) and the thread threshold."""
    rng = np.random.default_rng(7)
    shape_x, shape_y = shapes_for(name, (3,), (3,), 150, 1100)
    assert_matches_numpy(name, values(rng, shape_x, char), values(rng, shape_y, char))
    shape_x, shape_y = shapes_for(name, (2000,), (2000,), 3, 70)
    assert_matches_numpy(name, values(rng, shape_x, char), values(rng, shape_y, char))


@pytest.mark.parametrize("char", "efdgFDG", ids=dtype_id)
@pytest.mark.parametrize("name", NAMES)
def test_nan_and_inf_propagate_as_in_numpy(name, char):
    rng = np.random.default_rng(11)
    shape_x, shape_y = shapes_for(name, (8,), (8,), 5, 6)
    x, y = values(rng, shape_x, char), values(rng, shape_y, char)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0], dtype=np.dtype(char))
    for a in (x, y):
        flat = a.reshape(-1)
        where = rng.choice(flat.size, flat.size // 6, replace=False)
        flat[where] = rng.choice(specials, where.size)
    assert_matches_numpy(name, x, y)


def test_float16_sums_in_float32_and_rounds_once():
    # 2048 + 1 + 1 in float16 steps would stay 2048
    x = np.array([2048, 1, 1], np.float16)
    one = np.ones(3, np.float16)
    assert vecdot(x, one) == 2050
    assert matvec(x[None], one)[0] == 2050
    assert vecmat(x, one[:, None])[0] == 2050


def test_integers_wrap_and_bool_is_or_of_ands():
    x = np.array([100, 100, 100], np.int8)
    assert vecdot(x, x) == np.int8(30000 % 256)   # 48
    assert vecdot(np.array([200, 100], np.uint8), np.array([2, 1], np.uint8)) == 244
    t, f = np.True_, np.False_
    assert vecdot(np.array([t, f]), np.array([t, t])) is np.True_
    assert vecdot(np.array([f, t]), np.array([t, f])) is np.False_
    result = matvec(np.array([[t, t], [f, f]]), np.array([t, t]))
    assert_array_equal(result.view(np.uint8), [1, 0])


# ------------------------------------------------------------ conjugation


@pytest.mark.parametrize("char", "FDG", ids=dtype_id)
def test_first_operand_is_conjugated_in_vecdot_and_vecmat(char):
    x = np.array([1 + 2j, 3 - 1j], dtype=char)
    y = np.array([2 - 1j, 1j], dtype=char)
    expected = np.conj(x[0]) * y[0] + np.conj(x[1]) * y[1]
    assert vecdot(x, y) == expected
    assert vecdot(x, y).dtype == np.dtype(char)
    assert vecmat(x, y[:, None])[0] == expected
    # matvec does not conjugate
    assert matvec(x[None, :], y)[0] == x[0] * y[0] + x[1] * y[1]
    assert vecdot(x, x).imag == 0


@pytest.mark.parametrize("char", "FDG", ids=dtype_id)
def test_conjugation_with_shared_strided_and_long_vectors(char):
    rng = np.random.default_rng(5)
    # shared first operand (conjugated once), shared second operand,
    # strided and reversed vectors, and runs longer than the buffer
    x = values(rng, (40, 3000), char, exact=True)
    y = values(rng, (40, 3000), char, exact=True)
    b = values(rng, (40, 3000, 3), char, exact=True)
    for args in [(x[0], y), (x, y[0]), (x[:, ::-3], y[:, ::3]), (x.T.copy().T, y)]:
        assert_array_equal(vecdot(*args), reference("vecdot", *args), strict=True)
    for args in [(x[0], b), (x, b[0]), (x[:, ::-1], b[:, ::-1])]:
        assert_array_equal(vecmat(*args), reference("vecmat", *args), strict=True)
    # the conjugated copy never changes the caller's array
    before = x.copy()
    vecdot(x, y)
    vecmat(x, b)
    assert_array_equal(x, before)
    # rows longer than the 256 KiB buffer: the plain loop
    x = values(rng, (3, 40_000), char, exact=True)
    b = values(rng, (40_000, 2), char, exact=True)
    for args in [(x, x[::-1]), (x[0], x), (x[:, ::-2], x[:, 1::2])]:
        assert_array_equal(vecdot(*args), reference("vecdot", *args), strict=True)
    for args in [(x, b), (x[:, ::-1], np.asfortranarray(b))]:
        assert_array_equal(vecmat(*args), reference("vecmat", *args), strict=True)


# ------------------------------------------------------------------ layouts


def layouts(a):
    """The same values in other memory: Fortran order, reversed, strided,
    unaligned, and the last two axes stored transposed."""
    yield np.asfortranarray(a)
    yield a[..., ::-1].copy()[..., ::-1]
    strided = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    strided[..., ::2] = a
    yield strided[..., ::2]
    raw = np.zeros(a.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(a.dtype).reshape(a.shape)
    unaligned[...] = a
    yield unaligned
    if a.ndim >= 2:
        yield np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2)


@pytest.mark.parametrize("char", NUMERIC_CHARS, ids=dtype_id)
@pytest.mark.parametrize("name", NAMES)
def test_any_layout_gives_the_same_result(name, char):
    rng = np.random.default_rng(3)
    shape_x, shape_y = shapes_for(name, (3,), (3,), 17, 21)
    x = values(rng, shape_x, char, exact=True)
    y = values(rng, shape_y, char, exact=True)
    expected = reference(name, x, y)
    for x2 in layouts(x):
        assert_array_equal(ours(name, x2, y), expected, strict=True)
    for y2 in layouts(y):
        assert_array_equal(ours(name, x, y2), expected, strict=True)


@pytest.mark.parametrize("name", NAMES)
def test_results_do_not_depend_on_the_thread_count(name):
    """Bitwise, in every layout (threads split rows, columns or the stack,
    never a sum)."""
    rng = np.random.default_rng(8)
    # each past the work at which the driver uses 8 threads
    for shapes in [((40,), (), 200, 400), ((), (), 2000, 1600),
                   ((12000,), (12000,), 2, 150), ((), (), 1, 3_300_000)]:
        shape_x, shape_y = shapes_for(name, *shapes)
        x, y = values(rng, shape_x, "d"), values(rng, shape_y, "d")
        for x2 in (x, np.asfortranarray(x)):
            results = []
            try:
                for threads in (1, 2, 3, 8):
                    gufunc_matmul.set_num_threads(threads)
                    results.append(ours(name, x2, y))
            finally:
                gufunc_matmul.set_num_threads(0)
            for r in results[1:]:
                assert_array_equal(r, results[0], strict=True)


def test_every_available_instruction_set():
    core = gufunc_matmul._core
    before = core._isa()
    rng = np.random.default_rng(4)
    try:
        for isa in core._available_isas().split(","):
            core._select_isa(isa.strip())
            for name in NAMES:
                for char in NUMERIC_CHARS:
                    for shapes in [((5,), (5,), 3, 40), ((), (), 37, 9)]:
                        shape_x, shape_y = shapes_for(name, *shapes)
                        x = values(rng, shape_x, char, exact=True)
                        y = values(rng, shape_y, char, exact=True)
                        assert_array_equal(ours(name, x, y), reference(name, x, y),
                                           strict=True, err_msg=f"{isa} {name} {char}")
                        xf = np.asfortranarray(x)
                        assert_array_equal(ours(name, xf, y), reference(name, xf, y),
                                           strict=True, err_msg=f"{isa} {name} {char} F")
    finally:
        core._select_isa(before)


# ---------------------------------------------------------- mixed dtypes

MIXED = [("int8", "uint8"), ("float16", "int16"), ("bool", "float32"),
         ("int64", "float32"), ("complex64", "float64"), ("uint64", "int64"),
         ("longdouble", "complex64"), ("l", "q"), ("uint8", "bool"),
         ("int8", "float16")]


@pytest.mark.parametrize("pair", MIXED, ids="@".join)
@pytest.mark.parametrize("name", NAMES)
def test_mixed_dtypes_promote_like_numpy(name, pair):
    rng = np.random.default_rng(9)
    shape_x, shape_y = shapes_for(name, (2,), (2,), 3, 4)
    assert_matches_numpy(name, values(rng, shape_x, np.dtype(pair[0]).char, exact=True),
                         values(rng, shape_y, np.dtype(pair[1]).char, exact=True))
    assert_matches_numpy(name, values(rng, shape_x, np.dtype(pair[1]).char, exact=True),
                         values(rng, shape_y, np.dtype(pair[0]).char, exact=True))


def test_python_lists():
    assert_matches_numpy("vecdot", [1, 2], [3, 4])
    assert_matches_numpy("vecdot", [1j, 2], [1j, 2])
    assert_matches_numpy("matvec", [[1, 2], [3, 4]], [1.5, 2])
    assert_matches_numpy("vecmat", [True, False], [[True], [True]])


# ---------------------------------------------------- keywords and out=


@needs_numpy_functions
@pytest.mark.parametrize("name", NAMES)
def test_keywords_like_numpy(name):
    rng = np.random.default_rng(12)
    shape_x, shape_y = shapes_for(name, (2, 3), (3,), 4, 5)
    x, y = values(rng, shape_x, "d", exact=True), values(rng, shape_y, "d", exact=True)
    xi, yi = x.astype(np.int64), y.astype(np.int64)
    calls = [
        ((x, y), {}),
        ((xi, yi), {"dtype": np.float32}),
        ((xi, yi), {"signature": "dd->d"}),
        ((xi, yi), {"dtype": np.int8}),
        ((x, y), {"dtype": np.int8}),                        # cast error
        ((x, y), {"dtype": np.int8, "casting": "unsafe"}),
        ((x, y), {"order": "F"}),
        ((x, y), {"subok": False}),
        ((x, y), {"axis": 0}),
        ((x, y), {"keepdims": True}),
        ((x, y), {"where": True}),
        ((x, 3.0), {}),                                      # scalar
        ((x[..., :-1], y), {}),                              # size mismatch
        ((x[:1], y[..., None] if name != "vecdot" else y), {}),
        ((np.ones((2, 3, 5, 5)), np.ones((4, 5, 5))), {}),   # stacks don't broadcast
    ]
    if name == "vecdot":
        calls += [((x, x), {"axis": -2}), ((x, x), {"axis": 0, "keepdims": True}),
                  ((x, x), {"axes": [(0,), (0,), ()]}), ((x, x), {"axis": 7})]
    elif name == "matvec":
        calls += [((x, y), {"axes": [(-2, -1), (-1,), (-1,)]}),
                  ((np.moveaxis(x, -1, 0), y), {"axes": [(-1, 0), (-1,), (0,)]})]
    else:
        calls += [((x, y), {"axes": [(-1,), (-2, -1), (-1,)]}),
                  ((x, np.moveaxis(y, -1, 0)), {"axes": [(-1,), (-1, 0), (0,)]})]
    for args, kwargs in calls:
        expected = outcome(getattr(np, name), *args, **kwargs)
        result = outcome(OURS[name], *args, **kwargs)
        assert result[0] == expected[0], (kwargs, result, expected)
        if expected[0] == "raise":
            assert result[1:] == expected[1:], kwargs
        else:
            assert_same_kind(result[1], expected[1])
            assert_array_equal(result[1], expected[1], strict=True)


@pytest.mark.parametrize("name", NAMES)
def test_out_argument(name):
    rng = np.random.default_rng(13)
    shape_x, shape_y = shapes_for(name, (3,), (3,), 4, 6)
    x, y = values(rng, shape_x, "d", exact=True), values(rng, shape_y, "d", exact=True)
    expected = reference(name, x, y)
    for out_dtype in ("d", "D", "f", "g"):
        out = np.full(expected.shape, -1, out_dtype)
        assert ours(name, x, y, out=out) is out
        assert_array_equal(out, expected.astype(out_dtype))
        out = np.full(expected.shape, -1, out_dtype)
        assert ours(name, x, y, out=(out,)) is out
        assert_array_equal(out, expected.astype(out_dtype))
    # non-contiguous out
    out = np.zeros(expected.shape + (2,))[..., 0]
    ours(name, x, y, out=out)
    assert_array_equal(out, expected)
    # integer out from float inputs: NumPy's casting error
    out = np.zeros(expected.shape, np.int64)
    result = outcome(OURS[name], x, y, out=out)
    assert result[0] == "raise"
    assert issubclass(result[1], TypeError)
    assert result[2].startswith(f"Cannot cast ufunc '{name}' output")
    if NUMPY_HAS_THEM:
        assert result[1:] == outcome(getattr(np, name), x, y, out=out)[1:]


@pytest.mark.parametrize("name", NAMES)
def test_out_may_overlap_the_inputs(name):
    """The result is as if the inputs had been read first."""
    rng = np.random.default_rng(14)
    for trial in range(60):
        n = int(rng.integers(1, 7))
        base = values(rng, (n, n), "d", exact=True)
        views = [lambda b: b, lambda b: b.T, lambda b: b[::-1], lambda b: b[:, ::-1]]
        outs = [lambda b: b[0], lambda b: b[:, 0], lambda b: b[-1], lambda b: b[::-1, -1]]
        vx, vy, vo = (views[int(rng.integers(4))], views[int(rng.integers(4))],
                      outs[int(rng.integers(4))])

        def operands(b):
            x, y = vx(b), vy(b)
            if name == "matvec":
                y = y[0]
            elif name == "vecmat":
                x = x[0]
            return x, y

        expected = reference(name, *(a.copy() for a in operands(base.copy())))
        mine = base.copy()
        out = vo(mine)
        ours(name, *operands(mine), out=out)
        assert_array_equal(out, expected)


def test_out_may_be_an_input_vector():
    """The output is the very vector the product reads: NumPy's iterator
    may not treat that as element-wise (it must copy the input first)."""
    rng = np.random.default_rng(16)
    for n in (1, 3, 17, 100):
        a = values(rng, (n, n), "d", exact=True)
        x = values(rng, (n,), "d", exact=True)
        expected = reference("matvec", a, x.copy())
        matvec(a, x, out=x)
        assert_array_equal(x, expected)
        x = values(rng, (n,), "d", exact=True)
        expected = reference("vecmat", x.copy(), a)
        vecmat(x, a, out=x)
        assert_array_equal(x, expected)
        b = a.copy()
        expected = reference("matvec", b.copy(), b[0].copy())
        matvec(b, b[0], out=b[0])
        assert_array_equal(b[0], expected)
        b = a.copy()
        expected = reference("vecdot", b.copy(), b.copy()[:, ::-1])
        vecdot(b, b[:, ::-1], out=b[:, 0])
        assert_array_equal(b[:, 0], expected)


# ------------------------------------------------------------------ object


class Tracked:
    """A number that logs what is done to it."""

    def __init__(self, value, log):
        self.value, self.log = value, log

    def _v(self, other):
        return other.value if isinstance(other, Tracked) else other

    def __mul__(self, other):
        self.log.append(("mul", self.value, self._v(other)))
        return Tracked(self.value * self._v(other), self.log)

    def __add__(self, other):
        self.log.append(("add", self.value, self._v(other)))
        return Tracked(self.value + self._v(other), self.log)

    def conjugate(self):
        self.log.append(("conj", self.value))
        return Tracked(complex(self.value).conjugate(), self.log)


def _tracked(vals, log):
    out = np.empty(len(vals), dtype=object)
    out[:] = [Tracked(v, log) for v in vals]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_object_uses_conjugate_multiply_and_add_like_numpy(name):
    xs, ys = [1 + 1j, 2, 3], [4, 5j, 6]

    def run(func):
        log = []
        x, y = _tracked(xs, log), _tracked(ys, log)
        if name == "vecdot":
            r = func(x, y)
        elif name == "matvec":
            r = func(x[None, :], y)[0]
        else:
            r = func(x, y[:, None])[0]
        return r.value, log

    value, log = run(OURS[name])
    conj = name != "matvec"
    first = [np.conj(v) if conj else v for v in xs]
    assert value == sum(a * b for a, b in zip(first, ys))
    assert [entry[0] for entry in log].count("conj") == (3 if conj else 0)
    # the sum starts from the first product: no 0 + ...
    assert [entry[0] for entry in log if entry[0] != "conj"] == [
        "mul", "mul", "add", "mul", "add"]
    if NUMPY_HAS_THEM:
        assert run(getattr(np, name)) == (value, log)


@pytest.mark.parametrize("name", NAMES)
def test_object_results_match_numpy(name):
    rng = np.random.default_rng(15)
    shape_x, shape_y = shapes_for(name, (2,), (2,), 3, 4)
    x, y = values(rng, shape_x, "O"), values(rng, shape_y, "O")
    assert_matches_numpy(name, x, y)
    f = np.empty(shape_x, object)
    f.ravel()[:] = [Fraction(int(v), 3) for v in rng.integers(-5, 5, f.size)]
    g = np.empty(shape_y, object)
    g.ravel()[:] = [Fraction(int(v), 7) for v in rng.integers(-5, 5, g.size)]
    result = assert_matches_numpy(name, f, g)
    assert all(type(v) is Fraction for v in np.ravel(result))


@pytest.mark.parametrize("name", NAMES)
def test_object_empty_sum_is_none_as_in_numpy(name):
    """NumPy's vector functions leave None for k == 0 (matmul gives 0)."""
    shape_x, shape_y = shapes_for(name, (2,), (2,), 3, 0)
    x, y = np.empty(shape_x, object), np.empty(shape_y, object)
    result = ours(name, x, y)
    assert all(v is None for v in np.ravel(result))
    out = np.full(result.shape, 7, dtype=object)
    ours(name, x, y, out=out)
    assert all(v is None for v in out.ravel())
    if NUMPY_HAS_THEM:
        assert_matches_numpy(name, x, y)


@pytest.mark.parametrize("name", NAMES)
def test_object_errors_propagate_like_numpy(name):
    cases = [
        (["a", 1], [2, 3]),        # str has no conjugate(); str * int works
        ([1, 2], ["a", "b"]),      # int * str works, then str + str ...
        ([None, 1], [1, 2]),       # None: no conjugate / no *
        ([1, 2], [1, None]),
        ([[1], 2], [3, 4]),        # list * int, then list + int fails
    ]
    for xs, ys in cases:
        x = np.empty(2, object)
        x[:] = xs
        y = np.empty(2, object)
        y[:] = ys
        if name == "matvec":
            args = (x[None, :], y)
        elif name == "vecmat":
            args = (x, y[:, None])
        else:
            args = (x, y)
        expected = outcome(lambda *a: reference(name, *a), *args)
        result = outcome(OURS[name], *args)
        assert result[0] == expected[0], (xs, ys, result, expected)
        if expected[0] == "raise":
            assert result[1:] == expected[1:]
        else:
            assert_array_equal(result[1], expected[1])


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="needs refcounts")
@pytest.mark.parametrize("name", NAMES)
def test_object_loops_do_not_leak(name):
    class Num:
        def __init__(self, v):
            self.v = v

        def __mul__(self, other):
            return Num(self.v * other.v)

        def __add__(self, other):
            if self.v > 1000:
                raise OverflowError("too big")
            return Num(self.v + other.v)

        def conjugate(self):
            return Num(self.v)

    items = [Num(i) for i in range(1, 5)]
    shape_x, shape_y = shapes_for(name, (2,), (2,), 2, 2)
    x = np.empty(shape_x, object)
    x.ravel()[:] = [items[i % 4] for i in range(x.size)]
    y = np.empty(shape_y, object)
    y.ravel()[:] = [items[(i + 1) % 4] for i in range(y.size)]
    big = np.empty(shape_y, object)
    big.ravel()[:] = [Num(10 ** 6) for _ in range(big.size)]
    out = np.empty(ours(name, x, y).shape, object)
    gc.collect()
    before = [sys.getrefcount(v) for v in items]
    for _ in range(50):
        ours(name, x, y)
        ours(name, x, y, out=out)
        with pytest.raises(OverflowError):
            ours(name, x, big)
    out[...] = None
    gc.collect()
    assert [sys.getrefcount(v) for v in items] == before


# ------------------------------------------------------------------ errors


@needs_numpy_functions
@pytest.mark.parametrize("name", NAMES)
def test_errors_equal_numpys(name):
    one, two, three = np.ones(3), np.ones((2, 3)), np.ones((2, 2, 3))
    cases = [
        (one, np.ones(4)), (two, np.ones(4)), (np.ones(4), two),
        (one, 2.0), (2.0, one), (3, 4), (two, np.ones((3, 3))),
        (three, np.ones((3, 4))), (np.ones((3, 3)), np.ones((2, 3, 3))),
        (one, one), (two, one), (one, two), (two, two), (np.ones(0), np.ones(0)),
        (np.array(["a", "b"]), np.array(["c", "d"])),
        (np.array([1, 2], "m8[s]"), np.array([1, 2])),
    ]
    for args in cases:
        expected = outcome(getattr(np, name), *args)
        result = outcome(OURS[name], *args)
        assert result[0] == expected[0], (args, result, expected)
        if expected[0] == "raise":
            assert result[1:] == expected[1:]
        else:
            assert_same_kind(result[1], expected[1])
            assert_array_equal(result[1], expected[1])


@pytest.mark.parametrize("name", NAMES)
def test_docstring_examples_run(name):
    import doctest

    tests = doctest.DocTestFinder().find(OURS[name].__doc__, name, globs={})
    assert tests and tests[0].examples
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
def test_conjugation_of_long_rows_needs_no_memory():
    """A row longer than the conjugation buffer is not copied (nor split):
    under an address-space limit far below its 1 GiB, complex vecdot and
    vecmat give the exact answer.  Zero-stride operands make the inputs
    free."""
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import re, resource
        import numpy as np
        import gufunc_matmul as g
        k = 2 ** 26
        x = np.broadcast_to(np.complex128(1 + 2j), (k,))
        y = np.broadcast_to(np.complex128(3 + 4j), (k,))
        b = np.broadcast_to(np.complex128(3 + 4j), (k, 2))
        with open("/proc/self/status") as f:
            vm = int(re.search(r"VmSize:\\s+(\\d+) kB", f.read()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2 ** 28, resource.RLIM_INFINITY))
        try:
            np.empty(k, np.complex128)
        except MemoryError:
            pass
        else:
            raise SystemExit("the limit does not hold")
        assert g.vecdot(x, y) == k * (11 - 2j)
        assert g.vecmat(x, b).tolist() == [k * (11 - 2j)] * 2
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
