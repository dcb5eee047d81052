"""A seeded random differential run against numpy.matmul (and vecdot,
matvec, vecmat): dtypes, sizes, stacks, layouts, byte orders, out= and
thread counts drawn at random by tools/long_random.py, which is also the
one command for a deeper run:

    python tools/long_random.py --cases 100000 --seed 1 --isa all

Here the number of cases comes from GUFUNC_MATMUL_LONG_CASES (default 300,
a few seconds) and the seed from GUFUNC_MATMUL_LONG_SEED.
"""
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

from _reliability_util import UNDER_SANITIZER, available_isas

TOOL = pathlib.Path(__file__).resolve().parents[1] / "tools" / "long_random.py"
CASES = int(os.environ.get("GUFUNC_MATMUL_LONG_CASES", "300"))
SEED = int(os.environ.get("GUFUNC_MATMUL_LONG_SEED", "20240611"))
CHUNKS = 4

if not TOOL.exists():
    pytest.skip(f"{TOOL} is not in this checkout", allow_module_level=True)


def _load_tool():
    spec = importlib.util.spec_from_file_location("long_random", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


long_random = _load_tool()


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_cases_match_numpy(chunk):
    share = -(-CASES // CHUNKS)
    start = chunk * share
    count = max(0, min(share, CASES - start))
    log = []
    passed, failures = long_random.run_cases(SEED, count, start=start,
                                             log=log.append)
    assert not failures, "\n".join(log[-40:])
    assert passed == count


@pytest.mark.skipif(UNDER_SANITIZER, reason="child interpreters: covered by the in-process run")
def test_the_command_runs_every_isa(tmp_path):
    """The deep-run command itself, briefly: each instruction set in a child
    process, and the "N passed, M failed" summary line."""
    cases = 40
    proc = subprocess.run([sys.executable, str(TOOL), "--cases", str(cases), "--seed",
                           str(SEED + 1), "--isa", "all"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    isas = available_isas()
    assert lines[-1] == f"{cases * len(isas)} passed, 0 failed", proc.stdout
    for isa in isas:
        assert any(line.startswith(f"isa={isa} ") for line in lines), proc.stdout


def test_a_case_replays_alone():
    """Case i of a seed is the same case whatever ran before it."""
    a = long_random.Case(SEED, 17)
    long_random.Case(SEED, 16)
    b = long_random.Case(SEED, 17)
    assert a.describe() == b.describe()
    x1, y1 = a.operands()
    x2, y2 = b.operands()
    assert x1.description == x2.description and y1.description == y2.description
