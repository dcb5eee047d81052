"""Floating-point error reporting (np.errstate / RuntimeWarning) like
numpy.matmul's: a warning or FloatingPointError exactly when the plain
sum of products raises the IEEE flag, none from the implementation's own
work (such as the zero padding of partial tiles)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gufunc_matmul
from strategies import operand_pairs

matmul = gufunc_matmul.matmul


def fp_warnings(func, a, b):
    """The messages of the floating-point warnings that func(a, b) emits
    with every error category set to warn."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        func(a, b)
    return sorted(str(w.message) for w in caught
                  if issubclass(w.category, RuntimeWarning))


def raises_fpe(func, a, b):
    with np.errstate(all="raise"):
        try:
            func(a, b)
        except FloatingPointError as exc:
            return str(exc)
    return None


def assert_same_fp_errors(a, b):
    assert fp_warnings(matmul, a, b) == fp_warnings(np.matmul, a, b)
    assert raises_fpe(matmul, a, b) == raises_fpe(np.matmul, a, b)


def _inf_in_b(dtype, m, k, n):
    a = np.ones((m, k), dtype)
    b = np.ones((k, n), dtype)
    b[0, 0] = np.inf
    return a, b


# Sizes on the direct path and on the blocked path, with partial tiles
# (m, n not multiples of the micro-tile) and without.
SIZES = [(2, 3, 2), (5, 100, 5), (8, 100, 8), (70, 40, 3), (3, 300, 70)]


#: Types that numpy.matmul never hands to BLAS: its loop is the plain sum,
#: so its flags are those of the plain sum.  (For float32/64 and
#: complex64/128 OpenBLAS may raise flags of its own: on some shapes it
#: reports 'invalid' for inf * 1.)
NO_BLAS_REAL = [np.float16, np.longdouble]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
@pytest.mark.parametrize("m,k,n", SIZES)
@pytest.mark.parametrize("transposed", [False, True])
def test_inf_operand_without_invalid_product(dtype, m, k, n, transposed):
    """inf * 1 is inf, no invalid operation: the plain sum raises no flag,
    so no warning and no FloatingPointError."""
    a, b = _inf_in_b(dtype, m, k, n)
    if transposed:
        a, b = b.T.copy(), a.T.copy()
    assert fp_warnings(matmul, a, b) == []
    assert raises_fpe(matmul, a, b) is None
    if dtype in NO_BLAS_REAL:
        assert_same_fp_errors(a, b)


@pytest.mark.parametrize("m,k,n", SIZES)
def test_complex_inf_operand_like_numpy(m, k, n):
    """(inf+0j) * (1+0j) has 0 * inf in its imaginary part: 'invalid'."""
    a, b = _inf_in_b(np.clongdouble, m, k, n)
    assert fp_warnings(np.matmul, a, b) == ["invalid value encountered in matmul"]
    assert_same_fp_errors(a, b)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
@pytest.mark.parametrize("m,k,n", SIZES)
def test_zero_times_inf_warns_invalid(dtype, m, k, n):
    a, b = _inf_in_b(dtype, m, k, n)
    a[0, 0] = 0
    assert fp_warnings(matmul, a, b) == ["invalid value encountered in matmul"]
    assert raises_fpe(matmul, a, b) == "invalid value encountered in matmul"
    if dtype in NO_BLAS_REAL:
        assert_same_fp_errors(a, b)


@pytest.mark.parametrize("m,k,n", SIZES)
def test_float16_overflow_warns(m, k, n):
    """NumPy rounds the float32 sum to float16 with npy_float_to_half, which
    raises the overflow flag when a finite sum becomes inf."""
    a = np.full((m, k), 200, np.float16)
    b = np.full((k, n), 200, np.float16)
    assert fp_warnings(np.matmul, a, b) == ["overflow encountered in matmul"]
    assert_same_fp_errors(a, b)


def test_float16_overflow_warns_for_vectors():
    a = np.array([300, 300], np.float16)
    assert_same_fp_errors(a, a)


