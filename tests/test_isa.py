"""Kernel selection: every instruction set this machine can run gives
numpy.matmul's results, and GUFUNC_MATMUL_ISA chooses one at import."""
import os
import subprocess
import sys
import textwrap

import pytest

import gufunc_matmul

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import gufunc_matmul
    from checks import assert_matches_numpy
    from strategies import NUMERIC_CHARS, make_values

    assert gufunc_matmul._core._isa() == {isa!r}, gufunc_matmul._core._isa()
    for char in NUMERIC_CHARS:
        for m, k, n in [(1, 1, 1), (3, 5, 2), (7, 300, 9), (70, 33, 130), (5, 1000, 1),
                        (300, 64, 8)]:
            a = make_values(np.dtype(char), (m, k), (m, 1.0, 0.0))
            b = make_values(np.dtype(char), (k, n), (n, 1.0, 0.0))
            assert_matches_numpy(a, b)
            assert_matches_numpy(a[::-1, ::2], b[::2, ::-1])
            assert_matches_numpy(np.asfortranarray(a), b.T.copy().T)
            assert_matches_numpy(a, b.T.copy().T)
            assert_matches_numpy(a[0], b[:, 0])
    rng = np.random.default_rng(0)
    for m, k, n in [(3, 5, 2), (40, 300, 33), (1, 2000, 1), (200, 3, 200)]:
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(0, 256, (k, n), dtype=np.uint8)
        a[a % 3 == 0] = 0
        b[b % 3 == 0] = 0
        assert_matches_numpy(a.view(bool), b.view(bool))
        assert_matches_numpy(a[0].view(bool), b.view(bool))
    print("ok", gufunc_matmul._core._isa())
""")


def run_child(code, isa, tmp_path):
    env = dict(os.environ, GUFUNC_MATMUL_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def available_isas():
    return [name.strip() for name in gufunc_matmul._core._available_isas().split(",")
            if name.strip()]


def test_generic_is_always_available():
    assert "generic" in available_isas()
    assert gufunc_matmul._core._isa() in available_isas()


@pytest.mark.parametrize("isa", available_isas())
def test_each_available_isa_matches_numpy(isa, tmp_path):
    tests = os.path.dirname(os.path.abspath(__file__))
    proc = run_child(CHILD.format(tests=tests, isa=isa), isa, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ok", isa]


def test_unknown_isa_is_an_import_error(tmp_path):
    proc = run_child("import gufunc_matmul", "no-such-isa", tmp_path)
    assert proc.returncode != 0
    assert "no-such-isa" in proc.stderr


def test_auto_picks_an_available_isa(tmp_path):
    proc = run_child("import gufunc_matmul; print(gufunc_matmul._core._isa())",
                     "auto", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in available_isas()
