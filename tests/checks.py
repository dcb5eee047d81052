"""Comparisons of gufunc_matmul.matmul against numpy.matmul."""
import contextlib
import warnings

import numpy as np
from numpy.testing import assert_array_equal

import gufunc_matmul


def reference(*args, **kwargs):
    """numpy.matmul with floating-point warnings silenced."""
    with np.errstate(all="ignore"):
        return np.matmul(*args, **kwargs)


def ours(*args, **kwargs):
    """gufunc_matmul.matmul with floating-point warnings silenced."""
    with np.errstate(all="ignore"):
        return gufunc_matmul.matmul(*args, **kwargs)


@contextlib.contextmanager
def every_isa():
    """An iterator over the instruction sets this machine runs, each
    selected in turn as it is yielded; the set selected before is selected
    again on leaving, also when a check fails."""
    core = gufunc_matmul._core
    before = core._isa()

    def each():
        for isa in core._available_isas().split(","):
            core._select_isa(isa.strip())
            yield isa.strip()

    try:
        yield each()
    finally:
        core._select_isa(before)


def _core_depth(a, axes=None):
    a = np.asarray(a)
    if not a.ndim:
        return 0
    if axes is not None:
        return a.shape[np.atleast_1d(axes[0])[-1]]
    return a.shape[-1]


def _magnitude(a, b, wide, axes=None):
    """|a| @ |b| in a wide type, with non-finite entries counted as 0: the
    scale of the rounding error of a summation-order-dependent result."""
    def finite_abs(x):
        x = np.asarray(x)
        if x.dtype.kind in "biu":     # abs(int16(-32768)) wraps: widen first
            return np.abs(x.astype(wide))
        with np.errstate(all="ignore"):
            return np.where(np.isfinite(x), np.abs(x), 0).astype(wide)
    if axes is None:
        return np.matmul(finite_abs(a), finite_abs(b))
    return np.matmul(finite_abs(a), finite_abs(b), axes=axes)


def assert_same_kind_of_result(result, expected):
    """Same Python type (scalar for 1-D @ 1-D, else ndarray), dtype (and type
    character) and shape."""
    assert type(result) is type(expected), (type(result), type(expected))
    if isinstance(expected, (np.ndarray, np.generic)):
        assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
        assert result.dtype.char == expected.dtype.char, (
            result.dtype.char, expected.dtype.char)
        assert result.shape == expected.shape, (result.shape, expected.shape)


def assert_values_match(result, expected, a, b, axes=None, loop_dtype=None):
    """Values of a matmul result against NumPy's.

    bool and integers: identical (wrap-around is exact).  float16: identical,
    as both sum in float32 in the order p = 0..k-1 and round once.  Other
    floats: NaN and +-Inf in the same places; finite values within the
    summation error bound 2 * gamma_(k+2) * (|a| @ |b|) of one another.

    complex64/complex128: NumPy's BLAS path scales the sum by alpha = 1+0j,
    which turns inf+nanj into nan+nanj, so for those only the elements that
    are not finite (either part) must be in the same places.

    ``loop_dtype`` is the type the product was computed in when that is not
    the result's (an ``out=`` of another type); it sets the rules.
    """
    result = np.asarray(result)
    expected = np.asarray(expected)
    dtype = expected.dtype if loop_dtype is None else np.dtype(loop_dtype)
    if dtype.kind in "biuO" or dtype == np.float16:
        assert_array_equal(result, expected, strict=True)
        if expected.dtype == np.float16:   # signed zeros too (not NaN signs)
            numbers = ~np.isnan(expected)
            assert_array_equal(np.signbit(result)[numbers],
                               np.signbit(expected)[numbers], err_msg="signbit")
        if expected.dtype.kind == "b":     # stored as 0 or 1
            assert_array_equal(result.view(np.uint8), expected.view(np.uint8))
        return
    if dtype.kind == "c" and dtype.itemsize < 32 or expected.dtype.kind != dtype.kind:
        assert_array_equal(np.isfinite(result), np.isfinite(expected),
                           err_msg="non-finite elements differ")
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
    finite = np.isfinite(result) & np.isfinite(expected)
    eps = np.finfo(dtype).eps
    k = _core_depth(a, axes)
    bound = 2 * (k + 2) * eps * _magnitude(a, b, wide, axes)
    bound = bound + 4 * np.finfo(dtype).smallest_subnormal * (k + 1)
    with np.errstate(all="ignore"):
        wide_result = np.result_type(wide, dtype, expected.dtype)
        diff = np.abs(result.astype(wide_result) - expected.astype(wide_result))
    bad = finite & ~(diff <= bound)
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} elements differ beyond the error "
            f"bound; first at {where}: ours={result[where]!r} "
            f"numpy={expected[where]!r} bound={bound[where]!r}")


def assert_matches_numpy(a, b, **kwargs):
    """matmul(a, b, **kwargs) gives what numpy.matmul gives; returns it."""
    expected = reference(a, b, **kwargs)
    result = ours(a, b, **kwargs)
    assert_same_kind_of_result(result, expected)
    assert_values_match(result, expected, a, b, kwargs.get("axes"))
    return result


def outcome(func, *args, **kwargs):
    """('ok', result) or ('raise', exception type, message)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return ("ok", func(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome
        return ("raise", type(exc), str(exc))


def assert_same_error(*args, **kwargs):
    """Both raise, with the same exception type and message."""
    expected = outcome(np.matmul, *args, **kwargs)
    assert expected[0] == "raise", f"numpy.matmul did not raise: {expected!r}"
    result = outcome(gufunc_matmul.matmul, *args, **kwargs)
    assert result[0] == "raise", f"gufunc_matmul.matmul did not raise: {result!r}"
    assert result[1] is expected[1], (result[1], expected[1])
    assert result[2] == expected[2]


def assert_same_outcome(*args, **kwargs):
    """Both raise the same error, or both return equal results."""
    expected = outcome(np.matmul, *args, **kwargs)
    result = outcome(gufunc_matmul.matmul, *args, **kwargs)
    assert result[0] == expected[0], (result, expected)
    if expected[0] == "raise":
        assert result[1:] == expected[1:]
        return None
    assert_same_kind_of_result(result[1], expected[1])
    assert_values_match(result[1], expected[1], args[0], args[1],
                        kwargs.get("axes"))
    return result[1]
