"""Every error of numpy.matmul, with the same exception type and message."""
import numpy as np
import pytest

import gufunc_matmul
from checks import assert_same_error, assert_same_outcome

matmul = gufunc_matmul.matmul

M23 = np.ones((2, 3))
M32 = np.ones((3, 2))
M22 = np.ones((2, 2))
V3 = np.ones(3)


def _read_only(shape, dtype=float):
    out = np.zeros(shape, dtype)
    out.flags.writeable = False
    return out


# ------------------------------------------------------------------ operands

SCALAR_CASES = {
    "int-then-vector": (3, [1, 2]),
    "vector-then-int": ([1, 2], 3),
    "both-python-scalars": (2.0, 3.0),
    "0d-then-matrix": (np.array(2.0), M22),
    "matrix-then-0d": (M22, np.array(2.0)),
    "both-0d": (np.array(1), np.array(2)),
    "numpy-scalar": (np.float64(1.0), V3),
    "complex-scalar": (V3, 1j),
    "0d-object": (np.array(None, dtype=object), np.ones(2, object)),
    "none": (None, V3),
}


@pytest.mark.parametrize("a,b", SCALAR_CASES.values(), ids=SCALAR_CASES.keys())
def test_scalar_operands(a, b):
    assert_same_error(a, b)


MISMATCH_CASES = {
    "matrices": (np.ones((2, 3)), np.ones((4, 2))),
    "vectors": (np.ones(3), np.ones(4)),
    "matrix-vector": (np.ones((2, 3)), np.ones(4)),
    "vector-matrix": (np.ones(3), np.ones((4, 2))),
    "stacked": (np.ones((5, 2, 3)), np.ones((5, 2, 3))),
    "empty-vs-one": (np.ones((2, 0)), np.ones((1, 2))),
    "one-vs-empty": (np.ones((2, 1)), np.ones((0, 2))),
    "big": (np.ones((70, 300)), np.ones((299, 70))),
    "ints": (np.ones((2, 3), int), np.ones((2, 3), int)),
    "objects": (np.ones((2, 3), object), np.ones((2, 3), object)),
}


@pytest.mark.parametrize("a,b", MISMATCH_CASES.values(), ids=MISMATCH_CASES.keys())
def test_core_dimension_mismatch(a, b):
    assert_same_error(a, b)


BROADCAST_CASES = {
    "2-vs-4": (np.ones((2, 3, 3)), np.ones((4, 3, 3))),
    "nested": (np.ones((2, 3, 3, 3)), np.ones((4, 3, 3))),
    "zero-vs-two": (np.ones((0, 3, 3)), np.ones((2, 3, 3))),
    "vector-with-stack": (np.ones((2, 3, 4)), np.ones((3, 4, 5))),
}


@pytest.mark.parametrize("a,b", BROADCAST_CASES.values(), ids=BROADCAST_CASES.keys())
def test_stacks_do_not_broadcast(a, b):
    assert_same_error(a, b)


# ---------------------------------------------------------------------- out=

OUT_CASES = {
    "wrong-shape": (M23, M32, dict(out=np.empty((3, 3)))),
    "transposed-shape": (M23, np.ones((3, 4)), dict(out=np.empty((4, 2)))),
    "fewer-dims": (M23, M32, dict(out=np.empty(2))),
    "0d-for-matrix": (M23, M32, dict(out=np.empty(()))),
    "float-into-int": (M23, M32, dict(out=np.empty((2, 2), int))),
    "complex-into-float": (M23.astype(complex), M32, dict(out=np.empty((2, 2)))),
    "float-into-bool": (M23, M32, dict(out=np.empty((2, 2), bool))),
    "int64-into-int8-safe": (M23.astype(int), M32.astype(int),
                             dict(out=np.empty((2, 2), np.int8), casting="safe")),
    "int-into-uint-no": (M23.astype(int), M32.astype(int),
                         dict(out=np.empty((2, 2), np.uint64), casting="no")),
    "float-into-object-no": (M23, M32, dict(out=np.empty((2, 2), object),
                                            casting="no")),
    "object-into-float": (M23.astype(object), M32.astype(object),
                          dict(out=np.empty((2, 2)))),
    "read-only": (M23, M32, dict(out=_read_only((2, 2)))),
    "read-only-scalar": (V3, V3, dict(out=_read_only(()))),
    "list": (M23, M32, dict(out=[[0.0, 0.0], [0.0, 0.0]])),
    "python-scalar": (M23, M32, dict(out=1.0)),
    "string": (M23, M32, dict(out="out")),
    "tuple-two": (M23, M32, dict(out=(np.empty((2, 2)), np.empty((2, 2))))),
    "tuple-empty": (M23, M32, dict(out=())),
    "tuple-of-list": (M23, M32, dict(out=([[0.0, 0.0], [0.0, 0.0]],))),
    "subclass-wrong-shape": (M23, M32, dict(out=np.empty((2, 3)).view(np.recarray))),
}


