#!/usr/bin/env python3
"""End-to-end proof that the kernels vendor into NumPy.  Not run by CI.

    python3 vendor/numpy_demo.py [--numpy-version 2.4.6] [--workdir DIR]
                                 [--quick] [--reuse] [-- PATCH_ARGS...]

1. downloads the NumPy source distribution with pip (kept in WORKDIR/sdist);
2. unpacks it and applies vendor/patch_numpy.py (our sources copied in,
   NumPy's matmul loops calling gm_matmul);
3. builds and installs it into a fresh virtual environment, without BLAS
   (-Dblas=none -Dlapack=none), so float and double also take the non-BLAS
   path, i.e. our kernels;
4. runs NumPy's own matmul tests there, once per instruction set this CPU
   can run (NPY_GM_ISA), then all of NumPy's tests (-m "not slow"; with
   --quick only the test files that use matmul);
5. installs the stock NumPy wheel of the same version into a second virtual
   environment and prints a timing table (and checks that both give the
   same results).

Needs: python3 with venv and pip, a C/C++ compiler NumPy accepts (GCC >= 9.3
or Clang), network access to PyPI.  NumPy's build dependencies (meson-python,
Cython, ninja) come from PyPI through pip's build isolation.  The build takes
several minutes; its log is WORKDIR/logs/build.log.
"""
import argparse
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tarfile
import textwrap
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
TESTED_VERSION = "2.4.6"
ISAS = ["avx512", "avx2", "neon", "generic"]

# (label, dtype, shape of A, shape of B): the cases first.
CASES = [
    ("int32 512x512", "int32", (512, 512), (512, 512)),
    ("int8 512x512", "int8", (512, 512), (512, 512)),
    ("float16 256x256", "float16", (256, 256), (256, 256)),
    ("float64 100000 x (2x2)", "float64", (100000, 2, 2), (100000, 2, 2)),
    ("longdouble 256x256", "longdouble", (256, 256), (256, 256)),
    ("int64 256x256", "int64", (256, 256), (256, 256)),
    ("bool 512x512", "bool", (512, 512), (512, 512)),
    ("float32 1024x1024", "float32", (1024, 1024), (1024, 1024)),
    ("float64 1024x1024", "float64", (1024, 1024), (1024, 1024)),
    ("complex128 256x256", "complex128", (256, 256), (256, 256)),
    ("float64 64 x (8x8)", "float64", (64, 8, 8), (64, 8, 8)),
]

BENCH = textwrap.dedent('''\
    import json, sys, timeit
    import numpy as np
    cases = json.load(open(sys.argv[1]))
    out_path, res_path = sys.argv[2], sys.argv[3]

    def operand(rng, dtype, shape):
        if dtype == "bool":
            return rng.random(shape) < 0.5
        if np.issubdtype(dtype, np.integer):
            return rng.integers(-100, 100, shape).astype(dtype)
        x = rng.standard_normal(shape)
        if np.issubdtype(dtype, np.complexfloating):
            x = x + 1j * rng.standard_normal(shape)
        return x.astype(dtype)

    times, results = {}, {}
    for i, (label, dtype, sa, sb) in enumerate(cases):
        rng = np.random.default_rng(i)
        a, b = operand(rng, dtype, tuple(sa)), operand(rng, dtype, tuple(sb))
        out = np.matmul(a, b)
        results[f"c{i}"] = out
        timer = timeit.Timer(lambda: np.matmul(a, b))
        number, elapsed = timer.autorange()
        while elapsed < 0.2:
            number *= 2
            elapsed = timer.timeit(number)
        times[label] = min(timer.repeat(5, number)) / number
    np.savez(res_path, **results)
    json.dump(times, open(out_path, "w"))
''')


def say(text=""):
    print(text, flush=True)


def run(cmd, *, log=None, cwd=None, env=None, check=True, show=False):
    """Runs cmd; with log, its output goes there and a line per minute
    shows it is alive.  Returns (returncode, output or None)."""
    shown = shlex.join(str(c) for c in cmd)
    say(f"$ {shown}" + (f"   (log: {log})" if log else ""))
    if log is None:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env,
                              text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        if check and proc.returncode != 0:
            say(proc.stdout[-6000:])
            raise SystemExit(f"failed ({proc.returncode}): {shown}")
        if show:
            say(proc.stdout.rstrip())
        return proc.returncode, proc.stdout
    start = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
        done = threading.Event()

        def heartbeat():
            while not done.wait(60):
                say(f"  ... {int(time.monotonic() - start)} s")
        threading.Thread(target=heartbeat, daemon=True).start()
        code = proc.wait()
        done.set()
    say(f"  done in {time.monotonic() - start:.0f} s (exit {code})")
    if check and code != 0:
        say(pathlib.Path(log).read_text(errors="replace")[-8000:])
        raise SystemExit(f"failed ({code}): {shown}; full log: {log}")
    return code, None