def test_float16_underflow_raises_under_errstate():
    """A sum that rounds to a float16 subnormal or zero with a loss of
    precision raises the underflow flag in NumPy (ignored by default)."""
    a = np.array([1e-4], np.float16)
    assert raises_fpe(np.matmul, a, a) == "underflow encountered in matmul"
    assert_same_fp_errors(a, a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overflow_of_finite_sum_warns(dtype):
    big = np.finfo(dtype).max / 2
    a = np.full((3, 4), big, dtype)
    b = np.full((4, 3), 4, dtype)
    assert fp_warnings(np.matmul, a, b) == ["overflow encountered in matmul"]
    assert fp_warnings(matmul, a, b) == ["overflow encountered in matmul"]


def test_finite_values_raise_nothing():
    rng = np.random.default_rng(0)
    for dtype in (np.float16, np.float32, np.float64, np.longdouble,
                  np.complex64, np.complex128, np.clongdouble):
        a = rng.standard_normal((33, 47)).astype(dtype)
        b = rng.standard_normal((47, 29)).astype(dtype)
        assert fp_warnings(matmul, a, b) == []
        assert raises_fpe(matmul, a, b) is None


@pytest.mark.parametrize("dtype", [np.dtype("e"), np.dtype("g"), np.dtype("G")],
                         ids=["float16", "longdouble", "clongdouble"])
@settings(max_examples=max(25, settings.default.max_examples // 2))
@given(data=st.data())
def test_fp_errors_match_numpy(dtype, data):
    """For the types NumPy never hands to BLAS its loop is the plain sum in
    the order p = 0..k-1, so the flags it raises are well defined."""
    a, b = data.draw(operand_pairs(dtype))
    assert fp_warnings(matmul, a, b) == fp_warnings(np.matmul, a, b)


# ----------------------------------------------------- threaded products

# Past the size (about 4e5 multiply-adds per thread) at which a product
# is split over threads; odd sizes leave partial tiles.
THREADED = [((161, 100), (100, 121)), ((6, 61, 50), (50, 71)),
            ((2001, 500), (500,)), ((500,), (500, 2001))]


@pytest.fixture
def thread_counts():
    yield [1, 2, 3, 4]
    gufunc_matmul.set_num_threads(0)


def _last(shape):
    return tuple(n - 1 for n in shape)


@pytest.mark.parametrize("shapes", THREADED, ids=str)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_threaded_flags_reach_the_caller(shapes, dtype, thread_counts):
    """A flag raised in the last part of the work (another thread's) is
    reported; an inf that meets only non-zero values raises nothing."""
    a = np.ones(shapes[0], dtype)
    b = np.ones(shapes[1], dtype)
    big = np.finfo(dtype).max
    a_overflow = a.copy()
    a_overflow[_last(a.shape)] = big
    b_overflow = b.copy()
    b_overflow[_last(b.shape)] = 4
    a_inf = a.copy()
    a_inf[_last(a.shape)] = np.inf
    a_nan = a_inf.copy()
    b_zero = b.copy()
    b_zero[_last(b.shape)] = 0
    for n in thread_counts:
        gufunc_matmul.set_num_threads(n)
        assert fp_warnings(matmul, a_overflow, b_overflow) == \
            ["overflow encountered in matmul"], n
        assert fp_warnings(matmul, a_inf, b) == [], n
        assert fp_warnings(matmul, a_nan, b_zero) == \
            ["invalid value encountered in matmul"], n
        assert raises_fpe(matmul, a_inf, b) is None
        if dtype in NO_BLAS_REAL:
            for x, y in [(a_overflow, b_overflow), (a_inf, b), (a_nan, b_zero)]:
                assert fp_warnings(matmul, x, y) == fp_warnings(np.matmul, x, y)


@pytest.mark.parametrize("k", [2, 40, 300])
@pytest.mark.parametrize("n", [1, 2, 20])
def test_float16_zero_times_inf_after_a_nan(k, n):
    """NumPy multiplies then adds: 0 * inf raises "invalid" even once the
    sum is NaN, which a fused multiply-add on a NaN sum need not raise."""
    a = np.ones(k, np.float16)
    a[-1] = 0
    b = np.ones((k, n), np.float16)
    b[0] = np.nan
    b[-1] = np.inf
    assert fp_warnings(np.matmul, a, b) == ["invalid value encountered in matmul"]
    assert fp_warnings(matmul, a, b) == fp_warnings(np.matmul, a, b)
    assert fp_warnings(matmul, b.T, a) == fp_warnings(np.matmul, b.T, a)
