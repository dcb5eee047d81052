"""gufunc_matmul.matmul against numpy.matmul, the oracle, on generated
operands: every dtype and layout, mixed dtypes, out=, axes=, the ufunc
keywords and zero-size dimensions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import gufunc_matmul
from checks import (assert_matches_numpy, assert_same_kind_of_result,
                    assert_same_outcome, assert_values_match, every_isa, ours,
                    reference)
from strategies import (NUMERIC_DTYPES, dtype_id, laid_out, make_values,
                        matmul_shapes, operand_pairs)

matmul = gufunc_matmul.matmul

#: For properties that need fewer examples than the main one.
_QUARTER = max(25, settings.default.max_examples // 4)


# ------------------------------------------------------- every dtype alone


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=dtype_id)
@given(data=st.data())
def test_matches_numpy(dtype, data):
    a, b = data.draw(operand_pairs(dtype))
    assert_matches_numpy(a, b)


# A stack of dot products that share one vector (either side) is computed
# as one matrix-vector product: same values as numpy, any stride.
SHARED_VECTOR_CASES = [
    ((50, 1, 300), (300, 1)),        # rows of a stack times one column
    ((1, 300), (50, 300, 1)),        # one row times a stack of columns
    ((7, 1, 1, 40), (1, 5, 40, 1)),  # broadcast both ways: no vector shared
    ((4000, 1, 64), (64, 1)),        # long enough for threads
]


@pytest.mark.parametrize("shapes", SHARED_VECTOR_CASES, ids=str)
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("step", [1, 2, -1])
def test_stacked_dots_with_a_shared_vector(shapes, dtype, step):
    a = make_values(dtype, shapes[0][:-1] + (shapes[0][-1] * abs(step),), (1, 1.0, 0.01))
    b = make_values(dtype, shapes[1][:-2] + (shapes[1][-2] * abs(step), 1), (2, 1.0, 0.01))
    assert_matches_numpy(a[..., ::step], b[..., ::step, :])


# ------------------------------------------------------------ mixed dtypes

MIXED_PAIRS = [
    ("int8", "uint8"),        # -> int16
    ("float16", "int16"),     # -> float32
    ("bool", "float32"),
    ("int64", "float32"),     # -> float64
    ("complex64", "float64"),  # -> complex128
    ("uint64", "int64"),      # -> float64
    ("bool", "int8"),
    ("int8", "float16"),      # -> float16
    ("uint32", "int8"),       # -> int64
    ("int16", "uint16"),      # -> int32
    ("float16", "float32"),
    ("longdouble", "complex64"),  # -> clongdouble
    ("l", "q"),               # two 64-bit integer loops
    ("uint8", "bool"),
]


@pytest.mark.parametrize("dtypes", MIXED_PAIRS, ids="@".join)
@settings(max_examples=_QUARTER)
@given(data=st.data())
def test_mixed_dtypes_promote_like_numpy(dtypes, data):
    a, b = data.draw(operand_pairs(np.dtype(dtypes[0]), np.dtype(dtypes[1])))
    assert_matches_numpy(a, b)
    # and with the operands' dtypes the other way round
    assert_matches_numpy(np.swapaxes(b, -1, -2) if b.ndim > 1 else b,
                         np.swapaxes(a, -1, -2) if a.ndim > 1 else a)


def test_python_lists_and_scalars_in_lists():
    assert_matches_numpy([[1, 2], [3, 4]], [[5], [6]])
    assert_matches_numpy([1.5, 2], [[1, 2], [3, 4]])
    assert_matches_numpy([[1j, 2]], [3, 4])
    assert_matches_numpy([True, False], [True, True])
    assert_matches_numpy(np.array([[1, 2]], np.int8), [[300], [1]])


# --------------------------------------------------------------------- out=


def _castable_out_dtypes(dtype):
    candidates = [dtype, np.dtype(np.float64), np.dtype(np.complex128),
                  np.dtype(np.int64), np.dtype(np.float32), np.dtype(np.int16)]
    return [d for d in dict.fromkeys(candidates)
            if np.can_cast(dtype, d, "same_kind")]


@settings(max_examples=_QUARTER * 2)
@given(data=st.data())
def test_out_any_layout_and_castable_dtype(data):
    dtype = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype")
    a, b = data.draw(operand_pairs(dtype))
    plain = np.asarray(reference(a, b))
    out_dtype = data.draw(st.sampled_from(_castable_out_dtypes(plain.dtype)),
                          label="out dtype")
    shape = plain.shape
    garbage = np.full(shape, 7, out_dtype)
    out = data.draw(laid_out(garbage, allow_broadcast=False))
    expected = np.zeros(shape, out.dtype)
    reference(a, b, out=expected)

    result = ours(a, b, out=out)
    assert result is out
    assert_values_match(out, expected, a, b, loop_dtype=plain.dtype)


@pytest.mark.parametrize("how", ["keyword", "positional", "tuple"])
@pytest.mark.parametrize("size", [3, 40])
def test_out_argument_forms(how, size):
    rng = np.random.default_rng(size)
    a = rng.integers(-9, 9, (2, size, size + 1))
    b = rng.integers(-9, 9, (size + 1, size - 1))
    out = np.full((2, size, size - 1), -1, np.int64)
    call = {
        "keyword": lambda: matmul(a, b, out=out),
        "positional": lambda: matmul(a, b, out),
        "tuple": lambda: matmul(a, b, out=(out,)),
    }[how]
    assert call() is out
    assert_array_equal(out, np.matmul(a, b), strict=True)


def test_out_none_allocates():
    a = np.arange(6.0).reshape(2, 3)
    result = matmul(a, a.T, out=None)
    assert_array_equal(result, np.matmul(a, a.T), strict=True)
    result = matmul(a, a.T, out=(None,))
    assert_array_equal(result, np.matmul(a, a.T), strict=True)


def test_out_zero_dim_for_vector_dot():
    a = np.arange(5.0)
    out = np.array(-1.0)
    expected_out = np.array(-1.0)
    expected = np.matmul(a, a, out=expected_out)
    result = matmul(a, a, out=out)
    assert result is out
    assert type(result) is type(expected) is np.ndarray
    assert out == expected_out == 30.0


@pytest.mark.parametrize("out_layout", ["transposed", "reversed", "strided", "fortran"])
@pytest.mark.parametrize("size", [4, 37, 130])
def test_out_strided_views(out_layout, size):
    rng = np.random.default_rng(size)
    a = rng.integers(-99, 99, (size, size + 3)).astype(np.float64)
    b = rng.integers(-99, 99, (size + 3, size + 1)).astype(np.float64)
    shape = (size, size + 1)
    if out_layout == "transposed":
        out = np.zeros(shape[::-1]).T
    elif out_layout == "reversed":
        out = np.zeros(shape)[::-1, ::-1]
    elif out_layout == "strided":
        big = np.full((2 * size, 3 * (size + 1)), np.nan)
        out = big[::2, ::3]
    else:
        out = np.zeros(shape, order="F")
    matmul(a, b, out=out)
    assert_array_equal(out, np.matmul(a, b), strict=True)
    if out_layout == "strided":  # the gaps are untouched
        big[::2, ::3] = 0
        assert np.isnan(big).sum() == big.size - out.size


# ----------------------------------------------------- out= aliasing inputs


def _int_valued(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).integers(-50, 50, shape).astype(dtype)


ALIAS_SIZES = [3, 5, 40, 70]
ALIAS_DTYPES = [np.float64, np.int64, np.complex128, np.float16, np.int8,
                np.float32, np.object_]


@pytest.mark.parametrize("dtype", ALIAS_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("size", ALIAS_SIZES)
def test_out_is_both_inputs(dtype, size):
    a = _int_valued((size, size), size, dtype)
    expected = a.copy()
    np.matmul(expected, expected, out=expected)
    assert matmul(a, a, out=a) is a
    assert_array_equal(a, expected, strict=True)


@pytest.mark.parametrize("dtype", ALIAS_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("size", ALIAS_SIZES)
@pytest.mark.parametrize("which", ["a", "b"])
def test_out_is_one_input(dtype, size, which):
    a = _int_valued((size, size), size, dtype)
    b = _int_valued((size, size), size + 1, dtype)
    ea, eb = a.copy(), b.copy()
    np.matmul(ea, eb, out=ea if which == "a" else eb)
    out = a if which == "a" else b
    assert matmul(a, b, out=out) is out
    assert_array_equal(a, ea, strict=True)
    assert_array_equal(b, eb, strict=True)


@pytest.mark.parametrize("size", ALIAS_SIZES)
@pytest.mark.parametrize("view", ["shifted-row", "shifted-col", "transposed",
                                  "reversed", "stack-reversed"])
def test_out_overlaps_input_partially(size, view):
    base = _int_valued((2, size + 1, size + 1), size)
    b = _int_valued((size, size), size + 7)

    def operands(buf):
        if view == "shifted-row":
            return buf[0, :-1, :-1], buf[0, 1:, :-1]
        if view == "shifted-col":
            return buf[0, :-1, :-1], buf[0, :-1, 1:]
        if view == "transposed":
            return buf[0, :-1, :-1], buf[0, :-1, :-1].T
        if view == "reversed":
            return buf[0, :-1, :-1], buf[0, -2::-1, -2::-1]
        return buf[:, :-1, :-1], buf[::-1, 1:, 1:]

    expected_buf = base.copy()
    ea, eout = operands(expected_buf)
    np.matmul(ea, b, out=eout)
    a, out = operands(base)
    assert matmul(a, b, out=out) is out
    assert_array_equal(base, expected_buf, strict=True)

    # the same with the overlapping view as the second operand
    base2 = _int_valued((2, size + 1, size + 1), size + 3)
    expected_buf2 = base2.copy()
    eb2, eout2 = operands(expected_buf2)
    np.matmul(b, eb2, out=eout2)
    b2, out2 = operands(base2)
    matmul(b, b2, out=out2)
    assert_array_equal(base2, expected_buf2, strict=True)


def test_out_aliases_input_with_broadcast_stack():
    a = _int_valued((3, 6, 6), 1)
    b = _int_valued((6, 6), 2)
    ea = a.copy()
    np.matmul(ea, b, out=ea)
    matmul(a, b, out=a)
    assert_array_equal(a, ea, strict=True)


def test_out_vector_aliases_vector_input():
    m = _int_valued((6, 6), 3)
    v = _int_valued((6,), 4)
    ev = v.copy()
    np.matmul(m, ev, out=ev)
    matmul(m, v, out=v)
    assert_array_equal(v, ev, strict=True)
    ev = v.copy()
    np.matmul(ev, m, out=ev)
    matmul(v, m, out=v)
    assert_array_equal(v, ev, strict=True)


# -------------------------------------------------------------------- axes=


AXES_CASES = [
    # (shape a, shape b, axes)
    ((4, 2, 5), (2, 6, 5), [(-3, -1), (-1, -2), (-2, -3)]),
    ((5, 4), (5, 6), [(1, 0), (0, 1), (0, 1)]),
    ((3, 5, 4), (5, 6), [(-1, -2), (-2, -1), (-1, -2)]),
    ((2, 3, 4), (2, 4, 5), [(-2, -1), (-2, -1), (-2, -1)]),
    ((2, 3, 4), (2, 4, 5), [(1, 2), (1, 2), (2, 1)]),
    ((4,), (4,), [(0,), (0,), ()]),
    ((4,), (4,), [0, 0, ()]),
    ((3, 4), (4,), [(0, 1), (0,), (0,)]),
    ((4, 3), (4,), [(1, 0), (0,), (0,)]),
    ((4,), (3, 4), [(0,), (1, 0), (0,)]),
    ((2, 70, 3), (3, 2, 80), [(1, 2), (0, 2), (2, 1)]),   # blocked path
]


@pytest.mark.parametrize("shape_a,shape_b,axes", AXES_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.complex64])
def test_axes(shape_a, shape_b, axes, dtype):
    rng = np.random.default_rng(len(shape_a) * 10 + len(shape_b))
    a = rng.integers(-9, 9, shape_a).astype(dtype)
    b = rng.integers(-9, 9, shape_b).astype(dtype)
    result = assert_matches_numpy(a, b, axes=axes)
    assert_array_equal(result, reference(a, b, axes=axes), strict=True)


@settings(max_examples=_QUARTER)
@given(data=st.data())
def test_axes_random_positions(data):
    """Core axes moved anywhere in the operands and the output."""
    dtype = data.draw(st.sampled_from([np.dtype("d"), np.dtype("q"), np.dtype("e")]))
    shape_a, shape_b = data.draw(matmul_shapes().filter(
        lambda s: len(s[0]) >= 2 and len(s[1]) >= 2))
    a = make_values(dtype, shape_a, (data.draw(st.integers(0, 2**32 - 1)), 1.0, 0.0))
    b = make_values(dtype, shape_b, (data.draw(st.integers(0, 2**32 - 1)), 1.0, 0.0))
    out_ndim = max(a.ndim, b.ndim)

    def positions(ndim):
        return tuple(data.draw(st.permutations(range(ndim)))[:2])

    axes_a, axes_b, axes_out = positions(a.ndim), positions(b.ndim), positions(out_ndim)
    a = np.moveaxis(a, [-2, -1], axes_a)
    b = np.moveaxis(b, [-2, -1], axes_b)
    axes = [axes_a, axes_b, axes_out]
    result = assert_matches_numpy(a, b, axes=axes)
    # the same as moving the axes by hand
    expected = np.moveaxis(reference(np.moveaxis(a, axes_a, [-2, -1]),
                                     np.moveaxis(b, axes_b, [-2, -1])),
                           [-2, -1], axes_out)
    assert_values_match(result, expected, a, b, axes=axes)


# ------------------------------------------------------------- ufunc keywords

_F64 = np.arange(12.0).reshape(3, 4) - 5.5
_F64_B = np.arange(20.0).reshape(4, 5) / 4
_I32 = (np.arange(12, dtype=np.int32) - 6).reshape(3, 4)
_I64_B = np.arange(20, dtype=np.int64).reshape(4, 5) - 10

KEYWORD_CASES = [
    (_F64, _F64_B, dict(dtype=np.float32)),
    (_F64, _F64_B, dict(dtype=np.float16)),
    (_F64, _F64_B, dict(dtype=np.complex64)),
    (_F64, _F64_B, dict(dtype=np.longdouble)),
    (_I32, _I64_B, dict(dtype=np.float64)),
    (_I32, _I64_B, dict(dtype=np.int8)),
    (_I32, _I64_B, dict(dtype=np.int8, casting="unsafe")),
    (_F64, _F64_B, dict(dtype=np.int8)),
    (_F64, _F64_B, dict(dtype=np.int8, casting="unsafe")),
    (_F64, _F64_B, dict(dtype=object)),
    (_I32, _I64_B, dict(casting="no")),
    (_I32, _I64_B, dict(casting="equiv")),
    (_I32, _I64_B, dict(casting="safe")),
    (_I32, _I64_B, dict(casting="same_kind")),
    (_I32, _I64_B, dict(casting="unsafe")),
    (_I32, _I32.T.copy(), dict(casting="no")),
    (_I32, _I32.T.astype(">i4"), dict(casting="no")),
    (_I32, _I32.T.astype(">i4"), dict(casting="equiv")),
    (_I32, _I64_B, dict(casting="bogus")),
    (_F64, _F64_B, dict(signature="dd->d")),
    (_F64, _F64_B, dict(signature="ff->f")),
    (_F64, _F64_B, dict(signature="ff->f", casting="unsafe")),
    (_F64, _F64_B, dict(signature=(None, None, "f"))),
    (_F64, _F64_B, dict(signature=(np.float32, np.float32, np.float32),
                        casting="same_kind")),
    (_I32, _I64_B, dict(signature="ee->e")),
    (_I32, _I64_B, dict(signature="qq->q")),
    (_I32, _I64_B, dict(signature="OO->O")),
    (_F64, _F64_B, dict(signature="dd->d", dtype=np.float64)),
    (_F64, _F64_B, dict(signature="d->d")),
    (_F64, _F64_B, dict(signature="xx->x")),
    (_F64, _F64_B, dict(dtype="bogus")),
    (_F64, _F64_B, dict(subok=False)),
    (_F64, _F64_B, dict(subok=True)),
]


@pytest.mark.parametrize("a,b,kwargs", KEYWORD_CASES,
                         ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_keywords_like_numpy(a, b, kwargs):
    assert_same_outcome(a, b, **kwargs)


ORDER_OPERANDS = {
    "C": lambda x: np.ascontiguousarray(x),
    "F": lambda x: np.asfortranarray(x),
    "rev": lambda x: x[..., ::-1, ::-1],
    "T": lambda x: np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2),
}


@pytest.mark.parametrize("order", ["C", "F", "A", "K", None])
@pytest.mark.parametrize("layout_a", sorted(ORDER_OPERANDS))
@pytest.mark.parametrize("layout_b", ["C", "F"])
@pytest.mark.parametrize("stacked", [False, True])
def test_order_gives_numpy_strides(order, layout_a, layout_b, stacked):
    shape = (2, 3, 4) if stacked else (3, 4)
    a = ORDER_OPERANDS[layout_a](np.arange(24.0)[:np.prod(shape)].reshape(shape))
    b = ORDER_OPERANDS[layout_b](np.arange(20.0).reshape(4, 5))
    kwargs = {} if order is None else {"order": order}
    expected = np.matmul(a, b, **kwargs)
    result = matmul(a, b, **kwargs)
    assert_array_equal(result, expected, strict=True)
    assert result.strides == expected.strides
    assert result.flags.c_contiguous == expected.flags.c_contiguous
    assert result.flags.f_contiguous == expected.flags.f_contiguous


class _Sub(np.ndarray):
    pass


@pytest.mark.parametrize("subok", [True, False, None])
@pytest.mark.parametrize("which", ["a", "b", "both"])
def test_subok_result_type(subok, which):
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    if which in ("a", "both"):
        a = a.view(_Sub)
    if which in ("b", "both"):
        b = b.view(_Sub)
    kwargs = {} if subok is None else {"subok": subok}
    expected = np.matmul(a, b, **kwargs)
    result = matmul(a, b, **kwargs)
    assert type(result) is type(expected)
    assert_array_equal(np.asarray(result), np.asarray(expected), strict=True)


# ---------------------------------------------------------------- zero sizes


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES + [np.dtype(object)], ids=dtype_id)
@pytest.mark.parametrize("shapes", [
    ((2, 0), (0, 3)), ((0,), (0,)), ((0,), (0, 4)), ((3, 0), (0,)),
    ((2, 5, 0), (0, 7)), ((1, 70, 0), (3, 0, 70)),
], ids=str)
def test_empty_depth_gives_zeros(dtype, shapes):
    a = np.ones(shapes[0], dtype)
    b = np.ones(shapes[1], dtype)
    expected = np.matmul(a, b)
    result = matmul(a, b)
    assert_same_kind_of_result(result, expected)
    assert_array_equal(result, expected, strict=True)
    assert np.all(np.asarray(result) == 0)
    if dtype.kind in "fc":
        assert not np.signbit(np.asarray(result).real).any()
    if dtype.kind == "O":
        values = result.flat if isinstance(result, np.ndarray) else [result]
        assert all(type(x) is int for x in values)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES + [np.dtype(object)], ids=dtype_id)
@pytest.mark.parametrize("shapes", [
    ((0, 3), (3, 4)), ((2, 3), (3, 0)), ((0, 0), (0, 0)), ((0, 3), (3,)),
    ((3,), (3, 0)), ((0, 2, 3), (3, 4)), ((2, 3), (5, 0, 3, 4)),
    ((1, 0, 2, 3), (4, 1, 3, 2)), ((0, 5), (5, 0)),
], ids=str)
def test_empty_result(dtype, shapes):
    a = np.ones(shapes[0], dtype)
    b = np.ones(shapes[1], dtype)
    expected = np.matmul(a, b)
    result = matmul(a, b)
    assert_same_kind_of_result(result, expected)
    assert result.size == 0


# ------------------------------------------------------ pinned-down details


def test_float16_sums_in_float32_and_rounds_once():
    a = np.array([2048, 1, 1], np.float16)
    b = np.array([1, 1, 1], np.float16)
    assert np.matmul(a, b) == 2050
    assert matmul(a, b) == 2050
    # the same inside matrices, through the blocked path too
    for size in (3, 70):
        ma = np.ones((size, 300), np.float16)
        ma[:, 0] = 2048
        mb = np.ones((300, size), np.float16)
        expected = np.matmul(ma, mb)
        assert_array_equal(matmul(ma, mb), expected, strict=True)
        assert expected[0, 0] == np.float16(2048 + 299)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.uint32, np.int64, np.uint64])
@pytest.mark.parametrize("size", [1, 5, 70])
def test_integers_wrap_around(dtype, size):
    info = np.iinfo(dtype)
    a = np.full((size, 300), info.max, dtype)
    b = np.full((300, size), info.max, dtype)
    b[::2] = info.min
    a[:, ::3] = info.min + 1
    expected = np.matmul(a, b)
    assert_array_equal(matmul(a, b), expected, strict=True)
    assert_array_equal(matmul(a[0], b[:, 0]), expected[0, 0], strict=True)


def _small_int_layout(x, layout):
    """x (a stack of matrices, or a vector) with the same values in another
    layout."""
    if x.ndim == 1 and layout in ("F", "reversed"):
        return x[::-1].copy()[::-1] if layout == "reversed" else x
    if layout == "F":
        return np.swapaxes(np.swapaxes(x, -1, -2).copy(), -1, -2)
    if layout == "strided":
        wide = np.zeros(x.shape[:-1] + (3 * x.shape[-1],), x.dtype)
        wide[..., ::3] = x
        return wide[..., ::3]
    if layout == "reversed":
        return x[..., ::-1, :].copy()[..., ::-1, :]
    return x


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.int64], ids=dtype_id)
@pytest.mark.parametrize("shapes", [((35, 16, 15), (15, 4)), ((6, 20, 17), (6, 17, 33)),
                                    ((1, 300), (300, 13)), ((3, 40), (40, 12)),
                                    ((4, 2, 70), (70, 2)), ((16, 320, 3), (16, 3, 1)),
                                    ((500, 7), (7,)), ((300, 100), (100,)),
                                    ((1, 300), (300, 20)), ((100, 5, 5), (5, 32))], ids=str)
@pytest.mark.parametrize("layout_a", ["C", "F", "strided"])
@pytest.mark.parametrize("layout_b", ["C", "F", "strided", "reversed"])
def test_small_integer_products_in_every_layout(dtype, shapes, layout_a, layout_b):
    """Small integer and bool products take the direct path, which copies
    a B that is laid out for neither of its vector forms, and short dot
    products as plain chains; the sums wrap around exactly as NumPy's,
    for every layout and stack."""
    rng = np.random.default_rng(len(shapes[0]) * 100 + shapes[1][-1])
    info = np.iinfo(dtype) if dtype != np.bool_ else None
    def draw(shape):
        if info is None:
            return rng.random(shape) < 0.3
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    a = _small_int_layout(draw(shapes[0]), layout_a)
    b = _small_int_layout(draw(shapes[1]), layout_b)
    assert_array_equal(matmul(a, b), np.matmul(a, b), strict=True)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64], ids=dtype_id)
def test_64_bit_integer_products_of_few_columns(dtype):
    """64-bit integer products of up to 32 columns keep rows of C in
    vectors (four rows at a time, only the vectors the columns need):
    NumPy's wrapped sums exactly, on every instruction set, for rows that
    leave groups part-full, several strips of columns, B and C with padded
    rows."""
    rng = np.random.default_rng(64)
    info = np.iinfo(dtype)
    with every_isa() as isas:
        for isa in isas:
            for m, k in [(1, 300), (3, 9), (10, 815), (203, 40)]:
                for n in (1, 2, 7, 8, 9, 16, 17, 25, 32, 33, 40):
                    a = rng.integers(info.min, info.max, (m, k), dtype=dtype, endpoint=True)
                    b = rng.integers(info.min, info.max, (k, n + 3), dtype=dtype,
                                     endpoint=True)[:, :n]
                    expected = np.matmul(a, b)
                    assert_array_equal(matmul(a, b), expected, strict=True)
                    out = np.zeros((m, n + 5), dtype)[:, :n]
                    matmul(a, b, out=out)
                    assert_array_equal(out, expected, strict=True)


@pytest.mark.parametrize("size", [2, 9, 70])
def test_bool_is_or_of_ands_of_any_nonzero_byte(size):
    rng = np.random.default_rng(size)
    raw_a = rng.integers(0, 256, (size, size + 1), dtype=np.uint8)
    raw_b = rng.integers(0, 256, (size + 1, size), dtype=np.uint8)
    raw_a[raw_a % 2 == 0] = 0
    raw_b[raw_b % 2 == 0] = 0
    a, b = raw_a.view(bool), raw_b.view(bool)
    expected = (raw_a.astype(np.int64) != 0).astype(np.int64) @ (raw_b != 0)
    result = matmul(a, b)
    assert result.dtype == bool
    assert_array_equal(result.view(np.uint8), (expected > 0).astype(np.uint8))
    assert_array_equal(result, np.matmul(a, b), strict=True)


@pytest.mark.parametrize("m,k,n", [(300, 300, 2), (200, 70, 5), (50, 3000, 8),
                                   (100, 100, 12), (64, 2050, 3)], ids=str)
@pytest.mark.parametrize("density", [0.02, 0.3, 0.9])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_bool_many_rows_few_columns(m, k, n, density, layout):
    """Rows of C as masks of their few columns, 8 depths at a time where
    A's rows are contiguous: any nonzero byte is True, the scan stops
    early on dense inputs and gives way to the full kernels on sparse
    ones, past the depths it keeps masks for too."""
    rng = np.random.default_rng(m * k + n)
    raw_a = rng.integers(1, 256, (m, 2 * k), dtype=np.uint8)
    raw_b = rng.integers(1, 256, (k, n), dtype=np.uint8)
    raw_a[rng.random(raw_a.shape) >= density] = 0
    raw_b[rng.random(raw_b.shape) >= density] = 0
    a = raw_a[:, :k] if layout != "strided" else raw_a[:, ::2]
    b = raw_b if layout != "F" else np.asfortranarray(raw_b)
    if layout == "F":
        a = np.asfortranarray(a)
    expected = (a != 0).astype(np.int64) @ (b != 0) > 0
    result = matmul(a.view(bool), b.view(bool))
    assert_array_equal(result.view(np.uint8), expected.astype(np.uint8))
    assert_array_equal(result, np.matmul(a.view(bool), b.view(bool)), strict=True)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64,
                                   np.longdouble, np.complex64, np.complex128,
                                   np.clongdouble])
@pytest.mark.parametrize("size", [2, 3, 70])
def test_zero_times_inf_is_nan_never_skipped(dtype, size):
    a = np.zeros((size, 300), dtype)
    b = np.ones((300, size), dtype)
    b[7, 0] = np.inf
    a[-1, 7] = 1
    expected = reference(a, b)
    result = ours(a, b)
    assert_values_match(result, expected, a, b)
    assert np.isnan(result[0, 0])
    assert not np.isfinite(result[-1, 0])
    assert np.isnan(ours(a[0], b[:, 0]))


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=dtype_id)
def test_long_depth(dtype):
    """A depth of many blocks: one summation order, one rounding."""
    k = 20_000
    a = make_values(dtype, (2, k), (1, 1.0, 0.0))
    b = make_values(dtype, (k, 3), (2, 1.0, 0.0))
    assert_matches_numpy(a, b)
    assert_matches_numpy(a[0], b[:, 0])
    assert_matches_numpy(a[1, ::-2], b[::-2, 2])


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "?bqefdFG"], ids=dtype_id)
@pytest.mark.parametrize("shape_a,shape_b", [
    ((5000, 3), (3, 2)),        # tall
    ((2, 3), (3, 5000)),        # wide
    ((1, 4000), (4000, 1)),     # deep and thin
    ((4000, 1), (1, 3)),        # outer product
    ((3000, 3, 3), (3000, 3, 3)),   # many tiny matrices
    ((3000, 1, 4), (4,)),       # many vectors
    ((2, 1, 40, 30), (1, 3, 30, 50)),   # broadcast stack of blocked products
], ids=str)
def test_extreme_shapes(dtype, shape_a, shape_b):
    a = make_values(dtype, shape_a, (3, 1.0, 0.0))
    b = make_values(dtype, shape_b, (4, 1.0, 0.0))
    assert_matches_numpy(a, b)
    assert_matches_numpy(np.asfortranarray(a), b[..., ::-1])


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (2, 3, 2), (5, 7, 5), (40, 40, 40),
                                   (100, 300, 70), (1, 1000, 1), (3, 5000, 2),
                                   (300, 1, 300)], ids=str)
@pytest.mark.parametrize("bytes_a,bytes_b", [(2, 1), (1, 2), (0x80, 0x01),
                                             (0x40, 0x04), (0xFF, 0x01), (2, 4)],
                         ids=str)
def test_bool_true_bytes_without_common_bits(m, k, n, bytes_a, bytes_b):
    """True AND True is True even when the bytes share no bit (2 & 1 == 0):
    a bitwise AND of the stored bytes would give False."""
    a = np.full((m, k), bytes_a, np.uint8).view(bool)
    b = np.full((k, n), bytes_b, np.uint8).view(bool)
    for x, y in [(a, b), (a[0], b), (a, b[:, 0]), (a[0], b[:, 0])]:
        result = np.asarray(matmul(x, y))
        assert result.all()
        assert_array_equal(result.view(np.uint8), np.ones(result.shape, np.uint8))
    # a single true pair, at the far end of the depth
    a = np.zeros((m, k), np.uint8)
    b = np.zeros((k, n), np.uint8)
    a[m - 1, k - 1] = bytes_a
    b[k - 1, n - 1] = bytes_b
    expected = np.zeros((m, n), np.uint8)
    expected[m - 1, n - 1] = 1
    assert_array_equal(matmul(a.view(bool), b.view(bool)).view(np.uint8), expected)


@pytest.mark.parametrize("dtype", [np.dtype(c) for c in "fdFD"], ids=dtype_id)
@pytest.mark.parametrize("k", [1, 3, 8, 15, 16, 40])
@pytest.mark.parametrize("step", [-1, 2, -3], ids=["reversed", "every-other", "back-by-3"])
def test_matrix_times_strided_vector(dtype, k, step):
    """Short and long rows times a vector read with any step (the scalar
    chains and the lane sums of dot products), and strided rows, through
    matmul and matvec (whose vector has a unit column step): exact values
    give NumPy's results bit for bit."""
    rng = np.random.default_rng(k)
    a = rng.integers(-9, 9, (37, k * 3)).astype(dtype)
    x = rng.integers(-9, 9, k * 3).astype(dtype)
    vec = x[::step][:k]
    for rows in (a[:, :k], a[:, ::3][:, :k], a[::-1, -k:]):
        expected = np.matmul(rows, vec)
        assert_array_equal(gufunc_matmul.matmul(rows, vec), expected)
        assert_array_equal(gufunc_matmul.matmul(vec, rows.T), expected)
        assert_array_equal(gufunc_matmul.matvec(rows, vec), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128],
                         ids=dtype_id)
def test_partial_vectors_of_columns_write_only_their_columns(dtype):
    """Rows of C narrower than a vector, or past the last whole one, are
    written lane by lane: NumPy's values in every column, and the columns
    beside C untouched, on every instruction set (stacks, shared B, B and
    C with padded rows)."""
    rng = np.random.default_rng(7)
    sentinel = np.array(-12345.5, dtype)
    with every_isa() as isas:
        for isa in isas:
            for n in range(1, 19):
                for m, k, stack in [(1, 3, ()), (5, 20, ()), (39, 7, (3,)), (13, 300, ())]:
                    a = make_values(dtype, stack + (m, k), (n, 1.0, 0.0))
                    b = rng.standard_normal((k, n + 3)).astype(dtype)[:, 1:n + 1]
                    big = np.full(stack + (m, n + 4), sentinel, dtype)
                    out = big[..., 2:n + 2]
                    matmul(a, b, out=out)
                    assert_values_match(out, np.matmul(a, b), a, b)
                    assert (big[..., :2] == sentinel).all(), (isa, n, m, k)
                    assert (big[..., n + 2:] == sentinel).all(), (isa, n, m, k)
