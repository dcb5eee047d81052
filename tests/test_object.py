"""The object loop: Python's * and +, in NumPy's order, errors propagated,
and no reference leaked or lost."""
import decimal
import gc
import sys
from fractions import Fraction

import numpy as np
import pytest

import gufunc_matmul
from checks import assert_same_error

matmul = gufunc_matmul.matmul

SHAPES = [
    ((3, 4), (4, 2)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((5,), (5,)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((9, 17), (17, 10)),
    ((1, 1), (1, 1)),
]


def object_array(values, shape):
    arr = np.empty(shape, dtype=object)
    flat = list(values)
    for i, index in enumerate(np.ndindex(*shape)):
        arr[index] = flat[i % len(flat)] if flat else None
    return arr


def assert_same_objects(result, expected):
    """Equal values and the same Python types, element by element."""
    assert type(result) is type(expected)
    if isinstance(expected, np.ndarray):
        assert result.dtype == expected.dtype == object
        assert result.shape == expected.shape
        pairs = zip(result.flat, expected.flat)
    else:
        pairs = [(result, expected)]
    for r, e in pairs:
        assert type(r) is type(e), (r, e)
        assert r == e, (r, e)


def fractions(n, seed):
    rng = np.random.default_rng(seed)
    return [Fraction(int(p), int(q)) for p, q in
            zip(rng.integers(-50, 50, n), rng.integers(1, 30, n))]


def big_ints(n, seed):
    rng = np.random.default_rng(seed)
    return [int(x) * 2**100 - int(y) for x, y in
            zip(rng.integers(-2**62, 2**62, n), rng.integers(0, 2**62, n))]


def decimals(n, seed):
    rng = np.random.default_rng(seed)
    return [decimal.Decimal(int(x)) / decimal.Decimal(int(y)) for x, y in
            zip(rng.integers(-10**6, 10**6, n), rng.integers(1, 1000, n))]


@pytest.mark.parametrize("make", [fractions, big_ints, decimals],
                         ids=["Fraction", "bigint", "Decimal"])
@pytest.mark.parametrize("shape_a,shape_b", SHAPES, ids=str)
@pytest.mark.parametrize("layout", ["C", "T", "reversed"])
def test_matches_numpy_exactly(make, shape_a, shape_b, layout):
    a = object_array(make(200, 1), shape_a)
    b = object_array(make(200, 2), shape_b)
    if layout == "T" and a.ndim >= 2:
        a = np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2)
    if layout == "reversed":
        a, b = a[..., ::-1].copy()[..., ::-1], b[::-1].copy()[::-1]
    expected = np.matmul(a, b)
    result = matmul(a, b)
    assert_same_objects(result, expected)


def test_decimal_rounding_order_matches_numpy():
    """The sum starts from the first product and adds in order p = 0..k-1,
    which shows in the rounding of a low-precision Decimal context."""
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        a = object_array([decimal.Decimal(x) for x in
                          ["1.23", "4.56", "7.89", "0.001", "999", "0.5"]], (2, 6))
        b = object_array([decimal.Decimal(x) for x in
                          ["3.21", "0.07", "5.5", "123", "0.333", "1e-5"]], (6, 3))
        assert_same_objects(matmul(a, b), np.matmul(a, b))


def test_object_mixed_with_numeric_arrays():
    a = object_array(fractions(12, 3), (3, 4))
    b = np.arange(8, dtype=np.int64).reshape(4, 2)
    assert_same_objects(matmul(a, b), np.matmul(a, b))
    assert_same_objects(matmul(b.T, a.T), np.matmul(b.T, a.T))
    c = np.arange(4.0)
    assert_same_objects(matmul(a, c), np.matmul(a, c))


def test_dtype_object_from_numeric_inputs():
    a = np.arange(6, dtype=np.int64).reshape(2, 3) * 2**40
    b = np.arange(6, dtype=np.int64).reshape(3, 2) * 2**40
    expected = np.matmul(a, b, dtype=object)
    result = matmul(a, b, dtype=object)
    assert_same_objects(result, expected)
    assert result[1, 1] == int(a[1] @ b[:, 1].astype(object))   # no wrap-around


class Sym:
    """A symbolic value: the result spells out every * and + in order."""

    def __init__(self, text):
        self.text = text

    def __mul__(self, other):
        return Sym(f"({self.text}*{other.text})")

    def __add__(self, other):
        return Sym(f"[{self.text}+{other.text}]")

    def __eq__(self, other):
        return isinstance(other, Sym) and self.text == other.text

    __hash__ = None

    def __repr__(self):
        return f"Sym({self.text!r})"


def test_operation_order_and_operands_like_numpy():
    """Not commutative, not associative: a[i,p] * b[p,j], summed from the
    first product on (no 0 +), left to right."""
    a = object_array([Sym(f"a{i}") for i in range(6)], (2, 3))
    b = object_array([Sym(f"b{i}") for i in range(6)], (3, 2))
    result = matmul(a, b)
    assert_same_objects(result, np.matmul(a, b))
    assert result[0, 0] == Sym("[[(a0*b0)+(a1*b2)]+(a2*b4)]")
    assert matmul(a[0], b[:, 1]) == Sym("[[(a0*b1)+(a1*b3)]+(a2*b5)]")
    assert matmul(a[:, :1], b[:1]).tolist() == np.matmul(a[:, :1], b[:1]).tolist()


def test_empty_depth_gives_python_int_zero():
    a = np.empty((2, 0), dtype=object)
    b = np.empty((0, 3), dtype=object)
    result = matmul(a, b)
    assert_same_objects(result, np.matmul(a, b))
    assert all(type(x) is int and x == 0 for x in result.flat)
    scalar = matmul(np.empty(0, object), np.empty(0, object))
    assert type(scalar) is int and scalar == 0


# ------------------------------------------------------------------- errors


class NoMul:
    def __add__(self, other):
        return self


class NoAdd:
    def __mul__(self, other):
        return NoAdd()


class Boom(Exception):
    pass


class MulRaises:
    def __mul__(self, other):
        raise Boom("multiplication refused")

    def __add__(self, other):
        return self


class AddRaises:
    def __mul__(self, other):
        return AddRaises()

    def __add__(self, other):
        raise Boom("addition refused")


@pytest.mark.parametrize("cls", [NoMul, NoAdd], ids=lambda c: c.__name__)
@pytest.mark.parametrize("shape_a,shape_b", [((2, 3), (3, 2)), ((3,), (3,)),
                                             ((2, 2, 3), (3, 1))], ids=str)
def test_missing_operator_raises_type_error(cls, shape_a, shape_b):
    a = object_array([cls()], shape_a)
    b = object_array([cls()], shape_b)
    if len(shape_a) < 3:
        assert_same_error(a, b)
    # numpy.matmul's object loop goes on with the next matrix of a stack
    # after an error and ends in SystemError: match its result, not its bug.
    op = "+" if cls is NoAdd else "*"
    with pytest.raises(TypeError, match=rf"unsupported operand type\(s\) for \{op}"):
        matmul(a, b)


def test_missing_add_with_single_term_is_fine():
    a = object_array([NoAdd()], (2, 1))
    b = object_array([NoAdd()], (1, 2))
    result = matmul(a, b)
    assert all(isinstance(x, NoAdd) for x in result.flat)
    assert np.matmul(a, b).shape == result.shape


@pytest.mark.parametrize("cls", [MulRaises, AddRaises], ids=lambda c: c.__name__)
@pytest.mark.parametrize("shape_a,shape_b", [((2, 3), (3, 2)), ((3,), (3,)),
                                             ((4, 2, 3), (1, 3, 2))], ids=str)
def test_custom_exception_propagates(cls, shape_a, shape_b):
    a = object_array([cls()], shape_a)
    b = object_array([cls()], shape_b)
    if len(shape_a) < 3:        # numpy: SystemError for stacks (see above)
        assert_same_error(a, b)
    with pytest.raises(Boom, match="refused"):
        matmul(a, b)


def test_exception_after_some_elements_propagates():
    calls = []

    class Late:
        def __mul__(self, other):
            calls.append(1)
            if len(calls) == 5:
                raise Boom("fifth product")
            return 1

    a = object_array([Late()], (3, 3))
    with pytest.raises(Boom, match="fifth product"):
        matmul(a, a)


def test_none_elements_like_numpy():
    a = np.array([[None, 1], [2, 3]], dtype=object)
    b = np.array([[1, 2], [3, 4]], dtype=object)
    assert_same_error(a, b)
    assert_same_error(b, a)
    assert_same_error(np.empty((2, 2), object), np.empty((2, 2), object))
    assert_same_error(np.array([None, None]), np.array([None, None]))


class NoneAware:
    def __mul__(self, other):
        return 1 if other is None else 2

    def __rmul__(self, other):
        return 10 if other is None else 20


def test_none_elements_are_passed_as_none():
    a = np.array([[None, NoneAware()]], dtype=object)
    b = np.array([[NoneAware()], [None]], dtype=object)
    result = matmul(a, b)
    assert_same_objects(result, np.matmul(a, b))
    assert result[0, 0] == 11


# --------------------------------------------------------------- references

CALLS = 200


class Sentinel:
    """Every product and every sum is the one object SENTINEL."""

    def __mul__(self, other):
        return SENTINEL

    def __add__(self, other):
        return SENTINEL


SENTINEL = Sentinel()
OLD = object()


def refcounts(objects):
    return [sys.getrefcount(o) for o in objects]


@pytest.fixture(autouse=True)
def _collect_garbage_first():
    gc.collect()


def test_operand_elements_not_leaked():
    elements = fractions(12, 5) + [2**200 + 1, Sentinel()]
    a = object_array(elements[:12], (3, 4))
    b = object_array(elements[:12], (4, 3))
    before = refcounts(elements)
    for _ in range(CALLS):
        matmul(a, b)
        matmul(a[0], b[:, 0])
        matmul(a, b[:, 1])
    assert refcounts(elements) == before


def test_results_owned_once():
    a = object_array([Sentinel()], (3, 4))
    b = object_array([Sentinel()], (4, 5))
    base = refcounts([SENTINEL])[0]
    for _ in range(CALLS):
        matmul(a, b)
    assert refcounts([SENTINEL])[0] == base
    result = matmul(a, b)
    assert refcounts([SENTINEL])[0] == base + result.size
    del result
    assert refcounts([SENTINEL])[0] == base
    for _ in range(CALLS):
        matmul(a[0], b[:, 0])
    assert refcounts([SENTINEL])[0] == base


def test_out_releases_old_values_and_owns_new():
    a = object_array([Sentinel()], (3, 4))
    b = object_array([Sentinel()], (4, 5))
    out = np.empty((3, 5), dtype=object)
    out[...] = OLD
    base_old, base_new = refcounts([OLD, SENTINEL])
    assert matmul(a, b, out=out) is out
    assert refcounts([OLD, SENTINEL]) == [base_old - out.size, base_new + out.size]
    for _ in range(CALLS):
        matmul(a, b, out=out)
    assert refcounts([OLD, SENTINEL]) == [base_old - out.size, base_new + out.size]
    for _ in range(CALLS):   # strided out
        matmul(a, b[:, ::2], out=out[:, ::2])
    assert refcounts([SENTINEL])[0] == base_new + out.size
    del out
    assert refcounts([OLD, SENTINEL]) == [base_old - 15, base_new]


class RaisesOnNth:
    """* gives SENTINEL, except the n-th call on the class, which raises."""
    count = 0
    fail_at = 0

    def __mul__(self, other):
        RaisesOnNth.count += 1
        if RaisesOnNth.count == RaisesOnNth.fail_at:
            raise Boom("nth")
        return SENTINEL


def _slots_holding(arr, obj):
    return sum(1 for x in arr.flat if x is obj)


@pytest.mark.parametrize("with_out", [False, True])
@pytest.mark.parametrize("shape_a,shape_b", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)),
                                             ((4,), (4,)), ((3, 4), (4,))], ids=str)