@pytest.mark.parametrize("a,b,kwargs", OUT_CASES.values(), ids=OUT_CASES.keys())
def test_bad_out(a, b, kwargs):
    assert_same_error(a, b, **kwargs)


# out= arrays with more loop dimensions than the inputs broadcast to are
# accepted by numpy.matmul (the inputs broadcast against them).
ACCEPTED_OUT_CASES = {
    "more-dims": (M23, M32, dict(out=np.empty((2, 2, 2)))),
    "vector-for-scalar": (V3, V3, dict(out=np.empty(1))),
    "broadcastable-stack": (np.ones((1, 2, 3)), M32, dict(out=np.empty((4, 2, 2)))),
    "stack-for-plain": (M23, M32, dict(out=np.empty((1, 2, 2)))),
    "sig-keyword": (M23, M32, dict(sig="dd->d")),
}


@pytest.mark.parametrize("a,b,kwargs", ACCEPTED_OUT_CASES.values(),
                         ids=ACCEPTED_OUT_CASES.keys())
def test_out_with_extra_loop_dimensions_accepted(a, b, kwargs):
    kwargs = dict(kwargs)
    out = kwargs.pop("out", None)
    if out is None:
        assert_same_outcome(a, b, **kwargs)
        return
    expected = np.full_like(out, -1.0)
    np.matmul(a, b, out=expected, **kwargs)
    out[...] = -1
    assert matmul(a, b, out=out, **kwargs) is out
    np.testing.assert_array_equal(out, expected, strict=True)


def test_out_given_twice():
    out = np.empty((2, 2))
    assert_same_error(M23, M32, out, out=out)


def test_too_many_positional_outputs():
    out = np.empty((2, 2))
    assert_same_error(M23, M32, out, out)


def test_too_few_arguments():
    with pytest.raises(TypeError) as ours:
        matmul(M23)
    with pytest.raises(TypeError) as theirs:
        np.matmul(M23)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError) as ours:
        matmul()
    with pytest.raises(TypeError) as theirs:
        np.matmul()
    assert str(ours.value) == str(theirs.value)


# --------------------------------------------------------------------- axes=

A3 = np.ones((4, 2, 5))
B3 = np.ones((2, 6, 5))

AXES_CASES = {
    "too-few-entries": dict(axes=[(-3, -1), (-1, -2)]),
    "too-many-entries": dict(axes=[(-3, -1), (-1, -2), (-2, -3), (0, 1)]),
    "entry-too-short": dict(axes=[(-3,), (-1, -2), (-2, -3)]),
    "entry-too-long": dict(axes=[(-3, -1, 0), (-1, -2), (-2, -3)]),
    "out-of-bounds": dict(axes=[(-4, -1), (-1, -2), (-2, -3)]),
    "out-of-bounds-positive": dict(axes=[(0, 3), (-1, -2), (-2, -3)]),
    "repeated": dict(axes=[(-1, -1), (-1, -2), (-2, -3)]),
    "not-a-list": dict(axes=5),
    "string": dict(axes="ab"),
    "float-entry": dict(axes=[(0.5, 1), (-1, -2), (-2, -3)]),
    "none-entry": dict(axes=[None, (-1, -2), (-2, -3)]),
    "axis-keyword": dict(axis=0),
    "axis-and-axes": dict(axis=0, axes=[(-3, -1), (-1, -2), (-2, -3)]),
    "mismatch-after-moving": dict(axes=[(-1, -3), (-1, -2), (-2, -3)]),
}


