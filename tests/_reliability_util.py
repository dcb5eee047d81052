"""Helpers shared by the reliability tests (threads, memory, hostile input,
long random run): child Python processes with a time limit, bitwise
comparison, and outcome comparison against numpy.matmul."""
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np

import gufunc_matmul

#: Set by tools/sanitize.sh: the extension runs under AddressSanitizer,
#: which reserves terabytes of address space (no RLIMIT_AS games) and
#: makes everything several times slower.
UNDER_SANITIZER = bool(os.environ.get("GUFUNC_MATMUL_SANITIZER"))

def _threads_supported():
    """Whether this build can run a product on several threads: asking for
    3 gives 3."""
    core = gufunc_matmul._core
    for flag in ("_threaded",):
        if hasattr(core, flag):
            return bool(getattr(core, flag))
    try:
        gufunc_matmul.set_num_threads(3)
        return gufunc_matmul.get_num_threads() == 3
    finally:
        gufunc_matmul.set_num_threads(0)


#: Whether products may run on several threads in this build.
THREADED = _threads_supported()


def available_isas():
    return [name.strip() for name in
            gufunc_matmul._core._available_isas().split(",") if name.strip()]


def run_python(code, timeout=120, env=None, expect_rc=0):
    """Runs ``code`` (dedented) in a fresh interpreter, in an empty
    directory so that the source tree cannot shadow the installed package.
    A hang fails the test after ``timeout`` seconds instead of blocking it.
    Returns the CompletedProcess; checks the exit status when ``expect_rc``
    is not None."""
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env.setdefault("PYTHONFAULTHANDLER", "1")
    with tempfile.TemporaryDirectory() as cwd:
        try:
            proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                                  cwd=cwd, env=child_env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"child process hung (killed after {timeout} s)\n"
                f"stdout: {exc.stdout!r}\nstderr: {exc.stderr!r}") from None
    if expect_rc is not None and proc.returncode != expect_rc:
        raise AssertionError(
            f"child exited with {proc.returncode} (expected {expect_rc})\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def assert_bitwise_equal(x, y, context=""):
    """The same dtype, shape and bits (long double: same values and signs,
    its padding bytes are not data)."""
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, y.dtype,
                                                       x.shape, y.shape, context)
    if x.dtype.char in "gG" or x.dtype.kind == "O":
        np.testing.assert_array_equal(x, y, strict=True, err_msg=context)
        if x.dtype.kind != "O":
            parts = ((x.real, y.real), (x.imag, y.imag)) if x.dtype.kind == "c" \
                else ((x, y),)
            for p, q in parts:
                np.testing.assert_array_equal(np.signbit(p), np.signbit(q),
                                              err_msg=context)
        return
    xb = np.ascontiguousarray(x).view(np.uint8)
    yb = np.ascontiguousarray(y).view(np.uint8)
    if not np.array_equal(xb, yb):
        raise AssertionError(f"results differ in their bits {context}\n"
                             f"{x!r}\n{y!r}")


def outcome(func, *args, **kwargs):
    """('ok', result) or ('raise', exception type, message)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", func(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - any exception is an outcome
        return ("raise", type(exc), str(exc))


def assert_same_outcome(ours, theirs, *args, exact_message=True, **kwargs):
    """``ours(*args, **kwargs)`` gives what ``theirs`` gives: the same
    exception type (and message), or equal results of the same dtype, shape
    and Python type.  Returns our outcome."""
    expected = outcome(theirs, *args, **kwargs)
    result = outcome(ours, *args, **kwargs)
    assert result[0] == expected[0], (result, expected)
    if expected[0] == "raise":
        assert result[1] is expected[1], (result, expected)
        if exact_message:
            assert result[2] == expected[2], (result, expected)
        return result
    r, e = result[1], expected[1]
    assert type(r) is type(e), (type(r), type(e))
    if isinstance(e, (np.ndarray, np.generic)):
        assert r.dtype == e.dtype and np.shape(r) == np.shape(e), (r, e)
    np.testing.assert_array_equal(r, e, strict=isinstance(e, np.ndarray))
    return result


def healthy():
    """The process still computes correct products (after a hostile call)."""
    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(gufunc_matmul.matmul(a, b), np.matmul(a, b))
    c = np.arange(300 * 200, dtype=np.int64).reshape(300, 200) % 7
    d = np.arange(200 * 250, dtype=np.int64).reshape(200, 250) % 5
    np.testing.assert_array_equal(gufunc_matmul.matmul(c, d), np.matmul(c, d))