def venv_python(venv):
    return venv / "bin" / "python"


def make_venv(path):
    if path.exists():
        shutil.rmtree(path)
    run([sys.executable, "-m", "venv", path])
    return venv_python(path)


def get_sdist(version, work):
    sdist_dir = work / "sdist"
    sdist = sdist_dir / f"numpy-{version}.tar.gz"
    if sdist.exists():
        say(f"source distribution already here: {sdist}")
        return sdist
    sdist_dir.mkdir(parents=True, exist_ok=True)
    # pip prepares the metadata of an sdist by building it (meson-python),
    # so this step alone takes minutes; the file is kept for later runs.
    run([sys.executable, "-m", "pip", "download", f"numpy=={version}",
         "--no-deps", "--no-binary", "numpy", "-d", sdist_dir],
        log=work / "logs" / "download.log")
    if not sdist.exists():
        raise SystemExit(f"pip did not leave {sdist}")
    return sdist


def pytest_summary(output):
    lines = [l for l in output.strip().splitlines() if l.strip()]
    tail = [l for l in lines if l.startswith(("FAILED", "ERROR"))]
    return tail + lines[-1:]


def run_tests(py, work, label, targets, extra, env_isa=None):
    # As if the venv were activated: some tests run its scripts (numpy-config).
    env = dict(os.environ, VIRTUAL_ENV=str(py.parent.parent),
               PATH=f"{py.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    if env_isa:
        env["NPY_GM_ISA"] = env_isa
    cmd = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-W", "ignore::pytest.PytestUnraisableExceptionWarning",
           "--pyargs", *targets, *extra]
    safe = label.replace(" ", "_").replace("/", "_")
    code, _ = run(cmd, cwd=work, env=env, check=False,
                  log=work / "logs" / f"tests-{safe}.log")
    out = (work / "logs" / f"tests-{safe}.log").read_text(errors="replace")
    summary = pytest_summary(out)
    for line in summary:
        say(f"  {line}")
    return label, code, summary[-1] if summary else "(no output)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--numpy-version", default=TESTED_VERSION)
    ap.add_argument("--workdir", type=pathlib.Path,
                    default=pathlib.Path("/tmp/gm-numpy-demo"))
    ap.add_argument("--reuse", action="store_true",
                    help="keep an existing patched build and stock venv "
                         "(tests and timing only)")
    ap.add_argument("--quick", action="store_true",
                    help="after the matmul tests, only NumPy's test files that "
                         "use matmul, not all of NumPy's tests")
    ap.add_argument("--jobs", type=int, default=0,
                    help="parallel compile jobs (default: ninja's choice)")
    ap.add_argument("patch_args", nargs="*",
                    help="passed to patch_numpy.py after --, e.g. -- --over-blas")
    args = ap.parse_args()
    version, work = args.numpy_version, args.workdir.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    venv_p, venv_s = work / "venv-patched", work / "venv-stock"
    t0 = time.monotonic()
    say(f"== gufunc_matmul vendored into NumPy {version} (work dir {work})")

    if not (args.reuse and venv_python(venv_p).exists()):
        say("\n== 1. NumPy source distribution (pip download)")
        sdist = get_sdist(version, work)

        say("\n== 2. unpack and patch")
        src_root = work / "src"
        if src_root.exists():
            shutil.rmtree(src_root)
        src_root.mkdir()
        with tarfile.open(sdist) as tar:
            try:
                tar.extractall(src_root, filter="data")
            except TypeError:   # Python without extraction filters
                tar.extractall(src_root)
        src = src_root / f"numpy-{version}"
        run([sys.executable, HERE / "patch_numpy.py", src, *args.patch_args],
            show=True)

        say("\n== 3. build the patched NumPy into a fresh venv (no BLAS)")
        py = make_venv(venv_p)
        build = [py, "-m", "pip", "install", "-v", src,
                 "-Csetup-args=-Dblas=none", "-Csetup-args=-Dlapack=none"]
        if args.jobs:
            build.append(f"-Ccompile-args=-j{args.jobs}")
        run(build, log=work / "logs" / "build.log")
        run([py, "-m", "pip", "install", "-q", "pytest", "hypothesis"])
    if not (args.reuse and venv_python(venv_s).exists()):
        say("\n== stock NumPy wheel into a second venv")
        py = make_venv(venv_s)
        run([py, "-m", "pip", "install", "-q", "--only-binary", "numpy",
             f"numpy=={version}"])
    py_p, py_s = venv_python(venv_p), venv_python(venv_s)

    probe = ("import numpy as np, numpy._core._multiarray_umath as m; "
             "blas = np.show_config(mode='dicts')['Build Dependencies']['blas']; "
             "print(np.__version__, getattr(m, '_gufunc_matmul_isa', 'NOT PATCHED'), "
             "blas.get('name'), blas.get('found', ''))")
    say("\n== builds")
    for name, py in (("patched", py_p), ("stock", py_s)):
        _, out = run([py, "-c", probe], cwd=work)
        say(f"  {name}: numpy, kernels, BLAS = {out.strip()}")

    say("\n== 4. NumPy's own tests in the patched build")
    isas = []
    for isa in ISAS:
        env = dict(os.environ, NPY_GM_ISA=isa)
        _, out = run([py_p, "-c", "import numpy._core._multiarray_umath as m; "
                      "print(m._gufunc_matmul_isa)"], cwd=work, env=env)
        if out.strip() == isa:
            isas.append(isa)
    say(f"  instruction sets this CPU runs: {', '.join(isas)}")
    matmul_files = ["numpy._core.tests.test_multiarray",
                    "numpy._core.tests.test_ufunc",
                    "numpy.linalg.tests.test_linalg"]
    results = []
    for isa in isas:
        results.append(run_tests(py_p, work, f"matmul tests, NPY_GM_ISA={isa}",
                                 matmul_files, ["-k", "matmul or Matmul"], isa))
    if not args.quick:
        results.append(run_tests(py_p, work, "all NumPy tests (not slow)",
                                 ["numpy"], ["-m", "not slow"]))
    else:
        results.append(run_tests(
            py_p, work, "whole files using matmul",
            matmul_files + ["numpy._core.tests.test_umath",
                            "numpy.linalg.tests.test_regression",
                            "numpy.lib.tests.test_mixins"],
            ["-m", "not slow"]))

    say("\n== 5. timing: numpy.matmul, stock wheel vs patched build")
    bench = work / "bench.py"
    bench.write_text(BENCH)
    cases = work / "cases.json"
    cases.write_text(json.dumps(CASES))
    times = {}
    for name, py in (("stock", py_s), ("patched", py_p)):
        run([py, bench, cases, work / f"times-{name}.json",
             work / f"results-{name}.npz"], cwd=work)
        times[name] = json.loads((work / f"times-{name}.json").read_text())
    check = textwrap.dedent('''\
        import json, sys
        import numpy as np
        s, p = np.load(sys.argv[1]), np.load(sys.argv[2])
        out = []
        for key in s.files:
            a, b = s[key], p[key]
            if a.dtype.kind in "biu":
                out.append("identical" if np.array_equal(a, b) else "DIFFERENT")
            else:
                scale = np.abs(a.astype(np.clongdouble)).max() or 1
                err = float(np.abs((a - b).astype(np.clongdouble)).max() / scale)
                out.append("identical" if np.array_equal(a, b) else f"max rel diff {err:.1e}")
        print(json.dumps(out))
    ''')
    (work / "compare.py").write_text(check)
    _, out = run([py_p, work / "compare.py", work / "results-stock.npz",
                  work / "results-patched.npz"], cwd=work)
    agree = json.loads(out.strip().splitlines()[-1])

    say(f"\nNumPy {version}, {os.cpu_count()} CPUs; stock = PyPI wheel "
        "(OpenBLAS), patched = this build (no BLAS, gufunc_matmul kernels)")
    head = f"{'case':<24} {'stock ms':>10} {'patched ms':>11} {'speed-up':>9}  result vs stock"
    say(head)
    say("-" * len(head))
    for (label, *_), same in zip(CASES, agree):
        s, p = times["stock"][label] * 1e3, times["patched"][label] * 1e3
        say(f"{label:<24} {s:>10.3f} {p:>11.3f} {s / p:>8.1f}x  {same}")

    say("\n== summary")
    failed = False
    for label, code, last in results:
        say(f"  {label}: {last}")
        failed |= code != 0
    say(f"  total time {time.monotonic() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
