"""Dask arrays of MatmulArray chunks: matrix products through gufunc_matmul's
kernels on every block, on the local threaded scheduler.

The route: make the chunks MatmulArray (``x.map_blocks(gufunc_matmul.asarray)``)
and multiply with ``@``, ``dask.array.matmul`` or ``numpy.matmul``.  Dask
then calls ``numpy.matmul`` on pairs of blocks (a chunked contraction axis
gives partial products that it sums), and MatmulArray sends each of those
calls to gufunc_matmul.matmul.  Calling ``gufunc_matmul.matmul`` itself on
dask arrays goes instead to dask's generic gufunc path, which does not accept
optional dimensions (``?``) in a signature; gufunc_matmul's vecdot, matvec
and vecmat, whose signatures have none, can be called on dask arrays
directly.
"""
import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import gufunc_matmul
from gufunc_matmul import MatmulArray

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

class CallCounter:
    """Stands in for one of gufunc_matmul's ufuncs in MatmulArray's table of
    replacements and counts the calls, from any thread."""

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

    def __getattr__(self, name):
        return getattr(self.ufunc, name)

    def reset(self):
        self.calls = 0
        self.threads = set()


@pytest.fixture
def counted(monkeypatch):
    table = gufunc_matmul._array._REPLACEMENTS
    counters = {}
    for theirs, mine in list(table.items()):
        counters[theirs.__name__] = CallCounter(mine)
        monkeypatch.setitem(table, theirs, counters[theirs.__name__])
    return counters


def compute(x):
    return x.compute(scheduler="threads", num_workers=4)


def matmul_chunked(a, chunks):
    """A dask array of MatmulArray chunks: the route this module tests."""
    return da.from_array(a, chunks=chunks).map_blocks(gufunc_matmul.asarray)


def integers(rng, shape, dtype):
    """Small integers: every sum is exact, in any order and chunking."""
    data = rng.integers(-20, 20, shape)
    if np.dtype(dtype).kind == "c":
        data = data + 1j * rng.integers(-20, 20, shape)
    return data.astype(dtype)


def test_map_blocks_gives_matmul_array_chunks():
    x = matmul_chunked(np.arange(12.0).reshape(3, 4), 2)
    assert type(x._meta) is MatmulArray
    blocks = dask.compute(*x.to_delayed().ravel(), scheduler="threads")
    assert all(type(b) is MatmulArray for b in blocks)


PRODUCTS = {
    "@": lambda x, y: x @ y,
    "dask.array.matmul": lambda x, y: da.matmul(x, y),
    "numpy.matmul": lambda x, y: np.matmul(x, y),
}


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "complex128"])
@pytest.mark.parametrize("product", list(PRODUCTS))
def test_chunked_contraction_through_our_kernels(product, dtype, counted):
    rng = np.random.default_rng(0)
    a, b = integers(rng, (60, 50), dtype), integers(rng, (50, 40), dtype)
    # 3 x 4 blocks of the result, 4 blocks along the contraction axis
    x = matmul_chunked(a, (20, 13))
    y = matmul_chunked(b, (13, 10))
    z = PRODUCTS[product](x, y)
    assert type(z._meta) is MatmulArray
    assert z.dtype == np.result_type(a, b)
    counted["matmul"].reset()
    result = compute(z)
    assert_array_equal(result, np.matmul(a, b), strict=True)
    assert counted["matmul"].calls == 3 * 4 * 4
    # the blocks of the product are MatmulArray too
    counted["matmul"].reset()
    blocks = dask.compute(*z.to_delayed().ravel(), scheduler="threads")
    assert all(type(block) is MatmulArray for block in blocks)
    assert counted["matmul"].calls == 3 * 4 * 4


def test_random_floats_match_numpy(counted):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((300, 256)), rng.standard_normal((256, 200))
    z = matmul_chunked(a, (100, 64)) @ matmul_chunked(b, (64, 100))
    counted["matmul"].reset()
    assert_allclose(compute(z), a @ b, rtol=1e-12, atol=1e-12)
    assert counted["matmul"].calls == 3 * 2 * 4
    # the threaded scheduler ran the blocks on its worker threads
    assert threading.get_ident() not in counted["matmul"].threads


def test_stacks_and_vectors(counted):
    rng = np.random.default_rng(2)
    a = integers(rng, (4, 30, 20), "float64")
    b = integers(rng, (4, 20, 10), "float64")
    v = integers(rng, (20,), "float64")
    x = matmul_chunked(a, (2, 10, 7))
    y = matmul_chunked(b, (2, 7, 5))
    w = matmul_chunked(v, 7)
    z = x @ y
    counted["matmul"].reset()
    assert_array_equal(compute(z), a @ b)
    assert counted["matmul"].calls == 2 * 3 * 2 * 3
    assert_array_equal(compute(x @ w), a @ v)
    assert_array_equal(compute(w @ y), v @ b)
    assert_array_equal(compute(x[0] @ w), a[0] @ v)
    # a NumPy array (of either kind) on one side
    assert_array_equal(compute(x @ gufunc_matmul.asarray(b)), a @ b)
    assert_array_equal(compute(x[0] @ b[0]), a[0] @ b[0])


def test_our_vector_functions_on_dask_arrays():
    """vecdot, matvec and vecmat have plain signatures: called on dask
    arrays, they go to dask's apply_gufunc, which calls them on the blocks
    (each core axis must be in one chunk).  The chunks' type does not
    matter here: dask joins the blocks of a generalized ufunc's operands
    into plain ndarrays, so ``numpy.vecdot`` on dask arrays runs NumPy's
    loops even with MatmulArray chunks."""
    rng = np.random.default_rng(4)
    m, v = integers(rng, (8, 30), "float64"), integers(rng, (40, 30), "float64")
    x, y = matmul_chunked(m, (8, 30)), matmul_chunked(v, (10, 30))
    assert_array_equal(compute(gufunc_matmul.vecdot(y, y[::-1])),
                       gufunc_matmul.vecdot(v, v[::-1]), strict=True)
    assert_array_equal(compute(gufunc_matmul.matvec(x, y)),
                       gufunc_matmul.matvec(m, v), strict=True)
    assert_array_equal(compute(gufunc_matmul.vecmat(y, x.T)),
                       gufunc_matmul.vecmat(v, m.T), strict=True)


def test_calling_our_matmul_on_dask_arrays_directly():
    """Not the route: dask's generic gufunc path rejects the optional
    dimensions of matmul's signature (if a later dask accepts them, the
    result must still be right)."""
    rng = np.random.default_rng(5)
    a, b = integers(rng, (6, 4), "float64"), integers(rng, (4, 5), "float64")
    x, y = matmul_chunked(a, 2), matmul_chunked(b, (4, 5))
    try:
        result = gufunc_matmul.matmul(x, y)
    except ValueError as exc:
        assert "signature" in str(exc)
    else:
        assert_array_equal(compute(result), a @ b)
