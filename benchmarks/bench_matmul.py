#!/usr/bin/env python3
"""Benchmark gufunc_matmul.matmul against numpy.matmul.

Both are timed in this process, interleaved (ours, numpy, ours, numpy, ...),
each sample long enough (>= --min-time) to be measured well, and the
median of the samples is reported.  A short pause (--settle) before each
sample lets the other library's idle worker threads stop spinning.  Both
libraries run with their default threads: nothing here limits NumPy's BLAS
or our kernels.

    python benchmarks/bench_matmul.py                 # every row, a few minutes
    python benchmarks/bench_matmul.py --quick         # a subset, under a minute
    python benchmarks/bench_matmul.py --rows float32  # rows whose name contains it
    python benchmarks/bench_matmul.py --plot perf.png --json perf.json

GFLOP/s counts 2 flops per multiply-add (8 for complex), and integer
operations the same way.  The "% of peak" columns need the machine's FMA
peak in GFLOP/s (all cores), given by --peak-f64/--peak-f32 or the
GUFUNC_MATMUL_PEAK_F64/GUFUNC_MATMUL_PEAK_F32 environment variables; they
are blank otherwise (and for types other than float32/64, complex64/128).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

import numpy as np

from gufunc_matmul._selfcheck import (
    SETTLE_SECONDS,
    BenchCase,
    BenchResult,
    SelfCheckError,
    fmt_ms,
    format_machine,
    gram_case,
    format_table,
    machine_info,
    matvec_case,
    rect_case,
    run_case,
    square_case,
    stack_case,
    strided_case,
    vector_function_case,
)


def all_cases() -> List[BenchCase]:
    cases = [square_case("float64", n) for n in (64, 128, 256, 1024, 2048)]
    cases += [square_case("float32", n) for n in (1024, 2048)]
    cases += [square_case("complex128", 512), square_case("complex64", 512)]
    cases += [square_case(d, 512) for d in ("int32", "int8", "uint8", "int16", "int64",
                                            "float16")]
    cases += [square_case("longdouble", 256)]
    cases += [stack_case("float64", 100000, n) for n in (2, 3, 4, 8)]
    cases += [stack_case("float64", 20000, 16)]
    cases += [stack_case("int32", 100000, 2), stack_case("float16", 100000, 3)]
    cases += [matvec_case("float64", 4096), matvec_case("float64", 4096, vector_first=True)]
    cases += [strided_case("float64", 512, step=2)]
    cases += [rect_case("float32", 100000, 64, 64)]
    # Few rows or few columns, where packing costs more than it saves.
    cases += [rect_case("float64", 10, 1000, 10), rect_case("float64", 8, 1000, 1000),
              rect_case("float64", 1000, 1000, 10),
              rect_case("float64", 4, 1000, 1000, fortran_b=True),
              rect_case("float32", 1000, 1000, 10),
              rect_case("float32", 4000, 64, 8, fortran_b=True),
              rect_case("complex128", 10, 1000, 10), rect_case("complex128", 1000, 10, 10),
              rect_case("complex128", 7, 777, 77)]
    # Deep products of few rows: packing B would cost more than the rows' reads.
    cases += [rect_case("float64", 16, 100000, 16), rect_case("float32", 32, 20000, 32),
              rect_case("float32", 8, 20000, 200)]
    # A batch of rows through a layer's weights: B too large to pack whole.
    cases += [rect_case("float64", 128, 1000, 1000), rect_case("float32", 64, 1000, 2048),
              rect_case("complex64", 100, 1000, 1000)]
    # Gram matrices: one triangle computed, the other mirrored.
    cases += [gram_case("float64", 20000, 256), gram_case("float32", 100000, 64)]
    # Small squares, where the fixed cost of a call shows.
    cases += [rect_case("float64", 33, 33, 33), rect_case("float32", 50, 50, 50)]
    # Layouts and short rows: x @ W.T of a few rows (W in C order, so B in
    # Fortran order), both operands transposed, points @ a 3-vector.
    cases += [rect_case("float32", 32, 768, 3072, fortran_b=True),
              rect_case("float32", 12, 75, 10, fortran_a=True, fortran_b=True),
              rect_case("complex128", 52, 838, 3, fortran_b=True),
              matvec_case("float64", 3, rows=100000)]
    if hasattr(np, "vecdot"):   # NumPy 2.2+
        for dtype in ("float64", "complex128", "complex64"):
            cases += [vector_function_case("vecdot", dtype, 1000, count=1000)]
        for function in ("matvec", "vecmat"):
            cases += [vector_function_case(function, d, 2048)
                      for d in ("float64", "complex128")]
    return cases


QUICK = [
    "float64 256x256", "float64 1024x1024", "float32 1024x1024", "complex128 512x512",
    "int32 512x512", "int8 512x512", "float16 512x512", "float64 100000 x (3x3",
    "float64 4096x4096 @ 4096", "float64 512x512 @ 512x512, strided", "float32 100000x64",
]


def select(cases: List[BenchCase], quick: bool, rows: Optional[str]) -> List[BenchCase]:
    if quick:
        cases = [c for c in cases if any(c.label.startswith(q) for q in QUICK)]
    if rows:
        wanted = [w.strip() for w in rows.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c.label for w in wanted)]
    return cases


def peak_for(dtype: str, peak_f64: Optional[float], peak_f32: Optional[float]) -> Optional[float]:
    dt = np.dtype(dtype)
    if dt in (np.float64, np.complex128):
        return peak_f64
    if dt in (np.float32, np.complex64):
        return peak_f32
    return None


def percent_of(gflops: float, peak: Optional[float]) -> str:
    return f"{100 * gflops / peak:.0f}%" if peak else ""


def _env_float(name: str) -> Optional[float]:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else None
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a number") from None


def plot(results: List[BenchResult], path: str, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path} "
              f"(pip install matplotlib)", file=sys.stderr)
        return
    families = ["float64", "float32", "complex", "ints", "float16/longdouble"]
    others = [r for r in results if r.case.size is None]
    panels = [f for f in families if any(r.case.family == f and r.case.size for r in results)]
    if others:
        panels.append("other shapes")
    if not panels:
        print("nothing to plot", file=sys.stderr)
        return
    ncols = min(3, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.0 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        rows = others if panel == "other shapes" else [
            r for r in results if r.case.family == panel and r.case.size]
        if panel == "other shapes" or len({r.case.size for r in rows}) == 1:
            # One size only: bars per case are clearer than lines.
            y = np.arange(len(rows))
            ax.barh(y - 0.2, [r.ours_gflops for r in rows], 0.4, label="gufunc_matmul")
            ax.barh(y + 0.2, [r.numpy_gflops for r in rows], 0.4, label="numpy")
            ax.set_yticks(y)
            ax.set_yticklabels([r.case.label for r in rows], fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel("GFLOP/s (GOP/s for integers)")
        else:
            for i, dtype in enumerate(dict.fromkeys(r.case.dtype for r in rows)):
                mine = sorted((r.case.size, r.ours_gflops, r.numpy_gflops)
                              for r in rows if r.case.dtype == dtype)
                sizes = [m[0] for m in mine]
                color = f"C{i}"
                ax.plot(sizes, [m[1] for m in mine], "o-", color=color,
                        label=f"{dtype} gufunc_matmul")
                ax.plot(sizes, [m[2] for m in mine], "s--", color=color, alpha=0.7,
                        label=f"{dtype} numpy")
            ax.set_xscale("log", base=2)
            ax.set_ylim(bottom=0)
            ax.set_xlabel("n (n x n @ n x n)")
            ax.set_ylabel("GFLOP/s (GOP/s for integers)")
        ax.set_title(panel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}", file=sys.stderr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a subset of the rows")
    p.add_argument("--rows", metavar="TEXT",
                   help="only rows whose name contains TEXT (comma-separated alternatives)")
    p.add_argument("--repeats", type=int, default=None,
                   help="samples per function and row (default 7, 5 with --quick)")
    p.add_argument("--min-time", type=float, default=0.05, metavar="SECONDS",
                   help="minimum duration of one sample (default 0.05)")
    p.add_argument("--settle", type=float, default=SETTLE_SECONDS, metavar="SECONDS",
                   help="pause before each sample so that the other library's idle "
                        f"threads stop spinning (default {SETTLE_SECONDS}: OpenBLAS "
                        "threads spin for about 2**28 cycles after a call)")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="sampling time per row after which fewer samples are taken "
                        "(at least 3; default 5, 2 with --quick)")
    p.add_argument("--peak-f64", type=float, default=_env_float("GUFUNC_MATMUL_PEAK_F64"),
                   metavar="GFLOPS", help="float64 FMA peak of the machine in GFLOP/s "
                   "(default: $GUFUNC_MATMUL_PEAK_F64)")
    p.add_argument("--peak-f32", type=float, default=_env_float("GUFUNC_MATMUL_PEAK_F32"),
                   metavar="GFLOPS", help="float32 FMA peak of the machine in GFLOP/s "
                   "(default: $GUFUNC_MATMUL_PEAK_F32)")
    p.add_argument("--plot", metavar="PNG", help="draw GFLOP/s per dtype family (matplotlib)")
    p.add_argument("--json", metavar="PATH", help="write every measurement as JSON")
    p.add_argument("--list", action="store_true", help="list the selected rows and exit")
    args = p.parse_args(argv)

    cases = select(all_cases(), args.quick, args.rows)
    if args.list:
        print("\n".join(c.label for c in cases))
        return 0
    if not cases:
        print("no rows match", file=sys.stderr)
        return 2
    repeats = args.repeats if args.repeats is not None else (5 if args.quick else 7)
    budget = args.budget if args.budget is not None else (2.0 if args.quick else 5.0)

    info = machine_info()
    for line in format_machine(info):
        print(line)
    print(f"median of {repeats} interleaved samples of >= {args.min_time * 1e3:.0f} ms; "
          f"ratio = numpy time / our time (> 1: gufunc_matmul is faster)")
    print(file=sys.stderr)

    headers = ["case", "numpy ms", "ours ms", "ratio", "ours GFLOP/s", "numpy GFLOP/s",
               "ours % peak", "numpy % peak"]
    rows, results = [], []
    for case in cases:
        print(f"  timing {case.label} ...", file=sys.stderr, flush=True)
        try:
            r = run_case(case, repeats=repeats, min_sample=args.min_time, budget=budget,
                         settle=args.settle)
        except SelfCheckError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        results.append(r)
        peak = peak_for(case.dtype, args.peak_f64, args.peak_f32)
        rows.append([case.label, fmt_ms(r.numpy_ms), fmt_ms(r.ours_ms), f"{r.ratio:.2f}",
                     f"{r.ours_gflops:.1f}", f"{r.numpy_gflops:.1f}",
                     percent_of(r.ours_gflops, peak), percent_of(r.numpy_gflops, peak)])
    print()
    print(format_table(headers, rows, markdown=True))

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": info, "repeats": repeats, "min_sample_s": args.min_time,
                       "settle_s": args.settle,
                       "peak_f64_gflops": args.peak_f64, "peak_f32_gflops": args.peak_f32,
                       "rows": [r.as_dict() for r in results]}, f, indent=2, default=str)
            f.write("\n")
        print(f"results written to {args.json}", file=sys.stderr)
    if args.plot:
        plot(results, args.plot,
             f"gufunc_matmul {info['gufunc_matmul']} (isa {info['isa']}) vs numpy "
             f"{info['numpy']} ({info['numpy_blas']}) on {info['cpu']}, "
             f"{info['usable_cpus']} cpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