def test_no_leak_when_raising_midway(with_out, shape_a, shape_b):
    operand = RaisesOnNth()
    a = object_array([operand], shape_a)
    b = object_array([operand], shape_b)
    k = shape_a[-1]
    out_shape = np.broadcast_shapes(shape_a[:-2], shape_b[:-2]) \
        + shape_a[-2:-1] * (len(shape_a) > 1) + shape_b[-1:] * (len(shape_b) > 1)
    total = int(np.prod(out_shape)) * k
    out = None
    out_size = int(np.prod(out_shape)) if with_out else 0
    if with_out:
        out = np.empty(out_shape, dtype=object)
        out[...] = OLD
    base_old, base_new, base_op = refcounts([OLD, SENTINEL, operand])
    for i in range(CALLS):
        RaisesOnNth.count = 0
        RaisesOnNth.fail_at = 1 + i % total
        with pytest.raises(Boom):
            matmul(a, b, out=out)
        if with_out:
            held_new = _slots_holding(out, SENTINEL)
            held_old = _slots_holding(out, OLD)
            assert held_new + held_old == out.size
            assert refcounts([OLD, SENTINEL]) == [base_old - out.size + held_old,
                                                  base_new + held_new]
        else:
            assert refcounts([SENTINEL]) == [base_new]
        assert refcounts([operand]) == [base_op]
    del out
    assert refcounts([OLD, SENTINEL, operand]) == [base_old - out_size, base_new,
                                                   base_op]
