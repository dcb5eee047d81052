"""The public face of gufunc_matmul: a numpy.ufunc that looks like
numpy.matmul, overrides, subclasses, pickling, configuration, threads."""
import contextlib
import inspect
import io
import pickle
import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import gufunc_matmul
from checks import outcome
from gufunc_matmul import matmul


def test_is_a_ufunc_named_matmul():
    assert isinstance(matmul, np.ufunc)
    assert matmul.__name__ == "matmul"
    assert repr(matmul) == "<ufunc 'matmul'>"


def test_signature_and_arity():
    assert matmul.signature == np.matmul.signature == "(n?,k),(k,m?)->(n?,m?)"
    assert (matmul.nin, matmul.nout, matmul.nargs) == (2, 1, 3)


def test_types_are_numpys_in_order():
    assert matmul.types == np.matmul.types
    assert matmul.ntypes == np.matmul.ntypes == 19
    assert matmul.types[-1] == "OO->O"


def test_identity_is_none():
    assert matmul.identity is None
    assert np.matmul.identity is None


def test_pickle_round_trip_is_the_same_object():
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(matmul, protocol=protocol)) is matmul


def test_pickle_inside_a_container():
    restored = pickle.loads(pickle.dumps({"f": matmul, "g": np.matmul}))
    assert restored["f"] is matmul
    assert restored["g"] is np.matmul


def test_docstring_starts_like_numpys():
    doc = matmul.__doc__
    assert doc
    first, *rest = doc.splitlines()
    assert first == np.matmul.__doc__.splitlines()[0]
    assert first.startswith("matmul(x1, x2, /, out=None, *, ")
    assert "\n".join(rest).strip()


def test_inspect_signature_like_numpys():
    assert str(inspect.signature(matmul)) == str(inspect.signature(np.matmul))


def test_public_names():
    assert gufunc_matmul.matmul is matmul
    assert isinstance(gufunc_matmul.__version__, str)
    assert gufunc_matmul.__version__
    assert "matmul" in gufunc_matmul.__all__


def test_show_config_prints_versions():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert gufunc_matmul.show_config() is None
    text = buf.getvalue()
    assert np.__version__ in text
    assert gufunc_matmul.__version__ in text
    # one line per registered type, none printed twice (long and long long
    # share the name int64 on most 64-bit Unix)
    kernel_lines = text.split("kernels:\n", 1)[1].splitlines()
    labels = [line.split("  ")[1].strip() for line in kernel_lines]
    assert len(labels) == len([t for t in gufunc_matmul.matmul.types if t[0] != "O"])
    assert len(set(labels)) == len(labels), labels


# ---------------------------------------------------------------- overrides


class Override:
    """Claims every ufunc call it takes part in."""

    def __init__(self):
        self.calls = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self.calls.append((ufunc, method, inputs, kwargs))
        return "overridden"


@pytest.mark.parametrize("position", [0, 1])
def test_array_ufunc_override_receives_our_ufunc(position):
    obj = Override()
    args = [np.ones((2, 2)), np.ones((2, 2))]
    args[position] = obj
    assert matmul(*args) == "overridden"
    (ufunc, method, inputs, kwargs), = obj.calls
    assert ufunc is matmul
    assert method == "__call__"
    assert inputs[position] is obj
    assert kwargs == {}


def test_array_ufunc_override_gets_keywords_and_out():
    obj = Override()
    out = np.empty((2, 2))
    assert matmul(np.ones((2, 2)), obj, out=out, axes=[(0, 1)] * 3) == "overridden"
    (_, _, _, kwargs), = obj.calls
    assert kwargs["out"] == (out,)
    assert kwargs["axes"] == [(0, 1)] * 3


def test_array_ufunc_override_in_out():
    obj = Override()
    assert matmul(np.ones((2, 2)), np.ones((2, 2)), out=obj) == "overridden"
    (_, _, _, kwargs), = obj.calls
    assert kwargs["out"] == (obj,)


def test_array_ufunc_none_refuses():
    class Refuses:
        __array_ufunc__ = None

    for func in (matmul, np.matmul):
        with pytest.raises(TypeError) as excinfo:
            func(np.ones((2, 2)), Refuses())
    assert "Refuses" in str(excinfo.value)


class Logged(np.ndarray):
    """An ndarray subclass that defers to the ndarray implementation."""

    seen = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        Logged.seen.append(ufunc)
        plain = [np.asarray(x) if isinstance(x, Logged) else x for x in inputs]
        return getattr(ufunc, method)(*plain, **kwargs).view(Logged)