@pytest.mark.parametrize("kwargs", AXES_CASES.values(), ids=AXES_CASES.keys())
def test_bad_axes(kwargs):
    assert_same_error(A3, B3, **kwargs)


@pytest.mark.parametrize("axes", [[(0,), (0,), (0,)], [(0, 1), (0,), ()],
                                  [0, 0, 0], [(0,), (0,)]], ids=str)
def test_bad_axes_for_vectors(axes):
    assert_same_error(V3, V3, axes=axes)


# ---------------------------------------------------------------- keywords

KEYWORD_CASES = {
    "unknown-keyword": dict(foo=1),
    "where": dict(where=True),
    "where-array": dict(where=np.array([True, False])),
    "keepdims": dict(keepdims=True),
    "bad-casting": dict(casting="sometimes"),
    "bad-order": dict(order="X"),
    "bad-dtype": dict(dtype="not a dtype"),
    "dtype-and-signature": dict(dtype=float, signature="dd->d"),
    "bad-signature-string": dict(signature="dd"),
    "unknown-loop": dict(signature="ii->d"),
    "string-loop": dict(signature=(None, None, "U")),
    "int-dtype-same-kind": dict(dtype=np.int32),
    "extobj": dict(extobj=[8192, 0, None]),
}


@pytest.mark.parametrize("kwargs", KEYWORD_CASES.values(), ids=KEYWORD_CASES.keys())
def test_bad_keywords(kwargs):
    assert_same_error(M23, M32, **kwargs)


# --------------------------------------------------------- unsupported types

UNSUPPORTED = {
    "unicode": np.array([["a", "b"], ["c", "d"]]),
    "bytes": np.array([[b"a", b"b"], [b"c", b"d"]]),
    "datetime": np.array([["2020-01-01", "2020-01-02"]] * 2, dtype="M8[D]"),
    "timedelta": np.arange(4, dtype="m8[s]").reshape(2, 2),
    "structured": np.zeros((2, 2), dtype=[("x", "f8"), ("y", "i4")]),
    "void": np.zeros((2, 2), dtype="V8"),
}
if hasattr(np.dtypes, "StringDType"):  # NumPy >= 2.0
    UNSUPPORTED["stringdtype"] = np.array([["a", "b"], ["c", "d"]],
                                          dtype=np.dtypes.StringDType())


@pytest.mark.parametrize("name", UNSUPPORTED)
@pytest.mark.parametrize("other", ["same", "float", "int"])
def test_unsupported_dtypes(name, other):
    a = UNSUPPORTED[name]
    b = {"same": a, "float": np.ones((2, 2)), "int": np.ones((2, 2), int)}[other]
    assert_same_error(a, b)
    assert_same_error(b, a)


def test_timedelta_times_int():
    """numpy.matmul has no m8 loop either: both refuse it."""
    td = np.arange(4, dtype="m8[s]").reshape(2, 2)
    assert_same_error(td, np.ones((2, 2), np.int64))


def test_ragged_list():
    assert_same_error([[1, 2], [3]], [[1], [2]])


def test_unconvertible_object():
    class NotArray:
        pass

    assert_same_error(NotArray(), M22)
    assert_same_error(M22, NotArray())


# ------------------------------------------------------------------- methods

METHOD_CALLS = {
    "reduce": lambda f: f.reduce(M22),
    "reduce-axis": lambda f: f.reduce(np.ones((3, 2, 2)), axis=0),
    "accumulate": lambda f: f.accumulate(M22),
    "reduceat": lambda f: f.reduceat(M22, [0]),
    "outer": lambda f: f.outer(M22, M22),
    "outer-vectors": lambda f: f.outer(V3, V3),
    "at": lambda f: f.at(M22, [0], M22),
    "at-two-args": lambda f: f.at(M22, [0]),
}


@pytest.mark.parametrize("call", METHOD_CALLS.values(), ids=METHOD_CALLS.keys())
def test_ufunc_methods_refused(call):
    with pytest.raises(Exception) as theirs:
        call(np.matmul)
    with pytest.raises(Exception) as ours:
        call(matmul)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