def test_subclass_array_ufunc_gets_called_with_our_ufunc():
    Logged.seen.clear()
    a = np.arange(4.0).reshape(2, 2).view(Logged)
    result = matmul(a, a)
    assert Logged.seen == [matmul]
    assert type(result) is Logged
    assert_array_equal(np.asarray(result), np.asarray(a) @ np.asarray(a))


class Wrapped(np.ndarray):
    """Tracks __array_finalize__ and __array_wrap__ like numpy subclasses do."""

    def __array_finalize__(self, obj):
        self.info = getattr(obj, "info", "new")

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        result = super().__array_wrap__(arr, context, return_scalar)
        if isinstance(result, Wrapped):
            result.info = "wrapped by " + (context[0].__name__ if context else "?")
        return result


@pytest.mark.parametrize("which", ["a", "b", "both"])
@pytest.mark.parametrize("subok", [True, False])
def test_subclass_result_like_numpy(which, subok):
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    if which in ("a", "both"):
        a = a.view(Wrapped)
    if which in ("b", "both"):
        b = b.view(Wrapped)
    expected = np.matmul(a, b, subok=subok)
    result = matmul(a, b, subok=subok)
    assert type(result) is type(expected)
    assert getattr(result, "info", None) == getattr(expected, "info", None)
    assert_array_equal(np.asarray(result), np.asarray(expected))


def test_subclass_vector_dot_like_numpy():
    v = np.arange(3.0).view(Wrapped)
    expected = np.matmul(v, v)
    result = matmul(v, v)
    assert type(result) is type(expected)
    assert result == expected


def test_masked_array_like_numpy():
    a = np.ma.masked_array(np.arange(6.0).reshape(2, 3), mask=[[0, 1, 0], [0, 0, 0]])
    for b in (np.arange(12.0).reshape(3, 4), np.arange(9.0).reshape(3, 3)):
        a_ = a if b.shape[0] == 3 and b.shape[1] == 4 else a[:, :3]
        expected = outcome(np.matmul, a_, b)
        result = outcome(matmul, a_, b)
        assert result[0] == expected[0]
        if expected[0] == "raise":    # numpy.ma's mask wrapping is element-wise
            assert result[1:] == expected[1:]
            continue
        assert type(result[1]) is type(expected[1])
        assert_array_equal(np.ma.getdata(result[1]), np.ma.getdata(expected[1]))
        assert_array_equal(np.ma.getmaskarray(result[1]),
                           np.ma.getmaskarray(expected[1]))


# ------------------------------------------------------------------ threads


def test_threads_get_correct_results():
    rng = np.random.default_rng(0)
    operands = [(rng.standard_normal((200, 200)), rng.standard_normal((200, 200)))
                for _ in range(4)]
    expected = [np.matmul(a, b) for a, b in operands]
    results = [[] for _ in operands]
    errors = []
    barrier = threading.Barrier(len(operands))

    def work(index):
        try:
            a, b = operands[index]
            barrier.wait()
            for _ in range(5):
                results[index].append(matmul(a, b))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(operands))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got, want in zip(results, expected):
        assert len(got) == 5
        for r in got:
            assert_allclose(r, want, rtol=1e-12, atol=1e-12)
            assert_array_equal(r, got[0])   # deterministic


def test_threads_sharing_inputs_and_object_loop():
    a = np.arange(30 * 30, dtype=object).reshape(30, 30)
    expected = np.matmul(a, a)
    out = [None] * 4

    def work(i):
        out[i] = matmul(a, a)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in out:
        assert_array_equal(r, expected)


def test_resolve_dtypes_like_numpy():
    f4, f8, i1, u1 = (np.dtype(c) for c in "fdbB")
    for dtypes in [(f4, f8, None), (i1, u1, None), (f4, f4, None), (f8, f8, f8),
                   (np.dtype("e"), np.dtype("h"), None),
                   (np.dtype("?"), np.dtype("?"), None), (np.dtype("O"), f8, None)]:
        assert matmul.resolve_dtypes(dtypes) == np.matmul.resolve_dtypes(dtypes)


# ---------------------------------------------------------------- processes


def _child_product(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((150, 120))
    b = rng.standard_normal((120, 130))
    return float(np.max(np.abs(matmul(a, b) - np.matmul(a, b))))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_child_processes_after_threads(method):
    """A child started after the parent ran matmul in threads computes
    (a thread pool that does not survive fork() would hang it)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available on this platform")
    test_threads_get_correct_results()          # the parent uses threads first
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        errors = list(pool.map(_child_product, range(4), timeout=120))
    assert all(err < 1e-9 for err in errors), errors
